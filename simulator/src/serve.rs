//! Live sidecar metrics over HTTP: the `/metrics` route that `meshglass-simulator serve` and the demo's
//! simulated sidecars both serve; and a sidecar's Envoy admin endpoint (`/config_dump`).

use std::sync::Arc;

use axum::{Router, http::header, routing::get};

use crate::live::Live;
use crate::metrics;

/// `GET /metrics`: the exposition of `cluster`'s sidecars (all clusters with `None`) for the mesh `live` holds
/// now, counters starting at its origin (Unix seconds) and read at the time of the request.
pub fn metrics_router(live: Arc<Live>, cluster: Option<String>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let (mesh, origin) = live.current();
            let cluster = cluster.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    metrics::exposition(&mesh, cluster.as_deref(), origin, now()),
                )
            }
        }),
    )
}

/// A simulated sidecar's Envoy admin endpoint: `GET /config_dump` answers `dump` (an
/// [`crate::envoy::config_dump`]) as Envoy's admin does, `GET /ready` answers `LIVE`.
pub fn admin_router(dump: Arc<serde_json::Value>) -> Router {
    Router::new()
        .route(
            "/config_dump",
            get(move || {
                let dump = dump.clone();
                async move { axum::Json((*dump).clone()) }
            }),
        )
        .route("/ready", get(|| async { "LIVE\n" }))
}

/// The wall clock in Unix seconds (0 before 1970).
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
