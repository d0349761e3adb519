//! Unit tests of the view cache: hits and misses, keys, the memory cap, idle entries,
//! refreshes, the refresher's tick and the computation of concurrent misses once.

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
fn what_an_entry_grows_by_counts_under_the_cap_and_only_while_it_holds_that_value() {
    let (c, m) = cache(100);
    let t0 = Instant::now();
    let a = Arc::new("A");
    c.insert("a".into(), ViewParams::new(), a.clone(), 40, t0);
    c.insert(
        "b".into(),
        ViewParams::new(),
        Arc::new("B"),
        40,
        secs(t0, 1),
    );
    // `a` grows by 30: `b`, the least recently asked for, makes room.
    assert!(c.get("a", secs(t0, 2)).is_some());
    assert!(c.grow("a", &a, 30));
    assert_eq!(c.stats().bytes, 70);
    assert_eq!(c.stats().entries, 1);
    assert_eq!(evictions(&m, "memory"), 1);
    // Past the cap by itself: refused, nothing counted.
    assert!(!c.grow("a", &a, 31));
    assert_eq!(c.stats().bytes, 70);
    // Once refreshed (another value), growth of the old value is not counted.
    c.refreshed("a", Arc::new("A2"), 40, secs(t0, 3));
    assert!(!c.grow("a", &a, 10));
    assert_eq!(c.stats().bytes, 40);
    assert!(!c.grow("gone", &a, 1));
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

/// A computation of "A" that counts itself and takes `ms` milliseconds; `fail` fails it.
async fn compute(
    calls: &std::sync::atomic::AtomicUsize,
    ms: u64,
    fail: bool,
) -> std::result::Result<(&'static str, u64, usize), String> {
    let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    if fail {
        Err(format!("computation {n} failed"))
    } else {
        Ok(("A", 10, n))
    }
}

#[tokio::test]
async fn concurrent_identical_misses_compute_once() {
    let (c, m) = cache(1000);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let p = ViewParams::new();
    let answers = futures::future::join_all(
        (0..5).map(|_| c.get_or_compute("a", &p, || compute(&calls, 100, false))),
    )
    .await;
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    let computed: Vec<Option<usize>> = answers
        .into_iter()
        .map(|r| {
            let (v, x) = r.expect("answer");
            assert_eq!(*v, "A");
            x
        })
        .collect();
    assert_eq!(computed, [Some(1), None, None, None, None]);
    assert_eq!((count(&m.hits), count(&m.misses)), (4, 1));
    assert_eq!(c.flights(), 0, "the flight is forgotten");
    // Another view is its own miss.
    let (_, x) = c
        .get_or_compute("b", &p, || compute(&calls, 0, false))
        .await
        .unwrap();
    assert_eq!(x, Some(2));
}

#[tokio::test]
async fn after_a_failed_computation_the_next_waiter_computes() {
    let (c, m) = cache(1000);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let p = ViewParams::new();
    let (first, second) = tokio::join!(
        c.get_or_compute("a", &p, || compute(&calls, 50, true)),
        c.get_or_compute("a", &p, || compute(&calls, 0, false)),
    );
    assert_eq!(first.err().as_deref(), Some("computation 1 failed"));
    assert_eq!(second.unwrap().1, Some(2));
    assert_eq!((count(&m.hits), count(&m.misses)), (0, 2));
    assert_eq!(c.stats().entries, 1);
}

#[tokio::test]
async fn a_dropped_caller_leaves_no_flight_and_an_off_cache_computes_every_time() {
    let (c, _) = cache(1000);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let p = ViewParams::new();
    let slow = c.get_or_compute("a", &p, || compute(&calls, 60_000, false));
    assert!(
        tokio::time::timeout(Duration::from_millis(20), slow)
            .await
            .is_err()
    );
    assert_eq!(c.flights(), 0);
    assert_eq!(
        c.get_or_compute("a", &p, || compute(&calls, 0, false))
            .await
            .unwrap()
            .1,
        Some(2)
    );
    let off: ViewCache<&str> = ViewCache::disabled("graph");
    for n in [3, 4] {
        let (_, x) = off
            .get_or_compute("a", &p, || compute(&calls, 0, false))
            .await
            .unwrap();
        assert_eq!(x, Some(n));
    }
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
