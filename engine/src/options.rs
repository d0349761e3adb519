//! Graph request options, with Kiali's query parameter names and defaults.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Kiali's graph types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum GraphType {
    /// One node per app (canonical service) and namespace, versions merged.
    #[serde(rename = "app")]
    App,
    /// One node per app version (workload), boxed by app.
    #[serde(rename = "versionedApp")]
    VersionedApp,
    /// One node per workload (the Kiali default).
    #[default]
    #[serde(rename = "workload")]
    Workload,
    /// Service nodes only (service injection forced on, then reduced).
    #[serde(rename = "service")]
    Service,
}

/// The values of a parameter with a fixed set: each spelling and what it means. Parsing and the
/// "allowed" part of error messages both read these tables.
pub type Values<T> = [(&'static str, T)];

/// `graphType` values.
pub const GRAPH_TYPES: &Values<GraphType> = &[
    ("app", GraphType::App),
    ("versionedApp", GraphType::VersionedApp),
    ("workload", GraphType::Workload),
    ("service", GraphType::Service),
];
/// `rateHttp` values.
pub const HTTP_RATES: &Values<HttpRate> =
    &[("requests", HttpRate::Requests), ("none", HttpRate::None)];
/// `rateGrpc` values.
pub const GRPC_RATES: &Values<GrpcRate> = &[
    ("requests", GrpcRate::Requests),
    ("sent", GrpcRate::Sent),
    ("received", GrpcRate::Received),
    ("total", GrpcRate::Total),
    ("none", GrpcRate::None),
];
/// `rateTcp` values.
pub const TCP_RATES: &Values<TcpRate> = &[
    ("sent", TcpRate::Sent),
    ("received", TcpRate::Received),
    ("total", TcpRate::Total),
    ("none", TcpRate::None),
];
/// `responseTime` values.
pub const RESPONSE_TIMES: &Values<ResponseTimeStat> = &[
    ("avg", ResponseTimeStat::Avg),
    ("50", ResponseTimeStat::P50),
    ("95", ResponseTimeStat::P95),
    ("99", ResponseTimeStat::P99),
];
/// `throughputType` values.
pub const THROUGHPUT_TYPES: &Values<ThroughputType> = &[
    ("request", ThroughputType::Request),
    ("response", ThroughputType::Response),
];

/// The value `v` of parameter `name` in `table`.
pub fn lookup<T: Copy>(name: &'static str, table: &Values<T>, v: &str) -> Result<T, Error> {
    table
        .iter()
        .find(|(s, _)| *s == v)
        .map(|(_, t)| *t)
        .ok_or_else(|| Error::invalid(name, v))
}

fn spellings<T>(table: &Values<T>) -> String {
    table.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(", ")
}

/// The longest `duration` and `rateInterval` accepted (30 days, Kiali's longest choice).
pub const MAX_DURATION_SECS: u64 = 30 * 86_400;
/// How far past the caller's clock a `queryTime` may be (clock skew).
pub const MAX_QUERY_TIME_AHEAD_SECS: i64 = 300;

/// Checks a `queryTime` against `now_unix`: positive and at most
/// [`MAX_QUERY_TIME_AHEAD_SECS`] ahead.
pub fn check_query_time(v: &str, now_unix: i64) -> Result<i64, Error> {
    let t: i64 = v.parse().map_err(|_| Error::invalid("queryTime", v))?;
    if t <= 0 || t > now_unix.saturating_add(MAX_QUERY_TIME_AHEAD_SECS) {
        return Err(Error::invalid("queryTime", v));
    }
    Ok(t)
}

/// Checks a `duration` or `rateInterval` (`name`): [`parse_duration`], at most
/// [`MAX_DURATION_SECS`].
pub fn check_duration(name: &'static str, v: &str) -> Result<u64, Error> {
    match parse_duration(v) {
        Ok(d) if d <= MAX_DURATION_SECS => Ok(d),
        _ => Err(Error::invalid(name, v)),
    }
}

/// What a graph or health parameter accepts, in words for an error message ("true, false" for
/// the booleans and any other name).
pub fn allowed_values(param: &str) -> String {
    match param {
        "graphType" => spellings(GRAPH_TYPES),
        "boxBy" => "comma-separated subset of cluster, namespace, app".into(),
        "rateHttp" => spellings(HTTP_RATES),
        "rateGrpc" => spellings(GRPC_RATES),
        "rateTcp" => spellings(TCP_RATES),
        "responseTime" => spellings(RESPONSE_TIMES),
        "throughputType" => spellings(THROUGHPUT_TYPES),
        "appenders" => Appender::ALL
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(", "),
        "duration" | "rateInterval" => {
            "a positive duration of at most 30d (2592000 s), such as 60s, 10m, 1h".into()
        }
        "queryTime" => "Unix time in seconds, positive and at most 300 s after now".into(),
        "aggregate" => {
            "a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*), such as request_operation".into()
        }
        "namespaces" => "comma-separated namespace names (RFC 1123 labels; at least one)".into(),
        "type" => crate::health::HealthKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        other => crate::metrics::allowed_values(other).unwrap_or_else(|| "true, false".into()),
    }
}

impl GraphType {
    /// The parameter value (`app`, `versionedApp`, `workload`, `service`).
    pub fn as_str(self) -> &'static str {
        GRAPH_TYPES
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("workload", |(s, _)| s)
    }

    /// Parses a `graphType` parameter value.
    pub fn parse(s: &str) -> Result<Self, Error> {
        lookup("graphType", GRAPH_TYPES, s)
    }
}

/// Compound parent boxes to generate (`boxBy=cluster,namespace,app`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BoxBy {
    /// Box nodes by cluster.
    pub cluster: bool,
    /// Box nodes by namespace (within a cluster).
    pub namespace: bool,
    /// Box nodes by app (always on for app and versionedApp graphs, as in Kiali).
    pub app: bool,
}

