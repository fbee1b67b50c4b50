//! The endpoints controller: an Endpoints object per Service with a selector, following the
//! pods it selects and the Service itself; Services without a selector are left alone.

mod common;
mod kubelet_support;

use std::time::Duration;

use common::kubectl::Cluster;
use common::objects::service;
use common::poll::wait_for;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn pod(name: &str, app: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}]},
    }))
    .unwrap()
}

/// The addresses of the Endpoints `name` (ready ones), sorted, once they number `count`.
async fn addresses(endpoints: &Api<Endpoints>, name: &str, count: usize) -> Vec<(String, i32)> {
    wait_for(
        &format!("{count} addresses in {name}"),
        Duration::from_secs(10),
        || async {
            let object = endpoints.get_opt(name).await.ok().flatten()?;
            let mut found: Vec<(String, i32)> = Vec::new();
            for subset in object.subsets.unwrap_or_default() {
                let port = subset
                    .ports
                    .as_ref()
                    .and_then(|p| p.first())
                    .map_or(0, |p| p.port);
                for address in subset.addresses.unwrap_or_default() {
                    found.push((
                        address.target_ref.and_then(|r| r.name).unwrap_or_default(),
                        port,
                    ));
                }
            }
            found.sort();
            (found.len() == count).then_some(found)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_follow_pods_and_their_service() {
    let cluster = Cluster::with_nodes(&[]).await;
    let pods = cluster.pods("default");
    let services: Api<Service> = Api::namespaced(cluster.client(), "default");
    let endpoints: Api<Endpoints> = Api::namespaced(cluster.client(), "default");
    for (name, app) in [("web-a", "web"), ("web-b", "web"), ("db", "db")] {
        pods.create(&PostParams::default(), &pod(name, app))
            .await
            .unwrap();
    }
    let web: Service = serde_json::from_value(service(
        "web",
        json!({"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}),
    ))
    .unwrap();
    services.create(&PostParams::default(), &web).await.unwrap();
    assert_eq!(
        addresses(&endpoints, "web", 2).await,
        [("web-a".to_string(), 8080), ("web-b".to_string(), 8080)]
    );

    // A new selected pod joins; a deleted one leaves.
    pods.create(&PostParams::default(), &pod("web-c", "web"))
        .await
        .unwrap();
    addresses(&endpoints, "web", 3).await;
    pods.delete("web-a", &DeleteParams::default())
        .await
        .unwrap();
    let left = addresses(&endpoints, "web", 2).await;
    assert_eq!(left[0].0, "web-b");

    // The Service's selector and ports change: so do its endpoints.
    let patch =
        json!({"spec": {"selector": {"app": "db"}, "ports": [{"port": 80, "targetPort": 9000}]}});
    services
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(
        addresses(&endpoints, "web", 1).await,
        [("db".to_string(), 9000)]
    );

    // A Service without a selector keeps the Endpoints its user writes.
    let manual: Service =
        serde_json::from_value(service("external", json!({"ports": [{"port": 443}]}))).unwrap();
    services
        .create(&PostParams::default(), &manual)
        .await
        .unwrap();
    let written: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "external"},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 443}]}],
    }))
    .unwrap();
    endpoints
        .create(&PostParams::default(), &written)
        .await
        .unwrap();

    // Deleting the Service deletes its endpoints.
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    wait_for(
        "the endpoints of web to go",
        Duration::from_secs(10),
        || async { endpoints.get_opt("web").await.ok()?.is_none().then_some(()) },
    )
    .await;
    // Pod churn in the namespace touched nothing of `external`.
    pods.delete("db", &DeleteParams::default()).await.unwrap();
    pods.create(&PostParams::default(), &pod("late", "web"))
        .await
        .unwrap();
    cluster.ready_pod("late").await;
    let kept = endpoints.get("external").await.unwrap();
    assert_eq!(
        kept.subsets.unwrap()[0].addresses.as_ref().unwrap()[0].ip,
        "192.0.2.10"
    );
}
