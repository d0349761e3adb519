//! End-to-end: the OLM bundle (bundle/) installs a working operator.
//!
//! What OLM would create from the ClusterServiceVersion is created here by hand on a real API server:
//! the ServiceAccount, a ClusterRole + binding from `clusterPermissions`, a Role + binding from
//! `permissions`, and the operator Deployment from `install.spec.deployments`, in a namespace that
//! enforces the restricted Pod Security profile. The operator then runs in-process with that
//! ServiceAccount's token (the pods on kwok nodes run no containers) and reconciles the CSV's own
//! `alm-examples` to Successful — proof that the bundle's permissions suffice. The CSV's operator
//! container is also compared with the Helm chart's, rendered with default values.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use kube::{Client, ResourceExt};
use meshglass_operator::crds::Kiali;
use meshglass_testbed::{apply_crd, tools};
use serde_json::{Value, json};

mod common;
use common::{
    WAIT, create, delete_cr_and_wait, documents, ensure_namespace, repo, restricted_namespace,
    sa_token, spawn_operator, wait_rolled_out, wait_successful,
};

fn read_yaml(rel: &str) -> Value {
    let path = repo().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn csv() -> Value {
    read_yaml("bundle/manifests/meshglass-operator.clusterserviceversion.yaml")
}

fn from<T: serde::de::DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).expect("well-formed object")
}

/// `helm template meshglass-operator charts/meshglass-operator` with default values, as documents.
fn helm_template() -> Vec<Value> {
    let helm = tools::helm().expect("helm is built (make tools)");
    let chart = repo().join("charts/meshglass-operator");
    let out = std::process::Command::new(helm)
        .args(["template", "meshglass-operator"])
        .arg(&chart)
        .args(["--namespace", "meshglass-operator"])
        .output()
        .expect("helm runs");
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    documents(&text)
}

fn rendered<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("the chart renders a {kind}"))
}

