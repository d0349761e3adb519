//! End-to-end: the operator under GitOps tools (Argo CD, Flux), on a real API server.
//!
//! * Applying the same CR manifest twice with server-side apply (as Argo CD and Flux do) changes
//!   nothing: neither the CR nor any object the operator built, even after a full reconcile.
//! * The operator does not fight fields it does not own (labels, annotations, a rollout restart
//!   added by other field managers), and puts back the fields it owns.
//! * Status is what the health checks read: `observedGeneration`, `Ready`, never Successful and
//!   Failure together; the Argo CD health check of examples/gitops/ (Lua) is run on the statuses the
//!   operator wrote.
//! * The server pod is admitted in a namespace that enforces the restricted Pod Security profile,
//!   with resource requests and limits.
//!
//! One operator runs in-process against `east` for the whole test binary (as
//! `meshglass-operator run --context east`); every test uses its own namespaces and an instance
//! name derived from them, because ClusterRoles are cluster-scoped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use meshglass_operator::controller::{self};
use meshglass_operator::crds::Kiali;
use meshglass_operator::crds::names;
use meshglass_testbed::{TestBed, tools, wait_gone, wait_until};
use serde_json::{Value, json};

mod common;
use common::{
    WAIT, delete_cr_and_wait, operator_bed, request_reconcile, restricted_namespace,
    test_namespace, wait_rolled_out, wait_successful,
};

/// The field manager of the GitOps tool applying the CR.
const GITOPS: &str = "argocd-controller";
const ARGOCD_CM: &str = include_str!("../../examples/gitops/argocd-cm-kiali-health.yaml");
const README: &str = include_str!("../../README.md");

/// The shared bed (east only) with the CRD installed and the operator running against it.
async fn bed() -> &'static TestBed {
    operator_bed(&["east"], &[]).await
}

async fn east() -> Client {
    bed()
        .await
        .cluster("east")
        .client()
        .await
        .expect("east client")
}

fn kiali_api() -> ApiResource {
    ApiResource::erase::<Kiali>(&())
}

/// The CR manifest as it would sit in Git.
fn manifest(ns: &str, instance: &str, deployment_extra: &str) -> String {
    format!(
        "apiVersion: kiali.io/v1alpha1\nkind: Kiali\nmetadata:\n  name: kiali\n  namespace: {ns}\nspec:\n  auth:\n    strategy: anonymous\n  deployment:\n    instance_name: {instance}\n    view_only_mode: true\n{deployment_extra}  kubernetes_config:\n    cluster_name: east\n"
    )
}

/// Server-side apply of a YAML manifest as written, without forcing conflicts (a conflict with
/// the operator's fields would be an error here, as it is for `kubectl apply --server-side`).
async fn gitops_apply(client: &Client, yaml: &str) -> DynamicObject {
    let obj: DynamicObject = serde_yaml_ng::from_str(yaml).expect("manifest parses");
    let ns = obj.namespace().expect("namespaced");
    Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &kiali_api())
        .patch(
            &obj.name_any(),
            &PatchParams::apply(GITOPS),
            &Patch::Apply(&obj),
        )
        .await
        .expect("server-side apply of the manifest")
}

/// `Kind namespace/name` → resourceVersion of every object carrying the CR's owner labels.
async fn children(client: &Client, cr_ns: &str) -> BTreeMap<String, String> {
    let selector = format!(
        "{}={cr_ns},{}={}",
        names::OWNER_NAMESPACE_LABEL,
        names::OWNER_NAME_LABEL,
        names::owner_label_value("kiali")
    );
    let lp = ListParams::default().labels(&selector);
    let kinds = [
        ApiResource::erase::<ServiceAccount>(&()),
        ApiResource::erase::<ConfigMap>(&()),
        ApiResource::erase::<Deployment>(&()),
        ApiResource::erase::<Service>(&()),
        ApiResource::erase::<Secret>(&()),
        ApiResource::erase::<Role>(&()),
        ApiResource::erase::<RoleBinding>(&()),
        ApiResource::erase::<ClusterRole>(&()),
        ApiResource::erase::<ClusterRoleBinding>(&()),
    ];
    let mut out = BTreeMap::new();
    for ar in kinds {
        let list = Api::<DynamicObject>::all_with(client.clone(), &ar)
            .list(&lp)
            .await
            .expect("list children");
        for o in list.items {
            out.insert(
                format!(
                    "{} {}/{}",
                    ar.kind,
                    o.namespace().unwrap_or_default(),
                    o.name_any()
                ),
                o.resource_version().unwrap_or_default(),
            );
        }
    }
    out
}

