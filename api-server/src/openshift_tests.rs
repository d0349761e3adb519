//! The `openshift` strategy through `Router::oneshot`, against a stand-in OAuth server on
//! loopback (discovery document and token endpoint; it checks the PKCE verifier and the public
//! client's id). The clusters' answers come from [`crate::api_tests::reviewer`]: `t-alice` is
//! alice on every cluster.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Form, State};
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::api_tests::{mesh, reviewer, with_registry};
use crate::auth::{Auth, AuthStrategy};
use crate::registry::Registry;
use crate::routes::router;
use crate::state::AppState;

/// What the stand-in OAuth server was asked and will answer.
#[derive(Default)]
struct Oauth {
    /// The PKCE challenge of the login under way.
    challenge: String,
    /// The access token the next code exchange gives.
    token: String,
    /// The forms the token endpoint received.
    forms: Vec<BTreeMap<String, String>>,
}

type Shared = Arc<Mutex<Oauth>>;

async fn token(
    State(o): State<Shared>,
    Form(f): Form<BTreeMap<String, String>>,
) -> impl IntoResponse {
    use base64::Engine;
    use sha2::Digest;
    let mut o = o.lock().unwrap();
    o.forms.push(f.clone());
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let proof = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let ok = f.get("code").map(String::as_str) == Some("code-1")
        && f.get("client_id").map(String::as_str) == Some("kiali-istio-system")
        && f.get("grant_type").map(String::as_str) == Some("authorization_code")
        && proof == o.challenge;
    if !ok {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        );
    }
    (
        StatusCode::OK,
        axum::Json(json!({"access_token": o.token, "expires_in": 600, "token_type": "Bearer"})),
    )
}

/// Starts the stand-in; returns its base URL.
async fn oauth_server(o: Shared) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let doc = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
    });
    let app = axum::Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc) }
            }),
        )
        .route("/oauth/token", axum::routing::post(token))
        .with_state(o);
    tokio::spawn(async move { axum::serve(l, app).await.ok() });
    base
}

/// A browser's cookies.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    async fn get(&mut self, s: &Arc<AppState>, uri: &str) -> (StatusCode, String, Value) {
        let mut req = Request::builder().uri(uri);
        if !self.0.is_empty() {
            let c: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header(header::COOKIE, c.join("; "));
        }
        let resp = router(s.clone())
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        for c in resp.headers().get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (k, v) = c.split(';').next().unwrap().split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.0.remove(k);
            } else {
                self.0.insert(k.to_string(), v.to_string());
            }
        }
        let status = resp.status();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            location,
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        )
    }
}

