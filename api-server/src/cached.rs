//! The shapes in which the caches keep pods and workloads: only the fields some route reads,
//! decoded straight from the API server's JSON (serde skips every other field, so neither the
//! decode nor the cache pays for a k8s-openapi `PodSpec`'s ~45 and a `Container`'s ~30 fields).
//!
//! Field names and paths are the Kubernetes ones, so a reader of `pod.spec.containers[].ports`
//! reads what it would of a k8s-openapi `Pod`. Metadata is k8s-openapi's `ObjectMeta` (the watches
//! strip it of what is never read, `cache::strip_meta_mut`): `kube::Resource` needs one. Labels
//! and annotations are moved out of it into compact [`Pairs`] (`compact`).
//!
//! `cache::Objects` (fixtures, tests, benchmarks) still takes k8s-openapi objects; [`pod`],
//! [`deployment`] and the like turn them into these through their JSON, the way a watch does.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::marker::PhantomData;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Labels or annotations as a cache keeps them: sorted pairs in one allocation. A
/// `BTreeMap`, as `ObjectMeta` holds them, takes a 544-byte node however few entries it has
/// (most objects have two to six), for each of the ~50,000 pods, workloads and templates of a
/// big mesh.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pairs(Box<[(Box<str>, Box<str>)]>);

impl Pairs {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &*self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    /// Keeps the pairs whose key `keep` accepts.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        if self.0.iter().all(|(k, _)| keep(k)) {
            return;
        }
        let kept: Vec<_> = std::mem::take(&mut self.0)
            .into_vec()
            .into_iter()
            .filter(|(k, _)| keep(k))
            .collect();
        self.0 = kept.into_boxed_slice();
    }

    /// The pairs as the engine's types hold them.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl From<BTreeMap<String, String>> for Pairs {
    fn from(map: BTreeMap<String, String>) -> Pairs {
        // A BTreeMap iterates in key order: the pairs are sorted as `get` searches them.
        Pairs(
            map.into_iter()
                .map(|(k, v)| (k.into_boxed_str(), v.into_boxed_str()))
                .collect(),
        )
    }
}

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Pairs, D::Error> {
        Ok(Option::<BTreeMap<String, String>>::deserialize(d)?
            .map(Pairs::from)
            .unwrap_or_default())
    }
}

/// A cached object whose labels and annotations are kept as [`Pairs`], moved out of its
/// `ObjectMeta` when it is cached.
pub trait Compact {
    /// Its metadata, labels and annotations.
    fn parts(&self) -> (&ObjectMeta, &Pairs, &Pairs);

    /// The same, to change.
    fn parts_mut(&mut self) -> (&mut ObjectMeta, &mut Pairs, &mut Pairs);

    /// Moves the labels and annotations out of the metadata (what every cached pod, workload
    /// and Service goes through; a second call changes nothing).
    fn compact(&mut self) {
        let (meta, labels, annotations) = self.parts_mut();
        if let Some(m) = meta.labels.take() {
            *labels = Pairs::from(m);
        }
        if let Some(m) = meta.annotations.take() {
            *annotations = Pairs::from(m);
        }
    }
}

/// [`Compact`] for a shape with `metadata`, `labels` and `annotations` fields (a generic shape
/// names its type parameter after it).
macro_rules! compact_fields {
    ($shape:ty $(, $g:ident)?) => {
        impl$(<$g>)? Compact for $shape {
            fn parts(&self) -> (&ObjectMeta, &Pairs, &Pairs) {
                (&self.metadata, &self.labels, &self.annotations)
            }
            fn parts_mut(&mut self) -> (&mut ObjectMeta, &mut Pairs, &mut Pairs) {
                (&mut self.metadata, &mut self.labels, &mut self.annotations)
            }
        }
    };
}

compact_fields!(SlimPod);
compact_fields!(SlimService);
compact_fields!(Workload<K>, K);

