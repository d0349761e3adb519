//! Sessions: what a login leaves in the browser, and the CSRF token that every state-changing
//! request must carry.
//!
//! A session is sealed (AES-256-GCM, key derived with HKDF-SHA256 from `login_token.signing_key`)
//! into cookie `kiali-token-aes`, split like Kiali's into `kiali-token-aes`, `kiali-token-aes-1`, …
//! with the count in `kiali-token-aes-chunks` when it is larger than one cookie may be. The cookies
//! are HttpOnly, Secure and SameSite=Lax, scoped to `server.web_root`. A cookie that does not open
//! with the current key (forged, tampered, sealed before the key was rotated) or whose expiry has
//! passed is refused: the caller gets a 401. Nothing is kept on the server, so several replicas
//! sharing the key share the sessions.
//!
//! CSRF: `/api/auth/info` hands out a random token, once in its JSON (`csrfToken`, readable by this
//! server's own pages only) and once in the HttpOnly cookie `kiali-csrf`. A state-changing request
//! must send it back in the `X-CSRF-Token` header, equal to the cookie; a login binds it into the
//! session, and a request made with the session must send that one. Requests carrying no cookie but
//! an `Authorization` header are not exposed to CSRF (browsers never add that header by
//! themselves) and need no token.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, HeaderValue, Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The session cookie (first chunk).
pub const COOKIE: &str = "kiali-token-aes";
/// How many chunks the session cookie has, when more than one.
pub const CHUNKS_COOKIE: &str = "kiali-token-aes-chunks";
/// The CSRF cookie.
pub const CSRF_COOKIE: &str = "kiali-csrf";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Bytes of sealed session per cookie: with its name and attributes a cookie stays under the
/// 4096 bytes browsers keep.
pub const CHUNK_BYTES: usize = 3_800;
/// A session larger than this many chunks is refused (and not read).
pub const MAX_CHUNKS: usize = 16;
/// The shortest `login_token.signing_key` accepted (Kiali's: 16, 24 or 32 characters).
pub const MIN_KEY_BYTES: usize = 16;

/// What a session holds. Sealed, never shown to the browser in clear.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Who logged in (`anonymous` for the anonymous strategy).
    pub username: String,
    /// The strategy the session was made for; another strategy refuses it.
    pub strategy: String,
    /// Unix seconds after which the session is refused.
    pub expires: i64,
    /// The CSRF token bound at login.
    pub csrf: String,
    /// The credential used on every cluster (the `token` strategy's bearer token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Per-cluster credentials (a login to one cluster), by cluster name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clusters: BTreeMap<String, String>,
}

/// Seals and opens sessions with one key.
pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

/// The AEAD's associated data: a session sealed for another purpose or format never opens.
const AAD: &[u8] = b"meshglass session v1";

impl Sealer {
    /// A sealer keyed by `login_token.signing_key`.
    pub fn new(signing_key: &str) -> Result<Sealer> {
        if signing_key.len() < MIN_KEY_BYTES {
            return Err(Error::Config(format!(
                "login_token.signing_key must be at least {MIN_KEY_BYTES} characters (it has {})",
                signing_key.len()
            )));
        }
        Ok(Self::from_secret(signing_key.as_bytes()))
    }

    /// A sealer with a random key: sessions end when the process does.
    pub fn random() -> Sealer {
        let mut k = [0u8; 32];
        fill(&SystemRandom::new(), &mut k);
        Self::from_secret(&k)
    }

