//! What is derived from one namespace's objects, kept per namespace until [`Changes`] stamps
//! that namespace: a cluster's workloads (what the graph, health, validations and details
//! read) and the list pages' written items are, namespace by namespace, the same for every
//! caller who may see that namespace (nothing in them depends on who asks). A request computes
//! only the namespaces it asks for that changed since, so a pod changing in one namespace costs
//! the next request over every namespace that one namespace's share, and a request over one
//! namespace never costs more than computing it did.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::changes::Changes;

/// A list page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum List {
    Apps,
    Workloads,
    Services,
}

/// One namespace's items of one list, written as JSON values separated by commas (empty when
/// the namespace has none).
pub type Written = Arc<Vec<u8>>;

/// The list pages' written items of one cluster.
pub type ListMemo = NamespaceMemo<List, Written>;

/// One namespace's workloads, sorted by name.
pub type Workloads = Arc<Vec<Arc<meshglass_engine::WorkloadInfo>>>;

/// The workloads of one cluster's namespaces, per digest of the app-label rules they were
/// grouped by.
pub type WorkloadMemo = NamespaceMemo<u64, Workloads>;

/// One namespace's services (as the engine reads them), sorted by name.
pub type Services = Arc<Vec<Arc<meshglass_engine::ServiceInfo>>>;

/// The services of one cluster's namespaces (they depend on nothing else: one key).
pub type ServiceMemo = NamespaceMemo<(), Services>;

/// What one cluster's namespaces hold of each `K`, as `T`s (cheap to clone: an `Arc`).
pub struct NamespaceMemo<K, T> {
    entries: Mutex<HashMap<(K, String), (u64, T)>>,
    /// One computation at a time per cluster: requests for the same changed namespaces wait for
    /// the one computing them instead of computing them again.
    computing: Mutex<()>,
    /// The number of entries after the last drop of deleted namespaces' ones: the next drop is
    /// at twice as many, so that dropping costs a constant per entry kept.
    dropped_at: std::sync::atomic::AtomicUsize,
}

impl<K, T> Default for NamespaceMemo<K, T> {
    fn default() -> Self {
        NamespaceMemo {
            entries: Mutex::default(),
            computing: Mutex::default(),
            dropped_at: Default::default(),
        }
    }
}

