//! The other built-in admission plugins of a default kube-apiserver v1.32 that change pods:
//! Priority (`plugin/pkg/admission/priority`; no PriorityClass objects are served here, so only
//! the two built-in classes resolve) and DefaultTolerationSeconds
//! (`plugin/pkg/admission/defaulttolerationseconds`).

use serde_json::{Value, json};

use super::fields::{Object, child, text};
use super::service_account::forbidden;
use crate::status::ApiError;

/// Built-in PriorityClasses: (name, value).
const SYSTEM_PRIORITY_CLASSES: [(&str, i64); 2] = [
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];
const PREEMPT_LOWER_PRIORITY: &str = "PreemptLowerPriority";
const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// Priority on create: a pod without `priorityClassName` gets priority 0 (no class is the
/// global default); a named class must exist; a `priority` or `preemptionPolicy` given by the
/// client must agree with the class.
pub fn priority_on_create(display_name: &str, pod: &mut Object) -> Result<(), ApiError> {
    let Some(spec) = child(pod, "spec") else {
        return Ok(());
    };
    let class = text(spec, "priorityClassName").to_string();
    let priority = if class.is_empty() {
        0
    } else {
        SYSTEM_PRIORITY_CLASSES
            .iter()
            .find(|(name, _)| *name == class)
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                forbidden(
                    display_name,
                    &format!("no PriorityClass with name {class} was found"),
                )
            })?
    };
    if let Some(given) = spec.get("priority").filter(|p| !p.is_null())
        && given.as_i64() != Some(priority)
    {
        return Err(forbidden(
            display_name,
            &format!(
                "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
            ),
        ));
    }
    spec.insert("priority".into(), json!(priority));
    let policy = text(spec, "preemptionPolicy").to_string();
    if !policy.is_empty() && policy != PREEMPT_LOWER_PRIORITY {
        return Err(forbidden(
            display_name,
            &format!(
                "the string value of PreemptionPolicy ({policy}) must not be provided in pod spec; priority admission controller computed {PREEMPT_LOWER_PRIORITY} from the given PriorityClass name"
            ),
        ));
    }
    spec.insert("preemptionPolicy".into(), json!(PREEMPT_LOWER_PRIORITY));
    Ok(())
}

/// Priority on update: what was set on create is kept when the new object leaves it out.
pub fn priority_on_update(current: &Value, updated: &mut Object) {
    let Some(spec) = child(updated, "spec") else {
        return;
    };
    for key in ["priority", "preemptionPolicy"] {
        if super::fields::is_unset(spec, key)
            && let Some(old) = current.pointer(&format!("/spec/{key}"))
        {
            spec.insert(key.into(), old.clone());
        }
    }
}

/// DefaultTolerationSeconds (create and update): tolerate the not-ready and unreachable
/// NoExecute taints for 300 s unless the pod already tolerates them.
pub fn default_toleration_seconds(pod: &mut Object) {
    let Some(spec) = child(pod, "spec") else {
        return;
    };
    let tolerations: Vec<Value> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let tolerates = |taint: &str| {
        tolerations.iter().any(|toleration| {
            let key = toleration.get("key").and_then(Value::as_str).unwrap_or("");
            let effect = toleration
                .get("effect")
                .and_then(Value::as_str)
                .unwrap_or("");
            (key == taint || key.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        })
    };
    let mut added = Vec::new();
    for taint in [NOT_READY_TAINT, UNREACHABLE_TAINT] {
        if !tolerates(taint) {
            added.push(json!({
                "key": taint,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
    if added.is_empty() {
        return;
    }
    let mut all = tolerations;
    all.extend(added);
    spec.insert("tolerations".into(), Value::Array(all));
}
