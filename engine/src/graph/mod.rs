//! The traffic graph: samples → plans → traffic map → appenders → Cytoscape JSON.
//!
//! Samples are planned chunk by chunk (a planner: everything that depends on a sample alone,
//! on a second thread for large inputs) and applied to the traffic map in input order. The
//! traffic map borrows every string from the samples and the inventory, so building it
//! allocates per chunk, node and edge, never per sample. Node ids are Kiali's: SHA-256 of the
//! same identifying string Kiali hashes (`wl_<cluster>_<namespace>_<workload>`, …), so identical
//! input gives identical ids regardless of sample order.

pub mod cytoscape;
mod ids;
mod json;
mod num;
mod stats;

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use serde::Serialize;

use crate::Diagnostic;
use crate::diag::Diagnostics;
use crate::input::{Family, IstioLabels, Label, Sample};
use crate::inventory::{MeshInventory, WorkloadInfo};
use crate::options::{
    Appender, GraphOptions, GraphType, GrpcRate, HttpRate, ResponseTimeStat, TcpRate,
    ThroughputType,
};
use cytoscape::{
    CytoscapeGraph, EdgeData, EdgeWrapper, Elements, Id, LabelTable, NodeData, NodeWrapper,
    ProtocolTraffic, RateMap, RateValue, Responses, SeInfo, ServiceName,
};
use ids::{IdKind, IntKey, Lbl, NodeKey, NodeType, is_ok, node_id, sha256_id};

/// The result of [`build_graph`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphResult {
    /// The graph, ready to serialise as the response body.
    pub graph: CytoscapeGraph,
    /// Input that was skipped, by kind.
    pub diagnostics: Vec<Diagnostic>,
}

/// Protocols in Kiali's order (gRPC, HTTP, TCP), which is also the order of a node's `traffic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Proto {
    Grpc,
    Http,
    Tcp,
}

impl Proto {
    fn as_str(self) -> &'static str {
        match self {
            Proto::Grpc => "grpc",
            Proto::Http => "http",
            Proto::Tcp => "tcp",
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct NodeRates {
    grpc_in: f64,
    grpc_in_err: f64,
    grpc_in_noresp: f64,
    grpc_out: f64,
    http_in: f64,
    http_in_3xx: f64,
    http_in_4xx: f64,
    http_in_5xx: f64,
    http_in_noresp: f64,
    http_out: f64,
    tcp_in: f64,
    tcp_out: f64,
}

impl NodeRates {
    fn has_traffic(&self) -> bool {
        self.grpc_in > 0.0
            || self.grpc_out > 0.0
            || self.http_in > 0.0
            || self.http_out > 0.0
            || self.tcp_in > 0.0
            || self.tcp_out > 0.0
    }

    fn out(&self, p: Proto) -> f64 {
        match p {
            Proto::Grpc => self.grpc_out,
            Proto::Http => self.http_out,
            Proto::Tcp => self.tcp_out,
        }
    }

    fn out_mut(&mut self, p: Proto) -> &mut f64 {
        match p {
            Proto::Grpc => &mut self.grpc_out,
            Proto::Http => &mut self.http_out,
            Proto::Tcp => &mut self.tcp_out,
        }
    }
}

struct Node<'a> {
    key: NodeKey<'a>,
    node_type: NodeType,
    cluster: &'a str,
    namespace: &'a str,
    workload: &'a str,
    app: &'a str,
    version: &'a str,
    service: &'a str,
    rates: NodeRates,
    dest_services: Vec<(LabelId, LabelId, LabelId)>,
    is_dead: bool,
    is_idle: bool,
    is_outside: bool,
    is_out_of_mesh: bool,
    is_root: bool,
    service_entry: Option<SeInfo>,
    removed: bool,
}

/// Label values interned (borrowed from the input): node keys, responses, destination services
/// and principals are then integers. The graph has one interner, and so has each [`Planner`]
/// (the graph maps a planner's ids to its own when it applies the planner's work). A value is
/// found by its hash, taken once per sample label ([`label_hashes`]); equal hashes of different
/// strings fall back to an exact map, so ids are exact.
struct Labels<'a> {
    by_hash: FxHashMap<u64, u32>,
    collided: FxHashMap<&'a str, u32>,
    values: Vec<&'a str>,
    /// A copy of every value, back to back (`copy[spans[i]]` is value `i`): comparing a sample's
    /// label with this small, hot copy is much cheaper than with the value's first occurrence in
    /// the (cold) input.
    copy: Vec<u8>,
    spans: Vec<(u32, u32)>,
}

impl<'a> Labels<'a> {
    fn new() -> Self {
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

    fn id(&mut self, s: &'a str) -> u32 {
        self.hashed(s, hash_str(s))
    }

    fn lbl(&mut self, s: &'a str) -> Lbl<'a> {
        Lbl { s, id: self.id(s) }
    }

    /// [`Labels::lbl`] of a value whose hash is known.
    fn lbl_hashed(&mut self, s: &'a str, h: u64) -> Lbl<'a> {
        Lbl {
            s,
            id: self.hashed(s, h),
        }
    }

    fn str(&self, i: u32) -> &'a str {
        self.values[i as usize]
    }
}

/// `a == b` for the short strings labels are, without a call to `memcmp`: eight bytes at a
/// time.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
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
fn hash_str(s: &str) -> u64 {
    hash_bytes(s.as_bytes())
}

#[inline]
fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(b);
    h.finish()
}

/// Interned label ids.
type LabelId = u32;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Principal {
    None,
    One(LabelId),
    Many,
}

impl Principal {
    fn add_id(&mut self, p: LabelId) {
        *self = match *self {
            Principal::None => Principal::One(p),
            Principal::One(q) if q == p => Principal::One(q),
            _ => Principal::Many,
        };
    }

