//! End to end, the server's trust boundary under abuse: a real `meshglass-server` process (token
//! strategy) on the east/west test bed. Each test prints its line of the fault table:
//! `FAULT | <fault> | detect | recover | worst unaffected route | peak RSS`, and fails when a
//! figure is outside its bound. The server never restarts (its pid is checked).
//!
//! - cross-cluster graph leak: a user who may read the namespace in east only gets no traffic of
//!   west's, and west's nodes are `isInaccessible`;
//! - 20,000 distinct junk tokens: the TokenReviews the home API server receives stay within the
//!   rate limit;
//! - slow-header clients holding 3,000 sockets: closed at the header-read timeout while other
//!   clients are served.

mod common;
mod scenario;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::Client;
use meshglass_testbed::{TestBed, TestNamespace, wait_until};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use scenario::{TIMEOUT, create, token_of};

/// The cargo target directory this test was built in (`<target>/debug/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| common::repo().join("target"))
}

/// Builds `meshglass-server` in this test's target directory (a no-op when up to date).
fn server_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = std::process::Command::new(cargo)
        .current_dir(common::repo())
        .args(["build", "--locked", "-q", "--bin", "meshglass-server"])
        .arg("--target-dir")
        .arg(target_dir())
        .status()
        .expect("running cargo build");
    assert!(status.success(), "cargo build of meshglass-server failed");
    target_dir().join("debug/meshglass-server")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `meshglass-server` process with the token strategy.
struct Server {
    child: tokio::process::Child,
    pid: u32,
    port: u16,
    base: String,
    metrics: String,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(bed: &TestBed, secrets: &Path, prom: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let (port, mport) = (free_port(), free_port());
        let spec: meshglass_crds::KialiSpec = serde_json::from_value(json!({
            "auth": {"strategy": "token"},
            "server": {"address": "127.0.0.1", "port": port,
                       "observability": {"metrics": {"port": mport}}},
            "kubernetes_config": {"cluster_name": "east"},
            "external_services": {"prometheus": {"url": prom}},
        }))
        .expect("spec");
        let cfg = meshglass_crds::Config::from_spec(&spec, "istio-system").expect("config");
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, cfg.to_yaml().expect("yaml")).expect("write config");
        let bin = server_binary();
        let child = tokio::process::Command::new(&bin)
            .args(["--config", &path.to_string_lossy()])
            .args(["--kubeconfig", &bed.kubeconfig_path().to_string_lossy()])
            .args(["--context", "east"])
            .args(["--remote-secrets-dir", &secrets.to_string_lossy()])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let pid = child.id().expect("pid");
        let http = reqwest::Client::new();
        wait_until("server ready", TIMEOUT, || async {
            let r = http
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await?;
            Ok::<_, reqwest::Error>((r.status() == 200).then_some(()))
        })
        .await
        .expect("ready");
        Server {
            child,
            pid,
            port,
            base: format!("http://127.0.0.1:{port}/kiali"),
            metrics: format!("http://127.0.0.1:{mport}/metrics"),
            _dir: dir,
        }
    }

    /// Peak RSS (VmHWM) in MiB; asserts the process is the one started, still running.
    fn peak_rss_mib(&mut self) -> f64 {
        assert!(
            self.child.try_wait().expect("child status").is_none(),
            "the server exited"
        );
        assert_eq!(self.child.id(), Some(self.pid), "the server restarted");
        meshglass_testbed::faults::peak_rss_mib(self.pid) as f64
    }

    /// A counter of the server's metrics port.
    async fn counter(&self, name: &str) -> u64 {
        let text = reqwest::get(&self.metrics)
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        metric_sum(&text, name, &[])
    }
}

