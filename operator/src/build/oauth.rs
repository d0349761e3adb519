//! The OpenShift OAuthClient of the `openshift` strategy, as Kiali's operator writes it: where the
//! `oauth.openshift.io` API exists, OAuthClient `<instance>-<namespace>` (cluster-scoped) with
//! `redirectURIs`, `grantMethod: auto` and, when set, `auth.openshift.token_inactivity_timeout`
//! and `token_max_age` as `accessTokenInactivityTimeoutSeconds` and `accessTokenMaxAgeSeconds`.
//!
//! It is written for `auth.strategy: openshift`, and in remote mode also when the strategy is
//! unset (Kiali's default on OpenShift is `openshift`; seed 001's remote CR relies on it). The
//! redirect URIs are `auth.openshift.redirect_uris`; without them a remote CR fails as Kiali's
//! does (no server or Route tells the operator where the console is), and a primary uses its
//! `server.web_fqdn` (`<public base>/api/auth/callback`, which OpenShift's prefix match extends to
//! every `/api/auth/callback/<cluster>`). BEYOND Kiali, which reads the host of its Route: the
//! Route's host is OpenShift's to assign after the build, so a primary without either fails too.

use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use meshglass_crds::openshift::{OpenShiftConfig, callback_path, oauth_client_name};
use meshglass_crds::spec::AuthStrategy;
use serde_json::{Map, Value, json};

use super::{Child, Ctx, Error, Result};

/// The OAuthClient API the operator looks for and writes.
pub fn oauth_client_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("oauth.openshift.io", "v1", "OAuthClient"),
        "oauthclients",
    )
}

/// Kiali's message when a remote CR names no redirect URI.
pub const NO_REDIRECT_URIS: &str = "Redirect URIs for the Kiali Server OAuthClient are not specified via auth.openshift.redirect_uris; this is required when creating remote cluster resources with auth.strategy of openshift";

