//! The web UI, embedded at compile time (see `build.rs`) and served under `server.web_root`.
//!
//! `{web_root}/` and every client-side route (`{web_root}/console/...`) answer `index.html`, with
//! `<base href="{web_root}/">` so that its relative asset and API URLs resolve under the web root;
//! `{web_root}/assets/*` are the hashed, immutable bundles. Paths under `{web_root}/api/` that no API
//! route matched answer a JSON 404, never the page.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));
}

pub use assets::BUILT;

/// The embedded file at `path` (relative to the UI root).
pub fn asset(path: &str) -> Option<&'static [u8]> {
    assets::ASSETS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, bytes)| *bytes)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `index.html` with its `<base href>` pointing at the web root.
pub fn index_html(web_root: &str) -> String {
    let page = asset("index.html")
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_else(|| "<!doctype html><title>meshglass</title><p>UI missing</p>".into());
    let base = format!("<base href=\"{}/\" />", html_escape(web_root));
    page.replacen("<base href=\"./\" />", &base, 1)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn page(web_root: &str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        index_html(web_root),
    )
        .into_response()
}

fn serve(web_root: &str, path: &str) -> Response {
    if path == "api" || path.starts_with("api/") {
        let body = serde_json::json!({
            "error": format!("no API route {web_root}/{path}"),
            "category": "not_found",
        });
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    if let Some(bytes) = asset(path).filter(|_| path != "index.html") {
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return (
            [
                (header::CONTENT_TYPE, content_type(path)),
                (header::CACHE_CONTROL, cache),
            ],
            bytes,
        )
            .into_response();
    }
    if path.starts_with("assets/") || path.rsplit('/').next().is_some_and(|l| l.contains('.')) {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    page(web_root)
}

/// The UI routes for `web_root` (`""` or `/kiali`-style, no trailing slash). Merge it with the API router:
/// API routes are more specific and win.
pub fn router<S: Clone + Send + Sync + 'static>(web_root: &str) -> Router<S> {
    let root: std::sync::Arc<str> = web_root.trim_end_matches('/').into();
    let index = {
        let root = root.clone();
        get(move || async move { page(&root) })
    };
    let files = {
        let root = root.clone();
        get(move |Path(p): Path<String>| async move { serve(&root, &p) })
    };
    if root.is_empty() {
        return Router::new().route("/", index).route("/{*path}", files);
    }
    let target = format!("{root}/");
    Router::new()
        .route(
            "/",
            get(move || async move { Redirect::temporary(&target) }),
        )
        .route(&root, index.clone())
        .route(&format!("{root}/"), index)
        .route(&format!("{root}/{{*path}}"), files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn fetch(app: &Router, uri: &str) -> (StatusCode, String, String) {
        let resp = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = resp.status();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, ct, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn index_and_client_routes_answer_the_page_with_the_web_root_as_base() {
        let app: Router = router("/kiali");
        for uri in [
            "/kiali",
            "/kiali/",
            "/kiali/console/overview",
            "/kiali/console/namespaces/bookinfo/applications/reviews",
        ] {
            let (status, ct, body) = fetch(&app, uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert!(ct.starts_with("text/html"), "{uri}: {ct}");
            assert!(body.contains("<base href=\"/kiali/\" />"), "{uri}: {body}");
        }
        let (status, _, _) = fetch(&app, "/").await;
        assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    }

    #[tokio::test]
    async fn unknown_api_paths_are_json_404_and_missing_files_are_404() {
        let app: Router = router("/kiali");
        let (status, ct, body) = fetch(&app, "/kiali/api/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(ct.starts_with("application/json"), "{ct}");
        assert!(body.contains("not_found"), "{body}");
        let (status, _, _) = fetch(&app, "/kiali/assets/missing.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn every_embedded_asset_is_served_with_its_type() {
        let app: Router = router("");
        for (path, bytes) in assets::ASSETS {
            if *path == "index.html" {
                continue;
            }
            let (status, ct, body) = fetch(&app, &format!("/{path}")).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(ct, content_type(path), "{path}");
            assert_eq!(body.len(), String::from_utf8_lossy(bytes).len(), "{path}");
        }
        let (status, _, body) = fetch(&app, "/console/graph/namespaces").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("<base href=\"/\" />"), "{body}");
    }

    #[tokio::test]
    async fn api_routes_nested_under_the_web_root_win_over_the_page() {
        let api = Router::new()
            .route("/api/config", get(|| async { "config" }))
            .route("/api/namespaces/{ns}/apps/{name}", get(|| async { "app" }));
        let app: Router = Router::new().nest("/kiali", api).merge(router("/kiali"));
        assert_eq!(fetch(&app, "/kiali/api/config").await.2, "config");
        assert_eq!(fetch(&app, "/kiali/api/namespaces/b/apps/r").await.2, "app");
        let (status, ct, _) = fetch(&app, "/kiali/console/graph/namespaces").await;
        assert_eq!(status, StatusCode::OK);
        assert!(ct.starts_with("text/html"), "{ct}");
        assert_eq!(
            fetch(&app, "/kiali/api/missing").await.0,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn web_root_is_escaped_in_the_base_tag() {
        let html = index_html("/a\"b");
        assert!(html.contains("<base href=\"/a&quot;b/\" />"), "{html}");
    }
}
