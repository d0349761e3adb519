//! The allow-list a remote-cluster kubeconfig must pass before the operator mounts it or the
//! server connects with it (the same check in both; Istio closed the same hole in its remote
//! secrets with an allow-list).
//!
//! Accepted: exactly one cluster, one user and one context joining them; the cluster's `server`
//! (an `https://` URL), `certificate-authority-data` (the CA inline), `tls-server-name`,
//! `insecure-skip-tls-verify` (what the remote-secret CLI writes with `--allow-skip-tls-verify`:
//! it weakens only the author's own credential, unlike the fields below); the
//! user's `token` or `client-certificate-data` + `client-key-data`, or an `exec` plugin only when
//! `clustering.enable_exec_provider` is true (as in Kiali). Everything else is refused: file
//! paths (`tokenFile`, `certificate-authority`, `client-certificate`, `client-key`),
//! impersonation (`as`, `as-groups`, `as-uid`, `as-user-extra`), `auth-provider`,
//! `username`/`password`, `proxy-url`, and any key not listed.
//!
//! A [`Refusal`] names the field by its path in the kubeconfig and says why; it never holds a
//! value (an unlisted key's name is shown only when it looks like a key, never its value).

use serde_yaml_ng::{Mapping, Value};

/// The largest kubeconfig looked at (a Secret holds at most 1 MiB anyway).
pub const MAX_KUBECONFIG_BYTES: usize = 1 << 20;

/// Why a kubeconfig is refused: the field (its path) and the reason, never its contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Refusal {
    /// Path of the field in the kubeconfig, e.g. `users[0].user.tokenFile`.
    pub field: String,
    pub reason: String,
}

fn refuse(field: impl Into<String>, reason: impl Into<String>) -> Refusal {
    Refusal {
        field: field.into(),
        reason: reason.into(),
    }
}

/// What a refused user key is, when it is refused for a known reason.
fn refused_user_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "tokenFile" | "client-certificate" | "client-key" => {
            "file paths are not allowed in a remote-cluster kubeconfig (put the credential inline)"
        }
        "as" | "as-groups" | "as-uid" | "as-user-extra" => {
            "impersonation is not allowed in a remote-cluster kubeconfig"
        }
        "auth-provider" => "auth-provider plugins are not allowed in a remote-cluster kubeconfig",
        "username" | "password" => {
            "basic authentication is not allowed in a remote-cluster kubeconfig (use a token or a client certificate)"
        }
        _ => return None,
    })
}

/// A key's name as it may be shown: only when it looks like a kubeconfig key.
fn shown_key(k: &Value) -> String {
    match k.as_str() {
        Some(s)
            if !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            s.to_string()
        }
        _ => "<unlisted key>".to_string(),
    }
}

fn map<'a>(v: &'a Value, field: &str) -> Result<&'a Mapping, Refusal> {
    v.as_mapping()
        .ok_or_else(|| refuse(field, "must be a mapping"))
}

fn string<'a>(m: &'a Mapping, key: &str, field: &str) -> Result<Option<&'a str>, Refusal> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(refuse(format!("{field}.{key}"), "must be a string")),
    }
}

/// Fails on the first key of `m` that is not in `allowed` (refused with `why` when it gives a reason).
fn only_keys(
    m: &Mapping,
    allowed: &[&str],
    field: &str,
    why: &dyn Fn(&str) -> Option<&'static str>,
) -> Result<(), Refusal> {
    for k in m.keys() {
        let name = k.as_str().unwrap_or_default();
        if allowed.contains(&name) {
            continue;
        }
        let shown = shown_key(k);
        let reason = why(name).unwrap_or("not on the allow-list of remote-cluster kubeconfigs");
        return Err(refuse(format!("{field}.{shown}"), reason));
    }
    Ok(())
}

/// The one entry of a kubeconfig list (`clusters`, `users`, `contexts`).
fn one<'a>(root: &'a Mapping, key: &str) -> Result<&'a Mapping, Refusal> {
    let list = match root.get(key) {
        Some(Value::Sequence(s)) => s,
        None | Some(Value::Null) => return Err(refuse(key, "exactly one entry is required")),
        Some(_) => return Err(refuse(key, "must be a list")),
    };
    if list.len() != 1 {
        return Err(refuse(
            key,
            format!("exactly one entry is required, found {}", list.len()),
        ));
    }
    map(&list[0], &format!("{key}[0]"))
}

