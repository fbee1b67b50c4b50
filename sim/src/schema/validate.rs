//! Schema validation as kube-openapi's `SchemaValidator` does it for custom resources, node by
//! node in its validators' order: type (with `nullable`, `format` and
//! `x-kubernetes-int-or-string`), string (`maxLength`, `minLength`, `pattern`), format, number
//! (`multipleOf`, `minimum`, `maximum`), array (items, `minItems`, `maxItems`, `uniqueItems`),
//! `enum`, object (`minProperties`, `maxProperties`, `additionalProperties`, properties,
//! `required`). On update, errors inside a value equal to its old value are dropped
//! (CRDValidationRatcheting, on by default in v1.32): maps correlate by key, lists only when
//! `x-kubernetes-list-type` is `map` (by the keys) or `set`.
//!
//! kube-openapi walks the schema's properties in Go map order, which is random, so kube-apiserver
//! lists sibling fields' errors in a different order from one request to the next; here they come
//! in the properties' name order. Not checked: `allOf`/`anyOf`/`oneOf`/`not`,
//! `patternProperties`, `x-kubernetes-validations` (CEL).

use serde_json::Value;

use super::messages::{self, go_float, type_message};
use super::{flag, formats, properties};
use crate::status::FieldCause;

/// Validates `value` against `schema`; `old` is the stored value on an update. `prefix` is what
/// the error's field is under (`status` for the status subresource), while kube-openapi's own
/// text names the path from the validated value.
pub fn validate(
    value: &Value,
    schema: &Value,
    old: Option<&Value>,
    prefix: &str,
) -> Vec<FieldCause> {
    let mut validator = Validator {
        prefix,
        causes: Vec::new(),
    };
    validator.node(value, schema, "", old);
    validator.causes
}

struct Validator<'a> {
    prefix: &'a str,
    causes: Vec<FieldCause>,
}

/// The JSON type kube-openapi sees for a decoded value, and its Go format.
fn type_of(value: &Value) -> (&'static str, &'static str) {
    match value {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(number) if number.is_i64() => ("integer", "int64"),
        Value::Number(_) => ("number", "float64"),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    }
}

fn types(schema: &Value) -> Vec<&str> {
    if flag(schema, "x-kubernetes-int-or-string") {
        return vec!["integer", "string"];
    }
    schema
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .into_iter()
        .collect()
}

fn number(schema: &Value, key: &str) -> Option<f64> {
    schema.get(key).and_then(Value::as_f64)
}

fn integer(schema: &Value, key: &str) -> Option<i64> {
    schema
        .get(key)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
}

/// Go prints a bound as the type of the value it is compared with: an integer value's bound is
/// truncated to an int64.
fn bound(value: &Value, limit: f64) -> String {
    if value.is_i64() {
        (limit as i64).to_string()
    } else {
        go_float(limit)
    }
}

/// The item of `old` that `item` correlates with in a list, if the list type allows it.
fn correlated_item<'o>(schema: &Value, item: &Value, old: Option<&'o Value>) -> Option<&'o Value> {
    let old_items = old?.as_array()?;
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => old_items.iter().find(|candidate| *candidate == item),
        Some("map") => {
            let keys: Vec<&str> = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|keys| keys.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            old_items
                .iter()
                .find(|candidate| keys.iter().all(|key| candidate.get(key) == item.get(key)))
        }
        _ => None,
    }
}

