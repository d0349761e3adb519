//! The mesh page: which control plane (istiod) runs where, which clusters and data-plane
//! namespaces each manages, and the console's own infrastructure, in Kiali's shapes
//! (`/api/mesh/graph`, `/api/mesh/controlplanes`, `/api/istio/status`).
//!
//! The server translates each cluster's Deployments and Namespaces into a [`MeshCluster`] at the
//! edge (only what the caller may see); [`control_planes`], [`component_statuses`] and
//! [`mesh_graph`] are pure functions of a [`MeshInput`].
//!
//! Who manages a cluster: a control plane manages the cluster it runs in, and every cluster
//! without a control plane of its own whose Istio namespace names its cluster in
//! `topology.istio.io/controlPlaneClusters` (Istio's primary-remote install; `*` names every
//! primary). Which namespaces: those injected (`istio-injection=enabled`, `istio.io/rev`) or
//! ambient whose revision is the control plane's (`istio-injection=enabled` is `default`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::ids::sha256_id;
use crate::inventory::NamespaceInfo;

/// The namespace annotation of a remote cluster naming the clusters whose istiod manages it.
pub const CONTROL_PLANE_CLUSTERS: &str = "topology.istio.io/controlPlaneClusters";
/// The namespace label naming a cluster's network.
pub const NETWORK_LABEL: &str = "topology.istio.io/network";
/// Kiali's cluster name for infrastructure outside every cluster of the mesh.
pub const EXTERNAL: &str = "_external_";

/// Whether a Deployment is istiod: labelled `app=istiod`, or named `istiod` or `istiod-<x>`
/// (revisions such as `istiod-1-24`, OSSM 2's `istiod-<control plane>` such as `istiod-basic`).
pub fn is_istiod(name: &str, labels: &BTreeMap<String, String>) -> bool {
    name == "istiod"
        || name.starts_with("istiod-")
        || labels.get("app").is_some_and(|a| a == "istiod")
}

/// The Istio version an image names: its tag (`docker.io/istio/pilot:1.24.2` → `1.24.2`), without
/// a digest; `None` without a tag.
pub fn image_version(image: &str) -> Option<String> {
    let image = image.split('@').next().unwrap_or_default();
    let last = image.rsplit('/').next().unwrap_or_default();
    let (_, tag) = last.split_once(':')?;
    (!tag.is_empty()).then(|| tag.to_string())
}

/// The service and namespace an in-cluster URL names (`http://prometheus.istio-system:9090` →
/// (`prometheus`, `istio-system`)), as Kiali places infrastructure nodes; `None` otherwise.
pub fn url_service(url: &str) -> Option<(String, String)> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', ':', '?']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    let mut parts = host.split('.');
    let svc = parts.next().filter(|s| !s.is_empty())?;
    let ns = parts.next().filter(|s| !s.is_empty())?;
    if ns.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((svc.to_string(), ns.to_string()))
}

/// Kiali's `KialiInstance`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KialiInstance {
    pub namespace: String,
    pub operator_resource: String,
    pub service_name: String,
    pub url: String,
    pub version: String,
}

/// Kiali's `KubeCluster`, with the cluster's network and, when not accessible, why.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeCluster {
    pub accessible: bool,
    pub api_endpoint: String,
    pub is_kiali_home: bool,
    pub kiali_instances: Vec<KialiInstance>,
    pub name: String,
    pub secret_name: String,
    pub network: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// BEYOND Kiali: the mesh names this cluster (a remote's
    /// `topology.istio.io/controlPlaneClusters`) but the console has no remote cluster secret
    /// for it, so it cannot read it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub missing_remote_secret: bool,
}

/// A Deployment of the Istio namespace: istiod or a gateway.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Component {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub desired_replicas: i32,
    pub current_replicas: i32,
    pub available_replicas: i32,
    /// istiod's `CLUSTER_ID`.
    pub cluster_id: Option<String>,
    /// The first container's image (istiod's `discovery`).
    pub image: Option<String>,
}

