//! A direct JSON writer for [`CytoscapeGraph`], byte-identical to `serde_json::to_vec` of the
//! derived `Serialize` impls (same field order, same omissions, same escaping). Strings without
//! characters to escape — all ids, names and rates in practice — are copied in one piece; any
//! other string, and the rare nested values (`hasHealthConfig`, `isServiceEntry`), go through
//! serde_json itself; `healthData` is copied as it was written ([`super::cytoscape::HealthJson`]). `tests/json_writer.rs` compares both on varied graphs.

use super::cytoscape::{
    CytoscapeGraph, EdgeData, EdgeWrapper, Id, NodeData, PctItems, Percent, ProtocolTraffic,
    RateMap, RateValue, Responses, ServiceName,
};
use super::num::FixedBuf;
use crate::json_out::{delegate, key, needs_escape_bytes, string};
use crate::par;

impl CytoscapeGraph {
    /// The graph as JSON: the same bytes as `serde_json::to_vec(self)`, several times faster
    /// (this module's direct writer), into one buffer sized up front from the element
    /// counts.
    pub fn to_json_vec(&self) -> Vec<u8> {
        let estimate = 256 + self.elements.nodes.len() * 640 + self.elements.edges.len() * 1024;
        let mut out = Vec::with_capacity(estimate);
        write_graph(self, &mut out);
        out
    }
}

/// Appends the graph's JSON to `out`.
fn write_graph(g: &CytoscapeGraph, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"timestamp\":");
    int(out, g.timestamp);
    out.extend_from_slice(b",\"duration\":");
    int(out, g.duration);
    out.extend_from_slice(b",\"graphType\":");
    string(out, g.graph_type);
    out.extend_from_slice(b",\"elements\":{\"nodes\":[");
    let nodes = |out: &mut Vec<u8>| {
        for (i, n) in g.elements.nodes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"data\":");
            node(out, &n.data);
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"edges\":[");
    };
    let edges = &g.elements.edges;
    if edges.len() >= PARALLEL_MIN_EDGES {
        // Many edges: the later ones are written on another thread, then appended; this one
        // writes the nodes, the first edges and the copy, so it takes fewer edges (a node
        // writes about half an edge's bytes).
        let split = edges.len().saturating_sub(g.elements.nodes.len() / 2) * 2 / 5;
        let (first, second) = edges.split_at(split);
        let ((), tail) = par::join(
            || {
                nodes(out);
                edge_list(out, first);
            },
            || {
                let mut tail = Vec::with_capacity(second.len() * 1024);
                edge_list(&mut tail, second);
                tail
            },
        );
        if !first.is_empty() && !tail.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(&tail);
    } else {
        nodes(out);
        edge_list(out, edges);
    }
    out.extend_from_slice(b"]}}");
}

/// Graphs with at least this many edges are written on two threads.
const PARALLEL_MIN_EDGES: usize = 2_000;

/// Edges, comma-separated.
fn edge_list(out: &mut Vec<u8>, edges: &[EdgeWrapper]) {
    for (i, e) in edges.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"data\":");
        edge(out, &e.data);
        out.push(b'}');
    }
}

fn int(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(v.to_string().as_bytes());
}

/// Bytes known not to need escaping, as a JSON string.
fn quoted(out: &mut Vec<u8>, b: &[u8]) {
    out.reserve(b.len() + 2);
    out.push(b'"');
    out.extend_from_slice(b);
    out.push(b'"');
}

/// An id: its bytes never need escaping (see [`Id::new`]).
fn id(out: &mut Vec<u8>, id: &Id) {
    quoted(out, id.as_bytes());
}

fn str_field(out: &mut Vec<u8>, k: &str, v: &str) {
    key(out, k);
    string(out, v);
}

fn opt_str_field(out: &mut Vec<u8>, k: &str, v: &str) {
    if !v.is_empty() {
        str_field(out, k, v);
    }
}

