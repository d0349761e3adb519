//! End-to-end: the operator reconciling Kiali CRs on two real clusters (east primary, west remote).
//!
//! One operator per cluster runs in-process for the whole test binary, on its own thread and runtime,
//! out-of-cluster with the admin client of that cluster — as `meshglass-operator run --context <c>`.
//! Cluster-scoped objects are shared by the tests of the bed, so every test but the OSSM one uses its
//! own namespace and an instance name derived from it.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::{Client, ResourceExt};
use meshglass_operator::crds::Kiali;
use meshglass_operator::crds::names;
use meshglass_testbed::{TestBed, TestNamespace, tools, wait_for_token, wait_until};

mod common;
use common::{
    OSSM_REMOTE, WAIT, assert_invalid, delete_cr_and_wait, east_west, exists, operator_bed,
    request_reconcile, test_namespace, wait_successful,
};

const CLUSTERS: &[&str] = &["east", "west"];

/// OSSM 3 §6.5 step 1: the primary Kiali CR, verbatim.
const OSSM_PRIMARY: &str = r#"
apiVersion: kiali.io/v1alpha1
kind: Kiali
metadata:
  name: kiali
  namespace: istio-system
spec:
  version: default
  external_services:
    prometheus:
      auth:
        type: bearer
        use_kiali_token: true
      thanos_proxy:
        enabled: true
      url: https://thanos-querier.openshift-monitoring.svc.cluster.local:9091
"#;

/// The shared bed with the CRD installed, `istio-system` on each cluster and an operator running against each.
async fn bed() -> &'static TestBed {
    operator_bed(CLUSTERS, &["istio-system"]).await
}

/// A test's own namespace on one cluster of the bed. Its name is also the test's instance name, so that the
/// cluster-scoped objects of the test's CRs are its own.
struct Own {
    client: Client,
    ns: TestNamespace,
    inst: String,
}

impl Own {
    async fn namespace(cluster: &str, prefix: &str) -> Own {
        let client = bed().await.cluster(cluster).client().await.expect("client");
        let ns = test_namespace(&client, prefix).await;
        let inst = ns.name().to_string();
        Own { client, ns, inst }
    }

    /// Creates the CR `kiali` of this namespace and instance, with `extra_deployment` lines under
    /// `spec.deployment`.
    async fn create_cr(&self, extra_deployment: &str) -> Kiali {
        create_yaml(
            &self.client,
            &kiali_yaml(self.ns.name(), &self.inst, extra_deployment),
        )
        .await
        .expect("CR")
    }

    /// Deletes the CR `kiali` and waits until it and its cluster-scoped RBAC are gone.
    async fn delete_cr(&self) {
        delete_cr_and_wait(&self.client, self.ns.name(), "kiali", &self.inst).await
    }
}

/// Creates a CR from YAML exactly as written (no round trip through the Rust types).
async fn create_yaml(client: &Client, yaml: &str) -> Result<Kiali, kube::Error> {
    let obj: DynamicObject = serde_yaml_ng::from_str(yaml).expect("CR YAML parses");
    let ns = obj.namespace().expect("CR has a namespace");
    let ar = ApiResource::erase::<Kiali>(&());
    let created = Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &ar)
        .create(&PostParams::default(), &obj)
        .await?;
    Ok(serde_json::from_value(serde_json::to_value(created).expect("json")).expect("a Kiali"))
}

fn kiali_yaml(ns: &str, instance: &str, extra_deployment: &str) -> String {
    format!(
        "apiVersion: kiali.io/v1alpha1\nkind: Kiali\nmetadata:\n  name: kiali\n  namespace: {ns}\nspec:\n  auth:\n    strategy: anonymous\n  deployment:\n    instance_name: {instance}\n{extra_deployment}"
    )
}

