//! The `openshift` strategy: OpenShift's OAuth authorization-code flow with PKCE, one login per
//! cluster, as Kiali 2 does it.
//!
//! Each cluster's OAuth server is discovered from `/.well-known/oauth-authorization-server` of
//! that cluster's API server (read with the server's own credentials for the cluster), unless
//! `auth.openshift.clusters.<name>.discovery_url` names the document (BEYOND: a kube-apiserver
//! cannot serve it; the test bed's emulation of OpenShift needs this). The client is the
//! OAuthClient `<deployment.instance_name>-<deployment.namespace>` that the operator creates on
//! every cluster where the `oauth.openshift.io` API exists — a public client (no secret), so the
//! authorization code is bound to this browser's login with PKCE (S256) and a state, sealed in the
//! flow cookie as the `openid` strategy does ([`crate::openid::Flow`]). The scope is `user:full`.
//!
//! `GET /api/auth/openshift_redirect[?cluster=<name>]` sends the browser to that cluster's
//! authorization endpoint; the OAuth server comes back to `/api/auth/callback` (the home cluster)
//! or `/api/auth/callback/<cluster>` (another one: the redirect URI that `auth.openshift.redirect_uris`
//! of that cluster's remote CR registers). The access token is then that cluster's credential for
//! this user, kept in the session cookie beside the other clusters' ([`crate::session::Session`]).
//! Who the user is comes from a TokenReview of the access token on that cluster (OpenShift's API
//! server authenticates its OAuth tokens; Kiali reads `users/~` instead, which names the same user
//! but not the groups a SubjectAccessReview needs); what the user sees is asked of each cluster
//! with SubjectAccessReview, as for every signed-in strategy.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use meshglass_crds::openshift::{OpenShiftConfig, SCOPE};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::openid::Flow;
use crate::registry::ClusterEntry;
use crate::upstream::Paths;

/// How long discovered OAuth metadata is reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(300);
/// The longest discovery document read.
const MAX_DISCOVERY_BYTES: usize = 64 * 1024;

/// The parts of OpenShift's OAuth discovery document the flow uses.
#[derive(Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
}

/// The OAuth servers of the clusters, their HTTP clients and discovered metadata.
pub struct OpenShift {
    pub config: OpenShiftConfig,
    /// The OAuthClient's name, the `client_id` on every cluster.
    pub client_id: String,
    http: reqwest::Client,
    insecure: reqwest::Client,
    discovered: Mutex<BTreeMap<String, (Metadata, Instant)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn sha256_b64(s: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(s.as_bytes()))
}

/// The discovery document's checks: every endpoint an http(s) URL.
pub fn parse_metadata(cluster: &str, raw: &[u8]) -> Result<Metadata> {
    let fail = |why: String| {
        Error::Provider(format!(
            "the OAuth discovery document of cluster {cluster} {why}"
        ))
    };
    let m: Metadata =
        serde_json::from_slice(raw).map_err(|e| fail(format!("cannot be read: {e}")))?;
    for (k, v) in [
        ("authorization_endpoint", &m.authorization_endpoint),
        ("token_endpoint", &m.token_endpoint),
    ] {
        if !(v.starts_with("https://") || v.starts_with("http://")) {
            return Err(fail(format!("has no http(s) {k} ({v:?})")));
        }
    }
    Ok(m)
}

impl OpenShift {
    /// The OAuth flow of `config` (`auth.openshift`) for client `client_id`, trusting the CA
    /// bundle of `paths`.
    pub fn new(config: OpenShiftConfig, client_id: String, paths: &Paths) -> Result<OpenShift> {
        let build = |insecure: bool| {
            crate::upstream::http_client(&crate::upstream::ClientOptions {
                service: "auth.openshift",
                ca_file: "",
                insecure,
                timeout: Duration::from_secs(10),
                follow_redirects: false,
                headers: Default::default(),
                paths,
            })
        };
        Ok(OpenShift {
            config,
            client_id,
            http: build(false)?,
            insecure: build(true)?,
            discovered: Mutex::new(BTreeMap::new()),
        })
    }

    fn client(&self, cluster: &str) -> &reqwest::Client {
        if self.config.insecure(cluster) {
            &self.insecure
        } else {
            &self.http
        }
    }

