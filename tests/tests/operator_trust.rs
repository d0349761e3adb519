//! End-to-end: a CR per escalation path of a Kiali CR author (issue "Trust", findings 1 and 2), against the real
//! operator process (`meshglass-operator run`, built by this test) with the default tenancy (every allow switch
//! off), on a cluster of this test binary's own.
//!
//! Tenancy: a CR deploys only into its own namespace, only the default image, and mints no remote token; each
//! refusal is condition Failure naming the field and the switch. No takeover: an object the CR did not create —
//! a built-in ClusterRole, a pre-existing binding, another CR's ClusterRole — is neither changed nor deleted, and
//! the Failure names its owner. Each test starts its own operator (one at a time: two would both act on every
//! CR), polls its `/healthz` every 50 ms while the test runs, and fails when the process exits.

use std::path::PathBuf;
use std::sync::OnceLock;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleRef, Subject};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use meshglass_operator::crds::Kiali;
use meshglass_operator::crds::names;
use meshglass_testbed::faults::{self, LatencyProbe, OperatorProcess};
use meshglass_testbed::{TestBed, TestNamespace, wait_until};
use std::time::Instant;

use tokio::sync::{Mutex, MutexGuard, OnceCell};

mod common;
use common::{
    WAIT, delete_cr_and_wait, install_kiali_crd, test_namespace, wait_failure, wait_successful,
};

const CLUSTER: &str = "east";

/// This binary's cluster with the CRD.
async fn bed() -> &'static TestBed {
    static SETUP: OnceCell<&'static TestBed> = OnceCell::const_new();
    SETUP
        .get_or_init(|| async {
            let bed = meshglass_testbed::shared(&[CLUSTER])
                .await
                .expect("test bed starts");
            install_kiali_crd(&bed.cluster(CLUSTER).client().await.expect("client")).await;
            bed
        })
        .await
}

/// The operator of one test: its process, the `/healthz` probe, and the turn of this test.
struct Operator {
    process: OperatorProcess,
    pid: u32,
    probe: Option<LatencyProbe>,
    _log: tempfile::TempDir,
    _turn: MutexGuard<'static, ()>,
}

/// Waits for this test's turn and starts the operator binary (default tenancy) against the cluster.
async fn operator() -> Operator {
    static TURN: Mutex<()> = Mutex::const_new(());
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    let turn = TURN.lock().await;
    let bed = bed().await;
    let binary = BINARY
        .get_or_init(|| faults::operator_bin().expect("the operator builds"))
        .clone();
    let log = tempfile::tempdir().expect("log dir");
    let mut process = OperatorProcess::start(
        &binary,
        &bed.cluster(CLUSTER).kubeconfig_path(),
        &log.path().join("operator.log"),
    )
    .expect("operator starts");
    process.wait_ready().await.expect("operator ready");
    let probe = probe(&process);
    Operator {
        pid: process.pid,
        process,
        probe: Some(probe),
        _log: log,
        _turn: turn,
    }
}

fn probe(p: &OperatorProcess) -> LatencyProbe {
    LatencyProbe::start_url(
        OperatorProcess::http(),
        format!("{}/healthz", p.admin),
        "operator /healthz",
    )
}

impl Operator {
    /// Fails when the operator exited or is another process.
    fn assert_running(&mut self) {
        self.process.assert_running();
        assert_eq!(self.process.pid, self.pid, "the operator was restarted");
    }

    /// The fault-table line of an escalation path: the time until the refusal is its detection time; the
    /// slowest `/healthz` since the last line and the operator's peak RSS (VmHWM). `/healthz` must have
    /// answered every time.
    async fn fault_line(&mut self, fault: &str, detect_s: f64) {
        self.assert_running();
        let (worst, failures, route) = match self.probe.take() {
            Some(p) => p.stop().await,
            None => (0, 0, String::new()),
        };
        assert_eq!(
            failures, 0,
            "{route} failed {failures} times during: {fault}"
        );
        self.probe = Some(probe(&self.process));
        println!(
            "FAULT | {fault} | detect {detect_s:.1} s | recover n/a | worst unaffected route {worst} ms ({route}) | peak RSS server n/a operator {:.0} MiB",
            self.process.peak_rss_mib()
        );
    }

    /// The end of a test: the operator is still the one started for it.
    async fn finish(mut self) {
        self.assert_running();
        if let Some(p) = self.probe.take() {
            let (_, failures, route) = p.stop().await;
            assert_eq!(failures, 0, "{route} failed {failures} times");
        }
    }
}

async fn client() -> Client {
    bed().await.cluster(CLUSTER).client().await.expect("client")
}

