//! The pure build stage: a validated Kiali CR plus what was observed (candidate secrets, namespaces) →
//! the exact list of objects that must exist. No I/O here; the reconciler applies the result and prunes
//! the rest. [`rbac`] holds the server's roles and bindings, [`workload`] its Deployment and Service.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::DynamicObject;
use kube::{Resource, ResourceExt};
use meshglass_crds::config::{self, Config};
use meshglass_crds::names;
use meshglass_crds::status::RemoteSecretStatus;
use meshglass_crds::{Kiali, accepted};
use sha2::{Digest, Sha256};

use crate::reconcile::validate::{SecretScope, Tenancy, Validated, validate};
use crate::secrets::check_remote_secret;

mod credentials;
mod expose;
mod oauth;
mod rbac;
mod workload;

pub use expose::route_resource;
pub use oauth::{NO_REDIRECT_URIS, oauth_client_resource};

pub use rbac::{
    READ_KINDS, auth_rules, istio_write_rules, log_rules, namespaced_read_rules, rules_for,
    server_rules,
};
pub use workload::{default_resources, restricted_container_security_context};

/// Why the desired objects cannot be built from a validated CR.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A free-form field (`deployment.tolerations`, …) that does not fit its Kubernetes type.
    #[error("invalid Kiali CR: {field}: {cause}")]
    Field { field: String, cause: String },
    /// The effective config cannot be written as the server's `config.yaml`.
    #[error(transparent)]
    Render(#[from] meshglass_crds::Error),
}

impl Error {
    pub fn category(&self) -> &'static str {
        match self {
            Error::Field { .. } => "invalid_spec",
            Error::Render(e) => e.category(),
        }
    }

    fn field(field: impl Into<String>, cause: impl std::fmt::Display) -> Error {
        Error::Field {
            field: field.into(),
            cause: cause.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Settings of the operator process that shape every instance.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Image of the server when the CR does not name one.
    pub server_image: String,
    /// Pull policy when the CR does not set one.
    pub image_pull_policy: String,
    /// Value of the version labels (`v<operator version>`).
    pub version: String,
    /// What CR authors may ask beyond their own namespace and the default image (checked by validation).
    pub tenancy: Tenancy,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            server_image: "meshglass-server".into(),
            image_pull_policy: "IfNotPresent".into(),
            version: concat!("v", env!("CARGO_PKG_VERSION")).into(),
            tenancy: Tenancy::default(),
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
    Ingress(Ingress),
    /// `route.openshift.io/v1` Route (no typed struct: the API exists only on OpenShift).
    Route(DynamicObject),
    /// `oauth.openshift.io/v1` OAuthClient (cluster-scoped; the API exists only on OpenShift).
    OAuthClient(DynamicObject),
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
            Child::Ingress(_) => "Ingress",
            Child::Route(_) => "Route",
            Child::OAuthClient(_) => "OAuthClient",
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
            Child::Ingress(o) => o.meta(),
            Child::Route(o) => o.meta(),
            Child::OAuthClient(o) => o.meta(),
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
    SecretScope::of(cfg).matches(secret)
}

/// What the cluster's API offers that the build may use (observed once per reconcile).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Platform {
    /// The `route.openshift.io` API exists (OpenShift): the server is exposed by a Route.
    pub routes: bool,
    /// The `oauth.openshift.io` API exists (OpenShift): the `openshift` strategy's OAuthClient.
    pub oauth_clients: bool,
}

/// Validate and build in one call, for callers that hold a CR and what was observed (tests, charts),
/// on a cluster without OpenShift's APIs.
pub fn build(
    kiali: &Kiali,
    secrets: &[Secret],
    namespaces: &[Namespace],
    opts: &BuildOptions,
) -> crate::Result<Desired> {
    build_on(kiali, secrets, namespaces, Platform::default(), opts)
}

/// [`build`] on a given platform.
pub fn build_on(
    kiali: &Kiali,
    secrets: &[Secret],
    namespaces: &[Namespace],
    platform: Platform,
    opts: &BuildOptions,
) -> crate::Result<Desired> {
    let validated = validate(kiali, &opts.tenancy)?;
    Ok(desired(&validated, secrets, namespaces, platform, opts)?)
}

