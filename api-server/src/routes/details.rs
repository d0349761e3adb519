//! Detail routes: one app, workload or service aggregated across clusters (each instance says
//! its cluster), as Kiali's `App`, `Workload` and `ServiceDetails`. `health=true` adds the
//! engine's health (per instance, and merged over clusters at the top); `validate=true` adds
//! the validations of the Istio objects that select the workload or refer to the service.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use meshglass_engine::validations::{self, Validation};
use meshglass_engine::{HealthKind, HealthReport, IstioKind, WorkloadInfo, selector_matches};
use serde_json::{Value, json};

use super::health::health_of;
use super::inventory::{istio_sidecar, selected};
use crate::auth::Identity;
use crate::error::{Error, Result};
use crate::kiali_json;
use crate::params::{Params, check_path_names};
use crate::state::{Shared, Views, blocking};

/// What a detail request asks for beyond the object itself.
struct Extras {
    health: bool,
    validate: bool,
    rate: u64,
    query_time: i64,
}

/// The views a detail route reads (validated path names, `clusterName` honoured, the caller
/// allowed to see `ns` on at least one cluster) and its `health`/`validate` parameters.
async fn detail_views(
    s: &Shared,
    id: &Identity,
    ns: &str,
    name: &str,
    q: HashMap<String, String>,
) -> Result<(Views, Extras)> {
    check_path_names(ns, name)?;
    let p = Params(q);
    let extras = Extras {
        health: p.bool("health", false)?,
        validate: p.bool("validate", false)?,
        rate: p.rate_interval()?,
        query_time: p.query_time()?,
    };
    let views = s
        .views(id, p.cluster(), Some([ns.to_string()].into()))
        .await?;
    s.require_namespaces(id, &views, &[ns.to_string()])?;
    Ok((views, extras))
}

/// The health of `name` in `ns` from a report: of one cluster, or merged over all (`None`).
fn health_in(
    report: &HealthReport,
    kind: HealthKind,
    cluster: Option<&str>,
    ns: &str,
    name: &str,
) -> Value {
    let body = report.to_kiali_json(kind, cluster);
    body.as_object()
        .and_then(|o| o.values().next())
        .map(|by_ns| by_ns[ns][name].clone())
        .filter(|v| !v.is_null())
        .unwrap_or_else(
            || json!({"requests": {"inbound": {}, "outbound": {}, "healthAnnotations": {}}}),
        )
}

/// Adds `health` to every instance (its cluster's) and to the top (merged over clusters).
async fn add_health(
    s: &Shared,
    views: Views,
    ex: &Extras,
    (kind, ns, name): (HealthKind, &str, &str),
    instances: &mut [Value],
) -> Result<(Views, Value)> {
    let (views, report) =
        health_of(s, views, vec![ns.to_string()], kind, ex.rate, ex.query_time).await?;
    for i in instances.iter_mut() {
        let c = i["cluster"].as_str().unwrap_or_default().to_string();
        i["health"] = health_in(&report, kind, Some(&c), ns, name);
    }
    Ok((views, health_in(&report, kind, None, ns, name)))
}

/// Every validation of the views, computed on the blocking pool.
async fn all_validations(s: &Shared, views: Views) -> Result<(Views, Vec<Validation>)> {
    let opts = s.validation_options();
    blocking(move || {
        let all = validations::validate_with(&views.configs(), &opts);
        (views, all)
    })
    .await
}

/// `/api/namespaces/{ns}/apps/{name}`.
pub async fn get_app(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, app)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (views, ex) = detail_views(&s, &id, &ns, &app, q).await?;
    let mut workloads = Vec::new();
    let mut services = BTreeSet::new();
    let mut clusters = Vec::new();
    for v in &views.clusters {
        let ws: Vec<Arc<WorkloadInfo>> = v
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
    let Some(first) = clusters.first().cloned() else {
        return Err(Error::NotFound(format!(
            "app {app} not found in namespace {ns} of any reachable cluster"
        )));
    };
    let mut body = json!({
        "name": app,
        "cluster": first,
        "clusters": clusters,
        "namespace": {"name": ns, "cluster": first},
        "isAmbient": false,
        "workloads": workloads,
        "serviceNames": services,
        "runtimes": [],
    });
    let views = if ex.health {
        let (views, merged) =
            add_health(&s, views, &ex, (HealthKind::App, &ns, &app), &mut []).await?;
        body["health"] = merged;
        views
    } else {
        views
    };
    Ok(views.respond(body))
}

