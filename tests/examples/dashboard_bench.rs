//! Performance figures of a workload's metrics dashboard on the test bed (not part of `make test`;
//! run with `make bench-dashboard`): the Inbound and Outbound Metrics tabs of workload `b-v1`,
//! which runs in east and west, as the UI asks for them (Kiali's default quantiles 0.5, 0.95,
//! 0.99 and the average, one series per cluster), at `--namespaces` (200) namespaces over two
//! clusters, with Prometheus backfilled for every namespace (the `bench-server` set-up, with
//! request-duration histograms). Prints p50/p95 of each request end to end (to its last byte),
//! of both sent together as the page's two tabs would, and the number of Prometheus queries the
//! server sent (its `Server-Timing` header), beside the number Kiali sends for the same
//! dashboard.
//!
//! Kiali's count, from its code: `business/metrics.go` `fetchAllMetrics` sends one range query
//! per metric of `istioMetrics` (`business/metrics_definitions.go`: 10 rates — request count and
//! errors, request/response throughput, gRPC sent/received, TCP sent/received/opened/closed — and
//! 3 histograms — request duration, request size, response size), and each histogram's
//! `FetchHistogramRange` sends one query for the average and one per quantile
//! (`prometheus/metrics.go` `buildHistogramQueries`): 10 + 3 × (1 + 3) = 22 per direction, 44
//! for the two tabs.
//! Usage: `dashboard_bench [--server-bin PATH] [--namespaces 200] [--rounds 30]`.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[path = "support/bench_mesh.rs"]
mod bench_mesh;
#[path = "../tests/common/mod.rs"]
mod common;
mod support;
use bench_mesh::{bench_namespaces, openmetrics};
use meshglass_testbed::{Prometheus, TestBed};
use serde_json::Value;
use support::{Server, arg, percentile, west_secret};

/// Kiali's range queries for one direction of a workload dashboard (see the module docs).
const KIALI_QUERIES_PER_DIRECTION: usize = 10 + 3 * (1 + 3);

fn default_server_bin() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    Path::new(&target).join("release").join("meshglass-server")
}

/// The dashboard request of one direction, as the UI's metrics tab sends it.
fn dashboard_url(base: &str, ns: &str, direction: &str, end: i64) -> String {
    let (reporter, cluster) = match direction {
        "inbound" => ("destination", "destination_cluster"),
        _ => ("source", "source_cluster"),
    };
    format!(
        "{base}/api/namespaces/{ns}/workloads/b-v1/dashboard?direction={direction}&reporter={reporter}\
         &duration=600&step=15&rateInterval=60s&quantiles[]=0.5&quantiles[]=0.95&quantiles[]=0.99&avg=true\
         &byLabels[]={cluster}&queryTime={end}"
    )
}

/// One dashboard answer: its latency (ms, to the last byte), the server's query count, and how
/// many series it holds.
async fn fetch(http: &reqwest::Client, url: &str) -> (f64, usize, usize) {
    let start = Instant::now();
    let resp = http.get(url).send().await.expect("dashboard");
    assert_eq!(resp.status(), 200, "{url}");
    let queries = resp
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split("desc=\"").nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let bytes = resp.bytes().await.expect("dashboard body");
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    let series = body["charts"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| c["metrics"].as_array().map_or(0, |m| m.len()))
                .sum()
        })
        .unwrap_or(0);
    (ms, queries, series)
}

#[tokio::main]
async fn main() {
    let n_ns: usize = arg("--namespaces")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let rounds: usize = arg("--rounds").and_then(|v| v.parse().ok()).unwrap_or(30);
    let bin = arg("--server-bin")
        .map(PathBuf::from)
        .unwrap_or_else(default_server_bin);
    assert!(
        bin.exists(),
        "{} missing: cargo build --release -p meshglass-server",
        bin.display()
    );

    let t0 = Instant::now();
    let bed = TestBed::start(&["east", "west"]).await.expect("bed");
    let east = bed.cluster("east").client().await.expect("east");
    let west = bed.cluster("west").client().await.expect("west");
    let namespaces = bench_namespaces(&east, &west, n_ns).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let end = now - now % 60 - 120;
    let prom =
        Prometheus::start_with_openmetrics(&openmetrics(&namespaces, end - 1200, end, None, true))
            .await
            .expect("prometheus");
    println!(
        "setup: bed + {n_ns} namespaces x 2 clusters + backfill (with request-duration histograms) in {:.0} s",
        t0.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = west_secret(&bed, &west, dir.path()).await;
    let server = Server::start(&bin, dir.path(), &bed, &secrets, prom.url()).await;
    println!("server: {} reading {}", bin.display(), prom.url());

    // The workload of a namespace in the middle of the set, another one each round.
    let mut inbound = Vec::new();
    let mut outbound = Vec::new();
    let mut both = Vec::new();
    let (mut q_in, mut q_out, mut s_in, mut s_out) = (0, 0, 0, 0);
    for round in 0..rounds + 2 {
        let ns = &namespaces[(n_ns / 2 + round) % n_ns];
        let (a, b) = (
            dashboard_url(&server.base, ns, "inbound", end),
            dashboard_url(&server.base, ns, "outbound", end),
        );
        let (ms_in, qi, si) = fetch(&server.http, &a).await;
        let (ms_out, qo, so) = fetch(&server.http, &b).await;
        // Both tabs at once, as a page opening them together would ask.
        let start = Instant::now();
        let (x, y) = tokio::join!(fetch(&server.http, &a), fetch(&server.http, &b));
        let ms_both = start.elapsed().as_secs_f64() * 1000.0;
        assert_eq!((x.1, y.1), (qi, qo));
        if round >= 2 {
            inbound.push(ms_in);
            outbound.push(ms_out);
            both.push(ms_both);
        }
        (q_in, q_out, s_in, s_out) = (qi, qo, si, so);
    }
    assert!(
        s_in > 0 && s_out > 0,
        "the dashboards hold series: {s_in} inbound, {s_out} outbound"
    );
    for v in [&mut inbound, &mut outbound, &mut both] {
        v.sort_by(f64::total_cmp);
    }
    println!(
        "\nworkload dashboard of b-v1 (east + west), {n_ns} namespaces over 2 clusters, {rounds} rounds:\n"
    );
    println!(
        "| request | p50 ms | p95 ms | metrics queries (Server-Timing) | Kiali's queries | series |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let k = KIALI_QUERIES_PER_DIRECTION;
    for (label, v, q, kiali, s) in [
        ("inbound", &inbound, q_in, k, s_in),
        ("outbound", &outbound, q_out, k, s_out),
        (
            "inbound + outbound, together",
            &both,
            q_in + q_out,
            2 * k,
            s_in + s_out,
        ),
    ] {
        println!(
            "| {label} | {:.1} | {:.1} | {q} | {kiali} | {s} |",
            percentile(v, 0.5),
            percentile(v, 0.95)
        );
    }
    drop(server);
    drop(prom);
    bed.stop();
}