impl Component {
    /// Kiali's component status from replicas: none running → NotReady; fewer available than
    /// wanted → Unhealthy; else Healthy.
    pub fn status(&self) -> ComponentHealth {
        if self.current_replicas == 0 || self.available_replicas == 0 {
            ComponentHealth::NotReady
        } else if self.available_replicas < self.desired_replicas.max(self.current_replicas) {
            ComponentHealth::Unhealthy
        } else {
            ComponentHealth::Healthy
        }
    }

    /// The revision (`istio.io/rev`, else `default`).
    pub fn revision(&self) -> String {
        self.labels
            .get("istio.io/rev")
            .filter(|r| !r.is_empty())
            .cloned()
            .unwrap_or_else(|| "default".into())
    }

    /// The Istio version its image tag names, else its `operator.istio.io/version` or
    /// `app.kubernetes.io/version` label, else `Unknown`.
    pub fn version(&self) -> String {
        self.image
            .as_deref()
            .and_then(image_version)
            .or_else(|| {
                ["operator.istio.io/version", "app.kubernetes.io/version"]
                    .iter()
                    .find_map(|k| self.labels.get(*k).cloned())
            })
            .unwrap_or_else(|| "Unknown".into())
    }
}

/// Kiali's component statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ComponentHealth {
    Healthy,
    Unhealthy,
    NotReady,
    NotFound,
    Unreachable,
}

impl ComponentHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentHealth::Healthy => "Healthy",
            ComponentHealth::Unhealthy => "Unhealthy",
            ComponentHealth::NotReady => "NotReady",
            ComponentHealth::NotFound => "NotFound",
            ComponentHealth::Unreachable => "Unreachable",
        }
    }
}

/// What one cluster shows the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeshCluster {
    pub cluster: KubeCluster,
    /// The Istio namespace, when it exists and the caller may read it (its control planes and
    /// gateways are shown only then).
    pub istio_namespace: Option<NamespaceInfo>,
    /// istiod Deployments of the Istio namespace.
    pub istiods: Vec<Component>,
    /// Ingress and egress gateway Deployments of the Istio namespace.
    pub gateways: Vec<Component>,
    /// The namespaces the caller may read, Istio's among them.
    pub namespaces: Vec<NamespaceInfo>,
}

/// An external service of the console (the metrics store, the tracing store, Grafana) as the
/// console reaches it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricStore {
    /// Where it runs: (cluster, namespace) of its Service, or `None` when outside the mesh.
    pub location: Option<(String, String)>,
    pub healthy: bool,
    /// What its node's `infraData` shows (no credentials).
    pub info: Value,
}

/// Everything the mesh page is built from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeshInput {
    pub istio_namespace: String,
    pub clusters: Vec<MeshCluster>,
    /// This console: (cluster, instance), shown when its namespace is visible.
    pub kiali: Option<(String, KialiInstance)>,
    pub metric_store: Option<MetricStore>,
    /// The tracing store (`external_services.tracing`, when enabled), named by its provider
    /// (`jaeger`, `tempo`).
    pub trace_store: Option<(String, MetricStore)>,
    /// Grafana (`external_services.grafana`, when enabled).
    pub grafana: Option<MetricStore>,
}

/// Kiali's `Namespace` as the mesh routes list it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshNamespace {
    pub name: String,
    pub cluster: String,
    pub is_ambient: bool,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub revision: String,
}

impl MeshNamespace {
    fn of(cluster: &str, ns: &NamespaceInfo) -> Self {
        MeshNamespace {
            name: ns.name.clone(),
            cluster: cluster.to_string(),
            is_ambient: is_ambient(ns),
            labels: ns.labels.clone(),
            annotations: ns.annotations.clone(),
            revision: data_plane_revision(ns).unwrap_or_default(),
        }
    }
}

fn is_ambient(ns: &NamespaceInfo) -> bool {
    ns.labels
        .get("istio.io/dataplane-mode")
        .is_some_and(|m| m == "ambient")
}

/// The revision of the control plane a data-plane namespace asks for; `None` when it is not in
/// the mesh (no injection, injection disabled, not ambient).
pub fn data_plane_revision(ns: &NamespaceInfo) -> Option<String> {
    let injection = ns.labels.get("istio-injection").map(String::as_str);
    if injection == Some("disabled") {
        return None;
    }
    if let Some(rev) = ns.labels.get("istio.io/rev").filter(|r| !r.is_empty()) {
        return Some(rev.clone());
    }
    (injection == Some("enabled") || is_ambient(ns)).then(|| "default".to_string())
}

