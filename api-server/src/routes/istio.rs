//! Istio config routes: the objects of one cluster by kind (with their validations on request),
//! and the validation summary of every cluster and namespace.

use std::collections::{BTreeMap, HashMap};

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use meshglass_engine::IstioKind;
use meshglass_engine::validations::{self, Validation};
use serde_json::{Value, json};

use crate::auth::Identity;
use crate::error::{Error, Result};
use crate::kiali_json;
use crate::params::Params;
use crate::state::{Shared, blocking};

/// `objects`: comma-separated plurals (default every kind).
fn parse_objects(p: &Params) -> Result<Vec<IstioKind>> {
    let Some(list) = p.get("objects") else {
        return Ok(IstioKind::ALL.to_vec());
    };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            IstioKind::from_plural(s).ok_or_else(|| {
                let allowed: Vec<&str> = IstioKind::ALL.iter().map(|k| k.plural()).collect();
                Error::bad_param("objects", s, allowed.join(", "))
            })
        })
        .collect()
}

/// `/api/istio/config`: one cluster per response, as in Kiali — `clusterName`, else the home
/// cluster (or the first reachable one).
pub async fn list_config(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let kinds = parse_objects(&p)?;
    let validate = p.bool("validate", false)?;
    let wanted = p.namespaces()?;
    let views = s.views(&id, None, wanted).await?;
    let cluster = match p.cluster() {
        Some(c) => {
            s.check_cluster(c)?;
            c.to_string()
        }
        None => views
            .clusters
            .iter()
            .find(|v| v.entry.is_home)
            .or(views.clusters.first())
            .map(|v| v.name().to_string())
            .unwrap_or_default(),
    };
    let mut resources = serde_json::Map::new();
    if let Some(v) = views.clusters.iter().find(|v| v.name() == cluster) {
        for k in &kinds {
            let version = v
                .entry
                .cache
                .istio_resource(*k)
                .map(|ar| ar.version)
                .unwrap_or_else(|| "v1".into());
            let key = format!("{}/{}, Kind={}", k.group(), version, k.kind());
            let objs: Vec<Value> = v
                .istio(*k)
                .iter()
                .map(|o| serde_json::to_value(o.as_ref()).unwrap_or(Value::Null))
                .collect();
            resources.insert(key, Value::Array(objs));
        }
    }
    let mut body = json!({"cluster": cluster, "resources": resources});
    if !validate {
        return Ok(views.respond(body));
    }
    let opts = s.validation_options();
    let (views, map) = blocking(move || {
        let all = validations::validate_with(&views.configs(), &opts);
        let map = kiali_json::validations(all.iter().filter(|v| {
            v.is_config()
                && v.cluster == cluster
                && kinds.iter().any(|k| k.kind() == v.object_gvk.kind)
        }));
        (views, map)
    })
    .await?;
    body["validations"] = map;
    Ok(views.respond(body))
}

/// Per cluster and namespace: `(objects, errors, warnings)`.
type Summary = BTreeMap<String, BTreeMap<String, (usize, usize, usize)>>;

/// `/api/istio/validations`: counts per cluster and namespace (Kiali's `ValidationSummaries`),
/// or with `detail=true` the list of `IstioValidation`s (ours).
pub async fn summarize_validations(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let views = s.views(&id, None, p.namespaces()?).await?;
    let only = p.cluster().map(String::from);
    let detail = p.bool("detail", false)?;
    let opts = s.validation_options();
    let (views, body) = blocking(move || {
        let mut all: Vec<Validation> = validations::validate_with(&views.configs(), &opts);
        // Kiali's summaries count Istio objects only.
        all.retain(Validation::is_config);
        let keep = |c: &str| only.as_deref().is_none_or(|o| o == c);
        if detail {
            let list: Vec<&Validation> = all.iter().filter(|v| keep(&v.cluster)).collect();
            let body = json!({ "validations": list });
            return (views, body);
        }
        let mut summary = Summary::new();
        for v in views.clusters.iter().filter(|v| keep(v.name())) {
            let entry = summary.entry(v.name().to_string()).or_default();
            for ns in v.namespace_names() {
                entry.entry(ns).or_default();
            }
        }
        for val in all.iter().filter(|v| keep(&v.cluster)) {
            let (e, w) = val.counts();
            let slot = summary
                .entry(val.cluster.clone())
                .or_default()
                .entry(val.namespace.clone())
                .or_default();
            slot.0 += 1;
            slot.1 += e;
            slot.2 += w;
        }
        let body: serde_json::Map<String, Value> = summary
            .into_iter()
            .map(|(c, nss)| {
                let m: serde_json::Map<String, Value> = nss
                    .into_iter()
                    .map(|(ns, (o, e, w))| {
                        (ns, json!({"objectCount": o, "errors": e, "warnings": w}))
                    })
                    .collect();
                (c, Value::Object(m))
            })
            .collect();
        (views, Value::Object(body))
    })
    .await?;
    // The summary is Kiali's map of clusters: a `missingClusters` key would be read as a cluster,
    // so missing clusters are named in the header only.
    if body.get("validations").is_none() {
        return Ok(views.with_header(axum::Json(body).into_response()));
    }
    Ok(views.respond(body))
}
