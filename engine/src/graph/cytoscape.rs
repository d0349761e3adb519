//! Kiali's Cytoscape JSON model (`graph/config/cytoscape` in Kiali): the field names and the
//! omit-when-empty behaviour of Kiali's Go structs.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};

pub use super::badges::{GwInfo, IstioBadges, SeInfo, VsInfo, WeInfo};
use crate::json_out::needs_escape;

/// A node or edge id: Kiali's lower-case hex SHA-256 (64 ASCII characters), stored inline so a
/// graph of tens of thousands of edges needs no heap string per id, and copying one (an edge's
/// `source` and `target`) is a plain copy. Reads as a `&str` ([`Id::as_str`], `Deref`).
#[derive(Clone, Copy)]
pub struct Id {
    len: u8,
    bytes: [u8; 64],
}

impl Id {
    /// The hex form of a SHA-256 digest.
    pub(crate) fn from_digest(digest: &[u8; 32]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut bytes = [0u8; 64];
        for (i, b) in digest.iter().enumerate() {
            bytes[2 * i] = HEX[(b >> 4) as usize];
            bytes[2 * i + 1] = HEX[(b & 0xf) as usize];
        }
        Id { len: 64, bytes }
    }

    /// An id from a string of at most 64 bytes without quotes, backslashes or control
    /// characters (`None` otherwise), so ids never need escaping in JSON.
    pub fn new(s: &str) -> Option<Self> {
        let len = s.len();
        if len > 64 || s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            return None;
        }
        let mut bytes = [0u8; 64];
        bytes[..len].copy_from_slice(s.as_bytes());
        Some(Id {
            len: len as u8,
            bytes,
        })
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        // Always valid: built from hex digits or from a `&str` (cut at its own end).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Default for Id {
    fn default() -> Self {
        Id {
            len: 0,
            bytes: [0; 64],
        }
    }
}

impl std::ops::Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for Id {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Id {
    fn eq(&self, o: &Id) -> bool {
        self.as_bytes() == o.as_bytes()
    }
}

impl Eq for Id {}

impl PartialOrd for Id {
    fn partial_cmp(&self, o: &Id) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Id {
    fn cmp(&self, o: &Id) -> std::cmp::Ordering {
        self.as_bytes().cmp(o.as_bytes())
    }
}

impl std::hash::Hash for Id {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h);
    }
}

impl PartialEq<str> for Id {
    fn eq(&self, o: &str) -> bool {
        self.as_bytes() == o.as_bytes()
    }
}

impl PartialEq<&str> for Id {
    fn eq(&self, o: &&str) -> bool {
        self.as_bytes() == o.as_bytes()
    }
}

impl PartialEq<String> for Id {
    fn eq(&self, o: &String) -> bool {
        self.as_bytes() == o.as_bytes()
    }
}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A rate's value: a number kept as such and formatted only when written (Kiali's rate strings:
/// `"2.00"`, `"0.040"`, percentages `"40.0"`), or a text given verbatim.
#[derive(Debug, Clone, PartialEq)]
pub enum RateValue {
    /// A rate: at least two decimals, more (up to five) to show one significant digit.
    Rate(f64),
    /// A percentage: one decimal.
    Percent(f64),
    /// A whole number (rounded, no decimals): `"100"`.
    Whole(f64),
    /// A value written as given.
    Text(Box<str>),
}

impl RateValue {
    /// Kiali's number of decimals for a rate: two, or more (up to five) so that a value below 1
    /// shows one significant digit.
    pub(crate) fn rate_precision(v: f64) -> usize {
        let mut needed = 0usize;
        if v > 0.0 {
            let mut x = v;
            while needed < 5 && x < 1.0 {
                x *= 10.0;
                needed += 1;
            }
        }
        needed.max(2)
    }

    /// The number and its decimals, or `None` for a text.
    pub(crate) fn number(&self) -> Option<(f64, usize)> {
        match *self {
            RateValue::Rate(v) => Some((v, Self::rate_precision(v))),
            RateValue::Percent(v) => Some((v, 1)),
            RateValue::Whole(v) => Some((v, 0)),
            RateValue::Text(_) => None,
        }
    }
}

impl RateValue {
    /// Calls `f` with Kiali's text of the value (numbers formatted on the stack).
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match (self, self.number()) {
            (_, Some((v, prec))) => {
                let mut buf = super::num::FixedBuf::new();
                match buf.format(v, prec) {
                    Some(text) => f(text),
                    None => f(&super::num::fixed(v, prec)),
                }
            }
            (RateValue::Text(t), None) => f(t),
            _ => f(""),
        }
    }
}

