//! The rate tolerances of `health_config.rate` (Kiali's config format and defaults) and the
//! `health.kiali.io/rate` annotation, compiled once into [`HealthRules`].

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::HealthKind;
use crate::error::Error;

/// Keys of Kiali's config format this version does not read: kept, so that a file round-trips.
pub type Extra = std::collections::BTreeMap<String, serde_json::Value>;

/// One tolerance of `health_config.rate[].tolerance[]` (Kiali's config format).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tolerance {
    /// Response code regex; `X` stands for any digit (`5XX`); `-` = no response.
    #[serde(default)]
    pub code: String,
    /// Error percentage above which the status is Degraded.
    #[serde(default)]
    pub degraded: f64,
    /// Error percentage at or above which the status is Failure.
    #[serde(default)]
    pub failure: f64,
    /// Protocol regex (`http`, `grpc`, `http|grpc`); empty = any.
    #[serde(default)]
    pub protocol: String,
    /// Direction regex (`inbound`, `outbound`); empty = any.
    #[serde(default)]
    pub direction: String,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One rule of `health_config.rate[]`: which objects it applies to and their tolerances.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RateRule {
    /// Namespace regex; empty = any.
    #[serde(default)]
    pub namespace: String,
    /// Kind regex (`app`, `service`, `workload`); empty = any.
    #[serde(default)]
    pub kind: String,
    /// Name regex; empty = any.
    #[serde(default)]
    pub name: String,
    /// Tolerances.
    #[serde(default)]
    pub tolerance: Vec<Tolerance>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `health_config` as in the Kiali CR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HealthConfig {
    /// Rate rules, first match wins; Kiali's defaults always follow as the fallback.
    #[serde(default)]
    pub rate: Vec<RateRule>,
    /// Keys not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl HealthConfig {
    /// Kiali's default tolerances: HTTP 5xx degraded >0% failure ≥10%; 4xx 10/20; gRPC codes
    /// 1–16 0/10; no response 0/10.
    pub fn kiali_default() -> Self {
        let t = |code: &str, degraded: f64, failure: f64, protocol: &str| Tolerance {
            code: code.to_string(),
            degraded,
            failure,
            protocol: protocol.to_string(),
            direction: ".*".to_string(),
            extra: Extra::new(),
        };
        HealthConfig {
            extra: Extra::new(),
            rate: vec![RateRule {
                namespace: ".*".to_string(),
                kind: ".*".to_string(),
                name: ".*".to_string(),
                tolerance: vec![
                    t("5XX", 0.0, 10.0, "http"),
                    t("4XX", 10.0, 20.0, "http"),
                    t("^[1-9]$|^1[0-6]$", 0.0, 10.0, "grpc"),
                    t("-", 0.0, 10.0, "http|grpc"),
                ],
                extra: Extra::new(),
            }],
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct CompiledTolerance {
    pub(super) code: Regex,
    pub(super) degraded: f64,
    pub(super) failure: f64,
    pub(super) protocol: Regex,
    pub(super) direction: Regex,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    namespace: Regex,
    kind: Regex,
    name: Regex,
    tolerance: Vec<CompiledTolerance>,
}

/// Compiled health rules (regexes built once).
#[derive(Debug, Clone)]
pub struct HealthRules {
    rules: Vec<CompiledRule>,
}

impl Default for HealthRules {
    fn default() -> Self {
        // The default configuration is a constant known to compile.
        Self::compile_rules(&HealthConfig::kiali_default().rate)
            .unwrap_or(HealthRules { rules: Vec::new() })
    }
}

fn anchored(pattern: &str, what: &str) -> Result<Regex, Error> {
    let p = if pattern.is_empty() { ".*" } else { pattern };
    Regex::new(&format!("^(?:{p})$"))
        .map_err(|e| Error::HealthConfig(format!("{what} regex [{pattern}]: {e}")))
}

fn code_regex(code: &str) -> Result<Regex, Error> {
    let p = code.replace(['X', 'x'], "\\d");
    anchored(&p, "code")
}

pub(super) fn compile_tolerance(t: &Tolerance) -> Result<CompiledTolerance, Error> {
    Ok(CompiledTolerance {
        code: code_regex(&t.code)?,
        degraded: t.degraded,
        failure: t.failure,
        protocol: anchored(&t.protocol, "protocol")?,
        direction: anchored(&t.direction, "direction")?,
    })
}

impl HealthRules {
    /// Compiles a configuration; Kiali's defaults are appended as the fallback rule unless the
    /// configuration already ends with them (a `config.yaml` written by the operator does).
    pub fn new(config: &HealthConfig) -> Result<Self, Error> {
        let mut rules = config.rate.clone();
        let defaults = HealthConfig::kiali_default().rate;
        if !rules.ends_with(&defaults) {
            rules.extend(defaults);
        }
        Self::compile_rules(&rules)
    }

    fn compile_rules(rules: &[RateRule]) -> Result<Self, Error> {
        let rules = rules
            .iter()
            .map(|r| {
                Ok(CompiledRule {
                    namespace: anchored(&r.namespace, "namespace")?,
                    kind: anchored(&r.kind, "kind")?,
                    name: anchored(&r.name, "name")?,
                    tolerance: r
                        .tolerance
                        .iter()
                        .map(compile_tolerance)
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(HealthRules { rules })
    }

    pub(super) fn tolerances_for(
        &self,
        namespace: &str,
        kind: HealthKind,
        name: &str,
    ) -> &[CompiledTolerance] {
        self.rules
            .iter()
            .find(|r| {
                r.namespace.is_match(namespace)
                    && r.kind.is_match(kind.as_str())
                    && r.name.is_match(name)
            })
            .map_or(&[], |r| r.tolerance.as_slice())
    }
}

/// Parses a `health.kiali.io/rate` annotation: `code,degraded,failure[,protocol[,direction]]`,
/// several separated by `;`.
pub fn parse_rate_annotation(value: &str) -> Result<Vec<Tolerance>, Error> {
    value
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let parts: Vec<&str> = item.split(',').map(str::trim).collect();
            if parts.len() < 3 || parts.len() > 5 {
                return Err(Error::HealthConfig(format!("annotation item [{item}]")));
            }
            let num = |s: &str| {
                s.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| Error::HealthConfig(format!("annotation threshold [{s}]")))
            };
            Ok(Tolerance {
                code: parts[0].to_string(),
                degraded: num(parts[1])?,
                failure: num(parts[2])?,
                protocol: parts.get(3).copied().unwrap_or(".*").to_string(),
                direction: parts.get(4).copied().unwrap_or(".*").to_string(),
                extra: Extra::new(),
            })
        })
        .collect()
}
