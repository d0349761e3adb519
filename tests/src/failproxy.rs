//! A loopback TLS proxy in front of a real API server that can be switched to answer every
//! request with an HTTP error (500, 429, …): it models an API server failing while the API
//! server itself stays real. Passing through, it forwards bytes both ways to the API server
//! (verified with the cluster's CA); switching to failing cuts every open connection (watches
//! included), so clients reconnect and get the error.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::pki::ClusterPki;
use crate::{Cluster, Error};

/// The proxy; dropping it stops it.
pub struct FailProxy {
    port: u16,
    ca_pem: String,
    /// 0: pass through; else the status every request gets.
    failing: Arc<AtomicU16>,
    conns: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

fn tls_err(e: impl std::fmt::Display) -> Error {
    Error::io("fail proxy TLS", std::io::Error::other(e.to_string()))
}

impl FailProxy {
    /// Starts a proxy for `cluster`'s API server on a free loopback port.
    pub async fn start(cluster: &Cluster) -> Result<FailProxy, Error> {
        Self::start_for(cluster.port(), cluster.ca_pem()).await
    }

    /// Starts a proxy for the API server on loopback port `upstream`, whose serving CA is `ca_pem`.
    pub async fn start_for(upstream: u16, ca_pem: &[u8]) -> Result<FailProxy, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let pki = ClusterPki::generate("failproxy")?;
        let cert = CertificateDer::from_pem_slice(pki.serving_cert.as_bytes()).map_err(tls_err)?;
        let key = PrivateKeyDer::from_pem_slice(pki.serving_key.as_bytes()).map_err(tls_err)?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .map_err(tls_err)?;
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca_pem) {
            roots.add(c.map_err(tls_err)?).map_err(tls_err)?;
        }
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let acceptor = TlsAcceptor::from(Arc::new(server));
        let connector = TlsConnector::from(Arc::new(client));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::io("binding the fail proxy", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::io("fail proxy address", e))?
            .port();
        let failing = Arc::new(AtomicU16::new(0));
        let conns = Arc::new(Mutex::new(JoinSet::new()));
        let (f, c) = (failing.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (acceptor, connector, f) = (acceptor.clone(), connector.clone(), f.clone());
                let task = async move {
                    let Ok(tls) = acceptor.accept(sock).await else {
                        return;
                    };
                    let code = f.load(Ordering::SeqCst);
                    if code != 0 {
                        fail(tls, code).await;
                    } else {
                        forward(tls, upstream, connector).await;
                    }
                };
                if let Ok(mut set) = c.lock() {
                    while set.try_join_next().is_some() {}
                    set.spawn(task);
                }
            }
        });
        Ok(FailProxy {
            port,
            ca_pem: pki.serving_ca,
            failing,
            conns,
            accept,
        })
    }

    /// `https://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// PEM of the CA that signed the proxy's certificate.
    pub fn ca_pem(&self) -> &[u8] {
        self.ca_pem.as_bytes()
    }

    /// Every request from now on gets `status` (500, 429, …); open connections are cut.
    pub fn fail_with(&self, status: u16) {
        self.failing.store(status, Ordering::SeqCst);
        if let Ok(mut set) = self.conns.lock() {
            set.abort_all();
        }
    }

    /// Passes requests through to the API server again.
    pub fn pass(&self) {
        self.failing.store(0, Ordering::SeqCst);
    }
}

impl Drop for FailProxy {
    fn drop(&mut self) {
        self.accept.abort();
        if let Ok(mut set) = self.conns.lock() {
            set.abort_all();
        }
    }
}

async fn forward(
    mut tls: tokio_rustls::server::TlsStream<TcpStream>,
    upstream: u16,
    connector: TlsConnector,
) {
    let Ok(sock) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let Ok(name) = ServerName::try_from("127.0.0.1") else {
        return;
    };
    let Ok(mut up) = connector.connect(name, sock).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
}

/// Answers each request of the connection with `code` (a Kubernetes Status body), then closes.
async fn fail(mut tls: tokio_rustls::server::TlsStream<TcpStream>, code: u16) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match tls.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let reason = if code == 429 {
        "TooManyRequests"
    } else {
        "InternalError"
    };
    let body = format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"fault injected by the test proxy","reason":"{reason}","code":{code}}}"#
    );
    let resp = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nRetry-After: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tls.write_all(resp.as_bytes()).await;
    let _ = tls.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn failing_proxy_answers_with_the_status() {
        let pki = ClusterPki::generate("upstream").unwrap();
        let p = FailProxy::start_for(1, pki.serving_ca.as_bytes())
            .await
            .unwrap();
        p.fail_with(500);
        let url = format!("{}/version", p.url());
        let out = tokio::process::Command::new("curl")
            .args(["-sk", "-m", "5", "-w", "\n%{http_code}", &url])
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            text.ends_with("500") && text.contains("InternalError"),
            "{text} {out:?}"
        );
        // A kube client sees the status, not a hang.
        use base64::Engine as _;
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let kc = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: p\n  cluster: {{server: '{}', certificate-authority-data: {}}}\nusers:\n- name: p\n  user: {{token: t}}\ncontexts:\n- name: p\n  context: {{cluster: p, user: p}}\ncurrent-context: p\n",
            p.url(),
            b64(p.ca_pem())
        );
        let kc = kube::config::Kubeconfig::from_yaml(&kc).unwrap();
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(cfg).unwrap();
        // (429 is retried by kube's client with Retry-After, so it shows as a slow answer.)
        for code in [500u16] {
            p.fail_with(code);
            let r = tokio::time::timeout(
                std::time::Duration::from_secs(20),
                client.apiserver_version(),
            )
            .await;
            match r {
                Ok(Err(kube::Error::Api(s))) => assert_eq!(s.code, code),
                other => panic!("{code}: {other:?}"),
            }
        }
    }
}
