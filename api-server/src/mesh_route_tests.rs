//! The mesh routes through `Router::oneshot` over the in-memory mesh of [`crate::api_tests`]:
//! east without a control plane, west without an Istio namespace, north unreachable.

use axum::http::StatusCode;

use crate::api_tests::{call, configured, state};
use crate::auth::AuthStrategy;
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
    use std::sync::atomic::{AtomicUsize, Ordering};
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
