//! The meshglass engine: Istio telemetry plus the clusters' inventory in, Kiali's traffic graph and
//! health model out. Pure logic: no I/O, no async runtime, no Kubernetes client. The server, the
//! benchmarks and the tests drive it directly.
//!
//! A graph request goes: [`GraphOptions::from_query_pairs`] → [`queries`] (the PromQL to run) →
//! [`parse_prometheus_response`] for each result → [`build_graph`] → serialise
//! [`GraphResult::graph`]. Health goes: [`health_queries`] → [`health()`] → [`HealthReport`].

mod diag;
pub mod fixtures;
pub mod graph;
pub mod health;
mod input;
mod inventory;
pub mod istio;
mod options;
mod par;
mod promql;
mod rules;
pub mod validations;

pub use diag::{Diagnostic, Diagnostics};
pub use graph::cytoscape::{
    CytoscapeGraph, EdgeData, EdgeWrapper, Elements, Id, NodeData, NodeWrapper, Percent,
    ProtocolTraffic, RateMap, RateValue, ResponseDetail, Responses, SeInfo, ServiceName,
};
pub use graph::{GraphResult, build_graph};
pub use health::{
    EntityHealth, HealthConfig, HealthKind, HealthReport, HealthRequest, HealthRules, HealthStatus,
    NamespaceSummary, RateRule, RequestHealth, Tolerance, WorkloadStatus, health,
};
pub use input::{Family, IstioLabels, Label, Sample, parse_prom_float, parse_prometheus_response};
pub use inventory::{
    AppLabels, ClusterInventory, MeshInventory, NamespaceInfo, PodInfo, ServiceEntryInfo,
    ServiceInfo, ServicePort, WorkloadInfo, apps, selector_matches,
};
pub use istio::{ConfigObject, IstioKind};
pub use options::{
    Appender, BoxBy, GraphOptions, GraphType, GrpcRate, HttpRate, Rates, ResponseTimeStat, TcpRate,
    ThroughputType, allowed_values, parse_duration,
};
pub use promql::{PromQuery, health_queries, queries};

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
            Error::InvalidParam { .. } => "bad_request",
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
