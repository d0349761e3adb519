//! End-to-end: the OSSM flow. West runs the operator with a remote-mode Kiali CR (the OSSM guide's CR, verbatim);
//! the CLI, run with the guide's options (`--process-remote-resources false`), puts the operator-made token into
//! the remote-cluster Secret on east.

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::{
    Api, ResourceExt,
    api::{ApiResource, DynamicObject, ListParams, PostParams},
};
use meshglass_operator::{crds::Kiali, remote_secret};
use meshglass_testbed::TestBed;

mod common;
use common::{
    OSSM_REMOTE, assert_remote_cluster_secret, client_from_secret, east_west, ensure_namespace,
    install_kiali_crd, kubeconfig_in, run_remote_secret, spawn_operator, wait_successful,
};

const CLUSTERS: &[&str] = &["east", "west"];

#[tokio::test]
async fn the_cli_uses_the_token_the_operator_made_for_a_remote_mode_cr() {
    let bed: &'static TestBed = meshglass_testbed::shared(CLUSTERS)
        .await
        .expect("test bed starts");
    let (east, west) = east_west(bed).await;
    install_kiali_crd(&west).await;
    ensure_namespace(&west, "istio-system").await;
    ensure_namespace(&east, "istio-system").await;
    spawn_operator(
        move || async move { bed.cluster("west").client().await.expect("operator client") },
        std::future::pending(),
    );

    // Step 4-6 of the guide: the remote CR, applied as written, becomes Successful.
    let cr: DynamicObject = serde_yaml_ng::from_str(OSSM_REMOTE).expect("CR parses");
    let kialis = Api::<DynamicObject>::namespaced_with(
        west.clone(),
        "istio-system",
        &ApiResource::erase::<Kiali>(&()),
    );
    kialis
        .create(&PostParams::default(), &cr)
        .await
        .expect("remote CR created");
    wait_successful(&west, "istio-system", "kiali").await;

    // Step 7: the guide's command, with this bed's contexts.
    let kubeconfig = bed.kubeconfig_path().display().to_string();
    let (outcome, _) = run_remote_secret(
        &kubeconfig,
        &[
            "--kiali-cluster-context",
            "east",
            "--remote-cluster-context",
            "west",
            "--view-only",
            "false",
            "--kiali-resource-name",
            "kiali-service-account",
            "--remote-cluster-namespace",
            "istio-system",
            "--process-kiali-secret",
            "true",
            "--process-remote-resources",
            "false",
            "--remote-cluster-name",
            "cluster2",
        ],
        None,
    )
    .await;
    let outcome = outcome.expect("the CLI succeeds");
    // Nothing is created on west: the operator's objects are used as they are.
    assert!(
        outcome
            .actions
            .iter()
            .all(|a| a.side == remote_secret::Side::Kiali),
        "{:?}",
        outcome.actions
    );

    // The Secret on east holds the operator-made token of west.
    let operator_token = {
        let secrets: Api<Secret> = Api::namespaced(west.clone(), "istio-system");
        let list = secrets
            .list(&ListParams::default().fields("type=kubernetes.io/service-account-token"))
            .await;
        let made: Vec<Secret> = list
            .expect("list token secrets")
            .items
            .into_iter()
            .filter(|s| {
                s.annotations()
                    .get("kubernetes.io/service-account.name")
                    .map(String::as_str)
                    == Some("kiali-service-account")
            })
            .collect();
        assert_eq!(
            made.len(),
            1,
            "the operator made one token Secret for kiali-service-account"
        );
        let token = made[0]
            .data
            .as_ref()
            .and_then(|d| d.get("token"))
            .expect("populated token");
        String::from_utf8(token.0.clone()).expect("utf-8 token")
    };
    let secret = Api::<Secret>::namespaced(east.clone(), "istio-system")
        .get("kiali-remote-cluster-secret-cluster2")
        .await
        .expect("Secret on east");
    assert_remote_cluster_secret(&secret, "cluster2");
    let kubeconfig = kubeconfig_in(&secret, "cluster2");
    let user = kubeconfig.auth_infos[0].auth_info.clone().expect("user");
    let token = serde_json::to_value(&user).expect("json")["token"]
        .as_str()
        .map(str::to_string);
    assert_eq!(
        token.as_deref(),
        Some(operator_token.as_str()),
        "the kubeconfig carries the operator's token"
    );

    // And it works: it reads west.
    Api::<Pod>::all(client_from_secret(&secret, "cluster2").await)
        .list(&ListParams::default())
        .await
        .expect("lists pods on west");
}
