//! Kiali's REST model types, written here from the facts of Kiali's Go models (`models/*.go`,
//! `graph/config/cytoscape/cytoscape.go`, `handlers/config.go`, `handlers/authentication.go`):
//! a required field is non-`Option` (a Kiali client reads it; it has no `omitempty`), an
//! `omitempty` field is `Option`, and every struct whose Kiali model is closed denies unknown
//! fields — so a response decodes only if it has every field Kiali's clients read, with Kiali's
//! type, and no misspelled one. Fields that are ours alone (BEYOND Kiali: multi-cluster
//! aggregation) are named as such; `docs/kiali-compatibility.md` lists them.

#![allow(dead_code)]

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

pub type Labels = BTreeMap<String, String>;

/// `missingClusters` (BEYOND): clusters a response lacks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingCluster {
    pub name: String,
    pub error: String,
}

/// `schema.GroupVersionKind` (no JSON tags in Go: capitalised names).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gvk {
    #[serde(rename = "Group")]
    pub group: String,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Kind")]
    pub kind: String,
}

// ---- status, auth, config ----

/// `handlers.StatusInfo` (`/api/status`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StatusInfo {
    pub status: BTreeMap<String, String>,
    pub external_services: Vec<ExternalServiceInfo>,
    pub warning_messages: Vec<String>,
    pub istio_environment: Option<IstioEnvironment>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalServiceInfo {
    pub name: String,
    pub version: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioEnvironment {
    pub is_maistra: bool,
    #[serde(rename = "istioAPIEnabled")]
    pub istio_api_enabled: bool,
}

/// `AuthInfo` (`/api/auth/info`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthInfo {
    pub strategy: String,
    pub authorization_endpoint: Option<String>,
    pub logout_endpoint: Option<String>,
    pub logout_redirect: Option<String>,
    pub session_info: SessionInfo,
    /// BEYOND Kiali: the CSRF token that state-changing requests send back (`X-CSRF-Token`).
    pub csrf_token: Option<String>,
    /// BEYOND Kiali: every cluster's login state, by name.
    pub clusters: Option<BTreeMap<String, Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionInfo {
    pub username: Option<String>,
    pub expires_on: Option<String>,
    pub keep_alive_minutes: Option<i64>,
}

/// `handlers.PublicConfig` (`/api/config`): every field `omitempty` but `istioConfigMap`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublicConfig {
    pub auth_strategy: Option<String>,
    pub ambient_enabled: Option<bool>,
    pub clusters: Option<BTreeMap<String, KubeCluster>>,
    pub cluster_wide_access: Option<bool>,
    pub deployment: Option<DeploymentConfig>,
    #[serde(rename = "gatewayAPIClasses")]
    pub gateway_api_classes: Option<Vec<Value>>,
    #[serde(rename = "gatewayAPIEnabled")]
    pub gateway_api_enabled: Option<bool>,
    pub health_config: Option<HealthConfig>,
    pub installation_tag: Option<String>,
    pub istio_annotations: Option<Value>,
    pub istio_config_map: String,
    pub istio_identity_domain: Option<String>,
    pub istio_labels: Option<IstioLabels>,
    pub istio_namespace: Option<String>,
    pub istio_status_enabled: Option<bool>,
    pub kiali_feature_flags: Option<Value>,
    pub log_level: Option<String>,
    pub prometheus: Option<PrometheusConfig>,
    /// BEYOND: `server.web_root`, and the home cluster's name.
    pub web_root: Option<String>,
    pub cluster_name: Option<String>,
}

