//! The OLM bundle (`bundle/`): ClusterServiceVersion, the CRD, `metadata/annotations.yaml` and
//! `bundle.Dockerfile`, generated (pure) from the same sources as everything else — the CRD from
//! the Rust types, the permissions from [`crate::rbac`], `alm-examples` from the files in
//! `examples/` — so that `make bundle-check` can fail on drift instead of trusting hand copies.

use serde_json::{Value, json};

use crate::{Error, Result, build, rbac};

/// OLM package name (also the ServiceAccount and Deployment name of the operator).
pub const PACKAGE: &str = "meshglass-operator";
/// Channels, the first being the default.
pub const CHANNELS: &[&str] = &["stable", "alpha"];
/// The operator version (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Lowest Kubernetes release with what the CRD and the operator use (CEL transition rules with
/// `reason`, events.k8s.io/v1, server-side apply). The tests run on 1.35.
pub const MIN_KUBE_VERSION: &str = "1.30.0";
/// Port of the operator's /healthz, /readyz and /metrics.
pub const ADMIN_PORT: u16 = 8080;

/// Images named by the bundle. The defaults are what `make images` tags locally (buildah names
/// local images `localhost/<name>`); `make bundle IMAGE_REGISTRY=…` writes a bundle for a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleOptions {
    pub operator_image: String,
    pub server_image: String,
}

impl BundleOptions {
    /// `<registry>/meshglass-operator:v<version>` and `<registry>/meshglass-server:v<version>`.
    pub fn for_registry(registry: &str) -> Self {
        let registry = registry.trim_end_matches('/');
        BundleOptions {
            operator_image: format!("{registry}/meshglass-operator:v{VERSION}"),
            server_image: format!("{registry}/meshglass-server:v{VERSION}"),
        }
    }
}

impl Default for BundleOptions {
    fn default() -> Self {
        Self::for_registry("localhost")
    }
}

/// `meshglass-operator.v<version>`.
pub fn csv_name() -> String {
    format!("{PACKAGE}.v{VERSION}")
}

/// The `alm-examples` array: every YAML document of every example file, as JSON.
pub fn alm_examples(example_files: &[&str]) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for text in example_files {
        for doc in serde_yaml_ng::Deserializer::from_str(text) {
            let value = <Value as serde::Deserialize>::deserialize(doc)
                .map_err(|e| Error::Serialize(format!("example YAML: {e}")))?;
            if !value.is_null() {
                out.push(value);
            }
        }
    }
    Ok(out)
}

/// The operator's Deployment spec: one replica (a Lease elects the leader), restricted Pod Security,
/// read-only root filesystem, probes on the admin port — the same container as the Helm chart's
/// (charts/meshglass-operator, default values).
pub fn deployment_spec(opts: &BundleOptions) -> Value {
    let probe = |path: &str, delay: u32| {
        json!({
            "httpGet": {"path": path, "port": "http-admin"},
            "initialDelaySeconds": delay,
            "periodSeconds": 10,
        })
    };
    let field = |path: &str| json!({"fieldRef": {"fieldPath": path}});
    json!({
        "replicas": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": PACKAGE}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": PACKAGE}},
            "spec": {
                "serviceAccountName": PACKAGE,
                "securityContext": {
                    "runAsNonRoot": true,
                    "runAsUser": 65532,
                    "runAsGroup": 65532,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [{
                    "name": "operator",
                    "image": opts.operator_image,
                    "imagePullPolicy": "IfNotPresent",
                    "args": [
                        "run", "--log-format", "json",
                        "--leader-election", "true", "--lease-name", PACKAGE,
                    ],
                    "env": [
                        {"name": "POD_NAMESPACE", "valueFrom": field("metadata.namespace")},
                        {"name": "POD_NAME", "valueFrom": field("metadata.name")},
                        {"name": "MESHGLASS_SERVER_IMAGE", "value": opts.server_image},
                        // Tenancy switches (README "Tenancy"), all off: patch the CSV's env to allow.
                        {"name": "ALLOW_AD_HOC_KIALI_NAMESPACE", "value": "false"},
                        {"name": "ALLOW_AD_HOC_KIALI_IMAGE", "value": "false"},
                        {"name": "ALLOW_REMOTE_CLUSTER_RESOURCES", "value": "false"},
                        {"name": "MESHGLASS_OPERATOR_ADMIN_ADDR", "value": format!("0.0.0.0:{ADMIN_PORT}")},
                        {"name": "RUST_LOG", "value": "info"},
                    ],
                    "ports": [{"name": "http-admin", "containerPort": ADMIN_PORT, "protocol": "TCP"}],
                    "livenessProbe": probe("/healthz", 5),
                    "readinessProbe": probe("/readyz", 2),
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "32Mi"},
                        "limits": {"cpu": "500m", "memory": "256Mi"},
                    },
                    "securityContext": build::restricted_container_security_context(),
                }],
            },
        },
    })
}

