//! `metav1.LabelSelector` objects as kube-apiserver evaluates them for webhook selectors
//! (reference §5): the runtime conversion `LabelSelectorAsSelector` (with `labels.NewRequirement`'s
//! checks), matching, and the API validation `ValidateLabelSelector`.
//!
//! `crate::selectors::label_selector_matches` is not used here: it treats a null selector as
//! "everything" (Go: `labels.Nothing()`) and checks neither label keys nor values.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    /// `matchLabels` entries become `=`, which matches like `In` with one value.
    Equals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let present = labels.get(&self.key);
        match self.operator {
            Operator::Equals | Operator::In => present.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => present.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => present.is_some(),
            Operator::DoesNotExist => present.is_none(),
        }
    }
}

/// A converted selector: `labels.Nothing()` (what a nil selector becomes) or ANDed
/// requirements, none meaning `labels.Everything()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelSelector {
    /// `None` is "nothing".
    requirements: Option<Vec<Requirement>>,
}

impl LabelSelector {
    /// `metav1.LabelSelectorAsSelector`: null → nothing, `{}` → everything, otherwise the ANDed
    /// requirements; errors carry `labels.NewRequirement`'s field-error text.
    pub fn from_value(selector: &Value) -> Result<LabelSelector, String> {
        let object = match selector {
            Value::Null => return Ok(LabelSelector { requirements: None }),
            Value::Object(object) => object,
            other => return Err(format!("label selector must be an object, got {other}")),
        };
        let mut requirements = Vec::new();
        for (key, value) in string_map(object.get("matchLabels"), "matchLabels")? {
            requirements.push(new_requirement(key, Operator::Equals, vec![value])?);
        }
        for (index, expression) in expressions(object.get("matchExpressions"))?
            .into_iter()
            .enumerate()
        {
            let operator = match expression.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(format!("{other:?} is not a valid label selector operator"));
                }
            };
            let values = expression
                .values
                .ok_or_else(|| format!("matchExpressions[{index}].values: must be strings"))?;
            requirements.push(new_requirement(expression.key, operator, values)?);
        }
        Ok(LabelSelector {
            requirements: Some(requirements),
        })
    }

    /// Go's `Selector.Empty()`: true only for "everything" (nothing is not empty).
    pub fn is_empty(&self) -> bool {
        self.requirements.as_ref().is_some_and(Vec::is_empty)
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements
            .as_ref()
            .is_some_and(|requirements| requirements.iter().all(|r| r.matches(labels)))
    }
}

/// Converts and matches in one step (see [`LabelSelector::from_value`]).
pub fn label_selector_matches(
    selector: &Value,
    labels: &BTreeMap<String, String>,
) -> Result<bool, String> {
    Ok(LabelSelector::from_value(selector)?.matches(labels))
}

/// `ValidateLabelSelector` with field paths relative to the selector (the API server prefixes
/// e.g. `webhooks[0].namespaceSelector.`). Empty means valid.
pub fn validate_label_selector(selector: &Value) -> Vec<String> {
    let object = match selector {
        Value::Null => return Vec::new(),
        Value::Object(object) => object,
        other => return vec![format!(": Invalid value: {other}: must be an object")],
    };
    let mut errors = Vec::new();
    match string_map(object.get("matchLabels"), "matchLabels") {
        Ok(labels) => {
            for (key, value) in labels {
                for message in qualified_name_errors(&key) {
                    errors.push(invalid(
                        "matchLabels",
                        &Value::String(key.clone()),
                        &message,
                    ));
                }
                for message in label_value_errors(&value) {
                    errors.push(invalid(
                        "matchLabels",
                        &Value::String(value.clone()),
                        &message,
                    ));
                }
            }
        }
        Err(error) => errors.push(error),
    }
    let parsed = match expressions(object.get("matchExpressions")) {
        Ok(parsed) => parsed,
        Err(error) => {
            errors.push(error);
            Vec::new()
        }
    };
    for (index, expression) in parsed.into_iter().enumerate() {
        let path = format!("matchExpressions[{index}]");
        let values = expression.values.unwrap_or_default();
        match expression.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errors.push(format!(
                "{path}.values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(format!(
                "{path}.values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errors.push(invalid(
                &format!("{path}.operator"),
                &Value::String(other.to_string()),
                "not a valid selector operator",
            )),
        }
        for message in qualified_name_errors(&expression.key) {
            errors.push(invalid(
                &format!("{path}.key"),
                &Value::String(expression.key.clone()),
                &message,
            ));
        }
        for (value_index, value) in values.iter().enumerate() {
            for message in label_value_errors(value) {
                errors.push(invalid(
                    &format!("{path}.values[{value_index}]"),
                    &Value::String(value.clone()),
                    &message,
                ));
            }
        }
    }
    errors
}