/// Kiali's `ExternalServiceInfo`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceVersion {
    pub name: String,
    pub version: String,
}

/// Kiali's `ControlPlane`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlPlane {
    pub cluster: KubeCluster,
    pub config: Value,
    pub external_control_plane: bool,
    pub id: String,
    pub istiod_name: String,
    pub istiod_namespace: String,
    pub managed_clusters: Vec<KubeCluster>,
    pub manages_external: bool,
    pub managed_namespaces: Vec<MeshNamespace>,
    pub monitoring_port: u16,
    pub resources: Value,
    pub revision: String,
    pub root_namespace: String,
    pub status: String,
    pub version: ServiceVersion,
}

/// Whether the cluster `remote` (without istiod) names `primary` in its Istio namespace's
/// `topology.istio.io/controlPlaneClusters`.
fn names_primary(remote: &MeshCluster, primary: &str) -> bool {
    remote
        .istio_namespace
        .as_ref()
        .and_then(|ns| ns.annotations.get(CONTROL_PLANE_CLUSTERS))
        .is_some_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|c| c == primary || c == "*")
        })
}

/// The clusters the mesh names that the console has no remote secret for: each primary a
/// reachable cluster's Istio namespace names in `topology.istio.io/controlPlaneClusters` that
/// is not one of the console's clusters, with the cluster naming it first (by name).
pub fn clusters_without_secret(input: &MeshInput) -> BTreeMap<String, String> {
    let known: BTreeSet<&str> = input
        .clusters
        .iter()
        .map(|c| c.cluster.name.as_str())
        .collect();
    let mut out = BTreeMap::new();
    for c in &input.clusters {
        let Some(v) = c
            .istio_namespace
            .as_ref()
            .and_then(|ns| ns.annotations.get(CONTROL_PLANE_CLUSTERS))
        else {
            continue;
        };
        for name in v.split(',').map(str::trim) {
            if name.is_empty() || name == "*" || known.contains(name) {
                continue;
            }
            out.entry(name.to_string())
                .or_insert_with(|| c.cluster.name.clone());
        }
    }
    out
}

/// The control planes the caller may see, by cluster then name.
pub fn control_planes(input: &MeshInput) -> Vec<ControlPlane> {
    let mut out = Vec::new();
    for c in &input.clusters {
        if c.istio_namespace.is_none() {
            continue;
        }
        let mut istiods: Vec<&Component> = c.istiods.iter().collect();
        istiods.sort_by(|a, b| a.name.cmp(&b.name));
        for d in istiods {
            let revision = d.revision();
            let managed: Vec<&MeshCluster> = input
                .clusters
                .iter()
                .filter(|m| {
                    m.cluster.name == c.cluster.name
                        || (m.istiods.is_empty() && names_primary(m, &c.cluster.name))
                })
                .collect();
            let mut namespaces: Vec<MeshNamespace> = managed
                .iter()
                .flat_map(|m| {
                    m.namespaces
                        .iter()
                        .filter(|ns| ns.name != input.istio_namespace)
                        .filter(|ns| data_plane_revision(ns).as_deref() == Some(revision.as_str()))
                        .map(|ns| MeshNamespace::of(&m.cluster.name, ns))
                })
                .collect();
            namespaces.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
            let network = c
                .istio_namespace
                .as_ref()
                .and_then(|ns| ns.labels.get(NETWORK_LABEL))
                .cloned()
                .unwrap_or_default();
            out.push(ControlPlane {
                cluster: c.cluster.clone(),
                config: json!({"network": network}),
                external_control_plane: false,
                id: d
                    .cluster_id
                    .clone()
                    .unwrap_or_else(|| c.cluster.name.clone()),
                istiod_name: d.name.clone(),
                istiod_namespace: d.namespace.clone(),
                managed_clusters: managed.iter().map(|m| m.cluster.clone()).collect(),
                manages_external: managed.iter().any(|m| m.cluster.name != c.cluster.name),
                managed_namespaces: namespaces,
                monitoring_port: 15014,
                resources: json!({}),
                revision,
                root_namespace: input.istio_namespace.clone(),
                status: d.status().as_str().into(),
                version: ServiceVersion {
                    name: "Istio".into(),
                    version: d.version(),
                },
            });
        }
    }
    out
}

