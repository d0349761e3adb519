//! The range queries of a metrics request: Kiali's selectors (`business/metrics_labels.go`,
//! `MetricsLabelsBuilder`) and statistics (`prometheus/metrics.go`), several metrics per query.

use serde::Serialize;

use super::{Direction, ISTIO_METRICS, METRIC_LABEL, MetricDef, MetricsQuery, MetricsTarget};
use super::{RateFunc, Reporter, STAT_LABEL};
use crate::scope::promql_escape;

/// Kiali's error matchers: no response (`0`) or an HTTP 4xx/5xx; a gRPC error with a good HTTP
/// status.
const HTTP_ERRORS: &str = "^0$|^[4-5]\\\\d\\\\d$";
const GRPC_ERRORS: &str = "^[1-9]$|^1[0-6]$";

/// One range query to run against Prometheus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricsRangeQuery {
    /// The PromQL expression.
    pub promql: String,
    /// First point, Unix seconds.
    pub start: i64,
    /// Last point, Unix seconds.
    pub end: i64,
    /// Seconds between points.
    pub step: u64,
}

impl MetricsQuery {
    /// The range queries of the request: one for every rate asked for, one per histogram
    /// (average and quantiles together). None when no cluster may be read.
    pub fn range_queries(&self) -> Vec<MetricsRangeQuery> {
        if self.clusters.as_ref().is_some_and(Vec::is_empty) {
            return Vec::new();
        }
        let labels = self.labels();
        let sel = self.selector(&labels, None);
        let mut out = Vec::new();
        let rates: Vec<String> = ISTIO_METRICS
            .iter()
            .filter(|m| !m.histogram && self.wants(m.name))
            .map(|m| tag(&self.rate_expr(m, &labels, &sel), m.name, None))
            .collect();
        if !rates.is_empty() {
            out.push(self.range(rates.join(" or ")));
        }
        for m in ISTIO_METRICS
            .iter()
            .filter(|m| m.histogram && self.wants(m.name))
        {
            let mut stats = Vec::new();
            if self.avg {
                stats.push(tag(&self.avg_expr(m, &sel), m.name, Some("avg")));
            }
            for q in &self.quantiles {
                stats.push(tag(&self.quantile_expr(m, &sel, q), m.name, Some(q)));
            }
            if !stats.is_empty() {
                out.push(self.range(stats.join(" or ")));
            }
        }
        out
    }

    fn range(&self, promql: String) -> MetricsRangeQuery {
        MetricsRangeQuery {
            promql,
            start: self.start,
            end: self.end,
            step: self.step,
        }
    }

    /// Kiali's matchers: reporter, the target on its side, protocol, cluster.
    fn labels(&self) -> Vec<String> {
        let side = self.direction.side();
        let mut l = Vec::new();
        let mut add = |k: String, v: &str| l.push(format!("{k}=\"{}\"", promql_escape(v)));
        match self.reporter {
            Reporter::Source => add("reporter".into(), "source"),
            Reporter::Destination => add("reporter".into(), "destination"),
            Reporter::Both => {}
        }
        let ns = self.namespace.as_str();
        match &self.target {
            MetricsTarget::Service(name) => {
                // As in Kiali, a service is only a destination.
                if self.direction == Direction::Inbound {
                    add("destination_service_name".into(), name);
                    add("destination_service_namespace".into(), ns);
                }
            }
            MetricsTarget::Workload(name) => {
                add(format!("{side}_workload_namespace"), ns);
                add(format!("{side}_workload"), name);
            }
            MetricsTarget::App(name) => {
                add(format!("{side}_workload_namespace"), ns);
                add(format!("{side}_canonical_service"), name);
            }
            MetricsTarget::Namespace => add(format!("{side}_workload_namespace"), ns),
        }
        if let Some(p) = &self.request_protocol {
            add("request_protocol".into(), p);
        }
        if let Some(clusters) = &self.clusters {
            if let [one] = clusters.as_slice() {
                add(format!("{side}_cluster"), one);
            } else {
                let alternation = clusters
                    .iter()
                    .map(|c| regex::escape(c))
                    .collect::<Vec<_>>()
                    .join("|");
                l.push(format!(
                    "{side}_cluster=~\"{}\"",
                    promql_escape(&alternation)
                ));
            }
        }
        l
    }

