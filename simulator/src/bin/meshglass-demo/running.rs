//! Everything `up` started, so that it can be stopped — and only that.

use std::path::PathBuf;

use crate::procs::Procs;

/// Everything `up` started; dropped in reverse order on exit.
pub struct Running {
    pub procs: Procs,
    pub bed: Option<meshglass_testbed::TestBed>,
    /// The kubeconfig written for the bed's clusters, removed with them.
    pub kubeconfig: Option<PathBuf>,
    pub simulators: Vec<tokio::task::JoinHandle<()>>,
    /// The simulated sidecars' Envoy admin endpoints, stopped when dropped.
    pub admin: Vec<meshglass_simulator::sidecar_admin::AdminEndpoints>,
    /// `--metrics thanos`: the token gate and Thanos (sidecars and Query), stopped when dropped.
    pub thanos: Option<Box<dyn std::any::Any + Send>>,
    /// `--openid`: each cluster's OpenID provider, stopped when dropped.
    pub providers: Vec<meshglass_testbed::oidc::Provider>,
    /// The tracing store, stopped when dropped.
    pub jaeger: Option<meshglass_testbed::jaeger::Jaeger>,
}

impl Running {
    pub fn new(demo_dir: PathBuf) -> Self {
        Running {
            procs: Procs::new(demo_dir),
            bed: None,
            kubeconfig: None,
            simulators: Vec::new(),
            admin: Vec::new(),
            thanos: None,
            providers: Vec::new(),
            jaeger: None,
        }
    }

    pub async fn stop(mut self) {
        for s in &self.simulators {
            s.abort();
        }
        self.admin.clear();
        self.thanos = None;
        self.jaeger = None;
        self.procs.stop_all().await;
        self.providers.clear();
        if let Some(bed) = self.bed.take() {
            bed.stop();
        }
        if let Some(k) = self.kubeconfig.take() {
            let _ = std::fs::remove_file(k);
        }
    }
}
