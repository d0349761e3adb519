//! End-to-end: the Helm charts in `charts/`, rendered with `helm template` and server-side applied to a real
//! test-bed cluster, in namespaces that enforce the `restricted` Pod Security profile (the API server's PodSecurity
//! admission rejects any pod of theirs that is not restricted; the pods are created by ReplicaSets on kwok nodes).
//!
//! - Operator chart: the operator runs in process with a token of the chart's ServiceAccount. A primary and a
//!   remote-mode Kiali CR reach `Successful` — so the chart's RBAC suffices, including creating the server's
//!   ClusterRole under Kubernetes' escalation rule — and actions outside that RBAC are denied with 403.
//! - Server chart: rendered with the values of examples/kiali-primary.yaml, the objects are those the operator
//!   builds for that CR (names, labels, rules, ports, volumes, security contexts, config.yaml); in remote mode the
//!   token Secret gets a token that reads the cluster and nothing more.
//!
//! Every test uses its own namespaces and release/instance names derived from them, so cluster-scoped names never
//! clash.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, DeleteParams, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, Patch, PatchParams,
    PostParams,
};
use kube::discovery::Scope;
use kube::{Client, ResourceExt};
use meshglass_operator::build::{self, BuildOptions, Child};
use meshglass_operator::crds::config::Config;
use meshglass_operator::crds::{Kiali, names};
use meshglass_operator::remote_secret::objects::{Trust, kubeconfig_yaml, remote_kubeconfig};
use meshglass_testbed::{TestBed, apply_crd, tools, wait_for_token, wait_until};

mod common;
use common::{
    WAIT, documents, repo, restricted_namespace, sa_token, spawn_operator, suffix, wait_rolled_out,
    wait_successful,
};

const CLUSTER: &str = "east";
const MANAGER: &str = "helm-charts-e2e";
/// The images the charts name by default (`v` + appVersion = the workspace version).
const SERVER_IMAGE: &str = concat!("localhost/meshglass-server:v", env!("CARGO_PKG_VERSION"));

fn chart(name: &str) -> PathBuf {
    repo().join("charts").join(name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Runs helm; stdout on success, stderr on failure.
async fn helm(args: &[&str]) -> Result<String, String> {
    let helm = tools::helm().expect("helm is built (make tools)");
    let out = tokio::process::Command::new(helm)
        .args(args)
        .output()
        .await
        .expect("helm runs");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).expect("helm prints UTF-8"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `helm template <release> charts/<chart> --namespace <ns> <extra…>`.
async fn template(chart_name: &str, release: &str, ns: &str, extra: &[&str]) -> String {
    let path = chart(chart_name);
    let path = path.to_str().expect("UTF-8 path");
    let mut args = vec!["template", release, path, "--namespace", ns];
    args.extend_from_slice(extra);
    helm(&args)
        .await
        .unwrap_or_else(|e| panic!("helm template {chart_name} {extra:?}: {e}"))
}

/// The one rendered object of `kind` named `name`, as `T`.
fn rendered<T: serde::de::DeserializeOwned>(
    docs: &[serde_json::Value],
    kind: &str,
    name: &str,
) -> T {
    let doc = docs
        .iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"));
    serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{kind} {name}: {e}"))
}

/// `Kind name` of every rendered object, sorted.
fn kinds_and_names(docs: &[serde_json::Value]) -> Vec<String> {
    let mut out: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d["kind"].as_str().unwrap_or_default(),
                d["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    out.sort();
    out
}

/// Server-side applies every rendered object (CRDs first, waiting until they are Established).
async fn apply(client: &Client, docs: &[serde_json::Value]) {
    for doc in docs
        .iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
    {
        let crd: CustomResourceDefinition = serde_json::from_value(doc.clone()).expect("a CRD");
        apply_crd(client, &crd, WAIT)
            .await
            .expect("the chart's CRD applies");
    }
    for doc in docs
        .iter()
        .filter(|d| d["kind"] != "CustomResourceDefinition")
    {
        let obj: DynamicObject = serde_json::from_value(doc.clone()).expect("a Kubernetes object");
        let types = obj.types.clone().expect("apiVersion and kind");
        let gvk = GroupVersionKind::try_from(&types).expect("a group/version/kind");
        let (ar, caps) = kube::discovery::pinned_kind(client, &gvk)
            .await
            .unwrap_or_else(|e| panic!("discovering {}: {e}", types.kind));
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => Api::namespaced_with(
                client.clone(),
                &obj.namespace()
                    .expect("a namespaced object names its namespace"),
                &ar,
            ),
            Scope::Cluster => Api::all_with(client.clone(), &ar),
        };
        api.patch(
            &obj.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&obj),
        )
        .await
        .unwrap_or_else(|e| panic!("applying {} {}: {e}", types.kind, obj.name_any()));
    }
}

fn assert_forbidden<T: std::fmt::Debug>(what: &str, result: Result<T, kube::Error>) {
    match result {
        Err(kube::Error::Api(s)) if s.code == 403 => {}
        other => panic!("{what} should be forbidden (403): {other:?}"),
    }
}

/// An example Kiali CR (examples/<file>) moved to `ns` with instance name `instance`.
fn example_cr(file: &str, ns: &str, instance: &str) -> Kiali {
    let mut v: serde_json::Value =
        serde_yaml_ng::from_str(&read(&repo().join("examples").join(file))).expect("example YAML");
    v["metadata"]["namespace"] = ns.into();
    v["spec"]["deployment"]["instance_name"] = instance.into();
    serde_json::from_value(v).expect("the example is a Kiali CR")
}

/// The spec of examples/<file> as JSON.
fn example_spec(file: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_yaml_ng::from_str(&read(&repo().join("examples").join(file))).expect("example YAML");
    v["spec"].clone()
}

/// A remote-cluster secret as `meshglass-operator remote-secret` writes it (one cluster, one user).
fn remote_secret(ns: &str, name: &str, cluster: &str, labelled: bool) -> Secret {
    let kubeconfig = remote_kubeconfig(
        cluster,
        "https://127.0.0.1:6443",
        &Trust::Ca(b"foo".to_vec()),
        "abc",
    )
    .and_then(|k| kubeconfig_yaml(&k))
    .expect("kubeconfig");
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            labels: labelled.then(|| {
                BTreeMap::from([("kiali.io/multiCluster".to_string(), "true".to_string())])
            }),
            annotations: Some(BTreeMap::from([(
                names::CLUSTER_ANNOTATION.to_string(),
                cluster.to_string(),
            )])),
            ..Default::default()
        },
        data: Some(build::secret_data(&[(cluster, &kubeconfig)])),
        ..Default::default()
    }
}

