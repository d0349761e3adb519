//! Status and configuration: `/api/status`, `/api/auth/info`, `/api/config`, readiness.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::Shared;

/// `/readyz`: 200 once every cluster's caches are synced (or the cluster is known unreachable).
pub async fn get_readiness(State(s): State<Shared>) -> Response {
    if s.registry.ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        let waiting: Vec<String> = s
            .registry
            .snapshot()
            .iter()
            .filter(|c| !c.state.settled())
            .map(|c| c.name.clone())
            .collect();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("caches not synced: {}", waiting.join(", ")),
        )
            .into_response()
    }
}

/// `/api/status` (public): Kiali's status, with a warning naming each unavailable cluster,
/// never why. Callers the token strategy authenticated (anonymous mode has none) also get the
/// Prometheus URL.
pub async fn get_status(State(s): State<Shared>, headers: HeaderMap) -> Json<Value> {
    let detailed = super::login::signed_in(&s, &headers).await;
    let warnings: Vec<String> = s
        .registry
        .snapshot()
        .iter()
        .filter(|c| !c.state.accessible())
        // The reason (a refused kubeconfig field, an API error) is for signed-in callers only:
        // `/api/config` shows it.
        .map(|c| format!("cluster {} is not available", c.name))
        .collect();
    let mut prometheus = json!({"name": "Prometheus"});
    if detailed {
        prometheus["url"] = json!(s.config.prometheus_url());
    }
    Json(json!({
        "status": {
            "Kiali state": "running",
            "Kiali version": env!("CARGO_PKG_VERSION"),
            "Kiali commit hash": "",
            "Kiali container version": "",
        },
        "externalServices": [prometheus],
        "warningMessages": warnings,
        "istioEnvironment": {"isMaistra": false, "istioAPIEnabled": true},
    }))
}

/// `/api/config`: the clusters, the auth strategy and the settings the UI reads.
pub async fn get_config(State(s): State<Shared>) -> Json<Value> {
    let mut clusters = serde_json::Map::new();
    for c in s.registry.snapshot() {
        clusters.insert(
            c.name.clone(),
            json!({
                "name": c.name,
                "accessible": c.state.accessible(),
                "isKialiHome": c.is_home,
                "apiEndpoint": c.api_endpoint,
                "secretName": c.secret_name.clone().unwrap_or_default(),
                "network": "",
                "kialiInstances": [],
                "error": c.state.error(),
            }),
        );
    }
    // Clusters named in `clustering.clusters` without a kubeconfig: listed, not accessible.
    for c in &s.config.clustering.clusters {
        if c.name.is_empty() || clusters.contains_key(&c.name) {
            continue;
        }
        clusters.insert(
            c.name.clone(),
            json!({
                "name": c.name,
                "accessible": false,
                "isKialiHome": false,
                "apiEndpoint": "",
                "secretName": c.secret_name,
                "network": "",
                "kialiInstances": [],
                "error": "no kubeconfig for this cluster in the remote-cluster secrets directory",
            }),
        );
    }
    let home = s
        .registry
        .home()
        .map(|h| h.name.clone())
        .unwrap_or_default();
    Json(json!({
        "clusters": clusters,
        "authStrategy": s.auth.strategy.effective(),
        "istioNamespace": s.config.istio_namespace(),
        "istioConfigMap": "istio",
        "clusterWideAccess": s.config.deployment.cluster_wide_access,
        "webRoot": s.config.web_root(),
        "deployment": {"viewOnlyMode": s.config.deployment.view_only_mode},
        "healthConfig": {"rate": s.config.health_config.rate},
        "prometheus": {"globalScrapeInterval": 15},
        "clusterName": home,
        "istioLabels": {
            "appLabelName": non_empty_or(&s.config.istio_labels.app_label_name, "app"),
            "versionLabelName": non_empty_or(&s.config.istio_labels.version_label_name, "version"),
        },
    }))
}

fn non_empty_or<'a>(v: &'a str, default: &'a str) -> &'a str {
    if v.is_empty() { default } else { v }
}
