//! Server-side apply: create, re-apply, pruning, conflicts, force, managedFields.

mod common;

use common::patch::{DEPLOYMENT, at, request};
use serde_json::{Value, json};
use sim::patch::{PatchError, PatchRequest, PatchTarget, PatchType, apply_patch};

const MANIFEST: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels:
    app: web
    tier: front
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
";

fn apply(
    current: Option<&Value>,
    body: &str,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, PatchError> {
    let request = PatchRequest {
        field_manager: Some(manager),
        force,
        now: at(now),
        ..request(PatchType::Apply, body.as_bytes())
    };
    apply_patch(&DEPLOYMENT, current, &request)
}

fn created() -> Value {
    apply(None, MANIFEST, "kubectl", false, "2024-01-01T00:00:00Z").unwrap()
}

fn entries(object: &Value) -> &Vec<Value> {
    object["metadata"]["managedFields"].as_array().unwrap()
}

#[test]
fn apply_creates_the_object_with_an_apply_entry() {
    let object = created();
    assert_eq!(object["spec"]["replicas"], 2);
    assert_eq!(
        object["metadata"]["labels"],
        json!({"app": "web", "tier": "front"})
    );
    assert_eq!(
        object["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": "2024-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                            ".": {},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                ".": {},
                                "f:containerPort": {},
                            }},
                        }}},
                    },
                },
            },
        }])
    );
}

#[test]
fn json_body_is_accepted_like_yaml() {
    let body = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"}, "spec": {"replicas": 1},
    })
    .to_string();
    let object = apply(None, &body, "kube-rs", false, "2024-01-01T00:00:00Z").unwrap();
    assert_eq!(object["spec"]["replicas"], 1);
    assert_eq!(entries(&object)[0]["manager"], "kube-rs");
}

#[test]
fn reapplying_the_same_configuration_changes_nothing() {
    let object = created();
    let again = apply(
        Some(&object),
        MANIFEST,
        "kubectl",
        false,
        "2024-05-05T00:00:00Z",
    )
    .unwrap();
    assert_eq!(again, object);
}