fn opt_rate_field(out: &mut Vec<u8>, k: &str, v: &Option<RateValue>) {
    if let Some(v) = v {
        key(out, k);
        rate_value(out, v);
    }
}

fn true_field(out: &mut Vec<u8>, k: &str, v: bool) {
    if v {
        key(out, k);
        out.extend_from_slice(b"true");
    }
}

fn node(out: &mut Vec<u8>, d: &NodeData) {
    out.extend_from_slice(b"{\"id\":");
    id(out, &d.id);
    if let Some(p) = &d.parent {
        str_field(out, "parent", p);
    }
    str_field(out, "nodeType", d.node_type);
    str_field(out, "cluster", &d.cluster);
    str_field(out, "namespace", &d.namespace);
    opt_str_field(out, "workload", &d.workload);
    opt_str_field(out, "app", &d.app);
    opt_str_field(out, "version", &d.version);
    opt_str_field(out, "service", &d.service);
    opt_str_field(out, "aggregate", &d.aggregate);
    if !d.dest_services.is_empty() {
        key(out, "destServices");
        out.push(b'[');
        for (i, s) in d.dest_services.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            service_name(out, s);
        }
        out.push(b']');
    }
    if !d.traffic.is_empty() {
        key(out, "traffic");
        out.push(b'[');
        for (i, t) in d.traffic.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            traffic(out, t);
        }
        out.push(b']');
    }
    key(out, "healthData");
    match &d.health_data {
        None => out.extend_from_slice(b"null"),
        Some(h) => out.extend_from_slice(h.as_bytes()),
    }
    if let Some(h) = &d.has_health_config {
        key(out, "hasHealthConfig");
        delegate(out, h);
    }
    // The flattened badges, in serde's order.
    let b = &d.istio;
    true_field(out, "hasCB", b.has_cb);
    true_field(out, "hasFaultInjection", b.has_fault_injection);
    true_field(out, "hasMirroring", b.has_mirroring);
    true_field(out, "hasRequestRouting", b.has_request_routing);
    true_field(out, "hasRequestTimeout", b.has_request_timeout);
    true_field(out, "hasTCPTrafficShifting", b.has_tcp_traffic_shifting);
    true_field(out, "hasTrafficShifting", b.has_traffic_shifting);
    if let Some(vs) = &b.has_vs {
        key(out, "hasVS");
        delegate(out, vs);
    }
    if !d.has_workload_entry.is_empty() {
        key(out, "hasWorkloadEntry");
        delegate(out, &d.has_workload_entry);
    }
    opt_str_field(out, "isBox", d.is_box);
    true_field(out, "isDead", d.is_dead);
    if let Some(gw) = &d.is_gateway {
        key(out, "isGateway");
        delegate(out, gw);
    }
    true_field(out, "isIdle", d.is_idle);
    true_field(out, "isInaccessible", d.is_inaccessible);
    true_field(out, "isInjected", d.is_injected);
    true_field(out, "isOutOfMesh", d.is_out_of_mesh);
    true_field(out, "isOutside", d.is_outside);
    true_field(out, "isRoot", d.is_root);
    if let Some(se) = &d.is_service_entry {
        key(out, "isServiceEntry");
        delegate(out, se);
    }
    out.push(b'}');
}

fn service_name(out: &mut Vec<u8>, s: &ServiceName) {
    out.extend_from_slice(b"{\"cluster\":");
    string(out, &s.cluster);
    str_field(out, "namespace", &s.namespace);
    str_field(out, "name", &s.name);
    out.push(b'}');
}

/// An object's fields, the first without a leading comma.
struct Fields<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Fields<'o> {
    fn open(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Fields { out, first: true }
    }

    fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if self.first {
            self.first = false;
            self.out.push(b'"');
        } else {
            self.out.extend_from_slice(b",\"");
        }
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn rates(out: &mut Vec<u8>, r: &RateMap) {
    let mut f = Fields::open(out);
    for (k, v) in r.iter() {
        // Rate names are the engine's own ASCII identifiers; anything else is escaped properly.
        if !needs_escape_bytes(k.as_bytes()) {
            let out = f.key(k);
            rate_value(out, v);
        } else {
            if f.first {
                f.first = false;
            } else {
                f.out.push(b',');
            }
            delegate(f.out, k);
            f.out.push(b':');
            rate_value(f.out, v);
        }
    }
    f.close();
}

