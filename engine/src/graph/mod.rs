//! The traffic graph: samples → plans → traffic map → appenders → Cytoscape JSON.
//!
//! Samples are planned chunk by chunk (a planner: everything that depends on a sample alone,
//! on a second thread for large inputs) and applied to the traffic map in input order. The
//! traffic map borrows every string from the samples and the inventory, so building it
//! allocates per chunk, node and edge, never per sample. Node ids are Kiali's: SHA-256 of the
//! same identifying string Kiali hashes (`wl_<cluster>_<namespace>_<workload>`, …), so identical
//! input gives identical ids regardless of sample order.
//!
//! Modules, lowest first (each uses only those before it):
//! - `escape`, `num`, `stats`: JSON string escaping, number formatting, quantiles;
//! - `badges`, [`cytoscape`]: Kiali's output model; `json`: its direct JSON writer;
//! - `ids`: node identity; `labels`: label interning and hashing;
//! - `map`: the traffic map's records (nodes, edges and their counters, protocols);
//! - `scope`, `parse`, `plan`: which samples count and what each does to the graph;
//! - `traffic`: the traffic map being built, and how plans change it;
//! - `aggregate`: the aggregateNode appender; `appenders`: Kiali's other appenders and finalizers, `decorations` the inventory's (meshCheck,
//!   gateways, WorkloadEntries); `boxes`, `output`: the map as the model;
//! - [`node_health`]: the health appender, over the model and [`crate::health()`]'s report;
//! - `build`: the request path, tying them together ([`build_graph`]).

mod aggregate;
mod appenders;
mod badges;
mod boxes;
mod build;
pub mod cytoscape;
mod decorations;
pub(crate) mod ids;
mod json;
mod labels;
mod map;
pub mod node_health;
mod num;
mod output;
mod parse;
mod plan;
mod scope;
mod stats;
mod traffic;

pub use build::{GraphResult, build_graph};
