//! The server's workload: its Deployment (config and remote-secret mounts, hashes that roll the pods)
//! and its Service.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvVar, EnvVarSource, HTTPGetAction, LocalObjectReference, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, Secret, SecretKeySelector,
    SecretVolumeSource, SecurityContext, Service, ServicePort, ServiceSpec, Toleration, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use meshglass_crds::config;
use meshglass_crds::names;

use super::{Ctx, Error, Result, hash};

/// Istio's per-pod injection switch (label or annotation; the label wins).
const SIDECAR_INJECT: &str = "sidecar.istio.io/inject";

/// Kiali's default `deployment.resources` (requests 10m CPU / 64Mi, limit 1Gi memory), used when the CR
/// sets none: the pod always has requests and a memory limit (namespaces with a LimitRange or a
/// ResourceQuota reject pods without them).
pub fn default_resources() -> ResourceRequirements {
    let q = |v: &str| k8s_openapi::apimachinery::pkg::api::resource::Quantity(v.to_string());
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), q("10m")),
            ("memory".to_string(), q("64Mi")),
        ])),
        limits: Some(BTreeMap::from([("memory".to_string(), q("1Gi"))])),
        ..Default::default()
    }
}

/// The container securityContext of the restricted Pod Security profile, with a read-only root filesystem:
/// the server's container, and the operator's own in the OLM bundle.
pub fn restricted_container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        ..Default::default()
    }
}

