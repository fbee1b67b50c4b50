//! batch/v1 defaults (kube v1.32 `pkg/apis/batch/v1/defaults.go`, JobPodReplacementPolicy on)
//! and the Job registry's selector generation on create (`pkg/registry/batch/job/strategy.go`).

use serde_json::{Value, json};

use super::core::pod_template;
use super::fields::{Object, child, child_or_empty, default_unset, default_zero, is_unset};

pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";

pub fn job(object: &mut Object) {
    let template_labels = object
        .get("spec")
        .and_then(|spec| spec.pointer("/template/metadata/labels"))
        .and_then(Value::as_object)
        .filter(|labels| !labels.is_empty())
        .cloned();
    let Some(spec) = child(object, "spec") else {
        return;
    };
    if is_unset(spec, "completions") && is_unset(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
    }
    default_unset(spec, "parallelism", json!(1));
    if is_unset(spec, "backoffLimit") {
        let limit = if is_unset(spec, "backoffLimitPerIndex") {
            6
        } else {
            i64::from(i32::MAX)
        };
        spec.insert("backoffLimit".into(), json!(limit));
    }
    default_unset(spec, "completionMode", json!("NonIndexed"));
    default_unset(spec, "suspend", json!(false));
    let has_failure_policy = !is_unset(spec, "podFailurePolicy");
    if let Some(policy) = child(spec, "podFailurePolicy") {
        for rule in super::fields::items(policy, "rules") {
            for pattern in super::fields::items(rule, "onPodConditions") {
                default_zero(pattern, "status", json!("True"));
            }
        }
    }
    let replacement = if has_failure_policy {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    default_unset(spec, "podReplacementPolicy", json!(replacement));
    default_unset(spec, "manualSelector", json!(false));
    if let Some(template) = child(spec, "template") {
        pod_template(template);
    }
    // A Job without labels of its own carries its template's.
    if let Some(labels) = template_labels
        && let Some(metadata) = child_or_empty(object, "metadata")
        && metadata
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(Object::is_empty)
    {
        metadata.insert("labels".into(), Value::Object(labels));
    }
}

/// `generateSelector`: unless `manualSelector` is true, the template gets the job-name and
/// controller-uid labels (those the client did not set) and the selector the controller-uid.
pub fn job_create(object: &mut Object) {
    let metadata_field = |key: &str| {
        object
            .get("metadata")
            .and_then(|metadata| metadata.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (name, uid) = (metadata_field("name"), metadata_field("uid"));
    let Some(spec) = child(object, "spec") else {
        return;
    };
    if spec.get("manualSelector") == Some(&json!(true)) {
        return;
    }
    if let Some(labels) = child_or_empty(spec, "template")
        .and_then(|template| child_or_empty(template, "metadata"))
        .and_then(|metadata| child_or_empty(metadata, "labels"))
    {
        for key in [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL] {
            labels.entry(key).or_insert_with(|| json!(name));
        }
        for key in [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL] {
            labels.entry(key).or_insert_with(|| json!(uid));
        }
    }
    if let Some(match_labels) = child_or_empty(spec, "selector")
        .and_then(|selector| child_or_empty(selector, "matchLabels"))
    {
        match_labels
            .entry(CONTROLLER_UID_LABEL)
            .or_insert_with(|| json!(uid));
    }
}

pub fn cron_job(object: &mut Object) {
    let Some(spec) = child(object, "spec") else {
        return;
    };
    default_zero(spec, "concurrencyPolicy", json!("Allow"));
    default_unset(spec, "suspend", json!(false));
    default_unset(spec, "successfulJobsHistoryLimit", json!(3));
    default_unset(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(job_template) = child(spec, "jobTemplate") {
        if let Some(metadata) = child_or_empty(job_template, "metadata") {
            metadata.entry("creationTimestamp").or_insert(Value::Null);
        }
        if let Some(template) = child(job_template, "spec").and_then(|s| child(s, "template")) {
            pod_template(template);
        }
    }
}
