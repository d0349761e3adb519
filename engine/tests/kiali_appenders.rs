//! Golden tests of three appender rules settled against Kiali's code, each of which the engine
//! did otherwise before:
//! - `aggregateNode` (appender/aggregate_node.go): aggregate nodes between a source and the
//!   service (or workload) it calls, one per value of the aggregate label, ids
//!   `agg_<cluster>_<namespace>_<aggregate>_<value>[_<service>]`, `aggregate` written as
//!   `<aggregate>=<value>` (config/cytoscape.go); it used to be a 400 "not supported".
//! - `isMTLS` (appender/security_policy.go): keyed by (source node, destination node), from
//!   destination-reported traffic; it used to be per protocol edge over both reporters.
//! - `isIdle`: set on the idleNode appender's nodes only (appender/idle_node.go); a node at the
//!   end of zero-rate edges (`includeIdleEdges`) used to be flagged too.

use meshglass_engine::{
    CytoscapeGraph, Family, GraphOptions, GraphType, Label, NodeData, Sample, build_graph,
    fixtures::{self, Series},
    queries,
};
use sha2::{Digest, Sha256};

fn kiali_id(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn opts(graph_type: GraphType, inject: bool) -> GraphOptions {
    GraphOptions {
        graph_type,
        inject_service_nodes: inject,
        namespaces: vec!["bookinfo".to_string()],
        query_time: 1_700_000_000,
        ..GraphOptions::default()
    }
}

fn build(o: &GraphOptions, samples: &[Sample]) -> CytoscapeGraph {
    let r = build_graph(o, samples, &fixtures::bookinfo_inventory());
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let json = String::from_utf8(r.graph.to_json_vec()).expect("utf-8");
    assert_eq!(json, serde_json::to_string(&r.graph).expect("serde"));
    r.graph
}

fn node<'g>(g: &'g CytoscapeGraph, id: &str) -> &'g NodeData {
    g.elements
        .nodes
        .iter()
        .map(|n| &n.data)
        .find(|d| d.id.as_str() == kiali_id(id))
        .unwrap_or_else(|| panic!("no node {id} in {:#?}", g.elements.nodes))
}

