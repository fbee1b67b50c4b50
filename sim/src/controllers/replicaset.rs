//! The ReplicaSet and ReplicationController controllers (`replica_set.go`, which serves both):
//! keep `spec.replicas` active pods owned by the object, created in slow-start batches through
//! the API; report failures as `FailedCreate` events and the `ReplicaFailure` condition.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DynamicObject};
use kube::runtime::controller::Action;
use serde_json::{Map, Value, json};

use super::conditions::{self, Condition};
use super::events::{Involved, WARNING};
use super::pods::{self, PodName};
use super::{Context, SyncError, decode, requeue_after, resource_of, status};
use crate::selectors::LabelSelector;

/// At most this many pods are created or deleted in one sync (`BurstReplicas`).
const BURST_REPLICAS: usize = 500;

pub async fn run_replicasets(context: Arc<Context>) {
    super::run_controller(
        context,
        resource_of::<ReplicaSet>(),
        vec![resource_of::<Pod>()],
        |controller| controller,
        sync_replicaset,
    )
    .await;
}

pub async fn run_replication_controllers(context: Arc<Context>) {
    super::run_controller(
        context,
        resource_of::<ReplicationController>(),
        vec![resource_of::<Pod>()],
        |controller| controller,
        sync_replication_controller,
    )
    .await;
}

/// What the shared sync needs of a ReplicaSet or ReplicationController.
struct Replicated {
    involved: Involved,
    owner: OwnerReference,
    replicas: i32,
    selector: LabelSelector,
    template: Option<PodTemplateSpec>,
    min_ready_seconds: i32,
    generation: Option<i64>,
    conditions: Vec<Value>,
    status: Value,
}

async fn sync_replicaset(
    object: Arc<DynamicObject>,
    context: Arc<Context>,
) -> Result<Action, SyncError> {
    let rs: ReplicaSet = match decode(&object) {
        Ok(rs) => rs,
        Err(error) => {
            tracing::warn!(%error, "a ReplicaSet does not decode; skipped");
            return Ok(Action::await_change());
        }
    };
    let spec = rs.spec.clone();
    let selector = serde_json::to_value(&spec.selector)
        .map_err(|error| error.to_string())
        .and_then(|value| LabelSelector::from_value(&value));
    let selector = match selector {
        // An empty selector would select every pod; apps/v1 validation forbids it.
        Ok(selector) if !selector.is_empty() => selector,
        Ok(_) | Err(_) => {
            tracing::warn!(replicaset = ?rs.metadata.name, ?selector, "invalid selector; skipped");
            return Ok(Action::await_change());
        }
    };
    let status = rs.status.clone();
    let replicated = Replicated {
        involved: Involved::of(&rs),
        owner: pods::controller_ref(&rs),
        replicas: spec.replicas.unwrap_or(1),
        selector,
        template: spec.template,
        min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        generation: rs.metadata.generation,
        conditions: conditions::from_typed(status.as_ref().and_then(|s| s.conditions.as_ref())),
        status: serde_json::to_value(&status).unwrap_or_default(),
    };
    sync(&context, replicated).await
}

async fn sync_replication_controller(
    object: Arc<DynamicObject>,
    context: Arc<Context>,
) -> Result<Action, SyncError> {
    let rc: ReplicationController = match decode(&object) {
        Ok(rc) => rc,
        Err(error) => {
            tracing::warn!(%error, "a ReplicationController does not decode; skipped");
            return Ok(Action::await_change());
        }
    };
    let spec = rc.spec.clone().unwrap_or_default();
    // An absent selector defaults to the template's labels (what kube-apiserver defaults).
    let labels = spec
        .selector
        .clone()
        .filter(|selector| !selector.is_empty())
        .or_else(|| {
            spec.template
                .as_ref()
                .and_then(|template| template.metadata.as_ref())
                .and_then(|meta| meta.labels.clone())
        })
        .unwrap_or_default();
    if labels.is_empty() {
        tracing::warn!(rc = ?rc.metadata.name, "a ReplicationController without a selector; skipped");
        return Ok(Action::await_change());
    }
    let selector = match LabelSelector::from_value(&json!({ "matchLabels": labels })) {
        Ok(selector) => selector,
        Err(error) => {
            tracing::warn!(%error, rc = ?rc.metadata.name, "invalid selector; skipped");
            return Ok(Action::await_change());
        }
    };
    let status = rc.status.clone();
    let replicated = Replicated {
        involved: Involved::of(&rc),
        owner: pods::controller_ref(&rc),
        replicas: spec.replicas.unwrap_or(1),
        selector,
        template: spec.template,
        min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        generation: rc.metadata.generation,
        conditions: conditions::from_typed(status.as_ref().and_then(|s| s.conditions.as_ref())),
        status: serde_json::to_value(&status).unwrap_or_default(),
    };
    sync(&context, replicated).await
}

