//! The distributed metrics store of the test bed: a Thanos sidecar beside each cluster's
//! Prometheus, one Thanos Query over every sidecar, and in front of it an HTTPS bearer-token gate
//! (oauth2-proxy) that admits exactly one Kubernetes ServiceAccount, as OpenShift's
//! thanos-querier does. All built from the Go module proxy by `make tools`
//! (tests/tools/build-tools.sh) into `~/.cache/meshglass/{thanos,oauth2-proxy}-<version>/`.
//!
//! Why oauth2-proxy: it verifies JWTs against a JWKS (the API server's ServiceAccount issuer
//! serves one), restricts the admitted subjects to a list (the `sub` claim of a ServiceAccount
//! token is `system:serviceaccount:<ns>:<name>`), terminates TLS and proxies POST bodies — the
//! three things thanos-querier's kube-rbac-proxy does, and kube-rbac-proxy itself is not served
//! by the Go proxy.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::Error;
use crate::Prometheus;
use crate::bed::new_run_dir;
use crate::process::{Proc, Watchdog};
use crate::tools::{cache_dir, versions};
use crate::wait::poll;

pub(crate) fn binary(tool: &str, version: &str) -> Result<PathBuf, Error> {
    let path = cache_dir().join(format!("{tool}-{version}")).join(tool);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::MissingTool {
            tool: tool.to_string(),
            path,
            hint: "run `make tools` (tests/tools/build-tools.sh builds it from the Go module proxy)",
        })
    }
}

pub(crate) fn free_port() -> Result<u16, Error> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::io("picking a free port", e))
}

