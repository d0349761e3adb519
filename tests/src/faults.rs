//! What the fault and abuse suite shares: the real `meshglass-server` process on the test bed,
//! its peak memory, signals to bed processes, a probe measuring an unaffected route while a
//! fault lasts, and the `FAULT | …` line each fault test prints (the README's table is filled
//! from these lines).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{Error, TestBed, wait_until};

/// The `meshglass-server` binary: `MESHGLASS_SERVER_BIN`, else `<target>/debug/meshglass-server`
/// (`make e2e` builds it first; by hand: `cargo build -p meshglass-server`).
pub fn server_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MESHGLASS_SERVER_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug").join("meshglass-server")
}

/// Peak resident memory (VmHWM) of a process, in MiB; 0 when it is gone.
pub fn peak_rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|kib| kib / 1024)
        .unwrap_or(0)
}

/// Sends `signal` (`STOP`, `CONT`, …) to a process of the bed.
pub fn signal(pid: u32, signal: &str) -> Result<(), Error> {
    let st = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .map_err(|e| Error::io("running kill", e))?;
    if st.success() {
        Ok(())
    } else {
        Err(Error::io(
            format!("kill -{signal} {pid}"),
            std::io::Error::other(st.to_string()),
        ))
    }
}

/// The pid of a bed process whose description is `what` (e.g. `kube-apiserver of cluster west`).
pub fn bed_pid(bed: &TestBed, what: &str) -> Option<u32> {
    bed.pids()
        .into_iter()
        .find(|(w, _)| w == what)
        .map(|(_, p)| p)
}

/// A `meshglass-server` process against the bed's east cluster (others through the remote
/// secrets directory), anonymous, logging JSON to `<dir>/server.log`.
pub struct ServerProcess {
    child: tokio::process::Child,
    pub pid: u32,
    pub http: reqwest::Client,
    /// `http://127.0.0.1:<port>/kiali`
    pub base: String,
    pub log: PathBuf,
}

fn free_port() -> Result<u16, Error> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::io("picking a free port", e))
}

impl ServerProcess {
    /// Starts the server with `config_yaml` (the operator's `config.yaml`; `server.port` and the
    /// metrics port are set here, and the test view caches unless it sets `kiali_internal`:
    /// [`crate::view_caches`]) and waits until `/readyz` answers 200.
    pub async fn start(
        bed: &TestBed,
        dir: &Path,
        secrets: &Path,
        config_yaml: &str,
    ) -> Result<ServerProcess, Error> {
        let bin = server_bin();
        if !bin.exists() {
            return Err(Error::io(
                format!(
                    "{} (build it: cargo build -p meshglass-server)",
                    bin.display()
                ),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        let (port, mport) = (free_port()?, free_port()?);
        let config_yaml = crate::view_caches::with_test_view_caches(config_yaml);
        let config = format!(
            "{config_yaml}\nserver:\n  address: 127.0.0.1\n  port: {port}\n  web_root: /kiali\n  observability:\n    metrics:\n      port: {mport}\n"
        );
        let path = dir.join("config.yaml");
        std::fs::write(&path, config).map_err(|e| Error::io("writing config.yaml", e))?;
        let log = dir.join("server.log");
        let out = std::fs::File::create(&log).map_err(|e| Error::io("creating server.log", e))?;
        let child = tokio::process::Command::new(&bin)
            .arg("--config")
            .arg(&path)
            .arg("--kubeconfig")
            .arg(bed.kubeconfig_path())
            .args(["--context", "east", "--log-json", "--remote-secrets-dir"])
            .arg(secrets)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(out))
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", bin.display()), e))?;
        let pid = child
            .id()
            .ok_or_else(|| Error::io("server pid", std::io::Error::other("exited")))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::io("http client", std::io::Error::other(e)))?;
        let mut s = ServerProcess {
            child,
            pid,
            http,
            base: format!("http://127.0.0.1:{port}/kiali"),
            log,
        };
        let ready = format!("http://127.0.0.1:{port}/readyz");
        let http = s.http.clone();
        wait_until("server ready", Duration::from_secs(300), || async {
            let r = http.get(&ready).send().await?;
            Ok::<_, reqwest::Error>((r.status() == 200).then_some(()))
        })
        .await?;
        s.assert_running();
        Ok(s)
    }

    /// Panics when the process has exited (it must never restart during a fault).
    pub fn assert_running(&mut self) {
        if let Ok(Some(st)) = self.child.try_wait() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: String = log.lines().rev().take(20).collect::<Vec<_>>().join("\n");
            panic!("meshglass-server exited ({st}); log tail:\n{tail}");
        }
    }

