//! Writes of Istio config, as Kiali does them: create (`POST .../{kind}`), edit (`PATCH
//! .../{kind}/{name}`, a JSON merge patch) and delete (`DELETE .../{kind}/{name}`), each sent to
//! the cluster `clusterName` names (the home cluster by default).
//!
//! A signed-in user's write goes with that user's own bearer token and nothing of the server's
//! credentials: the cluster's API server decides, and its refusal (status and reason) is passed
//! on. Only under `anonymous`, where there is no caller identity, does the server's own
//! ServiceAccount write — which the operator grants only when `view_only_mode` is off.
//! `deployment.view_only_mode: true` refuses every write before anything is sent. The CSRF check
//! of state-changing requests is the router's ([`super::check_csrf`]). Each write logs one line
//! (user, cluster, kind, namespace/name, verb, outcome), never the object's content.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use meshglass_crds::names::{is_dns_label, is_dns_subdomain};
use meshglass_engine::IstioKind;
use serde_json::Value;

use crate::as_caller::{client_for, refused};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::params::{Params, check_path_names};
use crate::state::Shared;

/// The body a write accepts, at most (Kiali's editor sends one object): the edge's limit, which
/// answers 413 before the handler runs; checked here too for a router built without the edge.
pub const MAX_BODY_BYTES: u64 = crate::edge::MAX_BODY_BYTES;

/// What a write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Create,
    Patch,
    Delete,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }
}

/// The kind of a route's `{group}/{kind}` (400 listing the kinds otherwise).
pub fn kind_of(group: &str, kind: &str) -> Result<IstioKind> {
    IstioKind::from_group_kind(group, kind).ok_or_else(|| {
        let allowed: Vec<String> = IstioKind::ALL
            .iter()
            .map(|k| format!("{}/{}", k.group(), k.kind()))
            .collect();
        Error::bad_param("group/kind", format!("{group}/{kind}"), allowed.join(", "))
    })
}

/// An API version of the path: `v1`, `v1beta1`, `v1alpha3`, ...
fn check_version(version: &str) -> Result<()> {
    let ok = version.starts_with('v')
        && version.len() <= 20
        && version[1..].starts_with(|c: char| c.is_ascii_digit())
        && version.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::bad_param(
            "version",
            version,
            "an API version such as v1, v1beta1 or v1alpha3",
        ))
    }
}

