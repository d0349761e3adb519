//! Helpers shared by the end-to-end tests that drive the operator; a test file includes them with
//! `mod common;`. Each test binary uses a subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::CustomResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use meshglass_operator::controller::{self, Settings};
use meshglass_operator::crds::Kiali;
use meshglass_operator::remote_secret::objects::{Trust, kubeconfig_yaml, remote_kubeconfig};
use meshglass_testbed::{Cluster, TestBed, TestNamespace, apply_crd, poll, wait_until};

/// How long the shared waits below give the operator.
pub const WAIT: Duration = Duration::from_secs(90);

/// OSSM 3 §6.5 step 4: the remote Kiali CR, verbatim.
pub const OSSM_REMOTE: &str = r#"
apiVersion: kiali.io/v1alpha1
kind: Kiali
metadata:
  name: kiali
  namespace: istio-system
spec:
  version: default
  auth:
    openshift:
      redirect_uris:
        # Replace kiali-route-hostname with the hostname from the previous step.
        - "https://{kiali-route-hostname}/api/auth/callback/cluster2"
  deployment:
    remote_cluster_resources_only: true
"#;

/// Runs the operator in process, on a thread and runtime of its own, until `stop` resolves
/// (`std::future::pending()` for the rest of the test process). `make_client` runs on that
/// runtime, since a client is bound to the runtime that built it.
pub fn spawn_operator<F, Fut, S>(make_client: F, stop: S) -> std::thread::JoinHandle<()>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Client>,
    S: Future<Output = ()> + Send + Sync + 'static,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("operator runtime");
        rt.block_on(async move {
            let client = make_client().await;
            controller::run(client, Settings::default(), stop).await;
        });
    })
}

/// Installs the Kiali CRD (server-side apply) and waits until it is Established.
pub async fn install_kiali_crd(client: &Client) {
    apply_crd(client, &Kiali::crd(), WAIT)
        .await
        .expect("the Kiali CRD applies and is Established");
}

/// Creates a namespace the tests share by name (e.g. `istio-system`); an existing one is fine.
pub async fn ensure_namespace(client: &Client, name: &str) {
    let ns = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("creating namespace {name}: {e}"),
    }
}

/// Labels a namespace so that PodSecurity admission enforces the restricted profile in it.
pub async fn enforce_restricted(client: &Client, ns: &str) {
    let labels = serde_json::json!({"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }}});
    Api::<Namespace>::all(client.clone())
        .patch(ns, &PatchParams::default(), &Patch::Merge(&labels))
        .await
        .unwrap_or_else(|e| panic!("labelling namespace {ns} restricted: {e}"));
}

/// A fresh test namespace whose PodSecurity admission enforces the restricted profile.
pub async fn restricted_namespace(client: &Client, prefix: &str) -> TestNamespace {
    let ns = test_namespace(client, prefix).await;
    enforce_restricted(client, ns.name()).await;
    ns
}

/// The random suffix of a TestNamespace name: unique names for cluster-scoped objects.
pub fn suffix(ns: &TestNamespace) -> &str {
    ns.name().rsplit('-').next().unwrap_or("x")
}

/// A fresh test namespace `<prefix>-<random>` (deleted when dropped).
pub async fn test_namespace(client: &Client, prefix: &str) -> TestNamespace {
    TestNamespace::create(client, prefix)
        .await
        .unwrap_or_else(|e| panic!("test namespace {prefix}-…: {e}"))
}

/// Admin clients of the shared bed's `east` and `west` clusters.
pub async fn east_west(bed: &TestBed) -> (Client, Client) {
    let east = bed.cluster("east").client().await.expect("east client");
    let west = bed.cluster("west").client().await.expect("west client");
    (east, west)
}

/// The options every remote-secret run of the tests starts with: Kiali on east, the remote is west.
pub fn east_west_opts<'a>(kiali_ns: &'a str, remote_ns: &'a str, name: &'a str) -> Vec<&'a str> {
    vec![
        "--kiali-cluster-context",
        "east",
        "--remote-cluster-context",
        "west",
        "--kiali-cluster-namespace",
        kiali_ns,
        "--remote-cluster-namespace",
        remote_ns,
        "--kiali-resource-name",
        name,
    ]
}

/// A kubeconfig for `cluster` with a ServiceAccount token, as the remote-secret CLI writes it.
pub fn token_kubeconfig(cluster: &Cluster, token: &str) -> String {
    let kubeconfig = remote_kubeconfig(
        cluster.name(),
        cluster.server_url(),
        &Trust::Ca(cluster.ca_pem().to_vec()),
        token,
    )
    .expect("kubeconfig");
    kubeconfig_yaml(&kubeconfig).expect("kubeconfig YAML")
}