pub(crate) async fn wait_http(
    what: &str,
    url: &str,
    proc: &mut Proc,
    ca: Option<&[u8]>,
) -> Result<(), Error> {
    let mut b = reqwest::Client::builder();
    if let Some(pem) = ca {
        let cert = reqwest::Certificate::from_pem(pem)
            .map_err(|e| Error::Prometheus(format!("CA of {what}: {e}")))?;
        b = b.tls_certs_only([cert]);
    }
    let http = b
        .build()
        .map_err(|e| Error::Prometheus(format!("HTTP client: {e}")))?;
    poll(what, Duration::from_secs(90), || {
        let alive = proc.check_running();
        let req = http.get(url).send();
        async move {
            if let Err(e) = alive {
                return Err(e.to_string());
            }
            match req.await {
                Ok(r) if r.status().as_u16() < 500 => Ok(()),
                Ok(r) => Err(format!("HTTP {}", r.status())),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await
}

/// Thanos sidecars and one Thanos Query over them; stopped on drop.
pub struct ThanosQuery {
    url: String,
    dir: PathBuf,
    procs: Vec<Proc>,
    query: Option<Proc>,
    query_args: Vec<String>,
    watchdog: Watchdog,
}

impl ThanosQuery {
    /// Starts a sidecar beside each Prometheus (each must have external labels) and a query over
    /// all of them; returns once the query answers `/-/ready`.
    pub async fn start(proms: &[&Prometheus]) -> Result<Self, Error> {
        let data: Vec<PathBuf> = proms.iter().map(|p| p.dir().join("data")).collect();
        let stores: Vec<(&str, &Path)> = proms
            .iter()
            .zip(&data)
            .map(|(p, d)| (p.url(), d.as_path()))
            .collect();
        Self::start_over(&stores).await
    }

    /// As [`ThanosQuery::start`], beside Prometheus servers started elsewhere: (URL, TSDB
    /// directory) of each (the demo's, on its fixed ports).
    pub async fn start_over(stores: &[(&str, &Path)]) -> Result<Self, Error> {
        let thanos = binary("thanos", &versions().thanos)?;
        let dir = new_run_dir("thanos")?;
        let watchdog = Watchdog::start(&dir)?;
        let mut procs = Vec::new();
        let mut endpoints = Vec::new();
        for (i, (url, tsdb)) in stores.iter().enumerate() {
            let (grpc, http) = (free_port()?, free_port()?);
            let args = vec![
                "sidecar".to_string(),
                format!("--prometheus.url={url}"),
                format!("--tsdb.path={}", tsdb.display()),
                format!("--grpc-address=127.0.0.1:{grpc}"),
                format!("--http-address=127.0.0.1:{http}"),
                "--log.level=warn".to_string(),
            ];
            let mut proc = Proc::spawn(
                &dir,
                &format!("sidecar-{i}"),
                "thanos sidecar",
                &thanos,
                &args,
                Some(&watchdog),
            )?;
            wait_http(
                "thanos sidecar /-/ready",
                &format!("http://127.0.0.1:{http}/-/ready"),
                &mut proc,
                None,
            )
            .await?;
            procs.push(proc);
            endpoints.push(format!("--endpoint=127.0.0.1:{grpc}"));
        }
        let (grpc, http) = (free_port()?, free_port()?);
        let mut query_args = vec![
            "query".to_string(),
            format!("--http-address=127.0.0.1:{http}"),
            format!("--grpc-address=127.0.0.1:{grpc}"),
            "--log.level=warn".to_string(),
        ];
        query_args.extend(endpoints);
        let mut t = ThanosQuery {
            url: format!("http://127.0.0.1:{http}"),
            dir,
            procs,
            query: None,
            query_args,
            watchdog,
        };
        t.start_query().await?;
        Ok(t)
    }

    async fn start_query(&mut self) -> Result<(), Error> {
        let thanos = binary("thanos", &versions().thanos)?;
        let mut q = Proc::spawn(
            &self.dir,
            "query",
            "thanos query",
            &thanos,
            &self.query_args,
            Some(&self.watchdog),
        )?;
        wait_http(
            "thanos query /-/ready",
            &format!("{}/-/ready", self.url),
            &mut q,
            None,
        )
        .await?;
        self.query = Some(q);
        Ok(())
    }

    /// Stops Thanos Query (the sidecars keep running): the "stopped Thanos" fault.
    pub fn stop_query(&mut self) {
        if let Some(mut q) = self.query.take() {
            q.stop(Some(&self.watchdog));
        }
    }

    /// Starts Thanos Query again on the same port.
    pub async fn restart_query(&mut self) -> Result<(), Error> {
        if self.query.is_none() {
            self.start_query().await?;
        }
        Ok(())
    }

    /// `http://127.0.0.1:<port>` of Thanos Query.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ThanosQuery {
    fn drop(&mut self) {
        self.stop_query();
        for p in &mut self.procs {
            p.stop(Some(&self.watchdog));
        }
        self.watchdog.finish();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A CA and a serving certificate for `127.0.0.1` and `localhost`.
struct Serving {
    ca: String,
    cert: String,
    key: String,
}

fn serving(name: &str) -> Result<Serving, Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("meshglass-testbed {name} CA"));
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_pem = ca.self_signed(&ca_key)?.pem();
    let issuer = Issuer::from_params(&ca, &ca_key);
    let key = KeyPair::generate()?;
    let mut p = CertificateParams::new(vec!["localhost".to_string()])?;
    p.subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = p.signed_by(&key, &issuer)?.pem();
    Ok(Serving {
        ca: ca_pem,
        cert,
        key: key.serialize_pem(),
    })
}

/// What the token gate admits and where it checks tokens.
pub struct GateOptions<'a> {
    /// The API server whose ServiceAccount issuer signed the tokens (its URL is the issuer).
    pub issuer_url: &'a str,
    /// That API server's serving CA.
    pub issuer_ca_pem: &'a [u8],
    /// The one subject admitted: `system:serviceaccount:<ns>:<name>`.
    pub subject: &'a str,
    /// Where admitted requests go (Thanos Query).
    pub upstream: &'a str,
}

/// oauth2-proxy over HTTPS admitting only bearer tokens of one ServiceAccount; stopped on drop.
pub struct TokenGate {
    url: String,
    ca_pem: String,
    dir: PathBuf,
    proc: Option<Proc>,
    watchdog: Watchdog,
}

impl TokenGate {
    /// Starts the gate. Tokens are verified against the issuer's JWKS (`/openid/v1/jwks`, which
    /// the API server serves to anonymous callers once `system:service-account-issuer-discovery`
    /// is bound to `system:unauthenticated`), with the issuer URL as audience.
    pub async fn start(o: &GateOptions<'_>) -> Result<Self, Error> {
        let bin = binary("oauth2-proxy", &versions().oauth2_proxy)?;
        let dir = new_run_dir("token-gate")?;
        let watchdog = Watchdog::start(&dir)?;
        let tls = serving("token gate")?;
        let write = |name: &str, text: &str| -> Result<PathBuf, Error> {
            let p = dir.join(name);
            fs::write(&p, text).map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
            Ok(p)
        };
        let cert = write("tls.crt", &tls.cert)?;
        let key = write("tls.key", &tls.key)?;
        let issuer_ca = write("issuer-ca.crt", &String::from_utf8_lossy(o.issuer_ca_pem))?;
        let admitted = write("admitted", &format!("{}\n", o.subject))?;
        let port = free_port()?;
        let issuer = o.issuer_url.trim_end_matches('/');
        let args = vec![
            format!("--https-address=127.0.0.1:{port}"),
            "--http-address=".to_string(),
            format!("--tls-cert-file={}", cert.display()),
            format!("--tls-key-file={}", key.display()),
            format!("--upstream={}/", o.upstream.trim_end_matches('/')),
            "--provider=oidc".to_string(),
            format!("--oidc-issuer-url={issuer}"),
            "--skip-oidc-discovery".to_string(),
            format!("--oidc-jwks-url={issuer}/openid/v1/jwks"),
            "--login-url=https://login.invalid/authorize".to_string(),
            "--redeem-url=https://login.invalid/token".to_string(),
            format!("--provider-ca-file={}", issuer_ca.display()),
            "--client-id=meshglass-metrics".to_string(),
            "--client-secret=not-used-bearer-tokens-only".to_string(),
            format!("--oidc-extra-audience={issuer}"),
            "--oidc-email-claim=sub".to_string(),
            "--insecure-oidc-allow-unverified-email".to_string(),
            "--skip-jwt-bearer-tokens".to_string(),
            // The API server signs ServiceAccount tokens with the key it is given: ES256 on the
            // test bed, RS256 on most clusters.
            "--oidc-enabled-signing-alg=ES256".to_string(),
            "--oidc-enabled-signing-alg=RS256".to_string(),
            format!("--authenticated-emails-file={}", admitted.display()),
            "--cookie-secret=0123456789abcdef0123456789abcdef".to_string(),
            "--api-route=/".to_string(),
            "--skip-provider-button".to_string(),
            "--silence-ping-logging".to_string(),
            "--ping-path=/ping".to_string(),
        ];
        let mut proc = Proc::spawn(
            &dir,
            "oauth2-proxy",
            "oauth2-proxy",
            &bin,
            &args,
            Some(&watchdog),
        )?;
        let url = format!("https://127.0.0.1:{port}");
        wait_http(
            "oauth2-proxy /ping",
            &format!("{url}/ping"),
            &mut proc,
            Some(tls.ca.as_bytes()),
        )
        .await?;
        Ok(TokenGate {
            url,
            ca_pem: tls.ca,
            dir,
            proc: Some(proc),
            watchdog,
        })
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA that signed the gate's serving certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Directory of the gate's files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TokenGate {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop(Some(&self.watchdog));
        }
        self.watchdog.finish();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
