//! The tracing store client: Jaeger's HTTP query API (`/api/traces`, `/api/traces/{id}`), which
//! Jaeger serves and Tempo serves through its Jaeger-compatible query frontend, over the shared
//! upstream client (TLS, `auth`, `custom_headers`, bounded bodies, named failures), and Kiali's
//! trace model (`TracingResponse`, Jaeger's JSON trace) with what the server reads of it: a
//! span's cluster (`istio.cluster_id`, as Kiali reads it), namespace, workload and error flag.

use std::collections::BTreeMap;
use std::time::Duration;

use meshglass_crds::tracing::TracingConfig;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::upstream::{self, Failure, FailureKind};

/// Largest answer read from the store (1,000 traces of ten spans are a few MiB).
pub const MAX_BODY: usize = 32 << 20;
/// Traces one search returns at most (Kiali's default limit is 100).
pub const MAX_LIMIT: u32 = 1_000;
/// Kiali's default tracing query timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The span tag Kiali reads as a span's cluster.
pub const CLUSTER_TAG: &str = "istio.cluster_id";

/// A Jaeger tag or process tag: `{key, type, value}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyValue {
    pub key: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub value: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reference {
    #[serde(rename = "refType")]
    pub ref_type: String,
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Log {
    pub timestamp: u64,
    #[serde(default)]
    pub fields: Vec<KeyValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Process {
    #[serde(rename = "serviceName")]
    pub service_name: String,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

/// Jaeger's JSON span (Kiali's `jaegerModels.Span`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Span {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
    #[serde(default)]
    pub flags: u32,
    #[serde(rename = "operationName", default)]
    pub operation_name: String,
    #[serde(default)]
    pub references: Vec<Reference>,
    #[serde(rename = "startTime", default)]
    pub start_time: u64,
    #[serde(default)]
    pub duration: u64,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    #[serde(default)]
    pub logs: Vec<Log>,
    #[serde(rename = "processID", default)]
    pub process_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

impl Span {
    /// A string tag's value.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .and_then(|t| t.value.as_str())
    }

    /// The cluster of the proxy that reported the span (`istio.cluster_id`).
    pub fn cluster(&self) -> Option<&str> {
        self.tag(CLUSTER_TAG)
    }

    /// The namespace of the reporting proxy (`istio.namespace`).
    pub fn namespace(&self) -> Option<&str> {
        self.tag("istio.namespace")
    }

    /// `error=true` (a boolean or the string Envoy writes).
    pub fn is_error(&self) -> bool {
        self.tags.iter().any(|t| {
            t.key == "error" && (t.value == Value::Bool(true) || t.value.as_str() == Some("true"))
        })
    }

    /// Whether the reporting proxy is `workload`'s: Envoy's `node_id` is
    /// `sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local` and a pod of a Deployment
    /// is named `<workload>-<hash>-<suffix>`.
    pub fn of_workload(&self, workload: &str, namespace: &str) -> bool {
        let Some(node) = self.tag("node_id") else {
            return false;
        };
        let Some(pod) = node
            .split('~')
            .nth(2)
            .and_then(|p| p.strip_suffix(&format!(".{namespace}")))
        else {
            return false;
        };
        pod == workload
            || pod
                .strip_prefix(workload)
                .is_some_and(|rest| rest.starts_with('-'))
    }

    /// Whether the span is a call to or through `service` of `namespace` (its operation or
    /// upstream names the service's host).
    pub fn of_service(&self, service: &str, namespace: &str) -> bool {
        let host = format!("{service}.{namespace}.svc");
        self.operation_name.starts_with(&host)
            || self
                .tag("upstream_cluster")
                .is_some_and(|u| u.contains(&host))
    }

    /// `istio.canonical_service`.
    pub fn app(&self) -> Option<&str> {
        self.tag("istio.canonical_service")
    }
}

/// Jaeger's JSON trace (Kiali's `jaegerModels.Trace`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Trace {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(default)]
    pub spans: Vec<Span>,
    #[serde(default)]
    pub processes: BTreeMap<String, Process>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

impl Trace {
    /// Whether one of its spans has `error=true`.
    pub fn has_error(&self) -> bool {
        self.spans.iter().any(Span::is_error)
    }
}

/// Kiali's `StructuredError`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct StructuredError {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: i64,
    #[serde(default)]
    pub msg: String,
    #[serde(rename = "traceID", default, skip_serializing_if = "String::is_empty")]
    pub trace_id: String,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// Kiali's `TracingResponse`: the traces list of an app, workload or service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TracingResponse {
    pub data: Vec<Trace>,
    pub errors: Vec<StructuredError>,
    #[serde(rename = "tracingServiceName")]
    pub tracing_service_name: String,
}

/// Kiali's `TracingSpan`: a span with the number of spans of its trace.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TracingSpan {
    #[serde(flatten)]
    pub span: Span,
    #[serde(rename = "traceSize")]
    pub trace_size: usize,
}

