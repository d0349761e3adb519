//! The traffic graph: samples → plans → traffic map → appenders → Cytoscape JSON.
//!
//! Samples are planned chunk by chunk (a planner: everything that depends on a sample alone,
//! on a second thread for large inputs) and applied to the traffic map in input order. The
//! traffic map borrows every string from the samples and the inventory, so building it
//! allocates per chunk, node and edge, never per sample. Node ids are Kiali's: SHA-256 of the
//! same identifying string Kiali hashes (`wl_<cluster>_<namespace>_<workload>`, …), so identical
//! input gives identical ids regardless of sample order.
//!
//! Modules, lowest first: [`cytoscape`] (the output model) and `num`/`stats` (number formatting,
//! quantiles); `ids` (node identity); `labels` (interning, hashing); `scope`, `parse` and
//! `plan` (what a sample does); `map` and `traffic` (the traffic map and how plans change it);
//! `appenders` (Kiali's appenders and finalizers); `boxes` and `output` (the Cytoscape model of
//! the map); `json` (the direct writer); `build` (the request path tying them together).

mod appenders;
mod boxes;
mod build;
pub mod cytoscape;
mod ids;
mod json;
mod labels;
mod map;
mod num;
mod output;
mod parse;
mod plan;
mod scope;
mod stats;
mod traffic;

pub use build::{GraphResult, build_graph};
