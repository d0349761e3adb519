//! Route tests through `Router::oneshot` over in-memory caches (no socket, no cluster).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::auth::AuthStrategy;
use crate::auth::{Auth, StaticReviewer, User};
use crate::cache::{ClusterCache, IstioKind, Objects};
use crate::fixtures::*;
use crate::metrics::Metrics;
use crate::registry::{ClusterEntry, Registry};
use crate::routes::router;
use crate::state::{AppState, MISSING_HEADER};
use meshglass_crds::Config;

pub(crate) fn mesh() -> Vec<Arc<ClusterEntry>> {
    let mut east = Objects {
        namespaces: vec![
            namespace("bookinfo"),
            namespace("istio-system"),
            namespace("private"),
        ],
        ..Default::default()
    };
    deployment(&mut east, "bookinfo", "productpage", "v1", 1, 1);
    deployment(&mut east, "bookinfo", "reviews", "v1", 1, 1);
    deployment(&mut east, "private", "secret-app", "v1", 1, 1);
    service(&mut east, "bookinfo", "productpage");
    service(&mut east, "bookinfo", "reviews");
    istio(
        &mut east,
        IstioKind::DestinationRule,
        "bookinfo",
        "broken",
        json!({"host": "nosuch"}),
    );
    istio(
        &mut east,
        IstioKind::DestinationRule,
        "bookinfo",
        "ratings",
        json!({"host": "ratings"}),
    );
    istio(
        &mut east,
        IstioKind::VirtualService,
        "bookinfo",
        "reviews",
        json!({
        "hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}),
    );
    let mut west = Objects {
        namespaces: vec![namespace("bookinfo")],
        ..Default::default()
    };
    deployment(&mut west, "bookinfo", "reviews", "v2", 2, 2);
    deployment(&mut west, "bookinfo", "ratings", "v1", 1, 0);
    service(&mut west, "bookinfo", "reviews");
    service(&mut west, "bookinfo", "ratings");
    vec![
        ClusterEntry::in_memory("east", true, ClusterCache::from_objects(east)),
        ClusterEntry::in_memory("west", false, ClusterCache::from_objects(west)),
        ClusterEntry::broken(
            "north",
            Some("kiali-remote-cluster-secret-north".into()),
            "connection refused".into(),
        ),
    ]
}

/// alice: `t-alice`, reads `bookinfo` in east and west.
pub(crate) fn reviewer() -> Arc<StaticReviewer> {
    let alice = User {
        username: "alice".into(),
        uid: "u1".into(),
        groups: vec![],
        extra: BTreeMap::new(),
    };
    Arc::new(StaticReviewer {
        tokens: [("t-alice".to_string(), alice)].into(),
        grants: [
            (
                "alice".to_string(),
                "east".to_string(),
                "bookinfo".to_string(),
            ),
            (
                "alice".to_string(),
                "west".to_string(),
                "bookinfo".to_string(),
            ),
        ]
        .into(),
    })
}

pub(crate) fn state(strategy: AuthStrategy, web_root: &str) -> Arc<AppState> {
    let mut config = Config::default();
    config.server.web_root = web_root.to_string();
    Arc::new(AppState {
        config: Arc::new(config),
        registry: Registry::with(mesh()),
        auth: Arc::new(Auth::new(strategy, reviewer())),
        prom: None,
        tracing: crate::traces::unconfigured(),
        metrics: Arc::new(Metrics::default()),
        health_rules: Arc::new(meshglass_engine::HealthRules::default()),
        app_labels: Arc::default(),
        grafana: None,
        view_cache: Default::default(),
    })
}

pub(crate) async fn call(
    s: &Arc<AppState>,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, HashMap<String, String>, Value) {
    let mut req = Request::builder().uri(uri);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = router(s.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, headers, body)
}

fn anon() -> Arc<AppState> {
    state(AuthStrategy::Anonymous, "/kiali")
}

#[tokio::test]
async fn config_lists_clusters_with_errors() {
    let (st, _, b) = call(&anon(), "/kiali/api/config", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(b["clusters"]["east"]["isKialiHome"], true);
    assert_eq!(b["clusters"]["east"]["accessible"], true);
    assert_eq!(b["clusters"]["west"]["isKialiHome"], false);
    assert_eq!(b["clusters"]["north"]["accessible"], false);
    assert_eq!(b["clusters"]["north"]["error"], "connection refused");
    assert_eq!(
        b["clusters"]["north"]["secretName"],
        "kiali-remote-cluster-secret-north"
    );
}

#[tokio::test]
async fn namespaces_of_every_cluster_and_missing_ones_named() {
    let (st, h, b) = call(&anon(), "/kiali/api/namespaces", None).await;
    assert_eq!(st, StatusCode::OK);
    let pairs: Vec<(String, String)> = b
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().into(),
                n["cluster"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(pairs.contains(&("bookinfo".into(), "east".into())));
    assert!(pairs.contains(&("bookinfo".into(), "west".into())));
    assert_eq!(pairs.len(), 4);
    assert_eq!(h.get(MISSING_HEADER).map(String::as_str), Some("north"));
    let cp = b
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "istio-system")
        .unwrap();
    assert_eq!(cp["isControlPlane"], true);
}

#[tokio::test]
async fn web_root_prefixes_api_but_not_probes() {
    let s = anon();
    assert_eq!(
        call(&s, "/api/namespaces", None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(call(&s, "/healthz", None).await.0, StatusCode::OK);
    assert_eq!(call(&s, "/kiali/healthz", None).await.0, StatusCode::OK);
    // The broken cluster was probed and failed: start-up does not wait for it.
    assert_eq!(call(&s, "/readyz", None).await.0, StatusCode::OK);
    let root = state(AuthStrategy::Anonymous, "/");
    assert_eq!(call(&root, "/api/namespaces", None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn inventories_aggregate_clusters() {
    let s = anon();
    let (_, _, apps) = call(&s, "/kiali/api/clusters/apps?namespaces=bookinfo", None).await;
    let mut names: Vec<String> = apps["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}/{}",
                a["cluster"].as_str().unwrap(),
                a["name"].as_str().unwrap()
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "east/productpage",
            "east/reviews",
            "west/ratings",
            "west/reviews"
        ]
    );
    assert_eq!(apps["missingClusters"][0]["name"], "north");

    let (_, _, wl) = call(
        &s,
        "/kiali/api/clusters/workloads?namespaces=bookinfo&clusterName=west",
        None,
    )
    .await;
    let ws = wl["workloads"].as_array().unwrap();
    assert_eq!(ws.len(), 2);
    assert!(ws.iter().all(|w| w["cluster"] == "west"));
    let reviews = ws.iter().find(|w| w["name"] == "reviews-v2").unwrap();
    assert_eq!(reviews["podCount"], 2);
    assert_eq!(reviews["gvk"]["Kind"], "Deployment");
    assert_eq!(reviews["istioSidecar"], true);

    let (_, _, sv) = call(&s, "/kiali/api/clusters/services", None).await;
    assert_eq!(sv["services"].as_array().unwrap().len(), 4);
    // What the lists built is kept, and the metrics say how much of it.
    let text = s.metrics.render(&s.registry);
    assert!(
        text.contains("meshglass_server_kept_workloads{cluster=\"west\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn detail_routes_span_clusters() {
    let s = anon();
    let (st, _, app) = call(&s, "/kiali/api/namespaces/bookinfo/apps/reviews", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(app["clusters"], json!(["east", "west"]));
    let wl: Vec<&str> = app["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["workloadName"].as_str().unwrap())
        .collect();
    assert_eq!(wl, vec!["reviews-v1", "reviews-v2"]);
    assert_eq!(app["serviceNames"], json!(["reviews"]));

    let (_, _, app_w) = call(
        &s,
        "/kiali/api/namespaces/bookinfo/apps/reviews?clusterName=west",
        None,
    )
    .await;
    assert_eq!(app_w["clusters"], json!(["west"]));

    let (st, _, w) = call(
        &s,
        "/kiali/api/namespaces/bookinfo/workloads/ratings-v1",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(w["cluster"], "west");
    assert_eq!(w["availableReplicas"], 0);
    assert_eq!(w["pods"].as_array().unwrap().len(), 1);
    assert_eq!(w["services"][0]["name"], "ratings");

    let (st, _, svc) = call(&s, "/kiali/api/namespaces/bookinfo/services/reviews", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(svc["clusters"], json!(["east", "west"]));
    assert_eq!(
        svc["instances"][0]["virtualServices"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(svc["instances"][1]["workloads"][0]["name"], "reviews-v2");

    let (st, _, e) = call(&s, "/kiali/api/namespaces/bookinfo/apps/nothing", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(e["error"].as_str().unwrap().contains("nothing"));
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    let s = anon();
    let (st, _, b) = call(&s, "/kiali/api/clusters/apps?namespaces=Bad_NS", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(b["parameter"], "namespaces");
    let (st, _, b) = call(&s, "/kiali/api/clusters/apps?clusterName=mars", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(b["parameter"], "clusterName");
    assert_eq!(b["allowed"], "east, north, west");
    let (st, _, b) = call(
        &s,
        "/kiali/api/istio/config?objects=virtualservices,pods",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(b["parameter"], "objects");
    assert!(b["allowed"].as_str().unwrap().contains("destinationrules"));
    let (st, _, b) = call(&s, "/kiali/api/istio/config?validate=yes", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(b["allowed"], "true, false");
}

#[tokio::test]
async fn istio_config_and_validations() {
    let s = anon();
    let (st, _, b) = call(
        &s,
        "/kiali/api/istio/config?namespaces=bookinfo&validate=true",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(b["cluster"], "east");
    let drs = &b["resources"]["networking.istio.io/v1, Kind=DestinationRule"];
    assert_eq!(drs.as_array().unwrap().len(), 2);
    let v = &b["validations"]["networking.istio.io/v1, Kind=DestinationRule"];
    assert_eq!(v["broken.bookinfo"]["valid"], false);
    assert_eq!(v["broken.bookinfo"]["checks"][0]["code"], "KIA0202");
    // ratings exists only in west: found, with a note.
    assert_eq!(v["ratings.bookinfo"]["valid"], true);
    assert_eq!(v["ratings.bookinfo"]["checks"][0]["severity"], "info");

    let (_, _, sum) = call(&s, "/kiali/api/istio/validations?namespaces=bookinfo", None).await;
    assert_eq!(
        sum["east"]["bookinfo"],
        json!({"objectCount": 3, "errors": 1, "warnings": 0})
    );
    assert_eq!(
        sum["west"]["bookinfo"],
        json!({"objectCount": 0, "errors": 0, "warnings": 0})
    );
    let (_, _, det) = call(&s, "/kiali/api/istio/validations?detail=true", None).await;
    assert!(
        det["validations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "broken")
    );
}

#[tokio::test]
async fn token_users_see_only_their_namespaces() {
    let s = state(AuthStrategy::Token, "/kiali");
    let (st, _, b) = call(&s, "/kiali/api/namespaces", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(b["error"].as_str().unwrap().contains("bearer token"));
    let (st, _, _) = call(&s, "/kiali/api/namespaces", Some("wrong")).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // Probes and status stay public.
    assert_eq!(call(&s, "/kiali/api/status", None).await.0, StatusCode::OK);

    let (st, _, b) = call(&s, "/kiali/api/namespaces", Some("t-alice")).await;
    assert_eq!(st, StatusCode::OK);
    let names: Vec<&str> = b
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["bookinfo", "bookinfo"]);
    let (_, _, w) = call(&s, "/kiali/api/clusters/workloads", Some("t-alice")).await;
    assert!(
        w["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["namespace"] == "bookinfo")
    );
    let (st, _, b) = call(
        &s,
        "/kiali/api/namespaces/private/workloads/secret-app-v1",
        Some("t-alice"),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(b["error"].as_str().unwrap().contains("alice"));
    let (_, _, sum) = call(&s, "/kiali/api/istio/validations", Some("t-alice")).await;
    assert!(sum["east"].get("private").is_none());
}

/// A stand-in Prometheus answering every instant query with an empty vector (unit tests only;
/// the end-to-end tests use a real Prometheus).
async fn empty_prometheus() -> String {
    let app = axum::Router::new().route(
        "/api/v1/query",
        axum::routing::get(|| async {
            axum::Json(json!({"status": "success", "data": {"resultType": "vector", "result": []}}))
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}")
}

fn with_prom(url: &str) -> Arc<AppState> {
    let s = anon();
    let prom = crate::prom::PromClient::new(url, std::time::Duration::from_secs(5), 4).unwrap();
    altered(
        &s,
        s.config.clone(),
        s.registry.clone(),
        s.auth.clone(),
        Some(Arc::new(prom)),
    )
}

/// `s` with `config`, `registry`, `auth` and `prom` instead of its own (its metrics and rules
/// shared; no tracing store, Grafana or cached views).
pub(crate) fn altered(
    s: &AppState,
    config: Arc<Config>,
    registry: Arc<Registry>,
    auth: Arc<Auth>,
    prom: Option<Arc<crate::prom::PromClient>>,
) -> Arc<AppState> {
    Arc::new(AppState {
        config,
        registry,
        auth,
        prom,
        tracing: crate::traces::unconfigured(),
        metrics: s.metrics.clone(),
        health_rules: s.health_rules.clone(),
        app_labels: s.app_labels.clone(),
        grafana: None,
        view_cache: Default::default(),
    })
}

#[tokio::test]
async fn graph_and_health_parameters_are_checked() {
    let s = anon();
    let (st, _, b) = call(
        &s,
        "/kiali/api/namespaces/graph?namespaces=bookinfo&graphType=foo",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(b["parameter"], "graphType");
    assert!(b["allowed"].as_str().unwrap().contains("versionedApp"));
    let (st, _, b) = call(
        &s,
        "/kiali/api/namespaces/graph?namespaces=bookinfo&rateTcp=lots",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(b["parameter"], "rateTcp");
    let (st, _, b) = call(&s, "/kiali/api/namespaces/graph", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(b["parameter"], "namespaces");
    let (st, _, b) = call(&s, "/kiali/api/clusters/health?type=pods", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(b["allowed"], "app, service, workload");
    let (st, _, b) = call(&s, "/kiali/api/clusters/health?rateInterval=soon", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(b["parameter"], "rateInterval");
}

#[tokio::test]
async fn prometheus_errors_are_503_with_reason() {
    let s = anon();
    let (st, _, b) = call(&s, "/kiali/api/namespaces/graph?namespaces=bookinfo", None).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert!(b["error"].as_str().unwrap().contains("Prometheus"));
    let down = with_prom("http://127.0.0.1:9");
    let (st, _, b) = call(
        &down,
        "/kiali/api/clusters/health?namespaces=bookinfo",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(b["reason"], "unreachable", "{b}");
    // The reason is named; the URL is not echoed.
    assert!(!b["error"].as_str().unwrap().contains("127.0.0.1"), "{b}");
}

#[tokio::test]
async fn health_without_traffic_is_na_and_replicas_decide() {
    let s = with_prom(&empty_prometheus().await);
    let (st, _, b) = call(
        &s,
        "/kiali/api/clusters/health?namespaces=bookinfo&type=workload",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let wl = &b["namespaceWorkloadHealth"]["bookinfo"];
    assert_eq!(wl["ratings-v1"]["status"]["status"], "Failure", "{b}");
    assert_eq!(wl["reviews-v2"]["status"]["status"], "Healthy", "{b}");
    let (st, _, b) = call(
        &s,
        "/kiali/api/clusters/health?namespaces=bookinfo&type=service",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        b["namespaceServiceHealth"]["bookinfo"]["reviews"]["status"]["status"], "NA",
        "{b}"
    );
    let (st, _, g) = call(
        &s,
        "/kiali/api/namespaces/graph?namespaces=bookinfo&graphType=app",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(g["graphType"], "app");
    assert!(g["elements"]["nodes"].is_array());
    let (st, _, _) = call(
        &s,
        "/kiali/api/namespaces/bookinfo/workloads/reviews-v1/graph",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn configured_clusters_without_kubeconfig_are_listed_and_metrics_count_caches() {
    let base = anon();
    let mut config = (*base.config).clone();
    config
        .clustering
        .clusters
        .push(meshglass_crds::config::ClusterRef {
            name: "south".into(),
            secret_name: "kiali-remote-cluster-secret-south".into(),
            ..Default::default()
        });
    let s = Arc::new(AppState {
        config: Arc::new(config),
        registry: base.registry.clone(),
        auth: base.auth.clone(),
        prom: None,
        tracing: crate::traces::unconfigured(),
        metrics: base.metrics.clone(),
        health_rules: base.health_rules.clone(),
        app_labels: base.app_labels.clone(),
        grafana: None,
        view_cache: Default::default(),
    });
    let (_, _, b) = call(&s, "/kiali/api/config", None).await;
    assert_eq!(b["clusters"]["south"]["accessible"], false);
    assert!(
        b["clusters"]["south"]["error"]
            .as_str()
            .unwrap()
            .contains("no kubeconfig")
    );
    let text = s.metrics.render(&s.registry);
    assert!(
        text.contains("meshglass_server_cached_objects{cluster=\"west\",kind=\"pods\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("meshglass_server_cluster_accessible{cluster=\"north\"} 0"),
        "{text}"
    );
}

#[tokio::test]
async fn canonical_name_groups_the_app_in_lists_details_health_and_graph() {
    let mut east = Objects {
        namespaces: vec![namespace("bookinfo")],
        ..Default::default()
    };
    deployment(&mut east, "bookinfo", "reviews-legacy", "v1", 1, 1);
    let canonical = (
        "service.istio.io/canonical-name".to_string(),
        "reviews".to_string(),
    );
    for d in &mut east.deployments {
        if let Some(l) = d
            .spec
            .as_mut()
            .and_then(|s| s.template.metadata.as_mut())
            .and_then(|m| m.labels.as_mut())
        {
            l.insert(canonical.0.clone(), canonical.1.clone());
        }
    }
    let base = with_prom(&empty_prometheus().await);
    let s = Arc::new(AppState {
        config: base.config.clone(),
        registry: Registry::with(vec![ClusterEntry::in_memory(
            "east",
            true,
            ClusterCache::from_objects(east),
        )]),
        auth: base.auth.clone(),
        prom: base.prom.clone(),
        tracing: crate::traces::unconfigured(),
        metrics: base.metrics.clone(),
        health_rules: base.health_rules.clone(),
        app_labels: base.app_labels.clone(),
        grafana: None,
        view_cache: Default::default(),
    });
    let (_, _, apps) = call(&s, "/kiali/api/clusters/apps", None).await;
    let names: Vec<&str> = apps["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["reviews"], "{apps}");
    let (st, _, app) = call(&s, "/kiali/api/namespaces/bookinfo/apps/reviews", None).await;
    assert_eq!(st, StatusCode::OK, "{app}");
    assert_eq!(app["workloads"][0]["workloadName"], "reviews-legacy-v1");
    let (st, _, _) = call(
        &s,
        "/kiali/api/namespaces/bookinfo/apps/reviews-legacy",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, _, h) = call(
        &s,
        "/kiali/api/clusters/health?namespaces=bookinfo&type=app&queryTime=1700000000",
        None,
    )
    .await;
    let keys: Vec<&String> = h["namespaceAppHealth"]["bookinfo"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, vec!["reviews"], "{h}");
    let (st, _, g) = call(
        &s,
        "/kiali/api/namespaces/graph?namespaces=bookinfo&graphType=app&idleNodes=true&queryTime=1700000000",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{g}");
    let graph_apps: Vec<&str> = g["elements"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["data"].get("isBox").is_none())
        .map(|n| n["data"]["app"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(graph_apps, vec!["reviews"], "{g}");
}

/// The state `start` builds from `config`, over `registry` with `auth` and no metrics store:
/// Grafana's probe and the tracing client are the ones `external_services` describes, as in
/// `start`.
pub(crate) fn assembled(config: Config, registry: Arc<Registry>, auth: Arc<Auth>) -> Arc<AppState> {
    let base = anon();
    let paths = crate::upstream::Paths::default();
    let grafana = crate::grafana::Probe::configured(&config.external_services.grafana, &paths)
        .expect("the Grafana probe's client")
        .map(Arc::new);
    let tracing = crate::traces::from_config(&config.external_services.tracing, &paths);
    Arc::new(AppState {
        config: Arc::new(config),
        registry,
        auth,
        prom: None,
        tracing,
        metrics: Arc::new(Metrics::default()),
        health_rules: base.health_rules.clone(),
        app_labels: base.app_labels.clone(),
        grafana,
        view_cache: Default::default(),
    })
}

/// The default configuration (web root `/kiali`) over `registry`, with `auth`.
pub(crate) fn with_registry(registry: Arc<Registry>, auth: Auth) -> Arc<AppState> {
    assembled((*anon().config).clone(), registry, Arc::new(auth))
}

/// `state` with `config` changed by `edit`.
pub(crate) fn configured(edit: impl FnOnce(&mut Config)) -> Arc<AppState> {
    let base = anon();
    let mut config = (*base.config).clone();
    edit(&mut config);
    assembled(config, base.registry.clone(), base.auth.clone())
}

/// The test mesh under `clustering.ignore_home_cluster`: east, the home, hidden; listed are west
/// (reachable) and north (unreachable), or north alone when `with_west` is false.
pub(crate) fn hidden_home(with_west: bool) -> Arc<Registry> {
    let mut clusters = mesh();
    let east = clusters.remove(0);
    if !with_west {
        clusters.retain(|e| e.name != "west");
    }
    let registry = Registry::with(clusters);
    registry.hide_home(east);
    registry
}

async fn content_encoding(s: &Arc<AppState>, accept: Option<&str>) -> Option<String> {
    let mut req = Request::builder().uri("/kiali/api/config");
    if let Some(a) = accept {
        req = req.header("Accept-Encoding", a);
    }
    let resp = router(s.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn responses_are_gzipped_only_when_enabled_and_accepted() {
    let on = configured(|c| c.server.gzip_enabled = true);
    assert_eq!(
        content_encoding(&on, Some("gzip")).await.as_deref(),
        Some("gzip")
    );
    assert_eq!(content_encoding(&on, None).await, None);
    let off = configured(|c| c.server.gzip_enabled = false);
    assert_eq!(content_encoding(&off, Some("gzip")).await, None);
}

#[tokio::test]
async fn config_names_the_configured_app_and_version_labels() {
    let (_, _, b) = call(&anon(), "/kiali/api/config", None).await;
    assert_eq!(
        b["istioLabels"],
        json!({"appLabelName": "app", "versionLabelName": "version"})
    );
    let s = configured(|c| {
        c.istio_labels.app_label_name = "svc".into();
        c.istio_labels.version_label_name = "rel".into();
    });
    let (_, _, b) = call(&s, "/kiali/api/config", None).await;
    assert_eq!(
        b["istioLabels"],
        json!({"appLabelName": "svc", "versionLabelName": "rel"})
    );
}

#[tokio::test]
async fn an_ignored_home_cluster_is_not_listed_but_still_reviews_tokens() {
    let entries = mesh();
    let home = entries[0].clone();
    let registry = Registry::with(entries.into_iter().skip(1).collect());
    registry.hide_home(home);
    assert_eq!(
        registry.home().map(|h| h.name.clone()).as_deref(),
        Some("east")
    );
    let base = anon();
    let s = Arc::new(AppState {
        config: base.config.clone(),
        registry,
        auth: base.auth.clone(),
        prom: None,
        tracing: crate::traces::unconfigured(),
        metrics: Arc::new(Metrics::default()),
        health_rules: base.health_rules.clone(),
        app_labels: base.app_labels.clone(),
        grafana: None,
        view_cache: Default::default(),
    });
    let (_, _, b) = call(&s, "/kiali/api/config", None).await;
    let clusters: Vec<&String> = b["clusters"].as_object().unwrap().keys().collect();
    assert_eq!(clusters, ["north", "west"]);
    assert_eq!(b["clusterName"], "east");
    let (_, _, b) = call(&s, "/kiali/api/namespaces", None).await;
    assert!(
        b.as_array().unwrap().iter().all(|n| n["cluster"] != "east"),
        "{b}"
    );
}

// Issue 22, point 1: `ports` of service list items and of a workload's services was a list of
// port objects; Kiali's `ServiceOverview.ports` maps port names to numbers. Service details keep
// Kiali's `Service.ports` list.
#[tokio::test]
async fn service_overviews_map_port_names_to_numbers() {
    let s = anon();
    let (st, _, b) = call(&s, "/kiali/api/clusters/services?namespaces=bookinfo", None).await;
    assert_eq!(st, StatusCode::OK);
    for svc in b["services"].as_array().unwrap() {
        assert_eq!(svc["ports"], json!({"http": 9080}), "{svc}");
    }
    let (_, _, w) = call(
        &s,
        "/kiali/api/namespaces/bookinfo/workloads/reviews-v1",
        None,
    )
    .await;
    assert_eq!(w["services"][0]["ports"], json!({"http": 9080}), "{w}");
    let (_, _, d) = call(&s, "/kiali/api/namespaces/bookinfo/services/reviews", None).await;
    assert_eq!(d["service"]["ports"][0]["port"], 9080, "{d}");
    assert_eq!(d["service"]["ports"][0]["name"], "http", "{d}");
}

// Issue 22, point 2: `health=true` and `validate=true` were ignored on details.
#[tokio::test]
async fn details_carry_health_and_validations_when_asked() {
    let s = with_prom(&empty_prometheus().await);
    let (st, _, app) = call(
        &s,
        "/kiali/api/namespaces/bookinfo/apps/reviews?health=true",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{app}");
    assert_eq!(
        app["health"]["workloadStatuses"].as_array().unwrap().len(),
        2,
        "{app}"
    );
    let (_, _, w) = call(
        &s,
        "/kiali/api/namespaces/bookinfo/workloads/ratings-v1?health=true",
        None,
    )
    .await;
    assert_eq!(w["health"]["workloadStatus"]["name"], "ratings-v1", "{w}");
    assert!(w["health"]["requests"]["inbound"].is_object(), "{w}");
    let (_, _, svc) = call(
        &s,
        "/kiali/api/namespaces/bookinfo/services/reviews?health=true&validate=true",
        None,
    )
    .await;
    assert!(svc["health"]["requests"].is_object(), "{svc}");
    let vals = &svc["instances"][0]["validations"];
    assert!(
        vals["networking.istio.io/v1, Kind=VirtualService"]["reviews.bookinfo"].is_object(),
        "{svc}"
    );
    // Only the objects that refer to the service.
    assert!(
        vals["networking.istio.io/v1, Kind=DestinationRule"]["broken.bookinfo"].is_null(),
        "{svc}"
    );
    assert!(svc["instances"][0]["endpoints"].is_array(), "{svc}");
    assert_eq!(
        svc["instances"][0]["virtualServices"][0]["metadata"]["name"],
        "reviews"
    );
    // Without the parameters, no health is computed (no Prometheus needed).
    let (st, _, plain) = call(&anon(), "/kiali/api/namespaces/bookinfo/apps/reviews", None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(plain.get("health").is_none(), "{plain}");
    let (st, _, b) = call(
        &s,
        "/kiali/api/namespaces/bookinfo/apps/reviews?health=maybe",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(b["parameter"], "health");
}

// Issue 22, point 3: an unknown appender answered 200.
#[tokio::test]
async fn unknown_appenders_are_400_naming_the_valid_ones() {
    let s = with_prom(&empty_prometheus().await);
    let (st, _, b) = call(
        &s,
        "/kiali/api/namespaces/graph?namespaces=bookinfo&appenders=deadNode,nope",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["parameter"], "appenders");
    assert!(b["error"].as_str().unwrap().contains("\"nope\""), "{b}");
    assert!(b["allowed"].as_str().unwrap().contains("istio"), "{b}");
    let (st, _, _) = call(
        &s,
        "/kiali/api/namespaces/graph?namespaces=bookinfo&appenders=deadNode,istio",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
}

// Issue 22, point 4: health of a namespace that does not exist omitted it.
#[tokio::test]
async fn health_of_a_missing_namespace_is_an_empty_entry() {
    let s = with_prom(&empty_prometheus().await);
    let (st, _, b) = call(
        &s,
        "/kiali/api/clusters/health?namespaces=bookinfo,nowhere&type=app",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["namespaceAppHealth"]["nowhere"], json!({}), "{b}");
    assert!(b["namespaceAppHealth"]["bookinfo"]["reviews"].is_object());
}

#[tokio::test]
async fn istio_config_detail() {
    let s = anon();
    let base = "/kiali/api/namespaces/bookinfo/istio";
    let (st, _, b) = call(
        &s,
        &format!("{base}/networking.istio.io/v1/DestinationRule/broken?validate=true&help=true"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["cluster"], "east");
    assert_eq!(b["namespace"]["name"], "bookinfo");
    assert_eq!(b["gvk"]["Kind"], "DestinationRule");
    assert_eq!(b["resource"]["metadata"]["name"], "broken");
    assert_eq!(b["validation"]["checks"][0]["code"], "KIA0202");
    assert_eq!(b["permissions"]["update"], false);
    assert!(
        b["help"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["objectField"] == "spec.host")
    );
    assert!(b["references"]["objectReferences"].is_array());
    // Without validate/help: no validation, no help.
    let (_, _, b) = call(
        &s,
        &format!("{base}/networking.istio.io/v1/VirtualService/reviews"),
        None,
    )
    .await;
    assert!(b["validation"].is_null() && b["help"].is_null());
    assert!(b["references"]["serviceReferences"].as_array().is_some());
    // An unknown kind is a 400 naming the kinds; an absent object a 404 naming the cluster.
    let (st, _, b) = call(&s, &format!("{base}/networking.istio.io/v1/Pod/x"), None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        b["allowed"]
            .as_str()
            .unwrap()
            .contains("gateway.networking.k8s.io/HTTPRoute")
    );
    let (st, _, b) = call(
        &s,
        &format!("{base}/networking.istio.io/v1/DestinationRule/broken?clusterName=west"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{b}");
}

#[tokio::test]
async fn istio_config_detail_is_authorized_per_cluster_and_namespace() {
    let s = state(AuthStrategy::Token, "/kiali");
    let uri = "/kiali/api/namespaces/bookinfo/istio/networking.istio.io/v1/DestinationRule/broken";
    let (st, _, _) = call(&s, uri, Some("t-alice")).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, b) = call(&s, uri, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{b}");
    let other = "/kiali/api/namespaces/istio-system/istio/networking.istio.io/v1/DestinationRule/x";
    let (st, _, b) = call(&s, other, Some("t-alice")).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
}
