//! The kubelet's events on pods, as a real kubelet records them, so that `kubectl describe
//! pod` explains a pod (`/usr/bin/python3` stands in for a registered image): a started
//! container's `Pulled`/`Created`/`Started`, a crash loop's `BackOff`, failing probes'
//! `Unhealthy` and the restart's `Killing`, a missing Secret's `Failed`, a deleted pod's
//! `Killing`; and a pod whose image is not registered says it is simulated, and is not Ready
//! when it has a readiness probe it cannot answer.

mod common;
mod kubelet_support;

use std::time::Duration;

use common::kubectl::Cluster;
use common::objects::{events_for, is_ready, phase, pod};
use common::poll::wait_for;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::DeleteParams;
use kubelet_support::{PYTHON_IMAGE, python};
use serde_json::json;

/// What `kubectl describe` reads of an event, and what a kube-apiserver requires of it.
fn assert_written_by_the_kubelet(event: &Event, pod: &Pod) {
    let source = event.source.clone().unwrap_or_default();
    assert_eq!(source.component.as_deref(), Some("kubelet"), "{event:?}");
    let node = pod.spec.as_ref().and_then(|spec| spec.node_name.clone());
    assert!(source.host.is_some() && source.host == node, "{event:?}");
    assert_eq!(event.reporting_component.as_deref(), Some("kubelet"));
    assert_eq!(event.reporting_instance, node);
    assert_eq!(event.metadata.namespace.as_deref(), Some("default"));
    let involved = &event.involved_object;
    assert_eq!(
        (involved.kind.as_deref(), involved.api_version.as_deref()),
        (Some("Pod"), Some("v1"))
    );
    assert_eq!(involved.namespace.as_deref(), Some("default"));
    assert_eq!(involved.uid, pod.metadata.uid);
    assert!(event.first_timestamp.is_some() && event.last_timestamp.is_some());
    assert!(event.count.unwrap_or(0) >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_looping_pod_has_the_kubelets_events_and_describe_shows_them() {
    let cluster = Cluster::with_python().await;
    cluster
        .create_pod(pod(
            "crasher",
            json!({"containers": [python("app", "import sys; sys.exit(3)")]}),
        ))
        .await;
    let started = cluster
        .event_until("default", "crasher", "Started", "Started container app")
        .await;
    let pod = cluster.pods("default").get("crasher").await.unwrap();
    assert_written_by_the_kubelet(&started, &pod);
    assert_eq!(
        started.involved_object.field_path.as_deref(),
        Some("spec.containers{app}")
    );
    assert_eq!(started.type_.as_deref(), Some("Normal"));
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let back_off = cluster
        .event_until(
            "default",
            "crasher",
            "BackOff",
            &format!("Back-off restarting failed container app in pod crasher_default({uid})"),
        )
        .await;
    assert_eq!(back_off.type_.as_deref(), Some("Warning"));
    cluster
        .event_until(
            "default",
            "crasher",
            "Pulled",
            &format!("Container image \"{PYTHON_IMAGE}\" already present on machine"),
        )
        .await;
    cluster
        .event_until("default", "crasher", "Created", "Created container: app")
        .await;
    // Each restart repeats them: counted on one event each, not a new event per restart.
    let counted = wait_for(
        "Started counted at least 3 times",
        Duration::from_secs(20),
        || async {
            let events = events_for(&cluster.client(), "default", "crasher").await;
            let started: Vec<&Event> = events
                .iter()
                .filter(|e| e.reason.as_deref() == Some("Started"))
                .collect();
            (started.len() == 1 && started[0].count.unwrap_or(0) >= 3).then(|| started[0].clone())
        },
    )
    .await;
    assert!(counted.last_timestamp >= counted.first_timestamp);
    let out = cluster.succeeds(&["describe", "pod", "crasher"]).await;
    assert!(
        out.contains("Back-off restarting failed container app in pod crasher_default"),
        "{out}"
    );
    assert!(
        out.contains("kubelet") && out.contains("Started container app"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_probes_missing_secrets_and_deletions_are_recorded() {
    let cluster = Cluster::with_python().await;
    // Answers 500 on every path: never ready, and its liveness probe fails.
    // Answers 500 on every path: never ready. It listens where its argument says (the
    // kubelet gives each pod its own address for `0.0.0.0:<port>`).
    let server = "import http.server, sys\n\
class H(http.server.BaseHTTPRequestHandler):\n    \
def do_GET(self):\n        self.send_response(500)\n        self.end_headers()\n    \
def log_message(self, *a): pass\n\
host, port = sys.argv[1].rsplit(':', 1)\n\
http.server.HTTPServer((host, int(port)), H).serve_forever()";
    let mut container = python("web", server);
    container["args"] = json!(["-c", server, "0.0.0.0:8080"]);
    container["readinessProbe"] =
        json!({"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 1});
    cluster
        .create_pod(pod("unready", json!({"containers": [container.clone()]})))
        .await;
    cluster
        .event_until(
            "default",
            "unready",
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 500",
        )
        .await;
    let unready = cluster.pods("default").get("unready").await.unwrap();
    assert!(!is_ready(&unready));

    let mut live = container.clone();
    live.as_object_mut().unwrap().remove("readinessProbe");
    live["livenessProbe"] =
        json!({"tcpSocket": {"port": 9999}, "periodSeconds": 1, "failureThreshold": 2});
    cluster
        .create_pod(pod("dead", json!({"containers": [live]})))
        .await;
    let unhealthy = cluster
        .event_until(
            "default",
            "dead",
            "Unhealthy",
            "Liveness probe failed: dial tcp ",
        )
        .await;
    assert!(
        unhealthy
            .message
            .unwrap_or_default()
            .ends_with(":9999: connect: connection refused"),
        "Go's wording"
    );
    cluster
        .event_until(
            "default",
            "dead",
            "Killing",
            "Container web failed liveness probe, will be restarted",
        )
        .await;

    let needs_secret = json!({
        "name": "app", "image": PYTHON_IMAGE, "command": ["python3"], "args": ["-c", "pass"],
        "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}],
    });
    cluster
        .create_pod(pod("unconfigured", json!({"containers": [needs_secret]})))
        .await;
    let failed = cluster
        .event_until("default", "unconfigured", "Failed", "Error: ")
        .await;
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    let mounted = json!({
        "containers": [python("app", "pass")],
        "volumes": [{"name": "certs", "secret": {"secretName": "absent"}}],
    });
    cluster.create_pod(pod("unmounted", mounted)).await;
    cluster
        .event_until(
            "default",
            "unmounted",
            "FailedMount",
            "MountVolume.SetUp failed for volume \"certs\" : secret \"absent\" not found",
        )
        .await;

    cluster
        .pods("default")
        .delete("unready", &DeleteParams::default())
        .await
        .unwrap();
    cluster
        .event_until("default", "unready", "Killing", "Stopping container web")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_of_an_unregistered_image_says_it_is_simulated_and_is_not_ready_with_a_probe() {
    let cluster = Cluster::with_python().await;
    cluster
        .create_pod(pod(
            "plain",
            json!({"containers": [{"name": "c", "image": "busybox"}]}),
        ))
        .await;
    // A mistyped webhook image: its readiness probe cannot be answered.
    cluster
        .create_pod(pod(
            "mistyped",
            json!({"containers": [{
                "name": "webhook", "image": "image-asurance:0.1.0",
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8443, "scheme": "HTTPS"}},
            }]}),
        ))
        .await;
    let simulated = cluster
        .event_until("default", "plain", "Simulated", "Container c is simulated: no process runs (image \"busybox\" is not registered with the kubelet)")
        .await;
    assert_eq!(simulated.type_.as_deref(), Some("Warning"));
    let plain = cluster
        .pod_until("default", "plain", "plain Running", |p| {
            phase(p) == "Running"
        })
        .await;
    assert_written_by_the_kubelet(&simulated, &plain);
    assert!(is_ready(&plain), "no probe: ready, as before");

    cluster
        .event_until(
            "default",
            "mistyped",
            "Simulated",
            "it cannot answer its readiness probe, so it is never ready",
        )
        .await;
    let mistyped = cluster
        .pod_until("default", "mistyped", "mistyped Running", |p| {
            phase(p) == "Running"
        })
        .await;
    assert!(!is_ready(&mistyped), "{:?}", mistyped.status);
    let out = cluster.succeeds(&["get", "pod", "mistyped"]).await;
    assert!(out.contains("0/1") && out.contains("Running"), "{out}");
    let out = cluster.succeeds(&["describe", "pod", "mistyped"]).await;
    assert!(
        out.contains("Simulated") && out.contains("image-asurance:0.1.0"),
        "{out}"
    );
}
