//! Steps 1–3: the clusters east and west, Istio's primary-remote labels with the Kiali CRD, and the demo apps.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::ListParams;
use kube::{Api, Client};
use meshglass_simulator::{Mesh, manifests};
use serde_json::json;

use super::{Clusters, NAMESPACE, PRIMARY, REMOTE, Setup};
use crate::files::{absolute, read};
use crate::kube_util::{self, Applier, wait_for, yaml_documents};
use crate::procs;
use crate::progress::Progress;
use crate::running::Running;

/// Step 1: the clusters — given (`--kubeconfig`), already running (`make clusters-up`), or started here.
/// Returns the kubeconfig with contexts `east` and `west`.
pub async fn start_clusters(
    setup: &Setup,
    progress: &mut Progress,
    running: &mut Running,
) -> anyhow::Result<PathBuf> {
    let state_dir = &setup.state_dir;
    progress.begin(
        "clusters east and west (kube-apiserver, controller-manager, scheduler, etcd, kwok nodes)",
    );
    Ok(match &setup.kubeconfig {
        Some(k) => {
            progress.done(&format!("using {}", k.display()));
            absolute(k)?
        }
        None if clusters_running(&state_dir.join("kubeconfig")).await => {
            // `make clusters-up` started them: use them, and leave them running afterwards.
            progress.done(
                "reusing the clusters of .local/kubeconfig (`make clusters-down` stops them)",
            );
            state_dir.join("kubeconfig")
        }
        None => {
            // The bed gets a directory of its own: its watchdog removes that directory when the bed
            // stops, and the demo's logs must outlive it.
            let mut options = meshglass_testbed::StartOptions::new(&[PRIMARY, REMOTE]);
            options.state_dir = Some(state_dir.join("clusters"));
            let bed = meshglass_testbed::TestBed::start_with(options)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            std::fs::write(state_dir.join("demo/owns-clusters"), "")?;
            let urls: Vec<String> = bed
                .clusters()
                .iter()
                .map(|c| format!("{} {}", c.name(), c.server_url()))
                .collect();
            // One kubeconfig, one context per cluster, where `make clusters-up` puts it.
            let path = state_dir.join("kubeconfig");
            std::fs::copy(bed.kubeconfig_path(), &path)?;
            running.kubeconfig = Some(path.clone());
            running.bed = Some(bed);
            progress.done(&urls.join(", "));
            path
        }
    })
}

/// Whether both demo clusters of this kubeconfig answer (clusters started by `make clusters-up`).
async fn clusters_running(kubeconfig: &Path) -> bool {
    if !kubeconfig.exists() {
        return false;
    }
    for cluster in [PRIMARY, REMOTE] {
        let answered = tokio::time::timeout(Duration::from_secs(5), async {
            let client = kube_util::client(kubeconfig, cluster).await?;
            client.apiserver_version().await?;
            anyhow::Ok(())
        })
        .await;
        if !matches!(answered, Ok(Ok(()))) {
            return false;
        }
    }
    true
}

/// Step 2: istio-system labelled as Istio's primary-remote, multi-network setup does, the Kiali CRD served on
/// both clusters, and the demo's Istio configuration (when the examples have one) on east.
pub async fn install_topology_and_crd(
    setup: &Setup,
    progress: &mut Progress,
    clusters: &mut Clusters,
    mesh: &Mesh,
) -> anyhow::Result<()> {
    progress.begin("istio-system as primary-remote on two networks, istiod on east; Kiali CRD");
    let Clusters {
        apply_east,
        apply_west,
        ..
    } = clusters;
    apply_east
        .apply(&json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": NAMESPACE, "labels": {"topology.istio.io/network": "network1"}}}))
        .await?;
    apply_west
        .apply(&json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": NAMESPACE, "labels": {"topology.istio.io/network": "network2"},
                         "annotations": {"topology.istio.io/controlPlaneClusters": PRIMARY}}}))
        .await?;
    // East's control plane, as Istio's primary installs it (its pod runs on a simulated node): the mesh
    // page shows it managing east and, through west's annotation, west.
    apply_east.apply(&istiod(PRIMARY)).await?;
    install_kiali_crd(setup, [apply_east, apply_west]).await?;
    let extra = setup.examples.join("demo-istio-config.yaml");
    let mut istio_objects = 0;
    if extra.exists() {
        // Istio configuration lives on the primary, whose control plane reads it. Its namespaces come with
        // the demo apps; create them first.
        for ns in mesh.topology.all_namespaces() {
            apply_east
                .apply(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
                .await?;
        }
        for obj in yaml_documents(&read(&extra)?)? {
            apply_east.apply(&obj).await?;
            istio_objects += 1;
        }
    }
    progress.done(&format!(
        "network1/network2, istiod on east controlling west, {istio_objects} Istio objects on east"
    ));
    Ok(())
}

