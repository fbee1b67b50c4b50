//! A pod creation the API server refuses, seen from the controllers (k8s-admission.md §3.3):
//! the ReplicaSet's Warning event `FailedCreate` `Error creating: <message>`, its
//! `ReplicaFailure` condition, the condition copied to the Deployment, and its removal once a
//! sync succeeds.
//!
//! The refusal used here is the one the emulator gives today without admission webhooks: a
//! generated pod name that is not a valid name. A Deployment named with 50 characters gets a
//! ReplicaSet `<name>-<hash>` (up to 61 characters), whose pods' names `<rs>-<5 chars>` exceed
//! the 63 characters of a DNS label. (kube-apiserver shortens a too-long `generateName` prefix,
//! the emulator does not; once the admission chain can deny pods, a denying webhook is the
//! more faithful way to fail them.)

mod controllers_support;

use std::time::Duration;

use controllers_support::*;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_refused_pod_create_is_an_event_a_replicaset_condition_and_a_deployment_condition() {
    let (_sim, client) = cluster().await;
    let name = "x".repeat(50);
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "long"}},
            "template": {
                "metadata": {"labels": {"app": "long"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "test-unmanaged"},
            },
        },
    }))
    .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();

    let replicasets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let (rs, condition) = wait_for("the ReplicaFailure condition", LIMIT, || async {
        let rs = replicasets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .next()?;
        let condition = rs
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_.as_deref() == Some("ReplicaFailure"))?
            .clone();
        Some((rs, condition))
    })
    .await;
    let rs_name = rs.metadata.name.clone().unwrap();
    assert_eq!(condition.status.as_deref(), Some("True"));
    assert_eq!(condition.reason.as_deref(), Some("FailedCreate"));
    let message = condition.message.clone().unwrap();
    assert!(
        message.starts_with(&format!("Pod \"{rs_name}-")),
        "{message}"
    );
    assert!(
        message.contains("is invalid: metadata.name: Invalid value"),
        "{message}"
    );
    assert_eq!(
        rs.status.as_ref().unwrap().replicas,
        0,
        "only existing pods count"
    );

    // The event of that failure, from the replicaset-controller.
    let event = wait_for("the FailedCreate event", LIMIT, || async {
        events_for(&client, "default", &rs_name)
            .await
            .into_iter()
            .find(|e| e.message.as_deref() == Some(&format!("Error creating: {message}")))
    })
    .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(event.reason.as_deref(), Some("FailedCreate"));
    assert_eq!(
        event.reporting_component.as_deref(),
        Some("replicaset-controller")
    );
    assert_eq!(
        event.source.as_ref().unwrap().component.as_deref(),
        Some("replicaset-controller")
    );
    let involved = &event.involved_object;
    assert_eq!(
        (
            involved.kind.as_deref(),
            involved.api_version.as_deref(),
            involved.name.as_deref(),
            involved.namespace.as_deref()
        ),
        (
            Some("ReplicaSet"),
            Some("apps/v1"),
            Some(rs_name.as_str()),
            Some("default")
        )
    );
    assert_eq!(involved.uid, rs.metadata.uid);
    // Slow start: the first batch (one pod) failed, so nothing more was tried in that sync;
    // retries come with backoff and keep failing.
    wait_for("a retry", LIMIT, || async {
        let events = events_for(&client, "default", &rs_name).await;
        (events
            .iter()
            .filter(|e| e.reason.as_deref() == Some("FailedCreate"))
            .count()
            >= 2)
            .then_some(())
    })
    .await;

    // The Deployment carries the same condition and is not available.
    let status = wait_for("the Deployment's copy", LIMIT, || async {
        let status = deployments.get(&name).await.unwrap().status?;
        status
            .conditions
            .as_ref()?
            .iter()
            .any(|c| c.type_.as_deref() == Some("ReplicaFailure"))
            .then_some(status)
    })
    .await;
    let conditions = status.conditions.unwrap();
    let copy = conditions
        .iter()
        .find(|c| c.type_.as_deref() == Some("ReplicaFailure"))
        .unwrap();
    assert_eq!(
        (
            copy.status.as_deref(),
            copy.reason.as_deref(),
            copy.message.as_deref()
        ),
        (Some("True"), Some("FailedCreate"), Some(message.as_str()))
    );
    let available = conditions
        .iter()
        .find(|c| c.type_.as_deref() == Some("Available"))
        .unwrap();
    assert_eq!(
        (
            available.status.as_deref(),
            available.reason.as_deref(),
            available.message.as_deref()
        ),
        (
            Some("False"),
            Some("MinimumReplicasUnavailable"),
            Some("Deployment does not have minimum availability.")
        )
    );
    assert_eq!(status.replicas.unwrap_or(0), 0);
    assert_eq!(status.unavailable_replicas, Some(2));

    // Nothing to create, nothing fails: the condition goes, on both.
    deployments
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await
        .unwrap();
    wait_for("the conditions to clear", LIMIT, || async {
        let has_failure = |conditions: Option<Vec<serde_json::Value>>| {
            conditions
                .unwrap_or_default()
                .iter()
                .any(|c| c["type"] == "ReplicaFailure")
        };
        let rs = replicasets.get(&rs_name).await.unwrap();
        let rs_conditions = rs
            .status
            .and_then(|s| s.conditions)
            .map(|c| c.iter().map(|c| serde_json::to_value(c).unwrap()).collect());
        let d = deployments.get(&name).await.unwrap();
        let d_conditions = d
            .status
            .and_then(|s| s.conditions)
            .map(|c| c.iter().map(|c| serde_json::to_value(c).unwrap()).collect());
        (!has_failure(rs_conditions) && !has_failure(d_conditions)).then_some(())
    })
    .await;
}
