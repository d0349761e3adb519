//! The traffic map as Kiali's Cytoscape model: node and edge ids, node traffic, edge rates,
//! responses, security, response time and throughput, in Kiali's order.

use std::sync::Arc;

use super::boxes::{add_boxes, sort_nodes};
use super::cytoscape::{
    CytoscapeGraph, EdgeData, EdgeWrapper, Elements, Id, LabelTable, NodeData, NodeWrapper,
    ProtocolTraffic, RateMap, RateValue, Responses, ServiceName,
};
use super::ids::sha256_id;
use super::labels::{LabelId, Labels};
use super::map::{Edge, Node, NodeRates, Principal, Proto};
use super::stats;
use super::traffic::Builder;
use crate::par;

/// Graphs with at least this many edges build them on two threads.
pub(super) const PARALLEL_MIN_EDGES: usize = 2_000;

fn put_rate(rates: &mut RateMap, k: &'static str, v: f64) {
    if v > 0.0 {
        rates.set(k, RateValue::Rate(v));
    }
}

impl<'a> Builder<'a> {
    pub(super) fn into_cytoscape(self) -> CytoscapeGraph {
        let opts = self.opts;
        let ids = self.node_ids();
        let ids = &ids;
        // The nodes' data with their boxes, in Kiali's order (built beside the edges on large
        // graphs).
        let build_nodes = || self.node_list(ids);
        let out = EdgeOut {
            nodes: &self.nodes,
            labels: &self.labels,
            ids,
            table: Arc::new(LabelTable::new(self.labels.values.iter().copied())),
            label_rank: self.label_ranks(),
            quantile: opts.response_time.quantile(),
        };
        let order = self.edge_order(ids);
        // `part`'s edges, in a vector with room for `room` edges.
        let build = |part: &[&Edge], room: usize| out.list(part, room);
        // Many edges: the later ones are built on another thread (same order, same bytes)
        // while this one builds and sorts the nodes and builds the first edges (a node costs
        // about as much as an edge).
        let (nodes, edges) = if self.parallel && order.len() >= PARALLEL_MIN_EDGES {
            let split = order.len().saturating_sub(self.nodes.len()) / 2;
            let (first, second) = order.split_at(split);
            let ((nodes, mut edges), rest) = par::join(
                || (build_nodes(), build(first, order.len())),
                || build(second, 0),
            );
            edges.extend(rest);
            (nodes, edges)
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

    /// Each node's Kiali id (empty for removed nodes).
    fn node_ids(&self) -> Vec<Id> {
        let mut ids: Vec<Id> = Vec::with_capacity(self.nodes.len());
        let mut id_buf = String::new();
        for n in &self.nodes {
            if n.removed {
                ids.push(Id::default());
                continue;
            }
            id_buf.clear();
            n.key.write_id(&mut id_buf, &self.opts.aggregate);
            ids.push(sha256_id(id_buf.as_bytes()));
        }
        ids
    }

    /// The nodes' data with their boxes, in Kiali's order.
    fn node_list(&self, ids: &[Id]) -> Vec<NodeWrapper> {
        let mut nodes: Vec<NodeWrapper> = Vec::with_capacity(self.nodes.len() + 16);
        for (i, n) in self.nodes.iter().enumerate() {
            if n.removed {
                continue;
            }
            nodes.push(self.node_data(n, ids[i]));
        }
        add_boxes(self.opts, &mut nodes);
        sort_nodes(&mut nodes);
        nodes
    }

    fn node_data(&self, n: &Node<'a>, id: Id) -> NodeWrapper {
        let labels = &self.labels;
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
        NodeWrapper {
            data: NodeData {
                id,
                parent: None,
                node_type: n.node_type.as_str(),
                cluster: n.cluster.to_string(),
                namespace: n.namespace.to_string(),
                workload: n.workload.to_string(),
                app: n.app.to_string(),
                version: n.version.to_string(),
                service: n.service.to_string(),
                aggregate: if n.aggregate.is_empty() {
                    String::new()
                } else {
                    format!("{}={}", n.aggregate, n.aggregate_value)
                },
                dest_services,
                traffic: node_traffic(&n.rates),
                health_data: None,
                has_health_config: None,
                istio: n.istio.clone(),
                has_workload_entry: n.workload_entries.clone(),
                is_box: "",
                is_dead: n.is_dead,
                is_gateway: n.gateway.clone(),
                is_idle: n.is_idle,
                is_inaccessible: n.is_inaccessible,
                is_injected: n.is_injected,
                is_out_of_mesh: n.is_out_of_mesh,
                is_outside: n.is_outside,
                is_root: n.is_root,
                is_service_entry: n.service_entry.clone(),
            },
        }
    }

    /// Byte order of the interned labels, so responses sort on integers. Only the labels
    /// responses use (codes, flags, hosts) need a rank.
    fn label_ranks(&self) -> Vec<u32> {
        let labels = &self.labels;
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
        label_rank
    }

    /// The edges to output, in Kiali's edge order (source id, target id, protocol), decided on
    /// integers: each node gets the rank of its id among the sorted ids (equal ids, equal
    /// ranks).
    fn edge_order(&self, ids: &[Id]) -> Vec<&Edge> {
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
        order
    }
}

/// A node's rates by protocol, in name order; a protocol without any is left out.
fn node_traffic(r: &NodeRates) -> Vec<ProtocolTraffic> {
    [
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
    .collect()
}

/// A response row: (code rank, 0 = code itself / 1 = flags / 2 = host, key rank, code, key,
/// percentage).
type RespRow = (u32, u8, u32, LabelId, LabelId, f64);

/// What writing an edge's data needs from the graph (shared by both threads).
struct EdgeOut<'g> {
    nodes: &'g [Node<'g>],
    labels: &'g Labels<'g>,
    ids: &'g [Id],
    /// The response labels, shared by every edge's [`Responses`].
    table: Arc<LabelTable>,
    /// [`Builder::label_ranks`].
    label_rank: Vec<u32>,
    quantile: Option<f64>,
}

impl EdgeOut<'_> {
    /// `part`'s edges, in a vector with room for `room` edges.
    fn list(&self, part: &[&Edge], room: usize) -> Vec<EdgeWrapper> {
        let mut buf: Vec<u8> = Vec::with_capacity(140);
        let mut rows = Vec::new();
        let mut out = Vec::with_capacity(room.max(part.len()));
        for e in part {
            out.push(self.edge(e, &mut buf, &mut rows));
        }
        out
    }

    /// One edge's data; `buf` and `resp_rows` are scratch space.
    fn edge(&self, e: &Edge, buf: &mut Vec<u8>, resp_rows: &mut Vec<RespRow>) -> EdgeWrapper {
        let labels = self.labels;
        let ids = self.ids;
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
            self.rates(e, &mut data.traffic.rates);
            if !e.responses.is_empty() {
                self.responses(e, resp_rows, &mut data.traffic.responses);
            }
            if e.mtls_percent > 0.0 {
                data.is_mtls = Some(RateValue::Whole(e.mtls_percent));
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
            let rt = match self.quantile {
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
    }

    /// The rates of an edge with traffic, with its error and request percentages.
    fn rates(&self, e: &Edge, rates: &mut RateMap) {
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
    }

    /// The responses of an edge with traffic; `resp_rows` is scratch space.
    fn responses(&self, e: &Edge, resp_rows: &mut Vec<RespRow>, out: &mut Responses) {
        let (labels, label_rank) = (self.labels, &self.label_rank);
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
        *out = Responses::with_labels(&self.table);
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
}