/// The entry's `name` and its body (`cluster`, `user`, `context`).
fn entry<'a>(e: &'a Mapping, list: &str, body: &str) -> Result<(&'a str, &'a Mapping), Refusal> {
    let field = format!("{list}[0]");
    only_keys(e, &["name", body], &field, &|_| None)?;
    let name = string(e, "name", &field)?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| refuse(format!("{field}.name"), "is required"))?;
    let b = e
        .get(body)
        .ok_or_else(|| refuse(format!("{field}.{body}"), "is required"))?;
    Ok((name, map(b, &format!("{field}.{body}"))?))
}

fn check_server(url: &str, field: &str) -> Result<(), Refusal> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(refuse(field, "must be an https:// URL"));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(refuse(field, "has no host"));
    }
    if authority.contains('@') {
        return Err(refuse(field, "must not hold credentials"));
    }
    if rest.contains('?') || rest.contains('#') {
        return Err(refuse(field, "must not have a query or fragment"));
    }
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse(field, "must not contain spaces"));
    }
    Ok(())
}

fn check_cluster(c: &Mapping) -> Result<(), Refusal> {
    let f = "clusters[0].cluster";
    only_keys(
        c,
        &[
            "server",
            "certificate-authority-data",
            "tls-server-name",
            "insecure-skip-tls-verify",
        ],
        f,
        &|k| match k {
            "certificate-authority" => Some(
                "file paths are not allowed in a remote-cluster kubeconfig (use certificate-authority-data)",
            ),
            "proxy-url" => Some("proxies are not allowed in a remote-cluster kubeconfig"),
            _ => None,
        },
    )?;
    let server = string(c, "server", f)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| refuse(format!("{f}.server"), "is required"))?;
    check_server(server, &format!("{f}.server"))?;
    string(c, "certificate-authority-data", f)?;
    string(c, "tls-server-name", f)?;
    match c.get("insecure-skip-tls-verify") {
        None | Some(Value::Null) | Some(Value::Bool(_)) => Ok(()),
        Some(_) => Err(refuse(
            format!("{f}.insecure-skip-tls-verify"),
            "must be true or false",
        )),
    }
}

fn check_exec(e: &Value) -> Result<(), Refusal> {
    let f = "users[0].user.exec";
    let m = map(e, f)?;
    only_keys(
        m,
        &[
            "command",
            "args",
            "env",
            "apiVersion",
            "installHint",
            "provideClusterInfo",
            "interactiveMode",
        ],
        f,
        &|_| None,
    )?;
    string(m, "command", f)?
        .filter(|c| !c.is_empty())
        .ok_or_else(|| refuse(format!("{f}.command"), "is required"))?;
    Ok(())
}

fn check_user(u: &Mapping, allow_exec: bool) -> Result<(), Refusal> {
    let f = "users[0].user";
    only_keys(
        u,
        &[
            "token",
            "client-certificate-data",
            "client-key-data",
            "exec",
        ],
        f,
        &refused_user_key,
    )?;
    let token = string(u, "token", f)?.is_some_and(|t| !t.is_empty());
    let cert = string(u, "client-certificate-data", f)?.is_some_and(|t| !t.is_empty());
    let key = string(u, "client-key-data", f)?.is_some_and(|t| !t.is_empty());
    let exec = u.get("exec").is_some_and(|e| !e.is_null());
    if exec && !allow_exec {
        return Err(refuse(
            format!("{f}.exec"),
            "exec credential plugins are refused unless clustering.enable_exec_provider is true",
        ));
    }
    if cert != key {
        let missing = if cert {
            "client-key-data"
        } else {
            "client-certificate-data"
        };
        return Err(refuse(
            format!("{f}.{missing}"),
            "a client certificate needs both client-certificate-data and client-key-data",
        ));
    }
    match (token, cert, exec) {
        (false, false, false) => Err(refuse(
            f,
            "no credential: give a token or client-certificate-data and client-key-data",
        )),
        (true, false, false) | (false, true, false) => Ok(()),
        (false, false, true) => check_exec(&u["exec"]),
        _ => Err(refuse(
            f,
            "more than one credential: give exactly one of token, client certificate, exec",
        )),
    }
}

