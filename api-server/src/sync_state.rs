//! Reachability and sync state of one cluster: written by its watches (cache) and its probe
//! (registry), read by readiness, `/api/config` and every response that names missing clusters.
//!
//! A cluster is accessible when its API server answers the probe and no kind it caches is denied:
//! a 401/403 from a watch, or from the probe's permission check (which finds RBAC removed while a
//! long-lived watch stream still runs), marks the cluster missing with the reason until the same
//! source succeeds again (the watch relisting, the check passing). The exception are the optional
//! Istio kinds (those a role written before they were cached may lack): a denied watch of one
//! degrades only that kind — the cluster stays accessible, without objects of that kind, and the
//! kind is reported ([`ClusterState::degraded_kinds`]).

use std::collections::{BTreeMap, BTreeSet};
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
    /// The cluster's name, for logs.
    cluster: String,
    /// The last probe reached the API server.
    reachable: bool,
    probed: bool,
    error: Option<String>,
    synced: BTreeSet<&'static str>,
    /// Istio kinds whose watch was started (their CRD exists).
    istio_expected: BTreeSet<&'static str>,
    /// The first look for the Istio CRDs is over.
    istio_discovered: bool,
    /// Kinds whose watch got a 401/403, with the status code.
    denied_by_watch: BTreeMap<&'static str, u16>,
    /// Istio kinds whose denial degrades only themselves.
    optional: BTreeSet<&'static str>,
    /// Optional kinds whose watch got a 401/403, with the status code.
    degraded: BTreeMap<&'static str, u16>,
    /// Kinds the probe's permission check may not list, with the status code.
    denied_by_probe: BTreeMap<&'static str, u16>,
    /// Kinds whose watch is failing (logged once at warn until it recovers).
    failing: BTreeSet<&'static str>,
}

impl StateInner {
    /// An Istio kind has nothing more to sync: listed once, or degraded (denied and optional).
    fn istio_done(&self, kind: &str) -> bool {
        self.synced.contains(kind) || self.degraded.contains_key(kind)
    }

    fn denial(&self) -> Option<String> {
        let mut kinds: BTreeMap<&str, u16> = self.denied_by_probe.clone();
        kinds.extend(self.denied_by_watch.iter().map(|(k, c)| (*k, *c)));
        let code = kinds.values().copied().max()?;
        let names: Vec<&str> = kinds.keys().copied().collect();
        let why = if code == 401 {
            "credentials rejected (HTTP 401)"
        } else {
            "permission denied (HTTP 403)"
        };
        Some(format!("{why}: cannot list {}", names.join(", ")))
    }
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

    /// A fresh state of the cluster `name` (nothing probed or synced yet).
    pub fn named(name: &str) -> Arc<ClusterState> {
        let s = ClusterState::default();
        s.write().cluster = name.to_string();
        Arc::new(s)
    }

