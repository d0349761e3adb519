//! End to end, sessions of the `token` strategy on the real test bed: a ServiceAccount's token is
//! reviewed by east's API server at login, the sealed cookie is then the credential (what the user
//! sees is asked of the clusters with SubjectAccessReview, as with a bearer token), the CSRF token
//! is required, a forged, tampered, expired or other-key cookie gets 401, and logout removes the cookies.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, PostParams};
use meshglass_testbed::wait_until;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(120);

async fn create<T>(client: &kube::Client, ns: &str, v: Value)
where
    T: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let o: T = serde_json::from_value(v).expect("object");
    Api::<T>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &o)
        .await
        .expect("create");
}

const KEY_A: &str = "session-key-a-0123456789abcdef";
const KEY_B: &str = "session-key-b-0123456789abcdef";

/// The server in process on the bed's east cluster (token strategy), sealing with `key`.
async fn server(key: &str, seconds: u64, secrets: &std::path::Path) -> meshglass_server::Running {
    let spec: meshglass_crds::KialiSpec = serde_json::from_value(json!({
        "auth": {"strategy": "token"},
        "server": {"address": "127.0.0.1", "port": 0, "observability": {"metrics": {"enabled": false}}},
        "kubernetes_config": {"cluster_name": "east"},
        "login_token": {"expiration_seconds": seconds},
    }))
    .expect("spec");
    let mut config = meshglass_crds::Config::from_spec(&spec, "istio-system").expect("config");
    // As the operator passes it: from the Secret, not config.yaml.
    config.login_token.signing_key = key.to_string();
    let bed = common::east_west_bed().await;
    meshglass_server::start(meshglass_server::Options {
        config,
        kubeconfig: Some(bed.kubeconfig_path().to_path_buf()),
        context: Some("east".into()),
        remote_secrets_dir: secrets.to_path_buf(),
        secrets_poll: Duration::from_secs(1),
        paths: Default::default(),
    })
    .await
    .expect("server starts")
}

/// A browser: cookies from `Set-Cookie`, sent back as `Cookie`.
#[derive(Clone, Default)]
struct Browser {
    jar: BTreeMap<String, String>,
    http: reqwest::Client,
}

impl Browser {
    async fn send(
        &mut self,
        method: reqwest::Method,
        url: &str,
        csrf: Option<&str>,
        form: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, url);
        if !self.jar.is_empty() {
            let c: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header("cookie", c.join("; "));
        }
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        if let Some(f) = form {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(f.to_string());
        }
        let resp = req.send().await.expect("server answers");
        for c in resp.headers().get_all("set-cookie") {
            let c = c.to_str().expect("ascii");
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').expect("name=value");
            if attrs.contains("Max-Age=0") {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.to_string(), v.to_string());
            }
        }
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(&mut self, url: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, url, None, None).await
    }
}

