//! Traces of the simulated requests: the spans Istio's sidecars report for the same calls, rates,
//! response mixes and latencies the metrics count ([`crate::metrics`]).
//!
//! Each request entering the mesh (a call from a workload nobody calls, such as `sleep`) starts a
//! trace; every hop adds a client span, reported by the source's proxy in the source's cluster, and
//! a server span, reported by the destination's proxy in the destination's cluster, tagged as
//! Istio's Envoy tracing tags them (`node_id`, `istio.canonical_service`, `istio.namespace`,
//! `istio.mesh_id`, `istio.cluster_id` — what Kiali reads as a span's cluster —, `http.status_code`,
//! `upstream_cluster`, `error=true` on 5xx). The destination then makes its own calls: as many
//! per request as its call rate over its inbound rate.
//!
//! Nothing is random: the n-th traced request of a flow answers an error code `c` exactly when
//! `floor(p_c × n)` steps up (so `n` requests hold `floor(p_c × n)` such errors, as the metrics'
//! counters do), and its latency is the flow's log-normal quantile of a low-discrepancy sequence.
//! A [`Generator`] keeps those counters, so live windows continue the same sequence.

use std::collections::BTreeMap;

use crate::metrics::latency_cdf;
use crate::topology::{Flow, Mesh, Protocol, Workload};

/// One span, as the tracing store receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent: Option<[u8; 8]>,
    pub name: String,
    /// `true`: the client (outbound) span of the source's proxy; `false`: the server span.
    pub client: bool,
    pub start_ns: u64,
    pub end_ns: u64,
    /// The cluster of the proxy that reported it.
    pub cluster: String,
    pub namespace: String,
    /// The reporting proxy's workload.
    pub workload: String,
    /// The service name Istio gives the proxy: `<canonical service>.<namespace>`.
    pub service_name: String,
    pub error: bool,
    /// Span tags, in a stable order.
    pub tags: Vec<(String, String)>,
}

/// One trace: every span of one request entering the mesh.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub id: [u8; 16],
    pub start_ns: u64,
    pub spans: Vec<Span>,
}

impl Trace {
    /// Whether a span of `app` in `namespace` (its client or server side) has `error=true`.
    pub fn has_error_of(&self, namespace: &str, app: &str) -> bool {
        self.spans
            .iter()
            .any(|s| s.error && s.namespace == namespace && canonical(s) == app)
    }

    /// Whether a span of `app` in `namespace` is in the trace.
    pub fn touches(&self, namespace: &str, app: &str) -> bool {
        self.spans
            .iter()
            .any(|s| s.namespace == namespace && canonical(s) == app)
    }

    /// Trace id as lowercase hex (Jaeger's notation).
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }
}

fn canonical(s: &Span) -> &str {
    s.tags
        .iter()
        .find(|(k, _)| k == "istio.canonical_service")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

/// Lowercase hex of bytes.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What to trace.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fraction of the requests entering the mesh that are traced, in (0, 1] (Istio's sampling).
    pub sampling: f64,
    /// `istio.mesh_id` of every span.
    pub mesh_id: String,
    /// Mixed into trace and span ids, so that two runs over the same window do not collide.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sampling: 1.0,
            mesh_id: "cluster.local".into(),
            seed: 0,
        }
    }
}

/// Produces the traces of successive windows of time.
pub struct Generator<'a> {
    mesh: &'a Mesh,
    opts: Options,
    /// Requests each flow has traced so far (the error and latency sequences' index).
    served: Vec<u64>,
    /// Calls each (source workload, service) group has made so far.
    calls: BTreeMap<(usize, String, String), u64>,
    /// Requests each entry flow has traced: the next request is number `entered[f] + 1`.
    entered: Vec<u64>,
    /// Calls sent to each flow by the requests of its source (which backend is next).
    picked: BTreeMap<usize, u64>,
    origin: f64,
    ids: u64,
}

/// Golden-ratio step of the latency sequence (Weyl sequence: equidistributed quantiles).
const PHI: f64 = 0.618_033_988_749_894_9;

impl<'a> Generator<'a> {
    /// Requests are numbered from `origin` (Unix seconds): the n-th traced request of an entry
    /// flow with rate r and sampling s starts at `origin + (n - 0.5) / (r × s)`.
    pub fn new(mesh: &'a Mesh, origin: f64, opts: Options) -> Self {
        Generator {
            mesh,
            served: vec![0; mesh.flows.len()],
            calls: BTreeMap::new(),
            entered: vec![0; mesh.flows.len()],
            picked: BTreeMap::new(),
            origin,
            ids: opts.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED,
            opts,
        }
    }