/// `models.KubeCluster`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeCluster {
    pub accessible: bool,
    pub api_endpoint: String,
    pub is_kiali_home: bool,
    pub kiali_instances: Vec<Value>,
    pub name: String,
    pub network: String,
    pub secret_name: String,
    /// BEYOND: why a cluster is not accessible.
    pub error: Option<String>,
    /// BEYOND: optional Istio kinds this cluster's watch may not read (the rest is served).
    pub degraded_kinds: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeploymentConfig {
    pub view_only_mode: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthConfig {
    pub rate: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioLabels {
    pub app_label_name: String,
    pub version_label_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PrometheusConfig {
    pub global_scrape_interval: Option<i64>,
    pub storage_tsdb_retention: Option<i64>,
}

// ---- namespaces ----

/// `models.Namespace`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Namespace {
    pub name: String,
    pub cluster: String,
    pub is_ambient: bool,
    pub is_control_plane: bool,
    pub labels: Labels,
    pub annotations: Labels,
    pub revision: Option<String>,
}

/// The `namespace` of an app's details: Kiali's `Namespace`, of which we send the name and
/// cluster.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NamespaceRef {
    pub name: String,
    pub cluster: String,
    pub is_ambient: Option<bool>,
    pub is_control_plane: Option<bool>,
    pub labels: Option<Labels>,
    pub annotations: Option<Labels>,
    pub revision: Option<String>,
}

// ---- health ----

/// `models.RequestHealth`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequestHealth {
    pub inbound: BTreeMap<String, BTreeMap<String, f64>>,
    pub outbound: BTreeMap<String, BTreeMap<String, f64>>,
    pub health_annotations: Labels,
}

/// `models.WorkloadStatus`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadStatus {
    pub name: String,
    pub desired_replicas: i32,
    pub current_replicas: i32,
    pub available_replicas: i32,
    pub synced_proxies: i32,
}

/// BEYOND: the status the server computed (`status`, `errorRatio`), so clients need not.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComputedStatus {
    pub status: String,
    pub error_ratio: f64,
}

/// `models.AppHealth`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppHealth {
    pub workload_statuses: Vec<WorkloadStatus>,
    pub requests: RequestHealth,
    pub status: Option<ComputedStatus>,
}

/// `models.WorkloadHealth`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadHealth {
    pub workload_status: Option<WorkloadStatus>,
    pub requests: RequestHealth,
    pub status: Option<ComputedStatus>,
}

/// `models.ServiceHealth`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceHealth {
    pub requests: RequestHealth,
    pub status: Option<ComputedStatus>,
}

/// `models.ClustersNamespaceHealth` (`/api/clusters/health`), with `missingClusters`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClustersNamespaceHealth {
    pub namespace_app_health: Option<BTreeMap<String, BTreeMap<String, AppHealth>>>,
    pub namespace_service_health: Option<BTreeMap<String, BTreeMap<String, ServiceHealth>>>,
    pub namespace_workload_health: Option<BTreeMap<String, BTreeMap<String, WorkloadHealth>>>,
    pub missing_clusters: Vec<MissingCluster>,
}

// ---- apps ----

/// `models.ClusterApps` (`/api/clusters/apps`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterApps {
    pub applications: Vec<AppListItem>,
    pub cluster: String,
    pub missing_clusters: Vec<MissingCluster>,
}

/// `models.AppListItem`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppListItem {
    pub name: String,
    pub namespace: String,
    pub cluster: String,
    pub istio_sidecar: bool,
    pub is_ambient: bool,
    pub is_gateway: bool,
    pub labels: Labels,
    pub istio_references: Vec<Value>,
    pub health: Option<AppHealth>,
}

/// `models.WorkloadItem` (a workload of an app's details).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadItem {
    pub workload_name: String,
    #[serde(rename = "workloadGVK")]
    pub workload_gvk: Gvk,
    pub istio_sidecar: bool,
    pub is_ambient: bool,
    pub labels: Labels,
    pub service_account_names: Vec<String>,
    /// BEYOND: the workload's cluster.
    pub cluster: String,
}

/// `models.App` (`/api/namespaces/{ns}/apps/{app}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct App {
    pub namespace: NamespaceRef,
    pub name: String,
    pub cluster: String,
    pub is_ambient: bool,
    pub workloads: Vec<WorkloadItem>,
    pub service_names: Vec<String>,
    pub runtimes: Vec<Value>,
    /// Kiali always sends it; filled with `health=true` (absent otherwise, see the docs).
    pub health: Option<AppHealth>,
    /// BEYOND: every cluster holding the app, and the clusters the answer lacks.
    pub clusters: Vec<String>,
    pub missing_clusters: Vec<MissingCluster>,
}

