//! The meshglass server library: cluster registry, per-cluster caches, Prometheus client,
//! authentication and the Kiali-compatible REST API.

pub mod as_caller;
pub mod auth;
pub mod cache;
pub mod cached;
pub mod changes;
pub mod drop_later;
pub mod edge;
pub mod envoy;
pub mod error;
pub mod grafana;
pub mod gzip;
pub mod inventory;
pub mod kiali_json;
pub mod logging;
pub mod metrics;
pub mod namespace_memo;
pub mod openid;
pub mod openshift;
pub mod params;
pub mod permissions;
pub mod prom;
pub mod registry;
pub mod routes;
pub mod session;
pub mod state;
mod sync_state;
pub mod telemetry;
pub mod traces;
mod ttl_cache;
pub mod ui;
pub mod upstream;
pub mod view_cache;
pub mod view_entries;
pub mod view_refresh;

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod compression_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod graph_health_tests;
#[cfg(test)]
mod mesh_route_tests;
#[cfg(test)]
mod metrics_route_tests;
#[cfg(test)]
mod openshift_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod trust_tests;
#[cfg(test)]
mod upstream_tests;
#[cfg(test)]
mod view_cache_tests;
#[cfg(test)]
mod write_tests;

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
    /// Where mounted credentials, CA bundle and ServiceAccount token are read.
    pub paths: upstream::Paths,
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

/// The home cluster's name: `kubernetes_config.cluster_name`, else the `CLUSTER_ID` of the
/// control plane in `istio_namespace` ([`cluster_id`]), else `Kubernetes`.
async fn home_name(config: &Config, client: &kube::Client) -> String {
    if !config.kubernetes_config.cluster_name.is_empty() {
        return config.kubernetes_config.cluster_name.clone();
    }
    let api: kube::Api<cached::SlimDeployment> =
        kube::Api::namespaced(client.clone(), config.istio_namespace());
    let listed = tokio::time::timeout(
        Duration::from_secs(3),
        api.list(&kube::api::ListParams::default()),
    )
    .await;
    match listed {
        Ok(Ok(list)) => {
            let mut items = list.items;
            for d in &mut items {
                cached::Compact::compact(d);
            }
            cluster_id(&items).unwrap_or_else(|| "Kubernetes".to_string())
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %registry::describe_kube_error(&e), namespace = %config.istio_namespace(), "cannot list the control plane; the home cluster is named Kubernetes");
            "Kubernetes".to_string()
        }
        Err(_) => "Kubernetes".to_string(),
    }
}

/// The `CLUSTER_ID` of istiod among the Deployments of the Istio namespace. Istiod is the
/// Deployment labelled `app=istiod` or named `istiod`/`istiod-<revision>` (OSSM 2 names it
/// `istiod-<control plane>`, e.g. `istiod-basic`); `istiod` itself first, then by name.
pub fn cluster_id(deployments: &[cached::SlimDeployment]) -> Option<String> {
    let mut istiods: Vec<meshglass_engine::mesh::Component> = deployments
        .iter()
        .map(inventory::component)
        .filter(|c| meshglass_engine::mesh::is_istiod(&c.name, &c.labels))
        .collect();
    istiods.sort_by_key(|c| (c.name != "istiod", c.name.clone()));
    istiods.into_iter().find_map(|c| c.cluster_id)
}

