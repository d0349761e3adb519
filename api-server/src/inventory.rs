//! The edge: the caches' Kubernetes objects translated into the engine's inventory and config
//! types. Every route reads workloads, apps and services through these functions, so lists,
//! details, health, the graph and validations group them the same way.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::DynamicObject;
use meshglass_engine::{
    AppLabels, ClusterInventory, ConfigObject, IstioKind, NamespaceInfo, PodInfo, ServiceInfo,
    ServicePort, WorkloadInfo,
};

use crate::cache::ClusterCache;
use crate::cached::{Compact, SlimDeployment, SlimPod, SlimService, TemplateMeta};
use crate::namespace_memo::NamespaceMemo;

/// Whether a pod has an Istio sidecar.
pub fn has_sidecar(p: &SlimPod) -> bool {
    let annotated = p.annotations.contains_key("sidecar.istio.io/status");
    let container = p.spec.as_ref().is_some_and(|s| {
        s.containers.iter().any(|c| c.name == "istio-proxy")
            || s.init_containers
                .as_ref()
                .is_some_and(|cs| cs.iter().any(|c| c.name == "istio-proxy"))
    });
    annotated || container
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

fn created_at(m: &ObjectMeta) -> Option<String> {
    m.creation_timestamp.as_ref().map(|t| t.0.to_string())
}

fn controller_of(m: &ObjectMeta) -> Option<(&str, &str)> {
    m.owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| (o.kind.as_str(), o.name.as_str()))
}

pub(crate) fn pod_info(p: &SlimPod) -> PodInfo {
    PodInfo {
        name: name(&p.metadata),
        labels: p.labels.to_map(),
        created_at: created_at(&p.metadata),
        phase: p
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Unknown".into()),
        node_name: p.spec.as_ref().and_then(|s| s.node_name.clone()),
        service_account: p.spec.as_ref().and_then(|s| s.service_account_name.clone()),
        istio_sidecar: has_sidecar(p),
        ip: p.status.as_ref().and_then(|s| s.pod_ip.clone()),
        annotations: p.annotations.to_map(),
        created_by: controller_of(&p.metadata).map(|(k, n)| (k.to_string(), n.to_string())),
        container_ports: p
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .flat_map(|c| c.ports.iter().flatten())
            .map(|cp| (cp.name.clone().unwrap_or_default(), cp.container_port))
            .collect(),
        containers: p
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .map(|c| c.name.clone())
            .collect(),
    }
}

/// The metadata of a workload's pod template.
fn template_meta(spec: &Option<crate::cached::WorkloadSpec>) -> Option<&TemplateMeta> {
    spec.as_ref()?.template.as_ref()?.metadata.as_ref()
}

/// A workload of a controller object (or a bare pod), its replica counts still to fill in. Its
/// labels are its pod template's, when it has one.
fn controller(
    o: &impl Compact,
    kind: &str,
    group: &str,
    template: Option<&TemplateMeta>,
) -> WorkloadInfo {
    let (m, own_labels, annotations) = o.parts();
    WorkloadInfo {
        name: name(m),
        namespace: ns(m),
        kind: kind.to_string(),
        group: group.to_string(),
        labels: template.map_or(own_labels, |t| &t.labels).to_map(),
        annotations: annotations.to_map(),
        created_at: created_at(m),
        resource_version: m.resource_version.clone(),
        synced_proxies: -1,
        ..WorkloadInfo::default()
    }
}