impl Ctx<'_> {
    pub(super) fn extra<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.cfg.deployment.extra.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| Error::field(format!("deployment.{key}"), e)),
        }
    }

    fn image(&self) -> Result<String> {
        let name: Option<String> = self.extra("image_name")?;
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Ok(self.opts.server_image.clone());
        };
        let digest: Option<String> = self.extra("image_digest")?;
        let version: Option<String> = self.extra("image_version")?;
        Ok(
            match (
                digest.filter(|d| !d.is_empty()),
                version.filter(|v| !v.is_empty() && v != "default"),
            ) {
                (Some(d), _) => format!("{name}@{d}"),
                (None, Some(v)) => format!("{name}:{v}"),
                (None, None) => name,
            },
        )
    }

    /// The server's Deployment; `signing_key` is Secret `<instance>-signing-key` when it exists.
    pub(super) fn deployment(
        &self,
        config_yaml: &str,
        secrets: &[&Secret],
        signing_key: Option<&Secret>,
    ) -> Result<Deployment> {
        let mut template = self.pod_metadata(config_yaml, secrets)?;
        if let Some(key) = signing_key {
            let data = key
                .data
                .as_ref()
                .and_then(|d| d.get(names::SIGNING_KEY_DATA_KEY))
                .map(|v| v.0.as_slice())
                .unwrap_or_default();
            template
                .annotations
                .get_or_insert_default()
                .insert(names::SIGNING_KEY_HASH_ANNOTATION.into(), hash(&[data]));
        }
        let (volumes, mounts) = self.volumes(secrets);
        let container = self.container(mounts)?;
        let pod = self.pod(container, volumes)?;
        Ok(Deployment {
            metadata: self.meta(&self.inst, &self.ns),
            spec: Some(DeploymentSpec {
                replicas: Some(self.extra::<i32>("replicas")?.unwrap_or(1)),
                selector: LabelSelector {
                    match_labels: Some(names::selector(&self.inst)),
                    ..Default::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(template),
                    spec: Some(pod),
                },
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    /// Pod labels and annotations; the hashes of the config and of the mounted secrets roll the pods.
    fn pod_metadata(&self, config_yaml: &str, secrets: &[&Secret]) -> Result<ObjectMeta> {
        let mut secret_parts: Vec<Vec<u8>> = Vec::new();
        for s in secrets {
            secret_parts.push(s.name_any().into_bytes());
            for (k, v) in s.data.iter().flatten() {
                secret_parts.push(k.clone().into_bytes());
                secret_parts.push(v.0.clone());
            }
        }
        let refs: Vec<&[u8]> = secret_parts.iter().map(|p| p.as_slice()).collect();
        let user_labels = self
            .extra::<BTreeMap<String, String>>("pod_labels")?
            .unwrap_or_default();
        let mut annotations = self
            .extra::<BTreeMap<String, String>>("pod_annotations")?
            .unwrap_or_default();
        let mut pod_labels = self.labels();
        // The server needs no sidecar; but Istio reads the label before the annotation, so a user's
        // `sidecar.istio.io/inject` (label or annotation, seed 002) is never overridden by ours.
        if !user_labels.contains_key(SIDECAR_INJECT) && !annotations.contains_key(SIDECAR_INJECT) {
            pod_labels.insert(SIDECAR_INJECT.into(), "false".into());
        }
        pod_labels.extend(user_labels);
        annotations.insert(
            names::CONFIG_HASH_ANNOTATION.into(),
            hash(&[config_yaml.as_bytes()]),
        );
        annotations.insert(names::SECRETS_HASH_ANNOTATION.into(), hash(&refs));

        Ok(ObjectMeta {
            labels: Some(pod_labels),
            annotations: Some(annotations),
            ..Default::default()
        })
    }

    /// The config volume, a writable /tmp, and one read-only volume per mounted remote-cluster secret.
    fn volumes(&self, secrets: &[&Secret]) -> (Vec<Volume>, Vec<VolumeMount>) {
        let mut volumes = vec![
            Volume {
                name: "kiali-configuration".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: self.inst.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: "tmp".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            },
        ];
        let mut mounts = vec![
            VolumeMount {
                name: "kiali-configuration".into(),
                mount_path: config::CONFIG_DIR.into(),
                read_only: Some(true),
                ..Default::default()
            },
            VolumeMount {
                name: "tmp".into(),
                mount_path: "/tmp".into(),
                ..Default::default()
            },
        ];
        for (i, s) in secrets.iter().enumerate() {
            let vol = format!("remote-cluster-secret-{i}");
            volumes.push(Volume {
                name: vol.clone(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(s.name_any()),
                    ..Default::default()
                }),
                ..Default::default()
            });
            mounts.push(VolumeMount {
                name: vol,
                mount_path: format!("{}/{}", config::REMOTE_SECRETS_DIR, s.name_any()),
                read_only: Some(true),
                ..Default::default()
            });
        }
        (volumes, mounts)
    }

    fn container(&self, mounts: Vec<VolumeMount>) -> Result<Container> {
        let web_root = self.cfg.server.web_root.trim_end_matches('/');
        // Liveness: the process answers (`/healthz`); readiness: its caches have synced
        // (`/readyz`), so a server still listing its clusters gets no traffic.
        let probe = |path: &str, period: i32| Probe {
            http_get: Some(HTTPGetAction {
                path: Some(format!("{web_root}/{path}")),
                port: IntOrString::String("api-port".into()),
                ..Default::default()
            }),
            initial_delay_seconds: Some(5),
            period_seconds: Some(period),
            ..Default::default()
        };
        let pull_policy = self
            .cfg
            .deployment
            .extra
            .get("image_pull_policy")
            .and_then(|v| v.as_str())
            .unwrap_or(&self.opts.image_pull_policy)
            .to_string();
        Ok(Container {
            name: "kiali".into(),
            image: Some(self.image()?),
            image_pull_policy: Some(pull_policy),
            args: Some(vec!["--config".into(), config::CONFIG_FILE.into()]),
            // The key is read from its Secret, never from the ConfigMap.
            env: Some(vec![EnvVar {
                name: names::SIGNING_KEY_ENV.into(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: names::signing_key_secret(&self.inst),
                        key: names::SIGNING_KEY_DATA_KEY.into(),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ports: Some(vec![
                ContainerPort {
                    name: Some("api-port".into()),
                    container_port: i32::from(self.cfg.server.port),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                },
                ContainerPort {
                    name: Some("http-metrics".into()),
                    container_port: i32::from(self.cfg.server.observability.metrics.port),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                },
            ]),
            readiness_probe: Some(probe("readyz", 10)),
            liveness_probe: Some(probe("healthz", 30)),
            security_context: Some(restricted_container_security_context()),
            resources: Some(
                self.extra::<ResourceRequirements>("resources")?
                    .unwrap_or_else(default_resources),
            ),
            volume_mounts: Some(mounts),
            ..Default::default()
        })
    }

    fn pod(&self, container: Container, volumes: Vec<Volume>) -> Result<PodSpec> {
        let pull_secrets = self
            .extra::<Vec<String>>("image_pull_secrets")?
            .unwrap_or_default();
        Ok(PodSpec {
            service_account_name: Some(names::service_account(&self.inst)),
            automount_service_account_token: Some(true),
            containers: vec![container],
            volumes: Some(volumes),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(1000),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            image_pull_secrets: (!pull_secrets.is_empty()).then(|| {
                pull_secrets
                    .into_iter()
                    .map(|name| LocalObjectReference { name })
                    .collect()
            }),
            node_selector: self.extra("node_selector")?,
            tolerations: self.extra::<Vec<Toleration>>("tolerations")?,
            affinity: self.extra::<Affinity>("affinity")?,
            priority_class_name: self
                .extra::<String>("priority_class_name")?
                .filter(|p| !p.is_empty()),
            ..Default::default()
        })
    }
    pub(super) fn service(&self) -> Service {
        let mut meta = self.meta(&self.inst, &self.ns);
        let ann: BTreeMap<String, String> = self
            .cfg
            .deployment
            .extra
            .get("service_annotations")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        if !ann.is_empty() {
            meta.annotations = Some(ann);
        }
        let service_type = self
            .cfg
            .deployment
            .extra
            .get("service_type")
            .and_then(|v| v.as_str())
            .unwrap_or("ClusterIP")
            .to_string();
        Service {
            metadata: meta,
            spec: Some(ServiceSpec {
                type_: Some(service_type),
                selector: Some(names::selector(&self.inst)),
                ports: Some(vec![
                    ServicePort {
                        name: Some("http".into()),
                        port: i32::from(self.cfg.server.port),
                        target_port: Some(IntOrString::String("api-port".into())),
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    },
                    ServicePort {
                        name: Some("http-metrics".into()),
                        port: i32::from(self.cfg.server.observability.metrics.port),
                        target_port: Some(IntOrString::String("http-metrics".into())),
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}
