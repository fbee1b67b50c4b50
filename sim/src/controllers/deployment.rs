//! The Deployment controller (`pkg/controller/deployment`): one ReplicaSet per pod template,
//! named `<deployment>-<pod-template-hash>`; scaling and rollouts by updating the ReplicaSets'
//! `spec.replicas`; status, `Available`/`Progressing` conditions and the ReplicaSets'
//! `ReplicaFailure` copied up.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch};
use kube::runtime::controller::Action;
use serde_json::{Map, Value, json};

use super::conditions::{self, Condition};
use super::deployment_status;
use super::events::{Involved, NORMAL, WARNING};
use super::rollout::{self, Counts};
use super::{
    Context, SyncError, api_message, decode, hash, is_already_exists, pods, resource_of, status,
};

const HASH_LABEL: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// kube-controller-manager's default `--deployment-controller-...` limit on the history.
const MAX_REVISION_HISTORY_CHARS: usize = 2000;
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

pub async fn run(context: Arc<Context>) {
    super::run_controller(
        context,
        resource_of::<Deployment>(),
        vec![resource_of::<ReplicaSet>()],
        |controller| controller,
        sync,
    )
    .await;
}

fn now_text() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The template without the hash label, as JSON, to find the ReplicaSet of a template.
fn template_key(template: &PodTemplateSpec) -> Value {
    let mut template = template.clone();
    if let Some(labels) = template
        .metadata
        .as_mut()
        .and_then(|meta| meta.labels.as_mut())
    {
        labels.remove(HASH_LABEL);
    }
    serde_json::to_value(template).unwrap_or_default()
}

fn rs_spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.replicas.unwrap_or(0)
}

fn rs_counts(rs: &ReplicaSet) -> Counts {
    Counts {
        spec: rs_spec_replicas(rs),
        available: rs
            .status
            .as_ref()
            .and_then(|status| status.available_replicas)
            .unwrap_or(0),
    }
}

/// `SetNewReplicaSetAnnotations` for a ReplicaSet that exists (a rollback to it): it takes
/// `newest`, the revision after every other one, and keeps the one it had in its revision
/// history. The annotations to change, when anything changes.
fn bump_revision(rs: &ReplicaSet, newest: i64) -> Option<BTreeMap<String, String>> {
    let annotations = rs.metadata.annotations.clone().unwrap_or_default();
    let had = annotations.get(REVISION);
    let current = match had.map(|text| text.parse::<i64>()) {
        None => 0,
        Some(Ok(current)) => current,
        // kube leaves an unreadable revision alone.
        Some(Err(_)) => return None,
    };
    if current >= newest {
        return None;
    }
    let mut changed = BTreeMap::from([(REVISION.to_string(), newest.to_string())]);
    if let Some(old) = had {
        let history = annotations
            .get(REVISION_HISTORY)
            .cloned()
            .unwrap_or_default();
        let value = if history.is_empty() {
            old.clone()
        } else {
            let mut kept: Vec<&str> = history.split(',').collect();
            let mut length = history.len() + old.len() + 1;
            while length > MAX_REVISION_HISTORY_CHARS && !kept.is_empty() {
                length -= kept.remove(0).len() + 1;
            }
            kept.push(old);
            kept.join(",")
        };
        changed.insert(REVISION_HISTORY.to_string(), value);
    }
    Some(changed)
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(REVISION))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

