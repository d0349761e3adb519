//! Errors of the remote-secret CLI. Every message is one line that names the problem and what to do about it,
//! and none of them ever carries a token or kubeconfig content.

/// The remote-secret CLI's errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "--kiali-cluster-context and --remote-cluster-context both name context {0:?}: the remote cluster must be \
         another cluster; pass the context of the cluster to add as --remote-cluster-context"
    )]
    SameContext(String),

    #[error(
        "unknown kube context {context:?} given by {option}; known contexts: {known}; pass one of them, or \
         --kubeconfig with the file that defines it"
    )]
    UnknownContext {
        option: &'static str,
        context: String,
        known: String,
    },

    #[error(
        "invalid remote cluster name {name:?}: it must match {pattern} and be at most {max} characters; pass \
         --remote-cluster-name with such a name (the name Istio uses for that cluster)"
    )]
    InvalidClusterName {
        name: String,
        pattern: &'static str,
        max: usize,
    },

    #[error("invalid {option} {value:?}: {reason}")]
    InvalidArg {
        option: &'static str,
        value: String,
        reason: &'static str,
    },

    #[error(
        "cannot load the kubeconfig ({origin}): {cause}; pass --kubeconfig with a readable kubeconfig file"
    )]
    Kubeconfig { origin: String, cause: String },

    #[error(
        "the kubeconfig has no server URL for cluster {cluster:?} (context {context:?}); pass --remote-cluster-url"
    )]
    NoServerUrl { context: String, cluster: String },

    #[error(
        "cannot read CA file {path:?} of cluster {cluster:?} in the kubeconfig: {cause}; fix the kubeconfig"
    )]
    CaFile {
        cluster: String,
        path: String,
        cause: String,
    },

    #[error(
        "no CA to verify the remote API server of cluster {cluster:?}: {detail}; put the CA in the kubeconfig, or \
         pass --allow-skip-tls-verify true to let the server skip TLS verification for this cluster"
    )]
    SkipTlsNotAllowed { cluster: String, detail: String },

    #[error(
        "cannot reach the {side} cluster API at {url} (context {context:?}): {cause}; check that the API server runs \
         and that the context (or --remote-cluster-url) points at it"
    )]
    Unreachable {
        side: &'static str,
        context: String,
        url: String,
        cause: String,
    },

    #[error(
        "namespace {namespace:?} does not exist on the Kiali cluster (context {context:?}); create it first, or pass \
         --kiali-cluster-namespace with the namespace where the server runs"
    )]
    PrimaryNamespaceMissing { context: String, namespace: String },

    #[error(
        "{object} already exists on the {side} cluster (context {context:?}) and was not created by \
         meshglass-operator remote-secret ({owner}); the CLI changes only objects it created: pass another \
         --kiali-resource-name, or remove that object"
    )]
    NotOurs {
        object: String,
        side: &'static str,
        context: String,
        owner: String,
    },

    #[error(
        "token Secret {namespace}/{name} on the remote cluster (context {context:?}) has no token after {secs}s; {hint}"
    )]
    TokenTimeout {
        context: String,
        namespace: String,
        name: String,
        secs: u64,
        hint: &'static str,
    },

    #[error(
        "the remote cluster {cluster:?} refused the generated credentials at {url}: {cause}; check --remote-cluster-url \
         and that the token Secret belongs to an existing ServiceAccount"
    )]
    CredentialRejected {
        cluster: String,
        url: String,
        cause: String,
    },

    #[error(
        "the remote ServiceAccount {namespace}/{service_account} on cluster {cluster:?} may not {missing}{more}; grant \
         it the server's read-only role (rerun with --process-remote-resources true, or fix the remote Kiali CR)"
    )]
    PermissionMissing {
        cluster: String,
        namespace: String,
        service_account: String,
        missing: String,
        more: String,
    },

    #[error("{action} on the {side} cluster (context {context:?}) failed: {cause}")]
    Kube {
        action: String,
        side: &'static str,
        context: String,
        cause: String,
    },

    #[error("cannot encode {what}: {cause}")]
    Encode { what: &'static str, cause: String },

    #[error("cannot write the output: {0}")]
    Output(String),
}

impl Error {
    /// A fixed category for metrics, logs and tests; never derived from the message.
    pub fn category(&self) -> &'static str {
        match self {
            Error::SameContext(_) => "same_context",
            Error::UnknownContext { .. } => "unknown_context",
            Error::InvalidClusterName { .. } => "invalid_cluster_name",
            Error::InvalidArg { .. } => "invalid_argument",
            Error::Kubeconfig { .. } => "kubeconfig",
            Error::NoServerUrl { .. } => "no_server_url",
            Error::CaFile { .. } => "ca_file",
            Error::SkipTlsNotAllowed { .. } => "skip_tls_not_allowed",
            Error::Unreachable { .. } => "unreachable",
            Error::PrimaryNamespaceMissing { .. } => "primary_namespace_missing",
            Error::TokenTimeout { .. } => "token_timeout",
            Error::CredentialRejected { .. } => "credential_rejected",
            Error::PermissionMissing { .. } => "permission_missing",
            Error::Kube { .. } => "kube_api",
            Error::NotOurs { .. } => "not_ours",
            Error::Encode { .. } => "encode",
            Error::Output(_) => "output",
        }
    }
}

/// A short, one-line description of a kube client error: the API status for API errors, the innermost cause
/// for transport errors. Request bodies are never part of these errors, so no credential leaks through them.
pub fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => {
            let reason = if status.reason.is_empty() {
                "Error"
            } else {
                status.reason.as_str()
            };
            format!("{} {}: {}", status.code, reason, status.message)
        }
        other => {
            let mut line = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(inner) = source {
                line = inner.to_string();
                source = inner.source();
            }
            line.replace('\n', " ")
        }
    }
}

/// A kubeconfig loading error without anything quoted from the file: a YAML parse error can quote the offending
/// line, which may hold a token or a key.
pub fn describe_kubeconfig(err: &kube::config::KubeconfigError) -> String {
    match err {
        kube::config::KubeconfigError::Parse(_) => {
            "failed to parse kubeconfig YAML (`kubectl config view` shows where)".to_string()
        }
        other => other.to_string(),
    }
}

/// `true` for an API error with this HTTP status code.
pub fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == code)
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
