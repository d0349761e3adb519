//! Remote-cluster secret checks (pure). A valid secret maps each data key (a cluster name) to a
//! kubeconfig with exactly one cluster and one user. Problems name the key, never the contents.

use k8s_openapi::api::core::v1::Secret;
use kube::config::Kubeconfig;

/// The cluster names a secret provides, or why it cannot be used.
pub fn check_remote_secret(secret: &Secret) -> Result<Vec<String>, String> {
    let data = secret
        .data
        .as_ref()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| "secret has no data".to_string())?;
    let mut clusters = Vec::new();
    for (key, value) in data {
        let text =
            std::str::from_utf8(&value.0).map_err(|_| format!("key {key:?} is not UTF-8 text"))?;
        let kc =
            Kubeconfig::from_yaml(text).map_err(|_| format!("key {key:?} is not a kubeconfig"))?;
        if kc.clusters.len() != 1 {
            return Err(format!(
                "key {key:?} holds {} clusters, expected exactly one",
                kc.clusters.len()
            ));
        }
        if kc.auth_infos.len() != 1 {
            return Err(format!(
                "key {key:?} holds {} users, expected exactly one",
                kc.auth_infos.len()
            ));
        }
        let server = kc.clusters[0]
            .cluster
            .as_ref()
            .and_then(|c| c.server.as_deref())
            .unwrap_or_default();
        if server.is_empty() {
            return Err(format!("key {key:?}: the cluster has no server URL"));
        }
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
            check_remote_secret(&secret(&[("west", KUBECONFIG)])),
            Ok(vec!["west".to_string()])
        );
    }

    #[test]
    fn rejects_other_content_without_leaking_it() {
        let err = check_remote_secret(&secret(&[("west", "password: hunter2")])).unwrap_err();
        assert!(err.contains("west") && !err.contains("hunter2"), "{err}");
        let two = KUBECONFIG.replace(
            "users:",
            "- name: b\n  cluster: {server: https://x}\nusers:",
        );
        assert!(
            check_remote_secret(&secret(&[("west", &two)]))
                .unwrap_err()
                .contains("2 clusters")
        );
        assert!(check_remote_secret(&Secret::default()).is_err());
    }
}
