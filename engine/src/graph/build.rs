//! The front door: [`build_graph`] plans the samples (on two threads for large inputs),
//! applies the plans in input order, runs the appenders and writes the Cytoscape model.

use rustc_hash::FxHashSet;
use serde::Serialize;

use super::cytoscape::CytoscapeGraph;
use super::plan::{Deferred, Planned, Planner};
use super::scope::Scope;
use super::traffic::Builder;
use crate::diag::Diagnostic;
use crate::input::Sample;
use crate::inventory::MeshInventory;
use crate::options::GraphOptions;
use crate::par;

/// The result of [`build_graph`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphResult {
    /// The graph, ready to serialise as the response body.
    pub graph: CytoscapeGraph,
    /// Input that was skipped, by kind.
    pub diagnostics: Vec<Diagnostic>,
}

/// Inputs at least this large are planned on a second thread too while the first builds.
const PARALLEL_MIN_SAMPLES: usize = 10_000;

/// Samples per planned chunk (the building thread waits for the first one only).
const PLAN_CHUNK: usize = 4_096;

/// Builds the namespace graph from the samples of the [`crate::queries`] results (all families
/// in one slice, any order) and the mesh inventory. Never panics on bad input: such samples are
/// skipped and reported in [`GraphResult::diagnostics`].
pub fn build_graph(
    opts: &GraphOptions,
    samples: &[Sample],
    inventory: &MeshInventory,
) -> GraphResult {
    build(
        opts,
        samples,
        inventory,
        samples.len() >= PARALLEL_MIN_SAMPLES,
    )
}

/// [`build_graph`], on two threads when `parallel` (the same graph either way).
pub(super) fn build(
    opts: &GraphOptions,
    samples: &[Sample],
    inventory: &MeshInventory,
    parallel: bool,
) -> GraphResult {
    let selected = Scope::new(opts);
    let mut b = Builder::new(opts, inventory, &selected);
    b.parallel = parallel;
    ingest(&mut b, opts, &selected, samples, parallel);
    b.aggregate_nodes(samples);
    b.append();
    let diagnostics = std::mem::take(&mut b.diags).into_vec();
    GraphResult {
        graph: b.into_cytoscape(),
        diagnostics,
    }
}

/// Plans every sample and applies the plans to `b`.
///
/// Destination-reported series first; a source-reported series describing the same traffic
/// (same labels but the reporter) is then skipped, as Kiali's time-series hash does.
/// Samples are planned chunk by chunk ([`Planner`]); on large inputs a second thread plans
/// chunks while this one applies those already planned, in input order, so the graph is
/// the same.
fn ingest<'a>(
    b: &mut Builder<'a>,
    opts: &'a GraphOptions,
    selected: &'a Scope<'a>,
    samples: &'a [Sample],
    parallel: bool,
) {
    let mut seen: FxHashSet<u64> =
        FxHashSet::with_capacity_and_hasher(samples.len() / 2, Default::default());
    let mut deferred: Vec<Vec<Deferred<'_>>> = Vec::new();
    // Planner ids → graph ids, per planner (0: the second thread's, 1: this thread's).
    let mut maps: [Vec<u32>; 2] = [Vec::with_capacity(4096), Vec::with_capacity(4096)];
    let mut planner = Planner::new(1, opts, selected);
    let chunks: Vec<&[Sample]> = samples.chunks(PLAN_CHUNK).collect();
    let mut apply = |done: Planned<'a>| deferred.push(b.apply_chunk(&mut maps, &mut seen, done));
    if parallel {
        plan_on_two_threads(opts, selected, &chunks, &mut planner, &mut apply);
    } else {
        for chunk in chunks {
            apply(planner.chunk(chunk));
        }
    }
    let kept: Vec<&Deferred<'_>> = deferred
        .iter()
        .flatten()
        .filter(|d| !(d.dedup && seen.contains(&d.series)))
        .collect();
    if !kept.is_empty() {
        let done = planner.deferred(&kept);
        b.apply_chunk(&mut maps, &mut seen, done);
    }
}