    /// The traces of the requests entering the mesh before `end` (Unix seconds) that earlier
    /// calls did not produce, ordered by start time.
    pub fn until(&mut self, end: f64) -> Vec<Trace> {
        let mut starts: Vec<(f64, usize)> = Vec::new();
        for (i, f) in self.mesh.flows.iter().enumerate() {
            if !self.is_entry(f) || f.protocol == Protocol::Tcp {
                continue;
            }
            let rate = f.rate * self.opts.sampling.clamp(0.0, 1.0);
            if rate <= 0.0 {
                continue;
            }
            loop {
                let n = self.entered[i] + 1;
                let t = self.origin + (n as f64 - 0.5) / rate;
                if t >= end {
                    break;
                }
                self.entered[i] = n;
                starts.push((t, i));
            }
        }
        starts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        starts
            .into_iter()
            .map(|(t, i)| self.trace(i, (t * 1e9) as u64))
            .collect()
    }

    /// A flow whose source workload receives no traffic: a client at the edge of the mesh.
    fn is_entry(&self, f: &Flow) -> bool {
        !self.mesh.flows.iter().any(|g| g.destination == f.source)
    }

    fn next_id(&mut self) -> u64 {
        // splitmix64: distinct, well-spread ids from a counter.
        self.ids = self.ids.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.ids;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn trace(&mut self, flow: usize, start_ns: u64) -> Trace {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.next_id().to_be_bytes());
        id[8..].copy_from_slice(&self.next_id().to_be_bytes());
        let mut spans = Vec::new();
        self.hop(flow, id, None, start_ns, &mut spans, 0);
        Trace {
            id,
            start_ns,
            spans,
        }
    }

    /// The spans of one request of `flow` starting at `start_ns`, and of the calls it causes;
    /// returns when the client side ends.
    fn hop(
        &mut self,
        flow: usize,
        trace_id: [u8; 16],
        parent: Option<[u8; 8]>,
        start_ns: u64,
        spans: &mut Vec<Span>,
        depth: usize,
    ) -> u64 {
        let f = &self.mesh.flows[flow];
        self.served[flow] += 1;
        let n = self.served[flow];
        let code = response_code(f, n);
        let own_ms = latency_quantile(f, (n as f64 * PHI).fract());
        let client_id = self.next_id().to_be_bytes();
        let server_id = self.next_id().to_be_bytes();
        // Network and proxy overhead between the two sides: 0.2 ms each way.
        let server_start = start_ns + 200_000;
        let mut t = server_start + 100_000;
        // The destination's own calls, one after the other (not below 8 hops: no loops forever).
        if depth < 8 {
            for next in self.next_calls(flow) {
                t = self.hop(next, trace_id, Some(server_id), t, spans, depth + 1) + 100_000;
            }
        }
        let server_end = (server_start + (own_ms * 1e6) as u64).max(t);
        let client_end = server_end + 200_000;
        let f = &self.mesh.flows[flow];
        let error = code.parse::<u16>().is_ok_and(|c| c >= 500);
        let name = format!(
            "{}.{}.svc.cluster.local:{}/*",
            f.service.name, f.service.namespace, f.service.port
        );
        let host = format!(
            "{}.{}.svc.cluster.local",
            f.service.name, f.service.namespace
        );
        let mesh_id = self.opts.mesh_id.clone();
        let side = |w: &Workload, client: bool, id: [u8; 8], parent, start, end| {
            let upstream = if client {
                format!("outbound|{}||{host}", f.service.port)
            } else {
                format!("inbound|{}||", f.service.port)
            };
            let mut tags = vec![
                ("component", "proxy".to_string()),
                ("node_id", node_id(w)),
                ("guid:x-request-id", hex(&trace_id[..8])),
                ("http.url", format!("http://{host}:{}/", f.service.port)),
                ("http.method", "GET".to_string()),
                ("downstream_cluster", "-".to_string()),
                ("user_agent", "curl/8".to_string()),
                ("http.protocol", "HTTP/1.1".to_string()),
                ("peer.address", "10.0.0.1".to_string()),
                ("request_size", f.request_bytes.to_string()),
                ("response_size", f.response_bytes.to_string()),
                ("http.status_code", code.clone()),
                ("response_flags", "-".to_string()),
                ("upstream_cluster", upstream.clone()),
                ("upstream_cluster.name", upstream),
                ("istio.canonical_revision", w.version().to_string()),
                ("istio.canonical_service", w.app.clone()),
                ("istio.mesh_id", mesh_id.clone()),
                ("istio.namespace", w.namespace.clone()),
                ("istio.cluster_id", w.cluster.clone()),
                (
                    "span.kind",
                    if client { "client" } else { "server" }.to_string(),
                ),
            ];
            if error {
                tags.push(("error", "true".to_string()));
            }
            Span {
                trace_id,
                span_id: id,
                parent,
                name: name.clone(),
                client,
                start_ns: start,
                end_ns: end,
                cluster: w.cluster.clone(),
                namespace: w.namespace.clone(),
                workload: w.name.clone(),
                service_name: format!("{}.{}", w.app, w.namespace),
                error,
                tags: tags.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            }
        };
        spans.push(side(
            &f.source, true, client_id, parent, start_ns, client_end,
        ));
        spans.push(side(
            &f.destination,
            false,
            server_id,
            Some(client_id),
            server_start,
            server_end,
        ));
        client_end
    }

