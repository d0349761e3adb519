//! The validate stage (pure): a Kiali CR → [`Validated`], which holds the one `Config::from_spec` result of
//! this reconcile and what the later stages derive from it. Nothing after this stage reads the raw spec
//! for a setting that has a default.

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use meshglass_crds::Kiali;
use meshglass_crds::config::{self, Config};
use meshglass_crds::names;
use meshglass_crds::status::DeploymentStatus;

/// Why a CR cannot be reconciled as written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid Kiali CR: {0}")]
    Invalid(String),
    #[error(transparent)]
    Crds(#[from] meshglass_crds::Error),
}

impl Error {
    pub fn category(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid_spec",
            Error::Crds(e) => e.category(),
        }
    }
}

/// A CR that passed validation, with its effective configuration.
#[derive(Clone, Debug)]
pub struct Validated<'a> {
    pub kiali: &'a Kiali,
    /// The CR's own namespace (owner labels, owner references).
    pub cr_namespace: String,
    /// The effective configuration: the spec with every default filled in.
    pub config: Config,
    /// Which Secrets are remote-cluster secret candidates; `None` in remote-only mode (nothing is mounted).
    pub secrets: Option<SecretScope>,
}

/// The Secrets a primary-mode CR mounts or would mount: in the deployment namespace, named by
/// `clustering.clusters[].secret_name` or `kiali-multi-cluster-secret`, or carrying the autodetect label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretScope {
    pub namespace: String,
    /// The autodetect label as `(key, value)`, when autodetection is on and the label parses.
    pub label: Option<(String, String)>,
    /// Secrets named explicitly, in the order they are looked up.
    pub names: Vec<String>,
}

impl SecretScope {
    pub fn of(cfg: &Config) -> SecretScope {
        let autodetect = &cfg.clustering.autodetect_secrets;
        SecretScope {
            namespace: cfg.deployment.namespace.clone(),
            label: autodetect
                .enabled
                .then(|| names::parse_label_selector(&autodetect.label))
                .flatten(),
            names: cfg
                .clustering
                .clusters
                .iter()
                .map(|c| c.secret_name.clone())
                .filter(|n| !n.is_empty())
                .chain([config::MULTI_CLUSTER_SECRET.to_string()])
                .collect(),
        }
    }

    /// Whether `secret` is a candidate by name or label (its namespace is the caller's to check).
    pub fn matches(&self, secret: &Secret) -> bool {
        let name = secret.name_any();
        if self.names.contains(&name) {
            return true;
        }
        self.label
            .as_ref()
            .is_some_and(|(k, v)| secret.labels().get(k) == Some(v))
    }
}

/// The CR's namespace: a Kiali CR is namespaced, so its absence is an invalid object.
pub fn namespace_of(kiali: &Kiali) -> Result<String, Error> {
    kiali
        .namespace()
        .ok_or_else(|| Error::Invalid("the Kiali CR has no namespace".into()))
}

/// Immutability means "may not change": the effective instance name, namespace and mode must be
/// those the CR was reconciled with (`status.deployment`). Writing the value a field already has
/// (for example the CR's own namespace where it was unset) is no change. The CRD's CEL rules
/// refuse most changes already; this catches what CEL cannot see (`""` = the CR's namespace).
fn unchanged(was: &DeploymentStatus, config: &Config) -> Result<(), Error> {
    let d = &config.deployment;
    let changed = |field: &str, from: &str, to: &str| {
        Error::Invalid(format!(
            "{field} may not change: this CR was reconciled with {from:?} \
             (status.deployment), the spec now gives {to:?}; set it back, or delete and \
             recreate the Kiali CR to change it"
        ))
    };
    if d.namespace != was.namespace {
        return Err(changed(
            "deployment.namespace",
            &was.namespace,
            &d.namespace,
        ));
    }
    if d.instance_name != was.instance_name {
        return Err(changed(
            "deployment.instance_name",
            &was.instance_name,
            &d.instance_name,
        ));
    }
    if d.remote_cluster_resources_only != was.remote_cluster_resources_only {
        return Err(changed(
            "deployment.remote_cluster_resources_only",
            &was.remote_cluster_resources_only.to_string(),
            &d.remote_cluster_resources_only.to_string(),
        ));
    }
    Ok(())
}

