//! End to end, a pod's Envoy configuration through the server (token strategy, in process, home
//! cluster east): the simulated sidecars of a small topology's Deployments each have an Envoy
//! admin endpoint (`meshglass_simulator::sidecar_admin`) that kwok's `PortForward` objects put
//! behind the pods' port 15000; the server reads a pod's `/config_dump` through the API server's
//! `pods/portforward` with the caller's token, and its clusters, listeners and routes are the
//! topology's; a user whose RBAC lacks `pods/portforward` gets the API server's 403.

mod common;
#[allow(dead_code)] // only its helpers are used here, not the bookinfo scenario
mod scenario;

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service, ServiceAccount};
use kube::Api;
use kube::api::ListParams;
use meshglass_simulator::{Topology, manifests, sidecar_admin};
use meshglass_testbed::{TestNamespace, wait_until};
use scenario::{TIMEOUT, create};
use serde_json::Value;

fn config() -> meshglass_server::Config {
    meshglass_server::Config::from_yaml(
        "auth:\n  strategy: token\n\
         server:\n  address: 127.0.0.1\n  port: 0\n  web_root: /kiali\n  observability:\n    metrics:\n      port: 0\n\
         kubernetes_config:\n  cluster_name: east\nexternal_services:\n  prometheus:\n    url: http://127.0.0.1:1\n",
    )
    .expect("config")
}

/// A topology in namespace `ns` of east: productpage calls reviews; reviews and ratings are
/// services of their own.
fn topology(ns: &str) -> meshglass_simulator::Mesh {
    Topology::parse(&format!(
        "clusters: [east]\n\
         workloads:\n\
         - {{cluster: east, namespace: {ns}, name: productpage-v1, app: productpage, version: v1}}\n\
         - {{cluster: east, namespace: {ns}, name: reviews-v1, app: reviews, version: v1}}\n\
         services:\n\
         - {{namespace: {ns}, name: productpage, port: 9080}}\n\
         - {{namespace: {ns}, name: reviews, port: 9080}}\n\
         - {{namespace: {ns}, name: ratings, port: 9081}}\n\
         calls:\n\
         - {{from: {{cluster: east, namespace: {ns}, workload: productpage-v1}}, to: {{namespace: {ns}, service: reviews}}, rate: 1}}\n"
    ))
    .and_then(Topology::resolve)
    .expect("topology")
}

