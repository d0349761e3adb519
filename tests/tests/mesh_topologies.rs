//! End to end: the four Istio topologies the seeds describe — multi-primary and primary-remote,
//! each on one network or several — on one shared bed of three real control planes (c1, c2,
//! c3), with what the console must get right in each: the network labels, the
//! `topology.istio.io/controlPlaneClusters` of a remote, which cluster's istiod owns which
//! data-plane namespace, and the mesh graph's control planes.
//!
//! Each check has its own Istio namespace (the same name in every cluster, as `istio-system`
//! is) and its own data-plane namespace, and a server of its own reading c1 (home) and the
//! clusters of the topology through ServiceAccount tokens: the checks share the bed, never
//! objects. The three-cluster multi-primary check is the seeds' lab
//! (`istio-multiprimary-lab.txt`): one istiod and one east-west gateway per cluster,
//! `istio-remote-secret-<peer>` Secrets in each Istio namespace, helloworld v1 in c2 and v2 in
//! c3 and sleep in every cluster calling it, with that traffic backfilled into a real
//! Prometheus: one graph holds nodes of all three clusters.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use kube::Client;
use kube::api::{Api, DeleteParams};
use meshglass_testbed::graph_json::{edge_pairs, node_data, node_ids};
use meshglass_testbed::istio;
use meshglass_testbed::standin::{Behaviour, StandIn};
use meshglass_testbed::{Prometheus, TestBed, TestNamespace, wait_until};
use serde_json::{Value, json};

mod common;
#[allow(dead_code)]
mod scenario;
use scenario::{TIMEOUT, create, drop_kubeconfig, remote_reader_token};

const CLUSTERS: [&str; 3] = ["c1", "c2", "c3"];

#[derive(Clone, Copy, PartialEq, Debug)]
enum Topology {
    /// One istiod per cluster.
    MultiPrimary,
    /// One istiod (in c1); c2 names c1 in `controlPlaneClusters`.
    PrimaryRemote,
}

/// What one check set up: the namespaces (to delete) and the server's view.
struct Mesh {
    istio_ns: String,
    data_ns: String,
    clusters: Vec<&'static str>,
    clients: BTreeMap<&'static str, Client>,
    /// Keeps the first cluster's namespaces for the check's life (deleted on drop).
    _owned: Vec<TestNamespace>,
    /// The remote-secrets directory: the kubeconfigs of the clusters but c1.
    secrets: tempfile::TempDir,
    _prom: StandIn,
    server: meshglass_server::Running,
    http: reqwest::Client,
}

impl Mesh {
    async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.server.base_url()))
            .send()
            .await
            .expect("server answers");
        let st = resp.status().as_u16();
        (st, resp.json().await.unwrap_or(Value::Null))
    }

    /// Deletes the namespaces the check made in the other clusters and stops the server.
    async fn finish(self) {
        for c in &self.clusters[1..] {
            for ns in [&self.istio_ns, &self.data_ns] {
                let _ = Api::<Namespace>::all(self.clients[c].clone())
                    .delete(ns, &DeleteParams::background())
                    .await;
            }
        }
        self.server.shutdown();
    }
}

async fn bed() -> &'static TestBed {
    meshglass_testbed::shared(&CLUSTERS)
        .await
        .expect("three-cluster bed")
}

/// A Deployment of one replica (kwok runs its pod) with `labels` on it and its pods.
async fn deployment(client: &Client, ns: &str, name: &str, labels: Value, image: &str, env: Value) {
    create::<Deployment>(
        client,
        Some(ns),
        json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"topology-check": name}},
                "template": {
                    "metadata": {"labels": labels.as_object().cloned().map(|mut m| {
                        m.insert("topology-check".into(), json!(name));
                        Value::Object(m)
                    }).unwrap_or_default(),
                                 "annotations": {"sidecar.istio.io/status": "{}"}},
                    "spec": {"containers": [{"name": "main", "image": image, "env": env}]}
                }
            }
        }),
    )
    .await;
}