/// The pure build stage: a validated CR plus the observed secrets, namespaces and platform → the
/// desired objects.
pub fn desired(
    validated: &Validated<'_>,
    secrets: &[Secret],
    namespaces: &[Namespace],
    platform: Platform,
    opts: &BuildOptions,
) -> Result<Desired> {
    // Inline credentials leave the config for a Secret before anything renders it.
    let mut owned = validated.config.clone();
    let creds = credentials::extract(&mut owned);
    let cfg = &owned;
    let ctx = Ctx::new(validated.kiali, cfg, opts, &validated.cr_namespace);
    let mut objects = Vec::new();

    objects.push(Child::ServiceAccount(ServiceAccount {
        metadata: ctx.meta(&names::service_account(&ctx.inst), &ctx.ns),
        ..Default::default()
    }));
    objects.extend(ctx.rbac(namespaces)?);
    objects.extend(ctx.oauth_client(platform.oauth_clients)?);

    let mut remote_secrets = Vec::new();
    // No secret scope means remote-only mode: credentials for the primary, no server.
    match &validated.secrets {
        None => {
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
        }
        Some(scope) => {
            let config_yaml = cfg.to_yaml()?;
            // The signing key comes in with the observed Secrets; it is never a remote cluster's.
            let key_name = names::signing_key_secret(&ctx.inst);
            let is_key = |s: &Secret| {
                s.metadata.name.as_deref() == Some(key_name.as_str())
                    && s.metadata.namespace.as_deref().is_none_or(|n| n == ctx.ns)
            };
            let signing_key = secrets.iter().find(|s| is_key(s));
            let others: Vec<Secret> = secrets.iter().filter(|s| !is_key(s)).cloned().collect();
            let (mounted, statuses) = select_secrets(cfg, scope, &others);
            remote_secrets = statuses;
            objects.push(Child::ConfigMap(ConfigMap {
                metadata: ctx.meta(&ctx.inst, &ctx.ns),
                data: Some(BTreeMap::from([(
                    config::CONFIG_KEY.to_string(),
                    config_yaml.clone(),
                )])),
                ..Default::default()
            }));
            if !creds.inline.is_empty() {
                objects.push(Child::Secret(Secret {
                    metadata: ctx.meta(&credentials::secret_name(&ctx.inst), &ctx.ns),
                    type_: Some("Opaque".into()),
                    data: Some(creds.inline.clone()),
                    ..Default::default()
                }));
            }
            objects.push(Child::Deployment(ctx.deployment(
                &config_yaml,
                &mounted,
                &creds,
                signing_key,
            )?));
            objects.push(Child::Service(ctx.service()));
            objects.extend(ctx.exposure(platform.routes)?);
        }
    }

    Ok(Desired {
        ignored_fields: accepted::ignored_fields(&validated.kiali.spec),
        config: cfg.clone(),
        objects,
        remote_secrets,
    })
}

/// Candidate secrets → (the valid ones to mount, sorted by name; a status line for each candidate).
fn select_secrets<'a>(
    cfg: &Config,
    scope: &SecretScope,
    secrets: &'a [Secret],
) -> (Vec<&'a Secret>, Vec<RemoteSecretStatus>) {
    let mut candidates: Vec<&Secret> = secrets
        .iter()
        .filter(|s| s.namespace().as_deref() == Some(scope.namespace.as_str()) && scope.matches(*s))
        .collect();
    candidates.sort_by_key(|s| s.name_any());
    candidates.dedup_by_key(|s| s.name_any());
    let mut mounted = Vec::new();
    let mut statuses = Vec::new();
    for s in candidates {
        match check_remote_secret(s, cfg.clustering.enable_exec_provider) {
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

/// Hex SHA-256.
pub fn hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
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
}

/// Secret data as `ByteString`s (test fixtures and the e2e tests build secrets this way).
pub fn secret_data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
        .collect()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
