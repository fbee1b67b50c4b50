//! Updates to what was admitted, as `kubectl` sends them: labels and annotations, a new replica
//! count, `rollout restart` (an annotation on the pod template), `set image`, `rollout undo`,
//! labels on Pods and `kubectl debug` (an ephemeral container, through the Pod's
//! `ephemeralcontainers` subresource). Each is sent after the barrier and recorded as the
//! scenario's last request, so `it is admitted` and `it is rejected by …` judge it.

use std::collections::BTreeMap;
use std::future::Future;

use cucumber::step::Context;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod, PodTemplateSpec};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::cluster::{barrier, parse_labels};
use super::controllers::CONTROLLERS;
use super::{Keyword, Registration, arg, step};
use crate::wait::poll;
use crate::world::{Attempt, Outcome, World};

/// The annotation `kubectl rollout restart` puts on the pod template.
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// The ReplicaSet annotation that numbers a Deployment's rollouts.
const REVISION: &str = "deployment.kubernetes.io/revision";
/// The label the Deployment controller adds to its ReplicaSets' templates.
const TEMPLATE_HASH: &str = "pod-template-hash";

pub fn steps() -> Vec<Registration> {
    vec![
        (
            Keyword::When,
            r#"I label the Deployment "([^"]+)" "([^"]+)""#,
            step!(label_deployment),
        ),
        (
            Keyword::When,
            r#"I annotate the Deployment "([^"]+)" "([^"]+)""#,
            step!(annotate_deployment),
        ),
        (
            Keyword::When,
            r#"I set the replicas of the Deployment "([^"]+)" to (\d+)"#,
            step!(set_replicas),
        ),
        (
            Keyword::When,
            r#"I restart the Deployment "([^"]+)""#,
            step!(restart),
        ),
        (
            Keyword::When,
            r#"I set the image of the Deployment "([^"]+)" to "([^"]+)""#,
            step!(set_image),
        ),
        (
            Keyword::When,
            r#"I undo the rollout of the Deployment "([^"]+)""#,
            step!(undo),
        ),
        (
            Keyword::When,
            r#"I label the Pods of the Deployment "([^"]+)" "([^"]+)""#,
            step!(label_pods),
        ),
        (
            Keyword::When,
            r#"I add an ephemeral container "([^"]+)" with image "([^"]+)" to a Pod of the Deployment "([^"]+)""#,
            step!(debug_pod),
        ),
        (
            Keyword::Then,
            r#"every Pod of the Deployment "([^"]+)" was restarted"#,
            step!(restarted),
        ),
        (
            Keyword::Then,
            r#"the Deployment "([^"]+)" has a Warning event "([^"]+)" saying:"#,
            step!(has_event),
        ),
    ]
}

/// An Event on the object (what `kubectl describe` lists), names mapped back as written.
async fn has_event(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, reason) = (arg(&ctx, 0)?, arg(&ctx, 1)?);
    let expected = super::docstring(&ctx)?.trim().to_string();
    let namespace = world.namespace()?.to_string();
    let events: Api<Event> = Api::namespaced(world.client(), &namespace);
    let world = &*world;
    let message = poll(
        crate::steps::cluster::CATCH_UP,
        &format!("a {reason} event on the Deployment {name}"),
        || async {
            let list = events
                .list(&ListParams::default())
                .await
                .map_err(|error| format!("list events: {error}"))?;
            Ok(list
                .items
                .into_iter()
                .find(|event| {
                    event.involved_object.kind.as_deref() == Some("Deployment")
                        && event.involved_object.name.as_deref() == Some(name.as_str())
                        && event.reason.as_deref() == Some(reason.as_str())
                        && event.type_.as_deref() == Some("Warning")
                })
                .and_then(|event| event.message)
                .ok_or_else(|| "none yet".to_string()))
        },
    )
    .await?;
    let seen = world.as_written(&message);
    if seen == expected {
        Ok(())
    } else {
        Err(format!(
            "the {reason} event says:\n  {seen}\nexpected:\n  {expected}"
        ))
    }
}

