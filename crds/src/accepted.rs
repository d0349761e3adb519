//! Fields this version acts on. Everything else a Kiali CR may hold is accepted, copied into
//! `config.yaml`, and listed in `status.ignoredFields` so nobody believes it took effect.

use serde_json::Value;

use crate::spec::KialiSpec;

/// Dotted spec paths acted on by the operator or the server; a path covers everything below it.
///
/// Not hand-kept: `tests/tests/acted_on.rs` holds one case per path, each showing that changing the
/// field changes the objects the operator builds or what the server does, and fails when a path has
/// no case. A field whose effect cannot be shown does not belong here (it is reported ignored).
pub const ACTED_ON: &[&str] = &[
    "istio_namespace",
    "auth.strategy",
    // The openid strategy (api-server/src/openid.rs). Also acted on but without a case here, so
    // still reported: allowed_domains (unit test); not read: disable_rbac, api_token,
    // authentication_timeout.
    "auth.openid.client_id",
    "auth.openid.issuer_uri",
    "auth.openid.authorization_endpoint",
    "auth.openid.scopes",
    "auth.openid.additional_request_params",
    "auth.openid.username_claim",
    "auth.openid.clusters",
    // The openshift strategy's OAuthClient (operator/src/build/oauth.rs). Also acted on but
    // without a case here, so still reported: insecure_skip_verify_tls and clusters (the server's
    // requests to the OAuth servers; unit and end-to-end tests); not read: auth_timeout,
    // client_id_prefix (deprecated in Kiali).
    "auth.openshift.redirect_uris",
    "auth.openshift.token_inactivity_timeout",
    "auth.openshift.token_max_age",
    "clustering.autodetect_secrets.enabled",
    "clustering.autodetect_secrets.label",
    "clustering.clusters",
    "clustering.enable_exec_provider",
    "clustering.ignore_home_cluster",
    "deployment.instance_name",
    "deployment.namespace",
    "deployment.remote_cluster_resources_only",
    "deployment.view_only_mode",
    "deployment.cluster_wide_access",
    "deployment.discovery_selectors",
    "deployment.accessible_namespaces",
    "deployment.image_name",
    "deployment.image_version",
    "deployment.image_digest",
    "deployment.image_pull_policy",
    "deployment.image_pull_secrets",
    "deployment.replicas",
    "deployment.resources",
    "deployment.affinity",
    "deployment.tolerations",
    "deployment.node_selector",
    "deployment.pod_annotations",
    "deployment.pod_labels",
    "deployment.priority_class_name",
    "deployment.service_type",
    "deployment.service_annotations",
    "deployment.ingress.enabled",
    "deployment.ingress.class_name",
    "deployment.ingress.override_yaml",
    "deployment.logger.log_level",
    "deployment.logger.log_format",
    // The metrics client (api-server/src/upstream.rs, prom.rs): `enabled`, `is_core` and
    // `cache_*` are not read by anything, so they are reported when set.
    // Grafana's infrastructure node on the mesh page (api-server/src/grafana.rs): whether it is
    // shown, and whether its `/api/health` answers.
    "external_services.grafana.enabled",
    "external_services.grafana.internal_url",
    "external_services.prometheus.url",
    "external_services.prometheus.health_check_url",
    "external_services.prometheus.auth.type",
    "external_services.prometheus.auth.use_kiali_token",
    "external_services.prometheus.auth.username",
    "external_services.prometheus.auth.password",
    "external_services.prometheus.auth.token",
    "external_services.prometheus.auth.ca_file",
    "external_services.prometheus.auth.insecure_skip_verify",
    "external_services.prometheus.custom_headers",
    "external_services.prometheus.query_scope",
    "external_services.prometheus.thanos_proxy.enabled",
    "external_services.prometheus.thanos_proxy.retention_period",
    "external_services.prometheus.thanos_proxy.scrape_interval",
    // The tracing client (api-server/src/traces.rs over upstream.rs): `query_timeout`,
    // `health_check_url`, `is_core`, `tempo_config`, `grpc_port`, `whitelist_istio_system`,
    // `disable_version_check`, `use_waypoint_name` have no case, so they are reported when set.
    "external_services.tracing.enabled",
    "external_services.tracing.provider",
    "external_services.tracing.internal_url",
    "external_services.tracing.external_url",
    "external_services.tracing.use_grpc",
    "external_services.tracing.namespace_selector",
    "external_services.tracing.query_scope",
    "external_services.tracing.custom_headers",
    "external_services.tracing.auth.type",
    "external_services.tracing.auth.use_kiali_token",
    "external_services.tracing.auth.username",
    "external_services.tracing.auth.password",
    "external_services.tracing.auth.token",
    "external_services.tracing.auth.ca_file",
    "external_services.tracing.auth.insecure_skip_verify",
    "health_config.rate",
    // crds/src/feature_flags.rs; the other feature flags are not read.
    "kiali_feature_flags.validations.ignore",
    "kiali_feature_flags.validations.skip_wildcard_gateway_hosts",
    "istio_labels.app_label_name",
    "istio_labels.version_label_name",
    "kubernetes_config.cluster_name",
    "login_token.expiration_seconds",
    "server.address",
    "server.port",
    "server.web_root",
    "server.web_fqdn",
    "server.web_schema",
    "server.web_port",
    "server.observability.metrics.enabled",
    "server.observability.metrics.port",
    "server.gzip_enabled",
    // The view caches (api-server/src/view_cache.rs).
    "kiali_internal.graph_cache.enabled",
    "kiali_internal.graph_cache.refresh_interval",
    "kiali_internal.graph_cache.inactivity_timeout",
    "kiali_internal.graph_cache.max_cache_memory_mb",
    "kiali_internal.health_cache.enabled",
    "kiali_internal.health_cache.refresh_interval",
    "kiali_internal.health_cache.inactivity_timeout",
    "kiali_internal.health_cache.max_cache_memory_mb",
];

