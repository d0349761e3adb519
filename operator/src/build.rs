//! The pure build step: a Kiali CR plus what was observed (candidate secrets, namespaces) → the exact
//! list of objects that must exist. No I/O here; the reconciler applies the result and prunes the rest.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort,
    EmptyDirVolumeSource, HTTPGetAction, LocalObjectReference, Namespace, PodSecurityContext,
    PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, Secret,
    SecretVolumeSource, SecurityContext, Service, ServiceAccount, ServicePort, ServiceSpec,
    Toleration, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::core::{Selector, SelectorExt};
use kube::{Resource, ResourceExt};
use meshglass_crds::config::{self, Config};
use meshglass_crds::names;
use meshglass_crds::status::RemoteSecretStatus;
use meshglass_crds::{Kiali, accepted};
use sha2::{Digest, Sha256};

use crate::secrets::check_remote_secret;
use crate::{Error, Result};

/// Settings of the operator process that shape every instance.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Image of the server when the CR does not name one.
    pub server_image: String,
    /// Pull policy when the CR does not set one.
    pub image_pull_policy: String,
    /// Value of the version labels (`v<operator version>`).
    pub version: String,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            server_image: "meshglass-server".into(),
            image_pull_policy: "IfNotPresent".into(),
            version: concat!("v", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

/// One object to server-side apply. A handful exist per CR, so variant sizes do not matter.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Child {
    ServiceAccount(ServiceAccount),
    ConfigMap(ConfigMap),
    ClusterRole(ClusterRole),
    ClusterRoleBinding(ClusterRoleBinding),
    Role(Role),
    RoleBinding(RoleBinding),
    Deployment(Deployment),
    Service(Service),
    Secret(Secret),
}

impl Child {
    pub fn kind(&self) -> &'static str {
        match self {
            Child::ServiceAccount(_) => "ServiceAccount",
            Child::ConfigMap(_) => "ConfigMap",
            Child::ClusterRole(_) => "ClusterRole",
            Child::ClusterRoleBinding(_) => "ClusterRoleBinding",
            Child::Role(_) => "Role",
            Child::RoleBinding(_) => "RoleBinding",
            Child::Deployment(_) => "Deployment",
            Child::Service(_) => "Service",
            Child::Secret(_) => "Secret",
        }
    }

    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Child::ServiceAccount(o) => o.meta(),
            Child::ConfigMap(o) => o.meta(),
            Child::ClusterRole(o) => o.meta(),
            Child::ClusterRoleBinding(o) => o.meta(),
            Child::Role(o) => o.meta(),
            Child::RoleBinding(o) => o.meta(),
            Child::Deployment(o) => o.meta(),
            Child::Service(o) => o.meta(),
            Child::Secret(o) => o.meta(),
        }
    }

    /// `Kind namespace/name` (or `Kind name` when cluster-scoped): how tests and logs name it.
    pub fn key(&self) -> String {
        let m = self.meta();
        match &m.namespace {
            Some(ns) => format!(
                "{} {}/{}",
                self.kind(),
                ns,
                m.name.as_deref().unwrap_or_default()
            ),
            None => format!("{} {}", self.kind(), m.name.as_deref().unwrap_or_default()),
        }
    }
}

/// Everything the reconciler needs from the build step.
#[derive(Clone, Debug)]
pub struct Desired {
    pub config: Config,
    pub objects: Vec<Child>,
    /// Candidate remote-cluster secrets and whether each is mounted.
    pub remote_secrets: Vec<RemoteSecretStatus>,
    pub ignored_fields: Vec<String>,
}

impl Desired {
    pub fn instance(&self) -> &str {
        &self.config.deployment.instance_name
    }
    pub fn namespace(&self) -> &str {
        &self.config.deployment.namespace
    }
    pub fn remote_only(&self) -> bool {
        self.config.deployment.remote_cluster_resources_only
    }
}

