//! Istio config routes: the objects of one cluster by kind (with their validations on request),
//! one object's details, and the validation summary of every cluster and namespace.

use std::collections::{BTreeMap, HashMap};

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use meshglass_engine::IstioKind;
use meshglass_engine::validations::references::references;
use meshglass_engine::validations::{self, Validation};
use serde_json::{Value, json};

use crate::auth::{Caller, Identity};
use crate::error::{Error, Result};
use crate::kiali_json;
use crate::params::{Params, check_path_names};
use crate::permissions;
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
                && v.istio_kind().is_some_and(|k| kinds.contains(&k))
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

/// Help for the fields of a kind's detail page (Kiali's `help`): what each main field does.
fn help(kind: IstioKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        IstioKind::VirtualService => &[
            (
                "spec.hosts",
                "The hosts this routing applies to: service short names, FQDNs or wildcard DNS names.",
            ),
            (
                "spec.gateways",
                "Gateways (<namespace>/<name>) and `mesh` (the sidecars) that apply these routes; none means `mesh`.",
            ),
            (
                "spec.http",
                "HTTP route rules, tried in order; the first match wins.",
            ),
            (
                "spec.http.route.destination.host",
                "A service of the registry (Kubernetes Service or ServiceEntry host) to send the traffic to.",
            ),
            (
                "spec.http.route.destination.subset",
                "A subset of the host, defined by a DestinationRule.",
            ),
            (
                "spec.exportTo",
                "Namespaces this VirtualService is visible to; `.` its own, `*` every one.",
            ),
        ],
        IstioKind::DestinationRule => &[
            (
                "spec.host",
                "The service the rule applies to, as in the service registry.",
            ),
            (
                "spec.trafficPolicy",
                "Load balancing, connection pool, outlier detection and TLS for the host.",
            ),
            (
                "spec.subsets",
                "Named sets of the host's endpoints, chosen by labels; each may override the traffic policy.",
            ),
            ("spec.exportTo", "Namespaces this rule is visible to."),
        ],
        IstioKind::Gateway => &[
            (
                "spec.selector",
                "Labels of the gateway workloads (any namespace) that take this configuration.",
            ),
            (
                "spec.servers",
                "Ports, protocols, hosts and TLS settings the gateway listens with.",
            ),
        ],
        IstioKind::ServiceEntry => &[
            ("spec.hosts", "Hosts added to the service registry."),
            ("spec.location", "MESH_EXTERNAL or MESH_INTERNAL."),
            (
                "spec.resolution",
                "How endpoints are found: NONE, STATIC or DNS.",
            ),
            (
                "spec.workloadSelector",
                "WorkloadEntries and pods, by label, that serve the hosts.",
            ),
        ],
        IstioKind::Sidecar => &[
            (
                "spec.workloadSelector",
                "The workloads this Sidecar applies to; none means every workload of the namespace.",
            ),
            (
                "spec.egress",
                "The hosts (<namespace>/<dnsName>) the workloads may reach.",
            ),
            (
                "spec.outboundTrafficPolicy",
                "ALLOW_ANY or REGISTRY_ONLY for destinations outside the registry.",
            ),
        ],
        IstioKind::AuthorizationPolicy => &[
            (
                "spec.selector",
                "The workloads of the namespace (every namespace, in the root namespace) the policy applies to.",
            ),
            ("spec.action", "ALLOW (default), DENY, AUDIT or CUSTOM."),
            (
                "spec.rules",
                "Sources (from), operations (to) and conditions (when) a request must match.",
            ),
        ],
        IstioKind::PeerAuthentication => &[
            (
                "spec.selector",
                "The workloads the policy applies to; none means the namespace (or the mesh, in the root namespace).",
            ),
            (
                "spec.mtls.mode",
                "STRICT, PERMISSIVE, DISABLE or UNSET (inherit).",
            ),
        ],
        IstioKind::RequestAuthentication => &[
            ("spec.selector", "The workloads the policy applies to."),
            (
                "spec.jwtRules",
                "Issuers and keys of the JWTs the workloads accept.",
            ),
        ],
        IstioKind::WorkloadEntry => &[
            ("spec.address", "Address of the endpoint."),
            (
                "spec.labels",
                "Labels services and ServiceEntries select the endpoint by.",
            ),
        ],
        IstioKind::WorkloadGroup => &[(
            "spec.template",
            "The WorkloadEntry each registered VM gets.",
        )],
        IstioKind::EnvoyFilter => &[
            (
                "spec.workloadSelector",
                "The workloads the patches apply to; none means every workload of the namespace.",
            ),
            (
                "spec.configPatches",
                "Patches of the generated Envoy configuration, with where they apply.",
            ),
        ],
        IstioKind::Telemetry => &[
            (
                "spec.selector",
                "The workloads the telemetry configuration applies to.",
            ),
            ("spec.metrics", "Metrics providers and overrides."),
            ("spec.tracing", "Tracing providers and sampling."),
            ("spec.accessLogging", "Access log providers and filters."),
        ],
        IstioKind::WasmPlugin => &[
            ("spec.selector", "The workloads the plugin runs in."),
            ("spec.url", "Where the Wasm module is fetched from."),
            ("spec.phase", "Where in the filter chain the plugin runs."),
        ],
        IstioKind::K8sGateway => &[
            (
                "spec.gatewayClassName",
                "The GatewayClass (controller) that implements this Gateway.",
            ),
            (
                "spec.listeners",
                "Hostname, port and protocol combinations the Gateway accepts.",
            ),
        ],
        IstioKind::K8sHTTPRoute
        | IstioKind::K8sGRPCRoute
        | IstioKind::K8sTCPRoute
        | IstioKind::K8sTLSRoute => &[
            (
                "spec.parentRefs",
                "The Gateways (or services) the route attaches to.",
            ),
            (
                "spec.rules",
                "Matches and the backends (backendRefs) they send traffic to.",
            ),
        ],
        IstioKind::K8sReferenceGrant => &[
            (
                "spec.from",
                "Kinds and namespaces allowed to refer to objects of this namespace.",
            ),
            ("spec.to", "Kinds of this namespace they may refer to."),
        ],
    }
}

