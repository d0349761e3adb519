//! Login, sessions and CSRF through `Router::oneshot`: cookies as a browser keeps them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

use crate::api_tests::state;
use crate::auth::{Auth, AuthStrategy};
use crate::routes::router;
use crate::session::{self, Sealer, Session};
use crate::state::AppState;

/// A browser's cookie jar, fed by `Set-Cookie` and sent as `Cookie`.
#[derive(Default, Clone)]
struct Browser {
    jar: BTreeMap<String, String>,
}

struct Answer {
    status: StatusCode,
    set_cookies: Vec<String>,
    body: Value,
}

impl Browser {
    async fn send(
        &mut self,
        s: &Arc<AppState>,
        method: &str,
        uri: &str,
        csrf: Option<&str>,
        body: &str,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(uri);
        if !self.jar.is_empty() {
            let c: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header(header::COOKIE, c.join("; "));
        }
        if let Some(t) = csrf {
            req = req.header(session::CSRF_HEADER, t);
        }
        if !body.is_empty() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let resp = router(s.clone())
            .oneshot(req.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for c in &set_cookies {
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.to_string(), v.to_string());
            }
        }
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            set_cookies,
            body,
        }
    }

    async fn get(&mut self, s: &Arc<AppState>, uri: &str) -> Answer {
        self.send(s, "GET", uri, None, "").await
    }
}

/// The state `s` with its sessions sealed by `key`, lasting `seconds`.
fn keyed(s: &Arc<AppState>, strategy: AuthStrategy, key: &str, seconds: u64) -> Arc<AppState> {
    let auth = Auth::new(strategy, crate::api_tests::reviewer());
    let auth = Arc::new(auth.with_sessions(Sealer::new(key).unwrap(), seconds));
    crate::api_tests::altered(s, s.config.clone(), s.registry.clone(), auth, None)
}

const KEY_A: &str = "key-a-0123456789abcdef";
const KEY_B: &str = "key-b-0123456789abcdef";

