//! The cluster registry: the home cluster plus one client and one watch cache per kubeconfig
//! found under the remote-secrets directory (`<dir>/<secret-name>/<cluster-name>`).
//!
//! The directory is polled, so added, rotated and removed kubeconfigs add, re-credential and
//! drop clusters without a restart. A cluster that cannot be reached never blocks start-up: it
//! is listed with its error, left out of responses (which name it), and probed again with
//! backoff until it answers.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::task::JoinSet;

use crate::cache::{self, ClusterCache};
use crate::error::{Error, Result};
pub use crate::sync_state::ClusterState;

/// One cluster of the mesh.
pub struct ClusterEntry {
    pub name: String,
    pub secret_name: Option<String>,
    pub api_endpoint: String,
    pub is_home: bool,
    pub cache: Arc<ClusterCache>,
    pub client: Option<Client>,
    pub state: Arc<ClusterState>,
    tasks: Mutex<JoinSet<()>>,
}

impl Drop for ClusterEntry {
    fn drop(&mut self) {
        self.stop();
    }
}

impl ClusterEntry {
    /// An in-memory cluster (no client, no watch): tests and benchmarks.
    pub fn in_memory(name: &str, is_home: bool, cache: Arc<ClusterCache>) -> Arc<ClusterEntry> {
        Arc::new(ClusterEntry {
            name: name.to_string(),
            secret_name: None,
            api_endpoint: String::new(),
            is_home,
            cache,
            client: None,
            state: ClusterState::synced(),
            tasks: Mutex::new(JoinSet::new()),
        })
    }

    /// A cluster whose credentials could not be used at all.
    pub fn broken(name: &str, secret_name: Option<String>, error: String) -> Arc<ClusterEntry> {
        let (cache, _w) = ClusterCache::new();
        Arc::new(ClusterEntry {
            name: name.to_string(),
            secret_name,
            api_endpoint: String::new(),
            is_home: false,
            cache,
            client: None,
            state: ClusterState::failed(error),
            tasks: Mutex::new(JoinSet::new()),
        })
    }

    /// Connects to a cluster and starts its watches and reachability probe. Never fails on an
    /// unreachable API server; only an unusable configuration is an error.
    pub fn connect(
        name: &str,
        secret_name: Option<String>,
        mut config: kube::Config,
        is_home: bool,
    ) -> Result<Arc<ClusterEntry>> {
        config.connect_timeout = Some(Duration::from_secs(5));
        let api_endpoint = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let client = Client::try_from(config)
            .map_err(|e| Error::Kubeconfig(format!("cluster {name}: {e}")))?;
        let (cache, writers) = ClusterCache::new();
        let state = Arc::new(ClusterState::default());
        let mut tasks = JoinSet::new();
        tasks.spawn(probe_loop(name.to_string(), client.clone(), state.clone()));
        cache::spawn_core_watches(&client, writers, &state, &mut tasks);
        tasks.spawn(cache::run_istio_discovery(
            client.clone(),
            cache.clone(),
            state.clone(),
        ));
        Ok(Arc::new(ClusterEntry {
            name: name.to_string(),
            secret_name,
            api_endpoint,
            is_home,
            cache,
            client: Some(client),
            state,
            tasks: Mutex::new(tasks),
        }))
    }

    /// Stops every background task of the cluster.
    pub fn stop(&self) {
        let mut t = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        t.abort_all();
    }
}

/// Probes the API server: every 3 s while it answers; after a failure, again after 1 s,
/// doubling up to 10 s.
async fn probe_loop(name: String, client: Client, state: Arc<ClusterState>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let res =
            match tokio::time::timeout(Duration::from_secs(5), client.apiserver_version()).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(describe_kube_error(&e)),
                Err(_) => Err("API server did not answer within 5s".to_string()),
            };
        let ok = res.is_ok();
        if state.probe_result(res) {
            if ok {
                tracing::info!(cluster = %name, "cluster reachable");
            } else {
                tracing::warn!(cluster = %name, error = ?state.error(), "cluster unreachable");
            }
        }
        if ok {
            backoff = Duration::from_secs(1);
            tokio::time::sleep(Duration::from_secs(3)).await;
        } else {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }
}

/// A short description of a client error, without request details.
pub fn describe_kube_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("API error {}: {}", s.code, s.message),
        other => {
            let mut msg = other.to_string();
            let mut src = std::error::Error::source(other);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            msg
        }
    }
}

