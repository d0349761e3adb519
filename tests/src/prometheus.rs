//! Debian's Prometheus on a free loopback port (installed by `make prereqs`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::Error;
use crate::bed::new_run_dir;
use crate::process::{Proc, Watchdog};
use crate::tools::which;
use crate::wait::poll;

const HINT: &str = "run `make prereqs` (tests/tools/prereqs.sh installs Debian's prometheus)";
const DEFAULT_CONFIG: &str = "global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n";

/// A running Prometheus with a temporary data directory; killed (and its files removed) on drop.
#[derive(Debug)]
pub struct Prometheus {
    url: String,
    dir: PathBuf,
    proc: Option<Proc>,
    watchdog: Watchdog,
}

fn tool(name: &str) -> Result<PathBuf, Error> {
    which(name).ok_or_else(|| Error::MissingTool {
        tool: name.to_string(),
        path: PathBuf::from(format!("$PATH/{name}")),
        hint: HINT,
    })
}

impl Prometheus {
    /// Starts Prometheus with an empty scrape configuration and the given samples backfilled
    /// (OpenMetrics text with explicit timestamps; `# EOF` is appended when missing).
    pub async fn start_with_openmetrics(openmetrics: &str) -> Result<Self, Error> {
        Self::start(None, Some(openmetrics)).await
    }

    /// Starts Prometheus with the given prometheus.yml.
    pub async fn start_with_config(config: &str) -> Result<Self, Error> {
        Self::start(Some(config), None).await
    }

    /// Starts Prometheus with an optional configuration (default: no scrape jobs) and optional
    /// backfilled OpenMetrics samples. The remote-write receiver is enabled.
    pub async fn start(config: Option<&str>, openmetrics: Option<&str>) -> Result<Self, Error> {
        let prometheus = tool("prometheus")?;
        let dir = new_run_dir("prometheus")?;
        let data = dir.join("data");
        fs::create_dir_all(&data)
            .map_err(|e| Error::io(format!("creating {}", data.display()), e))?;
        if let Some(text) = openmetrics {
            backfill(&dir, &data, text)?;
        }
        let config_path = dir.join("prometheus.yml");
        fs::write(&config_path, config.unwrap_or(DEFAULT_CONFIG))
            .map_err(|e| Error::io(format!("writing {}", config_path.display()), e))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| Error::io("picking a free port for prometheus", e))?
            .port();
        let watchdog = Watchdog::start(&dir)?;
        let args = vec![
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", data.display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--storage.tsdb.retention.time=100y".to_string(),
            "--web.enable-remote-write-receiver".to_string(),
            "--web.enable-lifecycle".to_string(),
            "--log.level=warn".to_string(),
        ];
        let proc = Proc::spawn(
            &dir,
            "prometheus",
            "prometheus",
            &prometheus,
            &args,
            Some(&watchdog),
        )?;
        let mut prom = Prometheus {
            url: format!("http://127.0.0.1:{port}"),
            dir,
            proc: Some(proc),
            watchdog,
        };
        let http = reqwest::Client::new();
        let ready = format!("{}/-/ready", prom.url);
        poll("prometheus /-/ready", Duration::from_secs(60), || {
            let alive = prom
                .proc
                .as_mut()
                .map(|p| p.check_running())
                .unwrap_or(Ok(()));
            let req = http.get(&ready).send();
            async move {
                if let Err(e) = alive {
                    return Err(e.to_string());
                }
                match req.await {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => Err(format!("HTTP {}", r.status())),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await?;
        Ok(prom)
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Directory of the instance's files (config, data, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn backfill(dir: &Path, data: &Path, text: &str) -> Result<(), Error> {
    let promtool = tool("promtool")?;
    let input = dir.join("backfill.om");
    let mut body = text.trim_end().to_string();
    if !body.ends_with("# EOF") {
        body.push_str("\n# EOF");
    }
    body.push('\n');
    fs::write(&input, body).map_err(|e| Error::io(format!("writing {}", input.display()), e))?;
    let out = Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(data)
        .output()
        .map_err(|e| Error::io("running promtool", e))?;
    if !out.status.success() {
        return Err(Error::Prometheus(format!(
            "promtool tsdb create-blocks-from openmetrics failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop(Some(&self.watchdog));
        }
        self.watchdog.finish();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
