//! The DaemonSet controller (`pkg/controller/daemon`): one pod per Node (those matching the
//! template's `nodeSelector`), bound by `spec.nodeName`; a template change replaces pods up to
//! `maxUnavailable` at a time (RollingUpdate).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DynamicObject, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use serde_json::{Map, json};

use super::events::{Involved, WARNING};
use super::pods::{self, PodName};
use super::{Context, SyncError, decode, hash, requeue_after, resource_of, rollout, status};

const REVISION_LABEL: &str = "controller-revision-hash";

pub async fn run(context: Arc<Context>) {
    let client = context.client.clone();
    super::run_controller(
        context,
        resource_of::<DaemonSet>(),
        vec![resource_of::<Pod>()],
        move |controller| {
            // A node added or removed concerns every DaemonSet.
            let store = controller.store();
            let nodes = resource_of::<Node>();
            controller.watches_with(
                Api::<DynamicObject>::all_with(client, &nodes),
                nodes,
                watcher::Config::default(),
                move |_| {
                    store
                        .state()
                        .iter()
                        .map(|ds| ObjectRef::from_obj_with(ds.as_ref(), resource_of::<DaemonSet>()))
                        .collect::<Vec<_>>()
                },
            )
        },
        sync,
    )
    .await;
}

async fn sync(object: Arc<DynamicObject>, context: Arc<Context>) -> Result<Action, SyncError> {
    let ds: DaemonSet = match decode(&object) {
        Ok(ds) => ds,
        Err(error) => {
            tracing::warn!(%error, "a DaemonSet does not decode; skipped");
            return Ok(Action::await_change());
        }
    };
    let namespace = ds.metadata.namespace.clone().unwrap_or_default();
    let name = ds.metadata.name.clone().unwrap_or_default();
    let uid = ds.metadata.uid.clone().unwrap_or_default();
    let involved = Involved::of(&ds);
    let spec = ds.spec.clone();
    let current = ds.status.clone().unwrap_or_default();
    let revision = hash::template_hash(&spec.template, current.collision_count);

    let node_selector = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.node_selector.clone())
        .unwrap_or_default();
    let nodes = Api::<DynamicObject>::all_with(context.client.clone(), &resource_of::<Node>())
        .list(&ListParams::default())
        .await
        .map_err(SyncError::api("list nodes"))?;
    let wanted: Vec<String> = nodes
        .items
        .iter()
        .filter_map(|object| decode::<Node>(object).ok())
        .filter(|node| {
            let labels = node.metadata.labels.clone().unwrap_or_default();
            node_selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .filter_map(|node| node.metadata.name)
        .collect();

    let owned = pods::list_owned(&context.client, &namespace, &uid)
        .await
        .map_err(SyncError::api(format!(
            "list pods of DaemonSet {namespace}/{name}"
        )))?;
    let mut by_node: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
    let mut doomed = Vec::new();
    for pod in owned {
        if pods::is_terminating(&pod) {
            continue;
        }
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        if !wanted.contains(&node) || pods::phase(&pod) == "Failed" {
            // Misscheduled or failed: deleted (a failed daemon pod is created again).
            doomed.extend(pod.metadata.name.clone());
        } else {
            by_node.entry(node).or_default().push(pod);
        }
    }
    for pods_on_node in by_node.values_mut() {
        // One pod per node: extras go, the oldest stays.
        pods_on_node.sort_by_key(|p| p.metadata.creation_timestamp.clone().map(|t: Time| t.0));
        doomed.extend(pods_on_node.drain(1..).filter_map(|p| p.metadata.name));
    }

    let now = jiff::Timestamp::now();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let (mut ready, mut available, mut updated) = (0, 0, 0);
    let mut wait = None;
    let mut stale_unavailable = Vec::new();
    let mut stale_available = Vec::new();
    for pod in by_node.values().flatten() {
        let (is_available, until) = pods::availability(pod, min_ready, now);
        wait = pods::sooner(wait, until);
        ready += i32::from(pods::is_ready(pod));
        available += i32::from(is_available);
        let current_revision = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(REVISION_LABEL))
            .is_some_and(|r| *r == revision);
        if current_revision {
            updated += 1;
        } else if let Some(pod_name) = pod.metadata.name.clone() {
            if is_available {
                stale_available.push(pod_name);
            } else {
                stale_unavailable.push(pod_name);
            }
        }
    }
    let desired_count = i32::try_from(wanted.len()).unwrap_or(i32::MAX);
    let scheduled = i32::try_from(by_node.len()).unwrap_or(i32::MAX);

    // RollingUpdate: old unavailable pods go at once, old available ones within maxUnavailable.
    let rolling = spec
        .update_strategy
        .as_ref()
        .is_none_or(|s| s.type_.as_deref() != Some("OnDelete"));
    if rolling {
        let max_unavailable = rollout::scaled(
            spec.update_strategy
                .as_ref()
                .and_then(|s| s.rolling_update.as_ref())
                .and_then(|r| r.max_unavailable.as_ref()),
            "1",
            desired_count,
            true,
        )
        .max(1);
        let unavailable = desired_count - available;
        let budget = usize::try_from((max_unavailable - unavailable).max(0)).unwrap_or(0);
        doomed.extend(stale_unavailable);
        doomed.extend(stale_available.into_iter().take(budget));
    }

    let api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let mut failure = None;
    let errors = pods::delete_all(&api, &doomed).await;
    failure = failure.or(errors.into_iter().next());

    let missing: Vec<&String> = wanted
        .iter()
        .filter(|n| !by_node.contains_key(*n))
        .collect();
    if !missing.is_empty() {
        let mut template = spec.template.clone();
        template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(REVISION_LABEL.into(), revision.clone());
        let owner = pods::controller_ref(&ds);
        let prefix = format!("{name}-");
        let (_, errors) = pods::create_slow_start(&api, missing.len(), |index| {
            let mut pod = pods::from_template(
                &template,
                &namespace,
                owner.clone(),
                PodName::Generate(prefix.clone()),
            );
            pod.spec.get_or_insert_with(Default::default).node_name =
                missing.get(index).map(|n| (*n).clone());
            pod
        })
        .await;
        for message in &errors {
            context
                .events
                .record(
                    &involved,
                    WARNING,
                    "FailedCreate",
                    &format!("Error creating: {message}"),
                )
                .await;
        }
        failure = failure.or(errors.into_iter().next());
    }

    let mut desired = Map::new();
    if let Some(generation) = ds.metadata.generation {
        desired.insert("observedGeneration".into(), json!(generation));
    }
    desired.insert("desiredNumberScheduled".into(), json!(desired_count));
    desired.insert("currentNumberScheduled".into(), json!(scheduled));
    desired.insert("numberMisscheduled".into(), json!(0));
    desired.insert("numberReady".into(), json!(ready));
    desired.insert("numberAvailable".into(), json!(available));
    desired.insert(
        "numberUnavailable".into(),
        json!((desired_count - available).max(0)),
    );
    desired.insert("updatedNumberScheduled".into(), json!(updated));
    status::write(
        &context.client,
        &resource_of::<DaemonSet>(),
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
