//! Golden tests on bookinfo split across east (productpage, details, reviews v1/v2) and west
//! (reviews v3, ratings). The traffic is in `fixtures::bookinfo_samples`; every expected number
//! below is worked out by hand from it. Snapshots pin the full output format.

use std::collections::BTreeMap;

use meshglass_engine::{
    BoxBy, CytoscapeGraph, GraphOptions, GraphType, HealthConfig, HealthKind, HealthReport,
    HealthRequest, HealthRules, HealthStatus, NodeData, RateRule, Tolerance, build_graph, fixtures,
    health,
};

fn opts(graph_type: GraphType) -> GraphOptions {
    GraphOptions {
        graph_type,
        inject_service_nodes: graph_type == GraphType::Service,
        namespaces: vec!["bookinfo".to_string()],
        query_time: 1_700_000_000,
        ..GraphOptions::default()
    }
}

fn graph(o: &GraphOptions) -> CytoscapeGraph {
    let r = build_graph(
        o,
        &fixtures::bookinfo_samples(),
        &fixtures::bookinfo_inventory(),
    );
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    r.graph
}

fn label(d: &NodeData) -> String {
    let name = if !d.is_box.is_empty() {
        format!(
            "{}-box:{}",
            d.is_box,
            if d.app.is_empty() {
                &d.namespace
            } else {
                &d.app
            }
        )
    } else if !d.service.is_empty() {
        format!("svc:{}", d.service)
    } else if !d.workload.is_empty() {
        format!("{}:{}", d.node_type, d.workload)
    } else if !d.app.is_empty() {
        format!("{}:{}", d.node_type, d.app)
    } else {
        d.node_type.to_string()
    };
    format!("{}/{}", d.cluster, name)
}

/// A readable, hand-checkable rendering: one line per node and per edge.
fn summary(g: &CytoscapeGraph) -> String {
    let by_id: BTreeMap<&str, &NodeData> = g
        .elements
        .nodes
        .iter()
        .map(|n| (n.data.id.as_str(), &n.data))
        .collect();
    let mut out = String::new();
    for n in &g.elements.nodes {
        let d = &n.data;
        let parent = d
            .parent
            .as_deref()
            .map(|p| label(by_id[p]))
            .unwrap_or_default();
        let rates: Vec<String> = d
            .traffic
            .iter()
            .flat_map(|t| t.rates.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        let mut flags = Vec::new();
        for (f, on) in [
            ("root", d.is_root),
            ("outside", d.is_outside),
            ("dead", d.is_dead),
            ("idle", d.is_idle),
        ] {
            if on {
                flags.push(f);
            }
        }
        out.push_str(&format!(
            "N {} [{}] {} {}\n",
            label(d),
            parent,
            rates.join(" "),
            flags.join(",")
        ));
    }
    let mut edges: Vec<String> = g
        .elements
        .edges
        .iter()
        .map(|e| {
            let d = &e.data;
            let rates: Vec<String> = d
                .traffic
                .rates
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!(
                "E {} -> {} {} {} mtls={}\n",
                label(by_id[d.source.as_str()]),
                label(by_id[d.target.as_str()]),
                d.traffic.protocol,
                rates.join(" "),
                d.is_mtls
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            )
        })
        .collect();
    edges.sort();
    out.extend(edges);
    out
}

fn edge_rate(g: &CytoscapeGraph, from: &str, to: &str, key: &str) -> Option<String> {
    let by_id: BTreeMap<&str, &NodeData> = g
        .elements
        .nodes
        .iter()
        .map(|n| (n.data.id.as_str(), &n.data))
        .collect();
    g.elements
        .edges
        .iter()
        .find(|e| {
            label(by_id[e.data.source.as_str()]) == from
                && label(by_id[e.data.target.as_str()]) == to
        })
        .and_then(|e| e.data.traffic.rates.get_str(key))
}

fn node<'g>(g: &'g CytoscapeGraph, l: &str) -> &'g NodeData {
    g.elements
        .nodes
        .iter()
        .map(|n| &n.data)
        .find(|d| label(d) == l)
        .unwrap_or_else(|| panic!("no node {l} in\n{}", summary(g)))
}

fn rate(d: &NodeData, key: &str) -> Option<String> {
    d.traffic.iter().find_map(|t| t.rates.get_str(key))
}

