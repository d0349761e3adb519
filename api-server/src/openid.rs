//! The `openid` strategy: OpenID Connect's authorization-code flow with PKCE, one login per
//! cluster.
//!
//! As Kiali: `GET /api/auth/openid_redirect` sends the browser to the provider's authorization
//! endpoint (discovered from `<issuer_uri>/.well-known/openid-configuration` unless
//! `authorization_endpoint` is set) with `client_id`, `scopes`, a nonce (its SHA-256, the nonce
//! itself staying in the browser's cookie `kiali-token-openid-nonce`), a state and
//! `additional_request_params`; the ID token is the user's credential towards the cluster's API
//! server, which must accept it (a TokenReview on that cluster at login and, cached, on use);
//! what the user sees there is then asked of that cluster with SubjectAccessReview.
//! BEYOND Kiali: PKCE (S256), `?cluster=<name>` to log in to one cluster with that cluster's
//! provider (`auth.openid.clusters.<name>`), and the callback `/api/auth/callback/<cluster>`
//! (Kiali's multi-cluster callback path) instead of the web root. A cluster the user has not
//! logged in to shows none of its namespaces until they do.
//!
//! The flow's secrets (PKCE verifier, nonce, state, cluster) travel sealed in that one cookie
//! (HttpOnly, Secure, SameSite=Lax so the provider's redirect brings it back, five minutes);
//! nothing is kept on the server. The ID token's claims are checked here (`iss`, `aud`, `exp`,
//! `nonce`, `allowed_domains`); its signature is checked by the cluster's API server, which is
//! the party that must trust it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use meshglass_crds::openid::{CLIENT_SECRET_KEY, OpenIdConfig, OpenIdProvider};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::upstream::Paths;

/// The cookie carrying the sealed flow (Kiali's name for its nonce cookie).
pub const FLOW_COOKIE: &str = "kiali-token-openid-nonce";
/// How long a login at the provider may take.
pub const FLOW_SECONDS: i64 = 300;
/// What the flow cookie is sealed for.
const FLOW_PURPOSE: &[u8] = b"meshglass openid flow v1";
/// How long discovered provider metadata is reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(300);

/// A login under way: what the callback checks.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub cluster: String,
    pub verifier: String,
    pub nonce: String,
    pub state: String,
    pub redirect_uri: String,
    pub expires: i64,
}

#[derive(Deserialize, Clone, Debug)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
}

/// The providers, their HTTP clients and discovered metadata.
pub struct OpenId {
    pub config: OpenIdConfig,
    secret_dir: PathBuf,
    http: reqwest::Client,
    insecure: reqwest::Client,
    discovered: Mutex<BTreeMap<String, (Metadata, Instant)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn random() -> String {
    crate::session::random_token()
}

fn sha256_b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(s.as_bytes()))
}

/// The claims of a JWT, unverified (the API server verifies the signature).
pub fn claims(jwt: &str) -> Result<serde_json::Map<String, Value>> {
    let bad = |why: &str| Error::Unauthorized(format!("the provider's id_token {why}"));
    let payload = jwt.split('.').nth(1).ok_or_else(|| bad("is not a JWT"))?;
    let raw = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| bad("is not base64url"))?;
    match serde_json::from_slice(&raw) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad("has no JSON claims")),
    }
}

/// The checks Kiali makes of the ID token's claims: issuer, audience, expiry, nonce, allowed
/// domains. Returns the user name (`username_claim`) and the expiry.
pub fn check_claims(
    p: &OpenIdProvider,
    c: &serde_json::Map<String, Value>,
    nonce: &str,
    now: i64,
) -> Result<(String, i64)> {
    let refuse = |why: String| Error::Unauthorized(format!("the id_token was rejected: {why}"));
    let iss = c.get("iss").and_then(Value::as_str).unwrap_or_default();
    if iss.trim_end_matches('/') != p.issuer_uri.trim().trim_end_matches('/') {
        return Err(refuse(format!(
            "issuer {iss:?} is not auth.openid.issuer_uri {:?}",
            p.issuer_uri
        )));
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => *a == p.client_id,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(p.client_id.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(refuse(format!(
            "its audience is not the client {:?}",
            p.client_id
        )));
    }
    let exp = c.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if exp <= now {
        return Err(refuse("it has expired".into()));
    }
    if c.get("nonce").and_then(Value::as_str) != Some(sha256_b64(nonce).as_str()) {
        return Err(refuse("nonce mismatch (replayed?)".into()));
    }
    if !p.allowed_domains.is_empty() {
        let domain = c
            .get("hd")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                c.get("email")
                    .and_then(Value::as_str)
                    .and_then(|e| e.rsplit_once('@'))
                    .map(|(_, d)| d.to_string())
            })
            .unwrap_or_default();
        if !p
            .allowed_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&domain))
        {
            return Err(refuse(format!(
                "domain {domain:?} is not in auth.openid.allowed_domains"
            )));
        }
    }
    let name = c
        .get(&p.username_claim)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            refuse(format!(
                "it has no {:?} claim (auth.openid.username_claim)",
                p.username_claim
            ))
        })?;
    Ok((name.to_string(), exp))
}

