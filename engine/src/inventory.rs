//! The mesh inventory: what each cluster's API server says exists, translated from Kubernetes
//! objects at the edge (the server does that) into plain engine types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole mesh: one entry per cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeshInventory {
    /// Clusters, each with its own objects. Names must be unique.
    pub clusters: Vec<ClusterInventory>,
}

impl MeshInventory {
    /// The cluster with this name, if present.
    pub fn cluster(&self, name: &str) -> Option<&ClusterInventory> {
        self.clusters.iter().find(|c| c.name == name)
    }
}

/// What one cluster holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterInventory {
    /// Cluster name, as in Istio's `source_cluster`/`destination_cluster` labels.
    pub name: String,
    /// Namespaces of the cluster.
    pub namespaces: Vec<NamespaceInfo>,
    /// Kubernetes Services.
    pub services: Vec<ServiceInfo>,
    /// Workloads (Deployments, StatefulSets, DaemonSets, … or bare pods).
    pub workloads: Vec<WorkloadInfo>,
    /// Istio ServiceEntries.
    #[serde(default)]
    pub service_entries: Vec<ServiceEntryInfo>,
}

/// A namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NamespaceInfo {
    /// Namespace name.
    pub name: String,
    /// Namespace labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Namespace annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A Kubernetes Service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// Service name.
    pub name: String,
    /// Service namespace.
    pub namespace: String,
    /// Pod selector (empty for selector-less services).
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    /// Service ports.
    #[serde(default)]
    pub ports: Vec<ServicePort>,
    /// Service labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Service annotations (e.g. `health.kiali.io/rate`).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// One port of a Service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServicePort {
    /// Port name (Istio infers the protocol from its prefix).
    #[serde(default)]
    pub name: String,
    /// Port number.
    pub port: i32,
    /// `TCP`, `UDP` or `SCTP`.
    #[serde(default)]
    pub protocol: String,
    /// `appProtocol`, when set.
    #[serde(default)]
    pub app_protocol: Option<String>,
}

/// A workload: the controller of a set of pods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkloadInfo {
    /// Workload name (as in Istio's `destination_workload` label).
    pub name: String,
    /// Workload namespace.
    pub namespace: String,
    /// Controller kind, e.g. `Deployment`.
    #[serde(default)]
    pub kind: String,
    /// Pod template labels (`app`, `version`, `service.istio.io/canonical-name`, …).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Workload annotations (e.g. `health.kiali.io/rate`).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Desired replicas (spec).
    pub desired_replicas: i32,
    /// Current replicas (pods that exist).
    pub current_replicas: i32,
    /// Available replicas (pods ready for minReadySeconds).
    pub available_replicas: i32,
    /// Whether the pods carry an Istio sidecar.
    #[serde(default)]
    pub istio_sidecar: bool,
    /// Proxies in sync with istiod, `-1` when unknown or no sidecar.
    #[serde(default = "minus_one")]
    pub synced_proxies: i32,
}

fn minus_one() -> i32 {
    -1
}

impl WorkloadInfo {
    /// The app name: the canonical-name label, else `app`, else `app.kubernetes.io/name`.
    pub fn app(&self) -> Option<&str> {
        [
            "service.istio.io/canonical-name",
            "app",
            "app.kubernetes.io/name",
        ]
        .iter()
        .find_map(|k| self.labels.get(*k))
        .map(String::as_str)
    }

    /// The version: the canonical-revision label, else `version`, else `app.kubernetes.io/version`.
    pub fn version(&self) -> Option<&str> {
        [
            "service.istio.io/canonical-revision",
            "version",
            "app.kubernetes.io/version",
        ]
        .iter()
        .find_map(|k| self.labels.get(*k))
        .map(String::as_str)
    }
}

/// An Istio ServiceEntry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceEntryInfo {
    /// Object name.
    pub name: String,
    /// Object namespace.
    pub namespace: String,
    /// `spec.hosts`.
    pub hosts: Vec<String>,
    /// `MESH_EXTERNAL` (the default) or `MESH_INTERNAL`.
    #[serde(default)]
    pub location: String,
    /// `spec.exportTo` (empty = exported everywhere).
    #[serde(default)]
    pub export_to: Vec<String>,
}
