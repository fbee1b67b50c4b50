//! The Deployment and ReplicaSet controllers against the emulator, through a `kube::Client`:
//! the objects they create (names, labels, owner references), scaling, rollouts, replacement of
//! deleted pods, status, and the failure path (`FailedCreate`, `ReplicaFailure`).

mod common;
mod controllers_support;

use std::time::{Duration, Instant};

use common::objects::events_for;
use common::poll::wait_for;
use common::start::cluster;
use controllers_support::*;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(10);

fn deployment(name: &str, replicas: i32, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": {"note": "kept"}},
                // On a node no simulated kubelet runs: the tests play the kubelet.
                "spec": {"containers": [{"name": "web", "image": image}], "nodeName": "test-unmanaged"},
            },
        },
    }))
    .unwrap()
}

async fn replicasets_of(client: &kube::Client, owner_uid: &str) -> Vec<ReplicaSet> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let mut list: Vec<ReplicaSet> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.uid == owner_uid)
        })
        .collect();
    list.sort_by_key(|rs| rs.metadata.creation_timestamp.clone().map(|t| t.0));
    list
}

fn condition<'a>(conditions: &'a Value, type_: &str) -> Option<&'a Value> {
    conditions
        .as_array()?
        .iter()
        .find(|c| c["type"].as_str() == Some(type_))
}

