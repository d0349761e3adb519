//! `auth.openid`: the OpenID Connect provider(s) of the `openid` strategy, typed from the
//! free-form `auth.openid` of the config.
//!
//! Kiali's keys (`client_id`, `issuer_uri`, `authorization_endpoint`, `scopes`, `username_claim`,
//! `additional_request_params`, `allowed_domains`, `insecure_skip_verify_tls`) describe one
//! provider, used for every cluster. BEYOND Kiali: `auth.openid.clusters.<name>`
//! holds the keys that differ for cluster `<name>` (another issuer, another client), so each
//! cluster may trust its own provider; a user logs in to each cluster on its own.
//! `disable_rbac` is not read: what a user sees is always what each cluster lets them see.
//!
//! The client secret is not read from here: it comes from Secret `<instance>` key `oidc-secret`,
//! as Kiali reads it ([`CLIENT_SECRET_DIR`]); `oidc-secret-<cluster>` overrides it per cluster.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::{Error, Result};

/// Where Secret `<instance>` (key `oidc-secret`: the OpenID client secret) is mounted.
pub const CLIENT_SECRET_DIR: &str = "/kiali-secret";
/// The key of the client secret in that Secret.
pub const CLIENT_SECRET_KEY: &str = "oidc-secret";

/// One provider as a cluster sees it.
#[derive(Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct OpenIdProvider {
    pub client_id: String,
    pub issuer_uri: String,
    /// Overrides the discovered authorization endpoint.
    pub authorization_endpoint: String,
    pub scopes: Vec<String>,
    pub username_claim: String,
    pub additional_request_params: BTreeMap<String, String>,
    /// When set, the ID token's `hd` (else `email`) claim must name one of these domains.
    pub allowed_domains: Vec<String>,
    pub insecure_skip_verify_tls: bool,
}

impl Default for OpenIdProvider {
    fn default() -> Self {
        OpenIdProvider {
            client_id: String::new(),
            issuer_uri: String::new(),
            authorization_endpoint: String::new(),
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            username_claim: "sub".into(),
            additional_request_params: BTreeMap::new(),
            allowed_domains: Vec::new(),
            insecure_skip_verify_tls: false,
        }
    }
}

/// `auth.openid`, with its per-cluster overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenIdConfig {
    /// Kiali's keys: every cluster's provider unless overridden.
    pub default: OpenIdProvider,
    /// `auth.openid.clusters.<name>`, merged over the default.
    pub clusters: BTreeMap<String, OpenIdProvider>,
}

impl OpenIdConfig {
    /// Parses `auth.openid` (errors name the key and what would be valid).
    pub fn from_value(v: &Value) -> Result<OpenIdConfig> {
        let mut base = match v {
            Value::Object(m) => m.clone(),
            Value::Null => Default::default(),
            other => {
                return Err(Error::Config(format!(
                    "auth.openid must be an object, not {other}"
                )));
            }
        };
        let overrides = base.remove("clusters").unwrap_or(Value::Null);
        let parse = |m: &serde_json::Map<String, Value>, at: &str| -> Result<OpenIdProvider> {
            let p: OpenIdProvider = serde_json::from_value(Value::Object(m.clone()))
                .map_err(|e| Error::Config(format!("{at}: {e}")))?;
            if p.client_id.trim().is_empty() {
                return Err(Error::Config(format!(
                    "{at}.client_id is empty: the openid strategy needs the client id registered at the provider"
                )));
            }
            let issuer = p.issuer_uri.trim();
            if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
                return Err(Error::Config(format!(
                    "{at}.issuer_uri {issuer:?} is not an http(s) URL: the openid strategy needs the provider's issuer"
                )));
            }
            if !p.scopes.iter().any(|s| s == "openid") {
                return Err(Error::Config(format!(
                    "{at}.scopes {:?} must include \"openid\"",
                    p.scopes
                )));
            }
            Ok(p)
        };
        let default = parse(&base, "auth.openid")?;
        let mut clusters = BTreeMap::new();
        match overrides {
            Value::Null => {}
            Value::Object(per) => {
                for (name, o) in per {
                    let Value::Object(o) = o else {
                        return Err(Error::Config(format!(
                            "auth.openid.clusters.{name} must be an object of auth.openid keys"
                        )));
                    };
                    let mut m = base.clone();
                    m.extend(o);
                    let p = parse(&m, &format!("auth.openid.clusters.{name}"))?;
                    clusters.insert(name, p);
                }
            }
            other => {
                return Err(Error::Config(format!(
                    "auth.openid.clusters must be an object keyed by cluster name, not {other}"
                )));
            }
        }
        Ok(OpenIdConfig { default, clusters })
    }

    /// The provider of `cluster`.
    pub fn provider(&self, cluster: &str) -> &OpenIdProvider {
        self.clusters.get(cluster).unwrap_or(&self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kiali_keys_with_defaults_and_per_cluster_overrides() {
        let c = OpenIdConfig::from_value(&json!({
            "client_id": "kiali", "issuer_uri": "https://idp.east",
            "clusters": {"west": {"issuer_uri": "https://idp.west", "client_id": "kiali-west"}},
        }))
        .unwrap();
        assert_eq!(c.default.scopes, ["openid", "profile", "email"]);
        assert_eq!(c.default.username_claim, "sub");
        assert_eq!(c.provider("east").issuer_uri, "https://idp.east");
        assert_eq!(c.provider("west").issuer_uri, "https://idp.west");
        assert_eq!(c.provider("west").client_id, "kiali-west");
        assert_eq!(c.provider("west").username_claim, "sub");
    }

    #[test]
    fn bad_settings_name_the_key() {
        for (v, key) in [
            (json!({"issuer_uri": "https://x"}), "auth.openid.client_id"),
            (
                json!({"client_id": "k", "issuer_uri": "x"}),
                "auth.openid.issuer_uri",
            ),
            (
                json!({"client_id": "k", "issuer_uri": "https://x", "scopes": ["email"]}),
                "auth.openid.scopes",
            ),
            (
                json!({"client_id": "k", "issuer_uri": "https://x", "clusters": {"west": {"issuer_uri": ""}}}),
                "auth.openid.clusters.west.issuer_uri",
            ),
            (
                json!({"client_id": 3, "issuer_uri": "https://x"}),
                "auth.openid",
            ),
            (json!("x"), "auth.openid"),
        ] {
            let e = OpenIdConfig::from_value(&v).unwrap_err().to_string();
            assert!(e.contains(key), "{v}: {e}");
        }
    }
}
