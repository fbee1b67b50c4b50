//! The Deployment's status (`calculateStatus`, `syncRolloutStatus`): replica counts from its
//! ReplicaSets, the `Available` and `Progressing` conditions, and the ReplicaSets'
//! `ReplicaFailure` copied up.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use serde_json::{Map, Value, json};

use super::conditions::{self, Condition};
use super::{Context, SyncError, resource_of, status};

/// What this sync did, for the `Progressing` condition.
pub struct Progress<'a> {
    /// The ReplicaSet this sync created.
    pub created: Option<&'a str>,
    /// The name of the current template's ReplicaSet, if there is one.
    pub new_rs: Option<&'a str>,
    pub complete: bool,
    /// Some ReplicaSet was scaled.
    pub progressed: bool,
    pub deadline_seconds: i32,
}

/// Sets `Progressing`: created, progressing, complete, or stuck past the deadline; returns
/// when to look again for the deadline.
pub fn progressing(
    conditions: &mut Vec<Value>,
    progress: &Progress,
    now: &str,
) -> Option<Duration> {
    let rs_name = progress.new_rs.unwrap_or_default();
    if let Some(created) = progress.created {
        conditions::set_last(
            conditions,
            Condition::new(
                "Progressing",
                true,
                "NewReplicaSetCreated",
                format!("Created new replica set {created:?}"),
            ),
            now,
            true,
        );
    } else if progress.complete {
        conditions::set_last(
            conditions,
            Condition::new(
                "Progressing",
                true,
                "NewReplicaSetAvailable",
                format!("ReplicaSet {rs_name:?} has successfully progressed."),
            ),
            now,
            true,
        );
    } else if progress.progressed && progress.new_rs.is_some() {
        let previous = conditions::get(conditions, "Progressing").cloned();
        // Progress always rewrites the condition, the same reason included.
        conditions::remove(conditions, "Progressing");
        conditions::set_last(
            conditions,
            Condition::new(
                "Progressing",
                true,
                "ReplicaSetUpdated",
                format!("ReplicaSet {rs_name:?} is progressing."),
            ),
            now,
            true,
        );
        // Progress moves the progress.deadline_seconds even when the reason stays the same.
        if let Some(condition) = conditions.iter_mut().find(|c| c["type"] == "Progressing") {
            condition["lastUpdateTime"] = json!(now);
            if previous
                .as_ref()
                .is_some_and(|p| conditions::field(p, "status") == "True")
            {
                condition["lastTransitionTime"] = previous
                    .map(|p| p["lastTransitionTime"].clone())
                    .unwrap_or(json!(now));
            }
        }
    } else if progress.new_rs.is_some() {
        match conditions::get(conditions, "Progressing").cloned() {
            None => conditions::set_last(
                conditions,
                Condition::new(
                    "Progressing",
                    true,
                    "FoundNewReplicaSet",
                    format!("Found new replica set {rs_name:?}"),
                ),
                now,
                true,
            ),
            Some(condition) if conditions::field(&condition, "status") == "True" => {
                let since = conditions::field(&condition, "lastUpdateTime")
                    .parse::<jiff::Timestamp>()
                    .ok();
                let elapsed =
                    since.map(|since| jiff::Timestamp::now().as_second() - since.as_second());
                match elapsed {
                    Some(elapsed)
                        if elapsed >= i64::from(progress.deadline_seconds)
                            && progress.deadline_seconds > 0 =>
                    {
                        conditions::set_last(
                            conditions,
                            Condition::new(
                                "Progressing",
                                false,
                                "ProgressDeadlineExceeded",
                                format!("ReplicaSet {rs_name:?} has timed out progressing."),
                            ),
                            now,
                            true,
                        );
                    }
                    Some(elapsed) => {
                        return Some(Duration::from_secs(
                            u64::try_from(i64::from(progress.deadline_seconds) - elapsed + 1)
                                .unwrap_or(1),
                        ));
                    }
                    None => {}
                }
            }
            Some(_) => {}
        }
    }
    None
}

/// `calculateStatus`'s conditions, `Available` and `ReplicaFailure`: set before `Progressing`
/// in a sync, as kube does, so that the condition changed last comes last.
pub fn calculated(
    conditions: &mut Vec<Value>,
    all: &[ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    desired: i32,
    max_unavailable: i32,
    now: &str,
) {
    let available: i32 = all
        .iter()
        .map(|rs| {
            rs.status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0)
        })
        .sum();
    let (status, reason, message) = if available >= desired - max_unavailable {
        (
            true,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        (
            false,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    conditions::set_last(
        conditions,
        Condition::new("Available", status, reason, message),
        now,
        true,
    );
    // The new ReplicaSet's failure first, then any other's (`getReplicaFailures`).
    let failure = new_rs.into_iter().chain(all.iter()).find_map(|rs| {
        rs.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_.as_deref() == Some("ReplicaFailure"))
            .cloned()
    });
    match failure {
        Some(failure) => conditions::set_last(
            conditions,
            Condition {
                type_: "ReplicaFailure".into(),
                status: failure.status.unwrap_or_default(),
                reason: failure.reason.unwrap_or_default(),
                message: failure.message.unwrap_or_default(),
            },
            now,
            true,
        ),
        None => conditions::remove(conditions, "ReplicaFailure"),
    }
}

/// The status `calculateStatus` counts, with the conditions as set, written to
/// `deployments/status`.
pub async fn write(
    context: &Context,
    deployment: &Deployment,
    all: &[ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    conditions: Vec<Value>,
) -> Result<(), SyncError> {
    let sum = |f: fn(&ReplicaSet) -> i32| all.iter().map(f).sum::<i32>();
    let replicas = sum(|rs| rs.status.as_ref().map_or(0, |s| s.replicas));
    let ready = sum(|rs| {
        rs.status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0)
    });
    let available = sum(|rs| {
        rs.status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0)
    });
    let total = sum(|rs| rs.spec.replicas.unwrap_or(0));
    let updated = new_rs
        .and_then(|rs| rs.status.as_ref())
        .map_or(0, |s| s.replicas);
    let status = deployment.status.clone().unwrap_or_default();
    let mut desired_status = Map::new();
    if let Some(generation) = deployment.metadata.generation {
        desired_status.insert("observedGeneration".into(), json!(generation));
    }
    desired_status.insert("replicas".into(), json!(replicas));
    desired_status.insert("updatedReplicas".into(), json!(updated));
    desired_status.insert("readyReplicas".into(), json!(ready));
    desired_status.insert("availableReplicas".into(), json!(available));
    desired_status.insert(
        "unavailableReplicas".into(),
        json!((total - available).max(0)),
    );
    desired_status.insert("conditions".into(), Value::Array(conditions));
    if let Some(count) = status.collision_count {
        desired_status.insert("collisionCount".into(), json!(count));
    }
    status::write(
        &context.client,
        &resource_of::<Deployment>(),
        deployment.metadata.namespace.as_deref(),
        deployment.metadata.name.as_deref().unwrap_or_default(),
        &serde_json::to_value(&status).unwrap_or_default(),
        desired_status,
    )
    .await
}
