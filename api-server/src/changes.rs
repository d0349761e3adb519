//! Which namespaces of a cluster changed: every change the watches apply to a cluster's cache
//! stamps its namespace with a new number, and a relist (a watch's first list, or a list again
//! after its watch expired) stamps every namespace. What is derived from one namespace's objects
//! ([`crate::namespace_memo`]) is current for as long as that namespace's stamp is the same.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The change stamps of one cluster's namespaces.
#[derive(Default)]
pub struct Changes {
    last: AtomicU64,
    /// The stamp of the last relist of any kind: every namespace changed then.
    relisted: AtomicU64,
    namespaces: RwLock<HashMap<String, u64>>,
}

impl Changes {
    fn stamp(&self) -> u64 {
        self.last.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// An object of `namespace` (or the namespace itself) was applied or deleted. Called once
    /// the cache holds the change, so that a stamp read before a computation never hides a
    /// change the computation did not see.
    pub fn changed(&self, namespace: &str) {
        let stamp = self.stamp();
        let mut m = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        match m.get_mut(namespace) {
            Some(s) => *s = stamp,
            None => {
                m.insert(namespace.to_string(), stamp);
            }
        }
    }

    /// A watch replaced its whole store: every namespace changed.
    pub fn relisted(&self) {
        let stamp = self.stamp();
        self.relisted.store(stamp, Ordering::SeqCst);
    }

    /// The stamp of `namespace`'s last change (0: none since the cache was made).
    pub fn version(&self, namespace: &str) -> u64 {
        let relisted = self.relisted.load(Ordering::SeqCst);
        let m = self.namespaces.read().unwrap_or_else(|e| e.into_inner());
        relisted.max(m.get(namespace).copied().unwrap_or(0))
    }

    /// Forgets the stamps of namespaces `keep` refuses (deleted ones), keeping every version
    /// answered after it above the ones answered before.
    pub fn forget(&self, keep: &dyn Fn(&str) -> bool) {
        let mut m = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        if m.keys().all(|n| keep(n)) {
            return;
        }
        let stamp = self.stamp();
        m.retain(|n, _| keep(n));
        // A namespace forgotten and then created again must not answer 0 (or any stamp it had).
        self.relisted.fetch_max(stamp, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_moves_only_its_namespace_and_a_relist_moves_every_one() {
        let c = Changes::default();
        assert_eq!((c.version("a"), c.version("b")), (0, 0));
        c.changed("a");
        let a = c.version("a");
        assert!(a > 0);
        assert_eq!(c.version("b"), 0);
        c.changed("b");
        assert_eq!(c.version("a"), a);
        let b = c.version("b");
        c.relisted();
        assert!(c.version("a") > a && c.version("b") > b);
        assert_eq!(c.version("a"), c.version("never-seen"));
    }

    #[test]
    fn a_forgotten_namespace_never_answers_an_earlier_version() {
        let c = Changes::default();
        c.changed("gone");
        let before = c.version("gone");
        c.forget(&|n| n != "gone");
        assert!(c.version("gone") > before);
    }
}
