//! Inventory routes: namespaces and the app/workload/service lists of every cluster (details
//! are in [`super::details`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use meshglass_engine::{self as engine, ServiceInfo, WorkloadInfo, selector_matches};
use serde_json::{Value, json};

use crate::auth::Identity;
use crate::error::Result;
use crate::kiali_json;
use crate::namespace_memo::{List, Written, write_array};
use crate::params::Params;
use crate::state::{Shared, View, Views, blocking};

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

/// One cluster's items of `list` in the namespaces the view sees, in their order: kept per
/// namespace while it does not change ([`ListMemo`](crate::namespace_memo::ListMemo)), `write`
/// writing those that changed.
fn cluster_items(
    v: &View,
    list: List,
    write: impl FnOnce(&View, &BTreeSet<&str>) -> HashMap<String, Vec<u8>>,
) -> Vec<Written> {
    let cache = &v.entry.cache;
    let names = v.namespace_names();
    cache.lists.items(
        list,
        &names,
        &cache.changes,
        &|ns| cache.has_namespace(ns),
        |stale| write(v, stale),
    )
}

/// Appends `item` to its namespace's written items.
fn push_item(out: &mut HashMap<String, Vec<u8>>, ns: &str, item: &Value) {
    let buf = out.entry(ns.to_string()).or_default();
    if !buf.is_empty() {
        buf.push(b',');
    }
    // A tree of strings, numbers and maps with string keys: writing it cannot fail.
    let _ = serde_json::to_writer(buf, item);
}

/// `"key":` and a JSON string.
fn field(out: &mut Vec<u8>, key: &str, value: &str) {
    let _ = serde_json::to_writer(&mut *out, key);
    out.push(b':');
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Kiali's list answer `{cluster, <key>: [items], validations?}`, its keys in the order
/// `serde_json` writes a map's (sorted), as the answers written from a `Value` had them.
fn list_body(key: &str, cluster: &str, validations: bool, parts: &[Written]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 96);
    let mut fields: Vec<(&str, Option<&[Written]>)> = vec![("cluster", None), (key, Some(parts))];
    if validations {
        fields.push(("validations", None));
    }
    fields.sort_by_key(|(k, _)| *k);
    out.push(b'{');
    for (i, (k, items)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match (k, items) {
            ("cluster", _) => field(&mut out, k, cluster),
            (_, Some(parts)) => {
                let _ = serde_json::to_writer(&mut out, k);
                out.push(b':');
                write_array(&mut out, parts);
            }
            _ => out.extend_from_slice(b"\"validations\":{}"),
        }
    }
    out.push(b'}');
    out
}

/// `/api/clusters/apps`.
pub async fn list_apps(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (views, cluster) = list_views(&s, &id, q).await?;
    let (views, body) = blocking(move || {
        let mut parts = Vec::new();
        for v in &views.clusters {
            parts.extend(cluster_items(v, List::Apps, |v, stale| {
                let ws = v.workloads_in(&|ns| stale.contains(ns));
                let mut out = HashMap::new();
                for ((ns, app), group) in engine::apps(&ws) {
                    push_item(
                        &mut out,
                        &ns,
                        &kiali_json::app_item(v.name(), &ns, &app, &group),
                    );
                }
                out
            }));
        }
        let body = list_body("applications", &cluster.unwrap_or_default(), false, &parts);
        (views, body)
    })
    .await?;
    Ok(views.respond_written(body))
}

/// `/api/clusters/workloads`.
pub async fn list_workloads(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (views, cluster) = list_views(&s, &id, q).await?;
    let (views, body) = blocking(move || {
        let mut parts = Vec::new();
        for v in &views.clusters {
            parts.extend(cluster_items(v, List::Workloads, |v, stale| {
                let mut out = HashMap::new();
                for w in v.workloads_in(&|ns| stale.contains(ns)) {
                    push_item(
                        &mut out,
                        &w.namespace,
                        &kiali_json::workload_item(v.name(), &w),
                    );
                }
                out
            }));
        }
        let body = list_body("workloads", &cluster.unwrap_or_default(), true, &parts);
        (views, body)
    })
    .await?;
    Ok(views.respond_written(body))
}

/// Whether the workloads a service selects all have a sidecar (and there are some).
pub fn istio_sidecar(ws: &[&WorkloadInfo]) -> bool {
    !ws.is_empty() && ws.iter().all(|w| w.istio_sidecar)
}

/// Workloads of `ns` that `svc` selects.
pub fn selected<'a>(ws: &'a [Arc<WorkloadInfo>], svc: &ServiceInfo) -> Vec<&'a WorkloadInfo> {
    ws.iter()
        .map(|w| &**w)
        .filter(|w| w.namespace == svc.namespace && selector_matches(&svc.selector, &w.labels))
        .collect()
}

/// A cluster's workloads grouped by namespace once, so that the workloads each of its services
/// selects are found among its namespace's, not the whole cluster's (a list of every service
/// would otherwise be services × workloads selector checks).
pub struct ByNamespace<'a>(HashMap<&'a str, Vec<&'a WorkloadInfo>>);

impl<'a> ByNamespace<'a> {
    pub fn new(ws: &'a [Arc<WorkloadInfo>]) -> Self {
        let mut by: HashMap<&'a str, Vec<&'a WorkloadInfo>> = HashMap::new();
        for w in ws {
            by.entry(w.namespace.as_str()).or_default().push(&**w);
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
    let (views, body) = blocking(move || {
        let mut parts = Vec::new();
        for v in &views.clusters {
            parts.extend(cluster_items(v, List::Services, |v, stale| {
                let keep = |ns: &str| stale.contains(ns);
                let ws = v.workloads_in(&keep);
                let by_namespace = ByNamespace::new(&ws);
                let mut out = HashMap::new();
                for svc in v.services_in(&keep) {
                    let sidecar = istio_sidecar(&by_namespace.selected(&svc));
                    let item = kiali_json::service_overview(v.name(), &svc, sidecar, &s.app_labels);
                    push_item(&mut out, &svc.namespace, &item);
                }
                out
            }));
        }
        let body = list_body("services", &cluster.unwrap_or_default(), true, &parts);
        (views, body)
    })
    .await?;
    Ok(views.respond_written(body))
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
        ]
        .into_iter()
        .map(Arc::new)
        .collect::<Vec<_>>();
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
