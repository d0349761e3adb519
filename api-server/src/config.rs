//! The server configuration: the `config.yaml` the operator writes into the ConfigMap
//! (Kiali's own format, snake_case keys). Only the keys the server reads are modelled; every
//! other key is accepted and ignored, and every missing key takes Kiali's default.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The parts of `config.yaml` the server uses.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Config {
    pub auth: AuthConfig,
    pub server: ServerConfig,
    pub external_services: ExternalServices,
    pub kubernetes_config: KubernetesConfig,
    pub deployment: DeploymentConfig,
    pub istio_namespace: String,
    pub health_config: HealthConfig,
    pub clustering: Clustering,
}

/// `auth`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct AuthConfig {
    /// anonymous | token | header | openid | openshift ("" means token).
    pub strategy: String,
}

/// `server`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    pub address: String,
    pub port: u16,
    pub web_root: String,
    pub observability: Observability,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            address: String::new(),
            port: 20001,
            web_root: "/kiali".to_string(),
            observability: Observability::default(),
        }
    }
}

/// `server.observability`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Observability {
    pub metrics: MetricsConfig,
}

/// `server.observability.metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    pub enabled: bool,
    pub port: u16,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            port: 9090,
        }
    }
}

/// `external_services`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ExternalServices {
    pub prometheus: PrometheusConfig,
}

/// `external_services.prometheus`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct PrometheusConfig {
    pub url: String,
    /// Query timeout in seconds (0: default of 10 s).
    pub query_timeout: u64,
    /// Concurrent queries (0: default of 8).
    pub max_concurrency: usize,
}

/// `kubernetes_config`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct KubernetesConfig {
    /// Name of the home cluster; empty = autodetect from istiod, else `Kubernetes`.
    pub cluster_name: String,
}

/// `deployment`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct DeploymentConfig {
    pub namespace: String,
    pub instance_name: String,
    pub view_only_mode: bool,
}

/// `health_config`: kept as raw JSON; the health engine interprets the tolerances.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct HealthConfig {
    pub rate: Vec<serde_json::Value>,
}

/// `clustering`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Clustering {
    pub clusters: Vec<ClusterRef>,
}

/// `clustering.clusters[]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ClusterRef {
    pub name: String,
    pub secret_name: String,
}

/// The auth strategies the server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStrategy {
    Anonymous,
    Token,
    Header,
}

impl Config {
    /// Parses `config.yaml` text.
    pub fn from_yaml(text: &str) -> Result<Self> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_yaml_ng::from_str(text)
            .map_err(|e| Error::Config(format!("invalid config.yaml: {e}")))
    }

    /// Reads `config.yaml` from a file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::from_yaml(&text)
    }

    /// The namespace the server runs in (`istio-system` when unset).
    pub fn deployment_namespace(&self) -> &str {
        if self.deployment.namespace.is_empty() {
            "istio-system"
        } else {
            &self.deployment.namespace
        }
    }

    /// The namespace of the Istio control plane (`istio-system` when unset).
    pub fn istio_namespace(&self) -> &str {
        if self.istio_namespace.is_empty() {
            "istio-system"
        } else {
            &self.istio_namespace
        }
    }

    /// Prometheus URL with Kiali's default filled in.
    pub fn prometheus_url(&self) -> String {
        let url = self.external_services.prometheus.url.trim();
        if url.is_empty() {
            format!("http://prometheus.{}:9090", self.deployment_namespace())
        } else {
            url.trim_end_matches('/').to_string()
        }
    }

    /// `server.web_root` normalised: leading slash, no trailing slash, "" for the root.
    pub fn web_root(&self) -> String {
        let root = self.server.web_root.trim().trim_end_matches('/');
        if root.is_empty() {
            String::new()
        } else if root.starts_with('/') {
            root.to_string()
        } else {
            format!("/{root}")
        }
    }

    /// The auth strategy; `openid`/`openshift` are not implemented and are rejected at start.
    pub fn auth_strategy(&self) -> Result<AuthStrategy> {
        match self.auth.strategy.as_str() {
            "" | "token" => Ok(AuthStrategy::Token),
            "anonymous" => Ok(AuthStrategy::Anonymous),
            "header" => Ok(AuthStrategy::Header),
            other => Err(Error::Config(format!(
                "auth.strategy {other:?} is not supported (allowed: anonymous, token, header)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_kiali() {
        let c = Config::from_yaml("").unwrap();
        assert_eq!(c.server.port, 20001);
        assert_eq!(c.web_root(), "/kiali");
        assert_eq!(c.server.observability.metrics.port, 9090);
        assert_eq!(c.prometheus_url(), "http://prometheus.istio-system:9090");
        assert_eq!(c.auth_strategy().unwrap(), AuthStrategy::Token);
    }

    #[test]
    fn reads_operator_keys_and_ignores_others() {
        let c = Config::from_yaml(
            "auth:\n  strategy: anonymous\ndeployment:\n  namespace: mesh\n  unknown_key: 1\n\
             server:\n  port: 0\n  web_root: /\n  observability:\n    metrics:\n      port: 0\n\
             kubernetes_config:\n  cluster_name: east\nexternal_services:\n  prometheus:\n    url: http://p:9090/\n",
        )
        .unwrap();
        assert_eq!(c.auth_strategy().unwrap(), AuthStrategy::Anonymous);
        assert_eq!(c.web_root(), "");
        assert_eq!(c.prometheus_url(), "http://p:9090");
        assert_eq!(c.kubernetes_config.cluster_name, "east");
        assert_eq!(c.deployment_namespace(), "mesh");
    }

    #[test]
    fn rejects_unknown_strategy_and_bad_yaml() {
        let c = Config::from_yaml("auth:\n  strategy: magic\n").unwrap();
        assert!(c.auth_strategy().is_err());
        assert!(Config::from_yaml("server: [").is_err());
    }
}