    /// The OAuth metadata of `cluster`, cached: from its API server (through the server's own
    /// connection to it), or from `auth.openshift.clusters.<name>.discovery_url`.
    pub async fn metadata(&self, cluster: &ClusterEntry) -> Result<Metadata> {
        if let Some((m, at)) = lock(&self.discovered).get(&cluster.name)
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(m.clone());
        }
        let name = cluster.name.as_str();
        let fail = |why: String| {
            Error::Provider(format!("OAuth discovery of cluster {name} failed: {why}"))
        };
        let own = self
            .config
            .clusters
            .get(name)
            .map(|o| o.discovery_url.trim().to_string())
            .filter(|u| !u.is_empty());
        let raw: Vec<u8> = match own {
            Some(url) => {
                let resp = self
                    .client(name)
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| fail(format!("{url}: {e}")))?;
                if !resp.status().is_success() {
                    return Err(fail(format!("{url} answered {}", resp.status())));
                }
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| fail(format!("{url}: {e}")))?;
                body.to_vec()
            }
            None => {
                let client = cluster
                    .client
                    .clone()
                    .ok_or_else(|| fail("the server has no connection to that cluster".into()))?;
                let req = axum::http::Request::get("/.well-known/oauth-authorization-server")
                    .body(Vec::new())
                    .map_err(|e| fail(e.to_string()))?;
                client
                    .request_text(req)
                    .await
                    .map_err(|e| {
                        fail(format!(
                            "its API server's /.well-known/oauth-authorization-server: {} (not OpenShift? set auth.openshift.clusters.{name}.discovery_url)",
                            crate::registry::describe_kube_error(&e)
                        ))
                    })?
                    .into_bytes()
            }
        };
        if raw.len() > MAX_DISCOVERY_BYTES {
            return Err(fail("the document is too large".into()));
        }
        let m = parse_metadata(name, &raw)?;
        lock(&self.discovered).insert(name.to_string(), (m.clone(), Instant::now()));
        Ok(m)
    }

    /// The URL of `cluster`'s authorization endpoint to send the browser to, and the flow to seal
    /// in its cookie.
    pub async fn start(
        &self,
        cluster: &ClusterEntry,
        redirect_uri: String,
        now: i64,
    ) -> Result<(String, Flow)> {
        let m = self.metadata(cluster).await?;
        let flow = Flow {
            cluster: cluster.name.clone(),
            verifier: crate::session::random_token(),
            nonce: String::new(),
            state: crate::session::random_token(),
            redirect_uri,
            expires: now + crate::openid::FLOW_SECONDS,
        };
        Ok((authorize_url(&m, &self.client_id, &flow), flow))
    }

    /// Exchanges the callback's `code` (with the PKCE verifier) for the access token at
    /// `cluster`'s token endpoint. Returns the token and its expiry (`expires_in`; none given:
    /// the session's).
    pub async fn finish(
        &self,
        cluster: &ClusterEntry,
        flow: &Flow,
        code: &str,
        now: i64,
    ) -> Result<(String, Option<i64>)> {
        let m = self.metadata(cluster).await?;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &flow.redirect_uri)
            .append_pair("code_verifier", &flow.verifier)
            .append_pair("client_id", &self.client_id)
            .finish();
        let resp = self
            .client(&cluster.name)
            .post(&m.token_endpoint)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                Error::Provider(format!(
                    "the OAuth token endpoint of cluster {}: {e}",
                    cluster.name
                ))
            })?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        token_of(&cluster.name, status.as_u16(), &body, now)
    }
}

/// The authorization request of `flow`.
pub fn authorize_url(m: &Metadata, client_id: &str, flow: &Flow) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &flow.redirect_uri)
        .append_pair("scope", SCOPE)
        .append_pair("state", &flow.state)
        .append_pair("code_challenge", &sha256_b64(&flow.verifier))
        .append_pair("code_challenge_method", "S256")
        .finish();
    let e = &m.authorization_endpoint;
    let sep = if e.contains('?') { '&' } else { '?' };
    format!("{e}{sep}{q}")
}

