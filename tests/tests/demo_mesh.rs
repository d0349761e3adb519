//! The `make demo` scenario, headless, on clusters of its own: `meshglass-demo up` against a private east/west
//! bed sets up the seeds' primary-remote mesh (demo apps, simulated sidecars, Prometheus per cluster with east
//! federating west, the operator with the example CRs, `remote-secret`, and the server run with what the
//! operator produced). The test then checks what a user sees first: both clusters accessible in
//! `/api/config`, edges between east and west in the graph, health for the demo apps, and every graph
//! node's `healthData` equal to what `/api/clusters/health` answers for its object (one rule).

use std::path::{Path, PathBuf};
use std::time::Duration;

use meshglass_testbed::{TestBed, wait_until};
use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The cargo target directory this test was built in (`<target>/debug/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace().join("target"))
}

/// Builds the programs the demo runs, in this test's target directory (a no-op when up to date).
fn build_binaries() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target = target_dir();
    let status = std::process::Command::new(cargo)
        .current_dir(workspace())
        .args(["build", "--locked", "-q", "--bins"])
        .args([
            "-p",
            "meshglass-simulator",
            "-p",
            "meshglass-operator",
            "-p",
            "meshglass-server",
        ])
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("running cargo build");
    assert!(
        status.success(),
        "cargo build of the demo's binaries failed: {status}"
    );
    target.join("debug")
}

async fn get_json(
    http: &reqwest::Client,
    url: &str,
    query: &[(&str, &str)],
) -> Result<Value, String> {
    let url = reqwest::Url::parse_with_params(url, query).map_err(|e| e.to_string())?;
    let response = http
        .get(url.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{url}: HTTP {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{url}: {e}: {body}"))
}

/// `clusters` of /api/config as (name, entry), whether the server sends a map keyed by name (Kiali) or a list.
fn clusters(config: &Value) -> Vec<(String, Value)> {
    match &config["clusters"] {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(list) => list
            .iter()
            .map(|v| (v["name"].as_str().unwrap_or_default().to_owned(), v.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

/// (source cluster, target cluster) of every edge of a Cytoscape graph.
fn edge_clusters(graph: &Value) -> Vec<(String, String)> {
    let empty = Vec::new();
    let nodes = graph["elements"]["nodes"].as_array().unwrap_or(&empty);
    let cluster_of = |id: &Value| {
        nodes
            .iter()
            .find(|n| n["data"]["id"] == *id)
            .and_then(|n| n["data"]["cluster"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    graph["elements"]["edges"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|e| {
            (
                cluster_of(&e["data"]["source"]),
                cluster_of(&e["data"]["target"]),
            )
        })
        .collect()
}

/// Names of the entities a health answer reports on (`{namespace: {name: health}}`, possibly wrapped once,
/// as Kiali's `namespaceAppHealth`).
fn health_entries(health: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(top) = health.as_object() else {
        return out;
    };
    for (key, value) in top {
        let Some(inner) = value.as_object() else {
            continue;
        };
        for (name, entry) in inner {
            match entry.as_object() {
                // {wrapper: {namespace: {name: health}}}
                Some(map) if key.starts_with("namespace") && map.values().all(Value::is_object) => {
                    out.extend(map.keys().map(|n| format!("{name}/{n}")))
                }
                Some(_) => out.push(format!("{key}/{name}")),
                None => {}
            }
        }
    }
    out
}

/// The health route's kind, body key and object name of a graph node (`None`: a node without
/// health, such as the unknown source).
fn health_object(n: &Value) -> Option<(&'static str, &'static str, String)> {
    let s = |k: &str| n[k].as_str().unwrap_or_default().to_string();
    match (s("nodeType").as_str(), s("isBox").as_str()) {
        ("box", "app") => Some(("app", "namespaceAppHealth", s("app"))),
        ("workload", _) => Some(("workload", "namespaceWorkloadHealth", s("workload"))),
        ("app", _) if !s("workload").is_empty() => {
            Some(("workload", "namespaceWorkloadHealth", s("workload")))
        }
        ("app", _) => Some(("app", "namespaceAppHealth", s("app"))),
        ("service", _) => Some(("service", "namespaceServiceHealth", s("service"))),
        _ => None,
    }
}

/// For every node of the demo graph (versioned apps boxed by app, and the workload graph with
/// service nodes), `healthData` equals the health route's entry for the node's cluster,
/// namespace and object, at the same query time and window.
async fn node_health_is_the_health_route(http: &reqwest::Client, base: &str) {
    // Until the demo's traffic has reached the store, a graph has no health to compare.
    let compared = wait_until(
        "graph nodes with health",
        Duration::from_secs(120),
        || async {
            let n = compare_node_health(http, base).await;
            Ok::<_, String>((n >= 10).then_some(n))
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    println!("{compared} graph nodes with the health route's health");
}

/// Compares at one fixed time half a minute back (every scrape of that instant is stored);
/// returns how many nodes had health.
async fn compare_node_health(http: &reqwest::Client, base: &str) -> usize {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let t = (now - 30).to_string();
    let mut answers: std::collections::BTreeMap<(String, String, &str), Value> = Default::default();
    let mut compared = 0;
    for (graph_type, extra) in [
        ("versionedApp", ("boxBy", "app")),
        ("workload", ("injectServiceNodes", "true")),
    ] {
        let graph = get_json(
            http,
            &format!("{base}/api/namespaces/graph"),
            &[
                ("namespaces", "bookinfo,helloworld,sample"),
                ("graphType", graph_type),
                extra,
                ("duration", "60s"),
                ("queryTime", &t),
            ],
        )
        .await
        .expect("graph");
        for n in graph["elements"]["nodes"].as_array().expect("nodes") {
            let d = &n["data"];
            let expected = match health_object(d) {
                None => Value::Null,
                Some((kind, key, name)) => {
                    let cluster = d["cluster"].as_str().unwrap_or_default().to_string();
                    let ns = d["namespace"].as_str().unwrap_or_default().to_string();
                    let k = (cluster.clone(), ns.clone(), kind);
                    if !answers.contains_key(&k) {
                        let h = get_json(
                            http,
                            &format!("{base}/api/clusters/health"),
                            &[
                                ("namespaces", ns.as_str()),
                                ("type", kind),
                                ("clusterName", cluster.as_str()),
                                ("rateInterval", "60s"),
                                ("queryTime", &t),
                            ],
                        )
                        .await
                        .expect("health");
                        answers.insert(k.clone(), h);
                    }
                    answers[&k][key][ns.as_str()][name.as_str()].clone()
                }
            };
            assert_eq!(d["healthData"], expected, "{graph_type}: {d}");
            if !expected.is_null() {
                compared += 1;
            }
        }
    }
    compared
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_shows_both_clusters_cross_cluster_edges_and_health() {
    demo(&[]).await;
}

/// `make demo METRICS=thanos`: the same mesh read through Thanos Query behind the token gate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_over_thanos_behind_the_token_gate() {
    let ready = demo(&["--metrics", "thanos"]).await;
    let gate = ready["prometheus"].as_str().expect("store URL");
    assert!(
        gate.starts_with("https://"),
        "the server reads the gate: {ready}"
    );
}

/// Runs `meshglass-demo up` with `args` on a private bed, checks what a user sees first, stops it;
/// returns its ready file.
async fn demo(args: &[&str]) -> Value {
    let bed = TestBed::start(&["east", "west"])
        .await
        .expect("starting clusters east and west");
    let bin_dir = tokio::task::spawn_blocking(build_binaries)
        .await
        .expect("building the demo's binaries");
    let state = tempfile::tempdir().expect("temporary state directory");
    let ready_file = state.path().join("ready.json");

    let mut demo = tokio::process::Command::new(bin_dir.join("meshglass-demo"))
        .arg("up")
        .arg("--state-dir")
        .arg(state.path())
        .arg("--examples")
        .arg(workspace().join("examples"))
        .arg("--kubeconfig")
        .arg(bed.kubeconfig_path())
        .arg("--bin-dir")
        .arg(&bin_dir)
        .arg("--free-ports")
        .arg("--ready-file")
        .arg(&ready_file)
        .args(args)
        .stdout(std::fs::File::create(state.path().join("demo.out")).expect("demo output file"))
        .stderr(std::fs::File::create(state.path().join("demo.err")).expect("demo error file"))
        .kill_on_drop(true)
        .spawn()
        .expect("starting meshglass-demo");
    let output = |state: &Path| {
        let read = |f: &str| std::fs::read_to_string(state.join(f)).unwrap_or_default();
        format!("{}{}", read("demo.out"), read("demo.err"))
    };

    let ready = wait_until("the demo to be ready", Duration::from_secs(300), || {
        let exited = demo.try_wait().ok().flatten();
        let ready_file = ready_file.clone();
        let out = output(state.path());
        async move {
            if let Some(status) = exited {
                return Err(format!("meshglass-demo exited ({status}):\n{out}"));
            }
            match std::fs::read(&ready_file) {
                Ok(bytes) => serde_json::from_slice::<Value>(&bytes)
                    .map(Some)
                    .map_err(|e| e.to_string()),
                Err(_) => Ok(None),
            }
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let base = ready["url"]
        .as_str()
        .expect("url in the ready file")
        .to_owned();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("http client");

    // The metrics store answers.
    let status = get_json(&http, &format!("{base}/api/status"), &[])
        .await
        .expect("/api/status");
    assert_eq!(status["status"]["Prometheus health"], "Healthy", "{status}");

    // Both clusters, each accessible.
    let config = get_json(&http, &format!("{base}/api/config"), &[])
        .await
        .expect("/api/config");
    let found = clusters(&config);
    for name in ["east", "west"] {
        let entry = found.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        let entry =
            entry.unwrap_or_else(|| panic!("cluster {name} missing from /api/config: {config}"));
        assert_eq!(
            entry["accessible"],
            Value::Bool(true),
            "cluster {name} not accessible: {config}"
        );
    }

    // Edges between the clusters: reviews-v2 (east) → ratings (west), sleep (west) → productpage (east), ...
    let graph = get_json(
        &http,
        &format!("{base}/api/namespaces/graph"),
        &[
            ("namespaces", "bookinfo,helloworld,sample"),
            ("graphType", "versionedApp"),
            ("duration", "60s"),
        ],
    )
    .await
    .expect("graph");
    let edges = edge_clusters(&graph);
    let crossing = |from: &str, to: &str| edges.iter().any(|(s, t)| s == from && t == to);
    assert!(crossing("east", "west"), "no east → west edge in {graph}");
    assert!(crossing("west", "east"), "no west → east edge in {graph}");

    // Every node's health is what /api/clusters/health answers for its object, by one rule:
    // both read at one fixed time, over the same window.
    node_health_is_the_health_route(&http, &base).await;

    // Health of the demo apps, with the failing helloworld-v2 and ratings among them.
    let health = wait_until(
        "app health of the demo namespaces",
        Duration::from_secs(60),
        || {
            let http = http.clone();
            let url = format!("{base}/api/clusters/health");
            async move {
                let h = get_json(
                    &http,
                    &url,
                    &[
                        ("namespaces", "bookinfo,helloworld,sample"),
                        ("type", "app"),
                        ("rateInterval", "60s"),
                    ],
                )
                .await?;
                Ok::<_, String>((!health_entries(&h).is_empty()).then_some(h))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let entries = health_entries(&health);
    for app in ["ratings", "helloworld", "productpage"] {
        assert!(
            entries.iter().any(|e| e.ends_with(&format!("/{app}"))),
            "no health for {app}: {health}"
        );
    }
    // ratings answers 5% of its requests with 503 (examples/demo-mesh.yaml): health has something to say.
    let ratings = &health["namespaceAppHealth"]["bookinfo"]["ratings"];
    let ratings_503 = &ratings["requests"]["inbound"]["http"]["503"];
    assert!(
        ratings_503.as_f64().is_some_and(|r| r > 0.0),
        "no 503 rate into ratings: {health}"
    );

    // Ctrl-C equivalent: the demo stops everything it started.
    let pid = demo.id().expect("demo pid");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = tokio::time::timeout(Duration::from_secs(60), demo.wait())
        .await
        .expect("meshglass-demo stops within 60 s of SIGTERM")
        .expect("waiting for meshglass-demo");
    assert!(
        status.success(),
        "meshglass-demo exited with {status}:\n{}",
        output(state.path())
    );
    let leftovers = std::fs::read_dir(state.path().join("demo/pids"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(
        leftovers, 0,
        "processes still recorded after the demo stopped"
    );
    drop(bed);
    ready
}
