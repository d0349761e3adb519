//! The one query-parameter parser of every route. Errors are 400s that name the parameter, the
//! value and what would be valid; the graph and health parameters' values come from the
//! engine's tables ([`meshglass_engine::allowed_values`]).

use std::collections::{BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use meshglass_crds::names::is_dns_label;
use meshglass_engine as engine;

use crate::error::{Error, Result};

/// Query parameters of one request.
pub struct Params(pub HashMap<String, String>);

/// The caller's clock: the default `queryTime`.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A 400 for parameter `name`, listing what the engine accepts for it.
pub fn invalid(name: &'static str, value: impl Into<String>) -> Error {
    Error::bad_param(name, value, engine::allowed_values(name))
}

/// Maps an engine error to the server's: parameter errors become 400s naming the allowed values.
pub fn engine_err(e: engine::Error) -> Error {
    match e {
        engine::Error::InvalidParam { name, value } => invalid(name, value),
        engine::Error::Unsupported { name, value, why } => Error::bad_param(
            name,
            value,
            format!(
                "not supported ({why}); supported: {}",
                engine::allowed_values(name)
            ),
        ),
        engine::Error::PrometheusResponse(m) => Error::Prometheus(m),
        engine::Error::HealthConfig(m) => Error::Config(m),
    }
}

/// Namespace and object names of a detail route's path.
pub fn check_path_names(ns: &str, name: &str) -> Result<()> {
    if !is_dns_label(ns) {
        return Err(Error::bad_param(
            "namespace",
            ns,
            "a namespace name (RFC 1123 label)",
        ));
    }
    if name.is_empty() || name.len() > 253 || name.contains('/') {
        return Err(Error::bad_param("name", name, "an object name"));
    }
    Ok(())
}

/// The parameters of a raw query string with repeated keys kept, in order
/// (`quantiles[]=0.5&quantiles[]=0.95`, Kiali's list parameters).
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The metrics request of a metrics or dashboard route: `ns` and the target's name checked,
/// Kiali's parameters parsed by the engine (400s name the parameter and what it accepts).
pub fn metrics_query(
    ns: &str,
    target: engine::metrics::MetricsTarget,
    pairs: &[(String, String)],
) -> Result<engine::metrics::MetricsQuery> {
    use engine::metrics::MetricsTarget as T;
    match &target {
        T::Namespace => check_path_names(ns, "-")?,
        T::App(n) | T::Workload(n) | T::Service(n) => check_path_names(ns, n)?,
    }
    engine::metrics::MetricsQuery::from_query_pairs(
        ns,
        target,
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        now_unix(),
    )
    .map_err(engine_err)
}

impl Params {
    /// The parameters of `pairs` (for a repeated key, the last value).
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        Params(pairs.iter().cloned().collect())
    }

    /// A raw parameter ("" counts as absent).
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// `clusterName`.
    pub fn cluster(&self) -> Option<&str> {
        self.get("clusterName")
    }

    /// A boolean parameter.
    pub fn bool(&self, k: &'static str, default: bool) -> Result<bool> {
        match self.get(k) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(Error::bad_param(k, v, "true, false")),
        }
    }

    /// A whole-number parameter from 1 to `max` (the one parser of such counts).
    pub fn positive_int(&self, k: &'static str, max: i64) -> Result<Option<i64>> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0 && *n <= max)
                .map(Some)
                .ok_or_else(|| Error::bad_param(k, v, format!("a whole number from 1 to {max}"))),
        }
    }

    /// A comma-separated list of namespace names.
    pub fn namespaces(&self) -> Result<Option<BTreeSet<String>>> {
        let Some(v) = self.get("namespaces") else {
            return Ok(None);
        };
        let mut set = BTreeSet::new();
        for n in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !is_dns_label(n) {
                return Err(invalid("namespaces", n));
            }
            set.insert(n.to_string());
        }
        if set.len() > engine::MAX_NAMESPACES {
            return Err(invalid("namespaces", format!("{} namespaces", set.len())));
        }
        Ok(Some(set))
    }

    /// The graph options of a graph route; `force_ns` replaces `namespaces` (node graphs).
    pub fn graph_options(&self, force_ns: Option<&str>) -> Result<engine::GraphOptions> {
        let mut pairs: Vec<(&str, &str)> = self
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(ns) = force_ns {
            pairs.retain(|(k, _)| *k != "namespaces");
            pairs.push(("namespaces", ns));
        }
        let opts = engine::GraphOptions::from_query_pairs(pairs, now_unix()).map_err(engine_err)?;
        if opts.namespaces.is_empty() {
            return Err(invalid("namespaces", ""));
        }
        if let Some(ns) = opts.namespaces.iter().find(|ns| !is_dns_label(ns)) {
            return Err(invalid("namespaces", ns.clone()));
        }
        Ok(opts)
    }

    /// `type` of a health request (default `app`).
    pub fn health_kind(&self) -> Result<engine::HealthKind> {
        engine::HealthKind::parse(self.get("type").unwrap_or("app"))
            .map_err(|_| invalid("type", self.get("type").unwrap_or_default()))
    }

    /// `rateInterval` in seconds (default 10m).
    pub fn rate_interval(&self) -> Result<u64> {
        engine::check_duration("rateInterval", self.get("rateInterval").unwrap_or("10m"))
            .map_err(engine_err)
    }

    /// `queryTime` in Unix seconds (default now).
    pub fn query_time(&self) -> Result<i64> {
        match self.get("queryTime") {
            None => Ok(now_unix()),
            Some(t) => engine::check_query_time(t, now_unix()).map_err(engine_err),
        }
    }
}
