//! AuthorizationPolicy checks: a source namespace that does not exist (KIA0101), a method that
//! is neither HTTP nor a fully qualified gRPC name (KIA0102), a destination host not in the
//! registry (KIA0104), source or condition fields that need mTLS where it is off (KIA0105), and
//! principals whose service account exists nowhere (KIA0106) or only in another cluster
//! (KIA0107).

use super::hosts::{items, outcome, parse_host};
use super::{Check, Ctx, check, mtls};
use crate::istio::strings;

const HTTP_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// Source fields and condition keys that only mTLS identities can satisfy.
const MTLS_FIELDS: [&str; 4] = ["principals", "notPrincipals", "namespaces", "notNamespaces"];
const MTLS_KEYS: [&str; 3] = ["source.principal", "source.namespace", "connection.sni"];

/// A fully qualified gRPC method: `/package.Service/Method`.
fn grpc_name(m: &str) -> bool {
    let Some(rest) = m.strip_prefix('/') else {
        return false;
    };
    let Some((svc, method)) = rest.split_once('/') else {
        return false;
    };
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    };
    ident(svc) && ident(method) && !method.contains('.')
}

pub(super) fn run(ctx: &Ctx<'_>, checks: &mut Vec<Check>) {
    let o = ctx.o;
    let opts = ctx.mesh.opts;
    let mtls_on = mtls::namespace_mtls(ctx.c, &opts.root_namespace, opts.auto_mtls, &o.namespace);
    for (i, rule) in items(&o.spec["rules"]).iter().enumerate() {
        for (j, from) in items(&rule["from"]).iter().enumerate() {
            let src = &from["source"];
            let base = format!("spec/rules[{i}]/from[{j}]/source");
            for (k, ns) in strings(&src["namespaces"]).iter().enumerate() {
                if ns.contains('*') {
                    continue;
                }
                let found = ctx.mesh.namespace_clusters(ns);
                let path = format!("{base}/namespaces[{k}]");
                outcome(checks, &found, ctx.own(), "KIA0101", path, "namespace");
            }
            for (k, p) in strings(&src["principals"]).iter().enumerate() {
                let found = ctx.mesh.principal_clusters(p);
                if found.iter().any(|c| c == ctx.own()) {
                    continue;
                }
                let code = if found.is_empty() {
                    "KIA0106"
                } else {
                    "KIA0107"
                };
                checks.push(check(code, format!("{base}/principals[{k}]")));
            }
            if !mtls_on {
                for f in MTLS_FIELDS.iter().filter(|f| !src[**f].is_null()) {
                    checks.push(check("KIA0105", format!("{base}/{f}")));
                }
            }
        }
        for (j, to) in items(&rule["to"]).iter().enumerate() {
            let op = &to["operation"];
            let base = format!("spec/rules[{i}]/to[{j}]/operation");
            for (k, m) in strings(&op["methods"]).iter().enumerate() {
                if !HTTP_METHODS.contains(&m.as_str()) && !grpc_name(m) {
                    checks.push(check("KIA0102", format!("{base}/methods[{k}]")));
                }
            }
            for (k, h) in strings(&op["hosts"]).iter().enumerate() {
                if h.contains('*') {
                    continue;
                }
                // A host may carry a port (`reviews:9080`).
                let bare = h.rsplit_once(':').map(|(h, _)| h).unwrap_or(h);
                let found = ctx.mesh.host_clusters(&parse_host(bare, &o.namespace));
                let path = format!("{base}/hosts[{k}]");
                outcome(checks, &found, ctx.own(), "KIA0104", path, "host");
            }
        }
        if !mtls_on {
            for (k, w) in items(&rule["when"]).iter().enumerate() {
                if w["key"]
                    .as_str()
                    .is_some_and(|key| MTLS_KEYS.contains(&key))
                {
                    checks.push(check("KIA0105", format!("spec/rules[{i}]/when[{k}]")));
                }
            }
        }
    }
}