/// `Kind namespace/name` of every object carrying the CR's owner labels.
async fn owned_objects(client: &Client, ns: &str, name: &str) -> BTreeSet<String> {
    let selector = format!(
        "{}={ns},{}={name}",
        names::OWNER_NAMESPACE_LABEL,
        names::OWNER_NAME_LABEL
    );
    let lp = ListParams::default().labels(&selector);
    let kinds: Vec<(ApiResource, bool)> = vec![
        (
            ApiResource::erase::<k8s_openapi::api::core::v1::ServiceAccount>(&()),
            true,
        ),
        (
            ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
            true,
        ),
        (ApiResource::erase::<Deployment>(&()), true),
        (
            ApiResource::erase::<k8s_openapi::api::core::v1::Service>(&()),
            true,
        ),
        (ApiResource::erase::<Secret>(&()), true),
        (
            ApiResource::erase::<k8s_openapi::api::rbac::v1::Role>(&()),
            true,
        ),
        (
            ApiResource::erase::<k8s_openapi::api::rbac::v1::RoleBinding>(&()),
            true,
        ),
        (ApiResource::erase::<ClusterRole>(&()), false),
        (ApiResource::erase::<ClusterRoleBinding>(&()), false),
    ];
    let mut out = BTreeSet::new();
    for (ar, namespaced) in kinds {
        for o in Api::<DynamicObject>::all_with(client.clone(), &ar)
            .list(&lp)
            .await
            .expect("list")
            .items
        {
            out.insert(if namespaced {
                format!(
                    "{} {}/{}",
                    ar.kind,
                    o.namespace().unwrap_or_default(),
                    o.name_any()
                )
            } else {
                format!("{} {}", ar.kind, o.name_any())
            });
        }
    }
    out
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The token of a `kubernetes.io/service-account-token` Secret, once the token controller filled it.
async fn token_of(client: &Client, ns: &str, secret: &str) -> String {
    wait_for_token(client, ns, secret, WAIT)
        .await
        .expect("token")
}

/// The token reads pods on its cluster and cannot create any.
async fn assert_read_only(bed: &TestBed, cluster: &str, token: &str, ns: &str) {
    let as_sa = bed
        .cluster(cluster)
        .client_with_token(token)
        .await
        .expect("token client");
    let listed = Api::<Pod>::all(as_sa.clone())
        .list(&ListParams::default())
        .await;
    assert!(listed.is_ok(), "the token cannot list pods: {listed:?}");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "forbidden"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .expect("pod");
    match Api::<Pod>::namespaced(as_sa.clone(), ns)
        .create(&PostParams::default(), &pod)
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("creating a pod with the token should be forbidden: {other:?}"),
    }
    let secrets = Api::<Secret>::namespaced(as_sa, ns)
        .list(&ListParams::default())
        .await;
    assert!(
        matches!(secrets, Err(kube::Error::Api(ref s)) if s.code == 403),
        "the token reads secrets: {secrets:?}"
    );
}

