//! The simulated sidecars: one cluster's Istio standard metrics served from this process.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use meshglass_simulator::live::Live;
use meshglass_simulator::serve::metrics_router;

/// Serves one cluster's sidecar metrics in this process, for the mesh `live` holds.
pub async fn serve_metrics(
    live: Arc<Live>,
    cluster: &str,
    addr: SocketAddr,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let app = metrics_router(live, Some(cluster.to_owned()));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}
