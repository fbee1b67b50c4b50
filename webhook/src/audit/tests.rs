use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::*;
use crate::policy::{ContainerAdmissionPolicy, PolicySet};
use crate::scan::NoScanData;
use crate::workload::ControllerIdentities;

fn metadata(name: &str, uid: &str, owner: Option<(&str, &str, &str, &str)>) -> Value {
    let mut metadata =
        json!({"name": name, "namespace": "team-a", "uid": uid, "labels": {"app": name}});
    if let Some((api_version, kind, owner_name, owner_uid)) = owner {
        metadata["ownerReferences"] = json!([{
            "apiVersion": api_version, "kind": kind, "name": owner_name, "uid": owner_uid,
            "controller": true,
        }]);
    }
    metadata
}

fn template(image: &str) -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}})
}

fn deployment(name: &str, uid: &str, image: &str) -> AuditObject {
    let object: Deployment = serde_json::from_value(json!({
        "metadata": metadata(name, uid, None),
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template(image)},
    }))
    .unwrap();
    AuditObject {
        api_version: "apps/v1".into(),
        workload: object.into(),
    }
}

fn replica_set(name: &str, uid: &str, owner: (&str, &str), image: &str) -> AuditObject {
    let object: ReplicaSet = serde_json::from_value(json!({
        "metadata": metadata(name, uid, Some(("apps/v1", "Deployment", owner.0, owner.1))),
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template(image)},
    }))
    .unwrap();
    AuditObject {
        api_version: "apps/v1".into(),
        workload: object.into(),
    }
}

fn pod(name: &str, owner: Option<(&str, &str, &str, &str)>, image: &str) -> AuditObject {
    let object: Pod = serde_json::from_value(json!({
        "metadata": metadata(name, &format!("uid-{name}"), owner),
        "spec": {"containers": [{"name": "web", "image": image}]},
    }))
    .unwrap();
    AuditObject {
        api_version: "v1".into(),
        workload: object.into(),
    }
}

fn names(objects: &[&AuditObject]) -> Vec<String> {
    objects
        .iter()
        .map(|object| format!("{}/{}", object.kind(), object.name()))
        .collect()
}

/// A Deployment, its ReplicaSet and two Pods, plus a bare Pod.
fn family() -> Vec<AuditObject> {
    vec![
        deployment("web", "uid-web", "nginx:1.27"),
        replica_set("web-5d9", "uid-rs", ("web", "uid-web"), "nginx:1.27"),
        pod(
            "web-5d9-a",
            Some(("apps/v1", "ReplicaSet", "web-5d9", "uid-rs")),
            "nginx:1.27",
        ),
        pod(
            "web-5d9-b",
            Some(("apps/v1", "ReplicaSet", "web-5d9", "uid-rs")),
            "nginx:1.27",
        ),
        pod("debug", None, "busybox"),
    ]
}

#[test]
fn children_of_existing_controllers_are_reported_through_them() {
    let objects = family();
    assert_eq!(names(&roots(&objects)), ["Deployment/web", "Pod/debug"]);
}

#[test]
fn a_child_whose_owner_is_gone_or_not_pod_creating_is_its_own_root() {
    let objects = vec![
        // The ReplicaSet was deleted (orphaned pods keep their reference).
        pod(
            "orphan",
            Some(("apps/v1", "ReplicaSet", "gone", "uid-gone")),
            "nginx",
        ),
        // Owned by something that creates no pods of its kind.
        pod(
            "custom",
            Some(("example.com/v1", "Rollout", "r", "uid-r")),
            "nginx",
        ),
    ];
    assert_eq!(names(&roots(&objects)), ["Pod/orphan", "Pod/custom"]);
}

#[test]
fn an_owner_recreated_under_the_same_name_does_not_claim_old_children() {
    let objects = vec![
        replica_set("web-5d9", "uid-new", ("web", "uid-web"), "nginx"),
        pod(
            "web-5d9-a",
            Some(("apps/v1", "ReplicaSet", "web-5d9", "uid-old")),
            "nginx",
        ),
    ];
    // The ReplicaSet's own owner (the Deployment) is absent, so it is a root too.
    assert_eq!(
        names(&roots(&objects)),
        ["ReplicaSet/web-5d9", "Pod/web-5d9-a"]
    );
}

