//! Istio config figures of the server on the test bed (not part of `make test`; run with
//! `make bench-istio`): 2 clusters × `--namespaces` namespaces × 5 Istio objects (a
//! VirtualService, a DestinationRule, an AuthorizationPolicy, a PeerAuthentication and a
//! Sidecar: 2,000 objects at 200 namespaces), three services per namespace; then p50/p95 of
//! `/api/istio/config` (one cluster, every kind), of the same with `validate=true` (validations
//! over both clusters), and of `/api/istio/validations`.
//! Usage: `istio_bench [--server-bin PATH] [--namespaces 200] [--rounds 30]`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
#[path = "../tests/common/mod.rs"]
mod common;
mod support;
use meshglass_testbed::{TestBed, wait_until};
use serde_json::{Value, json};
use support::{Server, arg, create, percentile, west_secret};

fn objects(ns: &str) -> Vec<(&'static str, &'static str, &'static str, Value)> {
    vec![
        (
            "networking.istio.io",
            "VirtualService",
            "reviews",
            json!({"hosts": ["reviews"], "http": [{"route": [
            {"destination": {"host": "reviews", "subset": "v1"}, "weight": 80},
            {"destination": {"host": "reviews", "subset": "v2"}, "weight": 20}]}]}),
        ),
        (
            "networking.istio.io",
            "DestinationRule",
            "reviews",
            json!({"host": "reviews", "subsets": [
            {"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}]}),
        ),
        (
            "security.istio.io",
            "AuthorizationPolicy",
            "ratings",
            json!({"selector": {"matchLabels": {"app": "ratings"}},
            "rules": [{"from": [{"source": {"principals": [format!("cluster.local/ns/{ns}/sa/bookinfo-reviews")]}}]}]}),
        ),
        (
            "security.istio.io",
            "PeerAuthentication",
            "default",
            json!({"mtls": {"mode": "STRICT"}}),
        ),
        (
            "networking.istio.io",
            "Sidecar",
            "default",
            json!({"egress": [{"hosts": ["./*", "istio-system/*"]}]}),
        ),
    ]
}

async fn time(http: &reqwest::Client, url: &str, rounds: usize) -> (f64, f64, usize) {
    let mut ms = Vec::with_capacity(rounds);
    let mut bytes = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let r = http.get(url).send().await.expect("request");
        assert!(r.status().is_success(), "{url}: {}", r.status());
        bytes = r.bytes().await.expect("body").len();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.5), percentile(&ms, 0.95), bytes)
}

#[tokio::main]
async fn main() {
    let n_ns: usize = arg("--namespaces")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let rounds: usize = arg("--rounds").and_then(|v| v.parse().ok()).unwrap_or(30);
    let bin = arg("--server-bin").map(PathBuf::from).unwrap_or_else(|| {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        PathBuf::from(target).join("release/meshglass-server")
    });
    assert!(
        bin.exists(),
        "{} missing: cargo build --release -p meshglass-server",
        bin.display()
    );
    let t0 = Instant::now();
    let bed = TestBed::start(&["east", "west"]).await.expect("bed");
    let east = bed.cluster("east").client().await.expect("east");
    let west = bed.cluster("west").client().await.expect("west");
    let namespaces: Vec<String> = (0..n_ns).map(|i| format!("istio-{i:03}")).collect();
    for client in [&east, &west] {
        futures::stream::iter(namespaces.iter())
            .for_each_concurrent(16, |ns| {
                let client = client.clone();
                async move {
                    create(&Api::<Namespace>::all(client.clone()), json!({"metadata": {"name": ns}})).await;
                    for app in ["reviews", "ratings", "productpage"] {
                        create(
                            &Api::<Service>::namespaced(client.clone(), ns),
                            json!({"metadata": {"name": app}, "spec": {"clusterIP": "None", "selector": {"app": app}, "ports": [{"name": "http", "port": 9080}]}}),
                        )
                        .await;
                    }
                    for (group, kind, name, spec) in objects(ns) {
                        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, "v1", kind));
                        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
                        create(&api, json!({"apiVersion": format!("{group}/v1"), "kind": kind,
                                             "metadata": {"name": name, "namespace": ns}, "spec": spec}))
                        .await;
                    }
                }
            })
            .await;
    }
    println!(
        "setup: bed + {n_ns} namespaces x 2 clusters x 5 objects in {:.0} s",
        t0.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = west_secret(&bed, &west, dir.path()).await;
    let server = Server::start(&bin, dir.path(), &bed, &secrets, "http://127.0.0.1:9").await;
    let want = 5 * n_ns;
    for cluster in ["east", "west"] {
        let url = format!("{}/api/istio/config?clusterName={cluster}", server.base);
        wait_until("objects cached", Duration::from_secs(600), || async {
            let v = common::get_json(&server.http, &url).await?;
            let n: usize = v["resources"]
                .as_object()
                .map(|m| m.values().filter_map(|a| a.as_array()).map(Vec::len).sum())
                .unwrap_or(0);
            Ok::<_, String>((n >= want).then_some(()))
        })
        .await
        .expect("cached");
    }
    println!(
        "\n{} Istio objects across 2 clusters, {rounds} rounds each\n",
        2 * want
    );
    println!("| request | p50 ms | p95 ms | body bytes |");
    println!("|---|---|---|---|");
    for (label, path) in [
        (
            "`/api/istio/config` (east, every kind)",
            "/api/istio/config?clusterName=east",
        ),
        (
            "`/api/istio/config?validate=true` (east; validations of both clusters)",
            "/api/istio/config?clusterName=east&validate=true",
        ),
        (
            "`/api/istio/validations` (summary, both clusters)",
            "/api/istio/validations",
        ),
    ] {
        let (p50, p95, bytes) = time(&server.http, &format!("{}{path}", server.base), rounds).await;
        println!("| {label} | {p50:.1} | {p95:.1} | {bytes} |");
    }
    drop(server);
    bed.stop();
}
