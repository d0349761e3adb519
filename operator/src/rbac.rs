//! The operator's own permissions: the one source for the Helm chart's ClusterRole and Role and
//! the OLM bundle's `clusterPermissions`/`permissions` (`meshglass-operator rbac` prints them).
//!
//! Kubernetes' escalation rule lets the operator create a (Cluster)Role only with permissions it
//! holds itself, so its cluster rules are the server's rules ([`build::namespaced_read_rules`],
//! [`build::auth_rules`]) plus what it manages — never `escalate`, `bind` or `*`.

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde::Serialize;

use crate::build;

fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..Default::default()
    }
}

/// Verbs on the objects the operator creates, keeps and prunes.
const MANAGE: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];

/// Cluster-wide rules: the Kiali CRs in every namespace, the children it builds, the server's
/// own rules (to grant them), and Events.
pub fn operator_cluster_rules() -> Vec<PolicyRule> {
    let mut rules = vec![
        rule(
            "kiali.io",
            &["kialis"],
            &["get", "list", "watch", "update", "patch"],
        ),
        rule("kiali.io", &["kialis/status"], &["get", "update", "patch"]),
        rule("kiali.io", &["kialis/finalizers"], &["update"]),
        rule(
            "",
            &["configmaps", "secrets", "serviceaccounts", "services"],
            MANAGE,
        ),
        rule("apps", &["deployments"], MANAGE),
        // `deployment.ingress`: an Ingress, or a Route where the route.openshift.io API exists
        // (OpenShift lets a Route name its own host only with `create routes/custom-host`).
        rule("networking.k8s.io", &["ingresses"], MANAGE),
        rule("route.openshift.io", &["routes"], MANAGE),
        rule("route.openshift.io", &["routes/custom-host"], &["create"]),
        // The `openshift` strategy's OAuthClient, where the oauth.openshift.io API exists.
        rule("oauth.openshift.io", &["oauthclients"], MANAGE),
        rule(
            "rbac.authorization.k8s.io",
            &[
                "clusterrolebindings",
                "clusterroles",
                "rolebindings",
                "roles",
            ],
            MANAGE,
        ),
        rule("events.k8s.io", &["events"], &["create", "patch"]),
    ];
    rules.extend(build::server_rules());
    rules.extend(build::istio_write_rules());
    rules
}

/// Rules in the operator's own namespace: the leader-election Lease.
pub fn operator_namespace_rules() -> Vec<PolicyRule> {
    vec![rule(
        "coordination.k8s.io",
        &["leases"],
        &["get", "create", "update", "patch"],
    )]
}

/// Both rule sets, as `meshglass-operator rbac` prints them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorRbac {
    pub cluster_rules: Vec<PolicyRule>,
    pub namespace_rules: Vec<PolicyRule>,
}

pub fn operator_rbac() -> OperatorRbac {
    OperatorRbac {
        cluster_rules: operator_cluster_rules(),
        namespace_rules: operator_namespace_rules(),
    }
}

/// YAML of [`operator_rbac`].
pub fn operator_rbac_yaml() -> crate::Result<String> {
    serde_yaml_ng::to_string(&operator_rbac()).map_err(|e| crate::Error::Serialize(e.to_string()))
}

/// The server's rules, as `meshglass-operator rbac --server` prints them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerRbac {
    pub rules: Vec<PolicyRule>,
    /// Added when `deployment.view_only_mode` is false.
    pub write_rules: Vec<PolicyRule>,
}

/// YAML of [`build::server_rules`] (`rules:`) and [`build::istio_write_rules`] (`writeRules:`),
/// the source of the server chart's ClusterRole.
pub fn server_rbac_yaml() -> crate::Result<String> {
    serde_yaml_ng::to_string(&ServerRbac {
        rules: build::server_rules(),
        write_rules: build::istio_write_rules(),
    })
    .map_err(|e| crate::Error::Serialize(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(rules: &[PolicyRule], group: &str, resource: &str, verb: &str) -> bool {
        rules.iter().any(|r| {
            r.api_groups.iter().flatten().any(|g| g == group)
                && r.resources.iter().flatten().any(|x| x == resource)
                && r.verbs.iter().any(|v| v == verb)
        })
    }

    #[test]
    fn holds_every_permission_it_grants_the_server() {
        let mine = operator_cluster_rules();
        for r in build::namespaced_read_rules()
            .iter()
            .chain(build::log_rules().iter())
            .chain(build::auth_rules().iter())
            .chain(build::istio_write_rules().iter())
        {
            for g in r.api_groups.iter().flatten() {
                for res in r.resources.iter().flatten() {
                    for v in &r.verbs {
                        assert!(grants(&mine, g, res, v), "missing {v} {g}/{res}");
                    }
                }
            }
        }
    }

    #[test]
    fn no_wildcards_escalate_bind_or_impersonate() {
        for r in operator_cluster_rules()
            .iter()
            .chain(operator_namespace_rules().iter())
        {
            for v in &r.verbs {
                assert!(
                    !matches!(v.as_str(), "*" | "escalate" | "bind" | "impersonate"),
                    "verb {v}"
                );
            }
            for x in r
                .resources
                .iter()
                .flatten()
                .chain(r.api_groups.iter().flatten())
            {
                assert_ne!(x, "*");
            }
        }
    }

    #[test]
    fn server_yaml_lists_the_rules_the_operator_grants() {
        let y = server_rbac_yaml().unwrap();
        assert!(y.starts_with("rules:\n"), "{y}");
        let parsed: serde_json::Value = serde_yaml_ng::from_str(&y).unwrap();
        let rules: Vec<PolicyRule> = serde_json::from_value(parsed["rules"].clone()).unwrap();
        let mut expected = build::namespaced_read_rules();
        expected.extend(build::log_rules());
        expected.extend(build::auth_rules());
        assert_eq!(rules, expected);
        let writes: Vec<PolicyRule> = serde_json::from_value(parsed["writeRules"].clone()).unwrap();
        assert_eq!(writes, build::istio_write_rules());
        assert!(!y.contains("secrets"), "{y}");
    }

    #[test]
    fn yaml_has_both_sets() {
        let y = operator_rbac_yaml().unwrap();
        assert!(y.starts_with("clusterRules:\n"), "{y}");
        assert!(y.contains("namespaceRules:\n"), "{y}");
        assert!(y.contains("leases"), "{y}");
    }
}
