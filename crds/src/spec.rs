//! `kiali.io/v1alpha1` `Kiali`: the spec exactly as users write it (Kiali's snake_case keys).
//!
//! Every field is optional, because Kiali treats an absent field and an empty string as "use the
//! default"; defaults are filled in by [`crate::config::Config::from_spec`], never stored on the CR, so a
//! GitOps tool sees the object it applied. Typed fields carry Kiali's enums and limits; unknown keys are
//! kept (see [`crate::schema`]) and reported in `status.ignoredFields`.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::schema::{free_object, free_object_list, free_value, preserve_unknown};
use crate::status::KialiStatus;

/// Unknown keys of a modelled object, kept so nothing a user wrote is dropped.
pub type Extra = BTreeMap<String, Value>;

/// CEL: `deployment.instance_name` (default `kiali`) never changes.
const RULE_INSTANCE_NAME: &str = "(has(self.deployment) && has(self.deployment.instance_name) && self.deployment.instance_name != '' ? self.deployment.instance_name : 'kiali') == (has(oldSelf.deployment) && has(oldSelf.deployment.instance_name) && oldSelf.deployment.instance_name != '' ? oldSelf.deployment.instance_name : 'kiali')";
/// CEL: `deployment.namespace` may not change from one namespace to another. CEL cannot see the
/// CR's `metadata.namespace`, which "" stands for, so "" ↔ a namespace passes here: writing the
/// namespace the CR already has is no change, and the operator's validate stage refuses (with
/// `Failure`) an effective value that differs from `status.deployment.namespace`.
const RULE_NAMESPACE: &str = "(has(self.deployment) && has(self.deployment.__namespace__) ? self.deployment.__namespace__ : '') == (has(oldSelf.deployment) && has(oldSelf.deployment.__namespace__) ? oldSelf.deployment.__namespace__ : '') || (has(self.deployment) && has(self.deployment.__namespace__) ? self.deployment.__namespace__ : '') == '' || (has(oldSelf.deployment) && has(oldSelf.deployment.__namespace__) ? oldSelf.deployment.__namespace__ : '') == ''";
/// CEL: `deployment.remote_cluster_resources_only` (default false) never changes.
const RULE_REMOTE_ONLY: &str = "(has(self.deployment) && has(self.deployment.remote_cluster_resources_only) ? self.deployment.remote_cluster_resources_only : false) == (has(oldSelf.deployment) && has(oldSelf.deployment.remote_cluster_resources_only) ? oldSelf.deployment.remote_cluster_resources_only : false)";

/// The Kiali custom resource: configures a console on a primary cluster, or only the credentials a
/// primary needs to read this cluster (`deployment.remote_cluster_resources_only: true`).
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "kiali.io",
    version = "v1alpha1",
    kind = "Kiali",
    plural = "kialis",
    namespaced,
    status = "KialiStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "A Kiali-compatible console installation, reconciled by meshglass-operator.",
    printcolumn = r#"{"name": "Instance", "type": "string", "jsonPath": ".status.deployment.instanceName"}"#,
    printcolumn = r#"{"name": "Namespace", "type": "string", "jsonPath": ".status.deployment.namespace"}"#,
    printcolumn = r#"{"name": "Remote", "type": "boolean", "jsonPath": ".status.deployment.remoteClusterResourcesOnly"}"#,
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = Rule::new(RULE_INSTANCE_NAME).message("deployment.instance_name is immutable: delete and recreate the Kiali CR to change it").reason(Reason::FieldValueForbidden))]
#[x_kube(validation = Rule::new(RULE_NAMESPACE).message("deployment.namespace is immutable (it may be written, not changed): delete and recreate the Kiali CR to change it").reason(Reason::FieldValueForbidden))]
#[x_kube(validation = Rule::new(RULE_REMOTE_ONLY).message("deployment.remote_cluster_resources_only is immutable: delete and recreate the Kiali CR to change it").reason(Reason::FieldValueForbidden))]
pub struct KialiSpec {
    /// Kiali version label ("default" when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Namespace of the Istio control plane ("" → the deployment namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub istio_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_services: Option<ExternalServicesSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_config: Option<KubernetesConfigSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clustering: Option<ClusteringSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_config: Option<HealthConfigSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub istio_labels: Option<IstioLabelsSpec>,
    /// Kiali sections accepted as written and passed to the server configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object_list")]
    pub additional_display_details: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object_list")]
    pub custom_dashboards: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub identity: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub kiali_feature_flags: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub login_token: Option<Value>,
    /// Keys this version does not model; kept and reported, never rejected.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `auth.strategy`; "" means the default (`token`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AuthStrategy {
    #[default]
    #[serde(rename = "")]
    Unset,
    #[serde(rename = "anonymous")]
    Anonymous,
    #[serde(rename = "token")]
    Token,
    #[serde(rename = "openid")]
    Openid,
    #[serde(rename = "header")]
    Header,
    #[serde(rename = "openshift")]
    Openshift,
}

