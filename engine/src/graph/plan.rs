//! Planning: what each sample does to the graph, worked out from the sample alone (role,
//! scope, dedup hash, identity, response class, principals) so that it can run on a second
//! thread ahead of the graph being built. [`Planner`] makes [`Plan`]s chunk by chunk.

use super::ids::{IntKey, Lbl, NodeType};
use super::labels::{H_CODE, H_FLAGS, H_GRPC, Labels, label_hashes, series_hash};
use super::map::Proto;
use super::parse::{find_node_id, identity_graph_type, parse};
use super::scope::Scope;
use crate::diag::Diagnostics;
use crate::input::{Family, IstioLabels, Sample};
use crate::options::{
    Appender, GraphOptions, GraphType, GrpcRate, HttpRate, ResponseTimeStat, TcpRate,
    ThroughputType,
};
use crate::rules::{self, ResponseCode};

/// What a sample contributes, decided by its family and the options.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Role {
    Requests,
    Messages,
    Tcp,
    Bucket,
    DurationSum,
    DurationCount,
    Bytes,
}

fn role(o: &GraphOptions, f: Family) -> Option<Role> {
    let requests = o.rates.http == HttpRate::Requests || o.rates.grpc == GrpcRate::Requests;
    let rt = requests && o.appender_enabled(Appender::ResponseTime);
    match f {
        Family::RequestsTotal if requests => Some(Role::Requests),
        Family::RequestMessages if matches!(o.rates.grpc, GrpcRate::Sent | GrpcRate::Total) => {
            Some(Role::Messages)
        }
        Family::ResponseMessages
            if matches!(o.rates.grpc, GrpcRate::Received | GrpcRate::Total) =>
        {
            Some(Role::Messages)
        }
        Family::TcpReceivedBytes if matches!(o.rates.tcp, TcpRate::Sent | TcpRate::Total) => {
            Some(Role::Tcp)
        }
        Family::TcpSentBytes if matches!(o.rates.tcp, TcpRate::Received | TcpRate::Total) => {
            Some(Role::Tcp)
        }
        Family::RequestDurationBucket if rt && o.response_time != ResponseTimeStat::Avg => {
            Some(Role::Bucket)
        }
        Family::RequestDurationSum if rt && o.response_time == ResponseTimeStat::Avg => {
            Some(Role::DurationSum)
        }
        Family::RequestDurationCount if rt && o.response_time == ResponseTimeStat::Avg => {
            Some(Role::DurationCount)
        }
        Family::RequestBytesSum
            if o.rates.http == HttpRate::Requests
                && o.appender_enabled(Appender::Throughput)
                && o.throughput_type == ThroughputType::Request =>
        {
            Some(Role::Bytes)
        }
        Family::ResponseBytesSum
            if o.rates.http == HttpRate::Requests
                && o.appender_enabled(Appender::Throughput)
                && o.throughput_type == ThroughputType::Response =>
        {
            Some(Role::Bytes)
        }
        _ => None,
    }
}

/// How a response code counts on an edge and its destination node.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Outcome {
    Other,
    C3xx,
    C4xx,
    C5xx,
    NoResponse,
    GrpcErr,
}

/// An absent label id in a [`Plan`].
pub(super) const NO_LABEL: u32 = u32::MAX;

