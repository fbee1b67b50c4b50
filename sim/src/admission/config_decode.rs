//! The type check kube-apiserver's JSON decoding makes of a webhook configuration before
//! anything else: a field of the wrong JSON type cannot be decoded into its Go type, and the
//! request is a 400 (`json: cannot unmarshal string into Go struct field
//! ValidatingWebhook.webhooks.timeoutSeconds of type int32`). Validation then reads the
//! object knowing each field has its type. `null` decodes as unset anywhere; unknown fields
//! are left to `fieldValidation` (`api::strict`).
//!
//! Go reports the first error in document order; the simulator sees object keys sorted, so
//! with several mistyped fields it may name another one first.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

/// The Go type of a field, as far as decoding is concerned.
enum Type {
    /// A string, or a named string type (`v1.SideEffectClass`).
    Str(&'static str),
    Int32,
    /// `[]byte`: a base64 string.
    Bytes,
    List(Box<Type>),
    /// `map[string]<value>`.
    Map(Box<Type>),
    /// A struct of package `v1`, with its JSON fields.
    Struct(&'static str, Vec<(&'static str, Type)>),
}

impl Type {
    fn name(&self) -> String {
        match self {
            Type::Str(name) => name.to_string(),
            Type::Int32 => "int32".into(),
            Type::Bytes => "[]uint8".into(),
            Type::List(element) => format!("[]{}", element.name()),
            Type::Map(value) => format!("map[string]{}", value.name()),
            Type::Struct(name, _) => format!("v1.{name}"),
        }
    }
}

fn list(element: Type) -> Type {
    Type::List(Box::new(element))
}

fn label_selector() -> Type {
    let requirement = Type::Struct(
        "LabelSelectorRequirement",
        vec![
            ("key", Type::Str("string")),
            ("operator", Type::Str("v1.LabelSelectorOperator")),
            ("values", list(Type::Str("string"))),
        ],
    );
    Type::Struct(
        "LabelSelector",
        vec![
            ("matchLabels", Type::Map(Box::new(Type::Str("string")))),
            ("matchExpressions", list(requirement)),
        ],
    )
}

/// `v1.ValidatingWebhookConfiguration` or `v1.MutatingWebhookConfiguration`, without metadata.
fn configuration(mutating: bool) -> Type {
    let service = Type::Struct(
        "ServiceReference",
        vec![
            ("namespace", Type::Str("string")),
            ("name", Type::Str("string")),
            ("path", Type::Str("string")),
            ("port", Type::Int32),
        ],
    );
    let client_config = Type::Struct(
        "WebhookClientConfig",
        vec![
            ("url", Type::Str("string")),
            ("service", service),
            ("caBundle", Type::Bytes),
        ],
    );
    // `Rule` is embedded inline in `RuleWithOperations`.
    let rule = Type::Struct(
        "RuleWithOperations",
        vec![
            ("operations", list(Type::Str("v1.OperationType"))),
            ("apiGroups", list(Type::Str("string"))),
            ("apiVersions", list(Type::Str("string"))),
            ("resources", list(Type::Str("string"))),
            ("scope", Type::Str("v1.ScopeType")),
        ],
    );
    let condition = Type::Struct(
        "MatchCondition",
        vec![
            ("name", Type::Str("string")),
            ("expression", Type::Str("string")),
        ],
    );
    let mut fields = vec![
        ("name", Type::Str("string")),
        ("clientConfig", client_config),
        ("rules", list(rule)),
        ("failurePolicy", Type::Str("v1.FailurePolicyType")),
        ("matchPolicy", Type::Str("v1.MatchPolicyType")),
        ("namespaceSelector", label_selector()),
        ("objectSelector", label_selector()),
        ("sideEffects", Type::Str("v1.SideEffectClass")),
        ("timeoutSeconds", Type::Int32),
        ("admissionReviewVersions", list(Type::Str("string"))),
        ("matchConditions", list(condition)),
    ];
    let (kind, webhook) = if mutating {
        fields.push(("reinvocationPolicy", Type::Str("v1.ReinvocationPolicyType")));
        ("MutatingWebhookConfiguration", "MutatingWebhook")
    } else {
        ("ValidatingWebhookConfiguration", "ValidatingWebhook")
    };
    Type::Struct(
        kind,
        vec![("webhooks", list(Type::Struct(webhook, fields)))],
    )
}

/// Checks the fields of a webhook configuration; `Err` is the decoder's error text.
pub fn check(object: &Value, mutating: bool) -> Result<(), String> {
    let Type::Struct(name, fields) = configuration(mutating) else {
        return Ok(());
    };
    let Some(object) = object.as_object() else {
        return Ok(());
    };
    for (key, field) in &fields {
        if let Some(value) = object.get(*key) {
            walk(value, field, name, key)?;
        }
    }
    Ok(())
}

