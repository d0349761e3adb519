//! Metrics dashboards: Kiali's `/metrics` and `/dashboard` routes of a namespace, an app, a
//! workload or a service. A request goes: [`MetricsQuery::from_query_pairs`] →
//! [`MetricsQuery::range_queries`] (the PromQL range queries to run) → [`parse_matrix`] for each
//! answer → [`MetricSeries::collect`] → [`metrics_json`] or [`dashboard_json`].
//!
//! Kiali sends one range query per metric and statistic (`business/metrics.go`
//! `fetchAllMetrics`, `prometheus/metrics.go` `buildHistogramQueries`): for a dashboard, 10
//! rates and 3 histograms × (average + 3 quantiles), 22 per direction. Here every requested rate
//! goes into one query and each histogram's statistics into one more, told apart by two labels
//! the engine adds and removes again ([`METRIC_LABEL`], [`STAT_LABEL`]): at most 4 per direction.
//!
//! BEYOND Kiali: grouping by `source_cluster` or `destination_cluster` also returns the total
//! over the clusters (the same series without the cluster label), in the same query.

mod json;
mod promql;

pub use json::{MetricSeries, dashboard_json, metrics_json, parse_matrix};
pub use promql::MetricsRangeQuery;

use crate::error::Error;
use crate::options::{check_duration, check_query_time, parse_bool, parse_duration};
use crate::scope::QueryScope;

/// The label the engine adds to tell the metrics of one answer apart (removed from the output).
pub const METRIC_LABEL: &str = "meshglass_metric";
/// The label the engine adds to tell a histogram's statistics apart (removed from the output).
pub const STAT_LABEL: &str = "meshglass_stat";

/// Most points a series may have: Prometheus' own limit per range query (11,000).
pub const MAX_POINTS: u64 = 11_000;
/// Most `quantiles[]` and `byLabels[]` values of one request.
pub const MAX_LIST: usize = 10;

/// One of Kiali's Istio metrics (`business/metrics_definitions.go`, `istioMetrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// Kiali's name, the key of the answer (`request_count`).
    pub name: &'static str,
    /// The Istio metric read (a histogram's base name).
    pub istio: &'static str,
    /// A histogram: average and quantiles rather than a rate.
    pub histogram: bool,
    /// Counts only failed requests (Kiali's error labels).
    pub errors: bool,
}

const fn rate(name: &'static str, istio: &'static str) -> MetricDef {
    MetricDef {
        name,
        istio,
        histogram: false,
        errors: false,
    }
}

const fn histogram(name: &'static str, istio: &'static str) -> MetricDef {
    MetricDef {
        name,
        istio,
        histogram: true,
        errors: false,
    }
}

/// Kiali's Istio metrics, in Kiali's order. Istio's L4 telemetry is reported backwards
/// (istio/istio#32399): `tcp_received` reads the sent-bytes counter and vice versa, as Kiali does.
pub const ISTIO_METRICS: [MetricDef; 13] = [
    rate("grpc_received", "istio_response_messages_total"),
    rate("grpc_sent", "istio_request_messages_total"),
    rate("request_count", "istio_requests_total"),
    MetricDef {
        name: "request_error_count",
        istio: "istio_requests_total",
        histogram: false,
        errors: true,
    },
    histogram(
        "request_duration_millis",
        "istio_request_duration_milliseconds",
    ),
    rate("request_throughput", "istio_request_bytes_sum"),
    rate("response_throughput", "istio_response_bytes_sum"),
    histogram("request_size", "istio_request_bytes"),
    histogram("response_size", "istio_response_bytes"),
    rate("tcp_received", "istio_tcp_sent_bytes_total"),
    rate("tcp_sent", "istio_tcp_received_bytes_total"),
    rate("tcp_opened", "istio_tcp_connections_opened_total"),
    rate("tcp_closed", "istio_tcp_connections_closed_total"),
];