fn bed_cluster(bed: &TestBed) -> &meshglass_testbed::Cluster {
    bed.cluster(CLUSTER)
}

async fn bed() -> &'static TestBed {
    meshglass_testbed::shared(&[CLUSTER])
        .await
        .expect("test bed starts")
}

/// What the server's rules allow a token: list pods and deployments everywhere, read no Secret (here in `ns`).
/// Returns the token's client.
async fn reads_the_cluster_but_no_secrets(
    bed: &'static TestBed,
    token: &str,
    ns: &str,
    who: &str,
) -> Client {
    let client = bed_cluster(bed)
        .client_with_token(token)
        .await
        .expect("token client");
    Api::<Pod>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap_or_else(|e| panic!("{who} lists pods: {e}"));
    Api::<Deployment>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap_or_else(|e| panic!("{who} lists deployments: {e}"));
    assert_forbidden(
        &format!("{who} reading Secrets"),
        Api::<Secret>::namespaced(client.clone(), ns)
            .list(&ListParams::default())
            .await,
    );
    client
}

#[tokio::test]
async fn operator_chart_rbac_suffices_and_nothing_more() {
    let bed = bed().await;
    let admin = bed_cluster(bed).client().await.expect("admin client");
    let ns = restricted_namespace(&admin, "helm-op").await;
    let release = ns.name().to_string();
    let fullname = format!("{release}-meshglass-operator");

    let out = template(
        "meshglass-operator",
        &release,
        ns.name(),
        &["--include-crds"],
    )
    .await;
    let docs = documents(&out);
    assert_eq!(
        kinds_and_names(&docs),
        vec![
            format!("ClusterRole {fullname}"),
            format!("ClusterRoleBinding {fullname}"),
            "CustomResourceDefinition kialis.kiali.io".to_string(),
            format!("Deployment {fullname}"),
            format!("Role {fullname}"),
            format!("RoleBinding {fullname}"),
            format!("ServiceAccount {fullname}"),
        ]
    );
    // Exactly the operator's rules, nothing more.
    let cluster_role: ClusterRole = rendered(&docs, "ClusterRole", &fullname);
    assert_eq!(
        cluster_role.rules.unwrap_or_default(),
        meshglass_operator::rbac::operator_cluster_rules()
    );
    let role: k8s_openapi::api::rbac::v1::Role = rendered(&docs, "Role", &fullname);
    assert_eq!(
        role.rules.unwrap_or_default(),
        meshglass_operator::rbac::operator_namespace_rules()
    );
    apply(&admin, &docs).await;

    // PodSecurity admission is enforcing in this namespace: a pod that is not restricted is rejected ...
    let loose: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "not-restricted"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .expect("pod");
    match Api::<Pod>::namespaced(admin.clone(), ns.name())
        .create(&PostParams::default(), &loose)
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert!(s.code == 403 && s.message.contains("PodSecurity"), "{s:?}")
        }
        other => panic!("a non-restricted pod was admitted: {other:?}"),
    }
    // ... and the operator's pod is admitted.
    wait_rolled_out(&admin, ns.name(), &fullname).await;

    // The operator in process, with the credentials of the chart's ServiceAccount.
    let token = sa_token(&admin, ns.name(), &fullname).await;
    let as_operator = bed_cluster(bed)
        .client_with_token(&token)
        .await
        .expect("token client");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let operator_token = token.clone();
    let operator = spawn_operator(
        move || async move {
            bed_cluster(bed)
                .client_with_token(&operator_token)
                .await
                .expect("operator client")
        },
        async move {
            let _ = stopped.await;
        },
    );

    // A primary CR (examples/kiali-primary.yaml) and a remote one (examples/kiali-remote.yaml), each in its own
    // namespace; the primary's server pods must be restricted too.
    let primary_ns = restricted_namespace(&admin, "helm-op-primary").await;
    let remote_ns = restricted_namespace(&admin, "helm-op-remote").await;
    let primary_inst = format!("op-p-{}", suffix(&primary_ns));
    let remote_inst = format!("op-r-{}", suffix(&remote_ns));
    // The CRs come from the chart itself (cr.create with the ci/ values, which are the examples' specs).
    for (values, cr_ns, inst) in [
        (
            "ci/primary-cr-values.yaml",
            primary_ns.name(),
            &primary_inst,
        ),
        ("ci/remote-cr-values.yaml", remote_ns.name(), &remote_inst),
    ] {
        let values = chart("meshglass-operator").join(values);
        let out = template(
            "meshglass-operator",
            &release,
            ns.name(),
            &[
                "-f",
                values.to_str().expect("UTF-8 path"),
                "--set",
                &format!("cr.namespace={cr_ns}"),
                "--set",
                &format!("cr.spec.deployment.instance_name={inst}"),
            ],
        )
        .await;
        let crs: Vec<serde_json::Value> = documents(&out)
            .into_iter()
            .filter(|d| d["kind"] == "Kiali")
            .collect();
        assert_eq!(crs.len(), 1, "cr.create renders one Kiali CR: {out}");
        apply(&admin, &crs).await;
    }
    wait_successful(&admin, primary_ns.name(), "kiali").await;
    wait_successful(&admin, remote_ns.name(), "kiali").await;
    // The ClusterRoles the operator created (allowed by the escalation rule only because it holds their rules).
    let cluster_roles: Api<ClusterRole> = Api::all(admin.clone());
    for name in [
        names::role(&primary_inst, true),
        names::role(&remote_inst, true),
    ] {
        cluster_roles
            .get(&name)
            .await
            .unwrap_or_else(|e| panic!("ClusterRole {name} created by the operator: {e}"));
    }
    wait_rolled_out(&admin, primary_ns.name(), &primary_inst).await;
    Api::<Secret>::namespaced(admin.clone(), remote_ns.name())
        .get(&names::token_secret(&remote_inst))
        .await
        .expect("the remote token Secret");

    // The leader-election Lease: allowed in the release namespace only.
    let lease = |name: &str| Lease {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Lease>::namespaced(as_operator.clone(), ns.name())
        .create(&PostParams::default(), &lease("probe"))
        .await
        .expect("a Lease in the release namespace");
    assert_forbidden(
        "a Lease in another namespace",
        Api::<Lease>::namespaced(as_operator.clone(), primary_ns.name())
            .create(&PostParams::default(), &lease("probe"))
            .await,
    );

    // Outside the chart's RBAC: denied.
    let wildcard: ClusterRole = serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("{release}-wildcard")},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    }))
    .expect("cluster role");
    assert_forbidden(
        "a ClusterRole with verbs [*] (escalation rule)",
        Api::<ClusterRole>::all(as_operator.clone())
            .create(&PostParams::default(), &wildcard)
            .await,
    );
    let admin_binding: ClusterRoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("{release}-admin")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": fullname, "namespace": ns.name()}]
    }))
    .expect("binding");
    assert_forbidden(
        "binding cluster-admin to itself (no bind/escalate)",
        Api::<ClusterRoleBinding>::all(as_operator.clone())
            .create(&PostParams::default(), &admin_binding)
            .await,
    );
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "forbidden"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .expect("pod");
    assert_forbidden(
        "creating a Pod",
        Api::<Pod>::namespaced(as_operator.clone(), primary_ns.name())
            .create(&PostParams::default(), &pod)
            .await,
    );
    assert_forbidden(
        "deleting a Namespace",
        Api::<Namespace>::all(as_operator.clone())
            .delete(remote_ns.name(), &DeleteParams::default())
            .await,
    );

    // Deleting the CRs: the finalizer (run under the same RBAC) removes the cluster-scoped objects.
    for n in [primary_ns.name(), remote_ns.name()] {
        Api::<Kiali>::namespaced(admin.clone(), n)
            .delete("kiali", &DeleteParams::default())
            .await
            .expect("deleting the CR");
    }
    for (n, inst) in [
        (primary_ns.name(), &primary_inst),
        (remote_ns.name(), &remote_inst),
    ] {
        let kialis: Api<Kiali> = Api::namespaced(admin.clone(), n);
        let roles = cluster_roles.clone();
        let role = names::role(inst, true);
        wait_until(
            &format!("Kiali {n}/kiali and ClusterRole {role} are gone"),
            WAIT,
            || {
                let (kialis, roles, role) = (kialis.clone(), roles.clone(), role.clone());
                async move {
                    let cr = kialis.get_opt("kiali").await?;
                    let r = roles.get_opt(&role).await?;
                    Ok::<_, kube::Error>((cr.is_none() && r.is_none()).then_some(()))
                }
            },
        )
        .await
        .expect("the finalizer runs under the chart's RBAC");
    }

    let _ = stop.send(());
    operator.join().expect("the operator thread ends");
    for name in [&fullname] {
        let _ = Api::<ClusterRoleBinding>::all(admin.clone())
            .delete(name, &DeleteParams::default())
            .await;
        let _ = cluster_roles.delete(name, &DeleteParams::default()).await;
    }
}

