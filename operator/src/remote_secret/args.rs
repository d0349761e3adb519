//! Command-line options of `meshglass-operator remote-secret`: the option names, value forms (`--view-only false`)
//! and defaults of kiali-prepare-remote-cluster.sh, so that its documented invocations translate one to one.

use std::{path::PathBuf, time::Duration};

use clap::{ArgAction, Parser};

use meshglass_crds::names::{is_dns_label, is_dns_subdomain};

use super::error::{Error, Result};

/// The context name that stands for the kubeconfig's current context (as in kiali-prepare-remote-cluster.sh).
pub const CURRENT_CONTEXT: &str = "current";

/// How long to wait for a token Secret to be populated unless told otherwise.
pub const DEFAULT_TOKEN_TIMEOUT: Duration = Duration::from_secs(60);

/// Create (or delete) what a Kiali-compatible server needs to read a remote cluster: a ServiceAccount with the
/// server's read-only role on the remote cluster, and on the Kiali cluster a Secret
/// `kiali-remote-cluster-secret-<name>` holding a kubeconfig for it.
#[derive(Debug, Clone, clap::Args)]
#[command(
    about = "Create the remote-cluster Secret that lets the server read another cluster \
             (kiali-prepare-remote-cluster.sh equivalent)",
    after_help = "Boolean options take 'true' or 'false' (a bare flag means true), e.g. \
                  `--view-only false --process-remote-resources false`. A context of 'current' means the \
                  kubeconfig's current context."
)]
pub struct Args {
    /// Context of the cluster where the server (Kiali) runs; the Secret is written there.
    #[arg(long, value_name = "CONTEXT", default_value = "east")]
    pub kiali_cluster_context: String,

    /// Context of the remote cluster to add.
    #[arg(long, value_name = "CONTEXT", default_value = "west")]
    pub remote_cluster_context: String,

    /// Namespace of the server on the Kiali cluster; the Secret is written there.
    #[arg(long, value_name = "NAMESPACE", default_value = "istio-system")]
    pub kiali_cluster_namespace: String,

    /// Namespace of the ServiceAccount and its token Secret on the remote cluster (created when missing with
    /// --process-remote-resources true).
    #[arg(long, value_name = "NAMESPACE", default_value = "kiali-access-ns")]
    pub remote_cluster_namespace: String,

    /// Name of the remote ServiceAccount, ClusterRole(-viewer), ClusterRoleBinding and token Secret. With
    /// --process-remote-resources false: the token Secret (or ServiceAccount) the remote operator made.
    #[arg(long, value_name = "NAME", default_value = "kiali-remote-access")]
    pub kiali_resource_name: String,

    /// Name of the remote cluster as Istio knows it; default: the cluster of the remote context.
    #[arg(long, value_name = "NAME")]
    pub remote_cluster_name: Option<String>,

    /// URL of the remote API server as the server will reach it; default: the remote context's server.
    #[arg(long, value_name = "URL", alias = "remote_cluster_url")]
    pub remote_cluster_url: Option<String>,

    /// Give the server read-only access to the remote cluster.
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          action = ArgAction::Set)]
    pub view_only: bool,

    /// Create (or delete) the ServiceAccount, role, binding and token Secret on the remote cluster directly.
    /// With false, use the token Secret that the operator made for a remote-mode Kiali CR.
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          action = ArgAction::Set)]
    pub process_remote_resources: bool,

    /// Create (or delete) the remote-cluster Secret on the Kiali cluster.
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          action = ArgAction::Set)]
    pub process_kiali_secret: bool,

    /// Allow the generated kubeconfig to skip TLS verification when no CA for the remote API is known.
    #[arg(long, value_name = "BOOL", default_value_t = false, num_args = 0..=1, default_missing_value = "true",
          action = ArgAction::Set)]
    pub allow_skip_tls_verify: bool,

    /// Print every object that would be written, as multi-document YAML, and change nothing.
    #[arg(long, value_name = "BOOL", default_value_t = false, num_args = 0..=1, default_missing_value = "true",
          action = ArgAction::Set)]
    pub dry_run: bool,

    /// Delete what an earlier run created (on both sides, as selected by the --process-* options).
    #[arg(long, value_name = "BOOL", default_value_t = false, num_args = 0..=1, default_missing_value = "true",
          action = ArgAction::Set)]
    pub delete: bool,

    /// Kubeconfig file with both contexts; default: $KUBECONFIG, else ~/.kube/config.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// How long to wait for the remote token Secret to hold a token.
    #[arg(skip = DEFAULT_TOKEN_TIMEOUT)]
    pub token_timeout: Duration,
}