/// `/api/namespaces/{ns}/workloads/{name}`.
pub async fn get_workload(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (views, ex) = detail_views(&s, &id, &ns, &name, q).await?;
    let mut instances = Vec::new();
    // The objects selecting the workload, per cluster: (cluster, kind, name).
    let mut selecting: BTreeSet<(String, IstioKind, String)> = BTreeSet::new();
    for v in &views.clusters {
        let all = v.workloads();
        let Some(w) = all.iter().find(|w| w.namespace == ns && w.name == name) else {
            continue;
        };
        let services: Vec<Value> = v
            .services()
            .iter()
            .filter(|s| s.namespace == ns && selector_matches(&s.selector, &w.labels))
            .map(|svc| {
                let sidecar = istio_sidecar(&selected(&all, svc));
                kiali_json::service_overview(v.name(), svc, sidecar, &s.app_labels)
            })
            .collect();
        instances.push(kiali_json::workload_detail(v.name(), w, &services));
        if ex.validate {
            for kind in IstioKind::ALL {
                for o in v.istio(kind) {
                    let co = crate::inventory::config_object(kind, &o);
                    if co.selects(&ns, &w.labels) {
                        selecting.insert((v.name().to_string(), kind, co.name));
                    }
                }
            }
        }
    }
    if instances.is_empty() {
        return Err(Error::NotFound(format!(
            "workload {name} not found in namespace {ns} of any reachable cluster"
        )));
    }
    let views = if ex.validate {
        let (views, all) = all_validations(&s, views).await?;
        for i in &mut instances {
            let c = i["cluster"].as_str().unwrap_or_default().to_string();
            i["validations"] = kiali_json::validations(all.iter().filter(|v| {
                let own = !v.is_config()
                    && v.object_gvk.kind == "workload"
                    && v.namespace == ns
                    && v.name == name;
                v.cluster == c
                    && (own
                        || v.istio_kind()
                            .is_some_and(|k| selecting.contains(&(c.clone(), k, v.name.clone()))))
            }));
        }
        views
    } else {
        views
    };
    respond_instances(
        &s,
        views,
        &ex,
        (HealthKind::Workload, &ns, &name),
        instances,
    )
    .await
}

/// The first instance with `clusters` (every instance's cluster), `instances`, and with
/// `health=true` each instance's health and the merged one at the top.
async fn respond_instances(
    s: &Shared,
    views: Views,
    ex: &Extras,
    target: (HealthKind, &str, &str),
    mut instances: Vec<Value>,
) -> Result<Response> {
    let (views, health) = if ex.health {
        let (views, merged) = add_health(s, views, ex, target, &mut instances).await?;
        (views, Some(merged))
    } else {
        (views, None)
    };
    let Some(first) = instances.first() else {
        return Err(Error::NotFound("not found in any reachable cluster".into()));
    };
    let mut top = first.clone();
    top["clusters"] = json!(
        instances
            .iter()
            .map(|i| i["cluster"].clone())
            .collect::<Vec<_>>()
    );
    if let Some(h) = health {
        top["health"] = h;
    }
    top["instances"] = Value::Array(instances);
    Ok(views.respond(top))
}

/// `/api/namespaces/{ns}/services/{name}`.
pub async fn get_service(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (views, ex) = detail_views(&s, &id, &ns, &name, q).await?;
    let mut instances = Vec::new();
    // The VirtualServices and DestinationRules referring to the service:
    // (cluster, kind, namespace, name).
    type Ref = (String, IstioKind, String, String);
    let mut refs: BTreeSet<Ref> = BTreeSet::new();
    for v in &views.clusters {
        let Some(svc) = v
            .services()
            .into_iter()
            .find(|s| s.name == name && s.namespace == ns)
        else {
            continue;
        };
        let all = v.workloads();
        let sel = selected(&all, &svc);
        let mut referring = |kind: IstioKind| -> Vec<Value> {
            v.istio(kind)
                .iter()
                .filter(|o| crate::inventory::config_object(kind, o).refers_to_service(&name, &ns))
                .map(|o| {
                    refs.insert((
                        v.name().to_string(),
                        kind,
                        o.metadata.namespace.clone().unwrap_or_default(),
                        o.metadata.name.clone().unwrap_or_default(),
                    ));
                    serde_json::to_value(o.as_ref()).unwrap_or(Value::Null)
                })
                .collect()
        };
        let vss = referring(IstioKind::VirtualService);
        let drs = referring(IstioKind::DestinationRule);
        instances.push(json!({
            "cluster": v.name(),
            "service": kiali_json::service(v.name(), &svc),
            "istioSidecar": istio_sidecar(&sel),
            "isAmbient": false,
            "endpoints": kiali_json::endpoints(&svc, &sel),
            "workloads": sel.iter().map(|w| kiali_json::workload_item(v.name(), w)).collect::<Vec<_>>(),
            "virtualServices": vss,
            "destinationRules": drs,
            "serviceEntries": [],
            "k8sGRPCRoutes": [],
            "k8sHTTPRoutes": [],
            "k8sReferenceGrants": [],
            "subServices": [],
            "istioPermissions": {"create": false, "update": false, "delete": false},
            "validations": {},
        }));
    }
    if instances.is_empty() {
        return Err(Error::NotFound(format!(
            "service {name} not found in namespace {ns} of any reachable cluster"
        )));
    }
    let views = if ex.validate {
        let (views, all) = all_validations(&s, views).await?;
        for i in &mut instances {
            let c = i["cluster"].as_str().unwrap_or_default().to_string();
            i["validations"] = kiali_json::validations(all.iter().filter(|v| {
                let key = v
                    .istio_kind()
                    .map(|k| (c.clone(), k, v.namespace.clone(), v.name.clone()));
                let own = !v.is_config() && v.object_gvk.kind == "service";
                v.cluster == c
                    && (key.is_some_and(|k| refs.contains(&k))
                        || (own && v.namespace == ns && v.name == name))
            }));
        }
        views
    } else {
        views
    };
    respond_instances(&s, views, &ex, (HealthKind::Service, &ns, &name), instances).await
}
