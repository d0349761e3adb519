//! End to end: the mesh page's routes on real east and west control planes. East runs two
//! control planes as the seeds name them — `istiod` (the default revision) and `istiod-basic`
//! (revision `basic`, OSSM 2's naming) — in the test's own Istio namespace; west has none and
//! names east in `topology.istio.io/controlPlaneClusters` (primary-remote). A third cluster's
//! kubeconfig points at a port nothing listens on: it is shown unreachable while the rest serves.
//! The metrics store (a stand-in outside every cluster) is in Kiali's `External Deployments` box.
//! The tracing store, a real Jaeger, is an infrastructure node reachable while Jaeger runs and
//! unreachable once it is stopped.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DeleteParams};
use meshglass_testbed::jaeger::Jaeger;
use meshglass_testbed::standin::{Behaviour, StandIn};
use meshglass_testbed::{TestNamespace, poll, wait_until};
use serde_json::{Value, json};

mod common;
#[allow(dead_code)]
mod scenario;
use scenario::{TIMEOUT, create, drop_kubeconfig, remote_reader_token};

async fn deploy(client: &Client, ns: &str, name: &str, labels: Value, image: &str, replicas: i32) {
    create::<Deployment>(
        client,
        Some(ns),
        json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"mesh-page": name}},
                "template": {
                    "metadata": {"labels": {"mesh-page": name}},
                    "spec": {"containers": [{
                        "name": "discovery", "image": image,
                        "env": [{"name": "CLUSTER_ID", "value": "east"}]
                    }]}
                }
            }
        }),
    )
    .await;
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, Option<String>, Value) {
    let resp = http.get(url).send().await.expect("server answers");
    let status = resp.status().as_u16();
    let missing = resp
        .headers()
        .get("x-meshglass-missing-clusters")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    (status, missing, resp.json().await.unwrap_or(Value::Null))
}

fn named<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .and_then(|a| a.iter().find(|x| x[key] == value))
        .unwrap_or_else(|| panic!("no {key}={value} in {list}"))
}

