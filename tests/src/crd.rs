//! Installing a CustomResourceDefinition on a test-bed cluster and waiting until it serves.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};

use crate::{Error, wait_until};

/// Server-side applies `crd` (field manager `meshglass-e2e`) and waits until it is Established.
pub async fn apply_crd(
    client: &Client,
    crd: &CustomResourceDefinition,
    timeout: Duration,
) -> Result<(), Error> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = crd.name_any();
    crds.patch(
        &name,
        &PatchParams::apply("meshglass-e2e").force(),
        &Patch::Apply(crd),
    )
    .await?;
    wait_until(&format!("CRD {name} is Established"), timeout, || {
        let crds = crds.clone();
        let name = name.clone();
        async move {
            let crd = crds.get(&name).await?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            Ok::<_, kube::Error>(established.then_some(()))
        }
    })
    .await?;
    Ok(())
}
