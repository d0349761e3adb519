//! A real OpenID provider for a cluster of the bed: Ory Hydra (built by `make tools`) serving the
//! issuer that cluster's API server trusts ([`crate::OidcIssuer`]), with its login and consent
//! app — the provider's own UI, which Hydra delegates to an app of the deployer's (here: a form
//! checking a fixed user/password table, then accepting the login and the requested scopes through
//! Hydra's admin API). One OAuth2 client per provider: the issuer's `client_id`, a secret, the given
//! redirect URIs, the authorization-code grant (PKCE allowed).
//!
//! [`Provider::login`] goes through the flow as a browser does (authorization request, the login
//! form, consent, the code exchange with a PKCE verifier) and returns the ID token.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Form, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::{Cluster, Error, OidcIssuer, wait_until};

/// The provider's client secret (the same for every test provider; it guards nothing else).
pub const CLIENT_SECRET: &str = "meshglass-test-client-secret";

fn err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::io(
        format!("OpenID provider: {what}"),
        std::io::Error::other(e.to_string()),
    )
}

/// A running provider; dropping it stops Hydra and the login app.
pub struct Provider {
    pub issuer: OidcIssuer,
    /// Hydra's admin API (plain HTTP on loopback).
    pub admin_url: String,
    /// The login and consent app.
    pub login_url: String,
    _hydra: tokio::process::Child,
    _app: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

#[derive(Clone)]
struct App {
    admin: String,
    users: Arc<BTreeMap<String, String>>,
    http: reqwest::Client,
}

fn free_port() -> Result<u16, Error> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::io("a free port", e))
}