#[tokio::test]
async fn ossm_primary_and_remote_crs_reach_successful() {
    let bed = bed().await;
    let (east, west) = east_west(bed).await;

    create_yaml(&east, OSSM_PRIMARY)
        .await
        .expect("primary CR accepted as written");
    create_yaml(&west, OSSM_REMOTE)
        .await
        .expect("remote CR accepted as written");
    let primary = wait_successful(&east, "istio-system", "kiali").await;
    let remote = wait_successful(&west, "istio-system", "kiali").await;

    // `kubectl wait` itself, as the guide runs it.
    if let Some(kubectl) = tools::kubectl() {
        for ctx in CLUSTERS {
            let out = tokio::process::Command::new(&kubectl)
                .args([
                    "--kubeconfig",
                    &bed.kubeconfig_path().display().to_string(),
                    "--context",
                    ctx,
                ])
                .args([
                    "wait",
                    "--for=condition=Successful",
                    "kialis/kiali",
                    "-n",
                    "istio-system",
                    "--timeout=60s",
                ])
                .output()
                .await
                .expect("kubectl runs");
            assert!(
                out.status.success(),
                "kubectl wait on {ctx}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    let ps = primary.status.clone().expect("status");
    let d = ps.deployment.clone().expect("status.deployment");
    assert_eq!(
        (
            d.instance_name.as_str(),
            d.namespace.as_str(),
            d.remote_cluster_resources_only
        ),
        ("kiali", "istio-system", false)
    );
    assert_eq!(ps.observed_generation, primary.metadata.generation);
    // The seed's Prometheus auth (bearer, use_kiali_token) and thanos_proxy are acted on now.
    assert_eq!(ps.ignored_fields, ["version"]);
    assert!(
        !ps.environment
            .expect("environment")
            .kubernetes_version
            .is_empty()
    );
    assert_eq!(
        owned_objects(&east, "istio-system", "kiali").await,
        set(&[
            "ClusterRole kiali",
            "ClusterRoleBinding kiali",
            "ConfigMap istio-system/kiali",
            "Deployment istio-system/kiali",
            "Service istio-system/kiali",
            "ServiceAccount istio-system/kiali-service-account",
        ])
    );
    // The ConfigMap holds the effective configuration with the CR's Prometheus.
    let cm = Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(east.clone(), "istio-system")
        .get("kiali")
        .await
        .expect("configmap");
    let cfg = meshglass_operator::crds::Config::from_yaml(&cm.data.expect("data")["config.yaml"])
        .expect("config parses");
    assert_eq!(
        cfg.external_services.prometheus.url,
        "https://thanos-querier.openshift-monitoring.svc.cluster.local:9091"
    );
    assert_eq!(cfg.external_services.prometheus.auth.auth_type, "bearer");
    let dep = Api::<Deployment>::namespaced(east.clone(), "istio-system")
        .get("kiali")
        .await
        .expect("deployment");
    let c = &dep
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod")
        .containers[0];
    assert_eq!(c.image.as_deref(), Some("meshglass-server"));
    assert_eq!(
        c.args.clone().unwrap_or_default(),
        vec!["--config", "/kiali-configuration/config.yaml"]
    );

    let rs = remote.status.clone().expect("status");
    assert!(
        rs.deployment
            .expect("deployment")
            .remote_cluster_resources_only
    );
    assert_eq!(
        rs.service_account_token_secret.as_deref(),
        Some("kiali-service-account-token")
    );
    assert_eq!(
        owned_objects(&west, "istio-system", "kiali").await,
        set(&[
            "ClusterRole kiali",
            "ClusterRoleBinding kiali",
            "Secret istio-system/kiali-service-account-token",
            "ServiceAccount istio-system/kiali-service-account",
        ])
    );
    let token = token_of(&west, "istio-system", "kiali-service-account-token").await;
    assert_read_only(bed, "west", &token, "istio-system").await;

    // An annotation change alone reconciles (the guide's `kubectl annotate … kiali.io/reconcile`), and a
    // hand-deleted child comes back.
    Api::<Deployment>::namespaced(east.clone(), "istio-system")
        .delete("kiali", &DeleteParams::default())
        .await
        .expect("delete");
    request_reconcile(&east, "istio-system", "kiali", "now").await;
    wait_until("the deleted Deployment comes back", WAIT, || {
        let east = east.clone();
        async move {
            Api::<Deployment>::namespaced(east, "istio-system")
                .get_opt("kiali")
                .await
        }
    })
    .await
    .expect("deployment restored");
}

#[tokio::test]
async fn view_only_remote_token_reads_but_cannot_write() {
    let own = Own::namespace("west", "op-view").await;
    let (west, ns, inst) = (&own.client, &own.ns, &own.inst);
    own.create_cr("    remote_cluster_resources_only: true\n    view_only_mode: true\n")
        .await;
    let k = wait_successful(west, ns.name(), "kiali").await;
    let secret = k
        .status
        .and_then(|s| s.service_account_token_secret)
        .expect("token secret in status");
    assert_eq!(
        owned_objects(west, ns.name(), "kiali").await,
        set(&[
            &format!("ClusterRole {inst}-viewer"),
            &format!("ClusterRoleBinding {inst}"),
            &format!("Secret {}/{secret}", ns.name()),
            &format!("ServiceAccount {}/{inst}-service-account", ns.name()),
        ])
    );
    let token = token_of(west, ns.name(), &secret).await;
    assert_read_only(bed().await, "west", &token, ns.name()).await;
    own.delete_cr().await;
}

const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: west\n  cluster: {server: 'https://127.0.0.1:6443'}\nusers:\n- name: west\n  user: {token: abc}\ncontexts:\n- name: west\n  context: {cluster: west, user: west}\ncurrent-context: west\n";

fn remote_secret(name: &str, key: &str, value: &str) -> Secret {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"kiali.io/multiCluster": "true"}, "annotations": {"kiali.io/cluster": key}},
        "stringData": {key: value}
    }))
    .expect("secret")
}

