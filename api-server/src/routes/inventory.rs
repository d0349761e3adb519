//! Inventory routes: namespaces and the app/workload/service lists of every cluster (details
//! are in [`super::details`]).

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use meshglass_engine::{self as engine, ServiceInfo, WorkloadInfo, selector_matches};
use serde_json::{Value, json};

use crate::auth::Identity;
use crate::error::Result;
use crate::kiali_json;
use crate::params::Params;
use crate::state::{Shared, Views, blocking};

/// `/api/namespaces`: every visible namespace of every cluster, sorted by name then cluster.
pub async fn list_namespaces(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let views = s.views(&id, p.cluster(), p.namespaces()?).await?;
    let mut out = Vec::new();
    for v in &views.clusters {
        for ns in v.entry.cache.namespaces.state() {
            let Some(name) = ns.metadata.name.clone() else {
                continue;
            };
            if !v.sees(&name) {
                continue;
            }
            let labels = ns.metadata.labels.clone().unwrap_or_default();
            out.push(json!({
                "name": name,
                "cluster": v.name(),
                "isAmbient": false,
                "isControlPlane": name == s.config.istio_namespace(),
                "labels": labels,
                "annotations": ns.metadata.annotations.clone().unwrap_or_default(),
                "revision": labels.get("istio.io/rev"),
            }));
        }
    }
    out.sort_by(|a, b| {
        (a["name"].as_str(), a["cluster"].as_str())
            .cmp(&(b["name"].as_str(), b["cluster"].as_str()))
    });
    Ok(views.respond(Value::Array(out)))
}

/// The views of a list route, and the `clusterName` it named.
async fn list_views(
    s: &Shared,
    id: &Identity,
    q: HashMap<String, String>,
) -> Result<(Views, Option<String>)> {
    let p = Params(q);
    let cluster = p.cluster().map(String::from);
    let views = s.views(id, cluster.as_deref(), p.namespaces()?).await?;
    Ok((views, cluster))
}

/// `/api/clusters/apps`.
pub async fn list_apps(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (views, cluster) = list_views(&s, &id, q).await?;
    let (views, items) = blocking(move || {
        let mut items = Vec::new();
        for v in &views.clusters {
            let ws = v.workloads();
            for ((ns, app), group) in engine::apps(&ws) {
                items.push(kiali_json::app_item(v.name(), &ns, &app, &group));
            }
        }
        (views, items)
    })
    .await?;
    Ok(views.respond(json!({"cluster": cluster.unwrap_or_default(), "applications": items})))
}

/// `/api/clusters/workloads`.
pub async fn list_workloads(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (views, cluster) = list_views(&s, &id, q).await?;
    let (views, items) = blocking(move || {
        let mut items = Vec::new();
        for v in &views.clusters {
            items.extend(
                v.workloads()
                    .iter()
                    .map(|w| kiali_json::workload_item(v.name(), w)),
            );
        }
        (views, items)
    })
    .await?;
    Ok(views.respond(
        json!({"cluster": cluster.unwrap_or_default(), "workloads": items, "validations": {}}),
    ))
}

/// Whether the workloads a service selects all have a sidecar (and there are some).
pub fn istio_sidecar(ws: &[&WorkloadInfo]) -> bool {
    !ws.is_empty() && ws.iter().all(|w| w.istio_sidecar)
}

/// Workloads of `ns` that `svc` selects.
pub fn selected<'a>(ws: &'a [WorkloadInfo], svc: &ServiceInfo) -> Vec<&'a WorkloadInfo> {
    ws.iter()
        .filter(|w| w.namespace == svc.namespace && selector_matches(&svc.selector, &w.labels))
        .collect()
}

/// A cluster's workloads grouped by namespace once, so that the workloads each of its services
/// selects are found among its namespace's, not the whole cluster's (a list of every service
/// would otherwise be services × workloads selector checks).
pub struct ByNamespace<'a>(HashMap<&'a str, Vec<&'a WorkloadInfo>>);

impl<'a> ByNamespace<'a> {
    pub fn new(ws: &'a [WorkloadInfo]) -> Self {
        let mut by: HashMap<&'a str, Vec<&'a WorkloadInfo>> = HashMap::new();
        for w in ws {
            by.entry(w.namespace.as_str()).or_default().push(w);
        }
        ByNamespace(by)
    }

    /// What [`selected`] answers for `svc`.
    pub fn selected(&self, svc: &ServiceInfo) -> Vec<&'a WorkloadInfo> {
        self.0
            .get(svc.namespace.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|w| selector_matches(&svc.selector, &w.labels))
            .collect()
    }
}

/// `/api/clusters/services`.
pub async fn list_services(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (views, cluster) = list_views(&s, &id, q).await?;
    let (views, items) = blocking(move || {
        let mut items = Vec::new();
        for v in &views.clusters {
            let ws = v.workloads();
            let by_namespace = ByNamespace::new(&ws);
            for svc in v.services() {
                let sidecar = istio_sidecar(&by_namespace.selected(&svc));
                items.push(kiali_json::service_overview(
                    v.name(),
                    &svc,
                    sidecar,
                    &s.app_labels,
                ));
            }
        }
        (views, items)
    })
    .await?;
    Ok(views.respond(
        json!({"cluster": cluster.unwrap_or_default(), "services": items, "validations": {}}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(ns: &str, name: &str, app: &str) -> WorkloadInfo {
        WorkloadInfo {
            name: name.into(),
            namespace: ns.into(),
            labels: [("app".to_string(), app.to_string())].into(),
            ..Default::default()
        }
    }

    fn service(ns: &str, app: Option<&str>) -> ServiceInfo {
        ServiceInfo {
            name: app.unwrap_or("none").into(),
            namespace: ns.into(),
            selector: app
                .map(|a| [("app".to_string(), a.to_string())].into())
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn grouped_by_namespace_a_service_selects_what_the_scan_of_the_cluster_selects() {
        let ws = vec![
            workload("a", "a-v1", "a"),
            workload("a", "b-v1", "b"),
            workload("b", "a-v1", "a"),
            workload("b", "a-v2", "a"),
        ];
        let by = ByNamespace::new(&ws);
        for svc in [
            service("a", Some("a")),
            service("b", Some("a")),
            service("a", Some("c")),
            service("c", Some("a")),
            service("a", None),
        ] {
            assert_eq!(by.selected(&svc), selected(&ws, &svc), "{svc:?}");
        }
        assert_eq!(by.selected(&service("b", Some("a"))).len(), 2);
    }
}