/// Spec paths present on the CR that nothing acts on, shallowest first, sorted.
pub fn ignored_fields(spec: &KialiSpec) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(v) = serde_json::to_value(spec) {
        walk(&v, "", &mut out);
    }
    out.sort();
    out
}

fn walk(v: &Value, prefix: &str, out: &mut Vec<String>) {
    let Value::Object(map) = v else { return };
    for (k, child) in map {
        if child.is_null() {
            continue;
        }
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if ACTED_ON
            .iter()
            .any(|a| *a == path || path.starts_with(&format!("{a}.")))
        {
            continue;
        }
        let below = format!("{path}.");
        if ACTED_ON.iter().any(|a| a.starts_with(&below)) && child.is_object() {
            walk(child, &path, out);
        } else {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ossm_primary_cr_reports_only_version() {
        let spec: KialiSpec = serde_json::from_value(serde_json::json!({
            "version": "default",
            "external_services": {"prometheus": {
                "auth": {"type": "bearer", "use_kiali_token": true},
                "thanos_proxy": {"enabled": true},
                "url": "https://thanos-querier.openshift-monitoring.svc.cluster.local:9091"
            }}
        }))
        .unwrap();
        assert_eq!(ignored_fields(&spec), vec!["version".to_string()]);
        // The metrics client's unread knobs are reported.
        let spec: KialiSpec = serde_json::from_value(serde_json::json!({
            "external_services": {"prometheus": {
                "enabled": true, "cache_enabled": true, "cache_duration": 7, "is_core": true,
                "query_scope": {"mesh_id": "m"}
            }}
        }))
        .unwrap();
        assert_eq!(
            ignored_fields(&spec),
            vec![
                "external_services.prometheus.cache_duration",
                "external_services.prometheus.cache_enabled",
                "external_services.prometheus.enabled",
                "external_services.prometheus.is_core",
            ]
        );
    }

    #[test]
    fn unknown_and_unmodelled_keys_are_listed() {
        let spec: KialiSpec = serde_json::from_value(serde_json::json!({
            "auth": {"openshift": {"redirect_uris": ["https://x/api/auth/callback/cluster2"], "client_id_prefix": "k"}},
            "deployment": {"remote_cluster_resources_only": true, "hpa": {"spec": {}}, "future_knob": 3, "logger": {"log_level": "debug", "sampler_rate": "1"}},
            "chat_ai": {"enabled": false}
        }))
        .unwrap();
        assert_eq!(
            ignored_fields(&spec),
            vec![
                "auth.openshift.client_id_prefix",
                "chat_ai",
                "deployment.future_knob",
                "deployment.hpa",
                "deployment.logger.sampler_rate"
            ]
        );
    }
}