fn template_annotation(d: &Deployment, key: &str) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(key))
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn labelled_secret_rolls_the_server_without_cr_change() {
    let own = Own::namespace("east", "op-roll").await;
    let (east, ns, inst) = (&own.client, &own.ns, &own.inst);
    own.create_cr("").await;
    let before = wait_successful(east, ns.name(), "kiali").await;
    let deployments: Api<Deployment> = Api::namespaced(east.clone(), ns.name());
    let hash0 = template_annotation(
        &deployments.get(inst).await.expect("deployment"),
        names::SECRETS_HASH_ANNOTATION,
    );

    let secrets: Api<Secret> = Api::namespaced(east.clone(), ns.name());
    secrets
        .create(
            &PostParams::default(),
            &remote_secret("kiali-remote-cluster-secret-west", "west", KUBECONFIG),
        )
        .await
        .expect("secret");
    secrets
        .create(
            &PostParams::default(),
            &remote_secret("not-a-kubeconfig", "north", "password: hunter2"),
        )
        .await
        .expect("secret");

    let rolled = wait_until("the Deployment mounts the new secret", WAIT, || {
        let deployments = deployments.clone();
        let inst = inst.clone();
        let hash0 = hash0.clone();
        async move {
            let d = deployments.get(&inst).await?;
            let mounts: Vec<String> = d
                .spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref())
                .map(|p| {
                    p.containers[0]
                        .volume_mounts
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|m| m.mount_path)
                        .collect()
                })
                .unwrap_or_default();
            let ok = template_annotation(&d, names::SECRETS_HASH_ANNOTATION) != hash0
                && mounts.contains(
                    &"/kiali-remote-cluster-secrets/kiali-remote-cluster-secret-west".to_string(),
                );
            Ok::<_, kube::Error>(ok.then_some(mounts))
        }
    })
    .await
    .expect("rolled");
    assert!(
        !rolled.iter().any(|m| m.ends_with("/not-a-kubeconfig")),
        "{rolled:?}"
    );

    // No change to the CR; the bad secret is reported by name, without its contents.
    let api: Api<Kiali> = Api::namespaced(east.clone(), ns.name());
    let after = wait_until("the status reports the rejected secret", WAIT, || {
        let api = api.clone();
        async move {
            let k = api.get("kiali").await?;
            let seen = k.status.as_ref().is_some_and(|s| {
                s.remote_cluster_secrets
                    .iter()
                    .any(|r| r.name == "not-a-kubeconfig" && !r.mounted)
            });
            Ok::<_, kube::Error>(seen.then_some(k))
        }
    })
    .await
    .expect("status");
    assert_eq!(after.metadata.generation, before.metadata.generation);
    let problem = serde_json::to_string(&after.status).expect("json");
    assert!(
        problem.contains("north") && !problem.contains("hunter2"),
        "{problem}"
    );
    let events = Api::<k8s_openapi::api::core::v1::Event>::namespaced(east.clone(), ns.name());
    wait_until("a Warning Event names the rejected secret", WAIT, || {
        let events = events.clone();
        async move {
            let list = events.list(&ListParams::default()).await?;
            Ok::<_, kube::Error>(list.items.into_iter().find(|e| {
                e.reason.as_deref() == Some("RemoteSecretRejected")
                    && e.message
                        .as_deref()
                        .unwrap_or_default()
                        .contains("not-a-kubeconfig")
            }))
        }
    })
    .await
    .expect("event");

    // Deleting the secret rolls the server again.
    secrets
        .delete("kiali-remote-cluster-secret-west", &DeleteParams::default())
        .await
        .expect("delete secret");
    wait_until(
        "the Deployment no longer mounts the deleted secret",
        WAIT,
        || {
            let deployments = deployments.clone();
            let inst = inst.clone();
            let hash0 = hash0.clone();
            async move {
                let d = deployments.get(&inst).await?;
                Ok::<_, kube::Error>(
                    (template_annotation(&d, names::SECRETS_HASH_ANNOTATION) == hash0)
                        .then_some(()),
                )
            }
        },
    )
    .await
    .expect("rolled back");
    own.delete_cr().await;
}

