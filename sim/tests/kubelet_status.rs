//! `kubectl get pods` STATUS as kubectl prints it for pods the kubelet runs (`/usr/bin/python3`
//! stands in for a registered image): `Init:x/y` while an init container runs, the waiting reason
//! of a crashing container (`CrashLoopBackOff`), and the terminated reason of a pod that
//! completed (`Completed`) or failed (`Error`).

mod kubectl_support;
mod kubelet_support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::PostParams;
use kubectl_support::tables;
use kubelet_support::{Cluster, until};
use serde_json::json;

const PYTHON: &str = "/usr/bin/python3";
const IMAGE: &str = "example.com/python:1";

fn python(name: &str, code: &str) -> serde_json::Value {
    json!({"name": name, "image": IMAGE, "command": ["python3"], "args": ["-c", code]})
}

fn pod(name: &str, spec: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec,
    }))
    .unwrap()
}

/// Polls `kubectl get pods` until the pod's STATUS is `expected`; returns its row's RESTARTS.
async fn until_status(cluster: &Cluster, name: &str, expected: &str) -> String {
    until(
        Duration::from_secs(20),
        &format!("kubectl to show {name} {expected}"),
        || async {
            let out = cluster.kubectl(&["get", "pods", name]).await;
            let table = tables(&out).into_iter().next()?;
            (table.cell(name, "STATUS") == expected)
                .then(|| table.cell(name, "RESTARTS").to_string())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_shows_init_progress_crash_loops_and_terminated_reasons() {
    let cluster = Cluster::start(&[(IMAGE, PYTHON)]).await;
    let pods = cluster.pods("default");
    let create = |pod: Pod| {
        let pods = pods.clone();
        async move { pods.create(&PostParams::default(), &pod).await.unwrap() }
    };
    // The second of two init containers never ends: Init:1/2.
    create(pod(
        "initializing",
        json!({
            "initContainers": [python("first", "pass"), python("second", "import time; time.sleep(60)")],
            "containers": [python("main", "import time; time.sleep(60)")],
        }),
    ))
    .await;
    create(pod(
        "completed",
        json!({"restartPolicy": "Never", "containers": [python("main", "pass")]}),
    ))
    .await;
    create(pod(
        "failed",
        json!({"restartPolicy": "Never", "containers": [python("main", "raise SystemExit(3)")]}),
    ))
    .await;
    create(pod(
        "crashing",
        json!({"containers": [python("main", "raise SystemExit(1)")]}),
    ))
    .await;

    assert_eq!(
        until_status(&cluster, "initializing", "Init:1/2").await,
        "0"
    );
    until_status(&cluster, "completed", "Completed").await;
    until_status(&cluster, "failed", "Error").await;
    let restarts = until_status(&cluster, "crashing", "CrashLoopBackOff").await;
    assert_ne!(restarts, "0", "a crash loop has restarted at least once");
}
