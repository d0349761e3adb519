//! Remote-cluster secret checks (pure). A valid secret maps each data key (a cluster name) to a
//! kubeconfig that passes the allow-list of [`meshglass_crds::kubeconfig`] (the one the server
//! applies too). Problems name the key and the field, never the contents.

use k8s_openapi::api::core::v1::Secret;
use meshglass_crds::kubeconfig::check_kubeconfig;

/// The cluster names a secret provides, or why it cannot be used; `allow_exec` is
/// `clustering.enable_exec_provider`.
pub fn check_remote_secret(secret: &Secret, allow_exec: bool) -> Result<Vec<String>, String> {
    let data = secret
        .data
        .as_ref()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| "secret has no data".to_string())?;
    let mut clusters = Vec::new();
    for (key, value) in data {
        let text =
            std::str::from_utf8(&value.0).map_err(|_| format!("key {key:?} is not UTF-8 text"))?;
        check_kubeconfig(text, allow_exec)
            .map_err(|r| format!("key {key:?}: kubeconfig refused: {r}"))?;
        clusters.push(key.clone());
    }
    Ok(clusters)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::secret_data;

    pub const KUBECONFIG: &str = r#"apiVersion: v1
kind: Config
clusters:
- name: west
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Zm9v
users:
- name: west
  user:
    token: abc
contexts:
- name: west
  context: {cluster: west, user: west}
current-context: west
"#;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(secret_data(pairs)),
            ..Default::default()
        }
    }

    #[test]
    fn accepts_one_cluster_kubeconfigs() {
        assert_eq!(
            check_remote_secret(&secret(&[("west", KUBECONFIG)]), false),
            Ok(vec!["west".to_string()])
        );
    }

    #[test]
    fn rejects_other_content_without_leaking_it() {
        let err =
            check_remote_secret(&secret(&[("west", "password: hunter2")]), false).unwrap_err();
        assert!(err.contains("west") && !err.contains("hunter2"), "{err}");
        let two = KUBECONFIG.replace(
            "users:",
            "- name: b\n  cluster: {server: https://x}\nusers:",
        );
        assert!(
            check_remote_secret(&secret(&[("west", &two)]), false)
                .unwrap_err()
                .contains("found 2")
        );
        assert!(check_remote_secret(&Secret::default(), false).is_err());
    }

    #[test]
    fn the_remote_secret_cli_writes_accepted_kubeconfigs() {
        use crate::remote_secret::objects::{Trust, kubeconfig_yaml, remote_kubeconfig};
        for trust in [Trust::Ca(b"PEM".to_vec()), Trust::SkipVerify] {
            let kc = remote_kubeconfig("west", "https://127.0.0.1:6443", &trust, "tok").unwrap();
            let text = kubeconfig_yaml(&kc).unwrap();
            assert_eq!(
                check_remote_secret(&secret(&[("west", &text)]), false),
                Ok(vec!["west".to_string()]),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_token_files_and_exec_unless_enabled() {
        let file = KUBECONFIG.replace("    token: abc\n", "    tokenFile: /var/run/secret-path\n");
        let err = check_remote_secret(&secret(&[("west", &file)]), true).unwrap_err();
        assert!(
            err.contains("west")
                && err.contains("users[0].user.tokenFile")
                && !err.contains("secret-path"),
            "{err}"
        );
        let exec = KUBECONFIG.replace("    token: abc\n", "    exec: {command: get-token}\n");
        let err = check_remote_secret(&secret(&[("west", &exec)]), false).unwrap_err();
        assert!(err.contains("enable_exec_provider"), "{err}");
        assert_eq!(
            check_remote_secret(&secret(&[("west", &exec)]), true),
            Ok(vec!["west".to_string()])
        );
    }
}