/// What one sample does to the graph, worked out without the graph by a [`Planner`] (so on
/// either thread): label ids are the planner's, node keys are [`IntKey`]s of them. The graph
/// applies plans in input order ([`Builder::apply`](super::traffic::Builder::apply)), so the result is the same as taking the
/// samples one by one.
pub(super) struct Plan<'a> {
    pub(super) sample: &'a Sample,
    pub(super) value: f64,
    /// Series hash, recorded for the source/destination dedup when `dedup`.
    pub(super) series: u64,
    /// `le` of a bucket sample (NaN: missing or not a number).
    pub(super) le: f64,
    /// Nodes found or created in this order: source, destination, injected service. Fewer
    /// than the sample needs when one was bad (those before it still exist, as in Kiali).
    pub(super) nodes: [IntKey; 3],
    pub(super) n_nodes: u8,
    /// Whether the sample adds traffic (its nodes are all good and it counts).
    pub(super) traffic: bool,
    pub(super) role: Role,
    pub(super) proto: Proto,
    pub(super) dedup: bool,
    pub(super) source_reported: bool,
    /// Counted as mutual TLS (security appender).
    pub(super) mtls: bool,
    pub(super) outcome: Outcome,
    /// Response key (code, flags, host); `code` [`NO_LABEL`]: no response entry.
    pub(super) code: u32,
    pub(super) flags: u32,
    pub(super) host: u32,
    /// Destination service (cluster, namespace, name) for `destServices`; [`NO_LABEL`]: none.
    pub(super) dest_svc: [u32; 3],
    /// Source and destination principals (security appender); [`NO_LABEL`]: none.
    pub(super) principals: [u32; 2],
}

/// A source-reported sample, ingested after all others unless the dedup drops it.
pub(super) struct Deferred<'a> {
    pub(super) sample: &'a Sample,
    pub(super) role: Role,
    pub(super) dedup: bool,
    pub(super) series: u64,
}

// `Planner::roles` is indexed by `Family as usize`.
const _: () = {
    let mut i = 0;
    while i < Family::ALL.len() {
        assert!(Family::ALL[i] as usize == i);
        i += 1;
    }
};

/// A [`Planner`]'s work on one chunk of samples.
pub(super) struct Planned<'a> {
    /// Which planner (index of its id map: 0 for the second thread's, 1 for the building one).
    pub(super) planner: usize,
    /// Labels the planner numbered first in this chunk, in id order.
    pub(super) new_labels: Vec<&'a str>,
    /// Samples to ingest now (all but source-reported ones), in input order.
    pub(super) plans: Vec<Plan<'a>>,
    /// Source-reported samples, in input order.
    pub(super) later: Vec<Deferred<'a>>,
    /// What was skipped, in input order.
    pub(super) diags: Diagnostics,
}

/// Works out [`Plan`]s: scope, label hashes, series hash, parsing, the checks that report bad
/// input, node identity, response classes. Everything that depends on the sample alone, so it
/// can run on a second thread while the graph is built from earlier chunks. Each planner numbers
/// labels in its own interner.
pub(super) struct Planner<'a> {
    index: usize,
    opts: &'a GraphOptions,
    scope: &'a Scope<'a>,
    /// [`role`] of each family ([`Family::ALL`] order), decided once.
    roles: [Option<Role>; Family::ALL.len()],
    /// The graph type node identity follows.
    gt: GraphType,
    inject: bool,
    security: bool,
    labels: Labels<'a>,
    /// `-` (no response).
    dash: Lbl<'a>,
    /// Labels numbered before this were handed out with an earlier chunk.
    sent: usize,
    diags: Diagnostics,
}

impl<'a> Planner<'a> {
    pub(super) fn new(index: usize, opts: &'a GraphOptions, scope: &'a Scope<'a>) -> Self {
        let mut labels = Labels::new();
        let dash = labels.lbl("-");
        Planner {
            index,
            opts,
            scope,
            roles: Family::ALL.map(|f| role(opts, f)),
            gt: identity_graph_type(opts),
            inject: opts.injects_service_nodes(),
            security: opts.appender_enabled(Appender::SecurityPolicy),
            labels,
            dash,
            sent: 0,
            diags: Diagnostics::default(),
        }
    }

