//! `status.ignoredFields` is checked, not hand-kept: every path of `accepted::ACTED_ON` has a case
//! here that sets the field to two values and shows a difference in what the operator builds (its
//! pure build stage, the server's `config.yaml` and its hash left out, since every field lands there)
//! or in what the server does (started in process on a real test-bed cluster, from the
//! `config.yaml` the operator would write). The table's keys must equal `ACTED_ON`: a path added
//! without a case, or a case whose field no longer has an effect, fails this test, and such a
//! field belongs in `status.ignoredFields` until code acts on it.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ObjectMeta, PostParams};
use meshglass_crds::accepted::{ACTED_ON, ignored_fields};
use meshglass_crds::{Config, Kiali, KialiSpec, names};
use meshglass_operator::build::{BuildOptions, Platform, build_on, secret_data};
use meshglass_operator::reconcile::validate::Tenancy;
use meshglass_testbed::oidc::{CLIENT_SECRET, Provider};
use meshglass_testbed::standin::{Behaviour, Seen, StandIn};
use meshglass_testbed::{TestBed, TestNamespace, wait_until};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: NAME\n  cluster: {server: 'https://127.0.0.1:6443'}\nusers:\n- name: NAME\n  user: {token: abc}\ncontexts:\n- name: NAME\n  context: {cluster: NAME, user: NAME}\ncurrent-context: NAME\n";

/// Where a field's effect shows.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// The objects of the operator's build stage (or whether it builds at all).
    Build,
    /// As `Build`, on a cluster serving OpenShift's `oauth.openshift.io` API (the OAuthClient).
    BuildOnOpenShift,
    /// A JSON pointer into [`Server::observe`]'s answer of a server started from the config.
    Server(&'static str),
    /// What the server's log prints for a fixed set of events.
    Log,
}

struct Case {
    path: &'static str,
    /// The field's two values (`null`: absent).
    a: Value,
    b: Value,
    via: Via,
    /// Other fields the effect needs (e.g. `cluster_wide_access: false` for per-namespace roles).
    base: Value,
}

fn case(path: &'static str, a: Value, b: Value, via: Via) -> Case {
    Case {
        path,
        a,
        b,
        via,
        base: json!({}),
    }
}

fn with(mut c: Case, base: Value) -> Case {
    c.base = base;
    c
}