/// Kiali's `ComponentStatus` (`/api/istio/status`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentStatus {
    pub cluster: String,
    pub name: String,
    pub namespace: String,
    pub status: String,
    pub is_core: bool,
}

/// The control-plane components of every cluster whose Istio namespace the caller may read
/// (istiod and the gateways, core; a cluster with neither istiod nor a control plane naming it
/// reports istiod NotFound), and the metrics store (an add-on).
pub fn component_statuses(input: &MeshInput) -> Vec<ComponentStatus> {
    let mut out = Vec::new();
    for c in &input.clusters {
        let Some(ns) = &c.istio_namespace else {
            continue;
        };
        let managed_elsewhere = input.clusters.iter().any(|p| {
            p.cluster.name != c.cluster.name
                && !p.istiods.is_empty()
                && names_primary(c, &p.cluster.name)
        });
        if c.istiods.is_empty() && !managed_elsewhere {
            out.push(ComponentStatus {
                cluster: c.cluster.name.clone(),
                name: "istiod".into(),
                namespace: ns.name.clone(),
                status: ComponentHealth::NotFound.as_str().into(),
                is_core: true,
            });
        }
        for d in c.istiods.iter().chain(&c.gateways) {
            out.push(ComponentStatus {
                cluster: c.cluster.name.clone(),
                name: d.name.clone(),
                namespace: d.namespace.clone(),
                status: d.status().as_str().into(),
                is_core: true,
            });
        }
    }
    out.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
    let add_ons = [
        ("prometheus", input.metric_store.as_ref()),
        ("tracing", input.trace_store.as_ref().map(|t| &t.1)),
        ("grafana", input.grafana.as_ref()),
    ];
    for (name, p) in add_ons {
        let Some(p) = p else { continue };
        out.push(ComponentStatus {
            cluster: p.location.as_ref().map(|l| l.0.clone()).unwrap_or_default(),
            name: name.into(),
            namespace: p.location.as_ref().map(|l| l.1.clone()).unwrap_or_default(),
            status: if p.healthy {
                ComponentHealth::Healthy
            } else {
                ComponentHealth::Unreachable
            }
            .as_str()
            .into(),
            is_core: false,
        });
    }
    out
}

/// A node of the mesh graph (Kiali's mesh `NodeData`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshNodeData {
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub parent: String,
    pub cluster: String,
    pub infra_name: String,
    pub infra_type: String,
    pub namespace: String,
    pub node_type: String,
    pub health_data: Option<String>,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub infra_data: Value,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub is_box: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_external: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_inaccessible: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
}

/// An edge of the mesh graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeshEdgeData {
    pub id: String,
    pub source: String,
    pub target: String,
}

/// `{data: …}` of Cytoscape's element JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Wrapped<T> {
    pub data: T,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MeshElements {
    pub nodes: Vec<Wrapped<MeshNodeData>>,
    pub edges: Vec<Wrapped<MeshEdgeData>>,
}

/// `/api/mesh/graph`'s body.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshGraph {
    pub elements: MeshElements,
    pub mesh_names: Vec<String>,
    pub timestamp: i64,
}

fn hash(s: &str) -> String {
    sha256_id(s.as_bytes()).as_str().to_string()
}

#[derive(Default)]
struct Builder {
    nodes: BTreeMap<String, MeshNodeData>,
    edges: BTreeSet<(String, String)>,
}

impl Builder {
    /// Adds (or returns) the infra node of Kiali's id `infra_<cluster>_<ns>_<name>_<version>`.
    fn infra(&mut self, kind: &str, cluster: &str, ns: &str, name: &str, version: &str) -> String {
        let id = hash(&format!("infra_{cluster}_{ns}_{name}_{version}"));
        self.nodes
            .entry(id.clone())
            .or_insert_with(|| MeshNodeData {
                id: id.clone(),
                cluster: cluster.into(),
                infra_name: name.into(),
                infra_type: kind.into(),
                namespace: ns.into(),
                node_type: "infra".into(),
                health_data: Some("Healthy".into()),
                version: version.into(),
                ..Default::default()
            });
        id
    }