/// Parses the remote-secret options alone (what follows `meshglass-operator remote-secret`); `argv[0]` is the
/// program name. Used by tests and by callers that run the CLI in-process.
pub fn parse_args<I, T>(argv: I) -> std::result::Result<Args, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    #[derive(Parser)]
    #[command(name = "remote-secret")]
    struct Standalone {
        #[command(flatten)]
        args: Args,
    }
    Standalone::try_parse_from(argv).map(|s| s.args)
}

/// Allowed remote cluster names: a Secret data key (`[-._a-zA-Z0-9]+`, as Kiali requires) that also yields a
/// valid Secret name once sanitized, hence starting and ending with a letter or digit.
pub const CLUSTER_NAME_PATTERN: &str = "^[a-zA-Z0-9]([-._a-zA-Z0-9]*[a-zA-Z0-9])?$";
/// `kiali-remote-cluster-secret-` plus the sanitized name must fit a 253-character object name.
pub const CLUSTER_NAME_MAX: usize = 253 - super::objects::KIALI_SECRET_PREFIX.len();

/// Checks a remote cluster name against [`CLUSTER_NAME_PATTERN`].
pub fn validate_cluster_name(name: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    let ends_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ends_ok && name.chars().all(allowed) && name.len() <= CLUSTER_NAME_MAX {
        Ok(())
    } else {
        Err(Error::InvalidClusterName {
            name: name.to_string(),
            pattern: CLUSTER_NAME_PATTERN,
            max: CLUSTER_NAME_MAX,
        })
    }
}

