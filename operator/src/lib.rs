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
pub mod reconcile;
pub mod secrets;

/// The CR types, for callers (tests, tools) that already depend on the operator.
pub use meshglass_crds as crds;

/// Reconcile errors: one per stage, each with a fixed category for metrics and Events.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Validate(#[from] reconcile::validate::Error),
    #[error(transparent)]
    Observe(#[from] reconcile::observe::Error),
    #[error(transparent)]
    Build(#[from] build::Error),
    #[error(transparent)]
    Apply(#[from] reconcile::apply::Error),
    #[error(transparent)]
    Status(#[from] reconcile::status::Error),
    #[error("finalizer: {0}")]
    Finalizer(String),
    /// The generated artefacts (bundle, chart RBAC) could not be serialized.
    #[error("cannot serialize an object: {0}")]
    Serialize(String),
}

impl Error {
    pub fn category(&self) -> &'static str {
        match self {
            Error::Validate(e) => e.category(),
            Error::Observe(e) => e.category(),
            Error::Build(e) => e.category(),
            Error::Apply(e) => e.category(),
            Error::Status(e) => e.category(),
            Error::Finalizer(_) => "finalizer",
            Error::Serialize(_) => "serialize",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
