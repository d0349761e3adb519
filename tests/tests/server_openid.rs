//! The `openid` strategy end to end on the test bed: real Ory Hydra per cluster (each cluster's
//! API server trusts its own issuer), the server in process, and a browser that follows the real
//! redirects and fills in the provider's own login form. alice may view the test's namespace in
//! east only, bob in east and west. A login is per cluster: bob logged in to east only sees
//! nothing of west, and west's data appears once he logs in there (no restart); alice logged in
//! to both still sees only what RBAC gives her. Logout ends every cluster's login.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::Api;
use meshglass_testbed::oidc::{CLIENT_SECRET, Provider};
use meshglass_testbed::wait_until;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(120);

/// An API call with the browser's cookies.
async fn call(
    jar: &BTreeMap<String, String>,
    method: reqwest::Method,
    url: &str,
    csrf: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if !jar.is_empty() {
        let c: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        req = req.header("cookie", c.join("; "));
    }
    if let Some(t) = csrf {
        req = req.header("x-csrf-token", t);
    }
    let resp = req.send().await.expect("server answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A POST of `body` with the browser's cookies and CSRF token.
async fn write(
    jar: &BTreeMap<String, String>,
    url: &str,
    csrf: &str,
    body: &Value,
) -> (u16, Value) {
    let c: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let resp = reqwest::Client::new()
        .post(url)
        .header("cookie", c.join("; "))
        .header("x-csrf-token", csrf)
        .json(body)
        .send()
        .await
        .expect("server answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A Role in `ns` letting User `user` create VirtualServices there.
async fn vs_creator(client: &kube::Client, ns: &str, user: &str) {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let pp = kube::api::PostParams::default();
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": format!("{user}-vs")},
        "rules": [{"apiGroups": ["networking.istio.io"], "resources": ["virtualservices"], "verbs": ["create"]}],
    }))
    .expect("role");
    Api::<Role>::namespaced(client.clone(), ns)
        .create(&pp, &role)
        .await
        .expect("create role");
    let rb: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": format!("{user}-vs")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("{user}-vs")},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }))
    .expect("binding");
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&pp, &rb)
        .await
        .expect("create binding");
}

/// (cluster, namespace) pairs of `/api/namespaces`, for `ns` and `default` only.
async fn namespaces(jar: &BTreeMap<String, String>, base: &str, ns: &str) -> Vec<(String, String)> {
    let (st, v) = call(
        jar,
        reqwest::Method::GET,
        &format!("{base}/api/namespaces"),
        None,
    )
    .await;
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
        .filter(|(_, n)| n == ns || n == "default")
        .collect();
    out.sort();
    out
}

fn pair(c: &str, n: &str) -> (String, String) {
    (c.to_string(), n.to_string())
}

