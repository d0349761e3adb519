//! Node health: every graph node's `healthData` is the entry `/api/clusters/health` answers for
//! its object in its cluster (the same [`health`] report), in every graph type; and a workload
//! with 20 % 5xx is a Failure in the graph and in the health list alike.

use meshglass_engine::{
    BoxBy, CytoscapeGraph, Family, GraphOptions, GraphType, HealthKind, HealthReport,
    HealthRequest, HealthRules, Sample, add_node_health, build_graph, fixtures, health,
};
use serde_json::Value;

fn report(samples: &[Sample]) -> HealthReport {
    let req = HealthRequest {
        namespaces: vec!["bookinfo".into()],
        clusters: None,
        kinds: Vec::new(),
    };
    health(
        &req,
        samples,
        &fixtures::bookinfo_inventory(),
        &HealthRules::default(),
    )
}

fn graph(o: &GraphOptions, samples: &[Sample], r: &HealthReport) -> CytoscapeGraph {
    let mut g = build_graph(o, samples, &fixtures::bookinfo_inventory()).graph;
    add_node_health(&mut g, &[r]);
    g
}

/// `/api/clusters/health?type=<kind>&clusterName=<cluster>`'s entry for `name`.
fn listed(r: &HealthReport, kind: HealthKind, cluster: &str, name: &str) -> Value {
    let key = match kind {
        HealthKind::App => "namespaceAppHealth",
        HealthKind::Service => "namespaceServiceHealth",
        HealthKind::Workload => "namespaceWorkloadHealth",
    };
    r.to_kiali_json(kind, Some(cluster))[key]["bookinfo"][name].clone()
}

#[test]
fn every_node_shows_the_health_the_list_shows() {
    let samples = fixtures::bookinfo_samples();
    let r = report(&samples);
    for (graph_type, inject, box_app) in [
        (GraphType::Workload, false, false),
        (GraphType::Workload, true, false),
        (GraphType::App, false, false),
        (GraphType::VersionedApp, false, true),
        (GraphType::Service, true, false),
    ] {
        let o = GraphOptions {
            graph_type,
            inject_service_nodes: inject,
            box_by: BoxBy {
                app: box_app,
                ..BoxBy::default()
            },
            namespaces: vec!["bookinfo".into()],
            query_time: 1_700_000_000,
            ..GraphOptions::default()
        };
        let g = graph(&o, &samples, &r);
        let mut with_health = 0;
        for n in &g.elements.nodes {
            let d = &n.data;
            let expected = match (d.node_type, d.is_box) {
                ("unknown", _) | ("box", "cluster" | "namespace") => Value::Null,
                ("box", "app") => listed(&r, HealthKind::App, &d.cluster, &d.app),
                ("workload", _) => listed(&r, HealthKind::Workload, &d.cluster, &d.workload),
                ("app", _) if !d.workload.is_empty() => {
                    listed(&r, HealthKind::Workload, &d.cluster, &d.workload)
                }
                ("app", _) => listed(&r, HealthKind::App, &d.cluster, &d.app),
                ("service", _) => listed(&r, HealthKind::Service, &d.cluster, &d.service),
                other => panic!("unexpected node {other:?}"),
            };
            let got = d.health_data.as_ref().map_or(Value::Null, |h| h.to_value());
            assert_eq!(got, expected, "{graph_type:?} node {d:?}");
            if !got.is_null() {
                with_health += 1;
            }
        }
        assert!(
            with_health >= 4,
            "{graph_type:?}: {with_health} nodes with health"
        );
        // Both writers agree.
        assert_eq!(
            g.to_json_vec(),
            serde_json::to_vec(&g).unwrap(),
            "{graph_type:?}"
        );
    }
}

#[test]
fn twenty_percent_5xx_is_a_failure_in_graph_and_list() {
    let s = |code: &'static str| fixtures::Series {
        reporter: "destination",
        src: ("east", "bookinfo", "productpage-v1", "productpage", "v1"),
        dst: (
            "east",
            "bookinfo",
            "details",
            "bookinfo",
            "details-v1",
            "details",
            "v1",
        ),
        protocol: "http",
        code,
        flags: "-",
        security: "mutual_tls",
    };
    let samples = vec![
        s("200").sample(Family::RequestsTotal, 8.0),
        s("503").sample(Family::RequestsTotal, 2.0),
    ];
    let r = report(&samples);
    let listed = listed(&r, HealthKind::Workload, "east", "details-v1");
    assert_eq!(listed["status"]["status"], "Failure", "{listed}");
    assert_eq!(listed["status"]["errorRatio"], 20.0, "{listed}");
    let o = GraphOptions {
        namespaces: vec!["bookinfo".into()],
        query_time: 1_700_000_000,
        ..GraphOptions::default()
    };
    let g = graph(&o, &samples, &r);
    let node = g
        .elements
        .nodes
        .iter()
        .find(|n| n.data.workload == "details-v1")
        .unwrap();
    let h = node.data.health_data.as_ref().unwrap().to_value();
    assert_eq!(h["status"]["status"], "Failure", "{h}");
    assert_eq!(h, listed);
    // The caller of details is healthy: its outbound errors are the callee's.
    let pp = g
        .elements
        .nodes
        .iter()
        .find(|n| n.data.workload == "productpage-v1")
        .unwrap();
    assert_ne!(
        pp.data.health_data.as_ref().unwrap().to_value()["status"]["status"],
        "Failure"
    );
}

#[test]
fn without_a_report_health_stays_null() {
    let samples = fixtures::bookinfo_samples();
    let o = GraphOptions {
        namespaces: vec!["bookinfo".into()],
        ..GraphOptions::default()
    };
    let g = build_graph(&o, &samples, &fixtures::bookinfo_inventory()).graph;
    assert!(
        g.elements
            .nodes
            .iter()
            .all(|n| n.data.health_data.is_none())
    );
}
