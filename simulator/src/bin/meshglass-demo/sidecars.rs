//! The simulated sidecars: one cluster's Istio standard metrics served from this process.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use meshglass_simulator::serve::{metrics_router, now};

/// Serves one cluster's sidecar metrics in this process; counters start now.
pub async fn serve_metrics(
    mesh: Arc<meshglass_simulator::Mesh>,
    cluster: &str,
    addr: SocketAddr,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let app = metrics_router(mesh, Some(cluster.to_owned()), now());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}