impl Validator<'_> {
    fn field(&self, path: &str) -> String {
        match (self.prefix.is_empty(), path.is_empty()) {
            (true, _) => path.to_string(),
            (false, true) => self.prefix.to_string(),
            (false, false) => format!("{}.{path}", self.prefix),
        }
    }

    fn type_error(&mut self, path: &str, expected: &str, found: &str) {
        let field = self.field(path);
        self.causes.push(messages::type_invalid(
            &field,
            &Value::String(found.into()),
            type_message(path, expected, found),
        ));
    }

    fn invalid(&mut self, path: &str, value: &Value, detail: String) {
        let field = self.field(path);
        self.causes.push(messages::invalid(&field, value, detail));
    }

    fn node(&mut self, value: &Value, schema: &Value, path: &str, old: Option<&Value>) {
        let start = self.causes.len();
        let declared = types(schema);
        let format = schema
            .get("format")
            .and_then(Value::as_str)
            .and_then(formats::supported)
            .unwrap_or("");
        if value.is_null() {
            if !declared.is_empty() && !declared.contains(&"null") && !flag(schema, "nullable") {
                self.type_error(path, &declared.join(","), "null");
            }
            self.enumeration(value, schema, path);
        } else {
            self.type_check(value, &declared, format, path);
            if let Value::String(text) = value {
                self.string(text, value, schema, path);
                if !format.is_empty() && !formats::valid(format, text) {
                    self.type_error(path, format, text);
                }
            }
            if let Value::Number(_) = value {
                self.number(value, schema, path);
            }
            if let Value::Array(items) = value {
                self.array(items, schema, path, old);
            }
            self.enumeration(value, schema, path);
            if let Value::Object(fields) = value {
                self.object(fields, schema, path, old);
            }
        }
        // Ratcheting: an unchanged value keeps passing, whatever the schema now says.
        if old == Some(value) {
            self.causes.truncate(start);
        }
    }

    fn type_check(&mut self, value: &Value, declared: &[&str], format: &str, path: &str) {
        if declared.is_empty() && format.is_empty() {
            return;
        }
        let (found, found_format) = type_of(value);
        let integral_float = found == "number"
            && value
                .as_f64()
                .is_some_and(|f| f.fract() == 0.0 && f.is_finite());
        let is_float_int = integral_float && declared.contains(&"integer");
        let is_int_float = found == "integer" && declared.contains(&"number");
        let textual = matches!(value, Value::String(_) | Value::Array(_));
        let type_fits = declared.contains(&found) || is_float_int || is_int_float;
        let format_fits = type_fits || found_format == format;
        if !textual && !format.is_empty() && !format_fits {
            self.type_error(path, format, found_format);
            return;
        }
        let numeric = declared.contains(&"number") || declared.contains(&"integer");
        if !numeric && !format.is_empty() && textual {
            return;
        }
        if !type_fits {
            self.type_error(path, &declared.join(","), found);
        }
    }

    fn string(&mut self, text: &str, value: &Value, schema: &Value, path: &str) {
        let length = text.chars().count() as i64;
        if let Some(max) = integer(schema, "maxLength")
            && length > max
        {
            let field = self.field(path);
            self.causes.push(messages::too_long(&field, max));
            return;
        }
        if let Some(min) = integer(schema, "minLength")
            && length < min
        {
            self.invalid(
                path,
                value,
                format!("{path} in body should be at least {min} chars long"),
            );
            return;
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            match regex::Regex::new(pattern) {
                Ok(re) if re.is_match(text) => {}
                Ok(_) => self.invalid(
                    path,
                    value,
                    format!("{path} in body should match '{pattern}'"),
                ),
                Err(error) => self.invalid(
                    path,
                    value,
                    format!(
                        "{path} in body should match '{pattern}, but pattern is invalid: {error}'"
                    ),
                ),
            }
        }
    }

    fn number(&mut self, value: &Value, schema: &Value, path: &str) {
        let Some(data) = value.as_f64() else {
            return;
        };
        if let Some(factor) = number(schema, "multipleOf") {
            let ok = if let Some(int) = value.as_i64() {
                let factor = factor as i64;
                factor > 0 && int % factor == 0
            } else {
                let ratio = if factor < 1.0 {
                    1.0 / factor * data
                } else {
                    data / factor
                };
                factor > 0.0 && ratio.fract() == 0.0
            };
            if !ok {
                self.invalid(
                    path,
                    value,
                    format!(
                        "{path} in body should be a multiple of {}",
                        bound(value, factor)
                    ),
                );
            }
        }
        if let Some(min) = number(schema, "minimum") {
            let exclusive = flag(schema, "exclusiveMinimum");
            let below = match value.as_i64() {
                Some(int) => int < min as i64 || (exclusive && int == min as i64),
                None => data < min || (exclusive && data == min),
            };
            if below {
                let relation = if exclusive {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                self.invalid(
                    path,
                    value,
                    format!("{path} in body should be {relation} {}", bound(value, min)),
                );
            }
        }
        if let Some(max) = number(schema, "maximum") {
            let exclusive = flag(schema, "exclusiveMaximum");
            let above = match value.as_i64() {
                Some(int) => int > max as i64 || (exclusive && int == max as i64),
                None => data > max || (exclusive && data == max),
            };
            if above {
                let relation = if exclusive {
                    "less than"
                } else {
                    "less than or equal to"
                };
                self.invalid(
                    path,
                    value,
                    format!("{path} in body should be {relation} {}", bound(value, max)),
                );
            }
        }
    }

    fn array(&mut self, items: &[Value], schema: &Value, path: &str, old: Option<&Value>) {
        if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
            for (index, item) in items.iter().enumerate() {
                let old_item = correlated_item(schema, item, old);
                self.node(item, item_schema, &format!("{path}[{index}]"), old_item);
            }
        }
        let size = items.len();
        if let Some(min) = integer(schema, "minItems")
            && (size as i64) < min
        {
            self.invalid(
                path,
                &Value::from(size),
                format!("{path} in body should have at least {min} items"),
            );
        }
        if let Some(max) = integer(schema, "maxItems")
            && (size as i64) > max
        {
            let field = self.field(path);
            self.causes.push(messages::too_many(&field, size, max));
        }
        if flag(schema, "uniqueItems")
            && items
                .iter()
                .enumerate()
                .any(|(i, item)| items[..i].contains(item))
        {
            self.invalid(
                path,
                &Value::String(String::new()),
                format!("{path} in body shouldn't contain duplicates"),
            );
        }
    }

    fn enumeration(&mut self, value: &Value, schema: &Value, path: &str) {
        let Some(allowed) = schema.get("enum").and_then(Value::as_array) else {
            return;
        };
        if allowed.is_empty()
            || allowed
                .iter()
                .any(|candidate| same_enum_value(value, candidate))
        {
            return;
        }
        let field = self.field(path);
        self.causes
            .push(messages::not_supported(&field, value, allowed));
    }

    fn object(
        &mut self,
        fields: &serde_json::Map<String, Value>,
        schema: &Value,
        path: &str,
        old: Option<&Value>,
    ) {
        let count = fields.len() as i64;
        if let Some(min) = integer(schema, "minProperties")
            && count < min
        {
            self.invalid(
                path,
                &Value::from(count),
                format!("{path} in body should have at least {min} properties"),
            );
        }
        if let Some(max) = integer(schema, "maxProperties")
            && count > max
        {
            let field = self.field(path);
            self.causes.push(FieldCause {
                detail: format!("must have at most {max} items"),
                ..messages::too_many(&field, fields.len(), max)
            });
        }
        let declared = properties(schema);
        let child = |key: &str| {
            if path.is_empty() {
                key.to_string()
            } else {
                format!("{path}.{key}")
            }
        };
        let old_field = |key: &str| old.and_then(|o| o.get(key));
        if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
            for (key, field) in fields {
                if declared.is_some_and(|d| d.contains_key(key)) {
                    continue;
                }
                self.node(field, additional, &child(key), old_field(key));
            }
        }
        if let Some(declared) = declared {
            for (key, property) in declared {
                if let Some(field) = fields.get(key) {
                    self.node(field, property, &child(key), old_field(key));
                }
            }
        }
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !fields.contains_key(key) {
                let field = self.field(&child(key));
                self.causes.push(messages::required(&field));
            }
        }
    }
}

