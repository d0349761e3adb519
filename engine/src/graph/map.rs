//! The traffic map's records: nodes with their rates, edges with their response, latency,
//! security and throughput counters, and the protocols in Kiali's order.

use rustc_hash::FxHashSet;

use super::cytoscape::{GwInfo, IstioBadges, SeInfo, WeInfo};
use super::ids::{NodeKey, NodeType};
use super::labels::LabelId;
use crate::rules::is_ok;

/// Protocols in Kiali's order (gRPC, HTTP, TCP), which is also the order of a node's `traffic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Proto {
    Grpc,
    Http,
    Tcp,
}

impl Proto {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Proto::Grpc => "grpc",
            Proto::Http => "http",
            Proto::Tcp => "tcp",
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NodeRates {
    pub(super) grpc_in: f64,
    pub(super) grpc_in_err: f64,
    pub(super) grpc_in_noresp: f64,
    pub(super) grpc_out: f64,
    pub(super) http_in: f64,
    pub(super) http_in_3xx: f64,
    pub(super) http_in_4xx: f64,
    pub(super) http_in_5xx: f64,
    pub(super) http_in_noresp: f64,
    pub(super) http_out: f64,
    pub(super) tcp_in: f64,
    pub(super) tcp_out: f64,
}

impl NodeRates {
    pub(super) fn has_traffic(&self) -> bool {
        self.grpc_in > 0.0
            || self.grpc_out > 0.0
            || self.http_in > 0.0
            || self.http_out > 0.0
            || self.tcp_in > 0.0
            || self.tcp_out > 0.0
    }

    /// Adds another node's rates (a node merged into this one).
    pub(super) fn add(&mut self, o: &NodeRates) {
        self.grpc_in += o.grpc_in;
        self.grpc_in_err += o.grpc_in_err;
        self.grpc_in_noresp += o.grpc_in_noresp;
        self.grpc_out += o.grpc_out;
        self.http_in += o.http_in;
        self.http_in_3xx += o.http_in_3xx;
        self.http_in_4xx += o.http_in_4xx;
        self.http_in_5xx += o.http_in_5xx;
        self.http_in_noresp += o.http_in_noresp;
        self.http_out += o.http_out;
        self.tcp_in += o.tcp_in;
        self.tcp_out += o.tcp_out;
    }

    pub(super) fn out(&self, p: Proto) -> f64 {
        match p {
            Proto::Grpc => self.grpc_out,
            Proto::Http => self.http_out,
            Proto::Tcp => self.tcp_out,
        }
    }

    pub(super) fn out_mut(&mut self, p: Proto) -> &mut f64 {
        match p {
            Proto::Grpc => &mut self.grpc_out,
            Proto::Http => &mut self.http_out,
            Proto::Tcp => &mut self.tcp_out,
        }
    }
}

pub(super) struct Node<'a> {
    pub(super) key: NodeKey<'a>,
    pub(super) node_type: NodeType,
    pub(super) cluster: &'a str,
    pub(super) namespace: &'a str,
    pub(super) workload: &'a str,
    pub(super) app: &'a str,
    pub(super) version: &'a str,
    pub(super) service: &'a str,
    /// The aggregate label's name and value (aggregate nodes; else empty).
    pub(super) aggregate: &'a str,
    pub(super) aggregate_value: &'a str,
    pub(super) rates: NodeRates,
    pub(super) dest_services: Vec<(LabelId, LabelId, LabelId)>,
    pub(super) is_dead: bool,
    pub(super) is_idle: bool,
    /// Kiali's outsider finalizer: the unknown source, service nodes of namespace `unknown`
    /// and the egress clusters (`PassthroughCluster`, `BlackHoleCluster`).
    pub(super) is_inaccessible: bool,
    /// A service node injected between a source and its destination workload.
    pub(super) is_injected: bool,
    pub(super) is_outside: bool,
    pub(super) is_out_of_mesh: bool,
    pub(super) is_root: bool,
    pub(super) service_entry: Option<SeInfo>,
    pub(super) istio: IstioBadges,
    pub(super) gateway: Option<GwInfo>,
    pub(super) workload_entries: Vec<WeInfo>,
    pub(super) removed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Principal {
    None,
    One(LabelId),
    Many,
}

impl Principal {
    pub(super) fn add_id(&mut self, p: LabelId) {
        *self = match *self {
            Principal::None => Principal::One(p),
            Principal::One(q) if q == p => Principal::One(q),
            _ => Principal::Many,
        };
    }

