//! Checks every selector-carrying kind shares: two selector-less objects of a kind in one
//! namespace (KIA0002), two objects of a kind selecting one workload (KIA0003), a selector
//! matching nothing (KIA0004), and `exportTo` naming a namespace that does not exist (KIA0005).

use std::collections::BTreeMap;

use super::hosts::{items, label_map, outcome};
use super::{Check, ClusterConfig, Ctx, Found, check};
use crate::inventory::selector_matches;
use crate::istio::{ConfigObject, IstioKind};

/// The kinds KIA0002/KIA0003 compare, and where their selector is.
const MULTI_MATCH: [IstioKind; 3] = [
    IstioKind::Sidecar,
    IstioKind::PeerAuthentication,
    IstioKind::RequestAuthentication,
];

/// The selector labels of an object and the path Kiali reports them at.
pub(super) fn selector(o: &ConfigObject) -> (BTreeMap<String, String>, &'static str) {
    match o.kind {
        IstioKind::Sidecar => (
            label_map(&o.spec["workloadSelector"]["labels"]),
            "spec/workloadSelector",
        ),
        _ => (
            label_map(&o.spec["selector"]["matchLabels"]),
            "spec/selector",
        ),
    }
}

/// KIA0002 and KIA0003 over one cluster.
pub(super) fn multi_match(c: &ClusterConfig, found: &mut Found) {
    for kind in MULTI_MATCH {
        let mut by_ns: BTreeMap<&str, Vec<&ConfigObject>> = BTreeMap::new();
        for o in c.of(kind) {
            by_ns.entry(o.namespace.as_str()).or_default().push(o);
        }
        for (ns, objs) in by_ns {
            let selectorless: Vec<&ConfigObject> = objs
                .iter()
                .copied()
                .filter(|o| selector(o).0.is_empty())
                .collect();
            if selectorless.len() > 1 {
                for o in &selectorless {
                    found.add(o, check("KIA0002", selector(o).1));
                    for other in selectorless.iter().filter(|x| x.name != o.name) {
                        found.refer(o, c.name(), other);
                    }
                }
            }
            let mut flagged: Vec<&ConfigObject> = Vec::new();
            for w in c.inventory.workloads.iter().filter(|w| w.namespace == ns) {
                let selecting: Vec<&ConfigObject> = objs
                    .iter()
                    .copied()
                    .filter(|o| selector_matches(&selector(o).0, &w.labels))
                    .collect();
                if selecting.len() < 2 {
                    continue;
                }
                for o in &selecting {
                    if !flagged.iter().any(|f| f.name == o.name) {
                        found.add(o, check("KIA0003", selector(o).1));
                        flagged.push(o);
                    }
                    for other in selecting.iter().filter(|x| x.name != o.name) {
                        found.refer(o, c.name(), other);
                    }
                }
            }
        }
    }
}

/// KIA0004 (selector kinds) and KIA0005 (`exportTo` kinds) of one object.
pub(super) fn run(ctx: &Ctx<'_>, checks: &mut Vec<Check>) {
    let o = ctx.o;
    if matches!(
        o.kind,
        IstioKind::AuthorizationPolicy
            | IstioKind::PeerAuthentication
            | IstioKind::RequestAuthentication
            | IstioKind::Sidecar
    ) {
        let (labels, path) = selector(o);
        if !labels.is_empty() {
            let found = ctx.mesh.selector_clusters(&o.namespace, &labels);
            outcome(
                checks,
                &found,
                ctx.own(),
                "KIA0004",
                path.into(),
                "selected workloads",
            );
        }
    }
    if matches!(
        o.kind,
        IstioKind::VirtualService | IstioKind::DestinationRule | IstioKind::ServiceEntry
    ) {
        for (i, ns) in items(&o.spec["exportTo"]).iter().enumerate() {
            let Some(ns) = ns.as_str() else { continue };
            if matches!(ns, "*" | "." | "~") {
                continue;
            }
            let found = ctx.mesh.namespace_clusters(ns);
            outcome(
                checks,
                &found,
                ctx.own(),
                "KIA0005",
                format!("spec/exportTo[{i}]"),
                "namespace",
            );
        }
    }
}
