//! Per-cluster watch caches: one kube-runtime reflector per kind, objects stripped of what the
//! server never reads so that memory stays proportional to what is shown.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::reflector::{Lookup, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use crate::cached::{
    self, Compact, PodTemplateSpec, SlimDaemonSet, SlimDeployment, SlimPod, SlimReplicaSet,
    SlimService, SlimStatefulSet, Workload,
};
use crate::changes::Changes;
use crate::namespace_memo::{ListMemo, ServiceMemo, WorkloadMemo};
use crate::sync_state::ClusterState;
pub use crate::sync_state::{CORE_KIND_NAMES, CORE_KINDS};

pub use meshglass_engine::IstioKind;

/// Every kind the cache watches, as RBAC names it: `(api group, resource)`. The server's roles
/// must grant read access to exactly these (the operator's least-privilege test compares them).
pub fn cached_resources() -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        ("", "namespaces"),
        ("", "pods"),
        ("", "services"),
        ("apps", "daemonsets"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
    ];
    v.extend(IstioKind::ALL.iter().map(|k| (k.group(), k.resource())));
    v.sort();
    v
}

/// The ApiResource of an Istio kind at `version` (v1 where discovery is not available: tests).
pub fn api_resource(kind: IstioKind, version: &str) -> ApiResource {
    ApiResource {
        group: kind.group().to_string(),
        version: version.to_string(),
        api_version: format!("{}/{}", kind.group(), version),
        kind: kind.kind().to_string(),
        plural: kind.resource().to_string(),
    }
}

/// The watched objects of one cluster; pods and workloads in their cached shapes
/// ([`crate::cached`]).
pub struct ClusterCache {
    pub namespaces: Store<Namespace>,
    pub services: Store<SlimService>,
    pub deployments: Store<SlimDeployment>,
    pub statefulsets: Store<SlimStatefulSet>,
    pub daemonsets: Store<SlimDaemonSet>,
    pub replicasets: Store<SlimReplicaSet>,
    pub pods: Store<SlimPod>,
    istio: RwLock<BTreeMap<IstioKind, (ApiResource, Store<DynamicObject>)>>,
    /// Which namespaces changed, stamped by the watches once a change is in the stores.
    pub changes: Arc<Changes>,
    /// The list pages' items, kept per namespace while it does not change.
    pub lists: ListMemo,
    /// The workloads of each namespace, kept while it does not change.
    pub workloads: WorkloadMemo,
    /// The services of each namespace as the engine reads them, kept while it does not change.
    pub service_infos: ServiceMemo,
}

/// The writing halves of a [`ClusterCache`], fed by the watches.
pub struct CacheWriters {
    namespaces: Writer<Namespace>,
    services: Writer<SlimService>,
    deployments: Writer<SlimDeployment>,
    statefulsets: Writer<SlimStatefulSet>,
    daemonsets: Writer<SlimDaemonSet>,
    replicasets: Writer<SlimReplicaSet>,
    pods: Writer<SlimPod>,
    changes: Arc<Changes>,
}

/// Objects to load into an in-memory cache (tests, benchmarks), as k8s-openapi objects: the
/// cache turns them into what a watch would have cached of them.
#[derive(Default, Clone)]
pub struct Objects {
    pub namespaces: Vec<Namespace>,
    pub services: Vec<Service>,
    pub deployments: Vec<Deployment>,
    pub statefulsets: Vec<StatefulSet>,
    pub daemonsets: Vec<DaemonSet>,
    pub replicasets: Vec<ReplicaSet>,
    pub pods: Vec<Pod>,
    pub istio: Vec<(IstioKind, DynamicObject)>,
}

fn loaded<K>(objs: Vec<K>, dyntype: K::DynamicType) -> Store<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    let mut w = Writer::new(dyntype);
    w.apply_watcher_event(&watcher::Event::Init);
    for o in objs {
        w.apply_watcher_event(&watcher::Event::InitApply(o));
    }
    w.apply_watcher_event(&watcher::Event::InitDone);
    w.as_reader()
}

