//! Inventory routes: namespaces, the app/workload/service lists of every cluster, and the
//! detail of one app, workload or service aggregated across clusters (each entry says its
//! cluster).

use std::collections::{BTreeSet, HashMap};

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use meshglass_engine::{self as engine, IstioKind, ServiceInfo, WorkloadInfo, selector_matches};
use serde_json::{Value, json};

use crate::auth::Identity;
use crate::error::{Error, Result};
use crate::kiali_json;
use crate::params::{Params, check_path_names};
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

/// Workloads of `ns` that `svc` selects.
fn selected<'a>(ws: &'a [WorkloadInfo], svc: &ServiceInfo) -> Vec<&'a WorkloadInfo> {
    ws.iter()
        .filter(|w| w.namespace == svc.namespace && selector_matches(&svc.selector, &w.labels))
        .collect()
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
            for svc in v.services() {
                let mut item = kiali_json::service_item(v.name(), &svc);
                let sel = selected(&ws, &svc);
                item["istioSidecar"] =
                    json!(!sel.is_empty() && sel.iter().all(|w| w.istio_sidecar));
                items.push(item);
            }
        }
        (views, items)
    })
    .await?;
    Ok(views.respond(
        json!({"cluster": cluster.unwrap_or_default(), "services": items, "validations": {}}),
    ))
}

/// The views a detail route reads: validated path names, `clusterName` honoured, and the
/// caller allowed to see `ns` on at least one cluster.
async fn detail_views(
    s: &Shared,
    id: &Identity,
    ns: &str,
    name: &str,
    q: HashMap<String, String>,
) -> Result<Views> {
    check_path_names(ns, name)?;
    let p = Params(q);
    let views = s
        .views(id, p.cluster(), Some([ns.to_string()].into()))
        .await?;
    s.require_namespaces(id, &views, &[ns.to_string()])?;
    Ok(views)
}

/// `/api/namespaces/{ns}/apps/{name}`.
pub async fn get_app(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, app)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let views = detail_views(&s, &id, &ns, &app, q).await?;
    let mut workloads = Vec::new();
    let mut services = BTreeSet::new();
    let mut clusters = Vec::new();
    for v in &views.clusters {
        let ws: Vec<WorkloadInfo> = v
            .workloads()
            .into_iter()
            .filter(|w| w.app() == Some(app.as_str()))
            .collect();
        if ws.is_empty() {
            continue;
        }
        clusters.push(v.name().to_string());
        for svc in v.services() {
            if ws
                .iter()
                .any(|w| selector_matches(&svc.selector, &w.labels))
            {
                services.insert(svc.name.clone());
            }
        }
        workloads.extend(ws.iter().map(|w| kiali_json::app_workload(v.name(), w)));
    }
    let Some(first) = clusters.first() else {
        return Err(Error::NotFound(format!(
            "app {app} not found in namespace {ns} of any reachable cluster"
        )));
    };
    Ok(views.respond(json!({
        "name": app,
        "cluster": first,
        "clusters": clusters,
        "namespace": {"name": ns, "cluster": first},
        "workloads": workloads,
        "serviceNames": services,
        "runtimes": [],
    })))
}

/// `/api/namespaces/{ns}/workloads/{name}`.
pub async fn get_workload(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let views = detail_views(&s, &id, &ns, &name, q).await?;
    let mut instances = Vec::new();
    for v in &views.clusters {
        let Some(w) = v
            .workloads()
            .into_iter()
            .find(|w| w.namespace == ns && w.name == name)
        else {
            continue;
        };
        let svcs = v.services();
        let selecting: Vec<&ServiceInfo> = svcs
            .iter()
            .filter(|s| s.namespace == ns && selector_matches(&s.selector, &w.labels))
            .collect();
        instances.push(kiali_json::workload_detail(v.name(), &w, &selecting));
    }
    respond_instances(&views, instances, || {
        format!("workload {name} not found in namespace {ns} of any reachable cluster")
    })
}

fn respond_instances(
    views: &Views,
    instances: Vec<Value>,
    not_found: impl FnOnce() -> String,
) -> Result<Response> {
    let Some(first) = instances.first() else {
        return Err(Error::NotFound(not_found()));
    };
    let mut top = first.clone();
    top["clusters"] = json!(
        instances
            .iter()
            .map(|i| i["cluster"].clone())
            .collect::<Vec<_>>()
    );
    top["instances"] = Value::Array(instances);
    Ok(views.respond(top))
}

/// Whether host `h`, written in an object of namespace `ons`, names the service `fq`.
fn names_service(h: &str, ons: &str, fq: &str) -> bool {
    let h = if h.contains('.') {
        h.to_string()
    } else {
        format!("{h}.{ons}")
    };
    h == fq || format!("{h}.svc.cluster.local") == fq || format!("{h}.cluster.local") == fq
}

/// `/api/namespaces/{ns}/services/{name}`.
pub async fn get_service(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let views = detail_views(&s, &id, &ns, &name, q).await?;
    let mut instances = Vec::new();
    let fq = format!("{name}.{ns}.svc.cluster.local");
    for v in &views.clusters {
        let Some(svc) = v
            .services()
            .into_iter()
            .find(|s| s.name == name && s.namespace == ns)
        else {
            continue;
        };
        let all = v.workloads();
        let ws: Vec<Value> = selected(&all, &svc)
            .into_iter()
            .map(|w| kiali_json::workload_item(v.name(), w))
            .collect();
        let refs = |kind: IstioKind, hosts_of: &dyn Fn(&Value) -> Vec<String>| -> Vec<Value> {
            v.istio(kind)
                .iter()
                .filter(|o| {
                    let ons = o.metadata.namespace.clone().unwrap_or_default();
                    hosts_of(&o.data["spec"])
                        .iter()
                        .any(|h| names_service(h, &ons, &fq))
                })
                .map(|o| serde_json::to_value(o.as_ref()).unwrap_or(Value::Null))
                .collect()
        };
        let vss = refs(IstioKind::VirtualService, &|spec| {
            spec["hosts"]
                .as_array()
                .map(|hs| {
                    hs.iter()
                        .filter_map(|h| h.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        });
        let drs = refs(IstioKind::DestinationRule, &|spec| {
            spec["host"]
                .as_str()
                .map(String::from)
                .into_iter()
                .collect()
        });
        let istio_sidecar = !ws.is_empty() && ws.iter().all(|w| w["istioSidecar"] == json!(true));
        instances.push(json!({
            "cluster": v.name(),
            "service": kiali_json::service_item(v.name(), &svc),
            "istioSidecar": istio_sidecar,
            "workloads": ws,
            "virtualServices": vss,
            "destinationRules": drs,
        }));
    }
    respond_instances(&views, instances, || {
        format!("service {name} not found in namespace {ns} of any reachable cluster")
    })
}