/// All clusters known to the server.
#[derive(Default)]
pub struct Registry {
    clusters: RwLock<BTreeMap<String, Arc<ClusterEntry>>>,
    /// The home cluster under `clustering.ignore_home_cluster`: it still reviews tokens, but is
    /// neither listed nor read.
    hidden_home: RwLock<Option<Arc<ClusterEntry>>>,
    secrets_scanned: std::sync::atomic::AtomicBool,
}

impl Registry {
    /// A registry holding `entries`.
    pub fn with(entries: Vec<Arc<ClusterEntry>>) -> Arc<Registry> {
        let r = Registry::default();
        for e in entries {
            r.insert(e);
        }
        r.secrets_scanned
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Arc::new(r)
    }

    /// Adds or replaces a cluster (the replaced one's tasks stop).
    pub fn insert(&self, e: Arc<ClusterEntry>) {
        let old = {
            let mut m = self.clusters.write().unwrap_or_else(|e| e.into_inner());
            m.insert(e.name.clone(), e)
        };
        if let Some(old) = old {
            old.stop();
        }
    }

    /// Removes a cluster and stops its tasks.
    pub fn remove(&self, name: &str) {
        let old = {
            let mut m = self.clusters.write().unwrap_or_else(|e| e.into_inner());
            m.remove(name)
        };
        if let Some(old) = old {
            old.stop();
        }
    }

    /// Every cluster, the home cluster first, then by name.
    pub fn snapshot(&self) -> Vec<Arc<ClusterEntry>> {
        let m = self.clusters.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = m.values().cloned().collect();
        v.sort_by(|a, b| b.is_home.cmp(&a.is_home).then(a.name.cmp(&b.name)));
        v
    }

    /// The home cluster, if registered (listed or hidden).
    pub fn home(&self) -> Option<Arc<ClusterEntry>> {
        self.snapshot().into_iter().find(|c| c.is_home).or_else(|| {
            self.hidden_home
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        })
    }

    /// Keeps the home cluster for identity checks only (`clustering.ignore_home_cluster`): it is
    /// left out of [`Registry::snapshot`], so no response lists it or shows its objects.
    pub fn hide_home(&self, e: Arc<ClusterEntry>) {
        let old = self
            .hidden_home
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .replace(e);
        if let Some(old) = old {
            old.stop();
        }
    }

    /// Ready once the secrets directory has been read and every cluster is settled.
    pub fn ready(&self) -> bool {
        self.secrets_scanned
            .load(std::sync::atomic::Ordering::SeqCst)
            && self.snapshot().iter().all(|c| c.state.settled())
    }
}

/// One kubeconfig found in the secrets directory.
#[derive(Debug, Clone)]
pub struct RemoteFile {
    pub cluster: String,
    pub secret_name: String,
    pub path: PathBuf,
    pub content: String,
}

/// Reads `<dir>/<secret>/<cluster>` files; hidden entries (the `..data` links of mounted
/// Secrets) are skipped, symlinks are followed.
pub fn scan_secrets_dir(dir: &Path) -> Vec<RemoteFile> {
    let mut out = Vec::new();
    let Ok(secrets) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut secrets: Vec<_> = secrets.flatten().collect();
    secrets.sort_by_key(|e| e.file_name());
    for s in secrets {
        let sname = s.file_name().to_string_lossy().to_string();
        if sname.starts_with('.') || !s.path().is_dir() {
            continue;
        }
        let Ok(files) = std::fs::read_dir(s.path()) else {
            continue;
        };
        let mut files: Vec<_> = files.flatten().collect();
        files.sort_by_key(|e| e.file_name());
        for f in files {
            let cname = f.file_name().to_string_lossy().to_string();
            if cname.starts_with('.') || !f.path().is_file() {
                continue;
            }
            if let Ok(content) = std::fs::read_to_string(f.path()) {
                out.push(RemoteFile {
                    cluster: cname,
                    secret_name: sname.clone(),
                    path: f.path(),
                    content,
                });
            }
        }
    }
    out
}

/// Builds a client configuration from the text of a remote-cluster kubeconfig.
pub async fn config_from_kubeconfig_text(text: &str) -> Result<kube::Config> {
    let kc = Kubeconfig::from_yaml(text)
        .map_err(|e| Error::Kubeconfig(format!("not a kubeconfig: {e}")))?;
    kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Kubeconfig(format!("unusable kubeconfig: {e}")))
}