#[tokio::test]
async fn the_signing_key_is_made_once_never_shown_and_its_rotation_rolls_the_server() {
    let own = Own::namespace("east", "op-key").await;
    let (east, ns, inst) = (&own.client, &own.ns, &own.inst);
    own.create_cr("").await;
    wait_successful(east, ns.name(), "kiali").await;
    let secrets: Api<Secret> = Api::namespaced(east.clone(), ns.name());
    let name = names::signing_key_secret(inst);
    let key_of = |s: &Secret| {
        String::from_utf8(s.data.as_ref().expect("data")["key"].0.clone()).expect("text")
    };
    let key = key_of(&secrets.get(&name).await.expect("the signing key Secret"));
    assert_eq!(key.len(), 32, "a random 32-character key");
    let deployments: Api<Deployment> = Api::namespaced(east.clone(), ns.name());
    let d = deployments.get(inst).await.expect("deployment");
    let env = serde_json::to_string(&d.spec.as_ref().expect("spec").template).expect("json");
    assert!(
        env.contains("LOGIN_TOKEN_SIGNING_KEY") && env.contains(&name) && !env.contains(&key),
        "{env}"
    );
    let hash0 = template_annotation(&d, names::SIGNING_KEY_HASH_ANNOTATION);
    assert!(!hash0.is_empty());

    // Another reconcile keeps the key; nothing the operator writes shows it.
    request_reconcile(east, ns.name(), "kiali", "again").await;
    wait_successful(east, ns.name(), "kiali").await;
    assert_eq!(key_of(&secrets.get(&name).await.expect("secret")), key);
    let k = Api::<Kiali>::namespaced(east.clone(), ns.name())
        .get("kiali")
        .await
        .expect("CR");
    let cm = Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(east.clone(), ns.name())
        .get(inst)
        .await
        .expect("config map");
    let events = Api::<k8s_openapi::api::core::v1::Event>::namespaced(east.clone(), ns.name())
        .list(&ListParams::default())
        .await
        .expect("events");
    for (what, text) in [
        ("status", serde_json::to_string(&k.status).expect("json")),
        ("ConfigMap", serde_json::to_string(&cm.data).expect("json")),
        (
            "Events",
            serde_json::to_string(&events.items).expect("json"),
        ),
    ] {
        assert!(!text.contains(&key), "the key is in the {what}");
    }

    // Rotating the key (editing the Secret) rolls the server's pods.
    let rotated = "rotated-key-0123456789abcdefghij";
    secrets
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"stringData": {"key": rotated}})),
        )
        .await
        .expect("rotate");
    wait_until("the Deployment rolls on the new key", WAIT, || {
        let deployments = deployments.clone();
        let (inst, hash0) = (inst.clone(), hash0.clone());
        async move {
            let d = deployments.get(&inst).await?;
            let h = template_annotation(&d, names::SIGNING_KEY_HASH_ANNOTATION);
            Ok::<_, kube::Error>((!h.is_empty() && h != hash0).then_some(()))
        }
    })
    .await
    .expect("rolled");
    assert_eq!(key_of(&secrets.get(&name).await.expect("secret")), rotated);
    own.delete_cr().await;
}

