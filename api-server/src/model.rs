//! Inventories built from the caches: workloads (with their pods), apps and services of one
//! cluster, in the shape the routes and the health engine need.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use crate::cache::ClusterCache;

/// Label keys Kiali reads for app and version, in order of preference.
pub const APP_LABELS: [&str; 2] = ["app", "app.kubernetes.io/name"];
pub const VERSION_LABELS: [&str; 2] = ["version", "app.kubernetes.io/version"];

/// The app label of a label set.
pub fn app_of(labels: &BTreeMap<String, String>) -> Option<&str> {
    APP_LABELS
        .iter()
        .find_map(|k| labels.get(*k))
        .map(String::as_str)
}

/// The version label of a label set.
pub fn version_of(labels: &BTreeMap<String, String>) -> Option<&str> {
    VERSION_LABELS
        .iter()
        .find_map(|k| labels.get(*k))
        .map(String::as_str)
}

/// A workload: a Deployment, StatefulSet, DaemonSet, a ReplicaSet without a Deployment, or a
/// bare Pod.
#[derive(Debug, Clone)]
pub struct Workload {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub kind: &'static str,
    pub group: &'static str,
    /// Labels of the pod template (what traffic and apps are keyed by).
    pub labels: BTreeMap<String, String>,
    pub created_at: Option<String>,
    pub resource_version: Option<String>,
    pub desired: i32,
    pub current: i32,
    pub available: i32,
    pub pods: Vec<Arc<Pod>>,
    pub annotations: BTreeMap<String, String>,
}

impl Workload {
    /// Whether the workload's pods carry an Istio sidecar (all of them, and at least one).
    pub fn istio_sidecar(&self) -> bool {
        !self.pods.is_empty() && self.pods.iter().all(|p| has_sidecar(p))
    }

    /// The app label value.
    pub fn app(&self) -> Option<&str> {
        app_of(&self.labels)
    }

    /// The version label value.
    pub fn version(&self) -> Option<&str> {
        version_of(&self.labels)
    }

    /// Service accounts used by the pods.
    pub fn service_accounts(&self) -> Vec<String> {
        let set: BTreeSet<String> = self
            .pods
            .iter()
            .filter_map(|p| p.spec.as_ref()?.service_account_name.clone())
            .collect();
        set.into_iter().collect()
    }

    /// Kiali's workload list item.
    pub fn list_item(&self) -> Value {
        json!({
            "name": self.name,
            "namespace": self.namespace,
            "cluster": self.cluster,
            "gvk": {"Group": self.group, "Version": "v1", "Kind": self.kind},
            "createdAt": self.created_at,
            "resourceVersion": self.resource_version,
            "labels": self.labels,
            "appLabel": self.app().is_some(),
            "versionLabel": self.version().is_some(),
            "istioSidecar": self.istio_sidecar(),
            "isAmbient": false,
            "podCount": self.pods.len(),
            "serviceAccountNames": self.service_accounts(),
            "istioReferences": [],
        })
    }

    /// Kiali's workload status (health input).
    pub fn status(&self) -> Value {
        json!({
            "name": self.name,
            "desiredReplicas": self.desired,
            "currentReplicas": self.current,
            "availableReplicas": self.available,
            "syncedProxies": -1,
        })
    }

    /// Detail of the workload for one cluster.
    pub fn detail(&self, services: &[&Service]) -> Value {
        let mut v = self.list_item();
        v["desiredReplicas"] = json!(self.desired);
        v["currentReplicas"] = json!(self.current);
        v["availableReplicas"] = json!(self.available);
        v["annotations"] = json!(self.annotations);
        v["pods"] = Value::Array(
            self.pods
                .iter()
                .map(|p| pod_json(&self.cluster, p))
                .collect(),
        );
        v["services"] = Value::Array(
            services
                .iter()
                .map(|s| service_item(&self.cluster, s))
                .collect(),
        );
        v
    }
}

