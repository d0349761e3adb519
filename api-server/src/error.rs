//! Errors of the server library and their HTTP rendering.
//!
//! Every error has a fixed category (used in logs and metrics labels) and maps to one HTTP
//! status. Messages never contain tokens or kubeconfig contents.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Errors of the server library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request parameter has a value the route does not accept.
    #[error("invalid value {value:?} for parameter {param}: allowed {allowed}")]
    BadParam {
        param: &'static str,
        value: String,
        allowed: String,
    },
    /// The requested object does not exist in any reachable cluster.
    #[error("{0}")]
    NotFound(String),
    /// No or invalid credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Prometheus could not answer.
    #[error("prometheus unavailable: {0}")]
    Prometheus(String),
    /// An external service (Prometheus, ...) failed in a named way.
    #[error(transparent)]
    Upstream(#[from] crate::upstream::failure::Failure),
    /// A cluster's API server refused a request sent with the caller's own credentials: its
    /// status (4xx) and reason (`Forbidden`, `Invalid`, `AlreadyExists`, ...) are passed on.
    #[error("cluster {cluster}: {message}")]
    Refused {
        cluster: String,
        code: u16,
        reason: String,
        message: String,
    },
    /// The login provider (OpenID discovery, token endpoint) could not be reached or answered
    /// something unusable.
    #[error("login provider: {0}")]
    Provider(String),
    /// An upstream (a cluster's API server, ...) accepted the request but did not answer in time.
    #[error("upstream timeout: {0}")]
    UpstreamTimeout(String),
    /// A Kubernetes API call failed.
    #[error("kubernetes: {0}")]
    Kube(String),
    /// The configuration file could not be read or parsed.
    #[error("config: {0}")]
    Config(String),
    /// A kubeconfig could not be read or used.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// The graph or health engine rejected its input.
    #[error("engine: {0}")]
    Engine(String),
    /// The server is at one of its limits (concurrent requests, token reviews): retry later.
    #[error("server busy: {0}")]
    Busy(String),
    /// I/O failure (listening socket, files).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// The category of the error a response renders, kept in the response's extensions so that the
/// request metrics count errors by category (`http_errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category(pub &'static str);

/// `Retry-After` of a 503 sent at a limit, in seconds.
pub const RETRY_AFTER_SECS: &str = "1";

/// Result with the library error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Fixed, low-cardinality category of the error.
    pub fn category(&self) -> &'static str {
        match self {
            Error::BadParam { .. } => "bad_param",
            Error::NotFound(_) => "not_found",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::Prometheus(_) => "prometheus",
            Error::Upstream(f) => f.service,
            Error::Refused { .. } => "refused",
            Error::Provider(_) => "login_provider",
            Error::UpstreamTimeout(_) => "upstream_timeout",
            Error::Kube(_) => "kubernetes",
            Error::Config(_) => "config",
            Error::Kubeconfig(_) => "kubeconfig",
            Error::Engine(_) => "engine",
            Error::Busy(_) => "busy",
            Error::Io(_) => "io",
        }
    }

    /// HTTP status for the error.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadParam { .. } => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Prometheus(_) | Error::Upstream(_) | Error::Busy(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::Refused { code, .. } => StatusCode::from_u16(*code)
                .ok()
                .filter(StatusCode::is_client_error)
                .unwrap_or(StatusCode::BAD_GATEWAY),
            Error::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Error::Provider(_) | Error::Kube(_) | Error::Kubeconfig(_) => StatusCode::BAD_GATEWAY,
            Error::Config(_) | Error::Engine(_) | Error::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The fixed code of an upstream failure (`unreachable`, `tls_unknown_authority`, ...).
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Error::Upstream(f) => Some(f.kind.code()),
            _ => None,
        }
    }

    /// Shorthand for a bad parameter error.
    pub fn bad_param(
        param: &'static str,
        value: impl Into<String>,
        allowed: impl Into<String>,
    ) -> Self {
        Error::BadParam {
            param,
            value: value.into(),
            allowed: allowed.into(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = json!({
            "error": self.to_string(),
            "category": self.category(),
        });
        if let Some(reason) = self.reason() {
            body["reason"] = json!(reason);
        }
        if let Error::Refused {
            cluster, reason, ..
        } = &self
        {
            body["reason"] = json!(reason);
            body["cluster"] = json!(cluster);
        }
        if let Error::BadParam { param, allowed, .. } = &self {
            body["parameter"] = json!(param);
            body["allowed"] = json!(allowed);
        }
        if status.is_server_error() && !matches!(self, Error::Busy(_)) {
            tracing::warn!(category = self.category(), error = %self, "request failed");
        }
        let mut resp = (status, Json(body)).into_response();
        resp.extensions_mut().insert(Category(self.category()));
        if let Error::Busy(_) = self {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        resp
    }
}
