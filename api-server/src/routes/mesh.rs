//! The mesh page's routes: `/api/mesh/graph`, `/api/mesh/controlplanes` and `/api/istio/status`.
//! Each cluster's Deployments and Namespaces become the engine's [`MeshCluster`] here (only what
//! the caller may read); the engine ([`meshglass_engine::mesh`]) builds Kiali's shapes. An
//! unreachable cluster is a box that says so, and is named in the missing-clusters header.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use meshglass_engine::mesh::{self, KialiInstance, KubeCluster, MeshCluster, MeshInput};
use serde_json::json;

use crate::auth::Identity;
use crate::error::Result;
use crate::inventory;
use crate::params::{Params, now_unix};
use crate::state::{Shared, View, Views};

/// Gateways `/api/istio/status` reports (Kiali's default core components beside istiod).
const GATEWAYS: [&str; 2] = ["istio-ingressgateway", "istio-egressgateway"];

/// `/api/mesh/graph`: clusters, control planes, data planes and infrastructure.
pub async fn get_mesh_graph(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
) -> Result<Response> {
    let (views, input) = mesh_input(&s, &id, None).await?;
    let graph = mesh::mesh_graph(&input, now_unix());
    Ok(views.respond(graph))
}

/// `/api/mesh/controlplanes[?clusterName=]`: Kiali's `ControlPlane` list.
pub async fn list_control_planes(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let (views, input) = mesh_input(&s, &id, p.cluster()).await?;
    let cps = mesh::control_planes(&input);
    Ok(views.respond(cps))
}

/// `/api/istio/status[?clusterName=]`: control-plane components per cluster and their status.
pub async fn get_istio_status(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let (views, input) = mesh_input(&s, &id, p.cluster()).await?;
    let statuses = mesh::component_statuses(&input);
    Ok(views.respond(statuses))
}

/// The engine's input: every cluster `id` may use (those it lacks, inaccessible), this console,
/// and the metrics store with its health.
async fn mesh_input(
    s: &Shared,
    id: &Identity,
    cluster: Option<&str>,
) -> Result<(Views, MeshInput)> {
    let views = s.views(id, cluster, None).await?;
    let istio_ns = s.config.istio_namespace().to_string();
    let mut clusters: Vec<MeshCluster> = views
        .clusters
        .iter()
        .map(|v| mesh_cluster(v, &istio_ns))
        .collect();
    for (name, error) in &views.missing {
        let entry = s.registry.entry(name);
        clusters.push(MeshCluster {
            cluster: KubeCluster {
                accessible: false,
                name: name.clone(),
                api_endpoint: entry
                    .as_ref()
                    .map(|e| e.api_endpoint.clone())
                    .unwrap_or_default(),
                secret_name: entry
                    .as_ref()
                    .and_then(|e| e.secret_name.clone())
                    .unwrap_or_default(),
                is_kiali_home: entry.as_ref().is_some_and(|e| e.is_home),
                error: Some(error.clone()),
                ..Default::default()
            },
            ..Default::default()
        });
    }
    clusters.sort_by(|a, b| a.cluster.name.cmp(&b.cluster.name));
    let home = views.clusters.iter().find(|v| v.entry.is_home);
    let kiali_ns = s.config.deployment_namespace().to_string();
    let kiali = home.filter(|h| h.may_see(&kiali_ns)).map(|h| {
        (
            h.name().to_string(),
            KialiInstance {
                namespace: kiali_ns.clone(),
                service_name: s.config.instance().to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                ..Default::default()
            },
        )
    });
    let metric_store = match &s.prom {
        None => None,
        Some(p) => {
            let healthy = p.health().await.is_ok();
            let url = s.config.prometheus_url();
            let location = locate(&url, home);
            let mut info = json!({
                "IsCore": false,
                "ThanosProxy": {"Enabled": s.config.external_services.prometheus.thanos_proxy.enabled},
            });
            // The URL (without credentials) for signed-in callers only, as `/api/status`.
            if !matches!(id, Identity::Anonymous) {
                info["URL"] = json!(crate::upstream::redacted(&url));
            }
            Some(mesh::MetricStore {
                location,
                healthy,
                info,
            })
        }
    };
    let grafana = grafana(s, id, home).await;
    let trace_store = trace_store(s, id, home).await;
    Ok((
        views,
        MeshInput {
            istio_namespace: istio_ns,
            clusters,
            kiali,
            metric_store,
            trace_store,
            grafana,
        },
    ))
}

