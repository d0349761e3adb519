//! Steps 6–9: the operator on both clusters with the example Kiali CRs, west wired into east with
//! `meshglass-operator remote-secret`, what the operator produced materialised for an out-of-cluster server,
//! and that server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use meshglass_simulator::Mesh;
use serde_json::{Value, json};

use super::{Clusters, NAMESPACE, PRIMARY, REMOTE, Setup};
use crate::files::{one_document, write_private};
use crate::kube_util::{Applier, wait_for};
use crate::procs;
use crate::progress::Progress;
use crate::running::Running;

/// `kiali_internal.{graph,health}_cache.refresh_interval` of the demo's primary CR: a repeated
/// graph or health view is at most this old (Kiali's default, 60 s, would leave the demo's first,
/// empty answer standing for a minute).
pub const DEMO_VIEW_REFRESH: &str = "5s";

/// Step 6: an operator per cluster (out of cluster, each with its own admin port) and the example CRs — the
/// primary's pointed at east's Prometheus, the demo's Jaeger and ports — both waited on until Successful, and
/// `examples/envoy-portforward-rbac.yaml` on both (the Envoy tab under anonymous). Returns the primary's instance name.
pub async fn start_operators(
    setup: &Setup,
    progress: &mut Progress,
    running: &mut Running,
    clusters: &mut Clusters,
    east_prom: &str,
    jaeger: &str,
    store: Option<&super::Store>,
) -> anyhow::Result<String> {
    let ports = setup.ports;
    progress.begin("meshglass-operator on east (primary CR) and west (remote CR)");
    let kc = clusters.kc();
    for (cluster, admin_port) in [
        (PRIMARY, ports.operator_east),
        (REMOTE, ports.operator_west),
    ] {
        // West's CR runs in remote mode, which mints the token east's server uses: allowed there only.
        let remote_mode = (cluster == REMOTE).to_string();
        running.procs.spawn(
            &format!("operator-{cluster}"),
            &setup.operator(),
            &[
                "run".into(),
                "--kubeconfig".into(),
                kc.clone(),
                "--context".into(),
                cluster.into(),
                // Two operators on one machine: each its own /healthz, /readyz, /metrics port.
                "--admin-addr".into(),
                format!("127.0.0.1:{admin_port}"),
                "--allow-remote-cluster-resources".into(),
                remote_mode,
            ],
            &[],
        )?;
    }
    let mut primary = one_document(&setup.examples.join("kiali-primary.yaml"))?;
    match store {
        None => primary["spec"]["external_services"]["prometheus"]["url"] = json!(east_prom),
        Some(store) => {
            primary["spec"]["external_services"]["prometheus"] =
                super::thanos::seed_prometheus(store)
        }
    }
    primary["spec"]["external_services"]["tracing"] = json!({
        "enabled": true,
        "provider": "jaeger",
        "internal_url": jaeger,
        "external_url": jaeger,
        "use_grpc": false,
    });
    // The demo's traffic is watched as it changes (and its tests wait for new data): the graph and
    // health views stay cached but are recomputed every DEMO_VIEW_REFRESH, not Kiali's 60 s.
    for cache in ["graph_cache", "health_cache"] {
        primary["spec"]["kiali_internal"][cache]["refresh_interval"] = json!(DEMO_VIEW_REFRESH);
    }
    primary["spec"]["server"]["port"] = json!(ports.server);
    primary["spec"]["server"]["observability"]["metrics"]["port"] = json!(ports.server_metrics);
    let remote = one_document(&setup.examples.join("kiali-remote.yaml"))?;
    clusters.apply_east.apply(&primary).await?;
    clusters.apply_west.apply(&remote).await?;
    // Under anonymous the server forwards to pods' Envoy admin port with its own ServiceAccount:
    // the demo grants it pods/portforward on both clusters (the roles the operator makes do not).
    let portforward = crate::kube_util::yaml_documents(&crate::files::read(
        &setup.examples.join("envoy-portforward-rbac.yaml"),
    )?)?;
    for obj in &portforward {
        clusters.apply_east.apply(obj).await?;
        clusters.apply_west.apply(obj).await?;
    }
    let instance = instance_of(&primary);
    for (cluster, applier, cr) in [
        (PRIMARY, &mut clusters.apply_east, &primary),
        (REMOTE, &mut clusters.apply_west, &remote),
    ] {
        wait_successful(cluster, applier, cr).await?;
    }
    progress.done("both Kiali CRs Successful");
    Ok(instance)
}

/// The instance name of a Kiali CR (`deployment.instance_name`, default `kiali`).
fn instance_of(cr: &Value) -> String {
    cr["spec"]["deployment"]["instance_name"]
        .as_str()
        .unwrap_or("kiali")
        .to_owned()
}