impl std::fmt::Display for RateValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.with_text(|t| f.write_str(t))
    }
}

impl Serialize for RateValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_text(|t| s.serialize_str(t))
    }
}

/// Rates by name (`httpIn`, `http5xx`, `httpPercentErr`, …), kept in byte order of the names: a
/// small sorted vector (a node or edge has at most a dozen), with the map methods callers use.
/// Values are numbers until written ([`RateValue`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RateMap {
    items: Vec<(&'static str, RateValue)>,
}

impl RateMap {
    /// An empty map with room for `n` rates.
    pub fn with_capacity(n: usize) -> Self {
        RateMap {
            items: Vec::with_capacity(n),
        }
    }

    /// Sets a rate given as text; returns the previous value of that name.
    pub fn insert(&mut self, name: &'static str, value: String) -> Option<RateValue> {
        self.set(name, RateValue::Text(value.into_boxed_str()))
    }

    /// Sets a rate; returns the previous value of that name.
    pub fn set(&mut self, name: &'static str, value: RateValue) -> Option<RateValue> {
        // Rates are mostly set in name order: append without a search.
        if self.items.last().is_none_or(|(k, _)| *k < name) {
            self.items.push((name, value));
            return None;
        }
        match self.items.binary_search_by(|(k, _)| (*k).cmp(name)) {
            Ok(i) => Some(std::mem::replace(&mut self.items[i].1, value)),
            Err(i) => {
                self.items.insert(i, (name, value));
                None
            }
        }
    }

    /// The rate of that name.
    pub fn get(&self, name: &str) -> Option<&RateValue> {
        self.items
            .binary_search_by(|(k, _)| (*k).cmp(name))
            .ok()
            .map(|i| &self.items[i].1)
    }

    /// The rate of that name as Kiali's text (`"2.00"`).
    pub fn get_str(&self, name: &str) -> Option<String> {
        self.get(name).map(ToString::to_string)
    }

    /// Removes a rate; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<RateValue> {
        self.items
            .binary_search_by(|(k, _)| (*k).cmp(name))
            .ok()
            .map(|i| self.items.remove(i).1)
    }

    /// Names and values, in byte order of the names.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &RateValue)> + '_ {
        self.items.iter().map(|(k, v)| (*k, v))
    }

    /// No rates at all.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The number of rates.
    pub fn len(&self) -> usize {
        self.items.len()
    }
}

impl Serialize for RateMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.items.len()))?;
        for (k, v) in &self.items {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// The graph response: `{timestamp, duration, graphType, elements: {nodes, edges}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CytoscapeGraph {
    /// The query time (Unix seconds).
    pub timestamp: i64,
    /// The window length in seconds.
    pub duration: i64,
    /// `app`, `versionedApp`, `workload` or `service`.
    #[serde(rename = "graphType")]
    pub graph_type: &'static str,
    /// Nodes and edges.
    pub elements: Elements,
}

/// `elements`: nodes (compound parents first) and edges, in Kiali's sort order.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Elements {
    /// Nodes.
    pub nodes: Vec<NodeWrapper>,
    /// Edges.
    pub edges: Vec<EdgeWrapper>,
}

/// `{data: NodeData}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeWrapper {
    /// The node.
    pub data: NodeData,
}

/// `{data: EdgeData}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeWrapper {
    /// The edge.
    pub data: EdgeData,
}

/// A service a node was requested as (`destServices[]`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ServiceName {
    /// Cluster of the service.
    pub cluster: String,
    /// Namespace of the service.
    pub namespace: String,
    /// Service name.
    pub name: String,
}

/// Traffic of one protocol: `{protocol, rates, responses}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ProtocolTraffic {
    /// `http`, `grpc` or `tcp`.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub protocol: &'static str,
    /// Rates by name (`httpIn`, `http5xx`, `httpPercentErr`, …), formatted as Kiali does.
    #[serde(skip_serializing_if = "RateMap::is_empty")]
    pub rates: RateMap,
    /// Edge responses by code (`-` = no response).
    #[serde(skip_serializing_if = "Responses::is_empty")]
    pub responses: Responses,
}

/// The response labels (codes, flags, hosts) of one graph, stored once and shared by every
/// edge's [`Responses`].
#[derive(Debug, Default, PartialEq)]
pub(crate) struct LabelTable {
    text: String,
    /// `text[spans[i].0..spans[i].1]` is label `i`.
    spans: Vec<(u32, u32)>,
    /// Whether label `i` can be written to JSON without escaping (checked once, not per use).
    plain: Vec<bool>,
}

