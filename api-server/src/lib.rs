//! The meshglass server library: cluster registry, per-cluster caches, Prometheus client,
//! authentication and the Kiali-compatible REST API.

pub mod auth;
pub mod cache;
pub mod error;
pub mod inventory;
pub mod kiali_json;
pub mod metrics;
pub mod params;
pub mod prom;
pub mod registry;
pub mod routes;
pub mod state;
mod sync_state;
pub mod telemetry;
pub mod ui;

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod fixtures;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

pub use error::{Error, Result};

use crate::auth::{Auth, KubeReviewer};
use crate::registry::{ClusterEntry, Registry};
use crate::state::AppState;
pub use meshglass_crds::Config;

/// How to start the server.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: Config,
    /// Kubeconfig of the home cluster; in-cluster credentials when `None`.
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub remote_secrets_dir: PathBuf,
    /// How often the remote-secrets directory is read again.
    pub secrets_poll: Duration,
}

/// A started server: bound addresses and the shared state.
pub struct Running {
    pub api_addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    pub state: Arc<AppState>,
    tasks: tokio::task::JoinSet<()>,
}

impl Running {
    /// Base URL of the API, including the web root (e.g. `http://127.0.0.1:20001/kiali`).
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.api_addr, self.state.config.web_root())
    }

    /// Waits until a task stops (normally never).
    pub async fn wait(mut self) {
        self.tasks.join_next().await;
    }

    /// Stops every task of the server, its clusters' watches included.
    pub fn shutdown(mut self) {
        self.tasks.abort_all();
        for c in self.state.registry.snapshot() {
            c.stop();
        }
    }
}

async fn home_config(opts: &Options) -> Result<kube::Config> {
    match &opts.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| Error::Kubeconfig(format!("cannot read {}: {e}", path.display())))?;
            let o = KubeConfigOptions {
                context: opts.context.clone(),
                ..Default::default()
            };
            kube::Config::from_custom_kubeconfig(kc, &o)
                .await
                .map_err(|e| Error::Kubeconfig(format!("{}: {e}", path.display())))
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| Error::Kubeconfig(format!("no in-cluster credentials: {e}"))),
    }
}

/// The home cluster's name: `kubernetes_config.cluster_name`, else istiod's `CLUSTER_ID`,
/// else `Kubernetes`.
async fn home_name(config: &Config, client: &kube::Client) -> String {
    if !config.kubernetes_config.cluster_name.is_empty() {
        return config.kubernetes_config.cluster_name.clone();
    }
    let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), config.istio_namespace());
    if let Ok(Ok(d)) = tokio::time::timeout(Duration::from_secs(3), api.get("istiod")).await {
        let env = d
            .spec
            .and_then(|s| s.template.spec)
            .and_then(|s| s.containers.into_iter().next())
            .and_then(|c| c.env)
            .unwrap_or_default();
        if let Some(v) = env
            .into_iter()
            .find(|e| e.name == "CLUSTER_ID")
            .and_then(|e| e.value)
        {
            return v;
        }
    }
    "Kubernetes".to_string()
}

/// Starts the server: connects the home cluster, watches the secrets directory, binds the API
/// and metrics ports. Returns once listening; clusters sync in the background.
pub async fn start(opts: Options) -> Result<Running> {
    let config = Arc::new(opts.config.clone());
    let strategy = auth::configured_strategy(&config)?;
    let registry = Arc::new(Registry::default());
    let home_cfg = home_config(&opts).await?;
    let home_client = kube::Client::try_from(home_cfg.clone())
        .map_err(|e| Error::Kubeconfig(format!("home cluster: {e}")))?;
    let home = home_name(&config, &home_client).await;
    registry.insert(ClusterEntry::connect(&home, None, home_cfg, true)?);

    let prom_cfg = &config.external_services.prometheus;
    let timeout = Duration::from_secs(if prom_cfg.query_timeout == 0 {
        10
    } else {
        prom_cfg.query_timeout
    });
    let conc = if prom_cfg.max_concurrency == 0 {
        8
    } else {
        usize::try_from(prom_cfg.max_concurrency).unwrap_or(usize::MAX)
    };
    let prom = Arc::new(prom::PromClient::new(
        &config.prometheus_url(),
        timeout,
        conc,
    )?);
    let auth = Arc::new(Auth::new(
        strategy,
        Arc::new(KubeReviewer {
            registry: registry.clone(),
        }),
    ));
    let state = Arc::new(AppState {
        config: config.clone(),
        registry: registry.clone(),
        auth,
        prom: Some(prom),
        metrics: Arc::new(metrics::Metrics::default()),
        health_rules: Arc::new(
            meshglass_engine::HealthRules::new(&config.health_config)
                .map_err(params::engine_err)?,
        ),
        app_labels: Arc::new(meshglass_engine::AppLabels::configured(
            &config.istio_labels.app_label_name,
            &config.istio_labels.version_label_name,
        )),
    });

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(registry::watch_secrets_dir(
        registry.clone(),
        opts.remote_secrets_dir.clone(),
        home.clone(),
        opts.secrets_poll,
        config.clustering.enable_exec_provider,
    ));

    let host = if config.server.address.is_empty() {
        "0.0.0.0"
    } else {
        config.server.address.as_str()
    };
    let listener = tokio::net::TcpListener::bind((host, config.server.port)).await?;
    let api_addr = listener.local_addr()?;
    let app = routes::router(state.clone());
    tasks.spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "API server stopped");
        }
    });
    let mut metrics_addr = None;
    if config.server.observability.metrics.enabled {
        let ml =
            tokio::net::TcpListener::bind((host, config.server.observability.metrics.port)).await?;
        metrics_addr = Some(ml.local_addr()?);
        let mapp = routes::metrics_router(state.clone());
        tasks.spawn(async move {
            if let Err(e) = axum::serve(ml, mapp).await {
                tracing::error!(error = %e, "metrics server stopped");
            }
        });
    }
    tracing::info!(%api_addr, ?metrics_addr, home = %home, "meshglass server listening");
    Ok(Running {
        api_addr,
        metrics_addr,
        state,
        tasks,
    })
}