struct Expression {
    key: String,
    operator: String,
    /// `None` when some value is not a string (Go would fail to decode the object).
    values: Option<Vec<String>>,
}

fn string_map(value: Option<&Value>, path: &str) -> Result<Vec<(String, String)>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(key, value)| match value {
                Value::String(s) => Ok((key.clone(), s.clone())),
                other => Err(invalid(path, other, "must be a string")),
            })
            .collect(),
        Some(other) => Err(invalid(path, other, "must be an object")),
    }
}

fn expressions(value: Option<&Value>) -> Result<Vec<Expression>, String> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(invalid("matchExpressions", other, "must be a list")),
    };
    let text = |item: &Value, field: &str| {
        item.get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(items
        .iter()
        .map(|item| Expression {
            key: text(item, "key"),
            operator: text(item, "operator"),
            values: match item.get("values") {
                None | Some(Value::Null) => Some(Vec::new()),
                Some(Value::Array(values)) => values
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect(),
                Some(_) => None,
            },
        })
        .collect())
}

/// `labels.NewRequirement`: all of one requirement's problems, aggregated like Go's
/// `utilerrors.NewAggregate` (one message alone, several as `[a, b]`).
fn new_requirement(
    key: String,
    operator: Operator,
    values: Vec<String>,
) -> Result<Requirement, String> {
    let mut errors = Vec::new();
    let messages = qualified_name_errors(&key);
    if !messages.is_empty() {
        errors.push(invalid(
            "key",
            &Value::String(key.clone()),
            &messages.join("; "),
        ));
    }
    // Go passes a nil slice for an empty list, which renders as `null`.
    let rendered = if values.is_empty() {
        Value::Null
    } else {
        Value::from(values.clone())
    };
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => errors.push(invalid(
            "values",
            &rendered,
            "for 'in', 'notin' operators, values set can't be empty",
        )),
        Operator::Equals if values.len() != 1 => errors.push(invalid(
            "values",
            &rendered,
            "exact-match compatibility requires one single value",
        )),
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => errors.push(invalid(
            "values",
            &rendered,
            "values set must be empty for exists and does not exist",
        )),
        _ => {}
    }
    for (index, value) in values.iter().enumerate() {
        let messages = label_value_errors(value);
        if !messages.is_empty() {
            errors.push(invalid(
                &format!("values[{index}]"),
                &Value::String(value.clone()),
                &messages.join("; "),
            ));
        }
    }
    match errors.len() {
        0 => Ok(Requirement {
            key,
            operator,
            values,
        }),
        1 => Err(errors.remove(0)),
        _ => Err(format!("[{}]", errors.join(", "))),
    }
}

/// A `field.Invalid` error's text: `<path>: Invalid value: <json value>: <detail>`.
fn invalid(path: &str, value: &Value, detail: &str) -> String {
    format!("{path}: Invalid value: {value}: {detail}")
}

const QUALIFIED_NAME_MESSAGE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FORMAT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_EXAMPLES: &[&str] = &["MyName", "my.name", "123-abc"];
const LABEL_VALUE_MESSAGE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FORMAT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_FORMAT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

