//! The view caches of the servers the end-to-end tests start: on, as in Kiali, but recomputed
//! every second (`refresh_interval: 1s`) instead of every minute.
//!
//! Many tests poll a live graph or health view until new data shows (traffic shifted, a cluster
//! back, a store holding every series). With Kiali's `refresh_interval` of 60 s the first,
//! cached answer could stand until the poll's deadline; with 1 s a poll sees the store's data
//! at most about a second (plus one recomputation) after it is there, and every poll still goes
//! through the cache (hits, misses and background refreshes). `inactivity_timeout` is short too
//! (1 min), so views a test asked for once stop being recomputed soon after.
//!
//! [`with_test_view_caches`] applies this to a server's `config.yaml` text, unless the test
//! writes its own `kiali_internal` (a test about the caches, or one that turns them off with a
//! reason); `tests/tests/common` does the same for an in-process server's `Config` from the
//! same text ([`TEST_VIEW_CACHES`]).

/// `kiali_internal` of the test servers.
pub const TEST_VIEW_CACHES: &str = "kiali_internal:\n  graph_cache: {refresh_interval: 1s, inactivity_timeout: 1m}\n  health_cache: {refresh_interval: 1s, inactivity_timeout: 1m}\n";

/// Whether the YAML text `config_yaml` sets `kiali_internal` at its top level.
pub fn sets_view_caches(config_yaml: &str) -> bool {
    match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(config_yaml) {
        Ok(serde_yaml_ng::Value::Mapping(m)) => m.contains_key("kiali_internal"),
        // Not a mapping (empty, or not YAML the server would read): nothing of its own.
        _ => false,
    }
}

/// `config_yaml` with [`TEST_VIEW_CACHES`] added, unless it sets `kiali_internal` itself.
pub fn with_test_view_caches(config_yaml: &str) -> String {
    if sets_view_caches(config_yaml) {
        return config_yaml.to_string();
    }
    let mut out = config_yaml.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(TEST_VIEW_CACHES);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_unless_the_config_writes_its_own() {
        let plain = "auth:\n  strategy: anonymous";
        let added = with_test_view_caches(plain);
        assert!(added.starts_with("auth:\n  strategy: anonymous\nkiali_internal:\n"));
        assert!(sets_view_caches(&added));
        let own = "auth: {strategy: anonymous}\nkiali_internal:\n  graph_cache: {enabled: false}\n";
        assert_eq!(with_test_view_caches(own), own);
        assert!(sets_view_caches(&with_test_view_caches("")));
        // A nested key of the same name is not the server's.
        assert!(!sets_view_caches("server:\n  kiali_internal: 1\n"));
    }
}