/// One case per acted-on path. `{ns}` in a value is the test's namespace; `{port1}`… free ports.
fn cases() -> Vec<Case> {
    use Via::*;
    let limited = json!({"deployment": {"cluster_wide_access": false}});
    let image = json!({"deployment": {"image_name": "quay.io/kiali/kiali"}});
    let remote = json!({"deployment": {"remote_cluster_resources_only": true}});
    let remote_uris = json!({"deployment": {"remote_cluster_resources_only": true},
        "auth": {"openshift": {"redirect_uris": ["https://kiali.east/api/auth/callback/west"]}}});
    let openid = json!({"auth": {"strategy": "openid", "openid": {
        "client_id": "kiali", "issuer_uri": "https://127.0.0.1:1",
        "authorization_endpoint": "https://idp.example/auth"}}});
    vec![
        case(
            "istio_namespace",
            json!("{ns}"),
            json!("istio-system"),
            Server("/config/istioNamespace"),
        ),
        case(
            "auth.strategy",
            json!("anonymous"),
            json!("token"),
            Server("/auth/strategy"),
        ),
        // The OAuthClient of seed 001's remote CR (operator/src/build/oauth.rs).
        with(
            case(
                "auth.openshift.redirect_uris",
                json!(["https://kiali.east/api/auth/callback/west"]),
                json!(["https://kiali.east/api/auth/callback/cluster2"]),
                BuildOnOpenShift,
            ),
            remote.clone(),
        ),
        with(
            case(
                "auth.openshift.token_inactivity_timeout",
                json!(600),
                json!(900),
                BuildOnOpenShift,
            ),
            remote_uris.clone(),
        ),
        with(
            case(
                "auth.openshift.token_max_age",
                json!(3600),
                json!(null),
                BuildOnOpenShift,
            ),
            remote_uris.clone(),
        ),
        with(
            case(
                "auth.openid.client_id",
                json!("kiali"),
                json!("other-client"),
                Server("/openid/location"),
            ),
            openid.clone(),
        ),
        with(
            case(
                "auth.openid.authorization_endpoint",
                json!("https://idp.example/auth"),
                json!("https://idp.example/other"),
                Server("/openid/location"),
            ),
            openid.clone(),
        ),
        with(
            case(
                "auth.openid.scopes",
                Value::Null,
                json!(["openid", "groups"]),
                Server("/openid/location"),
            ),
            openid.clone(),
        ),
        with(
            case(
                "auth.openid.additional_request_params",
                Value::Null,
                json!({"prompt": "login"}),
                Server("/openid/location"),
            ),
            openid.clone(),
        ),
        // BEYOND: a cluster's own provider (here the home cluster's, named by the base).
        with(
            case(
                "auth.openid.clusters",
                Value::Null,
                json!({"home": {"authorization_endpoint": "https://idp.example/home"}}),
                Server("/openid/location"),
            ),
            json!({"auth": {"strategy": "openid", "openid": {
                "client_id": "kiali", "issuer_uri": "https://127.0.0.1:1",
                "authorization_endpoint": "https://idp.example/auth"}},
                "kubernetes_config": {"cluster_name": "home"}}),
        ),
        // A real login at the bed's provider (Hydra): the session's user name is the claim named.
        with(
            case(
                "auth.openid.username_claim",
                Value::Null,
                json!("email"),
                Server("/openidLogin/username"),
            ),
            json!({"auth": {"strategy": "openid", "openid": {
                "client_id": "{oidc_client}", "issuer_uri": "{oidc_issuer}"}},
                "server": {"port": "{port1}"}}),
        ),
        // The redirect URI handed to the provider: the public URL, not the request's Host.
        with(
            case(
                "server.web_fqdn",
                Value::Null,
                json!("kiali.example"),
                Server("/openid/location"),
            ),
            openid.clone(),
        ),
        with(
            case(
                "server.web_schema",
                Value::Null,
                json!("https"),
                Server("/openid/location"),
            ),
            openid.clone(),
        ),
        with(
            case(
                "server.web_port",
                Value::Null,
                json!(8443),
                Server("/openid/location"),
            ),
            openid.clone(),
        ),
        // Without an authorization endpoint, it is discovered from the issuer (here: none answers,
        // and the error names the issuer asked).
        with(
            case(
                "auth.openid.issuer_uri",
                json!("https://127.0.0.1:1"),
                json!("https://127.0.0.1:2"),
                Server("/openid/error"),
            ),
            json!({"auth": {"strategy": "openid", "openid": {"client_id": "kiali"}}}),
        ),
        case(
            "clustering.autodetect_secrets.enabled",
            json!(true),
            json!(false),
            Build,
        ),
        case(
            "clustering.autodetect_secrets.label",
            Value::Null,
            json!("other=yes"),
            Build,
        ),
        case(
            "clustering.clusters",
            Value::Null,
            json!([{"name": "west", "secret_name": "west-creds"}]),
            Build,
        ),
        case(
            "clustering.enable_exec_provider",
            json!(false),
            json!(true),
            Build,
        ),
        case(
            "clustering.ignore_home_cluster",
            json!(false),
            json!(true),
            Server("/config/clusters"),
        ),
        case(
            "deployment.instance_name",
            Value::Null,
            json!("second"),
            Build,
        ),
        case(
            "deployment.namespace",
            Value::Null,
            json!("elsewhere"),
            Build,
        ),
        case(
            "deployment.remote_cluster_resources_only",
            json!(false),
            json!(true),
            Build,
        ),
        case(
            "deployment.view_only_mode",
            json!(false),
            json!(true),
            Build,
        ),
        case(
            "deployment.cluster_wide_access",
            json!(true),
            json!(false),
            Build,
        ),
        with(
            case(
                "deployment.discovery_selectors",
                Value::Null,
                json!({"default": [{"matchLabels": {"mesh": "yes"}}]}),
                Build,
            ),
            limited.clone(),
        ),
        with(
            case(
                "deployment.accessible_namespaces",
                Value::Null,
                json!(["legacy"]),
                Build,
            ),
            limited,
        ),
        case(
            "deployment.image_name",
            Value::Null,
            json!("quay.io/kiali/kiali"),
            Build,
        ),
        with(
            case(
                "deployment.image_version",
                Value::Null,
                json!("v2.5"),
                Build,
            ),
            image.clone(),
        ),
        with(
            case(
                "deployment.image_digest",
                Value::Null,
                json!("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
                Build,
            ),
            image,
        ),
        case(
            "deployment.image_pull_policy",
            Value::Null,
            json!("Always"),
            Build,
        ),
        case(
            "deployment.image_pull_secrets",
            Value::Null,
            json!(["registry-creds"]),
            Build,
        ),
        case("deployment.replicas", Value::Null, json!(2), Build),
        case(
            "deployment.resources",
            Value::Null,
            json!({"requests": {"cpu": "50m"}}),
            Build,
        ),
        case(
            "deployment.affinity",
            Value::Null,
            json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}),
            Build,
        ),
        case(
            "deployment.tolerations",
            Value::Null,
            json!([{"key": "dedicated", "operator": "Exists"}]),
            Build,
        ),
        case(
            "deployment.node_selector",
            Value::Null,
            json!({"zone": "a"}),
            Build,
        ),
        case(
            "deployment.pod_annotations",
            Value::Null,
            json!({"sidecar.istio.io/inject": "true"}),
            Build,
        ),
        case(
            "deployment.pod_labels",
            Value::Null,
            json!({"team": "mesh"}),
            Build,
        ),
        case(
            "deployment.priority_class_name",
            Value::Null,
            json!("system-cluster-critical"),
            Build,
        ),
        case(
            "deployment.service_type",
            Value::Null,
            json!("NodePort"),
            Build,
        ),
        case(
            "deployment.service_annotations",
            Value::Null,
            json!({"a": "b"}),
            Build,
        ),
        case(
            "deployment.ingress.enabled",
            Value::Null,
            json!(true),
            Build,
        ),
        with(
            case(
                "deployment.ingress.class_name",
                Value::Null,
                json!("traefik"),
                Build,
            ),
            json!({"deployment": {"ingress": {"enabled": true}}}),
        ),
        with(
            case(
                "deployment.ingress.override_yaml",
                Value::Null,
                json!({"metadata": {"annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}}}),
                Build,
            ),
            json!({"deployment": {"ingress": {"enabled": true}}}),
        ),
        case(
            "deployment.logger.log_level",
            json!("info"),
            json!("debug"),
            Log,
        ),
        case(
            "deployment.logger.log_format",
            json!("text"),
            json!("json"),
            Log,
        ),
        case(
            "external_services.prometheus.url",
            json!("{prom}"),
            json!("http://127.0.0.1:1"),
            Server("/health"),
        ),
        with(
            case(
                "external_services.prometheus.health_check_url",
                Value::Null,
                json!("{prom}/custom-health"),
                Server("/prom/paths"),
            ),
            prom(json!({})),
        ),
        with(
            case(
                "external_services.prometheus.auth.type",
                json!("none"),
                json!("bearer"),
                Server("/prom/authorization"),
            ),
            prom(json!({"auth": {"token": "inline-token"}})),
        ),
        with(
            case(
                "external_services.prometheus.auth.use_kiali_token",
                json!(false),
                json!(true),
                Server("/prom/authorization"),
            ),
            prom(json!({"auth": {"type": "bearer", "token": "inline-token"}})),
        ),
        with(
            case(
                "external_services.prometheus.auth.username",
                json!("alice"),
                json!("bob"),
                Server("/prom/authorization"),
            ),
            prom(json!({"auth": {"type": "basic", "password": "pw"}})),
        ),
        with(
            case(
                "external_services.prometheus.auth.password",
                json!("pw-1"),
                json!("pw-2"),
                Server("/prom/authorization"),
            ),
            prom(json!({"auth": {"type": "basic", "username": "alice"}})),
        ),
        with(
            case(
                "external_services.prometheus.auth.token",
                json!("token-1"),
                json!("token-2"),
                Server("/prom/authorization"),
            ),
            prom(json!({"auth": {"type": "bearer"}})),
        ),
        // Over HTTPS with a CA of its own: trusted through `ca_file`, or not verified at all.
        with(
            case(
                "external_services.prometheus.auth.ca_file",
                Value::Null,
                json!("{ca}"),
                Server("/health"),
            ),
            json!({"external_services": {"prometheus": {"url": "{proms}"}}}),
        ),
        with(
            case(
                "external_services.prometheus.auth.insecure_skip_verify",
                json!(false),
                json!(true),
                Server("/health"),
            ),
            json!({"external_services": {"prometheus": {"url": "{proms}"}}}),
        ),
        with(
            case(
                "external_services.prometheus.custom_headers",
                Value::Null,
                json!({"X-Scope-OrgID": "tenant-a"}),
                Server("/prom/headers"),
            ),
            prom(json!({})),
        ),
        with(
            case(
                "external_services.prometheus.query_scope",
                Value::Null,
                json!({"mesh_id": "mesh-a"}),
                Server("/prom/queries"),
            ),
            prom(json!({})),
        ),
        case(
            "external_services.prometheus.thanos_proxy.enabled",
            json!(false),
            json!(true),
            Server("/config/prometheus"),
        ),
        with(
            case(
                "external_services.prometheus.thanos_proxy.retention_period",
                json!("7d"),
                json!("1d"),
                Server("/config/prometheus"),
            ),
            json!({"external_services": {"prometheus": {"thanos_proxy": {"enabled": true}}}}),
        ),
        with(
            case(
                "external_services.prometheus.thanos_proxy.scrape_interval",
                json!("30s"),
                json!("1m"),
                Server("/config/prometheus"),
            ),
            json!({"external_services": {"prometheus": {"thanos_proxy": {"enabled": true}}}}),
        ),
        // Grafana's node of the mesh graph: shown or not, and its reachability (the stand-in
        // answers its `/api/health`; nothing listens on port 1).
        with(
            case(
                "external_services.grafana.enabled",
                json!(true),
                json!(false),
                Server("/grafana"),
            ),
            json!({"external_services": {"grafana": {"internal_url": "{prom}"}}}),
        ),
        case(
            "external_services.grafana.internal_url",
            json!("{prom}"),
            json!("http://127.0.0.1:1"),
            Server("/grafana"),
        ),
        case(
            "external_services.tracing.enabled",
            json!(true),
            json!(false),
            Server("/tracing/info/enabled"),
        ),
        with(
            case(
                "external_services.tracing.provider",
                json!("jaeger"),
                json!("zipkin"),
                Server("/tracing/reason"),
            ),
            jaeger(json!({})),
        ),
        case(
            "external_services.tracing.internal_url",
            json!("{jaeger}"),
            json!("http://127.0.0.1:1"),
            Server("/tracing/reason"),
        ),
        case(
            "external_services.tracing.external_url",
            Value::Null,
            json!("https://jaeger.example/jaeger"),
            Server("/tracing/info/url"),
        ),
        with(
            case(
                "external_services.tracing.use_grpc",
                json!(false),
                json!(true),
                Server("/tracing/reason"),
            ),
            jaeger(json!({})),
        ),
        with(
            case(
                "external_services.tracing.namespace_selector",
                json!(true),
                json!(false),
                Server("/tracing/searches"),
            ),
            jaeger(json!({})),
        ),
        with(
            case(
                "external_services.tracing.query_scope",
                Value::Null,
                json!({"istio.mesh_id": "mesh-a"}),
                Server("/tracing/searches"),
            ),
            jaeger(json!({})),
        ),
        with(
            case(
                "external_services.tracing.custom_headers",
                Value::Null,
                json!({"X-Scope-OrgID": "tenant-a"}),
                Server("/tracing/headers"),
            ),
            jaeger(json!({})),
        ),
        with(
            case(
                "external_services.tracing.auth.type",
                json!("none"),
                json!("bearer"),
                Server("/tracing/authorization"),
            ),
            jaeger(json!({"auth": {"token": "inline-token"}})),
        ),
        with(
            case(
                "external_services.tracing.auth.use_kiali_token",
                json!(false),
                json!(true),
                Server("/tracing/authorization"),
            ),
            jaeger(json!({"auth": {"type": "bearer", "token": "inline-token"}})),
        ),
        with(
            case(
                "external_services.tracing.auth.username",
                json!("alice"),
                json!("bob"),
                Server("/tracing/authorization"),
            ),
            jaeger(json!({"auth": {"type": "basic", "password": "pw"}})),
        ),
        with(
            case(
                "external_services.tracing.auth.password",
                json!("pw-1"),
                json!("pw-2"),
                Server("/tracing/authorization"),
            ),
            jaeger(json!({"auth": {"type": "basic", "username": "alice"}})),
        ),
        with(
            case(
                "external_services.tracing.auth.token",
                json!("token-1"),
                json!("token-2"),
                Server("/tracing/authorization"),
            ),
            jaeger(json!({"auth": {"type": "bearer"}})),
        ),
        // Over HTTPS with a CA of its own: trusted through `ca_file`, or not verified at all.
        with(
            case(
                "external_services.tracing.auth.ca_file",
                Value::Null,
                json!("{ca}"),
                Server("/tracing/reason"),
            ),
            json!({"external_services": {"tracing": {"internal_url": "{proms}"}}}),
        ),
        with(
            case(
                "external_services.tracing.auth.insecure_skip_verify",
                json!(false),
                json!(true),
                Server("/tracing/reason"),
            ),
            json!({"external_services": {"tracing": {"internal_url": "{proms}"}}}),
        ),
        case(
            "health_config.rate",
            Value::Null,
            json!([{"namespace": "bookinfo", "tolerance": [{"code": "5XX", "degraded": 5, "failure": 20}]}]),
            Server("/config/healthConfig"),
        ),
        // Two Gateways of the test's namespace ([`seed_namespace`]) whose selector matches no
        // workload (KIA0302) and which share port 80, one with host `*` (KIA0301).
        case(
            "kiali_feature_flags.validations.ignore",
            Value::Null,
            json!(["KIA0302"]),
            Server("/validations"),
        ),
        case(
            "kiali_feature_flags.validations.skip_wildcard_gateway_hosts",
            json!(false),
            json!(true),
            Server("/validations"),
        ),
        case(
            "istio_labels.app_label_name",
            Value::Null,
            json!("svc"),
            Server("/apps"),
        ),
        with(
            case(
                "istio_labels.version_label_name",
                Value::Null,
                json!("rel"),
                Server("/apps"),
            ),
            json!({"istio_labels": {"app_label_name": "svc"}}),
        ),
        case(
            "kubernetes_config.cluster_name",
            Value::Null,
            json!("named"),
            Server("/config/clusterName"),
        ),
        with(
            case(
                "login_token.expiration_seconds",
                json!(600),
                json!(3600),
                Server("/session/maxAge"),
            ),
            json!({"auth": {"strategy": "anonymous"}}),
        ),
        case(
            "server.address",
            json!("127.0.0.1"),
            json!("127.0.0.2"),
            Server("/api/ip"),
        ),
        case(
            "server.port",
            json!("{port1}"),
            json!("{port2}"),
            Server("/api/port"),
        ),
        case(
            "server.web_root",
            Value::Null,
            json!("/console"),
            Server("/kialiRoot"),
        ),
        case(
            "server.observability.metrics.enabled",
            json!(true),
            json!(false),
            Server("/metrics"),
        ),
        case(
            "server.observability.metrics.port",
            json!("{port3}"),
            json!("{port4}"),
            Server("/metrics"),
        ),
        case(
            "server.gzip_enabled",
            json!(true),
            json!(false),
            Server("/gzip"),
        ),
        // The view caches (over the recording metrics store): a repeated view is a hit, or not
        // kept at all; a kept view is refreshed in the background, or dropped when idle.
        with(
            case(
                "kiali_internal.graph_cache.enabled",
                json!(false),
                json!(true),
                Server("/viewCache/graph/second"),
            ),
            prom(json!({})),
        ),
        with(
            case(
                "kiali_internal.graph_cache.max_cache_memory_mb",
                json!(0),
                json!(10),
                Server("/viewCache/graph/second"),
            ),
            prom(json!({})),
        ),
        with(
            case(
                "kiali_internal.graph_cache.refresh_interval",
                json!("1s"),
                json!("1h"),
                Server("/viewCache/graph/refreshed"),
            ),
            prom(json!({})),
        ),
        with(
            case(
                "kiali_internal.graph_cache.inactivity_timeout",
                json!("1s"),
                json!("1h"),
                Server("/viewCache/graph/evicted"),
            ),
            prom(json!({})),
        ),
        with(
            case(
                "kiali_internal.health_cache.enabled",
                json!(false),
                json!(true),
                Server("/viewCache/health/second"),
            ),
            prom(json!({})),
        ),
        with(
            case(
                "kiali_internal.health_cache.max_cache_memory_mb",
                json!(0),
                json!(10),
                Server("/viewCache/health/second"),
            ),
            prom(json!({})),
        ),
        with(
            case(
                "kiali_internal.health_cache.refresh_interval",
                json!("1s"),
                json!("1h"),
                Server("/viewCache/health/refreshed"),
            ),
            prom(json!({})),
        ),
        with(
            case(
                "kiali_internal.health_cache.inactivity_timeout",
                json!("1s"),
                json!("1h"),
                Server("/viewCache/health/evicted"),
            ),
            prom(json!({})),
        ),
    ]
}

/// `external_services.prometheus` pointing at the recording stand-in, with `extra` merged in.
fn prom(extra: Value) -> Value {
    let mut p = json!({"url": "{prom}"});
    merge(&mut p, &extra);
    json!({"external_services": {"prometheus": p}})
}

/// `external_services.tracing` pointing at the recording tracing stand-in, with `extra` merged in.
fn jaeger(extra: Value) -> Value {
    let mut p = json!({"internal_url": "{jaeger}"});
    merge(&mut p, &extra);
    json!({"external_services": {"tracing": p}})
}

/// Sets `path` (dotted) in `spec` to `v`; `null` leaves it absent.
fn set(spec: &mut Value, path: &str, v: &Value) {
    if v.is_null() {
        return;
    }
    let mut cur = spec;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        cur = cur
            .as_object_mut()
            .expect("object")
            .entry(p.to_string())
            .or_insert_with(|| json!({}));
    }
    cur[parts[parts.len() - 1]] = v.clone();
}

/// Deep merge of `over` into `base`.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Replaces the `{portN}` placeholders and the named ones (`{ns}`, `{prom}`, …).
fn fill(v: &Value, names: &[(&str, String)], ports: &[u16; 4]) -> Value {
    match v {
        Value::String(s) => {
            if let Some(i) = s
                .strip_prefix("{port")
                .and_then(|r| r.strip_suffix('}'))
                .and_then(|n| n.parse::<usize>().ok())
            {
                return json!(ports[i - 1]);
            }
            let mut s = s.clone();
            for (name, value) in names {
                s = s.replace(name, value);
            }
            Value::String(s)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| fill(x, names, ports)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), fill(x, names, ports)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn kiali(spec: &Value) -> Kiali {
    let spec: KialiSpec = serde_json::from_value(spec.clone()).expect("a valid spec");
    let mut k = Kiali::new("kiali", spec);
    k.metadata.namespace = Some("istio-system".into());
    k.metadata.uid = Some("uid-1".into());
    k
}

fn remote_secret(name: &str, labels: &[(&str, &str)], cluster: &str) -> Secret {
    remote_secret_with(name, labels, cluster, &KUBECONFIG.replace("NAME", cluster))
}

fn remote_secret_with(
    name: &str,
    labels: &[(&str, &str)],
    cluster: &str,
    kubeconfig: &str,
) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("istio-system".into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        },
        data: Some(secret_data(&[(cluster, kubeconfig)])),
        ..Default::default()
    }
}

/// The objects the build stage renders for `spec`, without what every field changes: the
/// server's `config.yaml` and the pod template's hash of it. A build error is an observation too.
fn rendered(spec: &Value) -> Value {
    rendered_on(spec, Platform::default())
}

fn rendered_on(spec: &Value, platform: Platform) -> Value {
    let secrets = [
        remote_secret(
            "kiali-remote-cluster-secret-east",
            &[("kiali.io/multiCluster", "true")],
            "east",
        ),
        remote_secret("west-creds", &[], "west"),
        remote_secret("north-creds", &[("other", "yes")], "north"),
        // An exec credential plugin: mounted only with clustering.enable_exec_provider.
        remote_secret_with(
            "kiali-remote-cluster-secret-south",
            &[("kiali.io/multiCluster", "true")],
            "south",
            &KUBECONFIG
                .replace("NAME", "south")
                .replace("{token: abc}", "{exec: {command: get-token}}"),
        ),
    ];
    let namespace = |name: &str, labels: &[(&str, &str)]| Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        },
        ..Default::default()
    };
    let namespaces = [
        namespace("istio-system", &[]),
        namespace("mesh-a", &[("mesh", "yes")]),
        namespace("legacy", &[]),
    ];
    let desired = match build_on(
        &kiali(spec),
        &secrets,
        &namespaces,
        platform,
        // Every switch on, so that image and namespace fields show what they build, not a refusal.
        &BuildOptions {
            tenancy: Tenancy::allow_all(),
            ..BuildOptions::default()
        },
    ) {
        Ok(d) => d,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let objects: Vec<Value> = desired
        .objects
        .iter()
        .map(|c| {
            let mut v = child_json(c);
            if let (Some(o), "ConfigMap") = (v.as_object_mut(), c.kind()) {
                o.remove("data");
            }
            if let Some(a) = v
                .pointer_mut("/spec/template/metadata/annotations")
                .and_then(|a| a.as_object_mut())
            {
                a.remove(names::CONFIG_HASH_ANNOTATION);
            }
            json!({"key": c.key(), "object": v})
        })
        .collect();
    json!(objects)
}