    /// GET `<base><path>`: status and body (JSON when it parses, else a string).
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        match self.http.get(format!("{}{path}", self.base)).send().await {
            Ok(r) => {
                let st = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
                (st, v)
            }
            Err(e) => (0, serde_json::Value::String(e.to_string())),
        }
    }

    /// `clusters.<name>` of `/api/config`.
    pub async fn cluster_info(&self, name: &str) -> serde_json::Value {
        let (_, v) = self.get("/api/config").await;
        v["clusters"][name].clone()
    }

    /// Lines of the server's log whose message contains `message` and that name `cluster`.
    pub fn log_lines(&self, message: &str, cluster: &str) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| {
                v["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(message))
                    && v["fields"]["cluster"] == cluster
            })
            .collect()
    }
}

/// The `meshglass-operator` binary, built by cargo (a no-op when up to date) into the target
/// directory of the calling test binary (`<target>/debug/deps/<test>`), so that it is the code
/// under test, patched or not.
pub fn operator_bin() -> Result<PathBuf, Error> {
    build_operator(false)
}

/// [`operator_bin`] built with `--release`, for the benchmarks (`<target>/release/examples/<bench>`
/// finds the same target directory).
pub fn operator_bin_release() -> Result<PathBuf, Error> {
    build_operator(true)
}

fn build_operator(release: bool) -> Result<PathBuf, Error> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| repo.join("target"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = std::process::Command::new(cargo)
        .current_dir(&repo)
        .args([
            "build",
            "--locked",
            "-q",
            "-p",
            "meshglass-operator",
            "--bin",
            "meshglass-operator",
        ])
        .args(release.then_some("--release"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .map_err(|e| Error::io("running cargo build -p meshglass-operator", e))?;
    if !status.success() {
        return Err(Error::io(
            "cargo build -p meshglass-operator",
            std::io::Error::other(status.to_string()),
        ));
    }
    let profile = if release { "release" } else { "debug" };
    Ok(target.join(profile).join("meshglass-operator"))
}

/// A `meshglass-operator run` process (no leader election) against one cluster, with the default
/// tenancy (every allow switch off: the `ALLOW_*` variables are removed from its environment),
/// logging text to `log`; killed when dropped.
pub struct OperatorProcess {
    child: std::process::Child,
    pub pid: u32,
    /// `http://127.0.0.1:<port>`, serving `/healthz`, `/readyz` and `/metrics`.
    pub admin: String,
}

impl OperatorProcess {
    pub fn start(binary: &Path, kubeconfig: &Path, log: &Path) -> Result<OperatorProcess, Error> {
        Self::start_logging(binary, kubeconfig, log, "info")
    }

    /// [`OperatorProcess::start`] with the log filter `rust_log` (`RUST_LOG`).
    pub fn start_logging(
        binary: &Path,
        kubeconfig: &Path,
        log: &Path,
        rust_log: &str,
    ) -> Result<OperatorProcess, Error> {
        let port = free_port()?;
        let out = std::fs::File::create(log)
            .map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        let child = std::process::Command::new(binary)
            .args(["run", "--leader-election", "false", "--log-format", "text"])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--admin-addr")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", rust_log)
            .env_remove("ALLOW_AD_HOC_KIALI_NAMESPACE")
            .env_remove("ALLOW_AD_HOC_KIALI_IMAGE")
            .env_remove("ALLOW_REMOTE_CLUSTER_RESOURCES")
            .stdin(Stdio::null())
            // The operator logs to stdout; panics and the like go to stderr: both to `log`.
            .stdout(
                out.try_clone()
                    .map_err(|e| Error::io(format!("opening {}", log.display()), e))?,
            )
            .stderr(out)
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", binary.display()), e))?;
        Ok(OperatorProcess {
            pid: child.id(),
            child,
            admin: format!("http://127.0.0.1:{port}"),
        })
    }

    /// A client for the admin port (one per runtime: tests run on runtimes of their own).
    pub fn http() -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default()
    }

    /// Waits until `/readyz` answers 200 (the Kiali watch has synced).
    pub async fn wait_ready(&mut self) -> Result<(), Error> {
        let http = Self::http();
        let url = format!("{}/readyz", self.admin);
        wait_until(
            "the operator is ready (/readyz)",
            Duration::from_secs(90),
            || {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let ok = http
                        .get(&url)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    Ok::<_, Error>(ok.then_some(()))
                }
            },
        )
        .await
    }

    /// Milliseconds of one GET of `/healthz`, which must answer 200.
    pub async fn healthz_ms(&self, http: &reqwest::Client) -> f64 {
        let started = Instant::now();
        let response = http
            .get(format!("{}/healthz", self.admin))
            .send()
            .await
            .expect("the operator's /healthz answers");
        assert!(
            response.status().is_success(),
            "/healthz {}",
            response.status()
        );
        started.elapsed().as_secs_f64() * 1000.0
    }

    /// Fails the test when the process has exited (a crash or an OOM kill would be a restart in a
    /// pod).
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("the operator exited during the fault: {status}");
        }
    }

    /// Peak resident set (VmHWM) of the process, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        peak_rss_mib(self.pid) as f64
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Times one route over and over while a fault lasts; [`LatencyProbe::stop`] gives the worst.
pub struct LatencyProbe {
    stop: Arc<AtomicBool>,
    worst_us: Arc<AtomicU64>,
    failures: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
    route: String,
}