/// The validate stage: the spec's own rules, then the effective configuration (computed once).
pub fn validate(kiali: &Kiali) -> Result<Validated<'_>, Error> {
    let cr_namespace = namespace_of(kiali)?;
    let problems = meshglass_crds::validate(&kiali.spec);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems.join("; ")));
    }
    let config = Config::from_spec(&kiali.spec, &cr_namespace)?;
    if let Some(was) = kiali.status.as_ref().and_then(|s| s.deployment.as_ref()) {
        unchanged(was, &config)?;
    }
    let secrets =
        (!config.deployment.remote_cluster_resources_only).then(|| SecretScope::of(&config));
    Ok(Validated {
        kiali,
        cr_namespace,
        config,
        secrets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Secret;
    use meshglass_crds::KialiSpec;

    fn kiali(spec: serde_json::Value) -> Kiali {
        let spec: KialiSpec = serde_json::from_value(spec).unwrap();
        let mut k = Kiali::new("kiali", spec);
        k.metadata.namespace = Some("istio-system".into());
        k
    }

    fn secret(name: &str, labels: &[(&str, &str)]) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = Some(name.into());
        s.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        s
    }

    #[test]
    fn the_secret_scope_is_derived_once_from_the_effective_config() {
        let k = kiali(serde_json::json!({
            "deployment": {"namespace": "kiali-ns"},
            "clustering": {"clusters": [{"name": "west", "secret_name": "west-creds"}]},
        }));
        let v = validate(&k).unwrap();
        let scope = v.secrets.expect("primary mode");
        assert_eq!(scope.namespace, "kiali-ns");
        assert_eq!(scope.names, ["west-creds", config::MULTI_CLUSTER_SECRET]);
        assert!(scope.matches(&secret("west-creds", &[])));
        assert!(scope.matches(&secret("any", &[("kiali.io/multiCluster", "true")])));
        assert!(!scope.matches(&secret("any", &[("kiali.io/multiCluster", "false")])));

        let off =
            kiali(serde_json::json!({"clustering": {"autodetect_secrets": {"enabled": false}}}));
        let scope = validate(&off).unwrap().secrets.unwrap();
        assert_eq!(scope.label, None);
        assert!(!scope.matches(&secret("any", &[("kiali.io/multiCluster", "true")])));
    }

    #[test]
    fn remote_mode_observes_no_secrets_and_bad_specs_fail_validation() {
        let remote =
            kiali(serde_json::json!({"deployment": {"remote_cluster_resources_only": true}}));
        assert!(validate(&remote).unwrap().secrets.is_none());
        let bad = kiali(serde_json::json!({"deployment": {"instance_name": "Not Valid"}}));
        assert_eq!(validate(&bad).unwrap_err().category(), "invalid_spec");
    }

    // Issue 22, point 6: immutability is "may not change", judged on the effective values.
    #[test]
    fn writing_the_value_a_field_already_has_is_no_change() {
        let reconciled = |mut k: Kiali| {
            k.status = Some(meshglass_crds::KialiStatus {
                deployment: Some(DeploymentStatus {
                    instance_name: "kiali".into(),
                    namespace: "istio-system".into(),
                    remote_cluster_resources_only: false,
                }),
                ..Default::default()
            });
            k
        };
        // Unset, then the CR's own namespace written out: the same effective value.
        for spec in [
            serde_json::json!({}),
            serde_json::json!({"deployment": {"namespace": "istio-system", "instance_name": "kiali"}}),
            serde_json::json!({"deployment": {"namespace": ""}}),
        ] {
            assert!(validate(&reconciled(kiali(spec.clone()))).is_ok(), "{spec}");
        }
        // "" → another namespace passes CEL (it cannot see metadata.namespace); refused here.
        let moved = reconciled(kiali(
            serde_json::json!({"deployment": {"namespace": "elsewhere"}}),
        ));
        let err = validate(&moved).unwrap_err().to_string();
        assert!(
            err.contains("deployment.namespace may not change")
                && err.contains("\"istio-system\"")
                && err.contains("\"elsewhere\""),
            "{err}"
        );
        let remote = reconciled(kiali(
            serde_json::json!({"deployment": {"remote_cluster_resources_only": true}}),
        ));
        assert!(
            validate(&remote)
                .unwrap_err()
                .to_string()
                .contains("remote_cluster_resources_only")
        );
        // Never reconciled: nothing to compare with.
        assert!(
            validate(&kiali(
                serde_json::json!({"deployment": {"namespace": "elsewhere"}})
            ))
            .is_ok()
        );
    }
}
