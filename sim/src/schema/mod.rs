//! Custom resources against their CRD's `openAPIV3Schema`, as kube-apiserver treats them on
//! every create, update and patch: the decoder drops unknown fields (`prune`, reported per
//! `fieldValidation`) and `null`s the schema does not allow, applies the schema's defaults
//! (`defaults`), and the strategy validates the result (`validate`, worded as in `messages`).
//! `published` gives the schema to the OpenAPI v3 documents, which `kubectl explain` reads.

pub mod defaults;
pub mod formats;
pub mod messages;
pub mod prune;
pub mod published;
pub mod validate;

use serde_json::{Map, Value};

use crate::api::admit::Write;
use crate::catalogue::ResourceInfo;
use crate::status::ApiError;
use crate::store::{ObjectKey, Store};

/// Whether `schema[key]` is `true`.
pub(crate) fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

/// A schema's declared properties.
pub(crate) fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

/// The stored CRD that serves `info`, if it is a custom resource.
pub fn definition(store: &Store, info: &ResourceInfo) -> Option<std::sync::Arc<Value>> {
    if info.builtin {
        return None;
    }
    store.get(&ObjectKey::new(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        "",
        &format!("{}.{}", info.resource, info.group),
    ))
}

/// The `openAPIV3Schema` of the CRD's version `version`.
pub fn version_schema<'a>(crd: &'a Value, version: &str) -> Option<&'a Value> {
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))?
        .pointer("/schema/openAPIV3Schema")
        .filter(|schema| schema.is_object())
}

/// The fields of `metadata` that ObjectMeta does not have (`metadata.bogus`), removed as kube's
/// decoder removes them. Metadata that does not decode is left to the other checks.
fn prune_metadata(object: &mut Value) -> Vec<String> {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return Vec::new();
    };
    let Ok(typed) = serde_json::from_value::<ObjectMeta>(Value::Object(metadata.clone())) else {
        return Vec::new();
    };
    let Ok(Value::Object(known)) = serde_json::to_value(typed) else {
        return Vec::new();
    };
    let unknown: Vec<String> = metadata
        .iter()
        .filter(|(key, value)| !value.is_null() && !known.contains_key(*key))
        .map(|(key, _)| key.clone())
        .collect();
    for key in &unknown {
        metadata.remove(key);
    }
    unknown
        .iter()
        .map(|key| format!("metadata.{key}"))
        .collect()
}

/// What kube's decoder does to a custom resource on every write, before the server fills in
/// anything: pruning (unknown fields refused under `fieldValidation=Strict`, warned about under
/// `Warn`, the default), dropping disallowed `null`s, and defaulting.
pub fn decode_custom_resource(
    store: &Store,
    info: &ResourceInfo,
    object: &mut Value,
    write: &Write<'_>,
) -> Result<(), ApiError> {
    let Some(crd) = definition(store, info) else {
        return Ok(());
    };
    let Some(schema) = version_schema(&crd, &info.version) else {
        return Ok(());
    };
    let mut unknown = prune_metadata(object);
    unknown.extend(prune::prune_object(object, schema));
    prune::prune_nulls(object, Some(schema));
    match write.query.get("fieldValidation").map(String::as_str) {
        Some("Ignore") => {}
        Some("Strict") if !unknown.is_empty() => {
            return Err(crate::api::strict::decode_error(info, &unknown));
        }
        _ => {
            for field in &unknown {
                write
                    .caller
                    .warnings
                    .add(&format!("unknown field {}", messages::go_quote(field)));
            }
        }
    }
    defaults::apply(object, schema);
    Ok(())
}

/// The strategy's validation of a custom resource about to be stored: the whole object, or
/// `status` alone through the status subresource. `old` is the stored object on an update.
pub fn validate_custom_resource(
    store: &Store,
    info: &ResourceInfo,
    name: &str,
    object: &Value,
    old: Option<&Value>,
    write: &Write<'_>,
) -> Result<(), ApiError> {
    let Some(crd) = definition(store, info) else {
        return Ok(());
    };
    let Some(schema) = version_schema(&crd, &info.version) else {
        return Ok(());
    };
    let causes = if write.subresource == "status" {
        match (object.get("status"), schema.pointer("/properties/status")) {
            (Some(status), Some(status_schema)) => validate::validate(
                status,
                status_schema,
                old.and_then(|o| o.get("status")),
                "status",
            ),
            _ => Vec::new(),
        }
    } else {
        validate::validate(object, schema, old, "")
    };
    if causes.is_empty() {
        Ok(())
    } else {
        Err(messages::invalid_object(info, name, &causes))
    }
}