#[tokio::test]
async fn a_deployment_gets_a_replicaset_and_pods_with_controller_references() {
    let (_sim, client) = cluster().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let created = deployments
        .create(&PostParams::default(), &deployment("web", 3, "nginx:1"))
        .await
        .unwrap();
    let deploy_uid = uid(&created.metadata);

    let rs = wait_for("the ReplicaSet", LIMIT, || async {
        replicasets_of(&client, &deploy_uid)
            .await
            .into_iter()
            .next()
    })
    .await;
    let rs_name = rs.metadata.name.clone().unwrap();
    let hash = rs.metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    assert_eq!(rs_name, format!("web-{hash}"));
    assert!(
        !hash.is_empty()
            && hash
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
    );
    assert_eq!(rs.metadata.labels.as_ref().unwrap()["app"], "web");
    assert_eq!(
        rs.spec.selector.match_labels.as_ref().unwrap(),
        &[
            ("app".to_string(), "web".to_string()),
            ("pod-template-hash".to_string(), hash.clone())
        ]
        .into_iter()
        .collect()
    );
    let template_labels = rs
        .spec
        .template
        .as_ref()
        .unwrap()
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    assert_eq!(template_labels["pod-template-hash"], hash);
    let owner = &rs.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (
            owner.api_version.as_str(),
            owner.kind.as_str(),
            owner.name.as_str(),
            owner.uid.as_str(),
            owner.controller,
            owner.block_owner_deletion
        ),
        (
            "apps/v1",
            "Deployment",
            "web",
            deploy_uid.as_str(),
            Some(true),
            Some(true)
        )
    );
    assert_eq!(
        rs.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        "1"
    );

    let rs_uid = uid(&rs.metadata);
    let pods = wait_for("3 pods", LIMIT, || async {
        let pods = pods_of(&client, "default", &rs_uid).await;
        (pods.len() == 3).then_some(pods)
    })
    .await;
    for pod in &pods {
        let meta = &pod.metadata;
        assert_eq!(
            meta.generate_name.as_deref(),
            Some(format!("{rs_name}-").as_str())
        );
        let name = meta.name.as_deref().unwrap();
        assert_eq!(name.len(), rs_name.len() + 6, "{name}");
        assert_eq!(meta.labels.as_ref().unwrap()["pod-template-hash"], hash);
        assert_eq!(meta.labels.as_ref().unwrap()["app"], "web");
        assert_eq!(meta.annotations.as_ref().unwrap()["note"], "kept");
        let owner = &meta.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (
                owner.api_version.as_str(),
                owner.kind.as_str(),
                owner.name.as_str(),
                owner.controller,
                owner.block_owner_deletion
            ),
            (
                "apps/v1",
                "ReplicaSet",
                rs_name.as_str(),
                Some(true),
                Some(true)
            )
        );
        assert_eq!(
            pod.spec.as_ref().unwrap().containers[0].image.as_deref(),
            Some("nginx:1")
        );
        let managers: Vec<_> = meta
            .managed_fields
            .iter()
            .flatten()
            .filter_map(|m| m.manager.as_deref())
            .collect();
        assert_eq!(managers, ["kube-controller-manager"]);
    }

    // One `SuccessfulCreate` event per pod on the ReplicaSet.
    let events = wait_for("3 SuccessfulCreate events", LIMIT, || async {
        let events = events_for(&client, "default", &rs_name).await;
        (events.len() >= 3).then_some(events)
    })
    .await;
    for pod in &pods {
        let message = format!("Created pod: {}", pod.metadata.name.as_deref().unwrap());
        assert!(
            events
                .iter()
                .any(|e| e.reason.as_deref() == Some("SuccessfulCreate")
                    && e.type_.as_deref() == Some("Normal")
                    && e.message.as_deref() == Some(message.as_str())),
            "{message}: {events:?}"
        );
    }

    // Nothing is ready yet: the Deployment says so.
    let status = wait_for("status of 3 unready replicas", LIMIT, || async {
        let d = deployments.get("web").await.unwrap();
        let status = serde_json::to_value(d.status.clone()?).unwrap();
        (status["replicas"] == 3
            && status["updatedReplicas"] == 3
            && status["unavailableReplicas"] == 3)
            .then_some(status)
    })
    .await;
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!(
        status.get("availableReplicas").cloned().unwrap_or(json!(0)),
        0
    );
    let available = condition(&status["conditions"], "Available").unwrap();
    assert_eq!(available["status"], "False");
    assert_eq!(available["reason"], "MinimumReplicasUnavailable");
    assert_eq!(
        available["message"],
        "Deployment does not have minimum availability."
    );
    assert_eq!(
        condition(&status["conditions"], "Progressing").unwrap()["status"],
        "True"
    );

    // The kubelet's part: the pods become ready, and so does the Deployment.
    for pod in &pods {
        set_pod_status(
            &client,
            "default",
            pod.metadata.name.as_deref().unwrap(),
            "Running",
            true,
        )
        .await;
    }
    let status = wait_for("3 available replicas", LIMIT, || async {
        let d = deployments.get("web").await.unwrap();
        let status = serde_json::to_value(d.status.clone()?).unwrap();
        (status["availableReplicas"] == 3
            && condition(&status["conditions"], "Progressing")?["reason"]
                == "NewReplicaSetAvailable")
            .then_some(status)
    })
    .await;
    assert_eq!(status["readyReplicas"], 3);
    assert_eq!(
        status
            .get("unavailableReplicas")
            .cloned()
            .unwrap_or(json!(0)),
        0
    );
    assert_eq!(
        condition(&status["conditions"], "Available").unwrap()["reason"],
        "MinimumReplicasAvailable"
    );
    assert_eq!(
        condition(&status["conditions"], "Progressing").unwrap()["message"],
        format!("ReplicaSet \"{rs_name}\" has successfully progressed.")
    );
    let rs_status = Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .get(&rs_name)
        .await
        .unwrap()
        .status
        .unwrap();
    assert_eq!(
        (
            rs_status.replicas,
            rs_status.ready_replicas,
            rs_status.available_replicas,
            rs_status.fully_labeled_replicas,
            rs_status.observed_generation
        ),
        (3, Some(3), Some(3), Some(3), Some(1))
    );
}