/// Makes the operator run one full reconcile of the CR without touching the CR or its children:
/// a Role carrying the CR's owner labels wakes the CR (Roles are watched by those labels) and,
/// being undesired, is deleted by the prune step that follows applying every child. It is written
/// with the operator's field manager, since the prune deletes only objects that carry both the
/// owner labels and that manager (no takeover). Returns once it is gone, i.e. once that pass has run.
async fn full_reconcile_pass(client: &Client, cr_ns: &str) {
    let roles: Api<Role> = Api::namespaced(client.clone(), cr_ns);
    let sentinel: Role = serde_json::from_value(json!({
        "metadata": {
            "name": "reconcile-sentinel",
            "labels": {
                names::OWNER_NAMESPACE_LABEL: cr_ns,
                names::OWNER_NAME_LABEL: names::owner_label_value("kiali"),
            },
        },
        "rules": [],
    }))
    .expect("a Role");
    let as_operator = PostParams {
        field_manager: Some(controller::MANAGER.into()),
        ..PostParams::default()
    };
    roles
        .create(&as_operator, &sentinel)
        .await
        .expect("create the sentinel Role");
    wait_gone(&roles, "reconcile-sentinel", WAIT)
        .await
        .expect("the operator pruned the sentinel Role (a full reconcile ran)");
}

#[tokio::test]
async fn applying_the_same_manifest_twice_changes_nothing() {
    let east = east().await;
    let ns = test_namespace(&east, "gitops-twice").await;
    let yaml = manifest(ns.name(), ns.name(), "");

    let first = gitops_apply(&east, &yaml).await;
    let k = wait_successful(&east, ns.name(), "kiali").await;
    assert_eq!(k.metadata.generation, first.metadata.generation);
    wait_rolled_out(&east, ns.name(), ns.name()).await;
    let cr_version = Api::<Kiali>::namespaced(east.clone(), ns.name())
        .get("kiali")
        .await
        .expect("CR")
        .resource_version();
    let before = children(&east, ns.name()).await;
    assert!(
        before.contains_key(&format!("Deployment {0}/{0}", ns.name()))
            && before.contains_key(&format!("ClusterRole /{}-viewer", ns.name())),
        "{before:?}"
    );

    let second = gitops_apply(&east, &yaml).await;
    assert_eq!(
        second.resource_version(),
        cr_version,
        "a second apply of the same manifest rewrote the CR"
    );
    full_reconcile_pass(&east, ns.name()).await;
    let k = wait_successful(&east, ns.name(), "kiali").await;
    assert_eq!(
        k.resource_version(),
        cr_version,
        "the reconcile rewrote the CR"
    );
    let after = children(&east, ns.name()).await;
    assert_eq!(
        before, after,
        "a no-op apply plus a full reconcile changed children"
    );

    delete_cr_and_wait(&east, ns.name(), "kiali", ns.name()).await;
}