/// The access token and its expiry from the token endpoint's answer.
pub fn token_of(
    cluster: &str,
    status: u16,
    body: &Value,
    now: i64,
) -> Result<(String, Option<i64>)> {
    if !(200..300).contains(&status) {
        // The server's error code only (its description may echo request data).
        return Err(Error::Unauthorized(format!(
            "the OAuth server of cluster {cluster} refused the code exchange ({status}: {})",
            body["error"].as_str().unwrap_or("no error code")
        )));
    }
    let token = body["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::Unauthorized(format!(
                "the OAuth server of cluster {cluster} answered no access_token"
            ))
        })?;
    if token.len() > crate::auth::MAX_TOKEN_BYTES {
        return Err(Error::Unauthorized(format!(
            "the access token of cluster {cluster} is longer than {} bytes",
            crate::auth::MAX_TOKEN_BYTES
        )));
    }
    let exp = body["expires_in"]
        .as_i64()
        .filter(|s| *s > 0)
        .map(|s| now.saturating_add(s));
    Ok((token.to_string(), exp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta() -> Metadata {
        parse_metadata(
            "west",
            br#"{"issuer": "https://oauth.west", "authorization_endpoint": "https://oauth.west/oauth/authorize",
                 "token_endpoint": "https://oauth.west/oauth/token", "scopes_supported": ["user:full"]}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_authorization_request_is_a_public_clients_with_pkce() {
        let flow = Flow {
            cluster: "west".into(),
            verifier: "v".repeat(43),
            nonce: String::new(),
            state: "s".repeat(43),
            redirect_uri: "https://kiali.east/api/auth/callback/west".into(),
            expires: 10,
        };
        let url = authorize_url(&meta(), "kiali-istio-system", &flow);
        let (base, q) = url.split_once('?').unwrap();
        assert_eq!(base, "https://oauth.west/oauth/authorize");
        let q: BTreeMap<String, String> =
            form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        assert_eq!(q["client_id"], "kiali-istio-system");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["scope"], "user:full");
        assert_eq!(q["redirect_uri"], flow.redirect_uri);
        assert_eq!(q["state"], flow.state);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], sha256_b64(&flow.verifier));
        assert!(
            !url.contains(&flow.verifier),
            "the verifier stays in the cookie"
        );
    }

    #[test]
    fn discovery_documents_are_checked() {
        assert_eq!(meta().token_endpoint, "https://oauth.west/oauth/token");
        for bad in [
            &br#"{"issuer": "x"}"#[..],
            br#"{"issuer": "x", "authorization_endpoint": "/oauth/authorize", "token_endpoint": "https://t"}"#,
            b"<html>",
        ] {
            let e = parse_metadata("west", bad).unwrap_err();
            assert_eq!(e.category(), "login_provider");
            assert!(e.to_string().contains("cluster west"), "{e}");
        }
    }

    #[test]
    fn the_token_answer_gives_the_access_token_and_its_expiry() {
        let ok = json!({"access_token": "sha256~abc", "expires_in": 86400, "token_type": "Bearer"});
        assert_eq!(
            token_of("west", 200, &ok, 100).unwrap(),
            ("sha256~abc".to_string(), Some(86_500))
        );
        assert_eq!(
            token_of("west", 200, &json!({"access_token": "t"}), 100).unwrap(),
            ("t".to_string(), None)
        );
        let e = token_of(
            "west",
            400,
            &json!({"error": "invalid_grant", "error_description": "code=SECRET"}),
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("invalid_grant") && !e.contains("SECRET"), "{e}");
        assert!(token_of("west", 200, &json!({"id_token": "x"}), 0).is_err());
        let long = json!({"access_token": "x".repeat(crate::auth::MAX_TOKEN_BYTES + 1)});
        assert!(token_of("west", 200, &long, 0).is_err());
    }

    #[tokio::test]
    async fn an_unreachable_oauth_server_is_a_login_provider_error() {
        let cfg = OpenShiftConfig::from_value(&json!({"clusters": {"west": {
            "discovery_url": "https://127.0.0.1:1/.well-known/oauth-authorization-server"}}}))
        .unwrap();
        let os = OpenShift::new(cfg, "kiali-istio-system".into(), &Paths::default()).unwrap();
        let west = ClusterEntry::in_memory(
            "west",
            false,
            crate::cache::ClusterCache::from_objects(Default::default()),
        );
        let e = os
            .start(&west, "http://x/api/auth/callback/west".into(), 0)
            .await
            .unwrap_err();
        assert_eq!(e.category(), "login_provider");
        assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
        // Without a discovery URL the cluster's API server is asked; an in-memory one has none.
        let home = ClusterEntry::in_memory(
            "east",
            true,
            crate::cache::ClusterCache::from_objects(Default::default()),
        );
        let e = os.metadata(&home).await.unwrap_err().to_string();
        assert!(e.contains("no connection"), "{e}");
    }
}
