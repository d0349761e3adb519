//! The HTTP client of every external service the server reads: Prometheus today, the tracing and
//! other metrics backends later. It owns what they share in Kiali's configuration — HTTPS with the
//! platform's roots plus the CA bundle the operator mounts, `insecure_skip_verify`, `auth`
//! (none | basic | bearer, inline or `secret:<name>:<key>`, `use_kiali_token`), `custom_headers` —
//! and answers with bounded, streamed bodies and failures that name what went wrong without
//! quoting a URL's credentials, a token or the upstream's body.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, Once};
use std::time::{Duration, SystemTime};

use meshglass_crds::config::PrometheusAuth;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use crate::error::{Error, Result};

pub mod failure;
pub mod reachability;
pub use failure::{Failure, FailureKind};
pub use reachability::Reachability;

/// Where the pod's files are; tests point them at a temporary directory.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `secret:<name>:<key>` values are read from `<dir>/<service>-<field>/value.txt` (Kiali's
    /// `/kiali-override-secrets`, where the operator mounts the referenced Secret's key).
    pub override_secrets_dir: PathBuf,
    /// Extra CA certificates (`*.pem`, `*.crt`): ConfigMap `<instance>-cabundle`, mounted by the
    /// operator when it exists.
    pub ca_bundle_dir: PathBuf,
    /// The server's own ServiceAccount token (`use_kiali_token`), rotated by the kubelet.
    pub service_account_token: PathBuf,
    /// Secret `<instance>` (key `oidc-secret`: the OpenID client secret), as Kiali mounts it.
    pub client_secret_dir: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            override_secrets_dir: meshglass_crds::config::OVERRIDE_SECRETS_DIR.into(),
            ca_bundle_dir: meshglass_crds::config::CA_BUNDLE_DIR.into(),
            service_account_token: meshglass_crds::config::SERVICE_ACCOUNT_TOKEN.into(),
            client_secret_dir: meshglass_crds::openid::CLIENT_SECRET_DIR.into(),
        }
    }
}

/// A credential value: inline, or a file read again whenever it changes (a mounted Secret, the
/// kubelet-rotated ServiceAccount token).
#[derive(Debug)]
enum Secret {
    Inline(String),
    File {
        path: PathBuf,
        /// What the file said at its last modification time.
        cache: Mutex<Option<(SystemTime, String)>>,
        /// For messages: which setting this is (never the value).
        what: String,
    },
}

impl Secret {
    fn file(path: PathBuf, what: String) -> Self {
        Secret::File {
            path,
            cache: Mutex::new(None),
            what,
        }
    }

    fn value(&self) -> std::result::Result<String, String> {
        match self {
            Secret::Inline(v) => Ok(v.clone()),
            Secret::File { path, cache, what } => {
                let missing = || format!("{what} is not readable from {}", path.display());
                let modified = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .map_err(|_| missing())?;
                let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((at, v)) = c.as_ref()
                    && *at == modified
                {
                    return Ok(v.clone());
                }
                let v = std::fs::read_to_string(path).map_err(|_| missing())?;
                let v = v.trim().to_string();
                *c = Some((modified, v.clone()));
                Ok(v)
            }
        }
    }
}

/// `auth` resolved to what is sent.
#[derive(Debug)]
enum Credentials {
    None,
    Basic { username: Secret, password: Secret },
    Bearer(Secret),
}

/// A `secret:<name>:<key>` reference (Kiali's notation), else `None`.
pub fn secret_reference(value: &str) -> Option<(&str, &str)> {
    let rest = value.strip_prefix("secret:")?;
    let (name, key) = rest.split_once(':')?;
    (!name.is_empty() && !key.is_empty()).then_some((name, key))
}

fn credential(service: &str, field: &str, value: &str, paths: &Paths) -> Secret {
    if secret_reference(value).is_some() {
        let path = paths
            .override_secrets_dir
            .join(format!("{service}-{field}"))
            .join("value.txt");
        Secret::file(path, format!("{service} auth.{field}"))
    } else {
        Secret::Inline(value.to_string())
    }
}

impl Credentials {
    fn resolve(
        service: &'static str,
        auth: &PrometheusAuth,
        url_user: Option<(String, String)>,
        paths: &Paths,
    ) -> Result<Self> {
        let kind = auth.auth_type.trim().to_ascii_lowercase();
        match kind.as_str() {
            "" | "none" => Ok(match url_user {
                Some((u, p)) => Credentials::Basic {
                    username: Secret::Inline(u),
                    password: Secret::Inline(p),
                },
                None => Credentials::None,
            }),
            "basic" => Ok(Credentials::Basic {
                username: credential(service, "username", &auth.username, paths),
                password: credential(service, "password", &auth.password, paths),
            }),
            "bearer" if auth.use_kiali_token => Ok(Credentials::Bearer(Secret::file(
                paths.service_account_token.clone(),
                "the server's ServiceAccount token (use_kiali_token)".into(),
            ))),
            "bearer" => Ok(Credentials::Bearer(credential(
                service,
                "token",
                &auth.token,
                paths,
            ))),
            other => Err(Error::Config(format!(
                "external_services.{service}.auth.type {other:?} is not valid: allowed none, basic, bearer"
            ))),
        }
    }

