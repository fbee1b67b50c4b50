//! The StatefulSet, DaemonSet, ReplicaSet and ReplicationController controllers against the
//! emulator, through a `kube::Client`. The kubelet's part (pod phases, readiness) is played by
//! the tests through `pods/status`.

mod common;
mod controllers_support;

use std::time::Duration;

use common::objects::events_for;
use common::poll::wait_for;
use common::start::cluster;
use controllers_support::*;
use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod, ReplicationController};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(10);

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

#[tokio::test]
async fn a_replicaset_adopts_matching_orphan_pods() {
    let (_sim, client) = cluster().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "orphan", "labels": {"app": "adopt"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "test-unmanaged"},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &orphan).await.unwrap();
    let rs: k8s_openapi::api::apps::v1::ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "adopter"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "adopt"}}, "template": pod_template("adopt")},
    }))
    .unwrap();
    let rs = Api::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &rs)
        .await
        .unwrap();
    let rs_uid = uid(&rs.metadata);
    let owned = wait_for("the orphan adopted and one more pod", LIMIT, || async {
        let owned = pods_of(&client, "default", &rs_uid).await;
        (owned.len() == 2).then_some(owned)
    })
    .await;
    assert!(
        names(&owned).contains(&"orphan".to_string()),
        "{:?}",
        names(&owned)
    );
    assert_eq!(pods.list(&Default::default()).await.unwrap().items.len(), 2);
}
