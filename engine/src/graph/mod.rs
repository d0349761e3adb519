//! The traffic graph: samples → traffic map → appenders → Cytoscape JSON.
//!
//! The traffic map borrows every string from the samples and the inventory, so building it
//! allocates per node and per edge, never per sample. Node ids are Kiali's: SHA-256 of the same
//! identifying string Kiali hashes (`wl_<cluster>_<namespace>_<workload>`, …), so identical input
//! gives identical ids regardless of sample order.

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
use crate::input::{Family, IstioLabels, Sample};
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

/// Label values interned once per graph (borrowed from the input): node keys, responses,
/// destination services and principals are then integers (the strings of old samples are cold
/// in cache), and the output's responses index one shared [`LabelTable`]. A value is found by
/// its hash, taken once per sample label ([`label_hashes`]); equal hashes of different strings
/// fall back to an exact map, so ids are exact.
struct Labels<'a> {
    by_hash: FxHashMap<u64, u32>,
    collided: FxHashMap<&'a str, u32>,
    values: Vec<&'a str>,
    /// A copy of every value, back to back (`copy[spans[i]]` is value `i`): comparing a sample's
    /// label with this small, hot copy is much cheaper than with the value's first occurrence in
    /// the (cold) input.
    copy: Vec<u8>,
    spans: Vec<(u32, u32)>,
    /// Id by triage id ([`Lbl::w`]; [`Lbl::LAZY`] until known).
    by_w: Vec<u32>,
}