impl LatencyProbe {
    /// Starts GETting `<server.base><route>` every 50 ms (a non-2xx answer counts as a failure).
    pub fn start(server: &ServerProcess, route: &str) -> LatencyProbe {
        LatencyProbe::start_url(
            server.http.clone(),
            format!("{}{route}", server.base),
            route,
        )
    }

    /// Starts GETting `url` every 50 ms with `http`; `route` names it in the fault line.
    pub fn start_url(http: reqwest::Client, url: String, route: &str) -> LatencyProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let worst_us = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(AtomicU64::new(0));
        let (s, w, f) = (stop.clone(), worst_us.clone(), failures.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::SeqCst) {
                let t = Instant::now();
                let ok = match http.get(&url).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                w.fetch_max(us, Ordering::SeqCst);
                if !ok {
                    f.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        LatencyProbe {
            stop,
            worst_us,
            failures,
            task,
            route: route.to_string(),
        }
    }

    /// Stops the probe: (worst latency in ms, failed requests, the route).
    pub async fn stop(self) -> (u64, u64, String) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
        (
            self.worst_us.load(Ordering::SeqCst) / 1000,
            self.failures.load(Ordering::SeqCst),
            self.route,
        )
    }
}

/// Seconds with one decimal, or `n/a`.
pub fn secs(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.1}", d.as_secs_f64()))
        .unwrap_or_else(|| "n/a".to_string())
}

/// Prints the suite's line for one fault (see `/README.md`, "Fault and abuse suite").
pub fn print_fault_line(
    fault: &str,
    detect: Option<Duration>,
    recover: Option<Duration>,
    worst_ms: u64,
    route: &str,
    server_mib: u64,
    operator_mib: Option<u64>,
) {
    let op = operator_mib
        .map(|m| m.to_string())
        .unwrap_or_else(|| "n/a".to_string());
    println!(
        "FAULT | {fault} | detect {} | recover {} | worst unaffected route {worst_ms} ms ({route}) | peak RSS server {server_mib} MiB operator {op}",
        secs(detect),
        secs(recover)
    );
}
