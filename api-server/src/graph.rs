//! Graph and health routes (traffic from Prometheus, built by the engine).

use axum::Router;

use crate::api::Shared;

/// Graph and health routes.
pub fn routes() -> Router<Shared> {
    Router::new()
}
