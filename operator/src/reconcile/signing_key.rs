//! The signing key of the server's sessions: Secret `<instance>-signing-key` (key `key`) in the
//! deployment namespace. Created with a random key when absent, never changed afterwards (rotating it
//! is editing that Secret; the pods roll on the key's hash), never printed: not in logs, Events or
//! status. It carries no owner labels, so the prune of children leaves it alone; when the CR lives in
//! the same namespace an owner reference lets garbage collection remove it with the CR.

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, PostParams};
use kube::{Client, Resource, ResourceExt};
use meshglass_crds::{Kiali, names};
use ring::rand::{SecureRandom, SystemRandom};

use super::apply::Error;
use crate::build::secret_data;

/// Characters of a generated key (URL-safe base64 of 24 random bytes: 32 characters).
const KEY_BYTES: usize = 24;

/// Creates the signing-key Secret when it does not exist; returns it as it now is.
pub async fn ensure(
    client: &Client,
    kiali: &Kiali,
    ns: &str,
    instance: &str,
) -> Result<Secret, Error> {
    let api = Api::<Secret>::namespaced(client.clone(), ns);
    let name = names::signing_key_secret(instance);
    if let Some(s) = api.get_opt(&name).await? {
        return Ok(s);
    }
    let secret = fresh(kiali, ns, &name)?;
    match api.create(&PostParams::default(), &secret).await {
        Ok(s) => {
            tracing::info!(namespace = %ns, secret = %name, "created the session signing key");
            Ok(s)
        }
        // Another reconcile made it first: use that one.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(api.get(&name).await?),
        Err(e) => Err(e.into()),
    }
}

/// A new signing-key Secret with a random key.
fn fresh(kiali: &Kiali, ns: &str, name: &str) -> Result<Secret, Error> {
    use base64::Engine;
    let mut raw = [0u8; KEY_BYTES];
    SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| Error::Serialize("the system random number generator failed".into()))?;
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let owner = (kiali.namespace().as_deref() == Some(ns))
        .then(|| kiali.controller_owner_ref(&()))
        .flatten()
        .map(|o| OwnerReference {
            controller: Some(false),
            ..o
        });
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(ns.to_string()),
            labels: Some([("app.kubernetes.io/name".to_string(), "kiali".to_string())].into()),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(secret_data(&[(names::SIGNING_KEY_DATA_KEY, &key)])),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_key_is_random_and_long_enough() {
        let k: Kiali = serde_json::from_value(serde_json::json!({
            "apiVersion": "kiali.io/v1alpha1", "kind": "Kiali",
            "metadata": {"name": "kiali", "namespace": "istio-system", "uid": "u"},
            "spec": {}
        }))
        .unwrap();
        let a = fresh(&k, "istio-system", "kiali-signing-key").unwrap();
        let b = fresh(&k, "istio-system", "kiali-signing-key").unwrap();
        let key = |s: &Secret| s.data.as_ref().unwrap()["key"].0.clone();
        assert_eq!(key(&a).len(), 32);
        assert_ne!(key(&a), key(&b));
        assert_eq!(
            a.metadata.owner_references.as_ref().unwrap()[0].name,
            "kiali"
        );
        // Another namespace: no owner reference (they cannot cross namespaces).
        assert!(
            fresh(&k, "kiali", "x")
                .unwrap()
                .metadata
                .owner_references
                .is_none()
        );
    }
}
