//! Telemetry input: Istio standard metric samples as returned by a Prometheus instant query.
//!
//! Labels are kept in a fixed layout rather than a map: deserialising a Prometheus `metric` object
//! straight into [`IstioLabels`] costs one string match per label and no allocation per label, and
//! every later lookup is an array access. That is what keeps a 100,000-sample graph within its
//! time budget.

use serde::{Deserialize, Serialize};

use crate::error::Error;

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
    /// `istio_requests_total` grouped by the aggregate label too (the aggregateNode appender),
    /// its value copied into `meshglass_aggregate`.
    RequestsByAggregate,
}

impl Family {
    /// Every family, in a fixed order.
    pub const ALL: [Family; 11] = [
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
        Family::RequestsByAggregate,
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
            Family::RequestsByAggregate => "istio_requests_total",
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

macro_rules! istio_labels {
    ($($(#[$doc:meta])* $variant:ident $field:ident;)*) => {
        /// A label the engine reads (its Prometheus name is [`Label::name`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum Label {
            $($(#[$doc])* $variant,)*
        }

        impl Label {
            /// Every label, in a fixed order.
            pub const ALL: [Label; LABELS] = [$(Label::$variant,)*];

            /// The Prometheus label name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Label::$variant => stringify!($field),)*
                }
            }

            /// The label of a Prometheus label name, if the engine reads it.
            pub fn from_name(name: &str) -> Option<Label> {
                match name {
                    $(stringify!($field) => Some(Label::$variant),)*
                    _ => None,
                }
            }
        }

        #[allow(missing_docs)]
        impl IstioLabels {
            $(
                $(#[$doc])*
                pub fn $field(&self) -> Option<&str> {
                    self.get(Label::$variant)
                }
            )*
        }
    };
}

/// How many labels the engine reads.
const LABELS: usize = 23;

istio_labels! {
    Reporter reporter;
    SourceCluster source_cluster;
    SourceWorkloadNamespace source_workload_namespace;
    SourceWorkload source_workload;
    SourceCanonicalService source_canonical_service;
    SourceCanonicalRevision source_canonical_revision;
    SourcePrincipal source_principal;
    DestinationCluster destination_cluster;
    DestinationServiceNamespace destination_service_namespace;
    DestinationService destination_service;
    DestinationServiceName destination_service_name;
    DestinationWorkloadNamespace destination_workload_namespace;
    DestinationWorkload destination_workload;
    DestinationCanonicalService destination_canonical_service;
    DestinationCanonicalRevision destination_canonical_revision;
    DestinationPrincipal destination_principal;
    RequestProtocol request_protocol;
    ResponseCode response_code;
    GrpcResponseStatus grpc_response_status;
    ResponseFlags response_flags;
    ConnectionSecurityPolicy connection_security_policy;
    /// Histogram bucket upper bound (only on `_bucket` samples).
    Le le;
    /// The aggregate label's value (only on [`Family::RequestsByAggregate`] samples).
    MeshglassAggregate meshglass_aggregate;
}

/// The labels of one sample ([`Label`]); labels the engine does not use are dropped.
///
/// The values are kept back to back in one buffer: one allocation per sample instead of one per
/// label, and a sample's labels are read from a few adjacent cache lines — what keeps a
/// 100,000-sample graph within its time budget. A Prometheus `metric` object deserialises
/// straight into it; it serialises as such an object (the labels that are set).
#[derive(Clone)]
pub struct IstioLabels {
    /// Every value set, back to back (a value set again leaves its old bytes unused).
    buf: String,
    /// Where each label's value is in `buf`; [`IstioLabels::ABSENT`] when not set.
    spans: [(u32, u32); LABELS],
}

impl Default for IstioLabels {
    fn default() -> Self {
        IstioLabels {
            buf: String::new(),
            spans: [IstioLabels::ABSENT; LABELS],
        }
    }
}

impl IstioLabels {
    const ABSENT: (u32, u32) = (u32::MAX, u32::MAX);

    /// The value of a label, if set.
    #[inline]
    pub fn get(&self, label: Label) -> Option<&str> {
        let (a, b) = self.spans[label as usize];
        if (a, b) == IstioLabels::ABSENT {
            return None;
        }
        self.buf.get(a as usize..b as usize)
    }

    /// [`IstioLabels::get`] as bytes.
    #[inline]
    pub(crate) fn get_bytes(&self, label: Label) -> Option<&[u8]> {
        let (a, b) = self.spans[label as usize];
        if (a, b) == IstioLabels::ABSENT {
            return None;
        }
        self.buf.as_bytes().get(a as usize..b as usize)
    }

    /// Sets (`Some`) or removes (`None`) a label's value. A value that does not fit the
    /// buffer's 32-bit offsets (4 GiB of labels) is left out.
    pub fn put(&mut self, label: Label, value: Option<&str>) {
        self.spans[label as usize] = match value {
            None => IstioLabels::ABSENT,
            Some(v) => {
                let a = self.buf.len();
                match (u32::try_from(a), u32::try_from(a + v.len())) {
                    (Ok(start), Ok(end)) if end != u32::MAX => {
                        if self.buf.capacity() == 0 {
                            self.buf.reserve(256);
                        }
                        self.buf.push_str(v);
                        (start, end)
                    }
                    _ => IstioLabels::ABSENT,
                }
            }
        };
    }

    /// Sets one label by its Prometheus name. Returns `false` (and stores nothing) for a label
    /// the engine does not use.
    pub fn set(&mut self, name: &str, value: impl AsRef<str>) -> bool {
        match Label::from_name(name) {
            Some(l) => {
                self.put(l, Some(value.as_ref()));
                true
            }
            None => false,
        }
    }

    /// Builds labels from `(name, value)` pairs; unknown names are ignored.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut labels = IstioLabels::default();
        for (k, v) in pairs {
            labels.set(k.as_ref(), v);
        }
        labels
    }

    /// The labels that are set, with their values, in [`Label::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Label, &str)> {
        Label::ALL
            .into_iter()
            .filter_map(|l| self.get(l).map(|v| (l, v)))
    }
}

impl std::fmt::Debug for IstioLabels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("IstioLabels");
        for l in Label::ALL {
            d.field(l.name(), &self.get(l));
        }
        d.finish()
    }
}

