//! Kiali's Cytoscape JSON model (`graph/config/cytoscape` in Kiali): the field names and the
//! omit-when-empty behaviour of Kiali's Go structs.

use std::collections::BTreeMap;

use serde::Serialize;

/// The graph response: `{timestamp, duration, graphType, elements: {nodes, edges}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CytoscapeGraph {
    /// The query time (Unix seconds).
    pub timestamp: i64,
    /// The window length in seconds.
    pub duration: i64,
    /// `app`, `versionedApp`, `workload` or `service`.
    #[serde(rename = "graphType")]
    pub graph_type: &'static str,
    /// Nodes and edges.
    pub elements: Elements,
}

/// `elements`: nodes (compound parents first) and edges, in Kiali's sort order.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Elements {
    /// Nodes.
    pub nodes: Vec<NodeWrapper>,
    /// Edges.
    pub edges: Vec<EdgeWrapper>,
}

/// `{data: NodeData}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeWrapper {
    /// The node.
    pub data: NodeData,
}

/// `{data: EdgeData}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeWrapper {
    /// The edge.
    pub data: EdgeData,
}

/// A service a node was requested as (`destServices[]`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ServiceName {
    /// Cluster of the service.
    pub cluster: String,
    /// Namespace of the service.
    pub namespace: String,
    /// Service name.
    pub name: String,
}

/// ServiceEntry details of a node (`isServiceEntry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeInfo {
    /// The ServiceEntry's hosts.
    pub hosts: Vec<String>,
    /// `MESH_EXTERNAL` or `MESH_INTERNAL`.
    pub location: String,
    /// The ServiceEntry's namespace.
    pub namespace: String,
}

/// Traffic of one protocol: `{protocol, rates, responses}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ProtocolTraffic {
    /// `http`, `grpc` or `tcp`.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub protocol: &'static str,
    /// Rates by name (`httpIn`, `http5xx`, `httpPercentErr`, …), formatted as Kiali does.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rates: BTreeMap<&'static str, String>,
    /// Edge responses by code (`-` = no response).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub responses: BTreeMap<String, ResponseDetail>,
}

/// Percentages of an edge's traffic for one response code, by flags and by host.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ResponseDetail {
    /// Response flags (`-` = none) to percentage of the edge traffic.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub flags: BTreeMap<String, String>,
    /// Destination host to percentage of the edge traffic.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A node's `data`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct NodeData {
    /// Stable id: SHA-256 (hex) of the node's identifying fields, as Kiali computes it.
    pub id: String,
    /// Compound parent id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// `app`, `box`, `service`, `unknown` or `workload`.
    #[serde(rename = "nodeType")]
    pub node_type: &'static str,
    /// Cluster (`unknown` for the unknown source).
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Workload name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub workload: String,
    /// App (canonical service).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub app: String,
    /// Version (canonical revision).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Service name (service nodes).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// Services this node was requested as.
    #[serde(rename = "destServices", skip_serializing_if = "Vec::is_empty")]
    pub dest_services: Vec<ServiceName>,
    /// Per-protocol node rates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<ProtocolTraffic>,
    /// Health data (null unless the health appender ran and the node has health).
    #[serde(rename = "healthData")]
    pub health_data: Option<serde_json::Value>,
    /// Health annotation override (`health.kiali.io/*`) of the backing object.
    #[serde(rename = "hasHealthConfig", skip_serializing_if = "Option::is_none")]
    pub has_health_config: Option<BTreeMap<String, String>>,
    /// `cluster`, `namespace` or `app` on compound box nodes.
    #[serde(rename = "isBox", skip_serializing_if = "str::is_empty")]
    pub is_box: &'static str,
    /// The workload exists but has no pods, and the node has no traffic.
    #[serde(rename = "isDead", skip_serializing_if = "is_false")]
    pub is_dead: bool,
    /// Present in the inventory (or on an idle edge) but without traffic.
    #[serde(rename = "isIdle", skip_serializing_if = "is_false")]
    pub is_idle: bool,
    /// In a namespace the caller may not see.
    #[serde(rename = "isInaccessible", skip_serializing_if = "is_false")]
    pub is_inaccessible: bool,
    /// A workload without an Istio sidecar.
    #[serde(rename = "isOutOfMesh", skip_serializing_if = "is_false")]
    pub is_out_of_mesh: bool,
    /// In a namespace that was not asked for.
    #[serde(rename = "isOutside", skip_serializing_if = "is_false")]
    pub is_outside: bool,
    /// A traffic generator: outgoing edges, no incoming ones.
    #[serde(rename = "isRoot", skip_serializing_if = "is_false")]
    pub is_root: bool,
    /// ServiceEntry details.
    #[serde(rename = "isServiceEntry", skip_serializing_if = "Option::is_none")]
    pub is_service_entry: Option<SeInfo>,
}

/// An edge's `data`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct EdgeData {
    /// Stable id: SHA-256 of `source.target.protocol`.
    pub id: String,
    /// Source node id.
    pub source: String,
    /// Target node id.
    pub target: String,
    /// Destination principal, when the edge has exactly one.
    #[serde(rename = "destPrincipal", skip_serializing_if = "String::is_empty")]
    pub dest_principal: String,
    /// Percentage of traffic using mutual TLS, rounded (`"100"`).
    #[serde(rename = "isMTLS", skip_serializing_if = "String::is_empty")]
    pub is_mtls: String,
    /// Response time in milliseconds, rounded.
    #[serde(rename = "responseTime", skip_serializing_if = "String::is_empty")]
    pub response_time: String,
    /// Source principal, when the edge has exactly one.
    #[serde(rename = "sourcePrincipal", skip_serializing_if = "String::is_empty")]
    pub source_principal: String,
    /// Throughput in bytes per second, rounded.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub throughput: String,
    /// The edge's traffic (one protocol).
    pub traffic: ProtocolTraffic,
}
