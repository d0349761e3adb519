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

/// Kiali's trace search parameters (`startMicros`, `endMicros`, `limit`, `minDuration`, `tags`,
/// `clusterName`), resolved; other parameters are refused, as Kiali refuses them.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceParams {
    pub start_micros: u64,
    pub end_micros: u64,
    pub limit: u32,
    pub min_duration_micros: Option<u64>,
    pub tags: std::collections::BTreeMap<String, String>,
    pub cluster: Option<String>,
}

/// Tags one search may carry, and the longest key or value.
const MAX_TAGS: usize = 32;
const MAX_TAG_LEN: usize = 256;

/// The trace search of a traces or spans route; `now_micros` is the default `endMicros`, and the
/// default start is an hour before the end (what Kiali's UI asks for first).
pub fn trace_params(pairs: &[(String, String)], now_micros: u64) -> Result<TraceParams> {
    const KNOWN: &str = "clusterName, endMicros, limit, minDuration, startMicros, tags";
    let p = Params::from_pairs(pairs);
    for (k, _) in pairs {
        if !KNOWN.split(", ").any(|n| n == k) {
            return Err(Error::bad_param("query", k.clone(), KNOWN));
        }
    }
    let micros = |name: &'static str| -> Result<Option<u64>> {
        p.get(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    Error::bad_param(name, v, "microseconds since 1970 (a non-negative integer)")
                })
            })
            .transpose()
    };
    let end = micros("endMicros")?.unwrap_or(now_micros);
    let start = micros("startMicros")?.unwrap_or(end.saturating_sub(3_600_000_000));
    if start > end {
        return Err(Error::bad_param(
            "startMicros",
            start.to_string(),
            format!("at most endMicros ({end})"),
        ));
    }
    let limit = match p.get("limit") {
        None => 100,
        Some(v) => match v.parse::<u32>() {
            Ok(n) if n > 0 => n.min(crate::traces::MAX_LIMIT),
            _ => {
                return Err(Error::bad_param(
                    "limit",
                    v,
                    "a positive integer (at most 1000 are returned)",
                ));
            }
        },
    };
    let min_duration_micros = p
        .get("minDuration")
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                Error::bad_param("minDuration", v, "microseconds (a non-negative integer)")
            })
        })
        .transpose()?;
    let mut tags = std::collections::BTreeMap::new();
    if let Some(raw) = p.get("tags") {
        let bad = || {
            Error::bad_param(
                "tags",
                raw.chars().take(100).collect::<String>(),
                format!(
                    "a JSON object of at most {MAX_TAGS} string values, keys and values at most {MAX_TAG_LEN} characters"
                ),
            )
        };
        let v: std::collections::BTreeMap<String, String> =
            serde_json::from_str(raw).map_err(|_| bad())?;
        if v.len() > MAX_TAGS
            || v.iter()
                .any(|(k, x)| k.is_empty() || k.len() > MAX_TAG_LEN || x.len() > MAX_TAG_LEN)
        {
            return Err(bad());
        }
        tags = v;
    }
    Ok(TraceParams {
        start_micros: start,
        end_micros: end,
        limit,
        min_duration_micros,
        tags,
        cluster: p.cluster().map(str::to_string),
    })
}

/// `duration` (seconds, positive) and `clusterName` of Kiali's error-traces route.
pub fn error_traces_params(pairs: &[(String, String)]) -> Result<(u64, Option<String>)> {
    const KNOWN: &str = "clusterName, duration";
    let p = Params::from_pairs(pairs);
    for (k, _) in pairs {
        if !KNOWN.split(", ").any(|n| n == k) {
            return Err(Error::bad_param("query", k.clone(), KNOWN));
        }
    }
    let raw = p.get("duration").unwrap_or_default();
    let secs = raw
        .parse::<u64>()
        .ok()
        .filter(|d| *d > 0 && *d <= 30 * 86_400)
        .ok_or_else(|| Error::bad_param("duration", raw, "seconds, 1 to 2592000 (30 d)"))?;
    Ok((secs, p.cluster().map(str::to_string)))
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

    /// A comma-separated list of namespace names (their count is bounded by
    /// [`crate::state::AppState::check_namespace_count`], in [`crate::state::AppState::views`]).
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