/// Plans `chunks` on a second thread and, while it is behind, on this one (with `planner`),
/// and hands each chunk's work to `apply` in input order.
fn plan_on_two_threads<'a>(
    opts: &'a GraphOptions,
    selected: &'a Scope<'a>,
    chunks: &[&'a [Sample]],
    planner: &mut Planner<'a>,
    apply: &mut impl FnMut(Planned<'a>),
) {
    // Chunks are claimed in order by the second thread and, while it is behind, by this
    // one.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let next = &next;
    let claim = move || next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (tx, rx) = std::sync::mpsc::channel();
    let second = move || {
        let mut planner = Planner::new(0, opts, selected);
        loop {
            let k = claim();
            let Some(chunk) = chunks.get(k) else { return };
            if tx.send((k, planner.chunk(chunk))).is_err() {
                return;
            }
        }
    };
    let here = || {
        let mut ready: Vec<Option<Planned<'_>>> = Vec::new();
        ready.resize_with(chunks.len(), || None);
        for k in 0..chunks.len() {
            while ready[k].is_none() {
                match rx.try_recv() {
                    Ok((j, done)) => ready[j] = Some(done),
                    Err(std::sync::mpsc::TryRecvError::Empty) => {
                        let j = claim();
                        match chunks.get(j) {
                            Some(chunk) => ready[j] = Some(planner.chunk(chunk)),
                            None => {
                                if let Ok((j, done)) = rx.recv() {
                                    ready[j] = Some(done);
                                }
                            }
                        }
                    }
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                        // The second thread stopped early (its panic is re-raised when
                        // both are done): plan the chunk here.
                        ready[k] = Some(planner.chunk(chunks[k]));
                    }
                }
            }
            if let Some(done) = ready[k].take() {
                apply(done);
            }
        }
    };
    // Without a second thread `second` runs first, here: it plans every chunk, and `here`
    // then applies them.
    par::join(here, second);
}

#[cfg(test)]
mod tests {
    use crate::{GraphOptions, GraphType, Label, fixtures};

    #[test]
    fn two_threads_build_the_same_graph_as_one() {
        let (namespaces, inv, mut samples) = fixtures::synthetic_mesh(3, 20, 300, 30_000);
        let selected: Vec<String> = namespaces.iter().take(15).cloned().collect();
        // The first destination-reported (`source` false) or source-reported sample in scope
        // from index `from` on.
        let find = |samples: &[crate::Sample], from: usize, source: bool| {
            (from..samples.len())
                .find(|&i| {
                    let l = &samples[i].labels;
                    let ns = if source {
                        l.source_workload_namespace()
                    } else {
                        l.destination_workload_namespace()
                    };
                    (l.reporter() == Some("source")) == source
                        && ns.is_some_and(|n| selected.iter().any(|s| s == n))
                })
                .unwrap()
        };
        // Some bad samples too, so diagnostics are compared as well: one of a kind in an early
        // chunk and one in a late chunk (the early one is the example), planned by either thread.
        samples[7].value = f64::NAN;
        samples[20_000]
            .labels
            .put(Label::Reporter, Some("elsewhere"));
        let early = find(&samples, 5_000, false);
        samples[early]
            .labels
            .put(Label::RequestProtocol, Some("pigeon-early"));
        let late = find(&samples, 25_000, false);
        samples[late]
            .labels
            .put(Label::RequestProtocol, Some("pigeon-late"));
        // A source-reported series without a destination-reported twin: kept by the dedup and
        // ingested last.
        let kept = find(&samples, 9_000, true);
        samples[kept].labels.put(Label::ResponseCode, Some("299"));
        // Principals (security appender) on samples of several chunks.
        for i in (0..samples.len()).step_by(997) {
            let p = format!("spiffe://cluster.local/p{}", i % 3);
            samples[i].labels.put(Label::SourcePrincipal, Some(&p));
        }
        for (graph_type, inject) in [
            (GraphType::Workload, false),
            (GraphType::Workload, true),
            (GraphType::App, false),
            (GraphType::Service, false),
        ] {
            let opts = GraphOptions {
                graph_type,
                inject_service_nodes: inject,
                namespaces: selected.clone(),
                query_time: 1_700_000_000,
                ..GraphOptions::default()
            };
            let one = super::build(&opts, &samples, &inv, false);
            let two = super::build(&opts, &samples, &inv, true);
            assert!(two.graph.elements.edges.len() >= crate::graph::output::PARALLEL_MIN_EDGES);
            let json = two.graph.to_json_vec();
            assert_eq!(one.graph.to_json_vec(), json);
            // The writer's two-thread path against serde's derived output.
            assert_eq!(json, serde_json::to_vec(&one.graph).unwrap());
            assert_eq!(one.diagnostics, two.diagnostics);
            let protocols = one
                .diagnostics
                .iter()
                .find(|d| d.kind == "unknown_protocol")
                .unwrap();
            assert_eq!(protocols.count, 2);
            assert!(protocols.example.contains("pigeon-early"), "{protocols:?}");
            let text = String::from_utf8(json).unwrap();
            assert!(text.contains("\"299\""));
            assert!(text.contains("spiffe://cluster.local/p"));
        }
    }
}