/// `syncReplicaSet`: manage the pods, then write the status computed from the pods seen.
async fn sync(context: &Context, rs: Replicated) -> Result<Action, SyncError> {
    let namespace = rs.involved.namespace.clone();
    let name = rs.involved.name.clone();
    let listed = pods::list_all(&context.client, &namespace)
        .await
        .map_err(SyncError::api(format!(
            "list pods of {} {namespace}/{name}",
            rs.involved.kind
        )))?;
    let pod_api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let mut all = Vec::new();
    for pod in listed {
        match pods::controller_uid(&pod.metadata) {
            Some(uid) if uid == rs.involved.uid => all.push(pod),
            Some(_) => {}
            None if !pods::is_terminating(&pod)
                && pods::is_active(&pod)
                && rs.selector.matches(&labels_of(&pod)) =>
            {
                all.extend(pods::adopt(&pod_api, &pod, &rs.owner).await);
            }
            None => {}
        }
    }
    let active: Vec<Pod> = all
        .into_iter()
        .filter(|pod| pods::is_active(pod) && rs.selector.matches(&labels_of(pod)))
        .collect();
    let failure = manage(context, &rs, &active).await;

    let now = jiff::Timestamp::now();
    let mut ready = 0;
    let mut available = 0;
    let mut wait = None;
    let mut fully_labeled = 0;
    let template_labels = rs
        .template
        .as_ref()
        .and_then(|template| template.metadata.as_ref())
        .and_then(|meta| meta.labels.clone())
        .unwrap_or_default();
    for pod in &active {
        let labels = labels_of(pod);
        if template_labels
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
        {
            fully_labeled += 1;
        }
        if pods::is_ready(pod) {
            ready += 1;
        }
        let (is_available, until) = pods::availability(pod, rs.min_ready_seconds, now);
        if is_available {
            available += 1;
        }
        wait = pods::sooner(wait, until);
    }
    let mut conditions = rs.conditions.clone();
    match &failure {
        // Set only if absent: the message is not refreshed on later errors (as kube does).
        Some((reason, message)) => {
            if conditions::get(&conditions, "ReplicaFailure").is_none() {
                conditions::set(
                    &mut conditions,
                    Condition::new("ReplicaFailure", true, reason, message.clone()),
                    &now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    false,
                );
            }
        }
        None => conditions::remove(&mut conditions, "ReplicaFailure"),
    }
    let mut desired = Map::new();
    desired.insert("replicas".into(), json!(active.len()));
    desired.insert("fullyLabeledReplicas".into(), json!(fully_labeled));
    desired.insert("readyReplicas".into(), json!(ready));
    desired.insert("availableReplicas".into(), json!(available));
    if let Some(generation) = rs.generation {
        desired.insert("observedGeneration".into(), json!(generation));
    }
    desired.insert("conditions".into(), Value::Array(conditions));
    let resource = if rs.involved.kind == "ReplicaSet" {
        resource_of::<ReplicaSet>()
    } else {
        resource_of::<ReplicationController>()
    };
    status::write(
        &context.client,
        &resource,
        Some(&namespace),
        &name,
        &rs.status,
        desired,
    )
    .await?;
    match failure {
        Some((_, message)) => Err(SyncError::Children(message)),
        None => Ok(requeue_after(wait)),
    }
}

/// `manageReplicas`: creates or deletes pods to reach `replicas`; returns the condition reason
/// and error message of a failure.
async fn manage(
    context: &Context,
    rs: &Replicated,
    active: &[Pod],
) -> Option<(&'static str, String)> {
    let namespace = &rs.involved.namespace;
    let api: Api<Pod> = Api::namespaced(context.client.clone(), namespace);
    let wanted = usize::try_from(rs.replicas.max(0)).unwrap_or(0);
    if active.len() < wanted {
        let Some(template) = &rs.template else {
            tracing::warn!(
                object = rs.involved.name,
                "no pod template; cannot create pods"
            );
            return None;
        };
        let count = (wanted - active.len()).min(BURST_REPLICAS);
        let prefix = format!("{}-", rs.involved.name);
        let (created, errors) = pods::create_slow_start(&api, count, |_| {
            pods::from_template(
                template,
                namespace,
                rs.owner.clone(),
                PodName::Generate(prefix.clone()),
            )
        })
        .await;
        context.events.pods_created(&rs.involved, &created).await;
        for message in &errors {
            context
                .events
                .record(
                    &rs.involved,
                    WARNING,
                    "FailedCreate",
                    &format!("Error creating: {message}"),
                )
                .await;
        }
        return errors
            .into_iter()
            .next()
            .map(|message| ("FailedCreate", message));
    }
    if active.len() > wanted {
        let mut candidates = active.to_vec();
        pods::deletion_order(&mut candidates);
        let names: Vec<String> = candidates
            .iter()
            .take((active.len() - wanted).min(BURST_REPLICAS))
            .filter_map(|pod| pod.metadata.name.clone())
            .collect();
        let errors = pods::delete_all(&api, &names).await;
        for message in &errors {
            context
                .events
                .record(
                    &rs.involved,
                    WARNING,
                    "FailedDelete",
                    &format!("Error deleting: {message}"),
                )
                .await;
        }
        return errors
            .into_iter()
            .next()
            .map(|message| ("FailedDelete", message));
    }
    None
}

fn labels_of(pod: &Pod) -> std::collections::BTreeMap<String, String> {
    pod.metadata.labels.clone().unwrap_or_default()
}
