//! The StatefulSet controller (`pkg/controller/statefulset`): pods `<sts>-0`, `<sts>-1`, ...;
//! under `OrderedReady` (the default) each is created only once its predecessor is Running and
//! Ready, and scale-down removes the highest ordinal first, one at a time. A template change
//! replaces pods from the highest ordinal down (RollingUpdate).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject};
use kube::runtime::controller::Action;
use serde_json::{Map, json};

use super::events::{Involved, NORMAL, WARNING};
use super::pods::{self, PodName};
use super::{Context, SyncError, api_message, decode, hash, requeue_after, resource_of, status};

const REVISION_LABEL: &str = "controller-revision-hash";
const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

pub async fn run(context: Arc<Context>) {
    super::run_controller(
        context,
        resource_of::<StatefulSet>(),
        vec![resource_of::<Pod>()],
        |controller| controller,
        sync,
    )
    .await;
}

fn running_and_ready(pod: &Pod) -> bool {
    pods::phase(pod) == "Running" && pods::is_ready(pod) && !pods::is_terminating(pod)
}

fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()?
        .get(REVISION_LABEL)
        .map(String::as_str)
}

async fn sync(object: Arc<DynamicObject>, context: Arc<Context>) -> Result<Action, SyncError> {
    let sts: StatefulSet = match decode(&object) {
        Ok(sts) => sts,
        Err(error) => {
            tracing::warn!(%error, "a StatefulSet does not decode; skipped");
            return Ok(Action::await_change());
        }
    };
    let namespace = sts.metadata.namespace.clone().unwrap_or_default();
    let name = sts.metadata.name.clone().unwrap_or_default();
    let uid = sts.metadata.uid.clone().unwrap_or_default();
    let spec = sts.spec.clone();
    let current = sts.status.clone().unwrap_or_default();
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let parallel = spec.pod_management_policy.as_deref() == Some("Parallel");
    let on_delete = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        == Some("OnDelete");
    // kube hashes with the count always (`newRevision` takes `&collisionCount`, 0 at first).
    let update_revision = format!(
        "{name}-{}",
        hash::template_hash(&spec.template, Some(current.collision_count.unwrap_or(0)))
    );

    // Our pods by ordinal; a pod whose name is not `<sts>-<n>` is not one of the set.
    let owned = pods::list_owned(&context.client, &namespace, &uid)
        .await
        .map_err(SyncError::api(format!(
            "list pods of StatefulSet {namespace}/{name}"
        )))?;
    let mut by_ordinal: BTreeMap<i32, Pod> = BTreeMap::new();
    for pod in owned {
        let ordinal = pod
            .metadata
            .name
            .as_deref()
            .and_then(|n| n.strip_prefix(&format!("{name}-")))
            .and_then(|n| n.parse::<i32>().ok());
        if let Some(ordinal) = ordinal {
            by_ordinal.insert(ordinal, pod);
        }
    }

    let api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let failure = manage(
        &context,
        &sts,
        &api,
        &by_ordinal,
        replicas,
        parallel,
        on_delete,
        &update_revision,
    )
    .await;

    let now = jiff::Timestamp::now();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let mut wait = None;
    let (mut ready, mut available, mut updated) = (0, 0, 0);
    let current_revision = current
        .current_revision
        .clone()
        .unwrap_or_else(|| update_revision.clone());
    let mut at_current = 0;
    let counted: Vec<&Pod> = by_ordinal
        .values()
        .filter(|pod| !pods::is_terminating(pod))
        .collect();
    for pod in &counted {
        if pods::is_ready(pod) {
            ready += 1;
        }
        let (is_available, until) = pods::availability(pod, min_ready, now);
        if is_available {
            available += 1;
        }
        wait = pods::sooner(wait, until);
        if revision_of(pod) == Some(update_revision.as_str()) {
            updated += 1;
        }
        if revision_of(pod) == Some(current_revision.as_str()) {
            at_current += 1;
        }
    }
    // The update is complete once every wanted pod runs the new revision.
    let (current_revision, at_current) = if updated == replicas && counted.len() as i32 == replicas
    {
        (update_revision.clone(), updated)
    } else {
        (current_revision, at_current)
    };
    let mut desired = Map::new();
    if let Some(generation) = sts.metadata.generation {
        desired.insert("observedGeneration".into(), json!(generation));
    }
    desired.insert("replicas".into(), json!(counted.len()));
    desired.insert("readyReplicas".into(), json!(ready));
    desired.insert("availableReplicas".into(), json!(available));
    desired.insert("currentReplicas".into(), json!(at_current));
    desired.insert("updatedReplicas".into(), json!(updated));
    desired.insert("currentRevision".into(), json!(current_revision));
    desired.insert("updateRevision".into(), json!(update_revision));
    // kube's StatefulSet controller always writes the count, 0 until a hash collides.
    desired.insert(
        "collisionCount".into(),
        json!(current.collision_count.unwrap_or(0)),
    );
    status::write(
        &context.client,
        &resource_of::<StatefulSet>(),
        Some(&namespace),
        &name,
        &serde_json::to_value(&current).unwrap_or_default(),
        desired,
    )
    .await?;
    match failure {
        Some(message) => Err(SyncError::Children(message)),
        None => Ok(requeue_after(wait)),
    }
}