impl LabelTable {
    pub(crate) fn new<'s>(labels: impl IntoIterator<Item = &'s str>) -> Self {
        let mut t = LabelTable::default();
        for l in labels {
            let start = t.text.len() as u32;
            t.text.push_str(l);
            t.spans.push((start, t.text.len() as u32));
            t.plain.push(!needs_escape(l.as_bytes()));
        }
        t
    }

    fn get(&self, i: u32) -> &str {
        self.spans
            .get(i as usize)
            .and_then(|&(a, b)| self.text.get(a as usize..b as usize))
            .unwrap_or_default()
    }
}

/// An edge's responses: for each code (`-` = no response), the percentage of the edge's traffic
/// by response flags and by destination host. Serialises as Kiali's
/// `{code: {flags: {flag: "pct"}, hosts: {host: "pct"}}}`, codes and keys in byte order.
///
/// Stored flat (two vectors per edge, label strings as indices into one table shared by the
/// whole graph) because a graph has tens of thousands of these; [`Responses::get`] and
/// [`Responses::iter`] give the [`ResponseDetail`] view.
#[derive(Debug, Clone, Default)]
pub struct Responses {
    labels: Option<Arc<LabelTable>>,
    codes: Vec<CodeEntry>,
    items: Vec<(u32, Percent)>,
}

impl PartialEq for Responses {
    fn eq(&self, o: &Responses) -> bool {
        self.codes.len() == o.codes.len()
            && self
                .raw()
                .zip(o.raw())
                .all(|((c1, f1, h1), (c2, f2, h2))| c1 == c2 && f1.eq(f2) && h1.eq(h2))
    }
}

#[derive(Debug, Clone, PartialEq)]
struct CodeEntry {
    code: u32,
    /// `items[flags_start..hosts_start]` are the flags, `items[hosts_start..end]` the hosts.
    flags_start: u32,
    hosts_start: u32,
    end: u32,
}

/// The flags or hosts of one code: label and percentage pairs in byte order of the labels.
#[derive(Clone)]
pub(crate) struct PctItems<'r> {
    labels: &'r LabelTable,
    items: &'r [(u32, Percent)],
}

impl<'r> PctItems<'r> {
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'r str, Percent)> + 'r {
        let labels = self.labels;
        self.items.iter().map(move |&(k, p)| (labels.get(k), p))
    }

    /// Like `iter`, with whether each label can be written without escaping.
    pub(crate) fn iter_plain(&self) -> impl Iterator<Item = (&'r str, bool, Percent)> + 'r {
        let labels = self.labels;
        self.items.iter().map(move |&(k, p)| {
            (
                labels.get(k),
                labels.plain.get(k as usize).copied().unwrap_or(false),
                p,
            )
        })
    }

    fn eq(&self, o: PctItems<'_>) -> bool {
        self.items.len() == o.items.len() && self.iter().zip(o.iter()).all(|(a, b)| a == b)
    }
}

static EMPTY_LABELS: LabelTable = LabelTable {
    text: String::new(),
    spans: Vec::new(),
    plain: Vec::new(),
};

impl Responses {
    /// Responses whose labels are indices into `labels`.
    pub(crate) fn with_labels(labels: &Arc<LabelTable>) -> Self {
        Responses {
            labels: Some(labels.clone()),
            codes: Vec::new(),
            items: Vec::new(),
        }
    }

    /// No response codes at all.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The number of response codes.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Starts the next code; codes must be pushed in increasing byte order, each followed by its
    /// flags then its hosts, each in increasing byte order.
    pub(crate) fn push_code(&mut self, code: u32) {
        let at = self.items.len() as u32;
        self.codes.push(CodeEntry {
            code,
            flags_start: at,
            hosts_start: at,
            end: at,
        });
    }

    /// Adds a flags entry to the last code (before any host).
    pub(crate) fn push_flag(&mut self, flag: u32, pct: f64) {
        self.items.push((flag, Percent(pct)));
        if let Some(c) = self.codes.last_mut() {
            c.hosts_start += 1;
            c.end += 1;
        }
    }

    /// Adds a hosts entry to the last code.
    pub(crate) fn push_host(&mut self, host: u32, pct: f64) {
        self.items.push((host, Percent(pct)));
        if let Some(c) = self.codes.last_mut() {
            c.end += 1;
        }
    }

    pub(crate) fn reserve(&mut self, codes: usize, items: usize) {
        self.codes.reserve_exact(codes);
        self.items.reserve_exact(items);
    }