/// Sets up `topology` on c1..c`n` with one network (`net`) or one per cluster (`net-<cluster>`)
/// and starts a server on c1 reading them.
async fn mesh(topology: Topology, several_networks: bool, n: usize) -> Mesh {
    let bed = bed().await;
    let clusters: Vec<&'static str> = CLUSTERS[..n].to_vec();
    let mut clients = BTreeMap::new();
    for c in &clusters {
        clients.insert(*c, bed.cluster(c).client().await.expect("client"));
    }
    let home = &clients["c1"];
    let istio = TestNamespace::create(home, "topo-istio").await.expect("ns");
    let data = TestNamespace::create(home, "topo-data").await.expect("ns");
    let (istio_ns, data_ns) = (istio.name().to_string(), data.name().to_string());
    for (i, c) in clusters.iter().enumerate() {
        let client = &clients[c];
        common::ensure_namespace(client, &istio_ns).await;
        common::ensure_namespace(client, &data_ns).await;
        let network = if several_networks {
            format!("net-{c}")
        } else {
            "net".to_string()
        };
        let primary = topology == Topology::MultiPrimary || i == 0;
        let annotations = if primary {
            json!({})
        } else {
            json!({"topology.istio.io/controlPlaneClusters": "c1"})
        };
        common::label_namespace(
            client,
            &istio_ns,
            json!({"topology.istio.io/network": network}),
            annotations,
        )
        .await;
        common::label_namespace(
            client,
            &data_ns,
            json!({"istio-injection": "enabled"}),
            json!({}),
        )
        .await;
        if primary {
            create::<Deployment>(
                client,
                Some(&istio_ns),
                istio::istiod(&istio_ns, c, &network),
            )
            .await;
            // A primary reads each peer through `istio-remote-secret-<peer>` (what
            // `istioctl create-remote-secret` writes); the bed holds their shape, not a token.
            for peer in clusters.iter().filter(|p| *p != c) {
                create::<Secret>(
                    client,
                    Some(&istio_ns),
                    istio::remote_secret(&istio_ns, peer, bed.cluster(peer).server_url()),
                )
                .await;
            }
        }
        if several_networks {
            let [gw, gw_svc] = istio::eastwest_gateway(&istio_ns, &network);
            create::<Deployment>(client, Some(&istio_ns), gw).await;
            create::<Service>(client, Some(&istio_ns), gw_svc).await;
        }
    }

    let secrets = tempfile::tempdir().expect("tempdir");
    for c in &clusters[1..] {
        let token = remote_reader_token(&clients[c]).await;
        drop_kubeconfig(
            secrets.path(),
            c,
            &common::token_kubeconfig(bed.cluster(c), &token),
        );
    }
    let prom = StandIn::http(Behaviour::Empty).await.expect("stand-in");
    let server = start_server(bed, &istio_ns, secrets.path(), prom.url()).await;
    Mesh {
        istio_ns,
        data_ns,
        clusters,
        clients,
        _owned: vec![istio, data],
        secrets,
        _prom: prom,
        server,
        http: reqwest::Client::new(),
    }
}

async fn start_server(
    bed: &TestBed,
    istio_ns: &str,
    secrets: &std::path::Path,
    prom_url: &str,
) -> meshglass_server::Running {
    // No `cluster_name`: the home cluster is named by its istiod's CLUSTER_ID.
    let config = meshglass_server::Config::from_yaml(&format!(
        "auth:\n  strategy: anonymous\nistio_namespace: {istio_ns}\nserver:\n  address: 127.0.0.1\n  port: 0\n  observability:\n    metrics:\n      port: 0\n\
         external_services:\n  prometheus:\n    url: {prom_url}\n"
    ))
    .expect("config");
    common::start_server(bed, config, "c1", secrets).await
}

