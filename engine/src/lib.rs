//! The meshglass engine: Istio telemetry plus the clusters' inventory in, Kiali's traffic graph and
//! health model out. Pure logic: no I/O, no async runtime, no Kubernetes client. The server, the
//! benchmarks and the tests drive it directly.
//!
//! A graph request goes: [`GraphOptions::from_query_pairs`] → [`queries`] (the PromQL to run) →
//! [`parse_prometheus_response`] for each result → [`build_graph`] → serialise
//! [`GraphResult::graph`]. Health goes: [`health_queries`] → [`health()`] → [`HealthReport`].
//! Metrics dashboards go through [`metrics`]; mTLS status through [`tls`].

mod diag;
mod error;
pub mod fixtures;
pub mod graph;
pub mod health;
mod input;
mod inventory;
pub mod istio;
mod json_out;
pub mod mesh;
pub mod metrics;
mod options;
mod par;
mod promql;
mod rules;
mod scope;
pub mod tls;
pub mod validations;

pub use diag::{Diagnostic, Diagnostics};
pub use graph::cytoscape::{
    CytoscapeGraph, EdgeData, EdgeWrapper, Elements, GwInfo, HealthJson, Id, IstioBadges, NodeData,
    NodeWrapper, Percent, ProtocolTraffic, RateMap, RateValue, ResponseDetail, Responses, SeInfo,
    ServiceName, VsInfo, WeInfo,
};
pub use graph::node_health::add_node_health;
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
pub use istio::{ConfigObject, Host, IstioKind, names_service, parse_host};
pub use options::{
    Appender, BoxBy, GraphOptions, GraphType, GrpcRate, HttpRate, MAX_DURATION_SECS,
    MAX_QUERY_TIME_AHEAD_SECS, Rates, ResponseTimeStat, TcpRate, ThroughputType, allowed_values,
    check_duration, check_query_time, parse_duration,
};
pub use promql::{PromQuery, health_queries, queries};
pub use scope::QueryScope;

pub use error::{Error, Result};
