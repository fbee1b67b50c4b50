//! How kube-apiserver words schema errors: kube-openapi's messages (`spec.size in body should be
//! greater than or equal to 1`), turned into apimachinery field errors by apiextensions-apiserver
//! (`kubeOpenAPIResultToFieldErrors`), and the values printed as Go's `fmt` prints them.

use serde_json::{Value, json};

use crate::catalogue::ResourceInfo;
use crate::status::{ApiError, FieldCause};

/// Go's `strconv.Quote`: printable characters as they are, the rest escaped.
pub fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` of a float64 (strconv's shortest `'g'`): exponent form below 1e-4 and from 1e6 on
/// (`1e+06`, `1.5e-05`).
pub fn go_float(value: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let exponent = value.abs().log10().floor() as i32;
    if (-4..6).contains(&exponent) {
        return format!("{value}");
    }
    // Rust's `{:e}` is `1.5e-5`; Go writes at least two exponent digits with a sign.
    let text = format!("{value:e}");
    match text.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(digits) => ('-', digits),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => text,
    }
}

/// A JSON number as Go prints the value it decodes to (int64, else float64).
pub fn go_number(number: &serde_json::Number) -> String {
    match number.as_i64() {
        Some(int) => int.to_string(),
        None => go_float(number.as_f64().unwrap_or(0.0)),
    }
}

/// Go's `%#v` of a decoded JSON value (maps sorted by key, as fmt sorts them).
fn go_syntax(value: &Value) -> String {
    match value {
        Value::Null => "interface {}(nil)".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => go_number(number),
        Value::String(text) => go_quote(text),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_syntax).collect();
            format!("[]interface {{}}{{{}}}", items.join(", "))
        }
        Value::Object(fields) => {
            let entries: Vec<String> = fields
                .iter()
                .map(|(key, value)| format!("{}:{}", go_quote(key), go_syntax(value)))
                .collect();
            format!("map[string]interface {{}}{{{}}}", entries.join(", "))
        }
    }
}

/// How a field error prints its bad value (apimachinery `field.Error.ErrorBody`): strings
/// quoted, numbers and booleans bare, `null` for nil, anything else as Go syntax.
pub fn bad_value(value: &Value) -> String {
    match value {
        Value::Null => go_quote("null"),
        Value::String(text) => go_quote(text),
        Value::Number(number) => go_number(number),
        Value::Bool(flag) => flag.to_string(),
        other => go_syntax(other),
    }
}

/// `Invalid value: <value>: <detail>` (`field.Invalid`).
pub fn invalid(field: &str, value: &Value, detail: String) -> FieldCause {
    FieldCause {
        reason: "FieldValueInvalid",
        field: field.into(),
        what: format!("Invalid value: {}", bad_value(value)),
        detail,
    }
}

/// The same words with the reason of a type mismatch (`field.TypeInvalid`).
pub fn type_invalid(field: &str, value: &Value, detail: String) -> FieldCause {
    FieldCause {
        reason: "FieldValueTypeInvalid",
        ..invalid(field, value, detail)
    }
}

/// `Required value`
pub fn required(field: &str) -> FieldCause {
    FieldCause::required(field, "")
}

/// `Unsupported value: "Deny": supported values: "Allow", "Reject"`: string values quoted,
/// others as JSON.
pub fn not_supported(field: &str, value: &Value, allowed: &[Value]) -> FieldCause {
    let allowed: Vec<String> = allowed
        .iter()
        .map(|value| match value {
            Value::String(text) => go_quote(text),
            Value::Number(number) => go_quote(&go_number(number)),
            other => go_quote(&other.to_string()),
        })
        .collect();
    FieldCause {
        reason: "FieldValueNotSupported",
        field: field.into(),
        what: format!("Unsupported value: {}", bad_value(value)),
        detail: if allowed.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", allowed.join(", "))
        },
    }
}

/// `Too long: may not be more than 5 bytes` (kube's words, though it counts characters).
pub fn too_long(field: &str, max: i64) -> FieldCause {
    FieldCause {
        reason: "FieldValueTooLong",
        field: field.into(),
        what: "Too long".into(),
        detail: format!("may not be more than {max} bytes"),
    }
}

/// `Too many: 3: must have at most 2 items`
pub fn too_many(field: &str, actual: usize, max: i64) -> FieldCause {
    FieldCause {
        reason: "FieldValueTooMany",
        field: field.into(),
        what: format!("Too many: {actual}"),
        detail: format!("must have at most {max} items"),
    }
}

/// kube-openapi's type mismatch: `spec.size in body must be of type integer: "string"`.
pub fn type_message(path: &str, expected: &str, found: &str) -> String {
    format!(
        "{path} in body must be of type {expected}: {}",
        go_quote(found)
    )
}

/// The `422 Invalid` for a custom resource, as `errors.NewInvalid` builds it: one cause per
/// error, the message listing each distinct error once (`field.ErrorList.ToAggregate`).
pub fn invalid_object(info: &ResourceInfo, name: &str, causes: &[FieldCause]) -> ApiError {
    let mut seen = Vec::new();
    for cause in causes {
        let text = cause.to_string();
        if !seen.contains(&text) {
            seen.push(text);
        }
    }
    let summary = if seen.len() == 1 {
        seen.join("")
    } else {
        format!("[{}]", seen.join(", "))
    };
    let details: Vec<Value> = causes
        .iter()
        .map(|cause| {
            let message = if cause.detail.is_empty() {
                cause.what.clone()
            } else {
                format!("{}: {}", cause.what, cause.detail)
            };
            json!({"reason": cause.reason, "message": message, "field": cause.field})
        })
        .collect();
    let mut error = ApiError::new(
        422,
        "Invalid",
        format!(
            "{}.{} \"{name}\" is invalid: {summary}",
            info.kind, info.group
        ),
    );
    error.details = Some(json!({
        "name": name,
        "group": info.group,
        "kind": info.kind,
        "causes": details,
    }));
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_gos_percent_v() {
        let cases = [
            (0.5, "0.5"),
            (2.5, "2.5"),
            (1e6, "1e+06"),
            (1e20, "1e+20"),
            (1e21, "1e+21"),
            (123456789.0, "1.23456789e+08"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.0, "1"),
            (-3.0, "-3"),
        ];
        for (value, expected) in cases {
            assert_eq!(go_float(value), expected, "{value}");
        }
    }

    #[test]
    fn values_print_as_field_errors_print_them() {
        assert_eq!(bad_value(&json!("Deny")), "\"Deny\"");
        assert_eq!(bad_value(&json!(3)), "3");
        assert_eq!(bad_value(&json!(2.5)), "2.5");
        assert_eq!(bad_value(&Value::Null), "\"null\"");
        assert_eq!(
            bad_value(&json!({"b": [1, "x"], "a": true})),
            "map[string]interface {}{\"a\":true, \"b\":[]interface {}{1, \"x\"}}"
        );
        assert_eq!(go_quote("a\"b\n\u{1}é"), "\"a\\\"b\\n\\x01é\"");
    }
}