impl Args {
    /// Checks the options that need no cluster: distinct contexts, well-formed names and URL.
    pub fn validate(&self) -> Result<()> {
        if self.kiali_cluster_context == self.remote_cluster_context {
            return Err(Error::SameContext(self.kiali_cluster_context.clone()));
        }
        for (option, value) in [
            ("--kiali-cluster-namespace", &self.kiali_cluster_namespace),
            ("--remote-cluster-namespace", &self.remote_cluster_namespace),
        ] {
            if !is_dns_label(value) {
                return Err(Error::InvalidArg {
                    option,
                    value: value.clone(),
                    reason: "a namespace is lower-case letters, digits and '-' (at most 63, starting and ending \
                             with a letter or digit); pass a valid namespace",
                });
            }
        }
        // The ClusterRole may get a "-viewer" suffix, so leave room for it.
        if !is_dns_subdomain(&self.kiali_resource_name)
            || self.kiali_resource_name.len() > 253 - "-viewer".len()
        {
            return Err(Error::InvalidArg {
                option: "--kiali-resource-name",
                value: self.kiali_resource_name.clone(),
                reason: "it names Kubernetes objects: lower-case letters, digits, '-' and '.' (at most 246); pass a \
                         valid name",
            });
        }
        if let Some(name) = &self.remote_cluster_name {
            validate_cluster_name(name)?;
        }
        if let Some(url) = &self.remote_cluster_url {
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
            let ok = host.is_some_and(|h| {
                !h.is_empty() && !h.contains(char::is_whitespace) && !h.contains('@')
            });
            if !ok {
                return Err(Error::InvalidArg {
                    option: "--remote-cluster-url",
                    value: url.clone(),
                    reason: "expected the remote API server URL, like https://api.west.example:6443",
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Args {
        let mut argv = vec!["remote-secret"];
        argv.extend_from_slice(extra);
        parse_args(argv).expect("parses")
    }

    #[test]
    fn defaults_are_those_of_the_script() {
        let a = parse(&[]);
        assert_eq!(a.kiali_cluster_context, "east");
        assert_eq!(a.remote_cluster_context, "west");
        assert_eq!(a.kiali_cluster_namespace, "istio-system");
        assert_eq!(a.remote_cluster_namespace, "kiali-access-ns");
        assert_eq!(a.kiali_resource_name, "kiali-remote-access");
        assert!(a.view_only && a.process_remote_resources && a.process_kiali_secret);
        assert!(!a.allow_skip_tls_verify && !a.dry_run && !a.delete);
        assert_eq!(a.remote_cluster_name, None);
        assert_eq!(a.token_timeout, DEFAULT_TOKEN_TIMEOUT);
        a.validate().expect("defaults are valid");
    }

    #[test]
    fn walkthrough_command_translates() {
        let a = parse(&[
            "--kiali-cluster-context",
            "east",
            "--remote-cluster-context",
            "west",
        ]);
        assert_eq!(
            (
                a.kiali_cluster_context.as_str(),
                a.remote_cluster_context.as_str()
            ),
            ("east", "west")
        );
        a.validate().expect("valid");
    }

    #[test]
    fn ossm_command_translates() {
        let a = parse(&[
            "--kiali-cluster-context",
            "cluster1",
            "--remote-cluster-context",
            "cluster2",
            "--view-only",
            "false",
            "--kiali-resource-name",
            "kiali-service-account",
            "--remote-cluster-namespace",
            "istio-system",
            "--process-kiali-secret",
            "true",
            "--process-remote-resources",
            "false",
            "--remote-cluster-name",
            "cluster2",
        ]);
        assert!(!a.view_only);
        assert!(a.process_kiali_secret);
        assert!(!a.process_remote_resources);
        assert_eq!(a.kiali_resource_name, "kiali-service-account");
        assert_eq!(a.remote_cluster_namespace, "istio-system");
        assert_eq!(a.remote_cluster_name.as_deref(), Some("cluster2"));
        a.validate().expect("valid");
    }

    #[test]
    fn bare_boolean_flags_mean_true() {
        let a = parse(&["--dry-run", "--delete", "--allow-skip-tls-verify"]);
        assert!(a.dry_run && a.delete && a.allow_skip_tls_verify);
        let b = parse(&[
            "--dry-run",
            "false",
            "--remote_cluster_url",
            "https://10.0.0.1:6443",
        ]);
        assert!(!b.dry_run);
        assert_eq!(
            b.remote_cluster_url.as_deref(),
            Some("https://10.0.0.1:6443")
        );
    }

    #[test]
    fn booleans_reject_other_words() {
        assert!(parse_args(["remote-secret", "--view-only", "maybe"]).is_err());
        assert!(parse_args(["remote-secret", "--unknown-option", "x"]).is_err());
    }

    #[test]
    fn same_context_twice_is_refused() {
        let a = parse(&[
            "--kiali-cluster-context",
            "east",
            "--remote-cluster-context",
            "east",
        ]);
        let err = a.validate().expect_err("same context");
        assert_eq!(err.category(), "same_context");
        assert!(err.to_string().contains("\"east\""), "{err}");
    }

    #[test]
    fn cluster_names() {
        for ok in ["west", "cluster2", "Cluster_2.prod", "a", "a-b.c_d"] {
            validate_cluster_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "-west",
            "west-",
            "we st",
            "arn:aws:eks:x",
            "west/1",
            "ö",
            ".west",
        ] {
            let err = validate_cluster_name(bad).expect_err(bad);
            assert_eq!(err.category(), "invalid_cluster_name");
            assert!(err.to_string().contains(CLUSTER_NAME_PATTERN), "{err}");
        }
        assert!(validate_cluster_name(&"a".repeat(CLUSTER_NAME_MAX)).is_ok());
        assert!(validate_cluster_name(&"a".repeat(CLUSTER_NAME_MAX + 1)).is_err());
    }

    #[test]
    fn invalid_names_and_urls_are_refused() {
        let cases: &[&[&str]] = &[
            &["--remote-cluster-name", "bad name"],
            &["--kiali-cluster-namespace", "Istio-System"],
            &["--remote-cluster-namespace", ""],
            &["--kiali-resource-name", "Kiali"],
            &["--remote-cluster-url", "not a url"],
            &["--remote-cluster-url", "ftp://x"],
        ];
        for case in cases {
            assert!(
                parse(case).validate().is_err(),
                "{case:?} should be refused"
            );
        }
    }
}