#[test]
fn reapplying_without_a_label_removes_it() {
    let object = created();
    let manifest = MANIFEST.replace("    tier: front\n", "");
    let again = apply(
        Some(&object),
        &manifest,
        "kubectl",
        false,
        "2024-05-05T00:00:00Z",
    )
    .unwrap();
    assert_eq!(again["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(entries(&again)[0]["time"], "2024-05-05T00:00:00Z");
    assert!(
        entries(&again)[0]["fieldsV1"]["f:metadata"]["f:labels"]
            .get("f:tier")
            .is_none()
    );
}

#[test]
fn reapplying_without_replicas_removes_them_but_keeps_unowned_fields() {
    let mut object = created();
    // A field nobody applied (set by a controller, untracked) survives the prune.
    object["spec"]["progressDeadlineSeconds"] = json!(600);
    let manifest = MANIFEST.replace("  replicas: 2\n", "");
    let again = apply(
        Some(&object),
        &manifest,
        "kubectl",
        false,
        "2024-05-05T00:00:00Z",
    )
    .unwrap();
    assert!(again["spec"].get("replicas").is_none());
    assert_eq!(again["spec"]["progressDeadlineSeconds"], 600);
}

#[test]
fn reapplying_without_a_container_removes_it() {
    let two = MANIFEST.replace(
        "        - containerPort: 80\n",
        "        - containerPort: 80\n      - name: log\n        image: busybox\n",
    );
    let object = apply(None, &two, "kubectl", false, "2024-01-01T00:00:00Z").unwrap();
    assert_eq!(
        object["spec"]["template"]["spec"]["containers"][1]["name"],
        "log"
    );
    let again = apply(
        Some(&object),
        MANIFEST,
        "kubectl",
        false,
        "2024-02-01T00:00:00Z",
    )
    .unwrap();
    let containers = again["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["name"], "web");
}

#[test]
fn missing_field_manager_is_invalid() {
    let request = request(PatchType::Apply, MANIFEST.as_bytes());
    let error = apply_patch(&DEPLOYMENT, None, &request).unwrap_err();
    assert_eq!(error.code(), 422);
    assert_eq!(
        error.to_string(),
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for \
         apply patch"
    );
}

#[test]
fn configuration_of_another_kind_is_bad_request() {
    let body = MANIFEST.replace("kind: Deployment", "kind: StatefulSet");
    let error = apply(None, &body, "kubectl", false, "2024-01-01T00:00:00Z").unwrap_err();
    assert_eq!(error.code(), 400);
    assert_eq!(
        error.to_string(),
        "invalid object type: apps/v1, Kind=StatefulSet"
    );
}

#[test]
fn configuration_with_managed_fields_is_bad_request() {
    let body = MANIFEST.replace("  namespace: default\n", "  managedFields: []\n");
    let error = apply(None, &body, "kubectl", false, "2024-01-01T00:00:00Z").unwrap_err();
    assert_eq!(error.to_string(), "metadata.managedFields must be nil");
}

#[test]
fn malformed_yaml_is_bad_request() {
    let error = apply(None, "a: [b", "kubectl", false, "2024-01-01T00:00:00Z").unwrap_err();
    assert_eq!(error.code(), 400);
    assert!(error.to_string().starts_with("error decoding YAML"));
}

#[test]
fn conflict_when_another_applier_owns_replicas_with_another_value() {
    let object = created();
    let scaler =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 5\n";
    let error = apply(
        Some(&object),
        scaler,
        "autoscaler",
        false,
        "2024-02-01T00:00:00Z",
    )
    .unwrap_err();
    let PatchError::Conflict { message, fields } = &error else {
        panic!("expected a conflict, got {error:?}");
    };
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"
    );
    assert_eq!(
        fields,
        &vec![("kubectl".to_owned(), ".spec.replicas".to_owned())]
    );
    assert_eq!(error.code(), 409);
    assert_eq!(
        error.status()["details"]["causes"][0]["field"],
        ".spec.replicas"
    );
}

#[test]
fn same_value_from_another_applier_is_shared_not_a_conflict() {
    let object = created();
    let same =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n";
    let shared = apply(Some(&object), same, "other", false, "2024-02-01T00:00:00Z").unwrap();
    assert_eq!(shared["spec"], object["spec"]);
    let managers: Vec<&str> = entries(&shared)
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["other", "kubectl"]);
}

#[test]
fn conflict_with_an_update_manager_names_its_api_version() {
    let mut object = created();
    object["spec"]["replicas"] = json!(3);
    let mut entries = entries(&object).clone();
    entries.push(json!({
        "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
        "time": "2024-01-02T00:00:00Z", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}},
    }));
    object["metadata"]["managedFields"] = json!(entries);
    let manifest = MANIFEST.replace("replicas: 2", "replicas: 4");
    let error = apply(
        Some(&object),
        &manifest,
        "kubectl",
        false,
        "2024-02-01T00:00:00Z",
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: \
         .spec.replicas"
    );
}

#[test]
fn force_takes_over_the_conflicting_field() {
    let object = created();
    let scaler =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 5\n";
    let taken = apply(
        Some(&object),
        scaler,
        "autoscaler",
        true,
        "2024-02-01T00:00:00Z",
    )
    .unwrap();
    assert_eq!(taken["spec"]["replicas"], 5);
    let by_manager = |name: &str| {
        entries(&taken)
            .iter()
            .find(|e| e["manager"] == name)
            .unwrap()["fieldsV1"]
            .clone()
    };
    assert_eq!(
        by_manager("autoscaler"),
        json!({"f:spec": {"f:replicas": {}}})
    );
    assert!(by_manager("kubectl")["f:spec"].get("f:replicas").is_none());
    // The first applier dropping replicas later does not remove the autoscaler's value.
    let manifest = MANIFEST.replace("  replicas: 2\n", "");
    let again = apply(
        Some(&taken),
        &manifest,
        "kubectl",
        false,
        "2024-03-01T00:00:00Z",
    )
    .unwrap();
    assert_eq!(again["spec"]["replicas"], 5);
}

