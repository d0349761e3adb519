//! Errors of the test bed, each with a fixed category.

use std::path::PathBuf;

/// Everything that can go wrong while starting, using or stopping the test bed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A built tool (kube-apiserver, etcd, kwok, prometheus, ...) is missing.
    #[error("{tool} not found at {path}: {hint}")]
    MissingTool {
        tool: String,
        path: PathBuf,
        hint: &'static str,
    },
    /// A cluster name is not a DNS label, or is given twice.
    #[error("invalid cluster name {name:?}: {reason}")]
    InvalidClusterName { name: String, reason: &'static str },
    /// A port the test bed was asked to use is taken.
    #[error(
        "port {port} on 127.0.0.1 is in use ({purpose}); stop whatever listens there or pick another port"
    )]
    PortInUse { port: u16, purpose: String },
    /// The state directory already holds running processes.
    #[error(
        "{dir} already holds a running test bed (pids {pids}); stop it first (`make clusters-down`)"
    )]
    AlreadyRunning { dir: PathBuf, pids: String },
    /// A process of the test bed exited while it was expected to run.
    #[error("{what} exited ({status}); last lines of {log}:\n{tail}")]
    ProcessExited {
        what: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
    /// A condition was not met in time.
    #[error("timed out after {seconds:.1} s waiting for {what}; last seen: {last}")]
    Timeout {
        what: String,
        seconds: f64,
        last: String,
    },
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Generating certificates or keys failed.
    #[error("generating certificates: {0}")]
    Certificates(#[from] rcgen::Error),
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// Building a client from a kubeconfig failed.
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// Parsing YAML (kubeconfig, CRDs) failed.
    #[error("yaml: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    /// Decoding JSON (CRDs, API answers) failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// An HTTP request (Prometheus) failed.
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// Prometheus or promtool reported an error.
    #[error("the server refused the login (HTTP {status}): {body}")]
    Login { status: u16, body: String },

    #[error("prometheus: {0}")]
    Prometheus(String),
    /// The shared bed of this test binary failed to start (the first error, repeated to every test).
    #[error("the shared test bed failed to start: {0}")]
    Shared(String),
    /// A cluster was asked for that the bed does not have.
    #[error("no cluster named {0:?} in this test bed")]
    NoSuchCluster(String),
    /// An operation that needs an owned bed was used on a shared or detached one.
    #[error("{0}")]
    Unsupported(&'static str),
}

impl Error {
    /// A fixed, short category for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Error::MissingTool { .. } => "missing_tool",
            Error::InvalidClusterName { .. } => "invalid_cluster_name",
            Error::PortInUse { .. } => "port_in_use",
            Error::AlreadyRunning { .. } => "already_running",
            Error::ProcessExited { .. } => "process_exited",
            Error::Timeout { .. } => "timeout",
            Error::Io { .. } => "io",
            Error::Certificates(_) => "certificates",
            Error::Kube(_) => "kube",
            Error::Kubeconfig(_) => "kubeconfig",
            Error::Yaml(_) => "yaml",
            Error::Json(_) => "json",
            Error::Http(_) => "http",
            Error::Login { .. } => "login",
            Error::Prometheus(_) => "prometheus",
            Error::Shared(_) => "shared",
            Error::NoSuchCluster(_) => "no_such_cluster",
            Error::Unsupported(_) => "unsupported",
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
