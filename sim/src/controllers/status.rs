//! Writing a controller's status: a JSON merge patch of `<resource>/status`, sent only when the
//! status would change (a write would wake every watcher, the controller itself included).

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch};
use serde_json::{Map, Value, json};

use super::SyncError;

/// Whether two values differ, counting a missing field, `null`, `0`, `""`, `[]` and `{}` as the
/// same (Go's `omitempty` leaves them out).
pub fn differs(current: &Value, desired: &Value) -> bool {
    fn empty(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.values().all(empty),
        }
    }
    match (current, desired) {
        (Value::Object(a), Value::Object(b)) => a.keys().chain(b.keys()).any(|key| {
            differs(
                a.get(key).unwrap_or(&Value::Null),
                b.get(key).unwrap_or(&Value::Null),
            )
        }),
        (a, b) if empty(a) && empty(b) => false,
        (a, b) => a != b,
    }
}

/// Patches `status` to `desired` when it differs from `current` (the object's status as last
/// seen). Fields of `current` that `desired` lacks are removed.
pub async fn write(
    client: &Client,
    resource: &ApiResource,
    namespace: Option<&str>,
    name: &str,
    current: &Value,
    desired: Map<String, Value>,
) -> Result<(), SyncError> {
    let desired = Value::Object(desired);
    if !differs(current, &desired) {
        return Ok(());
    }
    let mut patch = desired;
    if let (Some(current), Some(patch)) = (current.as_object(), patch.as_object_mut()) {
        for key in current.keys() {
            patch.entry(key.clone()).or_insert(Value::Null);
        }
        // An empty list is written as null so that merge patch removes it.
        for value in patch.values_mut() {
            if value.as_array().is_some_and(Vec::is_empty) {
                *value = Value::Null;
            }
        }
    }
    let api: Api<DynamicObject> = match namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, resource),
        None => Api::all_with(client.clone(), resource),
    };
    api.patch_status(
        name,
        &super::patch_params(),
        &Patch::Merge(json!({ "status": patch })),
    )
    .await
    .map(|_| ())
    .map_err(SyncError::api(format!(
        "update status of {} {name}",
        resource.kind
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_and_zero_values_are_the_same() {
        assert!(!differs(
            &json!({}),
            &json!({"replicas": 0, "conditions": []})
        ));
        assert!(!differs(&json!(null), &json!({"replicas": 0})));
        assert!(differs(&json!({"replicas": 1}), &json!({"replicas": 0})));
        assert!(differs(&json!({"a": [1]}), &json!({"a": [2]})));
        assert!(!differs(&json!({"a": {"b": 1}}), &json!({"a": {"b": 1}})));
    }
}
