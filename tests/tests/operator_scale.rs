//! The operator at scale, small enough for `make test`: the real operator process with a Kiali CR
//! whose `deployment.cluster_wide_access` is false and whose discovery selectors match 50 labelled
//! namespaces becomes `Successful` with a Role and a RoleBinding in each of them, and again after a
//! spec change; deleting the CR removes them. Children the operator skips as unchanged since its
//! last apply are still taken back when someone edits or deletes them. The same scenario at 2,000
//! namespaces is `make bench-operator` (tests/examples/operator_bench.rs); no timing is asserted.

use std::time::Duration;

use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use meshglass_testbed::{faults, wait_until};

mod common;
#[path = "../examples/support/operator_scale.rs"]
mod operator_scale;
use common::WAIT;

const NAMESPACES: usize = 50;

#[tokio::test]
async fn fifty_selected_namespaces_get_a_role_and_binding_each() {
    let binary = faults::operator_bin().expect("the operator builds");
    let bed = meshglass_testbed::shared(&["east"])
        .await
        .expect("test bed");
    let logs = tempfile::tempdir().expect("log dir");
    let mut scale = operator_scale::Scale::start(
        bed.cluster("east"),
        &binary,
        logs.path(),
        NAMESPACES,
        Duration::from_secs(300),
    )
    .await;
    scale.create_cr().await;
    assert_eq!(scale.owned_rbac().await, (NAMESPACES, NAMESPACES));

    // Drift: a Role's rules emptied by someone else, and a RoleBinding deleted, are restored.
    let inst = scale.prefix().to_string();
    let edited = scale.namespaces()[7].clone();
    let roles: Api<Role> = Api::namespaced(scale.client.clone(), &edited);
    roles
        .patch(
            &inst,
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(serde_json::json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": inst}, "rules": [],
            })),
        )
        .await
        .expect("someone else empties the Role's rules");
    let unbound = scale.namespaces()[11].clone();
    let bindings: Api<RoleBinding> = Api::namespaced(scale.client.clone(), &unbound);
    bindings
        .delete(&inst, &DeleteParams::default())
        .await
        .expect("someone deletes a RoleBinding");
    wait_until(
        "the edited Role and the deleted RoleBinding are restored",
        WAIT,
        || {
            let (roles, bindings, inst) = (roles.clone(), bindings.clone(), inst.clone());
            async move {
                let rules = roles.get(&inst).await?.rules.unwrap_or_default();
                let bound = bindings.get_opt(&inst).await?.is_some();
                Ok::<_, kube::Error>((!rules.is_empty() && bound).then_some(()))
            }
        },
    )
    .await
    .expect("drift taken back");

    scale.change_spec().await;
    assert_eq!(scale.owned_rbac().await, (NAMESPACES, NAMESPACES));
    scale.delete_cr().await;
    assert_eq!(
        scale.owned_rbac().await,
        (0, 0),
        "every Role and RoleBinding is pruned with the CR"
    );
    let figures = scale.finish().await;
    for line in figures.lines() {
        println!("{line}");
    }
    assert_eq!(
        (figures.roles, figures.bindings),
        (NAMESPACES, NAMESPACES),
        "{figures:?}"
    );
    assert!(figures.peak_rss_mib > 0.0, "{figures:?}");
}
