//! Kubernetes objects in tests: built with only a name, and waited on until they are gone.

use std::fmt::Debug;
use std::time::Duration;

use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use crate::{Error, wait_until};

/// An object of kind `K` with nothing but its name (an empty Secret, a bare ServiceAccount, a Lease).
pub fn named<K: Resource + Default>(name: &str) -> K {
    let mut object = K::default();
    object.meta_mut().name = Some(name.to_string());
    object
}

/// Waits until `api` no longer holds `name` (deleted, its finalizers released).
pub async fn wait_gone<K>(api: &Api<K>, name: &str, timeout: Duration) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    wait_until(&format!("{} {name} is gone", K::kind(&())), timeout, || {
        let api = api.clone();
        async move { Ok::<_, kube::Error>(api.get_opt(name).await?.is_none().then_some(())) }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Secret;

    #[test]
    fn named_objects_carry_only_their_name() {
        let s: Secret = named("empty");
        assert_eq!(s.metadata.name.as_deref(), Some("empty"));
        assert_eq!(s.data, None);
        assert_eq!(s.metadata.namespace, None);
    }
}
