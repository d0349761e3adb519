//! `auth` of an external service (`external_services.prometheus.auth`, `.tracing.auth`): one
//! model, in a module of its own so that the config and the tracing settings both read it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Unknown keys kept through a round trip.
pub type Extra = BTreeMap<String, Value>;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct PrometheusAuth {
    /// none | basic | bearer
    #[serde(rename = "type")]
    pub auth_type: String,
    /// Send the server's own ServiceAccount token as the bearer token.
    pub use_kiali_token: bool,
    pub username: String,
    pub password: String,
    pub token: String,
    pub ca_file: String,
    pub insecure_skip_verify: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for PrometheusAuth {
    fn default() -> Self {
        PrometheusAuth {
            auth_type: "none".into(),
            use_kiali_token: false,
            username: String::new(),
            password: String::new(),
            token: String::new(),
            ca_file: String::new(),
            insecure_skip_verify: false,
            extra: Extra::new(),
        }
    }
}