/// Which Secrets in the deployment namespace are remote-cluster secret candidates for this CR:
/// the autodetect label, every `clustering.clusters[].secret_name`, and `kiali-multi-cluster-secret`.
pub fn is_candidate_secret(cfg: &Config, secret: &Secret) -> bool {
    let name = secret.name_any();
    if name == config::MULTI_CLUSTER_SECRET {
        return true;
    }
    if cfg
        .clustering
        .clusters
        .iter()
        .any(|c| c.secret_name == name)
    {
        return true;
    }
    if cfg.clustering.autodetect_secrets.enabled
        && let Some((k, v)) = names::parse_label_selector(&cfg.clustering.autodetect_secrets.label)
    {
        return secret.labels().get(&k) == Some(&v);
    }
    false
}

/// The pure build step.
pub fn build(
    kiali: &Kiali,
    secrets: &[Secret],
    namespaces: &[Namespace],
    opts: &BuildOptions,
) -> Result<Desired> {
    let cr_ns = kiali
        .namespace()
        .ok_or(Error::Invalid("the Kiali CR has no namespace".into()))?;
    let problems = meshglass_crds::validate(&kiali.spec);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems.join("; ")));
    }
    let cfg = Config::from_spec(&kiali.spec, &cr_ns)?;
    let ctx = Ctx::new(kiali, &cfg, opts, &cr_ns);
    let mut objects = Vec::new();

    objects.push(Child::ServiceAccount(ServiceAccount {
        metadata: ctx.meta(&names::service_account(&ctx.inst), &ctx.ns),
        ..Default::default()
    }));
    objects.extend(ctx.rbac(namespaces)?);

    let mut remote_secrets = Vec::new();
    if cfg.deployment.remote_cluster_resources_only {
        let mut meta = ctx.meta(&names::token_secret(&ctx.inst), &ctx.ns);
        meta.annotations = Some(BTreeMap::from([(
            "kubernetes.io/service-account.name".to_string(),
            names::service_account(&ctx.inst),
        )]));
        objects.push(Child::Secret(Secret {
            metadata: meta,
            type_: Some("kubernetes.io/service-account-token".into()),
            ..Default::default()
        }));
    } else {
        let config_yaml = cfg.to_yaml()?;
        let (mounted, statuses) = select_secrets(&cfg, secrets, &ctx.ns);
        remote_secrets = statuses;
        objects.push(Child::ConfigMap(ConfigMap {
            metadata: ctx.meta(&ctx.inst, &ctx.ns),
            data: Some(BTreeMap::from([(
                config::CONFIG_KEY.to_string(),
                config_yaml.clone(),
            )])),
            ..Default::default()
        }));
        objects.push(Child::Deployment(ctx.deployment(&config_yaml, &mounted)?));
        objects.push(Child::Service(ctx.service()));
    }

    Ok(Desired {
        ignored_fields: accepted::ignored_fields(&kiali.spec),
        config: cfg,
        objects,
        remote_secrets,
    })
}

/// Candidate secrets → (the valid ones to mount, sorted by name; a status line for each candidate).
fn select_secrets<'a>(
    cfg: &Config,
    secrets: &'a [Secret],
    ns: &str,
) -> (Vec<&'a Secret>, Vec<RemoteSecretStatus>) {
    let mut candidates: Vec<&Secret> = secrets
        .iter()
        .filter(|s| s.namespace().as_deref() == Some(ns) && is_candidate_secret(cfg, s))
        .collect();
    candidates.sort_by_key(|s| s.name_any());
    candidates.dedup_by_key(|s| s.name_any());
    let mut mounted = Vec::new();
    let mut statuses = Vec::new();
    for s in candidates {
        match check_remote_secret(s) {
            Ok(clusters) => {
                statuses.push(RemoteSecretStatus {
                    name: s.name_any(),
                    clusters,
                    mounted: true,
                    problem: None,
                });
                mounted.push(s);
            }
            Err(problem) => statuses.push(RemoteSecretStatus {
                name: s.name_any(),
                clusters: Vec::new(),
                mounted: false,
                problem: Some(problem),
            }),
        }
    }
    // A secret named in clustering.clusters that does not exist is reported too.
    for c in &cfg.clustering.clusters {
        if !c.secret_name.is_empty() && !statuses.iter().any(|s| s.name == c.secret_name) {
            statuses.push(RemoteSecretStatus {
                name: c.secret_name.clone(),
                clusters: Vec::new(),
                mounted: false,
                problem: Some(format!(
                    "secret not found (named by clustering.clusters {:?})",
                    c.name
                )),
            });
        }
    }
    (mounted, statuses)
}

