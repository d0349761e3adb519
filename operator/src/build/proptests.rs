//! Property test of the operator's pure stages over generated Kiali CR specs: validation (spec rules, effective
//! config, tenancy) and the build of the desired objects never panic, whatever the spec, the CR's namespace, the
//! tenancy switches and the observed secrets and namespaces; a refusal or an error is fine, a panic is not.
//!
//! The generator is cheap on purpose (one u64 seed from proptest, expanded by a small PRNG over pools of the keys
//! the operator reads and of awkward values). The unit suite runs 20,000 specs (about 20 s in a debug build); the
//! million-spec run of the acceptance is
//! `MESHGLASS_PROPTEST_CASES=1000000 cargo test -p meshglass-operator --lib proptests` (about 15 min in debug).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use meshglass_crds::{Kiali, KialiSpec};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Map, Value, json};

use super::{BuildOptions, Platform, desired, secret_data};
use crate::reconcile::validate::{Tenancy, validate};

/// xorshift64*: enough spread for picking keys and values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, in_n: usize) -> bool {
        self.below(in_n) == 0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const STRINGS: &[&str] = &[
    "",
    "kiali",
    "default",
    "istio-system",
    "kube-system",
    "Not Valid",
    "admin",
    "system:admin",
    "cluster-admin",
    "a-very-long-name-that-is-longer-than-sixty-three-characters-for-sure-yes",
    "-a",
    "a.b",
    "quay.io/x/y",
    "sha256:abc",
    "**",
    "kiali.io/multiCluster=true",
    "=",
    "k=v=w",
    "\u{0}",
    "é",
    "/kiali",
    "http://127.0.0.1:9090",
    "::",
    "1",
];
const INTS: &[i64] = &[-1, 0, 1, 3, 65535, 65536, i32::MAX as i64, i64::MAX];

fn string(r: &mut Rng) -> Value {
    Value::from(*r.pick(STRINGS))
}

/// Any JSON value, depth-bounded.
fn any_value(r: &mut Rng, depth: u32) -> Value {
    match r.below(if depth == 0 { 4 } else { 6 }) {
        0 => Value::Null,
        1 => Value::from(r.chance(2)),
        2 => Value::from(*r.pick(INTS)),
        3 => string(r),
        4 => Value::Array((0..r.below(3)).map(|_| any_value(r, depth - 1)).collect()),
        _ => Value::Object(
            (0..r.below(3))
                .map(|_| (r.pick(STRINGS).to_string(), any_value(r, depth - 1)))
                .collect(),
        ),
    }
}

fn strings(r: &mut Rng) -> Value {
    Value::Array((0..r.below(3)).map(|_| string(r)).collect())
}

fn string_map(r: &mut Rng) -> Value {
    Value::Object(
        (0..r.below(3))
            .map(|_| (r.pick(STRINGS).to_string(), string(r)))
            .collect(),
    )
}

fn selectors(r: &mut Rng) -> Value {
    let one = |r: &mut Rng| match r.below(3) {
        0 => json!({"matchLabels": string_map(r)}),
        1 => {
            json!({"matchExpressions": [{"key": string(r), "operator": r.pick(&["In", "NotIn", "Exists", "DoesNotExist", "Bad"]), "values": strings(r)}]})
        }
        _ => any_value(r, 1),
    };
    json!({"default": (0..r.below(3)).map(|_| one(r)).collect::<Vec<_>>()})
}

/// A value of the kind `kind`, or (one time in eight) any value, so that type errors are generated too.
fn field(r: &mut Rng, kind: &str) -> Value {
    if r.chance(8) {
        return any_value(r, 2);
    }
    match kind {
        "str" => string(r),
        "bool" => Value::from(r.chance(2)),
        "int" => Value::from(*r.pick(INTS)),
        "strs" => strings(r),
        "map" => string_map(r),
        "selectors" => selectors(r),
        "enum_pull" => Value::from(*r.pick(&["Always", "IfNotPresent", "Never", "bad"])),
        "enum_svc" => Value::from(*r.pick(&["ClusterIP", "NodePort", "LoadBalancer", "bad"])),
        "enum_auth" => {
            Value::from(*r.pick(&["anonymous", "token", "openid", "header", "openshift", "bad"]))
        }
        "anys" => Value::Array((0..r.below(3)).map(|_| any_value(r, 2)).collect()),
        _ => any_value(r, 2),
    }
}

/// Some of `keys`, each with a value of its kind.
fn section(r: &mut Rng, keys: &[(&str, &str)]) -> Value {
    let mut m = Map::new();
    for (key, kind) in keys {
        if r.chance(3) {
            m.insert(key.to_string(), field(r, kind));
        }
    }
    Value::Object(m)
}

const DEPLOYMENT: &[(&str, &str)] = &[
    ("instance_name", "str"),
    ("namespace", "str"),
    ("remote_cluster_resources_only", "bool"),
    ("view_only_mode", "bool"),
    ("cluster_wide_access", "bool"),
    ("discovery_selectors", "selectors"),
    ("accessible_namespaces", "strs"),
    ("image_name", "str"),
    ("image_version", "str"),
    ("image_digest", "str"),
    ("image_pull_policy", "enum_pull"),
    ("image_pull_secrets", "strs"),
    ("replicas", "int"),
    ("resources", "any"),
    ("affinity", "any"),
    ("tolerations", "anys"),
    ("node_selector", "map"),
    ("pod_annotations", "map"),
    ("pod_labels", "map"),
    ("priority_class_name", "str"),
    ("service_type", "enum_svc"),
    ("service_annotations", "map"),
    ("ingress", "any"),
    ("hpa", "any"),
    ("security_context", "any"),
    ("host_aliases", "any"),
    ("version_label", "str"),
];

