//! `metadata.managedFields` bookkeeping for creates, updates and non-apply patches.

mod common;

use common::patch::{DEPLOYMENT, at};
use serde_json::{Value, json};
use sim::patch::{PatchError, PatchRequest, PatchType, apply_patch, record_managed_fields};

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
            },
        },
    })
}

fn request<'a>(
    patch_type: PatchType,
    body: &'a str,
    manager: &'a str,
    now: &str,
) -> PatchRequest<'a> {
    PatchRequest {
        field_manager: Some(manager),
        now: at(now),
        ..common::patch::request(patch_type, body.as_bytes())
    }
}

#[test]
fn create_records_an_update_entry_like_kube_apiserver() {
    let mut object = deployment();
    record_managed_fields(
        &DEPLOYMENT,
        None,
        &mut object,
        "kubectl-create",
        at("2024-01-01T00:00:00Z"),
    );
    assert_eq!(
        object["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": "2024-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                // Maps absent from the Go zero value are owned themselves ("."); the
                // metadata, spec and template structs and the null containers list are not.
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                            ".": {}, "f:image": {}, "f:name": {},
                        }}},
                    },
                },
            },
        }])
    );
}

#[test]
fn update_of_an_untracked_object_stays_untracked() {
    let old = deployment();
    let mut new = deployment();
    new["spec"]["replicas"] = json!(3);
    record_managed_fields(
        &DEPLOYMENT,
        Some(&old),
        &mut new,
        "kubectl-edit",
        at("2024-01-01T00:00:00Z"),
    );
    assert!(new["metadata"].get("managedFields").is_none());
}

#[test]
fn update_without_changes_keeps_the_entry_time() {
    let mut old = deployment();
    record_managed_fields(
        &DEPLOYMENT,
        None,
        &mut old,
        "kubectl-create",
        at("2024-01-01T00:00:00Z"),
    );
    let mut new = old.clone();
    record_managed_fields(
        &DEPLOYMENT,
        Some(&old),
        &mut new,
        "kubectl-create",
        at("2024-09-09T00:00:00Z"),
    );
    assert_eq!(new, old);
}

#[test]
fn patch_by_another_manager_takes_the_field_and_then_conflicts_with_apply() {
    let manifest = deployment().to_string();
    let applied = apply_patch(
        &DEPLOYMENT,
        None,
        &request(
            PatchType::Apply,
            &manifest,
            "kubectl",
            "2024-01-01T00:00:00Z",
        ),
    )
    .unwrap();
    let edited = apply_patch(
        &DEPLOYMENT,
        Some(&applied),
        &request(
            PatchType::Merge,
            r#"{"spec":{"replicas":4}}"#,
            "kubectl-edit",
            "2024-02-01T00:00:00Z",
        ),
    )
    .unwrap();
    let entries = edited["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(entries[0]["manager"], "kubectl");
    assert!(entries[0]["fieldsV1"]["f:spec"].get("f:replicas").is_none());
    assert_eq!(entries[1]["manager"], "kubectl-edit");
    assert_eq!(
        entries[1]["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}}})
    );

    // Re-applying the old replicas now conflicts with the editor.
    let error = apply_patch(
        &DEPLOYMENT,
        Some(&edited),
        &request(
            PatchType::Apply,
            &manifest,
            "kubectl",
            "2024-03-01T00:00:00Z",
        ),
    )
    .unwrap_err();
    let PatchError::Conflict { message, fields } = error else {
        panic!("expected a conflict");
    };
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        fields,
        [("kubectl-edit".to_owned(), ".spec.replicas".to_owned())]
    );
}

#[test]
fn conflicts_with_several_fields_are_listed_per_manager() {
    let manifest = deployment().to_string();
    let applied = apply_patch(
        &DEPLOYMENT,
        None,
        &request(
            PatchType::Apply,
            &manifest,
            "kubectl",
            "2024-01-01T00:00:00Z",
        ),
    )
    .unwrap();
    let mut changed = deployment();
    changed["spec"]["replicas"] = json!(9);
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    let error = apply_patch(
        &DEPLOYMENT,
        Some(&applied),
        &request(
            PatchType::Apply,
            &changed.to_string(),
            "ci",
            "2024-02-01T00:00:00Z",
        ),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"kubectl\":\n- .spec.replicas\n- \
         .spec.template.spec.containers[name=\"web\"].image"
    );
}
