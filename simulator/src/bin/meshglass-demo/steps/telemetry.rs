//! Steps 4–5: the simulated sidecars' metrics, and one Prometheus per cluster with east federating west
//! (the seeds' east/west setup).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use meshglass_simulator::Mesh;
use serde_json::Value;

use super::{PRIMARY, REMOTE, Setup};
use crate::files::read;
use crate::kube_util::wait_for;
use crate::procs;
use crate::progress::Progress;
use crate::running::Running;
use crate::sidecars::serve_metrics;

/// Step 4: one `/metrics` endpoint per cluster, served from this process.
pub async fn serve_sidecars(
    setup: &Setup,
    progress: &mut Progress,
    running: &mut Running,
    mesh: &Arc<Mesh>,
) -> anyhow::Result<()> {
    let ports = setup.ports;
    progress.begin("mesh-traffic simulator: one /metrics endpoint per cluster");
    for (cluster, port) in [
        (PRIMARY, ports.simulator_east),
        (REMOTE, ports.simulator_west),
    ] {
        running.simulators.push(
            serve_metrics(
                mesh.clone(),
                cluster,
                SocketAddr::from(([127, 0, 0, 1], port)),
            )
            .await?,
        );
    }
    progress.done(&format!(
        "east http://127.0.0.1:{}/metrics, west http://127.0.0.1:{}/metrics ({} flows)",
        ports.simulator_east,
        ports.simulator_west,
        mesh.flows.len()
    ));
    Ok(())
}

/// Step 5: west's Prometheus scrapes its sidecars; east's scrapes its own and federates west. Waits until east
/// holds west's series; returns east's URL.
pub async fn start_prometheus(
    setup: &Setup,
    progress: &mut Progress,
    running: &mut Running,
    http: &reqwest::Client,
) -> anyhow::Result<String> {
    let ports = setup.ports;
    progress.begin("Prometheus per cluster, east federating west");
    let prometheus = procs::which("prometheus").ok_or_else(|| {
        anyhow!("prometheus not found: run `make prereqs` (installs Debian's prometheus)")
    })?;
    for (cluster, port) in [
        (REMOTE, ports.prometheus_west),
        (PRIMARY, ports.prometheus_east),
    ] {
        let config = read(&setup.examples.join(format!("prometheus/{cluster}.yml")))?
            .replace(
                "127.0.0.1:15091",
                &format!("127.0.0.1:{}", ports.simulator_east),
            )
            .replace(
                "127.0.0.1:15092",
                &format!("127.0.0.1:{}", ports.simulator_west),
            )
            .replace(
                "127.0.0.1:9092",
                &format!("127.0.0.1:{}", ports.prometheus_west),
            );
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
    let east_prom = format!("http://127.0.0.1:{}", ports.prometheus_east);
    wait_for("east's Prometheus to hold west's federated series", Duration::from_secs(90), || {
        let http = http.clone();
        let url = format!("{east_prom}/api/v1/query");
        async move {
            let q = r#"count by (reporter) (istio_requests_total{source_cluster="east",destination_cluster="west"})"#;
            let url = reqwest::Url::parse_with_params(&url, &[("query", q)])?;
            let v: Value = http.get(url).send().await?.json().await?;
            let reporters = v["data"]["result"].as_array().map_or(0, Vec::len);
            Ok((reporters == 2).then_some(()))
        }
    })
    .await?;
    progress.done(&format!(
        "east {east_prom}, west http://127.0.0.1:{}",
        ports.prometheus_west
    ));
    Ok(east_prom)
}