impl BoxBy {
    /// Parses a `boxBy` parameter value (comma-separated; empty or `none` = no boxes).
    pub fn parse(s: &str) -> Result<Self, Error> {
        let mut b = BoxBy::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "cluster" => b.cluster = true,
                "namespace" => b.namespace = true,
                "app" => b.app = true,
                "none" => {}
                _ => return Err(Error::invalid("boxBy", s)),
            }
        }
        Ok(b)
    }
}

/// `rateHttp`: what HTTP edges measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum HttpRate {
    /// No HTTP traffic.
    None,
    /// Requests per second (default).
    #[default]
    Requests,
}

/// `rateGrpc`: what gRPC edges measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GrpcRate {
    /// No gRPC traffic.
    None,
    /// Requests per second (default).
    #[default]
    Requests,
    /// Request messages per second.
    Sent,
    /// Response messages per second.
    Received,
    /// Request + response messages per second.
    Total,
}

/// `rateTcp`: what TCP edges measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TcpRate {
    /// No TCP traffic.
    None,
    /// Bytes sent per second (default).
    #[default]
    Sent,
    /// Bytes received per second.
    Received,
    /// Sent + received bytes per second.
    Total,
}

/// Rate selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rates {
    /// `rateHttp`.
    pub http: HttpRate,
    /// `rateGrpc`.
    pub grpc: GrpcRate,
    /// `rateTcp`.
    pub tcp: TcpRate,
}

/// `responseTime`: which statistic edges show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ResponseTimeStat {
    /// Mean (from `_sum`/`_count`).
    Avg,
    /// Median (from buckets).
    P50,
    /// 95th percentile (from buckets, the default).
    #[default]
    P95,
    /// 99th percentile (from buckets).
    P99,
}

impl ResponseTimeStat {
    /// The quantile, or `None` for the average.
    pub fn quantile(self) -> Option<f64> {
        match self {
            ResponseTimeStat::Avg => None,
            ResponseTimeStat::P50 => Some(0.5),
            ResponseTimeStat::P95 => Some(0.95),
            ResponseTimeStat::P99 => Some(0.99),
        }
    }
}