#[tokio::test]
async fn server_chart_renders_what_the_operator_builds() {
    let bed = bed().await;
    let admin = bed_cluster(bed).client().await.expect("admin client");
    let ns = restricted_namespace(&admin, "helm-srv").await;
    let inst = format!("srv-{}", suffix(&ns));
    let values = chart("meshglass-server").join("ci/primary-values.yaml");
    let values = values.to_str().expect("UTF-8 path");
    let set_instance = format!("deployment.instance_name={inst}");

    // The remote-cluster secret the values list; plus, for the lookup below, one found by label and
    // Kiali's fixed name.
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), ns.name());
    let west = remote_secret(ns.name(), "kiali-remote-cluster-secret-west", "west", true);
    secrets
        .create(&PostParams::default(), &west)
        .await
        .expect("remote secret");

    let out = template(
        "meshglass-server",
        &inst,
        ns.name(),
        &["-f", values, "--set", &set_instance],
    )
    .await;
    let docs = documents(&out);
    let viewer = names::role(&inst, true);
    let sa = names::service_account(&inst);
    let mut expected = vec![
        format!("ClusterRole {viewer}"),
        format!("ClusterRoleBinding {inst}"),
        format!("ConfigMap {inst}"),
        format!("Deployment {inst}"),
        format!("Secret {}", names::signing_key_secret(&inst)),
        format!("Service {inst}"),
        format!("ServiceAccount {sa}"),
    ];
    expected.sort();
    assert_eq!(kinds_and_names(&docs), expected);
    // The session key: random, 32 characters, as the operator makes it.
    let key: Secret = rendered(&docs, "Secret", &names::signing_key_secret(&inst));
    let key = key
        .data
        .as_ref()
        .and_then(|d| d.get(names::SIGNING_KEY_DATA_KEY))
        .expect("the signing key");
    assert_eq!(key.0.len(), 32);

    // What the operator builds for the same CR (examples/kiali-primary.yaml) and secret.
    let cr = example_cr("kiali-primary.yaml", ns.name(), &inst);
    let opts = BuildOptions {
        server_image: SERVER_IMAGE.into(),
        ..BuildOptions::default()
    };
    let desired =
        build::build(&cr, std::slice::from_ref(&west), &[], &opts).expect("operator build");
    let built = |kind: &str| {
        desired
            .objects
            .iter()
            .find(|c| c.kind() == kind)
            .unwrap_or_else(|| panic!("the operator builds a {kind}"))
            .clone()
    };

    // Labels: Kiali's set, as the operator sets them (managed-by says Helm here).
    let version = concat!("v", env!("CARGO_PKG_VERSION"));
    for doc in &docs {
        let labels: BTreeMap<String, String> =
            serde_json::from_value(doc["metadata"]["labels"].clone()).expect("labels");
        for (k, v) in names::labels(&inst, version) {
            if k != "app.kubernetes.io/managed-by" {
                assert_eq!(labels.get(&k), Some(&v), "label {k} of {}", doc["kind"]);
            }
        }
        assert_eq!(
            labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("Helm")
        );
    }

    // RBAC: the rules the operator grants, bound to the ServiceAccount.
    let Child::ClusterRole(op_role) = built("ClusterRole") else {
        unreachable!()
    };
    let role: ClusterRole = rendered(&docs, "ClusterRole", &viewer);
    assert_eq!(role.rules, op_role.rules);
    let Child::ClusterRoleBinding(op_binding) = built("ClusterRoleBinding") else {
        unreachable!()
    };
    let binding: ClusterRoleBinding = rendered(&docs, "ClusterRoleBinding", &inst);
    assert_eq!(binding.role_ref, op_binding.role_ref);
    assert_eq!(binding.subjects, op_binding.subjects);

    // Service: same type, selector and ports.
    let Child::Service(op_service) = built("Service") else {
        unreachable!()
    };
    let service: Service = rendered(&docs, "Service", &inst);
    assert_eq!(service.spec, op_service.spec);

    // Deployment: same selector and pod spec (secret volumes are optional in the chart).
    let Child::Deployment(op_deploy) = built("Deployment") else {
        unreachable!()
    };
    let deploy: Deployment = rendered(&docs, "Deployment", &inst);
    let (spec, op_spec) = (
        deploy.spec.clone().expect("spec"),
        op_deploy.spec.clone().expect("spec"),
    );
    assert_eq!(spec.selector, op_spec.selector);
    assert_eq!(spec.replicas, op_spec.replicas);
    let pod_labels = spec.template.metadata.clone().unwrap_or_default().labels;
    for (k, v) in op_spec
        .template
        .metadata
        .clone()
        .unwrap_or_default()
        .labels
        .unwrap_or_default()
    {
        if !k.starts_with("meshglass.io/") && k != "app.kubernetes.io/managed-by" {
            assert_eq!(
                pod_labels.as_ref().and_then(|l| l.get(&k)),
                Some(&v),
                "pod label {k}"
            );
        }
    }
    assert!(
        spec.template
            .metadata
            .clone()
            .unwrap_or_default()
            .annotations
            .unwrap_or_default()
            .contains_key(names::CONFIG_HASH_ANNOTATION)
    );
    let mut pod = spec.template.spec.clone().expect("pod spec");
    let mut op_pod = op_spec.template.spec.clone().expect("pod spec");
    // Secret `<instance>` (the OpenID client secret) is optional in both.
    for v in op_pod.volumes.iter_mut().flatten() {
        if let Some(s) = v.secret.as_mut().filter(|_| v.name == "kiali-secret") {
            assert_eq!(s.optional, Some(true), "secret volume {}", v.name);
            s.optional = None;
        }
    }
    for v in pod.volumes.iter_mut().flatten() {
        if let Some(s) = v.secret.as_mut() {
            assert_eq!(s.optional, Some(true), "secret volume {}", v.name);
            s.optional = None;
        }
    }
    assert_eq!(pod, op_pod, "the chart's pod spec is the operator's");

    // config.yaml: the operator's effective configuration (deployment extras such as image and resources aside).
    let cm: ConfigMap = rendered(&docs, "ConfigMap", &inst);
    let text = cm
        .data
        .as_ref()
        .and_then(|d| d.get("config.yaml"))
        .expect("config.yaml");
    let mut chart_cfg = Config::from_yaml(text).expect("the server reads the chart's config.yaml");
    let mut op_cfg = desired.config.clone();
    chart_cfg.deployment.extra.clear();
    op_cfg.deployment.extra.clear();
    assert_eq!(chart_cfg, op_cfg);

    // Applied in a restricted namespace: every object exists and the pod is admitted.
    apply(&admin, &docs).await;
    wait_rolled_out(&admin, ns.name(), &inst).await;
    Api::<ServiceAccount>::namespaced(admin.clone(), ns.name())
        .get(&sa)
        .await
        .expect("ServiceAccount");
    Api::<ConfigMap>::namespaced(admin.clone(), ns.name())
        .get(&inst)
        .await
        .expect("ConfigMap");
    let svc = Api::<Service>::namespaced(admin.clone(), ns.name())
        .get(&inst)
        .await
        .expect("Service");
    let ports: Vec<(Option<String>, i32)> = svc
        .spec
        .and_then(|s| s.ports)
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.name, p.port))
        .collect();
    assert_eq!(
        ports,
        vec![
            (Some("http".into()), 20001),
            (Some("http-metrics".into()), 9090)
        ]
    );
    // The server's ServiceAccount reads the cluster, and no Secrets.
    let token = sa_token(&admin, ns.name(), &sa).await;
    reads_the_cluster_but_no_secrets(bed, &token, ns.name(), "the server").await;

    // With access to the cluster (`helm template --dry-run=server`, as `helm install` does), the chart finds
    // remote-cluster secrets as the operator does: by label and Kiali's fixed name.
    let auto = remote_secret(ns.name(), "kiali-remote-cluster-secret-auto", "north", true);
    let fixed = remote_secret(ns.name(), "kiali-multi-cluster-secret", "south", false);
    let unrelated = remote_secret(ns.name(), "unrelated", "nowhere", false);
    for s in [&auto, &fixed, &unrelated] {
        secrets
            .create(&PostParams::default(), s)
            .await
            .expect("secret");
    }
    let kubeconfig = bed.kubeconfig_path().display().to_string();
    let out = template(
        "meshglass-server",
        &inst,
        ns.name(),
        &[
            "-f",
            values,
            "--set",
            &set_instance,
            "--dry-run=server",
            "--kubeconfig",
            &kubeconfig,
            "--kube-context",
            CLUSTER,
        ],
    )
    .await;
    let docs = documents(&out);
    let deploy: Deployment = rendered(&docs, "Deployment", &inst);
    let all = [west.clone(), auto, fixed, unrelated];
    let desired = build::build(&cr, &all, &[], &opts).expect("operator build");
    let Some(Child::Deployment(op_deploy)) =
        desired.objects.iter().find(|c| c.kind() == "Deployment")
    else {
        panic!("the operator builds a Deployment")
    };
    let mounts = |d: &Deployment| -> Vec<(String, Option<String>)> {
        d.spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.volumes.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.name, v.secret.and_then(|s| s.secret_name)))
            .collect()
    };
    assert_eq!(mounts(&deploy), mounts(op_deploy));
    assert_eq!(
        mounts(&deploy)
            .into_iter()
            .filter_map(|(_, s)| s)
            .collect::<Vec<_>>(),
        vec![
            "kiali-multi-cluster-secret".to_string(),
            "kiali-remote-cluster-secret-auto".to_string(),
            "kiali-remote-cluster-secret-west".to_string(),
            // Secret `<instance>`: the OpenID client secret (optional).
            inst.clone(),
        ]
    );

    for name in [&viewer, &inst] {
        let _ = Api::<ClusterRole>::all(admin.clone())
            .delete(name, &DeleteParams::default())
            .await;
        let _ = Api::<ClusterRoleBinding>::all(admin.clone())
            .delete(name, &DeleteParams::default())
            .await;
    }
}

