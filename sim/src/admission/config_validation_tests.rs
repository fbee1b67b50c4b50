//! Unit tests for `config_validation`: the update rules (ratcheting, generation) and the rule
//! checks. Whole requests against kube-apiserver's recorded answers are in
//! `sim/tests/admission_config_validation.rs`.

use serde_json::json;

use super::*;
use crate::catalogue::Catalogue;

fn info(resource: &str) -> ResourceInfo {
    Catalogue::default()
        .get(GROUP, "v1", resource)
        .expect("the catalogue serves webhook configurations")
}

fn hook(fields: Value) -> Value {
    let mut hook = json!({"name": "a.example.com", "clientConfig": {"url": "https://x"},
        "sideEffects": "None", "admissionReviewVersions": ["v1"]});
    for (key, value) in fields.as_object().into_iter().flatten() {
        hook[key] = value.clone();
    }
    hook
}

fn fields(error: &ApiError) -> Vec<String> {
    error.details.as_ref().map_or_else(Vec::new, |details| {
        details["causes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|cause| cause["field"].as_str().unwrap_or("").to_string())
            .collect()
    })
}

#[test]
fn create_defaults_in_place_and_other_kinds_pass() {
    let vwc = info("validatingwebhookconfigurations");
    let mut object = json!({"metadata": {"name": "c"}, "webhooks": [hook(json!({}))]});
    assert_eq!(prepare_create(&vwc, "c", &mut object), Ok(()));
    assert_eq!(object["webhooks"][0]["timeoutSeconds"], 10);
    let pods = Catalogue::default().get("", "v1", "pods").unwrap();
    let mut pod = json!({"webhooks": "not checked"});
    assert_eq!(prepare_create(&pods, "p", &mut pod), Ok(()));
    assert_eq!(pod, json!({"webhooks": "not checked"}));
}

#[test]
fn updates_bump_generation_only_when_webhooks_change() {
    let mwc = info("mutatingwebhookconfigurations");
    let mut old =
        json!({"metadata": {"name": "c", "generation": 3}, "webhooks": [hook(json!({}))]});
    prepare_create(&mwc, "c", &mut old).unwrap();
    let mut same = json!({"metadata": {"name": "c", "generation": 3, "labels": {"a": "b"}},
                          "webhooks": [hook(json!({}))]});
    prepare_update(&mwc, "c", &old, &mut same).unwrap();
    assert_eq!(
        same["metadata"]["generation"], 3,
        "defaults alone are no change"
    );
    assert_eq!(same["webhooks"][0]["reinvocationPolicy"], "Never");
    let mut changed = json!({"metadata": {"name": "c", "generation": 3},
                             "webhooks": [hook(json!({"timeoutSeconds": 5}))]});
    prepare_update(&mwc, "c", &old, &mut changed).unwrap();
    assert_eq!(changed["metadata"]["generation"], 4);
}

#[test]
fn updates_keep_what_the_stored_object_already_breaks() {
    let vwc = info("validatingwebhookconfigurations");
    // Only objects stored before today's rules could hold these; build one directly.
    let old = json!({"webhooks": [
        hook(json!({"name": "dup.example.com", "sideEffects": "Some",
                    "admissionReviewVersions": ["v0"],
                    "objectSelector": {"matchExpressions": [{"key": "k", "operator": "In", "values": ["bad value"]}]}})),
        hook(json!({"name": "dup.example.com"})),
    ]});
    let mut new = old.clone();
    assert_eq!(prepare_update(&vwc, "c", &old, &mut new), Ok(()));
    let mut from_valid = old.clone();
    let error = prepare_create(&vwc, "c", &mut from_valid).unwrap_err();
    assert_eq!(
        fields(&error),
        [
            "webhooks[0].sideEffects",
            "webhooks[0].objectSelector.matchExpressions[0].values[0]",
            "webhooks[0].admissionReviewVersions",
            "webhooks[1].name",
        ]
    );
}

#[test]
fn resource_wildcards() {
    let messages = |resources: &[&str]| -> Vec<String> {
        let resources: Vec<String> = resources.iter().map(|r| r.to_string()).collect();
        validate_resources(&resources, "r")
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert!(messages(&["pods", "pods/status"]).is_empty());
    assert!(messages(&["*/*"]).is_empty());
    // Go overwrites its "a resource without subresource" flag: the order decides.
    assert!(messages(&["pods", "*"]).is_empty());
    assert_eq!(
        messages(&["*", "pods"]),
        [
            "r: Invalid value: []string{\"*\", \"pods\"}: if '*' is present, must not specify other resources without subresources"
        ]
    );
    assert_eq!(
        messages(&["pods/*", "pods/status"]),
        [
            "r[1]: Invalid value: \"pods/status\": if 'pods/*' is present, must not specify pods/status"
        ]
    );
    assert_eq!(
        messages(&["*/status", "pods/status"]),
        [
            "r[1]: Invalid value: \"pods/status\": if '*/status' is present, must not specify pods/status"
        ]
    );
    assert_eq!(messages(&[]), ["r: Required value"]);
    assert_eq!(messages(&[""]), ["r[0]: Required value"]);
}