/// Whether a pod has an Istio sidecar.
pub fn has_sidecar(p: &Pod) -> bool {
    let annotated = p
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("sidecar.istio.io/status"));
    let container = p.spec.as_ref().is_some_and(|s| {
        s.containers.iter().any(|c| c.name == "istio-proxy")
            || s.init_containers
                .as_ref()
                .is_some_and(|cs| cs.iter().any(|c| c.name == "istio-proxy"))
    });
    annotated || container
}

fn pod_json(cluster: &str, p: &Pod) -> Value {
    json!({
        "name": p.metadata.name,
        "cluster": cluster,
        "labels": p.metadata.labels.clone().unwrap_or_default(),
        "createdAt": p.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()),
        "status": p.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_else(|| "Unknown".into()),
        "nodeName": p.spec.as_ref().and_then(|s| s.node_name.clone()),
        "serviceAccountName": p.spec.as_ref().and_then(|s| s.service_account_name.clone()),
        "istioContainers": if has_sidecar(p) { json!([{"name": "istio-proxy"}]) } else { json!([]) },
    })
}

fn labels(m: &ObjectMeta) -> BTreeMap<String, String> {
    m.labels.clone().unwrap_or_default()
}

fn name(m: &ObjectMeta) -> String {
    m.name.clone().unwrap_or_default()
}

fn ns(m: &ObjectMeta) -> String {
    m.namespace.clone().unwrap_or_default()
}

fn controller_of(m: &ObjectMeta) -> Option<(&str, &str)> {
    m.owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| (o.kind.as_str(), o.name.as_str()))
}

/// Every workload of a cluster, optionally restricted to the namespaces `keep` accepts.
pub fn workloads(
    cluster: &str,
    cache: &ClusterCache,
    keep: &dyn Fn(&str) -> bool,
) -> Vec<Workload> {
    let mut out: BTreeMap<(String, String), Workload> = BTreeMap::new();
    let base = |m: &ObjectMeta,
                kind: &'static str,
                group: &'static str,
                tpl: Option<&ObjectMeta>| Workload {
        cluster: cluster.to_string(),
        namespace: ns(m),
        name: name(m),
        kind,
        group,
        labels: tpl.map(labels).unwrap_or_else(|| labels(m)),
        created_at: m.creation_timestamp.as_ref().map(|t| t.0.to_string()),
        resource_version: m.resource_version.clone(),
        desired: 0,
        current: 0,
        available: 0,
        pods: Vec::new(),
        annotations: m.annotations.clone().unwrap_or_default(),
    };
    for d in cache.deployments.state() {
        if !keep(&ns(&d.metadata)) {
            continue;
        }
        let tpl = d.spec.as_ref().and_then(|s| s.template.metadata.as_ref());
        let mut w = base(&d.metadata, "Deployment", "apps", tpl);
        w.desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        if let Some(st) = &d.status {
            w.current = st.replicas.unwrap_or(0);
            w.available = st.available_replicas.unwrap_or(0);
        }
        out.insert((w.namespace.clone(), w.name.clone()), w);
    }
    for s in cache.statefulsets.state() {
        if !keep(&ns(&s.metadata)) {
            continue;
        }
        let tpl = s.spec.as_ref().and_then(|s| s.template.metadata.as_ref());
        let mut w = base(&s.metadata, "StatefulSet", "apps", tpl);
        w.desired = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        if let Some(st) = &s.status {
            w.current = st.replicas;
            w.available = st.available_replicas.unwrap_or(0);
        }
        out.insert((w.namespace.clone(), w.name.clone()), w);
    }
    for d in cache.daemonsets.state() {
        if !keep(&ns(&d.metadata)) {
            continue;
        }
        let tpl = d.spec.as_ref().and_then(|s| s.template.metadata.as_ref());
        let mut w = base(&d.metadata, "DaemonSet", "apps", tpl);
        if let Some(st) = &d.status {
            w.desired = st.desired_number_scheduled;
            w.current = st.current_number_scheduled;
            w.available = st.number_available.unwrap_or(0);
        }
        out.insert((w.namespace.clone(), w.name.clone()), w);
    }
    // ReplicaSet -> owning Deployment, to attribute pods.
    let mut rs_owner: HashMap<(String, String), String> = HashMap::new();
    for r in cache.replicasets.state() {
        if !keep(&ns(&r.metadata)) {
            continue;
        }
        match controller_of(&r.metadata) {
            Some(("Deployment", dep)) => {
                rs_owner.insert((ns(&r.metadata), name(&r.metadata)), dep.to_string());
            }
            _ => {
                let tpl = r
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref()?.metadata.as_ref());
                let mut w = base(&r.metadata, "ReplicaSet", "apps", tpl);
                w.desired = r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                if let Some(st) = &r.status {
                    w.current = st.replicas;
                    w.available = st.available_replicas.unwrap_or(0);
                }
                out.insert((w.namespace.clone(), w.name.clone()), w);
            }
        }
    }
    for p in cache.pods.state() {
        let pns = ns(&p.metadata);
        if !keep(&pns) {
            continue;
        }
        let owner = match controller_of(&p.metadata) {
            Some(("ReplicaSet", rs)) => rs_owner
                .get(&(pns.clone(), rs.to_string()))
                .cloned()
                .unwrap_or_else(|| rs.to_string()),
            Some((_, o)) => o.to_string(),
            None => {
                let mut w = base(&p.metadata, "Pod", "", None);
                let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                w.desired = 1;
                w.current = 1;
                w.available = i32::from(running);
                w.pods.push(p.clone());
                out.insert((w.namespace.clone(), w.name.clone()), w);
                continue;
            }
        };
        if let Some(w) = out.get_mut(&(pns, owner)) {
            w.pods.push(p.clone());
        }
    }
    let mut v: Vec<Workload> = out.into_values().collect();
    for w in &mut v {
        w.pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    }
    v
}

