//! The effective server configuration: ConfigMap `<instance>` key `config.yaml`.
//!
//! It is Kiali's own config format: the CR spec's keys with every default filled in. The operator
//! writes it with [`Config::from_spec`] + [`Config::to_yaml`]; the server reads it with
//! [`Config::from_yaml`]. Every struct is `#[serde(default)]`, so a hand-written partial file gets the
//! same defaults, and unknown keys survive a round trip in the `extra` maps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::kiali_internal::{KialiInternalConfig, ViewCacheSettings};
use crate::spec::{AuthStrategy, KialiSpec};
use crate::{Error, Result};

/// Default `deployment.instance_name`.
pub const DEFAULT_INSTANCE_NAME: &str = "kiali";
/// Default `clustering.autodetect_secrets.label`.
pub const DEFAULT_SECRET_LABEL: &str = "kiali.io/multiCluster=true";
/// Optional extra remote-cluster secret Kiali also mounts.
pub const MULTI_CLUSTER_SECRET: &str = "kiali-multi-cluster-secret";
/// Where the server finds its configuration in the pod.
pub const CONFIG_DIR: &str = "/kiali-configuration";
pub const CONFIG_FILE: &str = "/kiali-configuration/config.yaml";
pub const CONFIG_KEY: &str = "config.yaml";
/// Where the values of `secret:<name>:<key>` credentials are mounted, one directory per setting
/// (`prometheus-password/value.txt`, ...), as Kiali reads them.
pub const OVERRIDE_SECRETS_DIR: &str = "/kiali-override-secrets";
/// Where ConfigMap `<instance>-cabundle` (extra CA certificates) is mounted when it exists.
pub const CA_BUNDLE_DIR: &str = "/kiali-cabundle";
/// Where the kubelet projects the server's own ServiceAccount token (`auth.use_kiali_token`).
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// The key of the CA bundle ConfigMap Kiali reads.
pub const CA_BUNDLE_KEY: &str = "additional-ca-bundle.pem";
/// Where remote-cluster secrets are mounted, one directory per secret.
pub const REMOTE_SECRETS_DIR: &str = "/kiali-remote-cluster-secrets";
/// Default `server.port` (API and web UI).
pub const DEFAULT_PORT: u16 = 20001;
/// Default `server.observability.metrics.port`.
pub const DEFAULT_METRICS_PORT: u16 = 9090;
/// Default `server.web_root`.
pub const DEFAULT_WEB_ROOT: &str = "/kiali";
/// The namespace a file that names none is read for (`deployment.namespace`, `istio_namespace`).
pub const DEFAULT_NAMESPACE: &str = "istio-system";

/// Kiali's default `external_services.prometheus.url` for a deployment namespace.
pub fn default_prometheus_url(namespace: &str) -> String {
    format!("http://prometheus.{namespace}:9090")
}

