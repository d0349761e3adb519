//! Property tests: structural soundness of the graph, conservation of traffic, determinism under
//! reordering, health monotonicity, and robustness against garbage input.

use std::collections::HashSet;

use meshglass_engine::{
    BoxBy, Family, GraphOptions, GraphType, HealthKind, HealthRequest, HealthRules, HealthStatus,
    IstioLabels, Label, MeshInventory, Sample, build_graph, fixtures, health,
};
use proptest::prelude::*;

const CLUSTERS: [&str; 3] = ["east", "west", "north"];
const NAMESPACES: [&str; 3] = ["bookinfo", "shop", "other"];
const WORKLOADS: [&str; 4] = ["a-v1", "a-v2", "b-v1", "c-v1"];
const CODES: [&str; 6] = ["200", "302", "404", "500", "503", "0"];

/// A valid destination-reported HTTP request series between two workloads.
fn valid_sample() -> impl Strategy<Value = Sample> {
    (
        0..3usize,
        0..2usize,
        0..4usize,
        0..3usize,
        0..2usize,
        0..4usize,
        0..6usize,
        1..40u32,
    )
        .prop_map(|(sc, sns, swl, dc, dns, dwl, code, quarters)| {
            let app = |w: &str| w.split('-').next().unwrap_or("x").to_string();
            let ver = |w: &str| w.split('-').nth(1).unwrap_or("v1").to_string();
            let (swl, dwl) = (WORKLOADS[swl], WORKLOADS[dwl]);
            let dsvc = app(dwl);
            Sample::new(
                Family::RequestsTotal,
                [
                    ("reporter", "destination".to_string()),
                    ("source_cluster", CLUSTERS[sc].to_string()),
                    ("source_workload_namespace", NAMESPACES[sns].to_string()),
                    ("source_workload", swl.to_string()),
                    ("source_canonical_service", app(swl)),
                    ("source_canonical_revision", ver(swl)),
                    ("destination_cluster", CLUSTERS[dc].to_string()),
                    ("destination_service_namespace", NAMESPACES[dns].to_string()),
                    (
                        "destination_service",
                        format!("{dsvc}.{}.svc.cluster.local", NAMESPACES[dns]),
                    ),
                    ("destination_service_name", dsvc.clone()),
                    (
                        "destination_workload_namespace",
                        NAMESPACES[dns].to_string(),
                    ),
                    ("destination_workload", dwl.to_string()),
                    ("destination_canonical_service", app(dwl)),
                    ("destination_canonical_revision", ver(dwl)),
                    ("request_protocol", "http".to_string()),
                    ("response_code", CODES[code].to_string()),
                    ("response_flags", "-".to_string()),
                ],
                f64::from(quarters) * 0.25,
            )
        })
}

fn garbage_str() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(String::new())),
        Just(Some("unknown".to_string())),
        Just(Some("10.1.2.3:8080".to_string())),
        Just(Some("PassthroughCluster".to_string())),
        "[a-z.\\-_ *\"\\\\]{0,12}".prop_map(Some),
        prop::sample::select(vec![
            "east", "bookinfo", "a-v1", "a", "v1", "http", "grpc", "tcp", "200", "0", "-"
        ])
        .prop_map(|s| Some(s.to_string())),
    ]
}

fn garbage_sample() -> impl Strategy<Value = Sample> {
    let labels = prop::collection::vec(garbage_str(), 22);
    let value = prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-1.0),
        Just(0.0),
        0.0..100.0f64,
    ];
    (
        0..Family::ALL.len(),
        labels,
        value,
        prop::sample::select(vec!["source", "destination", "waypoint", ""]),
    )
        .prop_map(|(f, l, value, reporter)| {
            let mut it = l.into_iter();
            let mut n = || it.next().flatten();
            let mut labels = IstioLabels::default();
            labels.put(Label::Reporter, Some(reporter));
            for label in &Label::ALL[1..] {
                labels.put(*label, n().as_deref());
            }
            Sample {
                family: Family::ALL[f],
                labels,
                value,
            }
        })
}

fn options() -> impl Strategy<Value = GraphOptions> {
    (
        prop::sample::select(vec![
            GraphType::App,
            GraphType::VersionedApp,
            GraphType::Workload,
            GraphType::Service,
        ]),
        any::<bool>(),
        any::<(bool, bool, bool)>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(graph_type, inject, (c, n, a), idle_edges, idle_nodes)| GraphOptions {
                graph_type,
                inject_service_nodes: inject || graph_type == GraphType::Service,
                box_by: BoxBy {
                    cluster: c,
                    namespace: n,
                    app: a,
                },
                include_idle_edges: idle_edges,
                include_idle_nodes: idle_nodes,
                namespaces: vec!["bookinfo".to_string(), "shop".to_string()],
                query_time: 1_700_000_000,
                ..GraphOptions::default()
            },
        )
}

fn inventory() -> MeshInventory {
    fixtures::bookinfo_inventory()
}