/// Labels/annotations `team=mesh`, `example.com/owner=platform` added by another field manager.
async fn add_foreign_metadata<K>(api: &Api<K>, name: &str, kind: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = json!({
        "apiVersion": if kind == "Deployment" { "apps/v1" } else { "v1" },
        "kind": kind,
        "metadata": {
            "name": name,
            "labels": {"team": "mesh"},
            "annotations": {"example.com/owner": "platform"},
        },
    });
    api.patch(
        name,
        &PatchParams::apply("platform-team"),
        &Patch::Apply(&patch),
    )
    .await
    .unwrap_or_else(|e| panic!("foreign metadata on {kind} {name}: {e}"));
}

fn has_foreign_metadata(meta: &kube::api::ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .is_some_and(|l| l.get("team").map(String::as_str) == Some("mesh"))
        && meta
            .annotations
            .as_ref()
            .is_some_and(|a| a.get("example.com/owner").map(String::as_str) == Some("platform"))
}

#[tokio::test]
async fn foreign_fields_survive_and_owned_fields_are_put_back() {
    let east = east().await;
    let ns = test_namespace(&east, "gitops-fields").await;
    let inst = ns.name().to_string();
    gitops_apply(&east, &manifest(ns.name(), &inst, "")).await;
    wait_successful(&east, ns.name(), "kiali").await;
    let deployments: Api<Deployment> = Api::namespaced(east.clone(), ns.name());
    let services: Api<Service> = Api::namespaced(east.clone(), ns.name());
    let config_maps: Api<ConfigMap> = Api::namespaced(east.clone(), ns.name());
    let config0 = config_maps.get(&inst).await.expect("ConfigMap").data;

    // Other managers: a team's labels and annotations, and `kubectl rollout restart`.
    add_foreign_metadata(&deployments, &inst, "Deployment").await;
    add_foreign_metadata(&services, &inst, "Service").await;
    add_foreign_metadata(&config_maps, &inst, "ConfigMap").await;
    deployments
        .patch(
            &inst,
            &PatchParams {
                field_manager: Some("kubectl-rollout".into()),
                ..Default::default()
            },
            &Patch::Strategic(json!({"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}}})),
        )
        .await
        .expect("rollout restart");

    // Someone edits fields the operator owns.
    let edit = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..Default::default()
    };
    deployments
        .patch(
            &inst,
            &edit,
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("edit replicas");
    config_maps
        .patch(
            &inst,
            &edit,
            &Patch::Merge(json!({"data": {"config.yaml": "tampered: true\n"}})),
        )
        .await
        .expect("edit config");
    // And a forced reconcile, as a user would trigger one.
    request_reconcile(&east, ns.name(), "kiali", "2026-01-01T00:00:00Z").await;

    wait_until(
        "the operator put back replicas and config.yaml",
        WAIT,
        || {
            let deployments = deployments.clone();
            let config_maps = config_maps.clone();
            let inst = inst.clone();
            let config0 = config0.clone();
            async move {
                let d = deployments.get(&inst).await?;
                let cm = config_maps.get(&inst).await?;
                let back =
                    d.spec.as_ref().and_then(|s| s.replicas) == Some(1) && cm.data == config0;
                Ok::<_, kube::Error>(back.then_some(()))
            }
        },
    )
    .await
    .expect("owned fields restored");
    // One more full pass after the restore, then look at the foreign fields.
    full_reconcile_pass(&east, ns.name()).await;

    let d = deployments.get(&inst).await.expect("Deployment");
    assert!(has_foreign_metadata(&d.metadata), "{:?}", d.metadata);
    let template_ann = d
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    assert_eq!(
        template_ann
            .get("kubectl.kubernetes.io/restartedAt")
            .map(String::as_str),
        Some("2026-01-01T00:00:00Z"),
        "{template_ann:?}"
    );
    assert!(template_ann.contains_key(names::CONFIG_HASH_ANNOTATION));
    let s = services.get(&inst).await.expect("Service");
    assert!(has_foreign_metadata(&s.metadata), "{:?}", s.metadata);
    let cm = config_maps.get(&inst).await.expect("ConfigMap");
    assert!(has_foreign_metadata(&cm.metadata), "{:?}", cm.metadata);
    // The operator's field manager does not own them.
    for (kind, managed) in [
        ("Deployment", d.metadata.managed_fields.clone()),
        ("Service", s.metadata.managed_fields.clone()),
        ("ConfigMap", cm.metadata.managed_fields.clone()),
    ] {
        let ours = managed
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.manager.as_deref() == Some(controller::MANAGER))
            .map(|m| serde_json::to_string(&m.fields_v1).unwrap_or_default())
            .collect::<String>();
        assert!(!ours.is_empty(), "{kind}: no fields owned by the operator");
        assert!(
            !ours.contains("f:team") && !ours.contains("example.com/owner"),
            "{kind}: the operator owns a foreign field: {ours}"
        );
    }

    delete_cr_and_wait(&east, ns.name(), "kiali", &inst).await;
}

/// The Argo CD health check of examples/gitops/, run by Debian's Lua on `obj`.
/// The Lua health check of examples/gitops/argocd-cm-kiali-health.yaml.
fn health_script() -> String {
    let cm: Value = serde_yaml_ng::from_str(ARGOCD_CM).expect("argocd-cm parses");
    cm["data"]["resource.customizations.health.kiali.io_Kiali"]
        .as_str()
        .expect("the health key")
        .to_string()
}

fn argocd_health(obj: &Value) -> (String, String) {
    let script = health_script();
    let lua = tools::which("lua5.4")
        .or_else(|| tools::which("lua"))
        .expect("lua5.4 is installed (make prereqs)");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("health.lua"), script).expect("write health.lua");
    let main = format!(
        "obj = {}\nlocal hs = dofile({})\nio.write(hs.status, \"\\n\", hs.message or \"\")\n",
        lua_literal(obj),
        lua_literal(&Value::String(
            dir.path().join("health.lua").display().to_string()
        ))
    );
    let out = std::process::Command::new(lua)
        .arg("-e")
        .arg(&main)
        .output()
        .expect("run lua");
    assert!(
        out.status.success(),
        "lua failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (status, message) = text.split_once('\n').unwrap_or((&text, ""));
    (status.to_string(), message.to_string())
}

/// A JSON value as a Lua table constructor (Argo CD hands the object to Lua the same way: JSON
/// objects → tables, null → nil).
fn lua_literal(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let mut out = String::from("\"");
            for b in s.bytes() {
                match b {
                    b'"' | b'\\' => {
                        out.push('\\');
                        out.push(b as char);
                    }
                    0x20..=0x7e => out.push(b as char),
                    _ => out.push_str(&format!("\\{b:03}")),
                }
            }
            out.push('"');
            out
        }
        Value::Array(items) => format!(
            "{{{}}}",
            items.iter().map(lua_literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!(
                    "[{}] = {}",
                    lua_literal(&Value::String(k.clone())),
                    lua_literal(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn condition<'a>(
    k: &'a Kiali,
    type_: &str,
) -> Option<&'a meshglass_operator::crds::status::Condition> {
    k.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}

fn is_true(k: &Kiali, type_: &str) -> bool {
    condition(k, type_).is_some_and(|c| c.status == "True")
}

/// kstatus' generic rules (sigs.k8s.io/cli-utils `checkGenericProperties`, which Flux uses) for a
/// kind it has no specific rules for: observedGeneration behind → InProgress, Reconciling=True →
/// InProgress, Stalled=True → Failed, otherwise Current.
fn kstatus(k: &Kiali) -> &'static str {
    let observed = k
        .status
        .as_ref()
        .and_then(|s| s.observed_generation)
        .or(k.metadata.generation);
    if observed != k.metadata.generation || is_true(k, "Reconciling") {
        "InProgress"
    } else if is_true(k, "Stalled") {
        "Failed"
    } else {
        "Current"
    }
}

#[tokio::test]
async fn status_is_what_argo_cd_and_flux_read() {
    let east = east().await;
    let ns = test_namespace(&east, "gitops-status").await;
    let inst = ns.name().to_string();
    let api: Api<Kiali> = Api::namespaced(east.clone(), ns.name());

    // Every version of the CR the API server hands out while it goes good → bad → good.
    let seen: Arc<Mutex<Vec<Kiali>>> = Arc::default();
    let recorder = {
        let seen = seen.clone();
        let stream = watcher::watch_object(api.clone(), "kiali");
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                if let Ok(Some(k)) = event {
                    seen.lock().expect("lock").push(k);
                }
            }
        })
    };

    gitops_apply(&east, &manifest(ns.name(), &inst, "")).await;
    let good = wait_successful(&east, ns.name(), "kiali").await;
    let status = good.status.clone().expect("status");
    // Flux (kstatus): Current = observedGeneration matches and Ready=True.
    assert_eq!(status.observed_generation, good.metadata.generation);
    assert!(is_true(&good, "Ready") && is_true(&good, "Successful"));
    assert!(!is_true(&good, "Failure"));
    assert_eq!(kstatus(&good), "Current");
    for c in &status.conditions {
        assert_eq!(c.observed_generation, good.metadata.generation, "{c:?}");
    }
    let good_json = serde_json::to_value(&good).expect("json");
    let (health, message) = argocd_health(&good_json);
    assert_eq!(health, "Healthy", "{message}");
    // A generation the operator has not observed yet is Progressing, not Healthy.
    let mut unseen = good_json.clone();
    unseen["metadata"]["generation"] = json!(good.metadata.generation.unwrap_or(1) + 1);
    assert_eq!(argocd_health(&unseen).0, "Progressing");
    // Before the operator wrote anything.
    let mut fresh = good_json.clone();
    fresh.as_object_mut().expect("object").remove("status");
    assert_eq!(argocd_health(&fresh).0, "Progressing");

    // A spec the schema accepts but the operator cannot use (Git holds a broken change).
    gitops_apply(
        &east,
        &manifest(
            ns.name(),
            &inst,
            "    tolerations:\n    - tolerationSeconds: soon\n",
        ),
    )
    .await;
    let bad = wait_until("the CR reports Failure for its generation", WAIT, || {
        let api = api.clone();
        async move {
            let k = api.get("kiali").await?;
            let failed = condition(&k, "Failure").is_some_and(|c| {
                c.status == "True" && c.observed_generation == k.metadata.generation
            });
            Ok::<_, kube::Error>(failed.then_some(k))
        }
    })
    .await
    .expect("failure reported");
    let status = bad.status.clone().expect("status");
    assert_eq!(status.observed_generation, bad.metadata.generation);
    assert!(!is_true(&bad, "Ready"), "{status:?}");
    assert!(!is_true(&bad, "Successful"), "{status:?}");
    assert_eq!(kstatus(&bad), "Failed", "{status:?}");
    let (health, message) = argocd_health(&serde_json::to_value(&bad).expect("json"));
    assert_eq!(health, "Degraded");
    assert!(message.contains("deployment.tolerations"), "{message}");

    // Git is fixed again.
    gitops_apply(&east, &manifest(ns.name(), &inst, "")).await;
    let recovered = wait_successful(&east, ns.name(), "kiali").await;
    assert!(recovered.metadata.generation > bad.metadata.generation);
    assert_eq!(
        argocd_health(&serde_json::to_value(&recovered).expect("json")).0,
        "Healthy"
    );
    wait_until("the watch saw the recovered version", WAIT, || {
        let seen = seen.clone();
        let rv = recovered.resource_version();
        async move {
            let got = seen
                .lock()
                .map_err(|e| e.to_string())?
                .iter()
                .any(|k| k.resource_version() == rv);
            Ok::<_, String>(got.then_some(()))
        }
    })
    .await
    .expect("watch caught up");
    recorder.abort();

    let seen = seen.lock().expect("lock").clone();
    assert!(seen.len() >= 3, "{} versions seen", seen.len());
    assert!(
        seen.iter()
            .any(|k| k.status.is_some() && kstatus(k) == "InProgress"),
        "no version was InProgress while reconciling"
    );
    for k in &seen {
        let both = is_true(k, "Successful") && is_true(k, "Failure");
        assert!(!both, "Successful and Failure both True: {:?}", k.status);
        if is_true(k, "Successful") {
            assert!(
                is_true(k, "Ready"),
                "Successful without Ready: {:?}",
                k.status
            );
        }
        // A status never claims a generation the object does not have yet.
        if let Some(s) = &k.status {
            assert!(s.observed_generation <= k.metadata.generation, "{s:?}");
            // Flux never sees Current before the operator succeeded with this generation (the
            // moment before the operator's first status write is the one exception: no status).
            if kstatus(k) == "Current" {
                assert!(
                    s.is_successful_for(k.metadata.generation),
                    "kstatus Current but not Successful: {s:?}"
                );
            }
        }
    }

    delete_cr_and_wait(&east, ns.name(), "kiali", &inst).await;
}