#[tokio::test]
async fn a_token_login_starts_a_session_that_logout_ends() {
    let base = state(AuthStrategy::Token, "/kiali");
    let s = keyed(&base, AuthStrategy::Token, KEY_A, 600);
    let mut b = Browser::default();
    let info = b.get(&s, "/kiali/api/auth/info").await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.body["strategy"], "token");
    assert_eq!(info.body["sessionInfo"], serde_json::json!({}));
    // No session: no cluster names (nor which is home) for an unauthenticated caller.
    assert!(info.body.get("clusters").is_none(), "{}", info.body);
    let text = info.body.to_string();
    assert!(!text.contains("east") && !text.contains("west"), "{text}");
    let csrf = info.body["csrfToken"].as_str().unwrap().to_string();
    assert!(
        info.set_cookies.iter().any(
            |c| c.starts_with("kiali-csrf=") && c.contains("HttpOnly; Secure; SameSite=Strict")
        ),
        "{:?}",
        info.set_cookies
    );
    // Without a session: 401; a login without the CSRF header: 403.
    assert_eq!(
        b.get(&s, "/kiali/api/namespaces").await.status,
        StatusCode::UNAUTHORIZED
    );
    let no_csrf = b
        .send(&s, "POST", "/kiali/api/authenticate", None, "token=t-alice")
        .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN, "{}", no_csrf.body);
    let wrong = b
        .send(
            &s,
            "POST",
            "/kiali/api/authenticate",
            Some("nope"),
            "token=t-alice",
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let bad = b
        .send(
            &s,
            "POST",
            "/kiali/api/authenticate",
            Some(&csrf),
            "token=t-bad",
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    // The login.
    let login = b
        .send(
            &s,
            "POST",
            "/kiali/api/authenticate",
            Some(&csrf),
            "token=t-alice",
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["username"], "alice");
    let cookie = login
        .set_cookies
        .iter()
        .find(|c| c.starts_with("kiali-token-aes="))
        .unwrap();
    assert!(
        cookie.contains("Path=/kiali; HttpOnly; Secure; SameSite=Lax; Max-Age=600"),
        "{cookie}"
    );
    assert!(!cookie.contains("t-alice"), "the token is sealed");
    let expires: jiff::Timestamp = login.body["expiresOn"].as_str().unwrap().parse().unwrap();
    let left = expires.as_second() - crate::params::now_unix();
    assert!((598..=600).contains(&left), "{left}");
    // The session is the credential: alice's namespaces only.
    let ns = b.get(&s, "/kiali/api/namespaces").await;
    assert_eq!(ns.status, StatusCode::OK);
    let names: Vec<&str> = ns
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| *n == "bookinfo") && !names.is_empty(),
        "{names:?}"
    );
    let info = b.get(&s, "/kiali/api/auth/info").await;
    assert_eq!(info.body["sessionInfo"]["username"], "alice");
    assert_eq!(
        info.body["sessionInfo"]["expiresOn"],
        login.body["expiresOn"]
    );
    assert_eq!(info.body["clusters"]["west"]["loggedIn"], true);
    // Logout needs the token too, then ends the session.
    assert_eq!(
        b.send(&s, "POST", "/kiali/api/logout", None, "")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let out = b
        .send(&s, "POST", "/kiali/api/logout", Some(&csrf), "")
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(!b.jar.contains_key(session::COOKIE));
    assert_eq!(
        b.get(&s, "/kiali/api/namespaces").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn forged_tampered_expired_and_rotated_sessions_get_401() {
    let base = state(AuthStrategy::Token, "/kiali");
    let s = keyed(&base, AuthStrategy::Token, KEY_A, 600);
    let mut b = Browser::default();
    let csrf = b.get(&s, "/kiali/api/auth/info").await.body["csrfToken"]
        .as_str()
        .unwrap()
        .to_string();
    let login = b
        .send(
            &s,
            "POST",
            "/kiali/api/authenticate",
            Some(&csrf),
            "token=t-alice",
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(
        b.get(&s, "/kiali/api/namespaces").await.status,
        StatusCode::OK
    );
    let good = b.jar[session::COOKIE].clone();

    // Tampered: one character changed.
    let mut t = b.clone();
    let mut chars: Vec<char> = good.chars().collect();
    chars[30] = if chars[30] == 'A' { 'B' } else { 'A' };
    t.jar
        .insert(session::COOKIE.into(), chars.into_iter().collect());
    assert_eq!(
        t.get(&s, "/kiali/api/namespaces").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Forged: sealed with another key, claiming the same user.
    let mut f = b.clone();
    let forged = Session {
        username: "alice".into(),
        strategy: "token".into(),
        expires: crate::params::now_unix() + 600,
        csrf: csrf.clone(),
        token: Some("t-alice".into()),
        clusters: BTreeMap::new(),
    };
    f.jar.insert(
        session::COOKIE.into(),
        Sealer::new(KEY_B).unwrap().seal(&forged).unwrap(),
    );
    assert_eq!(
        f.get(&s, "/kiali/api/namespaces").await.status,
        StatusCode::UNAUTHORIZED
    );
    f.jar.insert(session::COOKIE.into(), "not-a-session".into());
    assert_eq!(
        f.get(&s, "/kiali/api/namespaces").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Expired: sealed with the right key, its time passed.
    let mut e = b.clone();
    let expired = Session {
        expires: crate::params::now_unix() - 1,
        ..forged.clone()
    };
    e.jar.insert(
        session::COOKIE.into(),
        Sealer::new(KEY_A).unwrap().seal(&expired).unwrap(),
    );
    let r = e.get(&s, "/kiali/api/namespaces").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.body["error"].as_str().unwrap().contains("expired"),
        "{}",
        r.body
    );
    // The same cookie, once the key is rotated: every session ends.
    let rotated = keyed(&base, AuthStrategy::Token, KEY_B, 600);
    assert_eq!(
        b.get(&rotated, "/kiali/api/namespaces").await.status,
        StatusCode::UNAUTHORIZED
    );
    let info = b.get(&rotated, "/kiali/api/auth/info").await;
    assert_eq!(info.body["sessionInfo"], serde_json::json!({}));
    assert!(info.body.get("clusters").is_none(), "{}", info.body);
    // A session made for another strategy is refused.
    let anon = keyed(&base, AuthStrategy::Anonymous, KEY_A, 600);
    let mut a = Browser {
        jar: BTreeMap::new(),
    };
    a.jar.insert(session::COOKIE.into(), good);
    assert_eq!(
        anon.auth
            .session(
                &{
                    let mut h = axum::http::HeaderMap::new();
                    h.insert(
                        header::COOKIE,
                        format!("{}={}", session::COOKIE, a.jar[session::COOKIE])
                            .parse()
                            .unwrap(),
                    );
                    h
                },
                0
            )
            .map(|_| ())
            .unwrap_err()
            .category(),
        "unauthorized"
    );
}

#[tokio::test]
async fn a_large_session_is_chunked_and_still_opens() {
    let base = state(AuthStrategy::Token, "/kiali");
    let s = keyed(&base, AuthStrategy::Token, KEY_A, 600);
    let csrf = "c".repeat(40);
    let big = Session {
        username: "alice".into(),
        strategy: "token".into(),
        expires: crate::params::now_unix() + 600,
        csrf: csrf.clone(),
        token: Some("t-alice".into()),
        clusters: (0..40)
            .map(|i| (format!("cluster-{i}"), "x".repeat(300)))
            .collect(),
    };
    let sealed = s.auth.sealer.seal(&big).unwrap();
    let mut b = Browser::default();
    for v in session::set_session(&sealed, "/kiali", 600, 0) {
        let v = v.to_str().unwrap();
        let (k, val) = v.split(';').next().unwrap().split_once('=').unwrap();
        b.jar.insert(k.into(), val.into());
    }
    assert!(b.jar.len() >= 4, "{:?}", b.jar.keys());
    assert_eq!(
        b.get(&s, "/kiali/api/namespaces").await.status,
        StatusCode::OK
    );
    // A write made with the session needs the session's own CSRF token, not only the cookie's.
    let headers = |jar: &BTreeMap<String, String>, sent: &str| {
        let mut h = axum::http::HeaderMap::new();
        let c: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        h.insert(header::COOKIE, c.join("; ").parse().unwrap());
        h.insert(session::CSRF_HEADER, sent.parse().unwrap());
        h
    };
    let post = axum::http::Method::POST;
    let now = crate::params::now_unix();
    let ok = s
        .auth
        .authenticate_request(&post, &headers(&b.jar, &csrf), now)
        .await;
    assert_eq!(ok.unwrap().name(), "alice");
    let other = "d".repeat(40);
    b.jar.insert(session::CSRF_COOKIE.into(), other.clone());
    let refused = s
        .auth
        .authenticate_request(&post, &headers(&b.jar, &other), now)
        .await;
    assert_eq!(refused.unwrap_err().category(), "forbidden");
}

#[tokio::test]
async fn an_anonymous_login_has_a_session_and_every_cluster_is_open() {
    let base = state(AuthStrategy::Anonymous, "/kiali");
    let s = keyed(&base, AuthStrategy::Anonymous, KEY_A, 60);
    let mut b = Browser::default();
    let info = b.get(&s, "/kiali/api/auth/info").await;
    assert_eq!(info.body["clusters"]["east"]["loggedIn"], true);
    let csrf = info.body["csrfToken"].as_str().unwrap().to_string();
    let login = b
        .send(&s, "POST", "/kiali/api/authenticate", Some(&csrf), "")
        .await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.body["username"], "anonymous");
    let info = b.get(&s, "/kiali/api/auth/info").await;
    assert_eq!(info.body["sessionInfo"]["username"], "anonymous");
}

#[tokio::test]
async fn auth_info_names_the_clusters_to_signed_in_callers_only() {
    let s = state(AuthStrategy::Header, "/kiali");
    let info = |authz: Option<&'static str>| {
        let s = s.clone();
        async move {
            let mut req = Request::builder().uri("/kiali/api/auth/info");
            if let Some(a) = authz {
                req = req.header(header::AUTHORIZATION, a);
            }
            let resp = router(s)
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    // No credential, or one the home cluster rejects: no cluster names.
    for authz in [None, Some("Bearer t-bad"), Some("Basic eDp5")] {
        let body = info(authz).await;
        assert!(body.get("clusters").is_none(), "{authz:?}: {body}");
        assert!(!body.to_string().contains("east"), "{body}");
    }
    // The proxy's valid bearer token: every cluster, logged in.
    let body = info(Some("Bearer t-alice")).await;
    assert_eq!(body["clusters"]["east"]["isKialiHome"], true, "{body}");
    assert_eq!(body["clusters"]["west"]["loggedIn"], true, "{body}");
}

/// A route path of [`crate::routes::table`] with its parameters filled in.
fn concrete(path: &str) -> String {
    let mut out = format!("/kiali{path}");
    for (param, value) in [
        ("{ns}", "bookinfo"),
        ("{group}", "networking.istio.io"),
        ("{version}", "v1"),
        ("{kind}", "VirtualService"),
        ("{name}", "reviews"),
        ("{cluster}", "east"),
        ("{pod}", "reviews-v1"),
        ("{trace_id}", "0af7651916cd43dd8448eb211c80319c"),
        ("{resource}", "clusters"),
    ] {
        out = out.replace(param, value);
    }
    assert!(
        !out.contains('{'),
        "a parameter of {path} has no test value"
    );
    out
}

fn is_csrf_refusal(a: &Answer) -> bool {
    a.status == StatusCode::FORBIDDEN
        && a.body["error"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase()
            .contains("csrf")
}

/// Every state-changing route of the router's own table, as a logged-in browser calls it: without
/// the CSRF header, with a wrong one, and (signed-in routes) with the token of another browser's
/// cookie instead of the session's own, it is refused before its handler runs; with the session's
/// token it gets past the check. A new write route is in the table, so it is walked here too.
#[tokio::test]
async fn every_state_changing_route_refuses_a_request_without_its_csrf_token() {
    let base = state(AuthStrategy::Token, "/kiali");
    let s = keyed(&base, AuthStrategy::Token, KEY_A, 600);
    let mut b = Browser::default();
    let csrf = b.get(&s, "/kiali/api/auth/info").await.body["csrfToken"]
        .as_str()
        .unwrap()
        .to_string();
    let login = b
        .send(
            &s,
            "POST",
            "/kiali/api/authenticate",
            Some(&csrf),
            "token=t-alice",
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let table = crate::routes::table();
    let writes: Vec<_> = table
        .iter()
        .filter(|r| session::is_write(&r.method))
        .collect();
    let names: Vec<String> = writes
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    for expected in ["POST /api/authenticate", "POST /api/logout"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    assert!(writes.len() >= 5, "{names:?}");
    let other = "o".repeat(43);
    for r in &writes {
        let uri = concrete(r.path);
        let m = r.method.as_str();
        let what = format!("{m} {uri}");
        let body = if r.path == "/api/authenticate" {
            "token=t-alice"
        } else {
            ""
        };
        let mut t = b.clone();
        let none = t.send(&s, m, &uri, None, body).await;
        assert!(
            is_csrf_refusal(&none),
            "{what} without the token: {} {}",
            none.status,
            none.body
        );
        let wrong = t.send(&s, m, &uri, Some("not-the-token"), body).await;
        assert!(
            is_csrf_refusal(&wrong),
            "{what} with a wrong token: {} {}",
            wrong.status,
            wrong.body
        );
        // The header equal to the browser's cookie, but not the token bound in the session.
        let mut swapped = b.clone();
        swapped
            .jar
            .insert(session::CSRF_COOKIE.into(), other.clone());
        let foreign = swapped.send(&s, m, &uri, Some(&other), body).await;
        if r.access == crate::routes::Access::SignedIn {
            assert!(
                is_csrf_refusal(&foreign),
                "{what} with another browser's token: {} {}",
                foreign.status,
                foreign.body
            );
        }
        // The session's own token passes the check (what the route answers then is its own).
        let mut ok = b.clone();
        let right = ok.send(&s, m, &uri, Some(&csrf), body).await;
        assert!(
            !is_csrf_refusal(&right),
            "{what} with the token: {} {}",
            right.status,
            right.body
        );
        // Still logged in: the refused requests changed nothing.
        assert_eq!(
            t.get(&s, "/kiali/api/namespaces").await.status,
            StatusCode::OK,
            "{what}"
        );
    }
    // No write hides behind a read path: every other path refuses writes (405) even with the token.
    for r in table.iter().filter(|r| !session::is_write(&r.method)) {
        let uri = concrete(r.path);
        for m in ["POST", "PUT", "PATCH", "DELETE"] {
            if writes
                .iter()
                .any(|w| w.path == r.path && w.method.as_str() == m)
            {
                continue;
            }
            let a = b.clone().send(&s, m, &uri, Some(&csrf), "").await;
            assert_eq!(
                a.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{m} {uri}: {}",
                a.body
            );
        }
    }
}

/// Who may call each route of the router's own table: the public ones are exactly the login,
/// status and probe routes, and every other route, read or write, answers 401 to a caller
/// without a credential or with one no cluster issued (a write through the CSRF check, as a
/// non-browser client with an `Authorization` header passes it). A new route is walked here too.
#[tokio::test]
async fn every_route_but_login_status_and_probes_needs_a_signed_in_caller() {
    let s = state(AuthStrategy::Token, "/kiali");
    let table = crate::routes::table();
    let mut public: Vec<String> = table
        .iter()
        .filter(|r| r.access == crate::routes::Access::Public)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    public.sort();
    assert_eq!(
        public,
        [
            "GET /api",
            "GET /api/auth/callback",
            "GET /api/auth/callback/{cluster}",
            "GET /api/auth/info",
            "GET /api/auth/openid_redirect",
            "GET /api/auth/openshift_redirect",
            "GET /api/status",
            "GET /healthz",
            "GET /readyz",
            "POST /api/authenticate",
            "POST /api/logout",
        ]
    );
    for r in table
        .iter()
        .filter(|r| r.access == crate::routes::Access::SignedIn)
    {
        let uri = concrete(r.path);
        for authz in [None, Some("Bearer not-a-token")] {
            let authz = authz.or(session::is_write(&r.method).then_some("Bearer not-a-token"));
            let mut req = Request::builder().method(r.method.clone()).uri(&uri);
            if let Some(a) = authz {
                req = req.header(header::AUTHORIZATION, a);
            }
            let resp = router(s.clone())
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::UNAUTHORIZED,
                "{} {uri} with {authz:?}",
                r.method
            );
        }
    }
}

/// The OpenID login of a request that names no cluster is of the default cluster: the home, or
/// under `clustering.ignore_home_cluster` the first reachable listed cluster (west here; north is
/// unreachable); with none reachable, a 400 asking for `cluster`.
#[tokio::test]
async fn an_openid_login_without_a_cluster_under_a_hidden_home_is_of_the_first_reachable_cluster() {
    use crate::api_tests::{call, hidden_home, mesh, reviewer, with_registry};
    use crate::registry::Registry;
    let openid = || {
        let cfg = meshglass_crds::openid::OpenIdConfig::from_value(&serde_json::json!({
            "client_id": "kiali", "issuer_uri": "https://idp.example",
            "authorization_endpoint": "https://idp.example/auth"}))
        .unwrap();
        let oidc = crate::openid::OpenId::new(cfg, &Default::default()).unwrap();
        Auth::new(AuthStrategy::Openid, reviewer()).with_openid(oidc)
    };
    let redirect_uri = |location: &str| {
        let (_, query) = location.split_once('?').unwrap_or_default();
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "redirect_uri")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let s = with_registry(Registry::with(mesh()), openid());
    let (st, h, b) = call(&s, "/kiali/api/auth/openid_redirect", None).await;
    assert_eq!(st, StatusCode::FOUND, "{b}");
    assert!(
        redirect_uri(&h["location"]).ends_with("/kiali/api/auth/callback/east"),
        "{h:?}"
    );
    let registry = hidden_home(true);
    let s = with_registry(registry, openid());
    let (st, h, b) = call(&s, "/kiali/api/auth/openid_redirect", None).await;
    assert_eq!(st, StatusCode::FOUND, "{b}");
    assert!(
        redirect_uri(&h["location"]).ends_with("/kiali/api/auth/callback/west"),
        "{h:?}"
    );
    let registry = hidden_home(false);
    let s = with_registry(registry, openid());
    let (st, _, b) = call(&s, "/kiali/api/auth/openid_redirect", None).await;
    assert_eq!(
        (st, b["parameter"].as_str()),
        (StatusCode::BAD_REQUEST, Some("cluster")),
        "{b}"
    );
}