// ---- workloads ----

/// `models.ClusterWorkloads` (`/api/clusters/workloads`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterWorkloads {
    pub cluster: String,
    pub workloads: Vec<WorkloadListItem>,
    pub validations: Value,
    pub missing_clusters: Vec<MissingCluster>,
}

/// `models.WorkloadListItem`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadListItem {
    pub name: String,
    pub namespace: String,
    pub ambient: String,
    pub cluster: String,
    pub gvk: Gvk,
    pub created_at: String,
    pub resource_version: String,
    pub istio_injection_annotation: Option<bool>,
    pub istio_sidecar: bool,
    pub is_ambient: bool,
    pub is_gateway: bool,
    pub additional_detail_sample: Option<Value>,
    pub labels: Labels,
    pub app_label: bool,
    pub version_label: bool,
    pub pod_count: i64,
    pub annotations: Labels,
    pub health_annotations: Labels,
    pub istio_references: Vec<Value>,
    pub dashboard_annotations: Labels,
    pub service_account_names: Vec<String>,
    pub template_annotations: Option<Labels>,
    pub template_labels: Option<Labels>,
    pub health: Option<WorkloadHealth>,
    pub waypoint_workloads: Vec<Value>,
}

/// `models.Workload` (`/api/namespaces/{ns}/workloads/{name}`): the list item's fields and the
/// details' (Go embeds one in the other; flatten cannot deny unknown fields, so both are here).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Workload {
    pub name: String,
    pub namespace: String,
    pub ambient: String,
    pub cluster: String,
    pub gvk: Gvk,
    pub created_at: String,
    pub resource_version: String,
    pub istio_injection_annotation: Option<bool>,
    pub istio_sidecar: bool,
    pub is_ambient: bool,
    pub is_gateway: bool,
    pub additional_detail_sample: Option<Value>,
    pub labels: Labels,
    pub app_label: bool,
    pub version_label: bool,
    pub pod_count: i64,
    pub annotations: Labels,
    pub health_annotations: Labels,
    pub istio_references: Vec<Value>,
    pub dashboard_annotations: Labels,
    pub service_account_names: Vec<String>,
    pub template_annotations: Option<Labels>,
    pub template_labels: Option<Labels>,
    pub desired_replicas: i32,
    pub current_replicas: i32,
    pub available_replicas: i32,
    pub pods: Vec<Pod>,
    pub services: Vec<ServiceOverview>,
    pub runtimes: Vec<Value>,
    pub additional_details: Vec<Value>,
    pub validations: Value,
    pub waypoint_workloads: Vec<Value>,
    pub health: Option<WorkloadHealth>,
    /// BEYOND: the workload in each cluster, their clusters, the clusters the answer lacks.
    pub instances: Option<Vec<Workload>>,
    pub clusters: Option<Vec<String>>,
    pub missing_clusters: Option<Vec<MissingCluster>>,
}

/// `models.Pod`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Pod {
    pub name: String,
    pub labels: Labels,
    pub created_at: String,
    pub created_by: Vec<Reference>,
    pub containers: Vec<ContainerInfo>,
    pub istio_containers: Vec<ContainerInfo>,
    pub istio_init_containers: Vec<ContainerInfo>,
    pub status: String,
    pub status_message: String,
    pub status_reason: String,
    pub app_label: bool,
    pub version_label: bool,
    pub annotations: Labels,
    pub proxy_status: Option<Value>,
    pub service_account_name: String,
    /// BEYOND: the pod's cluster and node.
    pub cluster: String,
    pub node_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerInfo {
    pub name: String,
    pub image: String,
    pub is_proxy: bool,
    pub is_ready: bool,
    pub is_ambient: bool,
}

// ---- services ----

