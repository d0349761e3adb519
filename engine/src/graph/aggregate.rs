//! Kiali's aggregateNode appender: an `aggregate` node between a source and what it calls for
//! each value of the aggregate label (Istio request classification's `request_operation` by
//! default) on destination-reported request traffic.
//!
//! As Kiali's `injectAggregates`: the source and the destination must already be in the graph
//! (the destination is the service node when service nodes are injected, else the workload or
//! app node); the source's edges to that destination are replaced by the two hops through the
//! aggregate node, and only the aggregate node's rates grow (the other nodes keep the rates
//! the traffic already gave them).

use super::ids::{IdKind, Lbl, NodeKey, NodeType};
use super::labels::label_hashes;
use super::map::{Node, Proto, Resp};
use super::parse::{find_node_id, identity_graph_type, parse};
use super::plan::outcome;
use super::traffic::Builder;
use crate::input::{Family, Sample};
use crate::options::{Appender, GraphType, GrpcRate, HttpRate};
use crate::rules::{self, ResponseCode};

impl<'a> Builder<'a> {
    /// Injects the aggregate nodes of the [`Family::RequestsByAggregate`] samples, in input
    /// order.
    pub(super) fn aggregate_nodes(&mut self, samples: &'a [Sample]) {
        let o = self.opts;
        if o.graph_type == GraphType::Service
            || !o.appender_enabled(Appender::AggregateNode)
            || (o.rates.http != HttpRate::Requests && o.rates.grpc != GrpcRate::Requests)
        {
            return;
        }
        for s in samples
            .iter()
            .filter(|s| s.family == Family::RequestsByAggregate)
        {
            self.inject_aggregate(s);
        }
    }

    fn inject_aggregate(&mut self, s: &'a Sample) {
        let l = &s.labels;
        // A series without the label (Prometheus' `!=` matches unset labels too) is skipped.
        let Some(value) = l.meshglass_aggregate().filter(|v| !v.is_empty()) else {
            return;
        };
        if !s.value.is_finite() || s.value <= 0.0 || l.reporter() != Some("destination") {
            return;
        }
        let proto = match l.request_protocol() {
            Some("http") if self.opts.rates.http == HttpRate::Requests => Proto::Http,
            Some("grpc") if self.opts.rates.grpc == GrpcRate::Requests => Proto::Grpc,
            _ => return,
        };
        let Some(flags) = l.response_flags() else {
            return;
        };
        let hs = label_hashes(l);
        let Some(p) = parse(&mut self.labels, &mut self.diags, s, &hs, self.opts) else {
            return;
        };
        let gt = identity_graph_type(self.opts);
        let inject = self.opts.injects_service_nodes();
        let Some(src) = self.existing(gt, p.node(0)) else {
            return;
        };
        let Some(dst) = self.existing(gt, p.node(if inject { 2 } else { 1 })) else {
            return;
        };
        let dash = self.labels.lbl("-");
        let code = match rules::response_code(proto == Proto::Grpc, l) {
            Some(ResponseCode::NoResponse) => dash,
            Some(ResponseCode::Http(c)) | Some(ResponseCode::Grpc(c)) => self.labels.lbl(c),
            None => return,
        };
        let (code, outcome) = outcome(proto, Some(code), dash);
        let resp = Resp {
            code,
            flags: self.labels.id(flags),
            host: p.dst_svc.id,
            val: s.value,
        };
        // Kiali's aggregate node: with service nodes, the service's (its namespace, name and
        // app); without, the destination workload namespace's.
        let (namespace, service, app) = if inject {
            (p.dst_svc_ns, p.dst_svc_name, p.dst_app.s)
        } else {
            (p.dst_wl_ns, Lbl::EMPTY, "")
        };
        let value = self.labels.lbl(value);
        let key = NodeKey {
            kind: IdKind::Agg,
            cluster: p.dst_cluster,
            namespace,
            a: value,
            b: service,
        };
        let agg = match self.node_index.get(&key.int_key()) {
            Some(&i) => i,
            None => {
                let i = self.nodes.len() as u32;
                self.node_index.insert(key.int_key(), i);
                self.nodes.push(Node {
                    cluster: p.dst_cluster.s,
                    namespace: namespace.s,
                    service: service.s,
                    app: if app == "unknown" { "" } else { app },
                    aggregate: self.opts.aggregate.as_str(),
                    aggregate_value: value.s,
                    ..Node::new(key, NodeType::Aggregate)
                });
                i
            }
        };
        // The classified hops replace the source's edges to the destination.
        for (i, e) in self.edges.iter_mut().enumerate() {
            if e.src == src && e.dst == dst && !e.removed {
                e.removed = true;
                if self.edge_index.get(&(src, dst, e.proto)) == Some(&(i as u32)) {
                    self.edge_index.remove(&(src, dst, e.proto));
                }
            }
        }
        let val = s.value;
        let first = self.edge(src, agg, proto);
        self.count_edge(first, val, outcome, None, Some(resp));
        self.count_in(agg, proto, outcome, val);
        let second = self.edge(agg, dst, proto);
        self.count_edge(second, val, outcome, None, Some(resp));
        self.count_out(agg, proto, val);
    }

    /// The node `n` ([`Parsed::node`](super::parse::Parsed::node)'s order) stands for, if the
    /// graph has it.
    fn existing(&mut self, gt: GraphType, n: [Lbl<'a>; 7]) -> Option<u32> {
        let (key, _, _) = find_node_id(&mut self.diags, gt, n)?;
        self.node_index.get(&key.int_key()).copied()
    }
}
