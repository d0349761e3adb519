use super::*;

fn ns(name: &str, labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> NamespaceInfo {
    NamespaceInfo {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        annotations: annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn istiod(name: &str, rev: Option<&str>, available: i32) -> Component {
    let mut labels = BTreeMap::from([("app".to_string(), "istiod".to_string())]);
    if let Some(r) = rev {
        labels.insert("istio.io/rev".into(), r.into());
    }
    Component {
        name: name.into(),
        namespace: "istio-system".into(),
        labels,
        desired_replicas: 1,
        current_replicas: 1,
        available_replicas: available,
        cluster_id: Some("id-".to_string() + name),
        image: Some("docker.io/istio/pilot:1.24.2".into()),
    }
}

fn cluster(name: &str, istiods: Vec<Component>, namespaces: Vec<NamespaceInfo>) -> MeshCluster {
    MeshCluster {
        cluster: KubeCluster {
            accessible: true,
            name: name.into(),
            is_kiali_home: name == "east",
            ..Default::default()
        },
        istio_namespace: namespaces
            .iter()
            .find(|n| n.name == "istio-system")
            .cloned(),
        istiods,
        gateways: Vec::new(),
        namespaces,
    }
}

fn injected(name: &str) -> NamespaceInfo {
    ns(name, &[("istio-injection", "enabled")], &[])
}

fn input(clusters: Vec<MeshCluster>) -> MeshInput {
    MeshInput {
        istio_namespace: "istio-system".into(),
        clusters,
        kiali: Some((
            "east".into(),
            KialiInstance {
                namespace: "istio-system".into(),
                service_name: "kiali".into(),
                ..Default::default()
            },
        )),
        metric_store: Some(MetricStore {
            location: None,
            healthy: true,
            info: json!({}),
        }),
        trace_store: None,
        grafana: None,
    }
}

fn primary_remote() -> MeshInput {
    input(vec![
        cluster(
            "east",
            vec![istiod("istiod", None, 1)],
            vec![ns("istio-system", &[], &[]), injected("bookinfo")],
        ),
        cluster(
            "west",
            vec![],
            vec![
                ns("istio-system", &[], &[(CONTROL_PLANE_CLUSTERS, "east")]),
                injected("bookinfo"),
                ns("plain", &[], &[]),
            ],
        ),
    ])
}

fn nodes<'a>(g: &'a MeshGraph, kind: &str) -> Vec<&'a MeshNodeData> {
    g.elements
        .nodes
        .iter()
        .map(|n| &n.data)
        .filter(|n| n.infra_type == kind)
        .collect()
}

fn has_edge(g: &MeshGraph, from: &str, to: &str) -> bool {
    g.elements
        .edges
        .iter()
        .any(|e| e.data.source == from && e.data.target == to)
}

#[test]
fn one_primary_manages_its_remote_and_both_data_planes() {
    let cps = control_planes(&primary_remote());
    assert_eq!(cps.len(), 1);
    let cp = &cps[0];
    assert_eq!(
        (
            cp.istiod_name.as_str(),
            cp.revision.as_str(),
            cp.version.version.as_str()
        ),
        ("istiod", "default", "1.24.2")
    );
    let managed: Vec<&str> = cp
        .managed_clusters
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(managed, ["east", "west"]);
    assert!(cp.manages_external);
    let namespaces: Vec<(&str, &str)> = cp
        .managed_namespaces
        .iter()
        .map(|n| (n.cluster.as_str(), n.name.as_str()))
        .collect();
    assert_eq!(namespaces, [("east", "bookinfo"), ("west", "bookinfo")]);
    assert_eq!(cp.id, "id-istiod");
    assert_eq!(cp.status, "Healthy");

    let g = mesh_graph(&primary_remote(), 7);
    let istiods = nodes(&g, "istiod");
    assert_eq!(istiods.len(), 1);
    let planes = nodes(&g, "dataplane");
    assert_eq!(planes.len(), 2);
    for dp in &planes {
        assert!(has_edge(&g, &istiods[0].id, &dp.id), "istiod → {dp:?}");
        let boxed = nodes(&g, "cluster")
            .into_iter()
            .find(|c| c.id == dp.parent)
            .expect("data plane in a cluster box");
        assert_eq!(boxed.cluster, dp.cluster);
        assert_eq!(dp.infra_data[0]["name"], "bookinfo");
        assert_eq!(dp.version, "default");
    }
    // istiod and the console sit in istio-system's box inside east's.
    let ns_box = nodes(&g, "namespace")
        .into_iter()
        .find(|n| n.id == istiods[0].parent)
        .expect("namespace box");
    assert_eq!(
        (ns_box.cluster.as_str(), ns_box.infra_name.as_str()),
        ("east", "istio-system")
    );
    let kiali = &nodes(&g, "kiali")[0];
    assert!(has_edge(&g, &kiali.id, &istiods[0].id));
    // Parents come before their children (Kiali's kiali-1258).
    let pos = |id: &str| g.elements.nodes.iter().position(|n| n.data.id == id);
    for n in &g.elements.nodes {
        if !n.data.parent.is_empty() {
            assert!(pos(&n.data.parent) < pos(&n.data.id), "{n:?}");
        }
    }
}

#[test]
fn three_primaries_each_manage_their_own_cluster() {
    let clusters = ["east", "west", "third"]
        .iter()
        .map(|c| {
            cluster(
                c,
                vec![istiod("istiod", None, 1)],
                vec![ns("istio-system", &[], &[]), injected("helloworld")],
            )
        })
        .collect();
    let cps = control_planes(&input(clusters));
    assert_eq!(cps.len(), 3);
    for cp in &cps {
        let managed: Vec<&str> = cp
            .managed_clusters
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(managed, [cp.cluster.name.as_str()]);
        assert!(!cp.manages_external);
        assert_eq!(cp.managed_namespaces.len(), 1);
        assert_eq!(cp.managed_namespaces[0].cluster, cp.cluster.name);
    }
}

#[test]
fn revisions_split_the_data_plane() {
    let east = cluster(
        "east",
        vec![
            istiod("istiod", None, 1),
            istiod("istiod-canary", Some("canary"), 1),
        ],
        vec![
            ns("istio-system", &[], &[]),
            injected("old"),
            ns("new", &[("istio.io/rev", "canary")], &[]),
            ns("off", &[("istio-injection", "disabled")], &[]),
            ns("mesh", &[("istio.io/dataplane-mode", "ambient")], &[]),
        ],
    );
    let cps = control_planes(&input(vec![east]));
    let by_rev: BTreeMap<&str, Vec<&str>> = cps
        .iter()
        .map(|cp| {
            (
                cp.revision.as_str(),
                cp.managed_namespaces
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        by_rev,
        BTreeMap::from([("canary", vec!["new"]), ("default", vec!["mesh", "old"])])
    );
    let g = mesh_graph(&input(cps_input_again()), 0);
    assert_eq!(nodes(&g, "dataplane").len(), 2);
}

fn cps_input_again() -> Vec<MeshCluster> {
    vec![cluster(
        "east",
        vec![
            istiod("istiod", None, 1),
            istiod("istiod-canary", Some("canary"), 1),
        ],
        vec![
            ns("istio-system", &[], &[]),
            injected("old"),
            ns("new", &[("istio.io/rev", "canary")], &[]),
        ],
    )]
}

#[test]
fn an_unreachable_cluster_is_a_box_that_says_so() {
    let mut i = primary_remote();
    i.clusters.push(MeshCluster {
        cluster: KubeCluster {
            accessible: false,
            name: "gone".into(),
            error: Some("connection refused".into()),
            ..Default::default()
        },
        ..Default::default()
    });
    let g = mesh_graph(&i, 0);
    let gone = nodes(&g, "cluster")
        .into_iter()
        .find(|c| c.cluster == "gone")
        .expect("box of the unreachable cluster");
    assert_eq!(gone.health_data.as_deref(), Some("Unreachable"));
    assert!(gone.is_inaccessible);
    assert_eq!(gone.infra_data["accessible"], false);
    // The rest is unchanged.
    assert_eq!(nodes(&g, "istiod").len(), 1);
    assert_eq!(nodes(&g, "dataplane").len(), 2);
}

/// BEYOND Kiali: a primary a remote names in `controlPlaneClusters` that the console has no
/// remote secret for is a box flagged `missingRemoteSecret`, saying who names it.
#[test]
fn a_named_primary_without_a_remote_secret_is_flagged() {
    // The console reads only west, whose Istio namespace names east (and `*`, which names
    // no cluster in particular).
    let mut i = primary_remote();
    i.clusters.retain(|c| c.cluster.name == "west");
    if let Some(ns) = i.clusters[0].istio_namespace.as_mut() {
        ns.annotations
            .insert(CONTROL_PLANE_CLUSTERS.into(), "east, *".into());
    }
    assert_eq!(
        clusters_without_secret(&i),
        [("east".to_string(), "west".to_string())].into()
    );
    let g = mesh_graph(&i, 0);
    let east = nodes(&g, "cluster")
        .into_iter()
        .find(|c| c.cluster == "east")
        .expect("a box for the named primary");
    assert!(east.is_inaccessible);
    assert_eq!(east.infra_data["missingRemoteSecret"], true);
    assert_eq!(east.infra_data["accessible"], false);
    let why = east.infra_data["error"].as_str().unwrap();
    assert!(
        why.contains("west") && why.contains(CONTROL_PLANE_CLUSTERS),
        "{why}"
    );
    // With east's secret (east among the clusters) nothing is flagged.
    let g = mesh_graph(&primary_remote(), 0);
    assert!(clusters_without_secret(&primary_remote()).is_empty());
    assert!(
        nodes(&g, "cluster")
            .iter()
            .all(|c| c.infra_data.get("missingRemoteSecret").is_none())
    );
}

#[test]
fn a_hidden_istio_namespace_hides_its_control_plane() {
    let mut i = primary_remote();
    i.clusters[0].istio_namespace = None;
    assert!(control_planes(&i).is_empty());
    assert!(nodes(&mesh_graph(&i, 0), "istiod").is_empty());
    assert!(component_statuses(&i).iter().all(|c| c.cluster != "east"));
}

/// The tracing store and Grafana are infrastructure nodes linked from this console, as Kiali's
/// mesh page shows them: each where its URL places it (else in `External Deployments`), with
/// its reachability, and an add-on in `/api/istio/status`.
#[test]
fn tracing_and_grafana_are_infra_nodes_with_their_reachability() {
    let mut i = primary_remote();
    i.trace_store = Some((
        "jaeger".into(),
        MetricStore {
            location: Some(("east".into(), "istio-system".into())),
            healthy: true,
            info: json!({"IsCore": false}),
        },
    ));
    i.grafana = Some(MetricStore {
        location: None,
        healthy: false,
        info: json!({}),
    });
    let g = mesh_graph(&i, 0);
    let kiali = nodes(&g, "kiali")[0].id.clone();
    let jaeger = nodes(&g, "traceStore");
    assert_eq!(jaeger.len(), 1);
    let j = jaeger[0];
    assert_eq!(
        (
            j.infra_name.as_str(),
            j.cluster.as_str(),
            j.namespace.as_str()
        ),
        ("jaeger", "east", "istio-system")
    );
    assert_eq!(j.health_data.as_deref(), Some("Healthy"));
    assert!(!j.is_external);
    assert!(has_edge(&g, &kiali, &j.id));
    let grafana = nodes(&g, "grafana");
    assert_eq!(grafana.len(), 1);
    let gr = grafana[0];
    assert_eq!(gr.infra_name, "Grafana");
    assert_eq!(gr.cluster, EXTERNAL);
    assert_eq!(gr.health_data.as_deref(), Some("Unreachable"));
    assert!(gr.is_external && has_edge(&g, &kiali, &gr.id));
    let statuses: Vec<(String, String)> = component_statuses(&i)
        .into_iter()
        .filter(|c| !c.is_core)
        .map(|c| (c.name, c.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("prometheus".to_string(), "Healthy".to_string()),
            ("tracing".to_string(), "Healthy".to_string()),
            ("grafana".to_string(), "Unreachable".to_string()),
        ]
    );
}

#[test]
fn component_statuses_follow_kialis_rules() {
    let mut i = primary_remote();
    i.clusters[0].istiods[0].available_replicas = 0;
    let mut gw = istiod("istio-ingressgateway", None, 1);
    gw.labels = BTreeMap::from([("app".into(), "istio-ingressgateway".into())]);
    gw.desired_replicas = 2;
    gw.current_replicas = 2;
    i.clusters[0].gateways.push(gw);
    i.clusters.push(cluster(
        "lonely",
        vec![],
        vec![ns("istio-system", &[], &[])],
    ));
    i.metric_store.as_mut().expect("store").healthy = false;
    let got: Vec<(String, String, String)> = component_statuses(&i)
        .into_iter()
        .map(|c| (c.cluster, c.name, c.status))
        .collect();
    let want: Vec<(String, String, String)> = [
        ("east", "istio-ingressgateway", "Unhealthy"),
        ("east", "istiod", "NotReady"),
        ("lonely", "istiod", "NotFound"),
        ("", "prometheus", "Unreachable"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    // west is managed by east's istiod: no NotFound for it.
    assert_eq!(got, want);
    let g = mesh_graph(&i, 0);
    let prom = &nodes(&g, "metricStore")[0];
    assert_eq!(prom.health_data.as_deref(), Some("Unreachable"));
    assert_eq!(prom.cluster, EXTERNAL);
    assert!(prom.is_external);
    assert!(nodes(&g, "cluster").iter().any(|c| c.cluster == EXTERNAL
        && c.infra_name == "External Deployments"
        && c.id == prom.parent));
}

#[test]
fn a_metric_store_in_the_mesh_sits_in_its_namespace() {
    let mut i = primary_remote();
    i.metric_store.as_mut().expect("store").location = Some(("east".into(), "monitoring".into()));
    let g = mesh_graph(&i, 0);
    let prom = &nodes(&g, "metricStore")[0];
    assert_eq!(
        (prom.cluster.as_str(), prom.namespace.as_str()),
        ("east", "monitoring")
    );
    assert!(!prom.is_external);
    assert!(nodes(&g, "cluster").iter().all(|c| c.cluster != EXTERNAL));
}

#[test]
fn names_images_and_urls() {
    let none = BTreeMap::new();
    assert!(is_istiod("istiod", &none));
    assert!(is_istiod("istiod-basic", &none));
    assert!(!is_istiod("prometheus", &none));
    assert!(is_istiod(
        "pilot",
        &BTreeMap::from([("app".into(), "istiod".into())])
    ));
    assert_eq!(
        image_version("docker.io/istio/pilot:1.24.2").as_deref(),
        Some("1.24.2")
    );
    assert_eq!(image_version("localhost:5000/pilot").as_deref(), None);
    assert_eq!(
        image_version("gcr.io/istio-release/pilot:1.25.0-distroless@sha256:ab").as_deref(),
        Some("1.25.0-distroless")
    );
    assert_eq!(
        url_service("http://prometheus.istio-system:9090"),
        Some(("prometheus".into(), "istio-system".into()))
    );
    assert_eq!(
        url_service("https://thanos.monitoring.svc.cluster.local/api"),
        Some(("thanos".into(), "monitoring".into()))
    );
    assert_eq!(url_service("http://127.0.0.1:9090"), None);
    assert_eq!(url_service("http://localhost:9090"), None);
}