/// The edges as (source internal id, target internal id, protocol, http rate) given the
/// internal ids of the nodes that may appear.
fn edges(g: &CytoscapeGraph, names: &[&str]) -> Vec<(String, String, String, String)> {
    let name = |id: &str| {
        names
            .iter()
            .find(|n| kiali_id(n) == id)
            .map(|n| n.to_string())
            .unwrap_or_else(|| format!("?{id}"))
    };
    let mut v: Vec<_> = g
        .elements
        .edges
        .iter()
        .map(|e| {
            let d = &e.data;
            (
                name(d.source.as_str()),
                name(d.target.as_str()),
                d.traffic.protocol.to_string(),
                d.traffic
                    .rates
                    .get("http")
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn node_rate(d: &NodeData, key: &str) -> String {
    d.traffic
        .iter()
        .find(|t| t.protocol == "http")
        .and_then(|t| t.rates.get(key))
        .map(|r| r.to_string())
        .unwrap_or_default()
}

const PP: (&str, &str, &str, &str, &str) =
    ("east", "bookinfo", "productpage-v1", "productpage", "v1");
const REVIEWS_V1: (&str, &str, &str, &str, &str, &str, &str) = (
    "east",
    "bookinfo",
    "reviews",
    "bookinfo",
    "reviews-v1",
    "reviews",
    "v1",
);

fn series(security: &'static str, code: &'static str) -> Series<'static> {
    Series {
        reporter: "destination",
        src: PP,
        dst: REVIEWS_V1,
        protocol: "http",
        code,
        flags: "-",
        security,
    }
}

/// An aggregate sample: `series` with the aggregate label's value copied where the query's
/// `label_replace` puts it.
fn aggregate(value: &str, rate: f64, code: &'static str) -> Sample {
    let mut s = series("mutual_tls", code).sample(Family::RequestsByAggregate, rate);
    s.labels.put(Label::MeshglassAggregate, Some(value));
    s
}

/// productpage → reviews: 10 rps, classified by request_operation as 7 `Search` (one of them
/// a 500) and 3 `Browse`, plus a series the classification left unset.
fn classified() -> Vec<Sample> {
    let mut unset = series("mutual_tls", "200").sample(Family::RequestsByAggregate, 5.0);
    unset.labels.put(Label::MeshglassAggregate, None);
    vec![
        series("mutual_tls", "200").sample(Family::RequestsTotal, 9.0),
        series("mutual_tls", "500").sample(Family::RequestsTotal, 1.0),
        aggregate("Search", 6.0, "200"),
        aggregate("Search", 1.0, "500"),
        aggregate("Browse", 3.0, "200"),
        unset,
    ]
}

#[test]
fn aggregate_nodes_sit_between_the_source_and_the_service_it_calls() {
    let g = build(&opts(GraphType::Workload, true), &classified());
    let pp = "wl_east_bookinfo_productpage-v1";
    let svc = "svc_east_bookinfo_reviews";
    let wl = "wl_east_bookinfo_reviews-v1";
    let search = "agg_east_bookinfo_request_operation_Search_reviews";
    let browse = "agg_east_bookinfo_request_operation_Browse_reviews";
    let names = [pp, svc, wl, search, browse];
    // The classified hops replace productpage → reviews; the service keeps its workload edge.
    assert_eq!(
        edges(&g, &names),
        sorted(vec![
            (browse.into(), svc.into(), "http".into(), "3.00".into()),
            (pp.into(), browse.into(), "http".into(), "3.00".into()),
            (pp.into(), search.into(), "http".into(), "7.00".into()),
            (search.into(), svc.into(), "http".into(), "7.00".into()),
            (svc.into(), wl.into(), "http".into(), "10.00".into()),
        ])
    );
    let s = node(&g, search);
    assert_eq!(s.node_type, "aggregate");
    assert_eq!(s.aggregate, "request_operation=Search");
    assert_eq!(
        (s.cluster.as_str(), s.namespace.as_str(), s.service.as_str()),
        ("east", "bookinfo", "reviews")
    );
    assert_eq!(
        s.app, "reviews",
        "with service nodes the aggregate carries the app"
    );
    // Only the aggregate node's rates grow: the others keep what the traffic gave them.
    assert_eq!(node_rate(s, "httpIn"), "7.00");
    assert_eq!(node_rate(s, "httpIn5xx"), "1.00");
    assert_eq!(node_rate(s, "httpOut"), "7.00");
    assert_eq!(node_rate(node(&g, pp), "httpOut"), "10.00");
    assert_eq!(node_rate(node(&g, svc), "httpIn"), "10.00");
    // The classified edges carry their responses; no mTLS (the security appender matches
    // the telemetry's nodes, never an aggregate).
    let e = g
        .elements
        .edges
        .iter()
        .find(|e| e.data.target.as_str() == kiali_id(search))
        .unwrap();
    assert!(e.data.traffic.responses.get("500").is_some());
    assert!(e.data.is_mtls.is_none());
    let json = String::from_utf8(g.to_json_vec()).unwrap();
    assert!(
        json.contains("\"aggregate\":\"request_operation=Browse\""),
        "{json}"
    );
}

#[test]
fn without_service_nodes_the_aggregate_leads_to_the_workload() {
    let g = build(&opts(GraphType::Workload, false), &classified());
    let pp = "wl_east_bookinfo_productpage-v1";
    let wl = "wl_east_bookinfo_reviews-v1";
    let search = "agg_east_bookinfo_request_operation_Search";
    let browse = "agg_east_bookinfo_request_operation_Browse";
    assert_eq!(
        edges(&g, &[pp, wl, search, browse]),
        sorted(vec![
            (browse.into(), wl.into(), "http".into(), "3.00".into()),
            (pp.into(), browse.into(), "http".into(), "3.00".into()),
            (pp.into(), search.into(), "http".into(), "7.00".into()),
            (search.into(), wl.into(), "http".into(), "7.00".into()),
        ])
    );
    let s = node(&g, search);
    assert!(s.service.is_empty() && s.app.is_empty());
}

#[test]
fn no_aggregates_on_service_graphs_or_when_the_appender_is_not_asked_for() {
    let o = opts(GraphType::Service, false);
    let g = build(&o, &classified());
    assert!(
        g.elements
            .nodes
            .iter()
            .all(|n| n.data.node_type != "aggregate")
    );
    assert!(
        queries(&o)
            .iter()
            .all(|q| q.family != Family::RequestsByAggregate)
    );
    let o = GraphOptions {
        appenders: Some(vec![]),
        ..opts(GraphType::Workload, true)
    };
    let g = build(&o, &classified());
    assert!(
        g.elements
            .nodes
            .iter()
            .all(|n| n.data.node_type != "aggregate")
    );
    assert!(
        queries(&o)
            .iter()
            .all(|q| q.family != Family::RequestsByAggregate)
    );
}

#[test]
fn the_aggregate_query_groups_by_the_label_and_copies_its_value() {
    let o = GraphOptions::from_query_pairs(
        [("namespaces", "bookinfo"), ("aggregate", "request_class")],
        1_700_000_000,
    )
    .unwrap();
    let q = queries(&o)
        .into_iter()
        .find(|q| q.family == Family::RequestsByAggregate)
        .expect("the aggregate query");
    assert!(q.promql.starts_with("label_replace("), "{}", q.promql);
    assert!(q.promql.contains(",request_class) (rate(istio_requests_total{reporter=\"destination\",destination_service_namespace=~\"bookinfo\",request_class!=\"unknown\"}"), "{}", q.promql);
    assert!(
        q.promql
            .contains("source_workload_namespace=~\"bookinfo\",request_class!=\"unknown\""),
        "{}",
        q.promql
    );
    assert!(
        q.promql
            .ends_with("\"meshglass_aggregate\", \"$1\", \"request_class\", \"(.+)\")"),
        "{}",
        q.promql
    );
    // A label name Prometheus would reject is a 400 naming it.
    for bad in ["request-operation", "1st", "__name__", "op}"] {
        let e = GraphOptions::from_query_pairs([("namespaces", "bookinfo"), ("aggregate", bad)], 0)
            .unwrap_err();
        assert!(
            e.to_string().contains("aggregate") && e.to_string().contains(bad),
            "{e}"
        );
    }
}

/// Kiali's `isMTLS` is per node pair: an HTTP edge and a TCP edge between the same two nodes
/// show the same percentage (the requests' share, its query preferring request series), and
/// source-reported traffic with no destination twin does not count.
#[test]
fn is_mtls_is_per_node_pair_from_destination_telemetry() {
    let tcp = |security: &'static str| Series {
        protocol: "tcp",
        ..series(security, "")
    };
    let mut lost = series("unknown", "503");
    lost.reporter = "source";
    let mut samples = vec![
        series("mutual_tls", "200").sample(Family::RequestsTotal, 6.0),
        series("none", "200").sample(Family::RequestsTotal, 2.0),
        lost.sample(Family::RequestsTotal, 4.0),
    ];
    for f in [Family::TcpSentBytes, Family::TcpReceivedBytes] {
        let mut s = tcp("mutual_tls").sample(f, 1000.0);
        s.labels.put(Label::ResponseCode, None);
        s.labels.put(Label::RequestProtocol, None);
        samples.push(s);
    }
    let g = build(&opts(GraphType::Workload, false), &samples);
    let mtls: Vec<(String, String)> = g
        .elements
        .edges
        .iter()
        .map(|e| {
            (
                e.data.traffic.protocol.to_string(),
                e.data
                    .is_mtls
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    // Per protocol edge over both reporters the engine said http 50 (6 of 12) and tcp 100.
    assert_eq!(
        mtls,
        vec![
            ("http".to_string(), "75".to_string()),
            ("tcp".to_string(), "75".to_string())
        ]
    );
    // TCP alone between two nodes: the bytes decide.
    let g = build(&opts(GraphType::Workload, false), &samples[3..]);
    assert_eq!(
        g.elements.edges[0]
            .data
            .is_mtls
            .as_ref()
            .map(|m| m.to_string()),
        Some("100".to_string())
    );
}

/// With `includeIdleEdges`, a zero-rate edge's nodes are not `isIdle` (Kiali flags only the
/// idleNode appender's nodes); the idleNode appender's nodes still are.
#[test]
fn zero_rate_edges_do_not_make_their_nodes_idle() {
    let o = GraphOptions {
        include_idle_edges: true,
        ..opts(GraphType::Workload, false)
    };
    let samples = [series("mutual_tls", "200").sample(Family::RequestsTotal, 0.0)];
    let g = build(&o, &samples);
    assert_eq!(g.elements.edges.len(), 1, "the zero-rate edge is kept");
    for id in [
        "wl_east_bookinfo_productpage-v1",
        "wl_east_bookinfo_reviews-v1",
    ] {
        assert!(!node(&g, id).is_idle, "{id}");
    }
    let o = GraphOptions {
        include_idle_nodes: true,
        ..o
    };
    let g = build(&o, &samples);
    assert!(node(&g, "wl_east_bookinfo_details-v1").is_idle);
    assert!(!node(&g, "wl_east_bookinfo_reviews-v1").is_idle);
}