/// Kiali's default `deployment.resources` (requests 10m CPU / 64Mi, limit 1Gi memory), used when the CR
/// sets none: the pod always has requests and a memory limit (namespaces with a LimitRange or a
/// ResourceQuota reject pods without them).
pub fn default_resources() -> ResourceRequirements {
    let q = |v: &str| k8s_openapi::apimachinery::pkg::api::resource::Quantity(v.to_string());
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), q("10m")),
            ("memory".to_string(), q("64Mi")),
        ])),
        limits: Some(BTreeMap::from([("memory".to_string(), q("1Gi"))])),
        ..Default::default()
    }
}

/// Hex SHA-256.
pub fn hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The container securityContext of the restricted Pod Security profile, with a read-only root filesystem:
/// the server's container, and the operator's own in the OLM bundle.
pub fn restricted_container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        ..Default::default()
    }
}

/// Read-only access to the kinds the server caches.
pub fn namespaced_read_rules() -> Vec<PolicyRule> {
    let read = || vec!["get".to_string(), "list".to_string(), "watch".to_string()];
    let rule = |group: &str, resources: &[&str]| PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: read(),
        ..Default::default()
    };
    vec![
        rule("", &["namespaces", "pods", "services", "endpoints"]),
        rule(
            "apps",
            &["deployments", "replicasets", "statefulsets", "daemonsets"],
        ),
        rule(
            "networking.istio.io",
            &[
                "destinationrules",
                "gateways",
                "serviceentries",
                "sidecars",
                "virtualservices",
                "workloadentries",
                "workloadgroups",
            ],
        ),
        rule(
            "security.istio.io",
            &[
                "authorizationpolicies",
                "peerauthentications",
                "requestauthentications",
            ],
        ),
    ]
}

/// The server's cluster rules (what the operator grants a cluster-wide server, primary or
/// remote): the read rules of the kinds it caches plus TokenReview/SubjectAccessReview.
pub fn server_rules() -> Vec<PolicyRule> {
    let mut rules = namespaced_read_rules();
    rules.extend(auth_rules());
    rules
}

/// Cluster-scoped checks of a user's identity (TokenReview, SubjectAccessReview).
pub fn auth_rules() -> Vec<PolicyRule> {
    vec![
        PolicyRule {
            api_groups: Some(vec!["authentication.k8s.io".into()]),
            resources: Some(vec!["tokenreviews".into()]),
            verbs: vec!["create".into()],
            ..Default::default()
        },
        PolicyRule {
            api_groups: Some(vec!["authorization.k8s.io".into()]),
            resources: Some(vec!["subjectaccessreviews".into()]),
            verbs: vec!["create".into()],
            ..Default::default()
        },
    ]
}

struct Ctx<'a> {
    kiali: &'a Kiali,
    cfg: &'a Config,
    opts: &'a BuildOptions,
    cr_ns: String,
    inst: String,
    ns: String,
}

impl<'a> Ctx<'a> {
    fn new(kiali: &'a Kiali, cfg: &'a Config, opts: &'a BuildOptions, cr_ns: &str) -> Self {
        Ctx {
            kiali,
            cfg,
            opts,
            cr_ns: cr_ns.to_string(),
            inst: cfg.deployment.instance_name.clone(),
            ns: cfg.deployment.namespace.clone(),
        }
    }