/// Checks a remote-cluster kubeconfig against the allow-list; `allow_exec` is
/// `clustering.enable_exec_provider`.
pub fn check_kubeconfig(text: &str, allow_exec: bool) -> Result<(), Refusal> {
    if text.len() > MAX_KUBECONFIG_BYTES {
        return Err(refuse(
            "<document>",
            format!("larger than {MAX_KUBECONFIG_BYTES} bytes"),
        ));
    }
    let doc: Value =
        serde_yaml_ng::from_str(text).map_err(|_| refuse("<document>", "not a YAML kubeconfig"))?;
    let root = map(&doc, "<document>")?;
    only_keys(
        root,
        &[
            "apiVersion",
            "kind",
            "clusters",
            "users",
            "contexts",
            "current-context",
            "preferences",
        ],
        "<document>",
        &|_| None,
    )
    .map_err(|r| Refusal {
        field: r.field.trim_start_matches("<document>.").to_string(),
        ..r
    })?;
    if !matches!(string(root, "kind", "")?, None | Some("Config")) {
        return Err(refuse("kind", "must be Config"));
    }
    if !matches!(string(root, "apiVersion", "")?, None | Some("v1")) {
        return Err(refuse("apiVersion", "must be v1"));
    }
    if let Some(p) = root.get("preferences").filter(|p| !p.is_null()) {
        let p = map(p, "preferences")?;
        if !p.is_empty() {
            return Err(refuse("preferences", "must be empty"));
        }
    }
    let (cname, cluster) = entry(one(root, "clusters")?, "clusters", "cluster")?;
    check_cluster(cluster)?;
    let (uname, user) = entry(one(root, "users")?, "users", "user")?;
    check_user(user, allow_exec)?;
    let (xname, ctx) = entry(one(root, "contexts")?, "contexts", "context")?;
    let f = "contexts[0].context";
    only_keys(ctx, &["cluster", "user", "namespace"], f, &|_| None)?;
    if string(ctx, "cluster", f)? != Some(cname) {
        return Err(refuse(
            format!("{f}.cluster"),
            "must name the kubeconfig's one cluster",
        ));
    }
    if string(ctx, "user", f)? != Some(uname) {
        return Err(refuse(
            format!("{f}.user"),
            "must name the kubeconfig's one user",
        ));
    }
    string(ctx, "namespace", f)?;
    match string(root, "current-context", "")? {
        None | Some("") => Ok(()),
        Some(c) if c == xname => Ok(()),
        Some(_) => Err(refuse(
            "current-context",
            "must name the kubeconfig's one context",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub const GOOD: &str = r#"apiVersion: v1
kind: Config
clusters:
- name: west
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Zm9v
users:
- name: west
  user:
    token: s3cr3t-token
contexts:
- name: west
  context: {cluster: west, user: west}
current-context: west
preferences: {}
"#;

    fn with_user(extra: &str) -> String {
        GOOD.replace(
            "    token: s3cr3t-token\n",
            &format!("    token: s3cr3t-token\n{extra}"),
        )
    }

    fn with_cluster(extra: &str) -> String {
        GOOD.replace(
            "    certificate-authority-data: Zm9v\n",
            &format!("    certificate-authority-data: Zm9v\n{extra}"),
        )
    }

    #[test]
    fn accepts_token_and_client_certificate() {
        assert_eq!(check_kubeconfig(GOOD, false), Ok(()));
        let cert = GOOD.replace(
            "    token: s3cr3t-token\n",
            "    client-certificate-data: Y2VydA==\n    client-key-data: a2V5\n",
        );
        assert_eq!(check_kubeconfig(&cert, false), Ok(()));
        let no_current = GOOD.replace("current-context: west\n", "");
        assert_eq!(check_kubeconfig(&no_current, false), Ok(()));
    }

    /// Every refused field of the issue, each named in the refusal, none leaking a value.
    #[test]
    fn refuses_each_field_by_name_without_its_value() {
        let cases: Vec<(String, &str, &str)> = vec![
            (
                with_user("    tokenFile: /var/run/secrets/SECRETPATH\n"),
                "users[0].user.tokenFile",
                "file paths",
            ),
            (
                with_user("    client-certificate: /SECRETPATH/c.crt\n"),
                "users[0].user.client-certificate",
                "file paths",
            ),
            (
                with_user("    client-key: /SECRETPATH/c.key\n"),
                "users[0].user.client-key",
                "file paths",
            ),
            (
                with_user("    as: SECRETADMIN\n"),
                "users[0].user.as",
                "impersonation",
            ),
            (
                with_user("    as-groups: [SECRETGROUP]\n"),
                "users[0].user.as-groups",
                "impersonation",
            ),
            (
                with_user("    as-uid: SECRETUID\n"),
                "users[0].user.as-uid",
                "impersonation",
            ),
            (
                with_user("    as-user-extra: {SECRETKEY: [v]}\n"),
                "users[0].user.as-user-extra",
                "impersonation",
            ),
            (
                with_user("    auth-provider: {name: SECRETOIDC}\n"),
                "users[0].user.auth-provider",
                "auth-provider",
            ),
            (
                with_user("    username: SECRETUSER\n"),
                "users[0].user.username",
                "basic authentication",
            ),
            (
                with_user("    password: SECRETPASS\n"),
                "users[0].user.password",
                "basic authentication",
            ),
            (
                with_user(
                    "    exec: {command: SECRETCMD, apiVersion: client.authentication.k8s.io/v1}\n",
                ),
                "users[0].user.exec",
                "enable_exec_provider",
            ),
            (
                with_cluster("    proxy-url: http://SECRETPROXY:3128\n"),
                "clusters[0].cluster.proxy-url",
                "proxies",
            ),
            (
                with_cluster("    certificate-authority: /SECRETPATH/ca.crt\n"),
                "clusters[0].cluster.certificate-authority",
                "file paths",
            ),
            (
                with_cluster("    insecure-skip-tls-verify: SECRET\n"),
                "clusters[0].cluster.insecure-skip-tls-verify",
                "true or false",
            ),
            (
                GOOD.replace("https://127.0.0.1", "http://SECRETHOST"),
                "clusters[0].cluster.server",
                "https://",
            ),
            (
                GOOD.replace("https://127.0.0.1", "https://SECRETUSER:pw@h"),
                "clusters[0].cluster.server",
                "credentials",
            ),
            (
                GOOD.replace(
                    "users:\n",
                    "- name: b\n  cluster: {server: https://SECRETHOST}\nusers:\n",
                ),
                "clusters",
                "found 2",
            ),
            (
                GOOD.replace(
                    "contexts:\n",
                    "- name: b\n  user: {token: SECRETTOKEN2}\ncontexts:\n",
                ),
                "users",
                "found 2",
            ),
            (
                GOOD.replace("current-context: west", "current-context: SECRETCTX"),
                "current-context",
                "one context",
            ),
            (
                GOOD.replace("preferences: {}", "extensions: [{name: SECRETEXT}]"),
                "extensions",
                "allow-list",
            ),
            (
                with_user("    SECRET key with spaces: x\n"),
                "users[0].user.<unlisted key>",
                "allow-list",
            ),
            (
                GOOD.replace("    token: s3cr3t-token\n", "    token: \"\"\n"),
                "users[0].user",
                "no credential",
            ),
            (
                with_user("    client-certificate-data: Y2VydA==\n    client-key-data: a2V5\n"),
                "users[0].user",
                "more than one credential",
            ),
        ];
        for (text, field, reason) in cases {
            let r = check_kubeconfig(&text, false).expect_err(field);
            assert_eq!(r.field, field, "{r}");
            assert!(r.reason.contains(reason), "{field}: {r}");
            let shown = r.to_string();
            assert!(
                !shown.contains("SECRET") && !shown.contains("s3cr3t"),
                "{shown}"
            );
        }
    }

    #[test]
    fn exec_only_with_enable_exec_provider() {
        let exec = GOOD.replace(
            "    token: s3cr3t-token\n",
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: get-token\n      args: [--cluster, west]\n",
        );
        assert_eq!(
            check_kubeconfig(&exec, false).unwrap_err().field,
            "users[0].user.exec"
        );
        assert_eq!(check_kubeconfig(&exec, true), Ok(()));
        let bad = exec.replace(
            "      command: get-token\n",
            "      command: x\n      shell: y\n",
        );
        assert_eq!(
            check_kubeconfig(&bad, true).unwrap_err().field,
            "users[0].user.exec.shell"
        );
        // Impersonation stays refused with exec allowed.
        let imp = exec.replace("    exec:\n", "    as: admin\n    exec:\n");
        assert_eq!(
            check_kubeconfig(&imp, true).unwrap_err().field,
            "users[0].user.as"
        );
    }

    #[test]
    fn refuses_non_kubeconfigs() {
        for text in [
            "",
            "password: hunter2",
            "[1, 2]",
            "not: [a kubeconfig",
            "clusters: 3",
        ] {
            let r = check_kubeconfig(text, true).unwrap_err();
            assert!(!r.to_string().contains("hunter2"), "{r}");
        }
        let big = "#".repeat(MAX_KUBECONFIG_BYTES + 1);
        assert!(check_kubeconfig(&big, true).is_err());
    }

    /// Pieces kubeconfigs are made of, recombined at random (keys from the allow-list and from
    /// the refused fields, values of every YAML shape).
    fn yaml_value() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("server".to_string()),
            Just("certificate-authority-data".to_string()),
            Just("token".to_string()),
            Just("tokenFile".to_string()),
            Just("exec".to_string()),
            Just("command".to_string()),
            Just("as".to_string()),
            Just("client-certificate-data".to_string()),
            Just("client-key-data".to_string()),
            Just("name".to_string()),
            Just("cluster".to_string()),
            Just("user".to_string()),
            Just("context".to_string()),
            Just("insecure-skip-tls-verify".to_string()),
            "[a-z-]{0,6}".prop_map(String::from),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| Value::Number(i.into())),
            prop_oneof![
                Just("https://127.0.0.1:6443".to_string()),
                Just("west".to_string()),
                ".{0,12}",
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 24, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Sequence),
                prop::collection::vec((key.clone(), inner), 0..5).prop_map(|kv| {
                    Value::Mapping(kv.into_iter().map(|(k, v)| (Value::String(k), v)).collect())
                }),
            ]
        })
    }

    fn document() -> impl Strategy<Value = String> {
        let top = prop_oneof![
            Just("clusters".to_string()),
            Just("users".to_string()),
            Just("contexts".to_string()),
            Just("current-context".to_string()),
            Just("kind".to_string()),
            Just("apiVersion".to_string()),
            Just("preferences".to_string()),
            "[a-z]{0,5}".prop_map(String::from),
        ];
        prop::collection::vec((top, yaml_value()), 0..6).prop_map(|kv| {
            let m: Mapping = kv.into_iter().map(|(k, v)| (Value::String(k), v)).collect();
            serde_yaml_ng::to_string(&Value::Mapping(m)).unwrap_or_default()
        })
    }

    /// The number of generated inputs of a property (300,000 structured + 700,000 mutated: a
    /// million in all); `MESHGLASS_PROPTEST_CASES` overrides both.
    fn cases(default: u32) -> u32 {
        std::env::var("MESHGLASS_PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(300_000), failure_persistence: None, ..ProptestConfig::default() })]

        /// Structured kubeconfig-shaped documents: never a panic, and an accepted one always has
        /// exactly one cluster with an https server and one user with one credential.
        #[test]
        fn structured_documents_never_panic(doc in document(), allow_exec in any::<bool>()) {
            if check_kubeconfig(&doc, allow_exec).is_ok() {
                let v: Value = serde_yaml_ng::from_str(&doc).unwrap();
                prop_assert_eq!(v["clusters"].as_sequence().map(Vec::len), Some(1));
                let server = v["clusters"][0]["cluster"]["server"].as_str().unwrap_or_default();
                prop_assert!(server.starts_with("https://"));
                prop_assert_eq!(v["users"].as_sequence().map(Vec::len), Some(1));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(700_000), failure_persistence: None, ..ProptestConfig::default() })]

        /// Mutations of a valid kubeconfig's text (bytes replaced, cut, inserted): never a panic.
        #[test]
        fn mutated_text_never_panics(
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..6),
            allow_exec in any::<bool>(),
        ) {
            let mut bytes = GOOD.as_bytes().to_vec();
            for (at, b, op) in edits {
                let i = at.index(bytes.len().max(1)).min(bytes.len());
                match op {
                    0 if i < bytes.len() => bytes[i] = b,
                    1 => bytes.insert(i, b),
                    _ => bytes.truncate(i),
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = check_kubeconfig(&text, allow_exec);
        }
    }
}