    fn merge(&mut self, other: Principal) {
        match other {
            Principal::None => {}
            Principal::One(p) => self.add_id(p),
            Principal::Many => *self = Principal::Many,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Latency {
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

impl Latency {
    fn is_empty(&self) -> bool {
        self.buckets.is_empty() && self.count <= 0.0
    }

    fn add_bucket(&mut self, le: f64, v: f64) {
        match self.buckets.iter_mut().find(|(b, _)| *b == le) {
            Some(b) => b.1 += v,
            None => self.buckets.push((le, v)),
        }
    }

    fn merge(&mut self, other: &Latency) {
        for &(le, v) in &other.buckets {
            self.add_bucket(le, v);
        }
        self.sum += other.sum;
        self.count += other.count;
    }
}

#[derive(Clone, Copy, Default)]
struct Resp {
    code: LabelId,
    flags: LabelId,
    host: LabelId,
    val: f64,
}

/// An edge's (code, flags, host) totals: the first few inline, next to the edge's other
/// counters (no allocation and no extra cache miss per sample for the common edge), any more in
/// a vector.
#[derive(Default)]
struct RespList {
    inline: [Resp; RespList::INLINE],
    n: usize,
    more: Vec<Resp>,
}

impl RespList {
    const INLINE: usize = 4;

    fn iter(&self) -> impl Iterator<Item = &Resp> {
        self.inline[..self.n.min(Self::INLINE)]
            .iter()
            .chain(self.more.iter())
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Resp> {
        self.inline[..self.n.min(Self::INLINE)]
            .iter_mut()
            .chain(self.more.iter_mut())
    }

    fn push(&mut self, r: Resp) {
        if self.n < Self::INLINE {
            self.inline[self.n] = r;
        } else {
            self.more.push(r);
        }
        self.n += 1;
    }

    fn len(&self) -> usize {
        self.n
    }

    fn is_empty(&self) -> bool {
        self.n == 0
    }
}

struct Edge {
    src: u32,
    dst: u32,
    proto: Proto,
    total: f64,
    c3xx: f64,
    c4xx: f64,
    c5xx: f64,
    noresp: f64,
    err: f64,
    responses: RespList,
    mtls: f64,
    src_principal: Principal,
    dst_principal: Principal,
    /// Index 0: destination-reported, 1: source-reported.
    latency: [Latency; 2],
    bytes: [f64; 2],
    removed: bool,
}

impl Edge {
    fn new(src: u32, dst: u32, proto: Proto) -> Self {
        Edge {
            src,
            dst,
            proto,
            total: 0.0,
            c3xx: 0.0,
            c4xx: 0.0,
            c5xx: 0.0,
            noresp: 0.0,
            err: 0.0,
            responses: RespList::default(),
            mtls: 0.0,
            src_principal: Principal::None,
            dst_principal: Principal::None,
            latency: [Latency::default(), Latency::default()],
            bytes: [0.0; 2],
            removed: false,
        }
    }

    fn add_response(&mut self, code: LabelId, flags: LabelId, host: LabelId, val: f64) {
        if let Some(r) = self
            .responses
            .iter_mut()
            .find(|r| r.code == code && r.flags == flags && r.host == host)
        {
            r.val += val;
            return;
        }
        self.responses.push(Resp {
            code,
            flags,
            host,
            val,
        });
    }

    /// Adds another edge's traffic (service-graph reduction).
    fn absorb(&mut self, o: &Edge) {
        self.total += o.total;
        self.c3xx += o.c3xx;
        self.c4xx += o.c4xx;
        self.c5xx += o.c5xx;
        self.noresp += o.noresp;
        self.err += o.err;
        for r in o.responses.iter() {
            self.add_response(r.code, r.flags, r.host, r.val);
        }
        self.mtls += o.mtls;
        self.src_principal.merge(o.src_principal);
        self.dst_principal.merge(o.dst_principal);
        for i in 0..2 {
            self.latency[i].merge(&o.latency[i]);
            self.bytes[i] += o.bytes[i];
        }
    }
}

/// What a sample contributes, decided by its family and the options.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Requests,
    Messages,
    Tcp,
    Bucket,
    DurationSum,
    DurationCount,
    Bytes,
}

fn role(o: &GraphOptions, f: Family) -> Option<Role> {
    let requests = o.rates.http == HttpRate::Requests || o.rates.grpc == GrpcRate::Requests;
    let rt = requests && o.appender_enabled(Appender::ResponseTime);
    match f {
        Family::RequestsTotal if requests => Some(Role::Requests),
        Family::RequestMessages if matches!(o.rates.grpc, GrpcRate::Sent | GrpcRate::Total) => {
            Some(Role::Messages)
        }
        Family::ResponseMessages
            if matches!(o.rates.grpc, GrpcRate::Received | GrpcRate::Total) =>
        {
            Some(Role::Messages)
        }
        Family::TcpReceivedBytes if matches!(o.rates.tcp, TcpRate::Sent | TcpRate::Total) => {
            Some(Role::Tcp)
        }
        Family::TcpSentBytes if matches!(o.rates.tcp, TcpRate::Received | TcpRate::Total) => {
            Some(Role::Tcp)
        }
        Family::RequestDurationBucket if rt && o.response_time != ResponseTimeStat::Avg => {
            Some(Role::Bucket)
        }
        Family::RequestDurationSum if rt && o.response_time == ResponseTimeStat::Avg => {
            Some(Role::DurationSum)
        }
        Family::RequestDurationCount if rt && o.response_time == ResponseTimeStat::Avg => {
            Some(Role::DurationCount)
        }
        Family::RequestBytesSum
            if o.rates.http == HttpRate::Requests
                && o.appender_enabled(Appender::Throughput)
                && o.throughput_type == ThroughputType::Request =>
        {
            Some(Role::Bytes)
        }
        Family::ResponseBytesSum
            if o.rates.http == HttpRate::Requests
                && o.appender_enabled(Appender::Throughput)
                && o.throughput_type == ThroughputType::Response =>
        {
            Some(Role::Bytes)
        }
        _ => None,
    }
}

/// The traffic-identifying labels, in [`label_hashes`] order.
const H_SRC_CLUSTER: usize = 0;
const H_SRC_NS: usize = 1;
const H_SRC_WL: usize = 2;
const H_SRC_APP: usize = 3;
const H_SRC_VER: usize = 4;
const H_DST_CLUSTER: usize = 5;
const H_DST_SVC_NS: usize = 6;
const H_DST_SVC: usize = 7;
const H_DST_SVC_NAME: usize = 8;
const H_DST_WL_NS: usize = 9;
const H_DST_WL: usize = 10;
const H_DST_APP: usize = 11;
const H_DST_VER: usize = 12;
const H_CODE: usize = 14;
const H_GRPC: usize = 15;
const H_FLAGS: usize = 16;

/// The hash of an absent label (distinct from the hash of `""`).
const NONE_HASH: u64 = 0x5851_f42d_4c95_7f2d;

/// [`hash_str`] of each label that identifies traffic (absent: [`NONE_HASH`]), taken once per
/// sample: the series hash combines them, and the label interner finds values by them.
fn label_hashes(l: &IstioLabels) -> [u64; 18] {
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
fn series_hash(f: Family, hashes: &[u64; 18]) -> u64 {
    let mut h = FxHasher::default();
    h.write_u8(f as u8);
    for &v in hashes {
        h.write_u64(v);
    }
    h.finish()
}

/// `^\d+\.\d+\.\d+\.\d+(:\d+)?$` without a regex.
fn looks_like_ip(s: &str) -> bool {
    let (addr, port) = match s.split_once(':') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    let parts: Vec<&str> = addr.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The selected namespaces, found by the [`hash_str`] a sample's labels already have.
struct Scope<'a> {
    names: FxHashSet<&'a str>,
    by_hash: FxHashMap<u64, &'a str>,
    /// Selected namespaces whose hash another one has (compared one by one).
    collided: Vec<&'a str>,
}

impl<'a> Scope<'a> {
    fn new(opts: &'a GraphOptions) -> Self {
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
    fn has(&self, v: Option<&str>, h: u64) -> bool {
        let Some(v) = v else { return false };
        self.by_hash
            .get(&h)
            .is_some_and(|n| same_bytes(n.as_bytes(), v.as_bytes()))
            || (!self.collided.is_empty() && self.collided.contains(&v))
    }

    /// Whether a sample (label hashes `hs`) concerns the selected namespaces.
    fn includes(&self, source_reported: bool, l: &IstioLabels, hs: &[u64; 18]) -> bool {
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

/// Workloads by (cluster, namespace, name).
type WorkloadIndex<'a> = FxHashMap<(&'a str, &'a str, &'a str), &'a WorkloadInfo>;

struct Builder<'a> {
    opts: &'a GraphOptions,
    inv: &'a MeshInventory,
    /// The selected namespaces ([`Scope::names`]).
    namespaces: &'a FxHashSet<&'a str>,
    nodes: Vec<Node<'a>>,
    /// Node by [`NodeKey::int_key`].
    node_index: FxHashMap<IntKey, u32>,
    edges: Vec<Edge>,
    edge_index: FxHashMap<(u32, u32, Proto), u32>,
    diags: Diagnostics,
    labels: Labels<'a>,
    /// Use a second thread for the large parts.
    parallel: bool,
}

/// The parsed, validated identity of a sample.
struct Parsed<'a> {
    src_cluster: Lbl<'a>,
    src_ns: Lbl<'a>,
    src_wl: Lbl<'a>,
    src_app: Lbl<'a>,
    src_ver: Lbl<'a>,
    dst_cluster: Lbl<'a>,
    dst_svc_ns: Lbl<'a>,
    dst_svc: Lbl<'a>,
    dst_svc_name: Lbl<'a>,
    dst_wl_ns: Lbl<'a>,
    dst_wl: Lbl<'a>,
    dst_app: Lbl<'a>,
    dst_ver: Lbl<'a>,
}

impl<'a> Parsed<'a> {
    /// The arguments of [`node_id`] for the sample's node `k`: 0 source, 1 destination,
    /// 2 destination service (injected).
    fn node(&self, k: usize) -> [Lbl<'a>; 7] {
        let e = Lbl::EMPTY;
        match k {
            0 => [
                self.src_cluster,
                self.src_ns,
                e,
                self.src_ns,
                self.src_wl,
                self.src_app,
                self.src_ver,
            ],
            1 => [
                self.dst_cluster,
                self.dst_svc_ns,
                self.dst_svc_name,
                self.dst_wl_ns,
                self.dst_wl,
                self.dst_app,
                self.dst_ver,
            ],
            _ => [
                self.dst_cluster,
                self.dst_svc_ns,
                self.dst_svc_name,
                e,
                e,
                e,
                e,
            ],
        }
    }
}

/// Reads and checks a sample's identity (Kiali's bad-telemetry rules), numbering its labels in
/// `labels`; `hs` are its [`label_hashes`].
fn parse<'a>(
    labels: &mut Labels<'a>,
    diags: &mut Diagnostics,
    s: &'a Sample,
    hs: &[u64; 18],
    gt: GraphType,
) -> Option<Parsed<'a>> {
    let l = &s.labels;
    let (
        Some(src_ns),
        Some(src_wl),
        Some(src_app),
        Some(src_ver),
        Some(dst_svc_ns),
        Some(dst_svc),
        Some(dst_svc_name),
        Some(dst_wl_ns),
        Some(dst_wl),
        Some(dst_app),
        Some(dst_ver),
    ) = (
        l.source_workload_namespace(),
        l.source_workload(),
        l.source_canonical_service(),
        l.source_canonical_revision(),
        l.destination_service_namespace(),
        l.destination_service(),
        l.destination_service_name(),
        l.destination_workload_namespace(),
        l.destination_workload(),
        l.destination_canonical_service(),
        l.destination_canonical_revision(),
    )
    else {
        diags.push("missing_label", || {
            format!(
                "{} sample without an expected source_/destination_ label: {:?}",
                s.family, l
            )
        });
        return None;
    };
    let src_cluster_ok = l.source_cluster().is_some();
    let dst_cluster_ok = l.destination_cluster().is_some();
    let src_cluster = l.source_cluster().unwrap_or("unknown");
    let mut dst_cluster = l.destination_cluster().unwrap_or("unknown");

    // Known-bad source telemetry (Kiali's IsBadSourceTelemetry).
    if (is_ok(src_ns) && !is_ok(src_wl) && !is_ok(src_app))
        || (is_ok(src_ns) && src_cluster_ok && !is_ok(src_cluster))
    {
        diags.push("bad_source_telemetry", || {
            format!(
                "{} source {src_cluster}/{src_ns}/{src_wl}/{src_app}",
                s.family
            )
        });
        return None;
    }
    // Istio#29373: destination_cluster missing or unknown — assume the source cluster.
    let mut dst_from_src = false;
    if !is_ok(dst_cluster) && is_ok(src_cluster) && is_ok(dst_svc_ns) {
        dst_cluster = src_cluster;
        dst_from_src = true;
    }
    // Known-bad destination telemetry (Kiali's IsBadDestTelemetry).
    if (!is_ok(dst_wl)
        && is_ok(dst_svc)
        && is_ok(dst_svc_name)
        && dst_svc == dst_svc_name
        && looks_like_ip(dst_svc_name))
        || (is_ok(dst_svc_ns) && dst_cluster_ok && !is_ok(dst_cluster))
    {
        diags.push("bad_dest_telemetry", || {
            format!(
                "{} destination {dst_cluster}/{dst_svc_ns}/{dst_svc_name}/{dst_wl}",
                s.family
            )
        });
        return None;
    }
    let mut lbl = |v: &'a str, h: usize| labels.lbl_hashed(v, hs[h]);
    // Apps and versions are parts of node keys in app graphs only.
    let app_keys = matches!(gt, GraphType::App | GraphType::VersionedApp);
    let src_cluster_l = if src_cluster_ok {
        lbl(src_cluster, H_SRC_CLUSTER)
    } else {
        Lbl::UNKNOWN
    };
    // A value equal to one numbered just before (same hash, same bytes: both are in the
    // sample's buffer, in cache) takes its id without a lookup.
    let again = |prev: Lbl<'a>, hp: usize, v: &'a str, hv: usize| {
        (hs[hp] == hs[hv] && prev.s == v).then_some(Lbl { s: v, id: prev.id })
    };
    let dst_cluster_l = if dst_from_src {
        src_cluster_l
    } else if dst_cluster_ok {
        match again(src_cluster_l, H_SRC_CLUSTER, dst_cluster, H_DST_CLUSTER) {
            Some(l) if src_cluster_ok => l,
            _ => lbl(dst_cluster, H_DST_CLUSTER),
        }
    } else {
        Lbl::UNKNOWN
    };
    let src_ns_l = lbl(src_ns, H_SRC_NS);
    let dst_svc_ns_l = again(src_ns_l, H_SRC_NS, dst_svc_ns, H_DST_SVC_NS)
        .unwrap_or_else(|| lbl(dst_svc_ns, H_DST_SVC_NS));
    let dst_wl_ns_l = again(dst_svc_ns_l, H_DST_SVC_NS, dst_wl_ns, H_DST_WL_NS)
        .unwrap_or_else(|| lbl(dst_wl_ns, H_DST_WL_NS));
    Some(Parsed {
        src_cluster: src_cluster_l,
        src_ns: src_ns_l,
        src_wl: lbl(src_wl, H_SRC_WL),
        src_app: if app_keys {
            lbl(src_app, H_SRC_APP)
        } else {
            Lbl::unnumbered(src_app)
        },
        src_ver: if app_keys {
            lbl(src_ver, H_SRC_VER)
        } else {
            Lbl::unnumbered(src_ver)
        },
        dst_cluster: dst_cluster_l,
        dst_svc_ns: dst_svc_ns_l,
        dst_svc: lbl(dst_svc, H_DST_SVC),
        dst_svc_name: lbl(dst_svc_name, H_DST_SVC_NAME),
        dst_wl_ns: dst_wl_ns_l,
        dst_wl: lbl(dst_wl, H_DST_WL),
        dst_app: if app_keys {
            lbl(dst_app, H_DST_APP)
        } else {
            Lbl::unnumbered(dst_app)
        },
        dst_ver: if app_keys {
            lbl(dst_ver, H_DST_VER)
        } else {
            Lbl::unnumbered(dst_ver)
        },
    })
}

/// The graph type node identity follows (a service graph is built from a workload graph).
fn identity_graph_type(opts: &GraphOptions) -> GraphType {
    match opts.graph_type {
        GraphType::Service => GraphType::Workload,
        g => g,
    }
}

/// [`node_id`] of `n` ([`Parsed::node`]'s order), reporting a bad one.
fn find_node_id<'a>(
    diags: &mut Diagnostics,
    gt: GraphType,
    n: [Lbl<'a>; 7],
) -> Option<(NodeKey<'a>, NodeType, Lbl<'a>)> {
    let [cluster, svc_ns, svc, wl_ns, wl, app, ver] = n;
    match node_id(cluster, svc_ns, svc, wl_ns, wl, app, ver, gt) {
        Ok(v) => Some(v),
        Err(why) => {
            diags.push("bad_node", || {
                format!(
                    "{why}: cluster={} namespace={}/{} workload={} app={} version={} service={}",
                    cluster.s, wl_ns.s, svc_ns.s, wl.s, app.s, ver.s, svc.s
                )
            });
            None
        }
    }
}

/// How a response code counts on an edge and its destination node.
#[derive(Clone, Copy, PartialEq)]
enum Outcome {
    Other,
    C3xx,
    C4xx,
    C5xx,
    NoResponse,
    GrpcErr,
}

/// An absent label id in a [`Plan`].
const NO_LABEL: u32 = u32::MAX;

/// What one sample does to the graph, worked out without the graph by a [`Planner`] (so on
/// either thread): label ids are the planner's, node keys are [`IntKey`]s of them. The graph
/// applies plans in input order ([`Builder::apply`]), so the result is the same as taking the
/// samples one by one.
struct Plan<'a> {
    sample: &'a Sample,
    value: f64,
    /// Series hash, recorded for the source/destination dedup when `dedup`.
    series: u64,
    /// `le` of a bucket sample (NaN: missing or not a number).
    le: f64,
    /// Nodes found or created in this order: source, destination, injected service. Fewer
    /// than the sample needs when one was bad (those before it still exist, as in Kiali).
    nodes: [IntKey; 3],
    n_nodes: u8,
    /// Whether the sample adds traffic (its nodes are all good and it counts).
    traffic: bool,
    role: Role,
    proto: Proto,
    dedup: bool,
    source_reported: bool,
    /// Counted as mutual TLS (security appender).
    mtls: bool,
    outcome: Outcome,
    /// Response key (code, flags, host); `code` [`NO_LABEL`]: no response entry.
    code: u32,
    flags: u32,
    host: u32,
    /// Destination service (cluster, namespace, name) for `destServices`; [`NO_LABEL`]: none.
    dest_svc: [u32; 3],
    /// Source and destination principals (security appender); [`NO_LABEL`]: none.
    principals: [u32; 2],
}

/// A source-reported sample, ingested after all others unless the dedup drops it.
struct Deferred<'a> {
    sample: &'a Sample,
    role: Role,
    dedup: bool,
    series: u64,
}

// `Planner::roles` is indexed by `Family as usize`.
const _: () = {
    let mut i = 0;
    while i < Family::ALL.len() {
        assert!(Family::ALL[i] as usize == i);
        i += 1;
    }
};

/// A [`Planner`]'s work on one chunk of samples.
struct Planned<'a> {
    /// Which planner (index of its id map in [`build`]).
    planner: usize,
    /// Labels the planner numbered first in this chunk, in id order.
    new_labels: Vec<&'a str>,
    /// Samples to ingest now (all but source-reported ones), in input order.
    plans: Vec<Plan<'a>>,
    /// Source-reported samples, in input order.
    later: Vec<Deferred<'a>>,
    /// What was skipped, in input order.
    diags: Diagnostics,
}

/// Works out [`Plan`]s: scope, label hashes, series hash, parsing, the checks that report bad
/// input, node identity, response classes. Everything that depends on the sample alone, so it
/// can run on a second thread while the graph is built from earlier chunks. Each planner numbers
/// labels in its own interner.
struct Planner<'a> {
    index: usize,
    opts: &'a GraphOptions,
    scope: &'a Scope<'a>,
    /// [`role`] of each family ([`Family::ALL`] order), decided once.
    roles: [Option<Role>; Family::ALL.len()],
    /// The graph type node identity follows.
    gt: GraphType,
    inject: bool,
    security: bool,
    labels: Labels<'a>,
    /// `-` (no response).
    dash: Lbl<'a>,
    /// Labels numbered before this were handed out with an earlier chunk.
    sent: usize,
    diags: Diagnostics,
}

