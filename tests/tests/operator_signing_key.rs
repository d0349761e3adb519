//! End-to-end: the sessions' signing key, against the real operator process (`meshglass-operator
//! run`, built by this test, its log written to a file this test reads) on a cluster of this test
//! binary's own. Secret `<instance>-signing-key` is created with a random key when absent — again
//! when it was deleted — and a Secret that exists before the CR is kept as it is (not changed, not
//! adopted: no owner reference, no owner labels). The key never appears in the operator's log,
//! in Events, in the CR's status or conditions, or in the server's ConfigMap.

use base64::Engine;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::{Client, ResourceExt};
use meshglass_operator::crds::Kiali;
use meshglass_operator::crds::names;
use meshglass_testbed::faults::{self, OperatorProcess};
use meshglass_testbed::{TestBed, wait_until};
use tokio::sync::OnceCell;

mod common;
use common::{
    WAIT, delete_cr_and_wait, install_kiali_crd, request_reconcile, test_namespace, wait_successful,
};

const CLUSTER: &str = "east";

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

async fn create_cr(client: &Client, ns: &str) {
    let yaml = format!(
        "apiVersion: kiali.io/v1alpha1\nkind: Kiali\nmetadata:\n  name: kiali\n  namespace: {ns}\nspec:\n  \
         auth:\n    strategy: token\n  deployment:\n    instance_name: {ns}\n"
    );
    let obj: DynamicObject = serde_yaml_ng::from_str(&yaml).expect("CR YAML parses");
    Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ApiResource::erase::<Kiali>(&()))
        .create(&PostParams::default(), &obj)
        .await
        .expect("CR");
}

fn key_of(s: &Secret) -> String {
    String::from_utf8(
        s.data.as_ref().expect("data")[names::SIGNING_KEY_DATA_KEY]
            .0
            .clone(),
    )
    .expect("text")
}

/// Everything of `ns` the operator writes or says that a reader of the namespace or of the
/// operator's log sees: the log, the Events, the CR (status, conditions), the ConfigMap, the
/// Deployment.
async fn visible(client: &Client, ns: &str, log: &std::path::Path) -> Vec<(&'static str, String)> {
    let cr = Api::<Kiali>::namespaced(client.clone(), ns)
        .get("kiali")
        .await
        .expect("CR");
    let events = Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("events");
    let cm = Api::<ConfigMap>::namespaced(client.clone(), ns)
        .get_opt(ns)
        .await
        .expect("config map");
    let d = Api::<Deployment>::namespaced(client.clone(), ns)
        .get_opt(ns)
        .await
        .expect("deployment");
    vec![
        (
            "the operator's log",
            std::fs::read_to_string(log).expect("operator log"),
        ),
        (
            "Events",
            serde_json::to_string(&events.items).expect("json"),
        ),
        ("the CR", serde_json::to_string(&cr).expect("json")),
        ("the ConfigMap", serde_json::to_string(&cm).expect("json")),
        ("the Deployment", serde_json::to_string(&d).expect("json")),
    ]
}