    fn labels(&self) -> BTreeMap<String, String> {
        let mut l = names::labels(&self.inst, &self.opts.version);
        l.insert(names::OWNER_NAMESPACE_LABEL.into(), self.cr_ns.clone());
        l.insert(
            names::OWNER_NAME_LABEL.into(),
            names::owner_label_value(&self.kiali.name_any()),
        );
        l
    }

    /// Metadata of a namespaced child; owner reference only inside the CR's namespace.
    fn meta(&self, name: &str, ns: &str) -> ObjectMeta {
        let owner = (ns == self.cr_ns).then(|| self.owner()).flatten();
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(ns.to_string()),
            labels: Some(self.labels()),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        }
    }

    fn cluster_meta(&self, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(self.labels()),
            ..Default::default()
        }
    }

    fn owner(&self) -> Option<OwnerReference> {
        let uid = self.kiali.uid()?;
        Some(OwnerReference {
            api_version: Kiali::api_version(&()).to_string(),
            kind: Kiali::kind(&()).to_string(),
            name: self.kiali.name_any(),
            uid,
            controller: Some(true),
            block_owner_deletion: None,
        })
    }

    fn subject(&self) -> Vec<Subject> {
        vec![Subject {
            kind: "ServiceAccount".into(),
            name: names::service_account(&self.inst),
            namespace: Some(self.ns.clone()),
            ..Default::default()
        }]
    }

    fn rbac(&self, namespaces: &[Namespace]) -> Result<Vec<Child>> {
        let view_only = self.cfg.deployment.view_only_mode;
        let role_name = names::role(&self.inst, view_only);
        let cluster_role_ref = RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role_name.clone(),
        };
        let mut out = Vec::new();
        let cluster_rules = if self.cfg.deployment.cluster_wide_access {
            server_rules()
        } else {
            auth_rules()
        };
        out.push(Child::ClusterRole(ClusterRole {
            metadata: self.cluster_meta(&role_name),
            rules: Some(cluster_rules),
            ..Default::default()
        }));
        out.push(Child::ClusterRoleBinding(ClusterRoleBinding {
            metadata: self.cluster_meta(&self.inst),
            role_ref: cluster_role_ref,
            subjects: Some(self.subject()),
        }));
        if !self.cfg.deployment.cluster_wide_access {
            for ns in self.selected_namespaces(namespaces)? {
                out.push(Child::Role(Role {
                    metadata: self.meta(&role_name, &ns),
                    rules: Some(namespaced_read_rules()),
                }));
                out.push(Child::RoleBinding(RoleBinding {
                    metadata: self.meta(&self.inst, &ns),
                    role_ref: RoleRef {
                        api_group: "rbac.authorization.k8s.io".into(),
                        kind: "Role".into(),
                        name: role_name.clone(),
                    },
                    subjects: Some(self.subject()),
                }));
            }
        }
        Ok(out)
    }

    /// Namespaces the server may read when cluster-wide access is off: the deployment and Istio
    /// namespaces, `accessible_namespaces` names, and existing namespaces matching
    /// `discovery_selectors.default`.
    fn selected_namespaces(&self, namespaces: &[Namespace]) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::from([self.ns.clone(), self.cfg.istio_namespace.clone()]);
        out.extend(
            self.cfg
                .deployment
                .accessible_namespaces
                .iter()
                .filter(|n| names::is_dns_label(n))
                .cloned(),
        );
        let selectors = self
            .cfg
            .deployment
            .discovery_selectors
            .get("default")
            .cloned()
            .unwrap_or_default();
        if !selectors.is_null() {
            let selectors: Vec<LabelSelector> = serde_json::from_value(selectors).map_err(|e| {
                Error::Invalid(format!("deployment.discovery_selectors.default: {e}"))
            })?;
            for sel in selectors {
                let sel = Selector::try_from(sel).map_err(|e| {
                    Error::Invalid(format!("deployment.discovery_selectors.default: {e}"))
                })?;
                for n in namespaces {
                    if sel.matches(n.labels()) {
                        out.insert(n.name_any());
                    }
                }
            }
        }
        Ok(out)
    }

    fn extra<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.cfg.deployment.extra.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| Error::Invalid(format!("deployment.{key}: {e}"))),
        }
    }

    fn image(&self) -> Result<String> {
        let name: Option<String> = self.extra("image_name")?;
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Ok(self.opts.server_image.clone());
        };
        let digest: Option<String> = self.extra("image_digest")?;
        let version: Option<String> = self.extra("image_version")?;
        Ok(
            match (
                digest.filter(|d| !d.is_empty()),
                version.filter(|v| !v.is_empty() && v != "default"),
            ) {
                (Some(d), _) => format!("{name}@{d}"),
                (None, Some(v)) => format!("{name}:{v}"),
                (None, None) => name,
            },
        )
    }

    fn deployment(&self, config_yaml: &str, secrets: &[&Secret]) -> Result<Deployment> {
        let mut secret_parts: Vec<Vec<u8>> = Vec::new();
        for s in secrets {
            secret_parts.push(s.name_any().into_bytes());
            for (k, v) in s.data.iter().flatten() {
                secret_parts.push(k.clone().into_bytes());
                secret_parts.push(v.0.clone());
            }
        }
        let refs: Vec<&[u8]> = secret_parts.iter().map(|p| p.as_slice()).collect();
        let mut pod_labels = self.labels();
        pod_labels.insert("sidecar.istio.io/inject".into(), "false".into());
        pod_labels.extend(
            self.extra::<BTreeMap<String, String>>("pod_labels")?
                .unwrap_or_default(),
        );
        let mut annotations = self
            .extra::<BTreeMap<String, String>>("pod_annotations")?
            .unwrap_or_default();
        annotations.insert(
            names::CONFIG_HASH_ANNOTATION.into(),
            hash(&[config_yaml.as_bytes()]),
        );
        annotations.insert(names::SECRETS_HASH_ANNOTATION.into(), hash(&refs));

        let mut volumes = vec![
            Volume {
                name: "kiali-configuration".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: self.inst.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: "tmp".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            },
        ];
        let mut mounts = vec![
            VolumeMount {
                name: "kiali-configuration".into(),
                mount_path: config::CONFIG_DIR.into(),
                read_only: Some(true),
                ..Default::default()
            },
            VolumeMount {
                name: "tmp".into(),
                mount_path: "/tmp".into(),
                ..Default::default()
            },
        ];
        for (i, s) in secrets.iter().enumerate() {
            let vol = format!("remote-cluster-secret-{i}");
            volumes.push(Volume {
                name: vol.clone(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(s.name_any()),
                    ..Default::default()
                }),
                ..Default::default()
            });
            mounts.push(VolumeMount {
                name: vol,
                mount_path: format!("{}/{}", config::REMOTE_SECRETS_DIR, s.name_any()),
                read_only: Some(true),
                ..Default::default()
            });
        }

        let web_root = self.cfg.server.web_root.trim_end_matches('/');
        let probe = || Probe {
            http_get: Some(HTTPGetAction {
                path: Some(format!("{web_root}/healthz")),
                port: IntOrString::String("api-port".into()),
                ..Default::default()
            }),
            initial_delay_seconds: Some(5),
            period_seconds: Some(30),
            ..Default::default()
        };
        let pull_policy = self
            .cfg
            .deployment
            .extra
            .get("image_pull_policy")
            .and_then(|v| v.as_str())
            .unwrap_or(&self.opts.image_pull_policy)
            .to_string();
        let container = Container {
            name: "kiali".into(),
            image: Some(self.image()?),
            image_pull_policy: Some(pull_policy),
            args: Some(vec!["--config".into(), config::CONFIG_FILE.into()]),
            ports: Some(vec![
                ContainerPort {
                    name: Some("api-port".into()),
                    container_port: i32::from(self.cfg.server.port),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                },
                ContainerPort {
                    name: Some("http-metrics".into()),
                    container_port: i32::from(self.cfg.server.observability.metrics.port),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                },
            ]),
            readiness_probe: Some(probe()),
            liveness_probe: Some(probe()),
            security_context: Some(restricted_container_security_context()),
            resources: Some(
                self.extra::<ResourceRequirements>("resources")?
                    .unwrap_or_else(default_resources),
            ),
            volume_mounts: Some(mounts),
            ..Default::default()
        };
        let pull_secrets = self
            .extra::<Vec<String>>("image_pull_secrets")?
            .unwrap_or_default();
        let pod = PodSpec {
            service_account_name: Some(names::service_account(&self.inst)),
            automount_service_account_token: Some(true),
            containers: vec![container],
            volumes: Some(volumes),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(1000),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            image_pull_secrets: (!pull_secrets.is_empty()).then(|| {
                pull_secrets
                    .into_iter()
                    .map(|name| LocalObjectReference { name })
                    .collect()
            }),
            node_selector: self.extra("node_selector")?,
            tolerations: self.extra::<Vec<Toleration>>("tolerations")?,
            affinity: self.extra::<Affinity>("affinity")?,
            priority_class_name: self
                .extra::<String>("priority_class_name")?
                .filter(|p| !p.is_empty()),
            ..Default::default()
        };
        Ok(Deployment {
            metadata: self.meta(&self.inst, &self.ns),
            spec: Some(DeploymentSpec {
                replicas: Some(self.extra::<i32>("replicas")?.unwrap_or(1)),
                selector: LabelSelector {
                    match_labels: Some(names::selector(&self.inst)),
                    ..Default::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(pod_labels),
                        annotations: Some(annotations),
                        ..Default::default()
                    }),
                    spec: Some(pod),
                },
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    fn service(&self) -> Service {
        let mut meta = self.meta(&self.inst, &self.ns);
        let ann: BTreeMap<String, String> = self
            .cfg
            .deployment
            .extra
            .get("service_annotations")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        if !ann.is_empty() {
            meta.annotations = Some(ann);
        }
        let service_type = self
            .cfg
            .deployment
            .extra
            .get("service_type")
            .and_then(|v| v.as_str())
            .unwrap_or("ClusterIP")
            .to_string();
        Service {
            metadata: meta,
            spec: Some(ServiceSpec {
                type_: Some(service_type),
                selector: Some(names::selector(&self.inst)),
                ports: Some(vec![
                    ServicePort {
                        name: Some("http".into()),
                        port: i32::from(self.cfg.server.port),
                        target_port: Some(IntOrString::String("api-port".into())),
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    },
                    ServicePort {
                        name: Some("http-metrics".into()),
                        port: i32::from(self.cfg.server.observability.metrics.port),
                        target_port: Some(IntOrString::String("http-metrics".into())),
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// Secret data as `ByteString`s (test fixtures and the e2e tests build secrets this way).
pub fn secret_data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
        .collect()
}

#[cfg(test)]
mod tests {
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
        assert_eq!(
            d.ignored_fields,
            vec!["external_services.prometheus.thanos_proxy"]
        );
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

        // Read-only, and never Secrets.
        for rule in cluster_role(&d).rules.as_ref().unwrap() {
            let res = rule.resources.as_ref().unwrap();
            assert!(!res.iter().any(|r| r == "secrets"));
            let review = res.iter().all(|r| r.ends_with("reviews"));
            let allowed: &[&str] = if review {
                &["create"]
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
        let d = build(&k, &[], &[], &BuildOptions::default()).unwrap();
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
        assert_eq!(d.ignored_fields, vec!["auth.openshift"]);
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
        let d = build(&k, &[], &[], &BuildOptions::default()).unwrap();
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
        assert!(mounts.contains(
            &"/kiali-remote-cluster-secrets/kiali-remote-cluster-secret-west".to_string()
        ));
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
}