/// `throughputType`: which body sizes the throughput appender reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ThroughputType {
    /// Request bodies.
    Request,
    /// Response bodies (default).
    #[default]
    Response,
}

/// A graph appender (Kiali's names in [`Appender::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Appender {
    /// `deadNode`: drop nodes whose workload is gone; flag `isDead` when it has no pods.
    DeadNode,
    /// `idleNode`: add inventory nodes without traffic, flagged `isIdle`.
    IdleNode,
    /// `responseTime`: edge `responseTime`.
    ResponseTime,
    /// `securityPolicy`: edge `isMTLS`, `sourcePrincipal`, `destPrincipal`.
    SecurityPolicy,
    /// `serviceEntry`: `isServiceEntry` nodes for ServiceEntry hosts.
    ServiceEntry,
    /// `meshCheck` (Kiali's older name `sidecarsCheck` is accepted too): `isOutOfMesh` on
    /// nodes whose workloads have no sidecar.
    MeshCheck,
    /// `workloadEntry`: `hasWorkloadEntry` on nodes a WorkloadEntry's app and version labels
    /// name.
    WorkloadEntry,
    /// `throughput`: edge `throughput` in bytes per second.
    Throughput,
    /// `health`: node `healthData` with a computed status.
    Health,
    /// `istio`: node badges from the Istio config (`hasCB`, `hasVS`, `hasTrafficShifting`,
    /// `hasTCPTrafficShifting`, `hasRequestTimeout`, `hasFaultInjection`, …).
    Istio,
    /// `aggregateNode`: `aggregate` nodes between a source and the service (or workload) it
    /// calls, one per value of the `aggregate` label (default `request_operation`, Istio's
    /// request classification), on request traffic; not on service graphs.
    AggregateNode,
}

impl Appender {
    /// Every appender.
    pub const ALL: [Appender; 11] = [
        Appender::AggregateNode,
        Appender::DeadNode,
        Appender::IdleNode,
        Appender::Istio,
        Appender::MeshCheck,
        Appender::ResponseTime,
        Appender::SecurityPolicy,
        Appender::ServiceEntry,
        Appender::Throughput,
        Appender::WorkloadEntry,
        Appender::Health,
    ];

    /// Kiali appenders this engine does not implement, with why (a 400 naming the reason, not
    /// an unknown name).
    pub const UNSUPPORTED: [(&'static str, &'static str); 2] = [
        (
            "ambient",
            "meshglass reads no ambient telemetry (ztunnel and waypoint series); sidecar telemetry only",
        ),
        ("extensions", "graph extensions are not supported"),
    ];

