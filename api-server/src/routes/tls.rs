//! mTLS status routes, in Kiali's `MTLSStatus` JSON: `/api/mesh/tls` (`{status,
//! autoMTLSEnabled, minTLS}`), `/api/namespaces/{ns}/tls` and `/api/clusters/tls` (with `cluster`
//! and `namespace`). Each is of one cluster (`clusterName`, default the home cluster), computed
//! by the engine ([`meshglass_engine::tls`]) from that cluster's PeerAuthentications and
//! DestinationRules the caller may read. The mesh config is not read: `autoMTLSEnabled` is
//! Istio's default (true) and `minTLS` is `N/A`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use meshglass_engine::IstioKind;
use meshglass_engine::tls::{self, DestRule, PeerAuthn, TlsContext};
use serde_json::{Value, json};

use crate::auth::Identity;
use crate::error::{Error, Result};
use crate::params::{Params, check_path_names};
use crate::state::{Shared, View, Views};

/// The cluster a TLS request is of: `clusterName`, else the home cluster (else the first).
async fn cluster_view(
    s: &Shared,
    id: &Identity,
    p: &Params,
    wanted: Option<Vec<String>>,
) -> Result<(Views, usize)> {
    let home = s
        .registry
        .snapshot()
        .into_iter()
        .find(|e| e.is_home)
        .map(|e| e.name.clone());
    let cluster = p.cluster().map(str::to_string).or(home);
    let views = s
        .views(
            id,
            cluster.as_deref(),
            wanted.map(|w| w.into_iter().collect()),
        )
        .await?;
    let idx = views
        .clusters
        .iter()
        .position(|v| cluster.as_deref().is_none_or(|c| v.name() == c))
        .ok_or_else(|| {
            Error::NotFound(format!(
                "cluster {} is not reachable",
                cluster.unwrap_or_default()
            ))
        })?;
    Ok((views, idx))
}

/// The PeerAuthentications and DestinationRules of a view, as the engine reads them.
fn objects(v: &View) -> (Vec<PeerAuthn>, Vec<DestRule>) {
    let spec = |o: &kube::api::DynamicObject| o.data.get("spec").cloned().unwrap_or(Value::Null);
    let ns = |o: &kube::api::DynamicObject| o.metadata.namespace.clone().unwrap_or_default();
    let pas = v
        .istio(IstioKind::PeerAuthentication)
        .iter()
        .map(|o| PeerAuthn::from_spec(&ns(o), &spec(o)))
        .collect();
    let drs = v
        .istio(IstioKind::DestinationRule)
        .iter()
        .map(|o| DestRule::from_spec(&ns(o), &spec(o)))
        .collect();
    (pas, drs)
}

fn context(s: &Shared) -> TlsContext {
    TlsContext {
        root_namespace: s.config.istio_namespace().to_string(),
        ..TlsContext::default()
    }
}

fn namespace_json(status: &str, cluster: &str, ns: &str, ctx: &TlsContext) -> Value {
    json!({"status": status, "autoMTLSEnabled": ctx.auto_mtls, "minTLS": "",
           "cluster": cluster, "namespace": ns})
}

/// `/api/mesh/tls`.
pub async fn get_mesh_tls(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let (views, i) = cluster_view(&s, &id, &p, None).await?;
    let ctx = context(&s);
    let (pas, drs) = objects(&views.clusters[i]);
    let status = tls::mesh_status(&pas, &drs, &ctx);
    let body = json!({"status": status, "autoMTLSEnabled": ctx.auto_mtls, "minTLS": "N/A"});
    Ok(views.with_header(Json(body).into_response()))
}

/// `/api/namespaces/{ns}/tls`.
pub async fn get_namespace_tls(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Path(ns): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    check_path_names(&ns, "-")?;
    let p = Params(q);
    let (views, i) = cluster_view(&s, &id, &p, None).await?;
    let v = &views.clusters[i];
    if !matches!(id, Identity::Anonymous) && !v.may_see(&ns) {
        return Err(Error::Forbidden(format!(
            "user {} may not read namespace {ns} in cluster {}",
            id.name(),
            v.name()
        )));
    }
    let ctx = context(&s);
    let (pas, drs) = objects(v);
    let status = tls::namespace_status(&ns, &pas, &drs, &ctx);
    let body = namespace_json(status, v.name(), &ns, &ctx);
    Ok(views.with_header(Json(body).into_response()))
}

/// `/api/clusters/tls?namespaces=…`: every requested (default: every visible) namespace of the
/// cluster.
pub async fn get_clusters_tls(
    State(s): State<Shared>,
    Extension(id): Extension<Identity>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let p = Params(q);
    let wanted = p.namespaces()?.map(|w| w.into_iter().collect());
    let (views, i) = cluster_view(&s, &id, &p, wanted).await?;
    let v = &views.clusters[i];
    let ctx = context(&s);
    let (pas, drs) = objects(v);
    let body: Vec<Value> = v
        .namespace_names()
        .iter()
        .map(|ns| {
            namespace_json(
                tls::namespace_status(ns, &pas, &drs, &ctx),
                v.name(),
                ns,
                &ctx,
            )
        })
        .collect();
    Ok(views.with_header(Json(Value::Array(body)).into_response()))
}
