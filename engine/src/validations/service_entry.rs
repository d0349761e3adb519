//! ServiceEntry checks: a selector whose WorkloadEntries have addresses the entry does not
//! list (KIA1201).

use super::hosts::label_map;
use super::{Check, Ctx, check};
use crate::inventory::selector_matches;
use crate::istio::{IstioKind, strings};

pub(super) fn run(ctx: &Ctx<'_>, checks: &mut Vec<Check>) {
    let o = ctx.o;
    let labels = label_map(&o.spec["workloadSelector"]["labels"]);
    if labels.is_empty() {
        return;
    }
    let addresses = strings(&o.spec["addresses"]);
    let missing = ctx.c.of(IstioKind::WorkloadEntry).iter().any(|we| {
        we.namespace == o.namespace
            && selector_matches(&labels, &label_map(&we.spec["labels"]))
            && we.spec["address"]
                .as_str()
                .is_some_and(|a| !addresses.iter().any(|x| x == a))
    });
    if missing {
        checks.push(check("KIA1201", "spec/addresses"));
    }
}
