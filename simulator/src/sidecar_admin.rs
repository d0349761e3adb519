//! The simulated sidecars' Envoy admin endpoints on one cluster: for each pod of the topology's
//! workloads, a loopback listener serving that pod's [`envoy::config_dump`], and a kwok
//! `PortForward` sending the pod's port [`envoy::ADMIN_PORT`] to it, so that the API server's
//! `pods/portforward` reaches the pod's "Envoy" as it reaches a real one's (the pod's kwok IP has
//! nothing listening).

use std::net::SocketAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::Value;

use crate::envoy::{self, Proxy};
use crate::topology::{Mesh, Workload};
use crate::{Error, Result};

/// One pod's admin endpoint.
#[derive(Debug, Clone)]
pub struct AdminPod {
    pub namespace: String,
    pub pod: String,
    /// The topology workload the pod runs.
    pub workload: String,
    /// Where the endpoint listens (what the pod's port 15000 is forwarded to).
    pub addr: SocketAddr,
    /// What its `/config_dump` answers.
    pub dump: Arc<Value>,
}

/// The endpoints of a cluster's pods; they stop when this is dropped.
#[derive(Debug, Default)]
pub struct AdminEndpoints {
    pub pods: Vec<AdminPod>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for AdminEndpoints {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The workload of `cluster` a pod of `ns` with these labels and this name runs: same app and
/// version labels, and the pod named after the workload's Deployment.
pub fn workload_of<'m>(
    mesh: &'m Mesh,
    cluster: &str,
    ns: &str,
    pod: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Option<&'m Workload> {
    mesh.topology.workloads.iter().find(|w| {
        w.cluster == cluster
            && w.namespace == ns
            && labels.get("app").map(String::as_str) == Some(w.app.as_str())
            && labels.get("version").map(String::as_str) == Some(w.version())
            && pod.starts_with(&format!("{}-", w.name))
    })
}

fn kube_failure(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Sidecar(format!("{what}: {e}"))
}

/// Starts an admin endpoint for every pod of the topology's workloads on `cluster` (pods that
/// have an IP) and forwards each pod's port 15000 to it; every configuration last updated at
/// `pushed_at` (RFC 3339).
pub async fn serve_admin(
    client: &kube::Client,
    mesh: &Mesh,
    cluster: &str,
    pushed_at: &str,
) -> Result<AdminEndpoints> {
    let mut out = AdminEndpoints::default();
    for ns in mesh.topology.all_namespaces() {
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let list = pods
            .list(&ListParams::default())
            .await
            .map_err(|e| kube_failure(&format!("listing the pods of {ns} on {cluster}"), e))?;
        for pod in list {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            let Some(w) = workload_of(mesh, cluster, &ns, &name, &labels) else {
                continue;
            };
            let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.clone()) else {
                continue;
            };
            let proxy = Proxy {
                workload: w,
                pod: name.clone(),
                ip,
            };
            let dump = Arc::new(envoy::config_dump(mesh, &proxy, pushed_at));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| kube_failure("binding an admin endpoint", e))?;
            let addr = listener
                .local_addr()
                .map_err(|e| kube_failure("binding an admin endpoint", e))?;
            let app = crate::serve::admin_router(dump.clone());
            out.tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }));
            meshglass_testbed::portforward::forward_port(
                client,
                &ns,
                &name,
                &[envoy::ADMIN_PORT],
                addr,
            )
            .await
            .map_err(|e| kube_failure(&format!("kwok PortForward of {ns}/{name}"), e))?;
            out.pods.push(AdminPod {
                namespace: ns.clone(),
                pod: name,
                workload: w.name.clone(),
                addr,
                dump,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::demo;

    #[test]
    fn a_pod_is_matched_to_its_workload_by_labels_and_name() {
        let m = demo();
        let labels = |app: &str, version: &str| {
            [("app", app), ("version", version)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let w = workload_of(
            &m,
            "east",
            "bookinfo",
            "reviews-v2-5d4c-x7",
            &labels("reviews", "v2"),
        );
        assert_eq!(w.map(|w| w.name.as_str()), Some("reviews-v2"));
        // Same labels, another cluster's workload: none on east.
        assert!(
            workload_of(
                &m,
                "east",
                "bookinfo",
                "reviews-v3-1-a",
                &labels("reviews", "v3")
            )
            .is_none()
        );
        // A pod of another Deployment with the same labels is not the workload's.
        assert!(
            workload_of(
                &m,
                "east",
                "bookinfo",
                "other-1-a",
                &labels("reviews", "v2")
            )
            .is_none()
        );
        let sleep = workload_of(
            &m,
            "west",
            "sample",
            "sleep-7f-q",
            &labels("sleep", "latest"),
        );
        assert_eq!(sleep.map(|w| w.cluster.as_str()), Some("west"));
    }
}
