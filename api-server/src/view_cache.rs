//! The view caches, with Kiali's settings (`kiali_internal.graph_cache` and `health_cache`): a
//! namespace graph or a health answer asked for again with the same parameters (a moving
//! window: `queryTime` left out) is answered from memory, and each kept view is recomputed in
//! the background every `refresh_interval` over the window ending then.
//!
//! An entry is the answer as the server itself sees the mesh, shared by every caller asking for
//! that view; each caller's access is applied to the shared answer when it is served
//! ([`crate::routes::graph`], [`crate::routes::health`]), not to a copy per user as Kiali's
//! per-session cache does. An entry nobody asked for in `inactivity_timeout` is dropped (a
//! background refresh does not count as a use), and the entries' estimated sizes stay within
//! `max_cache_memory_mb`, the least recently asked for going first. A request naming its own
//! `queryTime` (a replay) is never cached. Time is passed in, so the tests need no clock.
//!
//! Concurrent identical misses are computed once ([`ViewCache::get_or_compute`]): a caller that
//! finds no entry while another computes the same view waits for that answer (counted as a hit)
//! instead of sending Prometheus the same queries again.
//!
//! Metrics (`meshglass_server_view_cache_*`, label `view` = graph | health): `hits`, `misses`,
//! `evictions` (label `reason` = idle | memory), `refreshes` (label `outcome` = ok | failed),
//! `bytes` and `entries`.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use meshglass_crds::kiali_internal::ViewCacheSettings;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::view_entries::{SharedGraph, SharedHealth};

/// Response header saying how a cacheable view was answered: `hit`, `miss` or `off` (not cached:
/// the cache is disabled or the request names its own `queryTime`).
pub const VIEW_CACHE_HEADER: &str = "x-meshglass-view-cache";

/// The parameters a view is recomputed from (`queryTime` left out), sorted.
pub type ViewParams = BTreeMap<String, String>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ViewLabels {
    pub view: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EvictionLabels {
    pub view: &'static str,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefreshLabels {
    pub view: &'static str,
    pub outcome: &'static str,
}

/// The caches' metric families, registered once on the server's registry.
#[derive(Clone, Default)]
pub struct CacheMetrics {
    pub hits: Family<ViewLabels, Counter>,
    pub misses: Family<ViewLabels, Counter>,
    pub evictions: Family<EvictionLabels, Counter>,
    pub refreshes: Family<RefreshLabels, Counter>,
    pub bytes: Family<ViewLabels, Gauge>,
    pub entries: Family<ViewLabels, Gauge>,
}

impl CacheMetrics {
    /// Registers the families under `view_cache_*`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "view_cache_hits",
            "Views answered from the view cache",
            self.hits.clone(),
        );
        registry.register(
            "view_cache_misses",
            "Cacheable views computed because no entry held them",
            self.misses.clone(),
        );
        registry.register(
            "view_cache_evictions",
            "Entries dropped: idle past inactivity_timeout, or over max_cache_memory_mb",
            self.evictions.clone(),
        );
        registry.register(
            "view_cache_refreshes",
            "Background recomputations of kept views",
            self.refreshes.clone(),
        );
        registry.register(
            "view_cache_bytes",
            "Estimated memory of the entries held",
            self.bytes.clone(),
        );
        registry.register("view_cache_entries", "Entries held", self.entries.clone());
    }
}

struct Entry<V> {
    value: Arc<V>,
    params: Arc<ViewParams>,
    bytes: u64,
    /// Last time a caller asked for it (background refreshes do not count).
    accessed: Instant,
    next_refresh: Instant,
    refreshing: bool,
}

struct Inner<V> {
    entries: HashMap<String, Entry<V>>,
    bytes: u64,
}

/// The views being computed on a miss, by key: callers of the same key take turns on its lock;
/// beside it, how many callers hold it.
type Flights = Mutex<HashMap<String, (Arc<tokio::sync::Mutex<()>>, usize)>>;

