//! What graph, health and metrics requests share: the engine's PromQL run against the one
//! Prometheus (concurrently, bounded by the client), and the inventory of the namespaces the
//! samples name.

use std::collections::{BTreeSet, HashSet};

use meshglass_engine as engine;

use crate::error::{Error, Result};
use crate::params::engine_err;
use crate::state::{Shared, Views};

/// Runs the queries concurrently (the client bounds concurrency) and parses every answer.
pub async fn run_queries(s: &Shared, qs: Vec<engine::PromQuery>) -> Result<Vec<engine::Sample>> {
    let prom = s
        .prom
        .clone()
        .ok_or_else(|| Error::Prometheus("no Prometheus configured".into()))?;
    let futs = qs.into_iter().map(|q| {
        let prom = prom.clone();
        async move {
            let body = prom.instant_shared(&q.promql, Some(q.time)).await?;
            engine::parse_prometheus_response(q.family, &body).map_err(engine_err)
        }
    });
    let parts = futures::future::try_join_all(futs).await?;
    Ok(parts.into_iter().flatten().collect())
}

/// Runs metrics range queries concurrently (the client bounds concurrency) and collects the
/// series of every answer.
pub async fn run_range_queries(
    s: &Shared,
    qs: Vec<engine::metrics::MetricsRangeQuery>,
) -> Result<Vec<engine::metrics::MetricSeries>> {
    if qs.is_empty() {
        return Ok(Vec::new());
    }
    let prom = s
        .prom
        .clone()
        .ok_or_else(|| Error::Prometheus("no Prometheus configured".into()))?;
    let futs = qs.into_iter().map(|q| {
        let prom = prom.clone();
        async move {
            let body = prom.range_raw(&q.promql, q.start, q.end, q.step).await?;
            engine::metrics::parse_matrix(&body).map_err(engine_err)
        }
    });
    let parts = futures::future::try_join_all(futs).await?;
    Ok(engine::metrics::MetricSeries::collect(
        parts.into_iter().flatten().collect(),
    ))
}

/// The namespaces a graph or health answer can mention: the requested ones and every namespace
/// the samples name. The inventory is built for these only, so a request's cost follows what it
/// asks for, not the size of every cluster's cache.
pub fn relevant_namespaces(requested: &[String], samples: &[engine::Sample]) -> HashSet<String> {
    let mut out: HashSet<String> = requested.iter().cloned().collect();
    for s in samples {
        let l = &s.labels;
        for ns in [
            l.source_workload_namespace(),
            l.destination_service_namespace(),
            l.destination_workload_namespace(),
        ]
        .into_iter()
        .flatten()
        {
            if !out.contains(ns) {
                out.insert(ns.to_string());
            }
        }
    }
    out
}

/// The engine inventory of what the views show, in the namespaces `keep` holds.
pub fn inventory(views: &Views, keep: &HashSet<String>) -> engine::MeshInventory {
    engine::MeshInventory {
        clusters: views
            .clusters
            .iter()
            .map(|v| v.inventory(&|ns| keep.contains(ns)))
            .collect(),
    }
}

/// A (cluster, namespace) pair of telemetry.
type Place<'a> = (&'a str, &'a str);

/// Where a sample's source and destination are: (cluster, namespace) of each end, `None` for an
/// end the labels do not place.
fn ends(s: &engine::Sample) -> (Option<Place<'_>>, Vec<Place<'_>>) {
    let l = &s.labels;
    let src = l
        .source_cluster()
        .zip(l.source_workload_namespace())
        .filter(|(_, ns)| !ns.is_empty());
    let dst_cluster = l.destination_cluster().unwrap_or_default();
    let dst = [
        l.destination_service_namespace(),
        l.destination_workload_namespace(),
    ]
    .into_iter()
    .flatten()
    .filter(|ns| !ns.is_empty() && *ns != "unknown")
    .map(|ns| (dst_cluster, ns))
    .collect();
    (src, dst)
}

/// The (cluster, namespace) pairs the samples name, at either end.
pub fn traffic_namespaces(samples: &[engine::Sample]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for s in samples {
        let (src, dst) = ends(s);
        for (c, ns) in src.into_iter().chain(dst) {
            if !out.contains(&(c.to_string(), ns.to_string())) {
                out.insert((c.to_string(), ns.to_string()));
            }
        }
    }
    out
}

/// The samples a signed-in caller may see: those with at least one end in a namespace it may
/// read in that end's cluster. Traffic between namespaces it may not read (west's `bookinfo`
/// when only east's is granted) is dropped, with its rates, error codes and principals.
pub fn visible_samples(views: &Views, samples: Vec<engine::Sample>) -> Vec<engine::Sample> {
    if !views.restricted() {
        return samples;
    }
    samples
        .into_iter()
        .filter(|s| {
            let (src, dst) = ends(s);
            let src_ok = src.is_some_and(|(c, ns)| views.may_see(c, ns));
            let dst_ok = !dst.is_empty() && dst.iter().all(|(c, ns)| views.may_see(c, ns));
            src_ok || dst_ok
        })
        .collect()
}
