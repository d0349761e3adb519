//! The first step: Jaeger from the tools cache (`make tools`) and the simulator's live traces, sent over
//! OTLP/HTTP every few seconds for the same mesh the sidecars' metrics describe.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use meshglass_simulator::serve::now;
use meshglass_simulator::{Mesh, otlp, traces};
use meshglass_testbed::jaeger::Jaeger;

use super::Setup;
use crate::progress::Progress;
use crate::running::Running;

/// How often the live sender posts the traces of the requests since its last post.
const EVERY: Duration = Duration::from_secs(5);

/// Starts Jaeger on the demo's ports and the live traces sender; returns Jaeger's query URL (what
/// `external_services.tracing.internal_url` names).
pub async fn start_tracing(
    setup: &Setup,
    progress: &mut Progress,
    running: &mut Running,
    mesh: &Arc<Mesh>,
) -> anyhow::Result<String> {
    progress.begin("Jaeger and the simulator's live traces (OTLP)");
    let jaeger = Jaeger::start_on(setup.ports.jaeger)
        .await
        .context("starting Jaeger (`make tools` builds it into ~/.cache/meshglass)")?;
    let query = jaeger.query_url();
    let otlp_url = jaeger.otlp_url();
    running.jaeger = Some(jaeger);
    let mesh = mesh.clone();
    let endpoint = otlp_url.clone();
    running.simulators.push(tokio::spawn(async move {
        let start = now();
        let opts = traces::Options {
            seed: start as u64,
            ..traces::Options::default()
        };
        let mut generator = traces::Generator::new(&mesh, start, opts);
        let http = reqwest::Client::new();
        loop {
            tokio::time::sleep(EVERY).await;
            let batch = generator.until(now());
            if let Err(e) = otlp::send(&http, &endpoint, &batch).await {
                tracing::warn!(error = %e, "traces not sent");
            }
        }
    }));
    progress.done(&format!("query {query}, OTLP {otlp_url}/v1/traces"));
    Ok(query)
}
