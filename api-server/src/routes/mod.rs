//! The HTTP routes: Kiali's paths, parameters and JSON field names, under `server.web_root`.
//! One module per area; handlers are named as verbs over the shared state.
//!
//! | area | module | routes |
//! |---|---|---|
//! | status and config | [`status`] | `/api`, `/api/status`, `/api/config`, `/healthz`, `/readyz` |
//! | login | [`login`] | `/api/authenticate`, `/api/logout`, `/api/auth/info`, `/api/auth/openid_redirect`, `/api/auth/callback/{cluster}` |
//! | inventory | [`inventory`] | `/api/namespaces`, `/api/clusters/{apps,workloads,services}` |
//! | details | [`details`] | `/api/namespaces/{ns}/{apps,workloads,services}/{name}` |
//! | Istio config | [`istio`] | `/api/istio/config`, `/api/istio/validations`, `/api/namespaces/{ns}/istio/{group}/{version}/{kind}/{name}` |
//! | Istio config writes | [`istio_write`] | `POST /api/namespaces/{ns}/istio/{group}/{version}/{kind}`, `PATCH`/`DELETE` `.../{kind}/{name}` |
//! | graph | [`graph`] | `/api/namespaces/graph`, `/api/namespaces/{ns}/{workloads,apps,applications,services}/{name}/graph` |
//! | health | [`health`] | `/api/clusters/health` |
//! | mesh | [`mesh`] | `/api/mesh/graph`, `/api/mesh/controlplanes`, `/api/istio/status` |
//! | mTLS | [`tls`] | `/api/mesh/tls`, `/api/namespaces/{ns}/tls`, `/api/clusters/tls` |
//! | metrics | [`metrics`] | `/api/namespaces/{ns}/metrics`, `/api/namespaces/{ns}/{workloads,apps,services}/{name}/{metrics,dashboard}` |
//! | pods | [`pods`] | `/api/namespaces/{ns}/pods/{pod}`, `/api/namespaces/{ns}/pods/{pod}/logs` |

pub mod details;
pub mod graph;
pub mod health;
pub mod inventory;
pub mod istio;
pub mod istio_write;
pub mod login;
pub mod mesh;
pub mod metrics;
pub mod pods;
pub mod status;
pub mod tls;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;

use crate::metrics::{ErrorLabels, RouteLabels};
use crate::state::Shared;

/// Builds the router: API routes under `server.web_root`, plus `/healthz` and `/readyz`.
pub fn router(state: Shared) -> Router {
    let protected = Router::new()
        .route("/api/config", get(status::get_config))
        .route("/api/namespaces", get(inventory::list_namespaces))
        .route("/api/clusters/apps", get(inventory::list_apps))
        .route("/api/clusters/workloads", get(inventory::list_workloads))
        .route("/api/clusters/services", get(inventory::list_services))
        .route("/api/namespaces/{ns}/apps/{name}", get(details::get_app))
        .route(
            "/api/namespaces/{ns}/workloads/{name}",
            get(details::get_workload),
        )
        .route(
            "/api/namespaces/{ns}/services/{name}",
            get(details::get_service),
        )
        .route("/api/istio/config", get(istio::list_config))
        .route("/api/istio/validations", get(istio::summarize_validations))
        .route(
            "/api/namespaces/{ns}/istio/{group}/{version}/{kind}",
            post(istio_write::create_config),
        )
        .route(
            "/api/namespaces/{ns}/istio/{group}/{version}/{kind}/{name}",
            get(istio::get_config_detail)
                .patch(istio_write::patch_config)
                .delete(istio_write::delete_config),
        )
        .route("/api/namespaces/graph", get(graph::graph_namespaces))
        .route(
            "/api/namespaces/{ns}/workloads/{name}/graph",
            get(graph::graph_workload),
        )
        .route(
            "/api/namespaces/{ns}/apps/{name}/graph",
            get(graph::graph_app),
        )
        .route(
            "/api/namespaces/{ns}/applications/{name}/graph",
            get(graph::graph_app),
        )
        .route(
            "/api/namespaces/{ns}/applications/{name}/versions/{version}/graph",
            get(graph::graph_app_version),
        )
        .route(
            "/api/namespaces/{ns}/services/{name}/graph",
            get(graph::graph_service),
        )
        .route("/api/clusters/health", get(health::get_clusters_health))
        .route("/api/mesh/graph", get(mesh::get_mesh_graph))
        .route("/api/mesh/controlplanes", get(mesh::list_control_planes))
        .route("/api/istio/status", get(mesh::get_istio_status))
        .merge(metrics_routes())
        .merge(pod_routes())
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    let public = Router::new()
        .route("/api", get(status::get_status))
        .route("/api/status", get(status::get_status))
        .route("/api/auth/info", get(login::get_auth_info))
        .route("/api/authenticate", post(login::authenticate))
        .route("/api/logout", post(login::logout))
        .route("/api/auth/openid_redirect", get(login::openid_redirect))
        .route("/api/auth/callback/{cluster}", get(login::openid_callback))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(status::get_readiness));
    let api = protected
        .merge(public)
        .layer(middleware::from_fn(check_csrf));
    let root = state.config.web_root();
    let app = if root.is_empty() {
        api
    } else {
        Router::new()
            .nest(&root, api)
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(status::get_readiness))
    };
    let app = app
        .merge(crate::ui::router(&root))
        .layer(middleware::from_fn_with_state(state.clone(), record));
    // `server.gzip_enabled` (Kiali's default: on): gzip for clients that accept it.
    let app = if state.config.server.gzip_enabled {
        app.layer(CompressionLayer::new().gzip(true))
    } else {
        app
    };
    crate::edge::layers(app.with_state(state))
}

