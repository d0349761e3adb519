//! The tracing store of the test bed and the demo: Jaeger (v2, all-in-one: the OTLP receiver,
//! in-memory storage and the query API in one process), built from the Go module proxy by
//! `make tools` into `~/.cache/meshglass/jaeger-<version>/`, on free loopback ports.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use crate::Error;
use crate::bed::new_run_dir;
use crate::process::{Proc, Watchdog};
use crate::tools::{cache_dir, versions};
use crate::wait::poll;

/// Ports a Jaeger listens on.
#[derive(Debug, Clone, Copy)]
pub struct JaegerPorts {
    /// Query API and UI (Jaeger's 16686).
    pub query: u16,
    /// OTLP over HTTP (Jaeger's 4318).
    pub otlp_http: u16,
    /// OTLP over gRPC (4317).
    pub otlp_grpc: u16,
    /// Query API over gRPC (16685).
    pub query_grpc: u16,
    /// Health check (13133).
    pub health: u16,
}

impl JaegerPorts {
    /// Free ports picked now.
    pub fn free() -> Result<Self, Error> {
        Ok(JaegerPorts {
            query: free_port()?,
            otlp_http: free_port()?,
            otlp_grpc: free_port()?,
            query_grpc: free_port()?,
            health: free_port()?,
        })
    }
}

/// A running Jaeger; stopped on drop.
pub struct Jaeger {
    ports: JaegerPorts,
    dir: PathBuf,
    proc: Option<Proc>,
    watchdog: Watchdog,
}

fn free_port() -> Result<u16, Error> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::io("picking a free port", e))
}

/// The cached binary, or a message saying how to build it.
pub fn binary() -> Result<PathBuf, Error> {
    let v = versions().jaeger;
    let path = cache_dir().join(format!("jaeger-{v}")).join("jaeger");
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::MissingTool {
            tool: "jaeger".into(),
            path,
            hint: "run `make tools` (tests/tools/build-tools.sh builds it from the Go module proxy)",
        })
    }
}

/// Jaeger's configuration: OTLP in, memory storage, query API out, all on loopback.
pub fn config(p: &JaegerPorts) -> String {
    format!(
        r#"service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: []
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:{health}
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:{query}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 200000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{otlp_grpc}
      http:
        endpoint: 127.0.0.1:{otlp_http}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"#,
        health = p.health,
        query = p.query,
        query_grpc = p.query_grpc,
        otlp_grpc = p.otlp_grpc,
        otlp_http = p.otlp_http,
    )
}

impl Jaeger {
    /// Starts Jaeger on free ports; returns once its query API answers.
    pub async fn start() -> Result<Self, Error> {
        Self::start_on(JaegerPorts::free()?).await
    }

    /// Starts Jaeger on the given ports (the demo's fixed ones).
    pub async fn start_on(ports: JaegerPorts) -> Result<Self, Error> {
        let bin = binary()?;
        let dir = new_run_dir("jaeger")?;
        let watchdog = Watchdog::start(&dir)?;
        let cfg = dir.join("jaeger.yaml");
        fs::write(&cfg, config(&ports))
            .map_err(|e| Error::io(format!("writing {}", cfg.display()), e))?;
        let args = vec![format!("--config=file:{}", cfg.display())];
        let mut proc = Proc::spawn(&dir, "jaeger", "jaeger", &bin, &args, Some(&watchdog))?;
        let http = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{}/api/services", ports.query);
        poll("jaeger's query API", Duration::from_secs(60), || {
            let alive = proc.check_running();
            let req = http.get(&url).send();
            async move {
                alive.map_err(|e| e.to_string())?;
                match req.await {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => Err(format!("HTTP {}", r.status())),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await?;
        Ok(Jaeger {
            ports,
            dir,
            proc: Some(proc),
            watchdog,
        })
    }

    /// The query API's base URL (what `external_services.tracing.internal_url` names).
    pub fn query_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.query)
    }

    /// The OTLP/HTTP receiver's base URL (spans go to `<url>/v1/traces`).
    pub fn otlp_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.otlp_http)
    }

    pub fn ports(&self) -> JaegerPorts {
        self.ports
    }
}

impl Drop for Jaeger {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop(Some(&self.watchdog));
        }
        self.watchdog.finish();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
