//! Builders for cache objects used by the unit tests.

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

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
        pm.annotations = Some([("sidecar.istio.io/status".to_string(), "{}".to_string())].into());
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
    let mut d = DynamicObject::new(name, &crate::cache::api_resource(kind, "v1")).within(ns);
    d.data = json!({ "spec": spec });
    o.istio.push((kind, d));
}
