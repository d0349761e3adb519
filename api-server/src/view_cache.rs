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
//! Metrics (`meshglass_server_view_cache_*`, label `view` = graph | health): `hits`, `misses`,
//! `evictions` (label `reason` = idle | memory), `refreshes` (label `outcome` = ok | failed),
//! `bytes` and `entries`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use meshglass_crds::kiali_internal::ViewCacheSettings;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::state::AppState;

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

/// One view cache (graph or health).
pub struct ViewCache<V> {
    view: &'static str,
    settings: ViewCacheSettings,
    inner: Mutex<Inner<V>>,
    metrics: CacheMetrics,
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
        let mut inner = self.lock();
        let found = inner.entries.get_mut(key).map(|e| {
            e.accessed = now;
            e.value.clone()
        });
        let counter = if found.is_some() {
            &self.metrics.hits
        } else {
            &self.metrics.misses
        };
        counter.get_or_create(&self.labels()).inc();
        found
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

/// Refreshes the kept views of both caches and drops idle ones, until the state is gone.
pub async fn refresh_loop(state: Weak<AppState>) {
    let period = match state.upgrade() {
        Some(s) => tick(&[
            s.view_cache.graph.settings(),
            s.view_cache.health.settings(),
        ]),
        None => return,
    };
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(s) = state.upgrade() else { return };
        for (key, params) in s.view_cache.graph.due(Instant::now()) {
            match crate::routes::graph::shared_graph(&s, &params).await {
                Ok(g) => {
                    let bytes = g.bytes();
                    s.view_cache
                        .graph
                        .refreshed(&key, Arc::new(g), bytes, Instant::now());
                }
                Err(e) => {
                    tracing::warn!(view = "graph", error = %e, "view refresh failed; the last answer is kept");
                    s.view_cache.graph.refresh_failed(&key, Instant::now());
                }
            }
        }
        for (key, params) in s.view_cache.health.due(Instant::now()) {
            match crate::routes::health::shared_health(&s, &params).await {
                Ok(h) => {
                    let bytes = h.bytes();
                    s.view_cache
                        .health
                        .refreshed(&key, Arc::new(h), bytes, Instant::now());
                }
                Err(e) => {
                    tracing::warn!(view = "health", error = %e, "view refresh failed; the last answer is kept");
                    s.view_cache.health.refresh_failed(&key, Instant::now());
                }
            }
        }
    }
}

/// The server's two view caches.
pub struct ViewCaches {
    pub graph: ViewCache<crate::routes::graph::SharedGraph>,
    pub health: ViewCache<crate::routes::health::SharedHealth>,
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
mod tests {
    use super::*;

    fn settings(max_bytes: u64) -> ViewCacheSettings {
        ViewCacheSettings {
            enabled: true,
            refresh_interval: Duration::from_secs(60),
            inactivity_timeout: Duration::from_secs(600),
            max_bytes,
        }
    }

    fn cache(max_bytes: u64) -> (ViewCache<&'static str>, CacheMetrics) {
        let m = CacheMetrics::default();
        (ViewCache::new("graph", settings(max_bytes), m.clone()), m)
    }

    fn count(f: &Family<ViewLabels, Counter>) -> u64 {
        f.get_or_create(&ViewLabels { view: "graph" }).get()
    }

    fn evictions(m: &CacheMetrics, reason: &'static str) -> u64 {
        m.evictions
            .get_or_create(&EvictionLabels {
                view: "graph",
                reason,
            })
            .get()
    }

    fn secs(t0: Instant, s: u64) -> Instant {
        t0 + Duration::from_secs(s)
    }

    #[test]
    fn a_repeated_view_is_a_hit_and_a_new_one_a_miss() {
        let (c, m) = cache(1000);
        let t0 = Instant::now();
        assert!(c.get("a", t0).is_none());
        c.insert("a".into(), ViewParams::new(), Arc::new("A"), 10, t0);
        assert_eq!(c.get("a", secs(t0, 1)).as_deref(), Some(&"A"));
        assert!(c.get("b", secs(t0, 1)).is_none());
        assert_eq!((count(&m.hits), count(&m.misses)), (1, 2));
        assert_eq!(
            c.stats(),
            Stats {
                entries: 1,
                bytes: 10
            }
        );
        assert_eq!(
            m.bytes.get_or_create(&ViewLabels { view: "graph" }).get(),
            10
        );
    }

    #[test]
    fn the_key_leaves_out_query_time_and_the_namespace_order() {
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let a = view_params(&q(&[("namespaces", "b,a"), ("graphType", "app")])).unwrap();
        let b = view_params(&q(&[("graphType", "app"), ("namespaces", "a,b,")])).unwrap();
        assert_eq!(key_of(&a), key_of(&b));
        assert_eq!(key_of(&a), "graphType=app&namespaces=a%2Cb");
        let other = view_params(&q(&[("namespaces", "a,b"), ("graphType", "workload")])).unwrap();
        assert_ne!(key_of(&a), key_of(&other));
        assert!(view_params(&q(&[("namespaces", "a"), ("queryTime", "1700000000")])).is_none());
    }

    #[test]
    fn a_disabled_cache_keeps_nothing() {
        let c: ViewCache<&str> = ViewCache::disabled("graph");
        let t0 = Instant::now();
        c.insert("a".into(), ViewParams::new(), Arc::new("A"), 1, t0);
        assert!(c.get("a", t0).is_none());
        assert_eq!(c.stats().entries, 0);
    }

