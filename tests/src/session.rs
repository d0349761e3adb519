//! Signing in to a server of the token strategy as the login form does: the CSRF token of
//! `/api/auth/info` (with its cookie), then `POST /api/authenticate` with the bearer token. The
//! cookies the server set are the caller's session ([`Jar`]).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Error;

/// Cookies by name, as a browser keeps them for one server.
pub type Jar = BTreeMap<String, String>;

/// The `cookie` header of `jar`.
pub fn cookie_header(jar: &Jar) -> String {
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn keep(jar: &mut Jar, resp: &reqwest::Response) {
    for c in resp.headers().get_all("set-cookie") {
        let Ok(c) = c.to_str() else { continue };
        let pair = c.split(';').next().unwrap_or_default();
        if let Some((k, v)) = pair.split_once('=') {
            jar.insert(k.to_string(), v.to_string());
        }
    }
}

/// Signs in at `base` (`http://…/kiali`) with `token`: the session's cookies. A login the server
/// refuses is an error naming its status and body.
pub async fn token_login(http: &reqwest::Client, base: &str, token: &str) -> Result<Jar, Error> {
    let mut jar = Jar::new();
    let resp = http.get(format!("{base}/api/auth/info")).send().await?;
    keep(&mut jar, &resp);
    let info: Value = resp.json().await?;
    let csrf = info["csrfToken"].as_str().unwrap_or_default().to_string();
    let resp = http
        .post(format!("{base}/api/authenticate"))
        .header("cookie", cookie_header(&jar))
        .header("x-csrf-token", &csrf)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await?;
    let status = resp.status();
    keep(&mut jar, &resp);
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        return Err(Error::Login {
            status: status.as_u16(),
            body,
        });
    }
    Ok(jar)
}