fn assert_never_shown(key: &str, seen: &[(&'static str, String)]) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(key);
    for (what, text) in seen {
        assert!(!text.contains(key), "the signing key is in {what}");
        assert!(
            !text.contains(&b64),
            "the signing key (base64) is in {what}"
        );
    }
}

#[tokio::test]
async fn the_signing_key_is_created_when_absent_kept_when_present_and_never_printed() {
    let bed = bed().await;
    let client = bed.cluster(CLUSTER).client().await.expect("client");
    let binary = faults::operator_bin().expect("the operator builds");
    let logs = tempfile::tempdir().expect("log dir");
    let log = logs.path().join("operator.log");
    // The operator's own crates at trace level: whatever it could print, it prints here.
    let mut op = OperatorProcess::start_logging(
        &binary,
        &bed.cluster(CLUSTER).kubeconfig_path(),
        &log,
        "info,meshglass_operator=trace,meshglass_crds=trace",
    )
    .expect("operator starts");
    op.wait_ready().await.expect("operator ready");

    // Absent: created with a random key, owned by the CR (garbage-collected with it) but without
    // the owner labels (the prune of children never deletes it).
    let made = test_namespace(&client, "key-new").await;
    let ns = made.name().to_string();
    create_cr(&client, &ns).await;
    wait_successful(&client, &ns, "kiali").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let name = names::signing_key_secret(&ns);
    let secret = secrets.get(&name).await.expect("the signing key Secret");
    let key = key_of(&secret);
    assert_eq!(key.len(), 32, "a random 32-character key");
    let labels = secret.labels();
    assert!(
        !labels.contains_key(names::OWNER_NAMESPACE_LABEL)
            && !labels.contains_key(names::OWNER_NAME_LABEL),
        "{labels:?}"
    );
    let owners = secret.owner_references();
    assert!(
        owners.len() == 1 && owners[0].kind == "Kiali" && owners[0].controller != Some(true),
        "{owners:?}"
    );
    let seen = visible(&client, &ns, &log).await;
    assert!(
        seen[0].1.contains("created the session signing key"),
        "the log is the operator's: {}",
        seen[0].1
    );
    assert_never_shown(&key, &seen);

    // Deleted: made again, with another random key.
    secrets
        .delete(&name, &DeleteParams::default())
        .await
        .expect("delete the key");
    request_reconcile(&client, &ns, "kiali", "key-deleted").await;
    let again = wait_until("the signing key is made again", WAIT, || {
        let (secrets, name) = (secrets.clone(), name.clone());
        async move { Ok::<_, kube::Error>(secrets.get_opt(&name).await?.map(|s| key_of(&s))) }
    })
    .await
    .expect("made again");
    assert_eq!(again.len(), 32);
    assert_ne!(again, key, "a new random key");
    let seen = visible(&client, &ns, &log).await;
    assert_never_shown(&key, &seen);
    assert_never_shown(&again, &seen);

    // Present before the CR: kept as it is, neither changed nor adopted.
    let kept = test_namespace(&client, "key-kept").await;
    let kns = kept.name().to_string();
    let kname = names::signing_key_secret(&kns);
    let mine = "a-key-of-the-users-own-0123456789";
    let theirs: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": kname, "labels": {"team": "mesh"}},
        "stringData": {"key": mine},
    }))
    .expect("secret");
    let ksecrets: Api<Secret> = Api::namespaced(client.clone(), &kns);
    let before = ksecrets
        .create(&PostParams::default(), &theirs)
        .await
        .expect("the user's key");
    create_cr(&client, &kns).await;
    wait_successful(&client, &kns, "kiali").await;
    // The server is given that Secret's key (by reference, never by value).
    let d = wait_until("the Deployment refers to the user's key", WAIT, || {
        let api = Api::<Deployment>::namespaced(client.clone(), &kns);
        let kns = kns.clone();
        async move { api.get_opt(&kns).await }
    })
    .await
    .expect("deployment");
    let template = serde_json::to_string(&d.spec.expect("spec").template).expect("json");
    assert!(
        template.contains("LOGIN_TOKEN_SIGNING_KEY") && template.contains(&kname),
        "{template}"
    );
    let after = ksecrets.get(&kname).await.expect("the user's key");
    assert_eq!(key_of(&after), mine);
    assert_eq!(
        after.metadata.resource_version, before.metadata.resource_version,
        "changed"
    );
    assert!(
        after.owner_references().is_empty(),
        "adopted: {:?}",
        after.owner_references()
    );
    assert_eq!(after.labels(), before.labels());
    assert_never_shown(mine, &visible(&client, &kns, &log).await);

    op.assert_running();
    delete_cr_and_wait(&client, &kns, "kiali", &kns).await;
    delete_cr_and_wait(&client, &ns, "kiali", &ns).await;
    // The CR deleted: its own key goes with it, the user's stays.
    assert!(ksecrets.get_opt(&kname).await.expect("get").is_some());
}
