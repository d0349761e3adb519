//! meshglass mesh-traffic simulator.
//!
//! Reads a topology file (clusters, workloads, services, calls) and produces the Istio standard metrics the
//! mesh's sidecars would: live, per cluster, on a `/metrics` endpoint ([`metrics::exposition`]), or backfilled
//! with timestamps as OpenMetrics for `promtool tsdb create-blocks-from openmetrics` ([`metrics::openmetrics`]).
//! Counters are deterministic functions of time, so tests can assert exact rates. It also renders the
//! Kubernetes objects (Deployments, Services, …) of each cluster's share of the topology ([`manifests`]), and
//! serves the live metrics over HTTP ([`serve`]). The traffic follows the clusters' VirtualService weights when
//! asked to ([`routing`], [`live`], [`follow`]). The same requests become traces
//! ([`traces`]), sent to a tracing store's OTLP receiver ([`otlp`]). Each sidecar's Envoy configuration, as
//! istiod would push it, is rendered by [`envoy`] and served on an admin endpoint ([`serve::admin_router`]) that the API server's
//! `pods/portforward` reaches ([`sidecar_admin`]).

pub mod envoy;
#[cfg(test)]
mod fixtures;
pub mod follow;
pub mod live;
pub mod manifests;
pub mod metrics;
pub mod otlp;
pub mod routing;
pub mod serve;
pub mod sidecar_admin;
pub mod topology;
pub mod traces;

pub use topology::{Flow, Mesh, Protocol, Topology};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read topology file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("topology is not valid YAML for this schema: {0}")]
    Parse(String),
    #[error("invalid topology: {0}")]
    Invalid(String),
    #[error("invalid time {0:?}: expected Unix seconds or RFC 3339 (2026-01-02T15:04:05Z)")]
    Time(String),
    #[error("invalid duration {0:?}: expected a positive number with unit s, m or h (15s)")]
    Duration(String),
    #[error("simulated sidecar admin endpoint: {0}")]
    Sidecar(String),
}

impl Error {
    /// Fixed category, for logs and metrics labels.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Read { .. } => "read",
            Error::Parse(_) => "parse",
            Error::Invalid(_) => "invalid",
            Error::Time(_) => "time",
            Error::Duration(_) => "duration",
            Error::Sidecar(_) => "sidecar",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Unix seconds from `1700000000`, `1700000000.5` or an RFC 3339 timestamp.
pub fn parse_time(s: &str) -> Result<f64> {
    if let Ok(v) = s.parse::<f64>()
        && v.is_finite()
    {
        return Ok(v);
    }
    let ts: jiff::Timestamp = s.parse().map_err(|_| Error::Time(s.to_owned()))?;
    Ok(ts.as_millisecond() as f64 / 1000.0)
}

/// Seconds from `15s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<f64> {
    let bad = || Error::Duration(s.to_owned());
    let (number, unit) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    let v = n * scale;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000.0);
        assert_eq!(parse_time("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000.0);
        assert_eq!(parse_time("yesterday").unwrap_err().category(), "time");
        assert_eq!(parse_duration("15s").unwrap(), 15.0);
        assert_eq!(parse_duration("2m").unwrap(), 120.0);
        assert_eq!(parse_duration("1h").unwrap(), 3600.0);
        assert_eq!(parse_duration("30").unwrap(), 30.0);
        for bad in ["", "0s", "-1s", "5d", "s"] {
            assert_eq!(
                parse_duration(bad).unwrap_err().category(),
                "duration",
                "{bad}"
            );
        }
    }
}