/// `models.ClusterServices` (`/api/clusters/services`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterServices {
    pub cluster: String,
    pub services: Vec<ServiceOverview>,
    pub validations: Value,
    pub missing_clusters: Vec<MissingCluster>,
}

/// `models.ServiceOverview`: `ports` maps port names to numbers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceOverview {
    pub name: String,
    pub namespace: String,
    pub istio_sidecar: bool,
    pub cluster: String,
    pub is_ambient: bool,
    pub app_label: bool,
    pub additional_detail_sample: Option<Value>,
    pub annotations: Labels,
    pub health_annotations: Labels,
    pub ports: BTreeMap<String, i64>,
    pub labels: Labels,
    pub selector: Labels,
    pub istio_references: Vec<Value>,
    pub kiali_wizard: String,
    pub service_registry: String,
    pub health: Option<ServiceHealth>,
}

/// `models.Service`: `ports` a list of `models.Port`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Service {
    pub additional_details: Vec<Value>,
    pub annotations: Labels,
    pub cluster: String,
    pub created_at: String,
    pub external_name: String,
    pub health_annotations: Labels,
    pub ip: String,
    pub ips: Option<Vec<String>>,
    pub ip_families: Option<Vec<String>>,
    pub labels: Labels,
    pub name: String,
    pub namespace: String,
    pub ports: Vec<Port>,
    pub resource_version: String,
    pub selectors: Labels,
    #[serde(rename = "type")]
    pub service_type: String,
}

/// `models.Port`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Port {
    pub name: String,
    pub protocol: String,
    pub port: i32,
    pub app_protocol: Option<String>,
}

/// `models.Endpoint`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub addresses: Vec<Address>,
    pub ports: Vec<Port>,
}

/// `models.Address`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub kind: String,
    pub name: String,
    pub ip: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcePermissions {
    pub create: bool,
    pub update: bool,
    pub delete: bool,
}

/// `models.ServiceDetails` (`/api/namespaces/{ns}/services/{name}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceDetails {
    pub destination_rules: Vec<IstioObject>,
    pub endpoints: Vec<Endpoint>,
    pub istio_permissions: ResourcePermissions,
    pub is_ambient: bool,
    pub istio_sidecar: bool,
    #[serde(rename = "k8sGRPCRoutes")]
    pub k8s_grpc_routes: Vec<Value>,
    #[serde(rename = "k8sHTTPRoutes")]
    pub k8s_http_routes: Vec<Value>,
    pub k8s_reference_grants: Vec<Value>,
    pub service: Service,
    pub service_entries: Vec<Value>,
    pub virtual_services: Vec<IstioObject>,
    pub workloads: Vec<WorkloadListItem>,
    pub health: Option<ServiceHealth>,
    #[serde(rename = "namespaceMTLS")]
    pub namespace_mtls: Option<Value>,
    pub sub_services: Vec<Value>,
    pub validations: Value,
    /// BEYOND: the instance's cluster, the service in each cluster, their clusters, and the
    /// clusters the answer lacks.
    pub cluster: String,
    pub instances: Option<Vec<ServiceDetails>>,
    pub clusters: Option<Vec<String>>,
    pub missing_clusters: Option<Vec<MissingCluster>>,
}

/// A Kubernetes object as Kiali sends Istio config: `metadata` and `spec` (kind and apiVersion
/// may be absent, as in Kiali's typed clients).
#[derive(Debug, Deserialize)]
pub struct IstioObject {
    pub metadata: ObjectMeta,
    pub spec: Value,
}

#[derive(Debug, Deserialize)]
pub struct ObjectMeta {
    pub name: String,
    pub namespace: String,
}

// ---- Istio config and validations ----

/// `models.IstioConfigList` (`/api/istio/config`): objects by `<group>/<version>, Kind=<kind>`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioConfigList {
    pub resources: BTreeMap<String, Vec<IstioObject>>,
    pub validations: Option<BTreeMap<String, BTreeMap<String, IstioValidation>>>,
    /// BEYOND: the cluster answered for, and the clusters the answer lacks.
    pub cluster: String,
    pub missing_clusters: Vec<MissingCluster>,
}

