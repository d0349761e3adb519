//! The benchmarks' mesh at scale (`server_bench`, `dashboard_bench`): `n` namespaces in east and
//! west, each with workloads a and b in east and b and c in west (Deployments of no replicas and
//! headless Services), and the Istio samples their proxies would report, backfilled into
//! Prometheus: a→b in east, a(east)→b(west) with 10 % 5xx, b(west)→c(west), both reporters.

use std::fmt::Write as _;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::Api;
use serde_json::json;

use crate::support::{app_objects, create};

/// The namespaces `bench-000`… with their workloads and services in east and west.
pub async fn bench_namespaces(east: &Client, west: &Client, n: usize) -> Vec<String> {
    let namespaces: Vec<String> = (0..n).map(|i| format!("bench-{i:03}")).collect();
    for (client, apps) in [(east, ["a", "b"]), (west, ["b", "c"])] {
        futures::stream::iter(namespaces.iter())
            .for_each_concurrent(16, |ns| {
                let client = client.clone();
                async move {
                    create(
                        &Api::<Namespace>::all(client.clone()),
                        json!({"metadata": {"name": ns}}),
                    )
                    .await;
                    for app in apps {
                        app_objects(&client, ns, app, 0, None).await;
                    }
                }
            })
            .await;
    }
    namespaces
}

/// Upper bounds (ms) of the request-duration buckets, and the share of requests at or under each.
const DURATION_BUCKETS: [(&str, f64); 8] = [
    ("5", 0.2),
    ("10", 0.4),
    ("25", 0.6),
    ("50", 0.8),
    ("100", 0.9),
    ("250", 0.97),
    ("1000", 0.99),
    ("+Inf", 1.0),
];

/// The samples of every namespace from `start` to `end` every 30 s, in OpenMetrics. `stored_in`:
/// only those a proxy of that cluster reports (what its own Prometheus holds). `histograms`: with
/// `istio_request_duration_milliseconds` too (for dashboards; the graph benchmark keeps to the
/// request counters it always had).
pub fn openmetrics(
    namespaces: &[String],
    start: i64,
    end: i64,
    stored_in: Option<&str>,
    histograms: bool,
) -> String {
    let mut out = String::from("# TYPE istio_requests counter\n");
    let mut hist = String::from("# TYPE istio_request_duration_milliseconds histogram\n");
    for ns in namespaces {
        let flows = [
            (("east", "a"), ("east", "b"), "200", 1.0),
            (("east", "a"), ("west", "b"), "200", 0.9),
            (("east", "a"), ("west", "b"), "500", 0.1),
            (("west", "b"), ("west", "c"), "200", 0.5),
        ];
        for ((sc, sa), (dc, da), code, rps) in flows {
            for reporter in ["source", "destination"] {
                let reported_in = if reporter == "source" { sc } else { dc };
                if stored_in.is_some_and(|c| c != reported_in) {
                    continue;
                }
                let l = format!(
                    "reporter=\"{reporter}\",source_cluster=\"{sc}\",source_workload=\"{sa}-v1\",source_workload_namespace=\"{ns}\",\
                     source_canonical_service=\"{sa}\",source_canonical_revision=\"v1\",source_app=\"{sa}\",source_version=\"v1\",\
                     source_principal=\"spiffe://cluster.local/ns/{ns}/sa/default\",destination_cluster=\"{dc}\",\
                     destination_workload=\"{da}-v1\",destination_workload_namespace=\"{ns}\",destination_canonical_service=\"{da}\",\
                     destination_canonical_revision=\"v1\",destination_app=\"{da}\",destination_version=\"v1\",\
                     destination_service=\"{da}.{ns}.svc.cluster.local\",destination_service_name=\"{da}\",destination_service_namespace=\"{ns}\",\
                     destination_principal=\"spiffe://cluster.local/ns/{ns}/sa/default\",request_protocol=\"http\",response_code=\"{code}\",\
                     grpc_response_status=\"\",response_flags=\"-\",connection_security_policy=\"mutual_tls\""
                );
                let mut t = start;
                while t <= end {
                    let n = rps * (t - start) as f64;
                    let _ = writeln!(out, "istio_requests_total{{{l}}} {n} {t}");
                    if histograms {
                        for (le, share) in DURATION_BUCKETS {
                            let _ = writeln!(
                                hist,
                                "istio_request_duration_milliseconds_bucket{{{l},le=\"{le}\"}} {} {t}",
                                n * share
                            );
                        }
                        let _ = writeln!(
                            hist,
                            "istio_request_duration_milliseconds_sum{{{l}}} {} {t}",
                            n * 30.0
                        );
                        let _ = writeln!(
                            hist,
                            "istio_request_duration_milliseconds_count{{{l}}} {n} {t}"
                        );
                    }
                    t += 30;
                }
            }
        }
    }
    if histograms {
        out.push_str(&hist);
    }
    out.push_str("# EOF\n");
    out
}
