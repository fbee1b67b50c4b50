//! Every case of `tests/data/webhook-match-examples.json` (a verbatim copy of
//! `shared/testdata/webhook-match-examples.json`): one test per top-level section, each listing
//! all failing case ids before failing.

use std::collections::BTreeMap;

use serde_json::Value;
use sim::admission::label_selector::{LabelSelector, validate_label_selector};
use sim::admission::matching::{MatchOutcome, RequestAttributes, apply_defaults, matches};

fn examples() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/webhook-match-examples.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn cases<'a>(section: &'a Value, list: &str) -> &'a [Value] {
    let cases = section[list].as_array().unwrap();
    assert!(!cases.is_empty(), "{list} has no cases");
    cases
}

fn labels(value: &Value) -> Option<BTreeMap<String, String>> {
    value.as_object().map(|map| {
        map.iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect()
    })
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_default()
}

/// Runs one webhookMatch case; `Err` describes a mismatch.
fn check_match_case(case: &Value) -> Result<(), String> {
    let request = &case["request"];
    let namespace_labels = labels(&request["namespaceLabels"]);
    let object_labels = labels(&request["objectLabels"]);
    let old_object_labels = labels(&request["oldObjectLabels"]);
    let equivalents: Vec<(String, String, String)> = request["equivalentResources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|gvr| {
            let field = |f| text(gvr, f).to_string();
            (field("group"), field("version"), field("resource"))
        })
        .collect();
    let kind = &request["kind"];
    let (group, version, resource) = (
        text(request, "group"),
        text(request, "version"),
        text(request, "resource"),
    );
    let namespace = text(request, "namespace");
    let attributes = RequestAttributes {
        operation: text(request, "operation"),
        group,
        version,
        resource,
        subresource: text(request, "subresource"),
        namespace,
        namespace_labels: namespace_labels.as_ref(),
        object_labels: object_labels.as_ref(),
        old_object_labels: old_object_labels.as_ref(),
        kind: kind.is_object().then(|| {
            (
                text(kind, "group"),
                text(kind, "version"),
                text(kind, "kind"),
            )
        }),
        equivalent_resources: &equivalents,
        // The JSON does not state it; derived as kube-apiserver's scope check does.
        cluster_scoped: request["clusterScoped"].as_bool().unwrap_or(
            namespace.is_empty() || (group, version, resource) == ("", "v1", "namespaces"),
        ),
    };
    let mut webhook = case["webhook"].clone();
    apply_defaults(&mut webhook);
    let actual = matches(&webhook, &attributes);

    let expected_error = &case["expectError"];
    if !expected_error.is_null() && expected_error != &Value::Bool(false) {
        let wanted = expected_error
            .as_str()
            .or_else(|| expected_error["message"].as_str())
            .unwrap_or_default();
        return match &actual {
            MatchOutcome::Error(message) if message.contains(wanted) => Ok(()),
            other => Err(format!("expected error {expected_error}, got {other:?}")),
        };
    }
    let expected = match case["expectCalled"].as_bool() {
        Some(false) => MatchOutcome::NotCalled,
        Some(true) => {
            let invocation = &case["expectInvocation"];
            let source = if invocation.is_object() {
                invocation
            } else {
                request
            };
            MatchOutcome::Called {
                group: text(source, "group").to_string(),
                version: text(source, "version").to_string(),
                resource: text(source, "resource").to_string(),
                subresource: text(source, "subresource").to_string(),
            }
        }
        None => return Err("case has neither expectCalled nor expectError".to_string()),
    };
    if actual == expected {
        Ok(())
    } else {
        Err(format!("expected {expected:?}, got {actual:?}"))
    }
}

#[test]
fn webhook_match_section() {
    let examples = examples();
    let cases = cases(&examples["webhookMatch"], "cases");
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases {
        checked += 1;
        if let Err(why) = check_match_case(case) {
            failures.push(format!("{}: {why}", text(case, "id")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(checked, cases.len());
}

/// `expected` is a substring of one of `errors`.
fn contains(errors: &[String], expected: &str) -> bool {
    errors.iter().any(|error| error.contains(expected))
}

#[test]
fn label_selector_section() {
    let examples = examples();
    let section = &examples["labelSelector"];
    let mut failures = Vec::new();
    let mut checked = 0;

    for case in cases(section, "cases") {
        checked += 1;
        let labels = labels(&case["labels"]).unwrap();
        let expected = case["expect"].as_bool().unwrap();
        match LabelSelector::from_value(&case["selector"]) {
            Ok(selector) if selector.matches(&labels) == expected => {}
            other => failures.push(format!(
                "{}: expected {expected}, got {other:?}",
                text(case, "id")
            )),
        }
    }
    for case in cases(section, "invalid") {
        checked += 1;
        let id = text(case, "id");
        let selector = &case["selector"];
        let errors = validate_label_selector(selector);
        match case["apiValidationError"].as_str() {
            Some(expected) if !contains(&errors, expected) => {
                failures.push(format!("{id}: validation {errors:?} lacks {expected:?}"));
            }
            None if errors.is_empty() => failures.push(format!("{id}: validation accepted it")),
            _ => {}
        }
        // null: upstream's runtime error is not pinned; Go still rejects such keys and values.
        let runtime = LabelSelector::from_value(selector);
        match (case["labelSelectorAsSelectorError"].as_str(), &runtime) {
            (Some(expected), Err(error)) if !error.contains(expected) => {
                failures.push(format!("{id}: runtime error {error:?} lacks {expected:?}"));
            }
            (_, Ok(_)) => failures.push(format!("{id}: runtime conversion accepted it")),
            _ => {}
        }
    }
    for case in cases(section, "validEdgeCases") {
        checked += 1;
        let id = text(case, "id");
        let errors = validate_label_selector(&case["selector"]);
        if !errors.is_empty() {
            failures.push(format!("{id}: validation rejected it: {errors:?}"));
        }
        if let Err(error) = LabelSelector::from_value(&case["selector"]) {
            failures.push(format!("{id}: runtime conversion rejected it: {error}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let total: usize = ["cases", "invalid", "validEdgeCases"]
        .iter()
        .map(|list| cases(section, list).len())
        .sum();
    assert_eq!(checked, total);
}
