//! Gateway checks: two Gateways on the same workloads claiming one host and port (KIA0301),
//! and a selector matching no workload (KIA0302) or none in the Gateway's own cluster
//! (MGL0006).

use super::hosts::{items, label_map, wildcard_match};
use super::{Check, ClusterConfig, Ctx, Found, check, check_in};
use crate::istio::{ConfigObject, IstioKind, strings};

/// KIA0302 / MGL0006 of one Gateway.
pub(super) fn run(ctx: &Ctx<'_>, checks: &mut Vec<Check>) {
    let labels = label_map(&ctx.o.spec["selector"]);
    if labels.is_empty() {
        return;
    }
    let found = ctx.mesh.selector_clusters_anywhere(&labels);
    if found.is_empty() {
        checks.push(check("KIA0302", "spec/selector"));
    } else if !found.iter().any(|c| c == ctx.own()) {
        checks.push(check_in("MGL0006", "spec/selector", &found));
    }
}

/// A host of a server without its `namespace/` prefix.
fn bare(h: &str) -> &str {
    h.split_once('/').map(|(_, h)| h).unwrap_or(h)
}

/// Whether two hosts of the same port collide; with `skip_wild`, a `*` host collides with none.
fn overlap(a: &str, b: &str, skip_wild: bool) -> bool {
    if a == "*" || b == "*" {
        return !skip_wild;
    }
    a == b || wildcard_match(a, b) || wildcard_match(b, a)
}

/// `(port, host, server index, host index)` of every server host of a Gateway.
fn claims(g: &ConfigObject) -> Vec<(i64, String, usize, usize)> {
    let mut v = Vec::new();
    for (i, s) in items(&g.spec["servers"]).iter().enumerate() {
        let port = s["port"]["number"].as_i64().unwrap_or_default();
        for (j, h) in strings(&s["hosts"]).iter().enumerate() {
            v.push((port, bare(h).to_string(), i, j));
        }
    }
    v
}

/// KIA0301 over one cluster; `skip_wild`: `*` hosts are left out.
pub(super) fn multi_match(c: &ClusterConfig, skip_wild: bool, found: &mut Found) {
    let gws = c.of(IstioKind::Gateway);
    let all: Vec<_> = gws
        .iter()
        .map(|g| (g, label_map(&g.spec["selector"]), claims(g)))
        .collect();
    for (a, sel_a, ca) in &all {
        let mut paths: Vec<String> = Vec::new();
        for (b, sel_b, cb) in &all {
            if (a.namespace == b.namespace && a.name == b.name) || sel_a != sel_b {
                continue;
            }
            let mut hit = false;
            for (pa, ha, i, j) in ca {
                if cb
                    .iter()
                    .any(|(pb, hb, _, _)| pa == pb && overlap(ha, hb, skip_wild))
                {
                    let p = format!("spec/servers[{i}]/hosts[{j}]");
                    if !paths.contains(&p) {
                        paths.push(p);
                    }
                    hit = true;
                }
            }
            if hit {
                found.refer(a, c.name(), b);
            }
        }
        for p in paths {
            found.add(a, check("KIA0301", p));
        }
    }
}