/// The instance name of the example primary CR.
pub fn primary_instance(setup: &Setup) -> anyhow::Result<String> {
    Ok(instance_of(&one_document(
        &setup.examples.join("kiali-primary.yaml"),
    )?))
}

/// Waits until the Kiali CR `cr` on `cluster` has the condition Successful=True.
async fn wait_successful(cluster: &str, applier: &mut Applier, cr: &Value) -> anyhow::Result<()> {
    let name = cr["metadata"]["name"]
        .as_str()
        .unwrap_or("kiali")
        .to_owned();
    let ns = cr["metadata"]["namespace"]
        .as_str()
        .unwrap_or(NAMESPACE)
        .to_owned();
    let api = applier
        .api_for("kiali.io/v1alpha1", "Kiali", Some(&ns))
        .await?;
    wait_for(
        &format!("Kiali {ns}/{name} on {cluster} to be Successful"),
        Duration::from_secs(90),
        || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let cr = api.get(&name).await?;
                let conditions = cr.data["status"]["conditions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let ok = conditions
                    .iter()
                    .any(|c| c["type"] == "Successful" && c["status"] == "True");
                if ok {
                    Ok(Some(()))
                } else {
                    Err(anyhow!("conditions {}", Value::Array(conditions)))
                }
            }
        },
    )
    .await
}

/// Step 7: west's credentials into east (`meshglass-operator remote-secret`), waiting until the server's
/// Deployment mounts them. Returns the Secrets that Deployment mounts: (name, optional).
pub async fn wire_remote(
    setup: &Setup,
    progress: &mut Progress,
    clusters: &Clusters,
    instance: &str,
) -> anyhow::Result<Vec<(String, bool)>> {
    progress.begin("meshglass-operator remote-secret: wire west into east");
    let kc = clusters.kc();
    let out = procs::output(
        &setup.operator(),
        &[
            "remote-secret",
            "--kiali-cluster-context",
            PRIMARY,
            "--remote-cluster-context",
            REMOTE,
            "--kiali-cluster-namespace",
            NAMESPACE,
            "--remote-cluster-namespace",
            NAMESPACE,
            "--kiali-resource-name",
            &format!("{instance}-service-account"),
            "--process-remote-resources",
            "false",
            "--remote-cluster-name",
            REMOTE,
        ],
        &[("KUBECONFIG", &kc)],
    )
    .await?;
    let secret_name = format!("kiali-remote-cluster-secret-{REMOTE}");
    let deployments: Api<Deployment> = Api::namespaced(clusters.east.clone(), NAMESPACE);
    let mounted = wait_for(
        &format!("Deployment {NAMESPACE}/{instance} to mount {secret_name}"),
        Duration::from_secs(60),
        || {
            let deployments = deployments.clone();
            let instance = instance.to_owned();
            let secret_name = secret_name.clone();
            async move {
                let d = deployments.get(&instance).await?;
                let secrets = mounted_secrets(&d);
                if secrets.iter().any(|(s, _)| *s == secret_name) {
                    Ok(Some(secrets))
                } else {
                    Err(anyhow!("mounted secrets: {secrets:?}"))
                }
            }
        },
    )
    .await?;
    progress.done(&format!(
        "{} ({} secret(s) mounted by the server's Deployment)",
        out.trim().lines().last().unwrap_or(""),
        mounted.len()
    ));
    Ok(mounted)
}

/// Secrets mounted under /kiali-remote-cluster-secrets by a Deployment: (secret name, optional).
fn mounted_secrets(d: &Deployment) -> Vec<(String, bool)> {
    let Some(pod) = d.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
        return Vec::new();
    };
    let mounts: Vec<&str> = pod
        .containers
        .iter()
        .flat_map(|c| c.volume_mounts.iter().flatten())
        .filter(|m| m.mount_path.starts_with("/kiali-remote-cluster-secrets"))
        .map(|m| m.name.as_str())
        .collect();
    pod.volumes
        .iter()
        .flatten()
        .filter(|v| mounts.contains(&v.name.as_str()))
        .filter_map(|v| v.secret.as_ref())
        .filter_map(|s| {
            s.secret_name
                .clone()
                .map(|n| (n, s.optional.unwrap_or(false)))
        })
        .collect()
}

/// What the server runs with, as files: the operator's `config.yaml` and the remote-cluster secrets its
/// Deployment mounts.
pub struct ServerInputs {
    pub config: PathBuf,
    pub secrets_dir: PathBuf,
    /// More of the server's flags (`--metrics thanos`: its token and CA bundle files).
    pub extra_args: Vec<String>,
}

/// The server's flags of a configuration file, the demo's kubeconfig (home context: the
/// primary) and the mounted remote secrets; each server the demo runs starts with them.
pub fn server_args(config: &Path, kc: &str, secrets_dir: &Path) -> Vec<String> {
    vec![
        "--config".into(),
        config.display().to_string(),
        "--kubeconfig".into(),
        kc.to_owned(),
        "--context".into(),
        PRIMARY.into(),
        "--remote-secrets-dir".into(),
        secrets_dir.display().to_string(),
    ]
}

