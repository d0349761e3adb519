//! `meshglass-operator remote-secret`: the kiali-prepare-remote-cluster.sh equivalent.
//!
//! It gives the server read access to a remote cluster: on the remote cluster a ServiceAccount with the server's
//! read-only role and a long-lived token Secret (`--process-remote-resources true`, else the ones the operator
//! made for a remote-mode Kiali CR), and on the Kiali cluster a Secret `kiali-remote-cluster-secret-<name>`
//! labelled `kiali.io/multiCluster: "true"` whose key `<name>` holds a one-cluster kubeconfig. Before writing on
//! the Kiali cluster it proves that kubeconfig against the remote API (SelfSubjectAccessReviews).
//!
//! Layout: [`args`] (options, validation), [`contexts`] (reading the user's kubeconfig), [`objects`] (pure
//! builders), [`run`] (the pipeline and its report), `plan` (what a run will write and check), `apply` (the
//! one apply interface: dry run or real, with rollback), `token` and `verify` (the credential and its proof),
//! `delete` (`--delete`), `cluster` (clients per context), [`error`].

mod apply;
pub mod args;
mod cluster;
pub mod contexts;
mod delete;
pub mod error;
pub mod objects;
mod outcome;
mod plan;
pub mod run;
mod token;
mod verify;

pub use args::{Args, parse_args};
pub use error::{Error, Result};
pub use outcome::{Action, Change, Outcome, Side};
pub use run::run;

/// Entry point of `meshglass-operator remote-secret`: logs go to stderr (stdout carries the summary, or the
/// `--dry-run` YAML), the pipeline runs on a runtime of its own. A failed run prints `error: <one line>` on stderr
/// and exits with code 1; only a runtime that cannot start is returned as an error.
pub fn main(args: Args) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Fails only when a subscriber is already installed, which is then used as is.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Output(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(async { run(&args, &mut std::io::stdout()).await });
    drop(runtime);
    if let Err(err) = result {
        // One line on stderr and exit code 1, whatever RUST_BACKTRACE says.
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        eprintln!("error: {err}");
        std::process::exit(1);
    }
    Ok(())
}
