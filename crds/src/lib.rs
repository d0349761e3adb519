//! The `kiali.io/v1alpha1` `Kiali` custom resource shared by the operator and the server.
//!
//! - [`spec`]: the CR as users write it (Kiali's keys, enums and limits, CEL immutability rules);
//! - [`status`]: conditions and the status fields GitOps tools read;
//! - [`config`]: the effective server configuration (`config.yaml`) built from a spec;
//! - [`names`]: object names and labels derived from a CR;
//! - [`kubeconfig`]: the allow-list remote-cluster kubeconfigs pass (operator and server);
//! - [`openid`]: the `auth.openid` provider settings, per cluster;
//! - [`openshift`]: the `auth.openshift` settings and the OAuthClient and callback names;
//! - [`tracing`]: `external_services.tracing`, the tracing store;
//! - [`kiali_internal`]: `kiali_internal.graph_cache` and `health_cache`, the server's view caches;
//! - [`feature_flags`]: `kiali_feature_flags.validations` (ignored codes, wildcard Gateway hosts);
//! - [`accepted`]: which spec fields this version acts on, and which it only accepts.

pub mod accepted;
pub mod config;
pub mod feature_flags;
pub mod kiali_internal;
pub mod kubeconfig;
pub mod names;
pub mod openid;
pub mod openshift;
pub mod schema;
pub mod service_auth;
pub mod spec;
pub mod status;
pub mod tracing;

pub use config::Config;
pub use spec::{Kiali, KialiSpec};
pub use status::KialiStatus;

use kube::CustomResourceExt;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec cannot be turned into a configuration (a value of the wrong type, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A spec value the schema could not check (the CRD in the cluster may be older).
    #[error("invalid spec: {0}")]
    Invalid(String),
    #[error("cannot render the CRD: {0}")]
    Render(String),
}

impl Error {
    /// Fixed label for metrics and Events.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::Invalid(_) => "invalid_spec",
            Error::Render(_) => "render",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The CRD as YAML, exactly what `meshglass-operator crd` prints and `crds/kiali.io_kialis.yaml` holds.
pub fn crd_yaml() -> Result<String> {
    serde_yaml_ng::to_string(&Kiali::crd()).map_err(|e| Error::Render(e.to_string()))
}

/// Checks the spec beyond what the schema enforces (the CRD in a cluster may be older than the
/// operator) and returns every problem found, in field order.
pub fn validate(spec: &KialiSpec) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(d) = &spec.deployment {
        if let Some(name) = d.instance_name.as_deref().filter(|n| !n.is_empty())
            && (!names::is_dns_label(name) || name.len() > 40)
        {
            problems.push(format!(
                    "deployment.instance_name {name:?} must be a DNS label (lowercase letters, digits, '-') of at most 40 characters"
                ));
        }
        if let Some(ns) = d.namespace.as_deref().filter(|n| !n.is_empty())
            && !names::is_dns_label(ns)
        {
            problems.push(format!(
                "deployment.namespace {ns:?} is not a valid namespace name"
            ));
        }
    }
    if let Some(clusters) = spec.clustering.as_ref().and_then(|c| c.clusters.as_ref()) {
        for (i, c) in clusters.iter().enumerate() {
            if c.name.is_empty() {
                problems.push(format!("clustering.clusters[{i}].name is required"));
            }
            if let Some(s) = c.secret_name.as_deref().filter(|s| !s.is_empty())
                && !names::is_dns_subdomain(s)
            {
                problems.push(format!(
                    "clustering.clusters[{i}].secret_name {s:?} is not a valid Secret name"
                ));
            }
        }
    }
    if let Some(label) = spec
        .clustering
        .as_ref()
        .and_then(|c| c.autodetect_secrets.as_ref())
        .and_then(|a| a.label.as_deref())
        .filter(|l| !l.is_empty())
        && names::parse_label_selector(label).is_none()
    {
        problems.push(format!(
            "clustering.autodetect_secrets.label {label:?} must be key=value"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_renders_with_names_and_rules() {
        let yaml = crd_yaml().unwrap();
        assert!(yaml.contains("name: kialis.kiali.io"));
        assert!(yaml.contains("deployment.instance_name is immutable"));
        assert!(yaml.contains("deployment.namespace is immutable"));
        assert!(yaml.contains("deployment.remote_cluster_resources_only is immutable"));
        assert!(yaml.contains("x-kubernetes-preserve-unknown-fields"));
        assert!(!yaml.contains("additionalProperties: true"));
    }

    #[test]
    fn validate_reports_bad_names() {
        let spec: KialiSpec = serde_json::from_value(serde_json::json!({
            "deployment": {"instance_name": "Bad_Name"},
            "clustering": {"clusters": [{"name": ""}], "autodetect_secrets": {"label": "novalue"}}
        }))
        .unwrap();
        let p = validate(&spec);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("Bad_Name"));
    }
}
