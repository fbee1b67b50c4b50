//! The view must give the same `Workload` as the `k8s-openapi` types for every object.

use std::path::Path;

use serde_json::{Value, json};

use super::decode;
use crate::manifest::read_documents;
use crate::workload::{Workload, WorkloadError, WorkloadKind};

/// Both decodings of one object, which must agree.
fn both(kind: WorkloadKind, value: &Value) -> (Option<Workload>, Workload) {
    let text = value.to_string();
    let typed = Workload::from_value(kind, value).unwrap();
    (decode(kind, &text), typed)
}

fn assert_same(what: &str, value: &Value) {
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    let kind = value["kind"].as_str().unwrap_or_default();
    let kind = WorkloadKind::from_type(api_version, kind).unwrap();
    let (viewed, typed) = both(kind, value);
    assert_eq!(viewed.as_ref(), Some(&typed), "{what}");
}

#[test]
fn every_fixture_workload_decodes_as_its_k8s_openapi_type_does() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut seen = 0;
    for folder in ["workloads", "children", "owners"] {
        for document in read_documents(&fixtures.join(folder)).unwrap() {
            assert_same(&document.origin.to_string(), &document.value);
            seen += 1;
        }
    }
    for entry in std::fs::read_dir(fixtures.join("admission-reviews")).unwrap() {
        let path = entry.unwrap().path();
        let review: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for field in ["object", "oldObject"] {
            let object = &review["request"][field];
            let kind = object["kind"].as_str().unwrap_or_default();
            let api_version = object["apiVersion"].as_str().unwrap_or_default();
            if WorkloadKind::from_type(api_version, kind).is_some() {
                assert_same(&format!("{} {field}", path.display()), object);
                seen += 1;
            }
        }
    }
    // Every kind, and the reviews' objects, were compared.
    assert!(seen >= 16, "only {seen} objects compared");
}

/// A Deployment as kube-apiserver sends it in a review: defaulted, with managedFields and a
/// status, strings with escapes, and every container list.
fn apiserver_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "team-a", "uid": "1f0d4c57-8e1a-4a52-9c55-0a9b4b6a1e3d",
            "generation": 1, "creationTimestamp": "2026-12-03T10:00:00Z", "resourceVersion": "812",
            "labels": {"app": "web", "quote\"d": "tab\tvalue"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"apps/v1\"}\n"},
            "ownerReferences": [{"apiVersion": "example.com/v1", "kind": "App", "name": "web", "uid": "0b6c", "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1", "time": "2026-12-03T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}],
        },
        "spec": {
            "replicas": 3, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "initContainers": [{"name": "migrate", "image": "gcr.io/company/production-repository/migrations:5", "resources": {}}],
                    "containers": [
                        {"name": "web", "image": "nginx\u{3a}1.27", "ports": [{"containerPort": 80, "protocol": "TCP"}], "resources": {"limits": {"memory": "256Mi"}}, "terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent"},
                        {"name": "escaped\u{e9}", "image": "registry.example.com/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
                        {"name": "no-image"},
                    ],
                    "ephemeralContainers": [{"name": "debugger", "image": "busybox"}],
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                },
            },
        },
        "status": {"replicas": 3, "conditions": [{"type": "Available", "status": "True"}]},
    })
}

#[test]
fn an_object_as_the_api_server_sends_it_keeps_what_decisions_read() {
    let value = apiserver_deployment();
    assert_same("the API server's Deployment", &value);
    let workload = decode(WorkloadKind::Deployment, &value.to_string()).unwrap();
    let meta = workload.metadata();
    assert_eq!(meta.name.as_deref(), Some("web"));
    assert_eq!(
        meta.uid.as_deref(),
        Some("1f0d4c57-8e1a-4a52-9c55-0a9b4b6a1e3d")
    );
    assert_eq!(workload.labels()["quote\"d"], "tab\tvalue");
    assert!(meta.managed_fields.is_none() && meta.annotations.is_none());
    let images: Vec<Option<&str>> = workload.declared().map(|d| d.image).collect();
    assert_eq!(images[1], Some("nginx:1.27"));
    assert_eq!(images.len(), 5);
    assert_eq!(images[3], None);
    // The image written with an escape is decoded, not borrowed, and still the same.
    let escaped = value.to_string().replace("nginx:1.27", "nginx\\u003a1.27");
    assert_eq!(decode(WorkloadKind::Deployment, &escaped), Some(workload));
}

#[test]
fn nulls_and_missing_parts_read_as_the_typed_objects_read_them() {
    let cases = [
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": null}, "spec": {"containers": [{"name": "c", "image": "nginx"}], "initContainers": null}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": null}]}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"}, "spec": {"selector": {}}}),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}}}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {"schedule": "* * * * *", "jobTemplate": {}}}),
        json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}),
    ];
    for value in cases {
        assert_same(&value.to_string(), &value);
    }
}

#[test]
fn what_the_view_cannot_read_is_reported_by_field_through_the_typed_object() {
    let text = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": 7}]}}).to_string();
    assert_eq!(decode(WorkloadKind::Pod, &text), None);
    match Workload::from_json(WorkloadKind::Pod, &text) {
        Err(WorkloadError::Malformed { field, .. }) => {
            assert_eq!(field, "spec.containers[0].image")
        }
        other => panic!("expected a malformed Pod, got {other:?}"),
    }
    let duplicated = r#"{"metadata": {"name": "a", "name": "b"}}"#;
    assert_eq!(decode(WorkloadKind::Pod, duplicated), None);
    assert!(matches!(
        Workload::from_json(WorkloadKind::Pod, "{not json"),
        Err(WorkloadError::Malformed { .. })
    ));
}
