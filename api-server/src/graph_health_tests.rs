//! The graph's node health through `Router::oneshot`: every node's `healthData` is what
//! `/api/clusters/health` answers for the node's object in its cluster, over the graph's window,
//! and a workload answering 20 % 5xx is a Failure in both.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api_tests::{call, mesh};
use crate::auth::{Auth, AuthStrategy, StaticReviewer};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::state::AppState;
use meshglass_crds::Config;

pub(crate) const T: i64 = 1_700_000_000;

/// Request series over the test mesh (east: productpage-v1, reviews-v1; west: reviews-v2,
/// ratings-v1), each reported by both proxies but the unknown source's: reviews-v1 answers 20 %
/// 503s.
fn samples() -> Value {
    let flow = |reporter: &str,
                src: (&str, &str, &str),
                dst: (&str, &str, &str),
                code: &str,
                rate: f64| {
        let (sc, sns, sw) = src;
        let (dc, dsvc, dw) = dst;
        let app = |w: &str| {
            w.rsplit_once('-')
                .map_or(w.to_string(), |(a, _)| a.to_string())
        };
        let ver = |w: &str| {
            w.rsplit_once('-')
                .map_or(w.to_string(), |(_, v)| v.to_string())
        };
        json!({"metric": {
            "reporter": reporter, "source_cluster": sc, "source_workload_namespace": sns,
            "source_workload": sw, "source_canonical_service": app(sw),
            "source_canonical_revision": ver(sw),
            "destination_cluster": dc, "destination_service_namespace": "bookinfo",
            "destination_service": format!("{dsvc}.bookinfo.svc.cluster.local"),
            "destination_service_name": dsvc, "destination_workload_namespace": "bookinfo",
            "destination_workload": dw, "destination_canonical_service": app(dw),
            "destination_canonical_revision": ver(dw),
            "request_protocol": "http", "response_code": code, "grpc_response_status": "",
            "response_flags": "-", "connection_security_policy": "unknown"},
            "value": [T, rate.to_string()]})
    };
    let unknown = ("unknown", "unknown", "unknown");
    let pp = ("east", "bookinfo", "productpage-v1");
    let r2 = ("west", "bookinfo", "reviews-v2");
    let mut out = vec![flow(
        "destination",
        unknown,
        ("east", "productpage", "productpage-v1"),
        "200",
        2.0,
    )];
    for reporter in ["source", "destination"] {
        out.push(flow(
            reporter,
            pp,
            ("east", "reviews", "reviews-v1"),
            "200",
            1.6,
        ));
        out.push(flow(
            reporter,
            pp,
            ("east", "reviews", "reviews-v1"),
            "503",
            0.4,
        ));
        out.push(flow(
            reporter,
            pp,
            ("west", "reviews", "reviews-v2"),
            "200",
            1.0,
        ));
        out.push(flow(
            reporter,
            r2,
            ("west", "ratings", "ratings-v1"),
            "200",
            0.5,
        ));
    }
    Value::Array(out)
}

/// A stand-in Prometheus: the request-count queries (the graph's and health's) get
/// [`samples`], every other query an empty vector.
async fn fake_prometheus() -> String {
    async fn answer(uri: axum::http::Uri, body: String) -> axum::Json<Value> {
        let q = format!("{uri} {body}");
        let result = if q.contains("label_replace") {
            // The aggregateNode appender's query: the same series, classified.
            let mut v = samples();
            for s in v.as_array_mut().into_iter().flatten() {
                s["metric"]["meshglass_aggregate"] = json!("Search");
            }
            v
        } else if q.contains("istio_requests_total") {
            samples()
        } else {
            json!([])
        };
        axum::Json(json!({"status": "success", "data": {"resultType": "vector", "result": result}}))
    }
    let app = axum::Router::new().route("/api/v1/query", axum::routing::get(answer).post(answer));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}")
}

pub(crate) async fn anonymous() -> Arc<AppState> {
    let mut config = Config::default();
    config.server.web_root = "/kiali".into();
    let reviewer = StaticReviewer {
        tokens: HashMap::new(),
        grants: Default::default(),
    };
    let url = fake_prometheus().await;
    Arc::new(AppState {
        config: Arc::new(config),
        registry: Registry::with(mesh()),
        auth: Arc::new(Auth::new(AuthStrategy::Anonymous, Arc::new(reviewer))),
        prom: Some(Arc::new(
            crate::prom::PromClient::new(&url, std::time::Duration::from_secs(5), 4).unwrap(),
        )),
        tracing: crate::traces::unconfigured(),
        metrics: Arc::new(Metrics::default()),
        health_rules: Arc::new(meshglass_engine::HealthRules::default()),
        app_labels: Arc::default(),
        grafana: None,
        view_cache: Default::default(),
    })
}

/// The kind and object name whose health a node shows, as the health appender picks it.
fn object(n: &Value) -> Option<(&'static str, &'static str, String)> {
    let s = |k: &str| n[k].as_str().unwrap_or_default().to_string();
    match (s("nodeType").as_str(), s("isBox").as_str()) {
        ("box", "app") => Some(("app", "namespaceAppHealth", s("app"))),
        ("workload", _) => Some(("workload", "namespaceWorkloadHealth", s("workload"))),
        ("app", _) if !s("workload").is_empty() => {
            Some(("workload", "namespaceWorkloadHealth", s("workload")))
        }
        ("app", _) => Some(("app", "namespaceAppHealth", s("app"))),
        ("service", _) => Some(("service", "namespaceServiceHealth", s("service"))),
        _ => None,
    }
}

