//! The appenders the UI relies on beyond traffic: meshCheck (`isOutOfMesh`, Kiali's older name
//! `sidecarsCheck` accepted), the istio appender's gateways (`isGateway`), workloadEntry
//! (`hasWorkloadEntry`), and a clear "not supported" for Kiali appenders the engine lacks.

use std::collections::BTreeMap;

use meshglass_engine::{
    Appender, ConfigObject, CytoscapeGraph, Error, Family, GraphOptions, IstioKind, NamespaceInfo,
    NodeData, WorkloadInfo, build_graph,
    fixtures::{self, Series},
};
use serde_json::json;

fn workload(ns: &str, name: &str, labels: &[(&str, &str)], sidecar: bool) -> WorkloadInfo {
    let mut w = WorkloadInfo {
        name: name.into(),
        namespace: ns.into(),
        kind: "Deployment".into(),
        group: "apps".into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        desired_replicas: 1,
        current_replicas: 1,
        available_replicas: 1,
        istio_sidecar: sidecar,
        synced_proxies: -1,
        ..Default::default()
    };
    w.resolve_app(&Default::default());
    w
}

fn config(kind: IstioKind, ns: &str, name: &str, spec: serde_json::Value) -> ConfigObject {
    ConfigObject {
        kind,
        name: name.into(),
        namespace: ns.into(),
        version: "v1".into(),
        spec,
    }
}

/// Bookinfo, with east's istio-system holding an ingress gateway (no sidecar, as gateways have
/// none) selected by two Gateways, details-v1 without a sidecar, and a WorkloadEntry labelled
/// details v1.
fn mesh() -> meshglass_engine::MeshInventory {
    let mut inv = fixtures::bookinfo_inventory();
    let east = &mut inv.clusters[0];
    east.namespaces.push(NamespaceInfo {
        name: "istio-system".into(),
        ..Default::default()
    });
    east.workloads.push(
        workload(
            "istio-system",
            "istio-ingressgateway",
            &[
                ("app", "istio-ingressgateway"),
                ("istio", "ingressgateway"),
                ("operator.istio.io/component", "IngressGateways"),
            ],
            false,
        )
        .into(),
    );
    for w in &mut east.workloads {
        if w.name == "details-v1" {
            std::sync::Arc::make_mut(w).istio_sidecar = false;
        }
    }
    east.routing = vec![
        config(
            IstioKind::Gateway,
            "bookinfo",
            "z-admin",
            json!({"selector": {"istio": "ingressgateway"},
                   "servers": [{"hosts": ["admin.example.com"]}]}),
        ),
        config(
            IstioKind::Gateway,
            "bookinfo",
            "bookinfo-gateway",
            json!({"selector": {"istio": "ingressgateway"},
                   "servers": [{"hosts": ["bookinfo.example.com", "www.example.com"]}]}),
        ),
        config(
            IstioKind::Gateway,
            "bookinfo",
            "elsewhere",
            json!({"selector": {"istio": "egressgateway"}, "servers": [{"hosts": ["x"]}]}),
        ),
        config(
            IstioKind::WorkloadEntry,
            "bookinfo",
            "details-vm",
            json!({"address": "10.0.0.9", "labels": {"app": "details", "version": "v1"}}),
        ),
        config(
            IstioKind::WorkloadEntry,
            "bookinfo",
            "details-vm-v2",
            json!({"address": "10.0.0.10", "labels": {"app": "details", "version": "v2"}}),
        ),
    ];
    inv
}

fn samples() -> Vec<meshglass_engine::Sample> {
    let mut out = fixtures::bookinfo_samples();
    let s = Series {
        reporter: "destination",
        src: (
            "east",
            "istio-system",
            "istio-ingressgateway",
            "istio-ingressgateway",
            "latest",
        ),
        dst: (
            "east",
            "bookinfo",
            "productpage",
            "bookinfo",
            "productpage-v1",
            "productpage",
            "v1",
        ),
        protocol: "http",
        code: "200",
        flags: "-",
        security: "mutual_tls",
    };
    out.push(s.sample(Family::RequestsTotal, 4.0));
    out
}

fn graph(o: &GraphOptions) -> CytoscapeGraph {
    let r = build_graph(o, &samples(), &mesh());
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    r.graph
}

fn opts(appenders: Option<Vec<Appender>>) -> GraphOptions {
    GraphOptions {
        namespaces: vec!["bookinfo".into()],
        query_time: 1_700_000_000,
        appenders,
        ..GraphOptions::default()
    }
}

fn node<'g>(g: &'g CytoscapeGraph, cluster: &str, workload: &str) -> &'g NodeData {
    g.elements
        .nodes
        .iter()
        .map(|n| &n.data)
        .find(|d| d.cluster == cluster && d.workload == workload)
        .unwrap_or_else(|| panic!("no {cluster}/{workload}"))
}

