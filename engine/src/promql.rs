//! The PromQL the server sends. Query and result handling live together: the graph builder relies
//! on exactly the labels these queries group by.
//!
//! Kiali sends 6–12 queries per namespace. Here each metric family needs one query for all the
//! selected namespaces: the three selections Kiali makes per namespace (destination-reported
//! traffic into the namespaces, source-reported traffic out of them, and source-reported requests
//! to their services that never reached a workload) are joined with `or`. `reporter` is kept in the
//! grouping, so `or` never merges a source-reported series into a destination-reported one.

use serde::Serialize;

use crate::input::Family;
use crate::options::{
    Appender, GraphOptions, GraphType, GrpcRate, HttpRate, ResponseTimeStat, TcpRate,
    ThroughputType,
};
use crate::scope::{QueryScope, promql_escape};

/// One instant query to run against Prometheus at `time`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromQuery {
    /// The family the result samples belong to (pass it to [`crate::parse_prometheus_response`]).
    pub family: Family,
    /// The PromQL expression.
    pub promql: String,
    /// Evaluation time, Unix seconds (the request's `queryTime`).
    pub time: i64,
}

/// The node-identifying labels (Kiali's group-by minus protocol/code/flags).
pub(crate) const IDENTITY_LABELS: [&str; 13] = [
    "source_cluster",
    "source_workload_namespace",
    "source_workload",
    "source_canonical_service",
    "source_canonical_revision",
    "destination_cluster",
    "destination_service_namespace",
    "destination_service",
    "destination_service_name",
    "destination_workload_namespace",
    "destination_workload",
    "destination_canonical_service",
    "destination_canonical_revision",
];

const SECURITY_LABELS: [&str; 3] = [
    "connection_security_policy",
    "source_principal",
    "destination_principal",
];

/// The queries for a namespace graph, one per metric family the options need.
pub fn queries(o: &GraphOptions) -> Vec<PromQuery> {
    let mut out = Vec::new();
    if o.namespaces.is_empty() {
        return out;
    }
    let ns = namespace_regex(&o.namespaces);
    let dur = o.duration_secs.max(1);
    let idle = if o.include_idle_edges { "" } else { " > 0" };
    let security = o.appender_enabled(Appender::SecurityPolicy);
    let requests = o.rates.http == HttpRate::Requests || o.rates.grpc == GrpcRate::Requests;

    if requests {
        let mut g = group(&[
            "request_protocol",
            "response_code",
            "grpc_response_status",
            "response_flags",
        ]);
        if security {
            g.extend(SECURITY_LABELS);
        }
        out.push(query(o, Family::RequestsTotal, &ns, &g, dur, idle));
    }
    let grpc_families: &[Family] = match o.rates.grpc {
        GrpcRate::Sent => &[Family::RequestMessages],
        GrpcRate::Received => &[Family::ResponseMessages],
        GrpcRate::Total => &[Family::RequestMessages, Family::ResponseMessages],
        GrpcRate::None | GrpcRate::Requests => &[],
    };
    for f in grpc_families {
        out.push(query(o, *f, &ns, &group(&[]), dur, idle));
    }
    // Istio's L4 telemetry is reported backwards (istio/istio#32399): Kiali reads "sent" from
    // the received-bytes counter and vice versa, and so do we.
    let tcp_families: &[Family] = match o.rates.tcp {
        TcpRate::Sent => &[Family::TcpReceivedBytes],
        TcpRate::Received => &[Family::TcpSentBytes],
        TcpRate::Total => &[Family::TcpReceivedBytes, Family::TcpSentBytes],
        TcpRate::None => &[],
    };
    for f in tcp_families {
        let mut g = group(&["response_flags"]);
        if security {
            g.extend(SECURITY_LABELS);
        }
        out.push(query(o, *f, &ns, &g, dur, idle));
    }
    if requests && o.appender_enabled(Appender::ResponseTime) {
        let g = group(&["request_protocol"]);
        match o.response_time {
            ResponseTimeStat::Avg => {
                out.push(query(o, Family::RequestDurationSum, &ns, &g, dur, idle));
                out.push(query(o, Family::RequestDurationCount, &ns, &g, dur, idle));
            }
            _ => {
                // All buckets, zero or not: histogram interpolation needs the lower neighbours.
                let mut gb = g.clone();
                gb.push("le");
                out.push(query(o, Family::RequestDurationBucket, &ns, &gb, dur, ""));
            }
        }
    }
    if o.rates.http == HttpRate::Requests && o.appender_enabled(Appender::Throughput) {
        let f = match o.throughput_type {
            ThroughputType::Request => Family::RequestBytesSum,
            ThroughputType::Response => Family::ResponseBytesSum,
        };
        out.push(query(o, f, &ns, &group(&["request_protocol"]), dur, idle));
    }
    if requests && o.graph_type != GraphType::Service && o.appender_enabled(Appender::AggregateNode)
    {
        out.push(aggregate_query(o, &ns, dur));
    }
    out
}