    /// Plans a chunk: destination-reported samples (and diagnostics) now, source-reported ones
    /// for later.
    pub(super) fn chunk(&mut self, chunk: &'a [Sample]) -> Planned<'a> {
        let mut plans = Vec::with_capacity(chunk.len() / 2 + 1);
        let mut later = Vec::with_capacity(chunk.len() / 2 + 1);
        for s in chunk {
            let Some(role) = self.roles[s.family as usize] else {
                continue;
            };
            if !s.value.is_finite() || s.value < 0.0 {
                self.diags.push("non_finite_value", || {
                    format!("{} value {}", s.family, s.value)
                });
                continue;
            }
            let source = match s.labels.reporter() {
                Some("destination") => false,
                Some("source") => true,
                _ => {
                    self.diags.push("bad_reporter", || {
                        format!("{} reporter {:?}", s.family, s.labels.reporter())
                    });
                    continue;
                }
            };
            let hs = label_hashes(&s.labels);
            if !self.scope.includes(source, &s.labels, &hs) {
                continue;
            }
            let dedup = matches!(role, Role::Requests | Role::Messages | Role::Tcp);
            let series = if dedup { series_hash(s.family, &hs) } else { 0 };
            if source {
                // Mostly dropped by the dedup: planned only if not.
                later.push(Deferred {
                    sample: s,
                    role,
                    dedup,
                    series,
                });
            } else {
                plans.push(self.plan(s, role, false, &hs, dedup, series));
            }
        }
        self.finish(plans, later)
    }

    /// Plans source-reported samples the dedup kept.
    pub(super) fn deferred(&mut self, kept: &[&Deferred<'a>]) -> Planned<'a> {
        let plans = kept
            .iter()
            .map(|d| {
                let hs = label_hashes(&d.sample.labels);
                self.plan(d.sample, d.role, true, &hs, false, d.series)
            })
            .collect();
        self.finish(plans, Vec::new())
    }

    fn finish(&mut self, plans: Vec<Plan<'a>>, later: Vec<Deferred<'a>>) -> Planned<'a> {
        let new_labels = self.labels.values[self.sent..].to_vec();
        self.sent = self.labels.values.len();
        Planned {
            planner: self.index,
            new_labels,
            plans,
            later,
            diags: std::mem::take(&mut self.diags),
        }
    }

    /// What ingesting `s` does, checked as Kiali does, reporting bad input.
    fn plan(
        &mut self,
        s: &'a Sample,
        role: Role,
        source_reported: bool,
        hs: &[u64; 18],
        dedup: bool,
        series: u64,
    ) -> Plan<'a> {
        let mut plan = Plan {
            sample: s,
            value: s.value,
            series,
            le: f64::NAN,
            nodes: [(0, 0, 0, 0, 0); 3],
            n_nodes: 0,
            traffic: false,
            role,
            proto: Proto::Tcp,
            dedup,
            source_reported,
            mtls: false,
            outcome: Outcome::Other,
            code: NO_LABEL,
            flags: Lbl::EMPTY.id,
            host: Lbl::EMPTY.id,
            dest_svc: [NO_LABEL; 3],
            principals: [NO_LABEL; 2],
        };
        let l = &s.labels;
        let Some(p) = parse(&mut self.labels, &mut self.diags, s, hs, self.opts) else {
            return plan;
        };
        let mut code: Option<Lbl<'a>> = None;
        let proto = match role {
            Role::Requests
            | Role::Bucket
            | Role::DurationSum
            | Role::DurationCount
            | Role::Bytes => {
                let proto = match l.request_protocol() {
                    Some("http") => Proto::Http,
                    Some("grpc") => Proto::Grpc,
                    other => {
                        self.diags.push("unknown_protocol", || {
                            format!("{} request_protocol {other:?}", s.family)
                        });
                        return plan;
                    }
                };
                if role == Role::Requests {
                    if (proto == Proto::Http && self.opts.rates.http != HttpRate::Requests)
                        || (proto == Proto::Grpc && self.opts.rates.grpc != GrpcRate::Requests)
                    {
                        return plan;
                    }
                    code = match self.code_of(proto, l, hs) {
                        Some(c) => Some(c),
                        None => {
                            self.diags.push("missing_label", || {
                                format!("{} sample without response_code", s.family)
                            });
                            return plan;
                        }
                    };
                }
                proto
            }
            Role::Messages => Proto::Grpc,
            Role::Tcp => Proto::Tcp,
        };
        let flags: Lbl<'a> = match role {
            Role::Requests | Role::Tcp => match l.response_flags() {
                Some(f) => self.labels.lbl_hashed(f, hs[H_FLAGS]),
                None => {
                    self.diags.push("missing_label", || {
                        format!("{} sample without response_flags", s.family)
                    });
                    return plan;
                }
            },
            _ => Lbl::EMPTY,
        };
        let inject = self.inject && p.dst_svc_name.ok() && p.dst_svc_name.s != "PassthroughCluster";
        let mut dst_type = NodeType::Unknown;
        for k in 0..3 {
            if k == 2 && !(inject && dst_type != NodeType::Service) {
                break;
            }
            let Some((key, node_type, _)) = find_node_id(&mut self.diags, self.gt, p.node(k))
            else {
                return plan;
            };
            plan.nodes[k] = key.int_key();
            plan.n_nodes += 1;
            if k == 1 {
                dst_type = node_type;
            }
        }
        plan.traffic = true;
        plan.proto = proto;
        plan.flags = flags.id;
        plan.host = p.dst_svc.id;
        if p.dst_svc_name.ok() {
            plan.dest_svc = [p.dst_cluster.id, p.dst_svc_ns.id, p.dst_svc_name.id];
        }
        // gRPC messages have no response code: Kiali files them under `-` (with their host),
        // neither errors nor missing responses.
        let (code, outcome) = if role == Role::Messages {
            (self.dash.id, Outcome::Other)
        } else {
            outcome(proto, code, self.dash)
        };
        plan.code = code;
        plan.outcome = outcome;
        if self.security && role != Role::Messages {
            for (i, p) in [l.source_principal(), l.destination_principal()]
                .into_iter()
                .enumerate()
            {
                if let Some(p) = p.filter(|p| !p.is_empty() && *p != "unknown") {
                    plan.principals[i] = self.labels.id(p);
                }
            }
            plan.mtls = l.connection_security_policy() == Some("mutual_tls");
        }
        if role == Role::Bucket
            && let Some(le) = l.le()
        {
            plan.le = crate::input::parse_prom_float(le);
        }
        plan
    }

