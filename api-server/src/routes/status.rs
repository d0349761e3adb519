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
/// never why, and Prometheus' health (its `health_check_url`, default `<url>/-/healthy`) as
/// `status["Prometheus health"]` and, when not healthy, a fixed reason code in
/// `status["Prometheus reason"]`. Callers the token strategy authenticated (anonymous mode has none) also
/// get the Prometheus URL, without credentials, and the names of the unavailable clusters (under
/// the anonymous strategy everyone gets those).
pub async fn get_status(State(s): State<Shared>, headers: HeaderMap) -> Json<Value> {
    let detailed = super::login::signed_in(&s, &headers).await;
    // Kiali's `externalServices` entries hold name, version and url only: the store's health
    // goes into the `status` map, as a fixed reason code.
    let mut prometheus = json!({"name": "Prometheus"});
    let mut status = json!({
        "Kiali state": "running",
        "Kiali version": env!("CARGO_PKG_VERSION"),
        "Kiali commit hash": "",
        "Kiali container version": "",
    });
    let mut prometheus_down = None;
    if let Some(p) = &s.prom {
        match p.health().await {
            Ok(()) => status["Prometheus health"] = json!("Healthy"),
            Err(f) => {
                status["Prometheus health"] = json!("Unreachable");
                status["Prometheus reason"] = json!(f.kind.code());
                prometheus_down = Some(f.kind.code());
            }
        }
    }
    if detailed {
        prometheus["url"] = json!(crate::upstream::redacted(&s.config.prometheus_url()));
    }
    let mut external = vec![prometheus];
    external.extend(tracing_entry(&s.config.external_services.tracing, detailed));
    let down: Vec<String> = s
        .registry
        .snapshot()
        .iter()
        .filter(|c| !c.state.accessible())
        .map(|c| c.name.clone())
        .collect();
    // The reason (a refused kubeconfig field, an API error) is for signed-in callers only:
    // `/api/config` shows it. Under a login strategy the names are too (as in /api/auth/info):
    // a caller who has not signed in learns only how many clusters are missing.
    let names_shown = detailed || s.auth.strategy == crate::auth::AuthStrategy::Anonymous;
    let mut warnings: Vec<String> = if names_shown {
        down.iter()
            .map(|c| format!("cluster {c} is not available"))
            .collect()
    } else if down.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "{} cluster(s) not available (sign in to see which)",
            down.len()
        )]
    };
    if let Some(code) = prometheus_down {
        warnings.push(format!("prometheus is not available ({code})"));
    }
    Json(json!({
        "status": status,
        "externalServices": external,
        "warningMessages": warnings,
        "istioEnvironment": {"isMaistra": false, "istioAPIEnabled": true},
    }))
}

/// The tracing store's `externalServices` entry, as Kiali lists it when
/// `external_services.tracing.enabled`: named by its provider (`jaeger`, `tempo`), with the
/// `external_url` a browser opens for callers shown URLs (never the `internal_url` the server
/// queries, nor its credentials). Kiali's version, read from Jaeger's UI page, is not sent: it
/// would cost the public status route a request to the store.
fn tracing_entry(cfg: &meshglass_crds::tracing::TracingConfig, detailed: bool) -> Option<Value> {
    if !cfg.enabled {
        return None;
    }
    let provider = cfg.provider.trim().to_ascii_lowercase();
    let name = if provider.is_empty() {
        "jaeger".to_string()
    } else {
        provider
    };
    let mut entry = json!({"name": name});
    if detailed && !cfg.external_url.trim().is_empty() {
        entry["url"] = json!(crate::upstream::redacted(&cfg.external_url));
    }
    Some(entry)
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
                // Optional Istio kinds this cluster's credentials may not watch (ours).
                "degradedKinds": c.state.degraded_kinds(),
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
        "prometheus": prometheus_settings(&s.config.external_services.prometheus.thanos_proxy),
        "clusterName": home,
        "istioLabels": {
            "appLabelName": non_empty_or(&s.config.istio_labels.app_label_name, "app"),
            "versionLabelName": non_empty_or(&s.config.istio_labels.version_label_name, "version"),
        },
    }))
}

/// What `/api/config` says of the metrics store. With `thanos_proxy.enabled` (Kiali's meaning: a
/// Thanos Query is the store, so its scrape interval and retention come from the configuration,
/// not from a Prometheus' own status API) they are the configured ones; otherwise Prometheus'
/// default scrape interval and no retention.
fn prometheus_settings(thanos: &meshglass_crds::config::ThanosProxy) -> Value {
    if !thanos.enabled {
        return json!({"globalScrapeInterval": 15});
    }
    let mut v = json!({});
    if let Some(secs) = duration_secs(&thanos.scrape_interval) {
        v["globalScrapeInterval"] = json!(secs);
    }
    if let Some(secs) = duration_secs(&thanos.retention_period) {
        v["storageTsdbRetention"] = json!(secs);
    }
    v
}

/// A Prometheus duration (`30s`, `7d`, `1h30m`) in seconds; `None` when it does not parse.
fn duration_secs(text: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut num = String::new();
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            "ms"
        } else {
            match c {
                's' => "s",
                'm' => "m",
                'h' => "h",
                'd' => "d",
                'w' => "w",
                'y' => "y",
                _ => return None,
            }
        };
        let n: u64 = num.parse().ok()?;
        num.clear();
        total += match unit {
            "ms" => n / 1000,
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86_400,
            "w" => n * 604_800,
            _ => n * 31_536_000,
        };
    }
    num.is_empty().then_some(total)
}

fn non_empty_or<'a>(v: &'a str, default: &'a str) -> &'a str {
    if v.is_empty() { default } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thanos_proxy_settings_are_kialis() {
        let mut t = meshglass_crds::config::ThanosProxy::default();
        assert_eq!(prometheus_settings(&t), json!({"globalScrapeInterval": 15}));
        t.enabled = true;
        assert_eq!(
            prometheus_settings(&t),
            json!({"globalScrapeInterval": 30, "storageTsdbRetention": 604_800})
        );
        t.scrape_interval = "1m30s".into();
        t.retention_period = "bogus".into();
        assert_eq!(prometheus_settings(&t), json!({"globalScrapeInterval": 90}));
        assert_eq!(duration_secs("2w"), Some(1_209_600));
        assert_eq!(duration_secs("15"), None);
    }
}