#[tokio::test]
async fn server_chart_remote_mode_makes_a_read_only_token() {
    let bed = bed().await;
    let admin = bed_cluster(bed).client().await.expect("admin client");
    let ns = restricted_namespace(&admin, "helm-remote").await;
    let inst = format!("rem-{}", suffix(&ns));
    let values = chart("meshglass-server").join("ci/remote-values.yaml");
    let set_instance = format!("deployment.instance_name={inst}");
    let out = template(
        "meshglass-server",
        &inst,
        ns.name(),
        &[
            "-f",
            values.to_str().expect("UTF-8 path"),
            "--set",
            &set_instance,
        ],
    )
    .await;
    let docs = documents(&out);
    let viewer = names::role(&inst, true);
    let token_secret = names::token_secret(&inst);
    let mut expected = vec![
        format!("ClusterRole {viewer}"),
        format!("ClusterRoleBinding {inst}"),
        format!("Secret {token_secret}"),
        format!("ServiceAccount {}", names::service_account(&inst)),
    ];
    expected.sort();
    assert_eq!(
        kinds_and_names(&docs),
        expected,
        "remote mode: no ConfigMap, Deployment or Service"
    );

    // The operator's remote objects for examples/kiali-remote.yaml: same rules and token Secret.
    let cr = example_cr("kiali-remote.yaml", ns.name(), &inst);
    // An operator that allows remote mode (the chart's allowRemoteClusterResources).
    let opts = BuildOptions {
        tenancy: common::test_tenancy(),
        ..BuildOptions::default()
    };
    let desired = build::build(&cr, &[], &[], &opts).expect("operator build");
    let mut op_kinds: Vec<&str> = desired.objects.iter().map(Child::kind).collect();
    op_kinds.sort();
    assert_eq!(
        op_kinds,
        vec![
            "ClusterRole",
            "ClusterRoleBinding",
            "Secret",
            "ServiceAccount"
        ]
    );
    for child in &desired.objects {
        match child {
            Child::ClusterRole(r) => {
                let chart_role: ClusterRole = rendered(&docs, "ClusterRole", &viewer);
                assert_eq!(chart_role.rules, r.rules);
            }
            Child::Secret(s) => {
                let chart_secret: Secret = rendered(&docs, "Secret", &token_secret);
                assert_eq!(chart_secret.type_, s.type_);
                assert_eq!(chart_secret.metadata.annotations, s.metadata.annotations);
            }
            _ => {}
        }
    }

    apply(&admin, &docs).await;
    let token = wait_for_token(&admin, ns.name(), &token_secret, WAIT)
        .await
        .expect("the token controller fills the token Secret");

    // What a primary's server does with it: read the cluster; nothing else.
    let as_remote =
        reads_the_cluster_but_no_secrets(bed, &token, ns.name(), "the remote token").await;
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "forbidden"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .expect("pod");
    assert_forbidden(
        "the remote token creating a Pod",
        Api::<Pod>::namespaced(as_remote, ns.name())
            .create(&PostParams::default(), &pod)
            .await,
    );

    let _ = Api::<ClusterRole>::all(admin.clone())
        .delete(&viewer, &DeleteParams::default())
        .await;
    let _ = Api::<ClusterRoleBinding>::all(admin.clone())
        .delete(&inst, &DeleteParams::default())
        .await;
}