impl ClusterCache {
    /// An empty cache and its writers.
    pub fn new() -> (Arc<ClusterCache>, CacheWriters) {
        let w = CacheWriters {
            namespaces: Writer::default(),
            services: Writer::default(),
            deployments: Writer::default(),
            statefulsets: Writer::default(),
            daemonsets: Writer::default(),
            replicasets: Writer::default(),
            pods: Writer::default(),
            changes: Arc::default(),
        };
        let cache = ClusterCache {
            namespaces: w.namespaces.as_reader(),
            services: w.services.as_reader(),
            deployments: w.deployments.as_reader(),
            statefulsets: w.statefulsets.as_reader(),
            daemonsets: w.daemonsets.as_reader(),
            replicasets: w.replicasets.as_reader(),
            pods: w.pods.as_reader(),
            istio: RwLock::new(BTreeMap::new()),
            changes: w.changes.clone(),
            lists: ListMemo::default(),
            workloads: WorkloadMemo::default(),
            service_infos: ServiceMemo::default(),
        };
        (Arc::new(cache), w)
    }

    /// A cache holding `objs` as the watches would cache them (no watch).
    pub fn from_objects(objs: Objects) -> Arc<ClusterCache> {
        let mut istio: BTreeMap<IstioKind, Vec<DynamicObject>> = BTreeMap::new();
        for (k, o) in objs.istio {
            istio.entry(k).or_default().push(o);
        }
        let istio = IstioKind::ALL
            .into_iter()
            .map(|k| {
                let ar = api_resource(k, "v1");
                let store = loaded(istio.remove(&k).unwrap_or_default(), ar.clone());
                (k, (ar, store))
            })
            .collect();
        Arc::new(ClusterCache {
            namespaces: loaded(objs.namespaces.into_iter().map(strip_meta).collect(), ()),
            services: loaded(
                cached_as(&objs.services, cached::service, strip_service),
                (),
            ),
            deployments: loaded(
                cached_as(&objs.deployments, cached::deployment, strip_workload),
                (),
            ),
            statefulsets: loaded(
                cached_as(&objs.statefulsets, cached::statefulset, strip_workload),
                (),
            ),
            daemonsets: loaded(
                cached_as(&objs.daemonsets, cached::daemonset, strip_workload),
                (),
            ),
            replicasets: loaded(
                cached_as(&objs.replicasets, cached::replicaset, strip_workload),
                (),
            ),
            pods: loaded(objs.pods.iter().map(strip_pod).collect(), ()),
            istio: RwLock::new(istio),
            changes: Arc::default(),
            lists: ListMemo::default(),
            workloads: WorkloadMemo::default(),
            service_infos: ServiceMemo::default(),
        })
    }

    /// The names of the cluster's namespaces that `keep` accepts, sorted.
    pub fn namespace_names(&self, keep: &dyn Fn(&str) -> bool) -> Vec<String> {
        let mut v: Vec<String> = self
            .namespaces
            .state()
            .iter()
            .filter_map(|n| n.metadata.name.clone())
            .filter(|n| keep(n))
            .collect();
        v.sort();
        v
    }

    /// Whether the cluster has the namespace `ns` (what is kept of a deleted one is dropped).
    pub fn has_namespace(&self, ns: &str) -> bool {
        self.namespaces
            .get(&kube::runtime::reflector::ObjectRef::new(ns))
            .is_some()
    }

    /// Cached objects of one Istio kind (empty when the CRD is absent).
    pub fn istio(&self, kind: IstioKind) -> Vec<Arc<DynamicObject>> {
        let map = self.istio.read().unwrap_or_else(|e| e.into_inner());
        map.get(&kind).map(|(_, s)| s.state()).unwrap_or_default()
    }

    /// The ApiResource (with the served version) of an Istio kind, when watched.
    pub fn istio_resource(&self, kind: IstioKind) -> Option<ApiResource> {
        let map = self.istio.read().unwrap_or_else(|e| e.into_inner());
        map.get(&kind).map(|(ar, _)| ar.clone())
    }

    /// The Istio kinds currently watched.
    pub fn istio_kinds(&self) -> Vec<IstioKind> {
        let map = self.istio.read().unwrap_or_else(|e| e.into_inner());
        map.keys().copied().collect()
    }

    fn add_istio(&self, kind: IstioKind, ar: ApiResource, store: Store<DynamicObject>) {
        let mut map = self.istio.write().unwrap_or_else(|e| e.into_inner());
        map.insert(kind, (ar, store));
    }
}

