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
}

impl Running {
    pub fn new(demo_dir: PathBuf) -> Self {
        Running {
            procs: Procs::new(demo_dir),
            bed: None,
            kubeconfig: None,
            simulators: Vec::new(),
        }
    }

    pub async fn stop(mut self) {
        for s in &self.simulators {
            s.abort();
        }
        self.procs.stop_all().await;
        if let Some(bed) = self.bed.take() {
            bed.stop();
        }
        if let Some(k) = self.kubeconfig.take() {
            let _ = std::fs::remove_file(k);
        }
    }
}
