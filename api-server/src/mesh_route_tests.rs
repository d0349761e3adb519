//! The mesh routes through `Router::oneshot` over the in-memory mesh of [`crate::api_tests`]:
//! east without a control plane, west without an Istio namespace, north unreachable.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;

use crate::api_tests::{assembled, call, configured, mesh, reviewer, state};
use crate::auth::{Auth, AuthStrategy};
use crate::registry::Registry;
use crate::state::MISSING_HEADER;

#[tokio::test]
async fn mesh_routes_show_every_cluster_and_name_the_unreachable_one() {
    let s = state(AuthStrategy::Anonymous, "/kiali");
    let (st, h, g) = call(&s, "/kiali/api/mesh/graph", None).await;
    assert_eq!(st, StatusCode::OK, "{g}");
    assert_eq!(h.get(MISSING_HEADER).map(String::as_str), Some("north"));
    let boxes: Vec<(String, String)> = g["elements"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["data"]["isBox"] == "cluster")
        .map(|n| {
            (
                n["data"]["cluster"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                n["data"]["healthData"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        boxes,
        [
            ("east".to_string(), "Healthy".to_string()),
            ("north".to_string(), "Unreachable".to_string()),
            ("west".to_string(), "Healthy".to_string()),
        ]
    );
    assert_eq!(g["missingClusters"][0]["name"], "north");

    let (st, h, status) = call(&s, "/kiali/api/istio/status", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h.get(MISSING_HEADER).map(String::as_str), Some("north"));
    // east has an Istio namespace and no istiod; west has no Istio namespace.
    assert_eq!(
        status,
        serde_json::json!([{"cluster": "east", "name": "istiod", "namespace": "istio-system", "status": "NotFound", "is_core": true}])
    );
    let (st, _, cps) = call(&s, "/kiali/api/mesh/controlplanes", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(cps, serde_json::json!([]));
    let (st, _, body) = call(&s, "/kiali/api/istio/status?clusterName=nosuch", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("clusterName"), "{body}");
}

#[tokio::test]
async fn a_user_who_cannot_read_the_istio_namespace_sees_no_control_plane_status() {
    let s = state(AuthStrategy::Token, "/kiali");
    let (st, _, status) = call(&s, "/kiali/api/istio/status", Some("t-alice")).await;
    assert_eq!(st, StatusCode::OK, "{status}");
    assert!(status.as_array().is_some_and(|a| a.is_empty()), "{status}");
    let (st, _, _) = call(&s, "/kiali/api/mesh/graph", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

/// Grafana (`external_services.grafana` enabled with an `internal_url`) is an infrastructure
/// node of the mesh graph, reachable when its `/api/health` answers, and an add-on of
/// `/api/istio/status`; without an `internal_url` there is no node.
#[tokio::test]
async fn grafana_is_an_infra_node_with_its_reachability() {
    let app = axum::Router::new().route("/api/health", axum::routing::get(|| async { "ok" }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let base = state(AuthStrategy::Anonymous, "/kiali");
    for (url, health) in [
        (format!("http://{addr}"), "Healthy"),
        (format!("http://{closed}/"), "Unreachable"),
    ] {
        let s = configured(|c| c.external_services.grafana.internal_url = url);
        let (st, _, g) = call(&s, "/kiali/api/mesh/graph", None).await;
        assert_eq!(st, StatusCode::OK, "{g}");
        let nodes: Vec<&serde_json::Value> = g["elements"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| &n["data"])
            .filter(|d| d["infraType"] == "grafana")
            .collect();
        assert_eq!(nodes.len(), 1, "{g}");
        assert_eq!(nodes[0]["infraName"], "Grafana");
        assert_eq!(nodes[0]["healthData"], health, "{g}");
        // A loopback URL names no Service of the mesh: outside it.
        assert_eq!(nodes[0]["cluster"], "_external_");
        let (_, _, status) = call(&s, "/kiali/api/istio/status", None).await;
        assert!(
            status
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == "grafana" && c["status"] == health && c["is_core"] == false),
            "{status}"
        );
    }
    let (_, _, g) = call(&base, "/kiali/api/mesh/graph", None).await;
    assert!(!g.to_string().contains("\"grafana\""), "{g}");
}

/// Anonymous callers of the mesh routes, however many, make the server probe Grafana once per
/// [`crate::grafana::PROBE_TTL`]; its URL, credentials included, is shown to none of them.
#[tokio::test]
async fn grafana_is_probed_once_per_ttl_and_its_url_is_not_shown_to_anonymous_callers() {
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/api/health",
        axum::routing::get(move || {
            h.fetch_add(1, Ordering::SeqCst);
            async { "ok" }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    let s = configured(|c| {
        c.external_services.grafana.internal_url = format!("http://admin:pw@{addr}/")
    });
    let calls: Vec<_> = (0..30)
        .map(|i| {
            let s = s.clone();
            let path = ["mesh/graph", "mesh/controlplanes", "istio/status"][i % 3];
            tokio::spawn(async move { call(&s, &format!("/kiali/api/{path}"), None).await })
        })
        .collect();
    for c in calls {
        let (st, _, body) = c.await.unwrap();
        assert_eq!(st, StatusCode::OK, "{body}");
        let text = body.to_string();
        for secret in ["admin", "pw@", &addr.to_string()] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "probes sent for 30 requests"
    );
}

/// A Jaeger stand-in: `/api/services` answers `status` (a redirect when 302) and is counted;
/// with `token`, only a request bearing it is answered 200.
async fn jaeger(status: u16, token: Option<&'static str>) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/api/services",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let h = h.clone();
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                let bearer = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(String::from);
                let code = match token {
                    Some(t) if bearer.as_deref() != Some(&format!("Bearer {t}")) => 401,
                    _ => status,
                };
                let mut resp = axum::response::Response::new(axum::body::Body::from(
                    r#"{"data":["productpage.bookinfo"],"total":1}"#,
                ));
                *resp.status_mut() = StatusCode::from_u16(code).unwrap();
                if code == 302 {
                    resp.headers_mut()
                        .insert("location", "/api/services?elsewhere".parse().unwrap());
                }
                resp
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    (format!("http://{addr}"), hits)
}

fn trace_store(g: &serde_json::Value) -> Vec<serde_json::Value> {
    g["elements"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["data"].clone())
        .filter(|d| d["infraType"] == "traceStore")
        .collect()
}

/// With `external_services.tracing` enabled, the tracing store is an infrastructure node named by
/// its provider, reachable when its query API answers `/api/services` (with the store's
/// credentials, no redirect followed); disabled or without a URL there is no node, and a store
/// the server cannot use is unreachable.
#[tokio::test]
async fn the_tracing_store_is_an_infra_node_with_its_reachability() {
    let (up, _) = jaeger(200, Some("s3cret")).await;
    let (moved, moved_hits) = jaeger(302, None).await;
    let (refusing, _) = jaeger(200, Some("other")).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    for (url, provider, health) in [
        (up.clone(), "", "Healthy"),
        (up.clone(), "Tempo", "Healthy"),
        (moved, "jaeger", "Unreachable"),
        (refusing, "jaeger", "Unreachable"),
        (format!("http://{closed}/"), "jaeger", "Unreachable"),
    ] {
        let s = configured(|c| {
            let t = &mut c.external_services.tracing;
            t.internal_url = url.clone();
            t.provider = provider.into();
            t.auth.auth_type = "bearer".into();
            t.auth.token = "s3cret".into();
        });
        let (st, _, g) = call(&s, "/kiali/api/mesh/graph", None).await;
        assert_eq!(st, StatusCode::OK, "{g}");
        let nodes = trace_store(&g);
        assert_eq!(nodes.len(), 1, "{url}: {g}");
        let want = match provider {
            "" => "jaeger".to_string(),
            p => p.to_ascii_lowercase(),
        };
        assert_eq!(nodes[0]["infraName"], want.as_str());
        assert_eq!(nodes[0]["healthData"], health, "{url}");
        assert_eq!(nodes[0]["cluster"], "_external_");
        let (_, _, status) = call(&s, "/kiali/api/istio/status", None).await;
        assert!(
            status
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == "tracing" && c["status"] == health),
            "{status}"
        );
    }
    assert_eq!(
        moved_hits.load(Ordering::SeqCst),
        1,
        "the redirect was followed"
    );

    let off = configured(|c| {
        c.external_services.tracing.enabled = false;
        c.external_services.tracing.internal_url = up.clone();
    });
    let unset = configured(|_| {});
    for s in [off, unset] {
        let (_, _, g) = call(&s, "/kiali/api/mesh/graph", None).await;
        assert!(trace_store(&g).is_empty(), "{g}");
    }
    let grpc = configured(|c| {
        c.external_services.tracing.internal_url = up.clone();
        c.external_services.tracing.use_grpc = true;
    });
    let (_, _, g) = call(&grpc, "/kiali/api/mesh/graph", None).await;
    let nodes = trace_store(&g);
    assert_eq!(nodes.len(), 1, "{g}");
    assert_eq!(nodes[0]["healthData"], "Unreachable");
    // Why, for signed-in callers only.
    assert!(nodes[0]["infraData"].get("Error").is_none(), "{g}");
}

/// Callers of the mesh routes, however many, make the server probe the tracing store once per
/// TTL; its URL is shown to signed-in callers only, never with credentials or a query.
#[tokio::test]
async fn the_tracing_store_is_probed_once_per_ttl_and_its_url_shown_to_signed_in_callers() {
    let (url, hits) = jaeger(200, None).await;
    let addr = url.trim_start_matches("http://").to_string();
    let edit = |c: &mut crate::Config| {
        c.external_services.tracing.internal_url = format!("http://admin:pw@{addr}/?api_key=k1");
    };
    let anonymous = configured(edit);
    let calls: Vec<_> = (0..30)
        .map(|i| {
            let s = anonymous.clone();
            let path = ["mesh/graph", "mesh/controlplanes", "istio/status"][i % 3];
            tokio::spawn(async move { call(&s, &format!("/kiali/api/{path}"), None).await })
        })
        .collect();
    for c in calls {
        let (st, _, body) = c.await.unwrap();
        assert_eq!(st, StatusCode::OK, "{body}");
        let text = body.to_string();
        for secret in ["admin", "pw@", "k1", &addr] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "probes sent for 30 requests"
    );

    // alice reads bookinfo, where this console is deployed: she sees the URL, redacted.
    let mut config = crate::Config::default();
    edit(&mut config);
    config.deployment.namespace = "bookinfo".into();
    let signed_in = assembled(
        config,
        Registry::with(mesh()),
        Arc::new(Auth::new(AuthStrategy::Token, reviewer())),
    );
    let (st, _, g) = call(&signed_in, "/kiali/api/mesh/graph", Some("t-alice")).await;
    assert_eq!(st, StatusCode::OK, "{g}");
    let nodes = trace_store(&g);
    assert_eq!(nodes.len(), 1, "{g}");
    assert_eq!(nodes[0]["healthData"], "Healthy");
    assert_eq!(nodes[0]["infraData"]["URL"], format!("http://{addr}"));
    for secret in ["admin", "pw@", "k1"] {
        assert!(!g.to_string().contains(secret), "{secret} in {g}");
    }
}
