//! How an upstream call failed: a fixed code and a message written here (its own module, so that
//! the server's error type can carry it without depending on the client).

/// What went wrong talking to an upstream, as a fixed code (the `reason` of a 503 body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    Unreachable,
    TlsUnknownAuthority,
    TlsNameMismatch,
    Tls,
    Unauthorized,
    Forbidden,
    ServerError,
    Timeout,
    TooLarge,
    NotJson,
    Rejected,
    Credentials,
    /// The service is switched off in the configuration (`enabled: false`).
    Disabled,
    /// The configuration lacks what a call needs (a URL) or asks for what is not supported.
    NotConfigured,
}

impl FailureKind {
    /// The fixed, low-cardinality code.
    pub fn code(self) -> &'static str {
        match self {
            FailureKind::Unreachable => "unreachable",
            FailureKind::TlsUnknownAuthority => "tls_unknown_authority",
            FailureKind::TlsNameMismatch => "tls_name_mismatch",
            FailureKind::Tls => "tls",
            FailureKind::Unauthorized => "unauthorized",
            FailureKind::Forbidden => "forbidden",
            FailureKind::ServerError => "server_error",
            FailureKind::Timeout => "timeout",
            FailureKind::TooLarge => "too_large",
            FailureKind::NotJson => "not_json",
            FailureKind::Rejected => "rejected",
            FailureKind::Credentials => "credentials",
            FailureKind::Disabled => "disabled",
            FailureKind::NotConfigured => "not_configured",
        }
    }
}

/// A failed upstream call. The message is written here, from facts we chose, never from the
/// upstream's answer or the configured URL.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service} unavailable: {message}")]
pub struct Failure {
    pub service: &'static str,
    pub kind: FailureKind,
    pub message: String,
}