#[tokio::test]
async fn deleting_the_cr_removes_cluster_rbac() {
    let own = Own::namespace("east", "op-del").await;
    let (east, ns, inst) = (&own.client, &own.ns, &own.inst);
    own.create_cr("").await;
    wait_successful(east, ns.name(), "kiali").await;
    assert!(exists(&Api::<ClusterRole>::all(east.clone()), inst).await);
    assert!(exists(&Api::<ClusterRoleBinding>::all(east.clone()), inst).await);
    own.delete_cr().await;
}

#[tokio::test]
async fn api_server_rejects_bad_enums_and_immutable_changes() {
    let own = Own::namespace("east", "op-val").await;
    let (east, ns, inst) = (&own.client, &own.ns, &own.inst);

    let bad = kiali_yaml(ns.name(), inst, "").replace("strategy: anonymous", "strategy: kerberos");
    assert_invalid(
        create_yaml(east, &bad).await,
        &["spec.auth.strategy", "kerberos"],
        "an unknown auth.strategy",
    );

    own.create_cr("").await;
    let api: Api<Kiali> = Api::namespaced(east.clone(), ns.name());
    for (patch, field) in [
        (
            serde_json::json!({"spec": {"deployment": {"instance_name": "renamed"}}}),
            "deployment.instance_name",
        ),
        (
            serde_json::json!({"spec": {"deployment": {"remote_cluster_resources_only": true}}}),
            "deployment.remote_cluster_resources_only",
        ),
    ] {
        assert_invalid(
            api.patch("kiali", &PatchParams::default(), &Patch::Merge(patch))
                .await,
            &[field, "immutable"],
            &format!("changing {field}"),
        );
    }

    // A new generation: Successful follows it (observedGeneration), never the previous result.
    wait_successful(east, ns.name(), "kiali").await;
    let edited = api
        .patch(
            "kiali",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"deployment": {"view_only_mode": true}}})),
        )
        .await
        .expect("edit");
    let k = wait_successful(east, ns.name(), "kiali").await;
    assert_eq!(
        k.status.and_then(|s| s.observed_generation),
        edited.metadata.generation
    );
    // The binding was replaced to point at the viewer role; the old role is gone.
    let binding = Api::<ClusterRoleBinding>::all(east.clone())
        .get(inst)
        .await
        .expect("binding");
    assert_eq!(binding.role_ref.name, format!("{inst}-viewer"));
    assert!(!exists(&Api::<ClusterRole>::all(east.clone()), inst).await);
    own.delete_cr().await;
}

/// Waits until the CR reports `Failure=True` for its current generation; returns the message.
async fn wait_failure(api: &Api<Kiali>) -> String {
    let k = wait_until("the CR reports Failure", WAIT, || {
        let api = api.clone();
        async move {
            let k = api.get("kiali").await?;
            let failed = k.status.as_ref().is_some_and(|s| {
                s.condition("Failure").is_some_and(|c| {
                    c.status == "True" && c.observed_generation == k.metadata.generation
                })
            });
            Ok::<_, kube::Error>(failed.then_some(k))
        }
    })
    .await
    .expect("failure reported");
    let status = k.status.expect("status");
    status
        .condition("Failure")
        .expect("Failure")
        .message
        .clone()
}

