//! The simulated cluster's nodes, scheduler and kubelet for pods whose image is not
//! registered: nodes are listed Ready, pods are bound and become Running and Ready with
//! unique loopback IPs, run-to-completion pods succeed, init containers complete first.

mod common;
mod kubelet_support;

use std::collections::BTreeSet;
use std::time::Duration;

use common::kubectl::{Cluster, tables};
use common::objects::{is_ready, phase, pod_ip};
use common::poll::wait_for;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::json;

fn pod(name: &str, extra: serde_json::Value) -> Pod {
    let mut object = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
    });
    if let (Some(spec), Some(extra)) = (object["spec"].as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(object).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_are_registered_ready_and_listed_by_kubectl() {
    let cluster = Cluster::with_nodes(&[]).await;
    let nodes = Api::<Node>::all(cluster.client())
        .list(&Default::default())
        .await
        .unwrap();
    let names: Vec<String> = nodes
        .items
        .iter()
        .map(|n| n.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["sim-node-1", "sim-node-2"]);
    let status = nodes.items[0].status.clone().unwrap();
    let addresses: Vec<(String, String)> = status
        .addresses
        .unwrap()
        .into_iter()
        .map(|a| (a.type_, a.address))
        .collect();
    assert_eq!(
        addresses,
        [
            ("InternalIP".to_string(), "127.0.0.1".to_string()),
            ("Hostname".to_string(), "sim-node-1".to_string())
        ]
    );
    assert_eq!(status.node_info.unwrap().kubelet_version, "v1.32.0");
    assert_eq!(status.allocatable.unwrap()["pods"].0, "110");

    let out = cluster.succeeds(&["get", "nodes", "-o", "wide"]).await;
    let table = &tables(&out)[0];
    assert_eq!(table.cell("sim-node-1", "STATUS"), "Ready");
    assert_eq!(table.cell("sim-node-2", "STATUS"), "Ready");
    assert_eq!(table.cell("sim-node-2", "VERSION"), "v1.32.0");
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_are_bound_running_and_ready_with_unique_ips() {
    let cluster = Cluster::with_nodes(&[]).await;
    let pods = cluster.pods("default");
    let names: Vec<String> = (0..6).map(|i| format!("web-{i}")).collect();
    for name in &names {
        pods.create(&PostParams::default(), &pod(name, json!({})))
            .await
            .unwrap();
    }
    // A pod that names its node (as DaemonSet pods may) runs there.
    pods.create(
        &PostParams::default(),
        &pod("pinned", json!({"nodeName": "sim-node-2"})),
    )
    .await
    .unwrap();
    let all: Vec<Pod> = wait_for(
        "7 Running and Ready pods",
        Duration::from_secs(10),
        || async {
            let list = pods.list(&Default::default()).await.ok()?;
            let ready = list
                .items
                .iter()
                .filter(|p| phase(p) == "Running" && is_ready(p))
                .count();
            (ready == 7).then_some(list.items)
        },
    )
    .await;
    let ips: BTreeSet<String> = all.iter().map(pod_ip).collect();
    assert_eq!(ips.len(), 7, "pod IPs are unique: {ips:?}");
    assert!(
        ips.iter()
            .all(|ip| ip.starts_with("127.0.") && !ip.starts_with("127.0.0.")),
        "{ips:?}"
    );
    let nodes: BTreeSet<String> = all
        .iter()
        .filter(|p| p.metadata.name.as_deref() != Some("pinned"))
        .map(|p| p.spec.clone().unwrap().node_name.unwrap())
        .collect();
    assert_eq!(nodes.len(), 2, "pods are spread over both nodes");
    let pinned = all
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("pinned"))
        .unwrap();
    assert_eq!(
        pinned.spec.clone().unwrap().node_name.as_deref(),
        Some("sim-node-2")
    );

    let status = all[0].status.clone().unwrap();
    assert_eq!(status.host_ip.as_deref(), Some("127.0.0.1"));
    assert!(status.start_time.is_some());
    let kinds: BTreeSet<String> = status
        .conditions
        .unwrap()
        .iter()
        .map(|c| format!("{}={}", c.type_, c.status))
        .collect();
    for expected in [
        "PodScheduled=True",
        "Initialized=True",
        "ContainersReady=True",
        "Ready=True",
    ] {
        assert!(kinds.contains(expected), "{expected} in {kinds:?}");
    }
    let container = &status.container_statuses.unwrap()[0];
    assert_eq!(
        (container.name.as_str(), container.image.as_str()),
        ("web", "nginx:1.27")
    );
    assert!(container.ready && container.started == Some(true));
    assert!(
        container
            .state
            .clone()
            .unwrap()
            .running
            .unwrap()
            .started_at
            .is_some()
    );

    let out = cluster.succeeds(&["get", "pods", "-o", "wide"]).await;
    let table = &tables(&out)[0];
    for pod in &all {
        let name = pod.metadata.name.clone().unwrap();
        assert_eq!(table.cell(&name, "READY"), "1/1");
        assert_eq!(table.cell(&name, "STATUS"), "Running");
        assert_eq!(table.cell(&name, "RESTARTS"), "0");
        assert_eq!(table.cell(&name, "IP"), pod_ip(pod));
        assert_eq!(
            table.cell(&name, "NODE"),
            pod.spec.clone().unwrap().node_name.unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_to_completion_pod_succeeds_and_init_containers_complete_first() {
    let cluster = Cluster::with_nodes(&[]).await;
    let pods = cluster.pods("default");
    let job = pod(
        "job",
        json!({"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox", "command": ["true"]}]}),
    );
    pods.create(&PostParams::default(), &job).await.unwrap();
    let done = cluster
        .pod_until("default", "job", "the job pod to succeed", |p| {
            phase(p) == "Succeeded"
        })
        .await;
    let status = done.status.unwrap();
    let terminated = status.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (0, Some("Completed"))
    );
    let ready = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("False", Some("PodCompleted"))
    );

    let with_init = pod(
        "with-init",
        json!({"initContainers": [{"name": "setup", "image": "busybox"}, {"name": "migrate", "image": "busybox"}]}),
    );
    pods.create(&PostParams::default(), &with_init)
        .await
        .unwrap();
    let running = cluster
        .pod_until(
            "default",
            "with-init",
            "the pod to run after its init containers",
            |p| phase(p) == "Running" && is_ready(p),
        )
        .await;
    let init = running.status.unwrap().init_container_statuses.unwrap();
    let reasons: Vec<(String, Option<String>)> = init
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.state.clone().unwrap().terminated.unwrap().reason,
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("setup".to_string(), Some("Completed".to_string())),
            ("migrate".to_string(), Some("Completed".to_string()))
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_deleted_and_recreated_under_its_name_runs_again() {
    let cluster = Cluster::with_nodes(&[]).await;
    let pods = cluster.pods("default");
    pods.create(&PostParams::default(), &pod("a", json!({})))
        .await
        .unwrap();
    cluster
        .pod_until("default", "a", "pod a Running", is_ready)
        .await;
    pods.delete("a", &DeleteParams::default()).await.unwrap();
    pods.create(&PostParams::default(), &pod("a", json!({})))
        .await
        .unwrap();
    let again = cluster
        .pod_until("default", "a", "pod a Running again", is_ready)
        .await;
    assert!(pod_ip(&again).starts_with("127.0."));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_pods_run_within_a_generous_bound() {
    let cluster = Cluster::with_nodes(&[]).await;
    let pods = cluster.pods("default");
    let started = std::time::Instant::now();
    let creates = (0..100).map(|i| {
        let pods = pods.clone();
        async move {
            pods.create(&PostParams::default(), &pod(&format!("p-{i}"), json!({})))
                .await
                .unwrap();
        }
    });
    futures::future::join_all(creates).await;
    // Polled every 100 ms: listing 100 pods is itself work for this 2-core machine.
    let deadline = started + Duration::from_secs(30);
    loop {
        let list = pods.list(&Default::default()).await.unwrap();
        if list.items.iter().filter(|p| is_ready(p)).count() == 100 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "100 pods not Ready within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    // The whole chain's goal is 100 pods in 10 s; the kubelet's share must stay well inside
    // that even on a loaded machine (typically 1–3 s in a debug build).
    assert!(
        elapsed < Duration::from_secs(10),
        "100 pods took {elapsed:?}"
    );
    eprintln!("100 pods Ready in {elapsed:?}");
}
