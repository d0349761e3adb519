//! An OAuth proxy in front of the console, as a deployer puts one there for Kiali's `header`
//! strategy: oauth2-proxy v7 (the build `make tools` caches for the Thanos gate), logging users in
//! against a cluster's OpenID provider ([`crate::oidc::Provider`], real Ory Hydra) with the
//! authorization-code flow, then passing each request on to the console with the user's ID token
//! as `Authorization: Bearer …` (`--pass-authorization-header`) — the token that cluster's API
//! server accepts, so that what the user sees is what RBAC lets that user see.

use std::fs;
use std::path::PathBuf;

use crate::Error;
use crate::OidcIssuer;
use crate::bed::new_run_dir;
use crate::process::{Proc, Watchdog};
use crate::thanos::{binary, free_port, wait_http};
use crate::tools::versions;

/// oauth2-proxy over plain HTTP on loopback; stopped on drop.
pub struct LoginProxy {
    url: String,
    dir: PathBuf,
    proc: Option<Proc>,
    watchdog: Watchdog,
}

impl LoginProxy {
    /// The callback path the provider's client must allow (`<url>/oauth2/callback`).
    pub const CALLBACK: &'static str = "/oauth2/callback";

    /// A free loopback port for a proxy started with [`LoginProxy::start`] (the provider's
    /// client needs the callback URL before the proxy runs).
    pub fn pick_port() -> Result<u16, Error> {
        free_port()
    }

    /// Starts the proxy on `port` for the provider `issuer` (its OAuth client `client_id` with
    /// `client_secret`), sending what it admits to `upstream`.
    pub async fn start(
        port: u16,
        issuer: &OidcIssuer,
        client_secret: &str,
        upstream: &str,
    ) -> Result<Self, Error> {
        let bin = binary("oauth2-proxy", &versions().oauth2_proxy)?;
        let dir = new_run_dir("login-proxy")?;
        let watchdog = Watchdog::start(&dir)?;
        let ca = dir.join("provider-ca.crt");
        fs::write(&ca, &issuer.ca_pem)
            .map_err(|e| Error::io(format!("writing {}", ca.display()), e))?;
        let url = format!("http://127.0.0.1:{port}");
        let args = vec![
            format!("--http-address=127.0.0.1:{port}"),
            format!("--upstream={}/", upstream.trim_end_matches('/')),
            "--provider=oidc".to_string(),
            format!("--oidc-issuer-url={}", issuer.url),
            format!("--provider-ca-file={}", ca.display()),
            format!("--client-id={}", issuer.client_id),
            format!("--client-secret={client_secret}"),
            format!("--redirect-url={url}{}", Self::CALLBACK),
            "--scope=openid email".to_string(),
            "--code-challenge-method=S256".to_string(),
            "--email-domain=*".to_string(),
            "--pass-authorization-header".to_string(),
            "--cookie-secret=0123456789abcdef0123456789abcdef".to_string(),
            "--cookie-secure=false".to_string(),
            "--skip-provider-button".to_string(),
            "--silence-ping-logging".to_string(),
            "--ping-path=/ping".to_string(),
        ];
        let mut proc = Proc::spawn(
            &dir,
            "oauth2-proxy",
            "login-proxy",
            &bin,
            &args,
            Some(&watchdog),
        )?;
        wait_http(
            "oauth2-proxy /ping",
            &format!("{url}/ping"),
            &mut proc,
            None,
        )
        .await?;
        Ok(LoginProxy {
            url,
            dir,
            proc: Some(proc),
            watchdog,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for LoginProxy {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop(Some(&self.watchdog));
        }
        self.watchdog.finish();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