    /// Adds the Authorization header (marked sensitive, so it never shows in debug output).
    fn apply(
        &self,
        req: reqwest::RequestBuilder,
    ) -> std::result::Result<reqwest::RequestBuilder, String> {
        Ok(match self {
            Credentials::None => req,
            Credentials::Basic { username, password } => {
                req.basic_auth(username.value()?, Some(password.value()?))
            }
            Credentials::Bearer(token) => {
                let mut h = HeaderValue::from_str(&format!("Bearer {}", token.value()?))
                    .map_err(|_| "the token holds characters a header cannot carry".to_string())?;
                h.set_sensitive(true);
                req.header(AUTHORIZATION, h)
            }
        })
    }
}

/// How to reach one upstream.
#[derive(Debug, Clone)]
pub struct Settings<'a> {
    /// Name in messages and metrics: `prometheus`, `tracing`, ...
    pub service: &'static str,
    pub url: &'a str,
    pub auth: &'a PrometheusAuth,
    pub custom_headers: &'a BTreeMap<String, String>,
    pub timeout: Duration,
    /// Largest body read; a longer answer is a `too_large` failure.
    pub max_body: usize,
    /// Follow redirects (queries), or take one as a failure (reachability probes).
    pub follow_redirects: bool,
    pub paths: &'a Paths,
}

/// An HTTP client for one upstream.
pub struct Client {
    service: &'static str,
    /// The base URL without credentials (what status pages and logs may show).
    base: reqwest::Url,
    http: reqwest::Client,
    credentials: Credentials,
    timeout: Duration,
    max_body: usize,
}

/// An answer with a success status, its body read in full (within the cap).
pub struct Answer {
    pub content_type: String,
    pub body: Vec<u8>,
}

static CRYPTO: Once = Once::new();

/// rustls needs one process-wide crypto provider; kube already brings ring.
pub(crate) fn install_crypto_provider() {
    CRYPTO.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Every certificate of the CA bundle directory and `auth.ca_file`; unreadable files are logged
/// and skipped (the TLS failure then names the unknown authority).
pub(crate) fn extra_roots(
    service: &str,
    ca_file: &str,
    paths: &Paths,
) -> Vec<reqwest::Certificate> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&paths.ca_bundle_dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "pem" || x == "crt"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    if !ca_file.trim().is_empty() {
        files.push(PathBuf::from(ca_file.trim()));
    }
    let mut out = Vec::new();
    for f in files {
        match std::fs::read(&f).map(|pem| reqwest::Certificate::from_pem_bundle(&pem)) {
            Ok(Ok(certs)) => {
                tracing::info!(service, file = %f.display(), count = certs.len(), "extra CA certificates loaded");
                out.extend(certs);
            }
            _ => {
                tracing::warn!(service, file = %f.display(), "CA file is not readable PEM; skipped")
            }
        }
    }
    out
}

/// What an HTTP client towards an external service (metrics store, OpenID provider) is made of.
pub(crate) struct ClientOptions<'a> {
    /// Name in messages and logs.
    pub service: &'a str,
    /// A CA file trusted besides the platform's roots and the CA bundle directory.
    pub ca_file: &'a str,
    /// Accept any certificate (`insecure_skip_verify`); the caller warns when it is asked for.
    pub insecure: bool,
    /// Bound on the whole exchange (connecting: at most 5 s of it).
    pub timeout: Duration,
    /// Follow redirects (reqwest's default policy), or hand them to the caller.
    pub follow_redirects: bool,
    /// Sent with every request.
    pub headers: HeaderMap,
    pub paths: &'a Paths,
}

/// The one builder of the server's outbound HTTP clients: the platform's roots plus the CA
/// bundle (and `ca_file`), the insecure flag, timeouts and redirect policy.
pub(crate) fn http_client(o: &ClientOptions<'_>) -> Result<reqwest::Client> {
    install_crypto_provider();
    let redirect = if o.follow_redirects {
        reqwest::redirect::Policy::default()
    } else {
        reqwest::redirect::Policy::none()
    };
    reqwest::Client::builder()
        .timeout(o.timeout)
        .connect_timeout(o.timeout.min(Duration::from_secs(5)))
        .redirect(redirect)
        .default_headers(o.headers.clone())
        .tls_certs_merge(extra_roots(o.service, o.ca_file, o.paths))
        .tls_danger_accept_invalid_certs(o.insecure)
        .build()
        .map_err(|e| Error::Config(format!("cannot build the {} HTTP client: {e}", o.service)))
}