/// Creates the CR `kiali` in `ns` with `deployment` lines (YAML, indented by four) under `spec.deployment`.
async fn create_cr(client: &Client, ns: &str, deployment: &str) {
    let yaml = format!(
        "apiVersion: kiali.io/v1alpha1\nkind: Kiali\nmetadata:\n  name: kiali\n  namespace: {ns}\nspec:\n  auth:\n    \
         strategy: anonymous\n  deployment:\n{deployment}"
    );
    let obj: DynamicObject = serde_yaml_ng::from_str(&yaml).expect("CR YAML parses");
    Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ApiResource::erase::<Kiali>(&()))
        .create(&PostParams::default(), &obj)
        .await
        .expect("CR created");
}

/// Deletes the CR `kiali` of `ns` and waits until it is gone (its finalizer ran).
async fn delete_cr(client: &Client, ns: &str) {
    let api: Api<Kiali> = Api::namespaced(client.clone(), ns);
    api.delete("kiali", &DeleteParams::default())
        .await
        .expect("delete CR");
    wait_until(&format!("Kiali {ns}/kiali is gone"), WAIT, || {
        let api = api.clone();
        async move { Ok::<_, kube::Error>(api.get_opt("kiali").await?.is_none().then_some(())) }
    })
    .await
    .expect("CR deleted");
}

/// Creates the CR (as [`create_cr`]) and waits for its Failure: the message and how long the refusal took.
async fn refused(client: &Client, ns: &str, deployment: &str) -> (String, f64) {
    let started = Instant::now();
    create_cr(client, ns, deployment).await;
    let (_, message) = wait_failure(client, ns, "kiali").await;
    (message, started.elapsed().as_secs_f64())
}

