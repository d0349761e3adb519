//! The cluster registry: the home cluster plus one client and one watch cache per kubeconfig
//! found under the remote-secrets directory (`<dir>/<secret-name>/<cluster-name>`).
//!
//! The directory is polled, so added, rotated and removed kubeconfigs add, re-credential and
//! drop clusters without a restart. Every kubeconfig passes the allow-list of
//! [`meshglass_crds::kubeconfig`] first; a refused one makes its cluster missing with the field
//! named (on `/api/config`, never its contents). A rotated kubeconfig connects beside the
//! current entry, which keeps serving until the new one has synced (or has failed, which then
//! shows). A cluster that cannot be reached never blocks start-up: it is listed with its error,
//! left out of responses (which name it), and probed again with backoff until it answers.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::task::JoinSet;

use meshglass_crds::kubeconfig::check_kubeconfig;

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
    /// How to reach the API server (URL, CA, timeouts) without the server's own credentials:
    /// the base of a caller's client ([`ClusterEntry::client_as`]).
    connection: Option<kube::Config>,
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
            connection: None,
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
            connection: None,
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
        let mut connection = config.clone();
        connection.auth_info = Default::default();
        connection.headers.clear();
        let client = Client::try_from(config).map_err(|e| match e {
            // Its message quotes the exec plugin's command line and output.
            kube::Error::Auth(_) => Error::Kubeconfig(format!(
                "cluster {name}: the credentials could not be set up (exec plugin failed or unusable credential)"
            )),
            e => Error::Kubeconfig(format!("cluster {name}: {e}")),
        })?;
        let (cache, writers) = ClusterCache::new();
        let state = ClusterState::named(name);
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
            connection: Some(connection),
            state,
            tasks: Mutex::new(tasks),
        }))
    }

    /// A client of this cluster authenticating with the caller's bearer token only (none of the
    /// server's credentials): what a write is sent with, so that the API server decides.
    pub fn client_as(&self, bearer_token: &str) -> Result<Client> {
        let mut config = self.connection.clone().ok_or_else(|| {
            Error::Kube(format!("cluster {} has no connection settings", self.name))
        })?;
        // kube's `AuthInfo.token` is a `SecretString`, whose crate is not re-exported.
        config.auth_info = serde_json::from_value(serde_json::json!({"token": bearer_token}))
            .map_err(|_| Error::Kube("the caller's token does not fit a client".into()))?;
        Client::try_from(config)
            .map_err(|_| Error::Kube(format!("cluster {}: no client for the caller", self.name)))
    }

    /// Stops every background task of the cluster.
    pub fn stop(&self) {
        let mut t = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        t.abort_all();
    }
}

