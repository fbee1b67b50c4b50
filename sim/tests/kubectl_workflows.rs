//! Everyday imperative kubectl against the simulator: run, get (tables, jsonpath), label,
//! scale, set image, events, describe, delete with its cascade and its wait.

mod common;

use std::time::Duration;

use common::data::workspace;
use common::kubectl::{Cluster, is_recent_age, lines, tables};
use common::poll::{eventually, until, wait_for};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Namespace, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Api;
use kube::api::{DeleteParams, PostParams};

/// A Deployment whose container is called `web` (what `kubectl set image deploy/web web=...`
/// names), written as a file so that creating it needs no protobuf.
const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
";

async fn create_web(cluster: &Cluster, name: &str) -> Deployment {
    let path = cluster.write(
        &format!("{name}.yaml"),
        &WEB.replace("name: web\n  labels", &format!("name: {name}\n  labels")),
    );
    let created = cluster.ok(&["create", "-f", &path]).await;
    assert_eq!(lines(&created), [format!("deployment.apps/{name} created")]);
    Api::<Deployment>::namespaced(cluster.client(), "default")
        .get(name)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn run_get_and_label() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let run = cluster.ok(&["run", "p", "--image=nginx"]).await;
    assert_eq!(lines(&run), ["pod/p created"]);
    let pod = Api::<Pod>::namespaced(client.clone(), "default")
        .get("p")
        .await
        .unwrap();
    assert_eq!(pod.metadata.labels.unwrap()["run"], "p");
    let container = &pod.spec.unwrap().containers[0];
    assert_eq!(
        (container.name.as_str(), container.image.as_deref()),
        ("p", Some("nginx"))
    );
    create_web(&cluster, "web").await;
    let namespaces = workspace()
        .join("fixtures/namespaces")
        .to_string_lossy()
        .into_owned();
    cluster.ok(&["apply", "-f", &namespaces]).await;
    let pod_yaml = workspace()
        .join("fixtures/workloads/pod.yaml")
        .to_string_lossy()
        .into_owned();
    cluster
        .ok(&["create", "-f", &pod_yaml, "--namespace", "production"])
        .await;

    let printed = cluster.ok(&["get", "deploy,pods", "-A"]).await;
    let blocks = tables(&printed);
    assert_eq!(blocks.len(), 2, "{printed}");
    assert_eq!(
        blocks[0].header,
        [
            "NAMESPACE",
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE"
        ]
    );
    assert_eq!(
        blocks[0].rows_without(&["AGE"]),
        [["default", "deployment.apps/web", "0/2", "0", "0"]]
    );
    assert_eq!(
        blocks[1].header,
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    assert_eq!(
        blocks[1].rows_without(&["AGE"]),
        [
            ["default", "pod/p", "0/1", "Pending", "0"],
            ["production", "pod/nginx", "0/1", "Pending", "0"]
        ]
    );
    assert!(is_recent_age(blocks[1].cell("pod/p", "AGE")), "{printed}");

    let labels = cluster
        .ok(&[
            "get",
            "ns",
            "production",
            "-o",
            "jsonpath={.metadata.labels}",
        ])
        .await;
    assert_eq!(
        labels,
        r#"{"apply-container-policies":"true","kubernetes.io/metadata.name":"production"}"#
    );
    let labelled = cluster.ok(&["label", "ns", "production", "k=v"]).await;
    assert_eq!(lines(&labelled), ["namespace/production labeled"]);
    let production = Api::<Namespace>::all(client)
        .get("production")
        .await
        .unwrap();
    let labels = production.metadata.labels.unwrap();
    assert_eq!(
        (
            labels["k"].as_str(),
            labels["apply-container-policies"].as_str()
        ),
        ("v", "true")
    );
    let labels = cluster
        .ok(&[
            "get",
            "ns",
            "production",
            "-o",
            "jsonpath={.metadata.labels.k}",
        ])
        .await;
    assert_eq!(labels, "v");
}

#[tokio::test(flavor = "multi_thread")]
async fn scale_and_set_image_change_the_spec() {
    let cluster = Cluster::start().await;
    let deployments = Api::<Deployment>::namespaced(cluster.client(), "default");
    let created = create_web(&cluster, "web").await;
    assert_eq!(created.metadata.generation, Some(1));

    let scaled = cluster.ok(&["scale", "deploy/web", "--replicas=3"]).await;
    assert_eq!(lines(&scaled), ["deployment.apps/web scaled"]);
    let web = deployments.get("web").await.unwrap();
    assert_eq!(
        (web.spec.replicas, web.metadata.generation),
        (Some(3), Some(2))
    );

    let updated = cluster
        .ok(&["set", "image", "deploy/web", "web=nginx:1.28"])
        .await;
    assert_eq!(lines(&updated), ["deployment.apps/web image updated"]);
    let web = deployments.get("web").await.unwrap();
    assert_eq!(web.metadata.generation, Some(3));
    let containers = web.spec.template.spec.unwrap().containers;
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0].image.as_deref(), Some("nginx:1.28"));
    assert_eq!(
        web.spec.replicas,
        Some(3),
        "the image change keeps the scale"
    );

    let printed = cluster.ok(&["get", "deploy", "web", "-o", "wide"]).await;
    let table = &tables(&printed)[0];
    assert_eq!(
        table.header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    assert_eq!(
        table.rows_without(&["AGE"]),
        [["web", "0/3", "0", "0", "web", "nginx:1.28", "app=web"]]
    );
}

