//! `kiali_feature_flags.validations`: the validation settings of the config, typed from the
//! free-form `kiali_feature_flags` the CR and `config.yaml` carry.
//!
//! Kiali's keys: `ignore` (check codes dropped from every validation served; Kiali's default is
//! `["KIA1301"]`) and `skip_wildcard_gateway_hosts` (a `*` host of a Gateway server does not
//! collide with the hosts of other Gateways on the same port, KIA0301; default false). The other
//! feature flags are not read here.

use serde::Deserialize;
use serde_json::Value;

use crate::{Config, Error, Result};

/// Kiali's default `kiali_feature_flags.validations.ignore`.
pub const DEFAULT_IGNORED_CODES: &[&str] = &["KIA1301"];

/// `kiali_feature_flags.validations`.
#[derive(Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct ValidationFlags {
    /// Codes whose checks are never served.
    pub ignore: Vec<String>,
    /// A `*` Gateway host does not count in KIA0301.
    pub skip_wildcard_gateway_hosts: bool,
}

impl Default for ValidationFlags {
    fn default() -> Self {
        ValidationFlags {
            ignore: DEFAULT_IGNORED_CODES
                .iter()
                .map(|c| c.to_string())
                .collect(),
            skip_wildcard_gateway_hosts: false,
        }
    }
}

impl Config {
    /// `kiali_feature_flags.validations`, Kiali's defaults for what is unset; an error naming the
    /// field when a value has the wrong type.
    pub fn validation_flags(&self) -> Result<ValidationFlags> {
        let v = self
            .extra
            .get("kiali_feature_flags")
            .and_then(|f| f.get("validations"))
            .cloned()
            .unwrap_or(Value::Null);
        if v.is_null() {
            return Ok(ValidationFlags::default());
        }
        serde_json::from_value(v).map_err(|e| {
            Error::Config(format!(
                "kiali_feature_flags.validations is not valid ({e}): allowed \
                 {{ignore: [<code>, ...], skip_wildcard_gateway_hosts: true|false}}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(yaml: &str) -> Result<ValidationFlags> {
        Config::from_yaml(yaml)?.validation_flags()
    }

    #[test]
    fn defaults_are_kialis() {
        let f = flags("").unwrap();
        assert_eq!(f.ignore, vec!["KIA1301".to_string()]);
        assert!(!f.skip_wildcard_gateway_hosts);
        // An explicit empty list ignores nothing.
        let f = flags("kiali_feature_flags: {validations: {ignore: []}}").unwrap();
        assert!(f.ignore.is_empty());
    }

    #[test]
    fn reads_both_keys() {
        let f = flags(
            "kiali_feature_flags:\n  validations:\n    ignore: [KIA0301, KIA1106]\n    skip_wildcard_gateway_hosts: true\n",
        )
        .unwrap();
        assert_eq!(f.ignore, vec!["KIA0301".to_string(), "KIA1106".to_string()]);
        assert!(f.skip_wildcard_gateway_hosts);
    }

    #[test]
    fn wrong_type_names_the_field() {
        let e = flags("kiali_feature_flags: {validations: {ignore: KIA0301}}").unwrap_err();
        assert!(
            e.to_string().contains("kiali_feature_flags.validations"),
            "{e}"
        );
    }

    #[test]
    fn from_spec_refuses_a_bad_value() {
        let spec: crate::KialiSpec = serde_json::from_value(serde_json::json!({
            "kiali_feature_flags": {"validations": {"skip_wildcard_gateway_hosts": "yes"}}
        }))
        .unwrap();
        let e = Config::from_spec(&spec, "istio-system").unwrap_err();
        assert!(
            e.to_string().contains("kiali_feature_flags.validations"),
            "{e}"
        );
    }
}
