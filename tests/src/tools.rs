//! Where the built tools live: `$MESHGLASS_CACHE/<tool>-<version>/` (default
//! `~/.cache/meshglass`), filled by `make tools` (tests/tools/build-tools.sh).

use std::path::{Path, PathBuf};

use crate::Error;

const VERSIONS_ENV: &str = include_str!("../tools/versions.env");
const HINT: &str = "run `make tools` (tests/tools/build-tools.sh) to build it";

/// The pinned versions of tests/tools/versions.env.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions {
    pub kubernetes: String,
    pub etcd: String,
    pub kwok: String,
    pub istio_api: String,
    pub helm: String,
    pub operator_framework_api: String,
    pub thanos: String,
    pub oauth2_proxy: String,
    pub hydra: String,
    pub jaeger: String,
}

/// Reads the pinned versions compiled in from tests/tools/versions.env.
pub fn versions() -> Versions {
    let get = |key: &str| {
        VERSIONS_ENV
            .lines()
            .filter_map(|l| l.trim().split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    Versions {
        kubernetes: get("KUBERNETES_VERSION"),
        etcd: get("ETCD_VERSION"),
        kwok: get("KWOK_VERSION"),
        istio_api: get("ISTIO_API_VERSION"),
        helm: get("HELM_VERSION"),
        operator_framework_api: get("OPERATOR_FRAMEWORK_API_VERSION"),
        thanos: get("THANOS_VERSION"),
        oauth2_proxy: get("OAUTH2_PROXY_VERSION"),
        hydra: get("HYDRA_VERSION"),
        jaeger: get("JAEGER_VERSION"),
    }
}

/// `$MESHGLASS_CACHE`, or `~/.cache/meshglass`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MESHGLASS_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Path::new(&home).join(".cache").join("meshglass")
}

/// Paths of every file the test bed runs or reads.
#[derive(Debug, Clone)]
pub struct Tools {
    pub kube_apiserver: PathBuf,
    pub kube_controller_manager: PathBuf,
    pub kube_scheduler: PathBuf,
    pub etcd: PathBuf,
    pub kwok: PathBuf,
    pub kwok_stages: PathBuf,
    /// kwok's `Logs` CRD (a pod's containers mapped to files served as their logs).
    pub kwok_logs_crd: PathBuf,
    /// kwok's `PortForward` CRD (a pod's ports mapped to an address, for `pods/portforward`).
    pub kwok_portforward_crd: PathBuf,
    pub istio_crds: PathBuf,
}

impl Tools {
    /// Locates the tools and fails with a clear message naming the first one missing.
    pub fn locate() -> Result<Self, Error> {
        let v = versions();
        let c = cache_dir();
        let k8s = c.join(format!("kubernetes-{}", v.kubernetes));
        let kwok = c.join(format!("kwok-{}", v.kwok));
        let tools = Tools {
            kube_apiserver: k8s.join("kube-apiserver"),
            kube_controller_manager: k8s.join("kube-controller-manager"),
            kube_scheduler: k8s.join("kube-scheduler"),
            etcd: c.join(format!("etcd-{}", v.etcd)).join("etcd"),
            kwok: kwok.join("kwok"),
            kwok_stages: kwok.join("stages.yaml"),
            kwok_logs_crd: kwok.join("logs-crd.yaml"),
            kwok_portforward_crd: kwok.join("portforward-crd.yaml"),
            istio_crds: c
                .join(format!("istio-api-{}", v.istio_api))
                .join("customresourcedefinitions.gen.yaml"),
        };
        for (name, path) in [
            ("kube-apiserver", &tools.kube_apiserver),
            ("kube-controller-manager", &tools.kube_controller_manager),
            ("kube-scheduler", &tools.kube_scheduler),
            ("etcd", &tools.etcd),
            ("kwok", &tools.kwok),
            ("kwok stages", &tools.kwok_stages),
            ("kwok Logs CRD", &tools.kwok_logs_crd),
            ("kwok PortForward CRD", &tools.kwok_portforward_crd),
            ("Istio CRDs", &tools.istio_crds),
        ] {
            if !path.is_file() {
                return Err(Error::MissingTool {
                    tool: name.to_string(),
                    path: path.clone(),
                    hint: HINT,
                });
            }
        }
        Ok(tools)
    }
}

/// A packaging tool built by build-tools.sh: `<cache>/<dir>-<version>/<binary>`, or an error
/// naming it and how to build it.
fn packaging_tool(dir: &str, version: &str, binary: &str) -> Result<PathBuf, Error> {
    let path = cache_dir().join(format!("{dir}-{version}")).join(binary);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::MissingTool {
            tool: binary.to_string(),
            path,
            hint: HINT,
        })
    }
}

/// helm (charts: lint, template), pinned by HELM_VERSION.
pub fn helm() -> Result<PathBuf, Error> {
    packaging_tool("helm", &versions().helm, "helm")
}

/// operator-verify (OLM bundle validation), pinned by OPERATOR_FRAMEWORK_API_VERSION.
pub fn operator_verify() -> Result<PathBuf, Error> {
    let v = versions();
    packaging_tool(
        "operator-framework-api",
        &v.operator_framework_api,
        "operator-verify",
    )
}

/// Ory Hydra (the test bed's OpenID provider), pinned by HYDRA_VERSION.
pub fn hydra() -> Result<PathBuf, Error> {
    packaging_tool("hydra", &versions().hydra, "hydra")
}

/// The kubectl to suggest: the one on PATH, else the one build-tools.sh built.
pub fn kubectl() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("kubectl");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let built = cache_dir()
        .join(format!("kubernetes-{}", versions().kubernetes))
        .join("kubectl");
    built.is_file().then_some(built)
}

/// Finds an executable on PATH (or in /usr/bin, /usr/local/bin).
pub fn which(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push("/usr/bin".into());
    dirs.push("/usr/local/bin".into());
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_pinned() {
        let v = versions();
        assert!(v.kubernetes.starts_with("v1."), "{v:?}");
        assert!(v.etcd.starts_with("v3.6."), "{v:?}");
        assert!(v.kwok.starts_with('v'), "{v:?}");
        assert!(v.istio_api.starts_with('v'), "{v:?}");
        assert!(v.helm.starts_with("v3."), "{v:?}");
        assert!(v.operator_framework_api.starts_with('v'), "{v:?}");
    }
}