/// `models.IstioValidation`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioValidation {
    pub name: String,
    pub namespace: String,
    pub cluster: String,
    #[serde(rename = "objectGVK")]
    pub object_gvk: Gvk,
    pub valid: bool,
    pub checks: Vec<IstioCheck>,
    pub references: Vec<Value>,
}

/// `models.IstioConfigDetails` (`/api/namespaces/{ns}/istio/{group}/{version}/{kind}/{name}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioConfigDetails {
    pub namespace: NamespaceRef,
    pub gvk: Gvk,
    pub resource: IstioObject,
    pub permissions: ResourcePermissions,
    pub validation: Option<IstioValidation>,
    pub references: Option<IstioReferences>,
    pub help: Option<Vec<IstioConfigHelp>>,
    /// BEYOND: the cluster answered for, and the clusters the answer lacks.
    pub cluster: String,
    pub missing_clusters: Vec<MissingCluster>,
}

/// `models.IstioReferences`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioReferences {
    pub object_references: Vec<IstioValidationKey>,
    pub service_references: Vec<NamedReference>,
    pub workload_references: Vec<NamedReference>,
}

/// `models.IstioValidationKey`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IstioValidationKey {
    #[serde(rename = "objectGVK")]
    pub object_gvk: Gvk,
    pub name: String,
    pub namespace: String,
    pub cluster: String,
}

/// `models.ServiceReference` / `models.WorkloadReference` (BEYOND: `cluster`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedReference {
    pub name: String,
    pub namespace: String,
    pub cluster: String,
}

/// `models.IstioConfigHelp`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioConfigHelp {
    pub object_field: String,
    pub message: String,
}

/// `models.IstioCheck`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IstioCheck {
    pub code: String,
    pub message: String,
    pub severity: String,
    pub path: String,
}

/// `models.IstioValidationSummary`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioValidationSummary {
    pub errors: i64,
    pub object_count: i64,
    pub warnings: i64,
}

// ---- graph ----

