//! The server's roles and bindings: one ClusterRole (the read rules, or only the identity checks
//! when cluster-wide access is off, then per-namespace Roles for the selected namespaces).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};
use meshglass_crds::names;

use super::{Child, Ctx, Error, Result};

/// The kinds the server caches, by API group: what it is granted to read, on the primary and on
/// every remote cluster.
pub const READ_KINDS: &[(&str, &[&str])] = &[
    ("", &["namespaces", "pods", "services"]),
    (
        "apps",
        &["deployments", "replicasets", "statefulsets", "daemonsets"],
    ),
    (
        "networking.istio.io",
        &[
            "destinationrules",
            "envoyfilters",
            "gateways",
            "serviceentries",
            "sidecars",
            "virtualservices",
            "workloadentries",
            "workloadgroups",
        ],
    ),
    (
        "security.istio.io",
        &[
            "authorizationpolicies",
            "peerauthentications",
            "requestauthentications",
        ],
    ),
    ("telemetry.istio.io", &["telemetries"]),
    ("extensions.istio.io", &["wasmplugins"]),
    (
        "gateway.networking.k8s.io",
        &[
            "gateways",
            "grpcroutes",
            "httproutes",
            "referencegrants",
            "tcproutes",
            "tlsroutes",
        ],
    ),
];

/// Read-only access to the kinds the server caches ([`READ_KINDS`]).
pub fn namespaced_read_rules() -> Vec<PolicyRule> {
    READ_KINDS
        .iter()
        .map(|(group, resources)| PolicyRule {
            api_groups: Some(vec![group.to_string()]),
            resources: Some(resources.iter().map(|r| r.to_string()).collect()),
            verbs: vec!["get".to_string(), "list".to_string(), "watch".to_string()],
            ..Default::default()
        })
        .collect()
}

/// The Istio config groups and kinds the server writes for users (the Istio kinds it caches).
pub fn istio_write_rules() -> Vec<PolicyRule> {
    namespaced_read_rules()
        .into_iter()
        .filter(|r| {
            r.api_groups
                .iter()
                .flatten()
                .any(|g| g.ends_with(".istio.io") || g == "gateway.networking.k8s.io")
        })
        .map(|r| PolicyRule {
            verbs: vec!["create".into(), "patch".into(), "delete".into()],
            ..r
        })
        .collect()
}

/// The server's rules for `view_only_mode`: read-only when view-only, else also
/// [`istio_write_rules`] (used only under the `anonymous` strategy: a signed-in user's writes go
/// with the user's own token).
pub fn rules_for(read: Vec<PolicyRule>, view_only: bool) -> Vec<PolicyRule> {
    let mut rules = read;
    if !view_only {
        rules.extend(istio_write_rules());
    }
    rules
}

/// Reading containers' logs (`get pods/log`, as Kiali's role grants): the server reads a pod's
/// log with its own account only under the `anonymous` strategy; a signed-in user's read goes
/// with the user's own credentials, checked by the cluster's API server.
pub fn log_rules() -> Vec<PolicyRule> {
    vec![PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec!["pods/log".into()]),
        verbs: vec!["get".into()],
        ..Default::default()
    }]
}

/// The server's cluster rules (what the operator grants a cluster-wide server, primary or
/// remote): the read rules of the kinds it caches, pods' logs ([`log_rules`]), and
/// TokenReview/SubjectAccessReview.
pub fn server_rules() -> Vec<PolicyRule> {
    let mut rules = namespaced_read_rules();
    rules.extend(log_rules());
    rules.extend(auth_rules());
    rules
}

/// Cluster-scoped checks of a user's identity (TokenReview, SubjectAccessReview).
pub fn auth_rules() -> Vec<PolicyRule> {
    vec![
        PolicyRule {
            api_groups: Some(vec!["authentication.k8s.io".into()]),
            resources: Some(vec!["tokenreviews".into()]),
            verbs: vec!["create".into()],
            ..Default::default()
        },
        PolicyRule {
            api_groups: Some(vec!["authorization.k8s.io".into()]),
            resources: Some(vec!["subjectaccessreviews".into()]),
            verbs: vec!["create".into()],
            ..Default::default()
        },
    ]
}

impl Ctx<'_> {
    fn subject(&self) -> Vec<Subject> {
        vec![Subject {
            kind: "ServiceAccount".into(),
            name: names::service_account(&self.inst),
            namespace: Some(self.ns.clone()),
            ..Default::default()
        }]
    }

    pub(super) fn rbac(&self, namespaces: &[Namespace]) -> Result<Vec<Child>> {
        let view_only = self.cfg.deployment.view_only_mode;
        let role_name = names::role(&self.inst, view_only);
        let cluster_role_ref = RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role_name.clone(),
        };
        let mut out = Vec::new();
        let cluster_rules = if self.cfg.deployment.cluster_wide_access {
            rules_for(server_rules(), view_only)
        } else {
            auth_rules()
        };
        out.push(Child::ClusterRole(ClusterRole {
            metadata: self.cluster_meta(&role_name),
            rules: Some(cluster_rules),
            ..Default::default()
        }));
        out.push(Child::ClusterRoleBinding(ClusterRoleBinding {
            metadata: self.cluster_meta(&self.inst),
            role_ref: cluster_role_ref,
            subjects: Some(self.subject()),
        }));
        if !self.cfg.deployment.cluster_wide_access {
            for ns in self.selected_namespaces(namespaces)? {
                out.push(Child::Role(Role {
                    metadata: self.meta(&role_name, &ns),
                    rules: Some(rules_for(
                        [namespaced_read_rules(), log_rules()].concat(),
                        view_only,
                    )),
                }));
                out.push(Child::RoleBinding(RoleBinding {
                    metadata: self.meta(&self.inst, &ns),
                    role_ref: RoleRef {
                        api_group: "rbac.authorization.k8s.io".into(),
                        kind: "Role".into(),
                        name: role_name.clone(),
                    },
                    subjects: Some(self.subject()),
                }));
            }
        }
        Ok(out)
    }

    /// Namespaces the server may read when cluster-wide access is off: the deployment and Istio
    /// namespaces, `accessible_namespaces` names, and existing namespaces matching
    /// `discovery_selectors.default`.
    fn selected_namespaces(&self, namespaces: &[Namespace]) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::from([self.ns.clone(), self.cfg.istio_namespace.clone()]);
        out.extend(
            self.cfg
                .deployment
                .accessible_namespaces
                .iter()
                .filter(|n| names::is_dns_label(n))
                .cloned(),
        );
        let selectors = self
            .cfg
            .deployment
            .discovery_selectors
            .get("default")
            .cloned()
            .unwrap_or_default();
        if !selectors.is_null() {
            const FIELD: &str = "deployment.discovery_selectors.default";
            let selectors: Vec<LabelSelector> =
                serde_json::from_value(selectors).map_err(|e| Error::field(FIELD, e))?;
            for sel in selectors {
                let sel = Selector::try_from(sel).map_err(|e| Error::field(FIELD, e))?;
                for n in namespaces {
                    if sel.matches(n.labels()) {
                        out.insert(n.name_any());
                    }
                }
            }
        }
        Ok(out)
    }
}