fn event(
    name: &str,
    object: ObjectReference,
    reason: &str,
    message: &str,
    seen: jiff::Timestamp,
) -> Event {
    Event {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        },
        involved_object: object,
        reason: Some(reason.into()),
        message: Some(message.into()),
        type_: Some("Normal".into()),
        count: Some(1),
        first_timestamp: Some(Time(seen)),
        last_timestamp: Some(Time(seen)),
        source: Some(k8s_openapi::api::core::v1::EventSource {
            component: Some("default-scheduler".into()),
            host: None,
        }),
        ..Event::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_are_listed_and_described_with_their_object() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let none = cluster.run(&["get", "events"]).await;
    assert!(none.success, "{none:?}");
    assert_eq!(
        (none.stdout.as_str(), none.stderr.as_str()),
        ("", "No resources found in default namespace.\n")
    );

    cluster.ok(&["run", "p", "--image=nginx"]).await;
    cluster.ok(&["run", "q", "--image=nginx"]).await;
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    let reference = |pod: &Pod| ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: pod.metadata.name.clone(),
        namespace: Some("default".into()),
        uid: pod.metadata.uid.clone(),
        ..ObjectReference::default()
    };
    let (p, q) = (pods.get("p").await.unwrap(), pods.get("q").await.unwrap());
    // Three days back: kubectl prints `3d` for anything from 3 days to 3 days 59 minutes.
    let seen = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(72);
    let events = Api::<Event>::namespaced(client, "default");
    let post = PostParams::default();
    events
        .create(
            &post,
            &event(
                "p.1",
                reference(&p),
                "Scheduled",
                "Successfully assigned default/p to node-1",
                seen,
            ),
        )
        .await
        .unwrap();
    events
        .create(
            &post,
            &event(
                "q.1",
                reference(&q),
                "Pulling",
                "Pulling image \"nginx\"",
                seen,
            ),
        )
        .await
        .unwrap();

    let printed = cluster.ok(&["get", "events"]).await;
    let table = &tables(&printed)[0];
    assert_eq!(
        table.header,
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
    let mut rows = table.rows_without(&[]);
    rows.sort();
    assert_eq!(
        rows,
        [
            [
                "3d",
                "Normal",
                "Pulling",
                "pod/q",
                "Pulling image \"nginx\""
            ],
            [
                "3d",
                "Normal",
                "Scheduled",
                "pod/p",
                "Successfully assigned default/p to node-1"
            ],
        ]
    );

    // describe lists the pod's events with a field selector on the involved object.
    let described = cluster.ok(&["describe", "pod", "p"]).await;
    assert!(
        described.starts_with(
            "Name:             p\nNamespace:        default\nPriority:         0\nService Account:  default\n"
        ),
        "{described}"
    );
    let events_section = described
        .split_once("Events:")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("{described}"));
    let events_table = &tables(events_section.trim_start_matches('\n'))[0];
    assert_eq!(
        events_table.header,
        ["Type", "Reason", "Age", "From", "Message"]
    );
    assert_eq!(
        events_table.rows[1..],
        [[
            "Normal",
            "Scheduled",
            "3d",
            "default-scheduler",
            "Successfully assigned default/p to node-1"
        ]]
    );
}

