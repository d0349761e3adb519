//! The `make demo` scenario, headless, on clusters of its own: `meshglass-demo up` against a private east/west
//! bed sets up the seeds' primary-remote mesh (demo apps, simulated sidecars, Prometheus per cluster with east
//! federating west, the operator with the example CRs, `remote-secret`, and the server run with what the
//! operator produced). The test then checks what a user sees first: both clusters accessible in
//! `/api/config`, edges between east and west in the graph, health for the demo apps, and every graph
//! node's `healthData` equal to what `/api/clusters/health` answers for its object (one rule).
//!
//! `make demo TOPOLOGY=multi-primary`, on a private cluster1..3 bed, is the seeds' three-cluster lab: one
//! bookinfo/helloworld graph with nodes of the three clusters, helloworld v1 and v2 in different clusters
//! behind the one helloworld service, and three control planes each managing its own cluster.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use meshglass_testbed::graph_json::{edge_pairs, node_data, node_ids};
use meshglass_testbed::{TestBed, poll, wait_until};
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
async fn node_health_is_the_health_route(http: &reqwest::Client, base: &str, namespaces: &str) {
    // Until the demo's traffic has reached the store, a graph has no health to compare.
    let compared = wait_until(
        "graph nodes with health",
        Duration::from_secs(120),
        || async {
            let n = compare_node_health(http, base, namespaces).await;
            Ok::<_, String>((n >= 10).then_some(n))
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    println!("{compared} graph nodes with the health route's health");
}

/// Compares at one fixed time half a minute back (every scrape of that instant is stored);
/// returns how many nodes had health.
async fn compare_node_health(http: &reqwest::Client, base: &str, namespaces: &str) -> usize {
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
                ("namespaces", namespaces),
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
    let demo = Demo::up(&["east", "west"], &[]).await;
    primary_remote_checks(&demo.http, &demo.base).await;
    demo.stop().await;
}

/// `make demo METRICS=thanos`: the same mesh read through Thanos Query behind the token gate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_over_thanos_behind_the_token_gate() {
    let demo = Demo::up(&["east", "west"], &["--metrics", "thanos"]).await;
    primary_remote_checks(&demo.http, &demo.base).await;
    let gate = demo.ready["prometheus"].as_str().expect("store URL");
    assert!(
        gate.starts_with("https://"),
        "the server reads the gate: {}",
        demo.ready
    );
    demo.stop().await;
}

/// One demo at a time in this binary (the test harness runs two tests at once). A demo picks its
/// free ports at start and its processes bind them minutes later, so a second demo starting in
/// between can be handed the same ports by the kernel: the first one's server then cannot bind
/// and exits, as a multi-primary run beside the east/west one did on the test bed.
static ONE_DEMO: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `meshglass-demo up` running on a private bed, with its ready file.
struct Demo {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    bed: TestBed,
    state: tempfile::TempDir,
    child: tokio::process::Child,
    ready: Value,
    base: String,
    http: reqwest::Client,
}

/// The demo's output, then the last lines of each process' log (`<state>/logs/<name>.log`), so a
/// failure names what the process that stopped said (the state directory is gone afterwards).
fn output(state: &Path) -> String {
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let mut out = format!(
        "{}{}",
        read(&state.join("demo.out")),
        read(&state.join("demo.err"))
    );
    let mut logs: Vec<_> = std::fs::read_dir(state.join("logs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    logs.sort();
    for log in logs {
        let text = read(&log);
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        out.push_str(&format!(
            "\n--- last lines of {} ---\n{tail}\n",
            log.display()
        ));
    }
    out
}

impl Demo {
    /// Runs `meshglass-demo up` with `args` on a private bed of `clusters`, until it is ready.
    async fn up(clusters: &[&str], args: &[&str]) -> Demo {
        let turn = ONE_DEMO.lock().await;
        let bed = TestBed::start(clusters)
            .await
            .unwrap_or_else(|e| panic!("starting clusters {clusters:?}: {e}"));
        let bin_dir = tokio::task::spawn_blocking(build_binaries)
            .await
            .expect("building the demo's binaries");
        let state = tempfile::tempdir().expect("temporary state directory");
        let ready_file = state.path().join("ready.json");

        let mut child = tokio::process::Command::new(bin_dir.join("meshglass-demo"))
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

        let ready = wait_until("the demo to be ready", Duration::from_secs(420), || {
            let exited = child.try_wait().ok().flatten();
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

        // The metrics store answers; every cluster is listed and accessible.
        let status = get_json(&http, &format!("{base}/api/status"), &[])
            .await
            .expect("/api/status");
        assert_eq!(status["status"]["Prometheus health"], "Healthy", "{status}");
        let config = get_json(&http, &format!("{base}/api/config"), &[])
            .await
            .expect("/api/config");
        let found = self::clusters(&config);
        for name in clusters {
            let entry = found.iter().find(|(n, _)| n == name).map(|(_, v)| v);
            let entry = entry
                .unwrap_or_else(|| panic!("cluster {name} missing from /api/config: {config}"));
            assert_eq!(
                entry["accessible"],
                Value::Bool(true),
                "cluster {name} not accessible: {config}"
            );
        }
        Demo {
            _turn: turn,
            bed,
            state,
            child,
            ready,
            base,
            http,
        }
    }

    /// Ctrl-C equivalent: the demo stops everything it started.
    async fn stop(mut self) {
        let pid = self.child.id().expect("demo pid");
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("meshglass-demo stops within 60 s of SIGTERM")
            .expect("waiting for meshglass-demo");
        assert!(
            status.success(),
            "meshglass-demo exited with {status}:\n{}",
            output(self.state.path())
        );
        let leftovers = std::fs::read_dir(self.state.path().join("demo/pids"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(
            leftovers, 0,
            "processes still recorded after the demo stopped"
        );
        drop(self.bed);
    }
}

/// What a user of the east/west demo sees first: edges both ways between the clusters, node health equal
/// to the health route's, and health for the demo apps with the failing ones.
async fn primary_remote_checks(http: &reqwest::Client, base: &str) {
    // Edges between the clusters: reviews-v2 (east) → ratings (west), sleep (west) → productpage (east), ...
    let graph = get_json(
        http,
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
    node_health_is_the_health_route(http, base, "bookinfo,helloworld,sample").await;

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
}

const LAB: [&str; 3] = ["cluster1", "cluster2", "cluster3"];

/// (cluster, app, version) of the app nodes of a graph with traffic (not dead).
/// The clusters whose sleep app has an edge to a service node in `g`.
fn sleeps_calling_a_service(g: &Value) -> BTreeSet<String> {
    let empty = Vec::new();
    let nodes = g["elements"]["nodes"].as_array().unwrap_or(&empty);
    let node = |id: &Value| nodes.iter().map(|n| &n["data"]).find(|n| n["id"] == *id);
    g["elements"]["edges"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter_map(|e| {
            let (s, t) = (node(&e["data"]["source"])?, node(&e["data"]["target"])?);
            (s["nodeType"] == "app" && s["app"] == "sleep" && t["nodeType"] == "service")
                .then(|| s["cluster"].as_str().map(String::from))
                .flatten()
        })
        .collect()
}

fn live_apps(g: &Value) -> BTreeSet<(String, String, String)> {
    g["elements"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| &n["data"])
        .filter(|n| n["nodeType"] == "app" && n["isDead"].is_null())
        .map(|n| {
            let s = |k: &str| n[k].as_str().unwrap_or_default().to_string();
            (s("cluster"), s("app"), s("version"))
        })
        .collect()
}

/// `make demo TOPOLOGY=multi-primary`: the seeds' lab on cluster1..3 with the console on cluster1 (its name
/// from cluster1's istiod's CLUSTER_ID, the CR naming none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_multi_primary_lab_has_one_graph_over_three_clusters_and_three_control_planes() {
    let demo = Demo::up(&LAB, &["--topology", "multi-primary"]).await;
    let (http, base) = (&demo.http, demo.base.as_str());

    // What the demo set up in each cluster, as the lab does: istiod, the east-west gateway, and a
    // remote secret for each peer in istio-system.
    for c in LAB {
        let client = demo.bed.cluster(c).client().await.expect("client");
        let deployments: BTreeSet<String> =
            Api::<Deployment>::namespaced(client.clone(), "istio-system")
                .list(&Default::default())
                .await
                .expect("deployments")
                .items
                .into_iter()
                .filter_map(|d| d.metadata.name)
                .collect();
        for d in ["istiod", "istio-eastwestgateway"] {
            assert!(deployments.contains(d), "{c}: {deployments:?}");
        }
        let secrets: BTreeSet<String> = Api::<Secret>::namespaced(client, "istio-system")
            .list(&Default::default())
            .await
            .expect("secrets")
            .items
            .into_iter()
            .filter_map(|s| s.metadata.name)
            .filter(|n| n.starts_with("istio-remote-secret-"))
            .collect();
        let want: BTreeSet<String> = LAB
            .iter()
            .filter(|p| **p != c)
            .map(|p| format!("istio-remote-secret-{p}"))
            .collect();
        assert_eq!(secrets, want, "{c}");
    }
    let config = get_json(http, &format!("{base}/api/config"), &[])
        .await
        .expect("/api/config");
    let home: Vec<String> = clusters(&config)
        .into_iter()
        .filter(|(_, v)| v["isKialiHome"] == true)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        home,
        ["cluster1"],
        "the home named by istiod's CLUSTER_ID: {config}"
    );

    // One bookinfo/helloworld graph with live nodes of the three clusters: sleep in every cluster,
    // helloworld v1 in cluster1 and cluster2, v2 in cluster3 (the lab's placement).
    let graph_query = [
        ("namespaces", "bookinfo,sample"),
        ("graphType", "versionedApp"),
        ("injectServiceNodes", "true"),
        ("duration", "60s"),
    ];
    // The traffic reaches Prometheus over a few scrapes, and a pair's first rate can still be zero:
    // poll until every placement and cross-cluster pair below shows, and name what was missing.
    let want_apps = [
        ("cluster1", "sleep", "latest"),
        ("cluster2", "sleep", "latest"),
        ("cluster3", "sleep", "latest"),
        ("cluster1", "helloworld", "v1"),
        ("cluster2", "helloworld", "v1"),
        ("cluster3", "helloworld", "v2"),
        ("cluster1", "productpage", "v1"),
        ("cluster2", "reviews", "v2"),
        ("cluster3", "ratings", "v1"),
    ];
    let want_edges = [
        ("cluster1", "cluster2"),
        ("cluster2", "cluster3"),
        ("cluster3", "cluster1"),
    ];
    poll(
        "a graph with the lab's placements and cross-cluster edges",
        Duration::from_secs(180),
        || async {
            let g = get_json(http, &format!("{base}/api/namespaces/graph"), &graph_query)
                .await
                .map_err(|e| format!("{e:?}"))?;
            let apps = live_apps(&g);
            let missing_apps: Vec<_> = want_apps
                .iter()
                .filter(|(c, app, v)| {
                    !apps
                        .iter()
                        .any(|(gc, ga, gv)| gc == c && ga == app && gv == v)
                })
                .collect();
            let edges = edge_clusters(&g);
            let missing_edges: Vec<_> = want_edges
                .iter()
                .filter(|(from, to)| !edges.iter().any(|(s, t)| s == from && t == to))
                .collect();
            if missing_apps.is_empty() && missing_edges.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "missing apps {missing_apps:?}, missing edges {missing_edges:?}; \
                     live apps {apps:?}, edges {edges:?}"
                ))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    // The helloworld service's graph: v1 and v2, in different clusters, each reached only through a
    // helloworld service node (Kiali keys a service node by the cluster that answered, so one per
    // cluster, all of the one service), called by the sleeps of the three clusters.
    let sg = poll(
        "the helloworld service graph called by the sleeps of the three clusters",
        Duration::from_secs(120),
        || async {
            let sg = get_json(
                http,
                &format!("{base}/api/namespaces/sample/services/helloworld/graph"),
                &[("graphType", "versionedApp"), ("duration", "60s")],
            )
            .await
            .map_err(|e| format!("{e:?}"))?;
            let calling = sleeps_calling_a_service(&sg);
            if LAB.iter().all(|c| calling.contains(*c)) {
                Ok(sg)
            } else {
                Err(format!("sleeps of {calling:?} call it: {sg}"))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let nodes = node_data(&sg);
    let services: BTreeSet<String> = nodes
        .iter()
        .filter(|n| n["nodeType"] == "service")
        .filter_map(|n| n["service"].as_str().map(String::from))
        .collect();
    assert_eq!(
        services,
        ["helloworld".to_string()].into(),
        "one service: {sg}"
    );
    let sg_edges = edge_pairs(&sg);
    let hello_clusters = |v: &str| -> BTreeSet<String> {
        nodes
            .iter()
            .filter(|n| n["nodeType"] == "app" && n["app"] == "helloworld" && n["version"] == v)
            .filter_map(|n| n["cluster"].as_str().map(String::from))
            .collect()
    };
    let (v1, v2) = (hello_clusters("v1"), hello_clusters("v2"));
    assert!(
        !v1.is_empty() && !v2.is_empty() && v1.is_disjoint(&v2),
        "v1 {v1:?}, v2 {v2:?}: {sg}"
    );
    let svc_ids = node_ids(&nodes, |n| n["nodeType"] == "service");
    for (c, v) in [("cluster1", "v1"), ("cluster2", "v1"), ("cluster3", "v2")] {
        let target = node_ids(&nodes, |n| {
            n["nodeType"] == "app"
                && n["app"] == "helloworld"
                && n["version"] == v
                && n["cluster"] == c
        });
        assert_eq!(target.len(), 1, "helloworld {v} in {c}: {sg}");
        let from: Vec<&String> = sg_edges
            .iter()
            .filter(|(_, t)| *t == target[0])
            .map(|(s, _)| s)
            .collect();
        assert!(
            !from.is_empty() && from.iter().all(|s| svc_ids.contains(s)),
            "helloworld {v} ({c}) is reached through the helloworld service only: {sg}"
        );
    }
    for c in LAB {
        let sleep = node_ids(&nodes, |n| {
            n["nodeType"] == "app" && n["app"] == "sleep" && n["cluster"] == c
        });
        assert!(
            sg_edges
                .iter()
                .any(|(s, t)| sleep.contains(s) && svc_ids.contains(t)),
            "sleep in {c} calls helloworld: {sg}"
        );
    }

    // The mesh page: three control planes, each in its own cluster managing that cluster only.
    let cps = get_json(http, &format!("{base}/api/mesh/controlplanes"), &[])
        .await
        .expect("control planes");
    let mut owned: Vec<(String, Vec<String>)> = cps
        .as_array()
        .expect("list")
        .iter()
        .map(|cp| {
            let managed = cp["managedClusters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["name"].as_str().map(String::from))
                .collect();
            (
                cp["cluster"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                managed,
            )
        })
        .collect();
    owned.sort();
    let want: Vec<(String, Vec<String>)> = LAB
        .iter()
        .map(|c| (c.to_string(), vec![c.to_string()]))
        .collect();
    assert_eq!(owned, want, "{cps}");
    let mg = get_json(http, &format!("{base}/api/mesh/graph"), &[])
        .await
        .expect("mesh graph");
    let mesh_nodes = node_data(&mg);
    let istiods: BTreeSet<String> = mesh_nodes
        .iter()
        .filter(|n| n["infraType"] == "istiod")
        .filter_map(|n| n["cluster"].as_str().map(String::from))
        .collect();
    assert_eq!(istiods, LAB.iter().map(|c| c.to_string()).collect(), "{mg}");
    // The demo's Jaeger, reachable, beside the console.
    assert!(
        mesh_nodes
            .iter()
            .any(|n| n["infraType"] == "traceStore" && n["healthData"] == "Healthy"),
        "{mg}"
    );

    // Every node's health is the health route's, by one rule.
    node_health_is_the_health_route(http, base, "bookinfo,sample").await;
    demo.stop().await;
}
