//! Kiali's appenders and finalizers over the traffic map: dead nodes, idle nodes, service
//! entries, sidecars check, outsiders and roots, and the reduction to a service graph.

use rustc_hash::FxHashMap;

use super::cytoscape::{SeInfo, VsInfo};
use super::ids::{IdKind, Lbl, NodeKey, NodeType};
use super::map::{Edge, Node, Proto};
use super::traffic::Builder;
use crate::inventory::{AppLabels, WorkloadInfo};
use crate::istio::{IstioKind, strings};
use crate::options::{Appender, GraphType};
use crate::rules::is_ok;

/// Workloads by (cluster, namespace, name).
pub(super) type WorkloadIndex<'a> = FxHashMap<(&'a str, &'a str, &'a str), &'a WorkloadInfo>;

impl<'a> Builder<'a> {
    /// Kiali's appenders the options enable, then its finalizers (outsiders and roots, and the
    /// reduction to a service graph).
    pub(super) fn append(&mut self) {
        let opts = self.opts;
        // Built once for the appenders that look workloads up.
        let wl_index = if opts.appender_enabled(Appender::DeadNode)
            || opts.appender_enabled(Appender::MeshCheck)
        {
            self.workload_index()
        } else {
            WorkloadIndex::default()
        };
        if opts.appender_enabled(Appender::DeadNode) {
            self.dead_nodes(&wl_index);
        }
        if opts.include_idle_nodes && opts.appender_enabled(Appender::IdleNode) {
            self.idle_nodes();
        }
        if opts.appender_enabled(Appender::ServiceEntry) {
            self.service_entries();
        }
        if opts.appender_enabled(Appender::MeshCheck) {
            self.mesh_check(&wl_index);
        }
        if opts.appender_enabled(Appender::Istio) {
            self.istio_badges();
            self.gateways();
        }
        if opts.appender_enabled(Appender::WorkloadEntry) {
            self.workload_entries();
        }
        self.outsiders_and_roots();
        if opts.graph_type == GraphType::Service {
            self.reduce_to_service_graph();
        }
        if opts.appender_enabled(Appender::SecurityPolicy) {
            self.mtls_by_node_pair();
        }
    }

    /// Kiali's securityPolicy appender keys its rates by (source node, destination node): every
    /// edge between two nodes, whatever its protocol, gets the same `isMTLS`, the share of
    /// mutual TLS in the destination-reported traffic between them. Its query joins the
    /// request and TCP series with `or`, so request traffic decides when there is any, TCP
    /// bytes only otherwise.
    fn mtls_by_node_pair(&mut self) {
        // (source, destination) → [requests (secured, mtls), tcp (secured, mtls)].
        let mut pairs: FxHashMap<(u32, u32), [(f64, f64); 2]> = FxHashMap::default();
        for e in self.edges.iter().filter(|e| !e.removed) {
            let k = usize::from(e.proto == Proto::Tcp);
            let p = &mut pairs.entry((e.src, e.dst)).or_default()[k];
            p.0 += e.secured;
            p.1 += e.mtls;
        }
        for e in self.edges.iter_mut().filter(|e| !e.removed) {
            let [req, tcp] = pairs[&(e.src, e.dst)];
            let (secured, mtls) = if req.0 > 0.0 { req } else { tcp };
            e.mtls_percent = if mtls > 0.0 {
                mtls / secured * 100.0
            } else {
                0.0
            };
        }
    }

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
                m.insert(
                    (c.name.as_str(), w.namespace.as_str(), w.name.as_str()),
                    &**w,
                );
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
                        cluster,
                        namespace: &se.namespace,
                        service: &se.name,
                        service_entry: Some(info),
                        ..Node::new(key, NodeType::Service)
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
            t.rates.add(&rates);
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

    /// Kiali's istio appender: badges from each node's cluster's VirtualServices and
    /// DestinationRules. Circuit breakers (`hasCB`) on nodes of the requested namespaces, from
    /// the DestinationRules of the node's namespace: for a service node its service, else the
    /// services the node was requested as (for a node with a version, only a subset of that
    /// version or the whole service counts). VirtualService badges on service nodes, from the
    /// first VirtualService (any namespace) that routes to the service.
    fn istio_badges(&mut self) {
        let inv = self.inv;
        let version_labels = AppLabels::default().version;
        let (labels, namespaces) = (&self.labels, self.namespaces);
        for n in self.nodes.iter_mut().filter(|n| !n.removed) {
            let Some(c) = inv.cluster(n.cluster) else {
                continue;
            };
            if n.node_type == NodeType::Unknown || !is_ok(n.namespace) {
                continue;
            }
            if !n.is_outside_ns(namespaces) {
                let drs = || {
                    c.routing.iter().filter(|o| {
                        o.kind == IstioKind::DestinationRule && o.namespace == n.namespace
                    })
                };
                n.istio.has_cb = match n.node_type {
                    NodeType::Service => {
                        drs().any(|dr| dr.has_circuit_breaker(n.service, n.namespace, None, &[]))
                    }
                    _ => {
                        let version = is_ok(n.version).then_some(n.version);
                        n.dest_services.iter().any(|&(_, ns, name)| {
                            drs().any(|dr| {
                                dr.has_circuit_breaker(
                                    labels.str(name),
                                    labels.str(ns),
                                    version,
                                    &version_labels,
                                )
                            })
                        })
                    }
                };
            }
            if n.node_type != NodeType::Service {
                continue;
            }
            let Some(vs) = c.routing.iter().find(|o| {
                o.kind == IstioKind::VirtualService && o.routes_to(n.service, n.namespace)
            }) else {
                continue;
            };
            let b = &mut n.istio;
            b.has_vs = Some(VsInfo {
                hostnames: strings(&vs.spec["hosts"]),
            });
            b.has_request_routing = vs.has_request_routing();
            b.has_request_timeout = vs.has_request_timeout();
            b.has_fault_injection = vs.has_fault_injection();
            b.has_traffic_shifting = vs.has_traffic_shifting();
            b.has_tcp_traffic_shifting = vs.has_tcp_traffic_shifting();
            b.has_mirroring = vs.has_mirroring();
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
            n.is_inaccessible = match n.node_type {
                NodeType::Unknown => true,
                NodeType::Service => {
                    n.namespace == "unknown"
                        || n.service == "PassthroughCluster"
                        || n.service == "BlackHoleCluster"
                }
                _ => false,
            };
            n.is_outside = !n.is_inaccessible && n.is_outside_ns(self.namespaces);
            n.is_root = has_out[i] && !has_in[i];
            // A node at the end of zero-rate edges only (`includeIdleEdges`) is not `isIdle`:
            // Kiali sets it on the idleNode appender's nodes alone (appender/idle_node.go).
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

fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => host.ends_with(suffix) && host.len() > suffix.len(),
        None => pattern == host,
    }
}