impl<'a> Planner<'a> {
    fn new(index: usize, opts: &'a GraphOptions, scope: &'a Scope<'a>) -> Self {
        let mut labels = Labels::new();
        let dash = labels.lbl("-");
        Planner {
            index,
            opts,
            scope,
            roles: Family::ALL.map(|f| role(opts, f)),
            gt: identity_graph_type(opts),
            inject: opts.injects_service_nodes(),
            security: opts.appender_enabled(Appender::SecurityPolicy),
            labels,
            dash,
            sent: 0,
            diags: Diagnostics::default(),
        }
    }

    /// Plans a chunk: destination-reported samples (and diagnostics) now, source-reported ones
    /// for later.
    fn chunk(&mut self, chunk: &'a [Sample]) -> Planned<'a> {
        let mut plans = Vec::with_capacity(chunk.len() / 2 + 1);
        let mut later = Vec::with_capacity(chunk.len() / 2 + 1);
        for s in chunk {
            let Some(role) = self.roles[s.family as usize] else {
                continue;
            };
            if !s.value.is_finite() || s.value < 0.0 {
                self.diags.push("non_finite_value", || {
                    format!("{} value {}", s.family, s.value)
                });
                continue;
            }
            let source = match s.labels.reporter() {
                Some("destination") => false,
                Some("source") => true,
                _ => {
                    self.diags.push("bad_reporter", || {
                        format!("{} reporter {:?}", s.family, s.labels.reporter())
                    });
                    continue;
                }
            };
            let hs = label_hashes(&s.labels);
            if !self.scope.includes(source, &s.labels, &hs) {
                continue;
            }
            let dedup = matches!(role, Role::Requests | Role::Messages | Role::Tcp);
            let series = if dedup { series_hash(s.family, &hs) } else { 0 };
            if source {
                // Mostly dropped by the dedup: planned only if not.
                later.push(Deferred {
                    sample: s,
                    role,
                    dedup,
                    series,
                });
            } else {
                plans.push(self.plan(s, role, false, &hs, dedup, series));
            }
        }
        self.finish(plans, later)
    }

    /// Plans source-reported samples the dedup kept.
    fn deferred(&mut self, kept: &[&Deferred<'a>]) -> Planned<'a> {
        let plans = kept
            .iter()
            .map(|d| {
                let hs = label_hashes(&d.sample.labels);
                self.plan(d.sample, d.role, true, &hs, false, d.series)
            })
            .collect();
        self.finish(plans, Vec::new())
    }

    fn finish(&mut self, plans: Vec<Plan<'a>>, later: Vec<Deferred<'a>>) -> Planned<'a> {
        let new_labels = self.labels.values[self.sent..].to_vec();
        self.sent = self.labels.values.len();
        Planned {
            planner: self.index,
            new_labels,
            plans,
            later,
            diags: std::mem::take(&mut self.diags),
        }
    }

    /// What ingesting `s` does, checked as Kiali does, reporting bad input.
    fn plan(
        &mut self,
        s: &'a Sample,
        role: Role,
        source_reported: bool,
        hs: &[u64; 18],
        dedup: bool,
        series: u64,
    ) -> Plan<'a> {
        let mut plan = Plan {
            sample: s,
            value: s.value,
            series,
            le: f64::NAN,
            nodes: [(0, 0, 0, 0, 0); 3],
            n_nodes: 0,
            traffic: false,
            role,
            proto: Proto::Tcp,
            dedup,
            source_reported,
            mtls: false,
            outcome: Outcome::Other,
            code: NO_LABEL,
            flags: Lbl::EMPTY.id,
            host: Lbl::EMPTY.id,
            dest_svc: [NO_LABEL; 3],
            principals: [NO_LABEL; 2],
        };
        let l = &s.labels;
        let Some(p) = parse(&mut self.labels, &mut self.diags, s, hs, self.gt) else {
            return plan;
        };
        let mut code: Option<Lbl<'a>> = None;
        let proto = match role {
            Role::Requests
            | Role::Bucket
            | Role::DurationSum
            | Role::DurationCount
            | Role::Bytes => {
                let proto = match l.request_protocol() {
                    Some("http") => Proto::Http,
                    Some("grpc") => Proto::Grpc,
                    other => {
                        self.diags.push("unknown_protocol", || {
                            format!("{} request_protocol {other:?}", s.family)
                        });
                        return plan;
                    }
                };
                if role == Role::Requests {
                    if (proto == Proto::Http && self.opts.rates.http != HttpRate::Requests)
                        || (proto == Proto::Grpc && self.opts.rates.grpc != GrpcRate::Requests)
                    {
                        return plan;
                    }
                    code = match self.code_of(proto, l, hs) {
                        Some(c) => Some(c),
                        None => {
                            self.diags.push("missing_label", || {
                                format!("{} sample without response_code", s.family)
                            });
                            return plan;
                        }
                    };
                }
                proto
            }
            Role::Messages => Proto::Grpc,
            Role::Tcp => Proto::Tcp,
        };
        let flags: Lbl<'a> = match role {
            Role::Requests | Role::Tcp => match l.response_flags() {
                Some(f) => self.labels.lbl_hashed(f, hs[H_FLAGS]),
                None => {
                    self.diags.push("missing_label", || {
                        format!("{} sample without response_flags", s.family)
                    });
                    return plan;
                }
            },
            _ => Lbl::EMPTY,
        };
        let inject = self.inject && p.dst_svc_name.ok() && p.dst_svc_name.s != "PassthroughCluster";
        let mut dst_type = NodeType::Unknown;
        for k in 0..3 {
            if k == 2 && !(inject && dst_type != NodeType::Service) {
                break;
            }
            let Some((key, node_type, _)) = find_node_id(&mut self.diags, self.gt, p.node(k))
            else {
                return plan;
            };
            plan.nodes[k] = key.int_key();
            plan.n_nodes += 1;
            if k == 1 {
                dst_type = node_type;
            }
        }
        plan.traffic = true;
        plan.proto = proto;
        plan.flags = flags.id;
        plan.host = p.dst_svc.id;
        if p.dst_svc_name.ok() {
            plan.dest_svc = [p.dst_cluster.id, p.dst_svc_ns.id, p.dst_svc_name.id];
        }
        let (code, outcome) = match proto {
            Proto::Grpc => match code {
                Some(Lbl { s: c, id }) => {
                    let outcome = if c == "-" {
                        Outcome::NoResponse
                    } else if (c.len() == 3 && (c.starts_with('4') || c.starts_with('5')))
                        || (c.len() != 3 && c != "0")
                    {
                        Outcome::GrpcErr
                    } else {
                        Outcome::Other
                    };
                    (id, outcome)
                }
                None => (NO_LABEL, Outcome::Other),
            },
            Proto::Http => {
                let Lbl { s: c, id } = code.unwrap_or(self.dash);
                let outcome = match c.as_bytes().first() {
                    Some(b'3') => Outcome::C3xx,
                    Some(b'4') => Outcome::C4xx,
                    Some(b'5') => Outcome::C5xx,
                    Some(b'-') => Outcome::NoResponse,
                    _ => Outcome::Other,
                };
                (id, outcome)
            }
            Proto::Tcp => (self.dash.id, Outcome::Other),
        };
        plan.code = code;
        plan.outcome = outcome;
        if self.security && role != Role::Messages {
            for (i, p) in [l.source_principal(), l.destination_principal()]
                .into_iter()
                .enumerate()
            {
                if let Some(p) = p.filter(|p| !p.is_empty() && *p != "unknown") {
                    plan.principals[i] = self.labels.id(p);
                }
            }
            plan.mtls = l.connection_security_policy() == Some("mutual_tls");
        }
        if role == Role::Bucket
            && let Some(le) = l.le()
        {
            plan.le = crate::input::parse_prom_float(le);
        }
        plan
    }