fn descriptor(path: &str, name: &str, description: &str, x: &[&str]) -> Value {
    json!({"path": path, "displayName": name, "description": description, "x-descriptors": x})
}

const DESCRIPTION: &str = "meshglass is a Kiali-compatible console for Istio meshes that span several clusters: \
one server reads every cluster of the mesh and one unified Prometheus, and shows a traffic graph, health, \
inventories and Istio configuration validations for the whole mesh.

The operator reconciles `kiali.io/v1alpha1` `Kiali` resources, so existing Kiali CRs work unchanged:

* On a **primary** cluster it deploys the server (ServiceAccount, ConfigMap, RBAC, Deployment, Service) and \
mounts every remote-cluster Secret labelled `kiali.io/multiCluster=true`, rolling the server when one changes.
* On a **remote** cluster (`spec.deployment.remote_cluster_resources_only: true`) it creates only what the \
primary's server needs to read that cluster: a ServiceAccount, its read-only ClusterRole and binding, and a \
long-lived token Secret.

Status follows `kubectl wait --for=condition=Successful`, Argo CD's Kiali health check and Flux's kstatus \
(`status.observedGeneration` and a `Ready` condition). The operator watches Kiali resources in all namespaces.";

/// The CSV's spec descriptors: the CR fields the OperatorHub form shows.
fn spec_descriptors() -> Vec<Value> {
    let bool_switch = "urn:alm:descriptor:com.tectonic.ui:booleanSwitch";
    let text = "urn:alm:descriptor:com.tectonic.ui:text";
    let number = "urn:alm:descriptor:com.tectonic.ui:number";
    vec![
        descriptor(
            "auth.strategy",
            "Authentication strategy",
            "How users log in: anonymous, token (the default), openid, header or openshift.",
            &[
                "urn:alm:descriptor:com.tectonic.ui:select:anonymous",
                "urn:alm:descriptor:com.tectonic.ui:select:token",
                "urn:alm:descriptor:com.tectonic.ui:select:openid",
                "urn:alm:descriptor:com.tectonic.ui:select:header",
                "urn:alm:descriptor:com.tectonic.ui:select:openshift",
            ],
        ),
        descriptor(
            "deployment.instance_name",
            "Instance name",
            "Name of the server's objects (default kiali; immutable).",
            &[text],
        ),
        descriptor(
            "deployment.namespace",
            "Deployment namespace",
            "Namespace of the server (default: the CR's namespace; immutable).",
            &[text],
        ),
        descriptor(
            "deployment.remote_cluster_resources_only",
            "Remote cluster resources only",
            "Create only the ServiceAccount, RBAC and token a primary needs to read this cluster (immutable).",
            &[bool_switch],
        ),
        descriptor(
            "deployment.view_only_mode",
            "View-only mode",
            "Grant the server read-only access.",
            &[bool_switch],
        ),
        descriptor(
            "deployment.cluster_wide_access",
            "Cluster-wide access",
            "Read every namespace (default true); false grants Roles only in the selected namespaces.",
            &[bool_switch],
        ),
        descriptor(
            "kubernetes_config.cluster_name",
            "Cluster name",
            "Name of this cluster as Istio's metrics label it (source_cluster/destination_cluster).",
            &[text],
        ),
        descriptor(
            "external_services.prometheus.url",
            "Prometheus URL",
            "The unified Prometheus holding every cluster's Istio metrics.",
            &[text],
        ),
        descriptor(
            "server.port",
            "Server port",
            "Port of the API and web UI (default 20001).",
            &[number],
        ),
        descriptor(
            "server.web_root",
            "Web root",
            "Path prefix of the API and web UI (default /kiali).",
            &[text],
        ),
    ]
}

