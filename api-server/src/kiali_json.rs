//! Kiali's JSON for the inventory: workload, pod, service and app items as Kiali's model types
//! (`models/workload.go`, `service.go`, `app.go`, `pod.go`) name and type their fields. Built from
//! the engine's inventory types, never from Kubernetes objects. Fields Kiali has and we cannot
//! fill (ambient, waypoints, runtimes, additional details) are present with Kiali's empty value;
//! `docs/kiali-compatibility.md` lists them.

use std::collections::{BTreeMap, BTreeSet};

use meshglass_engine::validations::Validation;
use meshglass_engine::{AppLabels, PodInfo, ServiceInfo, WorkloadInfo};
use serde_json::{Value, json};

/// The `health.kiali.io/*` annotations of an object (Kiali's `healthAnnotations`).
pub fn health_annotations(a: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    a.iter()
        .filter(|(k, _)| k.starts_with("health.kiali.io/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Kiali's `schema.GroupVersionKind` of a workload.
fn gvk(w: &WorkloadInfo) -> Value {
    json!({"Group": w.group, "Version": "v1", "Kind": w.kind})
}

/// Whether a workload is an Istio or Gateway API gateway (Kiali's `IsGateway`).
fn is_gateway(w: &WorkloadInfo) -> bool {
    matches!(
        w.labels.get("istio").map(String::as_str),
        Some("ingressgateway" | "egressgateway")
    ) || w
        .labels
        .contains_key("gateway.networking.k8s.io/gateway-name")
}

/// Kiali's `WorkloadListItem`.
pub fn workload_item(cluster: &str, w: &WorkloadInfo) -> Value {
    json!({
        "name": w.name,
        "namespace": w.namespace,
        "cluster": cluster,
        "ambient": "",
        "gvk": gvk(w),
        "createdAt": w.created_at.clone().unwrap_or_default(),
        "resourceVersion": w.resource_version.clone().unwrap_or_default(),
        "istioSidecar": w.istio_sidecar,
        "isAmbient": false,
        "isGateway": is_gateway(w),
        "additionalDetailSample": null,
        "labels": w.labels,
        "appLabel": w.app().is_some(),
        "versionLabel": w.version().is_some(),
        "podCount": w.pods.len(),
        "annotations": w.annotations,
        "healthAnnotations": health_annotations(&w.annotations),
        "istioReferences": [],
        "dashboardAnnotations": {},
        "serviceAccountNames": w.service_accounts(),
        "waypointWorkloads": [],
    })
}

/// Kiali's `Workload` (details) of one cluster, with the services selecting it as
/// `ServiceOverview`s.
pub fn workload_detail(cluster: &str, w: &WorkloadInfo, services: &[Value]) -> Value {
    let mut v = workload_item(cluster, w);
    v["desiredReplicas"] = json!(w.desired_replicas);
    v["currentReplicas"] = json!(w.current_replicas);
    v["availableReplicas"] = json!(w.available_replicas);
    v["pods"] = Value::Array(w.pods.iter().map(|p| pod(cluster, p)).collect());
    v["services"] = Value::Array(services.to_vec());
    v["runtimes"] = json!([]);
    v["additionalDetails"] = json!([]);
    v["validations"] = json!({});
    v
}

/// The name of Istio's sidecar container.
pub const PROXY_CONTAINER: &str = "istio-proxy";

/// Kiali's `Pod`; `cluster` and `nodeName` are ours.
pub fn pod(cluster: &str, p: &PodInfo) -> Value {
    let created_by: Vec<Value> = p
        .created_by
        .iter()
        .map(|(kind, name)| json!({"name": name, "kind": kind}))
        .collect();
    let ready = p.phase == "Running";
    let container = |name: &str, is_proxy: bool| json!({"name": name, "image": "", "isProxy": is_proxy, "isReady": ready, "isAmbient": false});
    let app_containers: Vec<Value> = p
        .containers
        .iter()
        .filter(|c| c.as_str() != PROXY_CONTAINER)
        .map(|c| container(c, false))
        .collect();
    json!({
        "name": p.name,
        "cluster": cluster,
        "labels": p.labels,
        "createdAt": p.created_at.clone().unwrap_or_default(),
        "createdBy": created_by,
        "containers": app_containers,
        "istioContainers": if p.istio_sidecar { json!([container(PROXY_CONTAINER, true)]) } else { json!([]) },
        "istioInitContainers": [],
        "status": p.phase,
        "statusMessage": "",
        "statusReason": "",
        "appLabel": p.labels.contains_key("app"),
        "versionLabel": p.labels.contains_key("version"),
        "annotations": p.annotations,
        "proxyStatus": null,
        "serviceAccountName": p.service_account.clone().unwrap_or_default(),
        "nodeName": p.node_name,
    })
}

/// Kiali's `ServiceOverview` (service list items, a workload's services): `ports` maps port
/// names to numbers, as Kiali's model does (an unnamed port is keyed by its number).
pub fn service_overview(
    cluster: &str,
    s: &ServiceInfo,
    istio_sidecar: bool,
    app_labels: &AppLabels,
) -> Value {
    let ports: BTreeMap<String, i32> = s
        .ports
        .iter()
        .map(|p| {
            let name = if p.name.is_empty() {
                p.port.to_string()
            } else {
                p.name.clone()
            };
            (name, p.port)
        })
        .collect();
    json!({
        "name": s.name,
        "namespace": s.namespace,
        "cluster": cluster,
        "istioSidecar": istio_sidecar,
        "isAmbient": false,
        "appLabel": app_labels.app(&s.labels).is_some(),
        "additionalDetailSample": null,
        "annotations": s.annotations,
        "healthAnnotations": health_annotations(&s.annotations),
        "ports": ports,
        "labels": s.labels,
        "selector": s.selector,
        "istioReferences": [],
        "kialiWizard": "",
        "serviceRegistry": "Kubernetes",
    })
}

/// Kiali's `Service` (the `service` of service details): `ports` a list of `{name, protocol,
/// port}`.
pub fn service(cluster: &str, s: &ServiceInfo) -> Value {
    let ports: Vec<Value> = s
        .ports
        .iter()
        .map(|p| json!({"name": p.name, "protocol": p.protocol, "port": p.port, "appProtocol": p.app_protocol}))
        .collect();
    let mut v = json!({
        "additionalDetails": [],
        "annotations": s.annotations,
        "cluster": cluster,
        "createdAt": s.created_at.clone().unwrap_or_default(),
        "externalName": s.external_name.clone().unwrap_or_default(),
        "healthAnnotations": health_annotations(&s.annotations),
        "ip": s.cluster_ip.clone().unwrap_or_default(),
        "labels": s.labels,
        "name": s.name,
        "namespace": s.namespace,
        "ports": ports,
        "resourceVersion": s.resource_version.clone().unwrap_or_default(),
        "selectors": s.selector,
        "type": s.service_type,
    });
    if !s.ip_addresses.is_empty() {
        v["ips"] = json!(s.ip_addresses);
    }
    if !s.ip_families.is_empty() {
        v["ipFamilies"] = json!(s.ip_families);
    }
    v
}

/// Kiali's `Endpoints` of a service: one subset with the running pods of the selected workloads
/// and the service's ports (built from the pods: the server does not cache Endpoints).
pub fn endpoints(s: &ServiceInfo, workloads: &[&WorkloadInfo]) -> Value {
    let addresses: Vec<Value> = workloads
        .iter()
        .flat_map(|w| &w.pods)
        .filter(|p| p.phase == "Running")
        .filter_map(|p| {
            let ip = p.ip.as_ref()?;
            Some(json!({"kind": "Pod", "name": p.name, "ip": ip}))
        })
        .collect();
    if addresses.is_empty() {
        return json!([]);
    }
    let ports: Vec<Value> = s
        .ports
        .iter()
        .map(|p| json!({"name": p.name, "protocol": p.protocol, "port": p.port}))
        .collect();
    json!([{"addresses": addresses, "ports": ports}])
}

/// Kiali's app list item: the workloads of one app in one namespace of one cluster.
pub fn app_item(cluster: &str, ns: &str, app: &str, ws: &[&WorkloadInfo]) -> Value {
    let versions: BTreeSet<&str> = ws.iter().filter_map(|w| w.version()).collect();
    let mut labels = BTreeMap::new();
    labels.insert("app".to_string(), app.to_string());
    if !versions.is_empty() {
        labels.insert(
            "version".to_string(),
            versions.into_iter().collect::<Vec<_>>().join(","),
        );
    }
    json!({
        "name": app,
        "namespace": ns,
        "cluster": cluster,
        "istioSidecar": ws.iter().all(|w| w.istio_sidecar),
        "isAmbient": false,
        "isGateway": ws.iter().any(|w| is_gateway(w)),
        "labels": labels,
        "istioReferences": [],
    })
}

/// Kiali's `WorkloadItem` of an app's details; `cluster` is ours.
pub fn app_workload(cluster: &str, w: &WorkloadInfo) -> Value {
    json!({
        "workloadName": w.name,
        "workloadGVK": gvk(w),
        "cluster": cluster,
        "istioSidecar": w.istio_sidecar,
        "isAmbient": false,
        "labels": w.labels,
        "serviceAccountNames": w.service_accounts(),
    })
}

/// Kiali's `IstioValidations` JSON: `{"<group>/<version>, Kind=<kind>": {"<name>.<namespace>":
/// validation}}`.
pub fn validations<'a>(vals: impl IntoIterator<Item = &'a Validation>) -> Value {
    let mut map: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for val in vals {
        map.entry(val.gvk_key()).or_default().insert(
            format!("{}.{}", val.name, val.namespace),
            serde_json::to_value(val).unwrap_or(Value::Null),
        );
    }
    json!(map)
}