fn query(url: &str) -> BTreeMap<String, String> {
    let (_, q) = url.split_once('?').unwrap_or_default();
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

async fn openshift_state(o: &Shared) -> Arc<AppState> {
    let base = oauth_server(o.clone()).await;
    let doc = format!("{base}/.well-known/oauth-authorization-server");
    let cfg = meshglass_crds::openshift::OpenShiftConfig::from_value(&json!({"clusters": {
        "east": {"discovery_url": doc}, "west": {"discovery_url": doc}}}))
    .unwrap();
    let os =
        crate::openshift::OpenShift::new(cfg, "kiali-istio-system".into(), &Default::default())
            .unwrap();
    let auth = Auth::new(AuthStrategy::Openshift, reviewer()).with_openshift(os);
    with_registry(Registry::with(mesh()), auth)
}

/// Where the console sends the browser for a login to `cluster` (`None`: the home one); the
/// stand-in records the PKCE challenge as its authorize endpoint would.
async fn start(
    s: &Arc<AppState>,
    o: &Shared,
    jar: &mut Jar,
    cluster: Option<&str>,
) -> BTreeMap<String, String> {
    let uri = match cluster {
        Some(c) => format!("/kiali/api/auth/openshift_redirect?cluster={c}"),
        None => "/kiali/api/auth/openshift_redirect".to_string(),
    };
    let (st, location, b) = jar.get(s, &uri).await;
    assert_eq!(st, StatusCode::FOUND, "{b}");
    assert!(location.contains("/oauth/authorize?"), "{location}");
    let q = query(&location);
    o.lock().unwrap().challenge = q["code_challenge"].clone();
    q
}

#[tokio::test]
async fn a_login_per_cluster_through_each_clusters_oauth_server() {
    let o: Shared = Default::default();
    o.lock().unwrap().token = "t-alice".into();
    let s = openshift_state(&o).await;
    let mut jar = Jar::default();
    let (_, _, info) = jar.get(&s, "/kiali/api/auth/info").await;
    assert_eq!(info["strategy"], "openshift");
    assert_eq!(
        info["authorizationEndpoint"],
        "/kiali/api/auth/openshift_redirect"
    );

    // West first: the OAuth server comes back to /api/auth/callback/west.
    let q = start(&s, &o, &mut jar, Some("west")).await;
    assert_eq!(q["client_id"], "kiali-istio-system");
    assert_eq!(q["scope"], "user:full");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(
        q["redirect_uri"].ends_with("/kiali/api/auth/callback/west"),
        "{q:?}"
    );
    // A callback with another state is refused (and sends nothing to the token endpoint).
    let (st, location, _) = jar
        .get(&s, "/kiali/api/auth/callback/west?code=code-1&state=forged")
        .await;
    assert_eq!(st, StatusCode::FOUND);
    assert!(
        location.starts_with("/kiali/?openshift_error="),
        "{location}"
    );
    assert!(o.lock().unwrap().forms.is_empty());
    let q = start(&s, &o, &mut jar, Some("west")).await;
    let (st, location, _) = jar
        .get(
            &s,
            &format!(
                "/kiali/api/auth/callback/west?code=code-1&state={}",
                q["state"]
            ),
        )
        .await;
    assert_eq!((st, location.as_str()), (StatusCode::FOUND, "/kiali/"));
    let form = o.lock().unwrap().forms.last().cloned().unwrap();
    assert_eq!(form["redirect_uri"], q["redirect_uri"]);
    assert!(!form.contains_key("client_secret"), "a public client");
    let (_, _, info) = jar.get(&s, "/kiali/api/auth/info").await;
    assert_eq!(info["sessionInfo"]["username"], "alice", "{info}");
    assert_eq!(info["clusters"]["west"]["loggedIn"], true, "{info}");
    assert_eq!(info["clusters"]["east"]["loggedIn"], false, "{info}");
    let (st, _, ns) = jar.get(&s, "/kiali/api/namespaces").await;
    assert_eq!(st, StatusCode::OK, "{ns}");
    let clusters: Vec<&str> = ns
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["cluster"].as_str().unwrap())
        .collect();
    assert_eq!(clusters, ["west"], "{ns}");

    // Then the home cluster, through Kiali's home callback path /api/auth/callback.
    let q = start(&s, &o, &mut jar, None).await;
    assert!(
        q["redirect_uri"].ends_with("/kiali/api/auth/callback"),
        "{q:?}"
    );
    let (_, location, _) = jar
        .get(
            &s,
            &format!("/kiali/api/auth/callback?code=code-1&state={}", q["state"]),
        )
        .await;
    assert_eq!(location, "/kiali/");
    let (_, _, info) = jar.get(&s, "/kiali/api/auth/info").await;
    assert_eq!(info["clusters"]["east"]["loggedIn"], true, "{info}");
    let (_, _, ns) = jar.get(&s, "/kiali/api/namespaces").await;
    assert_eq!(ns.as_array().unwrap().len(), 2, "{ns}");
}

#[tokio::test]
async fn a_token_the_cluster_does_not_accept_is_no_login() {
    let o: Shared = Default::default();
    o.lock().unwrap().token = "t-nobody".into();
    let s = openshift_state(&o).await;
    let mut jar = Jar::default();
    let q = start(&s, &o, &mut jar, Some("west")).await;
    let (_, location, _) = jar
        .get(
            &s,
            &format!(
                "/kiali/api/auth/callback/west?code=code-1&state={}",
                q["state"]
            ),
        )
        .await;
    assert!(
        location.starts_with("/kiali/?openshift_error=") && location.contains("TokenReview"),
        "{location}"
    );
    let (st, _, _) = jar.get(&s, "/kiali/api/namespaces").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // A code the OAuth server refuses names its error code.
    o.lock().unwrap().token = "t-alice".into();
    let q = start(&s, &o, &mut jar, Some("west")).await;
    o.lock().unwrap().challenge = "another login's challenge".into();
    let (_, location, _) = jar
        .get(
            &s,
            &format!(
                "/kiali/api/auth/callback/west?code=code-1&state={}",
                q["state"]
            ),
        )
        .await;
    assert!(location.contains("invalid_grant"), "{location}");
    // An unknown cluster is refused before anything is sent, naming the listed ones.
    let (st, _, b) = jar
        .get(&s, "/kiali/api/auth/openshift_redirect?cluster=nosuch")
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["allowed"], "east, north, west", "{b}");
    // Another strategy's routes are not served.
    let (st, _, _) = jar.get(&s, "/kiali/api/auth/openid_redirect").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}