/// The ReplicaSet the deployment controller made for `deployment`, and one of its Pods.
async fn dependents(cluster: &Cluster, deployment: &Deployment) -> (ReplicaSet, Pod) {
    let client = cluster.client();
    let owner_uid = deployment.metadata.uid.clone().unwrap_or_default();
    let owned_by = |meta: &ObjectMeta, uid: &str| {
        meta.owner_references
            .iter()
            .flatten()
            .any(|reference| reference.uid == uid)
    };
    let replica_sets = Api::<ReplicaSet>::namespaced(client.clone(), "default");
    let pods = Api::<Pod>::namespaced(client, "default");
    wait_for(
        "the controllers' ReplicaSet and Pod for the Deployment",
        Duration::from_secs(10),
        || async {
            let sets = replica_sets.list(&Default::default()).await.unwrap().items;
            let set = sets
                .into_iter()
                .find(|set| owned_by(&set.metadata, &owner_uid))?;
            let set_uid = set.metadata.uid.clone().unwrap_or_default();
            let owned = pods.list(&Default::default()).await.unwrap().items;
            let pod = owned
                .into_iter()
                .find(|pod| owned_by(&pod.metadata, &set_uid))?;
            Some((set, pod))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_cascades_to_dependents_unless_orphaned() {
    // Controllers and a garbage collector, as a real cluster has.
    let cluster = Cluster::with_nodes(&[]).await;
    let client = cluster.client();
    let replica_sets = Api::<ReplicaSet>::namespaced(client.clone(), "default");
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    let deployments = Api::<Deployment>::namespaced(client, "default");

    let web = create_web(&cluster, "web").await;
    let (replica_set, pod) = dependents(&cluster, &web).await;
    let started = std::time::Instant::now();
    let deleted = cluster.ok(&["delete", "deploy", "web"]).await;
    assert_eq!(lines(&deleted), ["deployment.apps \"web\" deleted"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "kubectl delete waited {:?}",
        started.elapsed()
    );
    assert!(deployments.get_opt("web").await.unwrap().is_none());
    // The garbage collector deletes the dependents after the owner, as on a real cluster.
    let replica_set_name = replica_set.metadata.name.clone().unwrap();
    let pod_name = pod.metadata.name.clone().unwrap();
    until(
        "the ReplicaSet and its Pod to be collected",
        Duration::from_secs(10),
        || async {
            replica_sets
                .get_opt(&replica_set_name)
                .await
                .unwrap()
                .is_none()
                && pods.get_opt(&pod_name).await.unwrap().is_none()
        },
    )
    .await;

    let kept = create_web(&cluster, "kept").await;
    let (replica_set, pod) = dependents(&cluster, &kept).await;
    // kubectl waits until the owner is gone: the collector has orphaned the dependents and
    // removed the owner's `orphan` finalizer by then.
    let deleted = cluster
        .ok(&["delete", "deploy", "kept", "--cascade=orphan"])
        .await;
    assert_eq!(lines(&deleted), ["deployment.apps \"kept\" deleted"]);
    assert!(deployments.get_opt("kept").await.unwrap().is_none());
    let orphan = replica_sets
        .get(replica_set.metadata.name.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        orphan.metadata.owner_references, None,
        "the reference to the deleted owner is gone"
    );
    let pod = pods
        .get(pod.metadata.name.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        pod.metadata.owner_references.unwrap()[0].uid,
        orphan.metadata.uid.unwrap(),
        "the pod keeps its own owner"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn waiting_for_a_deletion_watches_with_a_name_field_selector() {
    let cluster = Cluster::start().await;
    cluster.ok(&["run", "p", "--image=nginx"]).await;
    cluster.ok(&["run", "other", "--image=nginx"]).await;
    let store = &cluster.sim.state().store;
    assert_eq!(store.watchers(), 0);
    // kubectl lists and then watches `pods?fieldSelector=metadata.name=p` until p is gone.
    let waiting = cluster.run(&["wait", "--for=delete", "pod/p", "--timeout=30s"]);
    let delete_once_watched = async {
        eventually(Duration::from_secs(20), "kubectl to watch pods", || {
            store.watchers() > 0
        })
        .await;
        let pods = Api::<Pod>::namespaced(cluster.client(), "default");
        pods.delete("other", &DeleteParams::default())
            .await
            .unwrap();
        pods.delete("p", &DeleteParams::default()).await.unwrap();
        std::time::Instant::now()
    };
    let (run, deleted_at) = tokio::join!(waiting, delete_once_watched);
    assert!(run.success, "{run:?}");
    assert_eq!(lines(&run.stdout), ["pod/p condition met"]);
    assert!(
        deleted_at.elapsed() < Duration::from_secs(10),
        "kubectl took {:?} to see the deletion",
        deleted_at.elapsed()
    );
}
