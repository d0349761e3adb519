//! The test bed's OpenID providers are real: Ory Hydra per cluster, its login form, and API servers
//! that accept its ID tokens (structured authentication configuration, one issuer per cluster).
//! alice may view the test's namespace in east only, bob in east and west (RBAC of the bed); each
//! cluster accepts only the ID tokens of its own issuer.

mod common;

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use meshglass_testbed::oidc::Provider;
use serde_json::json;

const REDIRECT: &str = "http://127.0.0.1:9/api/auth/callback";

/// Who the cluster says the token is (401: not accepted).
async fn whoami(cluster: &meshglass_testbed::Cluster, token: &str) -> Result<String, u16> {
    let c = cluster.client_with_token(token).await.expect("client");
    let review: SelfSubjectReview = serde_json::from_value(json!({})).expect("review");
    match Api::<SelfSubjectReview>::all(c)
        .create(&PostParams::default(), &review)
        .await
    {
        Ok(r) => Ok(r
            .status
            .and_then(|s| s.user_info)
            .and_then(|u| u.username)
            .unwrap_or_default()),
        Err(kube::Error::Api(s)) => Err(s.code),
        Err(e) => panic!("{e}"),
    }
}

async fn can_list_pods(cluster: &meshglass_testbed::Cluster, token: &str, ns: &str) -> bool {
    let c = cluster.client_with_token(token).await.expect("client");
    Api::<Pod>::namespaced(c, ns)
        .list(&ListParams::default())
        .await
        .is_ok()
}

#[tokio::test]
async fn each_cluster_accepts_the_id_tokens_of_its_own_provider_and_rbac_decides() {
    let bed = common::east_west_bed().await;
    let (_east_c, west_c, ns_e) = common::alice_and_bob(bed, "oidc").await;
    let (east, west) = (bed.cluster("east"), bed.cluster("west"));
    let ns = ns_e.name().to_string();

    let users = [("alice", "alice-password"), ("bob", "bob-password")];
    let pe = Provider::start(east, &users, &[REDIRECT.to_string()])
        .await
        .expect("east provider");
    let pw = Provider::start(west, &users, &[REDIRECT.to_string()])
        .await
        .expect("west provider");
    assert_ne!(pe.issuer.url, pw.issuer.url, "one issuer per cluster");

    // A wrong password stops at the provider's form.
    let e = pe
        .login("alice", "nope", REDIRECT)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("401"), "{e}");

    let alice = pe
        .login("alice", "alice-password", REDIRECT)
        .await
        .expect("alice logs in");
    let alice_id = alice["id_token"].as_str().expect("an ID token").to_string();
    let bob_e = pe
        .login("bob", "bob-password", REDIRECT)
        .await
        .expect("bob, east");
    let bob_e = bob_e["id_token"].as_str().expect("id token").to_string();
    let bob_w = pw
        .login("bob", "bob-password", REDIRECT)
        .await
        .expect("bob, west");
    let bob_w = bob_w["id_token"].as_str().expect("id token").to_string();

    // The API servers take their own issuer's ID tokens; the user name is the `sub` claim.
    // (The authenticator fetches the provider's keys once it is up: wait for that.)
    meshglass_testbed::wait_until("east accepts its issuer", common::WAIT, || {
        let t = alice_id.clone();
        async move { Ok::<_, String>(whoami(east, &t).await.ok()) }
    })
    .await
    .expect("east accepts alice");
    assert_eq!(whoami(east, &alice_id).await, Ok("alice".to_string()));
    meshglass_testbed::wait_until("west accepts its issuer", common::WAIT, || {
        let t = bob_w.clone();
        async move { Ok::<_, String>(whoami(west, &t).await.ok()) }
    })
    .await
    .expect("west accepts bob");
    assert_eq!(whoami(west, &bob_w).await, Ok("bob".to_string()));
    // Another cluster's issuer: not accepted.
    assert_eq!(whoami(west, &alice_id).await, Err(401));
    assert_eq!(whoami(west, &bob_e).await, Err(401));
    assert_eq!(whoami(east, &bob_w).await, Err(401));

    // RBAC of the bed: alice reads the namespace in east; bob in east and west.
    assert!(can_list_pods(east, &alice_id, &ns).await);
    assert!(!can_list_pods(east, &alice_id, "default").await);
    assert!(can_list_pods(east, &bob_e, &ns).await);
    assert!(can_list_pods(west, &bob_w, &ns).await);
    Api::<k8s_openapi::api::core::v1::Namespace>::all(west_c.clone())
        .delete(&ns, &Default::default())
        .await
        .ok();
}
