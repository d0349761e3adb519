//! End to end: metrics dashboards over a real Prometheus, backfilled with what the mesh-traffic
//! simulator's sidecars report for a topology of the test's own: a workload `backend-v1` running
//! in east and in west (namespace sameness), called from a client in each cluster. The inbound
//! metrics of that workload, grouped by `destination_cluster`, give the simulator's configured
//! request rates per cluster and their total exactly, and its duration quantiles within one
//! histogram bucket of the configured latency distribution. The namespace's mTLS status in each
//! cluster follows the PeerAuthentications and DestinationRules created there.

use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Namespace;
use meshglass_crds::Config;
use meshglass_simulator::metrics::{DURATION_BUCKETS_MS, latency_cdf, latency_mean};
use meshglass_simulator::{Flow, Topology};
use meshglass_testbed::{Prometheus, TestNamespace, poll};
use serde_json::{Value, json};

mod common;
#[allow(dead_code)]
mod scenario;
use common::token_kubeconfig;
use scenario::{TIMEOUT, create, drop_kubeconfig, istio_obj, remote_reader_token};

/// The test's traffic: all calls share one latency distribution, so every cluster's and the
/// total's quantiles are the distribution's.
fn topology(ns: &str) -> String {
    format!(
        r#"
clusters: [east, west]
workloads:
  - {{cluster: east, namespace: {ns}, name: client, app: client}}
  - {{cluster: west, namespace: {ns}, name: client, app: client}}
  - {{cluster: east, namespace: {ns}, name: backend-v1, app: backend, version: v1}}
  - {{cluster: west, namespace: {ns}, name: backend-v1, app: backend, version: v1}}
services:
  - {{namespace: {ns}, name: backend, port: 8080}}
calls:
  - from: {{cluster: east, namespace: {ns}, workload: client}}
    to: {{namespace: {ns}, service: backend}}
    rate: 6
    latency_ms: {{p50: 20, p99: 200}}
    split:
      - {{cluster: east, weight: 2}}
      - {{cluster: west, weight: 1}}
  - from: {{cluster: west, namespace: {ns}, workload: client}}
    to: {{namespace: {ns}, service: backend}}
    rate: 2
    latency_ms: {{p50: 20, p99: 200}}
"#
    )
}

