//! Patches captured from the real kubectl v1.32 (`tests/data/patch/`), replayed on the object
//! kubectl saw.

mod common;

use common::data;
use common::patch::{DEPLOYMENT, request};
use serde_json::{Value, json};
use sim::patch::{PatchRequest, PatchTarget, PatchType, apply_patch};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `tests/data/patch/<name>`.
fn captured(name: &str) -> Value {
    data::json(&format!("patch/{name}"))
}

/// The query parameters of a captured request path.
fn query(capture: &Value, name: &str) -> Option<String> {
    let path = capture["path"].as_str().unwrap();
    let (_, query) = path.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn replay(target: &PatchTarget<'_>, current: Option<&Value>, capture: &Value) -> Value {
    let patch_type =
        PatchType::from_content_type(capture["contentType"].as_str().unwrap()).unwrap();
    let manager = query(capture, "fieldManager");
    let request = PatchRequest {
        field_manager: manager.as_deref(),
        force: query(capture, "force").as_deref() == Some("true"),
        now: "2024-06-01T12:00:00Z".parse().unwrap(),
        ..request(patch_type, capture["body"].as_str().unwrap().as_bytes())
    };
    apply_patch(target, current, &request).unwrap_or_else(|error| panic!("{error:?}"))
}

fn container(object: &Value) -> &Value {
    &object["spec"]["template"]["spec"]["containers"][0]
}

fn managers(object: &Value) -> Vec<(String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|entry| {
                    let text = |name: &str| entry[name].as_str().unwrap().to_owned();
                    (text("manager"), text("operation"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kubectl_client_side_apply_updates_image_env_and_annotation() {
    let live = captured("live.json");
    let capture = captured("client-side-apply.json");
    assert_eq!(
        capture["contentType"],
        "application/strategic-merge-patch+json"
    );
    let patched = replay(&DEPLOYMENT, Some(&live), &capture);

    let mut expected = live.clone();
    let web = &mut expected["spec"]["template"]["spec"]["containers"][0];
    web["image"] = json!("nginx:1.26");
    web["env"] = json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]);
    let recorded = patched["metadata"]["annotations"][LAST_APPLIED].clone();
    expected["metadata"]["annotations"][LAST_APPLIED] = recorded.clone();
    // The stored object was never tracked, so it stays untracked (as upstream's
    // skipNonAppliedManager does): no managedFields appear.
    assert_eq!(patched, expected);

    let recorded: Value = serde_json::from_str(recorded.as_str().unwrap()).unwrap();
    assert_eq!(
        recorded["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.26"
    );
}

#[test]
fn kubectl_set_image_changes_only_the_image() {
    let live = captured("live.json");
    let patched = replay(&DEPLOYMENT, Some(&live), &captured("set-image.json"));
    assert_eq!(container(&patched)["image"], "nginx:1.27");
    assert_eq!(container(&patched)["env"], container(&live)["env"]);
    assert_eq!(container(&patched)["imagePullPolicy"], "IfNotPresent");
}

#[test]
fn kubectl_label_adds_a_label() {
    let live = captured("live.json");
    let patched = replay(&DEPLOYMENT, Some(&live), &captured("label.json"));
    assert_eq!(patched["metadata"]["labels"], json!({"tier": "front"}));
    assert_eq!(patched["spec"], live["spec"]);
}

#[test]
fn kubectl_scale_patches_the_scale_subresource() {
    let capture = captured("scale.json");
    assert!(
        capture["path"]
            .as_str()
            .unwrap()
            .ends_with("/deployments/web/scale")
    );
    let target = PatchTarget {
        api_version: "autoscaling/v1",
        kind: "Scale",
        builtin: true,
    };
    let scale = json!({
        "apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2}, "status": {"replicas": 2},
    });
    let patched = replay(&target, Some(&scale), &capture);
    assert_eq!(patched["spec"]["replicas"], 3);
}

#[test]
fn kubectl_server_side_apply_takes_over_from_client_side_apply() {
    let live = captured("live.json");
    let capture = captured("server-side-apply.json");
    assert_eq!(capture["contentType"], "application/apply-patch+yaml");
    assert_eq!(query(&capture, "fieldManager").as_deref(), Some("kubectl"));
    // The object has no managedFields: its fields go to before-first-apply, and the values the
    // last-applied annotation records may be taken over without force.
    let applied = replay(&DEPLOYMENT, Some(&live), &capture);
    assert_eq!(container(&applied)["image"], "nginx:1.26");
    assert_eq!(
        container(&applied)["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    );
    assert_eq!(container(&applied)["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        managers(&applied),
        [
            ("kubectl".to_owned(), "Apply".to_owned()),
            ("before-first-apply".to_owned(), "Update".to_owned()),
        ]
    );
    // The annotation follows the server-side applied configuration.
    let recorded: Value = serde_json::from_str(
        applied["metadata"]["annotations"][LAST_APPLIED]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let body: Value = serde_json::from_str(capture["body"].as_str().unwrap()).unwrap();
    assert_eq!(recorded, body);

    // kubectl then records the annotation under its own manager. It sends the annotation of the
    // object the first apply returned; the capture server returned the stale object, so put the
    // refreshed value in.
    let mut capture = captured("server-side-apply-last-applied.json");
    assert_eq!(
        query(&capture, "fieldManager").as_deref(),
        Some("kubectl-last-applied")
    );
    let mut body: Value = serde_json::from_str(capture["body"].as_str().unwrap()).unwrap();
    body["metadata"]["annotations"][LAST_APPLIED] =
        applied["metadata"]["annotations"][LAST_APPLIED].clone();
    capture["body"] = json!(body.to_string());
    let annotated = replay(&DEPLOYMENT, Some(&applied), &capture);
    assert_eq!(annotated["spec"], applied["spec"]);
    assert!(
        managers(&annotated).contains(&("kubectl-last-applied".to_owned(), "Apply".to_owned()))
    );
}

#[test]
fn kubectl_server_side_apply_creates_a_missing_object() {
    let capture = captured("server-side-apply.json");
    let created = replay(&DEPLOYMENT, None, &capture);
    assert_eq!(created["metadata"]["name"], "web");
    assert_eq!(container(&created)["image"], "nginx:1.26");
    assert_eq!(
        managers(&created),
        [("kubectl".to_owned(), "Apply".to_owned())]
    );
}