fn names(v: &Value) -> Vec<(String, String)> {
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
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_token_session_is_the_users_credential_until_logout_expiry_or_a_new_key() {
    let bed = common::east_west_bed().await;
    let (east, _west) = common::east_west(bed).await;
    let ns = common::test_namespace(&east, "sess").await;
    let n = ns.name().to_string();
    create::<ServiceAccount>(&east, &n, json!({"metadata": {"name": "viewer"}})).await;
    create::<RoleBinding>(
        &east,
        &n,
        json!({"metadata": {"name": "viewer"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
               "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": n}]}),
    )
    .await;
    let token = common::sa_token(&east, &n, "viewer").await;
    let secrets = tempfile::tempdir().expect("tempdir");
    let a = server(KEY_A, 3600, secrets.path()).await;
    let base = a.base_url();
    let state = a.state.clone();
    wait_until("caches sync", TIMEOUT, || {
        let ready = state.registry.ready();
        async move { Ok::<_, String>(ready.then_some(())) }
    })
    .await
    .expect("ready");

    let mut b = Browser::default();
    let (st, info) = b.get(&format!("{base}/api/auth/info")).await;
    assert_eq!(st, 200);
    assert_eq!(info["strategy"], "token");
    // Before login: no cluster names.
    assert!(info.get("clusters").is_none(), "{info}");
    let csrf = info["csrfToken"].as_str().expect("csrf").to_string();
    let form = format!("token={token}");
    let post = reqwest::Method::POST;
    // No CSRF token: refused before the token is even reviewed.
    let (st, e) = b
        .send(
            post.clone(),
            &format!("{base}/api/authenticate"),
            None,
            Some(&form),
        )
        .await;
    assert_eq!(st, 403, "{e}");
    let (st, e) = b
        .send(
            post.clone(),
            &format!("{base}/api/authenticate"),
            Some(&csrf),
            Some("token=junk"),
        )
        .await;
    assert_eq!(st, 401, "{e}");
    let (st, login) = b
        .send(
            post.clone(),
            &format!("{base}/api/authenticate"),
            Some(&csrf),
            Some(&form),
        )
        .await;
    assert_eq!(st, 200, "{login}");
    assert_eq!(
        login["username"],
        format!("system:serviceaccount:{n}:viewer")
    );

    // The cookie alone: the same namespaces the bearer token gets, the user's own.
    let (st, by_cookie) = b.get(&format!("{base}/api/namespaces")).await;
    assert_eq!(st, 200, "{by_cookie}");
    let by_token: Value = reqwest::Client::new()
        .get(format!("{base}/api/namespaces"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("bearer")
        .json()
        .await
        .expect("json");
    assert_eq!(names(&by_cookie), names(&by_token));
    assert_eq!(names(&by_cookie), vec![("east".to_string(), n.clone())]);
    let (_, info) = b.get(&format!("{base}/api/auth/info")).await;
    assert_eq!(info["sessionInfo"]["username"], login["username"]);
    assert_eq!(info["clusters"]["east"]["loggedIn"], true);

    // Tampered: 401.
    let mut t = b.clone();
    let c = t.jar.get_mut("kiali-token-aes").expect("session cookie");
    let flipped = if c.ends_with('A') { 'B' } else { 'A' };
    c.pop();
    c.push(flipped);
    assert_eq!(t.get(&format!("{base}/api/namespaces")).await.0, 401);

    // Forged: a cookie this server never sealed (any text, or sealed with a key it does not have,
    // claiming the same user and CSRF token).
    let forged = meshglass_server::session::Session {
        username: login["username"].as_str().expect("user").to_string(),
        strategy: "token".into(),
        expires: meshglass_server::params::now_unix() + 600,
        csrf: csrf.clone(),
        token: Some(token.clone()),
        clusters: BTreeMap::new(),
    };
    let other = meshglass_server::session::Sealer::new("a-key-the-server-does-not-have")
        .expect("key")
        .seal(&forged)
        .expect("sealed");
    for text in [other, "forged-session-cookie".to_string()] {
        let mut f = b.clone();
        f.jar.insert("kiali-token-aes".into(), text);
        f.jar.insert("kiali-token-aes-chunks".into(), "1".into());
        assert_eq!(f.get(&format!("{base}/api/namespaces")).await.0, 401);
    }

    // Another key (a rotated signing key): the old session ends.
    let rotated = server(KEY_B, 3600, secrets.path()).await;
    let mut r = b.clone();
    assert_eq!(
        r.get(&format!("{}/api/namespaces", rotated.base_url()))
            .await
            .0,
        401
    );
    let (_, info) = r
        .get(&format!("{}/api/auth/info", rotated.base_url()))
        .await;
    assert_eq!(info["sessionInfo"], json!({}), "{info}");
    rotated.shutdown();

    // Expiry: a one-second session is refused once its second has passed.
    let short = server(KEY_A, 1, secrets.path()).await;
    let sbase = short.base_url();
    let mut s = Browser::default();
    let (_, info) = s.get(&format!("{sbase}/api/auth/info")).await;
    let scsrf = info["csrfToken"].as_str().expect("csrf").to_string();
    let (st, _) = s
        .send(
            post.clone(),
            &format!("{sbase}/api/authenticate"),
            Some(&scsrf),
            Some(&form),
        )
        .await;
    assert_eq!(st, 200);
    let expired = wait_until("the session expires", Duration::from_secs(10), || {
        let mut s = s.clone();
        let url = format!("{sbase}/api/namespaces");
        async move {
            let (st, body) = s.get(&url).await;
            Ok::<_, String>((st == 401).then_some(body))
        }
    })
    .await
    .expect("expired");
    assert!(
        expired["error"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{expired}"
    );
    short.shutdown();

    // Logout needs the CSRF token, then removes the session.
    let (st, _) = b
        .send(post.clone(), &format!("{base}/api/logout"), None, None)
        .await;
    assert_eq!(st, 403);
    let (st, _) = b
        .send(post, &format!("{base}/api/logout"), Some(&csrf), None)
        .await;
    assert_eq!(st, 204);
    assert!(!b.jar.contains_key("kiali-token-aes"));
    assert_eq!(b.get(&format!("{base}/api/namespaces")).await.0, 401);
    a.shutdown();
}
