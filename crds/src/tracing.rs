//! `external_services.tracing`: the tracing store as Kiali reads it (Kiali's keys, so an
//! existing CR works unchanged). The server reads Jaeger's HTTP query API (`/api/traces`,
//! `/api/traces/{id}`), which Jaeger serves and Tempo serves through its Jaeger-compatible query
//! frontend; `auth` and `custom_headers` mean what they mean for Prometheus.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::service_auth::{Extra, PrometheusAuth};

/// The trace providers Kiali knows; both are read through the Jaeger query API.
pub const PROVIDERS: &[&str] = &["jaeger", "tempo"];

/// `external_services.tracing`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct TracingConfig {
    /// Off: the traces routes answer 503 `disabled` and the UI shows no traces tab.
    pub enabled: bool,
    /// `jaeger` or `tempo` (Tempo through its Jaeger-compatible query API).
    pub provider: String,
    /// The URL the server queries, e.g. `http://tracing.istio-system:16686/jaeger`.
    pub internal_url: String,
    /// The URL a browser opens (`/api/config` and the tracing info give it to the UI).
    pub external_url: String,
    /// Kiali's gRPC query client. This server speaks the HTTP query API only: `true` is refused
    /// with a message naming the field (Kiali's default is `true`, so the default here is `false`).
    pub use_grpc: bool,
    /// Istio names a proxy's service `<app>.<namespace>`: with `true` the server looks traces up
    /// under that name, with `false` under `<app>` alone.
    pub namespace_selector: bool,
    /// Tags added to every trace search (e.g. `{istio.mesh_id: mesh-a}`), as Kiali does.
    pub query_scope: BTreeMap<String, String>,
    pub auth: PrometheusAuth,
    pub custom_headers: BTreeMap<String, String>,
    /// Seconds a query may take; 0 = the server's default (5 s, Kiali's).
    #[serde(skip_serializing_if = "is_zero")]
    pub query_timeout: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            enabled: true,
            provider: "jaeger".into(),
            internal_url: String::new(),
            external_url: String::new(),
            use_grpc: false,
            namespace_selector: true,
            query_scope: BTreeMap::new(),
            auth: PrometheusAuth::default(),
            custom_headers: BTreeMap::new(),
            query_timeout: 0,
            extra: Extra::new(),
        }
    }
}

impl TracingConfig {
    /// Why the server cannot query this store, naming the field and what would be valid; `None`
    /// when it can.
    pub fn problem(&self) -> Option<String> {
        let provider = self.provider.trim().to_ascii_lowercase();
        if !provider.is_empty() && !PROVIDERS.contains(&provider.as_str()) {
            return Some(format!(
                "external_services.tracing.provider {:?} is not valid: allowed {}",
                self.provider,
                PROVIDERS.join(", ")
            ));
        }
        if self.use_grpc {
            return Some(
                "external_services.tracing.use_grpc: true is not supported: set it to false and internal_url to the HTTP query port (16686)"
                    .into(),
            );
        }
        if self.internal_url.trim().is_empty() {
            return Some("external_services.tracing.internal_url is not set".into());
        }
        None
    }

    /// The service name Istio's proxies give `app` of `namespace` (`namespace_selector`).
    pub fn service_name(&self, app: &str, namespace: &str) -> String {
        if self.namespace_selector {
            format!("{app}.{namespace}")
        } else {
            app.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_problems_name_the_field() {
        let t = TracingConfig::default();
        assert!(t.enabled && t.namespace_selector && !t.use_grpc);
        assert!(t.problem().unwrap().contains("internal_url"));
        let ok = TracingConfig {
            internal_url: "http://jaeger:16686".into(),
            ..TracingConfig::default()
        };
        assert_eq!(ok.problem(), None);
        let grpc = TracingConfig {
            use_grpc: true,
            ..ok.clone()
        };
        assert!(grpc.problem().unwrap().contains("use_grpc"));
        let zipkin = TracingConfig {
            provider: "zipkin".into(),
            ..ok.clone()
        };
        assert!(zipkin.problem().unwrap().contains("allowed jaeger, tempo"));
        assert_eq!(ok.service_name("reviews", "bookinfo"), "reviews.bookinfo");
        let plain = TracingConfig {
            namespace_selector: false,
            ..ok
        };
        assert_eq!(plain.service_name("reviews", "bookinfo"), "reviews");
    }

    #[test]
    fn kiali_keys_round_trip() {
        let t: TracingConfig = serde_json::from_value(serde_json::json!({
            "enabled": true, "provider": "tempo", "internal_url": "http://t:16686",
            "use_grpc": false, "query_scope": {"istio.mesh_id": "m"},
            "auth": {"type": "bearer", "token": "x"}, "whitelist_istio_system": ["jaeger-query"]
        }))
        .unwrap();
        assert_eq!(t.provider, "tempo");
        assert_eq!(t.auth.auth_type, "bearer");
        assert!(t.extra.contains_key("whitelist_istio_system"));
    }
}
