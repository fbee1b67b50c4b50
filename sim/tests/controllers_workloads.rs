//! The StatefulSet, DaemonSet, Job, CronJob and ReplicationController controllers against the
//! emulator, through a `kube::Client`. The kubelet's part (pod phases, readiness) is played by
//! the tests through `pods/status`.

mod controllers_support;

use std::time::Duration;

use controllers_support::*;
use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Node, Pod, ReplicationController};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(10);

fn pod_template(app: &str) -> serde_json::Value {
    json!({
        "metadata": {"labels": {"app": app}},
        // On a node no simulated kubelet runs: the test plays the kubelet.
        "spec": {"containers": [{"name": "main", "image": "busybox"}], "restartPolicy": "Never", "nodeName": "test-unmanaged"},
    })
}

fn names(pods: &[Pod]) -> Vec<String> {
    pods.iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

#[tokio::test]
async fn statefulset_pods_are_created_in_order_each_after_the_previous_is_ready() {
    let (_sim, client) = cluster().await;
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let mut template = pod_template("db");
    template["spec"]["restartPolicy"] = json!("Always");
    let sts: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}}, "template": template},
    }))
    .unwrap();
    let sts = api.create(&PostParams::default(), &sts).await.unwrap();
    let sts_uid = uid(&sts.metadata);

    for ordinal in 0..3 {
        let pods = wait_for(&format!("pod db-{ordinal}"), LIMIT, || async {
            let pods = pods_of(&client, "default", &sts_uid).await;
            (pods.len() == ordinal + 1).then_some(pods)
        })
        .await;
        let expected: Vec<String> = (0..=ordinal).map(|i| format!("db-{i}")).collect();
        assert_eq!(names(&pods), expected);
        let pod = pods.last().unwrap();
        let labels = pod.metadata.labels.as_ref().unwrap();
        assert_eq!(
            labels["statefulset.kubernetes.io/pod-name"],
            format!("db-{ordinal}")
        );
        assert_eq!(labels["apps.kubernetes.io/pod-index"], ordinal.to_string());
        assert!(labels["controller-revision-hash"].starts_with("db-"));
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(
            spec.hostname.as_deref(),
            Some(format!("db-{ordinal}").as_str())
        );
        assert_eq!(spec.subdomain.as_deref(), Some("db"));
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("StatefulSet", Some(true))
        );
        // The next pod waits for this one: once the controller has seen this pod (its status
        // counts it), it still has not created the next.
        if ordinal < 2 {
            wait_for("the status to count the pod", LIMIT, || async {
                let status = api.get("db").await.unwrap().status?;
                (status.replicas == ordinal as i32 + 1).then_some(())
            })
            .await;
            assert_eq!(
                pods_of(&client, "default", &sts_uid).await.len(),
                ordinal + 1
            );
            set_pod_status(
                &client,
                "default",
                &format!("db-{ordinal}"),
                "Running",
                true,
            )
            .await;
        }
    }
    set_pod_status(&client, "default", "db-2", "Running", true).await;
    let status = wait_for("3 ready replicas", LIMIT, || async {
        let status = api.get("db").await.unwrap().status?;
        (status.ready_replicas == Some(3)).then_some(status)
    })
    .await;
    assert_eq!(status.replicas, 3);
    assert_eq!(status.available_replicas, Some(3));
    assert_eq!(status.updated_replicas, Some(3));
    assert_eq!(status.current_replicas, Some(3));
    assert_eq!(status.current_revision, status.update_revision);

    // Scale down removes the highest ordinal first.
    api.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    let left = wait_for("1 pod", LIMIT, || async {
        let pods = pods_of(&client, "default", &sts_uid).await;
        (pods.len() == 1).then_some(pods)
    })
    .await;
    assert_eq!(names(&left), ["db-0"]);
}

#[tokio::test]
async fn a_failed_statefulset_pod_create_is_reported_and_retried_with_aggregated_events() {
    let (_sim, client) = cluster().await;
    // A pod already holds the name the StatefulSet needs, and it is not the set's.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let squatter: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web-0", "labels": {"other": "x"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &squatter)
        .await
        .unwrap();
    let sts: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": pod_template("web")},
    }))
    .unwrap();
    Api::<StatefulSet>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &sts)
        .await
        .unwrap();
    let event = wait_for("a repeated FailedCreate event", LIMIT, || async {
        events_for(&client, "default", "web")
            .await
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("FailedCreate") && e.count.unwrap_or(0) >= 2)
    })
    .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(
        event.message.as_deref(),
        Some("create Pod web-0 in StatefulSet web failed error: pods \"web-0\" already exists")
    );
    assert_eq!(
        event.reporting_component.as_deref(),
        Some("statefulset-controller")
    );
    assert_eq!(
        event.source.as_ref().unwrap().component.as_deref(),
        Some("statefulset-controller")
    );
    assert_eq!(event.involved_object.kind.as_deref(), Some("StatefulSet"));
    assert!(event.metadata.name.as_deref().unwrap().starts_with("web."));
    assert!(event.first_timestamp.is_some() && event.last_timestamp.is_some());
    // One event, counted, not one per attempt.
    let failed: Vec<_> = events_for(&client, "default", "web")
        .await
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("FailedCreate"))
        .collect();
    assert_eq!(failed.len(), 1);
}

