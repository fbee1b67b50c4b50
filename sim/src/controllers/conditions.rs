//! Status conditions of the workload kinds, kept as JSON so one helper serves every kind's
//! condition type (ReplicaSetCondition, DeploymentCondition, JobCondition, ...).

use serde_json::{Value, json};

/// A condition to set: `lastTransitionTime` (and `lastUpdateTime` where the kind has one) are
/// filled in by [`set`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl Condition {
    pub fn new(type_: &str, status: bool, reason: &str, message: impl Into<String>) -> Condition {
        Condition {
            type_: type_.into(),
            status: if status { "True" } else { "False" }.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// Existing conditions (any serializable condition list) as JSON.
pub fn from_typed<T: serde::Serialize>(conditions: Option<&Vec<T>>) -> Vec<Value> {
    conditions
        .map(|list| {
            list.iter()
                .filter_map(|condition| serde_json::to_value(condition).ok())
                .collect()
        })
        .unwrap_or_default()
}

pub fn get<'a>(conditions: &'a [Value], type_: &str) -> Option<&'a Value> {
    conditions
        .iter()
        .find(|condition| condition["type"].as_str() == Some(type_))
}

pub fn field<'a>(condition: &'a Value, name: &str) -> &'a str {
    condition[name].as_str().unwrap_or_default()
}

/// kube's `SetCondition`: an unchanged status and reason keep the condition as it is (times
/// included); a changed status moves `lastTransitionTime`; `lastUpdateTime` (Deployments) moves
/// on any change.
pub fn set(conditions: &mut Vec<Value>, new: Condition, now: &str, with_update_time: bool) {
    let position = conditions
        .iter()
        .position(|condition| condition["type"].as_str() == Some(new.type_.as_str()));
    let mut transition = now.to_string();
    if let Some(index) = position {
        let old = &conditions[index];
        if field(old, "status") == new.status
            && field(old, "reason") == new.reason
            && field(old, "message") == new.message
        {
            return;
        }
        if field(old, "status") == new.status {
            transition = field(old, "lastTransitionTime").to_string();
        }
    }
    let value = condition_value(new, &transition, now, with_update_time);
    match position {
        Some(index) => conditions[index] = value,
        None => conditions.push(value),
    }
}

/// The Deployment controller's `SetDeploymentCondition` (and the ReplicaSet controller's
/// `SetCondition`): an unchanged status and reason keep the condition (a new message alone does
/// not count); otherwise the condition is taken out and appended, so the list is in the order
/// of the latest changes, as `kubectl describe` shows it.
pub fn set_last(conditions: &mut Vec<Value>, new: Condition, now: &str, with_update_time: bool) {
    let old = get(conditions, &new.type_).cloned();
    if let Some(old) = &old
        && field(old, "status") == new.status
        && field(old, "reason") == new.reason
    {
        return;
    }
    remove(conditions, &new.type_);
    let transition = match &old {
        Some(old) if field(old, "status") == new.status => field(old, "lastTransitionTime"),
        _ => now,
    };
    let value = condition_value(new, transition, now, with_update_time);
    conditions.push(value);
}

fn condition_value(new: Condition, transition: &str, now: &str, with_update_time: bool) -> Value {
    let mut value = json!({
        "type": new.type_,
        "status": new.status,
        "reason": new.reason,
        "message": new.message,
        "lastTransitionTime": transition,
    });
    if with_update_time {
        value["lastUpdateTime"] = json!(now);
    }
    value
}

pub fn remove(conditions: &mut Vec<Value>, type_: &str) {
    conditions.retain(|condition| condition["type"].as_str() != Some(type_));
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_deployment_condition_that_changes_moves_to_the_end_and_a_new_message_alone_does_not() {
        let mut conditions = Vec::new();
        let condition = |type_: &str, status: bool, reason: &str, message: &str| {
            Condition::new(type_, status, reason, message.to_string())
        };
        set_last(
            &mut conditions,
            condition("Progressing", true, "NewReplicaSetCreated", "a"),
            "t1",
            true,
        );
        set_last(
            &mut conditions,
            condition("Available", false, "MinimumReplicasUnavailable", "b"),
            "t1",
            true,
        );
        set_last(
            &mut conditions,
            condition("Progressing", true, "NewReplicaSetAvailable", "c"),
            "t2",
            true,
        );
        set_last(
            &mut conditions,
            condition("Available", false, "MinimumReplicasUnavailable", "other"),
            "t3",
            true,
        );
        let order: Vec<(&str, &str)> = conditions
            .iter()
            .map(|c| (field(c, "type"), field(c, "message")))
            .collect();
        assert_eq!(order, [("Available", "b"), ("Progressing", "c")]);
        // The same status keeps its transition time.
        assert_eq!(field(&conditions[1], "lastTransitionTime"), "t1");
        assert_eq!(field(&conditions[1], "lastUpdateTime"), "t2");
    }
    use super::*;

    #[test]
    fn setting_keeps_unchanged_conditions_and_transition_times() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            Condition::new("Available", false, "MinimumReplicasUnavailable", "short"),
            "t1",
            true,
        );
        set(
            &mut conditions,
            Condition::new("Available", false, "MinimumReplicasUnavailable", "short"),
            "t2",
            true,
        );
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0]["lastUpdateTime"], "t1");
        set(
            &mut conditions,
            Condition::new("Available", false, "Other", "short"),
            "t3",
            true,
        );
        assert_eq!(conditions[0]["lastTransitionTime"], "t1");
        assert_eq!(conditions[0]["lastUpdateTime"], "t3");
        set(
            &mut conditions,
            Condition::new("Available", true, "MinimumReplicasAvailable", "ok"),
            "t4",
            false,
        );
        assert_eq!(conditions[0]["lastTransitionTime"], "t4");
        assert_eq!(conditions[0]["status"], "True");
        remove(&mut conditions, "Available");
        assert!(get(&conditions, "Available").is_none());
    }
}
