//! Label interning and hashing: a sample's traffic-identifying labels are hashed once
//! ([`label_hashes`]), and the interner ([`Labels`]) finds values by those hashes, so node keys,
//! responses, destination services and principals become integers. Also the series hash of
//! Kiali's source/destination dedup ([`series_hash`]).

use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};

use super::ids::Lbl;
use crate::input::{Family, IstioLabels, Label};

/// Label values interned (borrowed from the input): node keys, responses, destination services
/// and principals are then integers. The graph has one interner, and so has each [`Planner`](super::plan::Planner)
/// (the graph maps a planner's ids to its own when it applies the planner's work). A value is
/// found by its hash, taken once per sample label ([`label_hashes`]); equal hashes of different
/// strings fall back to an exact map, so ids are exact.
pub(super) struct Labels<'a> {
    by_hash: FxHashMap<u64, u32>,
    collided: FxHashMap<&'a str, u32>,
    pub(super) values: Vec<&'a str>,
    /// A copy of every value, back to back (`copy[spans[i]]` is value `i`): comparing a sample's
    /// label with this small, hot copy is much cheaper than with the value's first occurrence in
    /// the (cold) input.
    copy: Vec<u8>,
    spans: Vec<(u32, u32)>,
}

impl<'a> Labels<'a> {
    pub(super) fn new() -> Self {
        let mut l = Labels {
            by_hash: FxHashMap::with_capacity_and_hasher(4096, Default::default()),
            collided: FxHashMap::default(),
            values: Vec::with_capacity(4096),
            copy: Vec::with_capacity(64 * 1024),
            spans: Vec::with_capacity(4096),
        };
        // Fixed ids for the values node identity tests compare against.
        let empty = l.id(Lbl::EMPTY.s);
        let unknown = l.id(Lbl::UNKNOWN.s);
        debug_assert_eq!((empty, unknown), (Lbl::EMPTY.id, Lbl::UNKNOWN.id));
        l
    }

    /// The id of `s`, whose [`hash_str`] is `h`.
    fn hashed(&mut self, s: &'a str, h: u64) -> u32 {
        let next = self.values.len() as u32;
        match self.by_hash.entry(h) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let i = *e.get();
                let (a, b) = self.spans[i as usize];
                if self
                    .copy
                    .get(a as usize..b as usize)
                    .is_some_and(|c| same_bytes(c, s.as_bytes()))
                {
                    return i;
                }
                match self.collided.get(s) {
                    Some(&j) => j,
                    None => {
                        self.collided.insert(s, next);
                        self.push(s);
                        next
                    }
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(next);
                self.push(s);
                next
            }
        }
    }

    fn push(&mut self, s: &'a str) {
        let a = self.copy.len() as u32;
        self.copy.extend_from_slice(s.as_bytes());
        self.spans.push((a, self.copy.len() as u32));
        self.values.push(s);
    }

    pub(super) fn id(&mut self, s: &'a str) -> u32 {
        self.hashed(s, hash_str(s))
    }

    pub(super) fn lbl(&mut self, s: &'a str) -> Lbl<'a> {
        Lbl { s, id: self.id(s) }
    }

    /// [`Labels::lbl`] of a value whose hash is known.
    pub(super) fn lbl_hashed(&mut self, s: &'a str, h: u64) -> Lbl<'a> {
        Lbl {
            s,
            id: self.hashed(s, h),
        }
    }

    pub(super) fn str(&self, i: u32) -> &'a str {
        self.values[i as usize]
    }
}

/// `a == b` for the short strings labels are, without a call to `memcmp`: eight bytes at a
/// time.
#[inline]
pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    for (p, q) in (&mut x).zip(&mut y) {
        if p != q {
            return false;
        }
    }
    x.remainder().iter().zip(y.remainder()).all(|(p, q)| p == q)
}

#[inline]
pub(super) fn hash_str(s: &str) -> u64 {
    hash_bytes(s.as_bytes())
}

#[inline]
fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(b);
    h.finish()
}