#[tokio::test]
async fn scaling_replaces_deleted_pods_and_removes_unready_ones_first() {
    let (_sim, client) = cluster().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let created = deployments
        .create(&PostParams::default(), &deployment("app", 2, "nginx"))
        .await
        .unwrap();
    let deploy_uid = uid(&created.metadata);
    let rs = wait_for("the ReplicaSet", LIMIT, || async {
        replicasets_of(&client, &deploy_uid)
            .await
            .into_iter()
            .next()
    })
    .await;
    let rs_uid = uid(&rs.metadata);
    let ready = wait_for("2 pods", LIMIT, || async {
        let pods = pods_of(&client, "default", &rs_uid).await;
        (pods.len() == 2).then_some(pods)
    })
    .await;
    for pod in &ready {
        set_pod_status(
            &client,
            "default",
            pod.metadata.name.as_deref().unwrap(),
            "Running",
            true,
        )
        .await;
    }

    deployments
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    wait_for("5 pods", LIMIT, || async {
        (pods_of(&client, "default", &rs_uid).await.len() == 5).then_some(())
    })
    .await;

    // A deleted pod is replaced.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let victim = pods_of(&client, "default", &rs_uid).await[0]
        .metadata
        .name
        .clone()
        .unwrap();
    pods.delete(&victim, &DeleteParams::default())
        .await
        .unwrap();
    wait_for("a replacement pod", LIMIT, || async {
        let now = pods_of(&client, "default", &rs_uid).await;
        (now.len() == 5
            && now
                .iter()
                .all(|p| p.metadata.name.as_deref() != Some(victim.as_str())))
        .then_some(())
    })
    .await;

    // Scaling down to 2 keeps the two ready pods (if the victim was one of them, one of them).
    deployments
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    let left = wait_for("2 pods", LIMIT, || async {
        let pods = pods_of(&client, "default", &rs_uid).await;
        (pods.len() == 2).then_some(pods)
    })
    .await;
    let ready_names: Vec<_> = ready
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .filter(|n| *n != victim)
        .collect();
    for name in &ready_names {
        assert!(
            left.iter().any(|p| p.metadata.name.as_ref() == Some(name)),
            "ready pod {name} was deleted"
        );
    }
    let rs = Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .get(rs.metadata.name.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(rs.spec.replicas, Some(2));
    assert_eq!(
        rs.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/desired-replicas"],
        "2"
    );
}

#[tokio::test]
async fn an_image_change_rolls_out_a_new_replicaset() {
    let (_sim, client) = cluster().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let created = deployments
        .create(&PostParams::default(), &deployment("roll", 3, "nginx:1"))
        .await
        .unwrap();
    let deploy_uid = uid(&created.metadata);
    let first = wait_for("the first ReplicaSet's pods, ready", LIMIT, || async {
        let rs = replicasets_of(&client, &deploy_uid)
            .await
            .into_iter()
            .next()?;
        (make_ready(&client, "default", &uid(&rs.metadata)).await == 3).then_some(rs)
    })
    .await;

    deployments
        .patch(
            "roll",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}})),
        )
        .await
        .unwrap();
    // Play the kubelet until the rollout is done: new pods become ready, old ones go.
    let second = wait_for("the rollout to finish", Duration::from_secs(20), || async {
        let sets = replicasets_of(&client, &deploy_uid).await;
        for rs in &sets {
            make_ready(&client, "default", &uid(&rs.metadata)).await;
        }
        let new = sets
            .iter()
            .find(|rs| rs.metadata.uid != first.metadata.uid)?
            .clone();
        let old_pods = pods_of(&client, "default", &uid(&first.metadata))
            .await
            .len();
        let d = deployments.get("roll").await.ok()?;
        let status = d.status?;
        (old_pods == 0
            && status.updated_replicas == Some(3)
            && status.available_replicas == Some(3)
            && status.replicas == Some(3))
        .then_some(new)
    })
    .await;
    assert_ne!(second.metadata.name, first.metadata.name);
    assert_eq!(
        second.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        "2"
    );
    let annotations = deployments
        .get("roll")
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap();
    assert_eq!(annotations["deployment.kubernetes.io/revision"], "2");
    let new_pods = pods_of(&client, "default", &uid(&second.metadata)).await;
    assert_eq!(new_pods.len(), 3);
    for pod in &new_pods {
        assert_eq!(
            pod.spec.as_ref().unwrap().containers[0].image.as_deref(),
            Some("nginx:2")
        );
    }
    let old = Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .get(first.metadata.name.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(old.spec.replicas, Some(0));
    let events = events_for(&client, "default", "roll").await;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("ScalingReplicaSet")
                && e.message.as_deref()
                    == Some(&format!(
                        "Scaled down replica set {} from 1 to 0",
                        first.metadata.name.as_deref().unwrap()
                    ))),
        "{events:?}"
    );
}

