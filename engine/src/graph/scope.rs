//! The selected namespaces, and which samples concern them.

use rustc_hash::{FxHashMap, FxHashSet};

use super::labels::{H_DST_WL_NS, H_SRC_NS, hash_str, same_bytes};
use crate::input::IstioLabels;
use crate::options::GraphOptions;

/// The selected namespaces, found by the [`hash_str`] a sample's labels already have.
pub(super) struct Scope<'a> {
    pub(super) names: FxHashSet<&'a str>,
    pub(super) by_hash: FxHashMap<u64, &'a str>,
    /// Selected namespaces whose hash another one has (compared one by one).
    pub(super) collided: Vec<&'a str>,
}

impl<'a> Scope<'a> {
    pub(super) fn new(opts: &'a GraphOptions) -> Self {
        let mut scope = Scope {
            names: opts.namespaces.iter().map(String::as_str).collect(),
            by_hash: FxHashMap::default(),
            collided: Vec::new(),
        };
        for n in &opts.namespaces {
            match scope.by_hash.entry(hash_str(n)) {
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(n);
                }
                std::collections::hash_map::Entry::Occupied(_) => scope.collided.push(n),
            }
        }
        scope
    }

    /// Whether `v`, whose hash is `h`, is a selected namespace.
    pub(super) fn has(&self, v: Option<&str>, h: u64) -> bool {
        let Some(v) = v else { return false };
        self.by_hash
            .get(&h)
            .is_some_and(|n| same_bytes(n.as_bytes(), v.as_bytes()))
            || (!self.collided.is_empty() && self.collided.contains(&v))
    }

    /// Whether a sample (label hashes `hs`) concerns the selected namespaces.
    // Inlined into the planner, as when both were one module (the hot path per sample).
    #[inline]
    pub(super) fn includes(&self, source_reported: bool, l: &IstioLabels, hs: &[u64; 18]) -> bool {
        if !source_reported {
            return self.has(l.destination_workload_namespace(), hs[H_DST_WL_NS]);
        }
        if self.has(l.source_workload_namespace(), hs[H_SRC_NS]) {
            return true;
        }
        // Requests to a selected namespace's service that never reached a workload.
        l.destination_workload_namespace() == Some("unknown")
            && l.destination_workload() == Some("unknown")
            && l.destination_service()
                .and_then(|h| h.split('.').nth(1))
                .is_some_and(|n| self.names.contains(n))
    }
}

#[cfg(test)]
mod tests {
    use super::Scope;
    use crate::GraphOptions;
    use crate::graph::labels::{NONE_HASH, hash_str};

    #[test]
    fn selected_namespaces_are_exact_even_when_hashes_collide() {
        let opts = GraphOptions {
            namespaces: vec!["alpha".into(), "beta".into()],
            ..GraphOptions::default()
        };
        let scope = Scope::new(&opts);
        assert!(scope.has(Some("alpha"), hash_str("alpha")));
        assert!(scope.has(Some("beta"), hash_str("beta")));
        assert!(!scope.has(Some("gamma"), hash_str("gamma")));
        assert!(!scope.has(None, NONE_HASH));
        // "beta" forced onto "alpha"'s hash: found by comparison, and nothing else is.
        let forced = Scope {
            names: scope.names.clone(),
            by_hash: [(7, "alpha")].into_iter().collect(),
            collided: vec!["beta"],
        };
        assert!(forced.has(Some("alpha"), 7));
        assert!(forced.has(Some("beta"), 7));
        assert!(!forced.has(Some("alphA"), 7));
        assert!(!forced.has(Some("gamma"), 8));
    }
}
