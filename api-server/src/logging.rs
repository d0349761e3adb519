//! The server's log output from `deployment.logger`: `log_level` (Kiali's trace | debug | info |
//! warn | error | fatal) and `log_format` (`text`, or `json`: one JSON object per line, as Kiali).
//! `main` installs it once; [`subscriber`] takes any writer so tests read what would be printed.

use meshglass_crds::config::LoggerConfig;
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Crates whose events follow `log_level` exactly; libraries below them stay at `info` or
/// quieter, so `debug` shows the server's own detail rather than every HTTP frame.
const OWN_CRATES: &[&str] = &["meshglass_server", "meshglass_engine", "meshglass_crds"];

/// Kiali's level name as a tracing level (`fatal` is `error`; an unknown name is `info`).
pub fn level(name: &str) -> &'static str {
    match name.trim().to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "warn" | "warning" => "warn",
        "error" | "fatal" => "error",
        _ => "info",
    }
}

/// The filter for `logger`: the server's crates at `log_level`, everything else at `info` or at
/// `log_level` when that is quieter.
pub fn filter(logger: &LoggerConfig) -> EnvFilter {
    let own = level(&logger.log_level);
    let others = if matches!(own, "warn" | "error") {
        own
    } else {
        "info"
    };
    let mut directives = vec![others.to_string()];
    directives.extend(OWN_CRATES.iter().map(|c| format!("{c}={own}")));
    EnvFilter::new(directives.join(","))
}

/// Whether `logger` asks for JSON lines.
pub fn is_json(logger: &LoggerConfig) -> bool {
    logger.log_format.trim().eq_ignore_ascii_case("json")
}

/// The subscriber `logger` describes, writing to `writer`.
pub fn subscriber<W>(logger: &LoggerConfig, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    with_filter(logger, filter(logger), writer)
}

fn with_filter<W>(
    logger: &LoggerConfig,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if is_json(logger) {
        Box::new(builder.json().finish())
    } else {
        Box::new(builder.with_ansi(false).finish())
    }
}

/// Installs the subscriber for the process, writing to stdout (as Kiali logs), once.
/// `RUST_LOG`, when set, replaces the level filter (a developer's switch).
pub fn init(logger: &LoggerConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| filter(logger));
    let _ = tracing::subscriber::set_global_default(with_filter(logger, filter, std::io::stdout));
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn printed(level: &str, format: &str) -> String {
        let buf = Buf::default();
        let out = buf.clone();
        let logger = LoggerConfig {
            log_level: level.into(),
            log_format: format.into(),
            ..LoggerConfig::default()
        };
        let sub = subscriber(&logger, move || buf.clone());
        tracing::subscriber::with_default(sub, || {
            tracing::debug!(cluster = "east", "debug detail");
            tracing::info!(cluster = "east", "listening");
            tracing::error!("broken");
        });
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn level_and_format_shape_the_output() {
        let info = printed("info", "text");
        assert!(
            info.contains("listening") && !info.contains("debug detail"),
            "{info}"
        );
        let debug = printed("debug", "text");
        assert!(debug.contains("debug detail"), "{debug}");
        let error = printed("fatal", "text");
        assert!(
            error.contains("broken") && !error.contains("listening"),
            "{error}"
        );
        let json = printed("info", "json");
        let lines: Vec<serde_json::Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 2, "{json}");
        assert_eq!(lines[0]["fields"]["message"], "listening");
        assert_eq!(lines[0]["fields"]["cluster"], "east");
        assert!(serde_json::from_str::<serde_json::Value>(info.lines().next().unwrap()).is_err());
    }
}