/// Every workload of a cluster in the namespaces `keep` accepts: Deployments, StatefulSets,
/// DaemonSets, ReplicaSets without a Deployment and bare pods, each with its pods, sorted by
/// namespace and name.
pub fn workloads(
    cache: &ClusterCache,
    keep: &dyn Fn(&str) -> bool,
    rules: &AppLabels,
) -> Vec<WorkloadInfo> {
    let mut out: BTreeMap<(String, String), WorkloadInfo> = BTreeMap::new();
    let mut put = |w: WorkloadInfo| {
        out.insert((w.namespace.clone(), w.name.clone()), w);
    };
    for d in cache.deployments.state() {
        if !keep(&ns(&d.metadata)) {
            continue;
        }
        let tpl = template_meta(&d.spec);
        let mut w = controller(d.as_ref(), "Deployment", "apps", tpl);
        w.desired_replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        if let Some(st) = &d.status {
            w.current_replicas = st.replicas.unwrap_or(0);
            w.available_replicas = st.available_replicas.unwrap_or(0);
        }
        put(w);
    }
    for s in cache.statefulsets.state() {
        if !keep(&ns(&s.metadata)) {
            continue;
        }
        let tpl = template_meta(&s.spec);
        let mut w = controller(s.as_ref(), "StatefulSet", "apps", tpl);
        w.desired_replicas = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        if let Some(st) = &s.status {
            w.current_replicas = st.replicas.unwrap_or(0);
            w.available_replicas = st.available_replicas.unwrap_or(0);
        }
        put(w);
    }
    for d in cache.daemonsets.state() {
        if !keep(&ns(&d.metadata)) {
            continue;
        }
        let tpl = template_meta(&d.spec);
        let mut w = controller(d.as_ref(), "DaemonSet", "apps", tpl);
        if let Some(st) = &d.status {
            w.desired_replicas = st.desired_number_scheduled.unwrap_or(0);
            w.current_replicas = st.current_number_scheduled.unwrap_or(0);
            w.available_replicas = st.number_available.unwrap_or(0);
        }
        put(w);
    }
    // ReplicaSet -> owning Deployment, to attribute pods.
    let mut rs_owner: HashMap<(String, String), String> = HashMap::new();
    for r in cache.replicasets.state() {
        if !keep(&ns(&r.metadata)) {
            continue;
        }
        if let Some(("Deployment", dep)) = controller_of(&r.metadata) {
            rs_owner.insert((ns(&r.metadata), name(&r.metadata)), dep.to_string());
            continue;
        }
        let tpl = template_meta(&r.spec);
        let mut w = controller(r.as_ref(), "ReplicaSet", "apps", tpl);
        w.desired_replicas = r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        if let Some(st) = &r.status {
            w.current_replicas = st.replicas.unwrap_or(0);
            w.available_replicas = st.available_replicas.unwrap_or(0);
        }
        put(w);
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
                let mut w = controller(p.as_ref(), "Pod", "", None);
                let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                w.desired_replicas = 1;
                w.current_replicas = 1;
                w.available_replicas = i32::from(running);
                w.pods.push(pod_info(&p));
                out.insert((w.namespace.clone(), w.name.clone()), w);
                continue;
            }
        };
        if let Some(w) = out.get_mut(&(pns, owner)) {
            w.pods.push(pod_info(&p));
        }
    }
    let mut v: Vec<WorkloadInfo> = out.into_values().collect();
    for w in &mut v {
        w.pods.sort_by(|a, b| a.name.cmp(&b.name));
        w.istio_sidecar = !w.pods.is_empty() && w.pods.iter().all(|p| p.istio_sidecar);
        w.resolve_app(rules);
    }
    v.extend(workload_groups(cache, keep, rules));
    v.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    v
}

/// What [`workloads`] answers, each namespace's workloads shared and kept between calls while
/// the namespace does not change ([`crate::namespace_memo`]): the graph, health and validations
/// read every workload of the namespaces they cover, and would otherwise build them all again.
/// Namespaces are those of the cluster's namespace cache.
pub fn shared_workloads(
    cache: &ClusterCache,
    keep: &dyn Fn(&str) -> bool,
    rules: &AppLabels,
) -> Vec<Arc<WorkloadInfo>> {
    let digest = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        rules.hash(&mut h);
        h.finish()
    };
    kept(
        cache,
        &cache.workloads,
        digest,
        keep,
        |stale| workloads(cache, &|ns| stale.contains(ns), rules),
        |w| &w.namespace,
    )
}

