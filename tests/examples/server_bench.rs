//! Performance figures of the server on the test bed (not part of `make test`; run with
//! `make bench-server`):
//! - graph latency p50/p95 for 1, 50 and 200 namespaces over east + west, with Prometheus
//!   backfilled for every namespace; Prometheus queries per graph; share of the time spent
//!   outside Prometheus (from the server's `Server-Timing` header);
//! - a fresh view against the same view repeated (answered by the view caches) at up to 50
//!   namespaces, for the namespace graph and app health;
//! - resident memory per cached pod with 2 clusters × `--pods` pods (skipped with `--pods 0`);
//! - with `--thanos`, the graph figures over Thanos Query as well, in the same run: a Prometheus
//!   per cluster holding what that cluster's proxies report, a Thanos sidecar beside each and one
//!   Thanos Query over both (the seeds' distributed store), asked by a second server in every
//!   round beside the one reading the plain Prometheus that holds every sample
//!   (`make bench-metrics-store`).
//!
//! The server runs as its own process (the release `meshglass-server` binary), so its RSS is its
//! own. With `--baseline-bin PATH` the graph figures and `/api/namespaces` under graph load are
//! measured for that binary first, then for `--server-bin`, on the same bed and Prometheus.
//! Usage: `bench_server [--server-bin PATH] [--baseline-bin PATH] [--thanos] [--namespaces 200] [--pods 5000] [--rounds 20]`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::Api;
#[path = "support/bench_mesh.rs"]
mod bench_mesh;
#[path = "../tests/common/mod.rs"]
mod common;
mod support;
use bench_mesh::{bench_namespaces, openmetrics};
use meshglass_testbed::{Prometheus, TestBed, ThanosQuery, wait_until};
use serde_json::{Value, json};
use support::{
    Server, arg, cached_pods, create, percentile, rss_kib, signed_in_reader, west_secret,
};

const TIMEOUT: Duration = Duration::from_secs(600);

fn default_server_bin() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    Path::new(&target).join("release").join("meshglass-server")
}