fn owner_labels(meta: &ObjectMeta) -> Vec<String> {
    meta.labels
        .iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("meshglass.io/"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// Finding 1: `deployment.namespace` naming another namespace (whose remote-cluster Secrets the server would
/// mount) is refused; nothing is created there.
#[tokio::test]
async fn a_cr_deploys_only_into_its_own_namespace() {
    let mut op = operator().await;
    let client = client().await;
    let own = test_namespace(&client, "trust-ns").await;
    let other = test_namespace(&client, "trust-victim").await;
    let (message, detect) = refused(
        &client,
        own.name(),
        &format!(
            "    instance_name: {}\n    namespace: {}\n",
            own.name(),
            other.name()
        ),
    )
    .await;
    assert!(
        message.contains(&format!("deployment.namespace {:?}", other.name()))
            && message.contains("ALLOW_AD_HOC_KIALI_NAMESPACE"),
        "{message}"
    );
    for (kind, found) in [
        (
            "Deployment",
            Api::<Deployment>::namespaced(client.clone(), other.name())
                .get_opt(own.name())
                .await
                .expect("get")
                .is_some(),
        ),
        (
            "ServiceAccount",
            Api::<ServiceAccount>::namespaced(client.clone(), other.name())
                .get_opt(&names::service_account(own.name()))
                .await
                .expect("get")
                .is_some(),
        ),
        (
            "ClusterRoleBinding",
            Api::<ClusterRoleBinding>::all(client.clone())
                .get_opt(own.name())
                .await
                .expect("get")
                .is_some(),
        ),
    ] {
        assert!(!found, "{kind} created for a refused CR");
    }
    op.fault_line("CR deploying into another namespace", detect)
        .await;
    delete_cr(&client, own.name()).await;
    op.finish().await;
}

/// Finding 1: a CR picking the server image (which then runs with the server's cluster-wide read and the mounted
/// remote credentials) is refused, for each of the three image fields.
#[tokio::test]
async fn a_cr_deploys_only_the_default_image() {
    let mut op = operator().await;
    let client = client().await;
    for (field, value) in [
        ("image_name", "registry.example/evil"),
        ("image_version", "v6.6.6"),
        ("image_digest", "sha256:0000"),
    ] {
        let own = test_namespace(&client, "trust-image").await;
        let (message, detect) = refused(
            &client,
            own.name(),
            &format!(
                "    instance_name: {}\n    {field}: {value:?}\n",
                own.name()
            ),
        )
        .await;
        assert!(
            message.contains(&format!("deployment.{field} {value:?}"))
                && message.contains("ALLOW_AD_HOC_KIALI_IMAGE"),
            "{message}"
        );
        op.fault_line(&format!("CR setting deployment.{field}"), detect)
            .await;
        let deployment = Api::<Deployment>::namespaced(client.clone(), own.name())
            .get_opt(own.name())
            .await
            .expect("get");
        assert!(deployment.is_none(), "a Deployment for a refused image");
        delete_cr(&client, own.name()).await;
    }
    op.finish().await;
}

/// Finding 1: remote mode would mint a non-expiring token with cluster-wide read; refused unless allowed.
#[tokio::test]
async fn a_cr_mints_no_remote_token_unless_allowed() {
    let mut op = operator().await;
    let client = client().await;
    let own = test_namespace(&client, "trust-remote").await;
    let (message, detect) = refused(
        &client,
        own.name(),
        &format!(
            "    instance_name: {}\n    remote_cluster_resources_only: true\n",
            own.name()
        ),
    )
    .await;
    assert!(
        message.contains("remote_cluster_resources_only")
            && message.contains("ALLOW_REMOTE_CLUSTER_RESOURCES"),
        "{message}"
    );
    op.fault_line("CR asking for a remote token", detect).await;
    let tokens = Api::<Secret>::namespaced(client.clone(), own.name())
        .get_opt(&names::token_secret(own.name()))
        .await
        .expect("get");
    assert!(tokens.is_none(), "a token Secret for a refused CR");
    delete_cr(&client, own.name()).await;
    op.finish().await;
}

/// Finding 2: an instance name equal to a built-in ClusterRole's (`admin`) neither rewrites nor, on deletion,
/// removes that role; the Failure says it is not the operator's.
#[tokio::test]
async fn a_builtin_cluster_role_is_never_rewritten_or_removed() {
    let mut op = operator().await;
    let client = client().await;
    let own = test_namespace(&client, "trust-admin").await;
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let before = roles
        .get("admin")
        .await
        .expect("the built-in admin ClusterRole");
    let (message, detect) = refused(&client, own.name(), "    instance_name: admin\n").await;
    assert!(
        message.contains("ClusterRole admin already exists")
            && message.contains("was not created by meshglass-operator"),
        "{message}"
    );
    op.fault_line("CR named after a built-in ClusterRole", detect)
        .await;
    let during = roles.get("admin").await.expect("admin");
    assert_eq!(owner_labels(&during.metadata), Vec::<String>::new());
    assert_eq!(during.rules, before.rules, "admin's rules changed");
    assert_eq!(during.uid(), before.uid());

    delete_cr(&client, own.name()).await;
    let after = roles
        .get("admin")
        .await
        .expect("admin survives the CR's deletion");
    assert_eq!(after.uid(), before.uid());
    assert_eq!(after.rules, before.rules);
    // What the CR did create (its ServiceAccount) went with it.
    let sa = Api::<ServiceAccount>::namespaced(client.clone(), own.name())
        .get_opt(&names::service_account("admin"))
        .await
        .expect("get");
    assert!(sa.is_none(), "the CR's own ServiceAccount was not removed");
    op.finish().await;
}

/// Finding 2: a pre-existing binding with a child's name (and another roleRef) is not deleted and recreated, a
/// pre-existing ConfigMap is not adopted; deleting the CR leaves both.
#[tokio::test]
async fn pre_existing_objects_with_a_childs_name_are_not_adopted() {
    let mut op = operator().await;
    let client = client().await;
    let own = test_namespace(&client, "trust-adopt").await;
    let inst = own.name().to_string();
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let foreign = bindings
        .create(
            &PostParams::default(),
            &ClusterRoleBinding {
                metadata: ObjectMeta {
                    name: Some(inst.clone()),
                    ..Default::default()
                },
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "ClusterRole".into(),
                    name: "view".into(),
                },
                subjects: Some(vec![Subject {
                    kind: "User".into(),
                    name: "someone".into(),
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    ..Default::default()
                }]),
            },
        )
        .await
        .expect("foreign binding");
    let (message, detect) =
        refused(&client, own.name(), &format!("    instance_name: {inst}\n")).await;
    assert!(
        message.contains(&format!("ClusterRoleBinding {inst} already exists"))
            && message.contains("managers: "),
        "{message}"
    );
    op.fault_line("pre-existing binding with a child's name", detect)
        .await;
    let kept = bindings
        .get(&inst)
        .await
        .expect("the binding is still there");
    assert_eq!(kept.uid(), foreign.uid(), "the binding was recreated");
    assert_eq!(kept.role_ref.name, "view");
    assert_eq!(owner_labels(&kept.metadata), Vec::<String>::new());
    delete_cr(&client, own.name()).await;
    let kept = bindings
        .get(&inst)
        .await
        .expect("survives the CR's deletion");
    assert_eq!(kept.uid(), foreign.uid());
    // The ClusterRole the CR did create went with it.
    let role = Api::<ClusterRole>::all(client.clone())
        .get_opt(&inst)
        .await
        .expect("get");
    assert!(role.is_none(), "the CR's own ClusterRole was not removed");
    bindings
        .delete(&inst, &DeleteParams::default())
        .await
        .expect("clean up");

    // The same for a namespaced child: a ConfigMap named like the instance, made by someone else.
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), own.name());
    let theirs = maps
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some(inst.clone()),
                    ..Default::default()
                },
                data: Some([("config.yaml".to_string(), "theirs: true\n".to_string())].into()),
                ..Default::default()
            },
        )
        .await
        .expect("foreign ConfigMap");
    let (message, detect) =
        refused(&client, own.name(), &format!("    instance_name: {inst}\n")).await;
    assert!(
        message.contains(&format!("ConfigMap {}/{inst} already exists", own.name())),
        "{message}"
    );
    op.fault_line("pre-existing ConfigMap with a child's name", detect)
        .await;
    delete_cr(&client, own.name()).await;
    let kept = maps.get(&inst).await.expect("the ConfigMap survives");
    assert_eq!(kept.uid(), theirs.uid());
    assert_eq!(
        kept.data
            .unwrap_or_default()
            .get("config.yaml")
            .map(String::as_str),
        Some("theirs: true\n")
    );
    op.finish().await;
}

