//! JSON patch, JSON merge patch, media types and patch options.

mod common;

use common::patch::request;
use serde_json::{Value, json};
use sim::patch::{PatchError, PatchTarget, PatchType, apply_patch};

const CONFIGMAP: PatchTarget<'static> = PatchTarget {
    api_version: "v1",
    kind: "ConfigMap",
    builtin: true,
};

fn configmap() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default", "labels": {"app": "web"}},
        "data": {"mode": "fast", "level": "3"},
    })
}

fn patch(patch_type: PatchType, body: Value) -> Result<Value, PatchError> {
    let body = body.to_string();
    apply_patch(
        &CONFIGMAP,
        Some(&configmap()),
        &request(patch_type, body.as_bytes()),
    )
}

#[test]
fn content_types_ignore_parameters_and_case() {
    let cases = [
        ("application/json-patch+json", Some(PatchType::Json)),
        (
            "application/merge-patch+json; charset=utf-8",
            Some(PatchType::Merge),
        ),
        (
            "Application/Strategic-Merge-Patch+JSON",
            Some(PatchType::StrategicMerge),
        ),
        ("application/apply-patch+yaml", Some(PatchType::Apply)),
        ("application/apply-patch+json", Some(PatchType::Apply)),
        ("application/json", None),
        ("application/apply-patch+cbor", None),
    ];
    for (content_type, expected) in cases {
        assert_eq!(
            PatchType::from_content_type(content_type),
            expected,
            "{content_type}"
        );
    }
}

#[test]
fn merge_patch_sets_labels_and_null_deletes_a_key() {
    let patched = patch(
        PatchType::Merge,
        json!({"metadata": {"labels": {"tier": "front"}}, "data": {"mode": null}}),
    )
    .unwrap();
    assert_eq!(
        patched["metadata"]["labels"],
        json!({"app": "web", "tier": "front"})
    );
    assert_eq!(patched["data"], json!({"level": "3"}));
}

#[test]
fn merge_patch_replaces_lists_whole() {
    let mut current = configmap();
    current["metadata"]["finalizers"] = json!(["a", "b"]);
    let body = json!({"metadata": {"finalizers": ["c"]}}).to_string();
    let patched = apply_patch(
        &CONFIGMAP,
        Some(&current),
        &request(PatchType::Merge, body.as_bytes()),
    )
    .unwrap();
    assert_eq!(patched["metadata"]["finalizers"], json!(["c"]));
}

#[test]
fn merge_patch_that_is_not_an_object_is_bad_request() {
    for body in [json!(["a"]), json!("text"), json!(null), json!(3)] {
        let error = patch(PatchType::Merge, body.clone()).unwrap_err();
        assert!(
            matches!(error, PatchError::BadRequest(_)),
            "{body}: {error:?}"
        );
        assert_eq!(error.code(), 400);
    }
}

#[test]
fn json_patch_operations_apply_in_order() {
    let patched = patch(
        PatchType::Json,
        json!([
            {"op": "test", "path": "/data/mode", "value": "fast"},
            {"op": "replace", "path": "/data/mode", "value": "slow"},
            {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
            {"op": "remove", "path": "/data/level"},
        ]),
    )
    .unwrap();
    assert_eq!(patched["data"], json!({"mode": "slow"}));
    assert_eq!(patched["metadata"]["labels"]["tier"], "front");
}

#[test]
fn json_patch_failed_test_is_invalid_with_the_generic_message() {
    let error = patch(
        PatchType::Json,
        json!([{"op": "test", "path": "/data/mode", "value": "slow"}]),
    )
    .unwrap_err();
    assert!(matches!(error, PatchError::Invalid(_)), "{error:?}");
    assert_eq!(error.code(), 422);
    assert_eq!(
        error.to_string(),
        "the server rejected our request due to an error in our request"
    );
    assert_eq!(error.status()["reason"], "Invalid");
}

#[test]
fn json_patch_on_a_missing_path_is_invalid() {
    let error = patch(
        PatchType::Json,
        json!([{"op": "remove", "path": "/spec/affinity"}]),
    )
    .unwrap_err();
    assert_eq!(error.code(), 422);
}

#[test]
fn json_patch_that_is_not_an_operation_list_is_bad_request() {
    let error = patch(PatchType::Json, json!({"op": "add"})).unwrap_err();
    assert_eq!(error.code(), 400);
}

#[test]
fn patch_of_a_missing_object_is_not_found() {
    let body = br#"{"data":{"a":"b"}}"#;
    let error = apply_patch(&CONFIGMAP, None, &request(PatchType::Merge, body)).unwrap_err();
    assert!(matches!(error, PatchError::NotFound));
    assert_eq!(error.code(), 404);
}

#[test]
fn force_on_a_non_apply_patch_is_invalid() {
    let body = br#"{"data":{"a":"b"}}"#;
    let mut request = request(PatchType::Merge, body);
    request.force = true;
    let error = apply_patch(&CONFIGMAP, Some(&configmap()), &request).unwrap_err();
    assert_eq!(
        error.to_string(),
        "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for \
         non-apply patch"
    );
    assert_eq!(error.code(), 422);
}

#[test]
fn patch_cannot_rename_the_object() {
    let error = patch(PatchType::Merge, json!({"metadata": {"name": "other"}})).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the name of the object (other) does not match the name on the URL (settings)"
    );
}

#[test]
fn patch_keeps_api_version_and_kind() {
    let patched = patch(PatchType::Merge, json!({"kind": null, "apiVersion": "v2"})).unwrap();
    assert_eq!(patched["kind"], "ConfigMap");
    assert_eq!(patched["apiVersion"], "v1");
}

#[test]
fn merge_patch_with_a_field_manager_records_an_update_entry() {
    let mut current = configmap();
    current["metadata"]["managedFields"] = json!([{
        "manager": "kubectl-create",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2024-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {".": {}, "f:level": {}, "f:mode": {}}},
    }]);
    let body = br#"{"metadata":{"labels":{"tier":"front"}},"data":{"mode":"slow"}}"#;
    let mut request = request(PatchType::Merge, body);
    request.field_manager = Some("kubectl-label");
    request.now = "2024-02-03T04:05:06.7Z".parse().unwrap();
    let patched = apply_patch(&CONFIGMAP, Some(&current), &request).unwrap();
    assert_eq!(
        patched["metadata"]["managedFields"],
        json!([
            {
                "manager": "kubectl-create",
                "operation": "Update",
                "apiVersion": "v1",
                "time": "2024-01-01T00:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:level": {}}},
            },
            {
                "manager": "kubectl-label",
                "operation": "Update",
                "apiVersion": "v1",
                "time": "2024-02-03T04:05:06Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {"f:mode": {}}, "f:metadata": {"f:labels": {"f:tier": {}}}},
            },
        ])
    );
}
