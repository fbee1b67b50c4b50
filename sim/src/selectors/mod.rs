//! Kubernetes selectors. Label selectors have one implementation (`labels`), whichever way
//! they come: `labelSelector=` in a query (`parse`, apimachinery's `labels.Parse`) or a
//! `metav1.LabelSelector` object (`LabelSelector::from_value`, `LabelSelectorAsSelector`),
//! which the API validates with `validation`. Field selectors (`fieldSelector=`) are below.

mod labels;
mod parse;
pub mod validation;

pub use labels::{LabelSelector, Operator, Requirement};

use serde_json::Value;

/// A parsed `fieldSelector`: `path=value` and `path!=value` terms over the object's fields
/// (`metadata.name`, `metadata.namespace`, `involvedObject.uid`, `spec.nodeName`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldQuery {
    terms: Vec<(String, bool, String)>,
}

impl FieldQuery {
    pub fn parse(text: &str) -> Result<FieldQuery, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (path, equal, value) = if let Some((path, value)) = term.split_once("!=") {
                (path, false, value)
            } else if let Some((path, value)) = term.split_once("==") {
                (path, true, value)
            } else if let Some((path, value)) = term.split_once('=') {
                (path, true, value)
            } else {
                return Err(format!(
                    "invalid selector: '{term}'; can't understand '{term}'"
                ));
            };
            terms.push((path.trim().to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldQuery { terms })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|(path, equal, expected)| {
            let pointer = format!("/{}", path.replace('.', "/"));
            let actual = match object.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == *expected) == *equal
        })
    }

    /// The value required for `metadata.name`, if the query pins it (lets `get` shortcut).
    pub fn pinned_name(&self) -> Option<&str> {
        self.terms
            .iter()
            .find(|(path, equal, _)| path == "metadata.name" && *equal)
            .map(|(_, _, value)| value.as_str())
    }
}

/// A LabelSelector's `matchLabels` as `k=v,k2=v2` (what Scale and `kubectl get -o wide` show).
pub fn match_labels_text(selector: &Value) -> Option<String> {
    let labels = selector.get("matchLabels")?.as_object()?;
    Some(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(","),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_query_matches_dotted_paths() {
        let object = json!({"metadata": {"name": "web", "namespace": "default"}, "involvedObject": {"uid": "u1"}});
        assert!(
            FieldQuery::parse("metadata.name=web,metadata.namespace!=kube-system")
                .unwrap()
                .matches(&object)
        );
        assert!(
            !FieldQuery::parse("metadata.name=api")
                .unwrap()
                .matches(&object)
        );
        assert!(
            FieldQuery::parse("involvedObject.uid=u1")
                .unwrap()
                .matches(&object)
        );
        assert_eq!(
            FieldQuery::parse("metadata.name=web")
                .unwrap()
                .pinned_name(),
            Some("web")
        );
        assert!(FieldQuery::parse("nonsense").is_err());
    }
}
