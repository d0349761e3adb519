//! Workload checks: with a `REGISTRY_ONLY` mesh, a workload no AuthorizationPolicy of its
//! namespace or of the root namespace covers (KIA1301), as in Kiali.

use super::generic::selector;
use super::hosts::Mesh;
use super::{Validation, check, core_validation};
use crate::inventory::selector_matches;
use crate::istio::IstioKind;

/// The validations of the uncovered workloads of cluster `ci`.
pub(super) fn validations(mesh: &Mesh<'_>, ci: usize) -> Vec<Validation> {
    if !mesh.opts.registry_only {
        return Vec::new();
    }
    let c = &mesh.clusters[ci];
    let root = &mesh.opts.root_namespace;
    let aps = c.of(IstioKind::AuthorizationPolicy);
    c.inventory
        .workloads
        .iter()
        .filter(|w| {
            !aps.iter().any(|ap| {
                (ap.namespace == w.namespace || &ap.namespace == root) && {
                    let sel = selector(ap).0;
                    sel.is_empty() || selector_matches(&sel, &w.labels)
                }
            })
        })
        .map(|w| {
            core_validation(
                "workload",
                c.name(),
                &w.namespace,
                &w.name,
                vec![check("KIA1301", "workload")],
            )
        })
        .collect()
}
