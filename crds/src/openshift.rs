//! `auth.openshift`: the settings of the `openshift` strategy, typed from the free-form
//! `auth.openshift` of the config, and the names Kiali's OpenShift OAuth flow fixes.
//!
//! Kiali's keys: `redirect_uris` (the redirect URIs of the OAuthClient the operator writes; needed
//! in remote mode, where no server or Route tells the operator its URL), `token_inactivity_timeout`
//! and `token_max_age` (the OAuthClient's `accessTokenInactivityTimeoutSeconds` and
//! `accessTokenMaxAgeSeconds`), and `insecure_skip_verify_tls` (the server's requests to the OAuth
//! server). `auth_timeout` and `client_id_prefix` are deprecated in Kiali and not read here.
//!
//! BEYOND Kiali: `auth.openshift.clusters.<name>.discovery_url` names the OAuth discovery document
//! of cluster `<name>` when its API server does not serve `/.well-known/oauth-authorization-server`
//! itself (OpenShift's does; a plain kube-apiserver cannot — the test bed's emulation of OpenShift
//! uses it), and `auth.openshift.clusters.<name>.insecure_skip_verify_tls` overrides the default.
//!
//! The OAuth client is `<deployment.instance_name>-<deployment.namespace>` on every cluster
//! (Kiali: `kiali-istio-system`); the home cluster's login comes back to `/api/auth/callback`,
//! another cluster's to `/api/auth/callback/<cluster>` ([`callback_path`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::{Error, Result};

/// The scope the console asks of OpenShift's OAuth server (as Kiali: full access as the user).
pub const SCOPE: &str = "user:full";
/// OpenShift's own shortest accepted `accessTokenInactivityTimeoutSeconds` (0 disables it).
pub const MIN_INACTIVITY_SECONDS: i64 = 300;

/// The OAuthClient's (and so the `client_id`'s) name: `<instance>-<namespace>`.
pub fn oauth_client_name(instance: &str, namespace: &str) -> String {
    format!("{instance}-{namespace}")
}

/// The callback path (below the web root) of a login to `cluster`: `/api/auth/callback` for the
/// home cluster (`None`), `/api/auth/callback/<cluster>` for another one.
pub fn callback_path(cluster: Option<&str>) -> String {
    match cluster {
        None => "/api/auth/callback".to_string(),
        // Cluster names are DNS labels: nothing to escape.
        Some(c) => format!("/api/auth/callback/{c}"),
    }
}

/// What one cluster's OAuth server needs besides Kiali's shared keys.
#[derive(Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterOverride {
    /// The OAuth discovery document's URL; empty: `<API server>/.well-known/oauth-authorization-server`.
    pub discovery_url: String,
    pub insecure_skip_verify_tls: Option<bool>,
}

/// `auth.openshift`.
#[derive(Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct OpenShiftConfig {
    pub redirect_uris: Vec<String>,
    /// Seconds; `None`: OpenShift's default.
    pub token_inactivity_timeout: Option<i64>,
    /// Seconds; `None`: OpenShift's default.
    pub token_max_age: Option<i64>,
    pub insecure_skip_verify_tls: bool,
    pub clusters: BTreeMap<String, ClusterOverride>,
}