/// Creates, deletes or replaces at most what the policy allows in one sync; returns the error
/// message of a failure.
#[allow(clippy::too_many_arguments)]
async fn manage(
    context: &Context,
    sts: &StatefulSet,
    api: &Api<Pod>,
    by_ordinal: &BTreeMap<i32, Pod>,
    replicas: i32,
    parallel: bool,
    on_delete: bool,
    update_revision: &str,
) -> Option<String> {
    let name = sts.metadata.name.clone().unwrap_or_default();
    let namespace = sts.metadata.namespace.clone().unwrap_or_default();
    let involved = Involved::of(sts);
    // Finished pods are deleted to be created again (a StatefulSet's pods always run).
    for pod in by_ordinal.values() {
        if matches!(pods::phase(pod), "Failed" | "Succeeded")
            && !pods::is_terminating(pod)
            && let Some(pod_name) = &pod.metadata.name
        {
            let errors = pods::delete_all(api, std::slice::from_ref(pod_name)).await;
            if errors.is_empty() {
                context
                    .events
                    .record(
                        &involved,
                        NORMAL,
                        "SuccessfulDelete",
                        &format!("delete Pod {pod_name} in StatefulSet {name} successful"),
                    )
                    .await;
            }
            return errors.into_iter().next();
        }
    }
    for ordinal in 0..replicas {
        match by_ordinal.get(&ordinal) {
            None => {
                let pod_name = format!("{name}-{ordinal}");
                let pod = pod_for(sts, &namespace, &pod_name, ordinal, update_revision);
                match api.create(&super::post_params(), &pod).await {
                    Ok(_) => {
                        context
                            .events
                            .record(
                                &involved,
                                NORMAL,
                                "SuccessfulCreate",
                                &format!("create Pod {pod_name} in StatefulSet {name} successful"),
                            )
                            .await;
                    }
                    Err(error) => {
                        let message = api_message(&error);
                        context
                            .events
                            .record(&involved, WARNING, "FailedCreate", &format!("create Pod {pod_name} in StatefulSet {name} failed error: {message}"))
                            .await;
                        return Some(message);
                    }
                }
                if !parallel {
                    return None;
                }
            }
            Some(pod) if !parallel && !running_and_ready(pod) => return None,
            Some(_) => {}
        }
    }
    // Scale down: the highest ordinal first.
    let extra: Vec<&Pod> = by_ordinal
        .range(replicas..)
        .rev()
        .map(|(_, pod)| pod)
        .filter(|pod| !pods::is_terminating(pod))
        .collect();
    let take = if parallel { extra.len() } else { 1 };
    let doomed: Vec<String> = extra
        .iter()
        .take(take)
        .filter_map(|pod| pod.metadata.name.clone())
        .collect();
    if !doomed.is_empty() {
        return pods::delete_all(api, &doomed).await.into_iter().next();
    }
    // RollingUpdate: the highest pod not at the update revision goes once all are ready.
    if on_delete
        || !by_ordinal
            .range(..replicas)
            .all(|(_, pod)| running_and_ready(pod))
    {
        return None;
    }
    let stale = by_ordinal
        .range(..replicas)
        .rev()
        .find(|(_, pod)| revision_of(pod) != Some(update_revision))
        .and_then(|(_, pod)| pod.metadata.name.clone());
    match stale {
        Some(pod_name) => pods::delete_all(api, &[pod_name]).await.into_iter().next(),
        None => None,
    }
}

/// `newVersionedStatefulSetPod`: the template, a fixed name, identity labels, the hostname and
/// the governing service as subdomain.
fn pod_for(sts: &StatefulSet, namespace: &str, name: &str, ordinal: i32, revision: &str) -> Pod {
    let mut pod = pods::from_template(
        &sts.spec.template,
        namespace,
        pods::controller_ref(sts),
        PodName::Fixed(name.into()),
    );
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(REVISION_LABEL.into(), revision.into());
    labels.insert(POD_NAME_LABEL.into(), name.into());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(name.into());
    if let Some(service) = sts.spec.service_name.as_ref().filter(|s| !s.is_empty()) {
        spec.subdomain = Some(service.clone());
    }
    pod
}