    fn code_of(&mut self, proto: Proto, l: &'a IstioLabels, hs: &[u64; 18]) -> Option<Lbl<'a>> {
        // Kiali's rule decides which label; its hash, taken once per sample, numbers it.
        let (v, i) = match rules::response_code(proto == Proto::Grpc, l)? {
            ResponseCode::NoResponse => return Some(self.dash),
            ResponseCode::Http(code) => (code, H_CODE),
            ResponseCode::Grpc(status) => (status, H_GRPC),
        };
        Some(self.labels.lbl_hashed(v, hs[i]))
    }
}

/// The response key code (planner label id; [`NO_LABEL`]: no response entry) and the outcome
/// of a sample's response `code` (`None`: not a request count).
#[inline]
pub(super) fn outcome(proto: Proto, code: Option<Lbl<'_>>, dash: Lbl<'_>) -> (u32, Outcome) {
    match proto {
        Proto::Grpc => match code {
            Some(Lbl { s: c, id }) => {
                let outcome = if c == "-" {
                    Outcome::NoResponse
                } else if (c.len() == 3 && (c.starts_with('4') || c.starts_with('5')))
                    || (c.len() != 3 && c != "0")
                {
                    Outcome::GrpcErr
                } else {
                    Outcome::Other
                };
                (id, outcome)
            }
            None => (NO_LABEL, Outcome::Other),
        },
        Proto::Http => {
            let Lbl { s: c, id } = code.unwrap_or(dash);
            let outcome = match c.as_bytes().first() {
                Some(b'3') => Outcome::C3xx,
                Some(b'4') => Outcome::C4xx,
                Some(b'5') => Outcome::C5xx,
                Some(b'-') => Outcome::NoResponse,
                _ => Outcome::Other,
            };
            (id, outcome)
        }
        Proto::Tcp => (dash.id, Outcome::Other),
    }
}