/// Asserts the contract of a remote-cluster Secret: labelled `kiali.io/multiCluster: "true"` and annotated
/// `kiali.io/cluster: <cluster>`.
pub fn assert_remote_cluster_secret(secret: &Secret, cluster: &str) {
    assert_eq!(
        secret
            .labels()
            .get("kiali.io/multiCluster")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        secret
            .annotations()
            .get("kiali.io/cluster")
            .map(String::as_str),
        Some(cluster)
    );
}

/// A one-hour token of a ServiceAccount (TokenRequest API).
pub async fn sa_token(client: &Client, ns: &str, sa: &str) -> String {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .create_token_request(sa, &PostParams::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("a token for {ns}/{sa}: {e}"))
        .status
        .expect("token status")
        .token
}

/// `kubectl wait --for=condition=Successful` with observedGeneration: waits for Successful=True
/// for the CR's current generation and returns the CR; on timeout the error shows its status.
pub async fn wait_successful(client: &Client, ns: &str, name: &str) -> Kiali {
    let api: Api<Kiali> = Api::namespaced(client.clone(), ns);
    poll(
        &format!("Kiali {ns}/{name} is Successful for its generation"),
        WAIT,
        || {
            let api = api.clone();
            let name = name.to_string();
            async move {
                let k = api.get(&name).await.map_err(|e| e.to_string())?;
                match &k.status {
                    Some(s) if s.is_successful_for(k.metadata.generation) => Ok(k),
                    s => Err(format!(
                        "generation {:?}, status {}",
                        k.metadata.generation,
                        serde_json::to_string(s).unwrap_or_default()
                    )),
                }
            }
        },
    )
    .await
    .expect("Kiali becomes Successful")
}

/// Waits until a Deployment is rolled out — observed, and updated, ready and available for all its replicas — so
/// its pods passed admission (e.g. restricted Pod Security). On timeout the error shows the Deployment's status,
/// whose `ReplicaFailure` condition names an admission error.
pub async fn wait_rolled_out(client: &Client, ns: &str, name: &str) -> Deployment {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    poll(
        &format!("Deployment {ns}/{name} is rolled out (its pods admitted)"),
        WAIT,
        || {
            let api = api.clone();
            let name = name.to_string();
            async move {
                let d = api.get(&name).await.map_err(|e| e.to_string())?;
                let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                let s = d.status.clone().unwrap_or_default();
                let done = s.observed_generation == d.metadata.generation
                    && s.replicas == Some(want)
                    && s.updated_replicas == Some(want)
                    && s.ready_replicas == Some(want)
                    && s.available_replicas == Some(want);
                if done {
                    Ok(d)
                } else {
                    Err(format!(
                        "status {}",
                        serde_json::to_string(&s).unwrap_or_default()
                    ))
                }
            }
        },
    )
    .await
    .expect("the Deployment rolls out")
}

/// Deletes the CR and waits until it (its finalizer released) and the cluster-scoped RBAC of
/// instance `inst` (ClusterRole, `-viewer` ClusterRole, ClusterRoleBinding) are gone.
pub async fn delete_cr_and_wait(client: &Client, ns: &str, cr: &str, inst: &str) {
    let api: Api<Kiali> = Api::namespaced(client.clone(), ns);
    api.delete(cr, &DeleteParams::default())
        .await
        .expect("delete CR");
    wait_until(
        &format!("Kiali {ns}/{cr}, ClusterRole(s) and ClusterRoleBinding {inst} are gone"),
        WAIT,
        || {
            let client = client.clone();
            let api = api.clone();
            let inst = inst.to_string();
            let cr = cr.to_string();
            async move {
                let roles: Api<ClusterRole> = Api::all(client.clone());
                let bindings: Api<ClusterRoleBinding> = Api::all(client);
                let gone = api.get_opt(&cr).await?.is_none()
                    && roles.get_opt(&inst).await?.is_none()
                    && roles.get_opt(&format!("{inst}-viewer")).await?.is_none()
                    && bindings.get_opt(&inst).await?.is_none();
                Ok::<_, kube::Error>(gone.then_some(()))
            }
        },
    )
    .await
    .expect("cleaned up");
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository root")
        .to_path_buf()
}

/// The documents of a multi-document YAML stream (empty documents skipped).
pub fn documents(yaml: &str) -> Vec<serde_json::Value> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|doc| {
            <serde_json::Value as serde::Deserialize>::deserialize(doc).expect("a YAML document")
        })
        .filter(|v| !v.is_null())
        .collect()
}