#[test]
fn readme_shows_the_tested_health_check() {
    let script = health_script();
    for line in script.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            README.contains(line),
            "README.md's Argo CD snippet differs from examples/gitops/ at: {line}"
        );
    }
}

#[tokio::test]
async fn server_pod_is_admitted_under_restricted_pod_security() {
    let east = east().await;
    let cr_ns = test_namespace(&east, "gitops-pss-cr").await;
    let target = restricted_namespace(&east, "gitops-restricted").await;
    let pods: Api<Pod> = Api::namespaced(east.clone(), target.name());

    // The admission plugin is on: a pod outside the profile is rejected.
    let loose: Pod = serde_json::from_value(json!({
        "metadata": {"name": "loose"},
        "spec": {"containers": [{"name": "c", "image": "example.invalid/loose:1"}]},
    }))
    .expect("a Pod");
    match pods.create(&PostParams::default(), &loose).await {
        Err(kube::Error::Api(s)) if s.code == 403 && s.message.contains("PodSecurity") => {}
        other => panic!("a non-restricted pod must be rejected, got {other:?}"),
    }

    let inst = cr_ns.name().to_string();
    let extra = format!("    namespace: {}\n", target.name());
    gitops_apply(&east, &manifest(cr_ns.name(), &inst, &extra)).await;
    wait_successful(&east, cr_ns.name(), "kiali").await;
    let d = wait_rolled_out(&east, target.name(), &inst).await;
    let conditions = d
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    assert!(
        !conditions.iter().any(|c| c.type_ == "ReplicaFailure"),
        "{conditions:?}"
    );
    let list = pods
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={inst}")))
        .await
        .expect("pods");
    assert_eq!(list.items.len(), 1, "{:?}", list.items);
    let pod = &list.items[0];
    assert!(
        pod.spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_some(),
        "scheduled on a kwok node"
    );
    let c = &pod.spec.as_ref().expect("spec").containers[0];
    let res = c.resources.as_ref().expect("resources");
    assert!(
        res.requests
            .as_ref()
            .is_some_and(|r| r.contains_key("cpu") && r.contains_key("memory")),
        "{res:?}"
    );
    assert!(
        res.limits
            .as_ref()
            .is_some_and(|l| l.contains_key("memory")),
        "{res:?}"
    );
    let sc = c.security_context.as_ref().expect("securityContext");
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    // No FailedCreate from the ReplicaSet controller in that namespace.
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(east.clone(), target.name());
    let failed: Vec<String> = events
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("FailedCreate"))
        .map(|e| e.message.unwrap_or_default())
        .collect();
    assert!(failed.is_empty(), "{failed:?}");

    delete_cr_and_wait(&east, cr_ns.name(), "kiali", &inst).await;
}