#[test]
fn object_without_managed_fields_belongs_to_before_first_apply() {
    let mut object = created();
    object["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("managedFields");
    let manifest = MANIFEST.replace("replicas: 2", "replicas: 3");
    let error = apply(
        Some(&object),
        &manifest,
        "kubectl",
        false,
        "2024-02-01T00:00:00Z",
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: \
         .spec.replicas"
    );
}

#[test]
fn kubectl_takes_over_fields_recorded_in_last_applied_configuration() {
    // Created by client-side apply: owned by kubectl-client-side-apply, annotated.
    let last = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"annotations": {}, "name": "web", "namespace": "default"},
        "spec": {"replicas": 2},
    });
    let annotation = "kubectl.kubernetes.io/last-applied-configuration";
    let object = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "default",
            "annotations": {annotation: format!("{last}\n")},
            "managedFields": [{
                "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
                "time": "2024-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, format!("f:{annotation}"): {}}},
                             "f:spec": {"f:replicas": {}}},
            }],
        },
        "spec": {"replicas": 2},
    });
    let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  replicas: 3\n";
    let upgraded = apply(
        Some(&object),
        manifest,
        "kubectl",
        false,
        "2024-02-01T00:00:00Z",
    )
    .unwrap();
    assert_eq!(upgraded["spec"]["replicas"], 3);
    // The annotation now records the server-side applied configuration.
    let recorded: Value = serde_json::from_str(
        upgraded["metadata"]["annotations"][annotation]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(recorded["spec"]["replicas"], 3);
    // Another manager would still conflict.
    let error = apply(
        Some(&object),
        manifest,
        "other",
        false,
        "2024-02-01T00:00:00Z",
    )
    .unwrap_err();
    assert_eq!(error.code(), 409);
}

#[test]
fn custom_resource_lists_are_atomic_and_maps_merge() {
    let target = PatchTarget {
        api_version: "example.com/v1",
        kind: "Widget",
        builtin: false,
    };
    let run = |current: Option<&Value>, body: &str, manager: &str| {
        let request = PatchRequest {
            field_manager: Some(manager),
            now: at("2024-01-01T00:00:00Z"),
            ..request(PatchType::Apply, body.as_bytes())
        };
        apply_patch(&target, current, &request)
    };
    let first = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  items: [a, b]\n  size: 1\n";
    let object = run(None, first, "one").unwrap();
    assert_eq!(
        entries(&object)[0]["fieldsV1"],
        json!({"f:spec": {"f:items": {}, "f:size": {}}})
    );
    let second =
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  color: red\n";
    let merged = run(Some(&object), second, "two").unwrap();
    assert_eq!(
        merged["spec"],
        json!({"items": ["a", "b"], "size": 1, "color": "red"})
    );
    let third = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  items: [c]\n  size: 1\n";
    let replaced = run(Some(&merged), third, "one").unwrap();
    assert_eq!(replaced["spec"]["items"], json!(["c"]));
}

#[test]
fn keyed_list_items_merge_with_other_managers_items() {
    let object = created();
    let sidecar = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: proxy
        image: envoy:1
";
    let merged = apply(
        Some(&object),
        sidecar,
        "mesh",
        false,
        "2024-02-01T00:00:00Z",
    )
    .unwrap();
    let names: Vec<&str> = merged["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "proxy"]);
    // kubectl re-applying its manifest keeps the sidecar it does not own.
    let again = apply(
        Some(&merged),
        MANIFEST,
        "kubectl",
        false,
        "2024-03-01T00:00:00Z",
    )
    .unwrap();
    assert_eq!(
        again["spec"]["template"]["spec"]["containers"],
        merged["spec"]["template"]["spec"]["containers"]
    );
}