/// The charts' generated files equal what they are generated from, and the ci/ values files are the examples'
/// specs (no cluster needed).
#[test]
fn chart_files_match_their_sources() {
    assert_eq!(
        read(&chart("meshglass-operator").join("files/rbac.yaml")),
        meshglass_operator::rbac::operator_rbac_yaml().expect("rbac yaml"),
        "charts/meshglass-operator/files/rbac.yaml is stale: run `make charts`"
    );
    assert_eq!(
        read(&chart("meshglass-server").join("files/rules.yaml")),
        meshglass_operator::rbac::server_rbac_yaml().expect("rules yaml"),
        "charts/meshglass-server/files/rules.yaml is stale: run `make charts`"
    );
    assert_eq!(
        read(&chart("meshglass-operator").join("crds/kiali.io_kialis.yaml")),
        read(&repo().join("crds/kiali.io_kialis.yaml")),
        "the operator chart's CRD is stale: run `make charts`"
    );
    let yaml = |path: PathBuf| -> serde_json::Value {
        serde_yaml_ng::from_str(&read(&path)).expect("values YAML")
    };
    let op = chart("meshglass-operator");
    assert_eq!(
        yaml(op.join("ci/primary-cr-values.yaml"))["cr"]["spec"],
        example_spec("kiali-primary.yaml")
    );
    assert_eq!(
        yaml(op.join("ci/remote-cr-values.yaml"))["cr"]["spec"],
        example_spec("kiali-remote.yaml")
    );
    let srv = chart("meshglass-server");
    let mut primary = yaml(srv.join("ci/primary-values.yaml"));
    primary
        .as_object_mut()
        .expect("a map")
        .remove("remoteSecrets");
    assert_eq!(primary, example_spec("kiali-primary.yaml"));
    assert_eq!(
        yaml(srv.join("ci/remote-values.yaml")),
        example_spec("kiali-remote.yaml")
    );
}