impl<K: Copy + Eq + std::hash::Hash, T: Clone + Default> NamespaceMemo<K, T> {
    /// The `list` of each of `namespaces` (in that order): the kept ones of the namespaces
    /// `changes` says are unchanged, the others from `compute`, which is given those namespaces
    /// and answers each one's (a namespace it leaves out has `T::default()`). `exists` says
    /// which namespaces the cluster still has, to drop what deleted ones left.
    pub fn items<U: Into<T>>(
        &self,
        list: K,
        namespaces: &[String],
        changes: &Changes,
        exists: &dyn Fn(&str) -> bool,
        compute: impl FnOnce(&BTreeSet<&str>) -> HashMap<String, U>,
    ) -> Vec<T> {
        if let Some(kept) = self.kept(list, namespaces, changes) {
            return kept;
        }
        let _one = self.computing.lock().unwrap_or_else(|e| e.into_inner());
        // Stamps are read before the objects, so a change after this read is seen next time.
        let versions: Vec<u64> = namespaces.iter().map(|n| changes.version(n)).collect();
        let stale: BTreeSet<&str> = {
            let entries = self.lock();
            namespaces
                .iter()
                .zip(&versions)
                .filter(|(n, v)| {
                    entries
                        .get(&(list, n.to_string()))
                        .is_none_or(|(kept, _)| kept != *v)
                })
                .map(|(n, _)| n.as_str())
                .collect()
        };
        let mut computed = if stale.is_empty() {
            HashMap::new()
        } else {
            compute(&stale)
        };
        let mut entries = self.lock();
        for (n, v) in namespaces.iter().zip(&versions) {
            if stale.contains(n.as_str()) {
                let items = computed.remove(n).map(Into::into).unwrap_or_default();
                entries.insert((list, n.clone()), (*v, items));
            }
        }
        use std::sync::atomic::Ordering::Relaxed;
        if entries.len() > 2 * self.dropped_at.load(Relaxed).max(64) {
            entries.retain(|(_, n), _| exists(n));
            changes.forget(exists);
            self.dropped_at.store(entries.len(), Relaxed);
        }
        namespaces
            .iter()
            .map(|n| {
                entries
                    .get(&(list, n.clone()))
                    .map(|(_, w)| w.clone())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Every namespace's kept items, when none of them changed.
    fn kept(&self, list: K, namespaces: &[String], changes: &Changes) -> Option<Vec<T>> {
        let entries = self.lock();
        namespaces
            .iter()
            .map(|n| {
                let (v, w) = entries.get(&(list, n.clone()))?;
                (*v == changes.version(n)).then(|| w.clone())
            })
            .collect()
    }

    /// What the kept values weigh, by `weight` (for the metrics).
    pub fn weigh(&self, weight: impl Fn(&T) -> usize) -> usize {
        self.lock().values().map(|(_, t)| weight(t)).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(K, String), (u64, T)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes `parts` (each values separated by commas) as the elements of one JSON array.
pub fn write_array(out: &mut Vec<u8>, parts: &[Written]) {
    out.push(b'[');
    let mut first = true;
    for p in parts.iter().filter(|p| !p.is_empty()) {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(p);
        first = false;
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn written(items: &[Written]) -> String {
        let mut out = Vec::new();
        write_array(&mut out, items);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn only_the_changed_namespaces_are_computed_again() {
        let memo: ListMemo = NamespaceMemo::default();
        let changes = Changes::default();
        let asked = RefCell::new(Vec::new());
        let compute = |stale: &BTreeSet<&str>| {
            asked
                .borrow_mut()
                .push(stale.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            stale
                .iter()
                .filter(|n| **n != "empty")
                .map(|n| {
                    (
                        n.to_string(),
                        Arc::new(format!("\"{n}1\",\"{n}2\"").into_bytes()),
                    )
                })
                .collect()
        };
        let all: Vec<String> = ["a", "b", "empty"].map(String::from).to_vec();
        let exists = |_: &str| true;
        let first = memo.items(List::Workloads, &all, &changes, &exists, compute);
        assert_eq!(written(&first), r#"["a1","a2","b1","b2"]"#);
        assert_eq!(asked.borrow().len(), 1);
        // Nothing changed: nothing computed.
        memo.items(List::Workloads, &all, &changes, &exists, compute);
        assert_eq!(asked.borrow().len(), 1);
        // Another list is kept apart.
        memo.items(List::Apps, &all[..1], &changes, &exists, compute);
        assert_eq!(asked.borrow()[1], vec!["a"]);
        // One namespace changed: only it is computed again.
        changes.changed("b");
        let again = memo.items(List::Workloads, &all, &changes, &exists, compute);
        assert_eq!(asked.borrow()[2], vec!["b"]);
        assert_eq!(written(&again), written(&first));
        // A relist: every namespace asked for.
        changes.relisted();
        memo.items(List::Workloads, &all[1..], &changes, &exists, compute);
        assert_eq!(asked.borrow()[3], vec!["b", "empty"]);
    }

    #[test]
    fn what_deleted_namespaces_left_is_dropped() {
        let memo: ListMemo = NamespaceMemo::default();
        let changes = Changes::default();
        let compute = |stale: &BTreeSet<&str>| {
            stale
                .iter()
                .map(|n| (n.to_string(), Arc::new(b"1".to_vec())))
                .collect()
        };
        for i in 0..400 {
            let ns = vec![format!("n{i}")];
            memo.items(List::Services, &ns, &changes, &|n| n == ns[0], compute);
        }
        assert!(memo.lock().len() <= 2 * 64 + 1, "{}", memo.lock().len());
        assert_eq!(
            memo.items(
                List::Services,
                &["n399".into()],
                &changes,
                &|_| true,
                compute
            )
            .len(),
            1
        );
    }
}
