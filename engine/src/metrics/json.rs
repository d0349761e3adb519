//! Range answers in, Kiali's JSON out: `MetricsMap` (`models/metrics.go`: metric name → series
//! `{labels, datapoints, stat, name}`, each datapoint `[unix seconds, "value"]`) and the Istio
//! `MonitoringDashboard` (`business/dashboards.go` `BuildIstioDashboard`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Direction, METRIC_LABEL, STAT_LABEL};
use crate::error::Error;
use crate::input::parse_prom_float;

/// One series of one metric (and statistic) of the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSeries {
    /// Kiali's metric name (`request_count`).
    pub name: String,
    /// `avg` or a quantile for histograms.
    pub stat: Option<String>,
    /// The grouping labels.
    pub labels: BTreeMap<String, String>,
    /// (Unix seconds, value).
    pub points: Vec<(f64, f64)>,
}

#[derive(Deserialize)]
struct Body {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Stream>,
}

#[derive(Deserialize)]
struct Stream {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(Value, String)>,
}

/// A series of a range answer: its labels and (Unix seconds, value) points.
pub type Series = (BTreeMap<String, String>, Vec<(f64, f64)>);

/// Parses the body of a Prometheus `/api/v1/query_range` answer (a matrix).
pub fn parse_matrix(body: &[u8]) -> Result<Vec<Series>, Error> {
    let b: Body =
        serde_json::from_slice(body).map_err(|e| Error::PrometheusResponse(e.to_string()))?;
    if b.status != "success" {
        return Err(Error::PrometheusResponse(
            b.error.unwrap_or_else(|| format!("status {}", b.status)),
        ));
    }
    let data = b
        .data
        .ok_or_else(|| Error::PrometheusResponse("missing data".into()))?;
    if data.result_type != "matrix" {
        return Err(Error::PrometheusResponse(format!(
            "expected a matrix result, got {}",
            data.result_type
        )));
    }
    Ok(data
        .result
        .into_iter()
        .map(|s| {
            let points = s
                .values
                .iter()
                .map(|(t, v)| (t.as_f64().unwrap_or(f64::NAN), parse_prom_float(v)))
                .collect();
            (s.metric, points)
        })
        .collect())
}

impl MetricSeries {
    /// The series of the answers, split by the labels the queries added (which are removed),
    /// sorted by metric, statistic and labels. Series without the metric label are dropped.
    pub fn collect(answers: Vec<Series>) -> Vec<MetricSeries> {
        let mut out: Vec<MetricSeries> = answers
            .into_iter()
            .filter_map(|(mut labels, points)| {
                let name = labels.remove(METRIC_LABEL)?;
                let stat = labels.remove(STAT_LABEL);
                Some(MetricSeries {
                    name,
                    stat,
                    labels,
                    points,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.name, &a.stat, &a.labels).cmp(&(&b.name, &b.stat, &b.labels)));
        out
    }

    fn to_json(&self, scale: f64) -> Value {
        let datapoints: Vec<Value> = self
            .points
            .iter()
            .map(|(t, v)| {
                let t = if t.fract() == 0.0 && t.is_finite() {
                    json!(*t as i64)
                } else {
                    json!(t)
                };
                json!([t, number(v * scale)])
            })
            .collect();
        let mut m = json!({"labels": self.labels, "datapoints": datapoints, "name": self.name});
        if let Some(s) = &self.stat {
            m["stat"] = json!(s);
        }
        m
    }
}

/// A sample value as Prometheus and Kiali write it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Kiali's `MetricsMap`: every metric's series under its name (unscaled, as Kiali's `/metrics`).
pub fn metrics_json(series: &[MetricSeries]) -> Value {
    let mut map = serde_json::Map::new();
    for s in series {
        let entry = map
            .entry(s.name.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(s.to_json(1.0));
        }
    }
    Value::Object(map)
}

/// Kiali's Istio charts (`getIstioCharts`): title, unit, metric and the scale applied to it.
const CHARTS: [(&str, &str, &str, f64); 12] = [
    ("Request volume", "ops", "request_count", 1.0),
    (
        "Request duration",
        "seconds",
        "request_duration_millis",
        0.001,
    ),
    ("Request size", "bytes", "request_size", 1.0),
    ("Response size", "bytes", "response_size", 1.0),
    ("Request throughput", "bitrate", "request_throughput", 8.0),
    ("Response throughput", "bitrate", "response_throughput", 8.0),
    ("gRPC received", "msgrate", "grpc_received", 1.0),
    ("gRPC sent", "msgrate", "grpc_sent", 1.0),
    ("TCP opened", "connrate", "tcp_opened", 1.0),
    ("TCP closed", "connrate", "tcp_closed", 1.0),
    ("TCP received", "bitrate", "tcp_received", 1.0),
    ("TCP sent", "bitrate", "tcp_sent", 1.0),
];

/// Kiali's Istio `MonitoringDashboard` of `direction`: the charts in Kiali's order with their
/// (scaled) series, and the label aggregations the UI offers.
pub fn dashboard_json(series: &[MetricSeries], direction: Direction) -> Value {
    let charts: Vec<Value> = CHARTS
        .iter()
        .map(|(title, unit, metric, scale)| {
            let metrics: Vec<Value> = series
                .iter()
                .filter(|s| s.name == *metric)
                .map(|s| s.to_json(*scale))
                .collect();
            json!({
                "name": title, "unit": unit, "spans": 3, "startCollapsed": false,
                "metrics": metrics, "xAxis": null, "error": "",
            })
        })
        .collect();
    let title = match direction {
        Direction::Inbound => "Inbound Metrics",
        Direction::Outbound => "Outbound Metrics",
    };
    json!({
        "name": "",
        "title": title,
        "charts": charts,
        "aggregations": aggregations(direction),
        "externalLinks": [],
        "rows": 3,
    })
}

/// Kiali's default aggregations (`models/dashboards.go` `metricsDefaults`), plus (BEYOND) the
/// peer's and the target's cluster.
fn aggregations(direction: Direction) -> Value {
    let (local, remote) = (direction.side(), direction.peer_side());
    let mut aggs = vec![
        (format!("{local}_canonical_revision"), "Local version"),
        (format!("{remote}_workload_namespace"), "Remote namespace"),
    ];
    if remote == "destination" {
        aggs.push(("destination_service_name".into(), "Remote service"));
    }
    aggs.extend([
        (format!("{remote}_canonical_service"), "Remote app"),
        (format!("{remote}_canonical_revision"), "Remote version"),
        ("response_code".into(), "Response code"),
        ("grpc_response_status".into(), "GRPC status"),
        ("response_flags".into(), "Response flags"),
        (
            "connection_security_policy".into(),
            "Connection Security Policy",
        ),
        (format!("{local}_cluster"), "Local cluster"),
        (format!("{remote}_cluster"), "Remote cluster"),
    ]);
    Value::Array(
        aggs.into_iter()
            .map(|(label, name)| json!({"label": label, "displayName": name}))
            .collect(),
    )
}
