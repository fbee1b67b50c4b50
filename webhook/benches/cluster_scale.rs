//! `cargo xtask bench cluster`: our webhook runs in the simulated cluster from its own
//! manifests and is called for every object; how long a 10-replica Deployment takes to have 10
//! Running pods, and a scale-up to 100. Goals (issue "Simulated cluster, part 2"): < 2 s and
//! < 10 s on the project's 2-core machine.

#[path = "../tests/cluster_support/mod.rs"]
mod cluster_support;

use std::time::{Duration, Instant};

use cluster_support::{ADMITTED_DEPLOYMENT, Cluster};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

/// Pods of the `web` Deployment that are Running and Ready.
async fn running(pods: &Api<Pod>) -> usize {
    let Ok(list) = pods.list(&ListParams::default().labels("app=web")).await else {
        return 0;
    };
    list.items
        .iter()
        .filter(|pod| {
            let status = pod.status.as_ref();
            status.and_then(|s| s.phase.as_deref()) == Some("Running")
                && status
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|conditions| {
                        conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status == "True")
                    })
        })
        .count()
}

async fn time_until_running(pods: &Api<Pod>, wanted: usize, start: Instant) -> Duration {
    while running(pods).await < wanted {
        if start.elapsed() > Duration::from_secs(120) {
            eprintln!("gave up: {wanted} pods not Running after 120 s");
            std::process::exit(1);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

fn verdict(took: Duration, goal: Duration) -> &'static str {
    if took < goal {
        "goal met"
    } else {
        "GOAL MISSED"
    }
}

#[tokio::main]
async fn main() {
    let cluster = Cluster::with_webhook(&[]).await;
    cluster.shop().await;
    let client = cluster.sim.client().expect("a client");
    let pods: Api<Pod> = Api::namespaced(client, "shop");

    let deployment = ADMITTED_DEPLOYMENT.replace("replicas: 3", "replicas: 10");
    let start = Instant::now();
    cluster
        .kubectl_ok(&["apply", "-f", "-"], Some(deployment.as_bytes()))
        .await;
    let ten = time_until_running(&pods, 10, start).await;
    println!(
        "10-replica Deployment through the webhook: 10 Running in {:.2} s (goal < 2 s: {})",
        ten.as_secs_f64(),
        verdict(ten, Duration::from_secs(2))
    );

    let start = Instant::now();
    cluster
        .kubectl_ok(
            &["scale", "deployment/web", "-n", "shop", "--replicas=100"],
            None,
        )
        .await;
    let hundred = time_until_running(&pods, 100, start).await;
    println!(
        "scale-up to 100 replicas: 100 Running in {:.2} s (goal < 10 s: {})",
        hundred.as_secs_f64(),
        verdict(hundred, Duration::from_secs(10))
    );
}
