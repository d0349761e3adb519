//! One app rule for every view: a workload whose canonical-name label differs from its `app`
//! label is grouped under the canonical name by the app list, health and the graph alike, and a
//! configured `istio_labels.app_label_name` is read after Kiali's own labels.

use std::collections::BTreeMap;

use meshglass_engine::{
    AppLabels, Appender, ClusterInventory, GraphOptions, GraphType, HealthKind, HealthRequest,
    HealthRules, MeshInventory, NamespaceInfo, WorkloadInfo, apps, build_graph, health,
};

fn workload(labels: &[(&str, &str)], rules: &AppLabels) -> WorkloadInfo {
    let mut w = WorkloadInfo {
        name: "reviews-v1".into(),
        namespace: "bookinfo".into(),
        kind: "Deployment".into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        desired_replicas: 1,
        current_replicas: 1,
        available_replicas: 1,
        istio_sidecar: true,
        ..Default::default()
    };
    w.resolve_app(rules);
    w
}

fn mesh(w: WorkloadInfo) -> MeshInventory {
    MeshInventory {
        clusters: vec![ClusterInventory {
            name: "east".into(),
            namespaces: vec![NamespaceInfo {
                name: "bookinfo".into(),
                ..Default::default()
            }],
            workloads: vec![w.into()],
            ..Default::default()
        }],
    }
}

#[test]
fn canonical_name_wins_over_app_in_lists_health_and_graph() {
    let rules = AppLabels::default();
    let w = workload(
        &[
            ("app", "reviews-legacy"),
            ("version", "v1"),
            ("service.istio.io/canonical-name", "reviews"),
            ("service.istio.io/canonical-revision", "v1"),
        ],
        &rules,
    );
    assert_eq!((w.app(), w.version()), (Some("reviews"), Some("v1")));
    let inv = mesh(w);

    // The app list.
    let listed: Vec<String> = apps(&inv.clusters[0].workloads)
        .into_keys()
        .map(|(_, app)| app)
        .collect();
    assert_eq!(listed, vec!["reviews".to_string()]);

    // App health.
    let req = HealthRequest {
        namespaces: vec!["bookinfo".into()],
        clusters: None,
        kinds: vec![HealthKind::App],
    };
    let report = health(&req, &[], &inv, &HealthRules::default());
    let names: Vec<&str> = report
        .entities
        .iter()
        .filter(|e| e.kind == HealthKind::App)
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, vec!["reviews"]);

    // The graph: the idle node of the workload is the canonical app's.
    let opts = GraphOptions {
        graph_type: GraphType::App,
        namespaces: vec!["bookinfo".into()],
        include_idle_nodes: true,
        appenders: Some(vec![Appender::IdleNode]),
        query_time: 1_700_000_000,
        ..GraphOptions::default()
    };
    let g = build_graph(&opts, &[], &inv).graph;
    let graph_apps: Vec<&str> = g
        .elements
        .nodes
        .iter()
        .filter(|n| n.data.is_box.is_empty())
        .map(|n| n.data.app.as_str())
        .collect();
    assert_eq!(graph_apps, vec!["reviews"], "{:?}", g.elements.nodes);
}

#[test]
fn configured_labels_follow_kiali_order() {
    let rules = AppLabels::configured("team-app", "team-version");
    let w = workload(&[("team-app", "ratings"), ("team-version", "v2")], &rules);
    assert_eq!((w.app(), w.version()), (Some("ratings"), Some("v2")));
    let w = workload(&[("team-app", "ratings"), ("app", "reviews")], &rules);
    assert_eq!(w.app(), Some("reviews"));
    assert_eq!(
        workload(&[("team-app", "x")], &AppLabels::default()).app(),
        None
    );
}
