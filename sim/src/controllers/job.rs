//! The Job controller (`pkg/controller/job`): up to `parallelism` active pods until
//! `completions` pods have succeeded (`Complete`) or more than `backoffLimit` have failed
//! (`Failed`). Pod phases are the kubelet's to set.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use kube::api::{Api, DynamicObject};
use kube::runtime::controller::Action;
use serde_json::{Map, Value, json};

use super::conditions::{self, Condition};
use super::events::{Involved, NORMAL, WARNING};
use super::pods::{self, PodName};
use super::{Context, SyncError, decode, resource_of, status};

pub async fn run(context: Arc<Context>) {
    super::run_controller(
        context,
        resource_of::<Job>(),
        vec![resource_of::<Pod>()],
        |controller| controller,
        sync,
    )
    .await;
}

fn finished(conditions: &[Value]) -> bool {
    ["Complete", "Failed"].iter().any(|type_| {
        conditions::get(conditions, type_).is_some_and(|c| conditions::field(c, "status") == "True")
    })
}

/// The labels kube-apiserver adds to a Job's template (selector generation); the emulator does
/// not default Jobs, so the controller makes sure its pods carry them.
fn job_template(job: &Job, template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut template = template.clone();
    let name = job.metadata.name.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let labels = template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(BTreeMap::new);
    for (key, value) in [
        ("batch.kubernetes.io/controller-uid", &uid),
        ("batch.kubernetes.io/job-name", &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ] {
        labels.entry(key.into()).or_insert_with(|| value.clone());
    }
    template
}

fn names(pods: &[&Pod]) -> Vec<String> {
    pods.iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

async fn sync(object: Arc<DynamicObject>, context: Arc<Context>) -> Result<Action, SyncError> {
    let job: Job = match decode(&object) {
        Ok(job) => job,
        Err(error) => {
            tracing::warn!(%error, "a Job does not decode; skipped");
            return Ok(Action::await_change());
        }
    };
    let Some(spec) = job.spec.clone() else {
        return Ok(Action::await_change());
    };
    let namespace = job.metadata.namespace.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let involved = Involved::of(&job);
    let current = job.status.clone().unwrap_or_default();
    let mut conditions = conditions::from_typed(current.conditions.as_ref());
    let now_text = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    if finished(&conditions) {
        return Ok(Action::await_change());
    }

    let all = pods::list_owned(&context.client, &namespace, &uid)
        .await
        .map_err(SyncError::api(format!(
            "list pods of Job {namespace}/{name}"
        )))?;
    let active: Vec<&Pod> = all.iter().filter(|pod| pods::is_active(pod)).collect();
    let succeeded = all
        .iter()
        .filter(|pod| pods::phase(pod) == "Succeeded")
        .count();
    let failed = all
        .iter()
        .filter(|pod| pods::phase(pod) == "Failed")
        .count();
    let ready = active.iter().filter(|pod| pods::is_ready(pod)).count();
    let parallelism = usize::try_from(spec.parallelism.unwrap_or(1).max(0)).unwrap_or(0);
    let completions = spec
        .completions
        .map(|c| usize::try_from(c.max(0)).unwrap_or(0));
    let backoff_limit = usize::try_from(spec.backoff_limit.unwrap_or(6).max(0)).unwrap_or(6);
    let pod_api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);

    let mut failure = None;
    let mut completion_time = current.completion_time.clone().map(|t| json!(t));
    let mut remaining_active = active.len();
    let complete = match completions {
        Some(wanted) => succeeded >= wanted,
        None => succeeded > 0 && active.is_empty(),
    };
    if failed > backoff_limit {
        pods::delete_all(&pod_api, &names(&active)).await;
        remaining_active = 0;
        let message = "Job has reached the specified backoff limit";
        for type_ in ["FailureTarget", "Failed"] {
            conditions::set(
                &mut conditions,
                Condition::new(type_, true, "BackoffLimitExceeded", message),
                &now_text,
                false,
            );
        }
        context
            .events
            .record(&involved, WARNING, "BackoffLimitExceeded", message)
            .await;
    } else if complete {
        let message = "Reached expected number of succeeded pods";
        for type_ in ["SuccessCriteriaMet", "Complete"] {
            conditions::set(
                &mut conditions,
                Condition::new(type_, true, "CompletionsReached", message),
                &now_text,
                false,
            );
        }
        completion_time = Some(json!(now_text));
        context
            .events
            .record(&involved, NORMAL, "Completed", "Job completed")
            .await;
    } else if spec.suspend == Some(true) {
        pods::delete_all(&pod_api, &names(&active)).await;
        remaining_active = 0;
        conditions::set(
            &mut conditions,
            Condition::new("Suspended", true, "JobSuspended", "Job suspended"),
            &now_text,
            false,
        );
    } else {
        conditions::remove(&mut conditions, "Suspended");
        let wanted = match completions {
            Some(total) => parallelism.min(total.saturating_sub(succeeded)),
            None if succeeded > 0 => 0,
            None => parallelism,
        };
        if active.len() < wanted {
            let template = job_template(&job, &spec.template);
            let owner = pods::controller_ref(&job);
            let prefix = format!("{name}-");
            let (created, errors) =
                pods::create_slow_start(&pod_api, wanted - active.len(), |_| {
                    pods::from_template(
                        &template,
                        &namespace,
                        owner.clone(),
                        PodName::Generate(prefix.clone()),
                    )
                })
                .await;
            remaining_active += created;
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
            failure = errors.into_iter().next();
        } else if active.len() > wanted {
            let mut extra: Vec<Pod> = active.iter().map(|p| (*p).clone()).collect();
            pods::deletion_order(&mut extra);
            let extra: Vec<&Pod> = extra.iter().take(active.len() - wanted).collect();
            pods::delete_all(&pod_api, &names(&extra)).await;
            remaining_active = wanted;
        }
    }

    let mut desired = Map::new();
    desired.insert("active".into(), json!(remaining_active));
    desired.insert("succeeded".into(), json!(succeeded));
    desired.insert("failed".into(), json!(failed));
    desired.insert("ready".into(), json!(ready));
    let start_time = current
        .start_time
        .clone()
        .map(|t| json!(t))
        .unwrap_or(json!(now_text));
    desired.insert("startTime".into(), start_time);
    if let Some(time) = completion_time {
        desired.insert("completionTime".into(), time);
    }
    desired.insert("conditions".into(), Value::Array(conditions));
    status::write(
        &context.client,
        &resource_of::<Job>(),
        Some(&namespace),
        &name,
        &serde_json::to_value(&current).unwrap_or_default(),
        desired,
    )
    .await?;
    match failure {
        Some(message) => Err(SyncError::Children(message)),
        None => Ok(Action::await_change()),
    }
}