fn child_json(c: &meshglass_operator::build::Child) -> Value {
    use meshglass_operator::build::Child::*;
    match c {
        ServiceAccount(o) => serde_json::to_value(o),
        ConfigMap(o) => serde_json::to_value(o),
        ClusterRole(o) => serde_json::to_value(o),
        ClusterRoleBinding(o) => serde_json::to_value(o),
        Role(o) => serde_json::to_value(o),
        RoleBinding(o) => serde_json::to_value(o),
        Deployment(o) => serde_json::to_value(o),
        Service(o) => serde_json::to_value(o),
        Secret(o) => serde_json::to_value(o),
        Ingress(o) => serde_json::to_value(o),
        Route(o) => serde_json::to_value(o),
        OAuthClient(o) => serde_json::to_value(o),
    }
    .expect("serializable")
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the server's logger (from the operator's `config.yaml`) prints for a debug, an info and an
/// error event: how many lines, and whether each is a JSON object.
fn logged(config: &Config) -> Value {
    let buf = Buf::default();
    let out = buf.clone();
    let sub = meshglass_server::logging::subscriber(&config.deployment.logger, move || buf.clone());
    tracing::subscriber::with_default(sub, || {
        tracing::debug!(target: "meshglass_server", "detail");
        tracing::info!(target: "meshglass_server", "listening");
        tracing::error!(target: "meshglass_server", "broken");
    });
    let text = String::from_utf8(out.0.lock().expect("buffer").clone()).expect("UTF-8");
    let json: Vec<bool> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Map<String, Value>>(l).is_ok())
        .collect();
    json!({"lines": json.len(), "json": json})
}

