//! The remote-secret pipeline: read the kubeconfig → validate → plan ([`super::plan`]: every check that needs
//! no write, and the remote writes) → apply them ([`super::apply`], for real or as a dry run) → token → kubeconfig
//! for the server → prove it against the remote API ([`super::verify`]) → write the Secret on the Kiali cluster.
//! When a later step fails, the remote objects this run created are removed again, so a failed run leaves
//! nothing half-written. `--delete` is [`super::delete`].

use std::io::Write;

use kube::config::Kubeconfig;
use tracing::info;

use super::{
    apply::{Apply, DryRun, Live},
    args::Args,
    cluster::{Cluster, connect},
    delete::delete,
    error::{Error, Result, describe_kubeconfig},
    objects,
    outcome::{Action, Outcome, Side, print_actions},
    plan::{self, Plan, kiali_write},
    verify::server_kubeconfig,
};

pub use super::token::PLACEHOLDER_TOKEN;

/// Runs the CLI, as `meshglass-operator remote-secret` does: progress goes to the tracing log, the action summary
/// (or, with `--dry-run`, the YAML of every object) to `out`.
pub async fn run<W: Write>(args: &Args, out: &mut W) -> Result<Outcome> {
    args.validate()?;
    let kubeconfig = load_kubeconfig(args)?;
    let plan = Plan::new(args, &kubeconfig)?;
    info!(cluster = %plan.cluster_name, remote_context = %plan.remote_context, "remote-secret");
    let mut outcome = Outcome {
        cluster_name: plan.cluster_name.clone(),
        secret_name: objects::kiali_secret_name(&plan.cluster_name),
        actions: Vec::new(),
    };
    if !args.process_remote_resources && !args.process_kiali_secret {
        writeln!(
            out,
            "nothing to do: both --process-remote-resources and --process-kiali-secret are false"
        )
        .map_err(|e| Error::Output(e.to_string()))?;
        return Ok(outcome);
    }
    if args.delete {
        delete(args, &plan, &kubeconfig, &mut outcome).await?;
        print_actions(out, &outcome.actions)?;
        return Ok(outcome);
    }

    let remote = connect(&kubeconfig, &plan.remote_context, Side::Remote).await?;
    let kiali = match &plan.kiali_context {
        Some(ctx) => Some(connect(&kubeconfig, ctx, Side::Kiali).await?),
        None => None,
    };
    let clusters = (&remote, kiali.as_ref());
    outcome.actions = if args.dry_run {
        execute(args, &plan, clusters, DryRun::default(), out).await?
    } else {
        execute(args, &plan, clusters, Live::default(), out).await?
    };
    Ok(outcome)
}

/// [`create`] through `to`; rolls back what it wrote when the run fails, else writes the summary.
async fn execute<A: Apply, W: Write>(
    args: &Args,
    plan: &Plan,
    (remote, kiali): (&Cluster, Option<&Cluster>),
    mut to: A,
    out: &mut W,
) -> Result<Vec<Action>> {
    if let Err(err) = create(args, plan, remote, kiali, &mut to).await {
        to.rollback(remote).await;
        return Err(err);
    }
    to.finish(out, args, plan)
}

/// The create run, written once for both ways of applying: the planned remote writes, the token, the proven
/// kubeconfig, the Kiali-side Secret.
async fn create<A: Apply>(
    args: &Args,
    plan: &Plan,
    remote: &Cluster,
    kiali: Option<&Cluster>,
    to: &mut A,
) -> Result<()> {
    for write in plan::observe(args, remote, kiali).await? {
        to.remote(remote, &write).await?;
    }
    let token = to.token(args, remote).await?;
    let kubeconfig_yaml = server_kubeconfig(args, plan, remote, token.as_ref()).await?;
    if let Some(kiali) = kiali {
        to.kiali(
            kiali,
            &kiali_write(args, plan, &kubeconfig_yaml, token.is_some()),
        )
        .await?;
    }
    Ok(())
}

fn load_kubeconfig(args: &Args) -> Result<Kubeconfig> {
    match &args.kubeconfig {
        Some(path) => Kubeconfig::read_from(path).map_err(|e| Error::Kubeconfig {
            origin: path.display().to_string(),
            cause: describe_kubeconfig(&e),
        }),
        None => Kubeconfig::read().map_err(|e| Error::Kubeconfig {
            origin: "$KUBECONFIG or ~/.kube/config".to_string(),
            cause: describe_kubeconfig(&e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_secret::Change;
    use crate::remote_secret::args::parse_args;

    #[test]
    fn kubeconfig_errors_never_quote_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "users:\n- name: a\n  user: {token: very-secret-token\n  : [",
        )
        .expect("write");
        let args = parse_args(["remote-secret", "--kubeconfig", &path.display().to_string()])
            .expect("parses");
        let err = load_kubeconfig(&args).expect_err("bad YAML");
        assert_eq!(err.category(), "kubeconfig");
        let msg = err.to_string();
        assert!(
            !msg.contains("very-secret-token") && !msg.contains('\n'),
            "{msg}"
        );
    }

    #[test]
    fn actions_read_as_sentences() {
        let a = Action {
            side: Side::Remote,
            kind: "ServiceAccount",
            namespace: Some("kiali-access-ns".into()),
            name: "kiali-remote-access".into(),
            change: Change::Created,
        };
        assert_eq!(
            a.to_string(),
            "remote cluster: ServiceAccount kiali-access-ns/kiali-remote-access created"
        );
        let outcome = Outcome {
            actions: vec![Action {
                change: Change::Unchanged,
                ..a.clone()
            }],
            ..Default::default()
        };
        assert!(outcome.changed_nothing());
        assert!(
            !Outcome {
                actions: vec![a],
                ..Default::default()
            }
            .changed_nothing()
        );
    }
}
