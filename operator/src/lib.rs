//! The meshglass operator library: reconciles `kiali.io/v1alpha1` `Kiali`.

pub mod remote_secret;

pub mod admin;
pub mod build;
pub mod bundle;
pub mod cli;
pub mod conditions;
pub mod controller;
pub mod metrics;
pub mod rbac;
pub mod secrets;

/// The CR types, for callers (tests, tools) that already depend on the operator.
pub use meshglass_crds as crds;

/// Reconcile errors; each has a fixed category for metrics and Events.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid Kiali CR: {0}")]
    Invalid(String),
    #[error(transparent)]
    Crds(#[from] meshglass_crds::Error),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("applying {key}: {source}")]
    Apply { key: String, source: kube::Error },
    #[error("finalizer: {0}")]
    Finalizer(String),
    #[error("cannot serialize an object: {0}")]
    Serialize(String),
}

impl Error {
    pub fn category(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid_spec",
            Error::Crds(e) => e.category(),
            Error::Kube(_) => "kube_api",
            Error::Apply { .. } => "apply",
            Error::Finalizer(_) => "finalizer",
            Error::Serialize(_) => "serialize",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
