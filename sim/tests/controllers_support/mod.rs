//! Shared helpers of the controller tests: a cluster, bounded polling, and the kubelet's part
//! played by hand (pod phases and readiness through `pods/status`).
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use sim::{Config, Simulator};

pub async fn cluster() -> (Simulator, kube::Client) {
    let sim = Simulator::start(Config::cluster())
        .await
        .expect("the simulator starts");
    let client = sim.client().expect("a client");
    (sim, client)
}

/// Polls `check` every 20 ms until it returns `Some`, failing the test with `what` after
/// `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Pods in `namespace` whose controller reference is `owner_uid`, sorted by name.
pub async fn pods_of(client: &kube::Client, namespace: &str, owner_uid: &str) -> Vec<Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut pods: Vec<Pod> = api
        .list(&ListParams::default())
        .await
        .expect("list pods")
        .items
        .into_iter()
        .filter(|pod| {
            pod.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.controller == Some(true) && r.uid == owner_uid)
        })
        .collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    pods
}

/// What the kubelet would report: `phase`, and the `Ready` condition.
pub async fn set_pod_status(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    phase: &str,
    ready: bool,
) {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let status = if ready { "True" } else { "False" };
    let patch = json!({"status": {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": status, "lastTransitionTime": now}],
    }});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("set pod status");
}

/// Marks every pod of `owner_uid` that is not yet ready Running and Ready; returns how many
/// pods the owner has.
pub async fn make_ready(client: &kube::Client, namespace: &str, owner_uid: &str) -> usize {
    let pods = pods_of(client, namespace, owner_uid).await;
    for pod in &pods {
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if !ready && let Some(name) = &pod.metadata.name {
            // A pod deleted meanwhile is fine: the controller is replacing pods too.
            let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
            let now = jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            let patch = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
            let _ = api
                .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await;
        }
    }
    pods.len()
}

/// Events about the object named `name` in `namespace`.
pub async fn events_for(client: &kube::Client, namespace: &str, name: &str) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    api.list(&ListParams::default())
        .await
        .expect("list events")
        .items
        .into_iter()
        .filter(|event| event.involved_object.name.as_deref() == Some(name))
        .collect()
}

pub fn uid(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.uid.clone().expect("a stored object has a uid")
}