fn headers(service: &str, custom: &BTreeMap<String, String>) -> Result<HeaderMap> {
    let mut h = HeaderMap::new();
    for (k, v) in custom {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
            Error::Config(format!(
                "external_services.{service}.custom_headers: {k:?} is not a valid header name"
            ))
        })?;
        let mut value = HeaderValue::from_str(v).map_err(|_| {
            Error::Config(format!(
                "external_services.{service}.custom_headers.{k}: the value is not a valid header value"
            ))
        })?;
        value.set_sensitive(true);
        h.insert(name, value);
    }
    Ok(h)
}

impl Client {
    /// Builds the client; configuration errors name the field and what would be valid.
    pub fn new(s: &Settings<'_>) -> Result<Self> {
        install_crypto_provider();
        let service = s.service;
        let mut url = reqwest::Url::parse(s.url.trim()).map_err(|e| {
            Error::Config(format!(
                "external_services.{service}.url is not a URL ({e}): expected http(s)://host[:port][/path]"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "external_services.{service}.url must be http or https, not {}",
                url.scheme()
            )));
        }
        // Credentials in the URL are used as basic auth and never shown.
        let url_user = (!url.username().is_empty()).then(|| {
            (
                percent_decode(url.username()),
                percent_decode(url.password().unwrap_or_default()),
            )
        });
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let credentials = Credentials::resolve(service, s.auth, url_user, s.paths)?;
        if s.auth.insecure_skip_verify {
            tracing::warn!(
                service,
                "TLS verification is off (auth.insecure_skip_verify)"
            );
        }
        let http = http_client(&ClientOptions {
            service,
            ca_file: &s.auth.ca_file,
            insecure: s.auth.insecure_skip_verify,
            timeout: s.timeout,
            follow_redirects: s.follow_redirects,
            headers: headers(service, s.custom_headers)?,
            paths: s.paths,
        })?;
        let path = url.path().trim_end_matches('/').to_string();
        url.set_path(&path);
        Ok(Client {
            service,
            base: url,
            http,
            credentials,
            timeout: s.timeout,
            max_body: s.max_body,
        })
    }

    /// The base URL, without credentials.
    pub fn url(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_string()
    }

