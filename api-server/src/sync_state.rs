//! Reachability and sync state of one cluster: written by its watches (cache) and its probe
//! (registry), read by readiness, `/api/config` and every response that names missing clusters.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

/// The core kinds watched per cluster, by the names their watches report as synced.
pub const CORE_KIND_NAMES: [&str; 7] = [
    "namespaces",
    "services",
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "pods",
];
/// The number of core kinds watched per cluster.
pub const CORE_KINDS: usize = CORE_KIND_NAMES.len();

#[derive(Debug, Default)]
struct StateInner {
    accessible: bool,
    probed: bool,
    error: Option<String>,
    synced: BTreeSet<&'static str>,
    /// Istio kinds whose watch was started (their CRD exists).
    istio_expected: BTreeSet<&'static str>,
    /// The first look for the Istio CRDs is over.
    istio_discovered: bool,
}

/// Reachability and sync state of one cluster, updated by its background tasks.
#[derive(Debug, Default)]
pub struct ClusterState {
    inner: RwLock<StateInner>,
}

impl ClusterState {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, StateInner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
    fn read(&self) -> std::sync::RwLockReadGuard<'_, StateInner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A state for an in-memory cluster: reachable and synced.
    pub fn synced() -> Arc<ClusterState> {
        let s = ClusterState::default();
        {
            let mut w = s.write();
            w.accessible = true;
            w.probed = true;
            for k in CORE_KIND_NAMES {
                w.synced.insert(k);
            }
            w.istio_discovered = true;
        }
        Arc::new(s)
    }

    /// A state for a cluster that could not be set up at all.
    pub fn failed(error: String) -> Arc<ClusterState> {
        let s = ClusterState::default();
        {
            let mut w = s.write();
            w.probed = true;
            w.error = Some(error);
        }
        Arc::new(s)
    }

    pub(crate) fn mark_synced(&self, kind: &'static str) {
        let mut w = self.write();
        w.synced.insert(kind);
    }

    pub(crate) fn expect_istio(&self, kind: &'static str) {
        self.write().istio_expected.insert(kind);
    }

    pub(crate) fn istio_discovered(&self) {
        self.write().istio_discovered = true;
    }

    pub(crate) fn watch_error(&self, kind: &'static str, err: &str) {
        tracing::debug!(kind, error = err, "watch error");
    }

    pub(crate) fn probe_result(&self, res: std::result::Result<(), String>) -> bool {
        let mut w = self.write();
        let was = w.accessible;
        w.probed = true;
        match res {
            Ok(()) => {
                w.accessible = true;
                w.error = None;
            }
            Err(e) => {
                w.accessible = false;
                w.error = Some(e);
            }
        }
        was != w.accessible
    }

    /// Whether the last probe reached the API server.
    pub fn accessible(&self) -> bool {
        self.read().accessible
    }

    /// The last error, if the cluster is not reachable.
    pub fn error(&self) -> Option<String> {
        self.read().error.clone()
    }

    /// Whether every core kind has been listed once.
    pub fn synced_core(&self) -> bool {
        self.read().synced.len() >= CORE_KINDS
    }

    /// Start-up has nothing more to wait for from this cluster: every core kind and every
    /// Istio kind whose CRD exists is synced, or it was probed and found unreachable.
    pub fn settled(&self) -> bool {
        let r = self.read();
        let all = r.istio_discovered
            && r.synced.len() >= CORE_KINDS
            && r.istio_expected.iter().all(|k| r.synced.contains(k));
        all || (r.probed && !r.accessible)
    }
}
