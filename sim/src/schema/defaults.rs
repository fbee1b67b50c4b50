//! Structural defaulting (apiextensions-apiserver `schema/defaulting/algorithm.go`): a missing
//! field, or a `null` one the schema does not allow, gets its schema's `default`; then the
//! defaults inside are applied, so a defaulted `{}` is filled in turn.

use serde_json::Value;

use super::{flag, properties};

fn non_nullable_null(value: &Value, schema: &Value) -> bool {
    value.is_null() && !flag(schema, "nullable")
}

pub fn apply(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(fields) => {
            if let Some(declared) = properties(schema) {
                for (key, property) in declared {
                    let Some(default) = property.get("default") else {
                        continue;
                    };
                    let missing = fields
                        .get(key)
                        .is_none_or(|field| non_nullable_null(field, property));
                    if missing {
                        fields.insert(key.clone(), default.clone());
                    }
                }
            }
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, field) in fields.iter_mut() {
                if let Some(property) = properties(schema).and_then(|p| p.get(key)) {
                    apply(field, property);
                } else if let Some(additional) = additional {
                    if non_nullable_null(field, additional)
                        && let Some(default) = additional.get("default")
                    {
                        *field = default.clone();
                    }
                    apply(field, additional);
                }
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = schema.get("items") else {
                return;
            };
            for item in items {
                if non_nullable_null(item, item_schema)
                    && let Some(default) = item_schema.get("default")
                {
                    *item = default.clone();
                }
                apply(item, item_schema);
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
    fn defaults_fill_missing_fields_and_then_their_insides() {
        let schema = json!({"type": "object", "properties": {
            "mode": {"type": "string", "default": "fast"},
            "nested": {"type": "object", "default": {}, "properties": {"inner": {"type": "string", "default": "deep"}}},
            "items": {"type": "array", "items": {"type": "object", "properties": {"weight": {"type": "integer", "default": 1}}}},
            "kept": {"type": "string", "default": "x"},
        }});
        let mut value =
            json!({"nested": null, "items": [{"name": "a"}, {"weight": 5}], "kept": "mine"});
        apply(&mut value, &schema);
        assert_eq!(
            value,
            json!({"mode": "fast", "nested": {"inner": "deep"}, "items": [{"name": "a", "weight": 1}, {"weight": 5}], "kept": "mine"})
        );
    }
}
