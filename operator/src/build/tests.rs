use super::*;
use meshglass_crds::KialiSpec;

const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: west\n  cluster: {server: 'https://127.0.0.1:6443'}\nusers:\n- name: west\n  user: {token: abc}\ncontexts:\n- name: west\n  context: {cluster: west, user: west}\ncurrent-context: west\n";

fn kiali(ns: &str, spec: serde_json::Value) -> Kiali {
    let spec: KialiSpec = serde_json::from_value(spec).unwrap();
    let mut k = Kiali::new("kiali", spec);
    k.metadata.namespace = Some(ns.into());
    k.metadata.uid = Some("uid-1".into());
    k
}

fn ossm_primary() -> Kiali {
    kiali(
        "istio-system",
        serde_json::json!({
            "version": "default",
            "external_services": {"prometheus": {
                "auth": {"type": "bearer", "use_kiali_token": true},
                "thanos_proxy": {"enabled": true},
                "url": "https://thanos-querier.openshift-monitoring.svc.cluster.local:9091"
            }}
        }),
    )
}

/// Build options whose tenancy allows every CR (remote mode, another namespace, another image).
fn permissive() -> BuildOptions {
    BuildOptions {
        tenancy: Tenancy::allow_all(),
        ..BuildOptions::default()
    }
}

fn keys(d: &Desired) -> Vec<String> {
    let mut k: Vec<String> = d.objects.iter().map(Child::key).collect();
    k.sort();
    k
}

fn secret(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> Secret {
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
        data: Some(secret_data(data)),
        ..Default::default()
    }
}

fn deployment(d: &Desired) -> &Deployment {
    d.objects
        .iter()
        .find_map(|c| match c {
            Child::Deployment(d) => Some(d),
            _ => None,
        })
        .unwrap()
}

fn cluster_role(d: &Desired) -> &ClusterRole {
    d.objects
        .iter()
        .find_map(|c| match c {
            Child::ClusterRole(r) => Some(r),
            _ => None,
        })
        .unwrap()
}

#[test]
fn primary_creates_exactly_the_server_objects() {
    let d = build(&ossm_primary(), &[], &[], &BuildOptions::default()).unwrap();
    assert_eq!(
        keys(&d),
        vec![
            "ClusterRole kiali",
            "ClusterRoleBinding kiali",
            "ConfigMap istio-system/kiali",
            "Deployment istio-system/kiali",
            "Service istio-system/kiali",
            "ServiceAccount istio-system/kiali-service-account",
        ]
    );
    // The seed's primary CR: every field it sets is acted on but `version`.
    assert_eq!(d.ignored_fields, vec!["version"]);
    for c in &d.objects {
        let m = c.meta();
        let labels = m.labels.as_ref().unwrap();
        assert_eq!(labels["app"], "kiali");
        assert_eq!(labels["app.kubernetes.io/instance"], "kiali");
        assert_eq!(labels["app.kubernetes.io/part-of"], "kiali");
        // Owner references only on namespaced children.
        assert_eq!(
            m.owner_references.is_some(),
            m.namespace.is_some(),
            "{}",
            c.key()
        );
    }
    let cm = d
        .objects
        .iter()
        .find_map(|c| {
            if let Child::ConfigMap(c) = c {
                Some(c)
            } else {
                None
            }
        })
        .unwrap();
    let cfg = Config::from_yaml(&cm.data.as_ref().unwrap()["config.yaml"]).unwrap();
    assert_eq!(
        cfg.external_services.prometheus.url,
        "https://thanos-querier.openshift-monitoring.svc.cluster.local:9091"
    );
    assert_eq!(cfg, d.config);

    let dep = deployment(&d);
    let pod = dep.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("meshglass-server"));
    assert_eq!(
        c.args.as_ref().unwrap(),
        &vec![
            "--config".to_string(),
            "/kiali-configuration/config.yaml".into()
        ]
    );
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop.as_ref().unwrap(),
        &vec!["ALL".to_string()]
    );
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(c.resources.as_ref(), Some(&default_resources()));
    // Readiness waits for the caches (`/readyz`); liveness only asks whether the process answers.
    let path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|g| g.path.clone())
    };
    assert_eq!(path(&c.readiness_probe).as_deref(), Some("/kiali/readyz"));
    assert_eq!(path(&c.liveness_probe).as_deref(), Some("/kiali/healthz"));
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(
        psc.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some("kiali-service-account")
    );
    let ann = dep
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .as_ref()
        .unwrap();
    assert_eq!(
        ann[names::CONFIG_HASH_ANNOTATION],
        hash(&[cm.data.as_ref().unwrap()["config.yaml"].as_bytes()])
    );

    // Read-only but for Istio config (not view-only), and never Secrets.
    for rule in cluster_role(&d).rules.as_ref().unwrap() {
        let res = rule.resources.as_ref().unwrap();
        assert!(!res.iter().any(|r| r == "secrets"));
        let review = res.iter().all(|r| r.ends_with("reviews"));
        let istio = rule
            .api_groups
            .iter()
            .flatten()
            .all(|g| g.ends_with(".istio.io") || g == "gateway.networking.k8s.io");
        let allowed: &[&str] = if review {
            &["create"]
        } else if istio {
            &["get", "list", "watch", "create", "patch", "delete"]
        } else {
            &["get", "list", "watch"]
        };
        assert!(
            rule.verbs.iter().all(|v| allowed.contains(&v.as_str())),
            "{rule:?}"
        );
    }
}