impl Provider {
    /// Starts Hydra as the issuer of `cluster`, with `users` (name, password) and a client whose
    /// redirect URIs are `redirect_uris`.
    pub async fn start(
        cluster: &Cluster,
        users: &[(&str, &str)],
        redirect_uris: &[String],
    ) -> Result<Provider, Error> {
        let issuer = cluster.oidc().clone();
        let hydra = crate::tools::hydra()?;
        let dir = tempfile::tempdir().map_err(|e| Error::io("provider dir", e))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::io("login app", e))?;
        let login_url = format!(
            "http://{}",
            listener
                .local_addr()
                .map_err(|e| Error::io("login app", e))?
        );
        let admin_port = free_port()?;
        let admin_url = format!("http://127.0.0.1:{admin_port}");
        let app = App {
            admin: admin_url.clone(),
            users: Arc::new(
                users
                    .iter()
                    .map(|(u, p)| (u.to_string(), p.to_string()))
                    .collect(),
            ),
            http: reqwest::Client::new(),
        };
        let router = axum::Router::new()
            .route("/login", axum::routing::get(login_form).post(login_submit))
            .route("/consent", axum::routing::get(consent))
            .with_state(app);
        let app_task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let config = json!({
            "dsn": "memory",
            "log": {"level": "warn"},
            "serve": {
                "public": {"host": "127.0.0.1", "port": issuer.port, "tls": {
                    "enabled": true,
                    "cert": {"path": issuer.cert_file},
                    "key": {"path": issuer.key_file},
                }},
                "admin": {"host": "127.0.0.1", "port": admin_port, "tls": {"enabled": false}},
            },
            "urls": {
                "self": {"issuer": issuer.url, "public": issuer.url},
                "login": format!("{login_url}/login"),
                "consent": format!("{login_url}/consent"),
            },
            "secrets": {"system": [format!("{}-system-secret-0123456789", issuer.client_id)]},
            "oidc": {"subject_identifiers": {"supported_types": ["public"]}},
        });
        let config_path: PathBuf = dir.path().join("hydra.yaml");
        std::fs::write(
            &config_path,
            serde_yaml_ng::to_string(&config).map_err(|e| err("config", e))?,
        )
        .map_err(|e| Error::io("writing hydra.yaml", e))?;
        let log = std::fs::File::create(dir.path().join("hydra.log"))
            .map_err(|e| Error::io("hydra.log", e))?;
        let child = tokio::process::Command::new(&hydra)
            .args(["serve", "all", "--sqa-opt-out", "--config"])
            .arg(&config_path)
            .stdout(log.try_clone().map_err(|e| Error::io("hydra.log", e))?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", hydra.display()), e))?;
        let http = reqwest::Client::new();
        let ready = format!("{admin_url}/health/ready");
        wait_until("Hydra ready", Duration::from_secs(60), || {
            let (http, ready) = (http.clone(), ready.clone());
            async move {
                let ok = http
                    .get(&ready)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                Ok::<_, String>(ok.then_some(()))
            }
        })
        .await
        .map_err(|e| err("not ready", e))?;
        let resp = http
            .post(format!("{admin_url}/admin/clients"))
            .json(&json!({
                "client_id": issuer.client_id,
                "client_secret": CLIENT_SECRET,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "scope": "openid profile email offline_access",
                "redirect_uris": redirect_uris,
                "token_endpoint_auth_method": "client_secret_basic",
            }))
            .send()
            .await
            .map_err(|e| err("creating the client", e))?;
        if !resp.status().is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(err("creating the client", body));
        }
        Ok(Provider {
            issuer,
            admin_url,
            login_url,
            _hydra: child,
            _app: app_task,
            _dir: dir,
        })
    }

    /// Creates or replaces OAuth2 client `client["client_id"]` (Hydra's client document).
    pub async fn put_client(&self, client: &Value) -> Result<(), Error> {
        let id = client["client_id"].as_str().unwrap_or_default();
        let http = reqwest::Client::new();
        let url = format!("{}/admin/clients/{id}", self.admin_url);
        let exists = http
            .get(&url)
            .send()
            .await
            .map_err(|e| err("reading a client", e))?
            .status()
            .is_success();
        let req = if exists {
            http.put(&url)
        } else {
            http.post(format!("{}/admin/clients", self.admin_url))
        };
        let resp = req
            .json(client)
            .send()
            .await
            .map_err(|e| err("writing a client", e))?;
        if !resp.status().is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(err("writing a client", body));
        }
        Ok(())
    }

    /// Replaces the redirect URIs of the provider's client (a console started on another port).
    pub async fn set_redirect_uris(&self, uris: &[String]) -> Result<(), Error> {
        let resp = reqwest::Client::new()
            .patch(format!(
                "{}/admin/clients/{}",
                self.admin_url, self.issuer.client_id
            ))
            .json(&json!([{"op": "replace", "path": "/redirect_uris", "value": uris}]))
            .send()
            .await
            .map_err(|e| err("updating the client", e))?;
        if !resp.status().is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(err("updating the client", body));
        }
        Ok(())
    }

    /// The browser's flow for `user`: authorization request with PKCE, the login form, consent,
    /// then the code exchange. Returns the token response (`id_token`, `access_token`, …).
    pub async fn login(
        &self,
        user: &str,
        password: &str,
        redirect_uri: &str,
    ) -> Result<Value, Error> {
        let verifier =
            URL_SAFE_NO_PAD.encode(format!("verifier-{user}-0123456789abcdefghijklmnop"));
        let challenge = {
            use sha2::Digest;
            URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
        };
        let query = form(&[
            ("client_id", self.issuer.client_id.as_str()),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("redirect_uri", redirect_uri),
            ("state", "state-0123456789"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]);
        let start = format!("{}/oauth2/auth?{query}", self.issuer.url);
        let mut jar = BTreeMap::new();
        let end = self
            .browse(&mut jar, &start, user, password, |u| {
                u.starts_with(redirect_uri)
            })
            .await?;
        let q = end[redirect_uri.len()..].trim_start_matches('?');
        let pairs: BTreeMap<String, String> =
            form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        let code = pairs
            .get("code")
            .cloned()
            .ok_or_else(|| err("no code in the redirect", q))?;
        let mut b = Browser::new(&self.issuer.ca_pem)?;
        let body = form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", &verifier),
        ]);
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{CLIENT_SECRET}", self.issuer.client_id));
        let r = b
            .send(
                "POST",
                &format!("{}/oauth2/token", self.issuer.url),
                Some(&body),
                Some(&basic),
            )
            .await?;
        if r.status != 200 {
            return Err(err("token exchange", format!("{}: {}", r.status, r.body)));
        }
        serde_json::from_str(&r.body).map_err(|e| err("token response", e))
    }
}