/// Services of a cluster, optionally restricted by namespace.
pub fn services(cache: &ClusterCache, keep: &dyn Fn(&str) -> bool) -> Vec<Arc<Service>> {
    let mut v: Vec<_> = cache
        .services
        .state()
        .into_iter()
        .filter(|s| keep(&ns(&s.metadata)))
        .collect();
    v.sort_by(|a, b| {
        (ns(&a.metadata), name(&a.metadata)).cmp(&(ns(&b.metadata), name(&b.metadata)))
    });
    v
}

/// Whether a selector matches a label set (an empty selector matches nothing, as for
/// Services).
pub fn selector_matches(sel: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The selector of a Service.
pub fn service_selector(s: &Service) -> BTreeMap<String, String> {
    s.spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default()
}

/// Kiali's service list item.
pub fn service_item(cluster: &str, s: &Service) -> Value {
    let spec = s.spec.as_ref();
    let ports: Vec<Value> = spec
        .and_then(|s| s.ports.as_ref())
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    json!({
                        "name": p.name, "protocol": p.protocol, "port": p.port,
                        "appProtocol": p.app_protocol,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "name": name(&s.metadata),
        "namespace": ns(&s.metadata),
        "cluster": cluster,
        "labels": labels(&s.metadata),
        "selector": service_selector(s),
        "ports": ports,
        "ipAddresses": spec.and_then(|s| s.cluster_ips.clone()).unwrap_or_default(),
        "serviceRegistry": "Kubernetes",
        "istioReferences": [],
    })
}

/// Workloads grouped by app (per namespace) for one cluster.
pub fn apps(workloads: &[Workload]) -> BTreeMap<(String, String), Vec<&Workload>> {
    let mut m: BTreeMap<(String, String), Vec<&Workload>> = BTreeMap::new();
    for w in workloads {
        if let Some(app) = w.app() {
            m.entry((w.namespace.clone(), app.to_string()))
                .or_default()
                .push(w);
        }
    }
    m
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Builders for cache objects used by the unit tests.
    use super::*;
    use crate::cache::{IstioKind, Objects};
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStatus, ReplicaSet};
    use k8s_openapi::api::core::v1::{
        Namespace, PodSpec, PodStatus, PodTemplateSpec, ServicePort, ServiceSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
    use kube::api::DynamicObject;

    pub fn meta(ns: &str, name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: if ns.is_empty() { None } else { Some(ns.into()) },
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    pub fn namespace(name: &str) -> Namespace {
        Namespace {
            metadata: meta("", name, &[]),
            ..Default::default()
        }
    }

    /// A Deployment `name` (labels app=<app>, version=<version>) with `available` of
    /// `replicas` available, its ReplicaSet and `replicas` pods with sidecars.
    pub fn deployment(
        o: &mut Objects,
        ns: &str,
        app: &str,
        version: &str,
        replicas: i32,
        available: i32,
    ) {
        let name = format!("{app}-{version}");
        let l = [("app", app), ("version", version)];
        o.deployments.push(Deployment {
            metadata: meta(ns, &name, &l),
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                selector: LabelSelector::default(),
                template: PodTemplateSpec {
                    metadata: Some(meta("", "", &l)),
                    spec: None,
                },
                ..Default::default()
            }),
            status: Some(DeploymentStatus {
                replicas: Some(replicas),
                available_replicas: Some(available),
                ..Default::default()
            }),
        });
        let rs_name = format!("{name}-abc");
        let mut rs_meta = meta(ns, &rs_name, &l);
        rs_meta.owner_references = Some(vec![OwnerReference {
            kind: "Deployment".into(),
            name: name.clone(),
            controller: Some(true),
            ..Default::default()
        }]);
        o.replicasets.push(ReplicaSet {
            metadata: rs_meta,
            ..Default::default()
        });
        for i in 0..replicas {
            let mut pm = meta(ns, &format!("{rs_name}-{i}"), &l);
            pm.owner_references = Some(vec![OwnerReference {
                kind: "ReplicaSet".into(),
                name: rs_name.clone(),
                controller: Some(true),
                ..Default::default()
            }]);
            pm.annotations =
                Some([("sidecar.istio.io/status".to_string(), "{}".to_string())].into());
            o.pods.push(Pod {
                metadata: pm,
                spec: Some(PodSpec {
                    service_account_name: Some(format!("bookinfo-{app}")),
                    ..Default::default()
                }),
                status: Some(PodStatus {
                    phase: Some("Running".into()),
                    ..Default::default()
                }),
            });
        }
    }

    pub fn service(o: &mut Objects, ns: &str, app: &str) {
        o.services.push(Service {
            metadata: meta(ns, app, &[("app", app)]),
            spec: Some(ServiceSpec {
                selector: Some([("app".to_string(), app.to_string())].into()),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: 9080,
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        });
    }

    pub fn istio(o: &mut Objects, kind: IstioKind, ns: &str, name: &str, spec: Value) {
        let mut d = DynamicObject::new(name, &kind.api_resource("v1")).within(ns);
        d.data = json!({ "spec": spec });
        o.istio.push((kind, d));
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::cache::Objects;

    #[test]
    fn pods_are_attributed_through_replicasets() {
        let mut o = Objects::default();
        deployment(&mut o, "bookinfo", "reviews", "v1", 2, 1);
        deployment(&mut o, "other", "x", "v1", 1, 1);
        let c = ClusterCache::from_objects(o);
        let ws = workloads("east", &c, &|n| n == "bookinfo");
        assert_eq!(ws.len(), 1);
        let w = &ws[0];
        assert_eq!(
            (w.name.as_str(), w.kind, w.desired, w.available),
            ("reviews-v1", "Deployment", 2, 1)
        );
        assert_eq!(w.pods.len(), 2);
        assert!(w.istio_sidecar());
        assert_eq!(w.app(), Some("reviews"));
        assert_eq!(w.service_accounts(), vec!["bookinfo-reviews".to_string()]);
        let item = w.list_item();
        assert_eq!(item["podCount"], 2);
        assert_eq!(item["cluster"], "east");
    }

    #[test]
    fn selectors() {
        let l: BTreeMap<String, String> = [("app".to_string(), "a".to_string())].into();
        assert!(selector_matches(&l, &l));
        assert!(!selector_matches(&BTreeMap::new(), &l));
    }
}
