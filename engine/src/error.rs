//! The engine's one error type.

/// Engine errors. Only request parsing and configuration can fail; bad telemetry never does
/// (it is skipped and reported in [`Diagnostics`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request parameter has an invalid value.
    #[error("invalid {name} [{value}]")]
    InvalidParam {
        /// Parameter name, e.g. `graphType`.
        name: &'static str,
        /// The offending value.
        value: String,
    },
    /// A parameter value Kiali knows that this engine does not implement.
    #[error("{name} [{value}] is not supported: {why}")]
    Unsupported {
        /// Parameter name, e.g. `appenders`.
        name: &'static str,
        /// The value asked for.
        value: String,
        /// Why it is not supported.
        why: &'static str,
    },
    /// A health configuration regex or annotation does not parse.
    #[error("invalid health configuration: {0}")]
    HealthConfig(String),
    /// A Prometheus response body is not a successful instant vector.
    #[error("unexpected Prometheus response: {0}")]
    PrometheusResponse(String),
}

impl Error {
    /// A fixed category for metrics labels and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Error::InvalidParam { .. } | Error::Unsupported { .. } => "bad_request",
            Error::HealthConfig(_) => "health_config",
            Error::PrometheusResponse(_) => "prometheus_response",
        }
    }

    pub(crate) fn invalid(name: &'static str, value: &str) -> Self {
        Error::InvalidParam {
            name,
            value: value.to_string(),
        }
    }
}

/// `Result` with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