impl Ctx<'_> {
    /// The OAuthClient, when the API exists and the strategy is (or defaults to) `openshift`.
    pub(super) fn oauth_client(&self, api: bool) -> Result<Option<Child>> {
        let remote = self.cfg.deployment.remote_cluster_resources_only;
        let strategy = self
            .kiali
            .spec
            .auth
            .as_ref()
            .and_then(|a| a.strategy)
            .unwrap_or_default();
        let wanted = match strategy {
            AuthStrategy::Openshift => true,
            AuthStrategy::Unset => remote,
            _ => false,
        };
        if !api || !wanted {
            return Ok(None);
        }
        let os = OpenShiftConfig::from_value(&self.cfg.auth.openshift)
            .map_err(|e| Error::field("auth.openshift", e))?;
        let uris = if !os.redirect_uris.is_empty() {
            os.redirect_uris.clone()
        } else if remote {
            return Err(Error::field(
                "auth.openshift.redirect_uris",
                NO_REDIRECT_URIS,
            ));
        } else if !self.cfg.server.web_fqdn.trim().is_empty() {
            vec![format!(
                "{}{}",
                self.cfg.public_base(None, None),
                callback_path(None)
            )]
        } else {
            return Err(Error::field(
                "auth.openshift.redirect_uris",
                "the OAuthClient of the openshift strategy needs the console's URL: set \
                 auth.openshift.redirect_uris or server.web_fqdn",
            ));
        };
        let mut data = Map::new();
        data.insert("redirectURIs".into(), json!(uris));
        data.insert("grantMethod".into(), json!("auto"));
        if let Some(t) = os.token_inactivity_timeout {
            data.insert("accessTokenInactivityTimeoutSeconds".into(), json!(t));
        }
        if let Some(t) = os.token_max_age {
            data.insert("accessTokenMaxAgeSeconds".into(), json!(t));
        }
        let name = oauth_client_name(&self.inst, &self.ns);
        let mut obj = DynamicObject::new(&name, &oauth_client_resource());
        obj.metadata = self.cluster_meta(&name);
        obj.data = Value::Object(data);
        Ok(Some(Child::OAuthClient(obj)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BuildOptions, Child, Desired, Platform, build_on};
    use crate::reconcile::validate::Tenancy;
    use meshglass_crds::{Kiali, KialiSpec};
    use serde_json::{Value, json};

    fn built(spec: Value, oauth_clients: bool) -> crate::Result<Desired> {
        let spec: KialiSpec = serde_json::from_value(spec).unwrap();
        let mut k = Kiali::new("kiali", spec);
        k.metadata.namespace = Some("istio-system".into());
        k.metadata.uid = Some("uid-1".into());
        let opts = BuildOptions {
            tenancy: Tenancy::allow_all(),
            ..BuildOptions::default()
        };
        let platform = Platform {
            oauth_clients,
            ..Default::default()
        };
        build_on(&k, &[], &[], platform, &opts)
    }

    fn client_of(d: &Desired) -> Option<Value> {
        d.objects.iter().find_map(|c| match c {
            Child::OAuthClient(o) => Some(serde_json::to_value(o).unwrap()),
            _ => None,
        })
    }

    /// Seed 001 (OSSM 3 §6.5 step 4): the remote CR names no strategy, only the redirect URI.
    fn seed_remote() -> Value {
        json!({
            "version": "default",
            "auth": {"openshift": {"redirect_uris": [
                "https://kiali-istio-system.apps.east.example.com/api/auth/callback/cluster2"]}},
            "deployment": {"remote_cluster_resources_only": true},
        })
    }

    #[test]
    fn seed_001s_remote_cr_writes_kialis_oauth_client() {
        let d = built(seed_remote(), true).unwrap();
        let c = client_of(&d).expect("an OAuthClient");
        assert_eq!(c["apiVersion"], "oauth.openshift.io/v1");
        assert_eq!(c["kind"], "OAuthClient");
        assert_eq!(c["metadata"]["name"], "kiali-istio-system");
        assert!(c["metadata"].get("namespace").is_none(), "cluster-scoped");
        assert!(c["metadata"].get("ownerReferences").is_none());
        assert_eq!(c["metadata"]["labels"]["app.kubernetes.io/name"], "kiali");
        assert_eq!(
            c["redirectURIs"],
            json!(["https://kiali-istio-system.apps.east.example.com/api/auth/callback/cluster2"])
        );
        assert_eq!(c["grantMethod"], "auto");
        assert!(c.get("accessTokenMaxAgeSeconds").is_none());
        // Where the API does not exist, none (and the rest is the same).
        let plain = built(seed_remote(), false).unwrap();
        assert!(client_of(&plain).is_none());
        assert_eq!(plain.objects.len() + 1, d.objects.len());
    }

    #[test]
    fn token_ages_and_strategies() {
        let mut spec = seed_remote();
        spec["auth"]["openshift"]["token_inactivity_timeout"] = json!(600);
        spec["auth"]["openshift"]["token_max_age"] = json!(3600);
        let c = client_of(&built(spec, true).unwrap()).unwrap();
        assert_eq!(c["accessTokenInactivityTimeoutSeconds"], 600);
        assert_eq!(c["accessTokenMaxAgeSeconds"], 3600);
        // Another strategy named: no OAuthClient, remote or not.
        let mut token = seed_remote();
        token["auth"]["strategy"] = json!("token");
        assert!(client_of(&built(token, true).unwrap()).is_none());
        // A primary: only for the openshift strategy, at its web_fqdn unless redirect_uris says.
        assert!(client_of(&built(json!({}), true).unwrap()).is_none());
        let primary = json!({"auth": {"strategy": "openshift"},
            "server": {"web_fqdn": "kiali.apps.east", "web_schema": "https"}});
        let c = client_of(&built(primary, true).unwrap()).unwrap();
        assert_eq!(
            c["redirectURIs"],
            json!(["https://kiali.apps.east/kiali/api/auth/callback"])
        );
        let e = built(json!({"auth": {"strategy": "openshift"}}), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.web_fqdn"), "{e}");
        // Without the API, a primary with the openshift strategy builds as before.
        assert!(built(json!({"auth": {"strategy": "openshift"}}), false).is_ok());
    }

    #[test]
    fn a_remote_cr_without_redirect_uris_fails_as_kialis_does() {
        let e = built(
            json!({"deployment": {"remote_cluster_resources_only": true}}),
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(super::NO_REDIRECT_URIS), "{e}");
        let mut bad = seed_remote();
        bad["auth"]["openshift"]["redirect_uris"] = json!(["kiali/api/auth/callback/west"]);
        let e = built(bad, true).unwrap_err().to_string();
        assert!(e.contains("auth.openshift.redirect_uris[0]"), "{e}");
        // Without the API the field is not needed.
        assert!(
            built(
                json!({"deployment": {"remote_cluster_resources_only": true}}),
                false
            )
            .is_ok()
        );
    }
}