/// The effective config the operator writes for `spec` (the server reads exactly this file).
fn config_of(spec: &Value) -> Config {
    let k = kiali(spec);
    let yaml = Config::from_spec(&k.spec, "istio-system")
        .and_then(|c| c.to_yaml())
        .expect("config.yaml");
    Config::from_yaml(&yaml).expect("the server reads it")
}

/// The server started from a config, on the test bed's cluster.
struct Server<'a> {
    bed: &'a TestBed,
    secrets_dir: &'a Path,
    ns: &'a str,
    /// Where the server's ServiceAccount token and mounted credentials are read.
    paths: meshglass_server::upstream::Paths,
    /// The recording metrics store `{prom}` names.
    prom: &'a StandIn,
    /// The recording tracing store `{jaeger}` names.
    jaeger: &'a StandIn,
    /// The bed's OpenID provider for east (`{oidc_issuer}`), where the server logs in as alice.
    oidc: &'a Provider,
}

impl Server<'_> {
    /// What the server started from `config` does; `pointer` is the case's (what it looks at).
    async fn observe(&self, config: Config, pointer: &str) -> Value {
        self.prom.take();
        self.jaeger.take();
        let at_bed_provider = config.auth.strategy == "openid"
            && config.auth.openid["issuer_uri"] == json!(self.oidc.issuer.url);
        let running = meshglass_server::start(meshglass_server::Options {
            config,
            kubeconfig: Some(self.bed.kubeconfig_path().to_path_buf()),
            context: Some("east".into()),
            remote_secrets_dir: self.secrets_dir.to_path_buf(),
            secrets_poll: Duration::from_secs(1),
            paths: self.paths.clone(),
        })
        .await
        .expect("server starts");
        let http = reqwest::Client::new();
        let addr = running.api_addr;
        let base = running.base_url();
        let state = running.state.clone();
        wait_until("the server's caches sync", WAIT, || {
            let ready = state.registry.ready();
            async move { Ok::<_, String>(ready.then_some(())) }
        })
        .await
        .expect("ready");
        let get = |url: String, gzip: bool| {
            let http = http.clone();
            async move {
                let mut req = http.get(&url);
                if gzip {
                    req = req.header("Accept-Encoding", "gzip");
                }
                let resp = req.send().await.expect("request");
                let status = resp.status().as_u16();
                let encoding = resp
                    .headers()
                    .get("content-encoding")
                    .map(|v| v.to_str().unwrap_or_default().to_string());
                let body: Value = if encoding.is_none() {
                    resp.json().await.unwrap_or(Value::Null)
                } else {
                    Value::Null
                };
                (status, encoding, body)
            }
        };
        let (_, _, auth) = get(format!("{base}/api/auth/info"), false).await;
        let (config_status, _, mut config) = get(format!("{base}/api/config"), false).await;
        if config_status != 200 {
            config = json!({"status": config_status});
        }
        let (_, _, mut status) = get(format!("{base}/api/status"), false).await;
        let (health, _, _) = get(
            format!(
                "{base}/api/clusters/health?namespaces={}&type=app&rateInterval=60s",
                self.ns
            ),
            false,
        )
        .await;
        let (_, encoding, _) = get(format!("{base}/api/config"), true).await;
        let (_, _, tracing_info) = get(format!("{base}/api/tracing"), false).await;
        // Grafana's infrastructure nodes of the mesh graph, by their health.
        let (_, _, mesh) = get(format!("{base}/api/mesh/graph"), false).await;
        let grafana: Vec<Value> = mesh["elements"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| &n["data"])
            .filter(|d| d["infraType"] == "grafana")
            .map(|d| d["healthData"].clone())
            .collect();
        let (_, _, traces) = get(
            format!("{base}/api/namespaces/{}/apps/labelled/traces", self.ns),
            false,
        )
        .await;
        let session = login(&http, &base).await;
        let openid = openid_redirect(&base).await;
        let openid_login = if at_bed_provider {
            let home = state.registry.home().map(|h| h.name.clone());
            oidc_login(self.oidc, &base, &home.unwrap_or_default()).await
        } else {
            Value::Null
        };
        let (_, _, validations) = get(
            format!(
                "{base}/api/istio/validations?namespaces={}&detail=true",
                self.ns
            ),
            false,
        )
        .await;
        // The codes of every check of the test's namespace, per object.
        let validations: Vec<Value> = validations["validations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["namespace"] == json!(self.ns))
            .map(|v| {
                let codes: Vec<&Value> = v["checks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| &c["code"])
                    .collect();
                json!({"name": v["name"], "codes": codes})
            })
            .collect();
        let (root_status, _, _) = get(format!("http://{addr}/kiali/api/status"), false).await;
        // Only a view cache case watches the caches (seconds of waiting).
        let view_cache = match pointer.strip_prefix("/viewCache") {
            Some(_) => view_cache(&http, &base, self.ns, &state, pointer).await,
            None => Value::Null,
        };
        let (_, _, apps) = get(
            format!("{base}/api/clusters/apps?namespaces={}", self.ns),
            false,
        )
        .await;
        // The cluster's accessibility may flip while a watch reconnects; it is not what any case shows.
        if let Some(clusters) = config.get_mut("clusters").and_then(|c| c.as_object_mut()) {
            for c in clusters.values_mut() {
                if let Some(c) = c.as_object_mut() {
                    c.remove("accessible");
                    c.remove("error");
                }
            }
        }
        status.as_object_mut().map(|s| s.remove("warningMessages"));
        // The apps of the test's namespace, with the version each names.
        let apps: Vec<Value> = apps["applications"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| json!({"name": a["name"], "labels": a["labels"]}))
            .collect();
        // What the metrics store received: credentials, extra headers, paths and queries.
        let seen = self.prom.take();
        let distinct = |f: &dyn Fn(&Seen) -> Vec<String>| -> Vec<String> {
            let set: BTreeSet<String> = seen.iter().flat_map(f).collect();
            set.into_iter().collect()
        };
        let prom = json!({
            "authorization": distinct(&|s| s.headers.get("authorization").cloned().into_iter().collect()),
            "headers": distinct(&|s| s.headers.iter().filter(|(k, _)| k.starts_with("x-")).map(|(k, v)| format!("{k}: {v}")).collect()),
            "paths": distinct(&|s| vec![s.path.clone()]),
            "queries": distinct(&|s| s.query.clone().into_iter().collect()),
        });
        // What the tracing store received, and what the traces route answered.
        let seen = self.jaeger.take();
        let distinct = |f: &dyn Fn(&Seen) -> Vec<String>| -> Vec<String> {
            let set: BTreeSet<String> = seen.iter().flat_map(f).collect();
            set.into_iter().collect()
        };
        let tracing = json!({
            "info": tracing_info,
            "reason": traces.get("reason").cloned().unwrap_or(Value::Null),
            "authorization": distinct(&|s| s.headers.get("authorization").cloned().into_iter().collect()),
            "headers": distinct(&|s| s.headers.iter().filter(|(k, _)| k.starts_with("x-")).map(|(k, v)| format!("{k}: {v}")).collect()),
            "searches": distinct(&|s| vec![format!("{} {}", s.params.get("service").cloned().unwrap_or_default(), s.params.get("tags").cloned().unwrap_or_default())]),
        });
        let observed = json!({
            "tracing": tracing,
            "grafana": grafana,
            "prom": prom,
            "api": {"ip": addr.ip().to_string(), "port": addr.port()},
            "metrics": running.metrics_addr.map(|a: SocketAddr| a.port()),
            "auth": auth,
            "config": config,
            "status": status,
            "gzip": encoding,
            "health": health,
            "kialiRoot": root_status,
            "apps": apps,
            "session": session,
            "openid": openid,
            "openidLogin": openid_login,
            "validations": validations,
            "viewCache": view_cache,
        });
        running.shutdown();
        observed
    }
}

/// How long a view cache case watches for a background refresh or an eviction (its settings
/// are 1 s against 1 h; the refresher looks every 250 ms then).
const CACHE_WINDOW: Duration = Duration::from_secs(6);

/// What a view cache case shows (`pointer` `/viewCache/<graph|health>/<second|refreshed|evicted>`):
/// how the second of two identical requests was answered (`hit`, `miss`, `off`), or whether the
/// kept view was refreshed in the background, or dropped, within [`CACHE_WINDOW`] of the first.
async fn view_cache(
    http: &reqwest::Client,
    base: &str,
    ns: &str,
    state: &meshglass_server::state::AppState,
    pointer: &str,
) -> Value {
    let mut parts = pointer.split('/').skip(2);
    let (Some(view), Some(aspect)) = (parts.next(), parts.next()) else {
        return Value::Null;
    };
    let (view, url) = match view {
        "graph" => (
            "graph",
            format!("{base}/api/namespaces/graph?namespaces={ns}&graphType=workload"),
        ),
        _ => (
            "health",
            format!("{base}/api/clusters/health?namespaces={ns}&type=app"),
        ),
    };
    let answered = |http: reqwest::Client, url: String| async move {
        let resp = http.get(&url).send().await.expect("request");
        resp.headers()
            .get(meshglass_server::view_cache::VIEW_CACHE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    answered(http.clone(), url.clone()).await;
    let stats = || match view {
        "graph" => state.view_cache.graph.stats(),
        _ => state.view_cache.health.stats(),
    };
    let observed = match aspect {
        "second" => json!(answered(http.clone(), url).await),
        "refreshed" => {
            let refreshes = || {
                state
                    .metrics
                    .view_cache
                    .refreshes
                    .get_or_create(&meshglass_server::view_cache::RefreshLabels {
                        view,
                        outcome: "ok",
                    })
                    .get()
            };
            json!(
                wait_until("a background refresh", CACHE_WINDOW, || {
                    let n = refreshes();
                    async move { Ok::<_, String>((n > 0).then_some(())) }
                })
                .await
                .is_ok()
            )
        }
        _ => json!(
            wait_until("the idle view dropped", CACHE_WINDOW, || {
                let empty = stats().entries == 0;
                async move { Ok::<_, String>(empty.then_some(())) }
            })
            .await
            .is_ok()
        ),
    };
    json!({view: {aspect: observed}})
}

/// Where `/api/auth/openid_redirect` sends the browser (the per-login random `state`, `nonce` and
/// `code_challenge` left out), or the error it answers.
async fn openid_redirect(base: &str) -> Value {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = http
        .get(format!("{base}/api/auth/openid_redirect"))
        .send()
        .await
        .expect("openid redirect");
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(|l| {
            let (at, query) = l.split_once('?').unwrap_or((l, ""));
            // The server's own (random) address is named `{server}`: only a configured public
            // URL changes the redirect URI.
            let kept: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .filter(|(k, _)| !matches!(k.as_str(), "state" | "nonce" | "code_challenge"))
                .map(|(k, v)| (k, v.replace(base, "{server}")))
                .collect();
            json!({"at": at, "query": kept})
        });
    let body = resp.text().await.unwrap_or_default();
    json!({"status": status, "location": location, "error": if location.is_none() { body } else { String::new() }})
}

/// alice's login through the server's OpenID flow at the bed's provider (the form filled in as a
/// browser does), until the home cluster accepts her ID token: the session's user name.
async fn oidc_login(oidc: &Provider, base: &str, home: &str) -> Value {
    let callback = format!("{base}/api/auth/callback/{home}");
    oidc.set_redirect_uris(std::slice::from_ref(&callback))
        .await
        .expect("redirect URI");
    let start = format!("{base}/api/auth/openid_redirect");
    let home_page = format!("{base}/");
    let jar = wait_until("alice's OpenID login", WAIT, || {
        let (start, home_page) = (start.clone(), home_page.clone());
        async move {
            let mut jar = std::collections::BTreeMap::new();
            let end = oidc
                .browse(&mut jar, &start, "alice", "alice-password", |u| {
                    u == home_page || u.contains("openid_error=")
                })
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((end == home_page).then_some(jar))
        }
    })
    .await
    .expect("alice logs in");
    let cookie: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let info: Value = reqwest::Client::new()
        .get(format!("{base}/api/auth/info"))
        .header("cookie", cookie.join("; "))
        .send()
        .await
        .expect("auth info")
        .json()
        .await
        .expect("json");
    json!({"username": info["sessionInfo"]["username"]})
}

/// A login through `/api/auth/info` (the CSRF cookie and token) and `/api/authenticate`: its status
/// and the session cookie's `Max-Age`.
async fn login(http: &reqwest::Client, base: &str) -> Value {
    let info = http
        .get(format!("{base}/api/auth/info"))
        .send()
        .await
        .expect("auth info");
    let csrf_cookie = info
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("kiali-csrf="))
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_string();
    let body: Value = info.json().await.unwrap_or(Value::Null);
    let resp = http
        .post(format!("{base}/api/authenticate"))
        .header("cookie", csrf_cookie)
        .header(
            "x-csrf-token",
            body["csrfToken"].as_str().unwrap_or_default(),
        )
        .send()
        .await
        .expect("authenticate");
    let max_age = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("kiali-token-aes="))
        .and_then(|v| v.split("Max-Age=").nth(1))
        .and_then(|v| v.split(';').next())
        .and_then(|v| v.parse::<u64>().ok());
    json!({"status": resp.status().as_u16(), "maxAge": max_age})
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A control plane named as OSSM 2 names it, whose `CLUSTER_ID` the server must find, a
/// workload whose app and version only the configured label names give, and two Gateways with
/// validation findings.
async fn seed_namespace(client: &Client, ns: &str) {
    let gateways: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("networking.istio.io", "v1", "Gateway"),
            "gateways",
        ),
    );
    for (name, host) in [("wildcard", "*"), ("shop", "shop.example.com")] {
        let gw: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "Gateway",
            "metadata": {"name": name},
            "spec": {
                "selector": {"istio": "no-such-gateway"},
                "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": [host]}]
            }
        }))
        .expect("gateway");
        gateways
            .create(&PostParams::default(), &gw)
            .await
            .expect("create gateway");
    }
    let deployment = |name: &str, labels: Value, env: Value| -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "discovery", "image": "istio/pilot", "env": env}]}
                }
            }
        }))
        .expect("deployment")
    };
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    for d in [
        deployment(
            "istiod-basic",
            json!({"app": "istiod", "istio.io/rev": "basic"}),
            json!([{"name": "CLUSTER_ID", "value": "from-istiod"}]),
        ),
        deployment(
            "labelled",
            json!({"svc": "labelled", "rel": "v7"}),
            json!([]),
        ),
    ] {
        api.create(&PostParams::default(), &d)
            .await
            .expect("create deployment");
    }
}