/// The JSON object of a write's body (400 naming `body` otherwise).
fn body_object(body: &Bytes) -> Result<serde_json::Map<String, Value>> {
    if body.len() as u64 > MAX_BODY_BYTES {
        return Err(Error::bad_param(
            "body",
            format!("{} bytes", body.len()),
            format!("at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(Error::bad_param(
            "body",
            short(&other),
            "a JSON object (the Istio object, or a JSON merge patch of it)",
        )),
        Err(e) => Err(Error::bad_param(
            "body",
            format!("not JSON: {e}"),
            "a JSON object (the Istio object, or a JSON merge patch of it)",
        )),
    }
}

/// A value named in an error, cut short.
fn short(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 80 {
        let mut end = 80;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// Checks that `field` of `obj`, when set, is the string `want` (400 naming the field).
fn check_same(
    obj: &serde_json::Map<String, Value>,
    field: &'static str,
    path: &[&str],
    want: &str,
) -> Result<()> {
    let mut v = obj.get(path[0]);
    for p in &path[1..] {
        v = v.and_then(|x| x.get(*p));
    }
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s == want => Ok(()),
        Some(other) => Err(Error::bad_param(
            field,
            short(other),
            format!("{want:?} (as in the route) or unset"),
        )),
    }
}

/// The object of a create: a JSON object whose `metadata.name` is a DNS subdomain, whose
/// namespace, `apiVersion` and `kind` (when set) are the route's, and whose `spec` is an object.
/// `name_out` gets the name as soon as it is known (for the log line of a refused create).
fn object_to_create(
    body: &Bytes,
    ns: &str,
    ar: &ApiResource,
    name_out: &mut String,
) -> Result<serde_json::Map<String, Value>> {
    let mut obj = body_object(body)?;
    let name = match obj.get("metadata").and_then(|m| m.get("name")) {
        Some(Value::String(n)) if is_dns_subdomain(n) => n.clone(),
        Some(other) => {
            return Err(Error::bad_param(
                "metadata.name",
                short(other),
                "a DNS subdomain name (lower-case letters, digits, '-' and '.', at most 253 characters)",
            ));
        }
        None => {
            return Err(Error::bad_param(
                "metadata.name",
                "",
                "the name of the object to create",
            ));
        }
    };
    *name_out = name;
    check_same(&obj, "metadata.namespace", &["metadata", "namespace"], ns)?;
    check_same(&obj, "apiVersion", &["apiVersion"], &ar.api_version)?;
    check_same(&obj, "kind", &["kind"], &ar.kind)?;
    if let Some(spec) = obj.get("spec")
        && !spec.is_object()
    {
        return Err(Error::bad_param("spec", short(spec), "an object"));
    }
    obj.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
    obj.insert("kind".into(), Value::String(ar.kind.clone()));
    Ok(obj)
}

/// A merge patch: a JSON object that does not rename, move or retype the object.
fn merge_patch(
    body: &Bytes,
    ns: &str,
    name: &str,
    ar: &ApiResource,
) -> Result<serde_json::Map<String, Value>> {
    let patch = body_object(body)?;
    if patch.is_empty() {
        return Err(Error::bad_param(
            "body",
            "{}",
            "a JSON merge patch that changes something",
        ));
    }
    check_same(&patch, "metadata.name", &["metadata", "name"], name)?;
    check_same(&patch, "metadata.namespace", &["metadata", "namespace"], ns)?;
    check_same(&patch, "apiVersion", &["apiVersion"], &ar.api_version)?;
    check_same(&patch, "kind", &["kind"], &ar.kind)?;
    if let Some(spec) = patch.get("spec")
        && !(spec.is_object() || spec.is_null())
    {
        return Err(Error::bad_param("spec", short(spec), "an object"));
    }
    Ok(patch)
}

/// The resource of `kind` at the route's version.
fn resource(kind: IstioKind, version: &str) -> ApiResource {
    ApiResource {
        group: kind.group().to_string(),
        version: version.to_string(),
        api_version: format!("{}/{version}", kind.group()),
        kind: kind.kind().to_string(),
        plural: kind.plural().to_string(),
    }
}

/// The target cluster: `clusterName`, else the default cluster ([`Shared::default_cluster`]:
/// the home cluster unless `clustering.ignore_home_cluster` hides it).
fn target_cluster(s: &Shared, p: &Params) -> Result<String> {
    match p.cluster() {
        Some(c) => {
            s.check_cluster(c)?;
            Ok(c.to_string())
        }
        None => Ok(s.default_cluster("clusterName")?.name.clone()),
    }
}

/// What a write names, from its route.
struct Target {
    verb: Verb,
    ns: String,
    group: String,
    version: String,
    kind: String,
    /// `None` for a create (the name is the body's).
    name: Option<String>,
}

/// One write: the checks, the API call with the caller's credentials, and its log line.
async fn write(
    s: Shared,
    caller: Caller,
    t: Target,
    q: HashMap<String, String>,
    body: Bytes,
) -> Result<Response> {
    let p = Params(q);
    let mut cluster = p.cluster().unwrap_or_default().to_string();
    let mut name = t.name.clone().unwrap_or_default();
    let result = write_checked(&s, &caller, &t, &p, &body, &mut cluster, &mut name).await;
    let (outcome, status) = match &result {
        Ok(_) => ("ok", StatusCode::OK.as_u16()),
        Err(e) => (e.category(), e.status().as_u16()),
    };
    tracing::info!(
        target: "meshglass::istio_write",
        user = %caller.id.name(),
        cluster = %cluster,
        kind = %t.kind,
        namespace = %t.ns,
        name = %name,
        verb = t.verb.as_str(),
        outcome,
        status,
        "istio config write"
    );
    result
}

async fn write_checked(
    s: &Shared,
    caller: &Caller,
    t: &Target,
    p: &Params,
    body: &Bytes,
    cluster: &mut String,
    name: &mut String,
) -> Result<Response> {
    if s.config.deployment.view_only_mode {
        return Err(Error::Forbidden(
            "deployment.view_only_mode is true: this server makes no changes".into(),
        ));
    }
    if !is_dns_label(&t.ns) {
        return Err(Error::bad_param(
            "namespace",
            t.ns.clone(),
            "a namespace name (RFC 1123 label)",
        ));
    }
    if let Some(n) = &t.name {
        check_path_names(&t.ns, n)?;
    }
    let k = kind_of(&t.group, &t.kind)?;
    check_version(&t.version)?;
    let ar = resource(k, &t.version);
    *cluster = target_cluster(s, p)?;
    // Parse the body before any call: a bad one is a 400 naming the field, whoever asks.
    let create = match t.verb {
        Verb::Create => Some(object_to_create(body, &t.ns, &ar, name)?),
        _ => None,
    };
    let patch = match t.verb {
        Verb::Patch => Some(merge_patch(body, &t.ns, name, &ar)?),
        _ => None,
    };
    let client = client_for(s, caller, cluster)?;
    let api: Api<DynamicObject> = Api::namespaced_with(client, &t.ns, &ar);
    let done = match t.verb {
        Verb::Create => {
            let obj: DynamicObject =
                serde_json::from_value(Value::Object(create.unwrap_or_default()))
                    .map_err(|e| Error::bad_param("body", e.to_string(), "a Kubernetes object"))?;
            let made = api
                .create(&PostParams::default(), &obj)
                .await
                .map_err(|e| refused(cluster, e))?;
            serde_json::to_value(made).unwrap_or(Value::Null)
        }
        Verb::Patch => {
            let patched = api
                .patch(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(Value::Object(patch.unwrap_or_default())),
                )
                .await
                .map_err(|e| refused(cluster, e))?;
            serde_json::to_value(patched).unwrap_or(Value::Null)
        }
        Verb::Delete => {
            api.delete(name, &DeleteParams::default())
                .await
                .map_err(|e| refused(cluster, e))?;
            Value::Null
        }
    };
    if t.verb == Verb::Delete {
        return Ok(StatusCode::OK.into_response());
    }
    Ok(axum::Json(done).into_response())
}

type KindPath = (String, String, String, String);
type ObjectPath = (String, String, String, String, String);

/// `POST /api/namespaces/{ns}/istio/{group}/{version}/{kind}?clusterName=`: creates the object of
/// the body (Kiali's `IstioConfigCreate`).
pub async fn create_config(
    State(s): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((ns, group, version, kind)): Path<KindPath>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response> {
    let t = Target {
        verb: Verb::Create,
        ns,
        group,
        version,
        kind,
        name: None,
    };
    write(s, caller, t, q, body).await
}

/// `PATCH /api/namespaces/{ns}/istio/{group}/{version}/{kind}/{name}?clusterName=`: applies the
/// body as a JSON merge patch (Kiali's `IstioConfigUpdate`).
pub async fn patch_config(
    State(s): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((ns, group, version, kind, name)): Path<ObjectPath>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response> {
    let t = Target {
        verb: Verb::Patch,
        ns,
        group,
        version,
        kind,
        name: Some(name),
    };
    write(s, caller, t, q, body).await
}

/// `DELETE /api/namespaces/{ns}/istio/{group}/{version}/{kind}/{name}?clusterName=` (Kiali's
/// `IstioConfigDelete`).
pub async fn delete_config(
    State(s): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((ns, group, version, kind, name)): Path<ObjectPath>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let t = Target {
        verb: Verb::Delete,
        ns,
        group,
        version,
        kind,
        name: Some(name),
    };
    write(s, caller, t, q, Bytes::new()).await
}
