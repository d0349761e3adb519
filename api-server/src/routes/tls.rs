//! mTLS status routes, in Kiali's `MTLSStatus` JSON: `/api/mesh/tls` (`{status,
//! autoMTLSEnabled, minTLS}`), `/api/namespaces/{ns}/tls` and `/api/clusters/tls` (with `cluster`
//! and `namespace`). Each is of one cluster ([`tls_cluster`]: `clusterName`, default the home
//! cluster), computed by the engine ([`meshglass_engine::tls`]) from that cluster's
//! PeerAuthentications and DestinationRules the caller may read, of the namespaces the status
//! reads only ([`tls_view`]). The mesh config is not read: `autoMTLSEnabled` is
//! Istio's default (true) and `minTLS` is `N/A`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use meshglass_engine::IstioKind;
use meshglass_engine::tls::{self, DestRule, PeerAuthn, TlsContext};
use serde_json::{Value, json};

use crate::auth::Identity;
use crate::error::{Error, Result};
use crate::params::{Params, check_path_names};
use crate::registry::ClusterEntry;
use crate::state::{Shared, View, Views};

/// The cluster a TLS request is of: `clusterName` (400 naming the listed clusters when it is
/// none of them), else the default cluster ([`Shared::default_cluster`]: the home cluster unless
/// `clustering.ignore_home_cluster` hides it, then the first reachable listed one).
fn tls_cluster(s: &Shared, p: &Params) -> Result<Arc<ClusterEntry>> {
    match p.cluster() {
        Some(c) => s.entry(c),
        None => s.default_cluster("clusterName"),
    }
}

/// The view of the request's cluster ([`tls_cluster`]) holding only what the status reads: the
/// namespaces `asked` (`None`: every one), the root namespace, and those holding
/// PeerAuthentications or DestinationRules (a DestinationRule anywhere may name a namespace's
/// hosts). So a token user's request reviews access to those namespaces only.
async fn tls_view(
    s: &Shared,
    id: &Identity,
    p: &Params,
    asked: Option<&BTreeSet<String>>,
) -> Result<Views> {
    let entry = tls_cluster(s, p)?;
    let wanted = asked.map(|asked| {
        let mut w = asked.clone();
        w.insert(s.config.istio_namespace().to_string());
        for kind in [IstioKind::PeerAuthentication, IstioKind::DestinationRule] {
            w.extend(
                entry
                    .cache
                    .istio(kind)
                    .iter()
                    .filter_map(|o| o.metadata.namespace.clone()),
            );
        }
        w
    });
    let views = s.views(id, Some(&entry.name), wanted).await?;
    if views.clusters.is_empty() {
        let why = views
            .missing
            .first()
            .map(|(_, e)| e.clone())
            .unwrap_or_default();
        return Err(Error::NotFound(format!(
            "cluster {} is not reachable: {why}",
            entry.name
        )));
    }
    Ok(views)
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
    let views = tls_view(&s, &id, &p, Some(&BTreeSet::new())).await?;
    let ctx = context(&s);
    let (pas, drs) = objects(&views.clusters[0]);
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
    let views = tls_view(&s, &id, &p, Some(&[ns.clone()].into())).await?;
    s.require_namespaces(&id, &views, std::slice::from_ref(&ns))?;
    let v = &views.clusters[0];
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
    let asked = p.namespaces()?;
    let views = tls_view(&s, &id, &p, asked.as_ref()).await?;
    let v = &views.clusters[0];
    let ctx = context(&s);
    let (pas, drs) = objects(v);
    let body: Vec<Value> = v
        .namespace_names()
        .iter()
        .filter(|ns| asked.as_ref().is_none_or(|a| a.contains(*ns)))
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
