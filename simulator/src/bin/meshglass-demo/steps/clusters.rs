//! Steps 1–3: the clusters of the topology, Istio's multi-cluster objects with the Kiali CRD, and the demo
//! apps: east and west as primary-remote, or the multi-primary lab's cluster1..3.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::ListParams;
use kube::{Api, Client};
use meshglass_simulator::{Mesh, manifests};
use meshglass_testbed::istio;
use serde_json::json;

use super::{Clusters, NAMESPACE, PRIMARY, REMOTE, Setup, Topology};
use crate::files::{absolute, read};
use crate::kube_util::{self, wait_for, yaml_documents};
use crate::procs;
use crate::progress::Progress;
use crate::running::Running;

/// Step 1: the clusters — given (`--kubeconfig`), already running (`make clusters-up`), or started here.
/// Returns the kubeconfig with one context per cluster of the topology.
pub async fn start_clusters(
    setup: &Setup,
    progress: &mut Progress,
    running: &mut Running,
) -> anyhow::Result<PathBuf> {
    let state_dir = &setup.state_dir;
    let names = setup.topology.clusters();
    progress.begin(&format!(
        "clusters {} (kube-apiserver, controller-manager, scheduler, etcd, kwok nodes)",
        names.join(", ")
    ));
    Ok(match &setup.kubeconfig {
        Some(k) => {
            progress.done(&format!("using {}", k.display()));
            absolute(k)?
        }
        None if clusters_running(&state_dir.join("kubeconfig"), names).await => {
            // `make clusters-up` started them: use them, and leave them running afterwards.
            progress.done(
                "reusing the clusters of .local/kubeconfig (`make clusters-down` stops them)",
            );
            state_dir.join("kubeconfig")
        }
        None => {
            // The bed gets a directory of its own: its watchdog removes that directory when the bed
            // stops, and the demo's logs must outlive it.
            let mut options = meshglass_testbed::StartOptions::new(names);
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

/// Whether every demo cluster of this kubeconfig answers (clusters started by `make clusters-up`).
async fn clusters_running(kubeconfig: &Path, names: &[&str]) -> bool {
    if !kubeconfig.exists() {
        return false;
    }
    for cluster in names {
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

/// Step 2: the topology's Istio objects, the Kiali CRD served on every cluster, and the demo's Istio
/// configuration. Primary-remote: istio-system labelled network1/network2, west's naming east in
/// `controlPlaneClusters`, istiod on east only, the examples' Istio configuration on east. Multi-primary (the
/// seeds' lab): on every cluster istio-system on its own network, its istiod (`CLUSTER_ID` the cluster), an
/// east-west gateway exposing the mesh's services (the lab's `cross-network-gateway`), and an
/// `istio-remote-secret-<peer>` for each peer.
pub async fn install_topology_and_crd(
    setup: &Setup,
    progress: &mut Progress,
    clusters: &mut Clusters,
    mesh: &Mesh,
) -> anyhow::Result<()> {
    match setup.topology {
        Topology::PrimaryRemote => {
            progress.begin("istio-system as primary-remote on two networks, istiod on east; Kiali CRD")
        }
        Topology::MultiPrimary => progress.begin(
            "istio-system as multi-primary on three networks: istiod, east-west gateway, remote secrets; Kiali CRD",
        ),
    }
    let done = match setup.topology {
        Topology::PrimaryRemote => primary_remote(setup, clusters, mesh).await?,
        Topology::MultiPrimary => multi_primary(clusters).await?,
    };
    install_kiali_crd(setup, clusters).await?;
    progress.done(&done);
    Ok(())
}

/// East's and west's Istio namespaces, east's istiod, and the examples' Istio configuration on east.
async fn primary_remote(
    setup: &Setup,
    clusters: &mut Clusters,
    mesh: &Mesh,
) -> anyhow::Result<String> {
    let [east, west] = &mut clusters.members[..] else {
        bail!("the primary-remote demo has two clusters");
    };
    east.apply
        .apply(&istio::istio_namespace(NAMESPACE, "network1", None))
        .await?;
    west.apply
        .apply(&istio::istio_namespace(
            NAMESPACE,
            "network2",
            Some(PRIMARY),
        ))
        .await?;
    // East's control plane, as Istio's primary installs it (its pod runs on a simulated node): the mesh
    // page shows it managing east and, through west's annotation, west.
    east.apply
        .apply(&istio::istiod(NAMESPACE, PRIMARY, "network1"))
        .await?;
    let extra = setup.examples.join("demo-istio-config.yaml");
    let mut istio_objects = 0;
    if extra.exists() {
        // Istio configuration lives on the primary, whose control plane reads it. Its namespaces come with
        // the demo apps; create them first.
        for ns in mesh.topology.all_namespaces() {
            east.apply
                .apply(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
                .await?;
        }
        for obj in yaml_documents(&read(&extra)?)? {
            east.apply.apply(&obj).await?;
            istio_objects += 1;
        }
    }
    Ok(format!(
        "network1/network2, istiod on {PRIMARY} controlling {REMOTE}, {istio_objects} Istio objects on {PRIMARY}"
    ))
}

/// The lab's `expose-services.yaml`: the east-west gateway passes the mesh's `*.local` services through.
fn cross_network_gateway() -> serde_json::Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "cross-network-gateway", "namespace": NAMESPACE},
        "spec": {
            "selector": {"istio": "eastwestgateway"},
            "servers": [{"port": {"number": 15443, "name": "tls", "protocol": "TLS"},
                         "tls": {"mode": "AUTO_PASSTHROUGH"}, "hosts": ["*.local"]}],
        },
    })
}

/// Every lab cluster as a primary of its own network, reading each peer through its remote secret (the
/// peer's API server URL from the kubeconfig; no token: no istiod runs here).
async fn multi_primary(clusters: &mut Clusters) -> anyhow::Result<String> {
    let mut servers = Vec::new();
    for m in &clusters.members {
        servers.push((m.name, kube_util::server_url(&clusters.kubeconfig, m.name)?));
    }
    let mut objects = 0;
    for (i, m) in clusters.members.iter_mut().enumerate() {
        let network = format!("network{}", i + 1);
        let peers: Vec<(&str, &str)> = servers
            .iter()
            .filter(|(name, _)| *name != m.name)
            .map(|(name, url)| (*name, url.as_str()))
            .collect();
        for obj in istio::primary(NAMESPACE, m.name, &network, true, &peers)
            .iter()
            .chain([&cross_network_gateway()])
        {
            m.apply.apply(obj).await?;
            objects += 1;
        }
    }
    Ok(format!(
        "{} primaries on network1..{n}, each with istiod, east-west gateway and {} remote secrets ({objects} objects)",
        clusters.members.len(),
        clusters.members.len() - 1,
        n = clusters.members.len(),
    ))
}

/// The CRD as `meshglass-operator crd` prints it, applied to every cluster, waiting until each serves it.
async fn install_kiali_crd(setup: &Setup, clusters: &mut Clusters) -> anyhow::Result<()> {
    let crd = procs::output(&setup.operator(), &["crd"], &[]).await?;
    let crds = yaml_documents(&crd)?;
    for m in clusters.members.iter_mut() {
        for c in &crds {
            m.apply.apply(c).await?;
        }
        m.apply.forget();
    }
    for m in &clusters.members {
        wait_for(
            "the Kiali CRD to be served",
            Duration::from_secs(30),
            || {
                let client = m.client.clone();
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
    for m in clusters.members.iter_mut() {
        for obj in manifests::for_cluster(mesh, m.name) {
            m.apply.apply(&obj).await?;
            deployments += usize::from(obj["kind"] == "Deployment");
        }
    }
    let mut logs = 0;
    let mut no_logs = Vec::new();
    for m in &clusters.members {
        let (cluster, client) = (m.name, &m.client);
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
