//! `meshglass-operator remote-secret`: the kiali-prepare-remote-cluster.sh equivalent.
//!
//! It gives the server read access to a remote cluster: on the remote cluster a ServiceAccount with the server's
//! read-only role and a long-lived token Secret (`--process-remote-resources true`, else the ones the operator
//! made for a remote-mode Kiali CR), and on the Kiali cluster a Secret `kiali-remote-cluster-secret-<name>`
//! labelled `kiali.io/multiCluster: "true"` whose key `<name>` holds a one-cluster kubeconfig. Before writing on
//! the Kiali cluster it proves that kubeconfig against the remote API (SelfSubjectAccessReviews).
//!
//! Layout: [`args`] (options, validation), [`contexts`] (reading the user's kubeconfig), [`objects`] (pure
//! builders), [`run`] (the pipeline that talks to the clusters), [`error`].

pub mod args;
pub mod contexts;
pub mod error;
pub mod objects;
pub mod run;

pub use args::{Args, parse_args};
pub use error::{Error, Result};
pub use run::{Action, Change, Outcome, Side, run};

/// Runs the CLI with its options and prints a one-line error on failure; returns the process exit code.
pub async fn main(args: Args) -> std::process::ExitCode {
    let mut stdout = std::io::stdout();
    match run(&args, &mut stdout).await {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