/// Starts the server: connects the home cluster, watches the secrets directory, binds the API
/// and metrics ports. Returns once listening; clusters sync in the background.
pub async fn start(opts: Options) -> Result<Running> {
    let config = Arc::new(opts.config.clone());
    let strategy = auth::configured_strategy(&config)?;
    // A bad `kiali_feature_flags.validations` stops the start, naming the field.
    config
        .validation_flags()
        .map_err(|e| Error::Config(e.to_string()))?;
    let registry = Arc::new(Registry::default());
    let home_cfg = home_config(&opts).await?;
    let home_client = kube::Client::try_from(home_cfg.clone())
        .map_err(|e| Error::Kubeconfig(format!("home cluster: {e}")))?;
    let home = home_name(&config, &home_client).await;
    let home_entry = ClusterEntry::connect(&home, None, home_cfg, true)?;
    if config.clustering.ignore_home_cluster {
        registry.hide_home(home_entry);
    } else {
        registry.insert(home_entry);
    }

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
    let mut prom_url = prom_cfg.clone();
    prom_url.url = config.prometheus_url();
    let prom = Arc::new(prom::PromClient::configured(
        &prom_url,
        timeout,
        conc,
        &opts.paths,
    )?);
    let sealer = if config.login_token.signing_key.is_empty() {
        tracing::warn!(
            "login_token.signing_key is not set: sessions are sealed with a random key and end when the server stops"
        );
        session::Sealer::random()
    } else {
        session::Sealer::new(&config.login_token.signing_key)?
    };
    let mut auth = Auth::new(
        strategy,
        Arc::new(KubeReviewer {
            registry: registry.clone(),
        }),
    )
    .with_sessions(sealer, config.session_seconds());
    if strategy == auth::AuthStrategy::Openid {
        let oidc = meshglass_crds::openid::OpenIdConfig::from_value(&config.auth.openid)
            .map_err(|e| Error::Config(e.to_string()))?;
        auth = auth.with_openid(openid::OpenId::new(oidc, &opts.paths)?);
    }
    if strategy == auth::AuthStrategy::Openshift {
        let os = meshglass_crds::openshift::OpenShiftConfig::from_value(&config.auth.openshift)
            .map_err(|e| Error::Config(e.to_string()))?;
        let client_id = meshglass_crds::openshift::oauth_client_name(
            &config.deployment.instance_name,
            &config.deployment.namespace,
        );
        auth = auth.with_openshift(openshift::OpenShift::new(os, client_id, &opts.paths)?);
    }
    let auth = Arc::new(auth);
    let mut server_metrics = metrics::Metrics::default();
    server_metrics.register_reviews(&auth.counts);
    let view_cache = view_cache::ViewCaches::configured(
        config
            .graph_cache()
            .map_err(|e| Error::Config(e.to_string()))?,
        config
            .health_cache()
            .map_err(|e| Error::Config(e.to_string()))?,
        &server_metrics.view_cache,
    );
    let state = Arc::new(AppState {
        config: config.clone(),
        registry: registry.clone(),
        auth,
        prom: Some(prom),
        tracing: traces::from_config(&config.external_services.tracing, &opts.paths),
        metrics: Arc::new(server_metrics),
        health_rules: Arc::new(
            meshglass_engine::HealthRules::new(&config.health_config)
                .map_err(params::engine_err)?,
        ),
        app_labels: Arc::new(meshglass_engine::AppLabels::configured(
            &config.istio_labels.app_label_name,
            &config.istio_labels.version_label_name,
        )),
        grafana: grafana::Probe::configured(&config.external_services.grafana, &opts.paths)?
            .map(Arc::new),
        view_cache,
    });

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(view_refresh::refresh_loop(Arc::downgrade(&state)));
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
    tasks.spawn(edge::serve(listener, app));
    let mut metrics_addr = None;
    if config.server.observability.metrics.enabled {
        let ml =
            tokio::net::TcpListener::bind((host, config.server.observability.metrics.port)).await?;
        metrics_addr = Some(ml.local_addr()?);
        let mapp = routes::metrics_router(state.clone());
        tasks.spawn(edge::serve(ml, mapp));
    }
    tracing::info!(%api_addr, ?metrics_addr, home = %home, "meshglass server listening");
    Ok(Running {
        api_addr,
        metrics_addr,
        state,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn istiod(name: &str, app: Option<&str>, cluster_id: &str) -> cached::SlimDeployment {
        cached::deployment(&Deployment {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: app.map(|a| [("app".to_string(), a.to_string())].into()),
                ..Default::default()
            },
            spec: Some(k8s_openapi::api::apps::v1::DeploymentSpec {
                template: PodTemplateSpec {
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "discovery".into(),
                            env: Some(vec![EnvVar {
                                name: "CLUSTER_ID".into(),
                                value: Some(cluster_id.into()),
                                ..Default::default()
                            }]),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    #[test]
    fn the_control_plane_names_the_home_cluster_whatever_istiod_is_called() {
        let other = istiod("prometheus", Some("prometheus"), "wrong");
        assert_eq!(cluster_id(std::slice::from_ref(&other)), None);
        // OSSM 2's ServiceMeshControlPlane "basic", and revisioned control planes.
        assert_eq!(
            cluster_id(&[
                other.clone(),
                istiod("istiod-basic", Some("istiod"), "east")
            ])
            .as_deref(),
            Some("east")
        );
        assert_eq!(
            cluster_id(&[istiod("istiod-1-24", None, "west")]).as_deref(),
            Some("west")
        );
        assert_eq!(
            cluster_id(&[istiod("pilot", Some("istiod"), "north")]).as_deref(),
            Some("north")
        );
        // `istiod` itself wins over revisions.
        assert_eq!(
            cluster_id(&[
                istiod("istiod-canary", Some("istiod"), "b"),
                istiod("istiod", Some("istiod"), "a")
            ])
            .as_deref(),
            Some("a")
        );
    }
}