/// Interned label ids.
pub(super) type LabelId = u32;

/// The traffic-identifying labels, in [`label_hashes`] order.
pub(super) const H_SRC_CLUSTER: usize = 0;
pub(super) const H_SRC_NS: usize = 1;
pub(super) const H_SRC_WL: usize = 2;
pub(super) const H_SRC_APP: usize = 3;
pub(super) const H_SRC_VER: usize = 4;
pub(super) const H_DST_CLUSTER: usize = 5;
pub(super) const H_DST_SVC_NS: usize = 6;
pub(super) const H_DST_SVC: usize = 7;
pub(super) const H_DST_SVC_NAME: usize = 8;
pub(super) const H_DST_WL_NS: usize = 9;
pub(super) const H_DST_WL: usize = 10;
pub(super) const H_DST_APP: usize = 11;
pub(super) const H_DST_VER: usize = 12;
pub(super) const H_CODE: usize = 14;
pub(super) const H_GRPC: usize = 15;
pub(super) const H_FLAGS: usize = 16;

/// The hash of an absent label (distinct from the hash of `""`).
pub(super) const NONE_HASH: u64 = 0x5851_f42d_4c95_7f2d;

/// [`hash_str`] of each label that identifies traffic (absent: [`NONE_HASH`]), taken once per
/// sample: the series hash combines them, and the label interner finds values by them.
pub(super) fn label_hashes(l: &IstioLabels) -> [u64; 18] {
    let mut out = [NONE_HASH; 18];
    for (o, label) in out.iter_mut().zip(HASHED) {
        if let Some(v) = l.get_bytes(label) {
            *o = hash_bytes(v);
        }
    }
    out
}

/// The labels [`label_hashes`] hashes, in its order.
const HASHED: [Label; 18] = [
    Label::SourceCluster,
    Label::SourceWorkloadNamespace,
    Label::SourceWorkload,
    Label::SourceCanonicalService,
    Label::SourceCanonicalRevision,
    Label::DestinationCluster,
    Label::DestinationServiceNamespace,
    Label::DestinationService,
    Label::DestinationServiceName,
    Label::DestinationWorkloadNamespace,
    Label::DestinationWorkload,
    Label::DestinationCanonicalService,
    Label::DestinationCanonicalRevision,
    Label::RequestProtocol,
    Label::ResponseCode,
    Label::GrpcResponseStatus,
    Label::ResponseFlags,
    Label::Le,
];

/// Hash of the labels that identify traffic: a source-reported series with the same hash as a
/// destination-reported one describes the same traffic and is dropped (Kiali's time-series dedup).
/// `reporter` and the security labels are left out: Istio's source proxies report
/// `connection_security_policy="unknown"` (only the destination knows the policy it enforced),
/// so including them would count every in-mesh request twice.
pub(super) fn series_hash(f: Family, hashes: &[u64; 18]) -> u64 {
    let mut h = FxHasher::default();
    h.write_u8(f as u8);
    for &v in hashes {
        h.write_u64(v);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::{Labels, Lbl, hash_str};

    #[test]
    fn label_ids_are_exact_even_when_hashes_collide() {
        let mut l = Labels::new();
        assert_eq!(l.id(""), Lbl::EMPTY.id);
        assert_eq!(l.id("unknown"), Lbl::UNKNOWN.id);
        // Two strings forced onto one hash get distinct, stable ids.
        let a = l.hashed("alpha", 42);
        let b = l.hashed("beta", 42);
        let c = l.hashed("gamma", 42);
        assert_ne!(a, b);
        assert_ne!(b, c);
        assert_ne!(a, c);
        assert_eq!(l.hashed("beta", 42), b);
        assert_eq!(l.hashed("alpha", 42), a);
        assert_eq!(l.hashed("gamma", 42), c);
        assert_eq!((l.str(a), l.str(b), l.str(c)), ("alpha", "beta", "gamma"));
        // The ordinary path agrees with itself.
        let d = l.hashed("delta", hash_str("delta"));
        assert_eq!(l.id("delta"), d);
    }
}
