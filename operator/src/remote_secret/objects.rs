//! Pure builders: the objects the CLI writes on the remote cluster, the kubeconfig and the remote-cluster Secret
//! it writes on the Kiali cluster, and the access reviews that prove the kubeconfig is good enough.

use std::collections::BTreeMap;

use k8s_openapi::{
    ByteString,
    api::{
        authorization::v1::{
            ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        },
        core::v1::{Namespace, Secret, ServiceAccount},
        rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject},
    },
};
use kube::{api::ObjectMeta, config::Kubeconfig};

use super::error::{Error, Result};

/// Field manager of every server-side apply the CLI does.
pub const FIELD_MANAGER: &str = "meshglass-remote-secret";
/// Label key/value on every object the CLI creates; `--delete` removes only objects that carry it.
pub const MANAGED_BY_KEY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "meshglass-remote-secret";
/// Prefix of the remote-cluster Secret's name on the Kiali cluster.
pub const KIALI_SECRET_PREFIX: &str = "kiali-remote-cluster-secret-";
/// Label that makes the server discover the Secret.
pub const MULTI_CLUSTER_LABEL: &str = "kiali.io/multiCluster";
/// Annotation naming the cluster the Secret is for.
pub const CLUSTER_ANNOTATION: &str = "kiali.io/cluster";
/// Annotation binding a token Secret to its ServiceAccount.
pub const SERVICE_ACCOUNT_ANNOTATION: &str = "kubernetes.io/service-account.name";
/// Type of a long-lived ServiceAccount token Secret.
pub const TOKEN_SECRET_TYPE: &str = "kubernetes.io/service-account-token";
/// ConfigMap that every namespace holds with the cluster's root CA (key `ca.crt`).
pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";

/// Name of the remote-cluster Secret for a cluster: non `[-a-zA-Z0-9]` characters become `-`, upper case becomes
/// lower case (as kiali-prepare-remote-cluster.sh does).
pub fn kiali_secret_name(cluster_name: &str) -> String {
    let sanitized: String = cluster_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{KIALI_SECRET_PREFIX}{sanitized}")
}

/// Name of the ClusterRole: `<name>-viewer` when view-only, else `<name>` (the operator's naming).
pub fn cluster_role_name(resource_name: &str, view_only: bool) -> String {
    meshglass_crds::names::role(resource_name, view_only)
}

fn labels(resource_name: &str) -> BTreeMap<String, String> {
    [
        ("app", "kiali"),
        ("app.kubernetes.io/name", "kiali"),
        ("app.kubernetes.io/instance", resource_name),
        ("app.kubernetes.io/part-of", "kiali"),
        (MANAGED_BY_KEY, MANAGED_BY_VALUE),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `true` when the object's labels say the CLI created it.
pub fn is_managed(meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY_KEY))
        .map(String::as_str)
        == Some(MANAGED_BY_VALUE)
}

/// What the server may do on a remote cluster: exactly what the operator grants its ServiceAccount in remote
/// mode (read the kinds the server caches and pods' logs, never Secrets; TokenReview/SubjectAccessReview for user checks), so
/// that both ways of preparing a remote cluster give the server the same access. `--view-only` only picks the
/// role's name, as in the operator.
pub fn remote_rules() -> Vec<PolicyRule> {
    let mut rules = crate::build::namespaced_read_rules();
    rules.extend(crate::build::log_rules());
    rules.extend(crate::build::auth_rules());
    rules
}

/// The objects the CLI creates on the remote cluster with `--process-remote-resources true`.
#[derive(Debug, Clone)]
pub struct RemoteObjects {
    /// Created only when the namespace does not exist yet.
    pub namespace: Namespace,
    pub service_account: ServiceAccount,
    pub cluster_role: ClusterRole,
    pub cluster_role_binding: ClusterRoleBinding,
    /// A `kubernetes.io/service-account-token` Secret: the token controller fills in a long-lived token.
    pub token_secret: Secret,
}