/// Finding 2 (kiali/kiali#7922): two CRs with one instance name in different namespaces do not fight over one
/// ClusterRole and binding — the second fails naming the first (Kiali's operator refuses the second too), and
/// deleting the second leaves the first's objects and status alone.
#[tokio::test]
async fn a_second_cr_with_the_same_instance_name_fails_naming_the_first() {
    let mut op = operator().await;
    let client = client().await;
    let first: TestNamespace = test_namespace(&client, "trust-first").await;
    let second = test_namespace(&client, "trust-second").await;
    let inst = format!("shared-{}", &first.name()[first.name().len() - 6..]);
    create_cr(
        &client,
        first.name(),
        &format!("    instance_name: {inst}\n"),
    )
    .await;
    wait_successful(&client, first.name(), "kiali").await;
    let (message, detect) = refused(
        &client,
        second.name(),
        &format!("    instance_name: {inst}\n"),
    )
    .await;
    op.fault_line("second CR with the same instance name", detect)
        .await;
    assert!(
        message.contains(&format!("ClusterRole {inst} already exists"))
            && message.contains(&format!("belongs to Kiali CR {}/kiali", first.name())),
        "{message}"
    );
    let role = Api::<ClusterRole>::all(client.clone())
        .get(&inst)
        .await
        .expect("the first CR's ClusterRole");
    assert!(
        owner_labels(&role.metadata).contains(&format!(
            "{}={}",
            names::OWNER_NAMESPACE_LABEL,
            first.name()
        )),
        "{:?}",
        role.metadata.labels
    );

    delete_cr(&client, second.name()).await;
    for (kind, present) in [
        (
            "ClusterRole",
            Api::<ClusterRole>::all(client.clone())
                .get_opt(&inst)
                .await
                .expect("get")
                .is_some(),
        ),
        (
            "ClusterRoleBinding",
            Api::<ClusterRoleBinding>::all(client.clone())
                .get_opt(&inst)
                .await
                .expect("get")
                .is_some(),
        ),
    ] {
        assert!(present, "deleting the second CR removed the first's {kind}");
    }
    wait_successful(&client, first.name(), "kiali").await;
    delete_cr_and_wait(&client, first.name(), "kiali", &inst).await;
    op.finish().await;
}

/// Finding 2: deleting a CR deletes only what the operator created for it. A ConfigMap someone else made and
/// gave this CR's owner labels (copied from a real child) is left alone by the finalizer's prune: labels can be
/// copied, the operator's field manager cannot.
#[tokio::test]
async fn an_object_with_copied_owner_labels_survives_the_crs_deletion() {
    let op = operator().await;
    let client = client().await;
    let own = test_namespace(&client, "trust-copied").await;
    let inst = own.name().to_string();
    create_cr(&client, own.name(), &format!("    instance_name: {inst}\n")).await;
    wait_successful(&client, own.name(), "kiali").await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), own.name());
    let copied = maps
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("copied-labels".into()),
                    labels: Some(
                        [
                            (names::OWNER_NAMESPACE_LABEL.to_string(), inst.clone()),
                            (
                                names::OWNER_NAME_LABEL.to_string(),
                                names::owner_label_value("kiali"),
                            ),
                        ]
                        .into(),
                    ),
                    ..Default::default()
                },
                data: Some([("theirs".to_string(), "true".to_string())].into()),
                ..Default::default()
            },
        )
        .await
        .expect("a ConfigMap with copied owner labels");
    delete_cr(&client, own.name()).await;
    let kept = maps
        .get_opt("copied-labels")
        .await
        .expect("get")
        .expect("the ConfigMap with copied labels was deleted with the CR");
    assert_eq!(kept.uid(), copied.uid());
    // The CR's own ConfigMap went with it.
    assert!(maps.get_opt(&inst).await.expect("get").is_none());
    op.finish().await;
}