async fn sync(object: Arc<DynamicObject>, context: Arc<Context>) -> Result<Action, SyncError> {
    let deployment: Deployment = match decode(&object) {
        Ok(deployment) => deployment,
        Err(error) => {
            tracing::warn!(%error, "a Deployment does not decode; skipped");
            return Ok(Action::await_change());
        }
    };
    let namespace = deployment.metadata.namespace.clone().unwrap_or_default();
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let uid = deployment.metadata.uid.clone().unwrap_or_default();
    let involved = Involved::of(&deployment);
    let spec = deployment.spec.clone();
    let desired = spec.replicas.unwrap_or(1).max(0);
    let status = deployment.status.clone().unwrap_or_default();
    let selector = &spec.selector;
    if selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(|e| e.is_empty())
    {
        // What kube's controller says of a selector that would select every pod.
        context
            .events
            .record(
                &involved,
                WARNING,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            )
            .await;
        return Ok(Action::await_change());
    }

    let rs_api: Api<ReplicaSet> = Api::namespaced(context.client.clone(), &namespace);
    let listed = Api::<DynamicObject>::namespaced_with(
        context.client.clone(),
        &namespace,
        &resource_of::<ReplicaSet>(),
    )
    .list(&ListParams::default())
    .await
    .map_err(SyncError::api(format!(
        "list ReplicaSets of Deployment {namespace}/{name}"
    )))?;
    let mut owned: Vec<ReplicaSet> = listed
        .items
        .iter()
        .filter_map(|object| decode::<ReplicaSet>(object).ok())
        .filter(|rs| pods::controller_uid(&rs.metadata) == Some(uid.as_str()))
        .collect();
    owned.sort_by_key(|rs| rs.metadata.creation_timestamp.as_ref().map(|time| time.0));

    let key = template_key(&spec.template);
    let mut new_rs = owned
        .iter()
        .find(|rs| {
            rs.spec
                .template
                .as_ref()
                .is_some_and(|template| template_key(template) == key)
        })
        .cloned();
    let mut created_new = None;
    let paused = spec.paused == Some(true);
    if let Some(rs) = new_rs.as_mut() {
        let rs_name = rs.metadata.name.clone().unwrap_or_default();
        let newest = owned
            .iter()
            .filter(|other| other.metadata.name.as_deref() != Some(rs_name.as_str()))
            .map(revision)
            .max()
            .unwrap_or(0)
            + 1;
        if let Some(annotations) = bump_revision(rs, newest) {
            let patch = json!({"metadata": {"annotations": annotations}});
            *rs = rs_api
                .patch(&rs_name, &super::patch_params(), &Patch::Merge(&patch))
                .await
                .map_err(SyncError::api(format!(
                    "update the revision of ReplicaSet {namespace}/{rs_name}"
                )))?;
        }
    }
    let (surge, unavailable) = match spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) {
        Some("Recreate") => (0, 0),
        _ => {
            let rolling = spec
                .strategy
                .as_ref()
                .and_then(|strategy| strategy.rolling_update.as_ref());
            rollout::fenceposts(
                rolling.and_then(|r| r.max_surge.as_ref()),
                rolling.and_then(|r| r.max_unavailable.as_ref()),
                desired,
            )
        }
    };
    let recreate = spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate");

    let mut conditions = conditions::from_typed(status.conditions.as_ref());
    let now = now_text();
    if new_rs.is_none() && !paused {
        let max_revision = owned.iter().map(revision).max().unwrap_or(0);
        let old_total: i32 = owned.iter().map(rs_spec_replicas).sum();
        let initial = if recreate || old_total == 0 {
            if recreate && old_total > 0 {
                0
            } else {
                desired
            }
        } else {
            rollout::new_rs_replicas(
                desired,
                surge,
                Counts {
                    spec: 0,
                    available: 0,
                },
                &owned.iter().map(rs_counts).collect::<Vec<_>>(),
            )
        };
        match create_replicaset(
            &context,
            &deployment,
            &rs_api,
            max_revision + 1,
            initial,
            desired + surge,
        )
        .await
        {
            Ok(rs) => {
                let rs_name = rs.metadata.name.clone().unwrap_or_default();
                if initial > 0 {
                    context
                        .events
                        .record(
                            &involved,
                            NORMAL,
                            "ScalingReplicaSet",
                            &format!("Scaled up replica set {rs_name} from 0 to {initial}"),
                        )
                        .await;
                }
                created_new = Some(rs_name);
                new_rs = Some(rs);
            }
            Err(CreateError::Collision) => {
                // Another template has this name: hash again with the next collision count.
                let count = status.collision_count.unwrap_or(0) + 1;
                let mut desired_status = Map::new();
                desired_status.insert("collisionCount".into(), json!(count));
                let mut current = serde_json::to_value(&status).unwrap_or_default();
                if let Some(map) = current.as_object_mut() {
                    for (key, value) in map.clone() {
                        if key != "collisionCount" {
                            desired_status.insert(key, value);
                        }
                    }
                }
                status::write(
                    &context.client,
                    &resource_of::<Deployment>(),
                    Some(&namespace),
                    &name,
                    &current,
                    desired_status,
                )
                .await?;
                return Err(SyncError::Children("pod-template-hash collision".into()));
            }
            Err(CreateError::Api(message)) => {
                let rs_name = format!(
                    "{name}-{}",
                    hash::template_hash(&spec.template, status.collision_count)
                );
                let text = format!("Failed to create new replica set {rs_name:?}: {message}");
                context
                    .events
                    .record(&involved, WARNING, "ReplicaSetCreateError", &text)
                    .await;
                conditions::set_last(
                    &mut conditions,
                    Condition::new("Progressing", false, "ReplicaSetCreateError", text.clone()),
                    &now,
                    true,
                );
                deployment_status::write(&context, &deployment, &owned, None, conditions).await?;
                return Err(SyncError::Children(text));
            }
        }
    }
    let new_uid = new_rs.as_ref().and_then(|rs| rs.metadata.uid.clone());
    let mut old: Vec<ReplicaSet> = owned
        .iter()
        .filter(|rs| rs.metadata.uid != new_uid)
        .cloned()
        .collect();

    // Scale: the new ReplicaSet up and the old ones down, by the strategy.
    let mut progressed = false;
    if let Some(new) = &mut new_rs {
        let old_counts: Vec<Counts> = old.iter().map(rs_counts).collect();
        let old_pods: i32 = old
            .iter()
            .map(|rs| rs.status.as_ref().map_or(0, |status| status.replicas))
            .sum();
        let (new_target, old_targets) = if paused || old_counts.iter().all(|c| c.spec == 0) {
            if recreate && old_pods > 0 {
                (0, vec![0; old.len()])
            } else {
                (desired, vec![0; old.len()])
            }
        } else if recreate {
            (0, vec![0; old.len()])
        } else {
            let current = rs_counts(new);
            let new_target = rollout::new_rs_replicas(desired, surge, current, &old_counts);
            let olds = rollout::old_rs_replicas(
                desired,
                unavailable,
                Counts {
                    spec: new_target,
                    ..current
                },
                &old_counts,
            );
            (new_target, olds)
        };
        for (rs, target) in old.iter_mut().zip(old_targets) {
            progressed |= scale(
                &context,
                &involved,
                &rs_api,
                rs,
                target,
                desired,
                desired + surge,
            )
            .await?;
        }
        progressed |= scale(
            &context,
            &involved,
            &rs_api,
            new,
            new_target,
            desired,
            desired + surge,
        )
        .await?;
    }

    // Old ReplicaSets beyond the history limit go, oldest first.
    let limit = usize::try_from(spec.revision_history_limit.unwrap_or(10).max(0)).unwrap_or(10);
    let idle: Vec<&ReplicaSet> = old
        .iter()
        .filter(|rs| {
            rs_spec_replicas(rs) == 0 && rs.status.as_ref().is_none_or(|s| s.replicas == 0)
        })
        .collect();
    if idle.len() > limit {
        for rs in &idle[..idle.len() - limit] {
            if let Some(rs_name) = &rs.metadata.name
                && let Err(error) = rs_api.delete(rs_name, &DeleteParams::background()).await
                && !super::is_not_found(&error)
            {
                tracing::warn!(%error, replicaset = rs_name, "cannot delete an old ReplicaSet");
            }
        }
    }

    // The Deployment carries its current revision too (what `kubectl rollout` reads).
    if let Some(new) = &new_rs {
        let revision = revision(new).to_string();
        let current = deployment
            .metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(REVISION));
        if current != Some(&revision) {
            let patch = json!({"metadata": {"annotations": {REVISION: revision}}});
            Api::<Deployment>::namespaced(context.client.clone(), &namespace)
                .patch(&name, &super::patch_params(), &Patch::Merge(&patch))
                .await
                .map_err(SyncError::api(format!(
                    "annotate Deployment {namespace}/{name}"
                )))?;
        }
    }

    let mut all = old.clone();
    if let Some(new) = &new_rs {
        all.push(new.clone());
    }
    // Progressing: created, progressing, complete, or stuck past the deadline.
    let rs_name = new_rs
        .as_ref()
        .and_then(|rs| rs.metadata.name.clone())
        .unwrap_or_default();
    let complete = new_rs.as_ref().is_some_and(|new| {
        let status = new.status.clone().unwrap_or_default();
        rs_spec_replicas(new) == desired
            && status.replicas == desired
            && status.available_replicas.unwrap_or(0) == desired
            && old
                .iter()
                .all(|rs| rs.status.as_ref().is_none_or(|s| s.replicas == 0))
    });
    deployment_status::calculated(
        &mut conditions,
        &all,
        new_rs.as_ref(),
        desired,
        unavailable,
        &now,
    );
    let requeue = deployment_status::progressing(
        &mut conditions,
        &deployment_status::Progress {
            created: created_new.as_deref(),
            new_rs: new_rs.as_ref().map(|_| rs_name.as_str()),
            complete,
            progressed,
            deadline_seconds: spec.progress_deadline_seconds.unwrap_or(600),
        },
        &now,
    );
    deployment_status::write(&context, &deployment, &all, new_rs.as_ref(), conditions).await?;
    Ok(super::requeue_after(requeue))
}

