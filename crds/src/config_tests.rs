//! Tests of the config model: the CR spec read into [`Config`], its defaults and its errors.

use super::*;

fn spec(v: serde_json::Value) -> KialiSpec {
    serde_json::from_value(v).unwrap()
}

#[test]
fn the_signing_key_never_reaches_config_yaml() {
    let cfg = Config::from_spec(
        &spec(serde_json::json!({"login_token": {"signing_key": "s3cr3t-s3cr3t-s3", "expiration_seconds": 60}})),
        "istio-system",
    )
    .unwrap();
    assert_eq!(cfg.session_seconds(), 60);
    assert!(!cfg.to_yaml().unwrap().contains("s3cr3t"));
    let d = Config::from_spec(&KialiSpec::default(), "istio-system").unwrap();
    assert_eq!(d.session_seconds(), DEFAULT_SESSION_SECONDS);
}

#[test]
fn the_public_base_takes_the_request_only_for_what_is_unset() {
    let base = |server: serde_json::Value, proto, host| {
        Config::from_spec(&spec(serde_json::json!({"server": server})), "ns")
            .unwrap()
            .public_base(proto, host)
    };
    assert_eq!(
        base(serde_json::json!({}), None, Some("h:20001")),
        "http://h:20001/kiali"
    );
    assert_eq!(
        base(
            serde_json::json!({}),
            Some("https"),
            Some("proxy.example:443")
        ),
        "https://proxy.example/kiali"
    );
    // Set: the headers are not asked.
    let all =
        serde_json::json!({"web_fqdn": "kiali.example", "web_schema": "https", "web_port": 8443});
    assert_eq!(
        base(all, Some("http"), Some("evil.example")),
        "https://kiali.example:8443/kiali"
    );
    assert_eq!(
        base(
            serde_json::json!({"web_fqdn": "kiali.example", "web_port": "80"}),
            None,
            Some("evil:1")
        ),
        "http://kiali.example/kiali"
    );
    assert_eq!(
        base(
            serde_json::json!({"web_port": 9000, "web_root": "/"}),
            None,
            Some("h:1")
        ),
        "http://h:9000"
    );
    for (bad, field) in [
        (
            serde_json::json!({"web_schema": "ftp"}),
            "server.web_schema",
        ),
        (serde_json::json!({"web_port": "x"}), "server.web_port"),
        (serde_json::json!({"web_port": 0}), "server.web_port"),
    ] {
        let e = Config::from_spec(&spec(serde_json::json!({"server": bad})), "ns")
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{e}");
    }
}

#[test]
fn empty_spec_gets_every_default() {
    let cfg = Config::from_spec(&KialiSpec::default(), "istio-system").unwrap();
    assert_eq!(cfg.auth.strategy, "token");
    assert_eq!(cfg.deployment.instance_name, "kiali");
    assert_eq!(cfg.deployment.namespace, "istio-system");
    assert_eq!(cfg.istio_namespace, "istio-system");
    assert!(cfg.deployment.cluster_wide_access && !cfg.deployment.view_only_mode);
    assert_eq!(cfg.server.port, 20001);
    assert_eq!(cfg.server.observability.metrics.port, 9090);
    assert_eq!(cfg.server.web_root, "/kiali");
    assert_eq!(
        cfg.external_services.prometheus.url,
        "http://prometheus.istio-system:9090"
    );
    assert!(cfg.clustering.autodetect_secrets.enabled);
    assert_eq!(
        cfg.clustering.autodetect_secrets.label,
        DEFAULT_SECRET_LABEL
    );
    assert_eq!(cfg.health_config, HealthConfig::kiali_default());
}

#[test]
fn ossm_primary_cr_keeps_its_values_and_round_trips() {
    let s = spec(serde_json::json!({
        "version": "default",
        "external_services": {"prometheus": {
            "auth": {"type": "bearer", "use_kiali_token": true},
            "thanos_proxy": {"enabled": true},
            "url": "https://thanos-querier.openshift-monitoring.svc.cluster.local:9091"
        }}
    }));
    let cfg = Config::from_spec(&s, "istio-system").unwrap();
    let p = &cfg.external_services.prometheus;
    assert_eq!(
        p.url,
        "https://thanos-querier.openshift-monitoring.svc.cluster.local:9091"
    );
    assert_eq!(p.auth.auth_type, "bearer");
    assert!(p.auth.use_kiali_token && p.thanos_proxy.enabled);
    let yaml = cfg.to_yaml().unwrap();
    assert_eq!(Config::from_yaml(&yaml).unwrap(), cfg);
}

#[test]
fn empty_strings_mean_default_and_unknown_keys_survive() {
    let s = spec(serde_json::json!({
        "auth": {"strategy": ""},
        "deployment": {"instance_name": "", "namespace": "", "image_name": "quay.io/x/y", "future": {"a": 1}},
        "server": {"web_root": "", "port": 8080},
        "brand_new_section": {"x": true},
        "health_config": {"rate": [{"namespace": "bookinfo", "tolerance": [{"code": "5XX", "degraded": 5, "failure": 20}]}]}
    }));
    let cfg = Config::from_spec(&s, "mesh").unwrap();
    assert_eq!(cfg.auth.strategy, "token");
    assert_eq!(cfg.deployment.instance_name, "kiali");
    assert_eq!(cfg.deployment.namespace, "mesh");
    assert_eq!(cfg.server.web_root, "/kiali");
    assert_eq!(cfg.server.port, 8080);
    assert_eq!(cfg.deployment.extra["future"], serde_json::json!({"a": 1}));
    assert_eq!(cfg.deployment.extra["image_name"], "quay.io/x/y");
    assert_eq!(
        cfg.extra["brand_new_section"],
        serde_json::json!({"x": true})
    );
    assert_eq!(cfg.health_config.rate.len(), 2);
    let user = &cfg.health_config.rate[0];
    assert_eq!(
        (user.namespace.as_str(), user.kind.as_str()),
        ("bookinfo", ".*")
    );
    assert_eq!(user.tolerance[0].protocol, ".*");
    assert_eq!(
        cfg.health_config.rate[1],
        HealthConfig::kiali_default().rate[0]
    );
}

#[test]
fn partial_file_reads_with_defaults() {
    let cfg = Config::from_yaml(
        "auth:\n  strategy: anonymous\nclustering:\n  clusters:\n  - name: west\n",
    )
    .unwrap();
    assert_eq!(cfg.auth.strategy, "anonymous");
    assert_eq!(cfg.server.port, 20001);
    assert_eq!(cfg.clustering.clusters[0].name, "west");
    assert!(cfg.clustering.clusters[0].accessible);
}