#[test]
fn workload_graph() {
    let g = graph(&opts(GraphType::Workload));
    assert_eq!(g.graph_type, "workload");
    assert_eq!(g.elements.nodes.len(), 7, "{}", summary(&g));
    assert_eq!(g.elements.edges.len(), 7);
    // productpage's outgoing series are reported twice (source and destination): counted once.
    let pp = node(&g, "east/workload:productpage-v1");
    assert_eq!(rate(pp, "httpIn").as_deref(), Some("10.00"));
    assert_eq!(rate(pp, "httpOut").as_deref(), Some("20.00"));
    let details = node(&g, "east/workload:details-v1");
    assert_eq!(rate(details, "httpIn5xx").as_deref(), Some("1.00"));
    assert_eq!(
        edge_rate(
            &g,
            "east/workload:productpage-v1",
            "east/workload:details-v1",
            "httpPercentErr"
        )
        .as_deref(),
        Some("10.0")
    );
    assert_eq!(
        edge_rate(
            &g,
            "east/workload:productpage-v1",
            "east/workload:details-v1",
            "httpPercentReq"
        )
        .as_deref(),
        Some("50.0")
    );
    // Cross-cluster edges.
    assert_eq!(
        edge_rate(
            &g,
            "east/workload:productpage-v1",
            "west/workload:reviews-v3",
            "http"
        )
        .as_deref(),
        Some("3.00")
    );
    assert_eq!(
        edge_rate(
            &g,
            "east/workload:reviews-v2",
            "west/workload:ratings-v1",
            "http"
        )
        .as_deref(),
        Some("3.00")
    );
    assert_eq!(
        rate(node(&g, "west/workload:ratings-v1"), "httpIn").as_deref(),
        Some("6.00")
    );
    assert_eq!(
        edge_rate(
            &g,
            "west/workload:reviews-v3",
            "west/workload:ratings-v1",
            "httpPercentErr"
        )
        .as_deref(),
        Some("33.3")
    );
    let unknown = node(&g, "unknown/unknown:unknown");
    assert!(unknown.is_root);
    assert!(!pp.is_root);
    assert!(
        g.elements.edges.iter().all(|e| e
            .data
            .is_mtls
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            == Some("100"))
    );
    insta::assert_snapshot!("workload", summary(&g));
    insta::assert_json_snapshot!("workload_json", g);
}

#[test]
fn node_ids_are_kiali_ids() {
    let g = graph(&opts(GraphType::Workload));
    // sha256("wl_east_bookinfo_productpage-v1"), as Kiali computes it.
    assert_eq!(
        node(&g, "east/workload:productpage-v1").id,
        "75e6bff154aefcf8a8dcf46396a6d897afb9ad7b256b70d7e2ea5a5e8ed98242"
    );
}

#[test]
fn app_graph_merges_versions_per_cluster() {
    let g = graph(&opts(GraphType::App));
    assert_eq!(g.elements.nodes.len(), 6, "{}", summary(&g));
    assert_eq!(g.elements.edges.len(), 6);
    // reviews v1+v2 are one node in east; reviews v3 is a separate node in west (namespace sameness).
    assert_eq!(
        rate(node(&g, "east/app:reviews"), "httpIn").as_deref(),
        Some("7.00")
    );
    assert_eq!(
        rate(node(&g, "west/app:reviews"), "httpIn").as_deref(),
        Some("3.00")
    );
    assert_eq!(
        edge_rate(&g, "east/app:reviews", "west/app:ratings", "http").as_deref(),
        Some("3.00")
    );
    insta::assert_snapshot!("app", summary(&g));
}

#[test]
fn versioned_app_graph_boxes_versions() {
    let g = graph(&opts(GraphType::VersionedApp));
    assert_eq!(g.elements.nodes.len(), 8, "{}", summary(&g));
    let bx = node(&g, "east/app-box:reviews");
    assert_eq!(bx.node_type, "box");
    for v in ["east/app:reviews-v1", "east/app:reviews-v2"] {
        assert_eq!(node(&g, v).parent.as_deref(), Some(bx.id.as_str()));
    }
    // a single member never gets a box
    assert!(node(&g, "west/app:reviews-v3").parent.is_none());
    assert_eq!(g.elements.nodes[0].data.is_box, "app", "boxes come first");
    insta::assert_snapshot!("versioned_app", summary(&g));
}

#[test]
fn service_graph() {
    let g = graph(&opts(GraphType::Service));
    assert_eq!(g.elements.nodes.len(), 6, "{}", summary(&g));
    assert_eq!(g.elements.edges.len(), 6);
    assert_eq!(
        edge_rate(&g, "east/svc:productpage", "east/svc:reviews", "http").as_deref(),
        Some("7.00")
    );
    assert_eq!(
        edge_rate(&g, "east/svc:productpage", "west/svc:reviews", "http").as_deref(),
        Some("3.00")
    );
    assert_eq!(
        edge_rate(&g, "east/svc:reviews", "west/svc:ratings", "http").as_deref(),
        Some("3.00")
    );
    assert_eq!(
        edge_rate(&g, "west/svc:reviews", "west/svc:ratings", "http").as_deref(),
        Some("3.00")
    );
    // the unknown source is kept as a root
    assert!(node(&g, "unknown/unknown:unknown").is_root);
    insta::assert_snapshot!("service", summary(&g));
}

