//! Telemetry input: Istio standard metric samples as returned by a Prometheus instant query.
//!
//! Labels are kept in a fixed struct rather than a map: deserialising a Prometheus `metric` object
//! straight into [`IstioLabels`] costs one string match per label, and every later lookup is a field
//! access. That is what keeps a 100,000-sample graph within its time budget.

use serde::{Deserialize, Serialize};

use crate::Error;

/// An Istio standard metric family the engine understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    /// `istio_requests_total` (HTTP and gRPC requests).
    RequestsTotal,
    /// `istio_request_duration_milliseconds_bucket` (response-time histogram buckets, label `le`).
    RequestDurationBucket,
    /// `istio_request_duration_milliseconds_sum`.
    RequestDurationSum,
    /// `istio_request_duration_milliseconds_count`.
    RequestDurationCount,
    /// `istio_request_messages_total` (gRPC messages sent by the client).
    RequestMessages,
    /// `istio_response_messages_total` (gRPC messages sent by the server).
    ResponseMessages,
    /// `istio_tcp_sent_bytes_total`.
    TcpSentBytes,
    /// `istio_tcp_received_bytes_total`.
    TcpReceivedBytes,
    /// `istio_request_bytes_sum` (HTTP request body sizes).
    RequestBytesSum,
    /// `istio_response_bytes_sum` (HTTP response body sizes).
    ResponseBytesSum,
}

impl Family {
    /// Every family, in a fixed order.
    pub const ALL: [Family; 10] = [
        Family::RequestsTotal,
        Family::RequestDurationBucket,
        Family::RequestDurationSum,
        Family::RequestDurationCount,
        Family::RequestMessages,
        Family::ResponseMessages,
        Family::TcpSentBytes,
        Family::TcpReceivedBytes,
        Family::RequestBytesSum,
        Family::ResponseBytesSum,
    ];

    /// The Prometheus metric name of this family.
    pub fn metric_name(self) -> &'static str {
        match self {
            Family::RequestsTotal => "istio_requests_total",
            Family::RequestDurationBucket => "istio_request_duration_milliseconds_bucket",
            Family::RequestDurationSum => "istio_request_duration_milliseconds_sum",
            Family::RequestDurationCount => "istio_request_duration_milliseconds_count",
            Family::RequestMessages => "istio_request_messages_total",
            Family::ResponseMessages => "istio_response_messages_total",
            Family::TcpSentBytes => "istio_tcp_sent_bytes_total",
            Family::TcpReceivedBytes => "istio_tcp_received_bytes_total",
            Family::RequestBytesSum => "istio_request_bytes_sum",
            Family::ResponseBytesSum => "istio_response_bytes_sum",
        }
    }

    /// The family of a Prometheus metric name, if it is one the engine understands.
    pub fn from_metric_name(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.metric_name() == name)
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.metric_name())
    }
}

/// The labels of one sample. Absent labels are `None`; labels the engine does not use are dropped.
///
/// Field names are the Prometheus label names, so a Prometheus `metric` object deserialises
/// directly into this struct.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct IstioLabels {
    pub reporter: Option<String>,
    pub source_cluster: Option<String>,
    pub source_workload_namespace: Option<String>,
    pub source_workload: Option<String>,
    pub source_canonical_service: Option<String>,
    pub source_canonical_revision: Option<String>,
    pub source_principal: Option<String>,
    pub destination_cluster: Option<String>,
    pub destination_service_namespace: Option<String>,
    pub destination_service: Option<String>,
    pub destination_service_name: Option<String>,
    pub destination_workload_namespace: Option<String>,
    pub destination_workload: Option<String>,
    pub destination_canonical_service: Option<String>,
    pub destination_canonical_revision: Option<String>,
    pub destination_principal: Option<String>,
    pub request_protocol: Option<String>,
    pub response_code: Option<String>,
    pub grpc_response_status: Option<String>,
    pub response_flags: Option<String>,
    pub connection_security_policy: Option<String>,
    /// Histogram bucket upper bound (only on `_bucket` samples).
    pub le: Option<String>,
}

