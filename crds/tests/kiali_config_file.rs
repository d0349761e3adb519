//! A `config.yaml` written by Kiali's own operator loads into the one config model: Kiali's keys
//! and value types are read, unknown keys are kept, and a round trip loses nothing.

use meshglass_crds::Config;
use meshglass_crds::spec::AuthStrategy;

const KIALI_FILE: &str = include_str!("fixtures/kiali-operator-config.yaml");

#[test]
fn kiali_operator_file_loads_with_its_values() {
    let cfg = Config::from_yaml(KIALI_FILE).expect("Kiali's config.yaml loads");
    assert_eq!(cfg.auth_strategy(), Some(AuthStrategy::Token));
    assert_eq!(cfg.deployment_namespace(), "istio-system");
    assert_eq!(cfg.istio_namespace(), "istio-system");
    assert_eq!(cfg.web_root(), "/kiali");
    assert_eq!(
        (cfg.server.port, cfg.server.observability.metrics.port),
        (20001, 9090)
    );
    let p = &cfg.external_services.prometheus;
    assert_eq!(
        cfg.prometheus_url(),
        "https://thanos-querier.openshift-monitoring.svc.cluster.local:9091"
    );
    assert!(p.auth.use_kiali_token && p.thanos_proxy.enabled);
    assert_eq!(p.auth.auth_type, "bearer");
    assert_eq!(p.query_scope["mesh_id"], "mesh-a");
    assert_eq!(p.custom_headers["X-Scope-OrgID"], "mesh-a");
    // Integers where the model has floats, and keys the model does not name.
    let rule = &cfg.health_config.rate[0];
    assert_eq!(
        (rule.kind.as_str(), rule.name.as_str()),
        ("service", "reviews")
    );
    assert_eq!(
        (rule.tolerance[0].degraded, rule.tolerance[0].failure),
        (5.0, 20.0)
    );
    assert_eq!(rule.tolerance[0].extra["unknown_tolerance_key"], "kept");
    assert_eq!(cfg.health_config.extra["compute"]["cpu_threshold"], 0.8);
    assert_eq!(cfg.deployment.extra["image_version"], "v2.5.0");
    assert_eq!(
        cfg.extra["kiali_feature_flags"]["istio_injection_action"],
        true
    );
    assert_eq!(cfg.kubernetes_config.qps, 175);
}

#[test]
fn kiali_operator_file_round_trips() {
    let cfg = Config::from_yaml(KIALI_FILE).expect("loads");
    let again = Config::from_yaml(&cfg.to_yaml().expect("writes")).expect("loads again");
    assert_eq!(again, cfg);
}

#[test]
fn a_reader_gets_kiali_defaults_for_what_a_file_leaves_out() {
    let c = Config::from_yaml("").expect("empty file");
    assert_eq!(c.server.port, 20001);
    assert_eq!(c.web_root(), "/kiali");
    assert_eq!(c.server.observability.metrics.port, 9090);
    assert_eq!(c.prometheus_url(), "http://prometheus.istio-system:9090");
    assert_eq!(c.auth_strategy(), Some(AuthStrategy::Token));

    let c = Config::from_yaml(
        "auth:\n  strategy: anonymous\ndeployment:\n  namespace: mesh\n  unknown_key: 1\n\
         server:\n  port: 0\n  web_root: /\n  observability:\n    metrics:\n      port: 0\n\
         kubernetes_config:\n  cluster_name: east\nexternal_services:\n  prometheus:\n    url: http://p:9090/\n",
    )
    .expect("partial file");
    assert_eq!(c.auth_strategy(), Some(AuthStrategy::Anonymous));
    assert_eq!(c.web_root(), "");
    assert_eq!(c.prometheus_url(), "http://p:9090");
    assert_eq!(c.kubernetes_config.cluster_name, "east");
    assert_eq!(c.deployment_namespace(), "mesh");
    assert_eq!(c.deployment.extra["unknown_key"], 1);
    assert_eq!(
        Config::from_yaml("deployment:\n  namespace: mesh\n")
            .expect("ns")
            .prometheus_url(),
        "http://prometheus.mesh:9090"
    );
}

#[test]
fn unknown_strategy_and_bad_yaml_are_refused() {
    let c = Config::from_yaml("auth:\n  strategy: magic\n").expect("loads");
    assert_eq!(c.auth_strategy(), None);
    assert!(Config::from_yaml("server: [").is_err());
    let err = Config::from_yaml("server:\n  port: many\n").expect_err("port is a number");
    assert!(err.to_string().contains("port"), "{err}");
}