    fn code_of(&mut self, proto: Proto, l: &'a IstioLabels, hs: &[u64; 18]) -> Option<Lbl<'a>> {
        let code = l.response_code()?;
        let (v, i) = if code == "0" {
            return Some(self.dash);
        } else if proto != Proto::Grpc || code.starts_with('4') || code.starts_with('5') {
            (code, H_CODE)
        } else {
            match l.grpc_response_status() {
                Some(g) => (g, H_GRPC),
                None => (code, H_CODE),
            }
        };
        Some(self.labels.lbl_hashed(v, hs[i]))
    }
}

impl<'a> Builder<'a> {
    fn new(opts: &'a GraphOptions, inv: &'a MeshInventory, scope: &'a Scope<'a>) -> Self {
        Builder {
            opts,
            inv,
            namespaces: &scope.names,
            nodes: Vec::new(),
            node_index: FxHashMap::default(),
            edges: Vec::new(),
            edge_index: FxHashMap::default(),
            diags: Diagnostics::default(),
            labels: Labels::new(),
            parallel: false,
        }
    }

    /// The node `n` ([`Parsed::node`]'s order) stands for, added if new.
    fn add_node(&mut self, n: [Lbl<'a>; 7]) -> Option<u32> {
        let gt = identity_graph_type(self.opts);
        let (key, node_type, namespace) = find_node_id(&mut self.diags, gt, n)?;
        let int_key = key.int_key();
        if let Some(&i) = self.node_index.get(&int_key) {
            return Some(i);
        }
        Some(self.push_node(key, node_type, namespace, n))
    }

    fn push_node(
        &mut self,
        key: NodeKey<'a>,
        node_type: NodeType,
        namespace: Lbl<'a>,
        n: [Lbl<'a>; 7],
    ) -> u32 {
        let [cluster, _, svc, _, wl, app, ver] = n;
        let (cluster, namespace) = (cluster.s, namespace.s);
        let (mut workload, mut app, mut version, mut service) = (wl.s, app.s, ver.s, svc.s);
        match node_type {
            NodeType::Workload => {
                if app == "unknown" {
                    app = "";
                }
                if version == "unknown" {
                    version = "";
                }
                service = "";
            }
            NodeType::App => {
                if self.opts.graph_type != GraphType::VersionedApp {
                    workload = "";
                    version = "";
                }
                service = "";
            }
            NodeType::Service => {
                app = "";
                workload = "";
                version = "";
            }
            NodeType::Unknown => {}
        }
        let i = self.nodes.len() as u32;
        self.node_index.insert(key.int_key(), i);
        self.nodes.push(Node {
            key,
            node_type,
            cluster,
            namespace,
            workload,
            app,
            version,
            service,
            rates: NodeRates::default(),
            dest_services: Vec::new(),
            is_dead: false,
            is_idle: false,
            is_outside: false,
            is_out_of_mesh: false,
            is_root: false,
            service_entry: None,
            removed: false,
        });
        i
    }

    /// Node `k` of a planned sample that is not in the graph yet: its labels are read again
    /// (in the graph's interner) to create it.
    fn new_node(&mut self, s: &'a Sample, k: usize) -> Option<u32> {
        let hs = label_hashes(&s.labels);
        // The planner reported this sample's problems already.
        let mut reported = Diagnostics::default();
        let p = parse(
            &mut self.labels,
            &mut reported,
            s,
            &hs,
            identity_graph_type(self.opts),
        )?;
        let n = p.node(k);
        let gt = identity_graph_type(self.opts);
        let (key, node_type, namespace) = find_node_id(&mut reported, gt, n)?;
        Some(self.push_node(key, node_type, namespace, n))
    }

    fn edge(&mut self, src: u32, dst: u32, proto: Proto) -> u32 {
        *self.edge_index.entry((src, dst, proto)).or_insert_with(|| {
            self.edges.push(Edge::new(src, dst, proto));
            (self.edges.len() - 1) as u32
        })
    }

    fn add_dest_service(&mut self, node: u32, key: (LabelId, LabelId, LabelId)) {
        let ds = &mut self.nodes[node as usize].dest_services;
        if !ds.contains(&key) {
            ds.push(key);
        }
    }

    /// Adds a chunk's work: its labels, diagnostics and samples, in input order.
    fn apply_chunk(
        &mut self,
        maps: &mut [Vec<u32>; 2],
        seen: &mut FxHashSet<u64>,
        c: Planned<'a>,
    ) -> Vec<Deferred<'a>> {
        let map = &mut maps[c.planner];
        for s in c.new_labels {
            map.push(self.labels.id(s));
        }
        self.diags.merge(c.diags);
        for p in &c.plans {
            if p.dedup {
                seen.insert(p.series);
            }
            self.apply(p, map);
        }
        c.later
    }

    /// Ingests one planned sample (Kiali's AddToMetadata on each hop); `map` takes the
    /// planner's label ids to the graph's.
    fn apply(&mut self, p: &Plan<'a>, map: &[u32]) {
        let m = |i: u32| {
            if i == NO_LABEL {
                NO_LABEL
            } else {
                map[i as usize]
            }
        };
        let mut nodes = [0u32; 3];
        for (k, &(kind, c, ns, a, b)) in p.nodes[..usize::from(p.n_nodes)].iter().enumerate() {
            let key = (kind, m(c), m(ns), m(a), m(b));
            nodes[k] = match self.node_index.get(&key) {
                Some(&i) => i,
                None => match self.new_node(p.sample, k) {
                    Some(i) => i,
                    None => return,
                },
            };
        }
        if !p.traffic {
            return;
        }
        let [src, dst, svc] = nodes;
        let hops = if p.n_nodes == 3 {
            [(src, svc), (svc, dst)]
        } else {
            [(src, dst), (src, dst)]
        };
        let hops = &hops[..usize::from(p.n_nodes) - 1];
        let proto = p.proto;
        let dest_svc = (p.dest_svc[0] != NO_LABEL)
            .then(|| (m(p.dest_svc[0]), m(p.dest_svc[1]), m(p.dest_svc[2])));
        for &(a, b) in hops {
            match p.role {
                Role::Requests | Role::Messages | Role::Tcp => {
                    let e = self.edge(a, b, proto);
                    let edge = &mut self.edges[e as usize];
                    if p.principals[0] != NO_LABEL {
                        edge.src_principal.add_id(m(p.principals[0]));
                    }
                    if p.principals[1] != NO_LABEL {
                        edge.dst_principal.add_id(m(p.principals[1]));
                    }
                    if p.value > 0.0 {
                        let resp = (p.code != NO_LABEL).then(|| Resp {
                            code: m(p.code),
                            flags: m(p.flags),
                            host: m(p.host),
                            val: p.value,
                        });
                        self.add_traffic(e, p, resp);
                    }
                    if let Some(key) = dest_svc {
                        self.add_dest_service(b, key);
                    }
                }
                Role::Bucket | Role::DurationSum | Role::DurationCount | Role::Bytes => {
                    // Response time and throughput decorate edges that carry traffic; they never create one.
                    let Some(&e) = self.edge_index.get(&(a, b, proto)) else {
                        continue;
                    };
                    let r = usize::from(p.source_reported);
                    let edge = &mut self.edges[e as usize];
                    let s = p.sample;
                    match p.role {
                        Role::Bucket => {
                            if p.le.is_nan() {
                                self.diags.push("bad_bucket", || {
                                    format!("{} bucket with le {:?}", s.family, s.labels.le())
                                });
                                return;
                            }
                            edge.latency[r].add_bucket(p.le, s.value);
                        }
                        Role::DurationSum => edge.latency[r].sum += s.value,
                        Role::DurationCount => edge.latency[r].count += s.value,
                        _ => edge.bytes[r] += s.value,
                    }
                }
            }
        }
    }

    /// Adds a sample's traffic (`p.value` > 0) to edge `e` and its end nodes, with its response
    /// entry if any.
    fn add_traffic(&mut self, e: u32, p: &Plan<'a>, resp: Option<Resp>) {
        let val = p.value;
        let edge = &mut self.edges[e as usize];
        let (src, dst) = (edge.src as usize, edge.dst as usize);
        edge.total += val;
        if p.mtls {
            edge.mtls += val;
        }
        if let Some(r) = resp {
            edge.add_response(r.code, r.flags, r.host, r.val);
        }
        match p.outcome {
            Outcome::Other => {}
            Outcome::C3xx => edge.c3xx += val,
            Outcome::C4xx => edge.c4xx += val,
            Outcome::C5xx => edge.c5xx += val,
            Outcome::NoResponse => edge.noresp += val,
            Outcome::GrpcErr => edge.err += val,
        }
        let sr = &mut self.nodes[src].rates;
        *sr.out_mut(p.proto) += val;
        let dr = &mut self.nodes[dst].rates;
        match p.proto {
            Proto::Grpc => {
                dr.grpc_in += val;
                match p.outcome {
                    Outcome::NoResponse => dr.grpc_in_noresp += val,
                    Outcome::GrpcErr => dr.grpc_in_err += val,
                    _ => {}
                }
            }
            Proto::Http => {
                dr.http_in += val;
                match p.outcome {
                    Outcome::C3xx => dr.http_in_3xx += val,
                    Outcome::C4xx => dr.http_in_4xx += val,
                    Outcome::C5xx => dr.http_in_5xx += val,
                    Outcome::NoResponse => dr.http_in_noresp += val,
                    _ => {}
                }
            }
            Proto::Tcp => dr.tcp_in += val,
        }
    }
}

/// Inputs at least this large are planned on a second thread too while the first builds.
const PARALLEL_MIN_SAMPLES: usize = 10_000;

/// Graphs with at least this many edges build them on two threads.
const PARALLEL_MIN_EDGES: usize = 2_000;

/// Samples per planned chunk (the building thread waits for the first one only).
const PLAN_CHUNK: usize = 4_096;

/// Builds the namespace graph from the samples of the [`crate::queries`] results (all families
/// in one slice, any order) and the mesh inventory. Never panics on bad input: such samples are
/// skipped and reported in [`GraphResult::diagnostics`].
pub fn build_graph(
    opts: &GraphOptions,
    samples: &[Sample],
    inventory: &MeshInventory,
) -> GraphResult {
    build(
        opts,
        samples,
        inventory,
        samples.len() >= PARALLEL_MIN_SAMPLES,
    )
}

/// [`build_graph`], on two threads when `parallel` (the same graph either way).
fn build(
    opts: &GraphOptions,
    samples: &[Sample],
    inventory: &MeshInventory,
    parallel: bool,
) -> GraphResult {
    let selected = Scope::new(opts);
    let mut b = Builder::new(opts, inventory, &selected);
    b.parallel = parallel;

    // Destination-reported series first; a source-reported series describing the same traffic
    // (same labels but the reporter) is then skipped, as Kiali's time-series hash does.
    // Samples are planned chunk by chunk ([`Planner`]); on large inputs a second thread plans
    // chunks while this one applies those already planned, in input order, so the graph is
    // the same.
    let mut seen: FxHashSet<u64> =
        FxHashSet::with_capacity_and_hasher(samples.len() / 2, Default::default());
    let mut deferred: Vec<Vec<Deferred<'_>>> = Vec::new();
    // Planner ids → graph ids, per planner (0: the second thread's, 1: this thread's).
    let mut maps: [Vec<u32>; 2] = [Vec::with_capacity(4096), Vec::with_capacity(4096)];
    let mut planner = Planner::new(1, opts, &selected);
    let chunks: Vec<&[Sample]> = samples.chunks(PLAN_CHUNK).collect();
    if parallel {
        // Chunks are claimed in order by the second thread and, while it is behind, by this
        // one.
        let chunks = &chunks;
        let selected = &selected;
        let next = std::sync::atomic::AtomicUsize::new(0);
        let next = &next;
        let claim = move || next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel();
            // Without a second thread (spawning failed) this one plans every chunk.
            let _ = std::thread::Builder::new().spawn_scoped(scope, move || {
                let mut planner = Planner::new(0, opts, selected);
                loop {
                    let k = claim();
                    let Some(chunk) = chunks.get(k) else { return };
                    if tx.send((k, planner.chunk(chunk))).is_err() {
                        return;
                    }
                }
            });
            let mut ready: Vec<Option<Planned<'_>>> = Vec::new();
            ready.resize_with(chunks.len(), || None);
            for k in 0..chunks.len() {
                while ready[k].is_none() {
                    match rx.try_recv() {
                        Ok((j, done)) => ready[j] = Some(done),
                        Err(std::sync::mpsc::TryRecvError::Empty) => {
                            let j = claim();
                            match chunks.get(j) {
                                Some(chunk) => ready[j] = Some(planner.chunk(chunk)),
                                None => {
                                    if let Ok((j, done)) = rx.recv() {
                                        ready[j] = Some(done);
                                    }
                                }
                            }
                        }
                        Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                            // The second thread stopped early (its panic is re-raised when
                            // the scope ends): plan the chunk here.
                            ready[k] = Some(planner.chunk(chunks[k]));
                        }
                    }
                }
                if let Some(done) = ready[k].take() {
                    deferred.push(b.apply_chunk(&mut maps, &mut seen, done));
                }
            }
        });
    } else {
        for chunk in chunks {
            let done = planner.chunk(chunk);
            deferred.push(b.apply_chunk(&mut maps, &mut seen, done));
        }
    }
    let kept: Vec<&Deferred<'_>> = deferred
        .iter()
        .flatten()
        .filter(|d| !(d.dedup && seen.contains(&d.series)))
        .collect();
    if !kept.is_empty() {
        let done = planner.deferred(&kept);
        b.apply_chunk(&mut maps, &mut seen, done);
    }

    // Built once for the appenders that look workloads up.
    let wl_index = if opts.appender_enabled(Appender::DeadNode)
        || opts.appender_enabled(Appender::SidecarsCheck)
    {
        b.workload_index()
    } else {
        WorkloadIndex::default()
    };
    if opts.appender_enabled(Appender::DeadNode) {
        b.dead_nodes(&wl_index);
    }
    if opts.include_idle_nodes && opts.appender_enabled(Appender::IdleNode) {
        b.idle_nodes();
    }
    if opts.appender_enabled(Appender::ServiceEntry) {
        b.service_entries();
    }
    if opts.appender_enabled(Appender::SidecarsCheck) {
        b.sidecars_check(&wl_index);
    }
    b.outsiders_and_roots();
    if opts.graph_type == GraphType::Service {
        b.reduce_to_service_graph();
    }
    let diagnostics = std::mem::take(&mut b.diags).into_vec();
    GraphResult {
        graph: b.into_cytoscape(),
        diagnostics,
    }
}