/// Checks `value` against `expected`: the field `path` (dotted, from the root) of the struct
/// `parent`, as Go's `UnmarshalTypeError` names them.
fn walk(value: &Value, expected: &Type, parent: &str, path: &str) -> Result<(), String> {
    let mismatch = |what: String| {
        Err(format!(
            "json: cannot unmarshal {what} into Go struct field {parent}.{path} of type {}",
            expected.name()
        ))
    };
    match (expected, value) {
        (_, Value::Null) => Ok(()),
        (Type::Str(_), Value::String(_)) => Ok(()),
        (Type::Int32, Value::Number(number)) => match number.as_i64().map(i32::try_from) {
            Some(Ok(_)) => Ok(()),
            _ => mismatch(format!("number {number}")),
        },
        (Type::Bytes, Value::String(text)) => base64_error(text).map_or(Ok(()), Err),
        (Type::List(element), Value::Array(items)) => items
            .iter()
            .try_for_each(|item| walk(item, element, parent, path)),
        (Type::Map(element), Value::Object(entries)) => entries
            .values()
            .try_for_each(|item| walk(item, element, parent, path)),
        (Type::Struct(name, fields), Value::Object(entries)) => {
            for (key, field) in fields {
                if let Some(item) = entries.get(*key) {
                    walk(item, field, name, &format!("{path}.{key}"))?;
                }
            }
            Ok(())
        }
        (_, other) => mismatch(json_kind(other).to_string()),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go's `base64.StdEncoding` as encoding/json uses it: padding required, non-zero trailing
/// bits accepted, line breaks skipped. The error names the byte as Go's `CorruptInputError`
/// does (for a short final group, where that group starts).
fn base64_error(text: &str) -> Option<String> {
    const GO_STD: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    let cleaned: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    let offset = match GO_STD.decode(&cleaned) {
        Ok(_) => return None,
        Err(base64::DecodeError::InvalidByte(offset, _))
        | Err(base64::DecodeError::InvalidLastSymbol(offset, _)) => offset,
        Err(base64::DecodeError::InvalidLength(length)) => length - length % 4,
        Err(base64::DecodeError::InvalidPadding) => cleaned.find('=').unwrap_or(0),
    };
    Some(format!("illegal base64 data at input byte {offset}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error(webhook: Value) -> String {
        check(&json!({"webhooks": [webhook]}), false).unwrap_err()
    }

    #[test]
    fn mistyped_fields_are_named_as_go_names_them() {
        assert_eq!(
            error(json!({"timeoutSeconds": "3"})),
            "json: cannot unmarshal string into Go struct field ValidatingWebhook.webhooks.timeoutSeconds of type int32"
        );
        assert_eq!(
            error(json!({"timeoutSeconds": 1.5})),
            "json: cannot unmarshal number 1.5 into Go struct field ValidatingWebhook.webhooks.timeoutSeconds of type int32"
        );
        assert_eq!(
            error(json!({"rules": [{"operations": [1]}]})),
            "json: cannot unmarshal number into Go struct field RuleWithOperations.webhooks.rules.operations of type v1.OperationType"
        );
        assert_eq!(
            error(json!({"namespaceSelector": {"matchLabels": {"a": 1}}})),
            "json: cannot unmarshal number into Go struct field LabelSelector.webhooks.namespaceSelector.matchLabels of type string"
        );
        assert_eq!(
            error(json!({"clientConfig": {"service": "x"}})),
            "json: cannot unmarshal string into Go struct field WebhookClientConfig.webhooks.clientConfig.service of type v1.ServiceReference"
        );
        assert_eq!(
            error(json!({"clientConfig": {"caBundle": "!!!!"}})),
            "illegal base64 data at input byte 0"
        );
        assert_eq!(
            error(json!({"clientConfig": {"caBundle": "YWJ"}})),
            "illegal base64 data at input byte 0"
        );
        assert_eq!(
            check(&json!({"webhooks": {}}), false).unwrap_err(),
            "json: cannot unmarshal object into Go struct field ValidatingWebhookConfiguration.webhooks of type []v1.ValidatingWebhook"
        );
        assert_eq!(
            check(&json!({"webhooks": [{"reinvocationPolicy": 1}]}), true).unwrap_err(),
            "json: cannot unmarshal number into Go struct field MutatingWebhook.webhooks.reinvocationPolicy of type v1.ReinvocationPolicyType"
        );
    }

    #[test]
    fn well_typed_and_null_fields_pass() {
        let webhook = json!({"name": "a.b.c", "timeoutSeconds": null, "sideEffects": "None",
            "clientConfig": {"caBundle": "YWJj\nZA==", "service": {"port": 443}},
            "rules": [{"apiGroups": [null], "scope": "*"}], "unknown": 5,
            "objectSelector": {"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]}});
        assert_eq!(check(&json!({"webhooks": [webhook]}), false), Ok(()));
        // Only admission registration fields are typed here.
        assert_eq!(
            check(&json!({"webhooks": null, "metadata": 5}), false),
            Ok(())
        );
    }
}