#[tokio::test]
async fn every_acted_on_field_changes_what_is_built_or_what_the_server_does() {
    let table = cases();
    let keys: Vec<&str> = table.iter().map(|c| c.path).collect();
    let unique: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(unique.len(), keys.len(), "a path has two cases");
    let acted: BTreeSet<&str> = ACTED_ON.iter().copied().collect();
    let missing: Vec<&&str> = acted.difference(&unique).collect();
    let extra: Vec<&&str> = unique.difference(&acted).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "ACTED_ON and the cases differ: paths without a case {missing:?}, cases of paths not acted on {extra:?}"
    );

    let bed = meshglass_testbed::shared(&["east"])
        .await
        .expect("test bed");
    let client = bed.cluster("east").client().await.expect("client");
    let ns = TestNamespace::create(&client, "acted-on")
        .await
        .expect("namespace");
    seed_namespace(&client, ns.name()).await;
    let secrets_dir = tempfile::tempdir().expect("tempdir");
    // A metrics store that answers every query with an empty vector and records what it got: the
    // server reaches it (health 200) or not (503), with the credentials and headers configured.
    let prom = StandIn::http(Behaviour::Empty).await.expect("stand-in");
    let proms = StandIn::https(Behaviour::Empty).await.expect("stand-in");
    // A tracing store that records what it gets (its answers are no Jaeger answers: `not_json`).
    let jaeger = StandIn::http(Behaviour::Empty).await.expect("stand-in");
    let files = tempfile::tempdir().expect("tempdir");
    let ca = files.path().join("stand-in-ca.crt");
    std::fs::write(&ca, proms.ca_pem().expect("CA")).expect("CA file");
    let token = files.path().join("token");
    std::fs::write(&token, "kiali-sa-token").expect("token file");
    let east = bed.cluster("east");
    let oidc = Provider::start(east, &[("alice", "alice-password")], &[])
        .await
        .expect("the bed's OpenID provider");
    std::fs::create_dir_all(files.path().join("cabundle")).expect("dir");
    std::fs::write(files.path().join("cabundle/oidc.pem"), &east.oidc().ca_pem).expect("CA");
    std::fs::create_dir_all(files.path().join("kiali-secret")).expect("dir");
    std::fs::write(files.path().join("kiali-secret/oidc-secret"), CLIENT_SECRET).expect("secret");
    let names = |ns: &str| {
        [
            ("{oidc_issuer}", east.oidc().url.clone()),
            ("{oidc_client}", east.oidc().client_id.clone()),
            ("{ns}", ns.to_string()),
            ("{proms}", proms.url().to_string()),
            ("{prom}", prom.url().to_string()),
            ("{jaeger}", jaeger.url().to_string()),
            ("{ca}", ca.display().to_string()),
        ]
    };
    let server = Server {
        bed,
        secrets_dir: secrets_dir.path(),
        ns: ns.name(),
        paths: meshglass_server::upstream::Paths {
            override_secrets_dir: files.path().join("override"),
            ca_bundle_dir: files.path().join("cabundle"),
            service_account_token: token,
            client_secret_dir: files.path().join("kiali-secret"),
        },
        prom: &prom,
        jaeger: &jaeger,
        oidc: &oidc,
    };
    // What a server case starts from: its own ports, anonymous (so every route answers), the test's
    // namespace as the Istio namespace.
    let server_base = json!({
        "istio_namespace": "{ns}",
        "auth": {"strategy": "anonymous"},
        "server": {"address": "127.0.0.1", "port": 0, "observability": {"metrics": {"port": 0}}},
    });

    let mut failures = Vec::new();
    for c in &table {
        let ports = [free_port(), free_port(), free_port(), free_port()];
        let mut specs = Vec::new();
        for v in [&c.a, &c.b] {
            let mut spec = match c.via {
                Via::Server(_) => server_base.clone(),
                _ => json!({}),
            };
            merge(&mut spec, &c.base);
            set(&mut spec, c.path, v);
            specs.push(fill(&spec, &names(ns.name()), &ports));
        }
        assert_ne!(
            specs[0], specs[1],
            "{}: the two values are the same",
            c.path
        );
        for spec in &specs {
            let s: KialiSpec = serde_json::from_value(spec.clone()).expect("spec");
            let ignored = ignored_fields(&s);
            assert!(
                !ignored.iter().any(|i| i == c.path),
                "{}: reported ignored",
                c.path
            );
        }
        let (a, b) = match c.via {
            Via::Build => (rendered(&specs[0]), rendered(&specs[1])),
            Via::BuildOnOpenShift => {
                let on = Platform {
                    oauth_clients: true,
                    ..Platform::default()
                };
                (rendered_on(&specs[0], on), rendered_on(&specs[1], on))
            }
            Via::Log => (logged(&config_of(&specs[0])), logged(&config_of(&specs[1]))),
            Via::Server(pointer) => {
                let a = server.observe(config_of(&specs[0]), pointer).await;
                let b = server.observe(config_of(&specs[1]), pointer).await;
                let at = |v: &Value| v.pointer(pointer).cloned().unwrap_or(Value::Null);
                (at(&a), at(&b))
            }
        };
        if a == b {
            failures.push(format!(
                "{} ({:?}): {} and {} give the same {a}",
                c.path, c.via, c.a, c.b
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "fields in ACTED_ON without an effect (remove them from ACTED_ON or make code act on them):\n{}",
        failures.join("\n")
    );
}
