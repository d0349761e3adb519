//! Steps 4–5: the simulated sidecars' metrics, and one Prometheus per cluster with the home's federating the
//! others (the seeds' east/west setup; `prometheus/cluster1.yml` for the three-cluster lab) — or, with
//! `--metrics thanos`, each keeping its own cluster's only, for the Thanos sidecars of [`super::thanos`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use meshglass_simulator::Mesh;
use serde_json::Value;

use meshglass_simulator::follow::follow;
use meshglass_simulator::live::Live;
use meshglass_simulator::serve::now;

use super::{Clusters, Metrics, Setup};
use crate::files::read;
use crate::kube_util::wait_for;
use crate::procs;
use crate::progress::Progress;
use crate::running::Running;
use crate::sidecars::serve_metrics;

/// Step 4: one `/metrics` endpoint per cluster, served from this process; the traffic follows the VirtualService
/// weights of every cluster (a routing wizard's objects change the graph's rates). And each pod's Envoy admin
/// endpoint (`/config_dump`), forwarded from the pod's port 15000.
pub async fn serve_sidecars(
    setup: &Setup,
    progress: &mut Progress,
    running: &mut Running,
    mesh: &Arc<Mesh>,
    clusters: &Clusters,
) -> anyhow::Result<()> {
    let ports = setup.ports;
    progress.begin("mesh-traffic simulator: one /metrics endpoint per cluster, an Envoy admin endpoint per pod");
    let live = Live::new(mesh.clone(), now());
    running.simulators.push(tokio::spawn(follow(
        live.clone(),
        clusters
            .members
            .iter()
            .map(|m| (m.name.to_owned(), m.client.clone()))
            .collect(),
    )));
    let mut endpoints = Vec::new();
    for (i, m) in clusters.members.iter().enumerate() {
        let port = ports.simulator[i];
        running.simulators.push(
            serve_metrics(
                live.clone(),
                m.name,
                SocketAddr::from(([127, 0, 0, 1], port)),
            )
            .await?,
        );
        endpoints.push(format!("{} http://127.0.0.1:{port}/metrics", m.name));
    }
    // Each pod's Envoy admin endpoint (config_dump), reached through the API server's
    // pods/portforward by kwok PortForward objects. Clusters started by an older test bed have no
    // PortForward CRD: the demo runs without them.
    let pushed_at = jiff::Timestamp::now().to_string();
    let mut admin = Vec::new();
    for m in &clusters.members {
        let (cluster, client) = (m.name, &m.client);
        match meshglass_simulator::sidecar_admin::serve_admin(client, mesh, cluster, &pushed_at)
            .await
        {
            Ok(endpoints) => {
                admin.push(format!("{} on {cluster}", endpoints.pods.len()));
                running.admin.push(endpoints);
            }
            Err(e) => admin.push(format!("none on {cluster} ({e})")),
        }
    }
    progress.done(&format!(
        "{} ({} flows); Envoy admin endpoints: {}",
        endpoints.join(", "),
        mesh.flows.len(),
        admin.join(", ")
    ));
    Ok(())
}

/// Step 5: each cluster's Prometheus scrapes its sidecars; the home's scrapes its own and federates the
/// others' (`examples/prometheus/<cluster>.yml`). Waits until the home's holds every other cluster's series;
/// returns its URL. With `--metrics thanos` the home does not federate, each has the external label the
/// Thanos sidecar needs, and Thanos Query is waited on instead (step 6).
pub async fn start_prometheus(
    setup: &Setup,
    progress: &mut Progress,
    running: &mut Running,
    http: &reqwest::Client,
) -> anyhow::Result<String> {
    let ports = setup.ports;
    let thanos = setup.metrics == Metrics::Thanos;
    let names = setup.topology.clusters();
    let home = names[0];
    progress.begin(&if thanos {
        "Prometheus per cluster, each holding its own cluster's proxies".to_owned()
    } else {
        format!("Prometheus per cluster, {home} federating the others")
    });
    let prometheus = procs::which("prometheus").ok_or_else(|| {
        anyhow!("prometheus not found: run `make prereqs` (installs Debian's prometheus)")
    })?;
    // The federated ones first: the home's first scrape finds them up.
    for (i, cluster) in names.iter().enumerate().rev() {
        let port = ports.prometheus[i];
        let config = ports.rewrite(&read(
            &setup.examples.join(format!("prometheus/{cluster}.yml")),
        )?);
        let config = if thanos {
            for_thanos(&config, cluster)?
        } else {
            config
        };
        let dir = setup.state_dir.join(format!("prometheus-{cluster}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data"))?;
        std::fs::write(dir.join("prometheus.yml"), config)?;
        running.procs.spawn(
            &format!("prometheus-{cluster}"),
            &prometheus,
            &[
                format!("--config.file={}", dir.join("prometheus.yml").display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--log.level=warn".to_owned(),
            ],
            &[],
        )?;
    }
    let home_prom = format!("http://127.0.0.1:{}", ports.prometheus[0]);
    let others: Vec<String> = names[1..]
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} http://127.0.0.1:{}", ports.prometheus[i + 1]))
        .collect();
    let summary = format!("{home} {home_prom}, {}", others.join(", "));
    if thanos {
        progress.done(&summary);
        return Ok(home_prom);
    }
    for peer in &names[1..] {
        wait_for(
            &format!("{home}'s Prometheus to hold {peer}'s federated series"),
            Duration::from_secs(90),
            || {
                let http = http.clone();
                let url = format!("{home_prom}/api/v1/query");
                async move {
                    // Both reporters of some call answered in the peer: its proxies' series, federated.
                    let q = format!(
                        r#"count by (reporter) (istio_requests_total{{destination_cluster="{peer}"}})"#
                    );
                    let url = reqwest::Url::parse_with_params(&url, &[("query", q)])?;
                    let v: Value = http.get(url).send().await?.json().await?;
                    let reporters = v["data"]["result"].as_array().map_or(0, Vec::len);
                    Ok((reporters == 2).then_some(()))
                }
            },
        )
        .await?;
    }
    progress.done(&summary);
    Ok(home_prom)
}

/// A cluster's prometheus.yml for a Thanos sidecar: no federation job, and the cluster as external label.
fn for_thanos(config: &str, cluster: &str) -> anyhow::Result<String> {
    let mut v: serde_yaml_ng::Value = serde_yaml_ng::from_str(config)?;
    if let Some(jobs) = v["scrape_configs"].as_sequence_mut() {
        jobs.retain(|j| j["metrics_path"].as_str() != Some("/federate"));
    }
    let global = v
        .as_mapping_mut()
        .ok_or_else(|| anyhow!("prometheus/{cluster}.yml is not a mapping"))?
        .entry("global".into())
        .or_insert_with(|| serde_yaml_ng::Mapping::new().into());
    global["external_labels"] = serde_yaml_ng::to_value(
        [("prometheus_cluster", cluster)]
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
    )?;
    Ok(serde_yaml_ng::to_string(&v)?)
}