impl<'a> Builder<'a> {
    fn remove_edges_of_removed_nodes(&mut self) {
        let nodes = &self.nodes;
        for e in &mut self.edges {
            if nodes[e.src as usize].removed || nodes[e.dst as usize].removed {
                e.removed = true;
            }
        }
    }

    /// Kiali's deadNode appender: nodes without traffic whose workload is gone are dropped, those
    /// whose workload has no pods are flagged `isDead`; traffic-less service nodes that lead
    /// nowhere are dropped.
    fn dead_nodes(&mut self, wl_index: &WorkloadIndex<'a>) {
        let mut has_out = vec![false; self.nodes.len()];
        for e in &self.edges {
            has_out[e.src as usize] = true;
        }
        for (i, n) in self.nodes.iter_mut().enumerate() {
            if n.rates.has_traffic() || n.node_type == NodeType::Unknown {
                continue;
            }
            if n.node_type == NodeType::Service {
                if has_out[i] || n.service_entry.is_some() {
                    continue;
                }
                if n.rates.http_in_4xx
                    + n.rates.http_in_5xx
                    + n.rates.http_in_noresp
                    + n.rates.grpc_in_err
                    + n.rates.grpc_in_noresp
                    > 0.0
                {
                    continue;
                }
                n.removed = true;
                continue;
            }
            if !is_ok(n.workload) {
                continue;
            }
            match wl_index.get(&(n.cluster, n.namespace, n.workload)) {
                None => n.removed = true,
                Some(w) if w.current_replicas <= 0 => n.is_dead = true,
                Some(_) => {}
            }
        }
        self.remove_edges_of_removed_nodes();
    }