/// The items of the namespaces `keep` accepts, each namespace's kept in `memo` under `key`
/// while the namespace does not change, the others built by `build` (given the namespaces to
/// build) and kept from then on.
fn kept<K, T>(
    cache: &ClusterCache,
    memo: &NamespaceMemo<K, Arc<Vec<Arc<T>>>>,
    key: K,
    keep: &dyn Fn(&str) -> bool,
    build: impl FnOnce(&BTreeSet<&str>) -> Vec<T>,
    namespace: impl Fn(&T) -> &String,
) -> Vec<Arc<T>>
where
    K: Copy + Eq + std::hash::Hash,
{
    let names = cache.namespace_names(keep);
    let parts = memo.items(
        key,
        &names,
        &cache.changes,
        &|ns| cache.has_namespace(ns),
        |stale| {
            let mut by: HashMap<String, Vec<Arc<T>>> = HashMap::new();
            for item in build(stale) {
                by.entry(namespace(&item).clone())
                    .or_default()
                    .push(Arc::new(item));
            }
            by
        },
    );
    parts.iter().flat_map(|p| p.iter().cloned()).collect()
}

/// Kiali's WorkloadGroup workloads: each group with the WorkloadEntries it created (owned by
/// it, or carrying its template labels in its namespace) as its replicas, all of them available
/// and in the mesh (an entry is a proxy that registered itself). Labels and annotations are the
/// group's template's (`spec.metadata`).
fn workload_groups(
    cache: &ClusterCache,
    keep: &dyn Fn(&str) -> bool,
    rules: &AppLabels,
) -> Vec<WorkloadInfo> {
    let entries = cache.istio(IstioKind::WorkloadEntry);
    let map = |v: &serde_json::Value| -> BTreeMap<String, String> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for g in cache.istio(IstioKind::WorkloadGroup) {
        let gns = ns(&g.metadata);
        if !keep(&gns) {
            continue;
        }
        let gname = name(&g.metadata);
        let template = &g.data["spec"]["metadata"];
        let labels = map(&template["labels"]);
        let members = entries
            .iter()
            .filter(|e| ns(&e.metadata) == gns)
            .filter(|e| {
                matches!(controller_of(&e.metadata), Some(("WorkloadGroup", o)) if o == gname)
                    || (!labels.is_empty()
                        && labels.iter().all(|(k, v)| {
                            e.metadata.labels.as_ref().and_then(|l| l.get(k)) == Some(v)
                        }))
            })
            .count() as i32;
        let mut w = WorkloadInfo {
            name: gname,
            namespace: gns,
            kind: "WorkloadGroup".into(),
            group: IstioKind::WorkloadGroup.group().into(),
            labels,
            annotations: map(&template["annotations"]),
            created_at: created_at(&g.metadata),
            resource_version: g.metadata.resource_version.clone(),
            desired_replicas: members,
            current_replicas: members,
            available_replicas: members,
            istio_sidecar: members > 0,
            synced_proxies: -1,
            ..WorkloadInfo::default()
        };
        w.resolve_app(rules);
        out.push(w);
    }
    out
}

/// The selector of a Service.
pub fn service_selector(s: &SlimService) -> BTreeMap<String, String> {
    s.spec
        .as_ref()
        .map(|s| s.selector.to_map())
        .unwrap_or_default()
}