#[tokio::test]
async fn mesh_routes_show_control_planes_their_clusters_and_an_unreachable_cluster() {
    let bed = meshglass_testbed::shared(&["east", "west"])
        .await
        .expect("test bed");
    let east = bed.cluster("east").client().await.expect("east client");
    let west = bed.cluster("west").client().await.expect("west client");

    // The control plane's namespace: the same name on both clusters.
    let cp = TestNamespace::create(&east, "mesh-cp").await.expect("ns");
    let istio_ns = cp.name().to_string();
    common::ensure_namespace(&west, &istio_ns).await;
    common::label_namespace(
        &west,
        &istio_ns,
        json!({"topology.istio.io/network": "net-west"}),
        json!({"topology.istio.io/controlPlaneClusters": "east"}),
    )
    .await;
    common::label_namespace(
        &east,
        &istio_ns,
        json!({"topology.istio.io/network": "net-east"}),
        json!({}),
    )
    .await;
    let dp_east = TestNamespace::create(&east, "mesh-dp").await.expect("ns");
    common::label_namespace(
        &east,
        dp_east.name(),
        json!({"istio-injection": "enabled"}),
        json!({}),
    )
    .await;
    let dp_basic = TestNamespace::create(&east, "mesh-basic")
        .await
        .expect("ns");
    common::label_namespace(
        &east,
        dp_basic.name(),
        json!({"istio.io/rev": "basic"}),
        json!({}),
    )
    .await;
    let dp_west = TestNamespace::create(&west, "mesh-dpw").await.expect("ns");
    common::label_namespace(
        &west,
        dp_west.name(),
        json!({"istio-injection": "enabled"}),
        json!({}),
    )
    .await;

    deploy(
        &east,
        &istio_ns,
        "istiod",
        json!({"app": "istiod", "istio.io/rev": "default"}),
        "docker.io/istio/pilot:1.24.2",
        1,
    )
    .await;
    deploy(
        &east,
        &istio_ns,
        "istiod-basic",
        json!({"app": "istiod", "istio.io/rev": "basic"}),
        "registry.redhat.io/openshift-service-mesh/pilot-rhel8:2.6.4",
        1,
    )
    .await;
    deploy(
        &east,
        &istio_ns,
        "istio-ingressgateway",
        json!({"app": "istio-ingressgateway"}),
        "docker.io/istio/proxyv2:1.24.2",
        0,
    )
    .await;

    // West through a ServiceAccount token; `gone` through a kubeconfig to a dead port.
    let secrets = tempfile::tempdir().expect("tempdir");
    let token = remote_reader_token(&west).await;
    let west_kc = common::token_kubeconfig(bed.cluster("west"), &token);
    drop_kubeconfig(secrets.path(), "west", &west_kc);
    let dead = format!("https://127.0.0.1:{}", common::unused_port());
    drop_kubeconfig(
        secrets.path(),
        "gone",
        &west_kc.replace(bed.cluster("west").server_url(), &dead),
    );

    let prom = StandIn::http(Behaviour::Empty).await.expect("stand-in");
    let config = meshglass_server::Config::from_yaml(&format!(
        "auth:\n  strategy: anonymous\nistio_namespace: {istio_ns}\nserver:\n  address: 127.0.0.1\n  port: 0\n  web_root: /kiali\n  observability:\n    metrics:\n      port: 0\n\
         kubernetes_config:\n  cluster_name: east\nexternal_services:\n  prometheus:\n    url: {}\n",
        prom.url()
    ))
    .expect("config");
    let server = common::start_server(bed, config, "east", secrets.path()).await;
    let base = server.base_url();
    let http = reqwest::Client::new();

    // Wait until both istiods are available (kwok runs their pods) and west is read.
    let status = wait_until(
        "istiods healthy and west's data plane read",
        TIMEOUT,
        || {
            let http = http.clone();
            let base = base.clone();
            let dpw = dp_west.name().to_string();
            async move {
                let (st, _, s) = get(&http, &format!("{base}/api/istio/status")).await;
                let (_, _, cps) = get(&http, &format!("{base}/api/mesh/controlplanes")).await;
                let healthy = s.as_array().is_some_and(|a| {
                    a.iter()
                        .filter(|c| c["cluster"] == "east" && c["status"] == "Healthy")
                        .count()
                        == 2
                });
                let west_read = cps.to_string().contains(&dpw);
                Ok::<_, String>((st == 200 && healthy && west_read).then_some(s))
            }
        },
    )
    .await
    .expect("mesh settles");

    // /api/istio/status: east's components, the store; `gone` named missing.
    let (_, missing, _) = get(&http, &format!("{base}/api/istio/status")).await;
    assert_eq!(missing.as_deref(), Some("gone"));
    let by_name: BTreeMap<(String, String), (String, bool)> = status
        .as_array()
        .expect("list")
        .iter()
        .map(|c| {
            (
                (
                    c["cluster"].as_str().unwrap_or_default().to_string(),
                    c["name"].as_str().unwrap_or_default().to_string(),
                ),
                (
                    c["status"].as_str().unwrap_or_default().to_string(),
                    c["is_core"].as_bool().unwrap_or_default(),
                ),
            )
        })
        .collect();
    let want: BTreeMap<(String, String), (String, bool)> = [
        ("east", "istio-ingressgateway", "NotReady", true),
        ("east", "istiod", "Healthy", true),
        ("east", "istiod-basic", "Healthy", true),
        ("", "prometheus", "Healthy", false),
    ]
    .iter()
    .map(|(c, n, s, core)| ((c.to_string(), n.to_string()), (s.to_string(), *core)))
    .collect();
    assert_eq!(
        by_name, want,
        "west is managed by east: no istiod NotFound for it"
    );

    // /api/mesh/controlplanes: one control plane per revision, both on east; the default one
    // manages east and west and their injected namespaces, `basic` its own.
    let (st, _, cps) = get(&http, &format!("{base}/api/mesh/controlplanes")).await;
    assert_eq!(st, 200, "{cps}");
    assert_eq!(cps.as_array().map(Vec::len), Some(2), "{cps}");
    let default = named(&cps, "istiodName", "istiod");
    assert_eq!(default["revision"], "default");
    assert_eq!(default["version"]["version"], "1.24.2");
    assert_eq!(default["cluster"]["name"], "east");
    assert_eq!(default["config"]["network"], "net-east");
    assert_eq!(default["istiodNamespace"], istio_ns.as_str());
    let managed: Vec<&str> = default["managedClusters"]
        .as_array()
        .expect("managed")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(managed, ["east", "west"]);
    assert_eq!(default["managesExternal"], true);
    let namespaces = |cp: &Value| -> Vec<(String, String)> {
        cp["managedNamespaces"]
            .as_array()
            .expect("namespaces")
            .iter()
            .map(|n| {
                (
                    n["cluster"].as_str().unwrap_or_default().to_string(),
                    n["name"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let ns_default = namespaces(default);
    assert!(
        ns_default.contains(&("east".into(), dp_east.name().into())),
        "{ns_default:?}"
    );
    assert!(
        ns_default.contains(&("west".into(), dp_west.name().into())),
        "{ns_default:?}"
    );
    assert!(!ns_default.iter().any(|(_, n)| n == dp_basic.name()));
    let basic = named(&cps, "istiodName", "istiod-basic");
    assert_eq!(basic["revision"], "basic");
    assert_eq!(basic["version"]["version"], "2.6.4");
    assert_eq!(
        namespaces(basic),
        [("east".to_string(), dp_basic.name().to_string())]
    );
    let basic_managed: Vec<&str> = basic["managedClusters"]
        .as_array()
        .expect("managed")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(basic_managed, ["east", "west"]);

    // /api/mesh/graph: three cluster boxes (gone unreachable), the istiods in the Istio
    // namespace's box, west's data plane fed by east's istiod, the console and the store.
    let (st, missing, g) = get(&http, &format!("{base}/api/mesh/graph")).await;
    assert_eq!(st, 200, "{g}");
    assert_eq!(missing.as_deref(), Some("gone"));
    assert_eq!(g["missingClusters"][0]["name"], "gone");
    let nodes: Vec<&Value> = g["elements"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| &n["data"])
        .collect();
    let of_type = |t: &str| -> Vec<&Value> {
        nodes
            .iter()
            .copied()
            .filter(|n| n["infraType"] == t)
            .collect()
    };
    let boxes: BTreeMap<String, String> = of_type("cluster")
        .iter()
        .map(|n| {
            (
                n["cluster"].as_str().unwrap_or_default().to_string(),
                n["healthData"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        boxes,
        [
            ("_external_", "Healthy"),
            ("east", "Healthy"),
            ("gone", "Unreachable"),
            ("west", "Healthy")
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect::<BTreeMap<_, _>>()
    );
    let gone = of_type("cluster")
        .into_iter()
        .find(|n| n["cluster"] == "gone")
        .expect("gone");
    assert_eq!(gone["isInaccessible"], true);
    assert_eq!(gone["infraData"]["accessible"], false);
    let istiods = of_type("istiod");
    assert_eq!(istiods.len(), 2, "{g}");
    let istiod = istiods
        .iter()
        .find(|n| n["infraName"] == "istiod")
        .expect("istiod node");
    assert_eq!(istiod["version"], "1.24.2");
    assert_eq!(istiod["infraData"]["revision"], "default");
    assert_eq!(istiod["healthData"], "Healthy");
    let ns_box = nodes
        .iter()
        .find(|n| n["id"] == istiod["parent"])
        .expect("istiod's box");
    assert_eq!(ns_box["isBox"], "namespace");
    assert_eq!(ns_box["infraName"], istio_ns.as_str());
    let west_dp = of_type("dataplane")
        .into_iter()
        .find(|n| n["cluster"] == "west" && n["version"] == "default")
        .expect("west's data plane");
    assert!(west_dp["infraData"].to_string().contains(dp_west.name()));
    let edges = g["elements"]["edges"].as_array().expect("edges");
    assert!(
        edges
            .iter()
            .any(|e| e["data"]["source"] == istiod["id"] && e["data"]["target"] == west_dp["id"]),
        "istiod → west's data plane"
    );
    assert_eq!(of_type("kiali").len(), 1);
    let prom_node = &of_type("metricStore")[0];
    assert_eq!(prom_node["healthData"], "Healthy");
    assert_eq!(prom_node["cluster"], "_external_");

    server.shutdown();
    let _ = Api::<Namespace>::all(west.clone())
        .delete(&istio_ns, &DeleteParams::background())
        .await;
}

/// The mesh graph's tracing store node and `/api/istio/status`'s `tracing` add-on, as (node,
/// node health, add-on status); else what the two routes answered.
async fn tracing_health(
    http: &reqwest::Client,
    base: &str,
) -> Result<(Value, String, String), String> {
    let (st, _, g) = get(http, &format!("{base}/api/mesh/graph")).await;
    let (_, _, status) = get(http, &format!("{base}/api/istio/status")).await;
    let seen = || format!("graph ({st}) {g}, status {status}");
    let node = g["elements"]["nodes"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .map(|n| &n["data"])
                .find(|d| d["infraType"] == "traceStore")
        })
        .cloned()
        .ok_or_else(seen)?;
    let addon = status
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == "tracing"))
        .and_then(|c| c["status"].as_str())
        .map(String::from)
        .ok_or_else(seen)?;
    let health = node["healthData"].as_str().unwrap_or_default().to_string();
    Ok((node, health, addon))
}

/// `external_services.tracing` enabled: the mesh graph has the tracing store (a real Jaeger,
/// probed at its query API) as an infrastructure node beside the console, reachable while
/// Jaeger runs and unreachable once it is stopped — within one probe TTL, whoever asks.
#[tokio::test]
async fn the_jaeger_node_is_reachable_while_jaeger_runs_and_unreachable_once_it_stops() {
    let bed = meshglass_testbed::shared(&["east", "west"])
        .await
        .expect("test bed");
    let east = bed.cluster("east").client().await.expect("east client");
    // The console's and Istio's namespace: the console's node (and the stores beside it) shows.
    let ns = TestNamespace::create(&east, "mesh-jaeger")
        .await
        .expect("ns");
    let jaeger = Jaeger::start().await.expect("jaeger (make tools)");
    let prom = StandIn::http(Behaviour::Empty).await.expect("stand-in");
    let config = meshglass_server::Config::from_yaml(&format!(
        r#"auth:
  strategy: anonymous
istio_namespace: {ns}
deployment:
  namespace: {ns}
server:
  address: 127.0.0.1
  port: 0
  web_root: /kiali
  observability:
    metrics:
      port: 0
kubernetes_config:
  cluster_name: east
external_services:
  prometheus:
    url: {prom}
  tracing:
    enabled: true
    provider: jaeger
    use_grpc: false
    internal_url: {jaeger}
"#,
        ns = ns.name(),
        prom = prom.url(),
        jaeger = jaeger.query_url(),
    ))
    .expect("config");
    let secrets = tempfile::tempdir().expect("tempdir");
    let server = common::start_server(bed, config, "east", secrets.path()).await;
    let base = server.base_url();
    let http = reqwest::Client::new();

    let health_is = |want: &'static str| {
        let http = http.clone();
        let base = base.clone();
        move || {
            let http = http.clone();
            let base = base.clone();
            async move {
                let (node, health, addon) = tracing_health(&http, &base).await?;
                if health == want && addon == want {
                    Ok(node)
                } else {
                    Err(format!("node {node}, add-on {addon}"))
                }
            }
        }
    };
    let node = poll("the Jaeger node reachable", TIMEOUT, health_is("Healthy"))
        .await
        .expect("reachable");
    assert_eq!(node["infraName"], "jaeger", "{node}");
    // A loopback URL names no Service of the mesh: outside it, linked from the console.
    assert_eq!(node["cluster"], "_external_");
    assert_eq!(node["isExternal"], true);
    assert_eq!(node["infraData"]["Provider"], "jaeger");
    let (_, _, g) = get(&http, &format!("{base}/api/mesh/graph")).await;
    let kiali = g["elements"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["data"]["infraType"] == "kiali")
        .map(|n| n["data"]["id"].clone())
        .expect("the console's node");
    assert!(
        g["elements"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .any(|e| e["data"]["source"] == kiali && e["data"]["target"] == node["id"]),
        "console → Jaeger: {g}"
    );

    drop(jaeger);
    poll(
        "the Jaeger node unreachable",
        TIMEOUT,
        health_is("Unreachable"),
    )
    .await
    .expect("unreachable");
    server.shutdown();
}
