//! Steps 6–9: the operator on every cluster with the example Kiali CRs (the primary CR on the home cluster,
//! the remote one elsewhere), each other cluster wired into the home with `meshglass-operator remote-secret`,
//! what the operator produced materialised for an out-of-cluster server, and that server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use meshglass_simulator::Mesh;
use serde_json::{Value, json};

use super::{Clusters, NAMESPACE, Setup};
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
/// home's primary CR pointed at the home's Prometheus, the demo's Jaeger and ports, the remote CR (named after
/// its cluster) on every other cluster — all waited on until Successful, and `examples/envoy-portforward-rbac.yaml`
/// on every cluster (the Envoy tab under anonymous). Returns the primary's instance name.
pub async fn start_operators(
    setup: &Setup,
    progress: &mut Progress,
    running: &mut Running,
    clusters: &mut Clusters,
    home_prom: &str,
    jaeger: &str,
    store: Option<&super::Store>,
) -> anyhow::Result<String> {
    let ports = setup.ports;
    let home = clusters.home().name;
    let remotes: Vec<&str> = clusters.members[1..].iter().map(|m| m.name).collect();
    progress.begin(&format!(
        "meshglass-operator on {home} (primary CR) and {} (remote CR)",
        remotes.join(", ")
    ));
    let kc = clusters.kc();
    for (i, m) in clusters.members.iter().enumerate() {
        // A remote's CR runs in remote mode, which mints the token the home's server uses: allowed there only.
        let remote_mode = (i > 0).to_string();
        running.procs.spawn(
            &format!("operator-{}", m.name),
            &setup.operator(),
            &[
                "run".into(),
                "--kubeconfig".into(),
                kc.clone(),
                "--context".into(),
                m.name.into(),
                // One operator per cluster on one machine: each its own /healthz, /readyz, /metrics port.
                "--admin-addr".into(),
                format!("127.0.0.1:{}", ports.operator[i]),
                "--allow-remote-cluster-resources".into(),
                remote_mode,
            ],
            &[],
        )?;
    }
    let mut primary = one_document(&setup.examples.join(setup.topology.primary_cr()))?;
    match store {
        None => primary["spec"]["external_services"]["prometheus"]["url"] = json!(home_prom),
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
    // Under anonymous the server forwards to pods' Envoy admin port with its own ServiceAccount:
    // the demo grants it pods/portforward on every cluster (the roles the operator makes do not).
    let portforward = crate::kube_util::yaml_documents(&crate::files::read(
        &setup.examples.join("envoy-portforward-rbac.yaml"),
    )?)?;
    for m in clusters.members.iter_mut() {
        for obj in &portforward {
            m.apply.apply(obj).await?;
        }
    }
    let instance = instance_of(&primary);
    let mut crs = Vec::new();
    for (i, m) in clusters.members.iter_mut().enumerate() {
        let cr = if i == 0 {
            primary.clone()
        } else {
            let mut cr = remote.clone();
            cr["spec"]["kubernetes_config"]["cluster_name"] = json!(m.name);
            cr
        };
        m.apply.apply(&cr).await?;
        crs.push(cr);
    }
    for (m, cr) in clusters.members.iter_mut().zip(&crs) {
        wait_successful(m.name, &mut m.apply, cr).await?;
    }
    progress.done(&format!("{} Kiali CRs Successful", clusters.members.len()));
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
        &setup.examples.join(setup.topology.primary_cr()),
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

/// Step 7: every other cluster's credentials into the home (`meshglass-operator remote-secret`), waiting
/// until the server's Deployment mounts them all. Returns the Secrets that Deployment mounts: (name, optional).
pub async fn wire_remote(
    setup: &Setup,
    progress: &mut Progress,
    clusters: &Clusters,
    instance: &str,
) -> anyhow::Result<Vec<(String, bool)>> {
    let home = clusters.home().name;
    let remotes: Vec<&str> = clusters.members[1..].iter().map(|m| m.name).collect();
    progress.begin(&format!(
        "meshglass-operator remote-secret: wire {} into {home}",
        remotes.join(", ")
    ));
    let kc = clusters.kc();
    let mut last = String::new();
    for remote in &remotes {
        let out = procs::output(
            &setup.operator(),
            &[
                "remote-secret",
                "--kiali-cluster-context",
                home,
                "--remote-cluster-context",
                remote,
                "--kiali-cluster-namespace",
                NAMESPACE,
                "--remote-cluster-namespace",
                NAMESPACE,
                "--kiali-resource-name",
                &format!("{instance}-service-account"),
                "--process-remote-resources",
                "false",
                "--remote-cluster-name",
                remote,
            ],
            &[("KUBECONFIG", &kc)],
        )
        .await?;
        last = out.trim().lines().last().unwrap_or("").to_owned();
    }
    let wanted: Vec<String> = remotes
        .iter()
        .map(|r| format!("kiali-remote-cluster-secret-{r}"))
        .collect();
    let deployments: Api<Deployment> = Api::namespaced(clusters.home().client.clone(), NAMESPACE);
    let mounted = wait_for(
        &format!(
            "Deployment {NAMESPACE}/{instance} to mount {}",
            wanted.join(", ")
        ),
        Duration::from_secs(60),
        || {
            let deployments = deployments.clone();
            let instance = instance.to_owned();
            let wanted = wanted.clone();
            async move {
                let d = deployments.get(&instance).await?;
                let secrets = mounted_secrets(&d);
                if wanted.iter().all(|w| secrets.iter().any(|(s, _)| s == w)) {
                    Ok(Some(secrets))
                } else {
                    Err(anyhow!("mounted secrets: {secrets:?}"))
                }
            }
        },
    )
    .await?;
    progress.done(&format!(
        "{last} ({} secret(s) mounted by the server's Deployment)",
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

/// The server's flags of a configuration file, the demo's kubeconfig (context `home`, the cluster the
/// console runs on) and the mounted remote secrets; each server the demo runs starts with them.
pub fn server_args(config: &Path, kc: &str, home: &str, secrets_dir: &Path) -> Vec<String> {
    vec![
        "--config".into(),
        config.display().to_string(),
        "--kubeconfig".into(),
        kc.to_owned(),
        "--context".into(),
        home.into(),
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
    let config_map = Api::<ConfigMap>::namespaced(clusters.home().client.clone(), NAMESPACE)
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
    let secrets: Api<Secret> = Api::namespaced(clusters.home().client.clone(), NAMESPACE);
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

/// Step 9: the server out of cluster with those inputs, waiting until its graph shows edges between the
/// clusters. Returns its base URL.
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
    let mut args = server_args(
        &inputs.config,
        kc,
        setup.topology.home(),
        &inputs.secrets_dir,
    );
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
        "the graph to show edges between the clusters",
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