/// Waits until the server lists `want` healthy control planes that see the data-plane
/// namespace of every cluster, and returns them.
async fn control_planes(m: &Mesh, want: usize) -> Vec<Value> {
    wait_until("control planes settle", TIMEOUT, || async {
        let (st, cps) = m.get("/api/mesh/controlplanes").await;
        let list = cps.as_array().cloned().unwrap_or_default();
        let seen: BTreeSet<String> = list
            .iter()
            .flat_map(|cp| {
                cp["managedNamespaces"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|n| n["name"] == m.data_ns.as_str())
            .filter_map(|n| n["cluster"].as_str().map(String::from))
            .collect();
        let healthy = list.iter().all(|cp| cp["status"] == "Healthy");
        let ok = st == 200 && list.len() == want && healthy && seen.len() == m.clusters.len();
        Ok::<_, String>(ok.then_some(list))
    })
    .await
    .expect("control planes")
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x[key].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks the networks, and which istiod owns each cluster and data-plane namespace.
async fn check_ownership(m: &Mesh, topology: Topology, several_networks: bool) {
    let want = if topology == Topology::MultiPrimary {
        m.clusters.len()
    } else {
        1
    };
    let cps = control_planes(m, want).await;
    for cp in &cps {
        let home = cp["cluster"]["name"].as_str().expect("cluster").to_string();
        let managed = names(&cp["managedClusters"], "name");
        let owned: Vec<(String, String)> = cp["managedNamespaces"]
            .as_array()
            .expect("namespaces")
            .iter()
            .map(|n| {
                (
                    n["cluster"].as_str().unwrap_or_default().to_string(),
                    n["name"].as_str().unwrap_or_default().to_string(),
                )
            })
            .filter(|(_, n)| *n == m.data_ns)
            .collect();
        let network = if several_networks {
            format!("net-{home}")
        } else {
            "net".into()
        };
        assert_eq!(cp["config"]["network"], network.as_str(), "{cp}");
        assert_eq!(cp["id"], home.as_str(), "the istiod's CLUSTER_ID");
        assert_eq!(cp["istiodNamespace"], m.istio_ns.as_str());
        match topology {
            Topology::MultiPrimary => {
                // Each primary manages its own cluster and its own namespaces only.
                assert_eq!(managed, std::slice::from_ref(&home), "{cp}");
                assert_eq!(cp["managesExternal"], false);
                assert_eq!(owned, [(home.clone(), m.data_ns.clone())], "{cp}");
            }
            Topology::PrimaryRemote => {
                assert_eq!(home, "c1");
                assert_eq!(managed, m.clusters, "{cp}");
                assert_eq!(cp["managesExternal"], true);
                let want: Vec<(String, String)> = m
                    .clusters
                    .iter()
                    .map(|c| (c.to_string(), m.data_ns.clone()))
                    .collect();
                assert_eq!(owned, want, "c1's istiod owns the remote's namespace");
            }
        }
    }
    let mut homes = names(
        &Value::Array(cps.iter().map(|cp| cp["cluster"].clone()).collect()),
        "name",
    );
    homes.sort();
    let want_homes: Vec<String> = match topology {
        Topology::MultiPrimary => m.clusters.iter().map(|c| c.to_string()).collect(),
        Topology::PrimaryRemote => vec!["c1".into()],
    };
    assert_eq!(homes, want_homes);

    // The mesh graph: one box per cluster, one istiod node per control plane in its own
    // cluster, with the clusters it manages; every cluster box holds a data plane.
    let (st, g) = m.get("/api/mesh/graph").await;
    assert_eq!(st, 200, "{g}");
    let nodes = node_data(&g);
    let istiods: BTreeMap<String, Vec<String>> = nodes
        .iter()
        .filter(|n| n["infraType"] == "istiod")
        .map(|n| {
            let managed: Vec<String> = n["infraData"]["managedClusters"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().or(c["name"].as_str()).map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            (
                n["cluster"].as_str().unwrap_or_default().to_string(),
                managed,
            )
        })
        .collect();
    let want_istiods: BTreeMap<String, Vec<String>> = match topology {
        Topology::MultiPrimary => m
            .clusters
            .iter()
            .map(|c| (c.to_string(), vec![c.to_string()]))
            .collect(),
        Topology::PrimaryRemote => [(
            "c1".to_string(),
            m.clusters.iter().map(|c| c.to_string()).collect(),
        )]
        .into(),
    };
    assert_eq!(istiods, want_istiods, "{g}");
    let boxes: BTreeSet<String> = nodes
        .iter()
        .filter(|n| n["infraType"] == "cluster" && n["cluster"] != "_external_")
        .filter_map(|n| n["cluster"].as_str().map(String::from))
        .collect();
    let want_boxes: BTreeSet<String> = m.clusters.iter().map(|c| c.to_string()).collect();
    assert_eq!(boxes, want_boxes);
    let planes: BTreeSet<String> = nodes
        .iter()
        .filter(|n| n["infraType"] == "dataplane")
        .filter(|n| n["infraData"].to_string().contains(&m.data_ns))
        .filter_map(|n| n["cluster"].as_str().map(String::from))
        .collect();
    assert_eq!(planes, want_boxes, "a data plane in every cluster");

    // The remote's Istio namespace names its primary; the primaries' name none.
    for c in &m.clusters {
        let ns = Api::<Namespace>::all(m.clients[c].clone())
            .get(&m.istio_ns)
            .await
            .expect("istio namespace");
        let names_primary = ns
            .metadata
            .annotations
            .unwrap_or_default()
            .get("topology.istio.io/controlPlaneClusters")
            .cloned();
        let remote = topology == Topology::PrimaryRemote && *c != "c1";
        assert_eq!(names_primary.as_deref(), remote.then_some("c1"), "{c}");
    }
}

/// Sets up `topology` on `n` clusters, checks which control plane owns what, and tears it down.
async fn ownership_of(topology: Topology, several_networks: bool, n: usize) {
    let m = mesh(topology, several_networks, n).await;
    check_ownership(&m, topology, several_networks).await;
    m.finish().await;
}

#[tokio::test]
async fn multi_primary_one_network() {
    ownership_of(Topology::MultiPrimary, false, 3).await;
}

#[tokio::test]
async fn primary_remote_one_network() {
    ownership_of(Topology::PrimaryRemote, false, 2).await;
}

#[tokio::test]
async fn primary_remote_several_networks() {
    ownership_of(Topology::PrimaryRemote, true, 2).await;
}

/// The seeds' lab: three primaries on three networks, helloworld v1 in c2 and v2 in c3, sleep
/// everywhere; one graph over the three clusters, three control planes each managing its own.
#[tokio::test]
async fn multi_primary_several_networks_is_the_lab_with_one_graph() {
    let bed = bed().await;
    let m = mesh(Topology::MultiPrimary, true, 3).await;
    check_ownership(&m, Topology::MultiPrimary, true).await;

    let ns = m.data_ns.clone();
    for c in &m.clusters {
        let client = &m.clients[c];
        for svc in ["helloworld", "sleep"] {
            create::<Service>(
                client,
                Some(&ns),
                json!({"metadata": {"name": svc, "labels": {"app": svc}},
                       "spec": {"selector": {"app": svc}, "ports": [{"name": "http", "port": 5000}]}}),
            )
            .await;
        }
        deployment(
            client,
            &ns,
            "sleep",
            json!({"app": "sleep", "version": "v1"}),
            "curlimages/curl:8.11.1",
            json!([]),
        )
        .await;
    }
    for (c, v) in [("c2", "v1"), ("c3", "v2")] {
        deployment(
            &m.clients[c],
            &ns,
            &format!("helloworld-{v}"),
            json!({"app": "helloworld", "version": v}),
            &format!("docker.io/istio/examples-helloworld-{v}:1.0"),
            json!([]),
        )
        .await;
    }

    // Prometheus backfilled with the lab's traffic: every sleep calls helloworld, whose
    // endpoints answer from c2 (v1) and c3 (v2).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let end = now - now % 60 - 120;
    let prom = Prometheus::start_with_openmetrics(&lab_openmetrics(&ns, end - 1200, end))
        .await
        .expect("prometheus");
    // A server over the real store, reading the same clusters.
    let server = start_server(bed, &m.istio_ns, m.secrets.path(), prom.url()).await;
    let base = server.base_url();
    let http = reqwest::Client::new();
    let url = format!(
        "{base}/api/namespaces/graph?namespaces={ns}&graphType=versionedApp&injectServiceNodes=true&duration=600s&queryTime={end}"
    );
    let g = wait_until(
        "a graph with the workloads of the three clusters",
        TIMEOUT,
        || async {
            let resp = http.get(&url).send().await.map_err(|e| e.to_string())?;
            let st = resp.status().as_u16();
            let g: Value = resp.json().await.map_err(|e| e.to_string())?;
            let clusters: BTreeSet<String> = g["elements"]["nodes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|n| n["data"]["nodeType"] == "app")
                        .filter(|n| n["data"]["isDead"].is_null())
                        .filter_map(|n| n["data"]["cluster"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            Ok::<_, String>((st == 200 && clusters.len() == 3).then_some(g))
        },
    )
    .await
    .expect("graph");
    let nodes = node_data(&g);
    // sleep in every cluster; helloworld v1 in c2, v2 in c3.
    let apps: BTreeSet<(String, String, String)> = nodes
        .iter()
        .filter(|n| n["nodeType"] == "app")
        .map(|n| {
            (
                n["cluster"].as_str().unwrap_or_default().to_string(),
                n["app"].as_str().unwrap_or_default().to_string(),
                n["version"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = [
        ("c1", "sleep", "v1"),
        ("c2", "sleep", "v1"),
        ("c3", "sleep", "v1"),
        ("c2", "helloworld", "v1"),
        ("c3", "helloworld", "v2"),
    ]
    .iter()
    .map(|(c, a, v)| (c.to_string(), a.to_string(), v.to_string()))
    .collect();
    assert_eq!(apps, want, "{g}");
    // The helloworld service. Kiali keys an injected service node by the cluster the request
    // was answered in (kiali/kiali graph/telemetry/istio/istio.go `addTraffic`:
    // `addNode(trafficMap, destCluster, destSvcNs, destSvcName, "", "", "", "", o)`, and
    // graph/types.go `Id`: `svc_<cluster>_<namespace>_<service>`), so the lab's graph has one
    // helloworld service node in c2, leading to v1, and one in c3, leading to v2, and every
    // sleep calls both.
    let svc_in = |c: &str| {
        node_ids(&nodes, |n| {
            n["nodeType"] == "service" && n["service"] == "helloworld" && n["cluster"] == c
        })
    };
    let svc_clusters: BTreeSet<String> = nodes
        .iter()
        .filter(|n| n["nodeType"] == "service" && n["service"] == "helloworld")
        .filter_map(|n| n["cluster"].as_str().map(String::from))
        .collect();
    assert_eq!(
        svc_clusters,
        ["c2".to_string(), "c3".to_string()].into(),
        "{g}"
    );
    reached_through_helloworld(&g, &svc_in, &m.clusters);

    // Kiali's view of the one helloworld service over the clusters: its node graph (no
    // `cluster` parameter, so not narrowed to one) holds v1 in c2 and v2 in c3, each behind
    // the helloworld service, and the sleeps of the three clusters calling it.
    let url = format!(
        "{base}/api/namespaces/{ns}/services/helloworld/graph?graphType=versionedApp&duration=600s&queryTime={end}"
    );
    let resp = http.get(&url).send().await.expect("service graph");
    assert_eq!(resp.status().as_u16(), 200);
    let sg: Value = resp.json().await.expect("json");
    let apps: BTreeSet<(String, String, String)> = sg["elements"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| &n["data"])
        .filter(|n| n["nodeType"] == "app")
        .map(|n| {
            (
                n["cluster"].as_str().unwrap_or_default().to_string(),
                n["app"].as_str().unwrap_or_default().to_string(),
                n["version"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(apps, want, "{sg}");
    let services: BTreeSet<(String, String)> = sg["elements"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| &n["data"])
        .filter(|n| n["nodeType"] == "service")
        .map(|n| {
            (
                n["cluster"].as_str().unwrap_or_default().to_string(),
                n["service"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        services,
        [("c2", "helloworld"), ("c3", "helloworld")]
            .iter()
            .map(|(c, s)| (c.to_string(), s.to_string()))
            .collect(),
        "only the helloworld service: {sg}"
    );
    let sg_nodes = node_data(&sg);
    let sg_svc_in = |c: &str| -> Vec<String> {
        sg_nodes
            .iter()
            .filter(|n| n["nodeType"] == "service" && n["cluster"] == c)
            .filter_map(|n| n["id"].as_str().map(String::from))
            .collect()
    };
    reached_through_helloworld(&sg, &sg_svc_in, &m.clusters);
    server.shutdown();
    m.finish().await;
}

/// In graph `g`: helloworld v1 (c2) is reached only through `svc_in("c2")`, v2 (c3) only
/// through `svc_in("c3")`, and the sleep of every cluster calls both service nodes.
fn reached_through_helloworld(g: &Value, svc_in: &dyn Fn(&str) -> Vec<String>, clusters: &[&str]) {
    let nodes = node_data(g);
    let edges = edge_pairs(g);
    for (c, v) in [("c2", "v1"), ("c3", "v2")] {
        let svc = svc_in(c);
        assert_eq!(svc.len(), 1, "one helloworld service node in {c}: {g}");
        let target = node_ids(&nodes, |n| {
            n["nodeType"] == "app"
                && n["app"] == "helloworld"
                && n["version"] == v
                && n["cluster"] == c
        });
        assert_eq!(target.len(), 1, "helloworld {v} in {c}: {g}");
        let from: Vec<&String> = edges
            .iter()
            .filter(|(_, t)| *t == target[0])
            .map(|(s, _)| s)
            .collect();
        assert_eq!(
            from,
            [&svc[0]],
            "helloworld {v} ({c}) behind {c}'s helloworld service"
        );
        for src in clusters {
            let sleep = node_ids(&nodes, |n| {
                n["nodeType"] == "app" && n["app"] == "sleep" && n["cluster"] == *src
            });
            assert!(
                edges.iter().any(|(s, t)| sleep.contains(s) && *t == svc[0]),
                "sleep in {src} calls helloworld answered in {c}: {g}"
            );
        }
    }
}

/// The lab's `istio_requests_total` series (both reporters), counters growing linearly every
/// 15 s from `start` to `end`: 1 rps from each sleep, half to each helloworld version.
fn lab_openmetrics(ns: &str, start: i64, end: i64) -> String {
    let mut out =
        String::from("# HELP istio_requests Total requests.\n# TYPE istio_requests counter\n");
    for src in CLUSTERS {
        for (dst, ver) in [("c2", "v1"), ("c3", "v2")] {
            for reporter in ["source", "destination"] {
                let labels = format!(
                    "reporter=\"{reporter}\",source_cluster=\"{src}\",source_workload=\"sleep\",source_workload_namespace=\"{ns}\",\
                     source_app=\"sleep\",source_version=\"v1\",source_canonical_service=\"sleep\",source_canonical_revision=\"v1\",\
                     destination_cluster=\"{dst}\",destination_workload=\"helloworld-{ver}\",destination_workload_namespace=\"{ns}\",\
                     destination_app=\"helloworld\",destination_version=\"{ver}\",destination_canonical_service=\"helloworld\",\
                     destination_canonical_revision=\"{ver}\",destination_service=\"helloworld.{ns}.svc.cluster.local\",\
                     destination_service_name=\"helloworld\",destination_service_namespace=\"{ns}\",request_protocol=\"http\",\
                     response_code=\"200\",grpc_response_status=\"\",response_flags=\"-\",connection_security_policy=\"{}\"",
                    if reporter == "destination" {
                        "mutual_tls"
                    } else {
                        "unknown"
                    }
                );
                let mut t = start;
                while t <= end {
                    let v = 0.5 * (t - start) as f64;
                    let _ = writeln!(out, "istio_requests_total{{{labels}}} {v} {t}");
                    t += 15;
                }
            }
        }
    }
    out.push_str("# EOF\n");
    out
}
