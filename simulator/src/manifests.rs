//! Kubernetes objects for one cluster of a topology: the Namespaces, ServiceAccounts, Deployments (with an
//! `istio-proxy` container and Istio's labels, as injection leaves them) and Services the metrics speak of.
//! Pods of these Deployments run on simulated (kwok) nodes; no container image is ever pulled.

use serde_json::{Value, json};

use crate::topology::{Mesh, Protocol, Service, Workload};

/// Image names are only shown, never pulled (pods run on simulated nodes).
const PROXY_IMAGE: &str = "docker.io/istio/proxyv2:1.28.0";

/// Objects to apply to `cluster`, namespaces first.
pub fn for_cluster(mesh: &Mesh, cluster: &str) -> Vec<Value> {
    let topology = &mesh.topology;
    let mut out = Vec::new();
    for ns in topology.all_namespaces() {
        out.push(json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"istio-injection": "enabled"}},
        }));
    }
    let mut accounts = std::collections::BTreeSet::new();
    for w in topology.workloads.iter().filter(|w| w.cluster == cluster) {
        if accounts.insert((w.namespace.clone(), w.service_account().to_owned())) {
            out.push(json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": w.service_account(), "namespace": w.namespace,
                             "labels": {"app": w.app}},
            }));
        }
    }
    for s in &topology.services {
        // Namespace sameness: the Service exists where it has endpoints and where it is called from.
        let has_backend = topology.backends(s).any(|w| w.cluster == cluster);
        let has_caller = mesh
            .flows
            .iter()
            .any(|f| f.service == *s && f.source.cluster == cluster);
        if has_backend || has_caller {
            out.push(service(s, port_protocol(mesh, s)));
        }
    }
    for w in topology.workloads.iter().filter(|w| w.cluster == cluster) {
        let port = topology
            .services
            .iter()
            .find(|s| s.namespace == w.namespace && s.app() == w.app)
            .map_or(8080, |s| s.port);
        out.push(deployment(w, port));
    }
    out
}

/// The protocol the service is called with (its port is named after it, as Istio expects).
fn port_protocol(mesh: &Mesh, s: &Service) -> Protocol {
    mesh.flows
        .iter()
        .find(|f| f.service == *s)
        .map_or(Protocol::Http, |f| f.protocol)
}

fn service(s: &Service, protocol: Protocol) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": s.name, "namespace": s.namespace, "labels": {"app": s.app(), "service": s.name}},
        "spec": {
            "selector": {"app": s.app()},
            "ports": [{"name": protocol.as_str(), "port": s.port, "targetPort": s.port}],
        },
    })
}

fn deployment(w: &Workload, port: u16) -> Value {
    let labels = json!({
        "app": w.app,
        "version": w.version(),
        "service.istio.io/canonical-name": w.app,
        "service.istio.io/canonical-revision": w.version(),
        "security.istio.io/tlsMode": "istio",
    });
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": w.name, "namespace": w.namespace,
                     "labels": {"app": w.app, "version": w.version()}},
        "spec": {
            "replicas": w.replicas,
            "selector": {"matchLabels": {"app": w.app, "version": w.version()}},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "sidecar.istio.io/status": "{\"containers\":[\"istio-proxy\"],\"initContainers\":[\"istio-init\"]}",
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": "15020",
                        "prometheus.io/path": "/stats/prometheus",
                    },
                },
                "spec": {
                    "serviceAccountName": w.service_account(),
                    "containers": [
                        {"name": w.app, "image": format!("docker.io/meshglass/demo-{}:{}", w.app, w.version()),
                         "ports": [{"containerPort": port}]},
                        {"name": "istio-proxy", "image": PROXY_IMAGE,
                         "ports": [{"containerPort": 15090, "name": "http-envoy-prom"}]},
                    ],
                    "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
                },
            },
        },
    })
}

/// The objects as one multi-document YAML stream (for `kubectl apply -f -`).
pub fn to_yaml(objects: &[Value]) -> String {
    objects
        .iter()
        .map(|o| serde_yaml_ng::to_string(o).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::demo;

    fn names(objects: &[Value], kind: &str) -> Vec<String> {
        objects
            .iter()
            .filter(|o| o["kind"] == kind)
            .map(|o| {
                format!(
                    "{}/{}",
                    o["metadata"]["namespace"].as_str().unwrap_or(""),
                    o["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    #[test]
    fn demo_objects_per_cluster() {
        let mesh = demo();
        let east = for_cluster(&mesh, "east");
        let west = for_cluster(&mesh, "west");
        assert_eq!(
            names(&east, "Namespace"),
            ["/bookinfo", "/helloworld", "/sample"]
        );
        assert_eq!(
            names(&east, "Deployment"),
            [
                "bookinfo/productpage-v1",
                "bookinfo/details-v1",
                "bookinfo/reviews-v1",
                "bookinfo/reviews-v2",
                "helloworld/helloworld-v1",
                "sample/sleep"
            ]
        );
        assert_eq!(
            names(&west, "Deployment"),
            [
                "bookinfo/reviews-v3",
                "bookinfo/ratings-v1",
                "helloworld/helloworld-v2",
                "sample/sleep"
            ]
        );
        // ratings has no pod on east but is called from there (namespace sameness).
        assert!(names(&east, "Service").contains(&"bookinfo/ratings".to_owned()));
        assert!(!names(&west, "Service").contains(&"bookinfo/details".to_owned()));
        let yaml = to_yaml(&east);
        assert!(yaml.contains("serviceAccountName: bookinfo-productpage"));
        let deployment = east
            .iter()
            .find(|o| o["metadata"]["name"] == "reviews-v2")
            .unwrap();
        assert_eq!(
            deployment["spec"]["template"]["metadata"]["labels"]["version"],
            "v2"
        );
        assert_eq!(
            deployment["spec"]["template"]["spec"]["containers"][1]["name"],
            "istio-proxy"
        );
    }
}
