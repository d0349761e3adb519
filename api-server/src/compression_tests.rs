//! Gzip at the edge (`server.gzip_enabled`): a client that accepts gzip gets the same JSON,
//! compressed; a stream is not held back to fill compressed blocks.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::graph_health_tests::{T, anonymous};
use crate::gzip::gunzip;
use crate::routes::{NDJSON, compressed, router};

async fn fetch(
    s: &crate::state::Shared,
    uri: &str,
    gzip: bool,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let mut req = Request::builder().uri(uri);
    if gzip {
        req = req.header(header::ACCEPT_ENCODING, "gzip");
    }
    let resp = router(s.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let encoding = resp
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap().to_string());
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap();
    (status, encoding, bytes.to_vec())
}

#[tokio::test]
async fn the_graph_and_health_gzipped_are_the_same_json() {
    let s = anonymous().await;
    for uri in [
        format!(
            "/kiali/api/namespaces/graph?namespaces=bookinfo&graphType=versionedApp&boxBy=cluster,namespace,app&injectServiceNodes=true&queryTime={T}"
        ),
        format!("/kiali/api/clusters/health?namespaces=bookinfo&type=app&queryTime={T}"),
        "/kiali/api/namespaces".to_string(),
    ] {
        let (st, plain_enc, plain) = fetch(&s, &uri, false).await;
        assert_eq!(st, StatusCode::OK, "{uri}");
        assert_eq!(plain_enc, None, "{uri}: not compressed unless asked");
        let (st, enc, zipped) = fetch(&s, &uri, true).await;
        assert_eq!(st, StatusCode::OK, "{uri}");
        assert_eq!(enc.as_deref(), Some("gzip"), "{uri}");
        let unzipped = gunzip(&zipped);
        assert_eq!(unzipped, plain, "{uri}: the same bytes once decoded");
        assert!(
            serde_json::from_slice::<serde_json::Value>(&unzipped).is_ok(),
            "{uri}"
        );
        if plain.len() > 4096 {
            assert!(
                zipped.len() * 3 < plain.len(),
                "{uri}: {} → {}",
                plain.len(),
                zipped.len()
            );
        }
    }
}

#[tokio::test]
async fn a_stream_is_sent_line_by_line_uncompressed() {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(4);
    let rx = std::sync::Arc::new(std::sync::Mutex::new(Some(rx)));
    let app = compressed(Router::new().route(
        "/logs",
        get(move || {
            let rx = rx.lock().unwrap().take().expect("one request");
            async move {
                (
                    [(header::CONTENT_TYPE, NDJSON)],
                    Body::from_stream(tokio_stream_of(rx)),
                )
                    .into_response()
            }
        }),
    ));
    let resp = app
        .oneshot(
            Request::builder()
                .uri("/logs")
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(resp.headers().get(header::CONTENT_ENCODING).is_none());
    let mut body = resp.into_body();
    tx.send(Ok("{\"message\":\"first\"}\n".into()))
        .await
        .unwrap();
    // The first line arrives while the stream is still open.
    let frame = body.frame().await.unwrap().unwrap();
    assert_eq!(
        frame.into_data().unwrap(),
        "{\"message\":\"first\"}\n".as_bytes()
    );
    tx.send(Ok("{\"message\":\"second\"}\n".into()))
        .await
        .unwrap();
    let frame = body.frame().await.unwrap().unwrap();
    assert_eq!(
        frame.into_data().unwrap(),
        "{\"message\":\"second\"}\n".as_bytes()
    );
    drop(tx);
    assert!(body.frame().await.is_none());
}

/// The receiver as a stream of its items.
fn tokio_stream_of<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}

#[tokio::test]
async fn a_large_answer_is_compressed_in_segments_into_one_gzip_stream() {
    // A JSON answer of 3 MB, shaped like a graph's.
    let json: Vec<u8> = {
        let mut b = b"[".to_vec();
        let mut i = 0u64;
        while b.len() < 3 << 20 {
            b.extend_from_slice(
                format!("{{\"id\":\"n{i:08}\",\"rate\":{}.5}},", i % 91).as_bytes(),
            );
            i += 1;
        }
        b.extend_from_slice(b"{}]");
        b
    };
    let body = json.clone();
    let app = compressed(Router::new().route(
        "/big",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
        }),
    ));
    let get_big = |accept: Option<&'static str>| {
        let app = app.clone();
        async move {
            let mut req = Request::builder().uri("/big");
            if let Some(a) = accept {
                req = req.header(header::ACCEPT_ENCODING, a);
            }
            let resp = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            let headers = resp.headers().clone();
            let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
                .await
                .unwrap();
            (headers, bytes.to_vec())
        }
    };
    let (h, zipped) = get_big(Some("gzip, deflate, br")).await;
    assert_eq!(h[header::CONTENT_ENCODING], "gzip");
    assert!(
        h.get_all(header::VARY)
            .iter()
            .any(|v| v == "accept-encoding"),
        "{h:?}"
    );
    assert!(
        zipped.len() * 4 < json.len(),
        "{} → {}",
        json.len(),
        zipped.len()
    );
    assert_eq!(gunzip(&zipped), json, "the same bytes once decoded");
    // Compressed once: the gzip stream is no second stream's payload.
    assert_eq!(&zipped[..2], &[0x1f, 0x8b]);
    for refused in [None, Some("gzip;q=0"), Some("identity")] {
        let (h, plain) = get_big(refused).await;
        assert!(
            h.get(header::CONTENT_ENCODING).is_none(),
            "{refused:?}: {h:?}"
        );
        assert_eq!(plain, json, "{refused:?}");
    }
}
