//! apps/v1 defaults (kube v1.32 `pkg/apis/apps/v1/defaults.go`, with the feature gates of a
//! default v1.32 kube-apiserver: StatefulSetAutoDeletePVC on, MaxUnavailableStatefulSet off).

use serde_json::json;

use super::core::{claim_template, pod_template};
use super::fields::{Object, child, child_or_empty, default_unset, default_zero, items, text};

fn template(spec: &mut Object) {
    if let Some(template) = child(spec, "template") {
        pod_template(template);
    }
}

pub fn deployment(object: &mut Object) {
    let Some(spec) = child(object, "spec") else {
        return;
    };
    default_unset(spec, "replicas", json!(1));
    if let Some(strategy) = child_or_empty(spec, "strategy") {
        default_zero(strategy, "type", json!("RollingUpdate"));
        if text(strategy, "type") == "RollingUpdate"
            && let Some(rolling) = child_or_empty(strategy, "rollingUpdate")
        {
            default_unset(rolling, "maxUnavailable", json!("25%"));
            default_unset(rolling, "maxSurge", json!("25%"));
        }
    }
    default_unset(spec, "revisionHistoryLimit", json!(10));
    default_unset(spec, "progressDeadlineSeconds", json!(600));
    template(spec);
}

pub fn daemon_set(object: &mut Object) {
    let Some(spec) = child(object, "spec") else {
        return;
    };
    if let Some(strategy) = child_or_empty(spec, "updateStrategy") {
        default_zero(strategy, "type", json!("RollingUpdate"));
        if text(strategy, "type") == "RollingUpdate"
            && let Some(rolling) = child_or_empty(strategy, "rollingUpdate")
        {
            default_unset(rolling, "maxUnavailable", json!(1));
            default_unset(rolling, "maxSurge", json!(0));
        }
    }
    default_unset(spec, "revisionHistoryLimit", json!(10));
    template(spec);
}

pub fn stateful_set(object: &mut Object) {
    let Some(spec) = child(object, "spec") else {
        return;
    };
    default_zero(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(strategy) = child_or_empty(spec, "updateStrategy") {
        if super::fields::is_zero(strategy, "type") {
            strategy.insert("type".into(), json!("RollingUpdate"));
            default_unset(strategy, "rollingUpdate", json!({}));
        }
        if text(strategy, "type") == "RollingUpdate"
            && let Some(rolling) = child(strategy, "rollingUpdate")
        {
            default_unset(rolling, "partition", json!(0));
        }
    }
    if let Some(policy) = child_or_empty(spec, "persistentVolumeClaimRetentionPolicy") {
        default_zero(policy, "whenDeleted", json!("Retain"));
        default_zero(policy, "whenScaled", json!("Retain"));
    }
    default_unset(spec, "replicas", json!(1));
    default_unset(spec, "revisionHistoryLimit", json!(10));
    template(spec);
    for claim in items(spec, "volumeClaimTemplates") {
        claim_template(claim);
    }
}

pub fn replica_set(object: &mut Object) {
    let Some(spec) = child(object, "spec") else {
        return;
    };
    default_unset(spec, "replicas", json!(1));
    template(spec);
}

/// The status a new object starts with: the Go zero value, whose fields without `omitempty`
/// are written.
pub fn initial_status(resource: &str) -> Option<serde_json::Value> {
    Some(match resource {
        "deployments" => json!({}),
        "replicasets" => json!({"replicas": 0}),
        "statefulsets" => json!({"replicas": 0, "availableReplicas": 0}),
        "daemonsets" => json!({
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0,
        }),
        _ => return None,
    })
}

/// The v1 form of a DaemonSet's internal `templateGeneration`.
const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

fn template_generation(object: &serde_json::Value) -> i64 {
    object
        .pointer("/metadata/annotations")
        .and_then(|annotations| annotations.get(TEMPLATE_GENERATION_ANNOTATION))
        .and_then(serde_json::Value::as_str)
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

fn set_template_generation(object: &mut Object, generation: i64) {
    if let Some(annotations) = child_or_empty(object, "metadata")
        .and_then(|metadata| child_or_empty(metadata, "annotations"))
    {
        annotations.insert(
            TEMPLATE_GENERATION_ANNOTATION.into(),
            json!(generation.to_string()),
        );
    }
}

/// A new DaemonSet's template generation is at least 1.
pub fn daemon_set_create(object: &mut Object) {
    let generation = template_generation(&serde_json::Value::Object(object.clone())).max(1);
    set_template_generation(object, generation);
}

/// The template generation cannot be set by a client; it goes up when the template changes.
pub fn daemon_set_update(current: &serde_json::Value, updated: &mut Object) {
    let mut generation = template_generation(current);
    if current.pointer("/spec/template")
        != updated.get("spec").and_then(|spec| spec.get("template"))
    {
        generation += 1;
    }
    set_template_generation(updated, generation);
}
