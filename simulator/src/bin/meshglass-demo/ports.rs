//! The demo's ports: the fixed ones of the example files, or free ones picked at start (`--free-ports`).

use anyhow::bail;
use meshglass_testbed::jaeger::JaegerPorts;

/// Clusters a demo topology has at most (the multi-primary lab's three).
pub const MAX_CLUSTERS: usize = 3;

/// Ports of what the demo runs; the example files use the fixed defaults. The per-cluster ports are
/// indexed as the topology lists its clusters (the primary first).
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub server: u16,
    pub server_metrics: u16,
    /// Each cluster's Prometheus.
    pub prometheus: [u16; MAX_CLUSTERS],
    /// Each cluster's simulated sidecars (`/metrics`).
    pub simulator: [u16; MAX_CLUSTERS],
    /// Each cluster's operator admin endpoint.
    pub operator: [u16; MAX_CLUSTERS],
    /// Jaeger's query API, OTLP receivers and health check.
    pub jaeger: JaegerPorts,
}

impl Ports {
    pub const FIXED: Ports = Ports {
        server: 20001,
        server_metrics: 9090,
        prometheus: [9091, 9092, 9093],
        simulator: [15091, 15092, 15093],
        operator: [18081, 18082, 18083],
        // Jaeger's own defaults.
        jaeger: JaegerPorts {
            query: 16686,
            otlp_http: 4318,
            otlp_grpc: 4317,
            query_grpc: 16685,
            health: 13133,
        },
    };

    pub fn free() -> anyhow::Result<Ports> {
        // Hold every listener until all are picked, so that the ports differ. They are taken
        // below the kernel's ephemeral range: what the demo starts later (the server, a minute
        // on) binds them then, and meanwhile every outgoing connection of the clusters,
        // Prometheus and the operators takes a port of that range.
        let listeners = below_ephemeral(7 + 3 * MAX_CLUSTERS)?;
        let p: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<_, _>>()?;
        let three = |at: usize| [p[at], p[at + 1], p[at + 2]];
        Ok(Ports {
            server: p[0],
            server_metrics: p[1],
            prometheus: three(2),
            simulator: three(5),
            operator: three(8),
            jaeger: JaegerPorts {
                query: p[11],
                otlp_http: p[12],
                otlp_grpc: p[13],
                query_grpc: p[14],
                health: p[15],
            },
        })
    }

    /// Checks the ports of a demo over `clusters` are free.
    pub fn check_free(&self, clusters: &[&str]) -> anyhow::Result<()> {
        let mut wanted = vec![
            (self.server, "the server".to_owned()),
            (self.server_metrics, "the server's metrics".to_owned()),
            (self.jaeger.query, "Jaeger's query API".to_owned()),
            (
                self.jaeger.otlp_http,
                "Jaeger's OTLP/HTTP receiver".to_owned(),
            ),
            (
                self.jaeger.otlp_grpc,
                "Jaeger's OTLP/gRPC receiver".to_owned(),
            ),
            (self.jaeger.query_grpc, "Jaeger's gRPC query API".to_owned()),
            (self.jaeger.health, "Jaeger's health check".to_owned()),
        ];
        for (i, c) in clusters.iter().enumerate() {
            wanted.push((self.prometheus[i], format!("{c}'s Prometheus")));
            wanted.push((self.simulator[i], format!("{c}'s simulated sidecars")));
            wanted.push((self.operator[i], format!("{c}'s operator admin endpoint")));
        }
        for (port, what) in wanted {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                bail!(
                    "port {port} (for {what}) is in use: is a demo already running? `make demo-down` stops it"
                );
            }
        }
        Ok(())
    }

    /// `text` (an example Prometheus configuration) with the fixed per-cluster ports replaced by these.
    pub fn rewrite(&self, text: &str) -> String {
        let fixed = Ports::FIXED;
        let mut pairs: Vec<(u16, u16)> = Vec::new();
        for i in 0..MAX_CLUSTERS {
            pairs.push((fixed.simulator[i], self.simulator[i]));
            pairs.push((fixed.prometheus[i], self.prometheus[i]));
        }
        // Through placeholders, so that a picked port equal to another fixed one is not replaced twice.
        let mut out = text.to_owned();
        for (i, (from, _)) in pairs.iter().enumerate() {
            out = out.replace(
                &format!("127.0.0.1:{from}"),
                &format!("127.0.0.1:\u{0}{i}\u{0}"),
            );
        }
        for (i, (_, to)) in pairs.iter().enumerate() {
            out = out.replace(
                &format!("127.0.0.1:\u{0}{i}\u{0}"),
                &format!("127.0.0.1:{to}"),
            );
        }
        out
    }
}

/// `n` listeners on loopback ports below the ephemeral range (`ip_local_port_range`), from a
/// start that differs between processes; `bind(0)` listeners when none is free there.
fn below_ephemeral(n: usize) -> anyhow::Result<Vec<std::net::TcpListener>> {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (first, last) = (10_000u16, low.saturating_sub(1));
    let mut out = Vec::with_capacity(n);
    if last > first {
        let span = u32::from(last - first);
        let start = (std::process::id().wrapping_mul(2_654_435_761) >> 8) % span;
        for i in 0..span {
            if out.len() == n {
                break;
            }
            let port = first + ((start + i) % span) as u16;
            if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                out.push(l);
            }
        }
    }
    while out.len() < n {
        out.push(std::net::TcpListener::bind("127.0.0.1:0")?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_ports_are_rewritten_once_each() {
        let mut p = Ports::FIXED;
        p.simulator = [9092, 2, 3];
        p.prometheus = [4, 15091, 6];
        let text = "a 127.0.0.1:15091 b 127.0.0.1:9092 c 127.0.0.1:9093 d 127.0.0.1:15093";
        assert_eq!(
            p.rewrite(text),
            "a 127.0.0.1:9092 b 127.0.0.1:15091 c 127.0.0.1:6 d 127.0.0.1:3"
        );
    }
}