/// Builds the remote objects, all named `resource_name` (the role `<name>-viewer` when view-only).
pub fn remote_objects(resource_name: &str, namespace: &str, view_only: bool) -> RemoteObjects {
    let meta = |name: &str, ns: Option<&str>| ObjectMeta {
        name: Some(name.to_string()),
        namespace: ns.map(str::to_string),
        labels: Some(labels(resource_name)),
        ..Default::default()
    };
    let role_name = cluster_role_name(resource_name, view_only);
    RemoteObjects {
        namespace: Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.to_string()),
                labels: Some([(MANAGED_BY_KEY.to_string(), MANAGED_BY_VALUE.to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        },
        service_account: ServiceAccount {
            metadata: meta(resource_name, Some(namespace)),
            ..Default::default()
        },
        cluster_role: ClusterRole {
            metadata: meta(&role_name, None),
            rules: Some(crate::build::rules_for(remote_rules(), view_only)),
            ..Default::default()
        },
        cluster_role_binding: ClusterRoleBinding {
            metadata: meta(resource_name, None),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".to_string(),
                kind: "ClusterRole".to_string(),
                name: role_name,
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".to_string(),
                name: resource_name.to_string(),
                namespace: Some(namespace.to_string()),
                ..Default::default()
            }]),
        },
        token_secret: Secret {
            metadata: ObjectMeta {
                annotations: Some(
                    [(
                        SERVICE_ACCOUNT_ANNOTATION.to_string(),
                        resource_name.to_string(),
                    )]
                    .into(),
                ),
                ..meta(resource_name, Some(namespace))
            },
            type_: Some(TOKEN_SECRET_TYPE.to_string()),
            ..Default::default()
        },
    }
}

/// How the generated kubeconfig trusts the remote API server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// PEM bytes of the CA bundle.
    Ca(Vec<u8>),
    /// `insecure-skip-tls-verify: true` (only with `--allow-skip-tls-verify true`).
    SkipVerify,
}

/// A kubeconfig with one cluster, one user and one context, all named after the cluster, authenticating with the
/// ServiceAccount token.
pub fn remote_kubeconfig(
    cluster_name: &str,
    server_url: &str,
    trust: &Trust,
    token: &str,
) -> Result<Kubeconfig> {
    use base64::Engine as _;
    let mut cluster = serde_json::json!({ "server": server_url });
    match trust {
        Trust::Ca(pem) => {
            cluster["certificate-authority-data"] =
                base64::engine::general_purpose::STANDARD.encode(pem).into();
        }
        Trust::SkipVerify => cluster["insecure-skip-tls-verify"] = true.into(),
    }
    // Built through serde because kube's `AuthInfo.token` is a `SecretString` whose crate is not re-exported.
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "current-context": cluster_name,
        "contexts": [{ "name": cluster_name, "context": { "cluster": cluster_name, "user": cluster_name } }],
        "users": [{ "name": cluster_name, "user": { "token": token } }],
        "clusters": [{ "name": cluster_name, "cluster": cluster }],
    });
    // serde's message could quote a value, so it is not passed on.
    serde_json::from_value(doc).map_err(|_| Error::Encode {
        what: "the kubeconfig",
        cause: "it does not fit kube's Kubeconfig type".to_string(),
    })
}

/// The kubeconfig as the YAML text stored in the Secret.
pub fn kubeconfig_yaml(kubeconfig: &Kubeconfig) -> Result<String> {
    serde_yaml_ng::to_string(kubeconfig).map_err(|_| Error::Encode {
        what: "the kubeconfig",
        cause: "YAML serialization failed".to_string(),
    })
}

/// The remote-cluster Secret on the Kiali cluster: label `kiali.io/multiCluster: "true"`, annotation
/// `kiali.io/cluster: <name>`, data key `<name>` = the kubeconfig.
pub fn kiali_secret(cluster_name: &str, namespace: &str, kubeconfig_yaml: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(kiali_secret_name(cluster_name)),
            namespace: Some(namespace.to_string()),
            labels: Some(
                [
                    (MULTI_CLUSTER_LABEL.to_string(), "true".to_string()),
                    (MANAGED_BY_KEY.to_string(), MANAGED_BY_VALUE.to_string()),
                ]
                .into(),
            ),
            annotations: Some([(CLUSTER_ANNOTATION.to_string(), cluster_name.to_string())].into()),
            ..Default::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(
            [(
                cluster_name.to_string(),
                ByteString(kubeconfig_yaml.as_bytes().to_vec()),
            )]
            .into(),
        ),
        ..Default::default()
    }
}

/// One permission the server needs on every remote cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            write!(f, "{} {}", self.verb, self.resource)
        } else {
            write!(f, "{} {}.{}", self.verb, self.resource, self.group)
        }
    }
}