impl OpenId {
    /// The providers of `config` (`auth.openid`), trusting the CA bundle of `paths`.
    pub fn new(config: OpenIdConfig, paths: &Paths) -> Result<OpenId> {
        let build = |insecure: bool| {
            crate::upstream::http_client(&crate::upstream::ClientOptions {
                service: "auth.openid",
                ca_file: "",
                insecure,
                timeout: Duration::from_secs(10),
                follow_redirects: false,
                headers: Default::default(),
                paths,
            })
        };
        Ok(OpenId {
            config,
            secret_dir: paths.client_secret_dir.clone(),
            http: build(false)?,
            insecure: build(true)?,
            discovered: Mutex::new(BTreeMap::new()),
        })
    }

    fn client(&self, p: &OpenIdProvider) -> &reqwest::Client {
        if p.insecure_skip_verify_tls {
            &self.insecure
        } else {
            &self.http
        }
    }

    /// `<issuer_uri>/.well-known/openid-configuration`, cached.
    async fn metadata(&self, p: &OpenIdProvider) -> Result<Metadata> {
        let issuer = p.issuer_uri.trim().trim_end_matches('/').to_string();
        if let Some((m, at)) = lock(&self.discovered).get(&issuer)
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(m.clone());
        }
        let url = format!("{issuer}/.well-known/openid-configuration");
        let fail = |why: String| {
            Error::Provider(format!(
                "OpenID provider {issuer} (auth.openid.issuer_uri): {why}"
            ))
        };
        let resp = self
            .client(p)
            .get(&url)
            .send()
            .await
            .map_err(|e| fail(format!("discovery failed: {e}")))?;
        if !resp.status().is_success() {
            return Err(fail(format!("discovery answered {}", resp.status())));
        }
        let m: Metadata = resp
            .json()
            .await
            .map_err(|e| fail(format!("discovery document: {e}")))?;
        if m.issuer.trim_end_matches('/') != issuer {
            return Err(fail(format!(
                "the discovery document names issuer {:?}",
                m.issuer
            )));
        }
        lock(&self.discovered).insert(issuer, (m.clone(), Instant::now()));
        Ok(m)
    }

    /// The provider's URL to send the browser to, and the flow to seal in its cookie.
    pub async fn start(
        &self,
        cluster: &str,
        redirect_uri: String,
        now: i64,
    ) -> Result<(String, Flow)> {
        let p = self.config.provider(cluster);
        let endpoint = if p.authorization_endpoint.trim().is_empty() {
            self.metadata(p).await?.authorization_endpoint
        } else {
            p.authorization_endpoint.trim().to_string()
        };
        let flow = Flow {
            cluster: cluster.to_string(),
            verifier: random(),
            nonce: random(),
            state: random(),
            redirect_uri,
            expires: now + FLOW_SECONDS,
        };
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", &p.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &flow.redirect_uri)
            .append_pair("scope", &p.scopes.join(" "))
            .append_pair("nonce", &sha256_b64(&flow.nonce))
            .append_pair("state", &flow.state)
            .append_pair("code_challenge", &sha256_b64(&flow.verifier))
            .append_pair("code_challenge_method", "S256");
        for (k, v) in &p.additional_request_params {
            q.append_pair(k, v);
        }
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        Ok((format!("{endpoint}{sep}{}", q.finish()), flow))
    }

    /// The client secret of `cluster`'s provider: `oidc-secret-<cluster>`, else `oidc-secret`
    /// (read at each login, so a rotated Secret applies at once); none for a public client.
    fn client_secret(&self, cluster: &str) -> Option<String> {
        [
            format!("{CLIENT_SECRET_KEY}-{cluster}"),
            CLIENT_SECRET_KEY.to_string(),
        ]
        .iter()
        .find_map(|f| std::fs::read_to_string(self.secret_dir.join(f)).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
    }

    /// Exchanges the callback's `code` (with the PKCE verifier) for the ID token and checks its
    /// claims. Returns the ID token, the user name and the token's expiry.
    pub async fn finish(&self, flow: &Flow, code: &str, now: i64) -> Result<(String, String, i64)> {
        let p = self.config.provider(&flow.cluster);
        let m = self.metadata(p).await?;
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("redirect_uri", flow.redirect_uri.clone()),
            ("code_verifier", flow.verifier.clone()),
        ];
        let mut req = self.client(p).post(&m.token_endpoint);
        match self.client_secret(&flow.cluster) {
            Some(secret) => req = req.basic_auth(&p.client_id, Some(secret)),
            None => form.push(("client_id", p.client_id.clone())),
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let resp = req
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| Error::Provider(format!("OpenID token endpoint: {e}")))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            // The provider's error code only (its description may echo request data).
            return Err(Error::Unauthorized(format!(
                "the provider refused the code exchange ({status}: {})",
                body["error"].as_str().unwrap_or("no error code")
            )));
        }
        let id_token = body["id_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::Unauthorized("the provider's token response has no id_token (is \"openid\" in auth.openid.scopes?)".into())
            })?
            .to_string();
        let (name, exp) = check_claims(p, &claims(&id_token)?, &flow.nonce, now)?;
        Ok((id_token, name, exp))
    }

    /// The flow of the browser's cookie, checked against the callback's cluster and state.
    pub fn open_flow(
        sealer: &crate::session::Sealer,
        text: Option<&String>,
        cluster: &str,
        state: &str,
        now: i64,
    ) -> Result<Flow> {
        let text = text.ok_or_else(|| {
            Error::Unauthorized(
                "no login is under way in this browser (or it took longer than five minutes); log in again"
                    .into(),
            )
        })?;
        let flow: Flow = sealer.open_json(FLOW_PURPOSE, text)?;
        if flow.expires <= now {
            return Err(Error::Unauthorized(
                "the login took longer than five minutes; log in again".into(),
            ));
        }
        if flow.cluster != cluster || !crate::session::same_token(&flow.state, state) {
            return Err(Error::Forbidden(
                "the callback's state does not match this browser's login (CSRF mitigation)".into(),
            ));
        }
        Ok(flow)
    }

    /// The flow as its cookie's text.
    pub fn seal_flow(sealer: &crate::session::Sealer, flow: &Flow) -> Result<String> {
        sealer.seal_json(FLOW_PURPOSE, flow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwt(c: Value) -> String {
        format!(
            "e30.{}.sig",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap())
        )
    }

    fn provider() -> OpenIdProvider {
        OpenIdProvider {
            client_id: "kiali".into(),
            issuer_uri: "https://idp".into(),
            ..Default::default()
        }
    }

    #[test]
    fn claims_are_checked_as_kiali_does() {
        let nonce = "n0nce";
        let good = json!({"iss": "https://idp", "aud": ["kiali"], "exp": 100, "sub": "alice",
                          "email": "alice@example.com", "nonce": sha256_b64(nonce)});
        let c = claims(&jwt(good.clone())).unwrap();
        assert_eq!(
            check_claims(&provider(), &c, nonce, 10).unwrap(),
            ("alice".into(), 100)
        );
        let mut by_mail = provider();
        by_mail.username_claim = "email".into();
        assert_eq!(
            check_claims(&by_mail, &c, nonce, 10).unwrap().0,
            "alice@example.com"
        );
        let mut domains = provider();
        domains.allowed_domains = vec!["example.org".into()];
        let e = check_claims(&domains, &c, nonce, 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("allowed_domains"), "{e}");
        domains.allowed_domains = vec!["EXAMPLE.com".into()];
        assert!(check_claims(&domains, &c, nonce, 10).is_ok());
        for (k, v, why) in [
            ("iss", json!("https://other"), "issuer"),
            ("aud", json!("someone-else"), "audience"),
            ("exp", json!(5), "expired"),
            ("nonce", json!("x"), "nonce"),
        ] {
            let mut bad = good.clone();
            bad[k] = v;
            let e = check_claims(&provider(), &claims(&jwt(bad)).unwrap(), nonce, 10)
                .unwrap_err()
                .to_string();
            assert!(e.contains(why), "{k}: {e}");
        }
        assert!(claims("not-a-jwt").is_err());
        assert!(claims("a.!!!.c").is_err());
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_a_login_provider_error() {
        let config = OpenIdConfig {
            default: OpenIdProvider {
                issuer_uri: "https://127.0.0.1:1".into(),
                ..provider()
            },
            clusters: BTreeMap::new(),
        };
        let oidc = OpenId::new(config, &crate::upstream::Paths::default()).unwrap();
        let e = oidc
            .start("east", "http://x/cb".into(), 0)
            .await
            .unwrap_err();
        assert_eq!(e.category(), "login_provider");
        assert_eq!(e.status(), axum::http::StatusCode::BAD_GATEWAY);
        assert!(e.to_string().contains("https://127.0.0.1:1"), "{e}");
    }

    #[test]
    fn the_flow_opens_for_its_cluster_and_state_only() {
        let sealer = crate::session::Sealer::new("0123456789abcdef-key").unwrap();
        let flow = Flow {
            cluster: "west".into(),
            verifier: "v".into(),
            nonce: "n".into(),
            state: "s".repeat(20),
            redirect_uri: "http://x/api/auth/callback/west".into(),
            expires: 100,
        };
        let text = OpenId::seal_flow(&sealer, &flow).unwrap();
        let st = "s".repeat(20);
        assert_eq!(
            OpenId::open_flow(&sealer, Some(&text), "west", &st, 10).unwrap(),
            flow
        );
        assert!(OpenId::open_flow(&sealer, Some(&text), "east", &st, 10).is_err());
        assert!(OpenId::open_flow(&sealer, Some(&text), "west", "other", 10).is_err());
        assert!(OpenId::open_flow(&sealer, Some(&text), "west", &st, 100).is_err());
        assert!(OpenId::open_flow(&sealer, None, "west", &st, 10).is_err());
        // A session cookie's text is not a flow (another purpose).
        let other = crate::session::Sealer::new("0123456789abcdef-other").unwrap();
        assert!(OpenId::open_flow(&other, Some(&text), "west", &st, 10).is_err());
    }
}
