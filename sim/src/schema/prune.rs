//! Structural pruning (apiextensions-apiserver `schema/pruning/algorithm.go`): fields the schema
//! does not declare are dropped, except under `x-kubernetes-preserve-unknown-fields: true`; at
//! the root (and in embedded resources) `apiVersion`, `kind` and `metadata` are left alone.
//! Then `null`s the schema neither allows nor defaults are removed
//! (`defaulting/prunenulls.go`), as kube's decoder does before defaulting.

use serde_json::Value;

use super::{flag, properties};

/// Prunes `object` (a whole custom resource) and returns the dropped fields' paths
/// (`spec.bogus`, `spec.items[0].extra`), sorted as kube sorts them.
pub fn prune_object(object: &mut Value, schema: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    prune(object, Some(schema), true, "", &mut unknown);
    unknown.sort();
    unknown
}

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The schema of a map value that is not a declared property: `additionalProperties`
/// (`Some(None)` when it is `true` without a schema).
fn additional(schema: &Value) -> Option<Option<&Value>> {
    match schema.get("additionalProperties")? {
        Value::Object(_) => Some(schema.get("additionalProperties")),
        Value::Bool(true) => Some(None),
        _ => None,
    }
}

fn prune(
    value: &mut Value,
    schema: Option<&Value>,
    root: bool,
    path: &str,
    unknown: &mut Vec<String>,
) {
    if let Some(schema) = schema
        && flag(schema, "x-kubernetes-preserve-unknown-fields")
    {
        skip_prune(value, schema, root, path, unknown);
        return;
    }
    match value {
        Value::Object(fields) => {
            let Some(schema) = schema else {
                for (key, _) in std::mem::take(fields) {
                    unknown.push(child_path(path, &key));
                }
                return;
            };
            let embedded = root || flag(schema, "x-kubernetes-embedded-resource");
            let keys: Vec<String> = fields.keys().cloned().collect();
            for key in keys {
                if embedded && META_FIELDS.contains(&key.as_str()) {
                    continue;
                }
                let child = child_path(path, &key);
                let Some(field) = fields.get_mut(&key) else {
                    continue;
                };
                if let Some(property) = properties(schema).and_then(|p| p.get(&key)) {
                    prune(field, Some(property), false, &child, unknown);
                } else if let Some(additional) = additional(schema) {
                    prune(field, additional, false, &child, unknown);
                } else {
                    if !META_FIELDS.contains(&key.as_str()) || !path.is_empty() {
                        unknown.push(child);
                    }
                    fields.remove(&key);
                }
            }
        }
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.get("items"));
            for (index, item) in items.iter_mut().enumerate() {
                prune(
                    item,
                    item_schema,
                    false,
                    &format!("{path}[{index}]"),
                    unknown,
                );
            }
        }
        _ => {}
    }
}

/// Under `x-kubernetes-preserve-unknown-fields`, unknown fields stay but declared ones are
/// still pruned inside.
fn skip_prune(
    value: &mut Value,
    schema: &Value,
    root: bool,
    path: &str,
    unknown: &mut Vec<String>,
) {
    match value {
        Value::Object(fields) => {
            let embedded = root || flag(schema, "x-kubernetes-embedded-resource");
            for (key, field) in fields.iter_mut() {
                if embedded && META_FIELDS.contains(&key.as_str()) {
                    continue;
                }
                let child = child_path(path, key);
                if let Some(property) = properties(schema).and_then(|p| p.get(key)) {
                    prune(field, Some(property), false, &child, unknown);
                } else if let Some(additional) = additional(schema) {
                    prune(field, additional, false, &child, unknown);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter_mut().enumerate() {
                    skip_prune(
                        item,
                        item_schema,
                        false,
                        &format!("{path}[{index}]"),
                        unknown,
                    );
                }
            }
        }
        _ => {}
    }
}

/// The schema for a map's field: its property, else `additionalProperties`.
fn field_schema<'a>(schema: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    let schema = schema?;
    properties(schema)
        .and_then(|p| p.get(key))
        .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))
}

/// Removes map fields that are `null` where the schema is neither `nullable` nor defaulted.
pub fn prune_nulls(value: &mut Value, schema: Option<&Value>) {
    match value {
        Value::Object(fields) => {
            fields.retain(|key, field| {
                let child = field_schema(schema, key);
                !(field.is_null()
                    && child.is_some_and(|c| !flag(c, "nullable") && c.get("default").is_none()))
            });
            for (key, field) in fields.iter_mut() {
                prune_nulls(field, field_schema(schema, key));
            }
        }
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.get("items"));
            for item in items {
                prune_nulls(item, item_schema);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_dropped_and_named() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "size": {"type": "integer"},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                         "properties": {"known": {"type": "object", "properties": {"x": {"type": "string"}}}}},
                "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            }},
        }});
        let mut object = json!({
            "apiVersion": "x/v1", "kind": "W", "metadata": {"name": "w"}, "bogus": 1,
            "spec": {"size": 1, "zzz": 2, "free": {"any": {"deep": 1}, "known": {"x": "y", "drop": 1}},
                     "items": [{"name": "a", "extra": 1}], "labels": {"a": "b"}},
        });
        let unknown = prune_object(&mut object, &schema);
        assert_eq!(
            unknown,
            [
                "bogus",
                "spec.free.known.drop",
                "spec.items[0].extra",
                "spec.zzz"
            ]
        );
        assert_eq!(
            object,
            json!({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "w"},
                   "spec": {"size": 1, "free": {"any": {"deep": 1}, "known": {"x": "y"}},
                            "items": [{"name": "a"}], "labels": {"a": "b"}}})
        );
    }

    #[test]
    fn nulls_go_unless_nullable_or_defaulted() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "string"}, "b": {"type": "string", "nullable": true},
            "c": {"type": "object", "default": {}}, "d": {"type": "array", "items": {"type": "string"}},
        }});
        let mut value = json!({"a": null, "b": null, "c": null, "d": [null]});
        prune_nulls(&mut value, Some(&schema));
        assert_eq!(value, json!({"b": null, "c": null, "d": [null]}));
    }
}
