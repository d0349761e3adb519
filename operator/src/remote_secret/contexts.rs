//! Reading the user's kubeconfig: which contexts exist, which cluster and server a context points at, and what
//! CA (if any) the kubeconfig holds for it. Pure functions over kube's `Kubeconfig`.

use kube::config::{Cluster, Kubeconfig};

use super::{
    args::CURRENT_CONTEXT,
    error::{Error, Result},
};

/// Resolves a context option (`current` = the kubeconfig's current context) to an existing context name.
pub fn resolve_context(
    kubeconfig: &Kubeconfig,
    option: &'static str,
    given: &str,
) -> Result<String> {
    let name = if given == CURRENT_CONTEXT {
        match &kubeconfig.current_context {
            Some(current) if !current.is_empty() => current.clone(),
            _ => {
                return Err(Error::InvalidArg {
                    option,
                    value: given.to_string(),
                    reason: "the kubeconfig has no current context; pass a context name",
                });
            }
        }
    } else {
        given.to_string()
    };
    if kubeconfig.contexts.iter().any(|c| c.name == name) {
        Ok(name)
    } else {
        let mut known: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        known.sort_unstable();
        Err(Error::UnknownContext {
            option,
            context: name,
            known: if known.is_empty() {
                "(none)".to_string()
            } else {
                known.join(", ")
            },
        })
    }
}

/// The cluster entry a (resolved) context points at: its name and its settings.
pub fn context_cluster<'a>(
    kubeconfig: &'a Kubeconfig,
    context: &str,
) -> Result<(&'a str, &'a Cluster)> {
    let cluster_name = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.as_str())
        .unwrap_or_default();
    kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_ref().map(|cluster| (c.name.as_str(), cluster)))
        .ok_or_else(|| Error::NoServerUrl {
            context: context.to_string(),
            cluster: cluster_name.to_string(),
        })
}

/// What the kubeconfig says about trusting a cluster's API server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeconfigTrust {
    /// PEM bytes from `certificate-authority-data` or the `certificate-authority` file.
    Ca(Vec<u8>),
    /// `insecure-skip-tls-verify: true` and no CA.
    Insecure,
    /// Neither: the system roots would be used.
    Nothing,
}

/// Reads the CA of a cluster entry (inline data, else the file it names).
pub fn kubeconfig_trust(cluster_name: &str, cluster: &Cluster) -> Result<KubeconfigTrust> {
    use base64::Engine as _;
    if let Some(data) = cluster
        .certificate_authority_data
        .as_deref()
        .filter(|d| !d.trim().is_empty())
    {
        let pem = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|_| Error::CaFile {
                cluster: cluster_name.to_string(),
                path: "certificate-authority-data".to_string(),
                cause: "not valid base64".to_string(),
            })?;
        return Ok(KubeconfigTrust::Ca(pem));
    }
    if let Some(path) = cluster
        .certificate_authority
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        let pem = std::fs::read(path).map_err(|e| Error::CaFile {
            cluster: cluster_name.to_string(),
            path: path.to_string(),
            cause: e.kind().to_string(),
        })?;
        return Ok(KubeconfigTrust::Ca(pem));
    }
    if cluster.insecure_skip_tls_verify == Some(true) {
        Ok(KubeconfigTrust::Insecure)
    } else {
        Ok(KubeconfigTrust::Nothing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig() -> Kubeconfig {
        Kubeconfig::from_yaml(
            r#"
apiVersion: v1
kind: Config
current-context: east
contexts:
- name: east
  context: {cluster: east-cluster, user: admin}
- name: west
  context: {cluster: west-cluster, user: admin}
- name: nocluster
  context: {cluster: missing, user: admin}
clusters:
- name: east-cluster
  cluster: {server: "https://127.0.0.1:1", certificate-authority-data: UEVN}
- name: west-cluster
  cluster: {server: "https://127.0.0.1:2", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: x}
"#,
        )
        .expect("test kubeconfig")
    }

    #[test]
    fn contexts_resolve_and_current_is_understood() {
        let kc = kubeconfig();
        assert_eq!(
            resolve_context(&kc, "--kiali-cluster-context", "west").expect("west"),
            "west"
        );
        assert_eq!(
            resolve_context(&kc, "--kiali-cluster-context", "current").expect("current"),
            "east"
        );
    }

    #[test]
    fn unknown_context_lists_the_known_ones() {
        let err = resolve_context(&kubeconfig(), "--remote-cluster-context", "north")
            .expect_err("unknown");
        assert_eq!(err.category(), "unknown_context");
        let msg = err.to_string();
        assert!(
            msg.contains("\"north\"") && msg.contains("east, nocluster, west"),
            "{msg}"
        );
        assert!(msg.contains("--remote-cluster-context"), "{msg}");
    }

    #[test]
    fn clusters_and_trust_are_read() {
        let kc = kubeconfig();
        let (name, east) = context_cluster(&kc, "east").expect("east");
        assert_eq!(name, "east-cluster");
        assert_eq!(
            kubeconfig_trust(name, east).expect("trust"),
            KubeconfigTrust::Ca(b"PEM".to_vec())
        );
        let (name, west) = context_cluster(&kc, "west").expect("west");
        assert_eq!(
            kubeconfig_trust(name, west).expect("trust"),
            KubeconfigTrust::Insecure
        );
        assert_eq!(
            context_cluster(&kc, "nocluster")
                .expect_err("missing")
                .category(),
            "no_server_url"
        );
    }

    #[test]
    fn ca_file_is_read_and_a_missing_one_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, b"FILEPEM").expect("write");
        let cluster = Cluster {
            certificate_authority: Some(path.display().to_string()),
            ..Default::default()
        };
        assert_eq!(
            kubeconfig_trust("c", &cluster).expect("trust"),
            KubeconfigTrust::Ca(b"FILEPEM".to_vec())
        );
        let missing = Cluster {
            certificate_authority: Some(dir.path().join("nope").display().to_string()),
            ..Default::default()
        };
        assert_eq!(
            kubeconfig_trust("c", &missing)
                .expect_err("missing")
                .category(),
            "ca_file"
        );
        assert_eq!(
            kubeconfig_trust("c", &Cluster::default()).expect("trust"),
            KubeconfigTrust::Nothing
        );
    }
}