    fn node(&mut self, id: &str) -> &mut MeshNodeData {
        self.nodes.entry(id.to_string()).or_default()
    }

    fn edge(&mut self, from: &str, to: &str) {
        self.edges.insert((from.into(), to.into()));
    }
}

/// The mesh graph: a box per cluster (every known cluster; an unreachable one says so), a box
/// per namespace holding infrastructure, istiod nodes with revision, version and health, a
/// "Data Plane" node per managed cluster and revision listing its namespaces, this console and
/// the metrics store (in the cluster and namespace of its Service, else in the
/// `External Deployments` box) with its reachability.
pub fn mesh_graph(input: &MeshInput, timestamp: i64) -> MeshGraph {
    let mut b = Builder::default();
    let mut cluster_boxes: BTreeMap<String, MeshNodeData> = BTreeMap::new();
    for c in &input.clusters {
        let name = &c.cluster.name;
        cluster_boxes.insert(
            name.clone(),
            MeshNodeData {
                id: hash(&format!("box_{name}")),
                cluster: name.clone(),
                infra_name: name.clone(),
                infra_type: "cluster".into(),
                node_type: "box".into(),
                health_data: Some(
                    if c.cluster.accessible {
                        "Healthy"
                    } else {
                        "Unreachable"
                    }
                    .into(),
                ),
                infra_data: serde_json::to_value(&c.cluster).unwrap_or(Value::Null),
                is_box: "cluster".into(),
                is_inaccessible: !c.cluster.accessible,
                ..Default::default()
            },
        );
    }
    for (name, by) in clusters_without_secret(input) {
        let cluster = KubeCluster {
            name: name.clone(),
            missing_remote_secret: true,
            error: Some(format!(
                "no remote cluster secret for {name}: the Istio namespace of {by} names it in {CONTROL_PLANE_CLUSTERS}, so the console cannot read it"
            )),
            ..Default::default()
        };
        cluster_boxes.insert(
            name.clone(),
            MeshNodeData {
                id: hash(&format!("box_{name}")),
                cluster: name.clone(),
                infra_name: name.clone(),
                infra_type: "cluster".into(),
                node_type: "box".into(),
                health_data: Some("Unreachable".into()),
                infra_data: serde_json::to_value(&cluster).unwrap_or(Value::Null),
                is_box: "cluster".into(),
                is_inaccessible: true,
                ..Default::default()
            },
        );
    }
    let cps = control_planes(input);
    let mut istiods_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut data_planes: BTreeMap<String, BTreeMap<String, MeshNamespace>> = BTreeMap::new();
    for cp in &cps {
        let id = b.infra(
            "istiod",
            &cp.cluster.name,
            &cp.istiod_namespace,
            &cp.istiod_name,
            &cp.version.version,
        );
        let n = b.node(&id);
        n.health_data = Some(cp.status.clone());
        n.infra_data = json!({
            "config": cp.config,
            "revision": cp.revision,
            "managedClusters": cp.managed_clusters.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
        });
        istiods_of
            .entry(cp.cluster.name.clone())
            .or_default()
            .push(id.clone());
        let mut by_cluster: BTreeMap<&str, Vec<&MeshNamespace>> = BTreeMap::new();
        for ns in &cp.managed_namespaces {
            by_cluster.entry(ns.cluster.as_str()).or_default().push(ns);
        }
        for (cluster, namespaces) in by_cluster {
            let dp = b.infra("dataplane", cluster, "", "Data Plane", &cp.revision);
            let listed = data_planes.entry(dp.clone()).or_default();
            for ns in namespaces {
                listed.insert(ns.name.clone(), ns.clone());
            }
            b.edge(&id, &dp);
        }
    }
    for (id, namespaces) in data_planes {
        let list: Vec<&MeshNamespace> = namespaces.values().collect();
        b.node(&id).infra_data = serde_json::to_value(list).unwrap_or(Value::Null);
    }
    if let Some((home, ki)) = &input.kiali {
        let kiali = b.infra("kiali", home, &ki.namespace, &ki.service_name, &ki.version);
        b.node(&kiali).infra_data =
            json!({"IstioAPIEnabled": true, "RootNamespace": input.istio_namespace});
        for istiod in istiods_of.get(home).into_iter().flatten() {
            b.edge(&kiali, istiod);
        }
        // Kiali's external services, each where its in-cluster URL places it.
        let stores = [
            ("metricStore", "Prometheus", input.metric_store.as_ref()),
            (
                "traceStore",
                input.trace_store.as_ref().map_or("", |t| t.0.as_str()),
                input.trace_store.as_ref().map(|t| &t.1),
            ),
            ("grafana", "Grafana", input.grafana.as_ref()),
        ];
        let mut any_external = false;
        for (kind, name, p) in stores {
            let Some(p) = p else { continue };
            let (cluster, ns, external) = match &p.location {
                Some((c, n)) => (c.as_str(), n.as_str(), false),
                None => (EXTERNAL, "", true),
            };
            let id = b.infra(kind, cluster, ns, name, "");
            let n = b.node(&id);
            n.health_data = Some(if p.healthy { "Healthy" } else { "Unreachable" }.into());
            n.infra_data = p.info.clone();
            n.is_external = external;
            n.is_inaccessible = external;
            b.edge(&kiali, &id);
            any_external |= external;
        }
        if any_external {
            cluster_boxes.insert(
                EXTERNAL.into(),
                MeshNodeData {
                    id: hash(&format!("box_{EXTERNAL}")),
                    cluster: EXTERNAL.into(),
                    infra_name: "External Deployments".into(),
                    infra_type: "cluster".into(),
                    node_type: "box".into(),
                    health_data: Some("Healthy".into()),
                    is_box: "cluster".into(),
                    is_external: true,
                    is_inaccessible: true,
                    ..Default::default()
                },
            );
        }
    }
    // Namespace boxes (inner), then each node into its cluster's box.
    let mut ns_boxes: BTreeMap<(String, String), MeshNodeData> = BTreeMap::new();
    for n in b.nodes.values_mut() {
        if n.namespace.is_empty() {
            continue;
        }
        let bx = ns_boxes
            .entry((n.cluster.clone(), n.namespace.clone()))
            .or_insert_with(|| MeshNodeData {
                id: hash(&format!("box_{}_{}", n.cluster, n.namespace)),
                cluster: n.cluster.clone(),
                infra_name: n.namespace.clone(),
                infra_type: "namespace".into(),
                namespace: n.namespace.clone(),
                node_type: "box".into(),
                health_data: None,
                is_box: "namespace".into(),
                ..Default::default()
            });
        n.parent = bx.id.clone();
    }
    let mut nodes: Vec<MeshNodeData> = b.nodes.into_values().collect();
    nodes.extend(ns_boxes.into_values());
    for n in nodes.iter_mut().filter(|n| n.parent.is_empty()) {
        if let Some(cb) = cluster_boxes.get(&n.cluster) {
            n.parent = cb.id.clone();
        }
    }
    nodes.extend(cluster_boxes.into_values());
    let rank = |n: &MeshNodeData| match n.is_box.as_str() {
        "cluster" => 0,
        "namespace" => 1,
        _ => 2,
    };
    nodes.sort_by(|a, b| {
        (rank(a), &a.cluster, &a.namespace, &a.id).cmp(&(rank(b), &b.cluster, &b.namespace, &b.id))
    });
    let edges = b
        .edges
        .into_iter()
        .map(|(s, t)| Wrapped {
            data: MeshEdgeData {
                id: hash(&format!("{s}.{t}")),
                source: s,
                target: t,
            },
        })
        .collect();
    MeshGraph {
        elements: MeshElements {
            nodes: nodes.into_iter().map(|data| Wrapped { data }).collect(),
            edges,
        },
        mesh_names: Vec::new(),
        timestamp,
    }
}

#[cfg(test)]
#[path = "mesh_tests.rs"]
mod tests;