#[test]
fn remote_creates_only_credentials() {
    let k = kiali(
        "istio-system",
        serde_json::json!({"version": "default", "auth": {"openshift": {"redirect_uris": ["https://x/api/auth/callback/cluster2"]}}, "deployment": {"remote_cluster_resources_only": true}}),
    );
    let d = build(&k, &[], &[], &permissive()).unwrap();
    assert_eq!(
        keys(&d),
        vec![
            "ClusterRole kiali",
            "ClusterRoleBinding kiali",
            "Secret istio-system/kiali-service-account-token",
            "ServiceAccount istio-system/kiali-service-account",
        ]
    );
    let s = d
        .objects
        .iter()
        .find_map(|c| {
            if let Child::Secret(s) = c {
                Some(s)
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(
        s.type_.as_deref(),
        Some("kubernetes.io/service-account-token")
    );
    assert_eq!(
        s.metadata.annotations.as_ref().unwrap()["kubernetes.io/service-account.name"],
        "kiali-service-account"
    );
    assert!(d.remote_only());
    assert_eq!(d.ignored_fields, vec!["version"]);
}

#[test]
fn view_only_uses_the_viewer_role() {
    let k = kiali(
        "istio-system",
        serde_json::json!({"deployment": {"view_only_mode": true}}),
    );
    let d = build(&k, &[], &[], &BuildOptions::default()).unwrap();
    assert!(keys(&d).contains(&"ClusterRole kiali-viewer".to_string()));
    assert!(!keys(&d).contains(&"ClusterRole kiali".to_string()));
    let crb = d
        .objects
        .iter()
        .find_map(|c| {
            if let Child::ClusterRoleBinding(b) = c {
                Some(b)
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(crb.metadata.name.as_deref(), Some("kiali"));
    assert_eq!(crb.role_ref.name, "kiali-viewer");
}

#[test]
fn namespace_scoped_access_creates_roles_per_selected_namespace() {
    let ns = |name: &str, labels: &[(&str, &str)]| Namespace {
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
        ns("bookinfo", &[("mesh", "yes")]),
        ns("other", &[]),
        ns("istio-system", &[]),
    ];
    let k = kiali(
        "istio-system",
        serde_json::json!({"deployment": {"cluster_wide_access": false, "discovery_selectors": {"default": [{"matchLabels": {"mesh": "yes"}}]}, "accessible_namespaces": ["legacy"]}}),
    );
    let d = build(&k, &[], &namespaces, &BuildOptions::default()).unwrap();
    let k = keys(&d);
    for expected in [
        "Role bookinfo/kiali",
        "RoleBinding bookinfo/kiali",
        "Role istio-system/kiali",
        "Role legacy/kiali",
    ] {
        assert!(
            k.contains(&expected.to_string()),
            "{expected} missing from {k:?}"
        );
    }
    assert!(!k.iter().any(|x| x.contains("other/")), "{k:?}");
    // The cluster role keeps only the identity checks.
    for rule in cluster_role(&d).rules.as_ref().unwrap() {
        assert_eq!(rule.verbs, vec!["create".to_string()]);
    }
    // Roles outside the CR's namespace cannot carry an owner reference.
    let role = d
        .objects
        .iter()
        .find(|c| c.key() == "Role bookinfo/kiali")
        .unwrap();
    assert!(role.meta().owner_references.is_none());
}

#[test]
fn resources_from_the_cr_replace_the_defaults() {
    let k = kiali(
        "istio-system",
        serde_json::json!({"deployment": {"resources": {"requests": {"cpu": "50m"}, "limits": {"cpu": "1"}}}}),
    );
    let d = build(&k, &[], &[], &BuildOptions::default()).unwrap();
    let pod = deployment(&d)
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .clone()
        .unwrap();
    let r = pod.containers[0].resources.clone().unwrap();
    assert_eq!(r.requests.unwrap()["cpu"].0, "50m");
    let limits = r.limits.unwrap();
    assert_eq!(limits["cpu"].0, "1");
    assert!(!limits.contains_key("memory"));
}

#[test]
fn custom_instance_name_and_namespace() {
    let k = kiali(
        "operators",
        serde_json::json!({"deployment": {"instance_name": "mesh-console", "namespace": "console"}, "istio_namespace": "istio-system"}),
    );
    let d = build(&k, &[], &[], &permissive()).unwrap();
    assert_eq!(
        keys(&d),
        vec![
            "ClusterRole mesh-console",
            "ClusterRoleBinding mesh-console",
            "ConfigMap console/mesh-console",
            "Deployment console/mesh-console",
            "Service console/mesh-console",
            "ServiceAccount console/mesh-console-service-account",
        ]
    );
    assert!(
        d.objects
            .iter()
            .all(|c| c.meta().owner_references.is_none())
    );
    let sel = deployment(&d)
        .spec
        .as_ref()
        .unwrap()
        .selector
        .match_labels
        .clone()
        .unwrap();
    assert_eq!(sel["app.kubernetes.io/instance"], "mesh-console");
    assert_eq!(d.config.istio_namespace, "istio-system");
}

#[test]
fn remote_secrets_are_mounted_checked_and_hashed() {
    let label = [("kiali.io/multiCluster", "true")];
    let good = secret(
        "kiali-remote-cluster-secret-west",
        &label,
        &[("west", KUBECONFIG)],
    );
    let bad = secret("broken", &label, &[("east", "not: a kubeconfig")]);
    let unrelated = secret("other", &[], &[("x", KUBECONFIG)]);
    let k = kiali(
        "istio-system",
        serde_json::json!({"clustering": {"clusters": [{"name": "north", "secret_name": "north-secret"}]}}),
    );
    let d = build(
        &k,
        &[good.clone(), bad, unrelated],
        &[],
        &BuildOptions::default(),
    )
    .unwrap();
    let names: Vec<(&str, bool)> = d
        .remote_secrets
        .iter()
        .map(|s| (s.name.as_str(), s.mounted))
        .collect();
    assert_eq!(
        names,
        vec![
            ("broken", false),
            ("kiali-remote-cluster-secret-west", true),
            ("north-secret", false)
        ]
    );
    assert!(
        d.remote_secrets[0]
            .problem
            .as_deref()
            .unwrap()
            .contains("\"east\"")
    );
    let pod = deployment(&d).spec.clone().unwrap().template.spec.unwrap();
    let mounts: Vec<String> = pod.containers[0]
        .volume_mounts
        .clone()
        .unwrap()
        .into_iter()
        .map(|m| m.mount_path)
        .collect();
    assert!(
        mounts.contains(
            &"/kiali-remote-cluster-secrets/kiali-remote-cluster-secret-west".to_string()
        )
    );
    assert!(
        !mounts
            .iter()
            .any(|m| m.ends_with("/broken") || m.ends_with("/other"))
    );

    // New secret data → a new pod template; the config hash is unchanged.
    let ann = |d: &Desired| {
        deployment(d)
            .spec
            .clone()
            .unwrap()
            .template
            .metadata
            .unwrap()
            .annotations
            .unwrap()
    };
    let changed = secret(
        "kiali-remote-cluster-secret-west",
        &label,
        &[("west", &KUBECONFIG.replace("abc", "def"))],
    );
    let d2 = build(&k, &[changed], &[], &BuildOptions::default()).unwrap();
    assert_ne!(
        ann(&d)[names::SECRETS_HASH_ANNOTATION],
        ann(&d2)[names::SECRETS_HASH_ANNOTATION]
    );
    assert_eq!(
        ann(&d)[names::CONFIG_HASH_ANNOTATION],
        ann(&d2)[names::CONFIG_HASH_ANNOTATION]
    );
}

#[test]
fn exec_kubeconfigs_are_mounted_only_with_enable_exec_provider() {
    let label = [("kiali.io/multiCluster", "true")];
    let exec = KUBECONFIG.replace("{token: abc}", "{exec: {command: get-token}}");
    let s = secret("exec-secret", &label, &[("west", &exec)]);
    let problem = |spec: serde_json::Value| {
        let d = build(
            &kiali("istio-system", spec),
            std::slice::from_ref(&s),
            &[],
            &BuildOptions::default(),
        )
        .unwrap();
        assert!(d.ignored_fields.is_empty(), "{:?}", d.ignored_fields);
        (
            d.remote_secrets[0].mounted,
            d.remote_secrets[0].problem.clone(),
        )
    };
    let (mounted, why) = problem(serde_json::json!({}));
    assert!(!mounted);
    let why = why.unwrap();
    assert!(
        why.contains("users[0].user.exec")
            && why.contains("enable_exec_provider")
            && !why.contains("get-token"),
        "{why}"
    );
    assert_eq!(
        problem(serde_json::json!({"clustering": {"enable_exec_provider": true}})),
        (true, None)
    );
}

#[test]
fn invalid_spec_is_an_error_not_a_panic() {
    let k = kiali(
        "istio-system",
        serde_json::json!({"deployment": {"instance_name": "Not Valid"}}),
    );
    assert_eq!(
        build(&k, &[], &[], &BuildOptions::default())
            .unwrap_err()
            .category(),
        "invalid_spec"
    );
    let k = kiali(
        "istio-system",
        serde_json::json!({"deployment": {"tolerations": [{"tolerationSeconds": "soon"}]}}),
    );
    assert_eq!(
        build(&k, &[], &[], &BuildOptions::default())
            .unwrap_err()
            .category(),
        "invalid_spec"
    );
}

#[test]
fn inline_metrics_credentials_go_to_a_secret_never_the_configmap() {
    let k = kiali(
        "istio-system",
        serde_json::json!({"external_services": {"prometheus": {
            "url": "https://thanos:9091",
            "auth": {"type": "bearer", "token": "inline-t0ken"}
        }}}),
    );
    let d = build(&k, &[], &[], &BuildOptions::default()).unwrap();
    let mut secret_seen = false;
    for c in &d.objects {
        match c {
            Child::ConfigMap(cm) => {
                let yaml = &cm.data.as_ref().unwrap()[config::CONFIG_KEY];
                assert!(!yaml.contains("inline-t0ken"), "{yaml}");
                assert!(
                    yaml.contains("secret:kiali-prometheus-auth:token"),
                    "{yaml}"
                );
            }
            Child::Secret(s) if s.name_any() == "kiali-prometheus-auth" => {
                assert_eq!(s.data.as_ref().unwrap()["token"].0, b"inline-t0ken");
                assert!(s.metadata.owner_references.is_some());
                secret_seen = true;
            }
            other => assert!(
                !serde_json::to_string(other.meta())
                    .unwrap()
                    .contains("inline-t0ken"),
                "{}",
                other.key()
            ),
        }
    }
    assert!(secret_seen);
    assert!(!format!("{:?}", d.config).contains("inline-t0ken"));
    let pod = deployment(&d)
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let mounts = pod.containers[0].volume_mounts.as_ref().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m.mount_path == "/kiali-override-secrets/prometheus-token")
    );
    assert!(mounts.iter().any(|m| m.mount_path == "/kiali-cabundle"));
    assert!(!serde_json::to_string(pod).unwrap().contains("inline-t0ken"));
}

#[test]
fn a_users_sidecar_injection_choice_is_not_overridden() {
    let pod_meta = |spec: serde_json::Value| {
        let d = build(
            &kiali("istio-system", spec),
            &[],
            &[],
            &BuildOptions::default(),
        )
        .unwrap();
        deployment(&d)
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .clone()
            .unwrap()
    };
    // By default the server gets no sidecar.
    let m = pod_meta(serde_json::json!({}));
    assert_eq!(m.labels.unwrap()["sidecar.istio.io/inject"], "false");
    // Seed 002: the annotation asks for one, and no label of ours (which Istio reads first) says otherwise.
    let m = pod_meta(
        serde_json::json!({"deployment": {"pod_annotations": {"sidecar.istio.io/inject": "true"}}}),
    );
    assert!(
        !m.labels
            .as_ref()
            .unwrap()
            .contains_key("sidecar.istio.io/inject")
    );
    assert_eq!(m.annotations.unwrap()["sidecar.istio.io/inject"], "true");
    let m = pod_meta(
        serde_json::json!({"deployment": {"pod_labels": {"sidecar.istio.io/inject": "true"}}}),
    );
    assert_eq!(m.labels.unwrap()["sidecar.istio.io/inject"], "true");
}

#[test]
fn ingress_when_enabled_and_a_route_where_the_route_api_exists() {
    let built = |spec: serde_json::Value, routes: bool| {
        build_on(
            &kiali("istio-system", spec),
            &[],
            &[],
            Platform {
                routes,
                ..Default::default()
            },
            &BuildOptions::default(),
        )
        .unwrap()
    };
    let exposed = |d: &Desired| -> Vec<String> {
        d.objects
            .iter()
            .filter(|c| matches!(c, Child::Ingress(_) | Child::Route(_)))
            .map(Child::key)
            .collect()
    };
    // Kiali: off by default on Kubernetes, on by default on OpenShift.
    assert!(exposed(&built(serde_json::json!({}), false)).is_empty());
    assert_eq!(
        exposed(&built(serde_json::json!({}), true)),
        ["Route istio-system/kiali"]
    );
    let off = serde_json::json!({"deployment": {"ingress": {"enabled": false}}});
    assert!(exposed(&built(off, true)).is_empty());

    // Seed 000: `deployment.ingress.enabled=true` on Kubernetes.
    let on = serde_json::json!({"deployment": {"ingress": {"enabled": true}}});
    let d = built(on.clone(), false);
    assert_eq!(exposed(&d), ["Ingress istio-system/kiali"]);
    let Some(Child::Ingress(ing)) = d.objects.iter().find(|c| c.kind() == "Ingress") else {
        panic!("no Ingress")
    };
    let spec = ing.spec.as_ref().unwrap();
    assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
    let path = &spec.rules.as_ref().unwrap()[0].http.as_ref().unwrap().paths[0];
    assert_eq!(path.path.as_deref(), Some("/kiali"));
    let backend = path.backend.service.as_ref().unwrap();
    assert_eq!(backend.name, "kiali");
    assert_eq!(backend.port.as_ref().unwrap().number, Some(20001));
    assert_eq!(ing.metadata.labels.as_ref().unwrap()["app"], "kiali");

    // Seed 001: Route `<instance>` to the Service's http port; override_yaml names the host.
    let d = built(
        serde_json::json!({"deployment": {"ingress": {"override_yaml": {"spec": {"host": "kiali.apps.example.com", "to": {"kind": "Service", "name": "kiali"}}}}}}),
        true,
    );
    let Some(Child::Route(route)) = d.objects.iter().find(|c| c.kind() == "Route") else {
        panic!("no Route")
    };
    assert_eq!(route.data["spec"]["host"], "kiali.apps.example.com");
    let d = built(on, true);
    let Some(Child::Route(route)) = d.objects.iter().find(|c| c.kind() == "Route") else {
        panic!("no Route")
    };
    assert_eq!(
        route.types.as_ref().unwrap().api_version,
        "route.openshift.io/v1"
    );
    assert_eq!(route.data["spec"]["to"]["name"], "kiali");
    assert_eq!(route.data["spec"]["port"]["targetPort"], "http");
    assert_eq!(route.data["spec"]["tls"]["termination"], "edge");

    let class =
        serde_json::json!({"deployment": {"ingress": {"enabled": true, "class_name": "traefik"}}});
    let d = built(class, false);
    let Some(Child::Ingress(ing)) = d.objects.iter().find(|c| c.kind() == "Ingress") else {
        panic!("no Ingress")
    };
    assert_eq!(
        ing.spec.as_ref().unwrap().ingress_class_name.as_deref(),
        Some("traefik")
    );
    // A remote-only CR exposes nothing.
    let remote = serde_json::json!({"deployment": {"remote_cluster_resources_only": true, "ingress": {"enabled": true}}});
    let remote = build_on(
        &kiali("istio-system", remote),
        &[],
        &[],
        Platform {
            routes: true,
            ..Default::default()
        },
        &BuildOptions {
            tenancy: crate::reconcile::validate::Tenancy::allow_all(),
            ..BuildOptions::default()
        },
    )
    .unwrap();
    assert!(exposed(&remote).is_empty());
}

#[test]
fn the_signing_key_reaches_the_server_by_env_and_its_rotation_rolls_the_pods() {
    let k = ossm_primary();
    let key = |v: &str| secret("kiali-signing-key", &[], &[("key", v)]);
    let with = |v: &str| build(&k, &[key(v)], &[], &BuildOptions::default()).unwrap();
    let (a, b) = (with("first-key-0123456789"), with("second-key-0123456789"));
    let pod = |d: &Desired| deployment(d).spec.clone().unwrap().template;
    let env = pod(&a).spec.unwrap().containers[0].env.clone().unwrap();
    let from = env[0].value_from.clone().unwrap().secret_key_ref.unwrap();
    assert_eq!(env[0].name, "LOGIN_TOKEN_SIGNING_KEY");
    assert_eq!(
        (from.name.as_str(), from.key.as_str()),
        ("kiali-signing-key", "key")
    );
    let hash = |d: &Desired| {
        pod(d).metadata.unwrap().annotations.unwrap()[names::SIGNING_KEY_HASH_ANNOTATION].clone()
    };
    assert_ne!(hash(&a), hash(&b), "a rotated key rolls the pods");
    // The key is in no built object, and is not taken for a remote cluster's secret.
    for d in [&a, &b] {
        let text =
            serde_json::to_string(&d.objects.iter().map(child_value).collect::<Vec<_>>()).unwrap();
        assert!(!text.contains("first-key") && !text.contains("second-key"));
        assert!(d.remote_secrets.is_empty());
    }
    let without = build(&k, &[], &[], &BuildOptions::default()).unwrap();
    assert!(
        !pod(&without)
            .metadata
            .unwrap()
            .annotations
            .unwrap()
            .contains_key(names::SIGNING_KEY_HASH_ANNOTATION)
    );
}

fn child_value(c: &Child) -> serde_json::Value {
    match c {
        Child::Secret(s) => serde_json::to_value(s).unwrap(),
        Child::ConfigMap(s) => serde_json::to_value(s).unwrap(),
        Child::Deployment(s) => serde_json::to_value(s).unwrap(),
        _ => serde_json::Value::Null,
    }
}

/// The verbs a ClusterRole grants on `group`/`resource`.
fn verbs_on(role: &ClusterRole, group: &str, resource: &str) -> Vec<String> {
    let mut out: Vec<String> = role
        .rules
        .iter()
        .flatten()
        .filter(|r| {
            r.api_groups.iter().flatten().any(|g| g == group)
                && r.resources.iter().flatten().any(|x| x == resource)
        })
        .flat_map(|r| r.verbs.clone())
        .collect();
    out.sort();
    out
}

#[test]
fn only_a_server_that_is_not_view_only_may_write_istio_config() {
    let viewer = build(
        &kiali(
            "istio-system",
            serde_json::json!({"deployment": {"view_only_mode": true}}),
        ),
        &[],
        &[],
        &BuildOptions::default(),
    )
    .unwrap();
    let writer = build(
        &kiali("istio-system", serde_json::json!({})),
        &[],
        &[],
        &BuildOptions::default(),
    )
    .unwrap();
    let read = ["get", "list", "watch"].map(String::from).to_vec();
    assert_eq!(
        verbs_on(
            cluster_role(&viewer),
            "networking.istio.io",
            "virtualservices"
        ),
        read
    );
    assert_eq!(
        verbs_on(
            cluster_role(&writer),
            "networking.istio.io",
            "virtualservices"
        ),
        ["create", "delete", "get", "list", "patch", "watch"].map(String::from)
    );
    for (g, r) in [
        ("security.istio.io", "authorizationpolicies"),
        ("gateway.networking.k8s.io", "httproutes"),
        ("telemetry.istio.io", "telemetries"),
    ] {
        assert!(verbs_on(cluster_role(&writer), g, r).contains(&"patch".to_string()));
        assert!(!verbs_on(cluster_role(&viewer), g, r).contains(&"patch".to_string()));
    }
    // Writes stay on Istio config: nothing else gains a verb.
    for (g, r) in [("", "pods"), ("", "services"), ("apps", "deployments")] {
        assert_eq!(verbs_on(cluster_role(&writer), g, r), read, "{g}/{r}");
    }
}
