//! The OAuthClient of the `openshift` strategy where the `oauth.openshift.io` API exists. The
//! cluster of this binary serves OpenShift's OAuthClient from a CRD
//! ([`meshglass_testbed::openshift::oauth_client_crd`]), so the operator finds the API as on
//! OpenShift. Seed 001's remote CR (OSSM 3 §6.5 step 4, verbatim) reconciles to Successful and
//! writes OAuthClient `kiali-istio-system` with its redirect URI, as Kiali's operator does; the
//! token ages follow edits; deleting the CR removes the OAuthClient; a remote CR naming no redirect
//! URI fails with Kiali's message. That the callback path it names works is
//! tests/tests/server_openshift.rs.

mod common;

use common::{OSSM_REMOTE, WAIT, operator_bed, test_namespace, wait_failure, wait_successful};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use meshglass_operator::crds::Kiali;
use meshglass_testbed::openshift::{oauth_client_crd, oauth_client_resource};
use meshglass_testbed::{apply_crd, wait_until};
use serde_json::json;

const CLUSTERS: &[&str] = &["ocp"];

async fn bed_client() -> kube::Client {
    let bed = operator_bed(CLUSTERS, &["istio-system"]).await;
    let client = bed.cluster("ocp").client().await.expect("client");
    apply_crd(&client, &oauth_client_crd(), WAIT)
        .await
        .expect("the OAuthClient CRD is Established");
    client
}

#[tokio::test]
async fn seed_001s_remote_cr_writes_the_oauth_client_its_redirect_uri_names() {
    let client = bed_client().await;
    let cr: Kiali = serde_yaml_ng::from_str(OSSM_REMOTE).expect("the seed's CR parses");
    let crs: Api<Kiali> = Api::namespaced(client.clone(), "istio-system");
    crs.create(&PostParams::default(), &cr)
        .await
        .expect("remote CR accepted as written");
    let k = wait_successful(&client, "istio-system", "kiali").await;
    let status = k.status.expect("status");
    // Acted on now: only `version` is reported.
    assert_eq!(status.ignored_fields, ["version"]);
    let clients: Api<DynamicObject> = Api::all_with(client.clone(), &oauth_client_resource());
    let oc = clients
        .get("kiali-istio-system")
        .await
        .expect("OAuthClient kiali-istio-system");
    assert_eq!(
        oc.data["redirectURIs"],
        json!(["https://{kiali-route-hostname}/api/auth/callback/cluster2"])
    );
    assert_eq!(oc.data["grantMethod"], "auto");
    assert!(oc.data.get("accessTokenMaxAgeSeconds").is_none());
    assert_eq!(
        oc.metadata.labels.as_ref().expect("labels")["app.kubernetes.io/part-of"],
        "kiali"
    );

    // auth.openshift.token_* become the OAuthClient's token ages.
    crs.patch(
        "kiali",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"auth": {"openshift": {
            "token_inactivity_timeout": 600, "token_max_age": 7200}}}})),
    )
    .await
    .expect("patch");
    let oc = wait_until("the OAuthClient has the token ages", WAIT, || {
        let clients = clients.clone();
        async move {
            let oc = clients.get("kiali-istio-system").await?;
            let done = oc.data["accessTokenInactivityTimeoutSeconds"] == json!(600);
            Ok::<_, kube::Error>(done.then_some(oc))
        }
    })
    .await
    .expect("updated");
    assert_eq!(oc.data["accessTokenMaxAgeSeconds"], 7200);

    // The CR's deletion removes it (cluster-scoped: the finalizer's cleanup).
    common::delete_cr_and_wait(&client, "istio-system", "kiali", "kiali").await;
    wait_until("the OAuthClient is gone", WAIT, || {
        let clients = clients.clone();
        async move {
            Ok::<_, kube::Error>(
                clients
                    .get_opt("kiali-istio-system")
                    .await?
                    .is_none()
                    .then_some(()),
            )
        }
    })
    .await
    .expect("removed");
}

#[tokio::test]
async fn a_remote_cr_without_redirect_uris_fails_as_kialis_does() {
    let client = bed_client().await;
    let ns = test_namespace(&client, "noredirect").await;
    let cr: Kiali = serde_json::from_value(json!({
        "apiVersion": "kiali.io/v1alpha1", "kind": "Kiali",
        "metadata": {"name": "kiali", "namespace": ns.name()},
        "spec": {"deployment": {"instance_name": ns.name(), "remote_cluster_resources_only": true}},
    }))
    .expect("CR");
    Api::<Kiali>::namespaced(client.clone(), ns.name())
        .create(&PostParams::default(), &cr)
        .await
        .expect("create");
    let (_, message) = wait_failure(&client, ns.name(), "kiali").await;
    assert!(
        message.contains(meshglass_operator::build::NO_REDIRECT_URIS),
        "{message}"
    );
    let clients: Api<DynamicObject> = Api::all_with(client.clone(), &oauth_client_resource());
    let name = format!("{0}-{0}", ns.name());
    assert!(clients.get_opt(&name).await.expect("get").is_none());
    common::delete_cr_and_wait(&client, ns.name(), "kiali", ns.name()).await;
}
