//! The validate stage (pure): a Kiali CR → [`Validated`], which holds the one `Config::from_spec` result of
//! this reconcile and what the later stages derive from it. Nothing after this stage reads the raw spec
//! for a setting that has a default.

use kube::{Resource, ResourceExt};
use meshglass_crds::Kiali;
use meshglass_crds::config::{self, Config};
use meshglass_crds::names;
use meshglass_crds::spec::AuthStrategy;
use meshglass_crds::status::DeploymentStatus;

/// Why a CR cannot be reconciled as written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid Kiali CR: {0}")]
    Invalid(String),
    #[error(transparent)]
    Crds(#[from] meshglass_crds::Error),
    /// The CR asks for more than the operator's tenancy settings allow ([`Tenancy`]).
    #[error("refused by the operator's tenancy settings: {0}")]
    Refused(String),
}

impl Error {
    pub fn category(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid_spec",
            Error::Refused(_) => "refused",
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
    /// The sessions' signing-key Secret: not a candidate, but its change (a rotated key) rolls the server.
    pub signing_key: String,
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
            signing_key: names::signing_key_secret(cfg.instance()),
        }
    }

    /// Whether `secret` is a candidate by name or label (its namespace is the caller's to check).
    pub fn matches<S: Resource>(&self, secret: &S) -> bool {
        let name = secret.name_any();
        if self.names.contains(&name) {
            return true;
        }
        self.label
            .as_ref()
            .is_some_and(|(k, v)| secret.labels().get(k) == Some(v))
    }
}

/// What a CR author may ask of the operator beyond its own namespace and the default image: the allow
/// switches of the operator process (flags/env, Helm values, OLM CSV env). Everything is refused by default,
/// so that creating a Kiali CR grants nothing the namespace's editors do not already have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tenancy {
    /// `ALLOW_AD_HOC_KIALI_NAMESPACE` (Kiali's name): `deployment.namespace` may differ from the CR's namespace.
    pub allow_ad_hoc_namespace: bool,
    /// `ALLOW_AD_HOC_KIALI_IMAGE` (Kiali's name): `deployment.image_name`/`image_version`/`image_digest`
    /// may override the default server image.
    pub allow_ad_hoc_image: bool,
    /// `ALLOW_REMOTE_CLUSTER_RESOURCES` (meshglass): `deployment.remote_cluster_resources_only` may mint a
    /// non-expiring ServiceAccount token with cluster-wide read, for a Kiali on another cluster.
    pub allow_remote_cluster_resources: bool,
}

impl Tenancy {
    /// Every switch on (tests and the demo, whose CRs legitimately use remote mode or another namespace).
    pub fn allow_all() -> Tenancy {
        Tenancy {
            allow_ad_hoc_namespace: true,
            allow_ad_hoc_image: true,
            allow_remote_cluster_resources: true,
        }
    }

    /// The first thing `cfg` (of a CR in `cr_namespace`) asks that these settings do not allow, as a sentence
    /// naming the field, its value and the switch that would allow it.
    pub fn refusal(&self, cfg: &Config, cr_namespace: &str) -> Option<String> {
        let d = &cfg.deployment;
        if !self.allow_ad_hoc_namespace && d.namespace != cr_namespace {
            return Some(format!(
                "deployment.namespace {:?} differs from the CR's namespace {cr_namespace:?}; a Kiali CR deploys only \
                 into its own namespace unless the operator runs with ALLOW_AD_HOC_KIALI_NAMESPACE=true",
                d.namespace
            ));
        }
        if !self.allow_ad_hoc_image {
            for key in IMAGE_FIELDS {
                if let Some(value) = image_override(cfg, key) {
                    return Some(format!(
                        "deployment.{key} {value} overrides the default server image; only the default image is \
                         deployed unless the operator runs with ALLOW_AD_HOC_KIALI_IMAGE=true"
                    ));
                }
            }
        }
        if !self.allow_remote_cluster_resources && d.remote_cluster_resources_only {
            return Some(
                "deployment.remote_cluster_resources_only true would mint a non-expiring token with cluster-wide \
                 read; refused unless the operator runs with ALLOW_REMOTE_CLUSTER_RESOURCES=true"
                    .into(),
            );
        }
        None
    }
}

/// The CR fields that pick the server's image.
pub const IMAGE_FIELDS: [&str; 3] = ["image_name", "image_version", "image_digest"];