/// Issue 22, point 6: immutability means "may not change", not "may not be written". Kiali's own
/// CI writes `deployment.namespace` = the namespace the CR already has; that was refused.
#[tokio::test]
async fn immutable_fields_may_be_written_with_the_value_they_have() {
    let own = Own::namespace("east", "op-immut").await;
    let (east, ns) = (&own.client, &own.ns);
    own.create_cr("").await;
    wait_successful(east, ns.name(), "kiali").await;
    let api: Api<Kiali> = Api::namespaced(east.clone(), ns.name());
    let patch = |v: serde_json::Value| {
        let api = api.clone();
        async move {
            api.patch(
                "kiali",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"deployment": v}})),
            )
            .await
        }
    };
    // Unset → the CR's own namespace: accepted, and still Successful for the new generation.
    let written = patch(serde_json::json!({"namespace": ns.name()}))
        .await
        .expect("writing the namespace the CR already has is accepted");
    let k = wait_successful(east, ns.name(), "kiali").await;
    assert_eq!(k.metadata.generation, written.metadata.generation);
    assert_eq!(
        k.status.and_then(|s| s.deployment).map(|d| d.namespace),
        Some(ns.name().to_string())
    );
    // One namespace → another: refused by the API server, with the reason.
    assert_invalid(
        patch(serde_json::json!({"namespace": "elsewhere"})).await,
        &["deployment.namespace", "may be written, not changed"],
        "moving deployment.namespace",
    );
    // Back to unset (the same effective value), then unset → another namespace: CEL cannot tell
    // that from writing the own namespace, so the operator refuses it with Failure and the reason.
    patch(serde_json::json!({"namespace": ""}))
        .await
        .expect("unset again");
    wait_successful(east, ns.name(), "kiali").await;
    patch(serde_json::json!({"namespace": "elsewhere"}))
        .await
        .expect("the API server cannot see that this is a change");
    let msg = wait_failure(&api).await;
    assert!(
        msg.contains("deployment.namespace may not change")
            && msg.contains(ns.name())
            && msg.contains("elsewhere"),
        "{msg}"
    );
    // Nothing moved: the server's objects stay in the CR's namespace.
    assert!(
        exists(
            &Api::<Deployment>::namespaced(east.clone(), ns.name()),
            &own.inst
        )
        .await
    );
    // Setting it back recovers.
    patch(serde_json::json!({"namespace": null}))
        .await
        .expect("fix");
    wait_successful(east, ns.name(), "kiali").await;
    own.delete_cr().await;
}

/// Benchmark figure: CR created → `Successful` for its generation, 20 runs, observed through a watch.
/// Printed (`--nocapture`); the assertion only guards against a gross regression.
#[tokio::test]
async fn cr_apply_to_successful_latency() {
    let Own {
        client: east, ns, ..
    } = Own::namespace("east", "op-bench").await;
    let api: Api<Kiali> = Api::namespaced(east.clone(), ns.name());
    let mut samples = Vec::new();
    for i in 0..20 {
        let name = format!("bench-{i}");
        let inst = format!("{}-{i}", ns.name());
        let yaml =
            kiali_yaml(ns.name(), &inst, "").replace("name: kiali\n", &format!("name: {name}\n"));
        let start = std::time::Instant::now();
        create_yaml(&east, &yaml).await.expect("CR");
        let cond = |k: Option<&Kiali>| {
            k.is_some_and(|k| {
                k.status
                    .as_ref()
                    .is_some_and(|s| s.is_successful_for(k.metadata.generation))
            })
        };
        tokio::time::timeout(
            WAIT,
            kube::runtime::wait::await_condition(api.clone(), &name, cond),
        )
        .await
        .expect("Successful in time")
        .expect("watch");
        samples.push(start.elapsed());
        delete_cr_and_wait(&east, ns.name(), &name, &inst).await;
    }
    samples.sort();
    let p50 = samples[samples.len() / 2];
    let p95 = samples[(samples.len() * 95).div_ceil(100) - 1];
    eprintln!(
        "operator: CR apply -> Successful over {} runs: p50 {p50:?}, p95 {p95:?}, max {:?}",
        samples.len(),
        samples[samples.len() - 1]
    );
    assert!(p50 < Duration::from_secs(5), "p50 {p50:?}");
}

