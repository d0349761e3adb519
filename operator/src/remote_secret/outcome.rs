//! What a run did or would do: one [`Action`] per object, the [`Outcome`] of the run, and how they
//! are printed. Shared by the plan, both apply implementations, delete and the pipeline.

use std::{fmt, io::Write};

use kube::Resource;
use serde::Serialize;

use super::error::{Error, Result};

/// Which cluster an action happened on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Kiali,
    Remote,
}

impl Side {
    pub(super) fn word(self) -> &'static str {
        match self {
            Side::Kiali => "Kiali",
            Side::Remote => "remote",
        }
    }
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Unchanged,
    Deleted,
    /// `--delete`: the object did not exist.
    Absent,
    /// `--delete`: the object exists but was not created by this tool, so it stays.
    LeftAlone,
    /// `--dry-run`: would be written (printed on the output).
    WouldApply,
    /// `--dry-run --delete`: would be deleted.
    WouldDelete,
}

/// One object the run touched (or would touch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub side: Side,
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
    pub change: Change,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let change = match self.change {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
            Change::Deleted => "deleted",
            Change::Absent => "not found (nothing to delete)",
            Change::LeftAlone => "left alone (not created by remote-secret)",
            Change::WouldApply => "would be applied (dry run)",
            Change::WouldDelete => "would be deleted (dry run)",
        };
        let ns = self
            .namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        write!(
            f,
            "{} cluster: {} {}{} {}",
            self.side.word(),
            self.kind,
            ns,
            self.name,
            change
        )
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub actions: Vec<Action>,
    /// The remote cluster's name (the Secret's key).
    pub cluster_name: String,
    /// The Secret's name on the Kiali cluster.
    pub secret_name: String,
}

impl Outcome {
    /// `true` when no object was created, updated or deleted.
    pub fn changed_nothing(&self) -> bool {
        self.actions.iter().all(|a| {
            matches!(
                a.change,
                Change::Unchanged
                    | Change::Absent
                    | Change::LeftAlone
                    | Change::WouldApply
                    | Change::WouldDelete
            )
        })
    }
}

/// One line per action.
pub(super) fn print_actions<W: Write>(out: &mut W, actions: &[Action]) -> Result<()> {
    for a in actions {
        writeln!(out, "{a}").map_err(|e| Error::Output(e.to_string()))?;
    }
    Ok(())
}

pub(super) fn yaml_of<K: Serialize>(obj: &K) -> Result<String> {
    serde_yaml_ng::to_string(obj).map_err(|_| Error::Encode {
        what: "an object as YAML",
        cause: "YAML serialization failed".to_string(),
    })
}

pub(super) fn action<K: Resource<DynamicType = ()>>(side: Side, obj: &K, change: Change) -> Action {
    Action {
        side,
        kind: static_kind::<K>(),
        namespace: obj.meta().namespace.clone(),
        name: obj.meta().name.clone().unwrap_or_default(),
        change,
    }
}

fn static_kind<K: Resource<DynamicType = ()>>() -> &'static str {
    // The kinds the CLI handles, as static strings for `Action`.
    match K::kind(&()).as_ref() {
        "Namespace" => "Namespace",
        "ServiceAccount" => "ServiceAccount",
        "ClusterRole" => "ClusterRole",
        "ClusterRoleBinding" => "ClusterRoleBinding",
        "Secret" => "Secret",
        _ => "object",
    }
}