/// Drops the fields of metadata no route reads.
fn strip_meta<K: Resource>(mut o: K) -> K {
    strip_meta_mut(&mut o);
    o
}

/// The annotation `kubectl apply` leaves: the whole object again, never read.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn strip_meta_mut<K: Resource>(o: &mut K) {
    let m = o.meta_mut();
    m.managed_fields = None;
    if let Some(a) = m.annotations.as_mut() {
        a.remove(LAST_APPLIED);
    }
}

/// Drops, besides [`strip_meta_mut`]'s, what inventories never read of a pod's or a workload's
/// metadata (never shown whole, unlike Istio objects): its uid, and of its owner references
/// all but the controller's kind and name.
fn strip_inventoried_meta<K: Resource>(o: &mut K) {
    strip_meta_mut(o);
    let m = o.meta_mut();
    m.uid = None;
    if let Some(refs) = m.owner_references.take() {
        let controller: Vec<_> = refs
            .into_iter()
            .filter(|r| r.controller == Some(true))
            .map(|r| OwnerReference {
                kind: r.kind,
                name: r.name,
                controller: r.controller,
                ..Default::default()
            })
            .collect();
        m.owner_references = (!controller.is_empty()).then_some(controller);
    }
}

/// `objs` in their cached shape, stripped as the watches strip them.
fn cached_as<T, S>(objs: &[T], shape: fn(&T) -> S, strip: fn(&mut S)) -> Vec<S> {
    objs.iter()
        .map(|o| {
            let mut s = shape(o);
            strip(&mut s);
            s
        })
        .collect()
}

/// Keeps of a workload's pod template's containers' environment only `CLUSTER_ID` (the
/// control plane's, `inventory::component`): the injected proxy's is most of what the cached
/// shape still decodes of a template.
fn strip_template(t: &mut PodTemplateSpec) {
    for c in t.spec.iter_mut().flat_map(|s| &mut s.containers) {
        if let Some(env) = c.env.take() {
            let kept: Vec<_> = env.into_iter().filter(|e| e.name == "CLUSTER_ID").collect();
            c.env = (!kept.is_empty()).then_some(kept);
        }
    }
}

/// Compacts a stripped object's labels and annotations, without `kubectl apply`'s
/// annotation ([`strip_meta_mut`] drops it from an object not compacted yet; one decoded by
/// `cached`'s shape functions already is).
fn compact_stripped(o: &mut impl Compact) {
    o.compact();
    o.parts_mut().2.retain(|k| k != LAST_APPLIED);
}

/// What the services' watch keeps of a Service: [`strip_meta_mut`]'s, its maps compacted.
pub(crate) fn strip_service(s: &mut SlimService) {
    strip_meta_mut(s);
    compact_stripped(s);
}

pub(crate) fn strip_workload<K>(w: &mut Workload<K>)
where
    Workload<K>: Resource,
{
    strip_inventoried_meta(w);
    if let Some(t) = w.spec.as_mut().and_then(|s| s.template.as_mut()) {
        strip_template(t);
    }
    compact_stripped(w);
}

/// What the pods' watch caches of `p`.
pub fn strip_pod(p: &Pod) -> SlimPod {
    let mut p = cached::pod(p);
    strip_pod_mut(&mut p);
    p
}

/// Keeps of a pod's metadata what inventories, health and sidecar detection read (its spec
/// and status are already only that, [`SlimPod`]).
pub(crate) fn strip_pod_mut(p: &mut SlimPod) {
    strip_inventoried_meta(p);
    p.metadata.generate_name = None;
    p.compact();
    p.annotations
        .retain(|k| k == "sidecar.istio.io/status" || k.starts_with("health.kiali.io"));
}

/// Stamps the namespace of a change the reflector has just applied (a namespace's own change
/// stamps that namespace), or every namespace when a list replaced the store.
fn stamp<K: Resource>(changes: &Changes, ev: &watcher::Event<K>) {
    match ev {
        watcher::Event::Apply(o) | watcher::Event::Delete(o) => {
            let m = o.meta();
            changes.changed(
                m.namespace
                    .as_deref()
                    .or(m.name.as_deref())
                    .unwrap_or_default(),
            );
        }
        watcher::Event::InitDone => changes.relisted(),
        watcher::Event::Init | watcher::Event::InitApply(_) => {}
    }
}

