//! Ports of simulated pods: kwok's `PortForward` objects map a pod's ports to an address that
//! kwok's kubelet API dials when the API server forwards `pods/portforward` to it. A pod's IP on
//! the test bed is a kwok address where nothing listens; with a PortForward, a port of the pod is
//! a real loopback listener (the simulated sidecars' Envoy admin endpoint, for `config_dump`).

use std::net::SocketAddr;

use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Api, Client};

use crate::Error;

/// kwok's `PortForward` resource.
pub fn portforward_resource() -> ApiResource {
    ApiResource {
        group: "kwok.x-k8s.io".into(),
        version: "v1alpha1".into(),
        api_version: "kwok.x-k8s.io/v1alpha1".into(),
        kind: "PortForward".into(),
        plural: "portforwards".into(),
    }
}

/// The `PortForward` of pod `ns/pod` (kwok finds it by the pod's name) sending `ports` to
/// `target`.
pub fn portforward_object(
    ns: &str,
    pod: &str,
    ports: &[u16],
    target: SocketAddr,
) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "PortForward",
        "metadata": {"name": pod, "namespace": ns},
        "spec": {"forwards": [{
            "ports": ports,
            "target": {"address": target.ip().to_string(), "port": target.port()},
        }]},
    })
}

/// Makes kwok dial `target` for `ports` of pod `ns/pod` (applied, so that a second call moves
/// the target).
pub async fn forward_port(
    client: &Client,
    ns: &str,
    pod: &str,
    ports: &[u16],
    target: SocketAddr,
) -> Result<(), Error> {
    let obj: DynamicObject = serde_json::from_value(portforward_object(ns, pod, ports, target))?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &portforward_resource());
    api.patch(
        pod,
        &PatchParams::apply("meshglass-testbed").force(),
        &Patch::Apply(&obj),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pods_port_goes_to_the_target() {
        let o = portforward_object(
            "bookinfo",
            "reviews-v1-abc",
            &[15000],
            "127.0.0.1:40001".parse().unwrap(),
        );
        assert_eq!(o["metadata"]["name"], "reviews-v1-abc");
        assert_eq!(
            o["spec"]["forwards"],
            serde_json::json!([{"ports": [15000], "target": {"address": "127.0.0.1", "port": 40001}}])
        );
    }
}