/// The CSV's status descriptors.
fn status_descriptors() -> Vec<Value> {
    let text = "urn:alm:descriptor:com.tectonic.ui:text";
    vec![
        descriptor(
            "conditions",
            "Conditions",
            "Running, Successful, Failure, Ready, Reconciling and Stalled, each with the generation it describes.",
            &["urn:alm:descriptor:io.kubernetes.conditions"],
        ),
        descriptor(
            "observedGeneration",
            "Observed generation",
            "The generation of the spec the status describes.",
            &[text],
        ),
        descriptor(
            "deployment.namespace",
            "Deployment namespace",
            "Where the server's objects are.",
            &[text],
        ),
        descriptor(
            "progress.message",
            "Progress",
            "What the last reconciliation did.",
            &[text],
        ),
        descriptor(
            "serviceAccountTokenSecret",
            "Token Secret",
            "Remote mode: the Secret holding the ServiceAccount token for the primary.",
            &["urn:alm:descriptor:io.kubernetes:Secret"],
        ),
    ]
}

/// The ClusterServiceVersion.
pub fn csv(example_files: &[&str], opts: &BundleOptions) -> Result<Value> {
    let examples = alm_examples(example_files)?;
    let examples_json =
        serde_json::to_string_pretty(&examples).map_err(|e| Error::Serialize(e.to_string()))?;
    let spec_descriptors = spec_descriptors();
    let status_descriptors = status_descriptors();
    let kiali_resources = ["ServiceAccount", "ConfigMap", "Deployment", "Service"]
        .iter()
        .map(|k| json!({"kind": k, "name": "", "version": "v1"}))
        .collect::<Vec<_>>();
    Ok(json!({
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "ClusterServiceVersion",
        "metadata": {
            "name": csv_name(),
            "annotations": {
                "alm-examples": examples_json,
                "capabilities": "Basic Install",
                "categories": "Monitoring,Networking",
                "containerImage": opts.operator_image,
                "description": "Kiali-compatible console for multi-cluster Istio meshes",
                "operatorframework.io/suggested-namespace": "meshglass-operator",
                "repository": "https://example.invalid/meshglass",
                "support": "meshglass",
            },
            "labels": {
                "operatorframework.io/arch.amd64": "supported",
                "operatorframework.io/os.linux": "supported",
            },
        },
        "spec": {
            "displayName": "meshglass",
            "description": DESCRIPTION,
            "version": VERSION,
            "maturity": "alpha",
            "minKubeVersion": MIN_KUBE_VERSION,
            "provider": {"name": "meshglass", "url": "https://example.invalid/meshglass"},
            "maintainers": [{"name": "meshglass", "email": "meshglass@example.invalid"}],
            "links": [
                {"name": "Source", "url": "https://example.invalid/meshglass"},
                {"name": "Kiali CR reference", "url": "https://kiali.io/docs/configuration/kialis.kiali.io/"},
            ],
            "keywords": ["istio", "kiali", "service mesh", "multi-cluster", "observability", "graph"],
            "installModes": [
                // The operator watches Kiali CRs (and the objects it builds) in every namespace;
                // it cannot be confined to a subset of them.
                {"type": "OwnNamespace", "supported": false},
                {"type": "SingleNamespace", "supported": false},
                {"type": "MultiNamespace", "supported": false},
                {"type": "AllNamespaces", "supported": true},
            ],
            "customresourcedefinitions": {
                "owned": [{
                    "name": "kialis.kiali.io",
                    "version": "v1alpha1",
                    "kind": "Kiali",
                    "displayName": "Kiali",
                    "description": "A Kiali-compatible console installation (primary), or the credentials a primary needs to read this cluster (remote).",
                    "resources": kiali_resources,
                    "specDescriptors": spec_descriptors,
                    "statusDescriptors": status_descriptors,
                }],
            },
            "relatedImages": [
                {"name": "meshglass-operator", "image": opts.operator_image},
                {"name": "meshglass-server", "image": opts.server_image},
            ],
            "install": {
                "strategy": "deployment",
                "spec": {
                    "clusterPermissions": [{
                        "serviceAccountName": PACKAGE,
                        "rules": rbac::operator_cluster_rules(),
                    }],
                    "permissions": [{
                        "serviceAccountName": PACKAGE,
                        "rules": rbac::operator_namespace_rules(),
                    }],
                    "deployments": [{
                        "name": PACKAGE,
                        "label": {"app.kubernetes.io/name": PACKAGE},
                        "spec": deployment_spec(opts),
                    }],
                },
            },
        },
    }))
}