async fn run_watch<K>(
    api: Api<K>,
    writer: Writer<K>,
    kind: &'static str,
    state: Arc<ClusterState>,
    changes: Arc<Changes>,
    strip: fn(&mut K),
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let cfg = watcher::Config::default().page_size(500);
    let stream = watcher(api, cfg)
        .default_backoff()
        .modify(strip)
        .reflect(writer);
    let mut stream = std::pin::pin!(stream);
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(ev) => {
                stamp(&changes, &ev);
                if matches!(ev, watcher::Event::InitDone) {
                    state.mark_synced(kind);
                }
            }
            Err(e) => state.watch_error(kind, &e.to_string(), denied_code(&e)),
        }
    }
}

async fn run_dynamic_watch(
    api: Api<DynamicObject>,
    writer: Writer<DynamicObject>,
    kind: &'static str,
    state: Arc<ClusterState>,
    changes: Arc<Changes>,
) {
    let cfg = watcher::Config::default().page_size(500);
    let stream = watcher(api, cfg)
        .default_backoff()
        .modify(strip_meta_mut::<DynamicObject>)
        .reflect(writer);
    let mut stream = std::pin::pin!(stream);
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(ev) => {
                stamp(&changes, &ev);
                if matches!(ev, watcher::Event::InitDone) {
                    state.mark_synced(kind);
                }
            }
            Err(e) => state.watch_error(kind, &e.to_string(), denied_code(&e)),
        }
    }
}

/// The status code (401/403) of a failed cheap list (`limit=1`, metadata only) of `api`.
async fn denied_list<K>(api: Api<K>) -> Option<u16>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    match api
        .list_metadata(&kube::api::ListParams::default().limit(1))
        .await
    {
        Err(kube::Error::Api(s)) if matches!(s.code, 401 | 403) => Some(s.code),
        _ => None,
    }
}

/// The core kinds the client may not list (RBAC removed, token revoked), with the status code.
/// Other failures (timeouts, 5xx) are the probe's business and count as permitted here.
pub async fn denied_core_kinds(client: &Client) -> BTreeMap<&'static str, u16> {
    let c = client;
    let codes = futures::join!(
        denied_list(Api::<Namespace>::all(c.clone())),
        denied_list(Api::<Service>::all(c.clone())),
        denied_list(Api::<Deployment>::all(c.clone())),
        denied_list(Api::<StatefulSet>::all(c.clone())),
        denied_list(Api::<DaemonSet>::all(c.clone())),
        denied_list(Api::<ReplicaSet>::all(c.clone())),
        denied_list(Api::<Pod>::all(c.clone())),
    );
    let codes = [
        codes.0, codes.1, codes.2, codes.3, codes.4, codes.5, codes.6,
    ];
    CORE_KIND_NAMES
        .into_iter()
        .zip(codes)
        .filter_map(|(k, c)| c.map(|c| (k, c)))
        .collect()
}

/// The status code of a watch error that says the credentials or permissions are gone.
fn denied_code(e: &watcher::Error) -> Option<u16> {
    let code = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code,
        watcher::Error::WatchError(s) => s.code,
        _ => return None,
    };
    matches!(code, 401 | 403).then_some(code)
}