impl OpenShiftConfig {
    /// Parses `auth.openshift` (errors name the key and what would be valid).
    pub fn from_value(v: &Value) -> Result<OpenShiftConfig> {
        let c: OpenShiftConfig = match v {
            Value::Null => return Ok(OpenShiftConfig::default()),
            Value::Object(_) => serde_json::from_value(v.clone())
                .map_err(|e| Error::Config(format!("auth.openshift: {e}")))?,
            other => {
                return Err(Error::Config(format!(
                    "auth.openshift must be an object, not {other}"
                )));
            }
        };
        for (i, u) in c.redirect_uris.iter().enumerate() {
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                return Err(Error::Config(format!(
                    "auth.openshift.redirect_uris[{i}] {u:?} is not an http(s) URL"
                )));
            }
        }
        if let Some(t) = c.token_inactivity_timeout
            && t != 0
            && t < MIN_INACTIVITY_SECONDS
        {
            return Err(Error::Config(format!(
                "auth.openshift.token_inactivity_timeout {t} must be 0 (no timeout) or at least \
                 {MIN_INACTIVITY_SECONDS} seconds (OpenShift refuses shorter ones)"
            )));
        }
        if let Some(t) = c.token_max_age
            && t < 0
        {
            return Err(Error::Config(format!(
                "auth.openshift.token_max_age {t} must be 0 (no maximum) or a number of seconds"
            )));
        }
        for (name, o) in &c.clusters {
            let u = o.discovery_url.trim();
            if !u.is_empty() && !u.starts_with("https://") && !u.starts_with("http://") {
                return Err(Error::Config(format!(
                    "auth.openshift.clusters.{name}.discovery_url {u:?} is not an http(s) URL"
                )));
            }
        }
        Ok(c)
    }

    /// The discovery document's URL for `cluster`, whose API server is at `api_server`.
    pub fn discovery_url(&self, cluster: &str, api_server: &str) -> String {
        match self.clusters.get(cluster).map(|o| o.discovery_url.trim()) {
            Some(u) if !u.is_empty() => u.to_string(),
            _ => format!(
                "{}/.well-known/oauth-authorization-server",
                api_server.trim_end_matches('/')
            ),
        }
    }

    /// Whether the server skips TLS verification towards `cluster`'s OAuth server.
    pub fn insecure(&self, cluster: &str) -> bool {
        self.clusters
            .get(cluster)
            .and_then(|o| o.insecure_skip_verify_tls)
            .unwrap_or(self.insecure_skip_verify_tls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kiali_keys_and_the_names_the_flow_fixes() {
        let c = OpenShiftConfig::from_value(&json!({
            "redirect_uris": ["https://kiali-istio-system.apps.east/api/auth/callback/cluster2"],
            "token_inactivity_timeout": 600, "token_max_age": 0,
        }))
        .unwrap();
        assert_eq!(c.redirect_uris.len(), 1);
        assert_eq!(c.token_inactivity_timeout, Some(600));
        assert_eq!(c.token_max_age, Some(0));
        assert!(!c.insecure("west"));
        assert_eq!(
            OpenShiftConfig::from_value(&Value::Null).unwrap(),
            OpenShiftConfig::default()
        );
        assert_eq!(
            oauth_client_name("kiali", "istio-system"),
            "kiali-istio-system"
        );
        assert_eq!(callback_path(None), "/api/auth/callback");
        assert_eq!(callback_path(Some("west")), "/api/auth/callback/west");
    }

    #[test]
    fn discovery_is_the_api_servers_unless_a_cluster_names_its_own() {
        let c = OpenShiftConfig::from_value(&json!({
            "insecure_skip_verify_tls": true,
            "clusters": {"west": {"discovery_url": "https://oauth.west/.well-known/oauth-authorization-server",
                                  "insecure_skip_verify_tls": false}},
        }))
        .unwrap();
        assert_eq!(
            c.discovery_url("east", "https://api.east:6443/"),
            "https://api.east:6443/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            c.discovery_url("west", "https://api.west:6443"),
            "https://oauth.west/.well-known/oauth-authorization-server"
        );
        assert!(c.insecure("east"));
        assert!(!c.insecure("west"));
    }

    #[test]
    fn bad_settings_name_the_key() {
        for (v, key) in [
            (
                json!({"redirect_uris": ["kiali/cb"]}),
                "auth.openshift.redirect_uris[0]",
            ),
            (json!({"redirect_uris": "https://x"}), "auth.openshift"),
            (
                json!({"token_inactivity_timeout": 30}),
                "auth.openshift.token_inactivity_timeout",
            ),
            (json!({"token_max_age": -1}), "auth.openshift.token_max_age"),
            (
                json!({"clusters": {"west": {"discovery_url": "oauth.west"}}}),
                "auth.openshift.clusters.west.discovery_url",
            ),
            (
                json!({"clusters": {"west": {"issuer": "x"}}}),
                "auth.openshift",
            ),
            (json!(3), "auth.openshift"),
        ] {
            let e = OpenShiftConfig::from_value(&v).unwrap_err().to_string();
            assert!(e.contains(key), "{v}: {e}");
        }
    }
}