/// A cached pod: what inventories and sidecar detection read. Its labels and annotations are
/// moved out of `metadata` into [`Pairs`] when it is cached ([`Compact`]).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimPod {
    pub metadata: ObjectMeta,
    pub spec: Option<PodSpec>,
    pub status: Option<PodStatus>,
    #[serde(skip)]
    pub labels: Pairs,
    #[serde(skip)]
    pub annotations: Pairs,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Vec<Container>,
    /// Read for their names only (an `istio-proxy` among them is a native sidecar).
    pub init_containers: Option<Vec<Container>>,
    pub node_name: Option<String>,
    pub service_account_name: Option<String>,
}

/// A pod's container: its name, and its ports' names and numbers (what KIA0701 compares with
/// the services' target ports).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Container {
    #[serde(default)]
    pub name: String,
    pub ports: Option<Vec<ContainerPort>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub name: Option<String>,
    #[serde(default)]
    pub container_port: i32,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PodStatus {
    pub phase: Option<String>,
    /// The endpoints of a service's details.
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
}

/// A cached Service: what the services list, details and the engine read (`service_info`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimService {
    pub metadata: ObjectMeta,
    pub spec: Option<ServiceSpec>,
    /// Moved out of `metadata` when cached ([`Compact`]), as a pod's are.
    #[serde(skip)]
    pub labels: Pairs,
    #[serde(skip)]
    pub annotations: Pairs,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(default)]
    pub selector: Pairs,
    pub ports: Option<Vec<ServicePort>>,
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    #[serde(rename = "clusterIPs")]
    pub cluster_ips: Option<Vec<String>>,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub external_name: Option<String>,
    pub ip_families: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub name: Option<String>,
    #[serde(default)]
    pub port: i32,
    pub protocol: Option<String>,
    pub app_protocol: Option<String>,
    pub target_port: Option<k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>,
}

/// Which kind a [`Workload`] is.
pub trait WorkloadKind {
    const KIND: &'static str;
    const PLURAL: &'static str;
}

macro_rules! workload_kind {
    ($marker:ident, $kind:literal, $plural:literal) => {
        #[derive(Clone, Debug, Default)]
        pub struct $marker;
        impl WorkloadKind for $marker {
            const KIND: &'static str = $kind;
            const PLURAL: &'static str = $plural;
        }
    };
}

workload_kind!(DeploymentKind, "Deployment", "deployments");
workload_kind!(ReplicaSetKind, "ReplicaSet", "replicasets");
workload_kind!(StatefulSetKind, "StatefulSet", "statefulsets");
workload_kind!(DaemonSetKind, "DaemonSet", "daemonsets");

/// A cached controller of pods (an `apps/v1` kind): its replica counts and of its pod template
/// what is read (labels; the control plane's containers' names, images and `CLUSTER_ID`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(bound = "")]
pub struct Workload<K> {
    pub metadata: ObjectMeta,
    pub spec: Option<WorkloadSpec>,
    pub status: Option<WorkloadStatus>,
    /// Moved out of `metadata` when cached ([`Compact`]), as a pod's are.
    #[serde(skip)]
    pub labels: Pairs,
    #[serde(skip)]
    pub annotations: Pairs,
    #[serde(skip)]
    kind: PhantomData<K>,
}

pub type SlimDeployment = Workload<DeploymentKind>;
pub type SlimReplicaSet = Workload<ReplicaSetKind>;
pub type SlimStatefulSet = Workload<StatefulSetKind>;
pub type SlimDaemonSet = Workload<DaemonSetKind>;

/// The spec of every workload kind (a DaemonSet has no `replicas`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct WorkloadSpec {
    pub replicas: Option<i32>,
    pub template: Option<PodTemplateSpec>,
}