fn service_info(s: &SlimService) -> ServiceInfo {
    let spec = s.spec.as_ref();
    ServiceInfo {
        name: name(&s.metadata),
        namespace: ns(&s.metadata),
        selector: service_selector(s),
        ports: spec
            .and_then(|s| s.ports.as_ref())
            .map(|ps| {
                ps.iter()
                    .map(|p| ServicePort {
                        name: p.name.clone().unwrap_or_default(),
                        port: p.port,
                        protocol: p.protocol.clone().unwrap_or_default(),
                        app_protocol: p.app_protocol.clone(),
                        target_port: p.target_port.as_ref().map(|t| match t {
                            IntOrString::Int(n) => n.to_string(),
                            IntOrString::String(s) => s.clone(),
                        }),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        labels: s.labels.to_map(),
        annotations: s.annotations.to_map(),
        ip_addresses: spec.and_then(|s| s.cluster_ips.clone()).unwrap_or_default(),
        cluster_ip: spec.and_then(|s| s.cluster_ip.clone()),
        service_type: spec
            .and_then(|s| s.type_.clone())
            .unwrap_or_else(|| "ClusterIP".into()),
        external_name: spec.and_then(|s| s.external_name.clone()),
        ip_families: spec.and_then(|s| s.ip_families.clone()).unwrap_or_default(),
        created_at: created_at(&s.metadata),
        resource_version: s.metadata.resource_version.clone(),
    }
}

/// Services of a cluster in the namespaces `keep` accepts, sorted by namespace and name.
pub fn services(cache: &ClusterCache, keep: &dyn Fn(&str) -> bool) -> Vec<ServiceInfo> {
    let mut v: Vec<ServiceInfo> = cache
        .services
        .state()
        .iter()
        .filter(|s| keep(&ns(&s.metadata)))
        .map(|s| service_info(s))
        .collect();
    v.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    v
}

/// What [`services`] answers, each namespace's services shared and kept between calls while the
/// namespace does not change ([`crate::namespace_memo`]), as [`shared_workloads`] keeps workloads.
pub fn shared_services(cache: &ClusterCache, keep: &dyn Fn(&str) -> bool) -> Vec<Arc<ServiceInfo>> {
    kept(
        cache,
        &cache.service_infos,
        (),
        keep,
        |stale| services(cache, &|ns| stale.contains(ns)),
        |s| &s.namespace,
    )
}

/// Namespaces of a cluster that `keep` accepts.
pub fn namespaces(cache: &ClusterCache, keep: &dyn Fn(&str) -> bool) -> Vec<NamespaceInfo> {
    cache
        .namespaces
        .state()
        .iter()
        .filter(|n| n.metadata.name.as_deref().is_some_and(keep))
        .map(|n| NamespaceInfo {
            name: name(&n.metadata),
            labels: labels(&n.metadata),
            annotations: n.metadata.annotations.clone().unwrap_or_default(),
        })
        .collect()
}

/// An Istio object as the engine reads it.
pub fn config_object(kind: IstioKind, o: &DynamicObject) -> ConfigObject {
    ConfigObject {
        kind,
        name: name(&o.metadata),
        namespace: ns(&o.metadata),
        version: o
            .types
            .as_ref()
            .and_then(|t| t.api_version.split('/').nth(1).map(String::from))
            .unwrap_or_else(|| "v1".into()),
        spec: o.data["spec"].clone(),
    }
}

/// One cluster's inventory in the namespaces `keep` accepts; `service_entries` are the
/// cluster's ServiceEntries (already filtered by the caller).
pub fn cluster_inventory(
    name: &str,
    cache: &ClusterCache,
    keep: &dyn Fn(&str) -> bool,
    rules: &AppLabels,
    service_entries: &[ConfigObject],
    routing: Vec<ConfigObject>,
) -> ClusterInventory {
    ClusterInventory {
        name: name.to_string(),
        namespaces: namespaces(cache, keep),
        services: shared_services(cache, keep),
        workloads: shared_workloads(cache, keep, rules),
        service_entries: service_entries
            .iter()
            .map(ConfigObject::service_entry)
            .collect(),
        routing,
    }
}

/// A Deployment of the Istio namespace as the engine reads it.
pub fn component(d: &SlimDeployment) -> meshglass_engine::mesh::Component {
    let containers = d
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref()?.spec.as_ref())
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    let first = containers
        .iter()
        .find(|c| c.name == "discovery")
        .or(containers.first());
    let cluster_id = containers.iter().find_map(|c| {
        c.env
            .iter()
            .flatten()
            .find(|e| e.name == "CLUSTER_ID")
            .and_then(|e| e.value.clone())
            .filter(|v| !v.is_empty())
    });
    let status = d.status.as_ref();
    meshglass_engine::mesh::Component {
        name: d.metadata.name.clone().unwrap_or_default(),
        namespace: d.metadata.namespace.clone().unwrap_or_default(),
        labels: d.labels.to_map(),
        desired_replicas: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        current_replicas: status.and_then(|s| s.replicas).unwrap_or(0),
        available_replicas: status.and_then(|s| s.available_replicas).unwrap_or(0),
        cluster_id,
        image: first.and_then(|c| c.image.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Objects;
    use crate::fixtures::*;

    #[test]
    fn pods_are_attributed_through_replicasets() {
        let mut o = Objects::default();
        deployment(&mut o, "bookinfo", "reviews", "v1", 2, 1);
        deployment(&mut o, "other", "x", "v1", 1, 1);
        let c = ClusterCache::from_objects(o);
        let ws = workloads(&c, &|n| n == "bookinfo", &AppLabels::default());
        assert_eq!(ws.len(), 1);
        let w = &ws[0];
        assert_eq!(
            (
                w.name.as_str(),
                w.kind.as_str(),
                w.desired_replicas,
                w.available_replicas
            ),
            ("reviews-v1", "Deployment", 2, 1)
        );
        assert_eq!(w.pods.len(), 2);
        assert!(w.istio_sidecar);
        assert_eq!(w.app(), Some("reviews"));
        assert_eq!(w.service_accounts(), vec!["bookinfo-reviews".to_string()]);
        let item = crate::kiali_json::workload_item("east", w);
        assert_eq!(item["podCount"], 2);
        assert_eq!(item["cluster"], "east");
    }

    // Issue 22, point 5: WorkloadGroups were not workloads at all.
    #[test]
    fn workload_groups_are_workloads_with_their_entries_as_replicas() {
        let mut o = Objects::default();
        let tpl = serde_json::json!({"metadata": {"labels": {"app": "vm", "version": "v1"}},
                                     "template": {"serviceAccount": "vm"}});
        istio(
            &mut o,
            IstioKind::WorkloadGroup,
            "bookinfo",
            "vm",
            tpl.clone(),
        );
        istio(&mut o, IstioKind::WorkloadGroup, "other", "elsewhere", tpl);
        for (name, labelled) in [("vm-1", true), ("vm-2", true), ("stray", false)] {
            let mut e = kube::api::DynamicObject::new(
                name,
                &crate::cache::api_resource(IstioKind::WorkloadEntry, "v1"),
            )
            .within("bookinfo");
            if labelled {
                e.metadata.labels =
                    Some([("app".into(), "vm".into()), ("version".into(), "v1".into())].into());
            }
            e.data = serde_json::json!({"spec": {"address": "10.0.0.9"}});
            o.istio.push((IstioKind::WorkloadEntry, e));
        }
        let c = ClusterCache::from_objects(o);
        let ws = workloads(&c, &|n| n == "bookinfo", &AppLabels::default());
        assert_eq!(ws.len(), 1, "{ws:?}");
        let w = &ws[0];
        assert_eq!(
            (w.kind.as_str(), w.group.as_str()),
            ("WorkloadGroup", "networking.istio.io")
        );
        assert_eq!((w.desired_replicas, w.available_replicas), (2, 2));
        assert_eq!((w.app(), w.version()), (Some("vm"), Some("v1")));
        assert!(w.istio_sidecar && w.pods.is_empty());
        let item = crate::kiali_json::workload_item("east", w);
        assert_eq!(item["gvk"]["Kind"], "WorkloadGroup");
        assert_eq!(item["gvk"]["Group"], "networking.istio.io");
    }

    #[test]
    fn selectors() {
        let l: BTreeMap<String, String> = [("app".to_string(), "a".to_string())].into();
        assert!(meshglass_engine::selector_matches(&l, &l));
        assert!(!meshglass_engine::selector_matches(&BTreeMap::new(), &l));
    }
}