    fn workload_index(&self) -> WorkloadIndex<'a> {
        let mut m = FxHashMap::default();
        for c in &self.inv.clusters {
            for w in &c.workloads {
                m.insert((c.name.as_str(), w.namespace.as_str(), w.name.as_str()), w);
            }
        }
        m
    }

    /// Kiali's idleNode appender: inventory objects of the selected namespaces without traffic.
    fn idle_nodes(&mut self) {
        let inv = self.inv;
        let inject = self.opts.injects_service_nodes();
        for c in &inv.clusters {
            for w in &c.workloads {
                if !self.namespaces.contains(w.namespace.as_str()) {
                    continue;
                }
                let app = w.app().unwrap_or("unknown");
                let ver = w.version().unwrap_or("unknown");
                if self.opts.graph_type == GraphType::Service {
                    continue;
                }
                let before = self.nodes.len();
                let l = &mut self.labels;
                let (cl, ns, wl) = (l.lbl(&c.name), l.lbl(&w.namespace), l.lbl(&w.name));
                let (app, ver) = (l.lbl(app), l.lbl(ver));
                if let Some(i) = self.add_node([cl, ns, Lbl::EMPTY, ns, wl, app, ver])
                    && i as usize >= before
                {
                    self.nodes[i as usize].is_idle = true;
                }
            }
            if inject {
                for s in &c.services {
                    if !self.namespaces.contains(s.namespace.as_str()) {
                        continue;
                    }
                    let before = self.nodes.len();
                    let l = &mut self.labels;
                    let (cl, ns, name) = (l.lbl(&c.name), l.lbl(&s.namespace), l.lbl(&s.name));
                    let e = Lbl::EMPTY;
                    if let Some(i) = self.add_node([cl, ns, name, e, e, e, e])
                        && i as usize >= before
                    {
                        self.nodes[i as usize].is_idle = true;
                    }
                }
            }
        }
    }

    /// Kiali's serviceEntry appender: service nodes whose host a ServiceEntry of the same cluster
    /// declares become one `isServiceEntry` node per ServiceEntry.
    fn service_entries(&mut self) {
        let inv = self.inv;
        let mut replaced = false;
        for i in 0..self.nodes.len() {
            let n = &self.nodes[i];
            if n.removed || n.node_type != NodeType::Service || n.service_entry.is_some() {
                continue;
            }
            let Some(c) = inv.cluster(n.cluster) else {
                continue;
            };
            let Some(se) = c.service_entries.iter().find(|se| {
                se.hosts.iter().any(|h| host_matches(h, n.service))
                    && (se.namespace == n.namespace
                        || se.export_to.is_empty()
                        || se.export_to.iter().any(|e| e == "*" || e == n.namespace))
            }) else {
                continue;
            };
            let cluster = n.cluster;
            let info = SeInfo {
                hosts: se.hosts.clone(),
                location: if se.location.is_empty() {
                    "MESH_EXTERNAL".to_string()
                } else {
                    se.location.clone()
                },
                namespace: se.namespace.clone(),
            };
            let cluster_l = n.key.cluster;
            let key = NodeKey {
                kind: IdKind::Svc,
                cluster: cluster_l,
                namespace: self.labels.lbl(&se.namespace),
                a: self.labels.lbl(&se.name),
                b: Lbl::EMPTY,
            };
            let int_key = key.int_key();
            let target = match self.node_index.get(&int_key) {
                Some(&t) if t as usize != i => t,
                Some(_) => {
                    self.nodes[i].service_entry = Some(info);
                    continue;
                }
                None => {
                    let t = self.nodes.len() as u32;
                    self.nodes.push(Node {
                        key,
                        node_type: NodeType::Service,
                        cluster,
                        namespace: &se.namespace,
                        workload: "",
                        app: "",
                        version: "",
                        service: &se.name,
                        rates: NodeRates::default(),
                        dest_services: Vec::new(),
                        is_dead: false,
                        is_idle: false,
                        is_outside: false,
                        is_out_of_mesh: false,
                        is_root: false,
                        service_entry: Some(info),
                        removed: false,
                    });
                    self.node_index.insert(int_key, t);
                    t
                }
            };
            self.merge_node_into(i as u32, target);
            replaced = true;
        }
        if replaced {
            self.remove_edges_of_removed_nodes();
        }
    }

    /// Moves node `from`'s rates, dest services and edges onto `to`, then removes `from`.
    fn merge_node_into(&mut self, from: u32, to: u32) {
        let (rates, ds) = {
            let f = &mut self.nodes[from as usize];
            f.removed = true;
            (f.rates, std::mem::take(&mut f.dest_services))
        };
        {
            let t = &mut self.nodes[to as usize];
            let r = &mut t.rates;
            r.grpc_in += rates.grpc_in;
            r.grpc_in_err += rates.grpc_in_err;
            r.grpc_in_noresp += rates.grpc_in_noresp;
            r.grpc_out += rates.grpc_out;
            r.http_in += rates.http_in;
            r.http_in_3xx += rates.http_in_3xx;
            r.http_in_4xx += rates.http_in_4xx;
            r.http_in_5xx += rates.http_in_5xx;
            r.http_in_noresp += rates.http_in_noresp;
            r.http_out += rates.http_out;
            r.tcp_in += rates.tcp_in;
            r.tcp_out += rates.tcp_out;
            for d in ds {
                if !t.dest_services.contains(&d) {
                    t.dest_services.push(d);
                }
            }
        }
        for ei in 0..self.edges.len() {
            let (src, dst, proto, removed) = {
                let e = &self.edges[ei];
                (e.src, e.dst, e.proto, e.removed)
            };
            if removed || (src != from && dst != from) {
                continue;
            }
            let ns = if src == from { to } else { src };
            let nd = if dst == from { to } else { dst };
            self.edges[ei].removed = true;
            self.edge_index.remove(&(src, dst, proto));
            match self.edge_index.get(&(ns, nd, proto)) {
                Some(&existing) => {
                    let moved = std::mem::replace(&mut self.edges[ei], Edge::new(0, 0, proto));
                    self.edges[existing as usize].absorb(&moved);
                    self.edges[ei].removed = true;
                }
                None => {
                    let e = &mut self.edges[ei];
                    e.src = ns;
                    e.dst = nd;
                    e.removed = false;
                    self.edge_index.insert((ns, nd, proto), ei as u32);
                }
            }
        }
    }

    /// Kiali's sidecarsCheck appender: `isOutOfMesh` on workload-backed nodes without a sidecar.
    fn sidecars_check(&mut self, wl_index: &WorkloadIndex<'a>) {
        let inv = self.inv;
        for n in &mut self.nodes {
            if n.removed || n.is_outside_ns(self.namespaces) {
                continue;
            }
            match n.node_type {
                NodeType::Workload => {
                    if let Some(w) = wl_index.get(&(n.cluster, n.namespace, n.workload)) {
                        n.is_out_of_mesh = !w.istio_sidecar;
                    }
                }
                NodeType::App => {
                    if is_ok(n.workload) {
                        if let Some(w) = wl_index.get(&(n.cluster, n.namespace, n.workload)) {
                            n.is_out_of_mesh = !w.istio_sidecar;
                        }
                    } else if let Some(c) = inv.cluster(n.cluster) {
                        n.is_out_of_mesh = c.workloads.iter().any(|w| {
                            w.namespace == n.namespace && w.app() == Some(n.app) && !w.istio_sidecar
                        });
                    }
                }
                _ => {}
            }
        }
    }

    /// Kiali's outsider and traffic-generator finalizers.
    fn outsiders_and_roots(&mut self) {
        let mut has_in = vec![false; self.nodes.len()];
        let mut has_out = vec![false; self.nodes.len()];
        for e in self.edges.iter().filter(|e| !e.removed) {
            has_in[e.dst as usize] = true;
            has_out[e.src as usize] = true;
        }
        for (i, n) in self.nodes.iter_mut().enumerate() {
            if n.removed {
                continue;
            }
            n.is_outside = n.node_type != NodeType::Unknown && n.is_outside_ns(self.namespaces);
            n.is_root = has_out[i] && !has_in[i];
            if self.opts.include_idle_edges && !n.rates.has_traffic() && (has_in[i] || has_out[i]) {
                n.is_idle = true;
            }
        }
    }

    /// Kiali's ReduceToServiceGraph: service nodes only (plus non-service roots), with edges from
    /// each service to the services its workloads call.
    fn reduce_to_service_graph(&mut self) {
        let mut out_edges: Vec<Vec<u32>> = vec![Vec::new(); self.nodes.len()];
        for (i, e) in self.edges.iter().enumerate() {
            if !e.removed {
                out_edges[e.src as usize].push(i as u32);
            }
        }
        let mut new_edges: Vec<Edge> = Vec::new();
        let mut new_index: FxHashMap<(u32, u32, Proto), u32> = FxHashMap::default();
        let mut push = |new_edges: &mut Vec<Edge>, src: u32, e: &Edge| {
            let key = (src, e.dst, e.proto);
            match new_index.get(&key) {
                Some(&k) => new_edges[k as usize].absorb(e),
                None => {
                    let mut ne = Edge::new(src, e.dst, e.proto);
                    ne.absorb(e);
                    new_index.insert(key, new_edges.len() as u32);
                    new_edges.push(ne);
                }
            }
        };
        for i in 0..self.nodes.len() {
            let n = &self.nodes[i];
            if n.removed {
                continue;
            }
            if n.node_type != NodeType::Service {
                if n.is_root {
                    let mut kept = false;
                    for &ei in &out_edges[i] {
                        let e = &self.edges[ei as usize];
                        if self.nodes[e.dst as usize].node_type == NodeType::Service {
                            push(&mut new_edges, i as u32, e);
                            kept = true;
                        }
                    }
                    if kept {
                        continue;
                    }
                }
                continue;
            }
            for &ei in &out_edges[i] {
                let wl = self.edges[ei as usize].dst as usize;
                if self.nodes[wl].node_type == NodeType::Service {
                    continue;
                }
                for &wei in &out_edges[wl] {
                    let e = &self.edges[wei as usize];
                    if self.nodes[e.dst as usize].node_type == NodeType::Service {
                        push(&mut new_edges, i as u32, e);
                    }
                }
            }
        }
        let mut keep = vec![false; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            keep[i] = !n.removed && n.node_type == NodeType::Service;
        }
        for e in &new_edges {
            keep[e.src as usize] = true;
        }
        for (i, n) in self.nodes.iter_mut().enumerate() {
            if !keep[i] {
                n.removed = true;
            }
            for p in [Proto::Grpc, Proto::Http, Proto::Tcp] {
                *n.rates.out_mut(p) = 0.0;
            }
        }
        for e in &new_edges {
            *self.nodes[e.src as usize].rates.out_mut(e.proto) += e.total;
        }
        self.edges = new_edges;
        self.edge_index = new_index;
    }
}

impl Node<'_> {
    fn is_outside_ns(&self, namespaces: &FxHashSet<&str>) -> bool {
        is_ok(self.namespace) && !namespaces.contains(self.namespace)
    }
}

fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => host.ends_with(suffix) && host.len() > suffix.len(),
        None => pattern == host,
    }
}

