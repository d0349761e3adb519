//! The view caches' refresher: every kept graph and health view is recomputed in the background
//! over the window ending now, by the routes' own builders, and idle entries are dropped
//! ([`crate::view_cache`]).

use std::sync::{Arc, Weak};
use std::time::Instant;

use crate::routes::graph::shared_graph;
use crate::routes::health::shared_health;
use crate::state::AppState;
use crate::view_cache::tick;

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
            match shared_graph(&s, &params).await {
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
            match shared_health(&s, &params).await {
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
