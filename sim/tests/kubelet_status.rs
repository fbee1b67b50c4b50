//! `kubectl get pods` STATUS as kubectl prints it for pods the kubelet runs (`/usr/bin/python3`
//! stands in for a registered image): `Init:x/y` while an init container runs, the waiting reason
//! of a crashing container (`CrashLoopBackOff`), and the terminated reason of a pod that
//! completed (`Completed`) or failed (`Error`).

mod common;
mod kubelet_support;

use std::time::Duration;

use common::kubectl::{Cluster, tables};
use common::objects::pod;
use common::poll::wait_for;
use kubelet_support::python;
use serde_json::json;

/// Polls `kubectl get pods` until the pod's STATUS is `expected`; returns its row's RESTARTS.
async fn until_status(cluster: &Cluster, name: &str, expected: &str) -> String {
    wait_for(
        &format!("kubectl to show {name} {expected}"),
        Duration::from_secs(20),
        || async {
            let out = cluster.succeeds(&["get", "pods", name]).await;
            let table = tables(&out).into_iter().next()?;
            (table.cell(name, "STATUS") == expected)
                .then(|| table.cell(name, "RESTARTS").to_string())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_shows_init_progress_crash_loops_and_terminated_reasons() {
    let cluster = Cluster::with_python().await;
    // The second of two init containers never ends: Init:1/2.
    cluster
        .create_pod(pod(
            "initializing",
            json!({
                "initContainers": [python("first", "pass"), python("second", "import time; time.sleep(60)")],
                "containers": [python("main", "import time; time.sleep(60)")],
            }),
        ))
        .await;
    cluster
        .create_pod(pod(
            "completed",
            json!({"restartPolicy": "Never", "containers": [python("main", "pass")]}),
        ))
        .await;
    cluster
        .create_pod(pod(
            "failed",
            json!({"restartPolicy": "Never", "containers": [python("main", "raise SystemExit(3)")]}),
        ))
        .await;
    cluster
        .create_pod(pod(
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
