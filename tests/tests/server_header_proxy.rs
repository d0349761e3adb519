//! The `header` strategy in a real set-up: oauth2-proxy v7 in front of the server logs the user in
//! against east's real OpenID provider (Ory Hydra, whose ID tokens east's API server accepts) and
//! passes each request on with the user's ID token in `Authorization`. The server reviews that
//! token with east (TokenReview) and asks each cluster what the user may see
//! (SubjectAccessReview): alice may view the test's namespace in east only, bob in east and west,
//! and each sees exactly that through the proxy. Straight to the server, without the proxy's
//! token, every protected route is 401.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::Api;
use meshglass_testbed::login_proxy::LoginProxy;
use meshglass_testbed::oidc::{CLIENT_SECRET, Provider};
use meshglass_testbed::wait_until;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(120);

async fn get(jar: &BTreeMap<String, String>, url: &str, authz: Option<&str>) -> (u16, Value) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut req = http.get(url);
    if !jar.is_empty() {
        let c: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        req = req.header("cookie", c.join("; "));
    }
    if let Some(a) = authz {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.expect("answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// (cluster, namespace) pairs of `/api/namespaces` for `ns` and `default`, once the API server
/// accepts the ID token (it fetches the provider's keys when it first needs them).
async fn namespaces(jar: &BTreeMap<String, String>, base: &str, ns: &str) -> Vec<(String, String)> {
    let url = format!("{base}/api/namespaces");
    let v = wait_until("the console answers through the proxy", TIMEOUT, || {
        let url = url.clone();
        async move {
            let (st, v) = get(jar, &url, None).await;
            Ok::<_, String>((st == 200).then_some(v))
        }
    })
    .await
    .expect("200 through the proxy");
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
        .filter(|(_, n)| n == ns || n == "default")
        .collect();
    out.sort();
    out
}

fn pair(c: &str, n: &str) -> (String, String) {
    (c.to_string(), n.to_string())
}

#[tokio::test]
async fn through_an_oauth_proxy_each_user_sees_what_rbac_allows_and_without_it_nothing() {
    let bed = common::east_west_bed().await;
    let (_east_c, west_c, ns_e) = common::alice_and_bob(bed, "header").await;
    let (east, west) = (bed.cluster("east"), bed.cluster("west"));
    let ns = ns_e.name().to_string();
    let (west_kubeconfig, west_rbac) =
        common::remote_mode_credentials(west, &west_c, &ns, &ns).await;
    let files = tempfile::tempdir().expect("tempdir");
    let secrets = files.path().join("remote");
    std::fs::create_dir_all(secrets.join("west-secret")).expect("dir");
    std::fs::write(secrets.join("west-secret").join("west"), west_kubeconfig)
        .expect("west kubeconfig");
    let spec: meshglass_crds::KialiSpec = serde_json::from_value(json!({
        "auth": {"strategy": "header"},
        "server": {"address": "127.0.0.1", "port": 0, "observability": {"metrics": {"enabled": false}}},
        "kubernetes_config": {"cluster_name": "east"},
    }))
    .expect("spec");
    let mut config = meshglass_crds::Config::from_spec(&spec, "istio-system").expect("config");
    config.login_token.signing_key = "header-session-key-0123456789".into();
    let root = config.web_root();
    let running = meshglass_server::start(meshglass_server::Options {
        config,
        kubeconfig: Some(bed.kubeconfig_path().to_path_buf()),
        context: Some("east".into()),
        remote_secrets_dir: secrets.clone(),
        secrets_poll: Duration::from_secs(1),
        paths: Default::default(),
    })
    .await
    .expect("server starts");
    let base = running.base_url();
    let origin = base.trim_end_matches(&root).to_string();
    let state = running.state.clone();
    wait_until("both clusters' caches sync", TIMEOUT, || {
        let ok = state.registry.ready() && state.registry.snapshot().len() == 2;
        async move { Ok::<_, String>(ok.then_some(())) }
    })
    .await
    .expect("ready");

    // The provider's client lets the proxy's callback in; the proxy sends to the server.
    let port = LoginProxy::pick_port().expect("port");
    let callback = format!("http://127.0.0.1:{port}{}", LoginProxy::CALLBACK);
    let users = [("alice", "alice-password"), ("bob", "bob-password")];
    let provider = Provider::start(east, &users, &[callback])
        .await
        .expect("east provider");
    let proxy = LoginProxy::start(port, east.oidc(), CLIENT_SECRET, &origin)
        .await
        .expect("oauth2-proxy starts");
    let front = format!("{}{root}", proxy.url());

    // Straight to the server: no token, 401 (and no cluster names); a token no cluster issued, 401.
    let none = BTreeMap::new();
    for authz in [None, Some("Bearer not-a-token")] {
        let (st, body) = get(&none, &format!("{base}/api/namespaces"), authz).await;
        assert_eq!(st, 401, "{authz:?}: {body}");
    }
    let (st, info) = get(&none, &format!("{base}/api/auth/info"), None).await;
    assert_eq!(st, 200);
    assert_eq!(info["strategy"], "header");
    assert!(info.get("clusters").is_none(), "{info}");
    // Through the proxy without logging in: the proxy does not let the request reach the server.
    let (st, _) = get(&none, &format!("{front}/api/namespaces"), None).await;
    assert!(
        st != 200,
        "an unauthenticated request passed the proxy: {st}"
    );

    // Each user logs in through the proxy and the provider's own form.
    let login = |user: &'static str, password: &'static str| {
        let (provider, proxy, front, root) = (&provider, &proxy, front.clone(), root.clone());
        async move {
            let mut jar = BTreeMap::new();
            let start = format!("{}/oauth2/start?rd={root}/", proxy.url());
            let home = format!("{front}/");
            let end = provider
                .browse(&mut jar, &start, user, password, |u| u == home)
                .await
                .unwrap_or_else(|e| panic!("{user} logs in through the proxy: {e}"));
            assert_eq!(end, home);
            jar
        }
    };
    let alice = login("alice", "alice-password").await;
    assert!(
        alice.keys().any(|k| k.starts_with("_oauth2_proxy")),
        "{:?}",
        alice.keys()
    );
    assert_eq!(
        namespaces(&alice, &front, &ns).await,
        vec![pair("east", &ns)]
    );
    let bob = login("bob", "bob-password").await;
    assert_eq!(
        namespaces(&bob, &front, &ns).await,
        vec![pair("east", &ns), pair("west", &ns)]
    );
    // The proxy's token makes the caller signed in: /api/auth/info names the clusters.
    let (_, info) = get(&bob, &format!("{front}/api/auth/info"), None).await;
    assert_eq!(info["clusters"]["west"]["loggedIn"], true, "{info}");
    drop(proxy);
    drop(provider);
    running.shutdown();
    common::delete_cluster_scoped(&west_c, &west_rbac).await;
    Api::<k8s_openapi::api::core::v1::Namespace>::all(west_c.clone())
        .delete(&ns, &Default::default())
        .await
        .ok();
}