/// Jaeger's answer to a search or a trace fetch.
#[derive(Deserialize)]
struct JaegerAnswer {
    #[serde(default)]
    data: Option<Vec<Trace>>,
    #[serde(default)]
    errors: Option<Vec<StructuredError>>,
}

/// One search of the store: Kiali's `TracingQuery`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub service: String,
    pub start_micros: u64,
    pub end_micros: u64,
    pub limit: u32,
    pub min_duration_micros: Option<u64>,
    pub tags: BTreeMap<String, String>,
}

impl Search {
    /// Jaeger's query parameters.
    fn form(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("service", self.service.clone()),
            ("start", self.start_micros.to_string()),
            ("end", self.end_micros.to_string()),
            ("limit", self.limit.to_string()),
            ("lookback", "custom".to_string()),
        ];
        if let Some(d) = self.min_duration_micros {
            f.push(("minDuration", format!("{d}us")));
        }
        if !self.tags.is_empty() {
            f.push((
                "tags",
                serde_json::to_string(&self.tags).unwrap_or_else(|_| "{}".into()),
            ));
        }
        f
    }
}

/// The path a reachability probe reads: Jaeger's service list, as Kiali's Jaeger HTTP client
/// checks the store.
pub const PROBE_PATH: &str = "/api/services";
/// Largest answer of a probe (a service list).
const PROBE_MAX_BODY: usize = 4 << 20;

/// The client `external_services.tracing` describes.
pub struct TracingClient {
    upstream: upstream::Client,
    /// The same store, credentials and headers for the reachability probe: within
    /// [`upstream::reachability::PROBE_TIMEOUT`] and without following redirects.
    probe: upstream::Client,
    reach: upstream::Reachability,
    pub config: TracingConfig,
}

