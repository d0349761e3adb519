//! The `openshift` strategy end to end on the emulated OpenShift OAuth of the test bed
//! ([`meshglass_testbed::openshift`]: real Hydra per cluster behind an OAuth discovery document,
//! each API server accepting its access tokens through its token webhook, the OAuthClient API
//! from a CRD). West is set up as OSSM 3 §6.5 (seed 001) does: the operator reconciles the remote
//! CR with `auth.openshift.redirect_uris` and writes OAuthClient `kiali-istio-system`; the
//! console's login to west comes back through the callback path that OAuthClient names. alice
//! may view the test's namespace in east only, bob in east and west; what each sees is asked of
//! each cluster, and a cluster they have not logged in to shows nothing.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, PostParams};
use meshglass_testbed::openshift::{OAuthServer, oauth_client_crd, oauth_client_resource};
use meshglass_testbed::{StartOptions, TestBed, apply_crd, wait_until};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(120);

async fn get(jar: &BTreeMap<String, String>, url: &str) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(url);
    if !jar.is_empty() {
        let c: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        req = req.header("cookie", c.join("; "));
    }
    let resp = req.send().await.expect("server answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// (cluster, namespace) pairs of `/api/namespaces` for `ns`.
async fn namespaces(jar: &BTreeMap<String, String>, base: &str, ns: &str) -> Vec<(String, String)> {
    let (st, v) = get(jar, &format!("{base}/api/namespaces")).await;
    assert_eq!(st, 200, "{v}");
    let mut out: Vec<(String, String)> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            (
                n["cluster"].as_str().unwrap_or_default().to_string(),
                n["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .filter(|(_, n)| n == ns)
        .collect();
    out.sort();
    out
}

fn pair(c: &str, n: &str) -> (String, String) {
    (c.to_string(), n.to_string())
}

#[tokio::test]
async fn openshift_logins_per_cluster_through_the_oauth_client_the_remote_cr_names() {
    let bed = TestBed::start_with(StartOptions {
        token_webhook: true,
        ..StartOptions::new(&["east", "west"])
    })
    .await
    .expect("test bed starts");
    let (east, west) = (bed.cluster("east"), bed.cluster("west"));
    let (east_c, west_c, ns_e) = common::alice_and_bob(&bed, "openshift").await;
    let ns = ns_e.name().to_string();
    for c in [&east_c, &west_c] {
        apply_crd(c, &oauth_client_crd(), TIMEOUT)
            .await
            .expect("the OAuthClient CRD is Established");
    }
    common::install_kiali_crd(&west_c).await;
    common::ensure_namespace(&west_c, "istio-system").await;
    let west_kubeconfig = west.kubeconfig();
    common::spawn_operator(
        move || async move {
            let opts = kube::config::KubeConfigOptions {
                context: Some("west".into()),
                ..Default::default()
            };
            let cfg = kube::Config::from_custom_kubeconfig(west_kubeconfig, &opts)
                .await
                .expect("west config");
            kube::Client::try_from(cfg).expect("operator client")
        },
        std::future::pending(),
    );

    // The console: home east; each cluster's OAuth discovery document where the emulation serves
    // it (the one setting OpenShift does not need); Hydra serves with each cluster's serving
    // certificate, whose CA is trusted.
    let discovery = |c: &meshglass_testbed::Cluster| {
        format!(
            "http://127.0.0.1:{}/.well-known/oauth-authorization-server",
            c.token_webhook_port().expect("webhook port")
        )
    };
    let files = tempfile::tempdir().expect("tempdir");
    let secrets = files.path().join("remote");
    std::fs::create_dir_all(secrets.join("west-secret")).expect("dir");
    let cabundle = files.path().join("cabundle");
    std::fs::create_dir_all(&cabundle).expect("dir");
    std::fs::write(cabundle.join("east.pem"), &east.oidc().ca_pem).expect("ca");
    std::fs::write(cabundle.join("west.pem"), &west.oidc().ca_pem).expect("ca");
    let spec: meshglass_crds::KialiSpec = serde_json::from_value(json!({
        "auth": {"strategy": "openshift", "openshift": {"clusters": {
            "east": {"discovery_url": discovery(east)},
            "west": {"discovery_url": discovery(west)},
        }}},
        "server": {"address": "127.0.0.1", "port": 0, "observability": {"metrics": {"enabled": false}}},
        "kubernetes_config": {"cluster_name": "east"},
    }))
    .expect("spec");
    let mut config = meshglass_crds::Config::from_spec(&spec, "istio-system").expect("config");
    config.login_token.signing_key = "openshift-session-key-0123456789".into();
    let running = meshglass_server::start(meshglass_server::Options {
        config,
        kubeconfig: Some(bed.kubeconfig_path().to_path_buf()),
        context: Some("east".into()),
        remote_secrets_dir: secrets.clone(),
        secrets_poll: Duration::from_secs(1),
        paths: meshglass_server::upstream::Paths {
            ca_bundle_dir: cabundle,
            ..Default::default()
        },
    })
    .await
    .expect("server starts");
    let base = running.base_url();
    let west_callback = format!("{base}/api/auth/callback/west");

    // West: seed 001's remote CR, its redirect URI this console's callback for west.
    let remote: meshglass_operator::crds::Kiali = serde_json::from_value(json!({
        "apiVersion": "kiali.io/v1alpha1", "kind": "Kiali",
        "metadata": {"name": "kiali", "namespace": "istio-system"},
        "spec": {
            "version": "default",
            "auth": {"openshift": {"redirect_uris": [west_callback]}},
            "deployment": {"remote_cluster_resources_only": true},
        },
    }))
    .expect("remote CR");
    Api::<meshglass_operator::crds::Kiali>::namespaced(west_c.clone(), "istio-system")
        .create(&PostParams::default(), &remote)
        .await
        .expect("create the remote CR");
    common::wait_successful(&west_c, "istio-system", "kiali").await;
    let oauth_clients: Api<DynamicObject> = Api::all_with(west_c.clone(), &oauth_client_resource());
    let oc = oauth_clients
        .get("kiali-istio-system")
        .await
        .expect("the operator wrote OAuthClient kiali-istio-system");
    assert_eq!(oc.data["redirectURIs"], json!([west_callback]));
    assert_eq!(oc.data["grantMethod"], "auto");
    // The server reads west with the token the operator minted there.
    let token_secret = meshglass_crds::names::token_secret("kiali");
    let secrets_api: Api<Secret> = Api::namespaced(west_c.clone(), "istio-system");
    let token = wait_until("the remote token Secret is filled", TIMEOUT, || {
        let api = secrets_api.clone();
        let name = token_secret.clone();
        async move {
            let s = api.get(&name).await?;
            let t = s
                .data
                .and_then(|d| d.get("token").cloned())
                .map(|b| String::from_utf8_lossy(&b.0).to_string());
            Ok::<_, kube::Error>(t.filter(|t| !t.is_empty()))
        }
    })
    .await
    .expect("token");
    std::fs::write(
        secrets.join("west-secret").join("west"),
        common::token_kubeconfig(west, &token),
    )
    .expect("west kubeconfig");
    // East's OAuthClient, as the operator writes a primary's: the home callback path.
    let east_oc: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "oauth.openshift.io/v1", "kind": "OAuthClient",
        "metadata": {"name": "kiali-istio-system"},
        "redirectURIs": [format!("{base}/api/auth/callback")], "grantMethod": "auto",
    }))
    .expect("OAuthClient");
    Api::<DynamicObject>::all_with(east_c.clone(), &oauth_client_resource())
        .create(&PostParams::default(), &east_oc)
        .await
        .expect("east's OAuthClient");
    let state = running.state.clone();
    wait_until("both clusters' caches sync", TIMEOUT, || {
        let ok = state.registry.ready() && state.registry.snapshot().len() == 2;
        async move { Ok::<_, String>(ok.then_some(())) }
    })
    .await
    .expect("ready");

    // Each cluster's OAuth server, with the cluster's OAuthClients as its clients.
    let users = [("alice", "alice-password"), ("bob", "bob-password")];
    let oe = OAuthServer::start(east, &users).await.expect("east OAuth");
    let ow = OAuthServer::start(west, &users).await.expect("west OAuth");
    assert_eq!(
        oe.sync_clients(&east_c).await.expect("sync"),
        ["kiali-istio-system"]
    );
    assert_eq!(
        ow.sync_clients(&west_c).await.expect("sync"),
        ["kiali-istio-system"]
    );

    let home = format!("{base}/");
    let done = |u: &str| u == home || u.contains("openshift_error=");
    let start = |c: &str| format!("{base}/api/auth/openshift_redirect?cluster={c}");
    let (_, info) = get(&BTreeMap::new(), &format!("{base}/api/auth/info")).await;
    assert_eq!(info["strategy"], "openshift");
    assert_eq!(
        info["authorizationEndpoint"],
        "/kiali/api/auth/openshift_redirect"
    );
    // The login to west asks west's OAuth server to come back where the remote CR said.
    let first = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(start("west"))
        .send()
        .await
        .expect("redirect");
    let location = first.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let q: BTreeMap<String, String> =
        form_urlencoded::parse(location.split_once('?').expect("query").1.as_bytes())
            .into_owned()
            .collect();
    assert!(location.starts_with(&ow.provider.issuer.url), "{location}");
    assert_eq!(q["client_id"], "kiali-istio-system");
    assert_eq!(q["redirect_uri"], west_callback);

    // A wrong password stops at the OAuth server's form.
    let mut jar = BTreeMap::new();
    let e = oe
        .provider
        .browse(&mut jar, &start("east"), "alice", "nope", done)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("401"), "{e}");

    // alice logs in to east (home: back through /api/auth/callback).
    let mut alice = BTreeMap::new();
    let end = oe
        .provider
        .browse(&mut alice, &start("east"), "alice", "alice-password", done)
        .await
        .expect("alice logs in to east");
    assert_eq!(end, home);
    let (_, info) = get(&alice, &format!("{base}/api/auth/info")).await;
    assert_eq!(info["sessionInfo"]["username"], "alice", "{info}");
    assert_eq!(info["clusters"]["east"]["loggedIn"], true, "{info}");
    assert_eq!(info["clusters"]["west"]["loggedIn"], false, "{info}");
    assert_eq!(
        namespaces(&alice, &base, &ns).await,
        vec![pair("east", &ns)]
    );

    // bob in east only: west's namespace is not shown although west's RBAC allows it.
    let mut bob = BTreeMap::new();
    let end = oe
        .provider
        .browse(&mut bob, &start("east"), "bob", "bob-password", done)
        .await
        .expect("bob logs in to east");
    assert_eq!(end, home);
    assert_eq!(namespaces(&bob, &base, &ns).await, vec![pair("east", &ns)]);
    // Then "Log in to west": west's OAuth server, back through /api/auth/callback/west.
    let end = ow
        .provider
        .browse(&mut bob, &start("west"), "bob", "bob-password", done)
        .await
        .expect("bob logs in to west");
    assert_eq!(end, home);
    let (_, info) = get(&bob, &format!("{base}/api/auth/info")).await;
    assert_eq!(info["clusters"]["west"]["loggedIn"], true, "{info}");
    assert_eq!(
        namespaces(&bob, &base, &ns).await,
        vec![pair("east", &ns), pair("west", &ns)]
    );

    // alice logged in to west as well: west lets her see nothing.
    let end = ow
        .provider
        .browse(&mut alice, &start("west"), "alice", "alice-password", done)
        .await
        .expect("alice logs in to west");
    assert_eq!(end, home);
    let (_, info) = get(&alice, &format!("{base}/api/auth/info")).await;
    assert_eq!(info["clusters"]["west"]["loggedIn"], true, "{info}");
    assert_eq!(
        namespaces(&alice, &base, &ns).await,
        vec![pair("east", &ns)]
    );

    // Logout ends every cluster's login.
    let csrf = info["csrfToken"].as_str().expect("csrf").to_string();
    let c: Vec<String> = alice.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let out = reqwest::Client::new()
        .post(format!("{base}/api/logout"))
        .header("cookie", c.join("; "))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status().as_u16(), 204);
    for v in out.headers().get_all("set-cookie") {
        let v = v.to_str().unwrap_or_default();
        if v.contains("Max-Age=0")
            && let Some(k) = v.split('=').next()
        {
            alice.remove(k);
        }
    }
    let (st, _) = get(&alice, &format!("{base}/api/namespaces")).await;
    assert_eq!(st, 401);

    running.shutdown();
    drop((oe, ow));
    drop(ns_e);
    bed.stop();
}
