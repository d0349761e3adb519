//! Small Kubernetes helpers of the demo: server-side apply of arbitrary objects, polling.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, Scope};
use kube::{Api, Client};
use serde_json::Value;

const MANAGER: &str = "meshglass-demo";

/// A client for one context of a kubeconfig file.
pub async fn client(kubeconfig: &Path, context: &str) -> anyhow::Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let options = KubeConfigOptions {
        context: Some(context.to_owned()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .with_context(|| format!("context {context} of {}", kubeconfig.display()))?;
    Ok(Client::try_from(config)?)
}

/// The cluster entry of context `context` of a kubeconfig file.
pub fn context_cluster(kubeconfig: &Path, context: &str) -> anyhow::Result<kube::config::Cluster> {
    let kc = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let cluster = kc
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .ok_or_else(|| anyhow!("{}: no context {context}", kubeconfig.display()))?;
    kc.clusters
        .into_iter()
        .find(|c| c.name == cluster)
        .and_then(|c| c.cluster)
        .ok_or_else(|| anyhow!("{}: no cluster {cluster}", kubeconfig.display()))
}

/// The API server URL of context `context` of a kubeconfig file.
pub fn server_url(kubeconfig: &Path, context: &str) -> anyhow::Result<String> {
    context_cluster(kubeconfig, context)?.server.ok_or_else(|| {
        anyhow!(
            "context {context} of {} has no server",
            kubeconfig.display()
        )
    })
}

/// Applies objects given as JSON (any kind the API server knows), with one field manager.
pub struct Applier {
    client: Client,
    kinds: HashMap<String, (ApiResource, ApiCapabilities)>,
}

impl Applier {
    pub fn new(client: Client) -> Self {
        Applier {
            client,
            kinds: HashMap::new(),
        }
    }

    pub async fn api_for(
        &mut self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> anyhow::Result<Api<DynamicObject>> {
        let key = format!("{api_version}/{kind}");
        if !self.kinds.contains_key(&key) {
            let (group, version) = match api_version.split_once('/') {
                Some((g, v)) => (g, v),
                None => ("", api_version),
            };
            let gvk = GroupVersionKind::gvk(group, version, kind);
            let found = kube::discovery::pinned_kind(&self.client, &gvk)
                .await
                .with_context(|| format!("the API server does not serve {key}"))?;
            self.kinds.insert(key.clone(), found);
        }
        let (ar, caps) = self
            .kinds
            .get(&key)
            .ok_or_else(|| anyhow!("{key} not discovered"))?;
        Ok(match (&caps.scope, namespace) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, ar),
            (Scope::Namespaced, None) => bail!("{key} is namespaced but has no namespace"),
            (Scope::Cluster, _) => Api::all_with(self.client.clone(), ar),
        })
    }

    pub async fn apply(&mut self, obj: &Value) -> anyhow::Result<()> {
        let api_version = obj["apiVersion"]
            .as_str()
            .ok_or_else(|| anyhow!("object without apiVersion"))?;
        let kind = obj["kind"]
            .as_str()
            .ok_or_else(|| anyhow!("object without kind"))?;
        let name = obj["metadata"]["name"]
            .as_str()
            .ok_or_else(|| anyhow!("{kind} without a name"))?;
        let namespace = obj["metadata"]["namespace"].as_str();
        let api = self.api_for(api_version, kind, namespace).await?;
        api.patch(
            name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(obj),
        )
        .await
        .with_context(|| {
            format!(
                "applying {kind} {}{name}",
                namespace.map(|n| format!("{n}/")).unwrap_or_default()
            )
        })?;
        Ok(())
    }

    /// Forgets discovered kinds (after installing a CRD).
    pub fn forget(&mut self) {
        self.kinds.clear();
    }
}

/// Every document of a YAML stream, as JSON values (empty documents skipped).
pub fn yaml_documents(text: &str) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let v: Value = serde::Deserialize::deserialize(doc)?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// Polls `check` every `interval` until it returns `Ok(Some(v))`; on timeout the error says what the last
/// check saw.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let start = Instant::now();
    loop {
        let last = match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "not yet".to_owned(),
            Err(e) => format!("{e:#}"),
        };
        if start.elapsed() > timeout {
            bail!(
                "timed out after {:.0} s waiting for {what}; last seen: {last}",
                timeout.as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