/// istiod of the default revision in `istio-system`, with the `CLUSTER_ID` of `cluster`.
fn istiod(cluster: &str) -> serde_json::Value {
    let labels = json!({"app": "istiod", "istio": "pilot", "istio.io/rev": "default"});
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "istiod", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "istiod", "istio.io/rev": "default"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": "discovery",
                        "image": "docker.io/istio/pilot:1.28.0",
                        "env": [{"name": "CLUSTER_ID", "value": cluster}],
                    }],
                    "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
                },
            },
        },
    })
}

/// The CRD as `meshglass-operator crd` prints it, applied to both clusters, waiting until each serves it.
async fn install_kiali_crd(setup: &Setup, appliers: [&mut Applier; 2]) -> anyhow::Result<()> {
    let crd = procs::output(&setup.operator(), &["crd"], &[]).await?;
    let crds = yaml_documents(&crd)?;
    let [apply_east, apply_west] = appliers;
    for a in [&mut *apply_east, &mut *apply_west] {
        for c in &crds {
            a.apply(c).await?;
        }
        a.forget();
    }
    for a in [apply_east, apply_west] {
        wait_for(
            "the Kiali CRD to be served",
            Duration::from_secs(30),
            || {
                let client = a.client().clone();
                async move {
                    let gvk = kube::core::GroupVersionKind::gvk("kiali.io", "v1alpha1", "Kiali");
                    Ok(kube::discovery::pinned_kind(&client, &gvk)
                        .await
                        .ok()
                        .map(|_| ()))
                }
            },
        )
        .await?;
    }
    Ok(())
}

/// Step 3: the demo apps of the topology as Deployments and Services, waiting until every Deployment is
/// available (kwok runs their pods).
pub async fn deploy_apps(
    setup: &Setup,
    progress: &mut Progress,
    clusters: &mut Clusters,
    mesh: &Mesh,
) -> anyhow::Result<()> {
    progress.begin("demo apps (bookinfo, helloworld, sleep) as Deployments and Services");
    let mut deployments = 0;
    for (cluster, applier) in [
        (PRIMARY, &mut clusters.apply_east),
        (REMOTE, &mut clusters.apply_west),
    ] {
        for obj in manifests::for_cluster(mesh, cluster) {
            applier.apply(&obj).await?;
            deployments += usize::from(obj["kind"] == "Deployment");
        }
    }
    let mut logs = 0;
    let mut no_logs = Vec::new();
    for (cluster, client) in [(PRIMARY, &clusters.east), (REMOTE, &clusters.west)] {
        wait_available(cluster, client, mesh.topology.all_namespaces()).await?;
        // Clusters started by an older test bed have no kwok Logs CRD: the demo runs without logs.
        match super::podlogs::serve_pod_logs(
            &setup.state_dir,
            cluster,
            client,
            &mesh.topology.all_namespaces(),
        )
        .await
        {
            Ok(n) => logs += n,
            Err(e) => no_logs.push(format!("{cluster}: {e}")),
        }
    }
    let logs = if no_logs.is_empty() {
        format!("{logs} containers with logs")
    } else {
        format!("no container logs ({})", no_logs.join("; "))
    };
    progress.done(&format!(
        "{deployments} Deployments available, pods Running on simulated nodes, {logs}"
    ));
    Ok(())
}

/// Waits until every Deployment of `namespaces` on `cluster` has its replicas available.
async fn wait_available(
    cluster: &str,
    client: &Client,
    namespaces: Vec<String>,
) -> anyhow::Result<()> {
    wait_for(
        &format!("the demo Deployments of {cluster} to be available"),
        Duration::from_secs(120),
        || {
            let client = client.clone();
            let namespaces = namespaces.clone();
            async move {
                let mut pending = Vec::new();
                for ns in &namespaces {
                    for d in Api::<Deployment>::namespaced(client.clone(), ns)
                        .list(&ListParams::default())
                        .await?
                    {
                        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                        let have = d
                            .status
                            .as_ref()
                            .and_then(|s| s.available_replicas)
                            .unwrap_or(0);
                        if have < want {
                            pending.push(format!("{ns}/{}", d.metadata.name.unwrap_or_default()));
                        }
                    }
                }
                if pending.is_empty() {
                    Ok(Some(()))
                } else {
                    Err(anyhow!("not available: {}", pending.join(", ")))
                }
            }
        },
    )
    .await
}
