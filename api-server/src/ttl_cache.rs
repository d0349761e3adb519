//! A small map whose entries expire after a fixed time and whose size is bounded: the
//! authentication caches (token reviews, access reviews). When full, the oldest entry goes
//! first. Time is passed in, so tests do not depend on the wall clock.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// A bounded map with a time to live.
pub struct TtlCache<K, V> {
    ttl: Duration,
    capacity: usize,
    /// Each entry with its insertion time and sequence number.
    map: HashMap<K, (Instant, u64, V)>,
    /// Keys in insertion order, with the sequence number of that insertion (a key inserted
    /// again appears twice; the older record is skipped).
    order: VecDeque<(u64, K)>,
    seq: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// An empty cache keeping entries `ttl` long, at most `capacity` of them.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        TtlCache {
            ttl,
            capacity: capacity.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
        }
    }

    /// The value of `k` if it was inserted less than the TTL before `now`.
    pub fn get(&self, k: &K, now: Instant) -> Option<V> {
        self.map
            .get(k)
            .filter(|(t, _, _)| now.saturating_duration_since(*t) < self.ttl)
            .map(|(_, _, v)| v.clone())
    }

    /// Inserts `k` at `now`, dropping expired entries and, when full, the oldest ones.
    pub fn insert(&mut self, k: K, v: V, now: Instant) {
        self.expire(now);
        while !self.map.contains_key(&k) && self.map.len() >= self.capacity {
            if !self.pop_oldest() {
                break;
            }
        }
        self.seq += 1;
        self.map.insert(k.clone(), (now, self.seq, v));
        self.order.push_back((self.seq, k));
        if self.order.len() > 2 * self.capacity {
            let map = &self.map;
            self.order
                .retain(|(n, k)| map.get(k).is_some_and(|(_, n2, _)| n2 == n));
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some((n, k)) = self.order.front() {
            match self.map.get(k) {
                Some((t, n2, _)) if n2 == n => {
                    if now.saturating_duration_since(*t) < self.ttl {
                        break;
                    }
                    self.pop_oldest();
                }
                // A stale record of a key inserted again.
                _ => {
                    self.order.pop_front();
                }
            }
        }
    }

    /// Removes the oldest entry; false when there is none.
    fn pop_oldest(&mut self) -> bool {
        while let Some((n, k)) = self.order.pop_front() {
            if self.map.get(&k).is_some_and(|(_, n2, _)| *n2 == n) {
                self.map.remove(&k);
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_size_is_bounded() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut c = TtlCache::new(s(30), 3);
        c.insert("a", 1, t0);
        assert_eq!(c.get(&"a", t0 + s(29)), Some(1));
        assert_eq!(c.get(&"a", t0 + s(30)), None);
        for (i, k) in ["b", "c", "d", "e"].into_iter().enumerate() {
            c.insert(k, i, t0 + s(1));
        }
        assert_eq!(c.map.len(), 3, "bounded");
        assert_eq!(c.get(&"b", t0 + s(2)), None, "oldest evicted first");
        assert_eq!(c.get(&"e", t0 + s(2)), Some(3));
        // Inserting again refreshes the entry; the stale order record is skipped.
        for _ in 0..100 {
            c.insert("e", 9, t0 + s(5));
        }
        assert!(c.order.len() <= 6);
        c.insert("f", 0, t0 + s(40));
        assert_eq!(c.map.len(), 1, "expired entries dropped on insert");
    }
}