/// Where an in-cluster URL places its service: (home cluster, namespace) when it names a
/// Service of the home cluster the caller may read, else outside the mesh.
fn locate(url: &str, home: Option<&View>) -> Option<(String, String)> {
    mesh::url_service(url).and_then(|(svc, ns)| {
        let h = home?;
        let found = h.may_see(&ns)
            && h.entry.cache.services.state().iter().any(|o| {
                o.metadata.name.as_deref() == Some(svc.as_str())
                    && o.metadata.namespace.as_deref() == Some(ns.as_str())
            });
        found.then(|| (h.name().to_string(), ns))
    })
}

/// The tracing store as the mesh page shows it when `external_services.tracing` is enabled with
/// an `internal_url`, named by its provider: placed by that URL, reachable by the client's last
/// probe (one per [`crate::upstream::reachability::PROBE_TTL`], whoever asks, as Grafana's). A
/// store the server cannot use (`use_grpc`, an unknown provider, a bad URL) is unreachable, and
/// says why to signed-in callers.
async fn trace_store(
    s: &Shared,
    id: &Identity,
    home: Option<&View>,
) -> Option<(String, mesh::MetricStore)> {
    let cfg = &s.config.external_services.tracing;
    if !cfg.enabled || cfg.internal_url.trim().is_empty() {
        return None;
    }
    let signed_in = !matches!(id, Identity::Anonymous);
    let name = crate::traces::provider_name(cfg);
    let mut info = json!({"IsCore": false, "Provider": name});
    let store = match &s.tracing {
        Ok(client) => {
            // The URL (without credentials) for signed-in callers only, as `/api/status`.
            if signed_in {
                info["URL"] = json!(crate::upstream::redacted(&client.url()));
            }
            mesh::MetricStore {
                location: locate(&client.url(), home),
                healthy: client.reachable().await,
                info,
            }
        }
        Err(f) => {
            if signed_in {
                info["Error"] = json!(f.message);
            }
            mesh::MetricStore {
                location: None,
                healthy: false,
                info,
            }
        }
    };
    Some((name, store))
}

/// Grafana as the mesh page shows it ([`crate::grafana`]): placed by its `internal_url`, healthy
/// by its last probe (one per [`crate::grafana::PROBE_TTL`], whoever asks).
async fn grafana(s: &Shared, id: &Identity, home: Option<&View>) -> Option<mesh::MetricStore> {
    let probe = s.grafana.as_ref()?;
    let healthy = probe.healthy().await;
    let mut info = json!({"IsCore": false});
    // The URL (without credentials) for signed-in callers only, as `/api/status`.
    if !matches!(id, Identity::Anonymous) {
        info["URL"] = json!(crate::upstream::redacted(probe.url()));
    }
    Some(mesh::MetricStore {
        location: locate(probe.url(), home),
        healthy,
        info,
    })
}

/// One reachable cluster as the caller sees it.
fn mesh_cluster(v: &View, istio_ns: &str) -> MeshCluster {
    let cache = &v.entry.cache;
    let namespaces = inventory::namespaces(cache, &|ns| v.may_see(ns));
    let istio_namespace = namespaces.iter().find(|n| n.name == istio_ns).cloned();
    let mut istiods = Vec::new();
    let mut gateways = Vec::new();
    if istio_namespace.is_some() {
        for d in cache.deployments.state() {
            if d.metadata.namespace.as_deref() != Some(istio_ns) {
                continue;
            }
            let c = inventory::component(&d);
            let app = c.labels.get("app").map(String::as_str).unwrap_or_default();
            if mesh::is_istiod(&c.name, &c.labels) {
                istiods.push(c);
            } else if GATEWAYS.contains(&app) || GATEWAYS.contains(&c.name.as_str()) {
                gateways.push(c);
            }
        }
    }
    let network = istio_namespace
        .as_ref()
        .and_then(|n| n.labels.get(mesh::NETWORK_LABEL))
        .cloned()
        .unwrap_or_default();
    MeshCluster {
        cluster: KubeCluster {
            accessible: true,
            api_endpoint: v.entry.api_endpoint.clone(),
            is_kiali_home: v.entry.is_home,
            kiali_instances: Vec::new(),
            name: v.name().to_string(),
            secret_name: v.entry.secret_name.clone().unwrap_or_default(),
            network,
            error: None,
            missing_remote_secret: false,
        },
        istio_namespace,
        istiods,
        gateways,
        namespaces,
    }
}