impl TracingClient {
    /// The client, or why there is none (`enabled: false`, no `internal_url`, `use_grpc`, an
    /// unknown provider): the traces routes then answer 503 with that reason.
    pub fn configured(
        cfg: &TracingConfig,
        paths: &upstream::Paths,
    ) -> std::result::Result<Self, Failure> {
        let refuse = |kind, message: String| Failure {
            service: "tracing",
            kind,
            message,
        };
        if !cfg.enabled {
            return Err(refuse(
                FailureKind::Disabled,
                "external_services.tracing.enabled is false".into(),
            ));
        }
        if let Some(p) = cfg.problem() {
            return Err(refuse(FailureKind::NotConfigured, p));
        }
        let timeout = if cfg.query_timeout == 0 {
            DEFAULT_TIMEOUT
        } else {
            Duration::from_secs(cfg.query_timeout)
        };
        let settings = upstream::Settings {
            service: "tracing",
            url: &cfg.internal_url,
            auth: &cfg.auth,
            custom_headers: &cfg.custom_headers,
            timeout,
            max_body: MAX_BODY,
            follow_redirects: true,
            paths,
        };
        let build = |s: &upstream::Settings<'_>| {
            upstream::Client::new(s).map_err(|e| refuse(FailureKind::NotConfigured, e.to_string()))
        };
        let upstream = build(&settings)?;
        let probe = build(&upstream::Settings {
            timeout: upstream::reachability::PROBE_TIMEOUT,
            max_body: PROBE_MAX_BODY,
            follow_redirects: false,
            ..settings.clone()
        })?;
        Ok(TracingClient {
            upstream,
            probe,
            reach: upstream::Reachability::default(),
            config: cfg.clone(),
        })
    }

    /// The provider's name as the mesh page shows it (`jaeger`, `tempo`).
    pub fn provider(&self) -> String {
        provider_name(&self.config)
    }

    /// Whether the store answered its last reachability probe ([`PROBE_PATH`], 2xx within the
    /// probe timeout, no redirect followed), probing again when that answer is older than
    /// [`upstream::reachability::PROBE_TTL`]: one probe per TTL, whoever asks.
    pub async fn reachable(&self) -> bool {
        self.reachable_at(std::time::Instant::now()).await
    }

    /// [`TracingClient::reachable`] as of `now`.
    pub async fn reachable_at(&self, now: std::time::Instant) -> bool {
        self.reach
            .check_at(now, || async { self.probe.get(PROBE_PATH).await.is_ok() })
            .await
    }

    /// Reachability probes sent so far.
    pub fn probes_sent(&self) -> u64 {
        self.reach.sent()
    }

    /// The store's base URL, without credentials.
    pub fn url(&self) -> String {
        self.upstream.url()
    }

    /// Traces of `search` (at most its limit), `query_scope` added to its tags.
    pub async fn search(
        &self,
        search: &Search,
    ) -> std::result::Result<(Vec<Trace>, Vec<StructuredError>), Failure> {
        let mut s = search.clone();
        for (k, v) in &self.config.query_scope {
            s.tags.insert(k.clone(), v.clone());
        }
        let answer = self.upstream.get_with("/api/traces", &s.form()).await?;
        let a = self.decode(&answer.body)?;
        let mut traces = a.data.unwrap_or_default();
        traces.truncate(s.limit as usize);
        Ok((traces, a.errors.unwrap_or_default()))
    }

    /// One trace by id; `None` when the store does not have it.
    pub async fn trace(&self, id: &str) -> std::result::Result<Option<Trace>, Failure> {
        match self.upstream.get(&format!("/api/traces/{id}")).await {
            Ok(answer) => Ok(self.decode(&answer.body)?.data.and_then(|mut d| d.pop())),
            // Jaeger answers 404 for a trace it does not hold.
            Err(f) if f.kind == FailureKind::Rejected && f.message.starts_with("HTTP 404") => {
                Ok(None)
            }
            Err(f) => Err(f),
        }
    }

    fn decode(&self, body: &[u8]) -> std::result::Result<JaegerAnswer, Failure> {
        serde_json::from_slice(body).map_err(|_| Failure {
            service: "tracing",
            kind: FailureKind::NotJson,
            message: "the answer is not a Jaeger query API answer".into(),
        })
    }
}

/// The provider `cfg` names, lower-cased; Kiali's default `jaeger` when empty.
pub fn provider_name(cfg: &TracingConfig) -> String {
    let p = cfg.provider.trim().to_ascii_lowercase();
    if p.is_empty() { "jaeger".into() } else { p }
}

/// Checks a trace id: 1–32 hex digits (Jaeger's and Kiali's notation).
pub fn valid_trace_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Keeps the spans `keep` accepts (and the processes they use); traces left without spans go.
pub fn retain_spans(traces: &mut Vec<Trace>, keep: &dyn Fn(&Span) -> bool) {
    for t in traces.iter_mut() {
        t.spans.retain(|s| keep(s));
        let used: std::collections::BTreeSet<String> =
            t.spans.iter().map(|s| s.process_id.clone()).collect();
        t.processes.retain(|k, _| used.contains(k));
    }
    traces.retain(|t| !t.spans.is_empty());
}