/// The status of every workload kind: Deployments, ReplicaSets and StatefulSets count
/// `replicas`, DaemonSets `…NumberScheduled`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadStatus {
    pub replicas: Option<i32>,
    pub available_replicas: Option<i32>,
    pub desired_number_scheduled: Option<i32>,
    pub current_number_scheduled: Option<i32>,
    pub number_available: Option<i32>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PodTemplateSpec {
    pub metadata: Option<TemplateMeta>,
    pub spec: Option<TemplateSpec>,
}

/// A template's labels: the workload's app and version (`inventory::controller`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TemplateMeta {
    #[serde(default)]
    pub labels: Pairs,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct TemplateSpec {
    #[serde(default)]
    pub containers: Vec<TemplateContainer>,
}

/// A template's container as `inventory::component` reads a control plane's: the watches keep
/// of `env` only `CLUSTER_ID` (`cache::strip_template`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TemplateContainer {
    #[serde(default)]
    pub name: String,
    pub image: Option<String>,
    pub env: Option<Vec<EnvVar>>,
}

/// An environment variable's literal value (`valueFrom` is not read).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct EnvVar {
    #[serde(default)]
    pub name: String,
    pub value: Option<String>,
}

/// `kube::Resource` for a cached shape of a core (`v1`) kind.
macro_rules! core_resource {
    ($shape:ty, $kind:literal, $plural:literal) => {
        impl Resource for $shape {
            type DynamicType = ();
            type Scope = k8s_openapi::NamespaceResourceScope;

            fn kind(_: &()) -> Cow<'_, str> {
                $kind.into()
            }
            fn group(_: &()) -> Cow<'_, str> {
                "".into()
            }
            fn version(_: &()) -> Cow<'_, str> {
                "v1".into()
            }
            fn plural(_: &()) -> Cow<'_, str> {
                $plural.into()
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

core_resource!(SlimPod, "Pod", "pods");
core_resource!(SlimService, "Service", "services");