    /// Kiali's appender name.
    pub fn name(self) -> &'static str {
        match self {
            Appender::DeadNode => "deadNode",
            Appender::IdleNode => "idleNode",
            Appender::ResponseTime => "responseTime",
            Appender::SecurityPolicy => "securityPolicy",
            Appender::ServiceEntry => "serviceEntry",
            Appender::MeshCheck => "meshCheck",
            Appender::WorkloadEntry => "workloadEntry",
            Appender::Throughput => "throughput",
            Appender::Health => "health",
            Appender::Istio => "istio",
            Appender::AggregateNode => "aggregateNode",
        }
    }

    /// Looks up an appender by Kiali name.
    pub fn from_name(s: &str) -> Option<Self> {
        if s == "sidecarsCheck" {
            return Some(Appender::MeshCheck);
        }
        Appender::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// Everything a namespace graph request specifies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphOptions {
    /// `graphType` (default workload).
    pub graph_type: GraphType,
    /// `boxBy` (default none).
    pub box_by: BoxBy,
    /// `injectServiceNodes` (default false; forced true for the service graph).
    pub inject_service_nodes: bool,
    /// `includeIdleEdges` (default false): keep zero-rate edges (the queries drop `> 0`).
    pub include_idle_edges: bool,
    /// `idleNodes` (default false): add inventory nodes that have no traffic.
    pub include_idle_nodes: bool,
    /// `rateHttp`, `rateGrpc`, `rateTcp`.
    pub rates: Rates,
    /// `responseTime` (default 95).
    pub response_time: ResponseTimeStat,
    /// `throughputType` (default response).
    pub throughput_type: ThroughputType,
    /// `appenders`: `None` = all (the parameter was absent), else exactly these.
    pub appenders: Option<Vec<Appender>>,
    /// `namespaces`: the namespaces asked for (same name = same namespace in every cluster).
    pub namespaces: Vec<String>,
    /// `aggregate`: the label the aggregateNode appender groups requests by (default
    /// `request_operation`).
    #[serde(default = "default_aggregate")]
    pub aggregate: String,
    /// `duration` in seconds (default 600).
    pub duration_secs: u64,
    /// `queryTime` as Unix seconds: the end of the window.
    pub query_time: i64,
    /// Label matchers of the configuration's `query_scope`, added to every selector (not a
    /// request parameter: the server sets it).
    #[serde(skip)]
    pub scope: crate::scope::QueryScope,
    /// The control plane's namespace (the server's `istio_namespace`, not a query parameter):
    /// where the egress gateway's requests are drawn.
    #[serde(default = "default_istio_namespace")]
    pub istio_namespace: String,
}

fn default_aggregate() -> String {
    "request_operation".to_string()
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn default_istio_namespace() -> String {
    "istio-system".to_string()
}

impl Default for GraphOptions {
    fn default() -> Self {
        GraphOptions {
            graph_type: GraphType::Workload,
            box_by: BoxBy::default(),
            inject_service_nodes: false,
            include_idle_edges: false,
            include_idle_nodes: false,
            rates: Rates::default(),
            response_time: ResponseTimeStat::P95,
            throughput_type: ThroughputType::Response,
            appenders: None,
            namespaces: Vec::new(),
            aggregate: default_aggregate(),
            duration_secs: 600,
            query_time: 0,
            scope: crate::scope::QueryScope::default(),
            istio_namespace: default_istio_namespace(),
        }
    }
}

impl GraphOptions {
    /// Whether an appender runs for this request.
    pub fn appender_enabled(&self, a: Appender) -> bool {
        match &self.appenders {
            None => true,
            Some(list) => list.contains(&a),
        }
    }

    /// Whether service nodes are injected (always for the service graph).
    pub fn injects_service_nodes(&self) -> bool {
        self.inject_service_nodes || self.graph_type == GraphType::Service
    }

    /// Parses Kiali's graph query parameters. Absent parameters take Kiali's defaults;
    /// `queryTime` defaults to `now_unix` (the caller's clock, so the engine stays pure).
    /// Unknown parameters are ignored; an unknown appender name is an error, as in Kiali (400).
    pub fn from_query_pairs<'a, I>(pairs: I, now_unix: i64) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut o = GraphOptions {
            query_time: now_unix,
            ..GraphOptions::default()
        };
        for (k, v) in pairs {
            let v = v.trim();
            match k {
                "graphType" if !v.is_empty() => o.graph_type = GraphType::parse(v)?,
                "boxBy" => o.box_by = BoxBy::parse(v)?,
                "injectServiceNodes" if !v.is_empty() => {
                    o.inject_service_nodes = parse_bool("injectServiceNodes", v)?
                }
                "includeIdleEdges" if !v.is_empty() => {
                    o.include_idle_edges = parse_bool("includeIdleEdges", v)?
                }
                "idleNodes" if !v.is_empty() => o.include_idle_nodes = parse_bool("idleNodes", v)?,
                "rateHttp" if !v.is_empty() => o.rates.http = lookup("rateHttp", HTTP_RATES, v)?,
                "rateGrpc" if !v.is_empty() => o.rates.grpc = lookup("rateGrpc", GRPC_RATES, v)?,
                "rateTcp" if !v.is_empty() => o.rates.tcp = lookup("rateTcp", TCP_RATES, v)?,
                "responseTime" if !v.is_empty() => {
                    o.response_time = lookup("responseTime", RESPONSE_TIMES, v)?
                }
                "throughputType" if !v.is_empty() => {
                    o.throughput_type = lookup("throughputType", THROUGHPUT_TYPES, v)?
                }
                "appenders" => {
                    let mut list = Vec::new();
                    for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        if let Some((_, why)) =
                            Appender::UNSUPPORTED.iter().find(|(n, _)| *n == name)
                        {
                            return Err(Error::Unsupported {
                                name: "appenders",
                                value: name.to_string(),
                                why,
                            });
                        }
                        let a =
                            Appender::from_name(name).ok_or(Error::invalid("appenders", name))?;
                        if !list.contains(&a) {
                            list.push(a);
                        }
                    }
                    o.appenders = Some(list);
                }
                "namespaces" => {
                    o.namespaces = v
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                }
                "aggregate" if !v.is_empty() => {
                    if !is_label_name(v) || v.starts_with("__") {
                        return Err(Error::invalid("aggregate", v));
                    }
                    o.aggregate = v.to_string();
                }
                "duration" if !v.is_empty() => o.duration_secs = check_duration("duration", v)?,
                "queryTime" if !v.is_empty() => o.query_time = check_query_time(v, now_unix)?,
                _ => {}
            }
        }
        if o.graph_type == GraphType::Service {
            o.inject_service_nodes = true;
        }
        if o.namespaces.is_empty() {
            return Err(Error::invalid("namespaces", ""));
        }
        Ok(o)
    }
}