fn put_rate(rates: &mut RateMap, k: &'static str, v: f64) {
    if v > 0.0 {
        rates.set(k, RateValue::Rate(v));
    }
}

impl<'a> Builder<'a> {
    fn into_cytoscape(self) -> CytoscapeGraph {
        let opts = self.opts;
        let labels = &self.labels;
        let mut ids: Vec<Id> = Vec::with_capacity(self.nodes.len());
        let mut id_buf = String::new();
        for n in &self.nodes {
            if n.removed {
                ids.push(Id::default());
                continue;
            }
            id_buf.clear();
            n.key.write_id(&mut id_buf);
            ids.push(sha256_id(id_buf.as_bytes()));
        }

        let ids = &ids;
        // The nodes' data with their boxes, in Kiali's order (built beside the edges on large
        // graphs).
        let build_nodes = || -> Vec<NodeWrapper> {
            let mut nodes: Vec<NodeWrapper> = Vec::with_capacity(self.nodes.len() + 16);
            for (i, n) in self.nodes.iter().enumerate() {
                if n.removed {
                    continue;
                }
                let r = &n.rates;
                // Each protocol's rates, in name order; a protocol without any is left out.
                let traffic: Vec<ProtocolTraffic> = [
                    (
                        "grpc",
                        &[
                            ("grpcIn", r.grpc_in),
                            ("grpcInErr", r.grpc_in_err),
                            ("grpcInNoResponse", r.grpc_in_noresp),
                            ("grpcOut", r.grpc_out),
                        ][..],
                    ),
                    (
                        "http",
                        &[
                            ("httpIn", r.http_in),
                            ("httpIn3xx", r.http_in_3xx),
                            ("httpIn4xx", r.http_in_4xx),
                            ("httpIn5xx", r.http_in_5xx),
                            ("httpInNoResponse", r.http_in_noresp),
                            ("httpOut", r.http_out),
                        ],
                    ),
                    ("tcp", &[("tcpIn", r.tcp_in), ("tcpOut", r.tcp_out)]),
                ]
                .into_iter()
                .filter_map(|(protocol, values)| {
                    let mut rates = RateMap::with_capacity(values.len());
                    for &(k, v) in values {
                        put_rate(&mut rates, k, v);
                    }
                    (!rates.is_empty()).then(|| ProtocolTraffic {
                        protocol,
                        rates,
                        responses: Responses::default(),
                    })
                })
                .collect();
                let mut dest_services: Vec<ServiceName> = n
                    .dest_services
                    .iter()
                    .map(|&(c, ns, name)| ServiceName {
                        cluster: labels.str(c).to_string(),
                        namespace: labels.str(ns).to_string(),
                        name: labels.str(name).to_string(),
                    })
                    .collect();
                dest_services.sort();
                nodes.push(NodeWrapper {
                    data: NodeData {
                        id: ids[i],
                        parent: None,
                        node_type: n.node_type.as_str(),
                        cluster: n.cluster.to_string(),
                        namespace: n.namespace.to_string(),
                        workload: n.workload.to_string(),
                        app: n.app.to_string(),
                        version: n.version.to_string(),
                        service: n.service.to_string(),
                        dest_services,
                        traffic,
                        health_data: None,
                        has_health_config: None,
                        is_box: "",
                        is_dead: n.is_dead,
                        is_idle: n.is_idle,
                        is_inaccessible: false,
                        is_out_of_mesh: n.is_out_of_mesh,
                        is_outside: n.is_outside,
                        is_root: n.is_root,
                        is_service_entry: n.service_entry.clone(),
                    },
                });
            }
            add_boxes(opts, &mut nodes);
            sort_nodes(&mut nodes);
            nodes
        };

        let quantile = opts.response_time.quantile();
        let table = Arc::new(LabelTable::new(labels.values.iter().copied()));
        // Byte order of the interned labels, so responses sort on integers.
        // Only the labels responses use (codes, flags, hosts) need a rank.
        let mut used = vec![false; labels.values.len()];
        for e in &self.edges {
            for r in e.responses.iter() {
                used[r.code as usize] = true;
                used[r.flags as usize] = true;
                used[r.host as usize] = true;
            }
        }
        let mut label_order: Vec<u32> = (0..labels.values.len() as u32)
            .filter(|&i| used[i as usize])
            .collect();
        label_order.sort_unstable_by(|&a, &b| labels.str(a).cmp(labels.str(b)));
        let mut label_rank = vec![0u32; labels.values.len()];
        for (r, &i) in label_order.iter().enumerate() {
            label_rank[i as usize] = r as u32;
        }
        // (code rank, 0 = code itself / 1 = flags / 2 = host, key rank, code, key, percentage).
        // Kiali's edge order (source id, target id, protocol), decided on integers: each node
        // gets the rank of its id among the sorted ids (equal ids, equal ranks).
        let mut by_id: Vec<u32> = (0..self.nodes.len() as u32)
            .filter(|&i| !ids[i as usize].is_empty())
            .collect();
        by_id.sort_unstable_by(|&a, &b| ids[a as usize].cmp(&ids[b as usize]));
        let mut rank = vec![0u32; self.nodes.len()];
        let mut r = 0u32;
        for (k, &i) in by_id.iter().enumerate() {
            if k > 0 && ids[i as usize] != ids[by_id[k - 1] as usize] {
                r += 1;
            }
            rank[i as usize] = r;
        }
        let mut order: Vec<&Edge> = self
            .edges
            .iter()
            .filter(|e| {
                !e.removed && !ids[e.src as usize].is_empty() && !ids[e.dst as usize].is_empty()
            })
            .collect();
        order.sort_by_key(|e| (rank[e.src as usize], rank[e.dst as usize], e.proto));
        // One edge's data; `buf` and `resp_rows` are scratch space.
        let edge_data = |e: &Edge,
                         buf: &mut Vec<u8>,
                         resp_rows: &mut Vec<(u32, u8, u32, LabelId, LabelId, f64)>|
         -> EdgeWrapper {
            let (src, dst) = (&ids[e.src as usize], &ids[e.dst as usize]);
            buf.clear();
            buf.extend_from_slice(src.as_bytes());
            buf.push(b'.');
            buf.extend_from_slice(dst.as_bytes());
            buf.push(b'.');
            buf.extend_from_slice(e.proto.as_str().as_bytes());
            let mut data = EdgeData {
                id: sha256_id(buf),
                source: *src,
                target: *dst,
                traffic: ProtocolTraffic {
                    protocol: e.proto.as_str(),
                    rates: RateMap::default(),
                    responses: Responses::default(),
                },
                ..EdgeData::default()
            };
            if e.total > 0.0 {
                let rates = &mut data.traffic.rates;
                *rates = RateMap::with_capacity(match e.proto {
                    Proto::Http => 7,
                    Proto::Grpc => 5,
                    Proto::Tcp => 1,
                });
                let src_out = self.nodes[e.src as usize].rates.out(e.proto);
                // In name order (the map appends them without searching).
                let (pct_err_k, pct_req_k) = match e.proto {
                    Proto::Http => {
                        put_rate(rates, "http", e.total);
                        put_rate(rates, "http3xx", e.c3xx);
                        put_rate(rates, "http4xx", e.c4xx);
                        put_rate(rates, "http5xx", e.c5xx);
                        put_rate(rates, "httpNoResponse", e.noresp);
                        (Some("httpPercentErr"), Some("httpPercentReq"))
                    }
                    Proto::Grpc => {
                        put_rate(rates, "grpc", e.total);
                        put_rate(rates, "grpcErr", e.err);
                        put_rate(rates, "grpcNoResponse", e.noresp);
                        (Some("grpcPercentErr"), Some("grpcPercentReq"))
                    }
                    Proto::Tcp => {
                        put_rate(rates, "tcp", e.total);
                        (None, None)
                    }
                };
                let err = match e.proto {
                    Proto::Http => e.c4xx + e.c5xx + e.noresp,
                    Proto::Grpc => e.err + e.noresp,
                    Proto::Tcp => 0.0,
                };
                if let Some(k) = pct_err_k {
                    let pct = err / e.total * 100.0;
                    if pct > 0.0 {
                        rates.set(k, RateValue::Percent(pct));
                    }
                }
                if let Some(k) = pct_req_k
                    && src_out > 0.0
                {
                    let pct = e.total / src_out * 100.0;
                    if pct > 0.0 {
                        rates.set(k, RateValue::Percent(pct));
                    }
                }
                if !e.responses.is_empty() {
                    // (code, 0 = code itself / 1 = flags / 2 = host, key, percentage), stably
                    // sorted so equal keys are summed in input order, as a map insertion would.
                    resp_rows.clear();
                    for r in e.responses.iter() {
                        let pct = r.val / e.total * 100.0;
                        let code = label_rank[r.code as usize];
                        resp_rows.push((code, 0u8, 0, r.code, r.code, 0.0));
                        if !labels.str(r.flags).is_empty() {
                            let k = label_rank[r.flags as usize];
                            resp_rows.push((code, 1, k, r.code, r.flags, pct));
                        }
                        if !labels.str(r.host).is_empty() {
                            let k = label_rank[r.host as usize];
                            resp_rows.push((code, 2, k, r.code, r.host, pct));
                        }
                    }
                    resp_rows.sort_by_key(|r| (r.0, r.1, r.2));
                    let out = &mut data.traffic.responses;
                    *out = Responses::with_labels(&table);
                    out.reserve(e.responses.len(), resp_rows.len());
                    let mut i = 0;
                    while i < resp_rows.len() {
                        let (code, kind, key, code_id, key_id, mut sum) = resp_rows[i];
                        let mut j = i + 1;
                        while j < resp_rows.len()
                            && resp_rows[j].0 == code
                            && resp_rows[j].1 == kind
                            && resp_rows[j].2 == key
                        {
                            sum += resp_rows[j].5;
                            j += 1;
                        }
                        match kind {
                            0 => out.push_code(code_id),
                            1 => out.push_flag(key_id, sum),
                            _ => out.push_host(key_id, sum),
                        }
                        i = j;
                    }
                }
                if e.mtls > 0.0 {
                    data.is_mtls = Some(RateValue::Whole(e.mtls / e.total * 100.0));
                }
            }
            if let Principal::One(p) = e.src_principal {
                data.source_principal = labels.str(p).to_string();
            }
            if let Principal::One(p) = e.dst_principal {
                data.dest_principal = labels.str(p).to_string();
            }
            if e.proto != Proto::Tcp {
                let lat = if e.latency[0].is_empty() {
                    &e.latency[1]
                } else {
                    &e.latency[0]
                };
                let rt = match quantile {
                    Some(q) => stats::histogram_quantile(q, &lat.buckets),
                    None if lat.count > 0.0 => Some(lat.sum / lat.count),
                    None => None,
                };
                if let Some(rt) = rt.filter(|v| v.is_finite() && *v > 0.0) {
                    data.response_time = Some(RateValue::Whole(rt));
                }
            }
            if e.proto == Proto::Http {
                let bytes = if e.bytes[0] > 0.0 {
                    e.bytes[0]
                } else {
                    e.bytes[1]
                };
                if bytes > 0.0 {
                    data.throughput = Some(RateValue::Whole(bytes));
                }
            }
            EdgeWrapper { data }
        };
        // `part`'s edges, in a vector with room for `room` edges.
        let build = |part: &[&Edge], room: usize| -> Vec<EdgeWrapper> {
            let mut buf: Vec<u8> = Vec::with_capacity(140);
            let mut rows = Vec::new();
            let mut out = Vec::with_capacity(room.max(part.len()));
            for e in part {
                out.push(edge_data(e, &mut buf, &mut rows));
            }
            out
        };
        // Many edges: the later ones are built on another thread (same order, same bytes)
        // while this one builds and sorts the nodes and builds the first edges (a node costs
        // about as much as an edge).
        let (nodes, edges) = if self.parallel && order.len() >= PARALLEL_MIN_EDGES {
            let split = order.len().saturating_sub(self.nodes.len()) / 2;
            let (first, second) = order.split_at(split);
            std::thread::scope(|scope| {
                let later = std::thread::Builder::new().spawn_scoped(scope, || build(second, 0));
                let nodes = build_nodes();
                let mut edges = build(first, order.len());
                match later {
                    Ok(later) => edges.extend(
                        later
                            .join()
                            .unwrap_or_else(|p| std::panic::resume_unwind(p)),
                    ),
                    // No second thread: this one builds the rest.
                    Err(_) => edges.extend(build(second, 0)),
                }
                (nodes, edges)
            })
        } else {
            (build_nodes(), build(&order, 0))
        };

        // Edges are built in Kiali's order (source id, target id, protocol).
        debug_assert!(edges.windows(2).all(|w| {
            let (a, b) = (&w[0].data, &w[1].data);
            (&a.source, &a.target, a.traffic.protocol) <= (&b.source, &b.target, b.traffic.protocol)
        }));
        CytoscapeGraph {
            timestamp: opts.query_time,
            duration: i64::try_from(opts.duration_secs).unwrap_or(i64::MAX),
            graph_type: opts.graph_type.as_str(),
            elements: Elements { nodes, edges },
        }
    }
}

