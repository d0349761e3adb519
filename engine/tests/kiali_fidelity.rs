//! Golden tests of the cases where the engine's graph differed from Kiali's (each one failed on
//! the engine before it was fixed): node ids, `isInaccessible`, `isInjected`, the egress
//! gateway, gRPC message responses and kiali#5696. The expected values are Kiali's rules
//! (`graph.Id`, the outsider finalizer, `HandleDestination`, `addToMetadataResponses`) applied
//! by hand to the series below.

use meshglass_engine::{
    CytoscapeGraph, Family, GraphOptions, GraphType, GrpcRate, Label, NodeData, Rates, Sample,
    build_graph,
    fixtures::{self, Series},
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
    r.graph
}

fn by_id<'g>(g: &'g CytoscapeGraph, id: &str) -> &'g NodeData {
    g.elements
        .nodes
        .iter()
        .map(|n| &n.data)
        .find(|d| d.id.as_str() == id)
        .unwrap_or_else(|| panic!("no node {id} in {:#?}", g.elements.nodes))
}

const PP: (&str, &str, &str, &str, &str) =
    ("east", "bookinfo", "productpage-v1", "productpage", "v1");

fn http(
    src: (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ),
    dst: (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ),
    code: &'static str,
) -> Series<'static> {
    Series {
        reporter: "destination",
        src,
        dst,
        protocol: "http",
        code,
        flags: "-",
        security: "mutual_tls",
    }
}

/// The unknown source is `sha256("<cluster>_unknown_source")`, never boxed into a namespace,
/// and inaccessible.
#[test]
fn unknown_source_id_is_cluster_unknown_source_and_inaccessible() {
    let s = http(
        ("east", "unknown", "unknown", "unknown", "unknown"),
        (
            "east",
            "bookinfo",
            "productpage",
            "bookinfo",
            "productpage-v1",
            "productpage",
            "v1",
        ),
        "200",
    );
    let g = build(
        &opts(GraphType::Workload, false),
        &[s.sample(Family::RequestsTotal, 5.0)],
    );
    let id = kiali_id("east_unknown_source");
    let d = by_id(&g, &id);
    assert_eq!(d.node_type, "unknown");
    assert!(d.is_inaccessible && d.is_root && !d.is_outside);
    // The edge id follows from the node ids: sha256("<src>.<dst>.http").
    let pp = kiali_id("wl_east_bookinfo_productpage-v1");
    let e = &g.elements.edges[0].data;
    assert_eq!(e.source.as_str(), id);
    assert_eq!(e.id.as_str(), kiali_id(&format!("{id}.{pp}.http")));
    // The workload it calls is accessible.
    assert!(!by_id(&g, &pp).is_inaccessible);
}

/// Requests to an unknown destination land on the namespace's `unknown` service; with namespace
/// `unknown` it is inaccessible, as are PassthroughCluster and BlackHoleCluster.
#[test]
fn unknown_and_egress_cluster_services_are_inaccessible() {
    let unknown_dst = http(
        PP,
        (
            "east", "unknown", "unknown", "unknown", "unknown", "unknown", "unknown",
        ),
        "404",
    );
    let passthrough = http(
        PP,
        (
            "east",
            "bookinfo",
            "PassthroughCluster",
            "unknown",
            "unknown",
            "unknown",
            "unknown",
        ),
        "200",
    );
    // Reported by the client's proxy: no server proxy saw them.
    let g = build(
        &opts(GraphType::Workload, false),
        &[
            Series {
                reporter: "source",
                ..unknown_dst
            }
            .sample(Family::RequestsTotal, 1.0),
            Series {
                reporter: "source",
                ..passthrough
            }
            .sample(Family::RequestsTotal, 2.0),
        ],
    );
    let unknown = by_id(&g, &kiali_id("svc_east_unknown_unknown"));
    assert_eq!(
        (unknown.node_type, unknown.service.as_str()),
        ("service", "unknown")
    );
    assert!(unknown.is_inaccessible && !unknown.is_outside);
    let pt = by_id(&g, &kiali_id("svc_east_bookinfo_PassthroughCluster"));
    assert!(pt.is_inaccessible && !pt.is_outside);
    assert!(!by_id(&g, &kiali_id("wl_east_bookinfo_productpage-v1")).is_inaccessible);
}

/// kiali#5696: an app label without a known workload or service still gives a node, the
/// namespace's unknown service (`svc_<cluster>_<ns>_unknown`), instead of dropping the sample.
#[test]
fn app_without_workload_or_service_is_the_namespaces_unknown_service() {
    let s = http(
        PP,
        (
            "east", "bookinfo", "unknown", "bookinfo", "unknown", "reviews", "v1",
        ),
        "503",
    );
    let g = build(
        &opts(GraphType::Workload, false),
        &[s.sample(Family::RequestsTotal, 3.0)],
    );
    let d = by_id(&g, &kiali_id("svc_east_bookinfo_unknown"));
    assert_eq!(d.node_type, "service");
    assert_eq!((d.app.as_str(), d.workload.as_str()), ("", ""));
    assert!(!d.is_inaccessible, "its namespace is known");
    assert_eq!(g.elements.edges.len(), 1);
}