/// Spawns one watch per core kind on `tasks`.
pub fn spawn_core_watches(
    client: &Client,
    w: CacheWriters,
    state: &Arc<ClusterState>,
    tasks: &mut tokio::task::JoinSet<()>,
) {
    let c = client.clone();
    tasks.spawn(run_watch(
        Api::<Namespace>::all(c.clone()),
        w.namespaces,
        "namespaces",
        state.clone(),
        w.changes.clone(),
        strip_meta_mut,
    ));
    tasks.spawn(run_watch(
        Api::<SlimService>::all(c.clone()),
        w.services,
        "services",
        state.clone(),
        w.changes.clone(),
        strip_service,
    ));
    tasks.spawn(run_watch(
        Api::<SlimDeployment>::all(c.clone()),
        w.deployments,
        "deployments",
        state.clone(),
        w.changes.clone(),
        strip_workload,
    ));
    tasks.spawn(run_watch(
        Api::<SlimStatefulSet>::all(c.clone()),
        w.statefulsets,
        "statefulsets",
        state.clone(),
        w.changes.clone(),
        strip_workload,
    ));
    tasks.spawn(run_watch(
        Api::<SlimDaemonSet>::all(c.clone()),
        w.daemonsets,
        "daemonsets",
        state.clone(),
        w.changes.clone(),
        strip_workload,
    ));
    tasks.spawn(run_watch(
        Api::<SlimReplicaSet>::all(c.clone()),
        w.replicasets,
        "replicasets",
        state.clone(),
        w.changes.clone(),
        strip_workload,
    ));
    tasks.spawn(run_watch(
        Api::<SlimPod>::all(c),
        w.pods,
        "pods",
        state.clone(),
        w.changes.clone(),
        strip_pod_mut,
    ));
}

/// Whether a denied watch of `kind` degrades only that kind rather than the whole cluster: the
/// kinds cached since the telemetry/extensions and Gateway API work, which a remote role written
/// before them lacks. The networking and security kinds Kiali always read stay required.
pub fn is_optional(kind: IstioKind) -> bool {
    matches!(
        kind,
        IstioKind::EnvoyFilter | IstioKind::Telemetry | IstioKind::WasmPlugin
    ) || kind.is_gateway_api()
}

