//! Kiali's JSON for the inventory: workload, pod, service and app items as Kiali's model types
//! name their fields. Built from the engine's inventory types, never from Kubernetes objects.

use std::collections::{BTreeMap, BTreeSet};

use meshglass_engine::{PodInfo, ServiceInfo, WorkloadInfo};
use serde_json::{Value, json};

/// Kiali's workload list item.
pub fn workload_item(cluster: &str, w: &WorkloadInfo) -> Value {
    json!({
        "name": w.name,
        "namespace": w.namespace,
        "cluster": cluster,
        "gvk": {"Group": w.group, "Version": "v1", "Kind": w.kind},
        "createdAt": w.created_at,
        "resourceVersion": w.resource_version,
        "labels": w.labels,
        "appLabel": w.app().is_some(),
        "versionLabel": w.version().is_some(),
        "istioSidecar": w.istio_sidecar,
        "isAmbient": false,
        "podCount": w.pods.len(),
        "serviceAccountNames": w.service_accounts(),
        "istioReferences": [],
    })
}

/// Detail of a workload in one cluster, with the services selecting it.
pub fn workload_detail(cluster: &str, w: &WorkloadInfo, services: &[&ServiceInfo]) -> Value {
    let mut v = workload_item(cluster, w);
    v["desiredReplicas"] = json!(w.desired_replicas);
    v["currentReplicas"] = json!(w.current_replicas);
    v["availableReplicas"] = json!(w.available_replicas);
    v["annotations"] = json!(w.annotations);
    v["pods"] = Value::Array(w.pods.iter().map(|p| pod(cluster, p)).collect());
    v["services"] = Value::Array(services.iter().map(|s| service_item(cluster, s)).collect());
    v
}

fn pod(cluster: &str, p: &PodInfo) -> Value {
    json!({
        "name": p.name,
        "cluster": cluster,
        "labels": p.labels,
        "createdAt": p.created_at,
        "status": p.phase,
        "nodeName": p.node_name,
        "serviceAccountName": p.service_account,
        "istioContainers": if p.istio_sidecar { json!([{"name": "istio-proxy"}]) } else { json!([]) },
    })
}

/// "" in the inventory is an absent value in Kiali's JSON.
fn opt(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Kiali's service list item.
pub fn service_item(cluster: &str, s: &ServiceInfo) -> Value {
    let ports: Vec<Value> = s
        .ports
        .iter()
        .map(|p| {
            json!({
                "name": opt(&p.name), "protocol": opt(&p.protocol), "port": p.port,
                "appProtocol": p.app_protocol,
            })
        })
        .collect();
    json!({
        "name": s.name,
        "namespace": s.namespace,
        "cluster": cluster,
        "labels": s.labels,
        "selector": s.selector,
        "ports": ports,
        "ipAddresses": s.ip_addresses,
        "serviceRegistry": "Kubernetes",
        "istioReferences": [],
    })
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
        "labels": labels,
        "istioReferences": [],
    })
}

/// A workload of an app's detail.
pub fn app_workload(cluster: &str, w: &WorkloadInfo) -> Value {
    json!({
        "workloadName": w.name,
        "cluster": cluster,
        "istioSidecar": w.istio_sidecar,
        "isAmbient": false,
        "labels": w.labels,
        "serviceAccountNames": w.service_accounts(),
        "gvk": {"Group": w.group, "Version": "v1", "Kind": w.kind},
    })
}