/// Sets a ReplicaSet's `spec.replicas` (and the replica annotations) with an update of the
/// main resource, as kube does; true if it changed.
async fn scale(
    context: &Context,
    involved: &Involved,
    api: &Api<ReplicaSet>,
    rs: &mut ReplicaSet,
    target: i32,
    desired: i32,
    max: i32,
) -> Result<bool, SyncError> {
    let current = rs_spec_replicas(rs);
    if current == target {
        return Ok(false);
    }
    let rs_name = rs.metadata.name.clone().unwrap_or_default();
    let patch = json!({
        "metadata": {"annotations": {DESIRED_REPLICAS: desired.to_string(), MAX_REPLICAS: max.to_string()}},
        "spec": {"replicas": target},
    });
    let updated = api
        .patch(&rs_name, &super::patch_params(), &Patch::Merge(&patch))
        .await
        .map_err(SyncError::api(format!("scale ReplicaSet {rs_name}")))?;
    let direction = if target > current { "up" } else { "down" };
    context
        .events
        .record(
            involved,
            NORMAL,
            "ScalingReplicaSet",
            &format!("Scaled {direction} replica set {rs_name} from {current} to {target}"),
        )
        .await;
    *rs = updated;
    Ok(true)
}

enum CreateError {
    Collision,
    Api(String),
}

