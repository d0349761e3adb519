//! Diagnostics: what the engine skipped and why. Bounded: one entry per kind, with a count and the
//! first example, so a flood of bad samples cannot blow up a response.

use std::collections::BTreeMap;

use serde::Serialize;

/// One kind of problem found in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Fixed machine-readable kind, e.g. `missing_label`, `non_finite_value`.
    pub kind: &'static str,
    /// How many inputs had this problem.
    pub count: u64,
    /// A human-readable description of the first occurrence.
    pub example: String,
}

/// Collects diagnostics by kind.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    by_kind: BTreeMap<&'static str, (u64, String)>,
}

impl Diagnostics {
    /// Records one occurrence; `example` is only evaluated for the first of its kind.
    pub fn push(&mut self, kind: &'static str, example: impl FnOnce() -> String) {
        match self.by_kind.get_mut(kind) {
            Some(e) => e.0 += 1,
            None => {
                self.by_kind.insert(kind, (1, example()));
            }
        }
    }

    /// Adds diagnostics collected after these (the first example of a kind stays the first).
    pub fn merge(&mut self, later: Diagnostics) {
        for (kind, (count, example)) in later.by_kind {
            match self.by_kind.get_mut(kind) {
                Some(e) => e.0 += count,
                None => {
                    self.by_kind.insert(kind, (count, example));
                }
            }
        }
    }

    /// Total occurrences of a kind.
    pub fn count(&self, kind: &str) -> u64 {
        self.by_kind.get(kind).map_or(0, |e| e.0)
    }

    /// The collected diagnostics, sorted by kind.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.by_kind
            .into_iter()
            .map(|(kind, (count, example))| Diagnostic {
                kind,
                count,
                example,
            })
            .collect()
    }
}