/// A wrong value fails `helm template` with the field's path and what is allowed.
#[tokio::test]
async fn bad_values_are_refused_with_the_field_named() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "meshglass-server",
            &["--set", "auth.strategy=ldap"],
            &["/auth/strategy", "anonymous", "openid"],
        ),
        (
            "meshglass-server",
            &["--set", "deployment.instance_name=Not_A_Label"],
            &["/deployment/instance_name"],
        ),
        (
            "meshglass-server",
            &["--set", "deployment.cluster_wide_access=false"],
            &["deployment.cluster_wide_access"],
        ),
        (
            "meshglass-server",
            &["--set", "deployment.namespace=elsewhere"],
            &["deployment.namespace", "elsewhere"],
        ),
        (
            "meshglass-operator",
            &["--set", "logFormat=xml"],
            &["/logFormat", "json", "text"],
        ),
        (
            "meshglass-operator",
            &[
                "--set",
                "replicaCount=2",
                "--set",
                "leaderElection.enabled=false",
            ],
            &["replicaCount", "leaderElection.enabled"],
        ),
        (
            "meshglass-operator",
            &["--set", "cr.create=yes"],
            &["/cr/create", "boolean"],
        ),
    ];
    for (chart_name, args, expected) in cases {
        let path = chart(chart_name);
        let mut all = vec![
            "template",
            "bad",
            path.to_str().expect("UTF-8 path"),
            "--namespace",
            "istio-system",
        ];
        all.extend_from_slice(args);
        let err = helm(&all)
            .await
            .expect_err(&format!("{chart_name} {args:?} must be refused"));
        for needle in *expected {
            assert!(
                err.contains(needle),
                "{chart_name} {args:?}: the error should name {needle:?}: {err}"
            );
        }
    }
}