fn reject_nginx() -> PolicySet {
    let policy: ContainerAdmissionPolicy = serde_json::from_value(json!({
        "apiVersion": "containersecurity.tigera.io/v1beta1", "kind": "ContainerAdmissionPolicy",
        "metadata": {"name": "no-nginx"},
        "spec": {"rules": [
            {"action": "Allow", "imagePath": {"operator": "IsOneOf", "values": ["busybox"]}},
            {"action": "Reject", "imagePath": {"operator": "IsOneOf", "values": ["nginx"]}},
        ]},
    }))
    .unwrap();
    PolicySet::compile([&policy])
}

fn run(objects: &[AuditObject], namespaces: &[&str]) -> (AuditOutcome, Vec<Progress>) {
    let policies = reject_nginx();
    let identities = ControllerIdentities::default();
    let context = Context {
        policies: &policies,
        scans: &NoScanData,
        now: jiff::Timestamp::from_second(1_800_000_000).unwrap(),
        identities: &identities,
    };
    let namespaces: BTreeMap<String, BTreeMap<String, String>> = namespaces
        .iter()
        .map(|name| (name.to_string(), BTreeMap::new()))
        .collect();
    let mut progress = Vec::new();
    let outcome = audit(&context, &namespaces, objects, &mut |step| {
        progress.push(step)
    });
    (outcome, progress)
}

#[test]
fn a_rejected_deployment_is_one_violation_however_many_pods_it_has() {
    let (outcome, progress) = run(&family(), &["team-a"]);
    assert_eq!(outcome.evaluated, 2);
    assert_eq!(outcome.through_owner, 3);
    assert_eq!(outcome.violations.len(), 1, "{:?}", outcome.violations);
    let violation = &outcome.violations[0];
    assert_eq!(
        (
            violation.kind,
            violation.name.as_str(),
            violation.container.as_str(),
            violation.image.as_str(),
            violation.policy.as_str(),
            violation.rule_index,
            violation.enforcement,
            violation.status,
        ),
        (
            WorkloadKind::Deployment,
            "web",
            "web",
            "nginx:1.27",
            "no-nginx",
            Some(1),
            Enforcement::Enforce,
            ScanStatus::Unknown
        )
    );
    assert_eq!(
        violation.message,
        "image \"nginx:1.27\" (container \"web\"): Action 'Reject' enforced by ContainerPolicy no-nginx rule index 1"
    );
    assert!(outcome.rejects_anything());
    assert_eq!(progress.last(), Some(&Progress { done: 2, total: 2 }));
    assert_eq!(
        objects_per_policy(&outcome.violations).get("no-nginx"),
        Some(&1)
    );
}

#[test]
fn objects_outside_the_covered_namespaces_are_not_audited() {
    let (outcome, progress) = run(&family(), &["team-b"]);
    assert_eq!(outcome, AuditOutcome::default());
    assert!(progress.is_empty());
}

#[test]
fn an_unparsable_image_is_an_error_of_its_object() {
    let (outcome, _) = run(&[pod("bad", None, "UPPER/Case::x")], &["team-a"]);
    assert!(outcome.violations.is_empty());
    assert_eq!(outcome.errors.len(), 1);
    assert_eq!(outcome.errors[0].name, "bad");
    assert!(outcome.rejects_anything());
}

#[test]
fn violations_per_policy_count_objects_not_images() {
    let mut two_containers = deployment("web", "uid-web", "nginx");
    let second: Deployment = serde_json::from_value(json!({
        "metadata": metadata("web", "uid-web", None),
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {"containers": [
            {"name": "a", "image": "nginx"}, {"name": "b", "image": "nginx:2"}]}}},
    }))
    .unwrap();
    two_containers.workload = second.into();
    let (outcome, _) = run(&[two_containers, pod("solo", None, "nginx")], &["team-a"]);
    assert_eq!(outcome.violations.len(), 3);
    assert_eq!(
        objects_per_policy(&outcome.violations),
        BTreeMap::from([("no-nginx".to_string(), 2)])
    );
}
