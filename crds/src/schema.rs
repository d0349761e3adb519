//! Schema helpers that keep the generated CRD structural while accepting every Kiali field.
//!
//! Kubernetes prunes fields a structural schema does not declare. Kiali CRs written for other Kiali
//! versions carry keys we do not model, and the contract is to accept them and report them, so every
//! modelled object keeps unknown keys (`x-kubernetes-preserve-unknown-fields`) and embedded blobs are
//! free-form objects or lists.

use schemars::{Schema, SchemaGenerator, json_schema};

/// Transform for a modelled struct that also captures unknown keys through a flattened map:
/// drops the `additionalProperties` the map produced (not allowed next to `properties` in a structural
/// schema) and keeps unknown fields instead.
pub fn preserve_unknown(schema: &mut Schema) {
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("additionalProperties");
        obj.insert("x-kubernetes-preserve-unknown-fields".into(), true.into());
        // Optional enums get `null` among their values; absence already covers it, and the API
        // server would list "null" among the supported values in its error messages.
        if let Some(props) = obj.get_mut("properties").and_then(|p| p.as_object_mut()) {
            for prop in props.values_mut() {
                if let Some(values) = prop.get_mut("enum").and_then(|e| e.as_array_mut()) {
                    values.retain(|v| !v.is_null());
                }
            }
        }
    }
}

/// A free-form object (embedded Kubernetes blobs such as `resources` or `affinity`, and Kiali
/// sections we pass through without acting on them).
pub fn free_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// A list of free-form objects (`tolerations`, `custom_dashboards`, ...).
pub fn free_object_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
    })
}

/// Any JSON value (Kiali fields whose type varies between versions).
pub fn free_value(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}
