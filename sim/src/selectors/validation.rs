//! `metav1validation.ValidateLabelSelector`: what the API refuses in a stored
//! `metav1.LabelSelector` (a webhook's `namespaceSelector`, say), as field errors under `path`.

use serde_json::Value;

use crate::status::FieldCause;
use crate::validation::field::{self, child, index, quote};
use crate::validation::names::{label_value_errors, qualified_name_errors};

/// `LabelSelectorValidationOptions`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Set on updates of objects that already hold such values (kube's ratcheting).
    pub allow_invalid_label_value: bool,
}

/// The selector's problems, under `path` ("" for paths relative to the selector). `null` is
/// valid (no selector); the field types are assumed checked (a wrong type counts as absent).
pub fn validate_label_selector(selector: &Value, path: &str, options: Options) -> Vec<FieldCause> {
    let mut errors = Vec::new();
    let Some(object) = selector.as_object() else {
        return errors;
    };
    let labels_path = child(path, "matchLabels");
    for (key, value) in object
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        errors.extend(label_name_errors(key, &labels_path));
        let value = value.as_str().unwrap_or_default();
        for message in label_value_errors(value) {
            errors.push(field::invalid(&labels_path, &quote(value), &message));
        }
    }
    let expressions_path = child(path, "matchExpressions");
    for (position, expression) in object
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = index(&expressions_path, position);
        errors.extend(validate_requirement(expression, &path, options));
    }
    errors
}

/// `ValidateLabelSelectorRequirement`.
fn validate_requirement(requirement: &Value, path: &str, options: Options) -> Vec<FieldCause> {
    let mut errors = Vec::new();
    let text = |name: &str| requirement.get(name).and_then(Value::as_str).unwrap_or("");
    let values: Vec<&str> = requirement
        .get("values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|value| value.as_str().unwrap_or(""))
        .collect();
    let values_path = child(path, "values");
    match text("operator") {
        "In" | "NotIn" if values.is_empty() => errors.push(field::required(
            &values_path,
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(field::forbidden(
            &values_path,
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
        other => errors.push(field::invalid(
            &child(path, "operator"),
            &quote(other),
            "not a valid selector operator",
        )),
    }
    errors.extend(label_name_errors(text("key"), &child(path, "key")));
    if !options.allow_invalid_label_value {
        for (position, value) in values.iter().enumerate() {
            for message in label_value_errors(value) {
                errors.push(field::invalid(
                    &index(&values_path, position),
                    &quote(value),
                    &message,
                ));
            }
        }
    }
    errors
}

/// `ValidateLabelName`: one error per problem of the key.
fn label_name_errors(key: &str, path: &str) -> Vec<FieldCause> {
    qualified_name_errors(key)
        .into_iter()
        .map(|message| field::invalid(path, &quote(key), &message))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(selector: Value, options: Options) -> Vec<String> {
        validate_label_selector(&selector, "s", options)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn paths_and_messages() {
        let selector = json!({"matchExpressions": [
            {"key": "k", "operator": "Bogus"},
            {"key": "k", "operator": "In", "values": ["ok", "x".repeat(64)]},
            {"key": "/k", "operator": "NotIn"},
            {"key": "k", "operator": "Exists", "values": ["x"]},
        ]});
        assert_eq!(
            messages(selector.clone(), Options::default()),
            [
                "s.matchExpressions[0].operator: Invalid value: \"Bogus\": not a valid selector operator".to_string(),
                format!("s.matchExpressions[1].values[1]: Invalid value: \"{}\": must be no more than 63 characters", "x".repeat(64)),
                "s.matchExpressions[2].values: Required value: must be specified when `operator` is 'In' or 'NotIn'".to_string(),
                "s.matchExpressions[2].key: Invalid value: \"/k\": prefix part must be non-empty".to_string(),
                "s.matchExpressions[3].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'".to_string(),
            ]
        );
        let relaxed = Options {
            allow_invalid_label_value: true,
        };
        assert_eq!(
            messages(selector, relaxed).len(),
            4,
            "values are not checked"
        );
        assert!(
            messages(
                json!({"matchLabels": {"example.com/x": ""}}),
                Options::default()
            )
            .is_empty()
        );
        assert!(messages(Value::Null, Options::default()).is_empty());
        assert_eq!(
            messages(json!({"matchLabels": {"a": "x y"}}), Options::default())[0],
            "s.matchLabels: Invalid value: \"x y\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
    }
}