    /// A state for an in-memory cluster: reachable and synced.
    pub fn synced() -> Arc<ClusterState> {
        let s = ClusterState::default();
        {
            let mut w = s.write();
            w.reachable = true;
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
        let was_denied =
            w.denied_by_watch.remove(kind).is_some() | w.degraded.remove(kind).is_some();
        if w.failing.remove(kind) || was_denied {
            tracing::info!(cluster = %w.cluster, kind, "watch recovered");
        }
    }

    pub(crate) fn expect_istio(&self, kind: &'static str) {
        self.write().istio_expected.insert(kind);
    }

    /// `kind` is optional: its denial degrades only itself.
    pub(crate) fn optional_istio(&self, kind: &'static str) {
        self.write().optional.insert(kind);
    }

    /// The optional kinds whose watch is denied, each with why (`telemetries: permission denied
    /// (HTTP 403)`): the cluster is shown without them.
    pub fn degraded_kinds(&self) -> Vec<String> {
        self.read()
            .degraded
            .iter()
            .map(|(k, code)| {
                let why = if *code == 401 {
                    "credentials rejected (HTTP 401)"
                } else {
                    "permission denied (HTTP 403)"
                };
                format!("{k}: {why}")
            })
            .collect()
    }

    pub(crate) fn istio_discovered(&self) {
        self.write().istio_discovered = true;
    }

    /// A watch of `kind` failed; `denied` is the HTTP status when it is 401 or 403. Logged at
    /// warn with the cluster named when the watch starts failing, at debug while it goes on.
    pub(crate) fn watch_error(&self, kind: &'static str, err: &str, denied: Option<u16>) {
        let mut w = self.write();
        let first = w.failing.insert(kind);
        let optional = w.optional.contains(kind);
        match denied {
            Some(code) if optional => {
                w.degraded.insert(kind, code);
            }
            Some(code) => {
                w.denied_by_watch.insert(kind, code);
            }
            None => {}
        }
        if first && optional && denied.is_some() {
            tracing::warn!(cluster = %w.cluster, kind, error = err, "watch of an optional Istio kind denied; the cluster is shown without this kind until it recovers");
            return;
        }
        if first {
            tracing::warn!(cluster = %w.cluster, kind, error = err, "watch failing; cached data of this kind is stale until it recovers");
        } else {
            tracing::debug!(cluster = %w.cluster, kind, error = err, "watch still failing");
        }
    }

    /// The result of the probe's permission check: the kinds it may not list, with the code.
    pub(crate) fn permission_result(&self, denied: BTreeMap<&'static str, u16>) {
        let mut w = self.write();
        if w.denied_by_probe != denied {
            if denied.is_empty() {
                tracing::info!(cluster = %w.cluster, "permissions restored");
            } else {
                let kinds: Vec<&str> = denied.keys().copied().collect();
                tracing::warn!(cluster = %w.cluster, kinds = ?kinds, "permissions revoked; cluster marked missing");
            }
            w.denied_by_probe = denied;
        }
    }

    pub(crate) fn probe_result(&self, res: std::result::Result<(), String>) -> bool {
        let mut w = self.write();
        let was = w.reachable;
        w.probed = true;
        match res {
            Ok(()) => {
                w.reachable = true;
                w.error = None;
            }
            Err(e) => {
                w.reachable = false;
                w.error = Some(e);
            }
        }
        was != w.reachable
    }

    /// Whether the cluster can be shown: its API server answered the last probe and no cached
    /// kind is denied.
    pub fn accessible(&self) -> bool {
        let r = self.read();
        r.reachable && r.denied_by_watch.is_empty() && r.denied_by_probe.is_empty()
    }

    /// Why the cluster is not accessible (unreachable, or which kinds are denied).
    pub fn error(&self) -> Option<String> {
        let r = self.read();
        r.error.clone().or_else(|| r.denial())
    }

    /// Whether every core kind has been listed once.
    pub fn synced_core(&self) -> bool {
        self.read().synced.len() >= CORE_KINDS
    }

    /// Start-up has nothing more to wait for from this cluster: every core kind and every
    /// Istio kind whose CRD exists is synced, or it was probed and found unreachable, or a kind
    /// is denied.
    pub fn settled(&self) -> bool {
        let r = self.read();
        let all = r.istio_discovered
            && r.synced.len() >= CORE_KINDS
            && r.istio_expected.iter().all(|k| r.istio_done(k));
        all || (r.probed && !r.reachable)
            || !r.denied_by_watch.is_empty()
            || !r.denied_by_probe.is_empty()
    }

    /// Every core kind is synced and the cluster is accessible: a replacement (new credentials)
    /// may take over from the entry it replaces.
    pub fn ready_to_serve(&self) -> bool {
        let synced = {
            let r = self.read();
            r.istio_discovered
                && r.synced.len() >= CORE_KINDS
                && r.istio_expected.iter().all(|k| r.istio_done(k))
        };
        synced && self.accessible()
    }
}