async fn get(http: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    let resp = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("server answers");
    let status = resp.status().as_u16();
    (status, resp.json::<Value>().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pods_envoy_config_comes_through_the_api_servers_port_forward() {
    let bed = common::east_west_bed().await;
    let east = bed.cluster("east").client().await.expect("east client");
    let ns_guard = TestNamespace::create(&east, "envoy")
        .await
        .expect("namespace");
    let ns = ns_guard.name().to_string();
    let mesh = topology(&ns);

    // The topology's ServiceAccounts, Services and Deployments (the namespace is the test's).
    for o in manifests::for_cluster(&mesh, "east") {
        match o["kind"].as_str() {
            Some("ServiceAccount") => create::<ServiceAccount>(&east, Some(&ns), o).await,
            Some("Service") => create::<Service>(&east, Some(&ns), o).await,
            Some("Deployment") => create::<Deployment>(&east, Some(&ns), o).await,
            _ => {}
        }
    }
    let pods: Api<Pod> = Api::namespaced(east.clone(), &ns);
    wait_until("both pods run with an IP", TIMEOUT, || async {
        let list = pods.list(&ListParams::default()).await?;
        let running = list
            .items
            .iter()
            .filter(|p| {
                p.status
                    .as_ref()
                    .is_some_and(|s| s.phase.as_deref() == Some("Running") && s.pod_ip.is_some())
            })
            .count();
        Ok::<_, kube::Error>((running == 2).then_some(()))
    })
    .await
    .expect("running");
    let admin = sidecar_admin::serve_admin(&east, &mesh, "east", "2026-12-02T10:00:00Z")
        .await
        .expect("admin endpoints");
    assert_eq!(admin.pods.len(), 2, "{:?}", admin.pods);
    let reviews = admin
        .pods
        .iter()
        .find(|p| p.workload == "reviews-v1")
        .expect("reviews' pod");
    let pod = reviews.pod.clone();

    let pods_read = json_rule(&["pods"], &["get", "list", "watch"]);
    let forward = json_rule(&["pods/portforward"], &["get", "create"]);
    let reader =
        common::namespace_user(&east, &ns, "envoy-reader", &[pods_read.clone(), forward]).await;
    let noforward = common::namespace_user(&east, &ns, "noforward", &[pods_read]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::start_ready_server(bed, config(), "east", dir.path()).await;
    let http = reqwest::Client::new();
    let base = format!("{}/api/namespaces/{ns}/pods/{pod}", server.base_url());
    wait_until("the server has the pod", TIMEOUT, || async {
        let (st, _) = get(&http, &base, &reader).await;
        Ok::<_, std::convert::Infallible>((st == 200).then_some(()))
    })
    .await
    .expect("pod");

    // The whole dump: the sidecar's own, through the API server and kwok.
    let (st, b) = get(&http, &format!("{base}/config_dump"), &reader).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        b["config_dump"], *reviews.dump,
        "the dump the pod's admin port serves"
    );

    // Clusters: an outbound one per service of the topology, the pod's own inbound port.
    let (st, b) = get(&http, &format!("{base}/config_dump/clusters"), &reader).await;
    assert_eq!(st, 200, "{b}");
    let rows = b["clusters"].as_array().expect("clusters");
    let outbound: BTreeSet<(String, String, u64)> = rows
        .iter()
        .filter(|r| r["direction"] == "outbound")
        .map(|r| {
            (
                r["service_fqdn"]["service"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                r["service_fqdn"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                r["port"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, u64)> = mesh
        .topology
        .services
        .iter()
        .map(|s| (s.name.clone(), s.namespace.clone(), u64::from(s.port)))
        .collect();
    assert_eq!(outbound, want, "{b}");
    let inbound: Vec<u64> = rows
        .iter()
        .filter(|r| r["direction"] == "inbound")
        .filter_map(|r| r["port"].as_u64())
        .collect();
    assert_eq!(inbound, [9080], "{b}");
    assert!(
        rows.iter()
            .any(|r| r["service_fqdn"]["service"] == "PassthroughCluster"),
        "{b}"
    );

    // Listeners: one per outbound port routed by RDS, and the inbound port's chains.
    let (st, b) = get(&http, &format!("{base}/config_dump/listeners"), &reader).await;
    assert_eq!(st, 200, "{b}");
    let rows = b["listeners"].as_array().expect("listeners");
    let has = |port: u64, m: &str, dest: &str| {
        rows.iter()
            .any(|r| r["port"] == port && r["match"] == m && r["destination"] == dest)
    };
    assert!(has(9080, "ALL", "Route: 9080"), "{b}");
    assert!(has(9081, "ALL", "Route: 9081"), "{b}");
    assert!(has(15001, "ALL", "PassthroughCluster"), "{b}");
    assert!(
        has(
            15006,
            "Trans: raw_buffer; App: HTTP; Addr: *:9080",
            "Cluster: inbound|9080||"
        ),
        "{b}"
    );

    // Routes: each service on its port's route configuration, its short name from its own
    // namespace.
    let (st, b) = get(&http, &format!("{base}/config_dump/routes"), &reader).await;
    assert_eq!(st, 200, "{b}");
    let routes: BTreeSet<(String, String)> = b["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default().to_string(),
                r["domains"]["service"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = mesh
        .topology
        .services
        .iter()
        .map(|s| (s.port.to_string(), s.name.clone()))
        .collect();
    assert_eq!(routes, want, "{b}");
    let (st, b) = get(&http, &format!("{base}/config_dump/bootstrap"), &reader).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        b["bootstrap"]["bootstrap"]["bootstrap"]["node"]["metadata"]["NAME"],
        pod.as_str(),
        "{b}"
    );

    // Without pods/portforward in the namespace: the API server's 403, passed on.
    let (st, b) = get(&http, &format!("{base}/config_dump/clusters"), &noforward).await;
    assert_eq!(st, 403, "{b}");
    assert_eq!(b["cluster"], "east", "{b}");
    let msg = b["error"].as_str().unwrap_or_default();
    assert!(
        msg.contains("pods/portforward") && msg.contains(":noforward"),
        "{b}"
    );
    // A resource Kiali does not have: 400 naming it.
    let (st, b) = get(&http, &format!("{base}/config_dump/secrets"), &reader).await;
    assert_eq!(
        (st, b["parameter"].as_str()),
        (400, Some("resource")),
        "{b}"
    );
}

fn json_rule(resources: &[&str], verbs: &[&str]) -> Value {
    serde_json::json!({"apiGroups": [""], "resources": resources, "verbs": verbs})
}