/// The answer to a write: admitted, or the API server's refusal; anything else is an error.
fn outcome<T>(what: &str, answer: Result<T, kube::Error>) -> Result<Outcome, String> {
    match answer {
        Ok(_) => Ok(Outcome::Admitted),
        Err(kube::Error::Api(status)) => Ok(Outcome::Rejected {
            code: status.code,
            message: status.message,
        }),
        Err(error) => Err(format!("{what}: {error}")),
    }
}

/// Sends one write once the webhook has seen this scenario's changes, and records its answer.
async fn send<T, Fut>(
    world: &mut World,
    what: String,
    containers: Vec<(String, String)>,
    write: impl FnOnce() -> Fut,
) -> Result<(), String>
where
    Fut: Future<Output = Result<T, kube::Error>>,
{
    barrier(world).await?;
    super::requests::before_request(world).await?;
    let outcome = outcome(&what, write().await)?;
    world.record(Attempt {
        what,
        containers,
        outcome,
        warnings: Vec::new(),
    });
    Ok(())
}

fn deployments(world: &World) -> Result<Api<Deployment>, String> {
    Ok(Api::namespaced(world.client(), world.namespace()?))
}

/// A merge patch of the Deployment `name`, recorded as `what`.
async fn patch_deployment(
    world: &mut World,
    name: &str,
    what: String,
    patch: Patch<serde_json::Value>,
) -> Result<(), String> {
    let api = deployments(world)?;
    send(world, what, Vec::new(), || async move {
        api.patch(name, &PatchParams::default(), &patch).await
    })
    .await
}

async fn label_deployment(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, labels) = (arg(&ctx, 0)?, parse_labels(&arg(&ctx, 1)?)?);
    let patch = Patch::Merge(json!({"metadata": {"labels": labels}}));
    patch_deployment(
        world,
        &name,
        format!("label Deployment {name} {labels:?}"),
        patch,
    )
    .await
}

async fn annotate_deployment(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, annotations) = (arg(&ctx, 0)?, parse_labels(&arg(&ctx, 1)?)?);
    let patch = Patch::Merge(json!({"metadata": {"annotations": annotations}}));
    let what = format!("annotate Deployment {name} {annotations:?}");
    patch_deployment(world, &name, what, patch).await
}

/// A new replica count written to the Deployment itself (as `kubectl apply` or `edit` do), not
/// through its `scale` subresource, so that the webhook sees the whole object.
async fn set_replicas(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, count) = (arg(&ctx, 0)?, arg(&ctx, 1)?);
    let replicas: i32 = count.parse().map_err(|error| format!("{count}: {error}"))?;
    let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
    let what = format!("set the replicas of Deployment {name} to {replicas}");
    patch_deployment(world, &name, what, patch).await
}

/// What `kubectl rollout restart` sends: a strategic merge patch of a pod template annotation.
async fn restart(world: &mut World, ctx: Context) -> Result<(), String> {
    let name = arg(&ctx, 0)?;
    let now = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_err(|error| error.to_string())?;
    let patch = Patch::Strategic(json!({"spec": {"template": {"metadata": {
        "annotations": {RESTARTED_AT: now.to_string()},
    }}}}));
    patch_deployment(world, &name, format!("restart Deployment {name}"), patch).await
}

/// What `kubectl set image deployment/<name> <name>=<image>` sends (the features' Deployments
/// name their container after themselves).
async fn set_image(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, written) = (arg(&ctx, 0)?, arg(&ctx, 1)?);
    let image = world.image(&written);
    let patch = Patch::Strategic(json!({"spec": {"template": {"spec": {
        "containers": [{"name": name, "image": image}],
    }}}}));
    let api = deployments(world)?;
    let what = format!("set the image of Deployment {name} to {written}");
    send(world, what, vec![(name.clone(), written)], || async move {
        api.patch(&name, &PatchParams::default(), &patch).await
    })
    .await
}

