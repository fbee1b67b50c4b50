//! Kubernetes selectors in query strings: the `labelSelector=` and `fieldSelector=` syntax
//! (k8s.io/apimachinery `labels.Parse`, `fields.ParseSelector`). `metav1.LabelSelector` objects
//! are matched by `admission::label_selector`.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    GreaterThan(String, i64),
    LessThan(String, i64),
}

/// A parsed `labelSelector` query parameter. All requirements must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelQuery {
    requirements: Vec<Requirement>,
}

impl LabelQuery {
    /// Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h,i>1`.
    pub fn parse(text: &str) -> Result<LabelQuery, String> {
        let mut requirements = Vec::new();
        for term in split_terms(text) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(term)?);
        }
        Ok(LabelQuery { requirements })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements
            .iter()
            .all(|requirement| match requirement {
                Requirement::Equals(k, v) => labels.get(k) == Some(v),
                Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
                Requirement::In(k, values) => {
                    labels.get(k).is_some_and(|value| values.contains(value))
                }
                Requirement::NotIn(k, values) => {
                    labels.get(k).is_none_or(|value| !values.contains(value))
                }
                Requirement::Exists(k) => labels.contains_key(k),
                Requirement::DoesNotExist(k) => !labels.contains_key(k),
                Requirement::GreaterThan(k, n) => labels
                    .get(k)
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v > *n),
                Requirement::LessThan(k, n) => labels
                    .get(k)
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v < *n),
            })
    }
}

/// Splits on commas outside parentheses (`a in (x,y),b` is two terms).
fn split_terms(text: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    terms
}

fn parse_requirement(term: &str) -> Result<Requirement, String> {
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(valid_key(key.trim())?));
    }
    for (operator, build) in [
        (
            "!=",
            Requirement::NotEquals as fn(String, String) -> Requirement,
        ),
        ("==", Requirement::Equals),
        ("=", Requirement::Equals),
    ] {
        if let Some((key, value)) = term.split_once(operator) {
            return Ok(build(valid_key(key.trim())?, value.trim().to_string()));
        }
    }
    for (operator, greater) in [(">", true), ("<", false)] {
        if let Some((key, value)) = term.split_once(operator) {
            let key = valid_key(key.trim())?;
            let number = value.trim().parse::<i64>().map_err(|_| {
                format!("invalid label selector {term:?}: {value:?} is not an integer")
            })?;
            return Ok(if greater {
                Requirement::GreaterThan(key, number)
            } else {
                Requirement::LessThan(key, number)
            });
        }
    }
    let words: Vec<&str> = term.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words.as_slice() {
        let rest = rest.trim();
        let (negate, set) = if let Some(set) = rest.strip_prefix("notin") {
            (true, set)
        } else if let Some(set) = rest.strip_prefix("in") {
            (false, set)
        } else {
            return Err(format!("unable to parse requirement: {term:?}"));
        };
        let set = set.trim();
        let inner = set
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .ok_or_else(|| {
                format!("unable to parse requirement: {term:?}: expected a parenthesised set")
            })?;
        let values: Vec<String> = inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        let key = valid_key(key)?;
        return Ok(if negate {
            Requirement::NotIn(key, values)
        } else {
            Requirement::In(key, values)
        });
    }
    Ok(Requirement::Exists(valid_key(term)?))
}

fn valid_key(key: &str) -> Result<String, String> {
    let ok = !key.is_empty()
        && key.len() <= 317
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(key.to_string())
    } else {
        Err(format!("invalid label key {key:?}"))
    }
}

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

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_query_syntax() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
        for (query, expected) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app=web,tier=back", false),
            ("tier in (front,back)", true),
            ("tier notin (front)", false),
            ("missing notin (x)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("n>4", true),
            ("n<5", false),
            ("app in (web, api),tier", true),
            ("", true),
        ] {
            assert_eq!(
                LabelQuery::parse(query).unwrap().matches(&l),
                expected,
                "{query}"
            );
        }
        assert!(LabelQuery::parse("app in web").is_err());
        assert!(LabelQuery::parse("a b c").is_err());
        assert!(LabelQuery::parse("bad key=x").is_err());
    }

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