pub(crate) fn parse_bool(name: &'static str, v: &str) -> Result<bool, Error> {
    match v {
        "true" | "1" | "t" | "T" | "TRUE" | "True" => Ok(true),
        "false" | "0" | "f" | "F" | "FALSE" | "False" => Ok(false),
        _ => Err(Error::invalid(name, v)),
    }
}

/// Parses a Prometheus-style duration (`600s`, `10m`, `1h30m`, `1d`) or bare seconds into seconds.
pub fn parse_duration(v: &str) -> Result<u64, Error> {
    if let Ok(secs) = v.parse::<u64>() {
        return Ok(secs);
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut chars = v.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| Error::invalid("duration", v))?;
        num.clear();
        let mult = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                // milliseconds: round down to whole seconds
                total = total.saturating_add(n / 1000);
                any = true;
                continue;
            }
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            'y' => 31_536_000,
            _ => return Err(Error::invalid("duration", v)),
        };
        total = total.saturating_add(n.saturating_mul(mult));
        any = true;
    }
    if !num.is_empty() || !any || total == 0 {
        return Err(Error::invalid("duration", v));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<GraphOptions, Error> {
        let mut all = vec![("namespaces", "bookinfo")];
        all.extend_from_slice(pairs);
        GraphOptions::from_query_pairs(all, 0)
    }

    // Issue 22, point 3: an unknown appender used to be dropped silently (200); Kiali answers 400.
    #[test]
    fn unknown_appender_is_an_error_naming_it() {
        let err = parse(&[("appenders", "deadNode,bogus")]).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidParam { name: "appenders", value } if value == "bogus"),
            "{err}"
        );
        let allowed = allowed_values("appenders");
        for a in Appender::ALL {
            assert!(allowed.contains(a.name()), "{allowed}");
        }
    }

    #[test]
    fn known_appenders_parse_once_each_and_empty_means_none() {
        let o = parse(&[("appenders", " istio, deadNode,istio ")]).unwrap();
        assert_eq!(o.appenders, Some(vec![Appender::Istio, Appender::DeadNode]));
        let o = parse(&[("appenders", "")]).unwrap();
        assert_eq!(o.appenders, Some(vec![]));
        assert!(parse(&[]).unwrap().appender_enabled(Appender::Istio));
    }
}