#[test]
fn csv_operator_matches_the_helm_chart() {
    let csv = csv();
    let docs = helm_template();
    let install = &csv["spec"]["install"]["spec"];
    let csv_pod = &install["deployments"][0]["spec"]["template"]["spec"];
    let chart_pod = &rendered(&docs, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(csv_pod["securityContext"], chart_pod["securityContext"]);
    let (a, b) = (&csv_pod["containers"][0], &chart_pod["containers"][0]);
    for key in [
        "image",
        "imagePullPolicy",
        "args",
        "env",
        "ports",
        "livenessProbe",
        "readinessProbe",
        "securityContext",
        "resources",
    ] {
        assert_eq!(a[key], b[key], "container field {key}: CSV vs chart");
    }
    assert_eq!(
        install["clusterPermissions"][0]["rules"],
        rendered(&docs, "ClusterRole")["rules"],
        "clusterPermissions vs the chart's ClusterRole"
    );
    assert_eq!(
        install["permissions"][0]["rules"],
        rendered(&docs, "Role")["rules"],
        "permissions vs the chart's Role"
    );
}

/// What OLM creates from the CSV, in `ns`: ServiceAccount, RBAC and the operator Deployment.
async fn install_like_olm(client: &Client, ns: &str, csv: &Value) {
    let install = &csv["spec"]["install"]["spec"];
    let sa_name = install["clusterPermissions"][0]["serviceAccountName"]
        .as_str()
        .expect("serviceAccountName");
    assert_eq!(install["permissions"][0]["serviceAccountName"], sa_name);
    let subject = json!([{"kind": "ServiceAccount", "name": sa_name, "namespace": ns}]);
    create(
        &Api::<ServiceAccount>::namespaced(client.clone(), ns),
        &from(&json!({"metadata": {"name": sa_name}})),
    )
    .await;
    let cluster_name = format!("{ns}-{sa_name}");
    create(
        &Api::<ClusterRole>::all(client.clone()),
        &from(&json!({"metadata": {"name": cluster_name}, "rules": install["clusterPermissions"][0]["rules"]})),
    )
    .await;
    create(
        &Api::<ClusterRoleBinding>::all(client.clone()),
        &from(&json!({
            "metadata": {"name": cluster_name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name},
            "subjects": subject,
        })),
    )
    .await;
    create(
        &Api::<Role>::namespaced(client.clone(), ns),
        &from(&json!({"metadata": {"name": sa_name}, "rules": install["permissions"][0]["rules"]})),
    )
    .await;
    create(
        &Api::<RoleBinding>::namespaced(client.clone(), ns),
        &from(&json!({
            "metadata": {"name": sa_name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa_name},
            "subjects": subject,
        })),
    )
    .await;
    let dep = &install["deployments"][0];
    create(
        &Api::<Deployment>::namespaced(client.clone(), ns),
        &from(&json!({"metadata": {"name": dep["name"]}, "spec": dep["spec"]})),
    )
    .await;
}

#[tokio::test]
async fn bundle_installs_an_operator_that_reconciles_its_examples() {
    let bed = meshglass_testbed::shared(&["east"])
        .await
        .expect("test bed starts");
    let admin = bed.cluster("east").client().await.expect("client");
    let csv = csv();

    // The bundle's CRD.
    let crd: CustomResourceDefinition = from(&read_yaml("bundle/manifests/kiali.io_kialis.yaml"));
    apply_crd(&admin, &crd, WAIT)
        .await
        .expect("bundle CRD is Established");

    // The operator's namespace enforces the restricted profile.
    let ns = restricted_namespace(&admin, "olm").await;
    install_like_olm(&admin, ns.name(), &csv).await;
    let dep_name = csv["spec"]["install"]["spec"]["deployments"][0]["name"]
        .as_str()
        .expect("deployment name")
        .to_string();
    // Its pod is admitted under restricted Pod Security.
    wait_rolled_out(&admin, ns.name(), &dep_name).await;
    let pods = Api::<Pod>::namespaced(admin.clone(), ns.name())
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/name={dep_name}")))
        .await
        .expect("pods");
    assert_eq!(pods.items.len(), 1);

    // The operator, with exactly the bundle's permissions.
    let sa = csv["spec"]["install"]["spec"]["clusterPermissions"][0]["serviceAccountName"]
        .as_str()
        .expect("sa")
        .to_string();
    let token = sa_token(&admin, ns.name(), &sa).await;
    let operator = bed
        .cluster("east")
        .client_with_token(&token)
        .await
        .expect("operator client");
    // Not allowed by the bundle: reading nodes.
    let denied = Api::<k8s_openapi::api::core::v1::Node>::all(operator.clone())
        .list(&ListParams::default())
        .await;
    assert!(
        matches!(&denied, Err(kube::Error::Api(s)) if s.code == 403),
        "{denied:?}"
    );
    spawn_operator(
        move || async move {
            bed.cluster("east")
                .client_with_token(&token)
                .await
                .expect("operator client")
        },
        std::future::pending(),
    );

    // The CSV's alm-examples, one after the other (both are istio-system/kiali).
    let examples: Vec<Value> = serde_json::from_str(
        csv["metadata"]["annotations"]["alm-examples"]
            .as_str()
            .expect("alm-examples"),
    )
    .expect("JSON");
    assert_eq!(examples.len(), 2);
    ensure_namespace(&admin, "istio-system").await;
    let ar = ApiResource::erase::<Kiali>(&());
    for example in &examples {
        let obj: DynamicObject = from(example);
        let cr_ns = obj.namespace().expect("namespace");
        Api::<DynamicObject>::namespaced_with(admin.clone(), &cr_ns, &ar)
            .create(&PostParams::default(), &obj)
            .await
            .expect("create the example");
        wait_successful(&admin, &cr_ns, &obj.name_any()).await;
        let instance = example["spec"]["deployment"]["instance_name"]
            .as_str()
            .unwrap_or("kiali");
        delete_cr_and_wait(&admin, &cr_ns, &obj.name_any(), instance).await;
    }
}
