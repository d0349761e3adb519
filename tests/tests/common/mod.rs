//! Set-up shared by the end-to-end tests that drive the operator and its `remote-secret` CLI; a test file
//! includes it with `mod common;`. What needs no operator type (namespaces, named objects, waits, tokens) lives
//! in the meshglass-testbed library instead. Each test binary uses a subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::fmt::Debug;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, CustomResourceExt, Resource, ResourceExt};
use meshglass_operator::build::BuildOptions;
use meshglass_operator::controller::{self, Settings};
use meshglass_operator::crds::Kiali;
use meshglass_operator::reconcile::validate::Tenancy;
use meshglass_operator::remote_secret::objects::{Trust, kubeconfig_yaml, remote_kubeconfig};
use meshglass_operator::remote_secret::{self, Outcome};
use meshglass_testbed::{Cluster, TestBed, TestNamespace, apply_crd, poll, wait_until};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

/// The JSON body of a GET of `url`, any failure as text (for [`poll`] and [`wait_until`]).
pub async fn get_json(http: &reqwest::Client, url: &str) -> Result<serde_json::Value, String> {
    http.get(url)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())
}

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

/// The tenancy of the shared test operators: remote mode allowed (the OSSM and example remote CRs mint the
/// remote token legitimately) and another deployment namespace (the restricted-Pod-Security namespace of the
/// GitOps test), only the default image. tests/tests/operator_trust.rs runs one with every switch off.
pub fn test_tenancy() -> Tenancy {
    Tenancy {
        allow_remote_cluster_resources: true,
        allow_ad_hoc_namespace: true,
        ..Tenancy::default()
    }
}

/// Runs the operator in process, on a thread and runtime of its own, until `stop` resolves
/// (`std::future::pending()` for the rest of the test process). `make_client` runs on that
/// runtime, since a client is bound to the runtime that built it. Its tenancy is [`test_tenancy`].
pub fn spawn_operator<F, Fut, S>(make_client: F, stop: S) -> std::thread::JoinHandle<()>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Client>,
    S: Future<Output = ()> + Send + Sync + 'static,
{
    spawn_operator_with(test_tenancy(), make_client, stop)
}

/// [`spawn_operator`] with the given tenancy switches.
pub fn spawn_operator_with<F, Fut, S>(
    tenancy: Tenancy,
    make_client: F,
    stop: S,
) -> std::thread::JoinHandle<()>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Client>,
    S: Future<Output = ()> + Send + Sync + 'static,
{
    let settings = Settings {
        build: BuildOptions {
            tenancy,
            ..BuildOptions::default()
        },
        ..Settings::default()
    };
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("operator runtime");
        rt.block_on(async move {
            let client = make_client().await;
            controller::run(client, settings, stop).await;
        });
    })
}

/// The shared bed of `clusters` (the same on every call of a test binary) with the Kiali CRD installed, the
/// shared `namespaces` created, and an operator running in process against each cluster.
pub async fn operator_bed(
    clusters: &'static [&'static str],
    namespaces: &'static [&'static str],
) -> &'static TestBed {
    static SETUP: OnceCell<&'static TestBed> = OnceCell::const_new();
    SETUP
        .get_or_init(|| async {
            let bed = meshglass_testbed::shared(clusters)
                .await
                .expect("test bed starts");
            for name in clusters {
                let client = bed.cluster(name).client().await.expect("client");
                install_kiali_crd(&client).await;
                for ns in namespaces {
                    ensure_namespace(&client, ns).await;
                }
            }
            for name in clusters {
                spawn_operator(
                    move || async move { bed.cluster(name).client().await.expect("operator client") },
                    std::future::pending(),
                );
            }
            bed
        })
        .await
}

/// The shared bed of clusters `east` and `west`, without an operator (the remote-secret CLI's tests).
pub async fn east_west_bed() -> &'static TestBed {
    meshglass_testbed::shared(&["east", "west"])
        .await
        .expect("test bed starts")
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
/// The OpenID tests' users on the east/west bed: a namespace of the test (in east, and the same
/// name in west), alice allowed to view it in east only, bob in both (ClusterRole `view`).
/// Returns the clients of east and west and the namespace (west's copy is the caller's to delete).
pub async fn alice_and_bob(bed: &TestBed, prefix: &str) -> (Client, Client, TestNamespace) {
    let (east, west) = east_west(bed).await;
    let ns = test_namespace(&east, prefix).await;
    ensure_namespace(&west, ns.name()).await;
    for (client, user) in [(&east, "alice"), (&east, "bob"), (&west, "bob")] {
        grant_view(client, ns.name(), user).await;
    }
    (east, west, ns)
}

