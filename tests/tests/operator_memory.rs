//! Fault: 2,000 unrelated Secrets of 400 KiB (800 MB) in the cluster, against the real operator process
//! (`meshglass-operator run`, built by this test) on a cluster of this test binary's own. The operator watches
//! Secrets by metadata only and reads a CR's candidate Secrets whole by label and name, so its peak RSS (VmHWM)
//! stays under the memory limit of its Helm chart (`resources.limits.memory`, 256 MiB) — both when the Secrets
//! arrive while it runs and when it starts with them present — it never restarts, and it still sees the one
//! labelled remote-cluster Secret among them.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use meshglass_operator::crds::Kiali;
use meshglass_testbed::faults::{self, OperatorProcess};
use meshglass_testbed::{TestNamespace, wait_until};

mod common;
use common::{WAIT, install_kiali_crd, repo, test_namespace, wait_successful};

const SECRETS: usize = 2_000;
const SECRET_BYTES: usize = 400 * 1024;

/// A kubeconfig the operator accepts as a remote-cluster secret (it is parsed, never used here).
const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: west\n  cluster: {server: 'https://127.0.0.1:6443'}\nusers:\n- name: west\n  user: {token: abc}\ncontexts:\n- name: west\n  context: {cluster: west, user: west}\ncurrent-context: west\n";

/// The chart's memory limit of the operator container, in MiB (`resources.limits.memory`, `<n>Mi`).
fn chart_memory_limit_mib() -> f64 {
    let values: serde_json::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(repo().join("charts/meshglass-operator/values.yaml"))
            .expect("chart values"),
    )
    .expect("values parse");
    let limit = values["resources"]["limits"]["memory"]
        .as_str()
        .expect("resources.limits.memory");
    limit
        .strip_suffix("Mi")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("resources.limits.memory {limit:?} is not <n>Mi"))
}

fn secret(name: &str, labels: &[(&str, &str)], data: &[(&str, Vec<u8>)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.clone())))
                .collect(),
        ),
        ..Default::default()
    }
}

/// Creates a labelled remote-cluster Secret in the CR's namespace and waits until the CR's status lists it as
/// mounted: the operator saw it among the unrelated ones. Returns the seconds that took.
async fn wait_mounted(client: &Client, ns: &str, name: &str) -> f64 {
    let started = Instant::now();
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &secret(
                name,
                &[("kiali.io/multiCluster", "true")],
                &[("west", KUBECONFIG.as_bytes().to_vec())],
            ),
        )
        .await
        .expect("remote-cluster secret");
    let api: Api<Kiali> = Api::namespaced(client.clone(), ns);
    wait_until(&format!("Kiali {ns}/kiali mounts {name}"), WAIT, || {
        let api = api.clone();
        async move {
            let k = api.get("kiali").await?;
            let mounted = k.status.as_ref().is_some_and(|s| {
                s.remote_cluster_secrets
                    .iter()
                    .any(|r| r.name == name && r.mounted)
            });
            Ok::<_, kube::Error>(mounted.then_some(()))
        }
    })
    .await
    .expect("secret mounted");
    started.elapsed().as_secs_f64()
}

#[tokio::test]
async fn two_thousand_unrelated_secrets_stay_under_the_memory_limit() {
    let limit = chart_memory_limit_mib();
    let binary = faults::operator_bin().expect("the operator builds");
    let bed = meshglass_testbed::shared(&["east"])
        .await
        .expect("test bed");
    let cluster = bed.cluster("east");
    let client = cluster.client().await.expect("client");
    install_kiali_crd(&client).await;
    let logs = tempfile::tempdir().expect("log dir");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");

    let own: TestNamespace = test_namespace(&client, "mem-kiali").await;
    let mut operator = OperatorProcess::start(
        &binary,
        &cluster.kubeconfig_path(),
        &logs.path().join("op1.log"),
    )
    .expect("operator starts");
    let pid = operator.pid;
    operator.wait_ready().await.expect("ready");
    let kiali_api: Api<Kiali> = Api::namespaced(client.clone(), own.name());
    let cr: Kiali = serde_json::from_value(serde_json::json!({
        "apiVersion": "kiali.io/v1alpha1", "kind": "Kiali",
        "metadata": {"name": "kiali", "namespace": own.name()},
        "spec": {"auth": {"strategy": "anonymous"}, "deployment": {"instance_name": own.name()}},
    }))
    .expect("CR");
    kiali_api
        .create(&PostParams::default(), &cr)
        .await
        .expect("CR created");
    wait_successful(&client, own.name(), "kiali").await;
    let baseline = operator.peak_rss_mib();

    // The flood, while the operator runs: 8 writes at a time, /healthz timed between batches.
    let noise = test_namespace(&client, "mem-noise").await;
    let noise_api: Api<Secret> = Api::namespaced(client.clone(), noise.name());
    let blob: Vec<u8> = (0..SECRET_BYTES).map(|i| (i % 251) as u8).collect();
    let mut worst_ms: f64 = 0.0;
    let started = Instant::now();
    for batch in (0..SECRETS).collect::<Vec<_>>().chunks(100) {
        futures::stream::iter(batch.iter().copied())
            .map(|i| {
                let api = noise_api.clone();
                let s = secret(
                    &format!("noise-{i:04}"),
                    &[("noise", "true")],
                    &[("blob", blob.clone())],
                );
                async move { api.create(&PostParams::default(), &s).await.map(drop) }
            })
            .buffer_unordered(8)
            .try_collect::<Vec<()>>()
            .await
            .expect("noise secrets created");
        worst_ms = worst_ms.max(operator.healthz_ms(&http).await);
        operator.assert_running();
    }
    let flood_s = started.elapsed().as_secs_f64();
    let detect_running = wait_mounted(&client, own.name(), "remote-a").await;
    worst_ms = worst_ms.max(operator.healthz_ms(&http).await);
    operator.assert_running();
    assert_eq!(operator.pid, pid);
    let peak_running = operator.peak_rss_mib();
    drop(operator);

    // A fresh process that starts with the 2,000 Secrets present (its first list sees all of them).
    let mut operator = OperatorProcess::start(
        &binary,
        &cluster.kubeconfig_path(),
        &logs.path().join("op2.log"),
    )
    .expect("operator starts");
    operator.wait_ready().await.expect("ready");
    let detect_started = wait_mounted(&client, own.name(), "remote-b").await;
    worst_ms = worst_ms.max(operator.healthz_ms(&http).await);
    operator.assert_running();
    let peak_started = operator.peak_rss_mib();
    let peak = peak_running.max(peak_started);

    eprintln!(
        "operator VmHWM: {baseline:.1} MiB before the flood, {peak_running:.1} MiB after it (created in {flood_s:.0} s), \
         {peak_started:.1} MiB for a process started with it; limit {limit} MiB"
    );
    println!(
        "FAULT | {SECRETS} unrelated Secrets of 400 KiB | detect {:.1} s | recover n/a | worst unaffected route {worst_ms:.0} ms (operator /healthz) | peak RSS server n/a operator {peak:.1} MiB",
        detect_running.max(detect_started)
    );
    assert!(
        peak < limit,
        "operator peak RSS {peak:.1} MiB is not under the chart's limit {limit} MiB"
    );
    assert!(
        worst_ms < 1000.0,
        "/healthz took {worst_ms:.0} ms during the flood"
    );
}
