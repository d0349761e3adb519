//! The HTTP routes: Kiali's paths, parameters and JSON field names, under `server.web_root`.
//! One module per area; handlers are named as verbs over the shared state.
//!
//! | area | module | routes |
//! |---|---|---|
//! | status and config | [`status`] | `/api`, `/api/status`, `/api/config`, `/healthz`, `/readyz` |
//! | login | [`login`] | `/api/authenticate`, `/api/logout`, `/api/auth/info`, `/api/auth/openid_redirect`, `/api/auth/openshift_redirect`, `/api/auth/callback[/{cluster}]` |
//! | inventory | [`inventory`] | `/api/namespaces`, `/api/clusters/{apps,workloads,services}` |
//! | details | [`details`] | `/api/namespaces/{ns}/{apps,workloads,services}/{name}` |
//! | Istio config | [`istio`] | `/api/istio/config`, `/api/istio/validations`, `/api/namespaces/{ns}/istio/{group}/{version}/{kind}/{name}` |
//! | Istio config writes | [`istio_write`] | `POST /api/namespaces/{ns}/istio/{group}/{version}/{kind}`, `PATCH`/`DELETE` `.../{kind}/{name}` |
//! | graph | [`graph`] | `/api/namespaces/graph`, `/api/namespaces/{ns}/{workloads,apps,applications,services}/{name}/graph` |
//! | health | [`health`] | `/api/clusters/health` |
//! | mesh | [`mesh`] | `/api/mesh/graph`, `/api/mesh/controlplanes`, `/api/istio/status` |
//! | mTLS | [`tls`] | `/api/mesh/tls`, `/api/namespaces/{ns}/tls`, `/api/clusters/tls` |
//! | metrics | [`metrics`] | `/api/namespaces/{ns}/metrics`, `/api/namespaces/{ns}/{workloads,apps,services}/{name}/{metrics,dashboard}` |
//! | traces | [`traces`] | `/api/namespaces/{ns}/{apps,workloads,services}/{name}/{traces,spans}`, `/api/namespaces/{ns}/apps/{app}/errortraces`, `/api/traces/{traceId}`, `/api/tracing` |
//! | pods | [`pods`] | `/api/namespaces/{ns}/pods/{pod}`, `/api/namespaces/{ns}/pods/{pod}/logs` |
//! | Envoy configuration | [`proxy_config`] | `/api/namespaces/{ns}/pods/{pod}/config_dump`, `/api/namespaces/{ns}/pods/{pod}/config_dump/{resource}` |

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
pub mod proxy_config;
pub mod status;
pub mod tls;
pub mod traces;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, get, on};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};

use crate::metrics::{ErrorLabels, RouteLabels};
use crate::state::Shared;

/// Who may call a route: a signed-in caller (the `authenticate` layer), or anyone (login, status).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    SignedIn,
    Public,
}

/// One route of the API: its method, path (under `server.web_root`), who may call it, and its
/// handler. The router is built from [`table`] and from nothing else, so the tests that walk the
/// table (every state-changing route refuses a request without its CSRF token) cover a route as
/// soon as it is added.
pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    handler: MethodRouter<Shared>,
}

fn route<H, T>(method: Method, path: &'static str, access: Access, h: H) -> ApiRoute
where
    H: Handler<T, Shared>,
    T: 'static,
{
    let filter = match method {
        Method::POST => MethodFilter::POST,
        Method::PATCH => MethodFilter::PATCH,
        Method::PUT => MethodFilter::PUT,
        Method::DELETE => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    };
    ApiRoute {
        method,
        path,
        access,
        handler: on(filter, h),
    }
}

fn read<H: Handler<T, Shared>, T: 'static>(path: &'static str, h: H) -> ApiRoute {
    route(Method::GET, path, Access::SignedIn, h)
}

/// Every route of the API, reads and writes ([`crate::session::is_write`]).
pub fn table() -> Vec<ApiRoute> {
    use Access::Public;
    use Method as M;
    let mut t = vec![
        read("/api/config", status::get_config),
        read("/api/namespaces", inventory::list_namespaces),
        read("/api/clusters/apps", inventory::list_apps),
        read("/api/clusters/workloads", inventory::list_workloads),
        read("/api/clusters/services", inventory::list_services),
        read("/api/namespaces/{ns}/apps/{name}", details::get_app),
        read(
            "/api/namespaces/{ns}/workloads/{name}",
            details::get_workload,
        ),
        read("/api/namespaces/{ns}/services/{name}", details::get_service),
        read("/api/istio/config", istio::list_config),
        read("/api/istio/validations", istio::summarize_validations),
        read(ISTIO_OBJECT, istio::get_config_detail),
        route(
            M::POST,
            ISTIO_KIND,
            Access::SignedIn,
            istio_write::create_config,
        ),
        route(
            M::PATCH,
            ISTIO_OBJECT,
            Access::SignedIn,
            istio_write::patch_config,
        ),
        route(
            M::DELETE,
            ISTIO_OBJECT,
            Access::SignedIn,
            istio_write::delete_config,
        ),
        read("/api/namespaces/graph", graph::graph_namespaces),
        read(
            "/api/namespaces/{ns}/workloads/{name}/graph",
            graph::graph_workload,
        ),
        read("/api/namespaces/{ns}/apps/{name}/graph", graph::graph_app),
        read(
            "/api/namespaces/{ns}/applications/{name}/graph",
            graph::graph_app,
        ),
        read(
            "/api/namespaces/{ns}/applications/{name}/versions/{version}/graph",
            graph::graph_app_version,
        ),
        read(
            "/api/namespaces/{ns}/services/{name}/graph",
            graph::graph_service,
        ),
        read("/api/clusters/health", health::get_clusters_health),
        read("/api/mesh/graph", mesh::get_mesh_graph),
        read("/api/mesh/controlplanes", mesh::list_control_planes),
        read("/api/istio/status", mesh::get_istio_status),
        read("/api/namespaces/{ns}/pods/{pod}", pods::get_pod),
        read("/api/namespaces/{ns}/pods/{pod}/logs", pods::get_pod_logs),
        read(
            "/api/namespaces/{ns}/pods/{pod}/config_dump",
            proxy_config::get_config_dump,
        ),
        read(
            "/api/namespaces/{ns}/pods/{pod}/config_dump/{resource}",
            proxy_config::get_config_dump_resource,
        ),
        route(M::GET, "/api", Public, status::get_status),
        route(M::GET, "/api/status", Public, status::get_status),
        route(M::GET, "/api/auth/info", Public, login::get_auth_info),
        route(M::POST, "/api/authenticate", Public, login::authenticate),
        route(M::POST, "/api/logout", Public, login::logout),
        route(
            M::GET,
            "/api/auth/openid_redirect",
            Public,
            login::openid_redirect,
        ),
        route(
            M::GET,
            "/api/auth/openshift_redirect",
            Public,
            login::openshift_redirect,
        ),
        route(M::GET, "/api/auth/callback", Public, login::home_callback),
        route(
            M::GET,
            "/api/auth/callback/{cluster}",
            Public,
            login::auth_callback,
        ),
        route(M::GET, "/healthz", Public, || async { "ok" }),
        route(M::GET, "/readyz", Public, status::get_readiness),
    ];
    t.extend(metrics_routes());
    t.extend(trace_routes());
    t
}