impl IstioLabels {
    /// Sets one label by its Prometheus name. Returns `false` (and stores nothing) for a label
    /// the engine does not use.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> bool {
        let slot = match name {
            "reporter" => &mut self.reporter,
            "source_cluster" => &mut self.source_cluster,
            "source_workload_namespace" => &mut self.source_workload_namespace,
            "source_workload" => &mut self.source_workload,
            "source_canonical_service" => &mut self.source_canonical_service,
            "source_canonical_revision" => &mut self.source_canonical_revision,
            "source_principal" => &mut self.source_principal,
            "destination_cluster" => &mut self.destination_cluster,
            "destination_service_namespace" => &mut self.destination_service_namespace,
            "destination_service" => &mut self.destination_service,
            "destination_service_name" => &mut self.destination_service_name,
            "destination_workload_namespace" => &mut self.destination_workload_namespace,
            "destination_workload" => &mut self.destination_workload,
            "destination_canonical_service" => &mut self.destination_canonical_service,
            "destination_canonical_revision" => &mut self.destination_canonical_revision,
            "destination_principal" => &mut self.destination_principal,
            "request_protocol" => &mut self.request_protocol,
            "response_code" => &mut self.response_code,
            "grpc_response_status" => &mut self.grpc_response_status,
            "response_flags" => &mut self.response_flags,
            "connection_security_policy" => &mut self.connection_security_policy,
            "le" => &mut self.le,
            _ => return false,
        };
        *slot = Some(value.into());
        true
    }

    /// Builds labels from `(name, value)` pairs; unknown names are ignored.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut labels = IstioLabels::default();
        for (k, v) in pairs {
            labels.set(k.as_ref(), v);
        }
        labels
    }
}

/// One instant-vector sample: a metric family, its labels and its value (a per-second rate, or a
/// histogram bucket rate for [`Family::RequestDurationBucket`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Which metric family the sample belongs to.
    pub family: Family,
    /// The sample's labels.
    pub labels: IstioLabels,
    /// The sample value. NaN and infinities are skipped by the engine and reported as diagnostics.
    pub value: f64,
}

impl Sample {
    /// Convenience constructor from label pairs.
    pub fn new<I, K, V>(family: Family, pairs: I, value: f64) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        Sample {
            family,
            labels: IstioLabels::from_pairs(pairs),
            value,
        }
    }
}

#[derive(Deserialize)]
struct PromResponse {
    status: String,
    #[serde(default)]
    data: Option<PromData>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct PromData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<PromVectorEntry>,
}

#[derive(Deserialize)]
struct PromVectorEntry {
    #[serde(default)]
    metric: IstioLabels,
    value: (serde_json::Value, String),
}

/// Parses the body of a Prometheus `/api/v1/query` response (an instant vector) into samples of
/// `family`. Values that do not parse as numbers become NaN, which [`crate::build_graph`] skips and
/// reports. Pure parsing: the caller does the HTTP.
pub fn parse_prometheus_response(family: Family, body: &[u8]) -> Result<Vec<Sample>, Error> {
    let resp: PromResponse =
        serde_json::from_slice(body).map_err(|e| Error::PrometheusResponse(e.to_string()))?;
    if resp.status != "success" {
        return Err(Error::PrometheusResponse(
            resp.error
                .unwrap_or_else(|| format!("status {}", resp.status)),
        ));
    }
    let data = resp
        .data
        .ok_or_else(|| Error::PrometheusResponse("missing data".to_string()))?;
    if data.result_type != "vector" {
        return Err(Error::PrometheusResponse(format!(
            "expected a vector result, got {}",
            data.result_type
        )));
    }
    Ok(data
        .result
        .into_iter()
        .map(|e| Sample {
            family,
            labels: e.metric,
            value: parse_prom_float(&e.value.1),
        })
        .collect())
}

/// Parses a Prometheus sample value ("1.5", "NaN", "+Inf", "-Inf"); garbage becomes NaN.
pub fn parse_prom_float(s: &str) -> f64 {
    match s {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse::<f64>().unwrap_or(f64::NAN),
    }
}