/// Result of the tracing client's construction kept by the server state.
pub type Configured = std::result::Result<std::sync::Arc<TracingClient>, Failure>;

/// The client `cfg` describes, as the server state keeps it; why there is none is logged unless
/// tracing is disabled.
pub fn from_config(cfg: &TracingConfig, paths: &upstream::Paths) -> Configured {
    let t = TracingClient::configured(cfg, paths).map(std::sync::Arc::new);
    if let Err(f) = &t
        && f.kind != FailureKind::Disabled
    {
        tracing::warn!(reason = f.kind.code(), error = %f, "traces are not available");
    }
    t
}

/// No tracing store (a state built without one).
pub fn unconfigured() -> Configured {
    Err(Failure {
        service: "tracing",
        kind: FailureKind::NotConfigured,
        message: "no tracing store is configured".into(),
    })
}

/// The client's failure as the server's error.
pub fn unavailable(f: &Failure) -> crate::Error {
    crate::Error::Upstream(f.clone())
}

/// Checks the client is there.
pub fn client(c: &Configured) -> Result<std::sync::Arc<TracingClient>> {
    c.clone().map_err(|f| unavailable(&f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn span(tags: Value) -> Span {
        serde_json::from_value(json!({
            "traceID": "ab", "spanID": "01", "operationName": "reviews.bookinfo.svc.cluster.local:9080/*",
            "references": [], "startTime": 1, "duration": 2, "tags": tags, "logs": [], "processID": "p1"
        }))
        .unwrap()
    }

    #[test]
    fn what_a_span_says() {
        let s = span(json!([
            {"key": "istio.cluster_id", "type": "string", "value": "west"},
            {"key": "istio.namespace", "type": "string", "value": "bookinfo"},
            {"key": "node_id", "type": "string", "value": "sidecar~10.0.0.1~reviews-v3-5b9f-x2x.bookinfo~bookinfo.svc.cluster.local"},
            {"key": "error", "type": "bool", "value": true}
        ]));
        assert_eq!(s.cluster(), Some("west"));
        assert_eq!(s.namespace(), Some("bookinfo"));
        assert!(s.is_error());
        assert!(s.of_workload("reviews-v3", "bookinfo"));
        assert!(!s.of_workload("reviews-v", "bookinfo"));
        assert!(!s.of_workload("reviews-v3", "other"));
        assert!(s.of_service("reviews", "bookinfo"));
        assert!(!s.of_service("ratings", "bookinfo"));
        assert!(!span(json!([{"key": "error", "type": "string", "value": "false"}])).is_error());
    }

    #[test]
    fn searches_are_jaeger_forms_and_ids_are_checked() {
        let s = Search {
            service: "reviews.bookinfo".into(),
            start_micros: 10,
            end_micros: 20,
            limit: 5,
            min_duration_micros: Some(300),
            tags: [("error".to_string(), "true".to_string())].into(),
        };
        let f = s.form();
        assert!(f.contains(&("minDuration", "300us".into())));
        assert!(f.contains(&("tags", r#"{"error":"true"}"#.into())));
        assert!(valid_trace_id("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert!(!valid_trace_id("../x") && !valid_trace_id("") && !valid_trace_id(&"a".repeat(33)));
    }

    #[test]
    fn disabled_or_unconfigured_stores_say_why() {
        let paths = upstream::Paths::default();
        let off = TracingConfig {
            enabled: false,
            ..TracingConfig::default()
        };
        let e = TracingClient::configured(&off, &paths).err().unwrap();
        assert_eq!(e.kind, FailureKind::Disabled);
        let e = TracingClient::configured(&TracingConfig::default(), &paths)
            .err()
            .unwrap();
        assert_eq!(e.kind, FailureKind::NotConfigured);
        assert!(e.message.contains("internal_url"));
    }
}