    /// The flows one request of `flow` calls next: for each service its destination calls, as
    /// many calls as that call's rate over the destination's inbound rate (the fraction spread
    /// evenly), each to the backend whose share is most behind.
    fn next_calls(&mut self, flow: usize) -> Vec<usize> {
        let dest = self.mesh.flows[flow].destination.clone();
        let inbound: f64 = self
            .mesh
            .flows
            .iter()
            .filter(|g| g.destination == dest)
            .map(|g| g.rate)
            .sum();
        if inbound <= 0.0 {
            return Vec::new();
        }
        // Outbound flows of the destination, grouped by service.
        let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        for (i, g) in self.mesh.flows.iter().enumerate() {
            if g.source == dest && g.protocol != Protocol::Tcp {
                groups
                    .entry((g.service.namespace.clone(), g.service.name.clone()))
                    .or_default()
                    .push(i);
            }
        }
        let src_index = self
            .mesh
            .topology
            .workloads
            .iter()
            .position(|w| *w == dest)
            .unwrap_or(usize::MAX);
        let mut out = Vec::new();
        for ((ns, svc), members) in groups {
            let rate: f64 = members.iter().map(|&i| self.mesh.flows[i].rate).sum();
            let per_request = rate / inbound;
            let key = (src_index, ns, svc);
            let before = *self.calls.get(&key).unwrap_or(&0);
            // Requests the destination has received so far, over every inbound flow.
            let served: f64 = self
                .mesh
                .flows
                .iter()
                .enumerate()
                .filter(|(_, g)| g.destination == dest)
                .map(|(i, _)| self.served[i] as f64)
                .sum();
            // Calls made after this request: floor(per_request × requests so far) in total.
            let total = (per_request * served + 1e-9).floor() as u64;
            let now = total.saturating_sub(before);
            for k in 0..now {
                let made = before + k;
                // The backend whose count is furthest below its share after `made + 1` calls.
                let lag = |i: usize, picked: &BTreeMap<usize, u64>| {
                    self.mesh.flows[i].rate / rate * (made + 1) as f64
                        - *picked.get(&i).unwrap_or(&0) as f64
                };
                let pick = members
                    .iter()
                    .copied()
                    .max_by(|&a, &b| {
                        lag(a, &self.picked)
                            .total_cmp(&lag(b, &self.picked))
                            .then(b.cmp(&a))
                    })
                    .unwrap_or(members[0]);
                *self.picked.entry(pick).or_default() += 1;
                out.push(pick);
            }
            self.calls.insert(key, before + now);
        }
        out
    }
}

/// The response code of the n-th request (1-based) of a flow: the first non-success code whose
/// `floor(fraction × n)` steps up at n, else the most frequent one.
pub fn response_code(f: &Flow, n: u64) -> String {
    let mut codes: Vec<_> = f.responses.iter().collect();
    codes.sort_by(|a, b| b.fraction.total_cmp(&a.fraction));
    let Some(main) = codes.first() else {
        return "200".into();
    };
    for r in &codes[1..] {
        let steps = |k: u64| (r.fraction * k as f64 + 1e-9).floor() as u64;
        if steps(n) > steps(n - 1) {
            return r.code.clone();
        }
    }
    main.code.clone()
}