    #[test]
    fn the_memory_cap_drops_the_least_recently_asked_for_first() {
        let (c, m) = cache(100);
        let t0 = Instant::now();
        c.insert("a".into(), ViewParams::new(), Arc::new("A"), 40, t0);
        c.insert(
            "b".into(),
            ViewParams::new(),
            Arc::new("B"),
            40,
            secs(t0, 1),
        );
        // `a` is asked for again: `b` is now the least recently used.
        assert!(c.get("a", secs(t0, 2)).is_some());
        c.insert(
            "c".into(),
            ViewParams::new(),
            Arc::new("C"),
            40,
            secs(t0, 3),
        );
        assert!(c.get("b", secs(t0, 4)).is_none());
        assert!(c.get("a", secs(t0, 4)).is_some());
        assert!(c.get("c", secs(t0, 4)).is_some());
        assert_eq!(c.stats().bytes, 80);
        assert_eq!(evictions(&m, "memory"), 1);
        // Larger than the whole cap: not kept, and nothing else is dropped for it.
        c.insert(
            "huge".into(),
            ViewParams::new(),
            Arc::new("H"),
            101,
            secs(t0, 5),
        );
        assert_eq!(c.stats().entries, 2);
        assert!(c.get("huge", secs(t0, 5)).is_none());
    }

    #[test]
    fn idle_entries_go_after_the_inactivity_timeout_and_refreshes_do_not_keep_them() {
        let (c, m) = cache(1000);
        let t0 = Instant::now();
        c.insert("a".into(), ViewParams::new(), Arc::new("A"), 10, t0);
        c.insert("b".into(), ViewParams::new(), Arc::new("B"), 10, t0);
        // Refreshed every minute in the background; only `b` is asked for again.
        for minute in 1..10 {
            let now = secs(t0, 60 * minute);
            for (k, _) in c.due(now) {
                c.refreshed(&k, Arc::new("fresh"), 10, now);
            }
        }
        assert!(c.get("b", secs(t0, 590)).is_some());
        assert!(c.due(secs(t0, 600)).iter().all(|(k, _)| k != "a"));
        assert_eq!(c.stats().entries, 1, "a idle for 10 minutes is dropped");
        assert_eq!(evictions(&m, "idle"), 1);
        assert_eq!(c.get("b", secs(t0, 601)).as_deref(), Some(&"fresh"));
        c.due(secs(t0, 1201));
        assert_eq!(
            c.stats(),
            Stats {
                entries: 0,
                bytes: 0
            }
        );
    }

    #[test]
    fn a_view_is_due_once_per_refresh_interval_and_a_failure_keeps_its_answer() {
        let (c, m) = cache(1000);
        let t0 = Instant::now();
        let mut params = ViewParams::new();
        params.insert("namespaces".into(), "bookinfo".into());
        c.insert("a".into(), params.clone(), Arc::new("A"), 10, t0);
        assert!(c.due(secs(t0, 59)).is_empty());
        let due = c.due(secs(t0, 60));
        assert_eq!(due.len(), 1);
        assert_eq!(
            *due[0].1, params,
            "recomputed from the request's parameters"
        );
        // Being refreshed: not handed out twice.
        assert!(c.due(secs(t0, 61)).is_empty());
        c.refresh_failed("a", secs(t0, 62));
        assert_eq!(c.get("a", secs(t0, 63)).as_deref(), Some(&"A"));
        assert!(c.due(secs(t0, 121)).is_empty());
        assert_eq!(c.due(secs(t0, 122)).len(), 1);
        c.refreshed("a", Arc::new("A2"), 30, secs(t0, 123));
        assert_eq!(c.get("a", secs(t0, 124)).as_deref(), Some(&"A2"));
        assert_eq!(c.stats().bytes, 30);
        let ok = m
            .refreshes
            .get_or_create(&RefreshLabels {
                view: "graph",
                outcome: "ok",
            })
            .get();
        assert_eq!(ok, 1);
    }

    #[test]
    fn a_refresh_of_a_dropped_entry_does_not_bring_it_back() {
        let (c, _) = cache(1000);
        let t0 = Instant::now();
        c.insert("a".into(), ViewParams::new(), Arc::new("A"), 10, t0);
        let due = c.due(secs(t0, 60));
        assert_eq!(due.len(), 1);
        // Dropped as idle while its refresh ran.
        c.due(secs(t0, 600));
        c.refreshed("a", Arc::new("A2"), 10, secs(t0, 601));
        assert_eq!(c.stats().entries, 0);
    }

    #[test]
    fn the_refresher_ticks_at_a_quarter_of_the_shortest_setting() {
        let s = |refresh: u64, idle: u64| ViewCacheSettings {
            enabled: true,
            refresh_interval: Duration::from_secs(refresh),
            inactivity_timeout: Duration::from_secs(idle),
            max_bytes: 1,
        };
        assert_eq!(tick(&[s(60, 600), s(60, 600)]), Duration::from_secs(5));
        assert_eq!(tick(&[s(60, 600), s(1, 600)]), Duration::from_millis(250));
        let off = ViewCacheSettings {
            enabled: false,
            ..s(1, 1)
        };
        assert_eq!(tick(&[off]), Duration::from_secs(5));
    }
}