/// Discovers which Istio kinds are served and watches them; kinds whose CRD is missing are
/// looked for again periodically, so installing Istio later needs no restart.
pub async fn run_istio_discovery(
    client: Client,
    cache: Arc<ClusterCache>,
    state: Arc<ClusterState>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let missing: Vec<IstioKind> = {
            let have = cache.istio_kinds();
            IstioKind::ALL
                .into_iter()
                .filter(|k| !have.contains(k))
                .collect()
        };
        if missing.is_empty() {
            break;
        }
        let groups: std::collections::BTreeSet<&str> = missing.iter().map(|k| k.group()).collect();
        for group in groups {
            let Ok(g) = kube::discovery::group(&client, group).await else {
                continue;
            };
            // Each kind at its own most stable version: the group's preferred version (v1 for
            // networking) lacks the kinds served only at an older one (EnvoyFilter, v1alpha3).
            for (ar, _caps) in g.resources_by_stability() {
                let Some(kind) =
                    IstioKind::from_group_kind(&ar.group, &ar.kind).filter(|k| missing.contains(k))
                else {
                    continue;
                };
                let writer = Writer::new(ar.clone());
                if is_optional(kind) {
                    state.optional_istio(kind.label());
                }
                state.expect_istio(kind.label());
                cache.add_istio(kind, ar.clone(), writer.as_reader());
                let api = Api::<DynamicObject>::all_with(client.clone(), &ar);
                tasks.spawn(run_dynamic_watch(
                    api,
                    writer,
                    kind.label(),
                    state.clone(),
                    cache.changes.clone(),
                ));
            }
        }
        state.istio_discovered();
        tokio::time::sleep(std::time::Duration::from_secs(15)).await;
    }
    state.istio_discovered();
    // Keep the watches alive for as long as this task lives.
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
    use k8s_openapi::api::core::v1::{
        Container, ContainerPort, EnvVar, PodCondition, PodSpec, PodStatus, PodTemplateSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};

    #[test]
    fn strip_pod_keeps_only_what_is_read() {
        let mut p = Pod::default();
        p.metadata.name = Some("a".into());
        p.metadata.generate_name = Some("a-".into());
        p.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        p.metadata.annotations = Some(
            [
                ("sidecar.istio.io/status".to_string(), "{}".to_string()),
                ("big".to_string(), "x".repeat(1000)),
            ]
            .into(),
        );
        p.spec = Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("img".into()),
                args: Some(vec!["--x".into()]),
                ports: Some(vec![ContainerPort {
                    name: Some("http".into()),
                    container_port: 9080,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            service_account_name: Some("sa".into()),
            ..Default::default()
        });
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            pod_ip: Some("10.0.0.1".into()),
            host_ip: Some("1.2.3.4".into()),
            ..Default::default()
        });
        let s = strip_pod(&p);
        // The cached shape has no field for the image, the arguments, the conditions or the
        // host's IP; of the metadata the strip drops what is never read.
        // Labels and annotations are moved out of the metadata into compact pairs.
        assert!(s.metadata.annotations.is_none() && s.metadata.labels.is_none());
        assert_eq!(
            s.annotations.iter().collect::<Vec<_>>(),
            [("sidecar.istio.io/status", "{}")]
        );
        assert!(s.metadata.generate_name.is_none() && s.metadata.managed_fields.is_none());
        let spec = s.spec.as_ref().unwrap();
        assert_eq!(spec.containers[0].name, "app");
        let port = &spec.containers[0].ports.as_ref().unwrap()[0];
        assert_eq!(
            (port.name.as_deref(), port.container_port),
            (Some("http"), 9080)
        );
        assert_eq!(spec.service_account_name.as_deref(), Some("sa"));
        let st = s.status.as_ref().unwrap();
        assert_eq!(
            (st.phase.as_deref(), st.pod_ip.as_deref()),
            (Some("Running"), Some("10.0.0.1"))
        );
    }

    #[test]
    fn a_workload_keeps_of_its_template_the_labels_and_the_control_planes_fields() {
        let container = |name: &str| Container {
            name: name.into(),
            image: Some(format!("{name}:1")),
            args: Some(vec!["proxy".into(), "sidecar".into()]),
            env: Some(vec![
                EnvVar {
                    name: "CLUSTER_ID".into(),
                    value: Some("east".into()),
                    ..Default::default()
                },
                EnvVar {
                    name: "PILOT_CERT_PROVIDER".into(),
                    value: Some("istiod".into()),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        let mut d = Deployment::default();
        d.metadata.name = Some("istiod".into());
        d.metadata.namespace = Some("istio-system".into());
        d.spec = Some(DeploymentSpec {
            replicas: Some(2),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([("app".to_string(), "istiod".to_string())].into()),
                    annotations: Some([("big".to_string(), "x".repeat(1000))].into()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container("discovery"), container("istio-proxy")],
                    service_account_name: Some("istiod".into()),
                    ..Default::default()
                }),
            },
            ..Default::default()
        });
        let before = inventory_component(&cached::deployment(&d));
        let c = ClusterCache::from_objects(Objects {
            deployments: vec![d],
            ..Default::default()
        });
        let cached = c.deployments.state().pop().unwrap();
        // What is read of it is unchanged ...
        assert_eq!(inventory_component(&cached), before);
        assert_eq!(before, (Some("discovery:1".into()), Some("east".into()), 2));
        let ws = crate::inventory::workloads(&c, &|_| true, &Default::default());
        assert_eq!(ws[0].labels.get("app").map(String::as_str), Some("istiod"));
        // ... and of the containers' environment only CLUSTER_ID is left (the cached shape has
        // no field for the template's annotations, service account or arguments).
        let spec = cached.spec.as_ref().unwrap();
        let spec = spec.template.as_ref().unwrap().spec.as_ref().unwrap();
        assert_eq!(spec.containers.len(), 2);
        assert!(
            spec.containers
                .iter()
                .all(|c| c.env.as_ref().unwrap().len() == 1)
        );
    }

    fn inventory_component(d: &SlimDeployment) -> (Option<String>, Option<String>, i32) {
        let c = crate::inventory::component(d);
        (c.image, c.cluster_id, c.desired_replicas)
    }

    #[test]
    fn in_memory_cache_serves_objects() {
        let mut ns = Namespace::default();
        ns.metadata.name = Some("bookinfo".into());
        let vs = DynamicObject::new("r", &api_resource(IstioKind::VirtualService, "v1"))
            .within("bookinfo");
        let c = ClusterCache::from_objects(Objects {
            namespaces: vec![ns],
            istio: vec![(IstioKind::VirtualService, vs)],
            ..Default::default()
        });
        assert_eq!(c.namespaces.state().len(), 1);
        assert_eq!(c.istio(IstioKind::VirtualService).len(), 1);
        assert!(c.istio(IstioKind::Gateway).is_empty());
        assert_eq!(
            IstioKind::from_plural("serviceentries"),
            Some(IstioKind::ServiceEntry)
        );
    }
}