/// A spec the schema accepts but the build step cannot use fails with a message, never Successful and
/// Failure together; fixing it recovers, and other CRs keep reconciling meanwhile.
#[tokio::test]
async fn unusable_spec_reports_failure_then_recovers() {
    let own = Own::namespace("east", "op-fail").await;
    let (east, ns) = (&own.client, &own.ns);
    // The schema accepts it.
    own.create_cr("    tolerations:\n    - tolerationSeconds: soon\n")
        .await;
    let api: Api<Kiali> = Api::namespaced(east.clone(), ns.name());
    let failed = wait_until("the CR reports Failure", WAIT, || {
        let api = api.clone();
        async move {
            let k = api.get("kiali").await?;
            let failed = k.status.as_ref().is_some_and(|s| {
                s.condition("Failure").is_some_and(|c| {
                    c.status == "True" && c.observed_generation == k.metadata.generation
                })
            });
            Ok::<_, kube::Error>(failed.then_some(k))
        }
    })
    .await
    .expect("failure reported");
    let status = failed.status.expect("status");
    let failure = status.condition("Failure").expect("Failure");
    assert!(
        failure.message.contains("deployment.tolerations"),
        "{failure:?}"
    );
    assert_eq!(
        status.condition("Successful").expect("Successful").status,
        "False"
    );
    assert_eq!(status.condition("Ready").expect("Ready").status, "False");

    api.patch(
        "kiali",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"deployment": {"tolerations": []}}})),
    )
    .await
    .expect("fix");
    let k = wait_successful(east, ns.name(), "kiali").await;
    let status = k.status.expect("status");
    assert_eq!(
        status.condition("Failure").expect("Failure").status,
        "False"
    );
    own.delete_cr().await;
}

/// cluster_wide_access false: Roles only in the selected namespaces, following namespaces as they
/// appear (no CR change), and the ClusterRole keeps only the identity checks.
#[tokio::test]
async fn namespace_scoped_access_follows_selected_namespaces() {
    let own = Own::namespace("east", "op-scoped").await;
    let (east, ns, inst) = (&own.client, &own.ns, &own.inst);
    let label = format!("mesh-{inst}");
    let extra = format!(
        "    cluster_wide_access: false\n    discovery_selectors:\n      default:\n      - matchLabels: {{{label}: \"yes\"}}\n"
    );
    own.create_cr(&extra).await;
    wait_successful(east, ns.name(), "kiali").await;
    let role_names = |set: BTreeSet<String>| -> Vec<String> {
        set.into_iter().filter(|k| k.starts_with("Role ")).collect()
    };
    assert_eq!(
        role_names(owned_objects(east, ns.name(), "kiali").await),
        vec![format!("Role {}/{inst}", ns.name())]
    );
    let cluster_role = Api::<ClusterRole>::all(east.clone())
        .get(inst)
        .await
        .expect("cluster role");
    for rule in cluster_role.rules.unwrap_or_default() {
        assert_eq!(rule.verbs, vec!["create".to_string()], "{rule:?}");
    }

    // A namespace that matches the selector appears: it gets a Role without any CR change.
    let selected = test_namespace(east, "op-selected").await;
    Api::<Namespace>::all(east.clone())
        .patch(
            selected.name(),
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {label.clone(): "yes"}}})),
        )
        .await
        .expect("label");
    let want = format!("Role {}/{inst}", selected.name());
    wait_until("the newly selected namespace gets a Role", WAIT, || {
        let east = east.clone();
        let ns = ns.name().to_string();
        let want = want.clone();
        async move {
            let objects = owned_objects(&east, &ns, "kiali").await;
            Ok::<_, kube::Error>(
                (objects.contains(&want)
                    && objects.contains(&want.replacen("Role ", "RoleBinding ", 1)))
                .then_some(()),
            )
        }
    })
    .await
    .expect("role created");
    own.delete_cr().await;
    assert!(
        owned_objects(east, ns.name(), "kiali").await.is_empty(),
        "every Role and RoleBinding is removed with the CR"
    );
}