impl<'a> Labels<'a> {
    fn new() -> Self {
        let mut l = Labels {
            by_hash: FxHashMap::with_capacity_and_hasher(4096, Default::default()),
            collided: FxHashMap::default(),
            values: Vec::with_capacity(4096),
            copy: Vec::with_capacity(64 * 1024),
            spans: Vec::with_capacity(4096),
            by_w: Vec::new(),
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
                if self.copy.get(a as usize..b as usize) == Some(s.as_bytes()) {
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

    /// The id of `s` (hash `h`, triage id `w`): strings with one triage id are equal, so only
    /// the first of them is looked up by hash and compared.
    fn hashed_w(&mut self, s: &'a str, h: u64, w: u32) -> u32 {
        if w == Lbl::NO_W {
            return self.hashed(s, h);
        }
        let w = w as usize;
        if let Some(&id) = self.by_w.get(w)
            && id != Lbl::LAZY
        {
            return id;
        }
        let id = self.hashed(s, h);
        if w >= self.by_w.len() {
            self.by_w
                .resize((w + 1).max(self.by_w.len() * 2), Lbl::LAZY);
        }
        self.by_w[w] = id;
        id
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
        let h = hash_str(s);
        Lbl {
            s,
            h,
            id: self.hashed(s, h),
            w: Lbl::NO_W,
        }
    }

    /// Takes the id of a lazy label.
    fn resolve(&mut self, l: &mut Lbl<'a>) {
        if l.id == Lbl::LAZY {
            l.id = self.hashed_w(l.s, l.h, l.w);
        }
    }

    fn str(&self, i: u32) -> &'a str {
        self.values[i as usize]
    }
}

fn hash_str(s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
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
    fn add<'a>(&mut self, p: Option<&'a str>, labels: &mut Labels<'a>) {
        let Some(p) = p.filter(|p| !p.is_empty() && *p != "unknown") else {
            return;
        };
        if *self == Principal::Many {
            return;
        }
        self.add_id(labels.id(p));
    }

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

fn lab(v: &Option<String>) -> Option<&str> {
    v.as_deref()
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

/// A sample's [`label_hashes`] and, when a triage thread interned them, the labels' ids in its
/// interner ([`Lbl::w`]).
struct Hashes {
    h: [u64; 18],
    w: [u32; 18],
}

/// The labels [`Lbl`]s are made of (the others only feed the series hash).
const INTERNED: [usize; 16] = [
    H_SRC_CLUSTER,
    H_SRC_NS,
    H_SRC_WL,
    H_SRC_APP,
    H_SRC_VER,
    H_DST_CLUSTER,
    H_DST_SVC_NS,
    H_DST_SVC,
    H_DST_SVC_NAME,
    H_DST_WL_NS,
    H_DST_WL,
    H_DST_APP,
    H_DST_VER,
    H_CODE,
    H_GRPC,
    H_FLAGS,
];

/// The hash of an absent label (distinct from the hash of `""`).
const NONE_HASH: u64 = 0x5851_f42d_4c95_7f2d;

/// [`hash_str`] of each label that identifies traffic (absent: [`NONE_HASH`]), taken once per
/// sample: the series hash combines them, and the label interner finds values by them.
fn label_hashes(l: &IstioLabels) -> [u64; 18] {
    let mut out = [NONE_HASH; 18];
    for (o, v) in out.iter_mut().zip(hashed_labels(l)) {
        if let Some(v) = v {
            *o = hash_str(v);
        }
    }
    out
}

/// The labels [`label_hashes`] hashes, in its order.
fn hashed_labels(l: &IstioLabels) -> [&Option<String>; 18] {
    [
        &l.source_cluster,
        &l.source_workload_namespace,
        &l.source_workload,
        &l.source_canonical_service,
        &l.source_canonical_revision,
        &l.destination_cluster,
        &l.destination_service_namespace,
        &l.destination_service,
        &l.destination_service_name,
        &l.destination_workload_namespace,
        &l.destination_workload,
        &l.destination_canonical_service,
        &l.destination_canonical_revision,
        &l.request_protocol,
        &l.response_code,
        &l.grpc_response_status,
        &l.response_flags,
        &l.le,
    ]
}

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

/// Whether a sample concerns the selected namespaces.
fn in_scope(namespaces: &FxHashSet<&str>, source_reported: bool, l: &IstioLabels) -> bool {
    if !source_reported {
        return lab(&l.destination_workload_namespace).is_some_and(|n| namespaces.contains(n));
    }
    if lab(&l.source_workload_namespace).is_some_and(|n| namespaces.contains(n)) {
        return true;
    }
    // Requests to a selected namespace's service that never reached a workload.
    lab(&l.destination_workload_namespace) == Some("unknown")
        && lab(&l.destination_workload) == Some("unknown")
        && lab(&l.destination_service)
            .and_then(|h| h.split('.').nth(1))
            .is_some_and(|n| namespaces.contains(n))
}

struct Builder<'a> {
    opts: &'a GraphOptions,
    inv: &'a MeshInventory,
    namespaces: FxHashSet<&'a str>,
    nodes: Vec<Node<'a>>,
    /// Node by [`NodeKey::int_key`].
    node_index: FxHashMap<IntKey, u32>,
    edges: Vec<Edge>,
    edge_index: FxHashMap<(u32, u32, Proto), u32>,
    diags: Diagnostics,
    labels: Labels<'a>,
    /// `-` (no response).
    dash: Lbl<'static>,
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

impl<'a> Builder<'a> {
    fn new(opts: &'a GraphOptions, inv: &'a MeshInventory) -> Self {
        Builder {
            opts,
            inv,
            namespaces: opts.namespaces.iter().map(String::as_str).collect(),
            nodes: Vec::new(),
            node_index: FxHashMap::default(),
            edges: Vec::new(),
            edge_index: FxHashMap::default(),
            diags: Diagnostics::default(),
            labels: Labels::new(),
            dash: Lbl::EMPTY,
            parallel: false,
        }
    }

    fn parse(&mut self, s: &'a Sample, hs: &Hashes) -> Option<Parsed<'a>> {
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
            lab(&l.source_workload_namespace),
            lab(&l.source_workload),
            lab(&l.source_canonical_service),
            lab(&l.source_canonical_revision),
            lab(&l.destination_service_namespace),
            lab(&l.destination_service),
            lab(&l.destination_service_name),
            lab(&l.destination_workload_namespace),
            lab(&l.destination_workload),
            lab(&l.destination_canonical_service),
            lab(&l.destination_canonical_revision),
        )
        else {
            self.diags.push("missing_label", || {
                format!(
                    "{} sample without an expected source_/destination_ label: {:?}",
                    s.family, l
                )
            });
            return None;
        };
        let src_cluster_ok = l.source_cluster.is_some();
        let dst_cluster_ok = l.destination_cluster.is_some();
        let src_cluster = lab(&l.source_cluster).unwrap_or("unknown");
        let mut dst_cluster = lab(&l.destination_cluster).unwrap_or("unknown");

        // Known-bad source telemetry (Kiali's IsBadSourceTelemetry).
        if (is_ok(src_ns) && !is_ok(src_wl) && !is_ok(src_app))
            || (is_ok(src_ns) && src_cluster_ok && !is_ok(src_cluster))
        {
            self.diags.push("bad_source_telemetry", || {
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
            self.diags.push("bad_dest_telemetry", || {
                format!(
                    "{} destination {dst_cluster}/{dst_svc_ns}/{dst_svc_name}/{dst_wl}",
                    s.family
                )
            });
            return None;
        }
        let lbl = |v: &'a str, h: usize| Lbl::lazy(v, hs.h[h], hs.w[h]);
        let src_cluster_l = if src_cluster_ok {
            lbl(src_cluster, H_SRC_CLUSTER)
        } else {
            Lbl::UNKNOWN
        };
        let dst_cluster_l = if dst_from_src {
            src_cluster_l
        } else if dst_cluster_ok {
            lbl(dst_cluster, H_DST_CLUSTER)
        } else {
            Lbl::UNKNOWN
        };
        Some(Parsed {
            src_cluster: src_cluster_l,
            src_ns: lbl(src_ns, H_SRC_NS),
            src_wl: lbl(src_wl, H_SRC_WL),
            src_app: lbl(src_app, H_SRC_APP),
            src_ver: lbl(src_ver, H_SRC_VER),
            dst_cluster: dst_cluster_l,
            dst_svc_ns: lbl(dst_svc_ns, H_DST_SVC_NS),
            dst_svc: lbl(dst_svc, H_DST_SVC),
            dst_svc_name: lbl(dst_svc_name, H_DST_SVC_NAME),
            dst_wl_ns: lbl(dst_wl_ns, H_DST_WL_NS),
            dst_wl: lbl(dst_wl, H_DST_WL),
            dst_app: lbl(dst_app, H_DST_APP),
            dst_ver: lbl(dst_ver, H_DST_VER),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn add_node(
        &mut self,
        cluster: Lbl<'a>,
        svc_ns: Lbl<'a>,
        svc: Lbl<'a>,
        wl_ns: Lbl<'a>,
        wl: Lbl<'a>,
        app: Lbl<'a>,
        ver: Lbl<'a>,
    ) -> Option<u32> {
        let gt = match self.opts.graph_type {
            GraphType::Service => GraphType::Workload,
            g => g,
        };
        let (key, node_type, namespace) = match node_id(
            cluster, svc_ns, svc, wl_ns, wl, app, ver, gt,
        ) {
            Ok(v) => v,
            Err(why) => {
                self.diags.push("bad_node", || format!("{why}: cluster={} namespace={}/{} workload={} app={} version={} service={}", cluster.s, wl_ns.s, svc_ns.s, wl.s, app.s, ver.s, svc.s));
                return None;
            }
        };
        let mut key = key;
        for f in [&mut key.cluster, &mut key.namespace, &mut key.a, &mut key.b] {
            self.labels.resolve(f);
        }
        let int_key = key.int_key();
        if let Some(&i) = self.node_index.get(&int_key) {
            return Some(i);
        }
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
                if gt != GraphType::VersionedApp {
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
        self.node_index.insert(int_key, i);
        Some(i)
    }

    fn edge(&mut self, src: u32, dst: u32, proto: Proto) -> u32 {
        *self.edge_index.entry((src, dst, proto)).or_insert_with(|| {
            self.edges.push(Edge::new(src, dst, proto));
            (self.edges.len() - 1) as u32
        })
    }

    fn add_dest_service(&mut self, node: u32, cluster: Lbl<'a>, ns: Lbl<'a>, svc: Lbl<'a>) {
        if !svc.ok() {
            return;
        }
        let (mut cluster, mut ns, mut svc) = (cluster, ns, svc);
        for f in [&mut cluster, &mut ns, &mut svc] {
            self.labels.resolve(f);
        }
        let key = (cluster.id, ns.id, svc.id);
        let ds = &mut self.nodes[node as usize].dest_services;
        if !ds.contains(&key) {
            ds.push(key);
        }
    }

    /// Adds traffic to an edge and its end nodes (Kiali's AddToMetadata).
    #[allow(clippy::too_many_arguments)]
    fn add_traffic(
        &mut self,
        e: u32,
        proto: Proto,
        val: f64,
        code: Option<Lbl<'a>>,
        flags: Lbl<'a>,
        host: Lbl<'a>,
        l: &'a IstioLabels,
        security: bool,
    ) {
        let (src, dst) = {
            let edge = &self.edges[e as usize];
            (edge.src as usize, edge.dst as usize)
        };
        if security {
            let edge = &mut self.edges[e as usize];
            edge.src_principal
                .add(lab(&l.source_principal), &mut self.labels);
            edge.dst_principal
                .add(lab(&l.destination_principal), &mut self.labels);
        }
        if val <= 0.0 {
            return;
        }
        let (flags, host) = (flags.id, host.id);
        let edge = &mut self.edges[e as usize];
        edge.total += val;
        if security && lab(&l.connection_security_policy) == Some("mutual_tls") {
            edge.mtls += val;
        }
        match proto {
            Proto::Grpc => {
                self.nodes[src].rates.grpc_out += val;
                let dr = &mut self.nodes[dst].rates;
                dr.grpc_in += val;
                if let Some(Lbl { s: code, id, .. }) = code {
                    edge.add_response(id, flags, host, val);
                    if code == "-" {
                        dr.grpc_in_noresp += val;
                        edge.noresp += val;
                    } else if (code.len() == 3 && (code.starts_with('4') || code.starts_with('5')))
                        || (code.len() != 3 && code != "0")
                    {
                        dr.grpc_in_err += val;
                        edge.err += val;
                    }
                }
            }
            Proto::Http => {
                self.nodes[src].rates.http_out += val;
                let dr = &mut self.nodes[dst].rates;
                dr.http_in += val;
                let Lbl { s: code, id, .. } = code.unwrap_or(self.dash);
                edge.add_response(id, flags, host, val);
                match code.as_bytes().first() {
                    Some(b'3') => {
                        dr.http_in_3xx += val;
                        edge.c3xx += val;
                    }
                    Some(b'4') => {
                        dr.http_in_4xx += val;
                        edge.c4xx += val;
                    }
                    Some(b'5') => {
                        dr.http_in_5xx += val;
                        edge.c5xx += val;
                    }
                    Some(b'-') => {
                        dr.http_in_noresp += val;
                        edge.noresp += val;
                    }
                    _ => {}
                }
            }
            Proto::Tcp => {
                self.nodes[src].rates.tcp_out += val;
                self.nodes[dst].rates.tcp_in += val;
                edge.add_response(self.dash.id, flags, host, val);
            }
        }
    }

    fn code_of(&mut self, proto: Proto, l: &'a IstioLabels, hs: &Hashes) -> Option<Lbl<'a>> {
        let code = lab(&l.response_code)?;
        let (v, i) = if code == "0" {
            return Some(self.dash);
        } else if proto != Proto::Grpc || code.starts_with('4') || code.starts_with('5') {
            (code, H_CODE)
        } else {
            match lab(&l.grpc_response_status) {
                Some(g) => (g, H_GRPC),
                None => (code, H_CODE),
            }
        };
        let (h, w) = (hs.h[i], hs.w[i]);
        Some(Lbl {
            s: v,
            h,
            id: self.labels.hashed_w(v, h, w),
            w,
        })
    }

    /// Ingests destination-reported samples (recording their series for the dedup) and reports
    /// the bad ones, in input order.
    fn ingest_triaged(&mut self, seen: &mut FxHashSet<u64>, triaged: Vec<Triaged<'a>>) {
        for t in &triaged {
            let s = t.sample;
            match t.verdict {
                Verdict::NonFinite => self.diags.push("non_finite_value", || {
                    format!("{} value {}", s.family, s.value)
                }),
                Verdict::BadReporter => self.diags.push("bad_reporter", || {
                    format!("{} reporter {:?}", s.family, lab(&s.labels.reporter))
                }),
                Verdict::Ingest => {
                    if t.dedup {
                        seen.insert(t.series);
                    }
                    self.ingest(s, t.role, false, &t.hashes);
                }
            }
        }
    }

    fn ingest(&mut self, s: &'a Sample, role: Role, source_reported: bool, hs: &Hashes) {
        let l = &s.labels;
        let Some(p) = self.parse(s, hs) else { return };
        let mut code: Option<Lbl<'a>> = None;
        let proto = match role {
            Role::Requests
            | Role::Bucket
            | Role::DurationSum
            | Role::DurationCount
            | Role::Bytes => {
                let proto = match lab(&l.request_protocol) {
                    Some("http") => Proto::Http,
                    Some("grpc") => Proto::Grpc,
                    other => {
                        self.diags.push("unknown_protocol", || {
                            format!("{} request_protocol {other:?}", s.family)
                        });
                        return;
                    }
                };
                if role == Role::Requests {
                    if (proto == Proto::Http && self.opts.rates.http != HttpRate::Requests)
                        || (proto == Proto::Grpc && self.opts.rates.grpc != GrpcRate::Requests)
                    {
                        return;
                    }
                    code = match self.code_of(proto, l, hs) {
                        Some(c) => Some(c),
                        None => {
                            self.diags.push("missing_label", || {
                                format!("{} sample without response_code", s.family)
                            });
                            return;
                        }
                    };
                }
                proto
            }
            Role::Messages => Proto::Grpc,
            Role::Tcp => Proto::Tcp,
        };
        let flags: Lbl<'a> = match role {
            Role::Requests | Role::Tcp => match lab(&l.response_flags) {
                Some(f) => Lbl {
                    s: f,
                    h: hs.h[H_FLAGS],
                    id: self.labels.hashed_w(f, hs.h[H_FLAGS], hs.w[H_FLAGS]),
                    w: hs.w[H_FLAGS],
                },
                None => {
                    self.diags.push("missing_label", || {
                        format!("{} sample without response_flags", s.family)
                    });
                    return;
                }
            },
            _ => Lbl::EMPTY,
        };
        // Ids used more than once, or always (the rest are taken only if a node is new).
        let mut p = p;
        for f in [
            &mut p.src_cluster,
            &mut p.dst_cluster,
            &mut p.dst_svc_ns,
            &mut p.dst_svc,
            &mut p.dst_svc_name,
        ] {
            self.labels.resolve(f);
        }
        let host = p.dst_svc;

        let inject = self.opts.injects_service_nodes()
            && p.dst_svc_name.ok()
            && p.dst_svc_name.s != "PassthroughCluster";
        let Some(src) = self.add_node(
            p.src_cluster,
            p.src_ns,
            Lbl::EMPTY,
            p.src_ns,
            p.src_wl,
            p.src_app,
            p.src_ver,
        ) else {
            return;
        };
        let Some(dst) = self.add_node(
            p.dst_cluster,
            p.dst_svc_ns,
            p.dst_svc_name,
            p.dst_wl_ns,
            p.dst_wl,
            p.dst_app,
            p.dst_ver,
        ) else {
            return;
        };
        let inject = inject && self.nodes[dst as usize].node_type != NodeType::Service;
        let mut hops: [(u32, u32); 2] = [(src, dst), (0, 0)];
        let mut n_hops = 1;
        if inject {
            let e = Lbl::EMPTY;
            let Some(svc) = self.add_node(p.dst_cluster, p.dst_svc_ns, p.dst_svc_name, e, e, e, e)
            else {
                return;
            };
            hops = [(src, svc), (svc, dst)];
            n_hops = 2;
        }
        let security = self.opts.appender_enabled(Appender::SecurityPolicy);
        for &(a, b) in &hops[..n_hops] {
            match role {
                Role::Requests | Role::Messages | Role::Tcp => {
                    let e = self.edge(a, b, proto);
                    self.add_traffic(
                        e,
                        proto,
                        s.value,
                        code,
                        flags,
                        host,
                        l,
                        security && role != Role::Messages,
                    );
                    self.add_dest_service(b, p.dst_cluster, p.dst_svc_ns, p.dst_svc_name);
                }
                Role::Bucket | Role::DurationSum | Role::DurationCount | Role::Bytes => {
                    // Response time and throughput decorate edges that carry traffic; they never create one.
                    let Some(&e) = self.edge_index.get(&(a, b, proto)) else {
                        continue;
                    };
                    let r = usize::from(source_reported);
                    let edge = &mut self.edges[e as usize];
                    match role {
                        Role::Bucket => {
                            let le = match lab(&l.le).map(crate::input::parse_prom_float) {
                                Some(le) if !le.is_nan() => le,
                                _ => {
                                    self.diags.push("bad_bucket", || {
                                        format!("{} bucket with le {:?}", s.family, l.le)
                                    });
                                    return;
                                }
                            };
                            edge.latency[r].add_bucket(le, s.value);
                        }
                        Role::DurationSum => edge.latency[r].sum += s.value,
                        Role::DurationCount => edge.latency[r].count += s.value,
                        _ => edge.bytes[r] += s.value,
                    }
                }
            }
        }
    }
}

/// Inputs at least this large are triaged on a second thread while the first ingests.
const PARALLEL_MIN_SAMPLES: usize = 10_000;

/// Graphs with at least this many edges build them on two threads.
const PARALLEL_MIN_EDGES: usize = 2_000;

/// Samples per triaged chunk (the ingesting thread waits for the first one only).
const TRIAGE_CHUNK: usize = 4_096;

/// What [`triage`] found out about one sample.
#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    Ingest,
    NonFinite,
    BadReporter,
}

/// A sample to ingest (or to report), with its label hashes and series hash.
struct Triaged<'a> {
    sample: &'a Sample,
    verdict: Verdict,
    role: Role,
    /// Takes part in the source/destination dedup.
    dedup: bool,
    series: u64,
    hashes: Hashes,
}

/// [`triage`]'s result: samples to ingest now, and source-reported ones.
type TriagedChunk<'a> = (Vec<Triaged<'a>>, Vec<Triaged<'a>>);

/// Scope, label hashes and series hash of each sample of `chunk`: destination-reported samples
/// and diagnostics (in input order), and source-reported samples (ingested after all others).
/// With `interner` (a triage thread's own), the labels' ids in it are found too ([`Lbl::w`]).
fn triage<'a>(
    opts: &GraphOptions,
    namespaces: &FxHashSet<&str>,
    chunk: &'a [Sample],
    mut interner: Option<&mut Labels<'a>>,
) -> TriagedChunk<'a> {
    let mut now = Vec::with_capacity(chunk.len() / 2 + 1);
    let mut later = Vec::with_capacity(chunk.len() / 2 + 1);
    for s in chunk {
        let Some(role) = role(opts, s.family) else {
            continue;
        };
        let mut t = Triaged {
            sample: s,
            verdict: Verdict::Ingest,
            role,
            dedup: matches!(role, Role::Requests | Role::Messages | Role::Tcp),
            series: 0,
            hashes: Hashes {
                h: [NONE_HASH; 18],
                w: [Lbl::NO_W; 18],
            },
        };
        if !s.value.is_finite() || s.value < 0.0 {
            t.verdict = Verdict::NonFinite;
            now.push(t);
            continue;
        }
        let source = match lab(&s.labels.reporter) {
            Some("destination") => false,
            Some("source") => true,
            _ => {
                t.verdict = Verdict::BadReporter;
                now.push(t);
                continue;
            }
        };
        if !in_scope(namespaces, source, &s.labels) {
            continue;
        }
        t.hashes.h = label_hashes(&s.labels);
        if t.dedup {
            t.series = series_hash(s.family, &t.hashes.h);
        }
        // Source-reported samples are mostly dropped by the dedup: not worth interning.
        if let Some(interner) = interner.as_deref_mut().filter(|_| !source) {
            let values = hashed_labels(&s.labels);
            for i in INTERNED {
                if let Some(v) = values[i] {
                    t.hashes.w[i] = interner.hashed(v, t.hashes.h[i]);
                }
            }
        }
        if source {
            later.push(t);
        } else {
            now.push(t);
        }
    }
    (now, later)
}

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
    let mut b = Builder::new(opts, inventory);
    b.parallel = parallel;
    b.dash = Lbl {
        s: "-",
        h: 0,
        id: b.labels.id("-"),
        w: Lbl::NO_W,
    };

    // Destination-reported series first; a source-reported series describing the same traffic
    // (same labels but the reporter) is then skipped, as Kiali's time-series hash does.
    // Each sample's scope, label hashes and series hash are taken once ([`triage`]); on large
    // inputs a second thread does that, chunk by chunk, while this one ingests the chunks
    // already done, in input order, so the graph is the same.
    let mut seen: FxHashSet<u64> =
        FxHashSet::with_capacity_and_hasher(samples.len() / 2, Default::default());
    let mut deferred: Vec<Vec<Triaged<'_>>> = Vec::new();
    let namespaces: FxHashSet<&str> = opts.namespaces.iter().map(String::as_str).collect();
    if parallel {
        // Chunks are claimed in order by the triage thread and, while it is behind, by this
        // one (without the triage interner: those labels are looked up the ordinary way).
        let namespaces = &namespaces;
        let chunks: Vec<&[Sample]> = samples.chunks(TRIAGE_CHUNK).collect();
        let chunks = &chunks;
        let next = std::sync::atomic::AtomicUsize::new(0);
        let next = &next;
        let claim = move || next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel();
            // Without a second thread (spawning failed) this one triages every chunk.
            let _ = std::thread::Builder::new().spawn_scoped(scope, move || {
                let mut interner = Labels::new();
                loop {
                    let k = claim();
                    let Some(chunk) = chunks.get(k) else { return };
                    let done = triage(opts, namespaces, chunk, Some(&mut interner));
                    if tx.send((k, done)).is_err() {
                        return;
                    }
                }
            });
            let mut ready: Vec<Option<TriagedChunk<'_>>> = Vec::new();
            ready.resize_with(chunks.len(), || None);
            for k in 0..chunks.len() {
                while ready[k].is_none() {
                    match rx.try_recv() {
                        Ok((j, done)) => ready[j] = Some(done),
                        Err(std::sync::mpsc::TryRecvError::Empty) => {
                            let j = claim();
                            match chunks.get(j) {
                                Some(chunk) => {
                                    ready[j] = Some(triage(opts, namespaces, chunk, None));
                                }
                                None => {
                                    if let Ok((j, done)) = rx.recv() {
                                        ready[j] = Some(done);
                                    }
                                }
                            }
                        }
                        Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                            // The triage thread stopped early (its panic is re-raised when
                            // the scope ends): do the chunk here.
                            ready[k] = Some(triage(opts, namespaces, chunks[k], None));
                        }
                    }
                }
                if let Some((now, later)) = ready[k].take() {
                    b.ingest_triaged(&mut seen, now);
                    deferred.push(later);
                }
            }
        });
    } else {
        let (now, later) = triage(opts, &namespaces, samples, None);
        b.ingest_triaged(&mut seen, now);
        deferred.push(later);
    }
    for t in deferred.iter().flatten() {
        if t.dedup && seen.contains(&t.series) {
            continue;
        }
        b.ingest(t.sample, t.role, true, &t.hashes);
    }

    if opts.appender_enabled(Appender::DeadNode) {
        b.dead_nodes();
    }
    if opts.include_idle_nodes && opts.appender_enabled(Appender::IdleNode) {
        b.idle_nodes();
    }
    if opts.appender_enabled(Appender::ServiceEntry) {
        b.service_entries();
    }
    if opts.appender_enabled(Appender::SidecarsCheck) {
        b.sidecars_check();
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
    fn dead_nodes(&mut self) {
        let mut has_out = vec![false; self.nodes.len()];
        for e in &self.edges {
            has_out[e.src as usize] = true;
        }
        let wl_index = self.workload_index();
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

    fn workload_index(&self) -> FxHashMap<(&'a str, &'a str, &'a str), &'a WorkloadInfo> {
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
                if let Some(i) = self.add_node(cl, ns, Lbl::EMPTY, ns, wl, app, ver)
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
                    if let Some(i) = self.add_node(cl, ns, name, e, e, e, e)
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
    fn sidecars_check(&mut self) {
        let wl_index = self.workload_index();
        let inv = self.inv;
        for n in &mut self.nodes {
            if n.removed || n.is_outside_ns(&self.namespaces) {
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
            n.is_outside = n.node_type != NodeType::Unknown && n.is_outside_ns(&self.namespaces);
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

        let mut nodes: Vec<NodeWrapper> = Vec::with_capacity(self.nodes.len() + 16);
        for (i, n) in self.nodes.iter().enumerate() {
            if n.removed {
                continue;
            }
            let r = &n.rates;
            let mut traffic = Vec::new();
            let mut grpc = RateMap::with_capacity(4);
            put_rate(&mut grpc, "grpcIn", r.grpc_in);
            put_rate(&mut grpc, "grpcInErr", r.grpc_in_err);
            put_rate(&mut grpc, "grpcInNoResponse", r.grpc_in_noresp);
            put_rate(&mut grpc, "grpcOut", r.grpc_out);
            if !grpc.is_empty() {
                traffic.push(ProtocolTraffic {
                    protocol: "grpc",
                    rates: grpc,
                    responses: Responses::default(),
                });
            }
            let mut http = RateMap::with_capacity(6);
            put_rate(&mut http, "httpIn", r.http_in);
            put_rate(&mut http, "httpIn3xx", r.http_in_3xx);
            put_rate(&mut http, "httpIn4xx", r.http_in_4xx);
            put_rate(&mut http, "httpIn5xx", r.http_in_5xx);
            put_rate(&mut http, "httpInNoResponse", r.http_in_noresp);
            put_rate(&mut http, "httpOut", r.http_out);
            if !http.is_empty() {
                traffic.push(ProtocolTraffic {
                    protocol: "http",
                    rates: http,
                    responses: Responses::default(),
                });
            }
            let mut tcp = RateMap::with_capacity(2);
            put_rate(&mut tcp, "tcpIn", r.tcp_in);
            put_rate(&mut tcp, "tcpOut", r.tcp_out);
            if !tcp.is_empty() {
                traffic.push(ProtocolTraffic {
                    protocol: "tcp",
                    rates: tcp,
                    responses: Responses::default(),
                });
            }
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
                let (total_k, pct_err_k, pct_req_k) = match e.proto {
                    Proto::Http => {
                        put_rate(rates, "http3xx", e.c3xx);
                        put_rate(rates, "http4xx", e.c4xx);
                        put_rate(rates, "http5xx", e.c5xx);
                        put_rate(rates, "httpNoResponse", e.noresp);
                        ("http", Some("httpPercentErr"), Some("httpPercentReq"))
                    }
                    Proto::Grpc => {
                        put_rate(rates, "grpcErr", e.err);
                        put_rate(rates, "grpcNoResponse", e.noresp);
                        ("grpc", Some("grpcPercentErr"), Some("grpcPercentReq"))
                    }
                    Proto::Tcp => ("tcp", None, None),
                };
                put_rate(rates, total_k, e.total);
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
        let build = |part: &[&Edge]| -> Vec<EdgeWrapper> {
            let mut buf: Vec<u8> = Vec::with_capacity(140);
            let mut rows = Vec::new();
            let mut out = Vec::with_capacity(part.len());
            for e in part {
                out.push(edge_data(e, &mut buf, &mut rows));
            }
            out
        };
        // Many edges: the second half is built on another thread (same order, same bytes).
        let mut edges = if self.parallel && order.len() >= PARALLEL_MIN_EDGES {
            let (first, second) = order.split_at(order.len() / 2);
            std::thread::scope(|scope| {
                let later = std::thread::Builder::new().spawn_scoped(scope, || build(second));
                let mut edges = Vec::with_capacity(self.edges.len());
                edges.extend(build(first));
                match later {
                    Ok(later) => edges.extend(
                        later
                            .join()
                            .unwrap_or_else(|p| std::panic::resume_unwind(p)),
                    ),
                    // No second thread: this one builds the rest.
                    Err(_) => edges.extend(build(second)),
                }
                edges
            })
        } else {
            build(&order)
        };

        add_boxes(opts, &mut nodes);
        sort_elements(&mut nodes, &mut edges);
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
fn sort_elements(nodes: &mut [NodeWrapper], edges: &mut [EdgeWrapper]) {
    fn rank(b: &str) -> u8 {
        match b {
            "cluster" => 0,
            "namespace" => 1,
            "app" => 2,
            _ => 3,
        }
    }
    nodes.sort_by(|a, b| {
        let (a, b) = (&a.data, &b.data);
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
    // Edges are built in Kiali's order (source id, target id, protocol) by `into_cytoscape`.
    debug_assert!(edges.windows(2).all(|w| {
        let (a, b) = (&w[0].data, &w[1].data);
        (&a.source, &a.target, a.traffic.protocol) <= (&b.source, &b.target, b.traffic.protocol)
    }));
}

#[cfg(test)]
mod tests {
    use super::{Labels, Lbl, hash_str};
    use crate::{GraphOptions, GraphType, fixtures};

    #[test]
    fn two_threads_build_the_same_graph_as_one() {
        let (namespaces, inv, mut samples) = fixtures::synthetic_mesh(3, 20, 300, 30_000);
        // Some bad samples too, so diagnostics are compared as well.
        samples[7].value = f64::NAN;
        samples[20_000].labels.reporter = Some("elsewhere".to_string());
        for (graph_type, inject) in [
            (GraphType::Workload, false),
            (GraphType::Workload, true),
            (GraphType::App, false),
            (GraphType::Service, false),
        ] {
            let opts = GraphOptions {
                graph_type,
                inject_service_nodes: inject,
                namespaces: namespaces.iter().take(15).cloned().collect(),
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
            assert!(!one.diagnostics.is_empty());
        }
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