/// `cytoscape.Config` (`/api/namespaces/graph` and the node graphs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GraphConfig {
    pub timestamp: i64,
    pub duration: i64,
    pub graph_type: String,
    pub elements: Elements,
    /// BEYOND.
    pub missing_clusters: Vec<MissingCluster>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Elements {
    pub nodes: Vec<NodeWrapper>,
    pub edges: Vec<EdgeWrapper>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeWrapper {
    pub data: NodeData,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeWrapper {
    pub data: EdgeData,
}

/// `cytoscape.NodeData`: everything `omitempty` but `id`, `nodeType`, `cluster`, `namespace`
/// and `healthData` (present, possibly null).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeData {
    pub id: String,
    pub parent: Option<String>,
    pub node_type: String,
    pub cluster: String,
    pub namespace: String,
    pub workload: Option<String>,
    pub app: Option<String>,
    pub version: Option<String>,
    pub service: Option<String>,
    pub aggregate: Option<String>,
    pub dest_services: Option<Vec<ServiceName>>,
    pub labels: Option<Labels>,
    pub traffic: Option<Vec<ProtocolTraffic>>,
    pub health_data: Value,
    #[serde(rename = "hasCB")]
    pub has_cb: Option<bool>,
    pub has_fault_injection: Option<bool>,
    pub has_health_config: Option<Labels>,
    pub has_mirroring: Option<bool>,
    pub has_request_routing: Option<bool>,
    pub has_request_timeout: Option<bool>,
    #[serde(rename = "hasTCPTrafficShifting")]
    pub has_tcp_traffic_shifting: Option<bool>,
    pub has_traffic_shifting: Option<bool>,
    #[serde(rename = "hasVS")]
    pub has_vs: Option<VsInfo>,
    pub has_workload_entry: Option<Vec<Value>>,
    pub is_ambient: Option<bool>,
    pub is_box: Option<String>,
    pub is_dead: Option<bool>,
    pub is_extension: Option<Value>,
    pub is_gateway: Option<Value>,
    pub is_idle: Option<bool>,
    pub is_inaccessible: Option<bool>,
    /// A service node injected by `injectServiceNodes` (Kiali 2.23+).
    pub is_injected: Option<bool>,
    #[serde(rename = "isK8sGatewayAPI")]
    pub is_k8s_gateway_api: Option<bool>,
    pub is_out_of_mesh: Option<bool>,
    pub is_outside: Option<bool>,
    pub is_root: Option<bool>,
    pub is_service_entry: Option<SeInfo>,
    pub is_waypoint: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceName {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VsInfo {
    pub hostnames: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeInfo {
    pub hosts: Vec<String>,
    pub location: String,
    pub namespace: String,
}

/// `cytoscape.EdgeData`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EdgeData {
    pub id: String,
    pub source: String,
    pub target: String,
    pub dest_principal: Option<String>,
    #[serde(rename = "isMTLS")]
    pub is_mtls: Option<String>,
    pub response_time: Option<String>,
    pub source_principal: Option<String>,
    pub throughput: Option<String>,
    pub traffic: ProtocolTraffic,
    pub waypoint: Option<Value>,
}

/// `cytoscape.ProtocolTraffic`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolTraffic {
    pub protocol: Option<String>,
    pub rates: Option<BTreeMap<String, String>>,
    pub responses: Option<BTreeMap<String, ResponseDetail>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseDetail {
    pub flags: Option<BTreeMap<String, String>>,
    pub hosts: Option<BTreeMap<String, String>>,
}

// ---- metrics, dashboards, mTLS, pod logs ----

/// `models.MetricsMap` (`/api/namespaces/{ns}/metrics`, `…/{workloads,apps,services}/{name}/metrics`):
/// every metric's series under its name.
pub type MetricsMap = BTreeMap<String, Vec<Metric>>;

/// `models.Metric`: a series, its labels and `[timestamp, "value"]` datapoints (`stat` for a
/// quantile or `avg`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub labels: Labels,
    pub datapoints: Vec<(f64, String)>,
    pub stat: Option<String>,
    pub name: String,
}

/// `models.MonitoringDashboard` (`…/{workloads,apps,services}/{name}/dashboard`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MonitoringDashboard {
    pub name: String,
    pub title: String,
    pub charts: Vec<Chart>,
    pub aggregations: Vec<Aggregation>,
    pub external_links: Vec<Value>,
    pub rows: i64,
    /// BEYOND (every JSON object answer).
    pub missing_clusters: Vec<MissingCluster>,
}

/// `models.Chart`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Chart {
    pub name: String,
    pub unit: String,
    pub spans: i64,
    pub start_collapsed: bool,
    pub metrics: Vec<Metric>,
    pub error: Option<String>,
    pub x_axis: Option<String>,
    pub chart_type: Option<String>,
    pub row_spans: Option<i64>,
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// `models.Aggregation` of a dashboard.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Aggregation {
    pub label: String,
    pub display_name: String,
    pub single_selection: Option<bool>,
}

/// `models.MTLSStatus` (`/api/mesh/tls`; with `cluster` and `namespace`,
/// `/api/namespaces/{ns}/tls` and each entry of `/api/clusters/tls`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MtlsStatus {
    pub status: String,
    #[serde(rename = "autoMTLSEnabled")]
    pub auto_mtls_enabled: bool,
    #[serde(rename = "minTLS")]
    pub min_tls: String,
    pub cluster: Option<String>,
    pub namespace: Option<String>,
}

/// `models.PodLogs` (`/api/namespaces/{ns}/pods/{pod}/logs`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodLogs {
    pub entries: Option<Vec<LogEntry>>,
    pub lines_truncated: Option<bool>,
}

/// `models.LogEntry`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogEntry {
    pub message: String,
    pub severity: String,
    pub timestamp: String,
    pub timestamp_unix: i64,
    pub access_log: Option<Value>,
}