/// A RoleBinding of ClusterRole `view` in `ns` for the User `user`.
pub async fn grant_view(client: &Client, ns: &str, user: &str) {
    let rb: k8s_openapi::api::rbac::v1::RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("{user}-view")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }))
    .expect("binding");
    Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(client.clone(), ns)
        .create(&kube::api::PostParams::default(), &rb)
        .await
        .expect("create binding");
}

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

/// What the operator builds on a remote cluster for a remote-mode CR (instance `inst` in `ns`,
/// `deployment.remote_cluster_resources_only: true`), server-side applied to `client`'s cluster
/// without owner references (no CR lives there): its ServiceAccount, ClusterRole and binding — the
/// credentials a primary's server reads that cluster with. Returns a kubeconfig with that
/// ServiceAccount's token and the cluster-scoped objects `(kind, name)` to delete afterwards.
pub async fn remote_mode_credentials(
    cluster: &Cluster,
    client: &Client,
    ns: &str,
    inst: &str,
) -> (String, Vec<(&'static str, String)>) {
    let cr: Kiali = serde_json::from_value(serde_json::json!({
        "apiVersion": "kiali.io/v1alpha1", "kind": "Kiali",
        "metadata": {"name": inst, "namespace": ns, "uid": "remote-mode-test"},
        "spec": {"deployment": {"instance_name": inst, "remote_cluster_resources_only": true}},
    }))
    .expect("a remote-mode CR");
    let opts = BuildOptions {
        tenancy: Tenancy::allow_all(),
        ..BuildOptions::default()
    };
    let desired = meshglass_operator::build::build(&cr, &[], &[], &opts).expect("operator build");
    let pp = PatchParams::apply("meshglass-test").force();
    let mut cluster_scoped = Vec::new();
    for child in desired.objects {
        use meshglass_operator::build::Child;
        match child {
            Child::ServiceAccount(mut o) => {
                o.metadata.owner_references = None;
                Api::<ServiceAccount>::namespaced(client.clone(), ns)
                    .patch(&o.name_any(), &pp, &Patch::Apply(&o))
                    .await
                    .expect("apply the ServiceAccount");
            }
            Child::ClusterRole(mut o) => {
                o.metadata.owner_references = None;
                Api::<ClusterRole>::all(client.clone())
                    .patch(&o.name_any(), &pp, &Patch::Apply(&o))
                    .await
                    .expect("apply the ClusterRole");
                cluster_scoped.push(("ClusterRole", o.name_any()));
            }
            Child::ClusterRoleBinding(mut o) => {
                o.metadata.owner_references = None;
                Api::<ClusterRoleBinding>::all(client.clone())
                    .patch(&o.name_any(), &pp, &Patch::Apply(&o))
                    .await
                    .expect("apply the ClusterRoleBinding");
                cluster_scoped.push(("ClusterRoleBinding", o.name_any()));
            }
            _ => {}
        }
    }
    let token = sa_token(client, ns, &meshglass_crds::names::service_account(inst)).await;
    (token_kubeconfig(cluster, &token), cluster_scoped)
}

/// Deletes the cluster-scoped objects [`remote_mode_credentials`] applied.
pub async fn delete_cluster_scoped(client: &Client, objects: &[(&'static str, String)]) {
    for (kind, name) in objects {
        let dp = DeleteParams::default();
        let _ = match *kind {
            "ClusterRole" => Api::<ClusterRole>::all(client.clone())
                .delete(name, &dp)
                .await
                .map(|_| ()),
            _ => Api::<ClusterRoleBinding>::all(client.clone())
                .delete(name, &dp)
                .await
                .map(|_| ()),
        };
    }
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

/// Polls `ns/name` for up to `timeout` until `done` accepts it and returns what `done` made of it; `done`'s `Err`
/// says what it saw, which the timeout error shows.
async fn wait_for_object<K, T>(
    client: &Client,
    ns: &str,
    name: &str,
    what: &str,
    timeout: Duration,
    done: impl Fn(K) -> Result<T, String>,
) -> T
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    poll(what, timeout, || {
        let api = api.clone();
        let done = &done;
        async move { done(api.get(name).await.map_err(|e| e.to_string())?) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// `kubectl wait --for=condition=Successful` with observedGeneration: waits for Successful=True
/// for the CR's current generation and returns the CR; on timeout the error shows its status.
pub async fn wait_successful(client: &Client, ns: &str, name: &str) -> Kiali {
    wait_successful_within(client, ns, name, WAIT).await
}

/// [`wait_successful`] giving the operator `timeout` (a reconcile over thousands of namespaces).
pub async fn wait_successful_within(
    client: &Client,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> Kiali {
    wait_for_object(
        client,
        ns,
        name,
        &format!("Kiali {ns}/{name} is Successful for its generation"),
        timeout,
        |k: Kiali| match &k.status {
            Some(s) if s.is_successful_for(k.metadata.generation) => Ok(k),
            s => Err(format!(
                "generation {:?}, status {}",
                k.metadata.generation,
                serde_json::to_string(s).unwrap_or_default()
            )),
        },
    )
    .await
}

/// Waits until the CR reports Failure=True for its current generation (Successful not True) and returns the CR and
/// the Failure message; on timeout the error shows its status.
pub async fn wait_failure(client: &Client, ns: &str, name: &str) -> (Kiali, String) {
    wait_for_object(
        client,
        ns,
        name,
        &format!("Kiali {ns}/{name} reports Failure for its generation"),
        WAIT,
        |k: Kiali| {
            let failure = k.status.as_ref().and_then(|s| {
                let c = s.condition("Failure")?;
                (c.status == "True"
                    && c.observed_generation == k.metadata.generation
                    && !s.is_successful_for(k.metadata.generation))
                .then(|| c.message.clone())
            });
            match failure {
                Some(m) => Ok((k, m)),
                None => Err(format!(
                    "generation {:?}, status {}",
                    k.metadata.generation,
                    serde_json::to_string(&k.status).unwrap_or_default()
                )),
            }
        },
    )
    .await
}

/// Waits until a Deployment is rolled out — observed, and updated, ready and available for all its replicas — so
/// its pods passed admission (e.g. restricted Pod Security). On timeout the error shows the Deployment's status,
/// whose `ReplicaFailure` condition names an admission error.
pub async fn wait_rolled_out(client: &Client, ns: &str, name: &str) -> Deployment {
    wait_for_object(
        client,
        ns,
        name,
        &format!("Deployment {ns}/{name} is rolled out (its pods admitted)"),
        WAIT,
        |d: Deployment| {
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
        },
    )
    .await
}

/// Deletes the CR and waits until it (its finalizer released) and the cluster-scoped RBAC of
/// instance `inst` (ClusterRole, `-viewer` ClusterRole, ClusterRoleBinding) are gone.
pub async fn delete_cr_and_wait(client: &Client, ns: &str, cr: &str, inst: &str) {
    delete_cr_and_wait_within(client, ns, cr, inst, WAIT).await
}

/// [`delete_cr_and_wait`] giving the finalizer `timeout` (a prune of thousands of children).
pub async fn delete_cr_and_wait_within(
    client: &Client,
    ns: &str,
    cr: &str,
    inst: &str,
    timeout: Duration,
) {
    let api: Api<Kiali> = Api::namespaced(client.clone(), ns);
    api.delete(cr, &DeleteParams::default())
        .await
        .expect("delete CR");
    wait_until(
        &format!("Kiali {ns}/{cr}, ClusterRole(s) and ClusterRoleBinding {inst} are gone"),
        timeout,
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

/// Whether `api` holds `name`.
pub async fn exists<K>(api: &Api<K>, name: &str) -> bool
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    api.get_opt(name)
        .await
        .unwrap_or_else(|e| panic!("get {name}: {e}"))
        .is_some()
}

/// Creates `obj` through `api` and returns it as stored.
pub async fn create<K>(api: &Api<K>, obj: &K) -> K
where
    K: Resource + Clone + serde::Serialize + DeserializeOwned + Debug,
{
    api.create(&PostParams::default(), obj)
        .await
        .unwrap_or_else(|e| panic!("create {}: {e}", obj.name_any()))
}

/// Asks the operator to reconcile the CR now, as the guides do (`kubectl annotate … kiali.io/reconcile=…`).
pub async fn request_reconcile(client: &Client, ns: &str, name: &str, value: &str) {
    Api::<Kiali>::namespaced(client.clone(), ns)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(
                serde_json::json!({"metadata": {"annotations": {"kiali.io/reconcile": value}}}),
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("annotating Kiali {ns}/{name} kiali.io/reconcile: {e}"));
}

/// Asserts the API server refused a write as invalid (422) with a message naming every one of `needles`.
pub fn assert_invalid<T: Debug>(result: Result<T, kube::Error>, needles: &[&str], what: &str) {
    match result {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422, "{s:?}");
            assert!(
                needles.iter().all(|n| s.message.contains(n)),
                "{}",
                s.message
            );
        }
        other => panic!("{what} must be rejected: {other:?}"),
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound once, then released).
pub fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Writes `kubeconfig` into a fresh temporary directory; returns the directory (removed on drop) and the path.
pub fn kubeconfig_file(kubeconfig: &Kubeconfig) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, serde_yaml_ng::to_string(kubeconfig).expect("yaml"))
        .expect("write kubeconfig");
    let path = path.display().to_string();
    (dir, path)
}

/// Runs `meshglass-operator remote-secret --kubeconfig <kubeconfig> <extra…>` in process, with options parsed
/// exactly as on the command line (and the token wait shortened to `token_timeout` when given); returns the
/// outcome and what the command printed.
pub async fn run_remote_secret(
    kubeconfig: &str,
    extra: &[&str],
    token_timeout: Option<Duration>,
) -> (Result<Outcome, remote_secret::Error>, String) {
    let mut argv = vec!["remote-secret", "--kubeconfig", kubeconfig];
    argv.extend_from_slice(extra);
    let mut args = remote_secret::parse_args(argv).expect("options parse");
    if let Some(t) = token_timeout {
        args.token_timeout = t;
    }
    let mut out = Vec::new();
    let outcome = remote_secret::run(&args, &mut out).await;
    (outcome, String::from_utf8(out).expect("utf-8 output"))
}

/// The set-up of a remote-secret test on the shared east/west bed: a fresh Kiali namespace on east, and a
/// remote namespace and resource name unique to it (`<prefix>-access-<suffix>`, `<prefix>-<suffix>`).
pub struct RemoteSecretCase {
    pub bed: &'static TestBed,
    /// The bed's kubeconfig (contexts east and west).
    pub kubeconfig: String,
    pub east: Client,
    pub west: Client,
    pub kiali_ns: TestNamespace,
    pub remote_ns: String,
    pub name: String,
    /// The remote namespace when the case made it (deleted with the case).
    _remote: Option<TestNamespace>,
}

impl RemoteSecretCase {
    /// A case whose remote namespace does not exist yet (the CLI creates it).
    pub async fn new(prefix: &str) -> Self {
        let bed = east_west_bed().await;
        let (east, west) = east_west(bed).await;
        let kiali_ns = test_namespace(&east, prefix).await;
        let id = suffix(&kiali_ns).to_string();
        RemoteSecretCase {
            bed,
            kubeconfig: bed.kubeconfig_path().display().to_string(),
            east,
            west,
            remote_ns: format!("{prefix}-access-{id}"),
            name: format!("{prefix}-{id}"),
            kiali_ns,
            _remote: None,
        }
    }

    /// A case whose remote namespace already exists: a test namespace `<prefix>-remote-…` on west.
    pub async fn with_remote_namespace(prefix: &str) -> Self {
        let mut case = Self::new(prefix).await;
        let remote = test_namespace(&case.west, &format!("{prefix}-remote")).await;
        case.remote_ns = remote.name().to_string();
        case._remote = Some(remote);
        case
    }

    /// The options of a run between east and west for this case.
    pub fn opts(&self) -> Vec<&str> {
        east_west_opts(self.kiali_ns.name(), &self.remote_ns, &self.name)
    }
}

/// The kubeconfig stored in a remote-cluster Secret under the cluster's key.
pub fn kubeconfig_in(secret: &Secret, cluster: &str) -> Kubeconfig {
    let data = secret.data.as_ref().expect("secret data");
    let text = String::from_utf8(data[cluster].0.clone()).expect("utf-8 kubeconfig");
    Kubeconfig::from_yaml(&text).expect("kubeconfig parses")
}

/// A client from the kubeconfig stored in the Secret (one context, named after the cluster).
pub async fn client_from_secret(secret: &Secret, cluster: &str) -> Client {
    let kubeconfig = kubeconfig_in(secret, cluster);
    let options = KubeConfigOptions {
        context: Some(cluster.to_string()),
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

/// A ServiceAccount `sa` of `ns` that may read the namespace and, by a Role of its own, do what
/// `rules` allow in it; its token. The signed-in user of the server tests' token strategy.
pub async fn namespace_user(
    client: &Client,
    ns: &str,
    sa: &str,
    rules: &[serde_json::Value],
) -> String {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    fn from<T: DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).expect("a valid object")
    }
    let sa_obj: ServiceAccount = from(serde_json::json!({"metadata": {"name": sa}}));
    create(&Api::namespaced(client.clone(), ns), &sa_obj).await;
    let mut all = vec![serde_json::json!(
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}
    )];
    all.extend(rules.iter().cloned());
    let role: Role = from(serde_json::json!({"metadata": {"name": sa}, "rules": all}));
    create(&Api::namespaced(client.clone(), ns), &role).await;
    let binding: RoleBinding = from(serde_json::json!({
        "metadata": {"name": sa},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
    }));
    create(&Api::namespaced(client.clone(), ns), &binding).await;
    sa_token(client, ns, sa).await
}

/// `config` with the test view caches ([`meshglass_testbed::view_caches`]: on, recomputed every
/// second, so a test polling a live graph or health view sees new data within about a second),
/// unless it sets `kiali_internal` itself (anything but the defaults). Every in-process server of
/// the tests that poll those views is started through this ([`start_server`] applies it).
pub fn with_test_view_caches(mut config: meshglass_server::Config) -> meshglass_server::Config {
    if config.kiali_internal == Default::default() {
        config.kiali_internal =
            meshglass_server::Config::from_yaml(meshglass_testbed::view_caches::TEST_VIEW_CACHES)
                .expect("the test view caches parse")
                .kiali_internal;
    }
    config
}

/// Starts the server in process on the test bed: `config`, the bed's kubeconfig with the home
/// cluster's context `home`, and the remote secrets of `dir` (read every second).
pub async fn start_server(
    bed: &TestBed,
    config: meshglass_server::Config,
    home: &str,
    dir: &Path,
) -> meshglass_server::Running {
    meshglass_server::start(meshglass_server::Options {
        config: with_test_view_caches(config),
        kubeconfig: Some(bed.kubeconfig_path().to_path_buf()),
        context: Some(home.into()),
        remote_secrets_dir: dir.to_path_buf(),
        paths: Default::default(),
        secrets_poll: Duration::from_secs(1),
    })
    .await
    .expect("server starts")
}

/// [`start_server`], once its `/readyz` says every cluster's caches are synced.
pub async fn start_ready_server(
    bed: &TestBed,
    config: meshglass_server::Config,
    home: &str,
    dir: &Path,
) -> meshglass_server::Running {
    let running = start_server(bed, config, home, dir).await;
    let http = reqwest::Client::new();
    let ready = format!("http://{}/readyz", running.api_addr);
    wait_until("server ready", WAIT, || async {
        let r = http.get(&ready).send().await?;
        Ok::<_, reqwest::Error>((r.status() == 200).then_some(()))
    })
    .await
    .expect("ready");
    running
}

/// Merges `labels` and `annotations` into namespace `ns`.
pub async fn label_namespace(
    client: &Client,
    ns: &str,
    labels: serde_json::Value,
    annotations: serde_json::Value,
) {
    Api::<Namespace>::all(client.clone())
        .patch(
            ns,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!(
                {"metadata": {"labels": labels, "annotations": annotations}}
            )),
        )
        .await
        .unwrap_or_else(|e| panic!("label namespace {ns}: {e}"));
}