/// `deployment.<key>` as written when it names an image other than the default: any value but null, "" and
/// (for `image_version`) Kiali's `default`.
fn image_override(cfg: &Config, key: &str) -> Option<String> {
    let value = cfg.deployment.extra.get(key)?;
    let unset = match value {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty() || (key == "image_version" && s == "default"),
        _ => false,
    };
    (!unset).then(|| value.to_string().chars().take(200).collect())
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

/// The validate stage: the spec's own rules, then the effective configuration (computed once), then what the
/// operator's [`Tenancy`] allows.
pub fn validate<'a>(kiali: &'a Kiali, tenancy: &Tenancy) -> Result<Validated<'a>, Error> {
    let cr_namespace = namespace_of(kiali)?;
    let problems = meshglass_crds::validate(&kiali.spec);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems.join("; ")));
    }
    let config = Config::from_spec(&kiali.spec, &cr_namespace)?;
    if let Some(was) = kiali.status.as_ref().and_then(|s| s.deployment.as_ref()) {
        unchanged(was, &config)?;
    }
    if let Some(refusal) = tenancy.refusal(&config, &cr_namespace) {
        return Err(Error::Refused(refusal));
    }
    if !config.deployment.remote_cluster_resources_only {
        check_strategy(&config)?;
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

/// A server whose strategy's settings it cannot use exits at start, so such a CR must not read
/// Successful. Remote-only CRs run no server (the seed's remote CR carries `auth.openshift` for
/// the OAuthClient only). `openid` needs `auth.openid` the server can use, `openshift` an
/// `auth.openshift` it can read.
fn check_strategy(config: &Config) -> Result<(), Error> {
    match config.auth_strategy() {
        Some(AuthStrategy::Anonymous | AuthStrategy::Token | AuthStrategy::Header) => Ok(()),
        Some(AuthStrategy::Openid) => {
            meshglass_crds::openid::OpenIdConfig::from_value(&config.auth.openid)
                .map(|_| ())
                .map_err(|e| Error::Invalid(e.to_string()))
        }
        Some(AuthStrategy::Openshift) => {
            meshglass_crds::openshift::OpenShiftConfig::from_value(&config.auth.openshift)
                .map(|_| ())
                .map_err(|e| Error::Invalid(e.to_string()))
        }
        _ => Err(Error::Invalid(format!(
            "auth.strategy {:?} is not supported (supported: anonymous, token, header, openid, openshift)",
            config.auth.strategy
        ))),
    }
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
        let v = validate(&k, &Tenancy::allow_all()).unwrap();
        let scope = v.secrets.expect("primary mode");
        assert_eq!(scope.namespace, "kiali-ns");
        assert_eq!(scope.names, ["west-creds", config::MULTI_CLUSTER_SECRET]);
        assert!(scope.matches(&secret("west-creds", &[])));
        assert!(scope.matches(&secret("any", &[("kiali.io/multiCluster", "true")])));
        assert!(!scope.matches(&secret("any", &[("kiali.io/multiCluster", "false")])));

        let off =
            kiali(serde_json::json!({"clustering": {"autodetect_secrets": {"enabled": false}}}));
        let scope = validate(&off, &Tenancy::default())
            .unwrap()
            .secrets
            .unwrap();
        assert_eq!(scope.label, None);
        assert!(!scope.matches(&secret("any", &[("kiali.io/multiCluster", "true")])));
    }

    #[test]
    fn remote_mode_observes_no_secrets_and_bad_specs_fail_validation() {
        let remote =
            kiali(serde_json::json!({"deployment": {"remote_cluster_resources_only": true}}));
        assert!(
            validate(&remote, &Tenancy::allow_all())
                .unwrap()
                .secrets
                .is_none()
        );
        let bad = kiali(serde_json::json!({"deployment": {"instance_name": "Not Valid"}}));
        assert_eq!(
            validate(&bad, &Tenancy::allow_all())
                .unwrap_err()
                .category(),
            "invalid_spec"
        );
    }

    #[test]
    fn tenancy_refuses_another_namespace_another_image_and_remote_tokens_by_default() {
        let strict = Tenancy::default();
        let refused = |spec: serde_json::Value| match validate(&kiali(spec), &strict) {
            Err(Error::Refused(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        };
        let m = refused(serde_json::json!({"deployment": {"namespace": "kube-system"}}));
        assert!(
            m.contains("deployment.namespace \"kube-system\"")
                && m.contains("ALLOW_AD_HOC_KIALI_NAMESPACE"),
            "{m}"
        );
        for key in IMAGE_FIELDS {
            let m = refused(serde_json::json!({"deployment": {key: "evil"}}));
            assert!(
                m.contains(&format!("deployment.{key} \"evil\""))
                    && m.contains("ALLOW_AD_HOC_KIALI_IMAGE"),
                "{m}"
            );
        }
        let m = refused(serde_json::json!({"deployment": {"remote_cluster_resources_only": true}}));
        assert!(m.contains("ALLOW_REMOTE_CLUSTER_RESOURCES"), "{m}");
        assert_eq!(
            validate(
                &kiali(serde_json::json!({"deployment": {"namespace": "kube-system"}})),
                &strict
            )
            .unwrap_err()
            .category(),
            "refused"
        );

        // What stays allowed: the own namespace, the default image spelled as unset, and each switch.
        for ok in [
            serde_json::json!({"deployment": {"namespace": "istio-system"}}),
            serde_json::json!({"deployment": {"image_name": "", "image_version": "default", "image_digest": null}}),
        ] {
            validate(&kiali(ok), &strict).expect("allowed");
        }
        let each = [
            (
                serde_json::json!({"deployment": {"namespace": "kube-system"}}),
                Tenancy {
                    allow_ad_hoc_namespace: true,
                    ..strict.clone()
                },
            ),
            (
                serde_json::json!({"deployment": {"image_name": "x"}}),
                Tenancy {
                    allow_ad_hoc_image: true,
                    ..strict.clone()
                },
            ),
            (
                serde_json::json!({"deployment": {"remote_cluster_resources_only": true}}),
                Tenancy {
                    allow_remote_cluster_resources: true,
                    ..strict.clone()
                },
            ),
        ];
        for (spec, tenancy) in each {
            validate(&kiali(spec), &tenancy).expect("allowed by its switch");
        }
    }

    #[test]
    fn strategy_settings_the_server_cannot_use_fail_on_a_primary_only() {
        // openshift: accepted; an auth.openshift the server cannot read names the key.
        let bad = serde_json::json!({"strategy": "openshift", "openshift": {"token_max_age": -5}});
        let k = kiali(serde_json::json!({ "auth": bad }));
        let err = validate(&k, &Tenancy::allow_all()).unwrap_err().to_string();
        assert!(err.contains("auth.openshift.token_max_age"), "{err}");
        let remote = kiali(
            serde_json::json!({"auth": {"strategy": "openid"}, "deployment": {"remote_cluster_resources_only": true}}),
        );
        assert!(validate(&remote, &Tenancy::allow_all()).is_ok());
        for strategy in ["", "anonymous", "token", "header", "openshift"] {
            let k = kiali(serde_json::json!({"auth": {"strategy": strategy}}));
            assert!(validate(&k, &Tenancy::allow_all()).is_ok(), "{strategy}");
        }
        // openid: accepted with a usable auth.openid; a missing client id names the key.
        let ok = kiali(serde_json::json!({"auth": {"strategy": "openid",
            "openid": {"client_id": "kiali", "issuer_uri": "https://idp.example"}}}));
        assert!(validate(&ok, &Tenancy::allow_all()).is_ok());
        let bad = kiali(serde_json::json!({"auth": {"strategy": "openid",
            "openid": {"issuer_uri": "https://idp.example"}}}));
        let err = validate(&bad, &Tenancy::allow_all())
            .unwrap_err()
            .to_string();
        assert!(err.contains("auth.openid.client_id"), "{err}");
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
            assert!(
                validate(&reconciled(kiali(spec.clone())), &Tenancy::allow_all()).is_ok(),
                "{spec}"
            );
        }
        // "" → another namespace passes CEL (it cannot see metadata.namespace); refused here.
        let moved = reconciled(kiali(
            serde_json::json!({"deployment": {"namespace": "elsewhere"}}),
        ));
        let err = validate(&moved, &Tenancy::allow_all())
            .unwrap_err()
            .to_string();
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
            validate(&remote, &Tenancy::allow_all())
                .unwrap_err()
                .to_string()
                .contains("remote_cluster_resources_only")
        );
        // Never reconciled: nothing to compare with.
        assert!(
            validate(
                &kiali(serde_json::json!({"deployment": {"namespace": "elsewhere"}})),
                &Tenancy::allow_all()
            )
            .is_ok()
        );
    }
}