/// One view cache (graph or health).
pub struct ViewCache<V> {
    view: &'static str,
    settings: ViewCacheSettings,
    inner: Mutex<Inner<V>>,
    flights: Flights,
    metrics: CacheMetrics,
}

/// A caller's turn on the flight of `key`; the flight is forgotten when its last caller is done
/// (or gone: a request dropped while it waits or computes).
struct Flight<'a> {
    flights: &'a Flights,
    key: &'a str,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> Flight<'a> {
    /// Joins the flight of `key` (started when there is none).
    fn join(flights: &'a Flights, key: &'a str) -> Self {
        let mut f = flights.lock().unwrap_or_else(|p| p.into_inner());
        let (lock, callers) = f.entry(key.to_string()).or_default();
        *callers += 1;
        Flight {
            flights,
            key,
            lock: lock.clone(),
        }
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut f = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, callers)) = f.get_mut(self.key) {
            *callers -= 1;
            if *callers == 0 {
                f.remove(self.key);
            }
        }
    }
}

/// What a cache holds now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    pub entries: usize,
    pub bytes: u64,
}

/// The cache key of a view: its sorted parameters, `queryTime` left out.
pub fn key_of(params: &ViewParams) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The parameters a cached view is keyed and recomputed by: the request's, without `queryTime`
/// and with the `namespaces` list sorted, so `a,b` and `b,a` are one view. `None` when the
/// request names its own `queryTime` (a replay of the past: not cached).
pub fn view_params(q: &HashMap<String, String>) -> Option<ViewParams> {
    if q.contains_key("queryTime") {
        return None;
    }
    let mut out: ViewParams = q.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(ns) = out.get_mut("namespaces") {
        let mut list: Vec<&str> = ns
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        list.sort_unstable();
        list.dedup();
        *ns = list.join(",");
    }
    Some(out)
}

impl<V> ViewCache<V> {
    pub fn new(view: &'static str, settings: ViewCacheSettings, metrics: CacheMetrics) -> Self {
        ViewCache {
            view,
            settings,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                bytes: 0,
            }),
            flights: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// A cache that keeps nothing.
    pub fn disabled(view: &'static str) -> Self {
        let settings = ViewCacheSettings {
            enabled: false,
            refresh_interval: Duration::from_secs(60),
            inactivity_timeout: Duration::from_secs(600),
            max_bytes: 0,
        };
        ViewCache::new(view, settings, CacheMetrics::default())
    }

    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    pub fn settings(&self) -> ViewCacheSettings {
        self.settings
    }