/// A browser going through a console's login: from `start` (its redirect to the provider),
/// through this provider's login form as `user`, back to the console, following every redirect
/// until `done(url)` holds; returns that URL. `jar` holds the cookies before and after (by name:
/// the console and the provider share the host 127.0.0.1, on other ports).
impl Provider {
    pub async fn browse(
        &self,
        jar: &mut BTreeMap<String, String>,
        start: &str,
        user: &str,
        password: &str,
        done: impl Fn(&str) -> bool,
    ) -> Result<String, Error> {
        let mut b = Browser::new(&self.issuer.ca_pem)?;
        b.cookies = std::mem::take(jar);
        let mut url = start.to_string();
        let mut hops = 0;
        let result = loop {
            if done(&url) {
                break Ok(url);
            }
            hops += 1;
            if hops > 20 {
                break Err(err("too many redirects", &url));
            }
            let r = if url.starts_with(&format!("{}/login?", self.login_url)) {
                let challenge = url
                    .split("login_challenge=")
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                let body = form(&[
                    ("challenge", &challenge),
                    ("username", user),
                    ("password", password),
                ]);
                b.send(
                    "POST",
                    &format!("{}/login", self.login_url),
                    Some(&body),
                    None,
                )
                .await?
            } else {
                b.send("GET", &url, None, None).await?
            };
            match r.location {
                Some(l) if r.status / 100 == 3 => url = l,
                _ => {
                    break Err(err(
                        "the flow stopped",
                        format!("{} at {url}: {}", r.status, r.body),
                    ));
                }
            }
        };
        *jar = std::mem::take(&mut b.cookies);
        result
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[derive(Deserialize)]
struct Challenge {
    login_challenge: Option<String>,
    consent_challenge: Option<String>,
}

async fn login_form(Query(q): Query<Challenge>) -> Html<String> {
    let c = q.login_challenge.unwrap_or_default();
    Html(format!(
        "<!doctype html><html><head><title>Test provider login</title></head><body>\
         <h1>Sign in to the test provider</h1>\
         <form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"challenge\" value=\"{}\">\
         <label>User <input id=\"username\" name=\"username\"></label>\
         <label>Password <input id=\"password\" type=\"password\" name=\"password\"></label>\
         <button id=\"submit\" type=\"submit\">Sign in</button></form></body></html>",
        c.replace(['"', '<', '>', '&'], "")
    ))
}

#[derive(Deserialize)]
struct LoginForm {
    challenge: String,
    username: String,
    password: String,
}

async fn login_submit(State(app): State<App>, Form(f): Form<LoginForm>) -> Response {
    if app.users.get(&f.username) != Some(&f.password) {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            Html("wrong user or password".to_string()),
        )
            .into_response();
    }
    accept(
        &app,
        &format!("login/accept?login_challenge={}", f.challenge),
        json!({"subject": f.username, "remember": false}),
    )
    .await
}

async fn consent(State(app): State<App>, Query(q): Query<Challenge>) -> Response {
    let c = q.consent_challenge.unwrap_or_default();
    let req: Value = match app
        .http
        .get(format!(
            "{}/admin/oauth2/auth/requests/consent?consent_challenge={c}",
            app.admin
        ))
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(e) => return (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let subject = req["subject"].as_str().unwrap_or_default();
    accept(
        &app,
        &format!("consent/accept?consent_challenge={c}"),
        json!({
            "grant_scope": req["requested_scope"],
            "grant_access_token_audience": req["requested_access_token_audience"],
            "session": {"id_token": {"email": format!("{subject}@example.com"), "name": subject}},
        }),
    )
    .await
}

/// Accepts a login or consent request through the admin API; redirects where Hydra says.
async fn accept(app: &App, path: &str, body: Value) -> Response {
    let r = app
        .http
        .put(format!("{}/admin/oauth2/auth/requests/{path}", app.admin))
        .json(&body)
        .send()
        .await;
    let v: Value = match r {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(e) => return (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    match v["redirect_to"].as_str() {
        Some(to) => Redirect::to(to).into_response(),
        None => (axum::http::StatusCode::BAD_GATEWAY, v.to_string()).into_response(),
    }
}

/// An HTTP/1.0 client over TLS (the bed's CA) or plain TCP, keeping cookies by host as a browser
/// does (ports share cookies); enough for the provider's flow.
struct Browser {
    tls: tokio_rustls::TlsConnector,
    cookies: BTreeMap<String, String>,
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Browser {
    fn new(ca_pem: &str) -> Result<Browser, Error> {
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots
                .add(c.map_err(|e| err("CA", e))?)
                .map_err(|e| err("CA", e))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| err("TLS", e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Browser {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            cookies: BTreeMap::new(),
        })
    }

    async fn send(
        &mut self,
        method: &str,
        url: &str,
        body: Option<&str>,
        basic: Option<&str>,
    ) -> Result<Answer, Error> {
        let (tls, rest) = match url.strip_prefix("https://") {
            Some(r) => (true, r),
            None => (false, url.strip_prefix("http://").unwrap_or(url)),
        };
        let (hostport, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {hostport}\r\n");
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req.push_str(&format!("Cookie: {}\r\n", c.join("; ")));
        }
        if let Some(b) = basic {
            req.push_str(&format!("Authorization: Basic {b}\r\n"));
        }
        let body = body.unwrap_or_default();
        if method == "POST" {
            req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        req.push_str(body);
        let tcp = tokio::net::TcpStream::connect(hostport)
            .await
            .map_err(|e| Error::io(format!("connecting {hostport}"), e))?;
        let mut raw = Vec::new();
        if tls {
            let name = ServerName::try_from("127.0.0.1").map_err(|e| err("TLS name", e))?;
            let mut s = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| Error::io("TLS", e))?;
            s.write_all(req.as_bytes())
                .await
                .map_err(|e| Error::io("write", e))?;
            // Go closes without close_notify at times: what was read is the answer.
            let _ = s.read_to_end(&mut raw).await;
        } else {
            let mut s = tcp;
            s.write_all(req.as_bytes())
                .await
                .map_err(|e| Error::io("write", e))?;
            s.read_to_end(&mut raw)
                .await
                .map_err(|e| Error::io("read", e))?;
        }
        let text = String::from_utf8_lossy(&raw).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut location = None;
        for l in lines {
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let v = v.trim();
            if k.eq_ignore_ascii_case("set-cookie") {
                let pair = v.split(';').next().unwrap_or_default();
                if let Some((n, val)) = pair.split_once('=') {
                    if v.contains("Max-Age=0") {
                        self.cookies.remove(n);
                    } else {
                        self.cookies.insert(n.to_string(), val.to_string());
                    }
                }
            } else if k.eq_ignore_ascii_case("location") {
                let base = format!("{}://{hostport}", if tls { "https" } else { "http" });
                location = Some(if v.starts_with('/') {
                    format!("{base}{v}")
                } else {
                    v.to_string()
                });
            }
        }
        Ok(Answer {
            status,
            location,
            body: body.to_string(),
        })
    }
}