fn digest(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Keeps the registry in line with the secrets directory; never returns.
pub async fn watch_secrets_dir(
    registry: Arc<Registry>,
    dir: PathBuf,
    home: String,
    every: Duration,
) {
    let mut known: HashMap<String, u64> = HashMap::new();
    loop {
        sync_secrets_once(&registry, &dir, &home, &mut known).await;
        registry
            .secrets_scanned
            .store(true, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(every).await;
    }
}

async fn sync_secrets_once(
    registry: &Registry,
    dir: &Path,
    home: &str,
    known: &mut HashMap<String, u64>,
) {
    let mut seen: HashMap<String, RemoteFile> = HashMap::new();
    for f in scan_secrets_dir(dir) {
        if f.cluster == home {
            tracing::debug!(cluster = %f.cluster, "remote secret names the home cluster; ignored");
            continue;
        }
        seen.entry(f.cluster.clone()).or_insert(f);
    }
    let gone: Vec<String> = known
        .keys()
        .filter(|k| !seen.contains_key(*k))
        .cloned()
        .collect();
    for name in gone {
        tracing::info!(cluster = %name, "remote cluster kubeconfig removed; dropping cluster");
        known.remove(&name);
        registry.remove(&name);
    }
    for (name, f) in seen {
        let d = digest(&f.content);
        if known.get(&name) == Some(&d) {
            continue;
        }
        let action = if known.contains_key(&name) {
            "re-credentialing"
        } else {
            "adding"
        };
        tracing::info!(cluster = %name, secret = %f.secret_name, "{action} remote cluster");
        known.insert(name.clone(), d);
        let entry = match config_from_kubeconfig_text(&f.content).await {
            Ok(cfg) => ClusterEntry::connect(&name, Some(f.secret_name.clone()), cfg, false),
            Err(e) => Err(e),
        };
        match entry {
            Ok(e) => registry.insert(e),
            Err(e) => {
                tracing::warn!(cluster = %name, error = %e, "remote cluster unusable");
                registry.insert(ClusterEntry::broken(
                    &name,
                    Some(f.secret_name.clone()),
                    e.to_string(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_skips_hidden_entries_and_follows_layout() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("kiali-remote-cluster-secret-west/..data")).unwrap();
        std::fs::write(
            d.path()
                .join("kiali-remote-cluster-secret-west/..data/west"),
            "x",
        )
        .unwrap();
        std::fs::write(d.path().join("kiali-remote-cluster-secret-west/west"), "kc").unwrap();
        std::fs::create_dir_all(d.path().join(".hidden")).unwrap();
        std::fs::write(d.path().join("stray-file"), "x").unwrap();
        let v = scan_secrets_dir(d.path());
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].cluster, "west");
        assert_eq!(v[0].secret_name, "kiali-remote-cluster-secret-west");
        assert_eq!(v[0].content, "kc");
        assert!(scan_secrets_dir(&d.path().join("missing")).is_empty());
    }

    #[tokio::test]
    async fn secrets_dir_changes_add_and_drop_clusters() {
        let d = tempfile::tempdir().unwrap();
        let reg = Registry::default();
        let mut known = HashMap::new();
        std::fs::create_dir_all(d.path().join("s1")).unwrap();
        std::fs::write(d.path().join("s1/bad"), "not: [a kubeconfig").unwrap();
        std::fs::write(d.path().join("s1/home"), "ignored").unwrap();
        sync_secrets_once(&reg, d.path(), "home", &mut known).await;
        let snap = reg.snapshot();
        assert_eq!(snap.len(), 1);
        assert_eq!(snap[0].name, "bad");
        assert!(!snap[0].state.accessible());
        assert!(snap[0].state.error().unwrap().contains("kubeconfig"));
        assert!(snap[0].state.settled());
        std::fs::remove_file(d.path().join("s1/bad")).unwrap();
        sync_secrets_once(&reg, d.path(), "home", &mut known).await;
        assert!(reg.snapshot().is_empty());
    }

    #[test]
    fn probe_results_flip_accessibility() {
        let s = ClusterState::default();
        assert!(!s.settled());
        assert!(
            !s.probe_result(Err("refused".into())),
            "still unreachable: no flip"
        );
        assert!(s.settled());
        assert_eq!(s.error().as_deref(), Some("refused"));
        assert!(s.probe_result(Ok(())));
        assert!(s.accessible() && s.error().is_none());
        assert!(!s.settled());
        assert!(s.probe_result(Err("gone".into())));
    }

    #[test]
    fn settled_waits_for_discovered_istio_kinds() {
        let s = ClusterState::default();
        s.probe_result(Ok(()));
        for k in cache::CORE_KIND_NAMES {
            s.mark_synced(k);
        }
        assert!(!s.settled(), "Istio CRDs not looked for yet");
        s.expect_istio("AuthorizationPolicy");
        s.istio_discovered();
        assert!(!s.settled(), "AuthorizationPolicy not listed yet");
        s.mark_synced("AuthorizationPolicy");
        assert!(s.settled());
    }
}