#[tokio::test]
async fn a_daemonset_runs_one_pod_per_node_and_follows_nodes() {
    let (_sim, client) = cluster().await;
    let nodes: Api<Node> = Api::all(client.clone());
    for name in ["node-a", "node-b"] {
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {"pool": "test"}}}))
                .unwrap();
        nodes.create(&PostParams::default(), &node).await.unwrap();
    }
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    // Only the test's nodes (the cluster's own nodes, if a kubelet registered them, are not).
    let mut template = pod_template("agent");
    template["spec"]["nodeSelector"] = json!({"pool": "test"});
    template["spec"].as_object_mut().unwrap().remove("nodeName");
    let ds: DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template},
    }))
    .unwrap();
    let ds = api.create(&PostParams::default(), &ds).await.unwrap();
    let ds_uid = uid(&ds.metadata);
    let node_of = |pods: &[Pod]| -> Vec<String> {
        let mut nodes: Vec<String> = pods
            .iter()
            .filter_map(|p| p.spec.as_ref()?.node_name.clone())
            .collect();
        nodes.sort();
        nodes
    };
    let pods = wait_for("a pod on each node", LIMIT, || async {
        let pods = pods_of(&client, "default", &ds_uid).await;
        (pods.len() == 2).then_some(pods)
    })
    .await;
    assert_eq!(node_of(&pods), ["node-a", "node-b"]);
    for pod in &pods {
        assert!(pod.metadata.name.as_deref().unwrap().starts_with("agent-"));
        assert!(
            pod.metadata
                .labels
                .as_ref()
                .unwrap()
                .contains_key("controller-revision-hash")
        );
    }

    // A new node gets a pod; a removed node loses its pod.
    let node: Node =
        serde_json::from_value(json!({"metadata": {"name": "node-c", "labels": {"pool": "test"}}}))
            .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    nodes.delete("node-a", &Default::default()).await.unwrap();
    let pods = wait_for("pods following the nodes", LIMIT, || async {
        let pods = pods_of(&client, "default", &ds_uid).await;
        (node_of(&pods) == ["node-b", "node-c"]).then_some(pods)
    })
    .await;
    for pod in &pods {
        set_pod_status(
            &client,
            "default",
            pod.metadata.name.as_deref().unwrap(),
            "Running",
            true,
        )
        .await;
    }
    let status = wait_for("2 ready daemon pods", LIMIT, || async {
        let status = api.get("agent").await.unwrap().status?;
        (status.number_ready == 2 && status.number_available == Some(2)).then_some(status)
    })
    .await;
    assert_eq!(status.desired_number_scheduled, 2);
    assert_eq!(status.current_number_scheduled, 2);
    assert_eq!(status.updated_number_scheduled, Some(2));
    assert_eq!(status.observed_generation, Some(1));
}

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

#[tokio::test]
async fn a_replication_controller_keeps_its_replicas() {
    let (_sim, client) = cluster().await;
    let api: Api<ReplicationController> = Api::namespaced(client.clone(), "default");
    let rc: ReplicationController = serde_json::from_value(json!({
        "metadata": {"name": "legacy"},
        "spec": {"replicas": 2, "template": pod_template("legacy")},
    }))
    .unwrap();
    let rc_uid = uid(&api
        .create(&PostParams::default(), &rc)
        .await
        .unwrap()
        .metadata);
    let pods = wait_for("2 pods", LIMIT, || async {
        let pods = pods_of(&client, "default", &rc_uid).await;
        (pods.len() == 2).then_some(pods)
    })
    .await;
    for pod in &pods {
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("legacy-"));
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.api_version.as_str(), owner.kind.as_str()),
            ("v1", "ReplicationController")
        );
    }
    let status = wait_for("status.replicas 2", LIMIT, || async {
        let status = api.get("legacy").await.unwrap().status?;
        (status.replicas == 2).then_some(status)
    })
    .await;
    assert_eq!(status.fully_labeled_replicas, Some(2));
    assert_eq!(status.observed_generation, Some(1));
}

#[tokio::test]
async fn odd_objects_do_not_stop_the_controllers() {
    let (_sim, client) = cluster().await;
    let rs_resource = kube::api::ApiResource::erase::<k8s_openapi::api::apps::v1::ReplicaSet>(&());
    let raw: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &rs_resource);
    // A field of the wrong type, no template, no selector: none of these can be acted on.
    for (name, spec) in [
        (
            "wrong-type",
            json!({"replicas": "three", "selector": {"matchLabels": {"a": "b"}}}),
        ),
        (
            "no-template",
            json!({"replicas": 2, "selector": {"matchLabels": {"a": "b"}}}),
        ),
        (
            "no-selector",
            json!({"replicas": 2, "template": pod_template("x")}),
        ),
        ("null-spec", serde_json::Value::Null),
    ] {
        let object: kube::api::DynamicObject = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name}, "spec": spec,
        }))
        .unwrap();
        raw.create(&PostParams::default(), &object).await.unwrap();
    }
    let deployments: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &kube::api::ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
    );
    let object: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "empty"},
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &object)
        .await
        .unwrap();

    // A well-formed ReplicaSet afterwards is served as usual.
    let rs: k8s_openapi::api::apps::v1::ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "fine"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "fine"}}, "template": pod_template("fine")},
    }))
    .unwrap();
    let rs = Api::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &rs)
        .await
        .unwrap();
    let rs_uid = uid(&rs.metadata);
    wait_for("the well-formed ReplicaSet's pods", LIMIT, || async {
        (pods_of(&client, "default", &rs_uid).await.len() == 2).then_some(())
    })
    .await;
    let all: Api<Pod> = Api::namespaced(client.clone(), "default");
    assert_eq!(all.list(&Default::default()).await.unwrap().items.len(), 2);
    let events = events_for(&client, "default", "empty").await;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("SelectingAll")),
        "{events:?}"
    );
}

#[tokio::test]
async fn the_controllers_stop_with_the_simulator() {
    let (sim, client) = cluster().await;
    let url = sim.url();
    sim.shutdown().await;
    // Nothing listens any more, and no controller task keeps the runtime busy.
    assert!(
        client.apiserver_version().await.is_err(),
        "{url} still answers"
    );
}