/// How many of the first `n` requests of a flow answer a 5xx.
pub fn errors_after(f: &Flow, n: u64) -> u64 {
    (1..=n)
        .filter(|&k| response_code(f, k).parse::<u16>().is_ok_and(|c| c >= 500))
        .count() as u64
}

/// The latency (ms) below which a fraction `u` of the flow's requests fall.
fn latency_quantile(f: &Flow, u: f64) -> f64 {
    let u = u.clamp(0.001, 0.999);
    let (mut lo, mut hi) = (f.latency_ms.p50 / 1e3, f.latency_ms.p99 * 1e3);
    for _ in 0..60 {
        let mid = (lo * hi).sqrt();
        if latency_cdf(f, mid) < u {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Envoy's `node_id` of a workload's sidecar.
fn node_id(w: &Workload) -> String {
    format!(
        "sidecar~10.0.0.1~{}.{}~{}.svc.cluster.local",
        w.name, w.namespace, w.namespace
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Topology;

    fn demo() -> Mesh {
        let text = include_str!("../../examples/demo-mesh.yaml");
        Topology::parse(text).unwrap().resolve().unwrap()
    }

    #[test]
    fn a_productpage_trace_crosses_clusters_with_cluster_tags() {
        let mesh = demo();
        let mut g = Generator::new(&mesh, 1_700_000_000.0, Options::default());
        let traces = g.until(1_700_000_060.0);
        let pp: Vec<&Trace> = traces
            .iter()
            .filter(|t| t.touches("bookinfo", "productpage"))
            .collect();
        // 4/s from east's sleep and 2/s from west's, for 60 s.
        assert_eq!(pp.len(), 360);
        let to_v3 = pp
            .iter()
            .find(|t| t.spans.iter().any(|s| s.workload == "reviews-v3"))
            .expect("a trace reaching reviews-v3");
        let clusters: std::collections::BTreeSet<&str> =
            to_v3.spans.iter().map(|s| s.cluster.as_str()).collect();
        assert!(clusters.contains("east") && clusters.contains("west"));
        for s in &to_v3.spans {
            let tag = s
                .tags
                .iter()
                .find(|(k, _)| k == "istio.cluster_id")
                .unwrap();
            assert_eq!(tag.1, s.cluster);
            assert!(s.end_ns > s.start_ns);
            if let Some(p) = s.parent {
                let parent = to_v3.spans.iter().find(|x| x.span_id == p).unwrap();
                assert!(parent.start_ns <= s.start_ns && s.end_ns <= parent.end_ns);
            }
        }
        // Every productpage request calls details and reviews once: 4 hops (+ ratings sometimes).
        assert!(pp.iter().all(|t| t.spans.len() >= 6));
    }

    #[test]
    fn error_counts_follow_the_configured_mix_exactly() {
        let mesh = demo();
        let mut g = Generator::new(&mesh, 0.0, Options::default());
        let traces = g.until(100.0);
        let ratings_calls: u64 = traces
            .iter()
            .flat_map(|t| &t.spans)
            .filter(|s| s.workload == "ratings-v1" && !s.client)
            .count() as u64;
        let errors = traces
            .iter()
            .filter(|t| t.has_error_of("bookinfo", "ratings"))
            .count() as u64;
        // 2/s from reviews-v2 and 2/s from reviews-v3: 400 calls, 5% of each flow's 503s.
        assert_eq!(ratings_calls, 400);
        let expected: u64 = mesh
            .flows
            .iter()
            .filter(|f| f.destination.app == "ratings")
            .map(|f| errors_after(f, 200))
            .sum();
        assert_eq!(expected, 20);
        assert_eq!(errors, expected);
    }

    #[test]
    fn windows_continue_the_sequence() {
        let mesh = demo();
        let mut whole = Generator::new(&mesh, 0.0, Options::default());
        let all = whole.until(20.0);
        let mut parts = Generator::new(&mesh, 0.0, Options::default());
        let mut split = parts.until(7.5);
        split.extend(parts.until(20.0));
        assert_eq!(all, split);
        let mut sampled = Generator::new(
            &mesh,
            0.0,
            Options {
                sampling: 0.1,
                ..Options::default()
            },
        );
        let few = sampled.until(20.0);
        assert!(few.len() * 10 <= all.len() + 10 && few.len() * 10 + 10 >= all.len());
    }
}
