//! Kiali's JSON of health — an entity's `AppHealth` / `WorkloadHealth` / `ServiceHealth` with
//! its computed `status`, and the `/api/clusters/health` body — written straight into bytes.
//! The bytes are those `serde_json` writes for the same answer built as a `Value` tree (object
//! keys sorted, non-finite numbers as `null`), without building the tree: a graph of a big mesh
//! writes one entry per node, and the trees were a tenth of its CPU. `tests/health_json.rs`
//! compares both on varied reports.

use std::collections::BTreeMap;

use super::{EntityHealth, HealthKind, HealthReport, RequestHealth, WorkloadStatus};
use crate::json_out::{delegate, key, string};

impl EntityHealth {
    /// Appends Kiali's JSON of this entity (`AppHealth`, `WorkloadHealth` or `ServiceHealth`,
    /// plus the computed `status`) to `out`.
    pub fn write_kiali_json(&self, out: &mut Vec<u8>) {
        // Keys in sorted order: requests < status < workloadStatus(es).
        out.extend_from_slice(b"{\"requests\":");
        requests(out, &self.requests);
        out.extend_from_slice(b",\"status\":{\"errorRatio\":");
        delegate(out, &self.error_ratio);
        key(out, "status");
        string(out, self.status.as_str());
        out.push(b'}');
        match self.kind {
            HealthKind::App => {
                key(out, "workloadStatuses");
                out.push(b'[');
                for (i, w) in self.workload_statuses.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    workload_status(out, w);
                }
                out.push(b']');
            }
            HealthKind::Workload => {
                key(out, "workloadStatus");
                match self.workload_statuses.first() {
                    Some(w) => workload_status(out, w),
                    None => out.extend_from_slice(b"null"),
                }
            }
            HealthKind::Service => {}
        }
        out.push(b'}');
    }

    /// [`EntityHealth::write_kiali_json`] into a buffer of its own.
    pub fn kiali_json_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.write_kiali_json(&mut out);
        out
    }
}

impl HealthReport {
    /// Kiali's `/api/clusters/health` body for one kind, as [`HealthReport::to_kiali_json`]
    /// answers it, written straight into bytes.
    pub fn write_kiali_json(&self, kind: HealthKind, cluster: Option<&str>) -> Vec<u8> {
        let merged = self.merged(kind, cluster);
        let key = match kind {
            HealthKind::App => "namespaceAppHealth",
            HealthKind::Service => "namespaceServiceHealth",
            HealthKind::Workload => "namespaceWorkloadHealth",
        };
        let entries: usize = merged.values().map(BTreeMap::len).sum();
        let mut out = Vec::with_capacity(64 + entries * 320);
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":{");
        for (i, (ns, items)) in merged.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(&mut out, ns);
            out.extend_from_slice(b":{");
            for (j, (name, e)) in items.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                string(&mut out, name);
                out.push(b':');
                e.write_kiali_json(&mut out);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"}}");
        out
    }
}

/// `RequestHealth` with its keys sorted: healthAnnotations < inbound < outbound.
fn requests(out: &mut Vec<u8>, r: &RequestHealth) {
    out.extend_from_slice(b"{\"healthAnnotations\":");
    delegate(out, &r.health_annotations);
    key(out, "inbound");
    delegate(out, &r.inbound);
    key(out, "outbound");
    delegate(out, &r.outbound);
    out.push(b'}');
}

/// `WorkloadStatus` with its keys sorted.
fn workload_status(out: &mut Vec<u8>, w: &WorkloadStatus) {
    out.extend_from_slice(b"{\"availableReplicas\":");
    delegate(out, &w.available_replicas);
    key(out, "currentReplicas");
    delegate(out, &w.current_replicas);
    key(out, "desiredReplicas");
    delegate(out, &w.desired_replicas);
    key(out, "name");
    string(out, &w.name);
    key(out, "syncedProxies");
    delegate(out, &w.synced_proxies);
    out.push(b'}');
}
