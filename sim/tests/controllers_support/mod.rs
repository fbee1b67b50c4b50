//! Shared by the controller tests (on `common::start::cluster()`): the pods a controller owns,
//! and the kubelet's part played by hand (pod phases and readiness through `pods/status`).
#![allow(dead_code)]

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::common::objects::is_ready;

/// A pod template labelled `app`, on a node no simulated kubelet runs: the test plays the
/// kubelet.
pub fn pod_template(app: &str) -> Value {
    json!({
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "main", "image": "busybox"}], "restartPolicy": "Never", "nodeName": "test-unmanaged"},
    })
}

pub fn names(pods: &[Pod]) -> Vec<String> {
    pods.iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
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
    patch_pod_status(client, namespace, name, phase, ready)
        .await
        .expect("set pod status");
}

/// Marks every pod of `owner_uid` that is not yet ready Running and Ready; returns how many
/// pods the owner has.
pub async fn make_ready(client: &kube::Client, namespace: &str, owner_uid: &str) -> usize {
    let pods = pods_of(client, namespace, owner_uid).await;
    for pod in &pods {
        if !is_ready(pod)
            && let Some(name) = &pod.metadata.name
        {
            // A pod deleted meanwhile is fine: the controller is replacing pods too.
            let _ = patch_pod_status(client, namespace, name, "Running", true).await;
        }
    }
    pods.len()
}

async fn patch_pod_status(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    phase: &str,
    ready: bool,
) -> kube::Result<Pod> {
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
}

pub fn uid(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.uid.clone().expect("a stored object has a uid")
}
