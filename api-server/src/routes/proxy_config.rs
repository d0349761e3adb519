//! A pod's Envoy configuration, as Kiali serves it: `/api/namespaces/{ns}/pods/{pod}/config_dump`
//! (Kiali's `EnvoyProxyDump` with `config_dump`, the proxy's `/config_dump`) and
//! `/api/namespaces/{ns}/pods/{pod}/config_dump/{resource}` (`clusters`, `listeners`, `routes`,
//! `bootstrap`: Kiali's summaries, [`crate::envoy`]).
//!
//! The dump is read from the proxy's admin port (15000) through the pod's own cluster's
//! `pods/portforward`, as Kiali reads it, but with the caller's own credentials
//! ([`crate::as_caller`]): the cluster's API server checks `create pods/portforward` in the pod's
//! namespace and its refusal is passed on. Only `anonymous` forwards with the server's own
//! ServiceAccount, which the operator's and the chart's roles do not grant `pods/portforward`
//! (a port-forward reaches every port of a pod: more than the read-only role the server holds);
//! an administrator who wants the Envoy tab under `anonymous` binds it. Who may call: a caller who
//! may read the namespace (as for the pod itself). Cost: at most [`MAX_CONCURRENT`] forwards open
//! at once server-wide, at most [`MAX_BYTES`] of dump read within [`FETCH_TIMEOUT`]; the proxy's
//! secrets (`SecretsConfigDump`) never leave the server.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::{Value, json};

use crate::as_caller::{client_for, refused};
use crate::auth::Caller;
use crate::envoy;
use crate::error::{Error, Result};
use crate::params::Params;
use crate::state::Shared;

/// Envoy's admin port, where `/config_dump` is served.
pub const ADMIN_PORT: u16 = 15000;
/// Largest dump read (a proxy of a large mesh dumps tens of MiB).
pub const MAX_BYTES: usize = 64 << 20;
/// How long opening the forward and reading the dump may take together.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// Forwards open at once, server-wide (each holds up to [`MAX_BYTES`]).
pub const MAX_CONCURRENT: usize = 4;

static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT);

fn unavailable(cluster: &str, ns: &str, pod: &str, why: impl std::fmt::Display) -> Error {
    Error::Kube(format!(
        "cluster {cluster}: the Envoy admin port of pod {ns}/{pod} did not answer: {why}"
    ))
}

/// `GET /config_dump` on the proxy of `pod`, through `api`'s `pods/portforward`: the dump as
/// JSON, within `within`.
pub async fn fetch(
    api: &Api<Pod>,
    cluster: &str,
    ns: &str,
    pod: &str,
    within: Duration,
) -> Result<Value> {
    let work = async {
        let _slot = SLOTS
            .acquire()
            .await
            .map_err(|_| Error::Busy("no port-forward slot".into()))?;
        let mut pf = api
            .portforward(pod, &[ADMIN_PORT])
            .await
            .map_err(|e| refused(cluster, e))?;
        let stream = pf
            .take_stream(ADMIN_PORT)
            .ok_or_else(|| unavailable(cluster, ns, pod, "no stream"))?;
        let forward_error = pf.take_error(ADMIN_PORT);
        let answer = get_dump(stream).await;
        pf.abort();
        match answer {
            Ok(v) => Ok(v),
            // The kubelet's reason (kwok's, a real one's: "connection refused") is on the
            // forward's error stream; the HTTP error is then only "connection closed".
            Err(why) => {
                let reason = match forward_error {
                    Some(f) => tokio::time::timeout(Duration::from_secs(1), f)
                        .await
                        .ok()
                        .flatten(),
                    None => None,
                };
                Err(unavailable(cluster, ns, pod, reason.unwrap_or(why)))
            }
        }
    };
    match tokio::time::timeout(within, work).await {
        Ok(r) => r,
        Err(_) => Err(Error::UpstreamTimeout(format!(
            "cluster {cluster}: the config dump of pod {ns}/{pod} did not arrive within {} s",
            within.as_secs_f64()
        ))),
    }
}

/// One HTTP/1.1 `GET /config_dump` over the forwarded stream, its body bounded.
async fn get_dump(
    stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
) -> std::result::Result<Value, String> {
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    let conn = tokio::spawn(conn);
    let req = axum::http::Request::get("/config_dump")
        .header(axum::http::header::HOST, "localhost")
        .body(http_body_util::Empty::<axum::body::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string());
    let out = match resp {
        Err(e) => Err(e),
        Ok(resp) if !resp.status().is_success() => {
            Err(format!("the admin endpoint answered {}", resp.status()))
        }
        Ok(resp) => match http_body_util::Limited::new(resp.into_body(), MAX_BYTES)
            .collect()
            .await
        {
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                Err(format!("the dump is larger than {} MiB", MAX_BYTES >> 20))
            }
            Err(e) => Err(e.to_string()),
            Ok(body) => serde_json::from_slice(&body.to_bytes())
                .map_err(|e| format!("the dump is not JSON: {e}")),
        },
    };
    conn.abort();
    out
}