/// The aggregateNode appender's query (Kiali's two, joined with `or`): destination-reported
/// requests into the namespaces' services and out of their workloads, grouped by the
/// aggregate label too, only where it is set and not `unknown`, and with traffic (Kiali's
/// `> 0`, idle edges or not). The label's value is copied into `meshglass_aggregate`, the
/// label the engine reads, whatever the aggregate's name.
fn aggregate_query(o: &GraphOptions, ns: &str, dur: u64) -> PromQuery {
    let agg = o.aggregate.as_str();
    let mut g = group(&[
        "request_protocol",
        "response_code",
        "grpc_response_status",
        "response_flags",
    ])
    .join(",");
    g.push(',');
    g.push_str(agg);
    let m = Family::RequestsByAggregate.metric_name();
    let sc = o.scope.prefix();
    let promql = format!(
        "label_replace(round((sum by ({g}) (rate({m}{{{sc}reporter=\"destination\",destination_service_namespace=~\"{ns}\",{agg}!=\"unknown\"}}[{dur}s])) \
         or sum by ({g}) (rate({m}{{{sc}reporter=\"destination\",source_workload_namespace=~\"{ns}\",{agg}!=\"unknown\"}}[{dur}s]))) > 0, 0.001), \
         \"meshglass_aggregate\", \"$1\", \"{agg}\", \"(.+)\")"
    );
    PromQuery {
        family: Family::RequestsByAggregate,
        promql,
        time: o.query_time,
    }
}

/// The query feeding [`crate::health()`]: request rates by code into and out of the namespaces,
/// both reporters, over `rate_interval_secs`.
pub fn health_queries(
    namespaces: &[String],
    rate_interval_secs: u64,
    query_time: i64,
    scope: &QueryScope,
) -> Vec<PromQuery> {
    if namespaces.is_empty() {
        return Vec::new();
    }
    let ns = namespace_regex(namespaces);
    let g = group(&["request_protocol", "response_code", "grpc_response_status"]).join(",");
    let m = Family::RequestsTotal.metric_name();
    let d = rate_interval_secs.max(1);
    let sc = scope.prefix();
    let promql = format!(
        "round((sum by ({g}) (rate({m}{{{sc}reporter=~\"source|destination\",destination_workload_namespace=~\"{ns}\"}}[{d}s])) \
         or sum by ({g}) (rate({m}{{{sc}reporter=\"source\",source_workload_namespace=~\"{ns}\"}}[{d}s])) \
         or sum by ({g}) (rate({m}{{{sc}reporter=\"source\",destination_workload=\"unknown\",destination_service_namespace=~\"{ns}\"}}[{d}s]))) > 0, 0.001)"
    );
    vec![PromQuery {
        family: Family::RequestsTotal,
        promql,
        time: query_time,
    }]
}

fn group(extra: &[&'static str]) -> Vec<&'static str> {
    let mut g = vec!["reporter"];
    g.extend(IDENTITY_LABELS);
    g.extend(extra);
    g
}

fn query(
    o: &GraphOptions,
    family: Family,
    ns: &str,
    g: &[&str],
    dur: u64,
    idle: &str,
) -> PromQuery {
    let g = g.join(",");
    let m = family.metric_name();
    let sc = o.scope.prefix();
    let promql = format!(
        "round((sum by ({g}) (rate({m}{{{sc}reporter=\"destination\",destination_workload_namespace=~\"{ns}\"}}[{dur}s])) \
         or sum by ({g}) (rate({m}{{{sc}reporter=\"source\",source_workload_namespace=~\"{ns}\"}}[{dur}s])) \
         or sum by ({g}) (rate({m}{{{sc}reporter=\"source\",source_workload_namespace!~\"{ns}\",destination_workload_namespace=\"unknown\",destination_workload=\"unknown\",destination_service=~\"^.+\\\\.({ns})\\\\..+$\"}}[{dur}s]))){idle}, 0.001)"
    );
    PromQuery {
        family,
        promql,
        time: o.query_time,
    }
}

/// `a|b|c`, each name regex-escaped, then escaped for a double-quoted PromQL string.
fn namespace_regex(namespaces: &[String]) -> String {
    let mut names: Vec<&str> = namespaces.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let alternation = names
        .iter()
        .map(|n| regex::escape(n))
        .collect::<Vec<_>>()
        .join("|");
    promql_escape(&alternation)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn query_scope_reaches_every_selector() {
        let scope = QueryScope::new(&BTreeMap::from([
            ("mesh_id".to_string(), "mesh-\"a\"".to_string()),
            ("tenant".to_string(), "t1".to_string()),
        ]))
        .unwrap();
        let o = GraphOptions {
            namespaces: vec!["bookinfo".into()],
            scope: scope.clone(),
            ..GraphOptions::default()
        };
        let mut all = queries(&o);
        all.extend(health_queries(&o.namespaces, 60, 0, &scope));
        assert!(all.len() > 2);
        for q in &all {
            let selectors = q.promql.matches('{').count();
            let scoped = q
                .promql
                .matches("{mesh_id=\"mesh-\\\"a\\\"\",tenant=\"t1\",reporter")
                .count();
            assert_eq!(selectors, scoped, "{}", q.promql);
        }
        // No scope: the queries are the unscoped ones.
        let plain = queries(&GraphOptions {
            scope: QueryScope::default(),
            ..o.clone()
        });
        assert!(plain.iter().all(|q| !q.promql.contains("mesh_id")));
        // A label name Prometheus would reject is an error naming it.
        let bad = QueryScope::new(&BTreeMap::from([("mesh-id".to_string(), "x".to_string())]));
        assert!(bad.unwrap_err().to_string().contains("mesh-id"));
    }
}