/// `/api/namespaces/{ns}/istio/{group}/{version}/{kind}/{name}` (Kiali's `IstioConfigDetails`):
/// the object of `clusterName` (the home cluster by default), with `validate=true` its
/// validation, its references (Istio objects both ways, services, workloads — of every cluster
/// the caller sees) and with `help=true` the help of its kind's fields.
pub async fn get_config_detail(
    State(s): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((ns, group, version, kind, name)): Path<(String, String, String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    check_path_names(&ns, &name)?;
    let k = IstioKind::from_group_kind(&group, &kind).ok_or_else(|| {
        let allowed: Vec<String> = IstioKind::ALL
            .iter()
            .map(|k| format!("{}/{}", k.group(), k.kind()))
            .collect();
        Error::bad_param("group/kind", format!("{group}/{kind}"), allowed.join(", "))
    })?;
    let p = Params(q);
    let validate = p.bool("validate", false)?;
    let with_help = p.bool("help", false)?;
    if let Some(c) = p.cluster() {
        s.check_cluster(c)?;
    }
    let id = &caller.id;
    // Every namespace the caller sees: references and validations cross namespaces.
    let views = s.views(id, None, None).await?;
    s.require_namespaces(id, &views, std::slice::from_ref(&ns))?;
    let cluster = match p.cluster() {
        Some(c) => c.to_string(),
        None => views
            .clusters
            .iter()
            .filter(|v| v.may_see(&ns))
            .max_by_key(|v| v.entry.is_home)
            .map(|v| v.name().to_string())
            .unwrap_or_default(),
    };
    let Some(view) = views.clusters.iter().find(|v| v.name() == cluster) else {
        return Err(Error::NotFound(format!(
            "cluster {cluster} is not reachable now"
        )));
    };
    if !view.may_see(&ns) {
        return Err(Error::Forbidden(format!(
            "user {} may not read namespace {ns} in cluster {cluster}",
            id.name()
        )));
    }
    let Some(obj) = view.istio(k).into_iter().find(|o| {
        o.metadata.namespace.as_deref() == Some(&ns) && o.metadata.name.as_deref() == Some(&name)
    }) else {
        return Err(Error::NotFound(format!(
            "{group}/{version} {kind} {ns}/{name} not found in cluster {cluster}"
        )));
    };
    let stored_version = view
        .entry
        .cache
        .istio_resource(k)
        .map(|ar| ar.version)
        .unwrap_or(version);
    let permissions = permissions::of(&s, &caller, &cluster, &ns, k).await;
    let opts = s.validation_options();
    let (views, refs, validation) = blocking({
        let (cluster, ns, name) = (cluster.clone(), ns.clone(), name.clone());
        move || {
            let configs = views.configs();
            let refs = references(&configs, &cluster, k, &ns, &name);
            let validation = validate.then(|| {
                validations::validate_with(&configs, &opts)
                    .into_iter()
                    .find(|v| {
                        v.cluster == cluster
                            && v.namespace == ns
                            && v.name == name
                            && v.istio_kind() == Some(k)
                    })
            });
            (views, refs, validation.flatten())
        }
    })
    .await?;
    let help: Option<Vec<Value>> = with_help.then(|| {
        help(k)
            .iter()
            .map(|(f, m)| json!({"objectField": f, "message": m}))
            .collect()
    });
    let body = json!({
        "namespace": {"name": ns, "cluster": cluster},
        "cluster": cluster,
        "gvk": {"Group": k.group(), "Version": stored_version, "Kind": k.kind()},
        "resource": obj.as_ref(),
        "permissions": permissions,
        "validation": validation,
        "references": refs.unwrap_or_default(),
        "help": help,
    });
    Ok(views.respond(body))
}
