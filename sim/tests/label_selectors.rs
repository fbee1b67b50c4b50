//! The simulator's one label-selector implementation against apimachinery's answers
//! (`tests/data/label-selectors.json`, recorded from k8s.io/apimachinery v0.32): every
//! `labelSelector=` query as a list request (the pod is listed, or not, or the 400 message),
//! and every `metav1.LabelSelector` object converted and matched.

mod common;

use std::collections::BTreeMap;

use common::api::raw;
use common::objects::app_pod;
use common::{data, start};
use serde_json::json;
use sim::selectors::LabelSelector;

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn list_queries_select_and_fail_as_kube_apiserver() {
    let recorded = data::json("label-selectors.json");
    let (_sim, client) = start::api().await;
    let pods = "/api/v1/namespaces/default/pods";
    let pod = app_pod("subject", recorded["labels"].clone());
    assert_eq!(raw(&client, "POST", pods, Some(pod)).await.code, 201);
    let mut failures = Vec::new();
    let queries = recorded["queries"].as_array().unwrap();
    for case in queries {
        let query = case["query"].as_str().unwrap();
        let listed = raw(
            &client,
            "GET",
            &format!("{pods}?labelSelector={}", encode(query)),
            None,
        )
        .await;
        let actual = match listed.code {
            200 => {
                json!({"matches": listed.body["items"].as_array().is_some_and(|i| i.len() == 1)})
            }
            400 => json!({"error": listed.body["message"]}),
            other => json!({"code": other, "body": listed.body}),
        };
        let mut expected = case.clone();
        if let Some(fields) = expected.as_object_mut() {
            fields.remove("query");
        }
        if actual != expected {
            failures.push(format!("{query:?}: expected {expected}, got {actual}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries differ:\n{}",
        failures.len(),
        queries.len(),
        failures.join("\n")
    );
}

#[test]
fn selector_objects_convert_and_match_as_apimachinery() {
    let recorded = data::json("label-selectors.json");
    let labels: BTreeMap<String, String> =
        serde_json::from_value(recorded["labels"].clone()).unwrap();
    let mut failures = Vec::new();
    for case in recorded["objects"].as_array().unwrap() {
        let actual = match LabelSelector::from_value(&case["selector"]) {
            Ok(selector) => json!({"matches": selector.matches(&labels)}),
            Err(error) => json!({"error": error}),
        };
        let mut expected = case.clone();
        if let Some(fields) = expected.as_object_mut() {
            fields.remove("selector");
        }
        if actual != expected {
            failures.push(format!(
                "{}: expected {expected}, got {actual}",
                case["selector"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