#[test]
fn injected_service_nodes() {
    let o = GraphOptions {
        inject_service_nodes: true,
        ..opts(GraphType::Workload)
    };
    let g = graph(&o);
    // 7 workload/unknown nodes + 5 services (productpage, details, reviews@east, reviews@west, ratings)
    assert_eq!(g.elements.nodes.len(), 12, "{}", summary(&g));
    assert_eq!(
        edge_rate(
            &g,
            "east/workload:productpage-v1",
            "east/svc:reviews",
            "http"
        )
        .as_deref(),
        Some("7.00")
    );
    assert_eq!(
        edge_rate(
            &g,
            "east/svc:reviews",
            "east/workload:reviews-v1",
            "httpPercentReq"
        )
        .as_deref(),
        Some("57.1")
    );
    assert_eq!(
        edge_rate(&g, "west/svc:ratings", "west/workload:ratings-v1", "http").as_deref(),
        Some("6.00")
    );
    insta::assert_snapshot!("workload_injected", summary(&g));
}

#[test]
fn box_by_cluster() {
    let o = GraphOptions {
        box_by: BoxBy {
            cluster: true,
            ..BoxBy::default()
        },
        ..opts(GraphType::Workload)
    };
    let g = graph(&o);
    assert_eq!(g.elements.nodes.len(), 9, "{}", summary(&g));
    let east = node(&g, "east/cluster-box:");
    let west = node(&g, "west/cluster-box:");
    assert_eq!(
        node(&g, "east/workload:reviews-v2").parent.as_deref(),
        Some(east.id.as_str())
    );
    assert_eq!(
        node(&g, "west/workload:reviews-v3").parent.as_deref(),
        Some(west.id.as_str())
    );
    assert!(
        node(&g, "unknown/unknown:unknown").parent.is_none(),
        "unknown is never boxed"
    );
    insta::assert_snapshot!("box_cluster", summary(&g));
}

#[test]
fn box_by_namespace_and_app() {
    let o = GraphOptions {
        box_by: BoxBy {
            cluster: false,
            namespace: true,
            app: true,
        },
        ..opts(GraphType::Workload)
    };
    let g = graph(&o);
    // 7 nodes + app box (east reviews) + namespace boxes (east/bookinfo, west/bookinfo)
    assert_eq!(g.elements.nodes.len(), 10, "{}", summary(&g));
    let app_box = node(&g, "east/app-box:reviews");
    let east_ns = node(&g, "east/namespace-box:bookinfo");
    assert_eq!(
        app_box.parent.as_deref(),
        Some(east_ns.id.as_str()),
        "app boxes nest in namespace boxes"
    );
    assert_eq!(
        node(&g, "east/workload:reviews-v1").parent.as_deref(),
        Some(app_box.id.as_str())
    );
    insta::assert_snapshot!("box_namespace_app", summary(&g));
}

#[test]
fn outsiders_are_flagged() {
    let o = GraphOptions {
        namespaces: vec!["bookinfo".into()],
        ..opts(GraphType::Workload)
    };
    let g = graph(&o);
    assert!(g.elements.nodes.iter().all(|n| !n.data.is_outside));
    // Ask for another namespace: bookinfo traffic is out of scope entirely.
    let o = GraphOptions {
        namespaces: vec!["other".into()],
        ..opts(GraphType::Workload)
    };
    let g = graph(&o);
    assert!(g.elements.nodes.is_empty());
}

fn report(
    kind: HealthKind,
    rules: &HealthRules,
    inv: &meshglass_engine::MeshInventory,
) -> HealthReport {
    let req = HealthRequest {
        namespaces: vec!["bookinfo".into()],
        clusters: None,
        kinds: vec![kind],
    };
    health(&req, &fixtures::bookinfo_samples(), inv, rules)
}

fn statuses(r: &HealthReport) -> Vec<String> {
    r.entities
        .iter()
        .map(|e| format!("{}/{} {}", e.cluster, e.name, e.status.as_str()))
        .collect()
}