#[tokio::test]
async fn replicas_are_created_quickly() {
    let (_sim, client) = cluster().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    // Let the controllers' watches start before the clock does.
    let warm = deployments
        .create(&PostParams::default(), &deployment("warm", 1, "nginx"))
        .await
        .unwrap();
    let warm_uid = uid(&warm.metadata);
    wait_for("the warm-up pod", LIMIT, || async {
        let rs = replicasets_of(&client, &warm_uid)
            .await
            .into_iter()
            .next()?;
        (pods_of(&client, "default", &uid(&rs.metadata)).await.len() == 1).then_some(())
    })
    .await;

    for (name, replicas, bound) in [
        ("ten", 10, Duration::from_secs(3)),
        ("hundred", 100, Duration::from_secs(10)),
    ] {
        let start = Instant::now();
        let created = deployments
            .create(&PostParams::default(), &deployment(name, replicas, "nginx"))
            .await
            .unwrap();
        let deploy_uid = uid(&created.metadata);
        wait_for("all pods", LIMIT, || async {
            let rs = replicasets_of(&client, &deploy_uid)
                .await
                .into_iter()
                .next()?;
            (pods_of(&client, "default", &uid(&rs.metadata)).await.len() == replicas as usize)
                .then_some(())
        })
        .await;
        let elapsed = start.elapsed();
        eprintln!("{replicas} replicas: {elapsed:?}");
        // Generous bounds (the goal is well under a second for 10 on an idle machine).
        assert!(elapsed < bound, "{replicas} replicas took {elapsed:?}");
    }
}

#[tokio::test]
async fn a_recreate_rollout_removes_the_old_pods_before_creating_new_ones() {
    let (_sim, client) = cluster().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut spec = deployment("recreate", 2, "nginx:1");
    spec.spec.strategy = Some(serde_json::from_value(json!({"type": "Recreate"})).unwrap());
    let created = deployments
        .create(&PostParams::default(), &spec)
        .await
        .unwrap();
    let deploy_uid = uid(&created.metadata);
    let first = wait_for("the first pods", LIMIT, || async {
        let rs = replicasets_of(&client, &deploy_uid)
            .await
            .into_iter()
            .next()?;
        (make_ready(&client, "default", &uid(&rs.metadata)).await == 2).then_some(rs)
    })
    .await;
    deployments
        .patch(
            "recreate",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}})),
        )
        .await
        .unwrap();
    // Never old and new pods at once: watch every state until the new pods are there.
    let first_uid = uid(&first.metadata);
    wait_for("the new pods", LIMIT, || async {
        let sets = replicasets_of(&client, &deploy_uid).await;
        let new = sets
            .iter()
            .find(|rs| rs.metadata.uid.as_deref() != Some(first_uid.as_str()))?;
        let old_pods = pods_of(&client, "default", &first_uid).await.len();
        let new_pods = pods_of(&client, "default", &uid(&new.metadata)).await.len();
        assert!(
            old_pods == 0 || new_pods == 0,
            "{old_pods} old and {new_pods} new pods at once"
        );
        (old_pods == 0 && new_pods == 2).then_some(())
    })
    .await;
}