const ISTIO_KIND: &str = "/api/namespaces/{ns}/istio/{group}/{version}/{kind}";
const ISTIO_OBJECT: &str = "/api/namespaces/{ns}/istio/{group}/{version}/{kind}/{name}";

/// Builds the router: the routes of [`table`] under `server.web_root`, plus `/healthz` and `/readyz`.
pub fn router(state: Shared) -> Router {
    let (mut protected, mut public) = (Router::new(), Router::new());
    for r in table() {
        // Routes of one path merge their methods (a second of the same method panics at start).
        match r.access {
            Access::SignedIn => protected = protected.route(r.path, r.handler),
            Access::Public => public = public.route(r.path, r.handler),
        }
    }
    let protected = protected.layer(middleware::from_fn_with_state(state.clone(), authenticate));
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
        compressed(app)
    } else {
        app
    };
    crate::edge::layers(app.with_state(state))
}

/// Media type of the streamed routes (a followed pod log: one JSON object a line).
pub const NDJSON: &str = "application/x-ndjson";

/// `app` with gzip ([`compression`]): large full bodies compressed on every core first
/// ([`crate::gzip::gzip_large`]), which tower-http then leaves alone.
pub(crate) fn compressed<S: Clone + Send + Sync + 'static>(app: Router<S>) -> Router<S> {
    app.layer(axum::middleware::from_fn(crate::gzip::gzip_large))
        .layer(compression())
}

/// Gzip for a client that sends `Accept-Encoding: gzip`: every answer of 32 bytes or more (the
/// graph, lists, health, the UI's assets) but images and streams. A stream (a followed pod
/// log) is sent as it comes, each line when it is read, not held back to fill a compressed block.
/// Only responses are compressed: request bodies are read as sent, within the edge's limit.
fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .gzip(true)
        .compress_when(DefaultPredicate::new().and(NotForContentType::const_new(NDJSON)))
}

/// Traces and spans of apps, workloads and services, one trace, the tracing info.
fn trace_routes() -> Vec<ApiRoute> {
    use traces as t;
    vec![
        read("/api/namespaces/{ns}/apps/{name}/traces", t::get_app_traces),
        read(
            "/api/namespaces/{ns}/workloads/{name}/traces",
            t::get_workload_traces,
        ),
        read(
            "/api/namespaces/{ns}/services/{name}/traces",
            t::get_service_traces,
        ),
        read("/api/namespaces/{ns}/apps/{name}/spans", t::get_app_spans),
        read(
            "/api/namespaces/{ns}/workloads/{name}/spans",
            t::get_workload_spans,
        ),
        read(
            "/api/namespaces/{ns}/services/{name}/spans",
            t::get_service_spans,
        ),
        read(
            "/api/namespaces/{ns}/apps/{name}/errortraces",
            t::get_app_error_traces,
        ),
        read("/api/traces/{trace_id}", t::get_trace),
        read("/api/tracing", t::get_tracing_info),
    ]
}

/// The metrics, dashboard and mTLS routes.
fn metrics_routes() -> Vec<ApiRoute> {
    use metrics as m;
    vec![
        read("/api/namespaces/{ns}/metrics", m::get_namespace_metrics),
        read(
            "/api/namespaces/{ns}/workloads/{name}/metrics",
            m::get_workload_metrics,
        ),
        read(
            "/api/namespaces/{ns}/apps/{name}/metrics",
            m::get_app_metrics,
        ),
        read(
            "/api/namespaces/{ns}/services/{name}/metrics",
            m::get_service_metrics,
        ),
        read(
            "/api/namespaces/{ns}/workloads/{name}/dashboard",
            m::get_workload_dashboard,
        ),
        read(
            "/api/namespaces/{ns}/apps/{name}/dashboard",
            m::get_app_dashboard,
        ),
        read(
            "/api/namespaces/{ns}/services/{name}/dashboard",
            m::get_service_dashboard,
        ),
        read("/api/mesh/tls", tls::get_mesh_tls),
        read("/api/namespaces/{ns}/tls", tls::get_namespace_tls),
        read("/api/clusters/tls", tls::get_clusters_tls),
    ]
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