    fn selector(&self, labels: &[String], extra: Option<&str>) -> String {
        let mut all = labels.join(",");
        if let Some(e) = extra {
            if !all.is_empty() {
                all.push(',');
            }
            all.push_str(e);
        }
        format!("{{{}{all}}}", self.scope.prefix())
    }

    /// The grouping labels, and (when they hold a cluster label) the same without it: the total
    /// over the clusters.
    fn groupings(&self) -> Vec<Vec<&str>> {
        let all: Vec<&str> = self.by_labels.iter().map(String::as_str).collect();
        let total: Vec<&str> = all
            .iter()
            .copied()
            .filter(|l| *l != "source_cluster" && *l != "destination_cluster")
            .collect();
        if total.len() == all.len() {
            vec![all]
        } else {
            vec![all, total]
        }
    }

    /// `e` for each grouping, joined with `or` (series without the cluster label never collide
    /// with those that have it).
    fn per_grouping(&self, e: impl Fn(&[&str]) -> String) -> String {
        let parts: Vec<String> = self.groupings().iter().map(|g| e(g)).collect();
        if parts.len() == 1 {
            parts.into_iter().next().unwrap_or_default()
        } else {
            format!("({})", parts.join(" or "))
        }
    }

    fn rate_expr(&self, m: &MetricDef, labels: &[String], sel: &str) -> String {
        let f = match self.rate_func {
            RateFunc::Rate => "rate",
            RateFunc::Irate => "irate",
        };
        let ri = self.rate_interval;
        let selectors: Vec<String> = if m.errors {
            let mut v =
                vec![self.selector(labels, Some(&format!("response_code=~\"{HTTP_ERRORS}\"")))];
            if self.request_protocol.as_deref() != Some("http") {
                v.push(self.selector(
                    labels,
                    Some(&format!(
                        "grpc_response_status=~\"{GRPC_ERRORS}\",response_code!~\"{HTTP_ERRORS}\""
                    )),
                ));
            }
            v
        } else {
            vec![sel.to_string()]
        };
        self.per_grouping(|g| {
            let parts: Vec<String> = selectors
                .iter()
                .map(|s| sum(g, &format!("{f}({}{s}[{ri}s])", m.istio)))
                .collect();
            if parts.len() == 1 {
                parts.into_iter().next().unwrap_or_default()
            } else {
                format!("({})", parts.join(" or "))
            }
        })
    }

    fn avg_expr(&self, m: &MetricDef, sel: &str) -> String {
        let ri = self.rate_interval;
        let i = m.istio;
        self.per_grouping(|g| {
            format!(
                "({} / {})",
                sum(g, &format!("rate({i}_sum{sel}[{ri}s])")),
                sum(g, &format!("rate({i}_count{sel}[{ri}s])"))
            )
        })
    }

    fn quantile_expr(&self, m: &MetricDef, sel: &str, q: &str) -> String {
        let ri = self.rate_interval;
        let i = m.istio;
        let buckets = self.per_grouping(|g| {
            let mut with_le = vec!["le"];
            with_le.extend_from_slice(g);
            sum(&with_le, &format!("rate({i}_bucket{sel}[{ri}s])"))
        });
        format!("histogram_quantile({q}, {buckets})")
    }
}

fn sum(g: &[&str], inner: &str) -> String {
    if g.is_empty() {
        format!("sum({inner})")
    } else {
        format!("sum by ({}) ({inner})", g.join(","))
    }
}

/// Marks the series of `e` as metric `name` (and statistic `stat`).
fn tag(e: &str, name: &str, stat: Option<&str>) -> String {
    let tagged = format!("label_replace({e}, \"{METRIC_LABEL}\", \"{name}\", \"\", \"\")");
    match stat {
        Some(s) => format!(
            "label_replace({tagged}, \"{STAT_LABEL}\", \"{}\", \"\", \"\")",
            promql_escape(s)
        ),
        None => tagged,
    }
}