/// A pod and its logs.
fn pod_routes() -> Router<Shared> {
    Router::new()
        .route("/api/namespaces/{ns}/pods/{pod}", get(pods::get_pod))
        .route(
            "/api/namespaces/{ns}/pods/{pod}/logs",
            get(pods::get_pod_logs),
        )
}

/// The metrics, dashboard and mTLS routes.
fn metrics_routes() -> Router<Shared> {
    use metrics as m;
    Router::new()
        .route(
            "/api/namespaces/{ns}/metrics",
            get(m::get_namespace_metrics),
        )
        .route(
            "/api/namespaces/{ns}/workloads/{name}/metrics",
            get(m::get_workload_metrics),
        )
        .route(
            "/api/namespaces/{ns}/apps/{name}/metrics",
            get(m::get_app_metrics),
        )
        .route(
            "/api/namespaces/{ns}/services/{name}/metrics",
            get(m::get_service_metrics),
        )
        .route(
            "/api/namespaces/{ns}/workloads/{name}/dashboard",
            get(m::get_workload_dashboard),
        )
        .route(
            "/api/namespaces/{ns}/apps/{name}/dashboard",
            get(m::get_app_dashboard),
        )
        .route(
            "/api/namespaces/{ns}/services/{name}/dashboard",
            get(m::get_service_dashboard),
        )
        .route("/api/mesh/tls", get(tls::get_mesh_tls))
        .route("/api/namespaces/{ns}/tls", get(tls::get_namespace_tls))
        .route("/api/clusters/tls", get(tls::get_clusters_tls))
}

/// Router of the metrics port.
pub fn metrics_router(state: Shared) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(s): State<Shared>| async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    s.metrics.render(&s.registry),
                )
            }),
        )
        .with_state(state)
}

async fn record(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let start = Instant::now();
    let resp = next.run(req).await;
    if let Some(c) = resp.extensions().get::<crate::error::Category>() {
        let labels = ErrorLabels {
            route: route.clone(),
            category: c.0,
        };
        s.metrics.errors.get_or_create(&labels).inc();
    }
    let labels = RouteLabels {
        route,
        status: resp.status().as_u16(),
    };
    s.metrics.requests.get_or_create(&labels).inc();
    s.metrics
        .latency
        .get_or_create(&labels)
        .observe(start.elapsed().as_secs_f64());
    resp
}

/// Every state-changing request of the API carries the CSRF token ([`crate::session`]).
async fn check_csrf(req: Request, next: Next) -> Response {
    if crate::session::is_write(req.method())
        && let Err(why) = crate::session::check_csrf(req.headers())
    {
        return crate::error::Error::Forbidden(why).into_response();
    }
    next.run(req).await
}

async fn authenticate(State(s): State<Shared>, mut req: Request, next: Next) -> Response {
    let auth = s
        .auth
        .authenticate_caller(req.method(), req.headers(), crate::params::now_unix())
        .await;
    match auth {
        Ok(caller) => {
            req.extensions_mut().insert(caller.id.clone());
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}