    fn fail(&self, kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            service: self.service,
            kind,
            message: message.into(),
        }
    }

    /// `base + path` (path starts with `/`), or an absolute URL as given.
    fn target(&self, path: &str) -> std::result::Result<reqwest::Url, Failure> {
        if path.starts_with("http://") || path.starts_with("https://") {
            return reqwest::Url::parse(path).map_err(|_| {
                self.fail(FailureKind::Rejected, "the health check URL is not valid")
            });
        }
        let mut u = self.base.clone();
        u.set_path(&format!("{}{path}", self.base.path().trim_end_matches('/')));
        Ok(u)
    }

    /// POSTs a form (Prometheus' API accepts every query as a form, so a long namespace list never
    /// meets a URL length limit) and returns the body of a success.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, String)],
    ) -> std::result::Result<Answer, Failure> {
        let url = self.target(path)?;
        let body = form_encode(form);
        let req = self
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.clone());
        match self.send(req).await {
            // A proxy that allows only GET: the same form as a query string.
            Err(f) if f.kind == FailureKind::Rejected && f.message.starts_with("HTTP 405") => {
                let mut u = url;
                u.set_query(Some(&body));
                self.send(self.http.get(u)).await
            }
            other => other,
        }
    }

    /// GETs `path` with the query parameters `query` and returns the body of a success.
    pub async fn get_with(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> std::result::Result<Answer, Failure> {
        let mut url = self.target(path)?;
        url.set_query(Some(&form_encode(query)));
        self.send(self.http.get(url)).await
    }

    /// GETs `path` (or an absolute URL) and returns the body of a success.
    pub async fn get(&self, path: &str) -> std::result::Result<Answer, Failure> {
        let url = self.target(path)?;
        self.send(self.http.get(url)).await
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> std::result::Result<Answer, Failure> {
        let req = self
            .credentials
            .apply(req)
            .map_err(|m| self.fail(FailureKind::Credentials, m))?;
        // The client's timeout covers the whole exchange; this one also bounds a body that
        // trickles in forever.
        match tokio::time::timeout(
            self.timeout + Duration::from_millis(250),
            self.exchange(req),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(self.timed_out()),
        }
    }

    fn timed_out(&self) -> Failure {
        self.fail(
            FailureKind::Timeout,
            format!("no complete answer within {:?}", self.timeout),
        )
    }

    async fn exchange(&self, req: reqwest::RequestBuilder) -> std::result::Result<Answer, Failure> {
        let mut resp = req.send().await.map_err(|e| self.classify(&e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(self.status_failure(status, resp).await);
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if let Some(len) = resp.content_length()
            && len > self.max_body as u64
        {
            return Err(self.too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(&e))? {
            if body.len() + chunk.len() > self.max_body {
                return Err(self.too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { content_type, body })
    }

    fn too_large(&self) -> Failure {
        self.fail(
            FailureKind::TooLarge,
            format!("the answer exceeds {} MiB", self.max_body >> 20),
        )
    }

    /// A non-success status, named; of the body only a Prometheus `errorType` (one of a fixed
    /// set) is kept, read from the first 4 KiB.
    async fn status_failure(
        &self,
        status: reqwest::StatusCode,
        mut resp: reqwest::Response,
    ) -> Failure {
        let code = status.as_u16();
        match code {
            401 => self.fail(
                FailureKind::Unauthorized,
                "HTTP 401: the credentials were refused",
            ),
            403 => self.fail(
                FailureKind::Forbidden,
                format!("HTTP 403: the credentials may not read {}", self.service),
            ),
            500..=599 => self.fail(
                FailureKind::ServerError,
                format!("HTTP {code} from the server"),
            ),
            _ => {
                let mut head = Vec::new();
                while head.len() < 4096 {
                    match resp.chunk().await {
                        Ok(Some(c)) => head.extend_from_slice(&c[..c.len().min(4096 - head.len())]),
                        _ => break,
                    }
                }
                let kind = prometheus_error_type(&head)
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default();
                self.fail(
                    FailureKind::Rejected,
                    format!("HTTP {code}: the query was rejected{kind}"),
                )
            }
        }
    }

    /// Names a transport failure. TLS failures are found in the error's sources.
    fn classify(&self, e: &reqwest::Error) -> Failure {
        if e.is_timeout() {
            return self.timed_out();
        }
        if let Some(kind) = tls_kind(e) {
            let message = match kind {
                FailureKind::TlsUnknownAuthority => {
                    "TLS: the server's certificate is signed by an unknown authority (add its CA to the cabundle ConfigMap or auth.ca_file)"
                }
                FailureKind::TlsNameMismatch => {
                    "TLS: the server's certificate does not name the host of the URL"
                }
                _ => "TLS: the handshake failed",
            };
            return self.fail(kind, message);
        }
        if e.is_connect() {
            return self.fail(FailureKind::Unreachable, "cannot connect to the server");
        }
        if e.is_body() || e.is_decode() {
            return self.fail(
                FailureKind::Unreachable,
                "the connection broke while reading the answer",
            );
        }
        self.fail(
            FailureKind::Unreachable,
            "the request failed before an answer",
        )
    }
}

/// The rustls error an error is, or wraps through `io::Error`s — hyper wraps rustls' error in an
/// `io::Error` inside another, and `io::Error::source` skips the error it wraps.
fn rustls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = err;
    loop {
        if let Some(t) = cur.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        cur = cur.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

/// The TLS failure in an error's source chain, if any.
pub(crate) fn tls_kind(e: &(dyn std::error::Error + 'static)) -> Option<FailureKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let tls = rustls_error(err);
        if let Some(t) = tls {
            use rustls::CertificateError as C;
            return Some(match t {
                rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
                    FailureKind::TlsUnknownAuthority
                }
                rustls::Error::InvalidCertificate(
                    C::NotValidForName | C::NotValidForNameContext { .. },
                ) => FailureKind::TlsNameMismatch,
                _ => FailureKind::Tls,
            });
        }
        cur = err.source();
    }
    None
}

/// Prometheus' `errorType` of an error body, only when it is one Prometheus defines.
fn prometheus_error_type(body: &[u8]) -> Option<&'static str> {
    #[derive(serde::Deserialize)]
    struct E {
        #[serde(rename = "errorType")]
        error_type: String,
    }
    let e: E = serde_json::from_slice(body).ok()?;
    [
        "bad_data",
        "timeout",
        "canceled",
        "execution",
        "internal",
        "unavailable",
        "not_found",
    ]
    .into_iter()
    .find(|t| *t == e.error_type)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_encode(form: &[(&str, String)]) -> String {
    let mut s = reqwest::Url::parse("http://x/").expect("static URL");
    s.query_pairs_mut()
        .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())));
    s.query().unwrap_or_default().to_string()
}

/// A URL with any credentials removed, for display (`/api/status`, the mesh page, logs): no
/// user or password, and no query or fragment (where API keys are put, e.g. `?api_key=`).
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url.trim()) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.as_str().trim_end_matches('/').to_string()
        }
        Err(_) => "(invalid URL)".to_string(),
    }
}