/// kube-openapi's enum comparison: equal JSON values, numbers compared as float64 (the CRD's
/// enum values decode to float64, and an int64 value converts).
fn same_enum_value(value: &Value, candidate: &Value) -> bool {
    match (value, candidate) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => value == candidate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(value: Value, schema: Value) -> Vec<String> {
        validate(&value, &schema, None, "")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn types_are_worded_as_kube_openapi_words_them() {
        let schema = json!({"type": "object", "properties": {
            "size": {"type": "integer"}, "ratio": {"type": "number"},
            "port": {"x-kubernetes-int-or-string": true}, "id": {"type": "string", "format": "uuid"},
        }});
        assert_eq!(
            messages(
                json!({"size": "x", "ratio": "x", "port": true, "id": 7}),
                schema.clone()
            ),
            [
                "id: Invalid value: \"int64\": id in body must be of type uuid: \"int64\"",
                "port: Invalid value: \"boolean\": port in body must be of type integer,string: \"boolean\"",
                "ratio: Invalid value: \"string\": ratio in body must be of type number: \"string\"",
                "size: Invalid value: \"string\": size in body must be of type integer: \"string\"",
            ]
        );
        assert!(
            messages(
                json!({"size": 3.0, "ratio": 1, "port": "http"}),
                schema.clone()
            )
            .is_empty()
        );
        assert_eq!(
            messages(json!({"size": 1.5}), schema),
            ["size: Invalid value: \"number\": size in body must be of type integer: \"number\""]
        );
    }

    #[test]
    fn unchanged_values_are_ratcheted_on_update() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string", "enum": ["x"]}, "b": {"type": "string", "enum": ["x"]}}});
        let old = json!({"a": "legacy", "b": "x"});
        let new = json!({"a": "legacy", "b": "y"});
        let causes = validate(&new, &schema, Some(&old), "");
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "b");
    }
}