fn check_structure(g: &meshglass_engine::CytoscapeGraph) -> Result<(), TestCaseError> {
    let ids: HashSet<&str> = g
        .elements
        .nodes
        .iter()
        .map(|n| n.data.id.as_str())
        .collect();
    prop_assert_eq!(ids.len(), g.elements.nodes.len(), "node ids are unique");
    for e in &g.elements.edges {
        prop_assert!(
            ids.contains(e.data.source.as_str()),
            "edge source {} missing",
            e.data.source
        );
        prop_assert!(
            ids.contains(e.data.target.as_str()),
            "edge target {} missing",
            e.data.target
        );
    }
    for n in &g.elements.nodes {
        if let Some(p) = &n.data.parent {
            prop_assert!(ids.contains(p.as_str()), "parent {} missing", p);
        }
    }
    let edge_ids: HashSet<&str> = g
        .elements
        .edges
        .iter()
        .map(|e| e.data.id.as_str())
        .collect();
    prop_assert_eq!(
        edge_ids.len(),
        g.elements.edges.len(),
        "edge ids are unique"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn every_edge_joins_existing_nodes(samples in prop::collection::vec(valid_sample(), 0..60), o in options()) {
        let r = build_graph(&o, &samples, &inventory());
        check_structure(&r.graph)?;
    }

    #[test]
    fn edge_rates_sum_to_the_reported_samples(samples in prop::collection::vec(valid_sample(), 1..60)) {
        // Workload graph, no injection: every in-scope destination-reported sample lands on exactly one edge.
        let o = GraphOptions {
            graph_type: GraphType::Workload,
            namespaces: vec!["bookinfo".to_string(), "shop".to_string()],
            appenders: Some(vec![]),
            ..GraphOptions::default()
        };
        let r = build_graph(&o, &samples, &inventory());
        let expected: f64 = samples
            .iter()
            .filter(|s| matches!(s.labels.destination_workload_namespace(), Some("bookinfo" | "shop")))
            .map(|s| s.value)
            .sum();
        let got: f64 = r
            .graph
            .elements
            .edges
            .iter()
            .filter_map(|e| e.data.traffic.rates.get("http"))
            .map(|v| v.to_string().parse::<f64>().unwrap_or(f64::NAN))
            .sum();
        prop_assert!((expected - got).abs() < 1e-6, "expected {expected}, edges sum to {got}");
        prop_assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    }

    #[test]
    fn ids_and_output_are_stable_under_reordering(
        samples in prop::collection::vec(valid_sample(), 0..40),
        o in options(),
        seed in any::<u64>(),
    ) {
        let a = serde_json::to_string(&build_graph(&o, &samples, &inventory()).graph).unwrap_or_default();
        let mut shuffled = samples.clone();
        // Fisher–Yates with a small xorshift, seeded by proptest.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let b = serde_json::to_string(&build_graph(&o, &shuffled, &inventory()).graph).unwrap_or_default();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn health_is_never_better_than_its_worst_component(
        samples in prop::collection::vec(valid_sample(), 0..60),
        replicas in prop::collection::vec((0..3i32, 0..3i32, 0..3i32), 6),
    ) {
        let mut inv = inventory();
        let mut it = replicas.into_iter();
        for c in &mut inv.clusters {
            for w in &mut c.workloads {
                if let Some((d, cur, a)) = it.next() {
                    let w = std::sync::Arc::make_mut(w);
                    w.desired_replicas = d;
                    w.current_replicas = cur;
                    w.available_replicas = a;
                }
            }
        }
        let req = HealthRequest { namespaces: vec!["bookinfo".into()], clusters: None, kinds: vec![] };
        let r = health(&req, &samples, &inv, &HealthRules::default());
        for e in &r.entities {
            prop_assert!(e.status >= e.request_status);
            for w in &e.workload_statuses {
                prop_assert!(e.status >= w.status(), "{:?} better than workload {:?}", e.status, w);
            }
        }
        for n in &r.namespaces {
            for e in r.entities.iter().filter(|e| e.cluster == n.cluster && e.namespace == n.namespace && e.kind == n.kind) {
                prop_assert!(n.status >= e.status);
            }
        }
        for kind in [HealthKind::App, HealthKind::Service, HealthKind::Workload] {
            let merged = r.to_kiali_json(kind, None);
            prop_assert!(merged.is_object());
        }
        prop_assert!(HealthStatus::Failure > HealthStatus::Degraded && HealthStatus::Degraded > HealthStatus::NotReady);
    }

    #[test]
    fn garbage_never_panics(
        samples in prop::collection::vec(garbage_sample(), 0..80),
        o in options(),
    ) {
        let r = build_graph(&o, &samples, &inventory());
        check_structure(&r.graph)?;
        let _ = serde_json::to_string(&r.graph);
        let bad_values = samples.iter().any(|s| !s.value.is_finite() && s.family == Family::RequestsTotal
            && matches!(s.labels.reporter(), Some("source" | "destination")));
        let h = health(
            &HealthRequest { namespaces: vec!["bookinfo".into()], clusters: None, kinds: vec![] },
            &samples,
            &inventory(),
            &HealthRules::default(),
        );
        if bad_values {
            prop_assert!(h.diagnostics.iter().any(|d| d.kind == "non_finite_value"));
        }
    }
}

#[test]
fn bad_input_is_reported_not_fatal() {
    let mut samples = fixtures::bookinfo_samples();
    let good = samples.len();
    let mut nan = samples[0].clone();
    nan.value = f64::NAN;
    let mut missing = samples[1].clone();
    missing.labels.put(Label::DestinationWorkload, None);
    let mut proto = samples[2].clone();
    proto
        .labels
        .put(Label::RequestProtocol, Some("carrier-pigeon"));
    samples.extend([nan, missing, proto]);
    let o = GraphOptions {
        namespaces: vec!["bookinfo".into()],
        ..GraphOptions::default()
    };
    let r = build_graph(&o, &samples, &inventory());
    let kinds: Vec<&str> = r.diagnostics.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        vec!["missing_label", "non_finite_value", "unknown_protocol"],
        "{:?}",
        r.diagnostics
    );
    assert!(
        r.diagnostics
            .iter()
            .all(|d| d.count == 1 && !d.example.is_empty())
    );
    assert_eq!(
        r.graph.elements.edges.len(),
        7,
        "the {good} good samples still make the graph"
    );
}