#[test]
fn mesh_check_flags_workloads_without_sidecars_but_not_gateways() {
    let g = graph(&opts(None));
    assert!(node(&g, "east", "details-v1").is_out_of_mesh);
    assert!(!node(&g, "east", "productpage-v1").is_out_of_mesh);
    // A gateway has no sidecar and is in the mesh; so is the control plane's namespace.
    let gw = node(&g, "east", "istio-ingressgateway");
    assert!(gw.is_outside && !gw.is_out_of_mesh);
    let elsewhere = GraphOptions {
        istio_namespace: "mesh-system".into(),
        ..opts(None)
    };
    let g2 = graph(&elsewhere);
    assert!(!node(&g2, "east", "istio-ingressgateway").is_out_of_mesh);
    // A workload without a sidecar outside the requested namespaces is checked too.
    let mut inv = mesh();
    inv.clusters[0].workloads.push(
        workload(
            "istio-system",
            "istio-ingressgateway",
            &[("app", "istio-ingressgateway")],
            false,
        )
        .into(),
    );
    inv.clusters[0]
        .workloads
        .retain(|w| !(w.name == "istio-ingressgateway" && w.labels.contains_key("istio")));
    let g3 = build_graph(&elsewhere, &samples(), &inv).graph;
    assert!(node(&g3, "east", "istio-ingressgateway").is_out_of_mesh);
    // Kiali's older name runs the same appender; without it nothing is flagged.
    let q = |a: &str| {
        GraphOptions::from_query_pairs(
            [("namespaces", "bookinfo"), ("appenders", a)],
            1_700_000_000,
        )
        .unwrap()
    };
    assert_eq!(
        q("sidecarsCheck").appenders,
        Some(vec![Appender::MeshCheck])
    );
    assert_eq!(q("meshCheck").appenders, Some(vec![Appender::MeshCheck]));
    let g = graph(&opts(Some(vec![Appender::DeadNode])));
    assert!(g.elements.nodes.iter().all(|n| !n.data.is_out_of_mesh));
}

#[test]
fn ingress_gateway_nodes_carry_the_hosts_of_the_gateways_selecting_them() {
    let g = graph(&opts(Some(vec![Appender::Istio])));
    let gw = node(&g, "east", "istio-ingressgateway");
    let info = gw.is_gateway.as_ref().expect("isGateway");
    // By Gateway name: bookinfo-gateway, then z-admin; the egress one does not select it.
    assert_eq!(
        info.ingress_info.hostnames,
        vec![
            "bookinfo.example.com",
            "www.example.com",
            "admin.example.com"
        ]
    );
    assert!(info.egress_info.hostnames.is_empty());
    let json = String::from_utf8(g.to_json_vec()).unwrap();
    assert!(
        json.contains(r#""isGateway":{"ingressInfo":{"hostnames":["bookinfo.example.com","www.example.com","admin.example.com"]},"egressInfo":{},"gatewayAPIInfo":{}}"#),
        "{json}"
    );
    assert_eq!(json, serde_json::to_string(&g).unwrap());
    assert!(node(&g, "east", "productpage-v1").is_gateway.is_none());
    // Only with the istio appender.
    let g = graph(&opts(Some(vec![Appender::DeadNode])));
    assert!(g.elements.nodes.iter().all(|n| n.data.is_gateway.is_none()));
}

#[test]
fn workload_entries_are_listed_on_the_nodes_their_labels_name() {
    let g = graph(&opts(Some(vec![Appender::WorkloadEntry])));
    let details = node(&g, "east", "details-v1");
    let names: Vec<&str> = details
        .has_workload_entry
        .iter()
        .map(|w| w.name.as_str())
        .collect();
    assert_eq!(names, vec!["details-vm"]);
    assert!(
        node(&g, "east", "productpage-v1")
            .has_workload_entry
            .is_empty()
    );
    // West has no WorkloadEntries: its nodes are not decorated by east's.
    assert!(node(&g, "west", "ratings-v1").has_workload_entry.is_empty());
    let json = String::from_utf8(g.to_json_vec()).unwrap();
    assert!(
        json.contains(r#""hasWorkloadEntry":[{"name":"details-vm"}]"#),
        "{json}"
    );
    assert_eq!(json, serde_json::to_string(&g).unwrap());
}

#[test]
fn kiali_appenders_not_implemented_are_refused_with_the_reason() {
    for name in ["ambient", "extensions"] {
        let e = GraphOptions::from_query_pairs(
            [("namespaces", "bookinfo"), ("appenders", name)],
            1_700_000_000,
        )
        .unwrap_err();
        let Error::Unsupported {
            name: p,
            value,
            why,
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!((*p, value.as_str()), ("appenders", name));
        assert!(!why.is_empty());
        assert!(e.to_string().contains("not supported"), "{e}");
    }
    let e = GraphOptions::from_query_pairs(
        [("namespaces", "bookinfo"), ("appenders", "nope")],
        1_700_000_000,
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidParam { .. }), "{e:?}");
}
