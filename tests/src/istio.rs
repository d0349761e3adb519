//! Istio's multi-cluster objects as an installation leaves them, for the test bed and the demo:
//! the Istio namespace with its network label (and a remote's `controlPlaneClusters`), istiod
//! with its `CLUSTER_ID`, the east-west gateway with its Service, and the
//! `istio-remote-secret-<peer>` Secret that `istioctl create-remote-secret` writes. No istiod runs
//! here: the objects' pods run on simulated (kwok) nodes, and the console reads only their shape.

use serde_json::{Value, json};

/// The label naming a namespace's (and a gateway's) network.
pub const NETWORK_LABEL: &str = "topology.istio.io/network";
/// The annotation naming the clusters whose istiod manages a remote cluster.
pub const CONTROL_PLANE_CLUSTERS: &str = "topology.istio.io/controlPlaneClusters";
/// The image of a simulated istiod (shown, never pulled).
pub const PILOT_IMAGE: &str = "docker.io/istio/pilot:1.28.0";
/// The image of a simulated gateway (shown, never pulled).
pub const PROXY_IMAGE: &str = "docker.io/istio/proxyv2:1.28.0";

/// The Istio namespace `name` on network `network`; on a remote, the primary it names.
pub fn istio_namespace(name: &str, network: &str, control_plane: Option<&str>) -> Value {
    let mut ns = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {NETWORK_LABEL: network}},
    });
    if let Some(primary) = control_plane {
        ns["metadata"]["annotations"] = json!({CONTROL_PLANE_CLUSTERS: primary});
    }
    ns
}

/// A Deployment of one replica in `namespace`, `labels` on it and its pods, selecting them by
/// `selector` (a subset of `labels`), one container of `image` with `env`, tolerating kwok's node
/// taint.
pub fn deployment(
    namespace: &str,
    name: &str,
    labels: Value,
    selector: Value,
    image: &str,
    env: Value,
) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "main", "image": image, "env": env}],
                    "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
                },
            },
        },
    })
}

/// istiod of the default revision in `namespace`, its `CLUSTER_ID` `cluster`, on `network`.
pub fn istiod(namespace: &str, cluster: &str, network: &str) -> Value {
    let mut d = deployment(
        namespace,
        "istiod",
        json!({"app": "istiod", "istio": "pilot", "istio.io/rev": "default"}),
        // Istio's own selector (immutable: a demo's clusters keep their istiod across runs).
        json!({"app": "istiod", "istio.io/rev": "default"}),
        PILOT_IMAGE,
        json!([{"name": "CLUSTER_ID", "value": cluster}, {"name": "ISTIO_META_NETWORK", "value": network}]),
    );
    d["spec"]["template"]["spec"]["containers"][0]["name"] = json!("discovery");
    d
}

/// The east-west gateway of `network` in `namespace` (`istioctl install -f ew-gateway.yaml`): a
/// Deployment and its Service with the lab's ports (status 15021, mTLS 15443, istiod 15012 and
/// webhook 15017).
pub fn eastwest_gateway(namespace: &str, network: &str) -> [Value; 2] {
    let labels =
        json!({"app": "istio-eastwestgateway", "istio": "eastwestgateway", NETWORK_LABEL: network});
    let selector = json!({"app": "istio-eastwestgateway", "istio": "eastwestgateway"});
    let mut deployment = deployment(
        namespace,
        "istio-eastwestgateway",
        labels,
        selector.clone(),
        PROXY_IMAGE,
        json!([{"name": "ISTIO_META_REQUESTED_NETWORK_VIEW", "value": network}]),
    );
    deployment["spec"]["template"]["spec"]["containers"][0]["name"] = json!("istio-proxy");
    let ports: Vec<Value> = [
        ("status-port", 15021),
        ("tls", 15443),
        ("tls-istiod", 15012),
        ("tls-webhook", 15017),
    ]
    .iter()
    .map(|(name, port)| json!({"name": name, "port": port, "targetPort": port}))
    .collect();
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "istio-eastwestgateway", "namespace": namespace,
                     "labels": {"app": "istio-eastwestgateway", "istio": "eastwestgateway", NETWORK_LABEL: network}},
        "spec": {"selector": selector, "ports": ports},
    });
    [deployment, service]
}

/// `istio-remote-secret-<peer>` in `namespace`, as `istioctl create-remote-secret --name=<peer>`
/// writes it: labelled `istio/multiCluster`, key `<peer>` a kubeconfig of the peer's API server
/// `server`. It holds no credentials: no istiod reads it here.
pub fn remote_secret(namespace: &str, peer: &str, server: &str) -> Value {
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {server}\n  name: {peer}\n\
         contexts:\n- context:\n    cluster: {peer}\n    user: {peer}\n  name: {peer}\n\
         current-context: {peer}\nusers:\n- name: {peer}\n  user: {{}}\n"
    );
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": format!("istio-remote-secret-{peer}"), "namespace": namespace,
                     "labels": {"istio/multiCluster": "true"},
                     "annotations": {"networking.istio.io/cluster": peer}},
        "stringData": {peer: kubeconfig},
    })
}

/// Every object of a multi-primary cluster `cluster` in the Istio namespace `namespace`: its
/// namespace on `network`, its istiod, its east-west gateway (with `gateway`), and a remote
/// secret for each of `peers` ((name, API server URL)).
pub fn primary(
    namespace: &str,
    cluster: &str,
    network: &str,
    gateway: bool,
    peers: &[(&str, &str)],
) -> Vec<Value> {
    let mut out = vec![
        istio_namespace(namespace, network, None),
        istiod(namespace, cluster, network),
    ];
    if gateway {
        out.extend(eastwest_gateway(namespace, network));
    }
    for (peer, server) in peers {
        out.push(remote_secret(namespace, peer, server));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_primary_has_its_namespace_istiod_gateway_and_a_secret_per_peer() {
        let objs = primary(
            "istio-system",
            "cluster1",
            "network1",
            true,
            &[
                ("cluster2", "https://127.0.0.1:7002"),
                ("cluster3", "https://127.0.0.1:7003"),
            ],
        );
        let kinds: Vec<(&str, &str)> = objs
            .iter()
            .map(|o| {
                (
                    o["kind"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("Namespace", "istio-system"),
                ("Deployment", "istiod"),
                ("Deployment", "istio-eastwestgateway"),
                ("Service", "istio-eastwestgateway"),
                ("Secret", "istio-remote-secret-cluster2"),
                ("Secret", "istio-remote-secret-cluster3"),
            ]
        );
        assert_eq!(objs[0]["metadata"]["labels"][NETWORK_LABEL], "network1");
        assert!(objs[0]["metadata"]["annotations"].is_null());
        let env = &objs[1]["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env[0], json!({"name": "CLUSTER_ID", "value": "cluster1"}));
        let kc = objs[4]["stringData"]["cluster2"].as_str().unwrap();
        assert!(kc.contains("server: https://127.0.0.1:7002") && !kc.contains("token"));
        let remote = istio_namespace("istio-system", "network2", Some("cluster1"));
        assert_eq!(
            remote["metadata"]["annotations"][CONTROL_PLANE_CLUSTERS],
            "cluster1"
        );
    }
}