pub use crate::service_auth::{Extra, PrometheusAuth};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct Config {
    pub version: String,
    pub istio_namespace: String,
    pub auth: AuthConfig,
    pub clustering: ClusteringConfig,
    pub deployment: DeploymentConfig,
    pub external_services: ExternalServicesConfig,
    pub health_config: HealthConfig,
    pub istio_labels: IstioLabelsConfig,
    pub kiali_internal: KialiInternalConfig,
    pub kubernetes_config: KubernetesConfig,
    pub login_token: LoginTokenConfig,
    pub server: ServerConfig,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Default `login_token.expiration_seconds` (Kiali's: one day).
pub const DEFAULT_SESSION_SECONDS: u64 = 86_400;

/// `login_token`: how sessions are sealed and how long they last. Its `Debug` hides the key.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
#[serde(default)]
pub struct LoginTokenConfig {
    /// The key sealing session cookies. Never written by the operator (it is "" in `config.yaml`):
    /// the server gets it from Secret `<instance>-signing-key` through `LOGIN_TOKEN_SIGNING_KEY`.
    pub signing_key: String,
    /// How long a session lasts after login; 0 means the default.
    pub expiration_seconds: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

impl std::fmt::Debug for LoginTokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginTokenConfig")
            .field(
                "signing_key",
                &if self.signing_key.is_empty() {
                    ""
                } else {
                    "<hidden>"
                },
            )
            .field("expiration_seconds", &self.expiration_seconds)
            .field("extra", &self.extra)
            .finish()
    }
}

impl Default for LoginTokenConfig {
    fn default() -> Self {
        LoginTokenConfig {
            signing_key: String::new(),
            expiration_seconds: DEFAULT_SESSION_SECONDS,
            extra: Extra::new(),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct AuthConfig {
    /// Always resolved: anonymous | token | openid | header | openshift.
    pub strategy: String,
    pub openid: Value,
    pub openshift: Value,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct ClusteringConfig {
    pub autodetect_secrets: AutodetectSecrets,
    pub clusters: Vec<ClusterRef>,
    /// Remote kubeconfigs may use an exec credential plugin (see [`crate::kubeconfig`]).
    pub enable_exec_provider: bool,
    pub ignore_home_cluster: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct AutodetectSecrets {
    pub enabled: bool,
    pub label: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct ClusterRef {
    pub name: String,
    pub secret_name: String,
    pub accessible: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct DeploymentConfig {
    pub instance_name: String,
    /// Resolved: never empty in a file written by the operator.
    pub namespace: String,
    pub remote_cluster_resources_only: bool,
    pub view_only_mode: bool,
    pub cluster_wide_access: bool,
    /// `{default: [LabelSelector...]}` selecting namespaces; empty = all.
    pub discovery_selectors: Value,
    pub accessible_namespaces: Vec<String>,
    pub logger: LoggerConfig,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct LoggerConfig {
    pub log_level: String,
    pub log_format: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct ExternalServicesConfig {
    pub prometheus: PrometheusConfig,
    pub tracing: crate::tracing::TracingConfig,
    pub grafana: GrafanaConfig,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `external_services.grafana`: the mesh page shows Grafana as an infrastructure node (where
/// `internal_url` places it, and whether its `/api/health` answers) when it is enabled and has
/// an `internal_url`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct GrafanaConfig {
    pub enabled: bool,
    /// The URL the server reaches Grafana at, e.g. `http://grafana.istio-system:3000`.
    pub internal_url: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for GrafanaConfig {
    fn default() -> Self {
        // Kiali's default.
        GrafanaConfig {
            enabled: true,
            internal_url: String::new(),
            extra: Extra::default(),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct PrometheusConfig {
    pub enabled: bool,
    /// Resolved: `http://prometheus.<deployment.namespace>:9090` when the CR leaves it empty.
    pub url: String,
    pub health_check_url: String,
    pub auth: PrometheusAuth,
    pub custom_headers: BTreeMap<String, String>,
    pub query_scope: BTreeMap<String, String>,
    pub thanos_proxy: ThanosProxy,
    /// Seconds a query may take; 0 = the server's default (10 s). Written only when set.
    #[serde(skip_serializing_if = "is_zero")]
    pub query_timeout: u64,
    /// Queries in flight at once; 0 = the server's default (8). Written only when set.
    #[serde(skip_serializing_if = "is_zero")]
    pub max_concurrency: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct ThanosProxy {
    pub enabled: bool,
    pub retention_period: String,
    pub scrape_interval: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `health_config`: the engine's rule types, so the file, the operator and the health engine read
/// one model. User entries come first, then Kiali's default entry; the first matching entry wins.
pub use meshglass_engine::{HealthConfig, RateRule as Rate, Tolerance};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct IstioLabelsConfig {
    pub app_label_name: String,
    pub version_label_name: String,
    pub injection_label_name: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct KubernetesConfig {
    /// "" → autodetect (istiod's CLUSTER_ID), else `Kubernetes`; resolved by the server.
    pub cluster_name: String,
    pub qps: i64,
    pub burst: i64,
    pub cache_duration: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct ServerConfig {
    pub address: String,
    pub port: u16,
    pub web_root: String,
    /// The public host name of the console (Kiali's `web_fqdn`): with `web_schema` and
    /// `web_port`, the base of the URLs the server hands out (the OpenID redirect URI); each
    /// unset part is taken from the request (`X-Forwarded-*`, `Host`).
    pub web_fqdn: String,
    /// `http` or `https`.
    pub web_schema: String,
    /// A port number (Kiali accepts a number or a string).
    #[serde(deserialize_with = "port_text")]
    pub web_port: String,
    pub observability: Observability,
    pub cors_allow_all: bool,
    pub gzip_enabled: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Observability {
    pub metrics: MetricsConfig,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct MetricsConfig {
    pub enabled: bool,
    pub port: u16,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: "default".into(),
            istio_namespace: String::new(),
            auth: AuthConfig::default(),
            clustering: ClusteringConfig::default(),
            deployment: DeploymentConfig::default(),
            external_services: ExternalServicesConfig::default(),
            health_config: HealthConfig::kiali_default(),
            istio_labels: IstioLabelsConfig::default(),
            kiali_internal: Default::default(),
            kubernetes_config: KubernetesConfig::default(),
            login_token: LoginTokenConfig::default(),
            server: ServerConfig::default(),
            extra: Extra::new(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            strategy: "token".into(),
            openid: Value::Object(Default::default()),
            openshift: Value::Object(Default::default()),
            extra: Extra::new(),
        }
    }
}

impl Default for AutodetectSecrets {
    fn default() -> Self {
        AutodetectSecrets {
            enabled: true,
            label: DEFAULT_SECRET_LABEL.into(),
            extra: Extra::new(),
        }
    }
}

impl Default for ClusterRef {
    fn default() -> Self {
        ClusterRef {
            name: String::new(),
            secret_name: String::new(),
            accessible: true,
            extra: Extra::new(),
        }
    }
}

impl Default for DeploymentConfig {
    fn default() -> Self {
        DeploymentConfig {
            instance_name: DEFAULT_INSTANCE_NAME.into(),
            namespace: String::new(),
            remote_cluster_resources_only: false,
            view_only_mode: false,
            cluster_wide_access: true,
            discovery_selectors: Value::Object(Default::default()),
            accessible_namespaces: Vec::new(),
            logger: LoggerConfig::default(),
            extra: Extra::new(),
        }
    }
}

impl Default for LoggerConfig {
    fn default() -> Self {
        LoggerConfig {
            log_level: "info".into(),
            log_format: "text".into(),
            extra: Extra::new(),
        }
    }
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        PrometheusConfig {
            enabled: true,
            url: String::new(),
            health_check_url: String::new(),
            auth: PrometheusAuth::default(),
            custom_headers: BTreeMap::new(),
            query_scope: BTreeMap::new(),
            thanos_proxy: ThanosProxy::default(),
            query_timeout: 0,
            max_concurrency: 0,
            extra: Extra::new(),
        }
    }
}

impl Default for ThanosProxy {
    fn default() -> Self {
        ThanosProxy {
            enabled: false,
            retention_period: "7d".into(),
            scrape_interval: "30s".into(),
            extra: Extra::new(),
        }
    }
}

impl Default for IstioLabelsConfig {
    fn default() -> Self {
        IstioLabelsConfig {
            app_label_name: String::new(),
            version_label_name: String::new(),
            injection_label_name: "istio-injection".into(),
            extra: Extra::new(),
        }
    }
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        KubernetesConfig {
            cluster_name: String::new(),
            qps: 175,
            burst: 200,
            cache_duration: 300,
            extra: Extra::new(),
        }
    }
}

/// A port given as a number or a string (Kiali's `server.web_port`), as text.
fn port_text<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "server.web_port {other} is not valid: allowed a port number"
        ))),
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            address: String::new(),
            port: DEFAULT_PORT,
            web_root: DEFAULT_WEB_ROOT.into(),
            web_fqdn: String::new(),
            web_schema: String::new(),
            web_port: String::new(),
            observability: Observability::default(),
            cors_allow_all: false,
            gzip_enabled: true,
            extra: Extra::new(),
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            port: DEFAULT_METRICS_PORT,
            extra: Extra::new(),
        }
    }
}

impl Config {
    /// The effective configuration of a CR living in `cr_namespace`: the spec merged over the
    /// defaults ("" and absent both mean "default"), then the defaults that depend on other fields.
    pub fn from_spec(spec: &KialiSpec, cr_namespace: &str) -> Result<Config> {
        let mut user = serde_json::to_value(spec).map_err(|e| Error::Config(e.to_string()))?;
        // The strategy enum's "" is the default, like every other empty string.
        drop_empty_strings(&mut user);
        // health_config.rate is not merged key by key: user entries come first, then the default.
        let user_rates = user
            .get_mut("health_config")
            .and_then(|h| h.as_object_mut())
            .and_then(|h| h.remove("rate"));
        let mut merged =
            serde_json::to_value(Config::default()).map_err(|e| Error::Config(e.to_string()))?;
        merge(&mut merged, user);
        let mut cfg: Config =
            serde_json::from_value(merged).map_err(|e| Error::Config(e.to_string()))?;

        if let Some(rates) = user_rates {
            let mut rates: Vec<Rate> =
                serde_json::from_value(rates).map_err(|e| Error::Config(e.to_string()))?;
            for r in &mut rates {
                for (field, default) in [
                    (&mut r.namespace, ".*"),
                    (&mut r.kind, ".*"),
                    (&mut r.name, ".*"),
                ] {
                    if field.is_empty() {
                        *field = default.into();
                    }
                }
                for t in &mut r.tolerance {
                    if t.protocol.is_empty() {
                        t.protocol = ".*".into();
                    }
                    if t.direction.is_empty() {
                        t.direction = ".*".into();
                    }
                }
            }
            rates.extend(HealthConfig::kiali_default().rate);
            cfg.health_config.rate = rates;
        }

        cfg.auth.strategy = spec
            .auth
            .as_ref()
            .and_then(|a| a.strategy)
            .unwrap_or(AuthStrategy::Unset)
            .effective()
            .to_string();
        // The key reaches the server from its Secret only: a ConfigMap is readable by more people.
        cfg.login_token.signing_key.clear();
        if cfg.deployment.namespace.is_empty() {
            cfg.deployment.namespace = cr_namespace.to_string();
        }
        if cfg.istio_namespace.is_empty() {
            cfg.istio_namespace = cfg.deployment.namespace.clone();
        }
        if cfg.external_services.prometheus.url.is_empty() {
            cfg.external_services.prometheus.url =
                default_prometheus_url(&cfg.deployment.namespace);
        }
        if cfg.server.web_root.is_empty() {
            cfg.server.web_root = DEFAULT_WEB_ROOT.into();
        }
        let schema = cfg.server.web_schema.trim();
        if !matches!(schema, "" | "http" | "https") {
            return Err(Error::Config(format!(
                "server.web_schema {schema:?} is not valid: allowed http or https"
            )));
        }
        let port = cfg.server.web_port.trim();
        if !port.is_empty() && port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(Error::Config(format!(
                "server.web_port {port:?} is not valid: allowed a port number 1-65535"
            )));
        }
        cfg.validation_flags()?;
        cfg.graph_cache()?;
        cfg.health_cache()?;
        Ok(cfg)
    }

    pub fn to_yaml(&self) -> Result<String> {
        serde_yaml_ng::to_string(self).map_err(|e| Error::Config(e.to_string()))
    }

    /// Parses `config.yaml` text; an empty file is the default configuration.
    pub fn from_yaml(text: &str) -> Result<Config> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_yaml_ng::from_str(text).map_err(|e| Error::Config(e.to_string()))
    }

    /// Namespaced object names derived from `deployment.instance_name`.
    pub fn instance(&self) -> &str {
        &self.deployment.instance_name
    }

    // What a reader of the file (the server) resolves: a file written by the operator has every
    // value filled in; a hand-written one gets the same defaults here.

    /// `deployment.namespace`, [`DEFAULT_NAMESPACE`] when unset.
    pub fn deployment_namespace(&self) -> &str {
        non_empty_or(&self.deployment.namespace, DEFAULT_NAMESPACE)
    }

    /// `istio_namespace`, [`DEFAULT_NAMESPACE`] when unset.
    pub fn istio_namespace(&self) -> &str {
        non_empty_or(&self.istio_namespace, DEFAULT_NAMESPACE)
    }

    /// `external_services.prometheus.url` without a trailing slash, Kiali's default when unset.
    pub fn prometheus_url(&self) -> String {
        let url = self.external_services.prometheus.url.trim();
        if url.is_empty() {
            default_prometheus_url(self.deployment_namespace())
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

    /// The console's public base URL (scheme, host, port, web root): `server.web_schema`,
    /// `server.web_fqdn` and `server.web_port` where set; only the unset ones come from the
    /// request (`proto`: `X-Forwarded-Proto`; `host`: `X-Forwarded-Host` or `Host`, with its port),
    /// as Kiali guesses it. A default port (80 for http, 443 for https) is left out.
    pub fn public_base(&self, proto: Option<&str>, host: Option<&str>) -> String {
        let s = &self.server;
        let scheme = match s.web_schema.trim() {
            "" => proto
                .filter(|p| matches!(*p, "http" | "https"))
                .unwrap_or("http"),
            set => set,
        };
        let (name, mut port) = match s.web_fqdn.trim() {
            "" => {
                let h = host.unwrap_or("localhost");
                // `[v6]:port`, `name:port` or a bare name.
                match h.rsplit_once(':') {
                    Some((n, p)) if !n.is_empty() && !p.contains(']') => {
                        (n.to_string(), p.to_string())
                    }
                    _ => (h.to_string(), String::new()),
                }
            }
            fqdn => (fqdn.to_string(), String::new()),
        };
        if !s.web_port.trim().is_empty() {
            port = s.web_port.trim().to_string();
        }
        let default_port =
            (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
        let port = if port.is_empty() || default_port {
            String::new()
        } else {
            format!(":{port}")
        };
        format!("{scheme}://{name}{port}{}", self.web_root())
    }

    /// `login_token.expiration_seconds`, [`DEFAULT_SESSION_SECONDS`] when 0.
    pub fn session_seconds(&self) -> u64 {
        match self.login_token.expiration_seconds {
            0 => DEFAULT_SESSION_SECONDS,
            s => s,
        }
    }

    /// `kiali_internal.graph_cache`, resolved.
    pub fn graph_cache(&self) -> Result<ViewCacheSettings> {
        self.kiali_internal
            .graph_cache
            .settings("kiali_internal.graph_cache")
    }

    /// `kiali_internal.health_cache`, resolved.
    pub fn health_cache(&self) -> Result<ViewCacheSettings> {
        self.kiali_internal
            .health_cache
            .settings("kiali_internal.health_cache")
    }

    /// `auth.strategy` ("" is the default, `token`); `None` for a value Kiali does not define.
    pub fn auth_strategy(&self) -> Option<AuthStrategy> {
        serde_json::from_value::<AuthStrategy>(Value::String(self.auth.strategy.clone()))
            .ok()
            .map(|s| {
                if s == AuthStrategy::Unset {
                    AuthStrategy::Token
                } else {
                    s
                }
            })
    }
}

fn non_empty_or<'a>(v: &'a str, default: &'a str) -> &'a str {
    if v.is_empty() { default } else { v }
}

/// Removes `""` values from objects (Kiali: empty means default). List items are kept.
fn drop_empty_strings(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, x| !matches!(x, Value::String(s) if s.is_empty()) && !x.is_null());
            map.values_mut().for_each(drop_empty_strings);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty_strings),
        _ => {}
    }
}

/// Deep merge of objects; anything else (lists included) in `user` replaces the default.
fn merge(base: &mut Value, user: Value) {
    match (base, user) {
        (Value::Object(b), Value::Object(u)) => {
            for (k, v) in u {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