    fn from_secret(secret: &[u8]) -> Sealer {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"meshglass login_token.signing_key");
        let prk = salt.extract(secret);
        let info: &[&[u8]] = &[b"session cookie aes-256-gcm"];
        // `expand` fails only for outputs longer than 255 hash lengths; 32 bytes never are.
        let unbound = match prk.expand(info, &AES_256_GCM) {
            Ok(okm) => UnboundKey::from(okm),
            Err(_) => unreachable!("HKDF-SHA256 gives 32 bytes"),
        };
        Sealer {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        }
    }

    /// The session as cookie text (URL-safe base64 of nonce and ciphertext).
    pub fn seal(&self, s: &Session) -> Result<String> {
        self.seal_json(AAD, s)
    }

    /// `v` sealed for `purpose` (the associated data: text sealed for one purpose never opens
    /// as another).
    pub fn seal_json<T: Serialize>(&self, purpose: &[u8], v: &T) -> Result<String> {
        let mut buf = serde_json::to_vec(v).map_err(|e| Error::Engine(format!("session: {e}")))?;
        let mut nonce = [0u8; NONCE_LEN];
        fill(&self.rng, &mut nonce);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose),
                &mut buf,
            )
            .map_err(|_| Error::Engine("cannot seal the session".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// What [`Sealer::seal_json`] sealed for `purpose`, if it opens with this key.
    pub fn open_json<T: serde::de::DeserializeOwned>(
        &self,
        purpose: &[u8],
        text: &str,
    ) -> Result<T> {
        let bad = || Error::Unauthorized("the session cookie is not valid; log in again".into());
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        if raw.len() < NONCE_LEN {
            return Err(bad());
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad())?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(purpose), &mut sealed)
            .map_err(|_| bad())?;
        serde_json::from_slice(plain).map_err(|_| bad())
    }

    /// The session a cookie holds, if it opens with this key and has not expired at `now`.
    pub fn open(&self, text: &str, now: i64) -> Result<Session> {
        let s: Session = self.open_json(AAD, text)?;
        if s.expires <= now {
            return Err(Error::Unauthorized(
                "the session has expired; log in again".into(),
            ));
        }
        Ok(s)
    }
}

fn fill(rng: &SystemRandom, buf: &mut [u8]) {
    // The system's random source failing is not something a request can recover from.
    if rng.fill(buf).is_err() {
        panic!("the system random number generator failed");
    }
}

/// A random token (URL-safe base64 of 32 bytes): CSRF tokens.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    fill(&SystemRandom::new(), &mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The cookies of a request, by name (the first of a repeated name wins).
pub fn cookies(h: &HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for v in h.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=') {
                out.entry(k.trim().to_string())
                    .or_insert_with(|| val.trim().to_string());
            }
        }
    }
    out
}

/// The sealed session text of a request, its chunks put back together; `None` without one.
pub fn session_text(jar: &BTreeMap<String, String>) -> Option<String> {
    let first = jar.get(COOKIE)?;
    let n = jar
        .get(CHUNKS_COOKIE)
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_CHUNKS);
    let mut text = first.clone();
    for i in 1..n {
        text.push_str(jar.get(&format!("{COOKIE}-{i}"))?);
    }
    Some(text)
}

/// Cookie attributes: the web root's path, HttpOnly, Secure, and `same_site`.
pub fn attrs(path: &str, same_site: &str, max_age: i64) -> String {
    let path = if path.is_empty() { "/" } else { path };
    format!("Path={path}; HttpOnly; Secure; SameSite={same_site}; Max-Age={max_age}")
}