impl AuthStrategy {
    /// Kiali's spelling, with "" resolved to the default.
    pub fn effective(self) -> &'static str {
        match self {
            AuthStrategy::Unset | AuthStrategy::Token => "token",
            AuthStrategy::Anonymous => "anonymous",
            AuthStrategy::Openid => "openid",
            AuthStrategy::Header => "header",
            AuthStrategy::Openshift => "openshift",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct AuthSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<AuthStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub openid: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub openshift: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `deployment.image_pull_policy`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ImagePullPolicy {
    Always,
    IfNotPresent,
    Never,
}

/// `deployment.service_type`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ServiceType {
    ClusterIP,
    NodePort,
    LoadBalancer,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct LoggerSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct DeploymentSpec {
    /// Prefix of every object name; a DNS label of at most 40 characters. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 40),
        regex(pattern = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$")
    )]
    pub instance_name: Option<String>,
    /// Namespace of the server ("" → the CR's namespace). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub namespace: Option<String>,
    /// Only create what a primary needs to read this cluster. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_cluster_resources_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_only_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_wide_access: Option<bool>,
    /// `{default: [LabelSelector...], overrides: {...}}`; selects namespaces when cluster-wide access is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub discovery_selectors: Option<Value>,
    /// Kiali 1.x namespace list; `**` means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessible_namespaces: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<ImagePullPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub resources: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub affinity: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object_list")]
    pub tolerations: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<ServiceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<LoggerSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub ingress: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub hpa: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct ExternalServicesSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub grafana: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub tracing: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub istio: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub custom_dashboards: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `external_services.prometheus.auth.type`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrometheusAuthType {
    None,
    Basic,
    Bearer,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct PrometheusAuthSpec {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<PrometheusAuthType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_kiali_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct ThanosProxySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct PrometheusSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// "" → `http://prometheus.<deployment.namespace>:9090`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<PrometheusAuthSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_scope: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thanos_proxy: Option<ThanosProxySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_value")]
    pub cache_duration: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_value")]
    pub cache_expiration: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_core: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct KubernetesConfigSpec {
    /// "" → autodetect from istiod, else `Kubernetes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qps: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_duration: Option<i64>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct AutodetectSecretsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `key=value` label selecting remote-cluster secrets (default `kiali.io/multiCluster=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct ClusterSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessible: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct ClusteringSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autodetect_secrets: Option<AutodetectSecretsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<ClusterSpec>>,
    /// Accept remote-cluster kubeconfigs whose user runs an exec credential plugin (Kiali's
    /// `clustering.enable_exec_provider`, default false: such kubeconfigs are refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_exec_provider: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_home_cluster: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object_list")]
    pub kiali_urls: Option<Vec<Value>>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct MetricsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct ObservabilitySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_object")]
    pub tracing: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct ServerSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// URL path prefix (default `/kiali`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_fqdn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_value")]
    pub web_port: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability: Option<ObservabilitySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_allow_all: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gzip_enabled: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct ToleranceSpec {
    /// Status code regex; `X` stands for any digit (`5XX`), `-` for no response.
    #[serde(default)]
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub degraded: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub failure: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct RateSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub tolerance: Vec<ToleranceSpec>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct HealthConfigSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Vec<RateSpec>>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(transform = preserve_unknown)]
pub struct IstioLabelsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_label_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_label_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injection_label_name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}