/// The images of a pod template, by container.
fn template_images(template: Option<&PodTemplateSpec>) -> Vec<(String, String)> {
    template
        .and_then(|template| template.spec.as_ref())
        .map(|spec| {
            spec.containers
                .iter()
                .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// What `kubectl rollout undo` does: the Deployment gets the pod template of its previous
/// rollout back (the newest ReplicaSet whose images differ from the current template's, once
/// the controller has made one for the current template).
async fn undo(world: &mut World, ctx: Context) -> Result<(), String> {
    let name = arg(&ctx, 0)?;
    let namespace = world.namespace()?.to_string();
    let api = deployments(world)?;
    let sets: Api<ReplicaSet> = Api::namespaced(world.client(), &namespace);
    let deployment = api
        .get(&name)
        .await
        .map_err(|error| format!("get Deployment {name}: {error}"))?;
    let uid = deployment.metadata.uid.clone().unwrap_or_default();
    let current = template_images(Some(&deployment.spec.template));
    let previous = poll(
        CONTROLLERS,
        &format!("the ReplicaSets of Deployment {name}'s rollouts"),
        || async {
            let owned: Vec<ReplicaSet> = sets
                .list(&ListParams::default())
                .await
                .map_err(|error| format!("list ReplicaSets: {error}"))?
                .items
                .into_iter()
                .filter(|set| {
                    set.metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .any(|owner| owner.uid == uid)
                })
                .collect();
            let images = |set: &ReplicaSet| template_images(set.spec.template.as_ref());
            let seen: Vec<_> = owned.iter().map(images).collect();
            if !seen.contains(&current) {
                return Ok(Err(format!("no ReplicaSet runs {current:?} yet: {seen:?}")));
            }
            let revision = |set: &ReplicaSet| {
                set.metadata
                    .annotations
                    .as_ref()
                    .and_then(|annotations| annotations.get(REVISION))
                    .and_then(|revision| revision.parse::<i64>().ok())
                    .unwrap_or(0)
            };
            Ok(owned
                .into_iter()
                .filter(|set| images(set) != current)
                .max_by_key(revision)
                .and_then(|set| set.spec.template)
                .ok_or_else(|| format!("no earlier rollout: {seen:?}")))
        },
    )
    .await?;
    let mut template = previous;
    if let Some(labels) = template
        .metadata
        .as_mut()
        .and_then(|metadata| metadata.labels.as_mut())
    {
        labels.remove(TEMPLATE_HASH);
    }
    // The containers as the feature wrote them, for the expected message.
    let containers = template_images(Some(&template))
        .into_iter()
        .map(|(container, image)| {
            let written = world.as_written(&format!("\"{image}\""));
            (container, written.trim_matches('"').to_string())
        })
        .collect();
    send(
        world,
        format!("undo the rollout of Deployment {name}"),
        containers,
        || async move {
            // A replace, as the template must be exactly the earlier one; a conflict (the
            // controller wrote the Deployment meanwhile) is retried on the newer version.
            let mut attempts = 0;
            loop {
                let mut deployment = api.get(&name).await?;
                deployment.spec.template = template.clone();
                match api
                    .replace(&name, &PostParams::default(), &deployment)
                    .await
                {
                    Err(kube::Error::Api(status)) if status.code == 409 && attempts < 5 => {
                        attempts += 1;
                    }
                    answer => return answer,
                }
            }
        },
    )
    .await
}

/// The live Pods of the Deployment `name` once there are as many as it wants (its controllers
/// made them; none is being deleted), by name.
async fn deployment_pods(world: &World, name: &str) -> Result<Vec<Pod>, String> {
    let namespace = world.namespace()?;
    let wanted = deployments(world)?
        .get(name)
        .await
        .map_err(|error| format!("get Deployment {name}: {error}"))?
        .spec
        .replicas
        .unwrap_or(1);
    let pods: Api<Pod> = Api::namespaced(world.client(), namespace);
    let selector = ListParams::default().labels(&format!("app={name}"));
    poll(
        CONTROLLERS,
        &format!("the {wanted} Pods of Deployment {name}"),
        || async {
            let mut live: Vec<Pod> = pods
                .list(&selector)
                .await
                .map_err(|error| format!("list Pods: {error}"))?
                .items
                .into_iter()
                .filter(|pod| pod.metadata.deletion_timestamp.is_none())
                .collect();
            live.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
            let names: Vec<_> = live
                .iter()
                .filter_map(|pod| pod.metadata.name.clone())
                .collect();
            Ok(
                if names.len() == usize::try_from(wanted).unwrap_or(0) && wanted > 0 {
                    Ok(live)
                } else {
                    Err(format!("{names:?}"))
                },
            )
        },
    )
    .await
}

/// Labels every Pod of the Deployment; the first refusal, if any, is the answer recorded.
async fn label_pods(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, labels) = (arg(&ctx, 0)?, parse_labels(&arg(&ctx, 1)?)?);
    let names: Vec<String> = deployment_pods(world, &name)
        .await?
        .into_iter()
        .filter_map(|pod| pod.metadata.name)
        .collect();
    let pods: Api<Pod> = Api::namespaced(world.client(), world.namespace()?);
    let patch = Patch::Merge(json!({"metadata": {"labels": labels}}));
    let what = format!("label the Pods {names:?} of Deployment {name} {labels:?}");
    send(world, what, Vec::new(), || async move {
        for pod in &names {
            pods.patch(pod, &PatchParams::default(), &patch).await?;
        }
        Ok(())
    })
    .await
}

/// What `kubectl debug <pod> --image=<image> --target=<container>` sends: a patch of the Pod's
/// `ephemeralcontainers` subresource (kube-apiserver accepts no other write of them).
async fn debug_pod(world: &mut World, ctx: Context) -> Result<(), String> {
    let (container, written, name) = (arg(&ctx, 0)?, arg(&ctx, 1)?, arg(&ctx, 2)?);
    let pod = deployment_pods(world, &name)
        .await?
        .into_iter()
        .find_map(|pod| pod.metadata.name)
        .ok_or_else(|| format!("Deployment {name} has no Pod"))?;
    let image = world.image(&written);
    let pods: Api<Pod> = Api::namespaced(world.client(), world.namespace()?);
    let patch = Patch::Strategic(json!({"spec": {"ephemeralContainers": [{
        "name": container, "image": image, "targetContainerName": name,
    }]}}));
    let what = format!("add ephemeral container {container} to Pod {pod} of Deployment {name}");
    send(world, what, vec![(container, written)], || async move {
        pods.patch_subresource("ephemeralcontainers", &pod, &PatchParams::default(), &patch)
            .await
    })
    .await
}

/// Every live Pod of the Deployment runs the restarted template (so the old ones are gone).
async fn restarted(world: &mut World, ctx: Context) -> Result<(), String> {
    let name = arg(&ctx, 0)?;
    let pods: Api<Pod> = Api::namespaced(world.client(), world.namespace()?);
    let wanted = deployments(world)?
        .get(&name)
        .await
        .map_err(|error| format!("get Deployment {name}: {error}"))?
        .spec
        .replicas
        .unwrap_or(1);
    let selector = ListParams::default().labels(&format!("app={name}"));
    let restarted = poll(
        CONTROLLERS,
        &format!("{wanted} restarted Pods of Deployment {name}"),
        || async {
            let live: BTreeMap<String, bool> = pods
                .list(&selector)
                .await
                .map_err(|error| format!("list Pods: {error}"))?
                .items
                .into_iter()
                .filter(|pod| pod.metadata.deletion_timestamp.is_none())
                .map(|pod| {
                    let restarted = pod
                        .metadata
                        .annotations
                        .is_some_and(|annotations| annotations.contains_key(RESTARTED_AT));
                    (pod.metadata.name.unwrap_or_default(), restarted)
                })
                .collect();
            let done = live.len() == usize::try_from(wanted).unwrap_or(0)
                && live.values().all(|restarted| *restarted);
            Ok(if done {
                Ok(live.into_keys().collect::<Vec<_>>())
            } else {
                Err(format!("Pods (restarted?): {live:?}"))
            })
        },
    )
    .await?;
    world.log(format!(
        "Deployment {name} was restarted: Pods {restarted:?}"
    ));
    Ok(())
}