    fn table(&self) -> &LabelTable {
        self.labels.as_deref().unwrap_or(&EMPTY_LABELS)
    }

    fn view(&self, c: &CodeEntry) -> ResponseDetailRef<'_> {
        let (f, h, e) = (
            c.flags_start as usize,
            c.hosts_start as usize,
            c.end as usize,
        );
        let labels = self.table();
        ResponseDetailRef {
            flags: PctItems {
                labels,
                items: self.items.get(f..h).unwrap_or_default(),
            },
            hosts: PctItems {
                labels,
                items: self.items.get(h..e).unwrap_or_default(),
            },
        }
    }

    /// Each code with its flags and hosts entries, for the JSON writer.
    pub(crate) fn raw(&self) -> impl Iterator<Item = (&str, PctItems<'_>, PctItems<'_>)> + '_ {
        let labels = self.table();
        self.codes.iter().map(move |c| {
            let v = self.view(c);
            (labels.get(c.code), v.flags, v.hosts)
        })
    }

    /// The detail of one response code.
    pub fn get(&self, code: &str) -> Option<ResponseDetail> {
        let labels = self.table();
        self.codes
            .iter()
            .find(|c| labels.get(c.code) == code)
            .map(|c| self.view(c).to_owned())
    }

    /// Every code with its detail, in byte order of the codes.
    pub fn iter(&self) -> impl Iterator<Item = (&str, ResponseDetail)> + '_ {
        let labels = self.table();
        self.codes
            .iter()
            .map(move |c| (labels.get(c.code), self.view(c).to_owned()))
    }
}

impl Serialize for Responses {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let labels = self.table();
        let mut m = s.serialize_map(Some(self.codes.len()))?;
        for c in &self.codes {
            m.serialize_entry(labels.get(c.code), &self.view(c))?;
        }
        m.end()
    }
}

/// A borrowed [`ResponseDetail`], serialised identically.
struct ResponseDetailRef<'r> {
    flags: PctItems<'r>,
    hosts: PctItems<'r>,
}

impl ResponseDetailRef<'_> {
    fn to_owned(&self) -> ResponseDetail {
        let own = |v: &PctItems<'_>| {
            v.iter()
                .map(|(k, p)| (k.to_string(), p.to_string()))
                .collect()
        };
        ResponseDetail {
            flags: own(&self.flags),
            hosts: own(&self.hosts),
        }
    }
}

/// Serialises sorted pairs as a JSON object.
struct PairMap<'r>(&'r PctItems<'r>);

impl Serialize for PairMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.items.len()))?;
        for (k, v) in self.0.iter() {
            m.serialize_entry(k, &v)?;
        }
        m.end()
    }
}

impl Serialize for ResponseDetailRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = usize::from(!self.flags.is_empty()) + usize::from(!self.hosts.is_empty());
        let mut st = s.serialize_struct("ResponseDetail", n)?;
        if !self.flags.is_empty() {
            st.serialize_field("flags", &PairMap(&self.flags))?;
        }
        if !self.hosts.is_empty() {
            st.serialize_field("hosts", &PairMap(&self.hosts))?;
        }
        st.end()
    }
}

/// A percentage, serialised as a string with one decimal (`"40.0"`) as Kiali does.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Percent(pub f64);

impl std::fmt::Display for Percent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = String::with_capacity(8);
        super::num::push_fixed(&mut buf, self.0, 1);
        f.write_str(&buf)
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = super::num::FixedBuf::new();
        match buf.format(self.0, 1) {
            Some(text) => s.serialize_str(text),
            None => s.collect_str(self),
        }
    }
}

/// Percentages of an edge's traffic for one response code, by flags and by host.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ResponseDetail {
    /// Response flags (`-` = none) to percentage of the edge traffic.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub flags: BTreeMap<String, String>,
    /// Destination host to percentage of the edge traffic.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A node's `healthData`: the entry of its object, written once as JSON
/// ([`crate::EntityHealth::write_kiali_json`]) and copied into the graph's body as it is, with
/// no `Value` tree per node. Serialising it through serde (the derived path, not the graph's
/// writer) reads the JSON back first.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthJson(Box<[u8]>);

impl HealthJson {
    /// The JSON of `e`'s health.
    pub fn of(e: &crate::EntityHealth) -> HealthJson {
        HealthJson(e.kiali_json_bytes().into_boxed_slice())
    }

    /// The JSON's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The JSON as a value tree.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0).unwrap_or_default()
    }
}

impl Serialize for HealthJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