/// The cluster-wide permissions checked with SelfSubjectAccessReviews before anything is written on the Kiali
/// cluster: list and watch of every kind the server caches (namespaces, pods, services, workloads and every Istio
/// and Gateway API kind), the same list as the read rules the remote role grants.
pub fn required_access() -> Vec<Access> {
    crate::build::READ_KINDS
        .iter()
        .flat_map(|&(group, resources)| {
            resources.iter().flat_map(move |&resource| {
                ["list", "watch"].map(|verb| Access {
                    verb,
                    group,
                    resource,
                })
            })
        })
        .collect()
}

/// The SelfSubjectAccessReview asking for one cluster-wide permission.
pub fn access_review(access: &Access) -> SelfSubjectAccessReview {
    SelfSubjectAccessReview {
        metadata: ObjectMeta::default(),
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some(access.group.to_string()),
                resource: Some(access.resource.to_string()),
                verb: Some(access.verb.to_string()),
                ..Default::default()
            }),
            non_resource_attributes: None,
        },
        status: None,
    }
}

/// The Secret in the form printed by `--dry-run`: the kubeconfig as readable `stringData`.
pub fn readable_secret(secret: &Secret) -> Secret {
    let string_data = secret.data.as_ref().map(|data| {
        data.iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
            .collect::<BTreeMap<_, _>>()
    });
    Secret {
        data: None,
        string_data,
        ..secret.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_sanitized_like_the_script() {
        assert_eq!(
            kiali_secret_name("west"),
            "kiali-remote-cluster-secret-west"
        );
        assert_eq!(
            kiali_secret_name("Cluster_2.Prod"),
            "kiali-remote-cluster-secret-cluster-2-prod"
        );
    }

    #[test]
    fn remote_objects_are_named_and_bound() {
        let o = remote_objects("kiali-remote-access", "kiali-access-ns", true);
        assert_eq!(
            o.service_account.metadata.name.as_deref(),
            Some("kiali-remote-access")
        );
        assert_eq!(
            o.service_account.metadata.namespace.as_deref(),
            Some("kiali-access-ns")
        );
        assert_eq!(
            o.cluster_role.metadata.name.as_deref(),
            Some("kiali-remote-access-viewer")
        );
        assert_eq!(
            o.cluster_role_binding.role_ref.name,
            "kiali-remote-access-viewer"
        );
        let subject = &o.cluster_role_binding.subjects.as_ref().expect("subjects")[0];
        assert_eq!(
            (
                subject.kind.as_str(),
                subject.name.as_str(),
                subject.namespace.as_deref()
            ),
            (
                "ServiceAccount",
                "kiali-remote-access",
                Some("kiali-access-ns")
            )
        );
        assert_eq!(o.token_secret.type_.as_deref(), Some(TOKEN_SECRET_TYPE));
        assert_eq!(
            o.token_secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(SERVICE_ACCOUNT_ANNOTATION)),
            Some(&"kiali-remote-access".to_string())
        );
        for meta in [
            &o.namespace.metadata,
            &o.service_account.metadata,
            &o.cluster_role.metadata,
            &o.cluster_role_binding.metadata,
            &o.token_secret.metadata,
        ] {
            assert!(
                is_managed(meta),
                "{:?} lacks the managed-by label",
                meta.name
            );
        }
        let rw = remote_objects("kiali", "istio-system", false);
        assert_eq!(rw.cluster_role.metadata.name.as_deref(), Some("kiali"));
    }

    #[test]
    fn rules_never_write_and_never_read_secrets() {
        for r in remote_rules() {
            let resources = r.resources.clone().unwrap_or_default();
            assert!(
                !resources.iter().any(|x| x == "secrets" || x == "*"),
                "{r:?}"
            );
            let review = resources.iter().all(|x| x.ends_with("reviews"));
            for v in &r.verbs {
                let allowed: &[&str] = if review {
                    &["create"]
                } else {
                    &["get", "list", "watch"]
                };
                assert!(allowed.contains(&v.as_str()), "{r:?}");
            }
        }
    }

    /// Every permission the CLI checks is granted by the role it creates.
    #[test]
    fn the_role_covers_the_required_access() {
        let rules = remote_rules();
        for a in required_access() {
            let granted = rules.iter().any(|r| {
                r.api_groups.iter().flatten().any(|g| g == a.group)
                    && r.resources
                        .iter()
                        .flatten()
                        .any(|x| x == a.resource || x == "*")
                    && r.verbs.iter().any(|v| v == a.verb)
            });
            assert!(granted, "{a} not granted");
        }
    }

    #[test]
    fn kubeconfig_has_one_cluster_user_context_named_after_the_cluster() {
        let kc = remote_kubeconfig(
            "west",
            "https://127.0.0.1:6443",
            &Trust::Ca(b"PEM".to_vec()),
            "tok",
        )
        .expect("builds");
        assert_eq!(kc.clusters.len(), 1);
        assert_eq!(kc.auth_infos.len(), 1);
        assert_eq!(kc.contexts.len(), 1);
        assert_eq!(kc.current_context.as_deref(), Some("west"));
        assert_eq!(kc.clusters[0].name, "west");
        assert_eq!(kc.auth_infos[0].name, "west");
        let ctx = kc.contexts[0].context.as_ref().expect("context");
        assert_eq!(
            (ctx.cluster.as_str(), ctx.user.as_deref()),
            ("west", Some("west"))
        );
        let cluster = kc.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("UEVN"));
        assert_eq!(cluster.insecure_skip_tls_verify, None);

        let yaml = kubeconfig_yaml(&kc).expect("yaml");
        let back = Kubeconfig::from_yaml(&yaml).expect("parses back");
        assert_eq!(back.clusters[0].name, "west");
        assert!(yaml.contains("token: tok"), "{yaml}");
        assert!(yaml.contains("certificate-authority-data: UEVN"), "{yaml}");

        let insecure =
            remote_kubeconfig("west", "https://x:6443", &Trust::SkipVerify, "tok").expect("builds");
        let c = insecure.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(
            (
                c.insecure_skip_tls_verify,
                c.certificate_authority_data.as_deref()
            ),
            (Some(true), None)
        );
    }

    #[test]
    fn kubeconfig_debug_hides_the_token() {
        let kc = remote_kubeconfig(
            "west",
            "https://x:6443",
            &Trust::SkipVerify,
            "very-secret-token",
        )
        .expect("kc");
        assert!(!format!("{kc:?}").contains("very-secret-token"));
    }

    #[test]
    fn kiali_secret_matches_the_contract() {
        let s = kiali_secret("Cluster_2", "istio-system", "KUBECONFIG");
        assert_eq!(
            s.metadata.name.as_deref(),
            Some("kiali-remote-cluster-secret-cluster-2")
        );
        assert_eq!(s.metadata.namespace.as_deref(), Some("istio-system"));
        assert_eq!(
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(MULTI_CLUSTER_LABEL)),
            Some(&"true".to_string())
        );
        assert_eq!(
            s.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(CLUSTER_ANNOTATION)),
            Some(&"Cluster_2".to_string())
        );
        let data = s.data.as_ref().expect("data");
        assert_eq!(data.keys().collect::<Vec<_>>(), ["Cluster_2"]);
        assert_eq!(data["Cluster_2"].0, b"KUBECONFIG");
        let readable = readable_secret(&s);
        assert_eq!(readable.data, None);
        assert_eq!(
            readable.string_data.expect("stringData")["Cluster_2"],
            "KUBECONFIG"
        );
    }

    #[test]
    fn access_reviews_ask_cluster_wide() {
        let all = required_access();
        assert!(all.contains(&Access {
            verb: "list",
            group: "",
            resource: "pods"
        }));
        assert!(all.contains(&Access {
            verb: "watch",
            group: "security.istio.io",
            resource: "authorizationpolicies"
        }));
        // The kinds cached since the first remote roles were written are checked too.
        for (group, resource) in [
            ("telemetry.istio.io", "telemetries"),
            ("extensions.istio.io", "wasmplugins"),
            ("networking.istio.io", "envoyfilters"),
            ("gateway.networking.k8s.io", "httproutes"),
        ] {
            assert!(
                all.contains(&Access {
                    verb: "list",
                    group,
                    resource
                }),
                "{group}/{resource}"
            );
        }
        let r = access_review(&Access {
            verb: "list",
            group: "apps",
            resource: "deployments",
        });
        let attrs = r.spec.resource_attributes.expect("attrs");
        assert_eq!(attrs.namespace, None);
        assert_eq!(
            (attrs.group.as_deref(), attrs.resource.as_deref()),
            (Some("apps"), Some("deployments"))
        );
        assert_eq!(
            Access {
                verb: "list",
                group: "",
                resource: "pods"
            }
            .to_string(),
            "list pods"
        );
        assert_eq!(
            Access {
                verb: "list",
                group: "apps",
                resource: "deployments"
            }
            .to_string(),
            "list deployments.apps"
        );
    }
}