/// The `q` quantile of the flow's latency (ms), by bisection of the simulator's own CDF.
fn true_quantile(flow: &Flow, q: f64) -> f64 {
    let (mut lo, mut hi) = (0.001_f64, 1e7_f64);
    for _ in 0..200 {
        let mid = (lo * hi).sqrt();
        if latency_cdf(flow, mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The index of the histogram bucket `(b[i-1], b[i]]` holding `ms`.
fn bucket(ms: f64) -> usize {
    DURATION_BUCKETS_MS.iter().filter(|b| **b < ms).count()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The series of `metric` in a `MetricsMap` by (destination cluster or "total", stat).
fn series(m: &Value, metric: &str) -> Vec<(String, String, Vec<f64>)> {
    m[metric]
        .as_array()
        .unwrap_or_else(|| panic!("{metric} in {m}"))
        .iter()
        .map(|s| {
            let cluster = s["labels"]["destination_cluster"]
                .as_str()
                .unwrap_or("total")
                .to_string();
            let stat = s["stat"].as_str().unwrap_or_default().to_string();
            let values = s["datapoints"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    p[1].as_str()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(f64::NAN)
                })
                .collect();
            (cluster, stat, values)
        })
        .collect()
}

#[tokio::test]
async fn inbound_metrics_and_mtls_status_in_east_and_west_are_what_was_set_up() {
    let bed = meshglass_testbed::shared(&["east", "west"])
        .await
        .expect("test bed");
    let east = bed.cluster("east").client().await.expect("east client");
    let west = bed.cluster("west").client().await.expect("west client");
    let ns_east = TestNamespace::create(&east, "metrics")
        .await
        .expect("namespace");
    let ns = ns_east.name().to_string();
    create::<Namespace>(&west, None, json!({"metadata": {"name": ns}})).await;

    // The simulator's sidecars, backfilled: 30 minutes every 15 s, ending two minutes ago.
    let mesh = Topology::parse(&topology(&ns))
        .and_then(Topology::resolve)
        .expect("topology");
    let now = unix_now();
    let end = now - now % 60 - 120;
    let start = end - 1800;
    let times = meshglass_simulator::metrics::time_steps(start as f64, end as f64, 15.0);
    let om = meshglass_simulator::metrics::openmetrics(&mesh, None, start as f64, &times);
    let prom = Prometheus::start_with_openmetrics(&om)
        .await
        .expect("prometheus");

    // The server, reading east and (through a real ServiceAccount token) west.
    let secrets = tempfile::tempdir().expect("tempdir");
    let token = remote_reader_token(&west).await;
    drop_kubeconfig(
        secrets.path(),
        "west",
        &token_kubeconfig(bed.cluster("west"), &token),
    );
    let spec: meshglass_crds::KialiSpec =
        serde_json::from_value(json!({"external_services": {"prometheus": {"url": prom.url()}}}))
            .expect("spec");
    let mut config = Config::from_spec(&spec, "istio-system")
        .and_then(|c| c.to_yaml())
        .and_then(|y| Config::from_yaml(&y))
        .expect("config");
    config.auth.strategy = "anonymous".into();
    config.server.address = "127.0.0.1".into();
    config.server.port = 0;
    config.server.observability.metrics.port = 0;
    config.kubernetes_config.cluster_name = "east".into();
    let running = common::start_server(bed, config, "east", secrets.path()).await;
    let http = reqwest::Client::new();
    let base = running.base_url();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            let r = http.get(&url).send().await.map_err(|e| e.to_string())?;
            let st = r.status();
            let body: Value = r.json().await.map_err(|e| e.to_string())?;
            if st.is_success() {
                Ok(body)
            } else {
                Err(format!("{url}: {st}: {body}"))
            }
        }
    };
    poll("the namespace in east and west", TIMEOUT, || async {
        let list = get("/api/namespaces".into()).await?;
        let n = list
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| n["name"] == ns.as_str())
            .count();
        if n == 2 {
            Ok(())
        } else {
            Err(format!("{n} entries of {ns}"))
        }
    })
    .await
    .expect("both clusters");

    let query = format!(
        "direction=inbound&reporter=destination&byLabels[]=destination_cluster\
         &quantiles[]=0.5&quantiles[]=0.95&quantiles[]=0.99&avg=true\
         &filters[]=request_count&filters[]=request_duration_millis\
         &duration=600&step=15&rateInterval=60s&queryTime={end}"
    );
    let m = get(format!(
        "/api/namespaces/{ns}/workloads/backend-v1/metrics?{query}"
    ))
    .await
    .expect("metrics");

    // Request rates: the simulator's configured rates into each cluster's backend, and the total.
    let mut want: Vec<(String, f64)> = ["east", "west"]
        .iter()
        .map(|c| {
            let rps = mesh
                .flows
                .iter()
                .filter(|f| f.destination.name == "backend-v1" && f.destination.cluster == *c)
                .map(|f| f.rate)
                .sum();
            (c.to_string(), rps)
        })
        .collect();
    want.push(("total".into(), want.iter().map(|(_, r)| r).sum()));
    assert_eq!(
        want,
        [
            ("east".into(), 5.0),
            ("west".into(), 3.0),
            ("total".into(), 8.0)
        ],
        "the topology's rates"
    );
    let counts = series(&m, "request_count");
    assert_eq!(counts.len(), 3, "east, west and the total: {m}");
    for (cluster, rps) in &want {
        let (_, _, values) = counts
            .iter()
            .find(|(c, _, _)| c == cluster)
            .unwrap_or_else(|| panic!("{cluster} in {counts:?}"));
        assert_eq!(values.len(), 41, "600 s every 15 s");
        for v in values {
            assert!((v - rps).abs() < 1e-9, "{cluster}: {v} req/s, want {rps}");
        }
    }

    // Durations: each cluster's and the total's quantiles within one bucket of the configured
    // distribution, the average within 2 % of its mean.
    let flow = &mesh.flows[0];
    let durations = series(&m, "request_duration_millis");
    assert_eq!(durations.len(), 12, "3 clusters × (avg + 3 quantiles): {m}");
    for (cluster, stat, values) in &durations {
        let got = *values.last().expect("a point");
        if stat == "avg" {
            let mean = latency_mean(flow);
            assert!(
                (got - mean).abs() <= 0.02 * mean,
                "{cluster} avg {got} ms, mean {mean} ms"
            );
            continue;
        }
        let q: f64 = stat.parse().expect("a quantile");
        let truth = true_quantile(flow, q);
        let (b_got, b_true) = (bucket(got), bucket(truth));
        assert!(
            b_got.abs_diff(b_true) <= 1,
            "{cluster} p{q}: {got} ms (bucket {b_got}), configured {truth:.1} ms (bucket {b_true})"
        );
        eprintln!("{cluster} p{q}: {got:.1} ms, configured {truth:.1} ms");
    }

    // The dashboard: Kiali's charts, durations in seconds.
    let d = get(format!(
        "/api/namespaces/{ns}/workloads/backend-v1/dashboard?{query}"
    ))
    .await
    .expect("dashboard");
    assert_eq!(d["title"], "Inbound Metrics");
    let charts = d["charts"].as_array().expect("charts");
    assert_eq!(charts[0]["name"], "Request volume");
    assert_eq!(charts[0]["metrics"].as_array().map(Vec::len), Some(3));
    assert_eq!(charts[1]["unit"], "seconds");
    let p50: f64 = charts[1]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["stat"] == "0.5" && s["labels"].get("destination_cluster").is_none())
        .and_then(|s| s["datapoints"][0][1].as_str()?.parse().ok())
        .expect("the total's median");
    assert!(p50 > 0.010 && p50 <= 0.025, "median {p50} s in (10, 25] ms");

    // mTLS status per cluster from the real PeerAuthentications and DestinationRules: STRICT in
    // east's namespace, DISABLE (policy and DestinationRule) in west's, nothing mesh-wide.
    let sec = "security.istio.io";
    let strict = json!({"mtls": {"mode": "STRICT"}});
    istio_obj(
        &east,
        &ns,
        "PeerAuthentication",
        "peerauthentications",
        sec,
        "default",
        strict,
    )
    .await;
    let disable = json!({"mtls": {"mode": "DISABLE"}});
    istio_obj(
        &west,
        &ns,
        "PeerAuthentication",
        "peerauthentications",
        sec,
        "default",
        disable,
    )
    .await;
    let dr = json!({"host": format!("*.{ns}.svc.cluster.local"), "trafficPolicy": {"tls": {"mode": "DISABLE"}}});
    istio_obj(
        &west,
        &ns,
        "DestinationRule",
        "destinationrules",
        "networking.istio.io",
        "no-tls",
        dr,
    )
    .await;
    for (cluster, want) in [("east", "MTLS_ENABLED"), ("west", "MTLS_DISABLED")] {
        let path = format!("/api/namespaces/{ns}/tls?clusterName={cluster}");
        let got = poll(&format!("{cluster}'s status {want}"), TIMEOUT, || async {
            let v = get(path.clone()).await?;
            if v["status"] == want {
                Ok(v)
            } else {
                Err(v.to_string())
            }
        })
        .await
        .expect("namespace mTLS status");
        assert_eq!(
            (got["cluster"].as_str(), got["namespace"].as_str()),
            (Some(cluster), Some(ns.as_str()))
        );
        let list = get(format!(
            "/api/clusters/tls?namespaces={ns}&clusterName={cluster}"
        ))
        .await
        .expect("clusters tls");
        assert_eq!(list[0]["status"], want, "{list}");
    }
    let mesh_tls = get("/api/mesh/tls".into()).await.expect("mesh tls");
    assert_eq!(mesh_tls["minTLS"], "N/A");
    assert!(mesh_tls["status"].is_string(), "{mesh_tls}");
    running.shutdown();
    drop(ns_east);
}
