//! OTLP export of simulated traces: `ExportTraceServiceRequest` messages (the generated types of
//! `opentelemetry-proto`, encoded with prost) POSTed as HTTP/protobuf to a receiver's
//! `/v1/traces`, as an Istio proxy's OpenTelemetry tracer sends them. Spans are grouped into one
//! resource per reporting proxy (`service.name` `<app>.<namespace>`, its cluster and workload).

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message;

use crate::traces::{self, Trace};

/// Spans sent per request (a few MiB of protobuf at most).
pub const SPANS_PER_REQUEST: usize = 5_000;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.to_string())),
        }),
        ..Default::default()
    }
}

fn otlp_span(s: &traces::Span) -> Span {
    Span {
        trace_id: s.trace_id.to_vec(),
        span_id: s.span_id.to_vec(),
        parent_span_id: s.parent.map(|p| p.to_vec()).unwrap_or_default(),
        name: s.name.clone(),
        kind: if s.client {
            span::SpanKind::Client
        } else {
            span::SpanKind::Server
        } as i32,
        start_time_unix_nano: s.start_ns,
        end_time_unix_nano: s.end_ns,
        attributes: s.tags.iter().map(|(k, v)| kv(k, v)).collect(),
        status: Some(Status {
            code: if s.error {
                status::StatusCode::Error
            } else {
                status::StatusCode::Unset
            } as i32,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The export requests of `traces`, each with at most [`SPANS_PER_REQUEST`] spans.
pub fn requests(traces: &[Trace]) -> Vec<ExportTraceServiceRequest> {
    let mut out = Vec::new();
    for chunk in chunks(traces) {
        // One resource per reporting proxy.
        let mut by_proxy: BTreeMap<(String, String, String), Vec<Span>> = BTreeMap::new();
        for s in chunk.iter().flat_map(|t| &t.spans) {
            by_proxy
                .entry((s.cluster.clone(), s.namespace.clone(), s.workload.clone()))
                .or_default()
                .push(otlp_span(s));
        }
        let resource_spans = by_proxy
            .into_iter()
            .map(|((cluster, namespace, workload), spans)| {
                let service = spans
                    .first()
                    .and_then(|s| {
                        s.attributes
                            .iter()
                            .find(|a| a.key == "istio.canonical_service")
                    })
                    .and_then(|a| a.value.as_ref())
                    .and_then(|v| match &v.value {
                        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![
                            kv("service.name", &format!("{service}.{namespace}")),
                            kv("k8s.namespace.name", &namespace),
                            kv("k8s.deployment.name", &workload),
                            kv("istio.cluster_id", &cluster),
                        ],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "envoy".into(),
                            ..Default::default()
                        }),
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                }
            })
            .collect();
        out.push(ExportTraceServiceRequest { resource_spans });
    }
    out
}

/// Whole traces, in groups of at most [`SPANS_PER_REQUEST`] spans (a larger trace alone).
fn chunks(traces: &[Trace]) -> Vec<&[Trace]> {
    let mut out = Vec::new();
    let (mut from, mut spans) = (0, 0);
    for (i, t) in traces.iter().enumerate() {
        if spans > 0 && spans + t.spans.len() > SPANS_PER_REQUEST {
            out.push(&traces[from..i]);
            from = i;
            spans = 0;
        }
        spans += t.spans.len();
    }
    if from < traces.len() {
        out.push(&traces[from..]);
    }
    out
}

/// POSTs `traces` to `endpoint` (e.g. `http://127.0.0.1:4318`) as OTLP HTTP/protobuf; returns
/// the number of spans accepted.
pub async fn send(
    http: &reqwest::Client,
    endpoint: &str,
    traces: &[Trace],
) -> anyhow::Result<usize> {
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let mut sent = 0;
    for req in requests(traces) {
        let spans: usize = req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        let resp = http
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(req.encode_to_vec())
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            anyhow::bail!("the OTLP receiver at {url} answered {status}");
        }
        sent += spans;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Topology;
    use crate::traces::{Generator, Options};

    #[test]
    fn spans_round_trip_through_protobuf_grouped_by_proxy() {
        let mesh = Topology::parse(include_str!("../../examples/demo-mesh.yaml"))
            .unwrap()
            .resolve()
            .unwrap();
        let traces = Generator::new(&mesh, 0.0, Options::default()).until(2.0);
        let total: usize = traces.iter().map(|t| t.spans.len()).sum();
        let reqs = requests(&traces);
        let decoded: Vec<ExportTraceServiceRequest> = reqs
            .iter()
            .map(|r| ExportTraceServiceRequest::decode(r.encode_to_vec().as_slice()).unwrap())
            .collect();
        assert_eq!(decoded, reqs);
        let spans: usize = decoded
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        assert_eq!(spans, total);
        let names: Vec<String> = decoded[0]
            .resource_spans
            .iter()
            .map(
                |r| match &r.resource.as_ref().unwrap().attributes[0].value {
                    Some(AnyValue {
                        value: Some(any_value::Value::StringValue(s)),
                    }) => s.clone(),
                    _ => String::new(),
                },
            )
            .collect();
        assert!(
            names.contains(&"productpage.bookinfo".to_string()),
            "{names:?}"
        );
    }
}
