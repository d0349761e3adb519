//! The mesh inventory: what each cluster's API server says exists, translated from Kubernetes
//! objects at the edge (the server does that) into plain engine types.

use std::collections::BTreeMap;
use std::sync::Arc;

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
    pub services: Vec<Arc<ServiceInfo>>,
    /// Workloads (Deployments, StatefulSets, DaemonSets, … or bare pods), shared: the server
    /// keeps each namespace's workloads between requests while the namespace does not change.
    pub workloads: Vec<Arc<WorkloadInfo>>,
    /// Istio ServiceEntries.
    #[serde(default)]
    pub service_entries: Vec<ServiceEntryInfo>,
    /// VirtualServices, DestinationRules, Gateways and WorkloadEntries: the Istio config the
    /// graph's istio and workloadEntry appenders decorate nodes from.
    #[serde(skip)]
    pub routing: Vec<crate::istio::ConfigObject>,
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
    /// `spec.clusterIPs`.
    #[serde(default)]
    pub ip_addresses: Vec<String>,
    /// `spec.clusterIP` (`None` for headless, or when unset).
    #[serde(default)]
    pub cluster_ip: Option<String>,
    /// `spec.type` (`ClusterIP` when unset).
    #[serde(default)]
    pub service_type: String,
    /// `spec.externalName`.
    #[serde(default)]
    pub external_name: Option<String>,
    /// `spec.ipFamilies`.
    #[serde(default)]
    pub ip_families: Vec<String>,
    /// Creation time (RFC 3339) and resource version of the Service.
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub resource_version: Option<String>,
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
    /// `targetPort` (a number or a container port name), when set.
    #[serde(default)]
    pub target_port: Option<String>,
}

/// Which labels name a workload's app and version, in Kiali's order: Istio's canonical-name
/// labels, then `app`/`version`, then `app.kubernetes.io/name`/`version`, then the labels
/// `istio_labels.app_label_name`/`version_label_name` of the configuration name. Lists, details,
/// health and the graph all group workloads through [`AppLabels::app`] and
/// [`AppLabels::version`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AppLabels {
    /// App label keys, first present wins.
    pub app: Vec<String>,
    /// Version label keys, first present wins.
    pub version: Vec<String>,
}

impl Default for AppLabels {
    fn default() -> Self {
        AppLabels::configured("", "")
    }
}

impl AppLabels {
    /// Kiali's order, with the configured label names (when set) last.
    pub fn configured(app_label_name: &str, version_label_name: &str) -> Self {
        let keys = |fixed: [&str; 3], configured: &str| {
            let mut v: Vec<String> = fixed.iter().map(|k| k.to_string()).collect();
            if !configured.is_empty() && !v.iter().any(|k| k == configured) {
                v.push(configured.to_string());
            }
            v
        };
        AppLabels {
            app: keys(
                [
                    "service.istio.io/canonical-name",
                    "app",
                    "app.kubernetes.io/name",
                ],
                app_label_name,
            ),
            version: keys(
                [
                    "service.istio.io/canonical-revision",
                    "version",
                    "app.kubernetes.io/version",
                ],
                version_label_name,
            ),
        }
    }

    /// The app a label set names.
    pub fn app<'a>(&self, labels: &'a BTreeMap<String, String>) -> Option<&'a str> {
        first(&self.app, labels)
    }

    /// The version a label set names.
    pub fn version<'a>(&self, labels: &'a BTreeMap<String, String>) -> Option<&'a str> {
        first(&self.version, labels)
    }
}

fn first<'a>(keys: &[String], labels: &'a BTreeMap<String, String>) -> Option<&'a str> {
    keys.iter().find_map(|k| labels.get(k)).map(String::as_str)
}

/// A workload: the controller of a set of pods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkloadInfo {
    /// Workload name (as in Istio's `destination_workload` label).
    pub name: String,
    /// Workload namespace.
    pub namespace: String,
    /// Controller kind, e.g. `Deployment` (`Pod` for a bare pod).
    #[serde(default)]
    pub kind: String,
    /// API group of the kind (`apps`; "" for core kinds).
    #[serde(default)]
    pub group: String,
    /// Pod template labels (`app`, `version`, `service.istio.io/canonical-name`, …).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Workload annotations (e.g. `health.kiali.io/rate`).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The app and version the labels name ([`AppLabels`]), resolved once by
    /// [`WorkloadInfo::resolve_app`].
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    /// Creation time (RFC 3339) and resource version of the controller object.
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub resource_version: Option<String>,
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
    /// The workload's pods, sorted by name.
    #[serde(default)]
    pub pods: Vec<PodInfo>,
}

fn minus_one() -> i32 {
    -1
}

impl WorkloadInfo {
    /// Sets [`WorkloadInfo::app`] and [`WorkloadInfo::version`] from the labels.
    pub fn resolve_app(&mut self, rules: &AppLabels) {
        self.app = rules.app(&self.labels).map(str::to_string);
        self.version = rules.version(&self.labels).map(str::to_string);
    }

    /// The app name ([`AppLabels`]).
    pub fn app(&self) -> Option<&str> {
        self.app.as_deref()
    }

    /// The version ([`AppLabels`]).
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Service accounts of the pods, sorted and without repeats.
    pub fn service_accounts(&self) -> Vec<String> {
        let set: std::collections::BTreeSet<&str> = self
            .pods
            .iter()
            .filter_map(|p| p.service_account.as_deref())
            .collect();
        set.into_iter().map(str::to_string).collect()
    }
}

/// A pod of a workload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodInfo {
    /// Pod name.
    pub name: String,
    /// Pod labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<String>,
    /// `status.phase` (`Unknown` when unset).
    #[serde(default)]
    pub phase: String,
    /// `spec.nodeName`.
    #[serde(default)]
    pub node_name: Option<String>,
    /// `spec.serviceAccountName`.
    #[serde(default)]
    pub service_account: Option<String>,
    /// Whether the pod carries an Istio sidecar.
    #[serde(default)]
    pub istio_sidecar: bool,
    /// `status.podIP`.
    #[serde(default)]
    pub ip: Option<String>,
    /// Pod annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The pod's controller (`kind`, `name`) from its owner references.
    #[serde(default)]
    pub created_by: Option<(String, String)>,
    /// `(name, containerPort)` of the ports its containers declare.
    #[serde(default)]
    pub container_ports: Vec<(String, i32)>,
    /// Names of its containers (`spec.containers`), the sidecar `istio-proxy` among them.
    #[serde(default)]
    pub containers: Vec<String>,
}

/// Kiali's apps: workloads with an app, grouped by namespace and app.
pub fn apps<W: std::borrow::Borrow<WorkloadInfo>>(
    workloads: &[W],
) -> BTreeMap<(String, String), Vec<&WorkloadInfo>> {
    let mut m: BTreeMap<(String, String), Vec<&WorkloadInfo>> = BTreeMap::new();
    for w in workloads {
        let w = w.borrow();
        if let Some(app) = w.app() {
            m.entry((w.namespace.clone(), app.to_string()))
                .or_default()
                .push(w);
        }
    }
    m
}

/// Whether a selector matches a label set. An empty selector matches nothing, as for Services.
pub fn selector_matches(sel: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
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