/// Go's `validation.RegexError` (its odd `',  or '` spacing included, since clients match it).
fn regex_error(message: &str, format: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{message} (e.g. {}regex used for validation is '{format}')",
        examples.join(" or ")
    )
}

fn max_length_error(length: usize) -> String {
    format!("must be no more than {length} bytes")
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`: also the non-empty label value pattern.
fn is_qualified_name_part(name: &str) -> bool {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `validation.IsQualifiedName` (label keys): an optional DNS-1123 subdomain prefix and a name.
fn qualified_name_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                errors.extend(
                    subdomain_errors(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_MESSAGE,
                    QUALIFIED_NAME_FORMAT,
                    QUALIFIED_NAME_EXAMPLES
                )
            )];
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errors.push(format!("name part {}", max_length_error(63)));
    }
    if !is_qualified_name_part(name) {
        errors.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MESSAGE,
                QUALIFIED_NAME_FORMAT,
                QUALIFIED_NAME_EXAMPLES
            )
        ));
    }
    errors
}

fn subdomain_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 253 {
        errors.push(max_length_error(253));
    }
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
                alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
            }
            _ => false,
        }
    };
    if !value.split('.').all(label_ok) {
        errors.push(regex_error(
            SUBDOMAIN_MESSAGE,
            SUBDOMAIN_FORMAT,
            &["example.com"],
        ));
    }
    errors
}

/// `validation.IsValidLabelValue`.
fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push(max_length_error(63));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errors.push(regex_error(
            LABEL_VALUE_MESSAGE,
            LABEL_VALUE_FORMAT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn nil_is_nothing_and_empty_is_everything() {
        let nothing = LabelSelector::from_value(&Value::Null).unwrap();
        assert!(!nothing.is_empty());
        assert!(!nothing.matches(&labels(&[])));
        let everything = LabelSelector::from_value(&json!({})).unwrap();
        assert!(everything.is_empty());
        assert!(everything.matches(&labels(&[("a", "b")])));
        let also = json!({"matchLabels": {}, "matchExpressions": []});
        assert!(LabelSelector::from_value(&also).unwrap().is_empty());
    }

    #[test]
    fn runtime_errors_follow_new_requirement() {
        let err = |selector: Value| LabelSelector::from_value(&selector).unwrap_err();
        assert_eq!(
            err(json!({"matchExpressions": [{"key": "k", "operator": "in", "values": ["a"]}]})),
            "\"in\" is not a valid label selector operator"
        );
        assert!(
            err(json!({"matchLabels": {"bad key": "x"}}))
                .starts_with("key: Invalid value: \"bad key\": name part must consist of")
        );
        assert!(
            err(json!({"matchLabels": {"app": "-web-"}}))
                .starts_with("values[0]: Invalid value: \"-web-\": a valid label must be")
        );
        assert!(
            err(json!({"matchLabels": {"a/b/c": "x"}}))
                .contains("a valid label key must consist of")
        );
        assert!(
            err(json!({"matchLabels": {"Bad_Prefix/x": "x"}}))
                .contains("prefix part a lowercase RFC 1123 subdomain")
        );
    }

    #[test]
    fn validation_paths_and_messages() {
        let selector = json!({"matchExpressions": [
            {"key": "k", "operator": "Bogus"},
            {"key": "k", "operator": "In", "values": ["ok", "x".repeat(64)]},
        ]});
        let errors = validate_label_selector(&selector);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(
            errors[0],
            "matchExpressions[0].operator: Invalid value: \"Bogus\": not a valid selector operator"
        );
        assert!(errors[1].starts_with("matchExpressions[1].values[1]: Invalid value:"));
        assert!(errors[1].ends_with("must be no more than 63 bytes"));
        assert!(validate_label_selector(&json!({"matchLabels": {"example.com/x": ""}})).is_empty());
    }
}
