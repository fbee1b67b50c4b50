//! What workload controllers did: the Pods they created, what was refused to them (FailedCreate
//! events), scaling. Pods are counted, not required to run: on a real cluster the features'
//! images do not exist, and admission is what is under test.

use std::time::Duration;

use cucumber::step::Context;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, Pod, ReplicationController};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

use super::{Keyword, Registration, arg, step};
use crate::wait::poll;
use crate::world::World;

/// How long controllers may take to create Pods.
pub const CONTROLLERS: Duration = Duration::from_secs(30);

pub fn steps() -> Vec<Registration> {
    vec![
        (
            Keyword::Then,
            r#"the Deployment "([^"]+)" has (\d+) Pods?"#,
            step!(deployment_has_pods),
        ),
        (
            Keyword::Then,
            r"nothing was created in the namespace",
            step!(nothing_created),
        ),
        (
            Keyword::When,
            r#"I scale the Deployment "([^"]+)" to (\d+) replicas"#,
            step!(scale),
        ),
        (
            Keyword::Then,
            r"no Pod creation was refused in the namespace",
            step!(no_failed_create),
        ),
    ]
}

async fn deployment_has_pods(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, count) = (arg(&ctx, 0)?, arg(&ctx, 1)?);
    let wanted: usize = count.parse().map_err(|error| format!("{count}: {error}"))?;
    let namespace = world.namespace()?.to_string();
    let pods: Api<Pod> = Api::namespaced(world.client(), &namespace);
    let selector = ListParams::default().labels(&format!("app={name}"));
    let found = poll(
        CONTROLLERS,
        &format!("{wanted} Pods of Deployment {name}"),
        || async {
            let list = pods
                .list(&selector)
                .await
                .map_err(|error| error.to_string())?;
            let live: Vec<String> = list
                .items
                .iter()
                .filter(|pod| pod.metadata.deletion_timestamp.is_none())
                .filter_map(|pod| pod.metadata.name.clone())
                .collect();
            Ok(if live.len() == wanted {
                Ok(live)
            } else {
                Err(format!("{live:?}"))
            })
        },
    )
    .await?;
    world.log(format!("Deployment {name} has Pods {found:?}"));
    Ok(())
}

async fn nothing_created(world: &mut World, _ctx: Context) -> Result<(), String> {
    let namespace = world.namespace()?.to_string();
    let client = world.client();
    let params = ListParams::default();
    let mut found = Vec::new();
    macro_rules! names {
        ($kind:ty, $label:expr) => {
            for item in Api::<$kind>::namespaced(client.clone(), &namespace)
                .list(&params)
                .await
                .map_err(|error| format!("list {}: {error}", $label))?
                .items
            {
                found.push(format!(
                    "{} {}",
                    $label,
                    item.metadata.name.unwrap_or_default()
                ));
            }
        };
    }
    names!(Deployment, "Deployment");
    names!(ReplicaSet, "ReplicaSet");
    names!(StatefulSet, "StatefulSet");
    names!(DaemonSet, "DaemonSet");
    names!(Job, "Job");
    names!(CronJob, "CronJob");
    names!(ReplicationController, "ReplicationController");
    names!(Pod, "Pod");
    if found.is_empty() {
        world.log("nothing was created");
        Ok(())
    } else {
        Err(format!(
            "expected nothing in the namespace, found {found:?}"
        ))
    }
}

async fn scale(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, count) = (arg(&ctx, 0)?, arg(&ctx, 1)?);
    let replicas: i32 = count.parse().map_err(|error| format!("{count}: {error}"))?;
    let namespace = world.namespace()?.to_string();
    Api::<Deployment>::namespaced(world.client(), &namespace)
        .patch_scale(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .map_err(|error| format!("scale Deployment {name}: {error}"))?;
    world.log(format!("scaled Deployment {name} to {replicas}"));
    Ok(())
}

/// FailedCreate events in the namespace, as "object: message".
pub async fn failed_creates(client: &kube::Client, namespace: &str) -> Result<Vec<String>, String> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let list = events
        .list(&ListParams::default())
        .await
        .map_err(|error| format!("list events in {namespace}: {error}"))?;
    Ok(list
        .items
        .into_iter()
        .filter(|event| event.reason.as_deref() == Some("FailedCreate"))
        .map(|event| {
            format!(
                "{} {}: {}",
                event.involved_object.kind.unwrap_or_default(),
                event.involved_object.name.unwrap_or_default(),
                event.message.unwrap_or_default()
            )
        })
        .collect())
}

async fn no_failed_create(world: &mut World, _ctx: Context) -> Result<(), String> {
    let namespace = world.namespace()?.to_string();
    let failed = failed_creates(&world.client(), &namespace).await?;
    let replica_sets = Api::<ReplicaSet>::namespaced(world.client(), &namespace)
        .list(&ListParams::default())
        .await
        .map_err(|error| format!("list ReplicaSets: {error}"))?;
    let failures: Vec<String> = replica_sets
        .items
        .iter()
        .flat_map(|set| {
            set.status
                .iter()
                .flat_map(|status| status.conditions.iter().flatten())
                .filter(|condition| {
                    condition.type_.as_deref() == Some("ReplicaFailure")
                        && condition.status.as_deref() == Some("True")
                })
                .map(|condition| {
                    format!(
                        "ReplicaFailure: {}",
                        condition.message.clone().unwrap_or_default()
                    )
                })
        })
        .collect();
    if failed.is_empty() && failures.is_empty() {
        Ok(())
    } else {
        Err(format!("Pod creation was refused: {failed:?} {failures:?}"))
    }
}