/// `isInjected` marks the service nodes service-node injection put between a source and its
/// destination workload, and only those.
#[test]
fn injected_service_nodes_are_flagged() {
    let s = http(
        PP,
        (
            "east",
            "bookinfo",
            "details",
            "bookinfo",
            "details-v1",
            "details",
            "v1",
        ),
        "200",
    );
    let samples = [s.sample(Family::RequestsTotal, 4.0)];
    let g = build(&opts(GraphType::Workload, true), &samples);
    let svc = by_id(&g, &kiali_id("svc_east_bookinfo_details"));
    assert!(svc.is_injected);
    assert!(!by_id(&g, &kiali_id("wl_east_bookinfo_details-v1")).is_injected);
    let json = String::from_utf8(g.to_json_vec()).unwrap();
    assert_eq!(json.matches("\"isInjected\":true").count(), 1, "{json}");
    assert_eq!(json, serde_json::to_string(&g).unwrap());

    let plain = build(&opts(GraphType::Workload, false), &samples);
    assert!(plain.elements.nodes.iter().all(|n| !n.data.is_injected));
}

/// kiali#2999: requests to `istio-egressgateway.<istio ns>.svc.cluster.local` are the
/// istio-egressgateway workload (app istio-egressgateway, version latest) of the control
/// plane's namespace in the source's cluster — not a `service unknown` node. The host stays in
/// the responses.
#[test]
fn egress_gateway_host_is_the_egress_gateway_workload() {
    let host = "istio-egressgateway.istio-system.svc.cluster.local";
    let mut s = http(
        PP,
        (
            "unknown", "unknown", host, "unknown", "unknown", "unknown", "unknown",
        ),
        "200",
    )
    .sample(Family::RequestsTotal, 6.0);
    s.labels.put(Label::DestinationService, Some(host));
    s.labels.put(Label::Reporter, Some("source"));
    let mut o = opts(GraphType::Workload, false);
    let g = build(&o, std::slice::from_ref(&s));
    let d = by_id(&g, &kiali_id("wl_east_istio-system_istio-egressgateway"));
    assert_eq!(
        (
            d.cluster.as_str(),
            d.namespace.as_str(),
            d.workload.as_str(),
            d.app.as_str(),
            d.version.as_str()
        ),
        (
            "east",
            "istio-system",
            "istio-egressgateway",
            "istio-egressgateway",
            "latest"
        )
    );
    assert!(d.is_outside);
    assert!(
        g.elements
            .nodes
            .iter()
            .all(|n| n.data.namespace != "unknown"),
        "{:#?}",
        g.elements.nodes
    );
    let e = &g.elements.edges[0].data;
    let r = e.traffic.responses.get("200").unwrap();
    assert_eq!(r.hosts.get(host).map(String::as_str), Some("100.0"));

    // The control plane's namespace is the server's setting.
    o.istio_namespace = "mesh-system".into();
    let elsewhere = "istio-egressgateway.mesh-system.svc.cluster.local";
    s.labels.put(Label::DestinationService, Some(elsewhere));
    s.labels.put(Label::DestinationServiceName, Some(elsewhere));
    let g = build(&o, std::slice::from_ref(&s));
    by_id(&g, &kiali_id("wl_east_mesh-system_istio-egressgateway"));
    // With istio-system's host, a mesh-system control plane leaves the sample alone.
    s.labels.put(Label::DestinationService, Some(host));
    s.labels.put(Label::DestinationServiceName, Some(host));
    let g = build(&o, std::slice::from_ref(&s));
    assert!(
        g.elements
            .nodes
            .iter()
            .all(|n| n.data.workload != "istio-egressgateway")
    );
}

/// gRPC message edges carry their responses as Kiali writes them: code `-`, no flags, the
/// destination host — and the messages are neither errors nor missing responses.
#[test]
fn grpc_message_edges_have_dash_responses_with_hosts() {
    let s = Series {
        protocol: "grpc",
        ..http(
            PP,
            (
                "east",
                "bookinfo",
                "reviews",
                "bookinfo",
                "reviews-v1",
                "reviews",
                "v1",
            ),
            "",
        )
    };
    let mut sample = s.sample(Family::RequestMessages, 8.0);
    for l in [
        Label::ResponseCode,
        Label::GrpcResponseStatus,
        Label::ResponseFlags,
    ] {
        sample.labels.put(l, None);
    }
    let o = GraphOptions {
        rates: Rates {
            grpc: GrpcRate::Sent,
            ..Rates::default()
        },
        ..opts(GraphType::Workload, false)
    };
    let g = build(&o, &[sample]);
    assert_eq!(g.elements.edges.len(), 1);
    let t = &g.elements.edges[0].data.traffic;
    assert_eq!(t.protocol, "grpc");
    let codes: Vec<&str> = t.responses.iter().map(|(c, _)| c).collect();
    assert_eq!(codes, vec!["-"]);
    let r = t.responses.get("-").unwrap();
    assert!(r.flags.is_empty());
    assert_eq!(
        r.hosts
            .get("reviews.bookinfo.svc.cluster.local")
            .map(String::as_str),
        Some("100.0")
    );
    assert!(t.rates.get("grpcNoResponse").is_none() && t.rates.get("grpcErr").is_none());
    let json = String::from_utf8(g.to_json_vec()).unwrap();
    assert!(
        json.contains(
            r#""responses":{"-":{"hosts":{"reviews.bookinfo.svc.cluster.local":"100.0"}}}"#
        ),
        "{json}"
    );
}