/// Step 8: the operator's ConfigMap and the mounted remote secrets, written into the state directory.
pub async fn materialise_server_inputs(
    setup: &Setup,
    progress: &mut Progress,
    clusters: &Clusters,
    instance: &str,
    mounted: &[(String, bool)],
) -> anyhow::Result<ServerInputs> {
    progress.begin(
        "materialise the operator's ConfigMap and mounted remote secrets into the state directory",
    );
    let config_map = Api::<ConfigMap>::namespaced(clusters.east.clone(), NAMESPACE)
        .get(instance)
        .await?;
    let config_yaml = config_map
        .data
        .as_ref()
        .and_then(|d| d.get("config.yaml"))
        .ok_or_else(|| anyhow!("ConfigMap {NAMESPACE}/{instance} has no config.yaml"))?;
    let kiali_dir = setup.state_dir.join("kiali");
    std::fs::create_dir_all(&kiali_dir)?;
    std::fs::write(kiali_dir.join("config.yaml"), config_yaml)?;
    let secrets_dir = setup.state_dir.join("kiali-remote-cluster-secrets");
    let _ = std::fs::remove_dir_all(&secrets_dir);
    let secrets: Api<Secret> = Api::namespaced(clusters.east.clone(), NAMESPACE);
    let mut files = 0;
    for (name, optional) in mounted {
        let secret = match secrets.get_opt(name).await? {
            Some(s) => s,
            None if *optional => continue,
            None => bail!("the Deployment mounts Secret {NAMESPACE}/{name}, which does not exist"),
        };
        let dir = secrets_dir.join(name);
        std::fs::create_dir_all(&dir)?;
        for (key, value) in secret.data.unwrap_or_default() {
            write_private(&dir.join(&key), &value.0)?;
            files += 1;
        }
    }
    progress.done(&format!(
        "{} and {files} kubeconfig(s) in {}",
        kiali_dir.join("config.yaml").display(),
        secrets_dir.display()
    ));
    Ok(ServerInputs {
        config: kiali_dir.join("config.yaml"),
        secrets_dir,
        extra_args: Vec::new(),
    })
}

/// Step 9: the server out of cluster with those inputs, waiting until its graph shows edges between east and
/// west. Returns its base URL.
pub async fn start_server(
    setup: &Setup,
    progress: &mut Progress,
    running: &mut Running,
    http: &reqwest::Client,
    kc: &str,
    inputs: &ServerInputs,
    mesh: &Mesh,
) -> anyhow::Result<String> {
    progress.begin("meshglass-server out of cluster, with that configuration");
    let mut args = server_args(&inputs.config, kc, &inputs.secrets_dir);
    args.extend(inputs.extra_args.iter().cloned());
    running.procs.spawn(
        "server",
        &setup.bin_dir.join("meshglass-server"),
        &args,
        &[],
    )?;
    let base = format!("http://127.0.0.1:{}/kiali", setup.ports.server);
    let namespaces = mesh.topology.all_namespaces().join(",");
    let edges = wait_for(
        "the graph to show edges between east and west",
        Duration::from_secs(120),
        || {
            let http = http.clone();
            let url = format!("{base}/api/namespaces/graph");
            let namespaces = namespaces.clone();
            let alive = running.procs.check_alive("server");
            async move {
                if let Err(e) = alive {
                    return Ok(Some(Err(e)));
                }
                let url = reqwest::Url::parse_with_params(
                    &url,
                    &[
                        ("namespaces", namespaces.as_str()),
                        ("graphType", "versionedApp"),
                        ("duration", "60s"),
                    ],
                )?;
                let graph: Value = http
                    .get(url)
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let cross = cross_cluster_edges(&graph);
                Ok((cross > 0).then_some(Ok(cross)))
            }
        },
    )
    .await??;
    progress.done(&format!("{edges} cross-cluster edges in the graph"));
    Ok(base)
}

/// Edges whose two ends are in different clusters.
fn cross_cluster_edges(graph: &Value) -> usize {
    let empty = Vec::new();
    let nodes = graph["elements"]["nodes"].as_array().unwrap_or(&empty);
    let cluster_of = |id: &Value| {
        nodes
            .iter()
            .find(|n| n["data"]["id"] == *id)
            .and_then(|n| n["data"]["cluster"].as_str())
            .unwrap_or("")
    };
    graph["elements"]["edges"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter(|e| {
            let (s, t) = (
                cluster_of(&e["data"]["source"]),
                cluster_of(&e["data"]["target"]),
            );
            !s.is_empty() && !t.is_empty() && s != "unknown" && t != "unknown" && s != t
        })
        .count()
}
