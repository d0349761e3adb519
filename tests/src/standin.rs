//! A loopback HTTP(S) stand-in for a metrics store, for what a real Prometheus cannot be made to
//! do: record exactly what the server sent (headers, paths, queries — how `tests/tests/acted_on.rs`
//! shows the metrics client's settings take effect), and misbehave on purpose (hang, answer
//! HTML, a huge error body, an endless stream — the faults of `tests/tests/server_faults_prometheus.rs`).
//! Every connection gets one answer and is closed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use crate::Error;
use crate::pki::ClusterPki;

/// How the stand-in answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 with an empty instant vector (and 200 on any other path, health checks included).
    Empty,
    /// Reads the request and never answers (the connection stays open until the client goes).
    Hang,
    /// 200 `text/html`: a login page where the API should be.
    Html,
    /// 500 with a body of this many bytes.
    ErrorBody(usize),
    /// 200 `application/json` without a length, streaming this many bytes (a JSON prefix, then
    /// whitespace) as fast as the client reads.
    Stream(u64),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Lower-cased header names.
    pub headers: BTreeMap<String, String>,
    /// `query` parameter of the form body or query string, if any.
    pub query: Option<String>,
    /// Every parameter of the form body or query string (a Jaeger search's `service`, `tags`).
    pub params: BTreeMap<String, String>,
}

#[derive(Default)]
struct Shared {
    seen: Mutex<Vec<Seen>>,
    behaviour: Mutex<Option<Behaviour>>,
    sent: AtomicU64,
}

/// The running stand-in; dropping it stops accepting.
pub struct StandIn {
    url: String,
    ca_pem: Option<String>,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

fn tls_err(e: impl std::fmt::Display) -> Error {
    Error::io("stand-in TLS", std::io::Error::other(e.to_string()))
}

impl StandIn {
    /// Plain HTTP on a free loopback port.
    pub async fn http(behaviour: Behaviour) -> Result<StandIn, Error> {
        Self::start(behaviour, false).await
    }

    /// HTTPS with a certificate for `127.0.0.1`/`localhost` from a CA of its own ([`Self::ca_pem`]).
    pub async fn https(behaviour: Behaviour) -> Result<StandIn, Error> {
        Self::start(behaviour, true).await
    }

    async fn start(behaviour: Behaviour, tls: bool) -> Result<StandIn, Error> {
        let (acceptor, ca_pem) = if tls {
            let pki = ClusterPki::generate("standin")?;
            let cert =
                CertificateDer::from_pem_slice(pki.serving_cert.as_bytes()).map_err(tls_err)?;
            let key = PrivateKeyDer::from_pem_slice(pki.serving_key.as_bytes()).map_err(tls_err)?;
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let server = ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(tls_err)?
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .map_err(tls_err)?;
            (
                Some(TlsAcceptor::from(Arc::new(server))),
                Some(pki.serving_ca.clone()),
            )
        } else {
            (None, None)
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::io("binding the stand-in", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("stand-in address", e))?;
        let shared = Arc::new(Shared::default());
        *shared.behaviour.lock().expect("behaviour") = Some(behaviour);
        let s = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (s, acceptor) = (s.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match acceptor {
                        Some(a) => {
                            if let Ok(tls) = a.accept(sock).await {
                                serve(tls, &s).await;
                            }
                        }
                        None => serve(sock, &s).await,
                    }
                });
            }
        });
        let scheme = if tls { "https" } else { "http" };
        Ok(StandIn {
            url: format!("{scheme}://{addr}"),
            ca_pem,
            shared,
            accept,
        })
    }

    /// `http(s)://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA of an HTTPS stand-in.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Switches how later requests are answered.
    pub fn set(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().expect("behaviour") = Some(behaviour);
    }

    /// The requests received since the last call, which forgets them.
    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.shared.seen.lock().expect("seen"))
    }

    /// Bytes of bodies written so far (what a [`Behaviour::Stream`] got the client to read).
    pub fn bytes_sent(&self) -> u64 {
        self.shared.sent.load(Ordering::Relaxed)
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut conn: S, s: &Shared) {
    let Some(seen) = read_request(&mut conn).await else {
        return;
    };
    let behaviour = s
        .behaviour
        .lock()
        .expect("behaviour")
        .unwrap_or(Behaviour::Empty);
    s.seen.lock().expect("seen").push(seen);
    let head = |status: &str, ctype: &str, len: u64| {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
        )
    };
    match behaviour {
        Behaviour::Empty => {
            let body = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
            let mut out = head("200 OK", "application/json", body.len() as u64).into_bytes();
            out.extend_from_slice(body.as_bytes());
            let _ = conn.write_all(&out).await;
        }
        Behaviour::Hang => {
            // Until the client closes: a read returns 0 or fails then.
            let mut buf = [0u8; 1024];
            while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
            return;
        }
        Behaviour::Html => {
            let body = "<!DOCTYPE html><html><head><title>Log in</title></head><body><form action=\"/oauth/start\"></form></body></html>";
            let mut out =
                head("200 OK", "text/html; charset=utf-8", body.len() as u64).into_bytes();
            out.extend_from_slice(body.as_bytes());
            let _ = conn.write_all(&out).await;
        }
        Behaviour::ErrorBody(n) => {
            let _ = conn
                .write_all(head("500 Internal Server Error", "text/plain", n as u64).as_bytes())
                .await;
            let chunk = vec![b'E'; 64 << 10];
            let mut left = n;
            while left > 0 {
                let k = left.min(chunk.len());
                if conn.write_all(&chunk[..k]).await.is_err() {
                    break;
                }
                s.sent.fetch_add(k as u64, Ordering::Relaxed);
                left -= k;
            }
        }
        Behaviour::Stream(n) => {
            // No length: the body ends when the connection does, so only a cap on what is read
            // stops the client.
            let _ = conn
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
                )
                .await;
            let prefix = br#"{"status":"success","data":{"resultType":"vector","result":["#;
            let mut left = n;
            if conn.write_all(prefix).await.is_err() {
                return;
            }
            left = left.saturating_sub(prefix.len() as u64);
            let chunk = vec![b' '; 256 << 10];
            while left > 0 {
                let k = left.min(chunk.len() as u64) as usize;
                if conn.write_all(&chunk[..k]).await.is_err() {
                    break;
                }
                s.sent.fetch_add(k as u64, Ordering::Relaxed);
                left -= k as u64;
            }
        }
    }
    let _ = conn.shutdown().await;
}

/// Reads one HTTP/1.1 request (head up to 64 KiB, body by `content-length` up to 1 MiB).
async fn read_request<S: AsyncRead + Unpin>(conn: &mut S) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 << 10 {
            return None;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let (path, qs) = target.split_once('?').unwrap_or((&target, ""));
    let form = if method == "POST" {
        String::from_utf8_lossy(&body).into_owned()
    } else {
        qs.to_string()
    };
    let params: BTreeMap<String, String> = reqwest::Url::parse(&format!("http://x/?{form}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let query = params.get("query").cloned();
    Some(Seen {
        method,
        path: path.to_string(),
        headers,
        query,
        params,
    })
}