/// The dump of the caller's pod `ns/pod` (found as `/api/namespaces/{ns}/pods/{pod}` finds it),
/// its secrets removed, and the namespaces the caller may read on the pod's cluster (not only the
/// pod's: a route's `<svc>.<ns>` domain names a namespace when the caller may read it).
async fn dump_of(
    s: &Shared,
    caller: &Caller,
    ns: &str,
    pod: &str,
    p: &Params,
) -> Result<(crate::state::Views, Value, BTreeSet<String>)> {
    let (views, cluster, _) = super::pods::find_pod(s, caller, ns, pod, p).await?;
    let namespaces: BTreeSet<String> = views
        .clusters
        .iter()
        .filter(|v| v.name() == cluster)
        .flat_map(|v| v.readable_namespace_names())
        .collect();
    let client = client_for(s, caller, &cluster)?;
    let api: Api<Pod> = Api::namespaced(client, ns);
    tracing::info!(
        target: "meshglass::config_dump",
        user = %caller.id.name(),
        cluster = %cluster,
        namespace = %ns,
        pod = %pod,
        "envoy config dump"
    );
    let dump = fetch(&api, &cluster, ns, pod, FETCH_TIMEOUT).await?;
    Ok((views, envoy::without_secrets(dump), namespaces))
}

/// `/api/namespaces/{ns}/pods/{pod}/config_dump`: `{"config_dump": {"configs": […]}}`.
pub async fn get_config_dump(
    State(s): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((ns, pod)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (views, dump, _) = dump_of(&s, &caller, &ns, &pod, &Params(q)).await?;
    Ok(views.respond(json!({"config_dump": dump})))
}

/// `/api/namespaces/{ns}/pods/{pod}/config_dump/{resource}`: Kiali's summary of one resource.
pub async fn get_config_dump_resource(
    State(s): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((ns, pod, resource)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    if !envoy::RESOURCES.contains(&resource.as_str()) {
        return Err(Error::bad_param(
            "resource",
            resource.as_str(),
            envoy::RESOURCES.join(", "),
        ));
    }
    let (views, dump, namespaces) = dump_of(&s, &caller, &ns, &pod, &Params(q)).await?;
    let body = envoy::resource(&dump, &resource, &namespaces).ok_or_else(|| {
        Error::bad_param("resource", resource.as_str(), envoy::RESOURCES.join(", "))
    })?;
    Ok(views.respond(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An API server that accepts connections and never answers: the fetch is bounded.
    #[tokio::test]
    async fn a_forward_that_never_opens_is_bounded() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((c, _)) = l.accept().await {
                held.push(c);
            }
        });
        let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
        let api: Api<Pod> = Api::namespaced(kube::Client::try_from(config).unwrap(), "bookinfo");
        let fetch = fetch(
            &api,
            "east",
            "bookinfo",
            "reviews-v1",
            Duration::from_millis(200),
        );
        let err = tokio::time::timeout(Duration::from_secs(10), fetch)
            .await
            .expect("bounded")
            .expect_err("nothing answered");
        assert_eq!(
            err.status(),
            axum::http::StatusCode::GATEWAY_TIMEOUT,
            "{err}"
        );
    }

    /// An admin endpoint over a local stream: the dump is read; a body above the bound and a
    /// non-JSON answer are refused with the reason.
    #[tokio::test]
    async fn the_dump_is_read_over_the_stream_and_bounded() {
        async fn serve(body: Vec<u8>, status: u16) -> tokio::io::DuplexStream {
            let (client, server) = tokio::io::duplex(1 << 16);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let body = body.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            axum::http::Response::builder()
                                .status(status)
                                .body(http_body_util::Full::new(axum::body::Bytes::from(body)))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(server), svc)
                    .await;
            });
            client
        }
        let dump = json!({"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump"}]});
        let got = get_dump(serve(dump.to_string().into_bytes(), 200).await).await;
        assert_eq!(got, Ok(dump));
        let big = vec![b' '; MAX_BYTES + 1];
        let err = get_dump(serve(big, 200).await).await.unwrap_err();
        assert!(err.contains("larger than 64 MiB"), "{err}");
        let err = get_dump(serve(b"<html>".to_vec(), 200).await)
            .await
            .unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
        let err = get_dump(serve(b"{}".to_vec(), 503).await)
            .await
            .unwrap_err();
        assert!(err.contains("503"), "{err}");
    }
}
