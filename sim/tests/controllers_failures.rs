//! A pod creation the API server refuses, seen from the controllers (k8s-admission.md §3.3):
//! the ReplicaSet's Warning event `FailedCreate` `Error creating: <message>`, its
//! `ReplicaFailure` condition, the condition copied to the Deployment, and its removal once a
//! sync succeeds.
//!
//! The refusal comes from a validating webhook that denies pods labelled `app=refused`, so the
//! controller gets exactly what kube-apiserver would send it.

mod admission_support;
mod common;

use std::time::Duration;

use admission_support::{Answer, Ca, TestWebhook, configure, webhook};
use common::objects::events_for;
use common::poll::wait_for;
use common::start::cluster;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(10);

const DENIAL: &str = "admission webhook \"refuse.example.com\" denied the request: pods labelled app=refused are not allowed";

/// A webhook on pod CREATEs that denies pods labelled `app=refused`.
async fn refusing_webhook(client: &kube::Client) -> TestWebhook {
    let ca = Ca::new("webhooks");
    let hook = TestWebhook::serve(client, &ca, "refuse", |_, review| {
        if review["request"]["object"]["metadata"]["labels"]["app"] == "refused" {
            Answer::Deny {
                status: json!({"code": 403, "reason": "Forbidden",
                               "message": "pods labelled app=refused are not allowed"}),
                warnings: vec![],
            }
        } else {
            Answer::allow()
        }
    })
    .await;
    let rules = json!({"rules": [{"operations": ["CREATE"], "apiGroups": [""],
                                  "apiVersions": ["v1"], "resources": ["pods"]}]});
    configure(
        client,
        "refuse",
        vec![webhook("refuse.example.com", "refuse", "/", &ca, rules)],
    )
    .await;
    hook
}

/// A Deployment `name` of pods labelled `app=refused` (on a node no simulated kubelet runs),
/// with `spec` (`replicas`, …) added to its spec.
fn refused_deployment(name: &str, spec: Value) -> Deployment {
    let mut deployment = json!({
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": "refused"}},
            "template": {
                "metadata": {"labels": {"app": "refused"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "test-unmanaged"},
            },
        },
    });
    for (key, value) in spec.as_object().unwrap() {
        deployment["spec"][key] = value.clone();
    }
    serde_json::from_value(deployment).unwrap()
}

#[tokio::test]
async fn a_refused_pod_create_is_an_event_a_replicaset_condition_and_a_deployment_condition() {
    let (_sim, client) = cluster().await;
    let _hook = refusing_webhook(&client).await;
    let name = "refused".to_string();
    let deployment = refused_deployment(&name, json!({"replicas": 2}));
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
    assert_eq!(message, DENIAL);
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
    // retries come with backoff and keep failing — the same message, so one event counted up.
    wait_for("a retry", LIMIT, || async {
        let events = events_for(&client, "default", &rs_name).await;
        let failures: i32 = events
            .iter()
            .filter(|e| e.reason.as_deref() == Some("FailedCreate"))
            .map(|e| e.count.unwrap_or(1))
            .sum();
        (failures >= 2).then_some(())
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

#[tokio::test]
async fn a_deployment_that_cannot_progress_exceeds_its_deadline() {
    let (_sim, client) = cluster().await;
    let _hook = refusing_webhook(&client).await;
    let name = "stuck".to_string();
    let deployment =
        refused_deployment(&name, json!({"replicas": 1, "progressDeadlineSeconds": 1}));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let condition = wait_for("ProgressDeadlineExceeded", LIMIT, || async {
        let status = deployments.get(&name).await.unwrap().status?;
        status.conditions?.into_iter().find(|c| {
            c.type_.as_deref() == Some("Progressing") && c.status.as_deref() == Some("False")
        })
    })
    .await;
    assert_eq!(
        condition.reason.as_deref(),
        Some("ProgressDeadlineExceeded")
    );
    let rs = Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(
        condition.message,
        Some(format!(
            "ReplicaSet \"{}\" has timed out progressing.",
            rs.metadata.name.unwrap()
        ))
    );
}