/// The annotations shared by `metadata/annotations.yaml` and the bundle image's labels.
pub fn bundle_annotations() -> Vec<(&'static str, String)> {
    vec![
        (
            "operators.operatorframework.io.bundle.mediatype.v1",
            "registry+v1".into(),
        ),
        (
            "operators.operatorframework.io.bundle.manifests.v1",
            "manifests/".into(),
        ),
        (
            "operators.operatorframework.io.bundle.metadata.v1",
            "metadata/".into(),
        ),
        (
            "operators.operatorframework.io.bundle.package.v1",
            PACKAGE.into(),
        ),
        (
            "operators.operatorframework.io.bundle.channels.v1",
            CHANNELS.join(","),
        ),
        (
            "operators.operatorframework.io.bundle.channel.default.v1",
            CHANNELS[0].into(),
        ),
    ]
}

const HEADER: &str = "# Generated by `meshglass-operator bundle` (make bundle); do not edit.\n";

fn to_yaml<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_yaml_ng::to_string(value).map_err(|e| Error::Serialize(e.to_string()))
}

/// Every file of the bundle directory, as (path relative to it, content).
pub fn files(
    crd_yaml: &str,
    example_files: &[&str],
    opts: &BundleOptions,
) -> Result<Vec<(String, String)>> {
    let annotations: serde_json::Map<String, Value> = bundle_annotations()
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v)))
        .collect();
    let mut dockerfile = format!(
        "{HEADER}\
         # The OLM bundle image: `buildah bud -f bundle.Dockerfile -t <registry>/meshglass-operator-bundle:v<version> bundle/`.\n\
         FROM scratch\n",
    );
    for (k, v) in bundle_annotations() {
        dockerfile.push_str(&format!("LABEL {k}={v}\n"));
    }
    dockerfile.push_str("COPY manifests /manifests/\nCOPY metadata /metadata/\n");
    Ok(vec![
        (
            format!("manifests/{PACKAGE}.clusterserviceversion.yaml"),
            format!("{HEADER}{}", to_yaml(&csv(example_files, opts)?)?),
        ),
        (
            "manifests/kiali.io_kialis.yaml".into(),
            format!("{HEADER}{crd_yaml}"),
        ),
        (
            "metadata/annotations.yaml".into(),
            format!(
                "{HEADER}{}",
                to_yaml(&json!({ "annotations": annotations }))?
            ),
        ),
        ("bundle.Dockerfile".into(), dockerfile),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIMARY: &str = include_str!("../../examples/kiali-primary.yaml");
    const REMOTE: &str = include_str!("../../examples/kiali-remote.yaml");
    const COMMITTED_CSV: &str =
        include_str!("../../bundle/manifests/meshglass-operator.clusterserviceversion.yaml");

    fn committed() -> Value {
        serde_yaml_ng::from_str(COMMITTED_CSV).expect("committed CSV parses")
    }

    #[test]
    fn committed_cluster_permissions_are_the_operator_rules() {
        let csv = committed();
        let spec = &csv["spec"]["install"]["spec"];
        let cluster: Vec<k8s_openapi::api::rbac::v1::PolicyRule> =
            serde_json::from_value(spec["clusterPermissions"][0]["rules"].clone()).unwrap();
        assert_eq!(cluster, rbac::operator_cluster_rules());
        let ns: Vec<k8s_openapi::api::rbac::v1::PolicyRule> =
            serde_json::from_value(spec["permissions"][0]["rules"].clone()).unwrap();
        assert_eq!(ns, rbac::operator_namespace_rules());
        assert_eq!(spec["clusterPermissions"][0]["serviceAccountName"], PACKAGE);
        assert_eq!(
            spec["deployments"][0]["spec"]["template"]["spec"]["serviceAccountName"],
            PACKAGE
        );
    }

    #[test]
    fn committed_alm_examples_are_the_example_files() {
        let csv = committed();
        let raw = csv["metadata"]["annotations"]["alm-examples"]
            .as_str()
            .expect("alm-examples is a string");
        let examples: Vec<Value> = serde_json::from_str(raw).expect("alm-examples is JSON");
        let primary: Value = serde_yaml_ng::from_str(PRIMARY).unwrap();
        let remote: Value = serde_yaml_ng::from_str(REMOTE).unwrap();
        assert_eq!(examples, vec![primary, remote]);
        for e in &examples {
            let k: crate::crds::Kiali = serde_json::from_value(e.clone()).expect("a Kiali CR");
            assert_eq!(k.metadata.name.as_deref(), Some("kiali"));
        }
    }

    #[test]
    fn csv_names_version_and_all_namespaces() {
        let csv = csv(&[PRIMARY, REMOTE], &BundleOptions::default()).unwrap();
        assert_eq!(
            csv["metadata"]["name"],
            format!("meshglass-operator.v{VERSION}")
        );
        assert_eq!(csv["spec"]["version"], VERSION);
        let modes = csv["spec"]["installModes"].as_array().unwrap();
        let all = modes.iter().find(|m| m["type"] == "AllNamespaces").unwrap();
        assert_eq!(all["supported"], true);
        let owned = &csv["spec"]["customresourcedefinitions"]["owned"][0];
        assert_eq!(owned["name"], "kialis.kiali.io");
        assert_eq!(owned["version"], "v1alpha1");
    }

    #[test]
    fn operator_pod_is_restricted_with_resources() {
        let spec = deployment_spec(&BundleOptions::default());
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let c = &pod["containers"][0];
        let sc = &c["securityContext"];
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert!(c["resources"]["requests"]["memory"].is_string());
        assert!(c["resources"]["limits"]["memory"].is_string());
        assert!(!c["image"].as_str().unwrap().ends_with(":latest"));
        let d: k8s_openapi::api::apps::v1::DeploymentSpec =
            serde_json::from_value(spec).expect("a DeploymentSpec");
        assert_eq!(d.replicas, Some(1));
    }

    #[test]
    fn annotations_and_dockerfile_agree() {
        let files = files(
            "kind: CustomResourceDefinition\n",
            &[PRIMARY, REMOTE],
            &BundleOptions::default(),
        )
        .unwrap();
        let get = |p: &str| &files.iter().find(|(path, _)| path == p).unwrap().1;
        let ann: Value = serde_yaml_ng::from_str(get("metadata/annotations.yaml")).unwrap();
        let docker = get("bundle.Dockerfile");
        for (k, v) in bundle_annotations() {
            assert_eq!(ann["annotations"][k], v.as_str());
            assert!(docker.contains(&format!("LABEL {k}={v}\n")), "{docker}");
        }
        assert_eq!(
            ann["annotations"]["operators.operatorframework.io.bundle.channel.default.v1"],
            "stable"
        );
    }

    #[test]
    fn bad_example_yaml_is_an_error_not_a_panic() {
        assert!(alm_examples(&["a: [unclosed"]).is_err());
    }
}