    pub(super) fn merge(&mut self, other: Principal) {
        match other {
            Principal::None => {}
            Principal::One(p) => self.add_id(p),
            Principal::Many => *self = Principal::Many,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct Latency {
    pub(super) buckets: Vec<(f64, f64)>,
    pub(super) sum: f64,
    pub(super) count: f64,
}

impl Latency {
    pub(super) fn is_empty(&self) -> bool {
        self.buckets.is_empty() && self.count <= 0.0
    }

    pub(super) fn add_bucket(&mut self, le: f64, v: f64) {
        match self.buckets.iter_mut().find(|(b, _)| *b == le) {
            Some(b) => b.1 += v,
            None => self.buckets.push((le, v)),
        }
    }

    pub(super) fn merge(&mut self, other: &Latency) {
        for &(le, v) in &other.buckets {
            self.add_bucket(le, v);
        }
        self.sum += other.sum;
        self.count += other.count;
    }
}

#[derive(Clone, Copy, Default)]
pub(super) struct Resp {
    pub(super) code: LabelId,
    pub(super) flags: LabelId,
    pub(super) host: LabelId,
    pub(super) val: f64,
}

/// An edge's (code, flags, host) totals: the first few inline, next to the edge's other
/// counters (no allocation and no extra cache miss per sample for the common edge), any more in
/// a vector.
#[derive(Default)]
pub(super) struct RespList {
    pub(super) inline: [Resp; RespList::INLINE],
    pub(super) n: usize,
    pub(super) more: Vec<Resp>,
}

impl RespList {
    const INLINE: usize = 4;

    pub(super) fn iter(&self) -> impl Iterator<Item = &Resp> {
        self.inline[..self.n.min(Self::INLINE)]
            .iter()
            .chain(self.more.iter())
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Resp> {
        self.inline[..self.n.min(Self::INLINE)]
            .iter_mut()
            .chain(self.more.iter_mut())
    }

    pub(super) fn push(&mut self, r: Resp) {
        if self.n < Self::INLINE {
            self.inline[self.n] = r;
        } else {
            self.more.push(r);
        }
        self.n += 1;
    }

    pub(super) fn len(&self) -> usize {
        self.n
    }

    pub(super) fn is_empty(&self) -> bool {
        self.n == 0
    }
}

pub(super) struct Edge {
    pub(super) src: u32,
    pub(super) dst: u32,
    pub(super) proto: Proto,
    pub(super) total: f64,
    pub(super) c3xx: f64,
    pub(super) c4xx: f64,
    pub(super) c5xx: f64,
    pub(super) noresp: f64,
    pub(super) err: f64,
    pub(super) responses: RespList,
    /// Destination-reported traffic the securityPolicy appender counts, and of it what used
    /// mutual TLS.
    pub(super) secured: f64,
    pub(super) mtls: f64,
    /// `isMTLS`: the percentage of mutual TLS between the edge's two nodes, over all their
    /// edges (Kiali's appender keys it by node pair, not by protocol).
    pub(super) mtls_percent: f64,
    pub(super) src_principal: Principal,
    pub(super) dst_principal: Principal,
    /// Index 0: destination-reported, 1: source-reported.
    pub(super) latency: [Latency; 2],
    pub(super) bytes: [f64; 2],
    pub(super) removed: bool,
}

impl Edge {
    pub(super) fn new(src: u32, dst: u32, proto: Proto) -> Self {
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
            secured: 0.0,
            mtls: 0.0,
            mtls_percent: 0.0,
            src_principal: Principal::None,
            dst_principal: Principal::None,
            latency: [Latency::default(), Latency::default()],
            bytes: [0.0; 2],
            removed: false,
        }
    }

    pub(super) fn add_response(&mut self, code: LabelId, flags: LabelId, host: LabelId, val: f64) {
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
    pub(super) fn absorb(&mut self, o: &Edge) {
        self.total += o.total;
        self.c3xx += o.c3xx;
        self.c4xx += o.c4xx;
        self.c5xx += o.c5xx;
        self.noresp += o.noresp;
        self.err += o.err;
        for r in o.responses.iter() {
            self.add_response(r.code, r.flags, r.host, r.val);
        }
        self.secured += o.secured;
        self.mtls += o.mtls;
        self.src_principal.merge(o.src_principal);
        self.dst_principal.merge(o.dst_principal);
        for i in 0..2 {
            self.latency[i].merge(&o.latency[i]);
            self.bytes[i] += o.bytes[i];
        }
    }
}

impl<'a> Node<'a> {
    /// A node without names, traffic or flags.
    pub(super) fn new(key: NodeKey<'a>, node_type: NodeType) -> Self {
        Node {
            key,
            node_type,
            cluster: "",
            namespace: "",
            workload: "",
            app: "",
            version: "",
            service: "",
            aggregate: "",
            aggregate_value: "",
            rates: NodeRates::default(),
            dest_services: Vec::new(),
            is_dead: false,
            is_idle: false,
            is_inaccessible: false,
            is_injected: false,
            is_outside: false,
            is_out_of_mesh: false,
            is_root: false,
            service_entry: None,
            istio: IstioBadges::default(),
            gateway: None,
            workload_entries: Vec::new(),
            removed: false,
        }
    }

    pub(super) fn is_outside_ns(&self, namespaces: &FxHashSet<&str>) -> bool {
        is_ok(self.namespace) && !namespaces.contains(self.namespace)
    }
}
