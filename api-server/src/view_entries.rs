//! What the view caches keep ([`crate::view_cache`]): a namespace graph and a health answer as
//! the server sees the mesh, with what Prometheus answered for them, so that a signed-in
//! caller's answer is built from an entry by the routes' own steps ([`crate::routes::graph`],
//! [`crate::routes::health`]). Data only: built and read by the routes, held by the state.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use meshglass_engine as engine;

/// What Prometheus answered for a graph: its samples, the health samples of the requested
/// namespaces and of the `outside` namespaces its traffic reaches, and the (cluster, namespace)
/// pairs the traffic names.
#[derive(Clone)]
pub struct GraphTelemetry {
    pub samples: Vec<engine::Sample>,
    pub health_samples: Vec<engine::Sample>,
    pub outside: Vec<String>,
    pub outside_samples: Vec<engine::Sample>,
    pub traffic: BTreeSet<(String, String)>,
}

/// A namespace graph as the server sees the mesh: the entry of the graph view cache, shared by
/// every caller asking for the same view ([`crate::view_cache`]). It keeps what Prometheus
/// answered, so the graph of a caller who may read only part of the mesh is built from it by
/// the same steps as an uncached one (`routes::graph::assemble`), without waiting for Prometheus again.
pub struct SharedGraph {
    pub opts: engine::GraphOptions,
    pub telemetry: GraphTelemetry,
    /// The graph as the server sees it, written, without `missingClusters`: the answer for a
    /// caller not restricted by access (anonymous), copied as it is.
    pub body: Vec<u8>,
    /// Clusters the server could not read when it was built.
    pub missing: Vec<(String, String)>,
    /// The graph as written for each access seen since it was built ([`PerAccess`]).
    pub per_access: PerAccess<Vec<u8>>,
}

/// How many accesses' answers an entry keeps beside its own.
pub const ACCESS_VARIANTS: usize = 8;

/// What a caller's views let it see, compared exactly (never hashed: a body kept for one access
/// is served only to an identical one): per cluster, its name, the namespaces it may read
/// (`None`: all) and those it asked for or the traffic admitted (`None`: all).
pub type AccessKey = Vec<(String, Option<BTreeSet<String>>, Option<BTreeSet<String>>)>;

/// An entry's answers for each caller's access seen since it was built (at most
/// [`ACCESS_VARIANTS`]): a signed-in caller whose views equal one of these is answered with it
/// instead of one computed again from the entry. Counted in the cache's memory
/// ([`crate::view_cache::ViewCache::grow`]).
pub struct PerAccess<T> {
    kept: Mutex<Vec<(AccessKey, Arc<T>)>>,
}

impl<T> Default for PerAccess<T> {
    fn default() -> Self {
        PerAccess {
            kept: Mutex::new(Vec::new()),
        }
    }
}

impl<T> PerAccess<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(AccessKey, Arc<T>)>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer kept for `access`, or `compute`d and kept for it when `count` accepts its
    /// estimated `size` in the cache's memory (otherwise served once, not kept).
    pub fn answer(
        &self,
        access: AccessKey,
        compute: impl FnOnce() -> T,
        size: impl FnOnce(&T) -> u64,
        count: impl FnOnce(u64) -> bool,
    ) -> Arc<T> {
        if let Some(kept) = self.get(&access) {
            return kept;
        }
        let answer = Arc::new(compute());
        let extra = size(&answer);
        if self.keep(access.clone(), answer.clone()) && !count(extra) {
            self.forget(&access);
        }
        answer
    }

    /// The answer kept for `access`, if any.
    fn get(&self, access: &AccessKey) -> Option<Arc<T>> {
        self.lock()
            .iter()
            .find(|(k, _)| k == access)
            .map(|(_, b)| b.clone())
    }

    /// Keeps `answer` for `access`: false when one was kept already or [`ACCESS_VARIANTS`] are
    /// (nothing kept).
    fn keep(&self, access: AccessKey, answer: Arc<T>) -> bool {
        let mut kept = self.lock();
        if kept.len() >= ACCESS_VARIANTS || kept.iter().any(|(k, _)| *k == access) {
            return false;
        }
        kept.push((access, answer));
        true
    }

    /// Forgets the answer kept for `access` (it did not fit in the cache's memory).
    fn forget(&self, access: &AccessKey) {
        self.lock().retain(|(k, _)| k != access);
    }
}

impl SharedGraph {
    /// The entry's estimated memory: the body written, and the samples kept (each a fixed part
    /// and its label values, a few hundred bytes).
    pub fn bytes(&self) -> u64 {
        let t = &self.telemetry;
        let samples = t.samples.len() + t.health_samples.len() + t.outside_samples.len();
        let per_sample = std::mem::size_of::<engine::Sample>() + 384;
        let names: usize = t.traffic.iter().map(|(c, n)| c.len() + n.len() + 48).sum();
        (self.body.len() + samples * per_sample + names) as u64
    }
}

/// A health answer as the server sees the mesh: the entry of the health view cache, shared by
/// every caller asking for the same view ([`crate::view_cache`]). It keeps what Prometheus
/// answered, so the health a signed-in caller may see is computed from it by the same steps as
/// an uncached answer (`routes::health::compute`), without waiting for Prometheus again.
pub struct SharedHealth {
    pub samples: Vec<engine::Sample>,
    /// Kiali's body as the server sees the mesh, written, without `missingClusters` (the answer
    /// for a caller not restricted by access, copied as it is).
    pub body: Vec<u8>,
    /// Clusters the server could not read when it was computed.
    pub missing: Vec<(String, String)>,
    pub bytes: u64,
    /// The body computed for each access seen since ([`PerAccess`]).
    pub per_access: PerAccess<Vec<u8>>,
}

impl SharedHealth {
    /// The entry's estimated memory: the samples (a fixed part and their label values) and the
    /// body written.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}