/// A rate as Kiali's string: numbers formatted here, on the stack (digits and a point need no
/// escaping); texts escaped as any string.
fn rate_value(out: &mut Vec<u8>, v: &RateValue) {
    match (v, v.number()) {
        (_, Some((x, prec))) => {
            let mut buf = FixedBuf::new();
            match buf.format_ascii(x, prec) {
                Some(digits) => quoted(out, digits),
                None => delegate(out, v),
            }
        }
        (RateValue::Text(t), None) => string(out, t),
        _ => out.extend_from_slice(b"\"\""),
    }
}

fn traffic(out: &mut Vec<u8>, t: &ProtocolTraffic) {
    let mut f = Fields::open(out);
    if !t.protocol.is_empty() {
        let out = f.key("protocol");
        string(out, t.protocol);
    }
    if !t.rates.is_empty() {
        let out = f.key("rates");
        rates(out, &t.rates);
    }
    if !t.responses.is_empty() {
        let out = f.key("responses");
        responses(out, &t.responses);
    }
    f.close();
}

fn pct_map(out: &mut Vec<u8>, items: &PctItems<'_>) {
    out.push(b'{');
    for (i, (k, plain, p)) in items.iter_plain().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if plain {
            quoted(out, k.as_bytes());
        } else {
            string(out, k);
        }
        out.push(b':');
        percent(out, p);
    }
    out.push(b'}');
}

fn percent(out: &mut Vec<u8>, p: Percent) {
    let mut buf = FixedBuf::new();
    match buf.format_ascii(p.0, 1) {
        Some(digits) => quoted(out, digits),
        None => delegate(out, &p),
    }
}

fn responses(out: &mut Vec<u8>, r: &Responses) {
    out.push(b'{');
    for (i, (code, flags, hosts)) in r.raw().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, code);
        out.push(b':');
        let mut f = Fields::open(out);
        if !flags.is_empty() {
            let out = f.key("flags");
            pct_map(out, &flags);
        }
        if !hosts.is_empty() {
            let out = f.key("hosts");
            pct_map(out, &hosts);
        }
        f.close();
    }
    out.push(b'}');
}

fn edge(out: &mut Vec<u8>, d: &EdgeData) {
    out.extend_from_slice(b"{\"id\":");
    id(out, &d.id);
    key(out, "source");
    id(out, &d.source);
    key(out, "target");
    id(out, &d.target);
    opt_str_field(out, "destPrincipal", &d.dest_principal);
    opt_rate_field(out, "isMTLS", &d.is_mtls);
    opt_rate_field(out, "responseTime", &d.response_time);
    opt_str_field(out, "sourcePrincipal", &d.source_principal);
    opt_rate_field(out, "throughput", &d.throughput);
    key(out, "traffic");
    traffic(out, &d.traffic);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::super::cytoscape::Id;

    #[test]
    fn ids_never_need_escaping() {
        for ok in [
            "",
            "box_a",
            "0123456789abcdef",
            "é/ü \u{7f}",
            &"f".repeat(64),
        ] {
            let id = Id::new(ok).map(|i| i.to_string());
            assert_eq!(id.as_deref(), Some(ok));
            let mut out = Vec::new();
            super::id(&mut out, &Id::new(ok).unwrap_or_default());
            assert_eq!(out, serde_json::to_vec(ok).unwrap_or_default());
        }
        for bad in ["q\"uote", "back\\", "nl\n", "\u{1}", &"f".repeat(65)] {
            assert!(Id::new(bad).is_none(), "{bad:?}");
        }
    }
}
