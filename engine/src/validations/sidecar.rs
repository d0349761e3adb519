//! Sidecar checks: an egress host with no service behind it (KIA1004), a global default
//! Sidecar with a selector (KIA1006), and an ambiguous empty outbound traffic mode (KIA1007).

use super::hosts::{Host, items, outcome, parse_host};
use super::{Check, Ctx, check};
use crate::istio::strings;

pub(super) fn run(ctx: &Ctx<'_>, checks: &mut Vec<Check>) {
    let o = ctx.o;
    for (i, e) in items(&o.spec["egress"]).iter().enumerate() {
        for (j, h) in strings(&e["hosts"]).iter().enumerate() {
            let Some((ns, dns)) = h.split_once('/') else {
                continue;
            };
            if ns == "*" || ns == "~" || dns == "*" || dns.starts_with('*') {
                continue;
            }
            let ns = if ns == "." { o.namespace.as_str() } else { ns };
            let host = parse_host(dns, ns);
            // A name outside the service domain is checked only against ServiceEntries.
            if let Host::Service { namespace, .. } = &host
                && namespace != ns
            {
                continue;
            }
            let found = ctx.mesh.host_clusters(&host);
            outcome(
                checks,
                &found,
                ctx.own(),
                "KIA1004",
                format!("spec/egress[{i}]/hosts[{j}]"),
                "host",
            );
        }
    }
    let selector = &o.spec["workloadSelector"];
    if o.namespace == ctx.mesh.opts.root_namespace && !selector.is_null() {
        checks.push(check("KIA1006", "spec/workloadSelector"));
    }
    let otp = &o.spec["outboundTrafficPolicy"];
    if otp.is_object() && otp["mode"].as_str().is_none_or(str::is_empty) {
        checks.push(check("KIA1007", "spec/outboundTrafficPolicy"));
    }
}