pub fn cookie(name: &str, value: &str, attrs: &str) -> HeaderValue {
    // Names are ours; values are URL-safe base64 or digits.
    HeaderValue::from_str(&format!("{name}={value}; {attrs}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` values storing `sealed` for `max_age` seconds: its chunks, the chunk count,
/// and the removal of chunks a longer earlier session left (`previous` of them).
pub fn set_session(sealed: &str, path: &str, max_age: i64, previous: usize) -> Vec<HeaderValue> {
    let a = attrs(path, "Lax", max_age);
    let parts: Vec<&str> = sealed
        .as_bytes()
        .chunks(CHUNK_BYTES)
        // Base64 is ASCII: every chunk boundary is a character boundary.
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let name = if i == 0 {
            COOKIE.to_string()
        } else {
            format!("{COOKIE}-{i}")
        };
        out.push(cookie(&name, p, &a));
    }
    out.push(cookie(CHUNKS_COOKIE, &parts.len().to_string(), &a));
    let gone = attrs(path, "Lax", 0);
    for i in parts.len()..previous.min(MAX_CHUNKS) {
        out.push(cookie(&format!("{COOKIE}-{i}"), "", &gone));
    }
    out
}

/// The `Set-Cookie` values removing a session of `chunks` chunks.
pub fn clear_session(path: &str, chunks: usize) -> Vec<HeaderValue> {
    let gone = attrs(path, "Lax", 0);
    let mut out = vec![cookie(COOKIE, "", &gone), cookie(CHUNKS_COOKIE, "", &gone)];
    for i in 1..chunks.clamp(1, MAX_CHUNKS) {
        out.push(cookie(&format!("{COOKIE}-{i}"), "", &gone));
    }
    out
}

/// How many session chunks a request carries.
pub fn chunk_count(jar: &BTreeMap<String, String>) -> usize {
    jar.get(CHUNKS_COOKIE)
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_CHUNKS)
}

/// The `Set-Cookie` value of the CSRF cookie (a year; it carries no right by itself).
pub fn set_csrf(token: &str, path: &str) -> HeaderValue {
    cookie(CSRF_COOKIE, token, &attrs(path, "Strict", 365 * 86_400))
}

/// Whether `method` changes state (anything but GET, HEAD, OPTIONS).
pub fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Equal strings, compared in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
        && !a.is_empty()
}