#[tokio::test]
async fn node_health_is_what_the_health_route_answers() {
    let s = anonymous().await;
    let mut seen = 0;
    for q in [
        "graphType=workload",
        "graphType=workload&injectServiceNodes=true",
        "graphType=versionedApp&boxBy=app",
        "graphType=app",
        "graphType=service",
    ] {
        let uri = format!(
            "/kiali/api/namespaces/graph?namespaces=bookinfo&{q}&duration=600s&queryTime={T}"
        );
        let (st, _, g) = call(&s, &uri, None).await;
        assert_eq!(st, StatusCode::OK, "{q}: {g}");
        for n in g["elements"]["nodes"].as_array().unwrap() {
            let d = &n["data"];
            let expected = match object(d) {
                None => Value::Null,
                Some((kind, key, name)) => {
                    let (c, ns) = (
                        d["cluster"].as_str().unwrap(),
                        d["namespace"].as_str().unwrap(),
                    );
                    let (st, _, h) = call(
                        &s,
                        &format!(
                            "/kiali/api/clusters/health?namespaces={ns}&type={kind}&clusterName={c}&rateInterval=600s&queryTime={T}"
                        ),
                        None,
                    )
                    .await;
                    assert_eq!(st, StatusCode::OK, "{h}");
                    h[key][ns][name.as_str()].clone()
                }
            };
            assert_eq!(d["healthData"], expected, "{q}: {d}");
            if !expected.is_null() {
                seen += 1;
            }
        }
    }
    assert!(seen >= 15, "{seen} nodes with health");
}

#[tokio::test]
async fn twenty_percent_5xx_is_red_in_graph_and_list() {
    let s = anonymous().await;
    let (_, _, g) = call(
        &s,
        &format!(
            "/kiali/api/namespaces/graph?namespaces=bookinfo&graphType=workload&queryTime={T}"
        ),
        None,
    )
    .await;
    let node = g["elements"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["data"])
        .find(|d| d["workload"] == "reviews-v1")
        .unwrap_or_else(|| panic!("{g}"));
    assert_eq!(node["healthData"]["status"]["status"], "Failure", "{node}");
    assert_eq!(node["healthData"]["status"]["errorRatio"], 20.0, "{node}");
    let (_, _, list) = call(
        &s,
        &format!("/kiali/api/clusters/health?namespaces=bookinfo&type=workload&queryTime={T}"),
        None,
    )
    .await;
    let listed = &list["namespaceWorkloadHealth"]["bookinfo"]["reviews-v1"];
    assert_eq!(listed["status"]["status"], "Failure", "{list}");
    // Without the health appender the graph carries none.
    let (_, _, g) = call(
        &s,
        &format!(
            "/kiali/api/namespaces/graph?namespaces=bookinfo&appenders=deadNode&queryTime={T}"
        ),
        None,
    )
    .await;
    assert!(
        g["elements"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["data"]["healthData"].is_null()),
        "{g}"
    );
}

#[tokio::test]
async fn kiali_appenders_not_implemented_are_400_saying_so() {
    let s = anonymous().await;
    for name in ["ambient", "extensions"] {
        let (st, _, b) = call(
            &s,
            &format!("/kiali/api/namespaces/graph?namespaces=bookinfo&appenders=deadNode,{name}"),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
        assert_eq!(b["parameter"], "appenders");
        assert!(b["error"].as_str().unwrap().contains(name), "{b}");
        let allowed = b["allowed"].as_str().unwrap();
        assert!(allowed.starts_with("not supported ("), "{b}");
        assert!(
            allowed.contains("meshCheck") && allowed.contains("workloadEntry"),
            "{b}"
        );
    }
    // Kiali's older meshCheck name is accepted.
    let (st, _, b) = call(
        &s,
        "/kiali/api/namespaces/graph?namespaces=bookinfo&appenders=sidecarsCheck,workloadEntry",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b}");
}

#[tokio::test]
async fn aggregate_nodes_come_from_the_classified_series() {
    let s = anonymous().await;
    let (st, _, g) = call(
        &s,
        &format!(
            "/kiali/api/namespaces/graph?namespaces=bookinfo&graphType=workload&injectServiceNodes=true&appenders=aggregateNode&queryTime={T}"
        ),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{g}");
    let aggs: Vec<&Value> = g["elements"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["data"])
        .filter(|d| d["nodeType"] == "aggregate")
        .collect();
    assert!(!aggs.is_empty(), "{g}");
    assert!(
        aggs.iter()
            .all(|d| d["aggregate"] == "request_operation=Search" && d["service"].is_string()),
        "{g}"
    );
    // A label name Prometheus would refuse is a 400 naming the parameter.
    let (st, _, b) = call(
        &s,
        "/kiali/api/namespaces/graph?namespaces=bookinfo&appenders=aggregateNode&aggregate=request-operation",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["parameter"], "aggregate");
    assert!(b["allowed"].as_str().unwrap().contains("label name"), "{b}");
}