/// A node's `data`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct NodeData {
    /// Stable id: SHA-256 (hex) of the node's identifying fields, as Kiali computes it.
    pub id: Id,
    /// Compound parent id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// `app`, `box`, `service`, `unknown` or `workload`.
    #[serde(rename = "nodeType")]
    pub node_type: &'static str,
    /// Cluster (`unknown` for the unknown source).
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Workload name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub workload: String,
    /// App (canonical service).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub app: String,
    /// Version (canonical revision).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Service name (service nodes).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// `<aggregate>=<value>` on aggregate nodes (aggregateNode appender), as Kiali writes it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub aggregate: String,
    /// Services this node was requested as.
    #[serde(rename = "destServices", skip_serializing_if = "Vec::is_empty")]
    pub dest_services: Vec<ServiceName>,
    /// Per-protocol node rates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<ProtocolTraffic>,
    /// Health data (null unless the health appender ran and the node has health).
    #[serde(rename = "healthData")]
    pub health_data: Option<HealthJson>,
    /// Health annotation override (`health.kiali.io/*`) of the backing object.
    #[serde(rename = "hasHealthConfig", skip_serializing_if = "Option::is_none")]
    pub has_health_config: Option<BTreeMap<String, String>>,
    /// The istio appender's badges (`hasCB`, `hasVS`, …).
    #[serde(flatten)]
    pub istio: IstioBadges,
    /// The WorkloadEntries the node stands for (workloadEntry appender).
    #[serde(rename = "hasWorkloadEntry", skip_serializing_if = "Vec::is_empty")]
    pub has_workload_entry: Vec<WeInfo>,
    /// `cluster`, `namespace` or `app` on compound box nodes.
    #[serde(rename = "isBox", skip_serializing_if = "str::is_empty")]
    pub is_box: &'static str,
    /// The workload exists but has no pods, and the node has no traffic.
    #[serde(rename = "isDead", skip_serializing_if = "is_false")]
    pub is_dead: bool,
    /// An Istio ingress or egress gateway (istio appender).
    #[serde(rename = "isGateway", skip_serializing_if = "Option::is_none")]
    pub is_gateway: Option<GwInfo>,
    /// Present in the inventory (or on an idle edge) but without traffic.
    #[serde(rename = "isIdle", skip_serializing_if = "is_false")]
    pub is_idle: bool,
    /// Not to be opened: the unknown source, `unknown` and egress-cluster service nodes, or a
    /// node in a namespace the caller may not see.
    #[serde(rename = "isInaccessible", skip_serializing_if = "is_false")]
    pub is_inaccessible: bool,
    /// A service node injected between a source and its destination workload
    /// (`injectServiceNodes`).
    #[serde(rename = "isInjected", skip_serializing_if = "is_false")]
    pub is_injected: bool,
    /// A workload without an Istio sidecar.
    #[serde(rename = "isOutOfMesh", skip_serializing_if = "is_false")]
    pub is_out_of_mesh: bool,
    /// In a namespace that was not asked for.
    #[serde(rename = "isOutside", skip_serializing_if = "is_false")]
    pub is_outside: bool,
    /// A traffic generator: outgoing edges, no incoming ones.
    #[serde(rename = "isRoot", skip_serializing_if = "is_false")]
    pub is_root: bool,
    /// ServiceEntry details.
    #[serde(rename = "isServiceEntry", skip_serializing_if = "Option::is_none")]
    pub is_service_entry: Option<SeInfo>,
}

/// An edge's `data`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct EdgeData {
    /// Stable id: SHA-256 of `source.target.protocol`.
    pub id: Id,
    /// Source node id.
    pub source: Id,
    /// Target node id.
    pub target: Id,
    /// Destination principal, when the edge has exactly one.
    #[serde(rename = "destPrincipal", skip_serializing_if = "String::is_empty")]
    pub dest_principal: String,
    /// Percentage of traffic using mutual TLS, rounded (`"100"`).
    #[serde(rename = "isMTLS", skip_serializing_if = "Option::is_none")]
    pub is_mtls: Option<RateValue>,
    /// Response time in milliseconds, rounded.
    #[serde(rename = "responseTime", skip_serializing_if = "Option::is_none")]
    pub response_time: Option<RateValue>,
    /// Source principal, when the edge has exactly one.
    #[serde(rename = "sourcePrincipal", skip_serializing_if = "String::is_empty")]
    pub source_principal: String,
    /// Throughput in bytes per second, rounded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput: Option<RateValue>,
    /// The edge's traffic (one protocol).
    pub traffic: ProtocolTraffic,
}