/// Inline metrics-store credentials: the server chart keeps them out of its ConfigMap as the operator does — Secret
/// `<instance>-prometheus-auth` holds the password and token, `config.yaml` their `secret:` references, and the
/// Deployment mounts each key where the server reads it; a `secret:` reference of the values is mounted as given.
#[tokio::test]
async fn server_chart_keeps_prometheus_credentials_in_a_secret() {
    let (ns, inst) = ("helm-creds", "creds");
    let out = template(
        "meshglass-server",
        inst,
        ns,
        &[
            "--set",
            &format!("deployment.instance_name={inst}"),
            "--set",
            "external_services.prometheus.url=https://thanos:9091",
            "--set",
            "external_services.prometheus.auth.type=basic",
            "--set",
            "external_services.prometheus.auth.username=secret:store-creds:user",
            "--set",
            "external_services.prometheus.auth.password=s3cr3t-pw",
            "--set",
            "external_services.prometheus.auth.token=t0k3n-value",
        ],
    )
    .await;
    let docs = documents(&out);
    let cm: ConfigMap = rendered(&docs, "ConfigMap", inst);
    let config_yaml = cm
        .data
        .as_ref()
        .and_then(|d| d.get("config.yaml"))
        .expect("config.yaml");
    for secret in ["s3cr3t-pw", "t0k3n-value"] {
        assert!(!config_yaml.contains(secret), "{config_yaml}");
    }
    let chart_cfg = Config::from_yaml(config_yaml).expect("the chart's config.yaml");

    let cr: Kiali = serde_json::from_value(serde_json::json!({
        "apiVersion": "kiali.io/v1alpha1", "kind": "Kiali",
        "metadata": {"name": inst, "namespace": ns},
        "spec": {"deployment": {"instance_name": inst},
                 "external_services": {"prometheus": {"url": "https://thanos:9091", "auth": {
                     "type": "basic", "username": "secret:store-creds:user",
                     "password": "s3cr3t-pw", "token": "t0k3n-value"}}}},
    }))
    .expect("CR");
    let desired = build::build(&cr, &[], &[], &BuildOptions::default()).expect("operator build");
    let own = format!("{inst}-prometheus-auth");
    let op_secret = desired
        .objects
        .iter()
        .find_map(|c| match c {
            Child::Secret(s) if s.name_any() == own => Some(s.clone()),
            _ => None,
        })
        .expect("the operator's credentials Secret");
    let chart_secret: Secret = rendered(&docs, "Secret", &own);
    assert_eq!(chart_secret.data, op_secret.data, "the same Secret data");
    let op_cfg = desired
        .objects
        .iter()
        .find_map(|c| match c {
            Child::ConfigMap(m) => m.data.as_ref()?.get("config.yaml").cloned(),
            _ => None,
        })
        .map(|y| Config::from_yaml(&y).expect("operator config"))
        .expect("the operator's config.yaml");
    assert_eq!(
        chart_cfg.external_services.prometheus.auth, op_cfg.external_services.prometheus.auth,
        "the same references in config.yaml"
    );
    // The same volumes and mounts for the credentials.
    let creds = |d: &Deployment| {
        let pod = d.spec.clone().expect("spec").template.spec.expect("pod");
        let mut mounts: Vec<String> = pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .filter(|m| m.mount_path.starts_with("/kiali-override-secrets/"))
            .map(|m| format!("{} {}", m.name, m.mount_path))
            .collect();
        let mut volumes: Vec<String> = pod
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| {
                let s = v.secret.as_ref()?;
                let item = s.items.as_ref()?.first()?;
                Some(format!(
                    "{} {} {} {}",
                    v.name,
                    s.secret_name.as_deref()?,
                    item.key,
                    item.path
                ))
            })
            .collect();
        mounts.sort();
        volumes.sort();
        (mounts, volumes)
    };
    let op_deploy = desired
        .objects
        .iter()
        .find_map(|c| match c {
            Child::Deployment(d) => Some(d.clone()),
            _ => None,
        })
        .expect("the operator's Deployment");
    let chart_deploy: Deployment = rendered(&docs, "Deployment", inst);
    let (mounts, volumes) = creds(&chart_deploy);
    assert_eq!(
        mounts,
        vec![
            "prometheus-password /kiali-override-secrets/prometheus-password",
            "prometheus-token /kiali-override-secrets/prometheus-token",
            "prometheus-username /kiali-override-secrets/prometheus-username",
        ],
        "{chart_deploy:?}"
    );
    assert_eq!(
        volumes,
        vec![
            format!("prometheus-password {own} password value.txt"),
            format!("prometheus-token {own} token value.txt"),
            "prometheus-username store-creds user value.txt".to_string(),
        ]
    );
    assert_eq!(
        (mounts, volumes),
        creds(&op_deploy),
        "as the operator mounts them"
    );
}
