//! The demo's ports: the fixed ones of the example files, or free ones picked at start (`--free-ports`).

use anyhow::bail;
use meshglass_testbed::jaeger::JaegerPorts;

/// Ports of what the demo runs; the example files use the fixed defaults.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub server: u16,
    pub server_metrics: u16,
    pub prometheus_east: u16,
    pub prometheus_west: u16,
    pub simulator_east: u16,
    pub simulator_west: u16,
    pub operator_east: u16,
    pub operator_west: u16,
    /// Jaeger's query API, OTLP receivers and health check.
    pub jaeger: JaegerPorts,
}

impl Ports {
    pub const FIXED: Ports = Ports {
        server: 20001,
        server_metrics: 9090,
        prometheus_east: 9091,
        prometheus_west: 9092,
        simulator_east: 15091,
        simulator_west: 15092,
        operator_east: 18081,
        operator_west: 18082,
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
        // Hold every listener until all are picked, so that the ports differ.
        let listeners: Vec<std::net::TcpListener> = (0..13)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<_, _>>()?;
        let p: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<_, _>>()?;
        Ok(Ports {
            server: p[0],
            server_metrics: p[1],
            prometheus_east: p[2],
            prometheus_west: p[3],
            simulator_east: p[4],
            simulator_west: p[5],
            operator_east: p[6],
            operator_west: p[7],
            jaeger: JaegerPorts {
                query: p[8],
                otlp_http: p[9],
                otlp_grpc: p[10],
                query_grpc: p[11],
                health: p[12],
            },
        })
    }

    pub fn check_free(&self) -> anyhow::Result<()> {
        for (port, what) in [
            (self.server, "the server"),
            (self.server_metrics, "the server's metrics"),
            (self.prometheus_east, "east's Prometheus"),
            (self.prometheus_west, "west's Prometheus"),
            (self.simulator_east, "east's simulated sidecars"),
            (self.simulator_west, "west's simulated sidecars"),
            (self.operator_east, "east's operator admin endpoint"),
            (self.operator_west, "west's operator admin endpoint"),
            (self.jaeger.query, "Jaeger's query API"),
            (self.jaeger.otlp_http, "Jaeger's OTLP/HTTP receiver"),
            (self.jaeger.otlp_grpc, "Jaeger's OTLP/gRPC receiver"),
            (self.jaeger.query_grpc, "Jaeger's gRPC query API"),
            (self.jaeger.health, "Jaeger's health check"),
        ] {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                bail!(
                    "port {port} (for {what}) is in use: is a demo already running? `make demo-down` stops it"
                );
            }
        }
        Ok(())
    }
}
