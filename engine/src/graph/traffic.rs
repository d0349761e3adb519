//! The traffic map under construction ([`Builder`]): nodes and edges found by integer keys,
//! and the application of planned samples to them, in input order.

use rustc_hash::{FxHashMap, FxHashSet};

use super::ids::{IntKey, Lbl, NodeKey, NodeType};
use super::labels::{LabelId, Labels, label_hashes};
use super::map::{Edge, Node, Proto, Resp};
use super::parse::{find_node_id, identity_graph_type, parse};
use super::plan::{Deferred, NO_LABEL, Outcome, Plan, Planned, Role};
use super::scope::Scope;
use crate::diag::Diagnostics;
use crate::input::Sample;
use crate::inventory::MeshInventory;
use crate::options::{Appender, GraphOptions, GraphType};

/// The traffic map being built: nodes and edges in creation order, found by integer keys.
pub(super) struct Builder<'a> {
    pub(super) opts: &'a GraphOptions,
    pub(super) inv: &'a MeshInventory,
    /// The selected namespaces ([`Scope::names`]).
    pub(super) namespaces: &'a FxHashSet<&'a str>,
    pub(super) nodes: Vec<Node<'a>>,
    /// Node by [`NodeKey::int_key`].
    pub(super) node_index: FxHashMap<IntKey, u32>,
    pub(super) edges: Vec<Edge>,
    pub(super) edge_index: FxHashMap<(u32, u32, Proto), u32>,
    pub(super) diags: Diagnostics,
    pub(super) labels: Labels<'a>,
    /// Use a second thread for the large parts.
    pub(super) parallel: bool,
}

impl<'a> Builder<'a> {
    pub(super) fn new(
        opts: &'a GraphOptions,
        inv: &'a MeshInventory,
        scope: &'a Scope<'a>,
    ) -> Self {
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

    /// The node `n` ([`Parsed::node`](super::parse::Parsed::node)'s order) stands for, added if new.
    pub(super) fn add_node(&mut self, n: [Lbl<'a>; 7]) -> Option<u32> {
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
            NodeType::Unknown | NodeType::Aggregate => {}
        }
        let i = self.nodes.len() as u32;
        self.node_index.insert(key.int_key(), i);
        self.nodes.push(Node {
            cluster,
            namespace,
            workload,
            app,
            version,
            service,
            ..Node::new(key, node_type)
        });
        i
    }

    /// Node `k` of a planned sample that is not in the graph yet: its labels are read again
    /// (in the graph's interner) to create it.
    fn new_node(&mut self, s: &'a Sample, k: usize) -> Option<u32> {
        let hs = label_hashes(&s.labels);
        // The planner reported this sample's problems already.
        let mut reported = Diagnostics::default();
        let p = parse(&mut self.labels, &mut reported, s, &hs, self.opts)?;
        let n = p.node(k);
        let gt = identity_graph_type(self.opts);
        let (key, node_type, namespace) = find_node_id(&mut reported, gt, n)?;
        Some(self.push_node(key, node_type, namespace, n))
    }

    pub(super) fn edge(&mut self, src: u32, dst: u32, proto: Proto) -> u32 {
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
    pub(super) fn apply_chunk(
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
        if p.n_nodes == 3 {
            self.nodes[nodes[2] as usize].is_injected = true;
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
        // Kiali's securityPolicy appender reads destination-reported requests and TCP bytes.
        let security = self.opts.appender_enabled(Appender::SecurityPolicy)
            && !p.source_reported
            && matches!(p.role, Role::Requests | Role::Tcp);
        let (src, dst) = self.count_edge(e, p.value, p.outcome, security.then_some(p.mtls), resp);
        self.count_out(src, p.proto, p.value);
        self.count_in(dst, p.proto, p.outcome, p.value);
    }

    /// Adds `val` of traffic with `outcome` (and its response entry) to edge `e`, and to its
    /// security counters when `mtls` says whether it used mutual TLS; returns the edge's ends.
    pub(super) fn count_edge(
        &mut self,
        e: u32,
        val: f64,
        outcome: Outcome,
        mtls: Option<bool>,
        resp: Option<Resp>,
    ) -> (u32, u32) {
        let edge = &mut self.edges[e as usize];
        edge.total += val;
        if let Some(m) = mtls {
            edge.secured += val;
            if m {
                edge.mtls += val;
            }
        }
        if let Some(r) = resp {
            edge.add_response(r.code, r.flags, r.host, r.val);
        }
        match outcome {
            Outcome::Other => {}
            Outcome::C3xx => edge.c3xx += val,
            Outcome::C4xx => edge.c4xx += val,
            Outcome::C5xx => edge.c5xx += val,
            Outcome::NoResponse => edge.noresp += val,
            Outcome::GrpcErr => edge.err += val,
        }
        (edge.src, edge.dst)
    }

    /// Adds `val` to node `n`'s outgoing rate of `proto`.
    pub(super) fn count_out(&mut self, n: u32, proto: Proto, val: f64) {
        *self.nodes[n as usize].rates.out_mut(proto) += val;
    }

    /// Adds `val` with `outcome` to node `n`'s incoming rates of `proto`.
    pub(super) fn count_in(&mut self, n: u32, proto: Proto, outcome: Outcome, val: f64) {
        let dr = &mut self.nodes[n as usize].rates;
        match proto {
            Proto::Grpc => {
                dr.grpc_in += val;
                match outcome {
                    Outcome::NoResponse => dr.grpc_in_noresp += val,
                    Outcome::GrpcErr => dr.grpc_in_err += val,
                    _ => {}
                }
            }
            Proto::Http => {
                dr.http_in += val;
                match outcome {
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