#[tokio::test]
async fn openid_logins_are_per_cluster_and_each_user_sees_what_each_cluster_allows() {
    let bed = common::east_west_bed().await;
    let (_east_c, west_c, ns_e) = common::alice_and_bob(bed, "openid").await;
    let (east, west) = (bed.cluster("east"), bed.cluster("west"));
    let ns = ns_e.name().to_string();

    // The server: west through the credentials the operator creates there for a remote-mode CR
    // (its real ClusterRole: the per-cluster review of an ID token must be allowed by it), each
    // cluster's provider's CA trusted, the client secret as the operator mounts Secret
    // `<instance>` key `oidc-secret`.
    let (west_kubeconfig, west_rbac) =
        common::remote_mode_credentials(west, &west_c, &ns, &ns).await;
    let files = tempfile::tempdir().expect("tempdir");
    let secrets = files.path().join("remote");
    std::fs::create_dir_all(secrets.join("west-secret")).expect("dir");
    std::fs::write(secrets.join("west-secret").join("west"), west_kubeconfig)
        .expect("west kubeconfig");
    // bob may create VirtualServices in west's namespace (his writes go with his west login).
    vs_creator(&west_c, &ns, "bob").await;
    let cabundle = files.path().join("cabundle");
    std::fs::create_dir_all(&cabundle).expect("dir");
    std::fs::write(cabundle.join("east.pem"), &east.oidc().ca_pem).expect("ca");
    std::fs::write(cabundle.join("west.pem"), &west.oidc().ca_pem).expect("ca");
    let kiali_secret = files.path().join("kiali-secret");
    std::fs::create_dir_all(&kiali_secret).expect("dir");
    std::fs::write(kiali_secret.join("oidc-secret"), CLIENT_SECRET).expect("secret");
    let spec: meshglass_crds::KialiSpec = serde_json::from_value(json!({
        "auth": {"strategy": "openid", "openid": {
            "client_id": east.oidc().client_id,
            "issuer_uri": east.oidc().url,
            "username_claim": "email",
            "clusters": {"west": {"client_id": west.oidc().client_id, "issuer_uri": west.oidc().url}},
        }},
        "server": {"address": "127.0.0.1", "port": 0, "observability": {"metrics": {"enabled": false}}},
        "kubernetes_config": {"cluster_name": "east"},
    }))
    .expect("spec");
    let mut config = meshglass_crds::Config::from_spec(&spec, "istio-system").expect("config");
    config.login_token.signing_key = "openid-session-key-0123456789".into();
    let running = meshglass_server::start(meshglass_server::Options {
        config,
        kubeconfig: Some(bed.kubeconfig_path().to_path_buf()),
        context: Some("east".into()),
        remote_secrets_dir: secrets.clone(),
        secrets_poll: Duration::from_secs(1),
        paths: meshglass_server::upstream::Paths {
            ca_bundle_dir: cabundle,
            client_secret_dir: kiali_secret,
            ..Default::default()
        },
    })
    .await
    .expect("server starts");
    let base = running.base_url();
    let state = running.state.clone();
    wait_until("both clusters' caches sync", TIMEOUT, || {
        let ok = state.registry.ready() && state.registry.snapshot().len() == 2;
        async move { Ok::<_, String>(ok.then_some(())) }
    })
    .await
    .expect("ready");

    let users = [("alice", "alice-password"), ("bob", "bob-password")];
    let callback = |c: &str| format!("{base}/api/auth/callback/{c}");
    let pe = Provider::start(east, &users, &[callback("east")])
        .await
        .expect("east provider");
    let pw = Provider::start(west, &users, &[callback("west")])
        .await
        .expect("west provider");
    let home = format!("{base}/");
    let done = |u: &str| u == home || u.contains("openid_error=");
    let start = |c: &str| format!("{base}/api/auth/openid_redirect?cluster={c}");

    // Not logged in: 401, and no cluster names.
    let none = BTreeMap::new();
    let (st, _) = call(
        &none,
        reqwest::Method::GET,
        &format!("{base}/api/namespaces"),
        None,
    )
    .await;
    assert_eq!(st, 401);
    let (_, info) = call(
        &none,
        reqwest::Method::GET,
        &format!("{base}/api/auth/info"),
        None,
    )
    .await;
    assert_eq!(info["strategy"], "openid");
    assert_eq!(
        info["authorizationEndpoint"],
        "/kiali/api/auth/openid_redirect"
    );
    assert!(info.get("clusters").is_none(), "{info}");

    // A wrong password stops at the provider's form.
    let mut jar = BTreeMap::new();
    let e = pe
        .browse(&mut jar, &start("east"), "alice", "nope", done)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("401"), "{e}");

    // A callback that no login of this browser started is refused.
    let mut forged = BTreeMap::new();
    let end = pe
        .browse(
            &mut forged,
            &format!("{}?code=abc&state=def", callback("east")),
            "alice",
            "alice-password",
            done,
        )
        .await
        .expect("redirected back");
    assert!(end.contains("openid_error="), "{end}");
    let (st, _) = call(
        &forged,
        reqwest::Method::GET,
        &format!("{base}/api/namespaces"),
        None,
    )
    .await;
    assert_eq!(st, 401);

    // alice logs in to east (the API server accepts her ID token once it has the provider's keys).
    let mut alice = BTreeMap::new();
    let end = wait_until("alice's login to east", TIMEOUT, || {
        let pe = &pe;
        let mut jar = BTreeMap::new();
        let (start, done) = (start("east"), done);
        async move {
            let end = pe
                .browse(&mut jar, &start, "alice", "alice-password", done)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((!end.contains("openid_error=")).then_some((end, jar)))
        }
    })
    .await
    .expect("alice logs in");
    assert_eq!(end.0, home);
    alice.extend(end.1);
    let (_, info) = call(
        &alice,
        reqwest::Method::GET,
        &format!("{base}/api/auth/info"),
        None,
    )
    .await;
    assert_eq!(
        info["sessionInfo"]["username"], "alice@example.com",
        "{info}"
    );
    assert_eq!(info["clusters"]["east"]["loggedIn"], true, "{info}");
    assert_eq!(info["clusters"]["west"]["loggedIn"], false, "{info}");
    assert_eq!(
        namespaces(&alice, &base, &ns).await,
        vec![pair("east", &ns)]
    );

    // bob, logged in to east only: west's namespace is not shown although RBAC allows it there.
    let mut bob = BTreeMap::new();
    let end = pe
        .browse(&mut bob, &start("east"), "bob", "bob-password", done)
        .await
        .expect("bob logs in to east");
    assert_eq!(end, home);
    assert_eq!(namespaces(&bob, &base, &ns).await, vec![pair("east", &ns)]);
    let (_, info) = call(
        &bob,
        reqwest::Method::GET,
        &format!("{base}/api/auth/info"),
        None,
    )
    .await;
    assert_eq!(info["clusters"]["west"]["loggedIn"], false, "{info}");
    // A write to west before logging in there is refused by the server, naming the cluster.
    let bob_csrf = info["csrfToken"].as_str().expect("csrf").to_string();
    let vs_url = format!(
        "{base}/api/namespaces/{ns}/istio/networking.istio.io/v1/VirtualService?clusterName=west"
    );
    let vs = json!({"metadata": {"name": "bobs-route"}, "spec": {"hosts": ["reviews"]}});
    let (st, b) = write(&bob, &vs_url, &bob_csrf, &vs).await;
    assert_eq!(st, 403, "{b}");
    assert!(
        b["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not logged in to cluster west"),
        "{b}"
    );
    // Then to west, with west's own provider: west's data appears, the server still running.
    let end = wait_until("bob's login to west", TIMEOUT, || {
        let pw = &pw;
        let mut jar = bob.clone();
        let (start, done) = (start("west"), done);
        async move {
            let end = pw
                .browse(&mut jar, &start, "bob", "bob-password", done)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((!end.contains("openid_error=")).then_some(jar))
        }
    })
    .await
    .expect("bob logs in to west");
    bob = end;
    let (_, info) = call(
        &bob,
        reqwest::Method::GET,
        &format!("{base}/api/auth/info"),
        None,
    )
    .await;
    assert_eq!(info["clusters"]["west"]["loggedIn"], true, "{info}");
    assert_eq!(info["sessionInfo"]["username"], "bob@example.com", "{info}");
    assert_eq!(
        namespaces(&bob, &base, &ns).await,
        vec![pair("east", &ns), pair("west", &ns)]
    );
    // Now his write goes to west with his west ID token, and west's RBAC allows it.
    let (st, b) = write(&bob, &vs_url, &bob_csrf, &vs).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["metadata"]["name"], "bobs-route", "{b}");

    // alice logged in to west as well: west lets her see nothing.
    let end = pw
        .browse(&mut alice, &start("west"), "alice", "alice-password", done)
        .await
        .expect("alice logs in to west");
    assert_eq!(end, home);
    let (_, info) = call(
        &alice,
        reqwest::Method::GET,
        &format!("{base}/api/auth/info"),
        None,
    )
    .await;
    assert_eq!(info["clusters"]["west"]["loggedIn"], true, "{info}");
    assert_eq!(
        namespaces(&alice, &base, &ns).await,
        vec![pair("east", &ns)]
    );
    // Her write to west goes with her west ID token: west's API server refuses it, naming her.
    let alice_csrf = info["csrfToken"].as_str().expect("csrf").to_string();
    let other = json!({"metadata": {"name": "alices-route"}, "spec": {"hosts": ["reviews"]}});
    let (st, b) = write(&alice, &vs_url, &alice_csrf, &other).await;
    assert_eq!(st, 403, "{b}");
    assert_eq!(b["cluster"], "west", "{b}");
    assert_eq!(b["reason"], "Forbidden", "{b}");
    assert!(
        b["error"]
            .as_str()
            .unwrap_or_default()
            .contains("\"alice\""),
        "the API server's reason names the user: {b}"
    );

    // Logout (with the CSRF token) ends every cluster's login.
    let csrf = info["csrfToken"].as_str().expect("csrf").to_string();
    let (st, _) = call(
        &bob,
        reqwest::Method::POST,
        &format!("{base}/api/logout"),
        None,
    )
    .await;
    assert_eq!(st, 403, "logout needs the CSRF token");
    let c: Vec<String> = alice.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let out = reqwest::Client::new()
        .post(format!("{base}/api/logout"))
        .header("cookie", c.join("; "))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status().as_u16(), 204);
    let cleared: Vec<String> = out
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.contains("Max-Age=0"))
        .filter_map(|v| v.split('=').next().map(String::from))
        .collect();
    assert!(
        cleared.contains(&"kiali-token-aes".to_string())
            && cleared.contains(&"kiali-token-aes-chunks".to_string()),
        "{cleared:?}"
    );
    for k in cleared {
        alice.remove(&k);
    }
    let (st, _) = call(
        &alice,
        reqwest::Method::GET,
        &format!("{base}/api/namespaces"),
        None,
    )
    .await;
    assert_eq!(st, 401);

    running.shutdown();
    common::delete_cluster_scoped(&west_c, &west_rbac).await;
    Api::<k8s_openapi::api::core::v1::Namespace>::all(west_c.clone())
        .delete(&ns, &Default::default())
        .await
        .ok();
}