#[test]
fn workload_health() {
    let r = report(
        HealthKind::Workload,
        &HealthRules::default(),
        &fixtures::bookinfo_inventory(),
    );
    assert_eq!(
        statuses(&r),
        vec![
            "east/details-v1 Failure",      // inbound 1/10 = 10% 5xx ≥ 10
            "east/productpage-v1 Degraded", // outbound 1/20 = 5% 5xx > 0
            "east/reviews-v1 Healthy",
            "east/reviews-v2 Degraded", // 1 of 2 replicas available
            "west/ratings-v1 Failure",  // inbound 1/6 = 16.7%
            "west/reviews-v3 Failure",  // outbound 1/3 = 33.3%
        ]
    );
    let east = r
        .namespaces
        .iter()
        .find(|n| n.cluster == "east")
        .expect("east summary");
    assert_eq!(east.status, HealthStatus::Failure);
    assert_eq!(east.counts.get(&HealthStatus::Degraded), Some(&2));
    assert_eq!(east.counts.get(&HealthStatus::Healthy), Some(&1));
    insta::assert_json_snapshot!(
        "health_workload",
        r.to_kiali_json(HealthKind::Workload, Some("east"))
    );
}

#[test]
fn app_and_service_health() {
    let rules = HealthRules::default();
    let inv = fixtures::bookinfo_inventory();
    let apps = report(HealthKind::App, &rules, &inv);
    assert_eq!(
        statuses(&apps),
        vec![
            "east/details Failure",
            "east/productpage Degraded",
            "east/reviews Degraded", // worst of v1 Healthy, v2 Degraded
            "west/ratings Failure",
            "west/reviews Failure",
        ]
    );
    let svcs = report(HealthKind::Service, &rules, &inv);
    assert_eq!(
        statuses(&svcs),
        vec![
            "east/details Failure",
            "east/productpage Healthy",
            "east/reviews Healthy",
            "west/ratings Failure",
            "west/reviews Healthy",
        ]
    );
    // Merged over clusters (no cluster given): reviews = worst of east Degraded and west Failure.
    let merged = apps.to_kiali_json(HealthKind::App, None);
    assert_eq!(
        merged["namespaceAppHealth"]["bookinfo"]["reviews"]["status"]["status"],
        "Failure"
    );
    assert_eq!(
        merged["namespaceAppHealth"]["bookinfo"]["reviews"]["workloadStatuses"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

#[test]
fn annotation_and_rules_override_tolerances() {
    let mut inv = fixtures::bookinfo_inventory();
    // details-v1: 10% 5xx; with degraded 20 / failure 30 it is Healthy.
    std::sync::Arc::make_mut(&mut inv.clusters[0].workloads[1])
        .annotations
        .insert(
            "health.kiali.io/rate".into(),
            "5XX,20,30,http,inbound".into(),
        );
    let rules = HealthRules::new(&HealthConfig {
        rate: vec![RateRule {
            namespace: "bookinfo".into(),
            kind: "workload".into(),
            name: "ratings-.*".into(),
            tolerance: vec![Tolerance {
                code: "5XX".into(),
                degraded: 20.0,
                failure: 30.0,
                protocol: "http".into(),
                direction: ".*".into(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
    .expect("rules compile");
    let r = report(HealthKind::Workload, &rules, &inv);
    let s = statuses(&r);
    assert!(s.contains(&"east/details-v1 Healthy".to_string()), "{s:?}");
    assert!(s.contains(&"west/ratings-v1 Healthy".to_string()), "{s:?}");
    // reviews-v3 is not matched by the rule: defaults still apply.
    assert!(s.contains(&"west/reviews-v3 Failure".to_string()), "{s:?}");
    assert!(
        HealthRules::new(&HealthConfig {
            rate: vec![RateRule {
                namespace: "(".into(),
                kind: String::new(),
                name: String::new(),
                tolerance: vec![],
                ..Default::default()
            }],
            ..Default::default()
        })
        .is_err()
    );
}

#[test]
fn replica_rules() {
    use meshglass_engine::WorkloadStatus;
    let ws = |d, c, a| WorkloadStatus {
        name: "w".into(),
        desired_replicas: d,
        current_replicas: c,
        available_replicas: a,
        synced_proxies: -1,
    };
    assert_eq!(ws(0, 0, 0).status(), HealthStatus::NotReady);
    assert_eq!(ws(2, 2, 0).status(), HealthStatus::Failure);
    assert_eq!(ws(2, 2, 1).status(), HealthStatus::Degraded);
    assert_eq!(ws(2, 3, 2).status(), HealthStatus::Failure);
    assert_eq!(ws(2, 2, 2).status(), HealthStatus::Healthy);
}

/// Issue 22, point 7: nodes carried no istio badges at all. East has a VirtualService splitting
/// reviews over v1/v2 with a timeout and a fault, and a DestinationRule with a circuit breaker
/// on subset v2 only; west has a tcp-splitting VirtualService for ratings.
#[test]
fn istio_appender_badges_service_and_version_nodes() {
    use meshglass_engine::{ConfigObject, IstioKind, VsInfo};
    use serde_json::json;
    let obj = |kind, name: &str, spec| ConfigObject {
        kind,
        name: name.into(),
        namespace: "bookinfo".into(),
        version: "v1".into(),
        spec,
    };
    let mut inv = fixtures::bookinfo_inventory();
    inv.clusters[0].routing = vec![
        obj(
            IstioKind::VirtualService,
            "reviews",
            json!({"hosts": ["reviews"], "http": [{"timeout": "2s", "fault": {"abort": {"httpStatus": 500}},
                "route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 80},
                          {"destination": {"host": "reviews", "subset": "v2"}, "weight": 20}]}]}),
        ),
        obj(
            IstioKind::DestinationRule,
            "reviews",
            json!({"host": "reviews.bookinfo.svc.cluster.local", "subsets": [
                {"name": "v1", "labels": {"version": "v1"}},
                {"name": "v2", "labels": {"version": "v2"}, "trafficPolicy": {"connectionPool": {"http": {"http1MaxPendingRequests": 1}}}}]}),
        ),
    ];
    inv.clusters[1].routing = vec![obj(
        IstioKind::VirtualService,
        "ratings",
        json!({"hosts": ["ratings"], "tcp": [{"route": [
            {"destination": {"host": "ratings", "subset": "a"}, "weight": 50},
            {"destination": {"host": "ratings", "subset": "b"}, "weight": 50}]}]}),
    )];
    let mut o = opts(GraphType::Workload);
    o.inject_service_nodes = true;
    let r = build_graph(&o, &fixtures::bookinfo_samples(), &inv);
    let g = r.graph;
    let reviews = node(&g, "east/svc:reviews");
    assert_eq!(
        reviews.istio.has_vs,
        Some(VsInfo {
            hostnames: vec!["reviews".into()]
        })
    );
    let b = &reviews.istio;
    assert!(b.has_traffic_shifting && b.has_request_timeout && b.has_fault_injection);
    assert!(b.has_request_routing && !b.has_tcp_traffic_shifting && !b.has_mirroring);
    assert!(b.has_cb, "any subset's circuit breaker badges the service");
    assert!(node(&g, "east/workload:reviews-v2").istio.has_cb);
    assert!(!node(&g, "east/workload:reviews-v1").istio.has_cb);
    assert_eq!(node(&g, "east/svc:details").istio, Default::default());
    let ratings = node(&g, "west/svc:ratings");
    assert!(ratings.istio.has_tcp_traffic_shifting && !ratings.istio.has_traffic_shifting);

    // The writer the server sends and serde agree, with Kiali's names.
    let body: serde_json::Value = serde_json::from_slice(&g.to_json_vec()).unwrap();
    assert_eq!(body, serde_json::to_value(&g).unwrap());
    let n = body["elements"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["data"]["id"] == serde_json::json!(reviews.id.as_str()))
        .unwrap();
    for k in [
        "hasCB",
        "hasTrafficShifting",
        "hasRequestTimeout",
        "hasFaultInjection",
    ] {
        assert_eq!(n["data"][k], true, "{k}: {n}");
    }
    assert_eq!(n["data"]["hasVS"], json!({"hostnames": ["reviews"]}));

    // Without the appender, no badges.
    o.appenders = Some(vec![]);
    let g = build_graph(&o, &fixtures::bookinfo_samples(), &inv).graph;
    assert_eq!(node(&g, "east/svc:reviews").istio, Default::default());
}

/// Issue 22, point 4: a namespace that exists nowhere was left out of the body; Kiali answers
/// an empty entry for it.
#[test]
fn health_of_a_missing_namespace_is_an_empty_entry() {
    let req = HealthRequest {
        namespaces: vec!["bookinfo".into(), "no-such-ns".into()],
        clusters: None,
        kinds: vec![HealthKind::Service],
    };
    let r = health(
        &req,
        &fixtures::bookinfo_samples(),
        &fixtures::bookinfo_inventory(),
        &HealthRules::default(),
    );
    let body = r.to_kiali_json(HealthKind::Service, None);
    assert_eq!(
        body["namespaceServiceHealth"]["no-such-ns"],
        serde_json::json!({})
    );
    assert!(body["namespaceServiceHealth"]["bookinfo"]["reviews"].is_object());
}
