//! The metrics and dashboard routes through `Router::oneshot` over the in-memory mesh of
//! [`crate::api_tests`], against a stand-in Prometheus that records the range queries it gets
//! (unit tests only; `tests/tests/metrics_dashboards.rs` reads a real Prometheus).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::json;

use crate::api_tests::{call, hidden_home, mesh};
use crate::auth::{Auth, AuthStrategy, StaticReviewer, User};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::state::AppState;
use meshglass_crds::Config;

type Seen = Arc<Mutex<Vec<String>>>;

/// A stand-in `/api/v1/query_range` answering one series per metric a query names, recording
/// every query.
async fn recording_prometheus() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/api/v1/query_range",
        axum::routing::post(move |axum::Form(f): axum::Form<BTreeMap<String, String>>| {
            let s = s.clone();
            async move {
                let q = f.get("query").cloned().unwrap_or_default();
                s.lock().unwrap().push(q.clone());
                let start: i64 = f.get("start").and_then(|v| v.parse().ok()).unwrap_or(0);
                let result: Vec<serde_json::Value> = q
                    .split("\"meshglass_metric\", \"")
                    .skip(1)
                    .filter_map(|r| r.split('"').next())
                    .map(|name| json!({"metric": {"meshglass_metric": name, "destination_cluster": "east"},
                                       "values": [[start, "1.5"]]}))
                    .collect();
                axum::Json(json!({"status": "success", "data": {"resultType": "matrix", "result": result}}))
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    (format!("http://{addr}"), seen)
}

/// The in-memory mesh with `strategy`, reading the stand-in; bob reads `bookinfo` in east only.
async fn state(strategy: AuthStrategy) -> (Arc<AppState>, Seen) {
    state_with(strategy, Registry::with(mesh())).await
}

/// [`state`] over the clusters of `registry`.
async fn state_with(strategy: AuthStrategy, registry: Arc<Registry>) -> (Arc<AppState>, Seen) {
    let (url, seen) = recording_prometheus().await;
    let bob = User {
        username: "bob".into(),
        uid: "u2".into(),
        groups: vec![],
        extra: BTreeMap::new(),
    };
    let reviewer = Arc::new(StaticReviewer {
        tokens: [("t-bob".to_string(), bob)].into(),
        grants: [(
            "bob".to_string(),
            "east".to_string(),
            "bookinfo".to_string(),
        )]
        .into(),
    });
    let mut config = Config::default();
    config.server.web_root = "/kiali".into();
    let s = Arc::new(AppState {
        config: Arc::new(config),
        registry,
        auth: Arc::new(Auth::new(strategy, reviewer)),
        prom: Some(Arc::new(
            crate::prom::PromClient::new(&url, std::time::Duration::from_secs(5), 4).unwrap(),
        )),
        tracing: crate::traces::unconfigured(),
        metrics: Arc::new(Metrics::default()),
        health_rules: Arc::new(meshglass_engine::HealthRules::default()),
        app_labels: Arc::default(),
        grafana: None,
        view_cache: Default::default(),
    });
    (s, seen)
}

const DASHBOARD: &str = "/kiali/api/namespaces/bookinfo/workloads/reviews-v1/dashboard?direction=inbound&reporter=destination&quantiles[]=0.5&quantiles[]=0.95&quantiles[]=0.99&byLabels[]=destination_cluster&duration=600&step=15";

#[tokio::test]
async fn a_dashboard_is_four_concurrent_range_queries_in_kialis_shape() {
    let (s, seen) = state(AuthStrategy::Anonymous).await;
    let (st, h, d) = call(&s, DASHBOARD, None).await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["title"], "Inbound Metrics");
    assert_eq!(d["charts"].as_array().unwrap().len(), 12);
    assert_eq!(
        d["charts"][0]["metrics"][0]["labels"]["destination_cluster"],
        "east"
    );
    assert_eq!(d["charts"][0]["metrics"][0]["datapoints"][0][1], "1.5");
    assert!(h["server-timing"].contains("4 queries"), "{h:?}");
    let queries = seen.lock().unwrap().clone();
    assert_eq!(queries.len(), 4);
    for q in &queries {
        assert!(q.contains("destination_workload=\"reviews-v1\""), "{q}");
        // Anonymous: every cluster's telemetry, no cluster matcher.
        assert!(!q.contains("destination_cluster=\""), "{q}");
    }
    // /metrics: Kiali's MetricsMap, filters pick the metrics.
    let (st, _, m) = call(
        &s,
        "/kiali/api/namespaces/bookinfo/apps/reviews/metrics?filters[]=request_count&direction=inbound",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{m}");
    assert_eq!(m["request_count"][0]["name"], "request_count");
    assert!(
        m.get("missingClusters").is_none(),
        "a MetricsMap holds metrics only"
    );
    let (st, _, m) = call(
        &s,
        "/kiali/api/namespaces/bookinfo/metrics?clusterName=west",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{m}");
    let last = seen.lock().unwrap().last().cloned().unwrap_or_default();
    assert!(
        last.contains("source_cluster=\"west\""),
        "clusterName: {last}"
    );
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_the_field() {
    let (s, seen) = state(AuthStrategy::Anonymous).await;
    let base = "/kiali/api/namespaces/bookinfo/services/reviews/metrics";
    for (query, field) in [
        ("direction=sideways", "direction"),
        ("reporter=proxy", "reporter"),
        ("quantiles[]=2", "quantiles[]"),
        ("avg=perhaps", "avg"),
        ("byLabels[]=a-b", "byLabels[]"),
        ("filters[]=nothing", "filters[]"),
        ("step=0", "step"),
        ("duration=7d&step=1", "step"),
        ("rateInterval=never", "rateInterval"),
        ("queryTime=soon", "queryTime"),
        ("requestProtocol=%22http", "requestProtocol"),
        ("clusterName=mars", "clusterName"),
    ] {
        let (st, _, b) = call(&s, &format!("{base}?{query}"), None).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{query}: {b}");
        assert_eq!(b["parameter"], field, "{query}: {b}");
        assert!(!b["allowed"].as_str().unwrap_or_default().is_empty(), "{b}");
    }
    let (st, _, b) = call(&s, "/kiali/api/namespaces/Bad_NS/metrics", None).await;
    assert_eq!(
        (st, b["parameter"].as_str()),
        (StatusCode::BAD_REQUEST, Some("namespace"))
    );
    let (st, _, _) = call(&s, "/kiali/api/namespaces/nowhere/metrics", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(
        seen.lock().unwrap().is_empty(),
        "no query for a refused request"
    );
}

#[tokio::test]
async fn a_user_reads_the_telemetry_of_the_clusters_where_it_may_read_the_namespace() {
    let (s, seen) = state(AuthStrategy::Token).await;
    let (st, _, d) = call(&s, DASHBOARD, Some("t-bob")).await;
    assert_eq!(st, StatusCode::OK, "{d}");
    let queries = seen.lock().unwrap().clone();
    assert_eq!(queries.len(), 4);
    for q in &queries {
        // bookinfo is bob's in east only: west's share is not read.
        assert!(q.contains("destination_cluster=\"east\""), "{q}");
    }
    let (st, _, _) = call(
        &s,
        "/kiali/api/namespaces/private/workloads/secret-app-v1/metrics",
        Some("t-bob"),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = call(&s, DASHBOARD, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(seen.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn tls_status_of_the_mesh_a_namespace_and_a_clusters_namespaces() {
    let (s, _) = state(AuthStrategy::Anonymous).await;
    let (st, _, m) = call(&s, "/kiali/api/mesh/tls", None).await;
    assert_eq!(st, StatusCode::OK, "{m}");
    assert_eq!(
        m,
        json!({"status": "MTLS_NOT_ENABLED", "autoMTLSEnabled": true, "minTLS": "N/A"})
    );
    let (st, _, n) = call(
        &s,
        "/kiali/api/namespaces/bookinfo/tls?clusterName=west",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{n}");
    assert_eq!(
        (n["cluster"].as_str(), n["namespace"].as_str()),
        (Some("west"), Some("bookinfo"))
    );
    assert_eq!(n["status"], "MTLS_NOT_ENABLED");
    let (st, _, l) = call(
        &s,
        "/kiali/api/clusters/tls?namespaces=bookinfo,private",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{l}");
    let names: Vec<&str> = l
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bookinfo", "private"]);
    let (st, _, b) = call(&s, "/kiali/api/mesh/tls?clusterName=mars", None).await;
    assert_eq!(
        (st, b["parameter"].as_str()),
        (StatusCode::BAD_REQUEST, Some("clusterName"))
    );
    // bob may not read private.
    let (s, _) = state(AuthStrategy::Token).await;
    let (st, _, _) = call(&s, "/kiali/api/namespaces/private/tls", Some("t-bob")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, l) = call(&s, "/kiali/api/clusters/tls", Some("t-bob")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(l.as_array().map(Vec::len), Some(1), "{l}");
}

#[tokio::test]
async fn tls_of_a_token_user_reviews_only_the_namespaces_it_reads() {
    let (s, _) = state(AuthStrategy::Token).await;
    let (st, _, n) = call(&s, "/kiali/api/namespaces/bookinfo/tls", Some("t-bob")).await;
    assert_eq!(
        (st, n["cluster"].as_str()),
        (StatusCode::OK, Some("east")),
        "{n}"
    );
    // east's bookinfo (asked, and where its DestinationRules are) and istio-system (the root
    // namespace); not private.
    assert_eq!(s.auth.counts.access_reviews.get(), 2);
    let (st, _, m) = call(&s, "/kiali/api/mesh/tls", Some("t-bob")).await;
    assert_eq!(st, StatusCode::OK, "{m}");
    let (st, _, l) = call(
        &s,
        "/kiali/api/clusters/tls?namespaces=bookinfo",
        Some("t-bob"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{l}");
    assert_eq!(l.as_array().map(Vec::len), Some(1), "{l}");
    assert_eq!(s.auth.counts.access_reviews.get(), 2);
}

#[tokio::test]
async fn tls_without_clustername_under_a_hidden_home_is_of_the_first_reachable_cluster() {
    // `clustering.ignore_home_cluster`: east (home) is hidden; north is listed but unreachable.
    let registry = hidden_home(true);
    let (s, _) = state_with(AuthStrategy::Anonymous, registry).await;
    let (st, _, n) = call(&s, "/kiali/api/namespaces/bookinfo/tls", None).await;
    assert_eq!(
        (st, n["cluster"].as_str()),
        (StatusCode::OK, Some("west")),
        "{n}"
    );
    // The hidden home is no cluster a request may name; an unknown name is check_cluster's 400.
    for c in ["east", "mars"] {
        let (st, _, b) = call(&s, &format!("/kiali/api/mesh/tls?clusterName={c}"), None).await;
        assert_eq!(
            (st, b["parameter"].as_str(), b["allowed"].as_str()),
            (
                StatusCode::BAD_REQUEST,
                Some("clusterName"),
                Some("north, west")
            ),
            "{c}: {b}"
        );
    }
    // No listed cluster reachable: clusterName is asked for.
    let registry = hidden_home(false);
    let (s, _) = state_with(AuthStrategy::Anonymous, registry).await;
    let (st, _, b) = call(&s, "/kiali/api/mesh/tls", None).await;
    assert_eq!(
        (st, b["parameter"].as_str()),
        (StatusCode::BAD_REQUEST, Some("clusterName")),
        "{b}"
    );
}

#[tokio::test]
async fn error_responses_are_counted_by_route_and_category() {
    let (s, _) = state(AuthStrategy::Anonymous).await;
    for _ in 0..2 {
        let (st, _, _) = call(&s, "/kiali/api/mesh/tls?clusterName=mars", None).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
    }
    let text = s.metrics.render(&s.registry);
    assert!(
        text.contains(
            "meshglass_server_http_errors_total{route=\"/kiali/api/mesh/tls\",category=\"bad_param\"} 2"
        ),
        "{text}"
    );
    // An upstream timeout renders as a 504 of its own category.
    let resp = axum::response::IntoResponse::into_response(crate::error::Error::UpstreamTimeout(
        "cluster east: no answer".into(),
    ));
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        resp.extensions().get::<crate::error::Category>(),
        Some(&crate::error::Category("upstream_timeout"))
    );
}