/// Probes the API server: every 3 s while it answers (and every third time whether the core
/// kinds may still be listed); after a failure, again after 1 s, doubling up to 10 s.
async fn probe_loop(name: String, client: Client, state: Arc<ClusterState>) {
    let mut backoff = Duration::from_secs(1);
    let mut round: u64 = 0;
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
            if round.is_multiple_of(3)
                && let Ok(denied) =
                    tokio::time::timeout(Duration::from_secs(5), cache::denied_core_kinds(&client))
                        .await
            {
                state.permission_result(denied);
            }
            round += 1;
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
    /// Entries with new credentials, syncing beside the entry they will replace.
    pending: Mutex<HashMap<String, Arc<ClusterEntry>>>,
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

    fn take_pending(&self, name: &str) -> Option<Arc<ClusterEntry>> {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.remove(name)
    }

    /// Adds or replaces a cluster (the replaced one's tasks stop, and so do those of an entry
    /// that was syncing to replace it).
    pub fn insert(&self, e: Arc<ClusterEntry>) {
        if let Some(p) = self.take_pending(&e.name) {
            p.stop();
        }
        let old = {
            let mut m = self.clusters.write().unwrap_or_else(|e| e.into_inner());
            m.insert(e.name.clone(), e)
        };
        if let Some(old) = old {
            old.stop();
        }
    }

    /// Lets `e` sync beside the current entry of its name; [`Registry::promote`] swaps it in.
    fn stage(&self, e: Arc<ClusterEntry>) {
        let old = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.insert(e.name.clone(), e)
        };
        if let Some(old) = old {
            old.stop();
        }
    }

    /// Swaps in `e` if it is still the entry staged for its name (a later rotation or a removal
    /// supersedes it). Returns whether it was swapped in.
    fn promote(&self, e: &Arc<ClusterEntry>) -> bool {
        {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if !p.get(&e.name).is_some_and(|x| Arc::ptr_eq(x, e)) {
                return false;
            }
            p.remove(&e.name);
        }
        self.insert(e.clone());
        true
    }

    /// Removes a cluster and stops its tasks.
    pub fn remove(&self, name: &str) {
        if let Some(p) = self.take_pending(name) {
            p.stop();
        }
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

    /// The listed cluster named `name`.
    pub fn entry(&self, name: &str) -> Option<Arc<ClusterEntry>> {
        self.clusters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
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

    /// The cluster a request that names none is of: the home cluster when it is listed (not
    /// hidden by `clustering.ignore_home_cluster`), else the first listed cluster (by name) that
    /// is reachable; `None` when there is neither. Token reviews still go to the home cluster,
    /// hidden or not ([`Registry::home`]).
    pub fn default_cluster(&self) -> Option<Arc<ClusterEntry>> {
        let listed = self.snapshot();
        listed
            .iter()
            .find(|e| e.is_home)
            .or_else(|| listed.iter().find(|e| e.state.accessible()))
            .cloned()
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

/// Builds a client configuration from the text of a remote-cluster kubeconfig that passes the
/// allow-list (`allow_exec`: `clustering.enable_exec_provider`).
pub async fn config_from_kubeconfig_text(text: &str, allow_exec: bool) -> Result<kube::Config> {
    check_kubeconfig(text, allow_exec).map_err(|r| {
        Error::Kubeconfig(format!(
            "refused by the allow-list of remote-cluster kubeconfigs: {r}"
        ))
    })?;
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

/// How long a rotated cluster's new entry may take to sync before it replaces the old one anyway.
const ROTATION_SYNC_LIMIT: Duration = Duration::from_secs(120);

/// Keeps the registry in line with the secrets directory; never returns. `allow_exec` is
/// `clustering.enable_exec_provider`.
pub async fn watch_secrets_dir(
    registry: Arc<Registry>,
    dir: PathBuf,
    home: String,
    every: Duration,
    allow_exec: bool,
) {
    let mut known: HashMap<String, u64> = HashMap::new();
    loop {
        sync_secrets_once(&registry, &dir, &home, &mut known, allow_exec).await;
        registry
            .secrets_scanned
            .store(true, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(every).await;
    }
}

/// Swaps a rotated cluster's new entry in once it has synced, failed, or taken too long.
async fn promote_when_synced(registry: Arc<Registry>, e: Arc<ClusterEntry>) {
    let start = tokio::time::Instant::now();
    loop {
        let failed = e.state.settled() && !e.state.accessible();
        if e.state.ready_to_serve() || failed || start.elapsed() > ROTATION_SYNC_LIMIT {
            if registry.promote(&e) {
                tracing::info!(cluster = %e.name, synced = e.state.ready_to_serve(), "new credentials in use");
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sync_secrets_once(
    registry: &Arc<Registry>,
    dir: &Path,
    home: &str,
    known: &mut HashMap<String, u64>,
    allow_exec: bool,
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
        let rotation = known.contains_key(&name);
        let action = if rotation {
            "re-credentialing"
        } else {
            "adding"
        };
        tracing::info!(cluster = %name, secret = %f.secret_name, "{action} remote cluster");
        known.insert(name.clone(), d);
        let entry = match config_from_kubeconfig_text(&f.content, allow_exec).await {
            Ok(cfg) => ClusterEntry::connect(&name, Some(f.secret_name.clone()), cfg, false),
            Err(e) => Err(e),
        };
        let serving = registry.entry(&name).is_some_and(|c| c.state.accessible());
        match entry {
            Ok(e) if rotation && serving => {
                registry.stage(e.clone());
                tokio::spawn(promote_when_synced(registry.clone(), e));
            }
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

    #[test]
    fn the_default_cluster_is_the_listed_home_else_the_first_reachable_cluster() {
        use crate::cache::ClusterCache;
        let entry = |name: &str, home: bool| {
            ClusterEntry::in_memory(name, home, ClusterCache::from_objects(Default::default()))
        };
        let broken = || ClusterEntry::broken("able", None, "connection refused".into());
        let r = Registry::with(vec![entry("east", true), entry("west", false), broken()]);
        assert_eq!(
            r.default_cluster().map(|e| e.name.clone()).as_deref(),
            Some("east")
        );
        // Hidden by `clustering.ignore_home_cluster`: the first listed one that is reachable.
        let r = Registry::with(vec![entry("west", false), entry("north", false), broken()]);
        r.hide_home(entry("east", true));
        assert_eq!(
            r.default_cluster().map(|e| e.name.clone()).as_deref(),
            Some("north")
        );
        assert_eq!(r.home().map(|e| e.name.clone()).as_deref(), Some("east"));
        let r = Registry::with(vec![broken()]);
        r.hide_home(entry("east", true));
        assert!(r.default_cluster().is_none());
    }

    #[tokio::test]
    async fn secrets_dir_changes_add_and_drop_clusters() {
        let d = tempfile::tempdir().unwrap();
        let reg = Arc::new(Registry::default());
        let mut known = HashMap::new();
        std::fs::create_dir_all(d.path().join("s1")).unwrap();
        std::fs::write(d.path().join("s1/bad"), "not: [a kubeconfig").unwrap();
        std::fs::write(d.path().join("s1/home"), "ignored").unwrap();
        sync_secrets_once(&reg, d.path(), "home", &mut known, false).await;
        let snap = reg.snapshot();
        assert_eq!(snap.len(), 1);
        assert_eq!(snap[0].name, "bad");
        assert!(!snap[0].state.accessible());
        assert!(snap[0].state.error().unwrap().contains("kubeconfig"));
        assert!(snap[0].state.settled());
        assert!(Arc::ptr_eq(&reg.entry("bad").unwrap(), &snap[0]));
        assert!(reg.entry("home").is_none() && reg.entry("s1").is_none());
        std::fs::remove_file(d.path().join("s1/bad")).unwrap();
        sync_secrets_once(&reg, d.path(), "home", &mut known, false).await;
        assert!(reg.snapshot().is_empty());
        assert!(reg.entry("bad").is_none());
    }

    const KC: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: c\n  user: {token: t0k3n}\ncontexts:\n- name: c\n  context: {cluster: c, user: c}\ncurrent-context: c\n";

    #[tokio::test]
    async fn refused_kubeconfigs_name_the_field_never_the_value() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("s1")).unwrap();
        let file = KC.replace(
            "{token: t0k3n}",
            "{tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token}",
        );
        std::fs::write(d.path().join("s1/filed"), file).unwrap();
        let exec = KC.replace(
            "{token: t0k3n}",
            "{exec: {command: /nonexistent/meshglass-plugin, args: [evil]}}",
        );
        std::fs::write(d.path().join("s1/execd"), &exec).unwrap();
        let imp = KC.replace("{token: t0k3n}", "{token: t0k3n, as: system:admin}");
        std::fs::write(d.path().join("s1/imper"), imp).unwrap();
        let reg = Arc::new(Registry::default());
        let mut known = HashMap::new();
        sync_secrets_once(&reg, d.path(), "home", &mut known, false).await;
        let errors: BTreeMap<String, String> = reg
            .snapshot()
            .iter()
            .map(|c| (c.name.clone(), c.state.error().unwrap_or_default()))
            .collect();
        for (cluster, field) in [
            ("filed", "users[0].user.tokenFile"),
            ("execd", "users[0].user.exec"),
            ("imper", "users[0].user.as"),
        ] {
            let e = &errors[cluster];
            assert!(e.contains(field) && e.contains("refused"), "{cluster}: {e}");
            for secret in [
                "serviceaccount",
                "/nonexistent",
                "evil",
                "system:admin",
                "t0k3n",
            ] {
                assert!(!e.contains(secret), "{cluster}: {e}");
            }
        }
        // With clustering.enable_exec_provider the exec plugin runs (and fails here, saying so
        // without its command line).
        std::fs::remove_file(d.path().join("s1/filed")).unwrap();
        std::fs::remove_file(d.path().join("s1/imper")).unwrap();
        let reg = Arc::new(Registry::default());
        let mut known = HashMap::new();
        sync_secrets_once(&reg, d.path(), "home", &mut known, true).await;
        let e = reg.snapshot()[0].state.error().unwrap_or_default();
        assert!(
            e.contains("exec plugin failed") && !e.contains("refused") && !e.contains("evil"),
            "{e}"
        );
    }

    #[test]
    fn a_staged_entry_replaces_the_serving_one_only_when_promoted() {
        let (cache, _w) = ClusterCache::new();
        let reg = Registry::with(vec![ClusterEntry::in_memory("west", false, cache)]);
        let old = reg.snapshot()[0].clone();
        let a = ClusterEntry::broken("west", None, "syncing".into());
        let b = ClusterEntry::broken("west", None, "syncing".into());
        reg.stage(a.clone());
        assert!(
            Arc::ptr_eq(&reg.snapshot()[0], &old),
            "old entry serves meanwhile"
        );
        reg.stage(b.clone());
        assert!(!reg.promote(&a), "superseded by a later rotation");
        assert!(Arc::ptr_eq(&reg.snapshot()[0], &old));
        assert!(reg.promote(&b));
        assert!(Arc::ptr_eq(&reg.snapshot()[0], &b));
        reg.stage(a.clone());
        reg.remove("west");
        assert!(!reg.promote(&a), "removed meanwhile");
        assert!(reg.snapshot().is_empty());
    }

    #[test]
    fn denied_kinds_mark_the_cluster_missing_with_the_reason() {
        let s = ClusterState::named("west");
        s.probe_result(Ok(()));
        for k in cache::CORE_KIND_NAMES {
            s.mark_synced(k);
        }
        s.istio_discovered();
        assert!(s.accessible() && s.ready_to_serve());
        s.watch_error("pods", "pods is forbidden", Some(403));
        assert!(!s.accessible() && s.settled() && !s.ready_to_serve());
        let e = s.error().unwrap();
        assert!(e.contains("403") && e.contains("pods"), "{e}");
        s.watch_error("services", "connection reset", None);
        assert_eq!(
            s.error().unwrap(),
            e,
            "a non-permission error does not deny"
        );
        s.mark_synced("pods");
        assert!(s.accessible() && s.error().is_none());
        s.permission_result([("namespaces", 403), ("pods", 403)].into());
        assert!(!s.accessible());
        assert!(s.error().unwrap().contains("namespaces, pods"));
        s.permission_result(BTreeMap::new());
        assert!(s.accessible());
        s.permission_result([("pods", 401)].into());
        assert!(s.error().unwrap().contains("401"));
    }

    #[test]
    fn a_denied_optional_istio_kind_degrades_only_that_kind() {
        use crate::cache::IstioKind;
        let s = ClusterState::named("west");
        s.probe_result(Ok(()));
        for k in cache::CORE_KIND_NAMES {
            s.mark_synced(k);
        }
        for k in [
            IstioKind::VirtualService,
            IstioKind::Telemetry,
            IstioKind::K8sHTTPRoute,
        ] {
            if cache::is_optional(k) {
                s.optional_istio(k.label());
            }
            s.expect_istio(k.label());
        }
        s.istio_discovered();
        s.mark_synced(IstioKind::VirtualService.label());
        assert!(!s.settled(), "waits for the Istio kinds");
        s.watch_error("Telemetry", "telemetries is forbidden", Some(403));
        s.watch_error("k8shttproutes", "httproutes is forbidden", Some(403));
        assert!(s.accessible(), "{:?} {:?}", s.error(), s.degraded_kinds());
        assert!(s.error().is_none(), "{:?}", s.error());
        assert!(
            s.settled() && s.ready_to_serve(),
            "a degraded kind is not waited for"
        );
        assert_eq!(
            s.degraded_kinds(),
            vec![
                "Telemetry: permission denied (HTTP 403)".to_string(),
                "k8shttproutes: permission denied (HTTP 403)".to_string()
            ]
        );
        // A required Istio kind denied still takes the cluster away.
        s.watch_error("VirtualService", "virtualservices is forbidden", Some(403));
        assert!(!s.accessible());
        assert!(s.error().unwrap().contains("VirtualService"));
        s.mark_synced("VirtualService");
        // Granted again: the kind recovers.
        s.mark_synced("Telemetry");
        assert_eq!(s.degraded_kinds().len(), 1);
        assert!(s.accessible());
        assert!(!cache::is_optional(IstioKind::AuthorizationPolicy));
        assert!(cache::is_optional(IstioKind::WasmPlugin));
    }

    /// A log line of `ClusterState`'s, captured at warn and above.
    fn warned(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || buf.clone())
            .finish();
        tracing::subscriber::with_default(sub, f);
        let text = out.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8(text).unwrap_or_default()
    }

    #[test]
    fn watch_errors_and_revoked_permissions_are_warned_with_the_cluster_named() {
        let s = ClusterState::named("west");
        let w = warned(|| s.watch_error("pods", "watch stream reset", None));
        assert!(
            w.contains("WARN") && w.contains("west") && w.contains("pods"),
            "{w:?}"
        );
        // While the same watch goes on failing: not again at warn.
        assert_eq!(
            warned(|| s.watch_error("pods", "watch stream reset", None)),
            ""
        );
        let w = warned(|| s.permission_result([("pods", 403)].into()));
        assert!(w.contains("WARN") && w.contains("west"), "{w:?}");
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
