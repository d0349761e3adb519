//! `CytoscapeGraph::to_json_vec` (the direct writer) must produce exactly the bytes of
//! `serde_json::to_vec` on the derived `Serialize` impls.

use std::collections::BTreeMap;

use meshglass_engine::{
    BoxBy, CytoscapeGraph, EntityHealth, GraphOptions, GraphType, HealthJson, HealthKind,
    HealthStatus, NodeWrapper, RateValue, RequestHealth, SeInfo, WorkloadStatus, build_graph,
    fixtures,
};

fn check(g: &CytoscapeGraph) {
    let expected = serde_json::to_vec(g).expect("serialises");
    let got = g.to_json_vec();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn bookinfo_graphs_match_serde_json() {
    let samples = fixtures::bookinfo_samples();
    let inv = fixtures::bookinfo_inventory();
    for graph_type in [
        GraphType::Workload,
        GraphType::App,
        GraphType::VersionedApp,
        GraphType::Service,
    ] {
        for inject in [false, true] {
            for boxes in [false, true] {
                let o = GraphOptions {
                    graph_type,
                    inject_service_nodes: inject,
                    include_idle_nodes: inject,
                    box_by: BoxBy {
                        cluster: boxes,
                        namespace: boxes,
                        app: boxes,
                    },
                    namespaces: vec!["bookinfo".to_string()],
                    query_time: 1_700_000_000,
                    ..GraphOptions::default()
                };
                check(&build_graph(&o, &samples, &inv).graph);
            }
        }
    }
}

#[test]
fn synthetic_mesh_matches_serde_json() {
    let (namespaces, inv, samples) = fixtures::synthetic_mesh(2, 10, 60, 2_000);
    let o = GraphOptions {
        graph_type: GraphType::Workload,
        namespaces: namespaces.into_iter().take(6).collect(),
        include_idle_nodes: true,
        query_time: 1,
        ..GraphOptions::default()
    };
    check(&build_graph(&o, &samples, &inv).graph);
}

#[test]
fn escaped_strings_and_rare_fields_match_serde_json() {
    let samples = fixtures::bookinfo_samples();
    let inv = fixtures::bookinfo_inventory();
    let o = GraphOptions {
        graph_type: GraphType::Workload,
        namespaces: vec!["bookinfo".to_string()],
        query_time: -5,
        ..GraphOptions::default()
    };
    let mut g = build_graph(&o, &samples, &inv).graph;
    let weird = "q\"uote\\back\nnl\ttab\u{1}ctl\u{7f}del é/ü \u{2028}";
    if let Some(NodeWrapper { data }) = g.elements.nodes.first_mut() {
        data.workload = weird.to_string();
        data.parent = Some(weird.to_string());
        data.health_data = Some(HealthJson::of(&EntityHealth {
            cluster: "east".to_string(),
            namespace: "ns".to_string(),
            name: weird.to_string(),
            kind: HealthKind::App,
            workload_statuses: vec![WorkloadStatus {
                name: weird.to_string(),
                desired_replicas: 2,
                current_replicas: 2,
                available_replicas: 1,
                synced_proxies: -1,
            }],
            requests: RequestHealth {
                inbound: BTreeMap::from([(
                    "http".to_string(),
                    BTreeMap::from([("200".to_string(), 2.5), ("-".to_string(), f64::NAN)]),
                )]),
                outbound: BTreeMap::new(),
                health_annotations: BTreeMap::from([(weird.to_string(), weird.to_string())]),
            },
            request_status: HealthStatus::Degraded,
            error_ratio: 12.5,
            status: HealthStatus::Degraded,
        }));
        data.has_health_config = Some(BTreeMap::from([(weird.to_string(), "x".to_string())]));
        data.is_inaccessible = true;
        data.is_service_entry = Some(SeInfo {
            hosts: vec![weird.to_string(), "a.example".to_string()],
            location: "MESH_EXTERNAL".to_string(),
            namespace: "ns".to_string(),
        });
    }
    if let Some(e) = g.elements.edges.first_mut() {
        e.data.source_principal = weird.to_string();
        e.data.dest_principal = "spiffe://cluster.local/ns/x/sa/y".to_string();
        e.data.throughput = Some(RateValue::Whole(12.4));
        e.data.response_time = Some(RateValue::Text("7".into()));
        e.data.is_mtls = Some(RateValue::Whole(99.5));
        e.data.traffic.rates.insert("http", weird.to_string());
        e.data.traffic.rates.insert("we\"ird", "1".to_string());
        e.data.traffic.protocol = "";
    }
    check(&g);
    check(&CytoscapeGraph {
        timestamp: i64::MIN,
        duration: i64::MAX,
        graph_type: "app",
        elements: Default::default(),
    });
}
