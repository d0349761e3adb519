//! `deployment.ingress`: how the server is reached from outside the cluster, as Kiali's operator
//! does it. Where the `route.openshift.io` API exists (OpenShift) the operator creates Route
//! `<instance>` (on by default there), elsewhere an Ingress `<instance>` when `enabled` is true.
//! `class_name` (Kiali's default `nginx`) and `override_yaml` (`metadata` labels/annotations added,
//! `spec` replacing the default spec) shape it.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

use super::{Child, Ctx, Error, Result};

/// The Route API the operator looks for and writes.
pub fn route_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("route.openshift.io", "v1", "Route"),
        "routes",
    )
}

/// `deployment.ingress` as the build reads it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct IngressSpecCr {
    enabled: Option<bool>,
    class_name: Option<String>,
    override_yaml: Option<OverrideYaml>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct OverrideYaml {
    metadata: OverrideMeta,
    spec: Option<Value>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct OverrideMeta {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

impl Ctx<'_> {
    /// The Route (route API present) or Ingress (when enabled), if any.
    pub(super) fn exposure(&self, routes: bool) -> Result<Option<Child>> {
        let cr: IngressSpecCr = self.extra("ingress")?.unwrap_or_default();
        // Kiali: undefined means true on OpenShift, false on Kubernetes.
        if !cr.enabled.unwrap_or(routes) {
            return Ok(None);
        }
        let ov = cr.override_yaml.unwrap_or_default();
        let mut meta = self.meta(&self.inst, &self.ns);
        meta.labels
            .get_or_insert_with(Default::default)
            .extend(ov.metadata.labels);
        let web_root = self.cfg.server.web_root.trim_end_matches('/');
        let path = if web_root.is_empty() { "/" } else { web_root };
        if routes {
            let mut annotations = ov.metadata.annotations;
            annotations
                .entry("haproxy.router.openshift.io/timeout".into())
                .or_insert_with(|| "60s".into());
            meta.annotations = Some(annotations);
            let spec = ov.spec.unwrap_or_else(|| {
                json!({
                    "to": {"kind": "Service", "name": self.inst, "weight": 100},
                    "port": {"targetPort": "http"},
                    "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
                })
            });
            let mut route = DynamicObject::new(&self.inst, &route_resource()).within(&self.ns);
            route.metadata = meta;
            route.data = json!({ "spec": spec });
            return Ok(Some(Child::Route(route)));
        }
        let mut annotations = ov.metadata.annotations;
        for (k, v) in [
            ("nginx.ingress.kubernetes.io/secure-backends", "false"),
            ("nginx.ingress.kubernetes.io/backend-protocol", "HTTP"),
        ] {
            annotations.entry(k.into()).or_insert_with(|| v.into());
        }
        meta.annotations = Some(annotations);
        let spec = match ov.spec {
            Some(spec) => serde_json::from_value(spec)
                .map_err(|e| Error::field("deployment.ingress.override_yaml.spec", e))?,
            None => IngressSpec {
                ingress_class_name: Some(
                    cr.class_name
                        .filter(|c| !c.is_empty())
                        .unwrap_or_else(|| "nginx".into()),
                ),
                rules: Some(vec![IngressRule {
                    http: Some(HTTPIngressRuleValue {
                        paths: vec![HTTPIngressPath {
                            path: Some(path.to_string()),
                            path_type: "Prefix".into(),
                            backend: IngressBackend {
                                service: Some(IngressServiceBackend {
                                    name: self.inst.clone(),
                                    port: Some(ServiceBackendPort {
                                        number: Some(i32::from(self.cfg.server.port)),
                                        ..Default::default()
                                    }),
                                }),
                                ..Default::default()
                            },
                        }],
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        };
        Ok(Some(Child::Ingress(Ingress {
            metadata: meta,
            spec: Some(spec),
            ..Default::default()
        })))
    }
}
