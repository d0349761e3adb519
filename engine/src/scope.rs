//! `external_services.prometheus.query_scope`: the label matchers the engine adds to every PromQL
//! selector it writes (its own module, so that the graph options and the query writer share it).

use std::collections::BTreeMap;

use crate::error::Error;

/// `external_services.prometheus.query_scope`: label matchers added to every selector the engine
/// writes (e.g. `mesh_id="mesh-a"`), so one store shared by several meshes answers for this one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryScope {
    /// `k="v",` for each matcher, sorted by label name: the prefix of every selector.
    prefix: String,
}

impl QueryScope {
    /// Validates the label names (Prometheus' `[a-zA-Z_][a-zA-Z0-9_]*`) and escapes the values.
    pub fn new(matchers: &BTreeMap<String, String>) -> Result<Self, Error> {
        let mut prefix = String::new();
        for (k, v) in matchers {
            let mut chars = k.chars();
            let valid = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(Error::invalid("query_scope", k));
            }
            prefix.push_str(&format!("{k}=\"{}\",", promql_escape(v)));
        }
        Ok(QueryScope { prefix })
    }

    /// `k="v",` for each matcher: what goes first inside every selector's braces.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether no matcher is added.
    pub fn is_empty(&self) -> bool {
        self.prefix.is_empty()
    }
}

/// PromQL string-literal escaping (inside double quotes).
pub(crate) fn promql_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}
