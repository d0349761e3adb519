//! `deployment.ingress` where the `route.openshift.io` API exists, and strategy settings the server
//! cannot use. The cluster of this binary gets a minimal structural CRD for OpenShift's
//! `route.openshift.io/v1` Route, so the operator finds the API as on OpenShift and creates Route
//! `<instance>` as Kiali's operator does (OSSM 3 §6.5 step 3 reads its host).

mod common;

use common::{WAIT, operator_bed, test_namespace};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, PostParams};
use meshglass_operator::build::route_resource;
use meshglass_operator::crds::Kiali;
use meshglass_testbed::{apply_crd, wait_until};
use serde_json::json;

const CLUSTERS: &[&str] = &["ocp"];

/// Enough of OpenShift's Route for the API server to serve and keep what the operator writes.
fn route_crd() -> CustomResourceDefinition {
    let backend = json!({"type": "object", "properties": {
        "kind": {"type": "string"}, "name": {"type": "string"}, "weight": {"type": "integer"}}});
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "routes.route.openshift.io"},
        "spec": {
            "group": "route.openshift.io",
            "scope": "Namespaced",
            "names": {"kind": "Route", "listKind": "RouteList", "plural": "routes", "singular": "route"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "host": {"type": "string"},
                        "path": {"type": "string"},
                        "to": backend,
                        "port": {"type": "object", "properties": {
                            "targetPort": {"x-kubernetes-int-or-string": true}}},
                        "tls": {"type": "object", "properties": {
                            "termination": {"type": "string"},
                            "insecureEdgeTerminationPolicy": {"type": "string"}}},
                        "wildcardPolicy": {"type": "string"}
                    }},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }}}
            }]
        }
    }))
    .expect("Route CRD")
}

async fn bed_client() -> kube::Client {
    let bed = operator_bed(CLUSTERS, &["istio-system"]).await;
    let client = bed.cluster("ocp").client().await.expect("client");
    apply_crd(&client, &route_crd(), WAIT)
        .await
        .expect("the Route CRD is Established");
    client
}

async fn create_cr(client: &kube::Client, ns: &str, spec: serde_json::Value) {
    let k: Kiali = serde_json::from_value(json!({
        "apiVersion": "kiali.io/v1alpha1",
        "kind": "Kiali",
        "metadata": {"name": "kiali", "namespace": ns},
        "spec": spec,
    }))
    .expect("CR");
    Api::<Kiali>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &k)
        .await
        .expect("create CR");
}

#[tokio::test]
async fn the_operator_creates_route_instance_where_the_route_api_exists() {
    let client = bed_client().await;
    let ns = test_namespace(&client, "route").await;
    let inst = ns.name().to_string();
    create_cr(
        &client,
        ns.name(),
        json!({"deployment": {"instance_name": inst, "ingress": {"override_yaml": {"spec": {
            "host": "kiali-istio-system.apps.example.com",
            "to": {"kind": "Service", "name": inst},
            "port": {"targetPort": "http"},
            "tls": {"termination": "edge"}
        }}}}}),
    )
    .await;
    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns.name(), &route_resource());
    // OSSM 3 §6.5 step 3: `oc get route kiali -n istio-system -o jsonpath='{.spec.host}'`.
    let route = wait_until("Route <instance> exists", WAIT, || {
        let routes = routes.clone();
        let inst = inst.clone();
        async move { routes.get_opt(&inst).await }
    })
    .await
    .expect("Route");
    assert_eq!(
        route.data["spec"]["host"],
        "kiali-istio-system.apps.example.com"
    );
    assert_eq!(route.data["spec"]["to"]["name"], inst.as_str());
    // On OpenShift the Route replaces the Ingress.
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), ns.name());
    assert!(ingresses.get_opt(&inst).await.expect("get").is_none());

    // Turned off, it is pruned.
    let api: Api<Kiali> = Api::namespaced(client.clone(), ns.name());
    api.patch(
        "kiali",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"spec": {"deployment": {"ingress": {"enabled": false}}}})),
    )
    .await
    .expect("patch");
    wait_until("the Route is pruned", WAIT, || {
        let routes = routes.clone();
        let inst = inst.clone();
        async move { Ok::<_, kube::Error>(routes.get_opt(&inst).await?.is_none().then_some(())) }
    })
    .await
    .expect("pruned");
}

#[tokio::test]
async fn strategy_settings_the_server_cannot_use_report_failure_not_successful() {
    let client = bed_client().await;
    // openid without `auth.openid`, openshift with a token age OpenShift refuses: the server could
    // not start, and the message names the key.
    for (strategy, auth, needle) in [
        (
            "openid",
            json!({"strategy": "openid"}),
            "auth.openid.client_id is empty",
        ),
        (
            "openshift",
            json!({"strategy": "openshift", "openshift": {"token_inactivity_timeout": 60}}),
            "auth.openshift.token_inactivity_timeout",
        ),
    ] {
        let ns = test_namespace(&client, strategy).await;
        create_cr(
            &client,
            ns.name(),
            json!({"auth": auth, "deployment": {"instance_name": ns.name()}}),
        )
        .await;
        let api: Api<Kiali> = Api::namespaced(client.clone(), ns.name());
        let k = wait_until("the CR reports Failure", WAIT, || {
            let api = api.clone();
            async move {
                let k = api.get("kiali").await?;
                let failed = k
                    .status
                    .as_ref()
                    .is_some_and(|s| s.condition("Failure").is_some_and(|c| c.status == "True"));
                Ok::<_, kube::Error>(failed.then_some(k))
            }
        })
        .await
        .expect("Failure");
        let status = k.status.expect("status");
        let message = &status.condition("Failure").expect("Failure").message;
        assert!(message.contains(needle), "{message}");
        assert!(
            status
                .condition("Successful")
                .is_none_or(|c| c.status != "True"),
            "Successful and Failure together"
        );
        // No server was rolled out for it.
        let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
            Api::namespaced(client.clone(), ns.name());
        assert!(deployments.get_opt(ns.name()).await.expect("get").is_none());
    }
}