/// Compound parents, inner boxes first (app, then namespace, then cluster), as Kiali does.
fn add_boxes(opts: &GraphOptions, nodes: &mut Vec<NodeWrapper>) {
    if opts.box_by.app || matches!(opts.graph_type, GraphType::App | GraphType::VersionedApp) {
        let mut groups: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            let d = &n.data;
            if !d.app.is_empty() && d.app != "unknown" {
                groups
                    .entry((d.cluster.clone(), d.namespace.clone(), d.app.clone()))
                    .or_default()
                    .push(i);
            }
        }
        for ((cluster, namespace, app), members) in groups {
            if members.len() < 2 {
                continue;
            }
            let id = sha256_id(format!("box_{cluster}_{namespace}_{app}").as_bytes());
            let mut bx = box_node(id, "app", &cluster, &namespace, &app);
            for &m in &members {
                let d = &mut nodes[m].data;
                d.parent = Some(id.to_string());
                bx.is_out_of_mesh |= d.is_out_of_mesh;
                bx.is_inaccessible |= d.is_inaccessible;
                bx.is_outside |= d.is_outside;
            }
            nodes.push(NodeWrapper { data: bx });
        }
    }
    if opts.box_by.namespace {
        let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            let d = &n.data;
            if d.parent.is_none() && d.namespace != "unknown" {
                groups
                    .entry((d.cluster.clone(), d.namespace.clone()))
                    .or_default()
                    .push(i);
            }
        }
        if groups.len() > 1 {
            for ((cluster, namespace), members) in groups {
                if members.len() < 2 {
                    continue;
                }
                let id = sha256_id(format!("box_{cluster}_{namespace}").as_bytes());
                for &m in &members {
                    nodes[m].data.parent = Some(id.to_string());
                }
                nodes.push(NodeWrapper {
                    data: box_node(id, "namespace", &cluster, &namespace, ""),
                });
            }
        }
    }
    if opts.box_by.cluster {
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            let d = &n.data;
            if d.parent.is_none() && d.cluster != "unknown" {
                groups.entry(d.cluster.clone()).or_default().push(i);
            }
        }
        if groups.len() > 1 {
            for (cluster, members) in groups {
                if members.len() < 2 {
                    continue;
                }
                let id = sha256_id(format!("box_{cluster}").as_bytes());
                for &m in &members {
                    nodes[m].data.parent = Some(id.to_string());
                }
                nodes.push(NodeWrapper {
                    data: box_node(id, "cluster", &cluster, "", ""),
                });
            }
        }
    }
}

fn box_node(id: Id, kind: &'static str, cluster: &str, namespace: &str, app: &str) -> NodeData {
    NodeData {
        id,
        node_type: "box",
        cluster: cluster.to_string(),
        namespace: namespace.to_string(),
        app: app.to_string(),
        is_box: kind,
        ..NodeData::default()
    }
}

/// Kiali's order: boxes first (cluster, namespace, app), then by cluster, namespace, app, version,
/// service, workload; ties broken by id so the output is fully deterministic. Edges by source,
/// target, protocol.
/// Kiali's node order: boxes first (cluster, namespace, app), then by cluster, namespace, app,
/// version, service, workload and id. Sorted by index, then each node moved once.
fn sort_nodes(nodes: &mut Vec<NodeWrapper>) {
    fn rank(b: &str) -> u8 {
        match b {
            "cluster" => 0,
            "namespace" => 1,
            "app" => 2,
            _ => 3,
        }
    }
    let mut order: Vec<u32> = (0..nodes.len() as u32).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&nodes[a as usize].data, &nodes[b as usize].data);
        rank(a.is_box)
            .cmp(&rank(b.is_box))
            .then_with(|| a.cluster.cmp(&b.cluster))
            .then_with(|| a.namespace.cmp(&b.namespace))
            .then_with(|| a.app.cmp(&b.app))
            .then_with(|| a.version.cmp(&b.version))
            .then_with(|| a.service.cmp(&b.service))
            .then_with(|| a.workload.cmp(&b.workload))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut slots: Vec<Option<NodeWrapper>> = std::mem::take(nodes).into_iter().map(Some).collect();
    nodes.extend(order.iter().filter_map(|&i| slots[i as usize].take()));
}

#[cfg(test)]
mod tests {
    use super::{Labels, Lbl, Scope, hash_str};
    use crate::{GraphOptions, GraphType, Label, fixtures};

    #[test]
    fn two_threads_build_the_same_graph_as_one() {
        let (namespaces, inv, mut samples) = fixtures::synthetic_mesh(3, 20, 300, 30_000);
        let selected: Vec<String> = namespaces.iter().take(15).cloned().collect();
        // The first destination-reported (`source` false) or source-reported sample in scope
        // from index `from` on.
        let find = |samples: &[crate::Sample], from: usize, source: bool| {
            (from..samples.len())
                .find(|&i| {
                    let l = &samples[i].labels;
                    let ns = if source {
                        l.source_workload_namespace()
                    } else {
                        l.destination_workload_namespace()
                    };
                    (l.reporter() == Some("source")) == source
                        && ns.is_some_and(|n| selected.iter().any(|s| s == n))
                })
                .unwrap()
        };
        // Some bad samples too, so diagnostics are compared as well: one of a kind in an early
        // chunk and one in a late chunk (the early one is the example), planned by either thread.
        samples[7].value = f64::NAN;
        samples[20_000]
            .labels
            .put(Label::Reporter, Some("elsewhere"));
        let early = find(&samples, 5_000, false);
        samples[early]
            .labels
            .put(Label::RequestProtocol, Some("pigeon-early"));
        let late = find(&samples, 25_000, false);
        samples[late]
            .labels
            .put(Label::RequestProtocol, Some("pigeon-late"));
        // A source-reported series without a destination-reported twin: kept by the dedup and
        // ingested last.
        let kept = find(&samples, 9_000, true);
        samples[kept].labels.put(Label::ResponseCode, Some("299"));
        // Principals (security appender) on samples of several chunks.
        for i in (0..samples.len()).step_by(997) {
            let p = format!("spiffe://cluster.local/p{}", i % 3);
            samples[i].labels.put(Label::SourcePrincipal, Some(&p));
        }
        for (graph_type, inject) in [
            (GraphType::Workload, false),
            (GraphType::Workload, true),
            (GraphType::App, false),
            (GraphType::Service, false),
        ] {
            let opts = GraphOptions {
                graph_type,
                inject_service_nodes: inject,
                namespaces: selected.clone(),
                query_time: 1_700_000_000,
                ..GraphOptions::default()
            };
            let one = super::build(&opts, &samples, &inv, false);
            let two = super::build(&opts, &samples, &inv, true);
            assert!(two.graph.elements.edges.len() >= super::PARALLEL_MIN_EDGES);
            let json = two.graph.to_json_vec();
            assert_eq!(one.graph.to_json_vec(), json);
            // The writer's two-thread path against serde's derived output.
            assert_eq!(json, serde_json::to_vec(&one.graph).unwrap());
            assert_eq!(one.diagnostics, two.diagnostics);
            let protocols = one
                .diagnostics
                .iter()
                .find(|d| d.kind == "unknown_protocol")
                .unwrap();
            assert_eq!(protocols.count, 2);
            assert!(protocols.example.contains("pigeon-early"), "{protocols:?}");
            let text = String::from_utf8(json).unwrap();
            assert!(text.contains("\"299\""));
            assert!(text.contains("spiffe://cluster.local/p"));
        }
    }

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
        assert!(!scope.has(None, super::NONE_HASH));
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
