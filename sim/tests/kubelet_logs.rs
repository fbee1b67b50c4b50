//! `kubectl logs` against pods the kubelet runs as processes (`/usr/bin/python3` stands in for
//! a registered image): the API server's `pods/log` reaches the node's kubelet, which serves
//! each run's output — by Deployment, by container, `--tail`, `--previous` (the crashed run),
//! `-f` (until the container ends) — and refuses, in kube-apiserver's and the kubelet's words,
//! what has no log: a simulated container, one that has not started, bad options.

mod common;
mod kubelet_support;

use std::time::Duration;

use common::api::api_error;
use common::kubectl::{Cluster, Run};
use common::objects::{phase, pod};
use common::poll::wait_for;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{LogParams, PostParams};
use kubelet_support::PYTHON_IMAGE;
use serde_json::json;

/// A container `name` running `code` unbuffered (`-u`): what it prints reaches its log at once.
fn python(name: &str, code: &str) -> serde_json::Value {
    let mut container = kubelet_support::python(name, code);
    container["args"] = json!(["-u", "-c", code]);
    container
}

/// Polls `kubectl logs ARGS` until its output contains `text`; returns the output.
async fn logs_until(cluster: &Cluster, args: &[&str], text: &str) -> String {
    let mut command = vec!["logs"];
    command.extend_from_slice(args);
    wait_for(
        &format!("kubectl {command:?} to print {text:?}"),
        Duration::from_secs(20),
        || async {
            let run = cluster.run(&command).await;
            (run.success && run.stdout.contains(text)).then_some(run.stdout)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_logs_reads_a_deployments_pod_by_container_with_tail() {
    let cluster = Cluster::with_python().await;
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "printer"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "printer"}},
            "template": {
                "metadata": {"labels": {"app": "printer"}},
                "spec": {"containers": [
                    // Two pipes have no order between them (nor in a container runtime):
                    // the pause lets the kubelet read stdout before stderr is written.
                    python("main", "import sys, time\nfor n in range(5): print('line', n)\ntime.sleep(1)\nprint('to stderr', file=sys.stderr)\ntime.sleep(60)"),
                    python("second", "import time\nprint('from the second container')\ntime.sleep(60)"),
                ]},
            },
        },
    }))
    .unwrap();
    Api::<Deployment>::namespaced(cluster.client(), "default")
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    // kubectl picks the Deployment's pod and its first container, as it says on stderr.
    let out = logs_until(&cluster, &["deploy/printer"], "to stderr").await;
    assert!(
        out.starts_with("line 0\nline 1\nline 2\nline 3\nline 4\n"),
        "stdout and stderr as the container printed them: {out:?}"
    );
    let out = logs_until(&cluster, &["deploy/printer", "-c", "second"], "second").await;
    assert_eq!(out, "from the second container\n");
    let out = logs_until(
        &cluster,
        &["deploy/printer", "-c", "main", "--tail=2"],
        "line",
    )
    .await;
    assert_eq!(out, "line 4\nto stderr\n");
    let out = logs_until(
        &cluster,
        &["deploy/printer", "-c", "main", "--timestamps", "--tail=1"],
        "to stderr",
    )
    .await;
    let (time, line) = out.trim_end().split_once(' ').unwrap();
    assert!(time.parse::<jiff::Timestamp>().is_ok(), "{out:?}");
    assert_eq!(line, "to stderr");

    // The node says where its kubelet serves: what the API server dialled.
    let node = Api::<Node>::all(cluster.client())
        .get("sim-node-1")
        .await
        .unwrap();
    let port = node
        .status
        .unwrap()
        .daemon_endpoints
        .unwrap()
        .kubelet_endpoint
        .unwrap()
        .port;
    assert_ne!(
        port, 10250,
        "the port the kubelet listens on, not the default"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn previous_reads_the_crashed_run_and_follow_ends_with_the_container() {
    let cluster = Cluster::with_python().await;
    cluster
        .create_pod(pod(
            "crasher",
            json!({"containers": [python("c", "import os, sys\nprint('run of pid', os.getpid())\nsys.exit(3)")]}),
        ))
        .await;
    let pods = cluster.pods("default");
    cluster
        .pod_until("default", "crasher", "a restart", |pod| {
            pod.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|c| c[0].restart_count >= 2)
        })
        .await;
    let previous = pods
        .logs(
            "crasher",
            &LogParams {
                previous: true,
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    assert!(previous.starts_with("run of pid "), "{previous:?}");
    assert_eq!(previous.lines().count(), 1, "one run only: {previous:?}");
    let current = pods.logs("crasher", &LogParams::default()).await.unwrap();
    assert!(current.starts_with("run of pid "), "{current:?}");
    let out = logs_until(&cluster, &["crasher", "--previous"], "run of pid").await;
    assert_eq!(out.lines().count(), 1, "{out:?}");

    // A container that prints for a while, then ends: `-f` shows every line and returns.
    cluster
        .create_pod(pod(
            "ticker",
            json!({
                "restartPolicy": "Never",
                "containers": [python("c", "import time\nfor n in range(10):\n    print('tick', n)\n    time.sleep(0.1)")],
            }),
        ))
        .await;
    cluster
        .pod_until("default", "ticker", "ticker started", |pod| {
            phase(pod) == "Running" || phase(pod) == "Succeeded"
        })
        .await;
    let followed = logs_until(&cluster, &["ticker", "-f"], "tick 9").await;
    let expected: String = (0..10).map(|n| format!("tick {n}\n")).collect();
    assert_eq!(followed, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn what_has_no_log_is_refused_as_kube_apiserver_and_the_kubelet_word_it() {
    let cluster = Cluster::with_python().await;
    // busybox is not registered: its container is simulated and has printed nothing.
    cluster
        .create_pod(pod(
            "simulated",
            json!({"containers": [{"name": "c", "image": "busybox"}]}),
        ))
        .await;
    cluster
        .pod_until("default", "simulated", "running", |pod| {
            phase(pod) == "Running"
        })
        .await;
    let Run {
        success: ok,
        stderr: error,
        ..
    } = cluster.run(&["logs", "simulated"]).await;
    assert!(!ok);
    assert!(
        error.contains("Error from server (BadRequest): container \"c\" in pod \"simulated\" is simulated: no process runs (image \"busybox\" is not registered with the kubelet)"),
        "{error}"
    );
    // A container waiting for a Secret that does not exist has not started.
    cluster
        .create_pod(pod(
            "waiting",
            json!({"containers": [{
                "name": "c", "image": PYTHON_IMAGE, "command": ["python3"], "args": ["-c", "pass"],
                "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}],
            }]}),
        ))
        .await;
    let error = wait_for(
        "kubectl logs to say the container waits",
        Duration::from_secs(20),
        || async {
            let error = cluster.run(&["logs", "waiting"]).await.stderr;
            error
                .contains("CreateContainerConfigError")
                .then_some(error)
        },
    )
    .await;
    assert!(
        error.contains(
            "Error from server (BadRequest): container \"c\" in pod \"waiting\" is waiting to start: CreateContainerConfigError"
        ),
        "{error}"
    );
    let Run {
        success: ok,
        stderr: error,
        ..
    } = cluster.run(&["logs", "waiting", "--previous"]).await;
    assert!(
        !ok && error.contains("previous terminated container \"c\" in pod \"waiting\" not found"),
        "{error}"
    );

    // Bad options and containers, before any kubelet is asked.
    let pods = cluster.pods("default");
    let status = |result: Result<String, kube::Error>| api_error(result.unwrap_err());
    let (code, reason, message) = status(
        pods.logs(
            "simulated",
            &LogParams {
                container: Some("db".into()),
                ..LogParams::default()
            },
        )
        .await,
    );
    assert_eq!((code, reason.as_str()), (400, "BadRequest"));
    assert_eq!(message, "container db is not valid for pod simulated");
    let client = cluster.client();
    let request =
        axum::http::Request::get("/api/v1/namespaces/default/pods/simulated/log?tailLines=-1")
            .body(Vec::new())
            .unwrap();
    let (code, reason, message) = status(client.request_text(request).await);
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert_eq!(
        message,
        "PodLogOptions \"simulated\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0"
    );
    let (code, _, message) = status(pods.logs("absent", &LogParams::default()).await);
    assert_eq!((code, message.as_str()), (404, "pods \"absent\" not found"));
}