impl PartialEq for IstioLabels {
    fn eq(&self, other: &Self) -> bool {
        Label::ALL.into_iter().all(|l| self.get(l) == other.get(l))
    }
}

impl Eq for IstioLabels {}

impl std::hash::Hash for IstioLabels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for l in Label::ALL {
            self.get(l).hash(state);
        }
    }
}

impl Serialize for IstioLabels {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = serializer.serialize_map(None)?;
        for (l, v) in self.iter() {
            m.serialize_entry(l.name(), v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for IstioLabels {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(LabelsVisitor)
    }
}

struct LabelsVisitor;

impl<'de> serde::de::Visitor<'de> for LabelsVisitor {
    type Value = IstioLabels;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map of label names to string values")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<IstioLabels, A::Error> {
        let mut labels = IstioLabels::default();
        while let Some(key) = map.next_key::<LabelKey>()? {
            match key.0 {
                Some(l) => map.next_value_seed(ValueSeed(&mut labels, l))?,
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(labels)
    }
}

/// A label name: the [`Label`] if the engine reads it (no allocation either way).
struct LabelKey(Option<Label>);

impl<'de> Deserialize<'de> for LabelKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = LabelKey;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a label name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<LabelKey, E> {
                Ok(LabelKey(Label::from_name(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// Deserialises a label's value (a string, or null for none) straight into the buffer.
struct ValueSeed<'l>(&'l mut IstioLabels, Label);

impl<'de> serde::de::DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a string value for label {}", self.1.name())
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.0.put(self.1, None);
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.0.put(self.1, Some(v));
        Ok(())
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
        V: AsRef<str>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_metric_objects_deserialise_into_labels() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"istio_requests_total","app":"x","reporter":"destination",
              "source_workload":"productpage-v1","destination_service":"r\u00e9views.\"q\".svc",
              "response_code":"200","le":null,"unused":{"nested":[1,2]}},
             "value":[1700000000,"1.5"]},
            {"metric":{},"value":[1700000000,"NaN"]}]}}"#;
        let samples = parse_prometheus_response(Family::RequestsTotal, body).unwrap();
        assert_eq!(samples.len(), 2);
        let l = &samples[0].labels;
        assert_eq!(l.reporter(), Some("destination"));
        assert_eq!(l.source_workload(), Some("productpage-v1"));
        assert_eq!(l.destination_service(), Some("réviews.\"q\".svc"));
        assert_eq!(l.response_code(), Some("200"));
        assert_eq!(l.le(), None);
        assert_eq!(l.source_cluster(), None);
        assert_eq!(samples[0].value, 1.5);
        assert_eq!(samples[1].labels, IstioLabels::default());
        assert!(samples[1].value.is_nan());
        // Not a string where a label value is expected: the error names the label.
        let bad = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"response_code":200},"value":[1,"1"]}]}}"#;
        let err = parse_prometheus_response(Family::RequestsTotal, bad).unwrap_err();
        assert!(err.to_string().contains("response_code"), "{err}");
    }

    #[test]
    fn labels_set_replace_remove_and_compare_by_value() {
        let mut a = IstioLabels::from_pairs([("reporter", "source"), ("response_code", "200")]);
        assert!(!a.set("not_a_label", "x"));
        a.put(Label::ResponseCode, Some("503"));
        a.put(Label::Reporter, None);
        a.put(Label::Le, Some(""));
        assert_eq!(a.response_code(), Some("503"));
        assert_eq!(a.reporter(), None);
        assert_eq!(a.le(), Some(""));
        // Equality, hashing and Debug see values, not the buffer's history.
        let b = IstioLabels::from_pairs([("le", ""), ("response_code", "503")]);
        assert_eq!(a, b);
        let hash = |l: &IstioLabels| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            l.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&a), hash(&b));
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert!(format!("{a:?}").contains("response_code: Some(\"503\")"));
        // Serialises as a Prometheus metric object and reads back the same.
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"{"response_code":"503","le":""}"#);
        assert_eq!(serde_json::from_str::<IstioLabels>(&json).unwrap(), a);
        for l in Label::ALL {
            assert_eq!(Label::from_name(l.name()), Some(l));
        }
    }
}