/// What the metrics are of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsTarget {
    /// Every workload of the namespace (`/api/namespaces/{ns}/metrics`).
    Namespace,
    /// An app (canonical service).
    App(String),
    /// A workload.
    Workload(String),
    /// A service (inbound only, as in Kiali).
    Service(String),
}

/// `direction`: traffic into the target or out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    /// The side of the telemetry the target is on: `destination` inbound, `source` outbound.
    pub fn side(self) -> &'static str {
        match self {
            Direction::Inbound => "destination",
            Direction::Outbound => "source",
        }
    }

    /// The other side.
    pub fn peer_side(self) -> &'static str {
        match self {
            Direction::Inbound => "source",
            Direction::Outbound => "destination",
        }
    }
}

/// `reporter`: which proxy's telemetry; `both` adds no reporter matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporter {
    Source,
    Destination,
    Both,
}

/// `rateFunc`: `rate` or `irate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateFunc {
    Rate,
    Irate,
}

/// A metrics request, with Kiali's parameter names and defaults (`models.IstioMetricsQuery`
/// `FillDefaults`: outbound, reporter `source`, the last 30 minutes every 15 s, rate interval
/// 1 minute, average on, no quantiles).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    pub namespace: String,
    pub target: MetricsTarget,
    pub direction: Direction,
    pub reporter: Reporter,
    /// `requestProtocol` (`http`, `grpc`, …); `None`: every protocol.
    pub request_protocol: Option<String>,
    /// `quantiles[]`, as given (each a number in [0, 1]).
    pub quantiles: Vec<String>,
    /// `avg`.
    pub avg: bool,
    /// `byLabels[]`: the labels the series are grouped by.
    pub by_labels: Vec<String>,
    /// `filters[]`: the metrics asked for (all when empty).
    pub filters: Vec<String>,
    /// `step`, seconds.
    pub step: u64,
    /// `rateInterval`, seconds.
    pub rate_interval: u64,
    /// `rateFunc`.
    pub rate_func: RateFunc,
    /// First point, Unix seconds (`queryTime - duration`, aligned to `step` as Kiali does).
    pub start: i64,
    /// Last point, Unix seconds (`queryTime`).
    pub end: i64,
    /// The clusters of the target's side the telemetry may come from (`clusterName`, or the
    /// clusters where the caller may read the namespace); `None`: any.
    pub clusters: Option<Vec<String>>,
    /// `external_services.prometheus.query_scope`.
    pub scope: QueryScope,
}

impl MetricsQuery {
    /// Kiali's defaults for `target` in `namespace` at `now_unix`.
    pub fn new(namespace: &str, target: MetricsTarget, now_unix: i64) -> Self {
        MetricsQuery {
            namespace: namespace.to_string(),
            target,
            direction: Direction::Outbound,
            reporter: Reporter::Source,
            request_protocol: None,
            quantiles: Vec::new(),
            avg: true,
            by_labels: Vec::new(),
            filters: Vec::new(),
            step: 15,
            rate_interval: 60,
            rate_func: RateFunc::Rate,
            start: now_unix - 1800,
            end: now_unix,
            clusters: None,
            scope: QueryScope::default(),
        }
    }