#[tokio::main]
async fn main() {
    let n_ns: usize = arg("--namespaces")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let pods: usize = arg("--pods").and_then(|v| v.parse().ok()).unwrap_or(5000);
    let rounds: usize = arg("--rounds").and_then(|v| v.parse().ok()).unwrap_or(20);
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
        Prometheus::start_with_openmetrics(&openmetrics(&namespaces, end - 1200, end, None, false))
            .await
            .expect("prometheus");
    // The distributed store: each cluster's own Prometheus (the sidecar needs an external label)
    // and Thanos Query over their sidecars.
    let thanos = if std::env::args().any(|a| a == "--thanos") {
        let mut per_cluster = Vec::new();
        for cluster in ["east", "west"] {
            let cfg = format!(
                "global:\n  scrape_interval: 15s\n  external_labels:\n    prometheus_cluster: {cluster}\n"
            );
            let om = openmetrics(&namespaces, end - 1200, end, Some(cluster), false);
            per_cluster.push(
                Prometheus::start(Some(&cfg), Some(&om))
                    .await
                    .expect("per-cluster prometheus"),
            );
        }
        let query = ThanosQuery::start(&per_cluster.iter().collect::<Vec<_>>())
            .await
            .expect("thanos");
        Some((per_cluster, query))
    } else {
        None
    };
    println!(
        "setup: bed + {n_ns} namespaces x 2 clusters + backfill in {:.0} s",
        t0.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = west_secret(&bed, &west, dir.path()).await;
    let mut servers: Vec<(&str, PathBuf, &str)> = Vec::new();
    if let Some(base_bin) = arg("--baseline-bin").map(PathBuf::from) {
        assert!(base_bin.exists(), "{} missing", base_bin.display());
        servers.push(("before", base_bin, prom.url()));
    }
    if let Some((_, query)) = &thanos {
        servers.push(("via Thanos Query", bin.clone(), query.url()));
        servers.push(("via the plain Prometheus", bin.clone(), prom.url()));
    } else {
        servers.push(("after", bin.clone(), prom.url()));
    }
    // Every server runs at once and each round asks every one of them, so that a slower phase of
    // the machine or of Prometheus affects each binary alike.
    let mut running = Vec::new();
    for (label, server_bin, store) in &servers {
        let server = Server::start(server_bin, dir.path(), &bed, &secrets, store).await;
        println!("{label}: {} reading {store}", server_bin.display());
        running.push((*label, server));
    }
    graph_tables(&running, &namespaces, end, rounds).await;
    if let Some((label, server)) = running.last() {
        let n = namespaces.len().min(50);
        println!("\n{label}, the view caches at {n} namespaces:\n");
        view_cache_table(&server.http, server, &namespaces[..n], end, rounds).await;
        // A signed-in caller's repeat view: the shared entry, with that caller's access applied.
        let signed = Server::start_as(&bin, dir.path(), &bed, &secrets, prom.url(), "token").await;
        let reader = signed_in_reader(&east, &signed.base).await;
        println!(
            "\n{label} with auth.strategy token, signed in as a user who may read all of east (not west), the view caches at {n} namespaces:\n"
        );
        view_cache_table(&reader, &signed, &namespaces[..n], end, rounds).await;
    }
    if n_ns >= 200 {
        for (label, server) in &running {
            print!("\n{label}: ");
            namespaces_under_load(&server.http, &server.base, &namespaces[..200], end).await;
        }
    }
    let last = running.pop().map(|(_, s)| s);
    drop(running);
    drop(thanos);
    let Some(mut server) = last else { return };
    if pods == 0 {
        return;
    }
    let (http, metrics, pid) = (server.http.clone(), server.metrics.clone(), server.pid);

    // Memory: RSS before and after 2 × `pods` pods are cached.
    let before = rss_kib(pid);
    for (client, cluster) in [(&east, "east"), (&west, "west")] {
        create(
            &Api::<Namespace>::all(client.clone()),
            json!({"metadata": {"name": "load"}}),
        )
        .await;
        let api = Api::<Pod>::namespaced(client.clone(), "load");
        let sidecar_status = format!(
            "{{\"initContainers\":[\"istio-init\"],\"containers\":[\"istio-proxy\"],\"volumes\":[\"istio-envoy\",\"istio-data\",\"istio-podinfo\",\"istio-token\",\"istiod-ca-cert\"],\"imagePullSecrets\":null,\"revision\":\"default\",\"pad\":\"{}\"}}",
            "x".repeat(200)
        );
        futures::stream::iter(0..pods)
            .for_each_concurrent(32, |i| {
                let api = api.clone();
                let sidecar_status = sidecar_status.clone();
                async move {
                    let app = format!("app-{}", i % 50);
                    create(
                        &api,
                        json!({"metadata": {"name": format!("p-{i:05}"),
                                            "labels": {"app": app, "version": "v1", "pod-template-hash": "5d8f7c9b6d",
                                                       "security.istio.io/tlsMode": "istio", "service.istio.io/canonical-name": app},
                                            "annotations": {"sidecar.istio.io/status": sidecar_status,
                                                            "kubectl.kubernetes.io/default-container": app,
                                                            "prometheus.io/scrape": "true", "prometheus.io/port": "15020"}},
                               "spec": {"nodeName": format!("{cluster}-node-{}", i % 2),
                                        "serviceAccountName": "default",
                                        "containers": [
                                            {"name": app, "image": "docker.io/istio/examples-bookinfo-reviews-v1:1.20.1",
                                             "ports": [{"containerPort": 9080}],
                                             "env": [{"name": "LOG_DIR", "value": "/tmp/logs"}],
                                             "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
                                             "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]},
                                            {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.27.0",
                                             "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local",
                                                      "--proxyLogLevel=warning", "--proxyComponentLogLevel=misc:error"],
                                             "env": [{"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
                                                     {"name": "CA_ADDR", "value": "istiod.istio-system.svc:15012"},
                                                     {"name": "ISTIO_META_CLUSTER_ID", "value": cluster}],
                                             "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}],
                                        "volumes": [{"name": "tmp", "emptyDir": {}}]}}),
                    )
                    .await;
                }
            })
            .await;
    }
    let want = pods as u64;
    let cached = wait_until("pods cached", TIMEOUT, || async {
        let c = cached_pods(&http, &metrics).await;
        let load: u64 = c.iter().sum();
        Ok::<_, String>((c.len() == 2 && c.iter().all(|n| *n >= want)).then_some(load))
    })
    .await
    .expect("cached");
    // Let the kwok status updates settle before measuring.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = rss_kib(pid);
    println!(
        "\nRSS: {} MiB before, {} MiB with {cached} pods cached across 2 clusters: {:.2} KiB per pod",
        before / 1024,
        after / 1024,
        (after.saturating_sub(before)) as f64 / (2 * pods) as f64
    );
    server.child.kill().await.ok();
    drop(prom);
    bed.stop();
}

fn graph_url(base: &str, namespaces: &[String], end: i64) -> String {
    format!(
        "{base}/api/namespaces/graph?namespaces={}&graphType=workload&duration=600s&queryTime={end}",
        namespaces.join(",")
    )
}

/// Figures of one graph size for one server.
#[derive(Default)]
struct Figures {
    totals: Vec<f64>,
    outside: Vec<f64>,
    queries: usize,
    nodes: usize,
    edges: usize,
}

/// Times one graph request; its figures go to `f` when `keep`.
async fn time_graph(http: &reqwest::Client, url: &str, f: &mut Figures, keep: bool) {
    let start = Instant::now();
    let resp = http.get(url).send().await.expect("graph");
    assert_eq!(resp.status(), 200);
    let timing = resp
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = resp.bytes().await.expect("graph body");
    // The answer's latency: up to its last byte, not this client's parsing of it.
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    let prom_ms: f64 = timing
        .split("prom;dur=")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    f.queries = timing
        .split("desc=\"")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let count = |k: &str| body["elements"][k].as_array().map(|a| a.len()).unwrap_or(0);
    (f.nodes, f.edges) = (count("nodes"), count("edges"));
    if keep {
        f.totals.push(ms);
        f.outside.push(((ms - prom_ms) / ms).max(0.0));
    }
}

/// Graph latency at 1, 50 and 200 namespaces, one table per server, rounds alternating.
async fn graph_tables(servers: &[(&str, Server)], namespaces: &[String], end: i64, rounds: usize) {
    let sizes: Vec<usize> = [1usize, 50, 200]
        .into_iter()
        .filter(|n| *n <= namespaces.len())
        .collect();
    let mut figures: Vec<Vec<Figures>> = servers
        .iter()
        .map(|_| sizes.iter().map(|_| Figures::default()).collect())
        .collect();
    for (i, n) in sizes.iter().enumerate() {
        for round in 0..rounds + 2 {
            // Which server goes first alternates too: a request right after another one can
            // find Prometheus busier.
            for k in 0..servers.len() {
                let s = (k + round) % servers.len();
                let server = &servers[s].1;
                let url = graph_url(&server.base, &namespaces[..*n], end);
                time_graph(&server.http, &url, &mut figures[s][i], round >= 2).await;
            }
        }
    }
    for ((label, _), per_size) in servers.iter().zip(figures.iter_mut()) {
        println!("\n{label}:\n");
        println!(
            "| namespaces | p50 ms | p95 ms | Prometheus queries | time outside Prometheus | nodes | edges |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        for (n, f) in sizes.iter().zip(per_size.iter_mut()) {
            f.totals.sort_by(f64::total_cmp);
            let share = f.outside.iter().sum::<f64>() / f.outside.len().max(1) as f64 * 100.0;
            println!(
                "| {n} | {:.1} | {:.1} | {} | {share:.0} % | {} | {} |",
                percentile(&f.totals, 0.5),
                percentile(&f.totals, 0.95),
                f.queries,
                f.nodes,
                f.edges
            );
        }
    }
}

/// One request's latency up to its last byte, and how the view cache answered it.
async fn timed(http: &reqwest::Client, url: &str) -> (f64, String) {
    let start = Instant::now();
    let resp = http.get(url).send().await.expect("view");
    assert_eq!(resp.status(), 200, "{url}");
    let outcome = resp
        .headers()
        .get("x-meshglass-view-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    resp.bytes().await.expect("body");
    (start.elapsed().as_secs_f64() * 1000.0, outcome)
}

/// A fresh view (computed: its own `queryTime`, which the view caches never keep) against the
/// same view repeated (a moving window: no `queryTime`, answered from the cache), for the
/// namespace graph and for app health, rounds alternating.
async fn view_cache_table(
    http: &reqwest::Client,
    server: &Server,
    namespaces: &[String],
    end: i64,
    rounds: usize,
) {
    let list = namespaces.join(",");
    let views = [
        (
            "namespace graph (workload)",
            format!(
                "{}/api/namespaces/graph?namespaces={list}&graphType=workload&duration=600s",
                server.base
            ),
        ),
        (
            "app health",
            format!(
                "{}/api/clusters/health?namespaces={list}&type=app&rateInterval=10m",
                server.base
            ),
        ),
    ];
    println!("| view | fresh p50 ms | fresh p95 ms | repeat p50 ms | repeat p95 ms |");
    println!("|---|---:|---:|---:|---:|");
    for (name, url) in &views {
        let fresh_url = format!("{url}&queryTime={end}");
        // The first repeat is the miss that fills the cache.
        let (_, first) = timed(http, url).await;
        assert_eq!(first, "miss", "{url}");
        let (mut fresh, mut repeat) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (ms, outcome) = timed(http, &fresh_url).await;
            assert_eq!(outcome, "off");
            fresh.push(ms);
            let (ms, outcome) = timed(http, url).await;
            assert_eq!(outcome, "hit", "{url}");
            repeat.push(ms);
        }
        fresh.sort_by(f64::total_cmp);
        repeat.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} |",
            percentile(&fresh, 0.5),
            percentile(&fresh, 0.95),
            percentile(&repeat, 0.5),
            percentile(&repeat, 0.95)
        );
    }
}

/// `/api/namespaces` latency while 10 graph requests of 200 namespaces are in flight.
async fn namespaces_under_load(
    http: &reqwest::Client,
    base: &str,
    namespaces: &[String],
    end: i64,
) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let url = graph_url(base, namespaces, end);
    let graphs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (http, url, stop, graphs) = (http.clone(), url.clone(), stop.clone(), graphs.clone());
        load.spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = http.get(&url).send().await.expect("graph");
                assert_eq!(r.status(), 200);
                r.bytes().await.expect("graph body");
                graphs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    // Wait for the load to be in flight: the first graphs answered.
    wait_until("graph load running", TIMEOUT, || async {
        Ok::<_, String>((graphs.load(std::sync::atomic::Ordering::Relaxed) >= 10).then_some(()))
    })
    .await
    .expect("load");
    let mut ms = Vec::new();
    for _ in 0..100 {
        let start = Instant::now();
        let r = http
            .get(format!("{base}/api/namespaces"))
            .send()
            .await
            .expect("namespaces");
        assert_eq!(r.status(), 200);
        r.bytes().await.expect("namespaces body");
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    while load.join_next().await.is_some() {}
    ms.sort_by(f64::total_cmp);
    println!(
        "/api/namespaces with 10 concurrent 200-namespace graphs in flight: p50 {:.1} ms, p95 {:.1} ms ({} graphs served meanwhile)",
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        graphs.load(std::sync::atomic::Ordering::Relaxed)
    );
}