/// The sum of the samples of `name` (with every label of `with`) in a text exposition.
fn metric_sum(text: &str, name: &str, with: &[&str]) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with(' ') || r.starts_with('{'))
        })
        .filter(|l| with.iter().all(|w| l.contains(w)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// TokenReviews the API server of `client` has answered so far.
async fn apiserver_token_reviews(client: &Client) -> u64 {
    let req = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = client.request_text(req).await.expect("API server metrics");
    metric_sum(
        &text,
        "apiserver_request_total",
        &["resource=\"tokenreviews\"", "verb=\"POST\""],
    )
}

/// A ServiceAccount `viewer` of `ns` in east, bound to `view` in east's `ns` only; its token.
async fn east_only_viewer(east: &Client, ns: &str) -> String {
    create::<ServiceAccount>(east, Some(ns), json!({"metadata": {"name": "viewer"}})).await;
    let user = format!("system:serviceaccount:{ns}:viewer");
    create::<RoleBinding>(
        east,
        Some(ns),
        json!({"metadata": {"name": "viewer"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}),
    )
    .await;
    token_of(east, ns, "viewer").await
}

async fn get(http: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("server answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The suite's line: [`meshglass_testbed::faults::print_fault_line`], detect and recover in seconds.
fn fault_line(
    fault: &str,
    detect: Option<f64>,
    recover: Option<f64>,
    worst_ms: f64,
    route: &str,
    rss: f64,
) {
    meshglass_testbed::faults::print_fault_line(
        fault,
        detect.map(Duration::from_secs_f64),
        recover.map(Duration::from_secs_f64),
        worst_ms.round() as u64,
        route,
        rss.round() as u64,
        None,
    );
}

#[tokio::test]
async fn graph_of_a_user_of_one_cluster_shows_nothing_of_the_other() {
    let bed = common::east_west_bed().await;
    let (east, west) = common::east_west(bed).await;
    let sc = scenario::bookinfo_split(bed, &east, &west).await;
    let ns = sc.ns.clone();
    let token = east_only_viewer(&east, &ns).await;
    let mut server = Server::start(bed, sc.secrets_dir.path(), sc.prom.url()).await;
    let http = reqwest::Client::new();
    let t = Some(token.as_str());
    // West reachable: the user sees east's namespace only.
    wait_until("west connected", TIMEOUT, || async {
        let (st, b) = get(&http, &format!("{}/api/config", server.base), t).await;
        Ok::<_, String>((st == 200 && b["clusters"]["west"]["accessible"] == true).then_some(()))
    })
    .await
    .expect("west accessible");
    let (st, b) = get(&http, &format!("{}/api/namespaces", server.base), t).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b.as_array().map(Vec::len), Some(1), "{b}");
    assert_eq!(b[0]["cluster"], "east", "{b}");

    let mut worst = 0.0f64;
    for path in [
        format!("/api/namespaces/graph?namespaces={ns}&graphType=workload"),
        format!(
            "/api/namespaces/graph?namespaces={ns}&graphType=versionedApp&boxBy=cluster,namespace,app"
        ),
        format!("/api/namespaces/{ns}/workloads/productpage-v1/graph?graphType=workload"),
    ] {
        let url = format!("{}{path}&duration=600s&queryTime={}", server.base, sc.end);
        let started = Instant::now();
        let (st, g) = get(&http, &url, t).await;
        worst = worst.max(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(st, 200, "{path}: {g}");
        let nodes = g["elements"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(nodes.len() >= 2, "{path}: {g}");
        let text = g.to_string();
        // West's reviews → ratings traffic (rates, codes, principals) is not in the answer.
        assert!(!text.contains("ratings"), "{path}: {text}");
        for n in &nodes {
            let d = &n["data"];
            let west = d["cluster"] == "west";
            assert_eq!(
                d["isInaccessible"].as_bool().unwrap_or(false),
                west,
                "{path}: {d}"
            );
        }
        // East's own call to west's reviews stays, west's node marked inaccessible.
        assert!(
            nodes
                .iter()
                .any(|n| n["data"]["cluster"] == "west" && n["data"]["isInaccessible"] == true),
            "{path}: {g}"
        );
    }
    // West's namespace alone is refused outright.
    let (st, h) = get(
        &http,
        &format!(
            "{}/api/clusters/health?namespaces={ns}&clusterName=west",
            server.base
        ),
        t,
    )
    .await;
    assert_eq!(st, 403, "{h}");
    let rss = server.peak_rss_mib();
    assert!(rss < 300.0, "{rss} MiB");
    fault_line(
        "cross-cluster graph leak (user of east's namespace)",
        None,
        None,
        worst,
        "/api/namespaces/graph",
        rss,
    );
    sc.ns_east.delete().await.ok();
}

#[tokio::test]
async fn twenty_thousand_junk_tokens_cost_a_bounded_number_of_token_reviews() {
    let bed = common::east_west_bed().await;
    let (east, _) = common::east_west(bed).await;
    let ns = TestNamespace::create(&east, "junk")
        .await
        .expect("namespace");
    let token = east_only_viewer(&east, ns.name()).await;
    let secrets = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(bed, secrets.path(), "http://127.0.0.1:9").await;
    let http = reqwest::Client::new();
    // The real user signs in before the flood (its review is cached).
    let (st, b) = get(
        &http,
        &format!("{}/api/namespaces", server.base),
        Some(&token),
    )
    .await;
    assert_eq!(st, 200, "{b}");

    let before = apiserver_token_reviews(&east).await;
    let started = Instant::now();
    let url = format!("{}/api/namespaces", server.base);
    let statuses: Vec<u16> = futures::stream::iter(0..20_000)
        .map(|i| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let r = http
                    .get(&url)
                    .bearer_auth(format!("junk-{i}-{}", i * 7919))
                    .send()
                    .await
                    .expect("server answers");
                r.status().as_u16()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        statuses.iter().all(|s| [401, 503].contains(s)),
        "only 401 and 503"
    );
    let reviews = apiserver_token_reviews(&east).await - before;
    let counted = server.counter("meshglass_server_token_reviews_total").await;
    // Burst 20, then 10 per second.
    let bound = 20.0 + 10.0 * elapsed.ceil() + 1.0;
    assert!(
        (reviews as f64) <= bound,
        "{reviews} TokenReviews in {elapsed:.1} s (bound {bound})"
    );
    assert!(
        counted >= reviews,
        "server counted {counted}, API server {reviews}"
    );

    // The signed-in user is unaffected during another flood.
    let flood = {
        let (http, url) = (http.clone(), url.clone());
        tokio::spawn(async move {
            futures::stream::iter(0..5_000)
                .for_each_concurrent(32, |i| {
                    let (http, url) = (http.clone(), url.clone());
                    async move {
                        let _ = http
                            .get(&url)
                            .bearer_auth(format!("more-junk-{i}"))
                            .send()
                            .await;
                    }
                })
                .await
        })
    };
    let mut worst = 0.0f64;
    for _ in 0..20 {
        let t = Instant::now();
        let (st, b) = get(&http, &url, Some(&token)).await;
        worst = worst.max(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(st, 200, "{b}");
    }
    flood.await.expect("flood");
    assert!(worst < 2000.0, "{worst} ms");
    let rss = server.peak_rss_mib();
    assert!(rss < 300.0, "{rss} MiB");
    println!(
        "token reviews: API server {reviews}, server {counted}, {elapsed:.1} s for 20,000 tokens"
    );
    fault_line(
        &format!("20,000 distinct junk tokens ({reviews} TokenReviews in {elapsed:.0} s)"),
        None,
        None,
        worst,
        "/api/namespaces (signed-in user)",
        rss,
    );
    ns.delete().await.ok();
}

#[tokio::test]
async fn slow_header_clients_holding_3000_sockets_are_cut_off_and_others_served() {
    let bed = common::east_west_bed().await;
    let secrets = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(bed, secrets.path(), "http://127.0.0.1:9").await;
    let addr = format!("127.0.0.1:{}", server.port);

    // 3,000 clients send half a request's headers, then one more header line every 2 s.
    let started = Instant::now();
    let mut sockets = Vec::new();
    for _ in 0..3_000 {
        let mut s = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        s.write_all(b"GET /kiali/api/status HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        sockets.push(s);
    }
    let opened = started.elapsed();
    let (closed_tx, mut closed_rx) = tokio::sync::mpsc::unbounded_channel();
    for mut s in sockets {
        let tx = closed_tx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            let mut buf = [0u8; 512];
            loop {
                tokio::select! {
                    r = s.read(&mut buf) => {
                        // The server answered (408) or closed: either ends the connection.
                        let _ = r;
                        let _ = tx.send(Instant::now());
                        return;
                    }
                    _ = tick.tick() => {
                        if s.write_all(b"X-Slow: 1\r\n").await.is_err() {
                            let _ = tx.send(Instant::now());
                            return;
                        }
                    }
                }
            }
        });
    }
    drop(closed_tx);

    // Meanwhile other clients (a new connection each) are served.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut worst = 0.0f64;
    for _ in 0..30 {
        let t = Instant::now();
        let r = fresh
            .get(format!("{}/api/status", server.base))
            .send()
            .await
            .expect("served while slow clients hold sockets");
        assert_eq!(r.status(), 200);
        worst = worst.max(t.elapsed().as_secs_f64() * 1000.0);
    }

    // Every slow socket is closed by the server at its header-read timeout (10 s).
    let mut first = None;
    let mut last = started;
    let mut closed = 0;
    let deadline = tokio::time::sleep(Duration::from_secs(40));
    tokio::pin!(deadline);
    while closed < 3_000 {
        tokio::select! {
            t = closed_rx.recv() => match t {
                Some(t) => {
                    first.get_or_insert(t);
                    last = t;
                    closed += 1;
                }
                None => break,
            },
            _ = &mut deadline => break,
        }
    }
    assert_eq!(closed, 3_000, "slow sockets still open after 40 s");
    let detect = first
        .expect("a close")
        .duration_since(started)
        .as_secs_f64();
    let recover = last.duration_since(started).as_secs_f64();
    assert!(recover < 10.0 + opened.as_secs_f64() + 5.0, "{recover} s");
    assert!(worst < 1000.0, "{worst} ms");
    let rss = server.peak_rss_mib();
    assert!(rss < 300.0, "{rss} MiB");
    fault_line(
        "slow-header clients holding 3,000 sockets",
        Some(detect),
        Some(recover),
        worst,
        "/api/status",
        rss,
    );
}
