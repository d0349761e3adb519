//! Object names and labels derived from a Kiali CR (DESIGN.md "Compatibility contract").

use std::collections::BTreeMap;

/// `<instance>-service-account`.
pub fn service_account(instance: &str) -> String {
    format!("{instance}-service-account")
}

/// ClusterRole (and Role) name: `<instance>`, or `<instance>-viewer` in view-only mode.
pub fn role(instance: &str, view_only: bool) -> String {
    if view_only {
        format!("{instance}-viewer")
    } else {
        instance.to_string()
    }
}

/// Remote mode: the long-lived token Secret of the ServiceAccount.
/// Secret holding the key that seals session cookies (Kiali's `kiali-signing-key`).
pub fn signing_key_secret(instance: &str) -> String {
    format!("{instance}-signing-key")
}

/// Data key of the signing-key Secret.
pub const SIGNING_KEY_DATA_KEY: &str = "key";
/// The server's environment variable carrying the signing key.
pub const SIGNING_KEY_ENV: &str = "LOGIN_TOKEN_SIGNING_KEY";
/// Pod-template annotation: hash of the signing key, so that rotating it rolls the pods.
pub const SIGNING_KEY_HASH_ANNOTATION: &str = "meshglass.io/signing-key-hash";

pub fn token_secret(instance: &str) -> String {
    format!("{instance}-service-account-token")
}

/// Labels every object of an instance carries (Kiali's set).
pub fn labels(instance: &str, version: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app".to_string(), "kiali".to_string()),
        ("app.kubernetes.io/name".to_string(), "kiali".to_string()),
        (
            "app.kubernetes.io/instance".to_string(),
            instance.to_string(),
        ),
        ("app.kubernetes.io/version".to_string(), version.to_string()),
        ("app.kubernetes.io/part-of".to_string(), "kiali".to_string()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "meshglass-operator".to_string(),
        ),
        ("version".to_string(), version.to_string()),
    ])
}

/// The Deployment's selector and the Service's selector.
pub fn selector(instance: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "kiali".to_string()),
        (
            "app.kubernetes.io/instance".to_string(),
            instance.to_string(),
        ),
    ])
}

/// Label naming the CR that owns an object, on every child (cluster-scoped ones and those outside
/// the CR's namespace have no owner reference, so cleanup and pruning find them by this label).
pub const OWNER_NAMESPACE_LABEL: &str = "meshglass.io/kiali-namespace";
pub const OWNER_NAME_LABEL: &str = "meshglass.io/kiali-name";

/// Pod-template annotation: hash of config.yaml; a change rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "meshglass.io/config-hash";
/// Pod-template annotation: hash of the mounted remote-cluster secrets.
pub const SECRETS_HASH_ANNOTATION: &str = "meshglass.io/secrets-hash";
/// Annotation on a remote-cluster secret naming its cluster.
pub const CLUSTER_ANNOTATION: &str = "kiali.io/cluster";
/// Finalizer removing what garbage collection cannot reach.
pub const FINALIZER: &str = "kiali.io/finalizer";

/// Label value naming the owner CR; long names are shortened to fit the 63-character limit.
pub fn owner_label_value(name: &str) -> String {
    if name.len() <= 63 {
        return name.to_string();
    }
    // FNV-1a keeps the value stable and unique enough without a crypto dependency here.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    let prefix: String = name.chars().take(46).collect();
    format!("{}-{h:016x}", prefix.trim_end_matches(['-', '.']))
}

/// RFC 1123 label.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain (Secret names).
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// `key=value` (Kiali's `autodetect_secrets.label`) → (key, value).
pub fn parse_label_selector(s: &str) -> Option<(String, String)> {
    let (k, v) = s.split_once('=')?;
    let (k, v) = (k.trim(), v.trim());
    (!k.is_empty() && !v.is_empty()).then(|| (k.to_string(), v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_label_fits() {
        assert_eq!(owner_label_value("kiali"), "kiali");
        let long = "a".repeat(100);
        let v = owner_label_value(&long);
        assert!(v.len() <= 63, "{v}");
        assert_eq!(v, owner_label_value(&long));
    }

    #[test]
    fn selector_parses() {
        assert_eq!(
            parse_label_selector("kiali.io/multiCluster=true"),
            Some(("kiali.io/multiCluster".into(), "true".into()))
        );
        assert_eq!(parse_label_selector("x"), None);
    }
}