    fn lock(&self) -> MutexGuard<'_, Inner<V>> {
        // A panic while holding the lock leaves consistent data (every mutation is complete).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn labels(&self) -> ViewLabels {
        ViewLabels { view: self.view }
    }

    fn evicted(&self, reason: &'static str) {
        self.metrics
            .evictions
            .get_or_create(&EvictionLabels {
                view: self.view,
                reason,
            })
            .inc();
    }

    fn publish(&self, inner: &Inner<V>) {
        let l = self.labels();
        self.metrics
            .bytes
            .get_or_create(&l)
            .set(i64::try_from(inner.bytes).unwrap_or(i64::MAX));
        self.metrics
            .entries
            .get_or_create(&l)
            .set(i64::try_from(inner.entries.len()).unwrap_or(i64::MAX));
    }

    /// The entry of `key`, marking it used at `now`; counts a hit or a miss.
    pub fn get(&self, key: &str, now: Instant) -> Option<Arc<V>> {
        let found = self.peek(key, now);
        self.count(found.is_some());
        found
    }

    /// The entry of `key`, marking it used at `now`, counting nothing.
    fn peek(&self, key: &str, now: Instant) -> Option<Arc<V>> {
        let mut inner = self.lock();
        inner.entries.get_mut(key).map(|e| {
            e.accessed = now;
            e.value.clone()
        })
    }

    fn count(&self, hit: bool) {
        let counter = if hit {
            &self.metrics.hits
        } else {
            &self.metrics.misses
        };
        counter.get_or_create(&self.labels()).inc();
    }

    /// The entry of `key` (a hit: `None` beside it), or the value `compute` builds for the view
    /// of `params`, kept for `key`, with what `compute` returned beside it (a miss: `Some`).
    /// Concurrent misses of one key compute once: the others wait and take the kept value (hits);
    /// when the computation fails, or its value is too large to keep, the next waiter computes.
    /// A cache that is off computes every time. `compute` gives the value, its estimated size in
    /// bytes and anything the caller wants back (such as timings).
    pub async fn get_or_compute<X, E, F, Fut>(
        &self,
        key: &str,
        params: &ViewParams,
        compute: F,
    ) -> std::result::Result<(Arc<V>, Option<X>), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<(V, u64, X), E>>,
    {
        if let Some(v) = self.peek(key, Instant::now()) {
            self.count(true);
            return Ok((v, None));
        }
        let flight = Flight::join(&self.flights, key);
        let _turn = flight.lock.lock().await;
        // Computed by the caller whose turn came before.
        if let Some(v) = self.peek(key, Instant::now()) {
            self.count(true);
            return Ok((v, None));
        }
        self.count(false);
        let (value, bytes, extra) = compute().await?;
        let value = Arc::new(value);
        self.insert(
            key.to_string(),
            params.clone(),
            value.clone(),
            bytes,
            Instant::now(),
        );
        Ok((value, Some(extra)))
    }

    /// Keeps `value` (estimated at `bytes`) for `key`, asked for at `now`: the least recently
    /// asked for entries go first until it fits; a value larger than the whole cap is not kept.
    pub fn insert(&self, key: String, params: ViewParams, value: Arc<V>, bytes: u64, now: Instant) {
        if !self.settings.enabled {
            return;
        }
        let mut inner = self.lock();
        if let Some(old) = inner.entries.remove(&key) {
            inner.bytes -= old.bytes;
        }
        if bytes > self.settings.max_bytes {
            self.evicted("memory");
            self.publish(&inner);
            return;
        }
        self.make_room(&mut inner, bytes, None);
        inner.bytes += bytes;
        inner.entries.insert(
            key,
            Entry {
                value,
                params: Arc::new(params),
                bytes,
                accessed: now,
                next_refresh: now + self.settings.refresh_interval,
                refreshing: false,
            },
        );
        self.publish(&inner);
    }

    /// Drops the least recently asked for entries (never `keep`) until `bytes` more fit.
    fn make_room(&self, inner: &mut Inner<V>, bytes: u64, keep: Option<&str>) {
        while inner.bytes + bytes > self.settings.max_bytes {
            let oldest = inner
                .entries
                .iter()
                .filter(|(k, _)| Some(k.as_str()) != keep)
                .min_by_key(|(_, e)| e.accessed)
                .map(|(k, _)| k.clone());
            let Some(k) = oldest else { break };
            if let Some(e) = inner.entries.remove(&k) {
                inner.bytes -= e.bytes;
                self.evicted("memory");
            }
        }
    }

    /// At `now`: drops the entries idle past `inactivity_timeout`, and returns those due for a
    /// refresh (each marked as being refreshed until [`Self::refreshed`] or
    /// [`Self::refresh_failed`]).
    pub fn due(&self, now: Instant) -> Vec<(String, Arc<ViewParams>)> {
        let mut inner = self.lock();
        let idle = self.settings.inactivity_timeout;
        let before = inner.entries.len();
        let mut freed = 0;
        inner.entries.retain(|_, e| {
            let keep = now.saturating_duration_since(e.accessed) < idle;
            if !keep {
                freed += e.bytes;
            }
            keep
        });
        inner.bytes -= freed;
        for _ in inner.entries.len()..before {
            self.evicted("idle");
        }
        let mut due = Vec::new();
        for (k, e) in inner.entries.iter_mut() {
            if !e.refreshing && e.next_refresh <= now {
                e.refreshing = true;
                due.push((k.clone(), e.params.clone()));
            }
        }
        self.publish(&inner);
        due
    }

    /// Counts `extra` more bytes to the entry of `key` while it still holds `value` (what was
    /// added to it since it was kept), making room as [`Self::insert`] does: false when the entry
    /// is gone or replaced, or when it would no longer fit under the cap (nothing counted).
    pub fn grow(&self, key: &str, value: &Arc<V>, extra: u64) -> bool {
        let mut inner = self.lock();
        let Some(bytes) = inner
            .entries
            .get(key)
            .filter(|e| Arc::ptr_eq(&e.value, value))
            .map(|e| e.bytes)
        else {
            return false;
        };
        if bytes + extra > self.settings.max_bytes {
            return false;
        }
        self.make_room(&mut inner, extra, Some(key));
        inner.bytes += extra;
        if let Some(e) = inner.entries.get_mut(key) {
            e.bytes += extra;
        }
        self.publish(&inner);
        true
    }

    /// The refreshed value of `key`, computed at `now` (an entry dropped meanwhile stays gone).
    pub fn refreshed(&self, key: &str, value: Arc<V>, bytes: u64, now: Instant) {
        self.metrics
            .refreshes
            .get_or_create(&RefreshLabels {
                view: self.view,
                outcome: "ok",
            })
            .inc();
        let mut inner = self.lock();
        let Some(old) = inner.entries.get(key).map(|e| e.bytes) else {
            return;
        };
        inner.bytes -= old;
        if bytes > self.settings.max_bytes {
            inner.entries.remove(key);
            self.evicted("memory");
            self.publish(&inner);
            return;
        }
        self.make_room(&mut inner, bytes, Some(key));
        inner.bytes += bytes;
        if let Some(e) = inner.entries.get_mut(key) {
            e.value = value;
            e.bytes = bytes;
            e.next_refresh = now + self.settings.refresh_interval;
            e.refreshing = false;
        }
        self.publish(&inner);
    }

    /// A refresh of `key` failed at `now`: the entry keeps its last answer and is retried after
    /// `refresh_interval`.
    pub fn refresh_failed(&self, key: &str, now: Instant) {
        self.metrics
            .refreshes
            .get_or_create(&RefreshLabels {
                view: self.view,
                outcome: "failed",
            })
            .inc();
        let mut inner = self.lock();
        if let Some(e) = inner.entries.get_mut(key) {
            e.refreshing = false;
            e.next_refresh = now + self.settings.refresh_interval;
        }
    }

    pub fn stats(&self) -> Stats {
        let inner = self.lock();
        Stats {
            entries: inner.entries.len(),
            bytes: inner.bytes,
        }
    }

    /// How many views are being computed on a miss now (for the tests).
    #[cfg(test)]
    fn flights(&self) -> usize {
        self.flights.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// How often the refresher looks for due and idle entries: a quarter of the shorter setting,
/// between 50 ms and 5 s.
pub fn tick(settings: &[ViewCacheSettings]) -> Duration {
    settings
        .iter()
        .filter(|s| s.enabled)
        .map(|s| s.refresh_interval.min(s.inactivity_timeout) / 4)
        .min()
        .unwrap_or(Duration::from_secs(5))
        .clamp(Duration::from_millis(50), Duration::from_secs(5))
}

/// The server's two view caches.
pub struct ViewCaches {
    pub graph: ViewCache<SharedGraph>,
    pub health: ViewCache<SharedHealth>,
}

impl Default for ViewCaches {
    /// Caches that keep nothing (a state assembled without a configuration, as unit tests do).
    fn default() -> Self {
        ViewCaches {
            graph: ViewCache::disabled("graph"),
            health: ViewCache::disabled("health"),
        }
    }
}

impl ViewCaches {
    /// The caches of `kiali_internal`, counting on `metrics`.
    pub fn configured(
        graph: ViewCacheSettings,
        health: ViewCacheSettings,
        metrics: &CacheMetrics,
    ) -> Self {
        ViewCaches {
            graph: ViewCache::new("graph", graph, metrics.clone()),
            health: ViewCache::new("health", health, metrics.clone()),
        }
    }
}

#[cfg(test)]
#[path = "view_cache_unit_tests.rs"]
mod tests;
