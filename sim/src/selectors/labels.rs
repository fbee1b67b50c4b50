//! Label selectors as apimachinery's `labels` package holds them: requirements built and checked
//! by `NewRequirement`, ANDed, and matched against a label set. Two front ends build them: the
//! query-string syntax ([`LabelSelector::parse`], `labels.Parse`) and `metav1.LabelSelector`
//! objects ([`LabelSelector::from_value`], `metav1.LabelSelectorAsSelector`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::validation::field::{self, aggregate, quote, string_slice};
use crate::validation::names::{label_value_errors, qualified_name_errors};

/// `selection.Operator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One requirement: a key, an operator and its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// `labels.NewRequirement`: checks the key, the number of values the operator takes and
    /// each value, and reports every problem at once as Go's aggregate error does. `values` is
    /// `None` for Go's nil slice (printed `[]string(nil)` in the errors).
    pub fn new(
        key: &str,
        operator: Operator,
        values: Option<Vec<String>>,
    ) -> Result<Requirement, String> {
        let mut errors = Vec::new();
        let key_errors = qualified_name_errors(key);
        if !key_errors.is_empty() {
            errors.push(field::invalid("key", &quote(key), &key_errors.join("; ")));
        }
        let printed = string_slice("string", values.as_deref());
        let values = values.unwrap_or_default();
        let count_error = match operator {
            Operator::In | Operator::NotIn if values.is_empty() => {
                Some("for 'in', 'notin' operators, values set can't be empty")
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                Some("exact-match compatibility requires one single value")
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                Some("values set must be empty for exists and does not exist")
            }
            Operator::GreaterThan | Operator::LessThan if values.len() != 1 => {
                Some("for 'Gt', 'Lt' operators, exactly one value is required")
            }
            _ => None,
        };
        if let Some(detail) = count_error {
            errors.push(field::invalid("values", &printed, detail));
        }
        if matches!(operator, Operator::GreaterThan | Operator::LessThan) {
            for (index, value) in values.iter().enumerate() {
                if value.parse::<i64>().is_err() {
                    errors.push(field::invalid(
                        &field::index("values", index),
                        &quote(value),
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    ));
                }
            }
        }
        for (index, value) in values.iter().enumerate() {
            let value_errors = label_value_errors(value);
            if !value_errors.is_empty() {
                // Go's path is `values[i][<key>]`.
                errors.push(field::invalid(
                    &format!("values[{index}][{key}]"),
                    &quote(value),
                    &value_errors.join("; "),
                ));
            }
        }
        if errors.is_empty() {
            Ok(Requirement {
                key: key.to_string(),
                operator,
                values,
            })
        } else {
            let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
            Err(aggregate(&messages))
        }
    }

    /// `Requirement.Matches`.
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let present = labels.get(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                present.is_some_and(|v| self.values.contains(v))
            }
            Operator::NotIn | Operator::NotEquals => {
                present.is_none_or(|v| !self.values.contains(v))
            }
            Operator::Exists => present.is_some(),
            Operator::DoesNotExist => present.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(actual), [bound]) = (
                    present.and_then(|v| v.parse::<i64>().ok()),
                    self.values.as_slice(),
                ) else {
                    return false;
                };
                match bound.parse::<i64>() {
                    Ok(bound) if self.operator == Operator::GreaterThan => actual > bound,
                    Ok(bound) => actual < bound,
                    Err(_) => false,
                }
            }
        }
    }
}

/// A selector: `labels.Nothing()` (what a nil `metav1.LabelSelector` becomes) or ANDed
/// requirements, none meaning `labels.Everything()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// `None` is "nothing".
    requirements: Option<Vec<Requirement>>,
}

impl LabelSelector {
    /// Selects every label set.
    pub fn everything() -> LabelSelector {
        LabelSelector {
            requirements: Some(Vec::new()),
        }
    }

    /// The selector of `labelSelector=` (see [`super::parse`]).
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        Ok(LabelSelector {
            requirements: Some(super::parse::requirements(text)?),
        })
    }

    /// `metav1.LabelSelectorAsSelector`: null → nothing, `{}` → everything, otherwise the
    /// ANDed requirements; an error is `NewRequirement`'s (or names an unknown operator). The
    /// object's field types are assumed checked (a wrong type counts as absent).
    pub fn from_value(selector: &Value) -> Result<LabelSelector, String> {
        let object = match selector {
            Value::Null => return Ok(LabelSelector { requirements: None }),
            Value::Object(object) => object,
            other => return Err(format!("label selector must be an object, got {other}")),
        };
        let mut requirements = Vec::new();
        for (key, value) in object
            .get("matchLabels")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let value = value.as_str().unwrap_or_default().to_string();
            requirements.push(Requirement::new(key, Operator::Equals, Some(vec![value]))?);
        }
        for expression in object
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = |field: &str| expression.get(field).and_then(Value::as_str).unwrap_or("");
            let operator = match text("operator") {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(format!(
                        "{} is not a valid label selector operator",
                        quote(other)
                    ));
                }
            };
            // Go copies the values with `append([]string(nil), ...)`: none is a nil slice.
            let values: Vec<String> = expression
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect();
            let values = (!values.is_empty()).then_some(values);
            requirements.push(Requirement::new(text("key"), operator, values)?);
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
        assert_eq!(everything, LabelSelector::everything());
        let also = json!({"matchLabels": {}, "matchExpressions": []});
        assert!(LabelSelector::from_value(&also).unwrap().is_empty());
    }

    #[test]
    fn conversion_errors_are_new_requirements() {
        let err = |selector: Value| LabelSelector::from_value(&selector).unwrap_err();
        assert_eq!(
            err(json!({"matchExpressions": [{"key": "k", "operator": "in", "values": ["a"]}]})),
            "\"in\" is not a valid label selector operator"
        );
        assert_eq!(
            err(json!({"matchExpressions": [{"key": "k", "operator": "In"}]})),
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            err(json!({"matchExpressions": [{"key": "k", "operator": "Exists", "values": ["x"]}]})),
            "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
        );
        assert!(
            err(json!({"matchLabels": {"bad key": "x"}}))
                .starts_with("key: Invalid value: \"bad key\": name part must consist of")
        );
        assert!(
            err(json!({"matchLabels": {"app": "-web-"}}))
                .starts_with("values[0][app]: Invalid value: \"-web-\": a valid label must be")
        );
        // Several problems of one requirement come together.
        let both = err(json!({"matchExpressions": [{"key": "/x", "operator": "In"}]}));
        assert!(
            both.starts_with(
                "[key: Invalid value: \"/x\": prefix part must be non-empty, values: "
            ),
            "{both}"
        );
    }

    #[test]
    fn set_based_and_numeric_requirements_match_as_in_go() {
        let l = labels(&[("k", "5"), ("app", "web")]);
        let requirement = |key: &str, operator, values: &[&str]| {
            let values = values.iter().map(|v| v.to_string()).collect();
            Requirement::new(key, operator, Some(values)).unwrap()
        };
        assert!(requirement("k", Operator::GreaterThan, &["4"]).matches(&l));
        assert!(!requirement("k", Operator::LessThan, &["5"]).matches(&l));
        assert!(!requirement("app", Operator::GreaterThan, &["1"]).matches(&l));
        assert!(requirement("missing", Operator::NotIn, &["x"]).matches(&l));
        assert!(requirement("missing", Operator::NotEquals, &["x"]).matches(&l));
        assert!(!requirement("missing", Operator::In, &["x"]).matches(&l));
        assert_eq!(
            Requirement::new("k", Operator::GreaterThan, Some(vec!["x".into()])).unwrap_err(),
            "values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
    }
}
