//! The Job and CronJob controllers against the emulator, through a `kube::Client`. Pod
//! phases, the kubelet's part, are set by the tests through `pods/status`.

mod common;
mod controllers_support;

use std::time::Duration;

use common::objects::events_for;
use common::poll::wait_for;
use common::start::cluster;
use controllers_support::*;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_job_runs_pods_until_its_completions_succeed() {
    let (_sim, client) = cluster().await;
    let api: Api<Job> = Api::namespaced(client.clone(), "default");
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "batch"},
        "spec": {"completions": 3, "parallelism": 2, "template": pod_template("batch")},
    }))
    .unwrap();
    let job = api.create(&PostParams::default(), &job).await.unwrap();
    let job_uid = uid(&job.metadata);

    let first = wait_for("2 parallel pods", LIMIT, || async {
        let pods = pods_of(&client, "default", &job_uid).await;
        (pods.len() == 2).then_some(pods)
    })
    .await;
    for pod in &first {
        let labels = pod.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["batch.kubernetes.io/job-name"], "batch");
        assert_eq!(labels["batch.kubernetes.io/controller-uid"], job_uid);
        assert!(pod.metadata.name.as_deref().unwrap().starts_with("batch-"));
    }
    let status = wait_for("2 active", LIMIT, || async {
        let status = api.get("batch").await.unwrap().status?;
        (status.active == Some(2)).then_some(status)
    })
    .await;
    assert!(status.start_time.is_some());

    // One succeeds, one fails: a third and a fourth pod are started (3 completions, 1 failure).
    set_pod_status(
        &client,
        "default",
        first[0].metadata.name.as_deref().unwrap(),
        "Succeeded",
        false,
    )
    .await;
    set_pod_status(
        &client,
        "default",
        first[1].metadata.name.as_deref().unwrap(),
        "Failed",
        false,
    )
    .await;
    let status = wait_for("1 succeeded, 1 failed, 2 active", LIMIT, || async {
        let status = api.get("batch").await.unwrap().status?;
        (status.succeeded == Some(1) && status.failed == Some(1) && status.active == Some(2))
            .then_some(status)
    })
    .await;
    assert!(status.completion_time.is_none());
    let pods = pods_of(&client, "default", &job_uid).await;
    assert_eq!(pods.len(), 4);
    for pod in pods
        .iter()
        .filter(|p| !names(&first).contains(p.metadata.name.as_ref().unwrap()))
    {
        set_pod_status(
            &client,
            "default",
            pod.metadata.name.as_deref().unwrap(),
            "Succeeded",
            false,
        )
        .await;
    }
    let status = wait_for("the Job to complete", LIMIT, || async {
        let status = api.get("batch").await.unwrap().status?;
        status
            .conditions
            .as_ref()?
            .iter()
            .any(|c| c.type_ == "Complete" && c.status == "True")
            .then_some(status)
    })
    .await;
    assert_eq!(status.succeeded, Some(3));
    assert_eq!(status.failed, Some(1));
    assert_eq!(status.active.unwrap_or(0), 0);
    assert!(status.completion_time.is_some());
    assert_eq!(
        pods_of(&client, "default", &job_uid).await.len(),
        4,
        "no pod after completion"
    );
}

#[tokio::test]
async fn a_job_fails_past_its_backoff_limit() {
    let (_sim, client) = cluster().await;
    let api: Api<Job> = Api::namespaced(client.clone(), "default");
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "flaky"},
        "spec": {"backoffLimit": 1, "template": pod_template("flaky")},
    }))
    .unwrap();
    let job_uid = uid(&api
        .create(&PostParams::default(), &job)
        .await
        .unwrap()
        .metadata);
    for attempt in 1..=2 {
        let pod = wait_for("an active pod", LIMIT, || async {
            pods_of(&client, "default", &job_uid)
                .await
                .into_iter()
                .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Failed"))
        })
        .await;
        assert_eq!(pods_of(&client, "default", &job_uid).await.len(), attempt);
        set_pod_status(
            &client,
            "default",
            pod.metadata.name.as_deref().unwrap(),
            "Failed",
            false,
        )
        .await;
    }
    let condition = wait_for("the Job to fail", LIMIT, || async {
        let status = api.get("flaky").await.unwrap().status?;
        status
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "Failed" && c.status == "True")
    })
    .await;
    assert_eq!(condition.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(
        condition.message.as_deref(),
        Some("Job has reached the specified backoff limit")
    );
}

#[tokio::test]
async fn a_cronjob_creates_the_job_of_its_most_recent_scheduled_time() {
    let (_sim, client) = cluster().await;
    let api: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let cronjob: CronJob = serde_json::from_value(json!({
        "metadata": {"name": "tick"},
        "spec": {
            "schedule": "* * * * *",
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {"metadata": {"labels": {"team": "a"}}, "spec": {"template": pod_template("tick")}},
        },
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &cronjob).await.unwrap();
    let cron_uid = uid(&created.metadata);
    // Instead of waiting for the next minute, say the last run was three minutes ago: the
    // controller catches up with the most recent missed time at once, as after an outage.
    let now = jiff::Timestamp::now();
    let past = jiff::Timestamp::from_second(now.as_second() / 60 * 60 - 180).unwrap();
    api.patch_status(
        "tick",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"lastScheduleTime": past.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()}})),
    )
    .await
    .unwrap();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job = wait_for("the scheduled Job", LIMIT, || async {
        jobs.list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|job| {
                job.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|r| r.uid == cron_uid)
            })
    })
    .await;
    let name = job.metadata.name.clone().unwrap();
    let minutes: i64 = name.strip_prefix("tick-").unwrap().parse().unwrap();
    let now_minutes = jiff::Timestamp::now().as_second() / 60;
    assert!(
        minutes == now_minutes || minutes == now_minutes - 1,
        "{name} vs minute {now_minutes}"
    );
    assert_eq!(job.metadata.labels.as_ref().unwrap()["team"], "a");
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (
            owner.api_version.as_str(),
            owner.kind.as_str(),
            owner.name.as_str(),
            owner.controller
        ),
        ("batch/v1", "CronJob", "tick", Some(true))
    );
    let scheduled = &job.metadata.annotations.as_ref().unwrap()["batch.kubernetes.io/cronjob-scheduled-timestamp"];
    assert_eq!(
        scheduled.parse::<jiff::Timestamp>().unwrap().as_second(),
        minutes * 60
    );

    // The Job controller runs it; the CronJob lists it as active and records the schedule.
    let status = wait_for("the CronJob status", LIMIT, || async {
        let status = api.get("tick").await.unwrap().status?;
        (status.active.as_ref()?.len() == 1
            && status.last_schedule_time.as_ref()?.0.as_second() == minutes * 60)
            .then_some(status)
    })
    .await;
    assert_eq!(
        status.active.unwrap()[0].name.as_deref(),
        Some(name.as_str())
    );
    let events = events_for(&client, "default", "tick").await;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("SuccessfulCreate")
                && e.message.as_deref() == Some(&format!("Created job {name}"))),
        "{events:?}"
    );
}
