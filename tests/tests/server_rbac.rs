//! Least privilege: the read rules the operator grants the server (cluster-wide, per namespace
//! and on remote clusters) name exactly the kinds the server's caches watch — no kind it does
//! not read, none it reads without a grant (issue 22: WorkloadGroups and WorkloadEntries, read
//! since they are listed as workloads; Endpoints, granted but never read, no longer granted).

use std::collections::BTreeSet;

use meshglass_operator::build::{namespaced_read_rules, server_rules};

fn read_grants(rules: &[k8s_openapi::api::rbac::v1::PolicyRule]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for r in rules {
        let verbs: BTreeSet<&str> = r.verbs.iter().map(String::as_str).collect();
        if !verbs.contains("list") {
            continue;
        }
        assert_eq!(
            verbs,
            BTreeSet::from(["get", "list", "watch"]),
            "read-only rules only: {r:?}"
        );
        for g in r.api_groups.iter().flatten() {
            for res in r.resources.iter().flatten() {
                assert_ne!(res, "*", "no wildcard resources: {r:?}");
                out.insert((g.clone(), res.clone()));
            }
        }
    }
    out
}

#[test]
fn the_server_is_granted_exactly_the_kinds_it_caches() {
    let cached: BTreeSet<(String, String)> = meshglass_server::cache::cached_resources()
        .into_iter()
        .map(|(g, r)| (g.to_string(), r.to_string()))
        .collect();
    assert!(cached.contains(&("networking.istio.io".into(), "workloadgroups".into())));
    assert!(cached.contains(&("networking.istio.io".into(), "workloadentries".into())));
    assert_eq!(read_grants(&namespaced_read_rules()), cached);
    assert_eq!(read_grants(&server_rules()), cached);
    assert!(
        !cached.iter().any(|(_, r)| r == "secrets"),
        "the server never reads Secrets"
    );
}

#[test]
fn the_remote_secret_tool_checks_every_kind_the_server_caches() {
    let cached: BTreeSet<(String, String)> = meshglass_server::cache::cached_resources()
        .into_iter()
        .map(|(g, r)| (g.to_string(), r.to_string()))
        .collect();
    for verb in ["list", "watch"] {
        let checked: BTreeSet<(String, String)> =
            meshglass_operator::remote_secret::objects::required_access()
                .into_iter()
                .filter(|a| a.verb == verb)
                .map(|a| (a.group.to_string(), a.resource.to_string()))
                .collect();
        assert_eq!(checked, cached, "{verb}");
    }
}
