//! Node registration: each simulated node's Node object, created and kept Ready by its agent
//! (as `system:node:<name>`), with what `kubectl get nodes -o wide` shows.

use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::now_rfc3339;

/// The version the nodes report, the emulator's Kubernetes version.
pub const KUBELET_VERSION: &str = "v1.32.0";

/// How often a node's Ready condition is renewed (kubelet's `nodeStatusReportFrequency`
/// default is 5 minutes; more often here so a deleted Node comes back soon).
const HEARTBEAT: Duration = Duration::from_secs(10);

fn node_object(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
                "beta.kubernetes.io/os": "linux",
            },
        },
        "spec": {},
    })
}

/// Writes are attributed to the kubelet in `managedFields`.
pub fn kubelet_params() -> PatchParams {
    PatchParams {
        field_manager: Some("kubelet".into()),
        ..PatchParams::default()
    }
}

fn condition(kind: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": kind, "status": status, "reason": reason, "message": message,
        "lastHeartbeatTime": now, "lastTransitionTime": now,
    })
}

/// The node's status; `port` is where its kubelet serves (`daemonEndpoints`, where the API
/// server reads logs from).
fn node_status(name: &str, host_ip: IpAddr, port: u16) -> Value {
    let now = now_rfc3339();
    let resources = json!({
        "cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi",
    });
    json!({
        "status": {
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", &now),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", &now),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", &now),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", &now),
            ],
            "addresses": [
                {"type": "InternalIP", "address": host_ip.to_string()},
                {"type": "Hostname", "address": name},
            ],
            "capacity": resources,
            "allocatable": resources,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
            "nodeInfo": {
                "machineID": uuid::Uuid::new_v4().simple().to_string(),
                "systemUUID": uuid::Uuid::new_v4().to_string(),
                "bootID": uuid::Uuid::new_v4().to_string(),
                "kernelVersion": "sim",
                "osImage": "sim (process kubelet)",
                "containerRuntimeVersion": "sim://0.1.0",
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": KUBELET_VERSION,
                "operatingSystem": "linux",
                "architecture": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
            },
        }
    })
}

/// Creates the Node if it does not exist and posts a Ready status.
pub async fn register(
    client: &kube::Client,
    name: &str,
    host_ip: IpAddr,
    port: u16,
) -> Result<(), String> {
    let nodes: Api<Node> = Api::all(client.clone());
    let object: Node = serde_json::from_value(node_object(name))
        .map_err(|error| format!("node {name}: cannot build the Node: {error}"))?;
    match nodes
        .create(
            &PostParams {
                field_manager: Some("kubelet".into()),
                ..PostParams::default()
            },
            &object,
        )
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(error) => return Err(format!("node {name}: cannot register: {error}")),
    }
    nodes
        .patch_status(
            name,
            &kubelet_params(),
            &Patch::Merge(node_status(name, host_ip, port)),
        )
        .await
        .map_err(|error| format!("node {name}: cannot post its status: {error}"))?;
    Ok(())
}

/// Renews the node's Ready condition for ever (re-registering the node if it was deleted).
pub async fn keep_ready(client: kube::Client, name: String, host_ip: IpAddr, port: u16) {
    let nodes: Api<Node> = Api::all(client.clone());
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let renewed = match nodes.get_opt(&name).await {
            Ok(Some(_)) => {
                let conditions = json!({"status": {"conditions": node_status(&name, host_ip, port)["status"]["conditions"]}});
                nodes
                    .patch_status(&name, &kubelet_params(), &Patch::Merge(conditions))
                    .await
                    .map(|_| ())
                    .map_err(|error| format!("node {name}: cannot renew its status: {error}"))
            }
            Ok(None) => register(&client, &name, host_ip, port).await,
            Err(error) => Err(format!("node {name}: cannot read it: {error}")),
        };
        if let Err(error) = renewed {
            tracing::warn!(%error, "node heartbeat failed");
        }
    }
}
