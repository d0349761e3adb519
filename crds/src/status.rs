//! `status` of the Kiali CR: Kiali's fields (conditions Running/Successful/Failure, deployment,
//! environment, progress) plus what GitOps tools read without custom rules (observedGeneration, Ready).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition types. Argo CD's Kiali health check walks them in order; kstatus reads `Ready`.
pub const CONDITION_RUNNING: &str = "Running";
pub const CONDITION_SUCCESSFUL: &str = "Successful";
pub const CONDITION_FAILURE: &str = "Failure";
pub const CONDITION_READY: &str = "Ready";

/// Condition reasons (Kiali's words).
pub const REASON_RUNNING: &str = "Running";
pub const REASON_SUCCESSFUL: &str = "Successful";
pub const REASON_FAILED: &str = "Failed";

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KialiStatus {
    // Every field has a default so a status written by another Kiali operator still reads.
    /// Kept as a map keyed by `type` so server-side apply merges entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvironmentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressStatus>,
    /// Spec fields accepted but not acted on by this version (dotted paths).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_fields: Vec<String>,
    /// Remote-cluster secrets found for the server, and whether each is mounted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_cluster_secrets: Vec<RemoteSecretStatus>,
    /// Remote mode: the `kubernetes.io/service-account-token` Secret a primary uses to read this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_token_secret: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// "True", "False" or "Unknown".
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
    /// RFC 3339; moves only when `status` flips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct DeploymentStatus {
    pub instance_name: String,
    pub namespace: String,
    pub remote_cluster_resources_only: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentStatus {
    #[serde(default)]
    pub is_kubernetes: bool,
    #[serde(default)]
    pub kubernetes_version: String,
    #[serde(default)]
    pub operator_version: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ProgressStatus {
    pub message: String,
    /// Wall time of the last reconcile, e.g. "0.123s".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct RemoteSecretStatus {
    pub name: String,
    /// Cluster names (data keys) the secret provides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    pub mounted: bool,
    /// Why the secret is left out (never its contents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl KialiStatus {
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// True when `Successful` is True for `generation` (what `kubectl wait` should mean).
    pub fn is_successful_for(&self, generation: Option<i64>) -> bool {
        self.condition(CONDITION_SUCCESSFUL)
            .is_some_and(|c| c.status == "True" && c.observed_generation == generation)
    }
}