impl<K: WorkloadKind> Resource for Workload<K> {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        K::KIND.into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "apps".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        K::PLURAL.into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// `o` decoded through its JSON, as a watch decodes the API server's, and compacted.
fn through_json<T: Serialize, S: DeserializeOwned + Compact>(o: &T) -> S {
    // A k8s-openapi object always serializes, and its JSON has every field these types read
    // in the type they read it as.
    let mut shape: S = serde_json::to_value(o)
        .and_then(serde_json::from_value)
        .expect("a k8s-openapi object decodes into its cached shape");
    shape.compact();
    shape
}

/// The cached shape of a k8s-openapi pod.
pub fn pod(p: &k8s_openapi::api::core::v1::Pod) -> SlimPod {
    through_json(p)
}

/// The cached shape of a k8s-openapi Service.
pub fn service(s: &k8s_openapi::api::core::v1::Service) -> SlimService {
    through_json(s)
}

/// The cached shape of a k8s-openapi Deployment.
pub fn deployment(d: &k8s_openapi::api::apps::v1::Deployment) -> SlimDeployment {
    through_json(d)
}

/// The cached shape of a k8s-openapi ReplicaSet.
pub fn replicaset(r: &k8s_openapi::api::apps::v1::ReplicaSet) -> SlimReplicaSet {
    through_json(r)
}

/// The cached shape of a k8s-openapi StatefulSet.
pub fn statefulset(s: &k8s_openapi::api::apps::v1::StatefulSet) -> SlimStatefulSet {
    through_json(s)
}

/// The cached shape of a k8s-openapi DaemonSet.
pub fn daemonset(d: &k8s_openapi::api::apps::v1::DaemonSet) -> SlimDaemonSet {
    through_json(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{ClusterCache, Objects, strip_pod_mut, strip_workload};
    use crate::inventory::{component, has_sidecar, pod_info};
    use serde_json::{Value, json};

    /// A pod as Istio's injector and a kubelet leave it: the proxy's full container (arguments,
    /// environment with `valueFrom`, probes, mounts, resources), the init container, volumes,
    /// managed fields and a status with conditions and container statuses.
    fn injected_pod() -> Value {
        let env = |n: &str, v: &str| json!({"name": n, "value": v});
        let field = |n: &str, path: &str| json!({"name": n, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}});
        json!({
          "apiVersion": "v1", "kind": "Pod",
          "metadata": {
            "name": "reviews-v1-5d8f7c9b4-xk2lp", "generateName": "reviews-v1-5d8f7c9b4-",
            "namespace": "bookinfo", "uid": "0b6f8c1e-4c1a-4f7e-9d2b-000000000001",
            "resourceVersion": "4242", "creationTimestamp": "2026-12-01T10:00:00Z",
            "labels": {"app": "reviews", "version": "v1", "pod-template-hash": "5d8f7c9b4",
                       "security.istio.io/tlsMode": "istio",
                       "service.istio.io/canonical-name": "reviews"},
            "annotations": {
              "sidecar.istio.io/status": "{\"initContainers\":[\"istio-init\"],\"containers\":[\"istio-proxy\"]}",
              "kubectl.kubernetes.io/default-container": "reviews",
              "prometheus.io/scrape": "true", "prometheus.io/port": "15020",
              "health.kiali.io/rate": "400,10%,kiali_rate"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "name": "reviews-v1-5d8f7c9b4", "uid": "1c2d", "controller": true,
              "blockOwnerDeletion": true}],
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update",
              "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {}}}]
          },
          "spec": {
            "nodeName": "east-node-0", "serviceAccountName": "bookinfo-reviews",
            "serviceAccount": "bookinfo-reviews", "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
            "initContainers": [{
              "name": "istio-init", "image": "docker.io/istio/proxyv2:1.27.0",
              "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337"],
              "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]},
                                  "runAsUser": 0, "runAsNonRoot": false}
            }],
            "containers": [
              {"name": "reviews", "image": "docker.io/istio/examples-bookinfo-reviews-v1:1.20.1",
               "imagePullPolicy": "IfNotPresent",
               "ports": [{"name": "http", "containerPort": 9080, "protocol": "TCP"}],
               "readinessProbe": {"httpGet": {"path": "/app-health/reviews/readyz", "port": 15020},
                                  "periodSeconds": 10},
               "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
               "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]},
              {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.27.0",
               "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local",
                        "--proxyLogLevel=warning", "--log_output_level=default:info"],
               "env": [env("PILOT_CERT_PROVIDER", "istiod"), env("CA_ADDR", "istiod.istio-system.svc:15012"),
                       field("POD_NAME", "metadata.name"), field("POD_NAMESPACE", "metadata.namespace"),
                       field("INSTANCE_IP", "status.podIP"), env("ISTIO_META_CLUSTER_ID", "east"),
                       env("CLUSTER_ID", "not-a-control-plane"),
                       env("ISTIO_META_WORKLOAD_NAME", "reviews-v1"),
                       {"name": "ISTIO_CPU_LIMIT", "valueFrom": {"resourceFieldRef": {"divisor": "0", "resource": "limits.cpu"}}}],
               "ports": [{"name": "http-envoy-prom", "containerPort": 15090, "protocol": "TCP"}],
               "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021},
                                  "failureThreshold": 4, "periodSeconds": 15},
               "startupProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021},
                                "failureThreshold": 600, "periodSeconds": 1},
               "resources": {"limits": {"cpu": "2", "memory": "1Gi"},
                             "requests": {"cpu": "100m", "memory": "128Mi"}},
               "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                                   "runAsUser": 1337, "runAsGroup": 1337, "runAsNonRoot": true},
               "volumeMounts": [{"name": "istiod-ca-cert", "mountPath": "/var/run/secrets/istio"},
                                {"name": "istio-envoy", "mountPath": "/etc/istio/proxy"},
                                {"name": "istio-token", "mountPath": "/var/run/secrets/tokens"}]}
            ],
            "volumes": [
              {"name": "istio-envoy", "emptyDir": {"medium": "Memory"}},
              {"name": "istio-token", "projected": {"sources": [{"serviceAccountToken":
                {"audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token"}}]}},
              {"name": "istiod-ca-cert", "configMap": {"name": "istio-ca-root-cert"}},
              {"name": "tmp", "emptyDir": {}}
            ]
          },
          "status": {
            "phase": "Running", "hostIP": "172.18.0.2", "podIP": "10.244.0.7",
            "podIPs": [{"ip": "10.244.0.7"}], "qosClass": "Burstable",
            "startTime": "2026-12-01T10:00:00Z",
            "conditions": [{"type": "Ready", "status": "True",
                            "lastTransitionTime": "2026-12-01T10:00:05Z"}],
            "containerStatuses": [{"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.27.0",
              "imageID": "", "ready": true, "restartCount": 0,
              "state": {"running": {"startedAt": "2026-12-01T10:00:02Z"}}}]
          }
        })
    }

    /// What a watch caches: the JSON decoded straight into the cached shape, then stripped.
    fn watched_pod(v: Value) -> SlimPod {
        let mut p: SlimPod = serde_json::from_value(v).unwrap();
        strip_pod_mut(&mut p);
        p
    }

    #[test]
    fn an_injected_pod_is_cached_with_exactly_what_is_read() {
        let full: k8s_openapi::api::core::v1::Pod = serde_json::from_value(injected_pod()).unwrap();
        let watched = watched_pod(injected_pod());
        let loaded = ClusterCache::from_objects(Objects {
            pods: vec![full],
            ..Default::default()
        })
        .pods
        .state()
        .pop()
        .unwrap();
        let info = pod_info(&watched);
        // A test's in-memory cache holds what a watch would.
        assert_eq!(pod_info(&loaded), info);
        assert!(has_sidecar(&watched));
        let want = meshglass_engine::PodInfo {
            name: "reviews-v1-5d8f7c9b4-xk2lp".into(),
            labels: [
                ("app", "reviews"),
                ("version", "v1"),
                ("pod-template-hash", "5d8f7c9b4"),
                ("security.istio.io/tlsMode", "istio"),
                ("service.istio.io/canonical-name", "reviews"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            created_at: Some("2026-12-01T10:00:00Z".into()),
            phase: "Running".into(),
            node_name: Some("east-node-0".into()),
            service_account: Some("bookinfo-reviews".into()),
            istio_sidecar: true,
            ip: Some("10.244.0.7".into()),
            annotations: [
                (
                    "sidecar.istio.io/status",
                    "{\"initContainers\":[\"istio-init\"],\"containers\":[\"istio-proxy\"]}",
                ),
                ("health.kiali.io/rate", "400,10%,kiali_rate"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            created_by: Some(("ReplicaSet".into(), "reviews-v1-5d8f7c9b4".into())),
            container_ports: vec![("http".into(), 9080), ("http-envoy-prom".into(), 15090)],
            containers: vec!["reviews".into(), "istio-proxy".into()],
        };
        assert_eq!(info, want);
        // The metadata keeps what the bare-pod workloads read; the rest of it is gone.
        let m = &watched.metadata;
        assert_eq!(m.resource_version.as_deref(), Some("4242"));
        assert!(m.managed_fields.is_none() && m.generate_name.is_none() && m.uid.is_none());
        let owner = &m.owner_references.as_ref().unwrap()[0];
        assert!(owner.uid.is_empty() && owner.api_version.is_empty());
        let init = watched.spec.as_ref().unwrap().init_containers.as_ref();
        assert_eq!(init.unwrap()[0].name, "istio-init");
        // Labels and annotations live in compact pairs, no longer in the metadata's maps.
        assert!(m.labels.is_none() && m.annotations.is_none());
        assert_eq!(watched.labels.get("app"), Some("reviews"));
        assert_eq!(watched.labels.iter().count(), 5);
        assert!(watched.annotations.contains_key("health.kiali.io/rate"));
        assert!(!watched.annotations.contains_key("prometheus.io/port"));
    }

    #[test]
    fn a_service_is_cached_with_what_its_readers_read() {
        let full = json!({
          "apiVersion": "v1", "kind": "Service",
          "metadata": {"name": "reviews", "namespace": "bookinfo", "resourceVersion": "9",
                       "creationTimestamp": "2026-12-01T10:00:00Z",
                       "labels": {"app": "reviews", "service": "reviews"},
                       "annotations": {"kiali.io/api-type": "rest",
                         "kubectl.kubernetes.io/last-applied-configuration": "{}"},
                       "managedFields": [{"manager": "kubectl"}]},
          "spec": {"selector": {"app": "reviews"}, "type": "ClusterIP",
                   "clusterIP": "10.96.0.7", "clusterIPs": ["10.96.0.7"], "ipFamilies": ["IPv4"],
                   "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                   "ports": [{"name": "http", "port": 9080, "protocol": "TCP",
                              "appProtocol": "http", "targetPort": 9080},
                             {"name": "grpc", "port": 7070, "targetPort": "grpc-web"}]},
          "status": {"loadBalancer": {}}
        });
        let k8s: k8s_openapi::api::core::v1::Service =
            serde_json::from_value(full.clone()).unwrap();
        let cache = ClusterCache::from_objects(Objects {
            services: vec![k8s],
            ..Default::default()
        });
        // As the watch caches it, from the API server's JSON.
        let mut watched: SlimService = serde_json::from_value(full).unwrap();
        crate::cache::strip_service(&mut watched);
        assert!(watched.metadata.labels.is_none() && watched.metadata.managed_fields.is_none());
        assert_eq!(
            watched.annotations.iter().collect::<Vec<_>>(),
            [("kiali.io/api-type", "rest")]
        );
        let info = crate::inventory::services(&cache, &|_| true).pop().unwrap();
        assert_eq!(
            info.selector,
            BTreeMap::from([("app".into(), "reviews".into())])
        );
        assert_eq!(info.labels.len(), 2);
        assert_eq!(info.annotations.len(), 1);
        assert_eq!(
            (info.service_type.as_str(), info.cluster_ip.as_deref()),
            ("ClusterIP", Some("10.96.0.7"))
        );
        assert_eq!(
            (info.ip_addresses.clone(), info.ip_families.clone()),
            (vec!["10.96.0.7".to_string()], vec!["IPv4".to_string()])
        );
        let ports: Vec<_> = info
            .ports
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.port,
                    p.protocol.as_str(),
                    p.app_protocol.as_deref(),
                    p.target_port.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            ports,
            [
                ("http", 9080, "TCP", Some("http"), Some("9080")),
                ("grpc", 7070, "", None, Some("grpc-web"))
            ]
        );
        assert_eq!(info.resource_version.as_deref(), Some("9"));
        assert_eq!(info.created_at.as_deref(), Some("2026-12-01T10:00:00Z"));
    }

    #[test]
    fn pairs_are_sorted_searched_and_kept_by_key() {
        let mut p: Pairs = serde_json::from_value(json!({"b": "2", "a": "1", "c": "3"})).unwrap();
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            [("a", "1"), ("b", "2"), ("c", "3")]
        );
        assert_eq!(
            (p.get("a"), p.get("c"), p.get("d")),
            (Some("1"), Some("3"), None)
        );
        p.retain(|k| k != "b");
        assert_eq!(
            p.to_map(),
            BTreeMap::from([("a".into(), "1".into()), ("c".into(), "3".into())])
        );
        assert!(
            serde_json::from_value::<Pairs>(json!(null))
                .unwrap()
                .is_empty()
        );
        // A workload decoded as a watch decodes it, then cached: its maps become pairs.
        let mut w: SlimDeployment = serde_json::from_value(json!({
            "metadata": {"name": "a", "labels": {"app": "a"}, "annotations": {"x": "y"}},
            "spec": {"template": {"metadata": {"labels": {"app": "a", "version": "v1"}}}}
        }))
        .unwrap();
        crate::cache::strip_workload(&mut w);
        assert_eq!(
            (w.labels.get("app"), w.annotations.get("x")),
            (Some("a"), Some("y"))
        );
        assert!(w.metadata.labels.is_none());
        let tpl = w.spec.unwrap().template.unwrap().metadata.unwrap();
        assert_eq!(tpl.labels.get("version"), Some("v1"));
    }

    #[test]
    fn a_proxy_among_the_init_containers_is_a_sidecar_without_the_annotation() {
        let mut v = injected_pod();
        v["metadata"]["annotations"]
            .as_object_mut()
            .unwrap()
            .remove("sidecar.istio.io/status");
        let proxy = v["spec"]["containers"][1].take();
        v["spec"]["containers"] = json!([v["spec"]["containers"][0].clone()]);
        v["spec"]["initContainers"] = json!([proxy]);
        assert!(has_sidecar(&watched_pod(v.clone())));
        v["spec"]["initContainers"][0]["name"] = json!("other");
        assert!(!has_sidecar(&watched_pod(v)));
    }

    #[test]
    fn istiod_is_cached_with_its_image_cluster_id_and_replicas() {
        let v = json!({
          "apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "istiod", "namespace": "istio-system", "resourceVersion": "7",
                       "labels": {"app": "istiod", "istio.io/rev": "default"}},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "istiod"}},
            "template": {
              "metadata": {"labels": {"app": "istiod"},
                           "annotations": {"sidecar.istio.io/inject": "false"}},
              "spec": {"serviceAccountName": "istiod", "containers": [{
                "name": "discovery", "image": "docker.io/istio/pilot:1.27.0",
                "args": ["discovery", "--monitoringAddr=:15014", "--log_output_level=default:info"],
                "env": [{"name": "REVISION", "value": "default"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "CLUSTER_ID", "value": "east"},
                        {"name": "PILOT_TRACE_SAMPLING", "value": "1"}],
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                "resources": {"requests": {"cpu": "500m", "memory": "2048Mi"}},
                "volumeMounts": [{"name": "local-certs", "mountPath": "/var/run/secrets/istio-dns"}]}],
                "volumes": [{"name": "local-certs", "emptyDir": {"medium": "Memory"}}]}}},
          "status": {"replicas": 2, "availableReplicas": 1, "readyReplicas": 1,
                     "conditions": [{"type": "Available", "status": "False"}]}
        });
        let full: k8s_openapi::api::apps::v1::Deployment =
            serde_json::from_value(v.clone()).unwrap();
        let mut watched: SlimDeployment = serde_json::from_value(v).unwrap();
        strip_workload(&mut watched);
        let cache = ClusterCache::from_objects(Objects {
            deployments: vec![full],
            ..Default::default()
        });
        let loaded = cache.deployments.state().pop().unwrap();
        let c = component(&watched);
        assert_eq!(component(&loaded), c);
        let want = meshglass_engine::mesh::Component {
            name: "istiod".into(),
            namespace: "istio-system".into(),
            labels: [("app", "istiod"), ("istio.io/rev", "default")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            desired_replicas: 2,
            current_replicas: 2,
            available_replicas: 1,
            cluster_id: Some("east".into()),
            image: Some("docker.io/istio/pilot:1.27.0".into()),
        };
        assert_eq!(c, want);
        let ws = crate::inventory::workloads(&cache, &|_| true, &Default::default());
        assert_eq!(
            (ws[0].labels.len(), ws[0].resource_version.as_deref()),
            (1, Some("7"))
        );
    }
}
