//! Login and logout: `/api/authenticate`, `/api/logout`, `/api/auth/info` (the sessions of
//! [`crate::session`]), and the redirect flows of `openid` ([`crate::openid`]) and `openshift`
//! ([`crate::openshift`]): `/api/auth/{openid,openshift}_redirect`, `/api/auth/callback[/<cluster>]`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{AuthStrategy, MAX_TOKEN_BYTES};
use crate::error::Error;
use crate::openid::{self, Flow, OpenId};
use crate::params::now_unix as now;
use crate::session::{self, Session};
use crate::state::Shared;

fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn with_cookies(mut resp: Response, cookies: Vec<HeaderValue>) -> Response {
    for c in cookies {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// The `token` field of a form body (Kiali's login form), else the bearer token of the request.
fn token_of(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.trim().to_string())
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|h| h.strip_prefix("Bearer "))
                .map(|t| t.trim().to_string())
        })
        .filter(|t| !t.is_empty())
}

/// `POST /api/authenticate`: checks the credential of the strategy (`token`: the form's `token`,
/// reviewed by the home cluster; `anonymous`: none) and starts a session bound to the CSRF token
/// of the browser. Answers Kiali's `{username, expiresOn}`.
pub async fn authenticate(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let jar = session::cookies(&headers);
    // The edge's CSRF check has compared the header with this cookie already.
    let Some(csrf) = jar.get(session::CSRF_COOKIE).cloned() else {
        return Error::Forbidden("no CSRF cookie: call /api/auth/info first".into())
            .into_response();
    };
    let token = match s.auth.strategy {
        AuthStrategy::Anonymous => None,
        AuthStrategy::Token => match token_of(&headers, &body) {
            Some(t) if t.len() <= MAX_TOKEN_BYTES => Some(t),
            Some(_) => {
                return Error::Unauthorized(format!(
                    "the token is longer than {MAX_TOKEN_BYTES} bytes"
                ))
                .into_response();
            }
            None => {
                return Error::Unauthorized("the form has no token field".into()).into_response();
            }
        },
        other => {
            return Error::BadParam {
                param: "auth.strategy",
                value: other.effective().to_string(),
                allowed: "anonymous or token (with header, the proxy sends every request's token: no login; with openid or openshift, log in through /api/auth/openid_redirect or /api/auth/openshift_redirect)"
                    .into(),
            }
            .into_response();
        }
    };
    let identity = match &token {
        Some(t) => s.auth.authenticate(Some(&format!("Bearer {t}"))).await,
        None => s.auth.authenticate(None).await,
    };
    let identity = match identity {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let ttl = i64::try_from(s.auth.session_seconds).unwrap_or(i64::MAX / 4);
    let expires = now().saturating_add(ttl);
    let sess = Session {
        username: identity.name().to_string(),
        strategy: s.auth.strategy.effective().to_string(),
        expires,
        csrf,
        token,
        clusters: Default::default(),
    };
    let sealed = match s.auth.sealer.seal(&sess) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    tracing::info!(user = %sess.username, "login");
    let cookies = session::set_session(
        &sealed,
        &s.config.web_root(),
        ttl,
        session::chunk_count(&jar),
    );
    with_cookies(
        Json(json!({"username": sess.username, "expiresOn": rfc3339(expires)})).into_response(),
        cookies,
    )
}

/// `POST /api/logout`: removes the session (every cluster's login with it).
pub async fn logout(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let jar = session::cookies(&headers);
    with_cookies(
        StatusCode::NO_CONTENT.into_response(),
        session::clear_session(&s.config.web_root(), session::chunk_count(&jar)),
    )
}

/// `GET /api/auth/info`: the strategy, the session (user, expiry) when there is a valid one, the
/// CSRF token (set as cookie too when the browser has none), and — with a valid session, or under
/// the anonymous strategy — the login state of every cluster (`clusters`, absent otherwise: an
/// unauthenticated caller learns no cluster names).
pub async fn get_auth_info(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let jar = session::cookies(&headers);
    let root = s.config.web_root();
    let mut cookies = Vec::new();
    let csrf = match jar.get(session::CSRF_COOKIE).filter(|c| c.len() >= 32) {
        Some(c) => c.clone(),
        None => {
            let t = session::random_token();
            cookies.push(session::set_csrf(&t, &root));
            t
        }
    };
    let sess = match s.auth.session(&headers, now()) {
        Ok(v) => v,
        Err(_) => {
            cookies.extend(session::clear_session(&root, session::chunk_count(&jar)));
            None
        }
    };
    let anonymous = s.auth.strategy == AuthStrategy::Anonymous;
    let session_info = match &sess {
        Some(x) => json!({"username": x.username, "expiresOn": rfc3339(x.expires)}),
        None => json!({}),
    };
    let mut body: Value = json!({
        "strategy": s.auth.strategy.effective(),
        "authorizationEndpoint": match s.auth.strategy {
            AuthStrategy::Openid => format!("{root}/api/auth/openid_redirect"),
            AuthStrategy::Openshift => format!("{root}/api/auth/openshift_redirect"),
            _ => String::new(),
        },
        "sessionInfo": session_info,
        "csrfToken": csrf,
    });
    // The mesh's cluster names (and which is home) are for signed-in callers only: a session, or
    // a valid bearer token (the `header` strategy's proxy sends one with every request).
    let bearer = sess.is_none()
        && headers.contains_key(header::AUTHORIZATION)
        && signed_in(&s, &headers).await;
    if !anonymous && sess.is_none() && !bearer {
        return with_cookies(Json(body).into_response(), cookies);
    }
    let mut clusters = serde_json::Map::new();
    for c in s.registry.snapshot() {
        let logged_in = anonymous
            || bearer
            || sess
                .as_ref()
                .is_some_and(|x| x.token.is_some() || x.clusters.contains_key(&c.name));
        clusters.insert(
            c.name.clone(),
            json!({"name": c.name, "isKialiHome": c.is_home, "loggedIn": logged_in}),
        );
    }
    body["clusters"] = Value::Object(clusters);
    with_cookies(Json(body).into_response(), cookies)
}

/// Whether a request is signed in (a valid bearer token or session).
pub async fn signed_in(s: &Shared, headers: &HeaderMap) -> bool {
    matches!(
        s.auth
            .authenticate_request(&axum::http::Method::GET, headers, now())
            .await,
        Ok(i) if i.is_user()
    )
}

/// The server's URL as the browser reached it: `server.web_schema`/`web_fqdn`/`web_port` where
/// set; only what is unset is taken from the proxy's `X-Forwarded-Proto`/`X-Forwarded-Host`, else
/// `Host` ([`meshglass_crds::Config::public_base`]).
fn external_base(s: &Shared, headers: &HeaderMap) -> String {
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let proto = first("x-forwarded-proto");
    let host = first("x-forwarded-host").or_else(|| first("host"));
    s.config.public_base(proto.as_deref(), host.as_deref())
}

fn redirect(to: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    with_cookies(resp, cookies)
}

fn not_openid() -> Response {
    (StatusCode::NOT_FOUND, "OpenId strategy is not enabled").into_response()
}

#[derive(Deserialize)]
pub struct RedirectQuery {
    cluster: Option<String>,
}

/// `GET /api/auth/openid_redirect[?cluster=<name>]` (Kiali's route; `cluster` BEYOND): sends
/// the browser to the provider of the cluster (default: [`Shared::default_cluster`], the home
/// cluster unless hidden) to log in there.
pub async fn openid_redirect(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<RedirectQuery>,
) -> Response {
    let Some(oidc) = s.auth.openid.clone() else {
        return not_openid();
    };
    let cluster = match login_cluster(&s, q.cluster) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let callback = format!(
        "{}/api/auth/callback/{}",
        external_base(&s, &headers),
        form_urlencoded::byte_serialize(cluster.name.as_bytes()).collect::<String>()
    );
    match oidc.start(&cluster.name, callback, now()).await {
        Ok((url, flow)) => to_provider(&s, &url, &flow),
        Err(e) => e.into_response(),
    }
}

/// The cluster a login is for: the one named (it must be listed), else
/// [`Shared::default_cluster`].
fn login_cluster(
    s: &Shared,
    named: Option<String>,
) -> crate::error::Result<std::sync::Arc<crate::registry::ClusterEntry>> {
    match named.filter(|c| !c.is_empty()) {
        Some(c) => {
            s.check_cluster(&c)?;
            s.registry
                .entry(&c)
                .ok_or_else(|| Error::NotFound(format!("cluster {c}")))
        }
        None => s.default_cluster("cluster"),
    }
}

/// The redirect to the provider's `url`, with `flow` sealed in the flow cookie.
fn to_provider(s: &Shared, url: &str, flow: &Flow) -> Response {
    let sealed = match OpenId::seal_flow(&s.auth.sealer, flow) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let cookie = session::cookie(
        openid::FLOW_COOKIE,
        &sealed,
        &session::attrs(&s.config.web_root(), "Lax", openid::FLOW_SECONDS),
    );
    redirect(url, vec![cookie])
}

/// `GET /api/auth/openshift_redirect[?cluster=<name>]` (Kiali's route; `cluster` for another
/// cluster than the home one): sends the browser to the cluster's OpenShift OAuth server, which
/// comes back to `/api/auth/callback` (home) or `/api/auth/callback/<cluster>`.
pub async fn openshift_redirect(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<RedirectQuery>,
) -> Response {
    let Some(os) = s.auth.openshift.clone() else {
        return (StatusCode::NOT_FOUND, "OpenShift strategy is not enabled").into_response();
    };
    let cluster = match login_cluster(&s, q.cluster) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let path = meshglass_crds::openshift::callback_path(
        (!cluster.is_home).then_some(cluster.name.as_str()),
    );
    let callback = format!("{}{path}", external_base(&s, &headers));
    match os.start(&cluster, callback, now()).await {
        Ok((url, flow)) => to_provider(&s, &url, &flow),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /api/auth/callback/<cluster>`: the provider's redirect after a login to `cluster`
/// (`openid`, `openshift`).
pub async fn auth_callback(
    State(s): State<Shared>,
    Path(cluster): Path<String>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    callback(s, cluster, headers, q).await
}

/// `GET /api/auth/callback`: the OAuth server's redirect after a login to the home cluster
/// (`openshift`; Kiali's home callback path).
pub async fn home_callback(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let home = match s.registry.home() {
        Some(h) if s.auth.strategy == AuthStrategy::Openshift => h.name.clone(),
        _ => return (StatusCode::NOT_FOUND, "OpenShift strategy is not enabled").into_response(),
    };
    callback(s, home, headers, q).await
}

/// The callback of either flow: checks the flow cookie against the cluster and state, exchanges
/// the code for the cluster's credential (`openid`: the ID token, its claims checked here;
/// `openshift`: the OAuth access token), which the cluster's API server must accept (a
/// TokenReview there), and adds the cluster to the browser's session (starting one when there is
/// none). Then back to the console; a failure goes there too, as `?openid_error=` or
/// `?openshift_error=` (as Kiali does).
async fn callback(s: Shared, cluster: String, headers: HeaderMap, q: CallbackQuery) -> Response {
    let (oidc, os) = (s.auth.openid.clone(), s.auth.openshift.clone());
    if oidc.is_none() && os.is_none() {
        return not_openid();
    }
    let root = s.config.web_root();
    let jar = session::cookies(&headers);
    let mut cookies = vec![session::cookie(
        openid::FLOW_COOKIE,
        "",
        &session::attrs(&root, "Lax", 0),
    )];
    let login = async {
        if let Some(e) = &q.error {
            return Err(Error::Unauthorized(format!(
                "the provider refused the login: {}",
                e.chars().take(100).collect::<String>()
            )));
        }
        let state = q.state.as_deref().unwrap_or_default();
        let flow = OpenId::open_flow(
            &s.auth.sealer,
            jar.get(openid::FLOW_COOKIE),
            &cluster,
            state,
            now(),
        )?;
        let code = q
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::Unauthorized("the callback has no authorization code".into()))?;
        let (token, name, exp) = match (&oidc, &os) {
            (Some(oidc), _) => {
                let (t, n, e) = oidc.finish(&flow, code, now()).await?;
                (t, Some(n), Some(e))
            }
            (None, Some(os)) => {
                let entry = s
                    .registry
                    .entry(&cluster)
                    .ok_or_else(|| Error::NotFound(format!("cluster {cluster}")))?;
                let (t, e) = os.finish(&entry, &flow, code, now()).await?;
                (t, None, e)
            }
            (None, None) => unreachable!("checked above"),
        };
        let Some(user) = s.auth.review(Some(&cluster), &token).await? else {
            return Err(Error::Unauthorized(match &oidc {
                Some(oidc) => format!(
                    "cluster {cluster} does not accept the ID token of its OpenID provider {} (its API server must trust that issuer)",
                    oidc.config.provider(&cluster).issuer_uri
                ),
                None => format!(
                    "cluster {cluster} does not accept the access token of its OAuth server (TokenReview)"
                ),
            }));
        };
        Ok((token, name.unwrap_or_else(|| user.username.clone()), exp))
    }
    .await;
    let error_param = if oidc.is_some() {
        "openid_error"
    } else {
        "openshift_error"
    };
    let (token, name, exp) = match login {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(cluster = %cluster, error = %e, strategy = s.auth.strategy.effective(), "login failed");
            let msg: String = form_urlencoded::byte_serialize(e.to_string().as_bytes()).collect();
            return redirect(&format!("{root}/?{error_param}={msg}"), cookies);
        }
    };
    let at = now();
    let ttl = i64::try_from(s.auth.session_seconds).unwrap_or(i64::MAX / 4);
    let mut until = at.saturating_add(ttl);
    if let Some(exp) = exp {
        until = until.min(exp);
    }
    let csrf = match jar.get(session::CSRF_COOKIE).filter(|c| c.len() >= 32) {
        Some(c) => c.clone(),
        None => {
            let t = session::random_token();
            cookies.push(session::set_csrf(&t, &root));
            t
        }
    };
    let sess = match s.auth.session(&headers, at).ok().flatten() {
        Some(mut x) => {
            x.clusters.insert(cluster.clone(), token);
            x.expires = x.expires.max(until);
            x
        }
        None => Session {
            username: name,
            strategy: s.auth.strategy.effective().to_string(),
            expires: until,
            csrf,
            token: None,
            clusters: [(cluster.clone(), token)].into(),
        },
    };
    let sealed = match s.auth.sealer.seal(&sess) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    tracing::info!(user = %sess.username, cluster = %cluster, strategy = s.auth.strategy.effective(), "login");
    cookies.extend(session::set_session(
        &sealed,
        &root,
        sess.expires - at,
        session::chunk_count(&jar),
    ));
    redirect(&format!("{root}/"), cookies)
}
