//! Metrics- and tracing-store credentials out of `config.yaml`: an inline `password`/`token` of
//! `external_services.prometheus.auth` (or `.tracing.auth`) moves into Secret `<instance>-prometheus-auth` (the ConfigMap
//! then holds Kiali's `secret:<name>:<key>` reference to it), and every referenced Secret key is
//! mounted where the server reads it, `/kiali-override-secrets/<service>-<field>/value.txt`, as
//! Kiali's operator does. The CA bundle ConfigMap `<instance>-cabundle` is mounted when it exists.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, KeyToPath, SecretVolumeSource, Volume, VolumeMount,
};
use meshglass_crds::config::{self, Config};

/// What the Deployment mounts for the metrics client, and the Secret holding inline values.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Credentials {
    /// `(setting, secret name, key)`: setting is `prometheus-password` etc.
    pub mounts: Vec<(String, String, String)>,
    /// Data of Secret [`secret_name`] (inline values moved out of the config); empty = no Secret.
    pub inline: BTreeMap<String, ByteString>,
}

/// The Secret the operator writes inline credentials into.
pub fn secret_name(instance: &str) -> String {
    format!("{instance}-prometheus-auth")
}

/// Kiali's `secret:<name>:<key>`.
fn reference(value: &str) -> Option<(&str, &str)> {
    let (name, key) = value.strip_prefix("secret:")?.split_once(':')?;
    (!name.is_empty() && !key.is_empty()).then_some((name, key))
}

/// Moves inline secrets out of `cfg` (rewriting them as references) and lists what to mount.
/// The username is an identifier, not a secret: it stays inline unless it is a reference.
pub fn extract(cfg: &mut Config) -> Credentials {
    let inst = cfg.deployment.instance_name.clone();
    let own = secret_name(&inst);
    let mut out = Credentials::default();
    let services = &mut cfg.external_services;
    // The metrics store's keys keep their names (`password`, `token`); the tracing store's are
    // prefixed (`tracing-password`), in the same Secret.
    for (service, auth, prefix) in [
        ("prometheus", &mut services.prometheus.auth, ""),
        ("tracing", &mut services.tracing.auth, "tracing-"),
    ] {
        for (field, value, movable) in [
            ("username", &mut auth.username, false),
            ("password", &mut auth.password, true),
            ("token", &mut auth.token, true),
        ] {
            if value.is_empty() {
                continue;
            }
            if let Some((name, key)) = reference(value) {
                out.mounts.push((
                    format!("{service}-{field}"),
                    name.to_string(),
                    key.to_string(),
                ));
            } else if movable {
                let key = format!("{prefix}{field}");
                out.inline
                    .insert(key.clone(), ByteString(value.as_bytes().to_vec()));
                *value = format!("secret:{own}:{key}");
                out.mounts
                    .push((format!("{service}-{field}"), own.clone(), key));
            }
        }
    }
    out
}

impl Credentials {
    /// One read-only volume per mounted key, and the optional CA bundle.
    pub fn volumes(&self, instance: &str) -> (Vec<Volume>, Vec<VolumeMount>) {
        let mut volumes = vec![Volume {
            name: "kiali-cabundle".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: format!("{instance}-cabundle"),
                optional: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }];
        let mut mounts = vec![VolumeMount {
            name: "kiali-cabundle".into(),
            mount_path: config::CA_BUNDLE_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        }];
        // Secret `<instance>` (key `oidc-secret`: the OpenID client secret), as Kiali mounts it.
        volumes.push(Volume {
            name: "kiali-secret".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(instance.to_string()),
                optional: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        });
        mounts.push(VolumeMount {
            name: "kiali-secret".into(),
            mount_path: meshglass_crds::openid::CLIENT_SECRET_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        });
        for (setting, secret, key) in &self.mounts {
            volumes.push(Volume {
                name: setting.clone(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.clone()),
                    items: Some(vec![KeyToPath {
                        key: key.clone(),
                        path: "value.txt".into(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            });
            mounts.push(VolumeMount {
                name: setting.clone(),
                mount_path: format!("{}/{setting}", config::OVERRIDE_SECRETS_DIR),
                read_only: Some(true),
                ..Default::default()
            });
        }
        (volumes, mounts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_secrets_move_out_of_the_config_and_references_are_mounted() {
        let mut cfg = Config::default();
        cfg.deployment.instance_name = "kiali".into();
        let auth = &mut cfg.external_services.prometheus.auth;
        auth.auth_type = "basic".into();
        auth.username = "reader".into();
        auth.password = "hunter2".into();
        auth.token = "secret:my-prom:tok".into();
        let c = extract(&mut cfg);
        let yaml = cfg.to_yaml().unwrap();
        assert!(!yaml.contains("hunter2"), "{yaml}");
        assert!(
            yaml.contains("secret:kiali-prometheus-auth:password"),
            "{yaml}"
        );
        assert!(yaml.contains("username: reader"), "{yaml}");
        assert_eq!(c.inline["password"].0, b"hunter2");
        assert_eq!(c.inline.len(), 1);
        assert_eq!(
            c.mounts,
            vec![
                (
                    "prometheus-password".into(),
                    "kiali-prometheus-auth".into(),
                    "password".into()
                ),
                ("prometheus-token".into(), "my-prom".into(), "tok".into()),
            ]
        );
        let (vols, mounts) = c.volumes("kiali");
        assert_eq!(vols.len(), 4);
        assert_eq!(vols[0].config_map.as_ref().unwrap().optional, Some(true));
        // Secret `<instance>` (the OpenID client secret), optional, at Kiali's path.
        let s = vols[1].secret.as_ref().unwrap();
        assert_eq!(
            (s.secret_name.as_deref(), s.optional),
            (Some("kiali"), Some(true))
        );
        assert_eq!(mounts[1].mount_path, "/kiali-secret");
        assert!(mounts.iter().all(|m| m.read_only == Some(true)));
        assert_eq!(
            mounts[3].mount_path,
            "/kiali-override-secrets/prometheus-token"
        );
        // The tracing store's: the same Secret, keys of its own, mounted at `tracing-<field>`.
        let mut cfg = Config::default();
        cfg.deployment.instance_name = "kiali".into();
        cfg.external_services.prometheus.auth.token = "prom-token".into();
        cfg.external_services.tracing.auth.token = "jaeger-token".into();
        let c = extract(&mut cfg);
        let yaml = cfg.to_yaml().unwrap();
        assert!(
            !yaml.contains("jaeger-token") && !yaml.contains("prom-token"),
            "{yaml}"
        );
        assert!(
            yaml.contains("secret:kiali-prometheus-auth:tracing-token"),
            "{yaml}"
        );
        assert_eq!(c.inline["tracing-token"].0, b"jaeger-token");
        assert_eq!(c.inline["token"].0, b"prom-token");
        assert!(c.mounts.contains(&(
            "tracing-token".into(),
            "kiali-prometheus-auth".into(),
            "tracing-token".into()
        )));
        // Nothing inline: no Secret, only the CA bundle.
        let mut plain = Config::default();
        let c = extract(&mut plain);
        assert!(c.inline.is_empty() && c.mounts.is_empty());
    }
}
