//! `kiali_internal`: the server's view caches, with Kiali's keys.
//!
//! Kiali's `kiali_internal.graph_cache` keeps a namespace graph a user asked for in memory and
//! recomputes it in the background over a moving window, so a repeated view is answered at once;
//! `kiali_internal.health_cache` does the same for health. The keys (Kiali's defaults):
//! `enabled` (true), `refresh_interval` ("60s": how often a kept view is recomputed),
//! `inactivity_timeout` ("10m": a view nobody asked for in that time is dropped) and
//! `max_cache_memory_mb` (1000: beyond, the least recently asked views are dropped). Durations
//! are Prometheus/Go style (`90s`, `10m`, `1h30m`). Kiali keeps one graph per browser session;
//! here an entry is shared by every caller asking for the same view, each caller's access applied
//! to the shared answer (api-server `view_cache`). `health_cache` takes the same four keys.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::service_auth::Extra;
use crate::{Error, Result};

/// Kiali's default `refresh_interval`.
pub const DEFAULT_REFRESH_INTERVAL: &str = "60s";
/// Kiali's default `inactivity_timeout`.
pub const DEFAULT_INACTIVITY_TIMEOUT: &str = "10m";
/// Kiali's default `max_cache_memory_mb`.
pub const DEFAULT_MAX_CACHE_MEMORY_MB: u64 = 1000;

/// `kiali_internal`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct KialiInternalConfig {
    pub graph_cache: ViewCacheConfig,
    pub health_cache: ViewCacheConfig,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `kiali_internal.graph_cache` or `kiali_internal.health_cache`, as written.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct ViewCacheConfig {
    pub enabled: bool,
    pub refresh_interval: String,
    pub inactivity_timeout: String,
    pub max_cache_memory_mb: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for ViewCacheConfig {
    fn default() -> Self {
        ViewCacheConfig {
            enabled: true,
            refresh_interval: DEFAULT_REFRESH_INTERVAL.into(),
            inactivity_timeout: DEFAULT_INACTIVITY_TIMEOUT.into(),
            max_cache_memory_mb: DEFAULT_MAX_CACHE_MEMORY_MB,
            extra: Extra::new(),
        }
    }
}

/// A view cache's settings, resolved: durations parsed, the cap in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewCacheSettings {
    pub enabled: bool,
    pub refresh_interval: Duration,
    pub inactivity_timeout: Duration,
    pub max_bytes: u64,
}

impl ViewCacheConfig {
    /// The resolved settings; an error naming `field` (e.g. `kiali_internal.graph_cache`) when a
    /// duration does not parse. An empty duration is the default.
    pub fn settings(&self, field: &str) -> Result<ViewCacheSettings> {
        let duration = |key: &str, v: &str, default: &str| {
            let v = if v.trim().is_empty() {
                default
            } else {
                v.trim()
            };
            meshglass_engine::parse_duration(v)
                .map(Duration::from_secs)
                .map_err(|_| {
                    Error::Config(format!(
                        "{field}.{key} {v:?} is not valid: allowed a duration such as 60s, 10m or 1h"
                    ))
                })
        };
        Ok(ViewCacheSettings {
            enabled: self.enabled,
            refresh_interval: duration(
                "refresh_interval",
                &self.refresh_interval,
                DEFAULT_REFRESH_INTERVAL,
            )?,
            inactivity_timeout: duration(
                "inactivity_timeout",
                &self.inactivity_timeout,
                DEFAULT_INACTIVITY_TIMEOUT,
            )?,
            max_bytes: self.max_cache_memory_mb.saturating_mul(1024 * 1024),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn defaults_are_kialis() {
        let c = Config::from_yaml("").unwrap();
        for s in [c.graph_cache().unwrap(), c.health_cache().unwrap()] {
            assert_eq!(
                s,
                ViewCacheSettings {
                    enabled: true,
                    refresh_interval: Duration::from_secs(60),
                    inactivity_timeout: Duration::from_secs(600),
                    max_bytes: 1000 * 1024 * 1024,
                }
            );
        }
    }

    #[test]
    fn reads_every_key_of_both_caches() {
        let c = Config::from_yaml(
            "kiali_internal:\n  graph_cache: {enabled: false, refresh_interval: 15s, inactivity_timeout: 1h30m, max_cache_memory_mb: 64}\n  health_cache: {refresh_interval: 2m}\n",
        )
        .unwrap();
        let g = c.graph_cache().unwrap();
        assert!(!g.enabled);
        assert_eq!(g.refresh_interval, Duration::from_secs(15));
        assert_eq!(g.inactivity_timeout, Duration::from_secs(5400));
        assert_eq!(g.max_bytes, 64 << 20);
        let h = c.health_cache().unwrap();
        assert!(h.enabled);
        assert_eq!(h.refresh_interval, Duration::from_secs(120));
        assert_eq!(h.inactivity_timeout, Duration::from_secs(600));
    }

    #[test]
    fn a_bad_duration_names_the_field_in_the_spec_too() {
        let spec: crate::KialiSpec = serde_json::from_value(serde_json::json!({
            "kiali_internal": {"health_cache": {"inactivity_timeout": "soon"}}
        }))
        .unwrap();
        let e = Config::from_spec(&spec, "istio-system").unwrap_err();
        assert!(
            e.to_string()
                .contains("kiali_internal.health_cache.inactivity_timeout"),
            "{e}"
        );
    }

    #[test]
    fn the_spec_reaches_the_file_with_defaults_filled_in() {
        let spec: crate::KialiSpec = serde_json::from_value(serde_json::json!({
            "kiali_internal": {"graph_cache": {"max_cache_memory_mb": 10}}
        }))
        .unwrap();
        let c = Config::from_spec(&spec, "istio-system").unwrap();
        let back = Config::from_yaml(&c.to_yaml().unwrap()).unwrap();
        assert_eq!(back.kiali_internal.graph_cache.max_cache_memory_mb, 10);
        assert_eq!(back.kiali_internal.graph_cache.refresh_interval, "60s");
        assert!(back.kiali_internal.health_cache.enabled);
    }
}
