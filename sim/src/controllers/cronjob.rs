//! The CronJob controller (`pkg/controller/cronjob`, v2): at each scheduled time a Job
//! `<cronjob>-<scheduled time in minutes since the epoch>` from `jobTemplate`, subject to
//! `suspend`, `startingDeadlineSeconds` and `concurrencyPolicy`; finished Jobs beyond the
//! history limits are deleted; `status.active`, `lastScheduleTime`, `lastSuccessfulTime`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::runtime::controller::Action;
use serde_json::{Map, Value, json};

use super::cron::Schedule;
use super::events::{Involved, NORMAL, WARNING};
use super::{
    Context, SyncError, api_message, decode, is_already_exists, pods, resource_of, status,
};

const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

pub async fn run(context: Arc<Context>) {
    super::run_controller(
        context,
        resource_of::<CronJob>(),
        vec![resource_of::<Job>()],
        |controller| controller,
        sync,
    )
    .await;
}

/// `Complete` or `Failed`, if the Job has finished.
fn finished(job: &Job) -> Option<&'static str> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    ["Complete", "Failed"].into_iter().find(|type_| {
        conditions
            .iter()
            .any(|c| c.type_ == *type_ && c.status == "True")
    })
}

fn rfc3339(time: Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

async fn sync(object: Arc<DynamicObject>, context: Arc<Context>) -> Result<Action, SyncError> {
    let cronjob: CronJob = match decode(&object) {
        Ok(cronjob) => cronjob,
        Err(error) => {
            tracing::warn!(%error, "a CronJob does not decode; skipped");
            return Ok(Action::await_change());
        }
    };
    let namespace = cronjob.metadata.namespace.clone().unwrap_or_default();
    let name = cronjob.metadata.name.clone().unwrap_or_default();
    let uid = cronjob.metadata.uid.clone().unwrap_or_default();
    let involved = Involved::of(&cronjob);
    let spec = cronjob.spec.clone();
    let current = cronjob.status.clone().unwrap_or_default();
    let job_api: Api<Job> = Api::namespaced(context.client.clone(), &namespace);

    let listed = Api::<DynamicObject>::namespaced_with(
        context.client.clone(),
        &namespace,
        &resource_of::<Job>(),
    )
    .list(&ListParams::default())
    .await
    .map_err(SyncError::api(format!(
        "list Jobs of CronJob {namespace}/{name}"
    )))?;
    let mut jobs: Vec<Job> = listed
        .items
        .iter()
        .filter_map(|object| decode::<Job>(object).ok())
        .filter(|job| pods::controller_uid(&job.metadata) == Some(uid.as_str()))
        .collect();
    jobs.sort_by_key(|job| job.metadata.creation_timestamp.clone().map(|t| t.0));

    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(schedule) => Some(schedule),
        Err(error) => {
            context
                .events
                .record(
                    &involved,
                    WARNING,
                    "InvalidSchedule",
                    &format!("invalid schedule: {}: {error}", spec.schedule),
                )
                .await;
            None
        }
    };
    let zone = match spec.time_zone.as_deref() {
        None | Some("") => Some(TimeZone::UTC),
        Some(zone_name) => match TimeZone::get(zone_name) {
            Ok(zone) => Some(zone),
            Err(error) => {
                context
                    .events
                    .record(
                        &involved,
                        WARNING,
                        "UnknownTimeZone",
                        &format!("invalid timeZone: {zone_name:?}: {error}"),
                    )
                    .await;
                None
            }
        },
    };

    let now = Timestamp::now();
    let mut last_schedule = current.last_schedule_time.clone().map(|t| t.0);
    let mut failure = None;
    let mut next_run = None;
    if let (Some(schedule), Some(zone)) = (&schedule, &zone) {
        let earliest = last_schedule
            .or(cronjob.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .unwrap_or(now);
        let (due, _missed) = schedule.most_recent(earliest, now, zone, 100);
        next_run = schedule.next_after(now, zone);
        let too_late = |time: Timestamp| {
            spec.starting_deadline_seconds
                .is_some_and(|deadline| time.as_second() + deadline < now.as_second())
        };
        let active: Vec<&Job> = jobs.iter().filter(|job| finished(job).is_none()).collect();
        if let Some(due) = due
            && spec.suspend != Some(true)
            && !too_late(due)
        {
            let job_name = format!("{name}-{}", due.as_second() / 60);
            let exists = jobs
                .iter()
                .any(|job| job.metadata.name.as_deref() == Some(job_name.as_str()));
            let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
            if exists {
                last_schedule = Some(due);
            } else if policy == "Forbid" && !active.is_empty() {
                // Runs again when the active Job finishes (its change wakes us).
            } else {
                if policy == "Replace" {
                    for job in &active {
                        if let Some(job_name) = &job.metadata.name {
                            match job_api.delete(job_name, &DeleteParams::background()).await {
                                Ok(_) => {
                                    context
                                        .events
                                        .record(
                                            &involved,
                                            NORMAL,
                                            "SuccessfulDelete",
                                            &format!("Deleted job {job_name}"),
                                        )
                                        .await
                                }
                                Err(error) if super::is_not_found(&error) => {}
                                Err(error) => failure = Some(api_message(&error)),
                            }
                        }
                    }
                }
                match create_job(&job_api, &cronjob, &job_name, due).await {
                    Ok(()) => {
                        context
                            .events
                            .record(
                                &involved,
                                NORMAL,
                                "SuccessfulCreate",
                                &format!("Created job {job_name}"),
                            )
                            .await;
                        last_schedule = Some(due);
                    }
                    Err(message) => {
                        context
                            .events
                            .record(
                                &involved,
                                WARNING,
                                "FailedCreate",
                                &format!("Error creating job: {message}"),
                            )
                            .await;
                        failure = Some(message);
                    }
                }
            }
        }
    }

    // History limits: the oldest finished Jobs beyond them go.
    for (kind, limit) in [
        ("Complete", spec.successful_jobs_history_limit.unwrap_or(3)),
        ("Failed", spec.failed_jobs_history_limit.unwrap_or(1)),
    ] {
        let done: Vec<&Job> = jobs
            .iter()
            .filter(|job| finished(job) == Some(kind))
            .collect();
        let limit = usize::try_from(limit.max(0)).unwrap_or(0);
        for job in done.iter().take(done.len().saturating_sub(limit)) {
            if let Some(job_name) = &job.metadata.name
                && job_api
                    .delete(job_name, &DeleteParams::background())
                    .await
                    .is_ok()
            {
                context
                    .events
                    .record(
                        &involved,
                        NORMAL,
                        "SuccessfulDelete",
                        &format!("Deleted job {job_name}"),
                    )
                    .await;
            }
        }
    }

    let active: Vec<Value> = jobs
        .iter()
        .filter(|job| finished(job).is_none())
        .map(|job| {
            json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "name": job.metadata.name, "namespace": job.metadata.namespace,
                "uid": job.metadata.uid, "resourceVersion": job.metadata.resource_version,
            })
        })
        .collect();
    let last_successful = jobs
        .iter()
        .filter(|job| finished(job) == Some("Complete"))
        .filter_map(|job| job.status.as_ref()?.completion_time.clone())
        .map(|t| t.0)
        .max()
        .or(current.last_successful_time.clone().map(|t| t.0));
    let mut desired = Map::new();
    desired.insert("active".into(), Value::Array(active));
    if let Some(time) = last_schedule {
        desired.insert("lastScheduleTime".into(), json!(rfc3339(time)));
    }
    if let Some(time) = last_successful {
        desired.insert("lastSuccessfulTime".into(), json!(rfc3339(time)));
    }
    status::write(
        &context.client,
        &resource_of::<CronJob>(),
        Some(&namespace),
        &name,
        &serde_json::to_value(&current).unwrap_or_default(),
        desired,
    )
    .await?;
    if let Some(message) = failure {
        return Err(SyncError::Children(message));
    }
    // Wake up for the next scheduled time (watch events may wake us earlier).
    Ok(match next_run {
        Some(next) => {
            let wait = now.duration_until(next);
            let wait = Duration::try_from(wait).unwrap_or(Duration::from_secs(1));
            Action::requeue(wait + Duration::from_millis(100))
        }
        None => Action::await_change(),
    })
}

/// `getJobFromTemplate2`: the template's labels and annotations (plus the scheduled time),
/// the controller reference, the template's spec.
async fn create_job(
    api: &Api<Job>,
    cronjob: &CronJob,
    name: &str,
    scheduled: Timestamp,
) -> Result<(), String> {
    let template = cronjob.spec.job_template.clone();
    let meta = template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.into(), rfc3339(scheduled));
    let job = Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: cronjob.metadata.namespace.clone(),
            labels: meta.labels.or_else(|| Some(BTreeMap::new())),
            annotations: Some(annotations),
            owner_references: Some(vec![pods::controller_ref(cronjob)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    };
    match api.create(&super::post_params(), &job).await {
        Ok(_) => Ok(()),
        Err(error) if is_already_exists(&error) => Ok(()),
        Err(error) => Err(api_message(&error)),
    }
}