/// `getNewReplicaSet`: the ReplicaSet of the current template.
async fn create_replicaset(
    context: &Context,
    deployment: &Deployment,
    api: &Api<ReplicaSet>,
    revision: i64,
    replicas: i32,
    max: i32,
) -> Result<ReplicaSet, CreateError> {
    let spec = deployment.spec.clone();
    let collision_count = deployment.status.as_ref().and_then(|s| s.collision_count);
    let hash = hash::template_hash(&spec.template, collision_count);
    let name = format!(
        "{}-{hash}",
        deployment.metadata.name.clone().unwrap_or_default()
    );
    let mut template = spec.template.clone();
    let meta = template.metadata.get_or_insert_with(Default::default);
    meta.labels
        .get_or_insert_with(BTreeMap::new)
        .insert(HASH_LABEL.into(), hash.clone());
    let labels = meta.labels.clone();
    let mut selector = spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(HASH_LABEL.into(), hash.clone());
    let desired = spec.replicas.unwrap_or(1);
    let rs = ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: deployment.metadata.namespace.clone(),
            labels,
            annotations: Some(BTreeMap::from([
                (REVISION.to_string(), revision.to_string()),
                (DESIRED_REPLICAS.to_string(), desired.to_string()),
                (MAX_REPLICAS.to_string(), max.to_string()),
            ])),
            owner_references: Some(vec![pods::controller_ref(deployment)]),
            ..Default::default()
        },
        spec: ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: spec.min_ready_seconds,
            selector,
            template: Some(template),
        },
        status: None,
    };
    match api.create(&super::post_params(), &rs).await {
        Ok(created) => Ok(created),
        Err(error) if is_already_exists(&error) => {
            // Ours with the same template (a stale list): use it; anything else collides.
            let existing = api
                .get(&name)
                .await
                .map_err(|error| CreateError::Api(api_message(&error)))?;
            let ours =
                pods::controller_uid(&existing.metadata) == deployment.metadata.uid.as_deref();
            let same = existing
                .spec
                .template
                .as_ref()
                .is_some_and(|template| template_key(template) == template_key(&spec.template));
            let _ = context;
            if ours && same {
                Ok(existing)
            } else {
                Err(CreateError::Collision)
            }
        }
        Err(error) => Err(CreateError::Api(api_message(&error))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_annotations(annotations: &[(&str, &str)]) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(key, value)| (key.to_string(), value.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_rolled_back_to_replica_set_becomes_the_newest_revision_and_remembers_its_old_one() {
        let first = with_annotations(&[(REVISION, "1")]);
        assert_eq!(
            bump_revision(&first, 3),
            Some(BTreeMap::from([
                (REVISION.to_string(), "3".to_string()),
                (REVISION_HISTORY.to_string(), "1".to_string())
            ]))
        );
        let again = with_annotations(&[(REVISION, "3"), (REVISION_HISTORY, "1")]);
        assert_eq!(
            bump_revision(&again, 5).and_then(|changed| changed.get(REVISION_HISTORY).cloned()),
            Some("1,3".to_string())
        );
        assert_eq!(bump_revision(&again, 3), None, "already the newest");
        assert_eq!(
            bump_revision(&with_annotations(&[(REVISION, "x")]), 2),
            None
        );
    }
}