fn spec(r: &mut Rng) -> Value {
    let mut m = Map::new();
    let mut put = |r: &mut Rng, key: &str, v: fn(&mut Rng) -> Value| {
        if r.chance(2) {
            m.insert(key.to_string(), v(r));
        }
    };
    put(r, "deployment", |r| section(r, DEPLOYMENT));
    put(r, "auth", |r| {
        section(r, &[("strategy", "enum_auth"), ("openid", "any")])
    });
    put(r, "clustering", |r| {
        let clusters = (0..r.below(3))
            .map(|_| {
                section(
                    r,
                    &[
                        ("name", "str"),
                        ("secret_name", "str"),
                        ("accessible", "bool"),
                    ],
                )
            })
            .collect::<Vec<_>>();
        json!({
            "autodetect_secrets": section(r, &[("enabled", "bool"), ("label", "str")]),
            "clusters": clusters,
            "ignore_home_cluster": r.chance(2),
        })
    });
    put(r, "server", |r| {
        section(
            r,
            &[("port", "int"), ("web_root", "str"), ("address", "str")],
        )
    });
    put(
        r,
        "external_services",
        |r| json!({"prometheus": section(r, &[("url", "str"), ("custom_headers", "map"), ("auth", "any"), ("thanos_proxy", "any")])}),
    );
    put(r, "kubernetes_config", |r| {
        section(
            r,
            &[("cluster_name", "str"), ("qps", "int"), ("burst", "int")],
        )
    });
    put(r, "istio_namespace", string);
    put(r, "version", string);
    put(r, "future_key", |r| any_value(r, 2));
    Value::Object(m)
}

const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: west\n  cluster: {server: 'https://127.0.0.1:6443'}\nusers:\n- name: west\n  user: {token: abc}\ncontexts:\n- name: west\n  context: {cluster: west, user: west}\ncurrent-context: west\n";

fn secrets(r: &mut Rng, ns: &str) -> Vec<Secret> {
    (0..r.below(3))
        .map(|_| Secret {
            metadata: ObjectMeta {
                name: Some(
                    r.pick(&["kiali-multi-cluster-secret", "west", "kiali"])
                        .to_string(),
                ),
                namespace: Some(ns.to_string()),
                labels: Some(BTreeMap::from([(
                    "kiali.io/multiCluster".to_string(),
                    r.pick(&["true", "false"]).to_string(),
                )])),
                ..Default::default()
            },
            data: Some(secret_data(&[(
                *r.pick(&["west", "", "a b"]),
                *r.pick(&[KUBECONFIG, "", "password: x", "clusters: 3"]),
            )])),
            ..Default::default()
        })
        .collect()
}

fn namespaces(r: &mut Rng) -> Vec<Namespace> {
    (0..r.below(3))
        .map(|_| Namespace {
            metadata: ObjectMeta {
                name: Some(r.pick(STRINGS).to_string()),
                labels: Some(BTreeMap::from([(
                    r.pick(STRINGS).to_string(),
                    r.pick(STRINGS).to_string(),
                )])),
                ..Default::default()
            },
            ..Default::default()
        })
        .collect()
}

/// One generated CR through validate and build; returns whether it got as far as the build.
fn run_one(seed: u64) -> bool {
    let mut r = Rng(seed);
    let Ok(spec) = serde_json::from_value::<KialiSpec>(spec(&mut r)) else {
        return false;
    };
    let name: &str = ["kiali", "admin", "x"][r.below(3)];
    let mut kiali = Kiali::new(name, spec);
    kiali.metadata.namespace = Some(r.pick(&["istio-system", "kube-system", ""]).to_string());
    if r.chance(2) {
        kiali.metadata.uid = Some("uid".into());
    }
    let tenancy = Tenancy {
        allow_ad_hoc_namespace: r.chance(2),
        allow_ad_hoc_image: r.chance(2),
        allow_remote_cluster_resources: r.chance(2),
    };
    let opts = BuildOptions {
        tenancy,
        ..BuildOptions::default()
    };
    let Ok(validated) = validate(&kiali, &opts.tenancy) else {
        return false;
    };
    let (secrets, namespaces) = (
        secrets(&mut r, &validated.config.deployment.namespace),
        namespaces(&mut r),
    );
    let _ = desired(
        &validated,
        &secrets,
        &namespaces,
        Platform::default(),
        &opts,
    );
    true
}

fn cases() -> u32 {
    std::env::var("MESHGLASS_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn validate_and_build_never_panic(seed in any::<u64>()) {
        run_one(seed);
    }
}

/// The generator reaches the build stage often enough for the property to mean something.
#[test]
fn the_generator_reaches_the_build_stage() {
    let built = (1..=2_000u64)
        .filter(|s| run_one(s.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .count();
    assert!(
        built > 200,
        "only {built} of 2000 generated specs reached the build"
    );
}
