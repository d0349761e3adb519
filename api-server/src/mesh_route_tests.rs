//! The mesh routes through `Router::oneshot` over the in-memory mesh of [`crate::api_tests`]:
//! east without a control plane, west without an Istio namespace, north unreachable.

use axum::http::StatusCode;

use crate::api_tests::{call, state};
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