/// The CSRF check of a state-changing request: `Ok` when it needs none (no cookie, an
/// `Authorization` header) or sends the token of its `kiali-csrf` cookie.
pub fn check_csrf(h: &HeaderMap) -> std::result::Result<(), String> {
    let has_cookie = h.contains_key(header::COOKIE);
    if !has_cookie && h.contains_key(header::AUTHORIZATION) {
        return Ok(());
    }
    let jar = cookies(h);
    let sent = h
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match jar.get(CSRF_COOKIE) {
        Some(c) if same_token(c, sent) => Ok(()),
        Some(_) if sent.is_empty() => Err(format!(
            "this request changes state and needs the {CSRF_HEADER} header (the csrfToken of /api/auth/info)"
        )),
        Some(_) => Err(format!(
            "the {CSRF_HEADER} header does not match this browser's CSRF cookie"
        )),
        None => Err(format!(
            "this request changes state and needs the {CSRF_COOKIE} cookie and {CSRF_HEADER} header that /api/auth/info gives"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(token_len: usize, expires: i64) -> Session {
        Session {
            username: "alice".into(),
            strategy: "token".into(),
            expires,
            csrf: "c".into(),
            token: Some("t".repeat(token_len)),
            clusters: BTreeMap::new(),
        }
    }

    fn jar_of(values: &[HeaderValue]) -> BTreeMap<String, String> {
        let mut h = HeaderMap::new();
        let pairs: Vec<String> = values
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter(|v| !v.contains("Max-Age=0"))
            .filter_map(|v| v.split(';').next().map(String::from))
            .collect();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&pairs.join("; ")).unwrap(),
        );
        cookies(&h)
    }

    #[test]
    fn a_sealed_session_opens_with_its_key_only_and_until_it_expires() {
        let a = Sealer::new("0123456789abcdef-key-a").unwrap();
        let b = Sealer::new("0123456789abcdef-key-b").unwrap();
        let s = session(10, 1_000);
        let text = a.seal(&s).unwrap();
        assert_eq!(a.open(&text, 999).unwrap(), s);
        assert!(!text.contains("alice"), "sealed, not signed");
        // A rotated key ends the session.
        assert!(matches!(b.open(&text, 999), Err(Error::Unauthorized(_))));
        // Expired.
        let e = a.open(&text, 1_000).unwrap_err().to_string();
        assert!(e.contains("expired"), "{e}");
        // Tampered: any changed character.
        let mut raw = URL_SAFE_NO_PAD.decode(&text).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert!(a.open(&URL_SAFE_NO_PAD.encode(&raw), 999).is_err());
        raw[last] ^= 1;
        raw[NONCE_LEN + 2] ^= 0x40;
        assert!(a.open(&URL_SAFE_NO_PAD.encode(&raw), 999).is_err());
        // Forged or truncated.
        for junk in ["", "x", "not base64!", &text[..20]] {
            assert!(a.open(junk, 0).is_err(), "{junk}");
        }
        // Every seal differs (random nonce).
        assert_ne!(a.seal(&s).unwrap(), text);
    }

    #[test]
    fn short_keys_are_refused_naming_the_field() {
        let e = Sealer::new("short").err().unwrap().to_string();
        assert!(
            e.contains("login_token.signing_key") && e.contains("16"),
            "{e}"
        );
        let r = Sealer::random();
        let text = r.seal(&session(1, 10)).unwrap();
        assert!(r.open(&text, 0).is_ok());
    }

    #[test]
    fn large_sessions_are_chunked_and_read_back() {
        let k = Sealer::new("0123456789abcdef").unwrap();
        for len in [10, 5_000, 20_000] {
            let text = k.seal(&session(len, 10)).unwrap();
            let set = set_session(&text, "/kiali", 60, 0);
            for v in &set {
                let v = v.to_str().unwrap();
                assert!(v.len() < 4096, "{}", v.len());
                assert!(
                    v.contains("HttpOnly; Secure; SameSite=Lax; Max-Age=60")
                        && v.contains("Path=/kiali"),
                    "{v}"
                );
            }
            let jar = jar_of(&set);
            let chunks = text.len().div_ceil(CHUNK_BYTES);
            assert_eq!(chunk_count(&jar), chunks);
            assert_eq!(session_text(&jar).as_deref(), Some(text.as_str()));
            assert_eq!(
                k.open(&session_text(&jar).unwrap(), 0)
                    .unwrap()
                    .token
                    .unwrap()
                    .len(),
                len
            );
        }
        // A missing chunk is no session.
        let text = k.seal(&session(9_000, 10)).unwrap();
        let mut jar = jar_of(&set_session(&text, "", 60, 0));
        jar.remove(&format!("{COOKIE}-1"));
        assert_eq!(session_text(&jar), None);
        // A shorter session removes the chunks a longer one left.
        let removed: Vec<String> = set_session("abc", "", 60, 3)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .filter(|v| v.contains("Max-Age=0"))
            .collect();
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert_eq!(clear_session("/kiali", 3).len(), 4);
    }

    #[test]
    fn writes_need_the_csrf_token_unless_they_carry_no_cookie() {
        let h = |pairs: &[(&'static str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.append(*k, HeaderValue::from_str(v).unwrap());
            }
            m
        };
        assert!(check_csrf(&h(&[("authorization", "Bearer x")])).is_ok());
        assert!(check_csrf(&h(&[])).is_err());
        assert!(check_csrf(&h(&[("cookie", "kiali-csrf=abc"), ("x-csrf-token", "abc")])).is_ok());
        for bad in [
            h(&[("cookie", "kiali-csrf=abc")]),
            h(&[("cookie", "kiali-csrf=abc"), ("x-csrf-token", "abd")]),
            h(&[("cookie", "kiali-token-aes=x"), ("x-csrf-token", "abc")]),
            h(&[
                ("cookie", "kiali-token-aes=x"),
                ("authorization", "Bearer x"),
            ]),
        ] {
            assert!(check_csrf(&bad).is_err(), "{bad:?}");
        }
        assert!(!same_token("", ""));
        assert!(is_write(&Method::POST) && !is_write(&Method::GET));
    }
}