    /// Parses Kiali's metrics query parameters (repeated keys for the `[]` lists). Unknown
    /// parameters are ignored, as in Kiali; `clusterName` is the caller's to apply
    /// ([`MetricsQuery::clusters`]).
    pub fn from_query_pairs<'a, I>(
        namespace: &str,
        target: MetricsTarget,
        pairs: I,
        now_unix: i64,
    ) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut q = MetricsQuery::new(namespace, target, now_unix);
        let mut duration = 1800;
        for (k, v) in pairs {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            match k {
                "filters[]" => {
                    if !ISTIO_METRICS.iter().any(|m| m.name == v) {
                        return Err(Error::invalid("filters[]", v));
                    }
                    push_unique(&mut q.filters, v, "filters[]", ISTIO_METRICS.len())?;
                }
                "direction" => {
                    q.direction = match v {
                        "inbound" => Direction::Inbound,
                        "outbound" => Direction::Outbound,
                        _ => return Err(Error::invalid("direction", v)),
                    }
                }
                "reporter" => {
                    q.reporter = match v {
                        "source" => Reporter::Source,
                        "destination" => Reporter::Destination,
                        "both" => Reporter::Both,
                        _ => return Err(Error::invalid("reporter", v)),
                    }
                }
                "requestProtocol" => {
                    let ok = v.len() <= 32
                        && v.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                    if !ok {
                        return Err(Error::invalid("requestProtocol", v));
                    }
                    q.request_protocol = Some(v.to_string());
                }
                "quantiles[]" => {
                    let ok = v.parse::<f64>().is_ok_and(|f| (0.0..=1.0).contains(&f));
                    if !ok {
                        return Err(Error::invalid("quantiles[]", v));
                    }
                    push_unique(&mut q.quantiles, v, "quantiles[]", MAX_LIST)?;
                }
                "avg" => q.avg = parse_bool("avg", v)?,
                "byLabels[]" => {
                    if !is_label_name(v) {
                        return Err(Error::invalid("byLabels[]", v));
                    }
                    push_unique(&mut q.by_labels, v, "byLabels[]", MAX_LIST)?;
                }
                "step" => {
                    q.step = parse_duration(v)
                        .ok()
                        .filter(|s| *s > 0 && *s <= crate::options::MAX_DURATION_SECS)
                        .ok_or_else(|| Error::invalid("step", v))?;
                }
                "rateInterval" => q.rate_interval = check_duration("rateInterval", v)?,
                "rateFunc" => {
                    q.rate_func = match v {
                        "rate" => RateFunc::Rate,
                        "irate" => RateFunc::Irate,
                        _ => return Err(Error::invalid("rateFunc", v)),
                    }
                }
                "duration" => duration = check_duration("duration", v)?,
                "queryTime" => q.end = check_query_time(v, now_unix)?,
                _ => {}
            }
        }
        let step = q.step as i64;
        let start = q.end - duration as i64;
        // Kiali aligns the first point to a multiple of the step.
        q.start = start - start.rem_euclid(step);
        let points = (q.end - q.start) as u64 / q.step + 1;
        if points > MAX_POINTS {
            let what = format!("{} (duration {duration} s gives {points} points)", q.step);
            return Err(Error::invalid("step", &what));
        }
        Ok(q)
    }

    /// Whether metric `name` is asked for (`filters[]` empty: all are).
    pub fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| f == name)
    }
}

fn push_unique(
    list: &mut Vec<String>,
    v: &str,
    name: &'static str,
    max: usize,
) -> Result<(), Error> {
    if !list.iter().any(|x| x == v) {
        if list.len() == max {
            return Err(Error::invalid(name, &format!("more than {max} values")));
        }
        list.push(v.to_string());
    }
    Ok(())
}

/// Prometheus' label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 128
}

/// What a metrics parameter accepts, in words for an error message; `None` for other names.
pub fn allowed_values(param: &str) -> Option<String> {
    Some(match param {
        "direction" => "inbound, outbound".into(),
        "reporter" => "source, destination, both".into(),
        "rateFunc" => "rate, irate".into(),
        "requestProtocol" => "a protocol name such as http, grpc, tcp".into(),
        "quantiles[]" => format!("numbers between 0 and 1, at most {MAX_LIST}"),
        "byLabels[]" => {
            format!("Prometheus label names ([a-zA-Z_][a-zA-Z0-9_]*), at most {MAX_LIST}")
        }
        "filters[]" => ISTIO_METRICS
            .iter()
            .map(|m| m.name)
            .collect::<Vec<_>>()
            .join(", "),
        "step" => format!(
            "a positive number of seconds (or 15s, 1m), with at most {MAX_POINTS} points in the duration"
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
