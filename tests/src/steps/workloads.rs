//! Creating pod-creating objects and asserting what the user would see: admitted, or the exact
//! message of the refusal.

use std::collections::BTreeMap;

use cucumber::step::Context;
use image_assurance::install::WORKLOAD_WEBHOOK_NAME;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use super::cluster::{barrier, parse_labels};
use super::{Keyword, Registration, arg, docstring, step, table_rows};
use crate::world::{Attempt, Outcome, World};

pub fn steps() -> Vec<Registration> {
    vec![
        (
            Keyword::When,
            r#"I create an? (Pod|Deployment|ReplicaSet|StatefulSet|DaemonSet|Job|CronJob|ReplicationController) "([^"]+)" with image "([^"]+)""#,
            step!(create_simple),
        ),
        (
            Keyword::When,
            r#"I create an? (Pod|Deployment|ReplicaSet|StatefulSet|DaemonSet|Job|CronJob|ReplicationController) "([^"]+)" labelled "([^"]+)" with image "([^"]+)""#,
            step!(create_labelled),
        ),
        (
            Keyword::When,
            r#"I create an? (Pod|Deployment|ReplicaSet|StatefulSet|DaemonSet|Job|CronJob|ReplicationController) "([^"]+)" with these containers:"#,
            step!(create_with_containers),
        ),
        (
            Keyword::When,
            r#"I create a Pod "([^"]+)" in the "([^"]+)" namespace with image "([^"]+)""#,
            step!(create_pod_elsewhere),
        ),
        (
            Keyword::When,
            r#"I create a Pod "([^"]+)" claiming to be owned by the Deployment "([^"]+)" with image "([^"]+)""#,
            step!(create_forged_child),
        ),
        (
            Keyword::When,
            r#"I add an ephemeral container "([^"]+)" with image "([^"]+)" to the Pod "([^"]+)""#,
            step!(add_ephemeral_container),
        ),
        (
            Keyword::Given,
            r#"an admitted Deployment "([^"]+)" with image "([^"]+)""#,
            step!(admitted_deployment),
        ),
        (
            Keyword::Given,
            r#"an admitted Pod "([^"]+)" with image "([^"]+)""#,
            step!(admitted_pod),
        ),
        (Keyword::Then, r"it is admitted", step!(is_admitted)),
        (
            Keyword::Then,
            r#"it is rejected by policy "([^"]+)" rule index (\d+)"#,
            step!(rejected_by_rule),
        ),
        (Keyword::Then, r"it is rejected with:", step!(rejected_with)),
        (Keyword::Then, r"the user is warned:", step!(warned)),
        (Keyword::Then, r"the user is not warned", step!(not_warned)),
        (
            Keyword::Then,
            r"it is rejected with a message containing:",
            step!(rejected_containing),
        ),
    ]
}

/// A container of a workload: (kind: container | init, name, image as written).
#[derive(Clone, Debug)]
pub struct ContainerSpec {
    pub init: bool,
    pub name: String,
    pub image: String,
}

pub fn resource(kind: &str) -> Result<ApiResource, String> {
    let (group, plural) = match kind {
        "Pod" => ("", "pods"),
        "ReplicationController" => ("", "replicationcontrollers"),
        "Deployment" => ("apps", "deployments"),
        "ReplicaSet" => ("apps", "replicasets"),
        "StatefulSet" => ("apps", "statefulsets"),
        "DaemonSet" => ("apps", "daemonsets"),
        "Job" => ("batch", "jobs"),
        "CronJob" => ("batch", "cronjobs"),
        other => return Err(format!("{other} is not a pod-creating kind")),
    };
    Ok(ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, "v1", kind),
        plural,
    ))
}

/// The object's manifest: a pod template labelled `app: <name>` plus `labels`, with the given
/// containers (images already as the cluster sees them).
pub fn manifest(
    kind: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
    containers: &[ContainerSpec],
) -> Result<Value, String> {
    let mut pod_labels = labels.clone();
    pod_labels.insert("app".to_string(), name.to_string());
    let list = |init: bool| -> Vec<Value> {
        containers
            .iter()
            .filter(|container| container.init == init)
            .map(|container| json!({"name": container.name, "image": container.image}))
            .collect()
    };
    let mut pod_spec = json!({"containers": list(false)});
    let init = list(true);
    if !init.is_empty() {
        pod_spec["initContainers"] = Value::Array(init);
    }
    let resource = resource(kind)?;
    let api_version = resource.api_version.clone();
    let metadata = json!({"name": name, "labels": pod_labels});
    let template = json!({"metadata": {"labels": pod_labels}, "spec": pod_spec});
    let match_labels = json!({"app": name});
    let spec = match kind {
        "Pod" => pod_spec,
        "DaemonSet" => json!({"selector": {"matchLabels": match_labels}, "template": template}),
        "Deployment" | "ReplicaSet" => {
            json!({"replicas": 1, "selector": {"matchLabels": match_labels}, "template": template})
        }
        "StatefulSet" => json!({
            "replicas": 1, "serviceName": name,
            "selector": {"matchLabels": match_labels}, "template": template,
        }),
        "ReplicationController" => {
            json!({"replicas": 1, "selector": match_labels, "template": template})
        }
        "Job" => {
            let mut template = template;
            template["spec"]["restartPolicy"] = json!("Never");
            json!({"template": template})
        }
        "CronJob" => {
            let mut template = template;
            template["spec"]["restartPolicy"] = json!("Never");
            json!({"schedule": "*/30 * * * *", "jobTemplate": {"spec": {"template": template}}})
        }
        other => return Err(format!("{other} is not a pod-creating kind")),
    };
    let object =
        json!({"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec});
    Ok(object)
}

/// Sends a create and records the answer. The webhook is first given time to see this
/// scenario's changes (the barrier), so the answer is the decision on the current state.
pub async fn create(
    world: &mut World,
    namespace: &str,
    object: Value,
    containers: Vec<(String, String)>,
) -> Result<(), String> {
    barrier(world).await?;
    super::requests::before_request(world).await?;
    let kind = object["kind"].as_str().unwrap_or("").to_string();
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let resource = resource(&kind)?;
    let object: DynamicObject =
        serde_json::from_value(object).map_err(|error| format!("{kind} {name}: {error}"))?;
    let (outcome, warnings) =
        crate::warnings::create(&world.client(), &resource, namespace, &object)
            .await
            .map_err(|error| format!("create {kind} {name}: {error}"))?;
    world.record(Attempt {
        what: format!("create {kind} {name}"),
        containers,
        outcome,
        warnings,
    });
    Ok(())
}

async fn create_workload(
    world: &mut World,
    kind: &str,
    name: &str,
    labels: BTreeMap<String, String>,
    containers: Vec<ContainerSpec>,
) -> Result<(), String> {
    let namespace = world.namespace()?.to_string();
    let written: Vec<(String, String)> = containers
        .iter()
        .map(|container| (container.name.clone(), container.image.clone()))
        .collect();
    let actual: Vec<ContainerSpec> = containers
        .into_iter()
        .map(|container| ContainerSpec {
            image: world.image(&container.image),
            ..container
        })
        .collect();
    let object = manifest(kind, name, &labels, &actual)?;
    create(world, &namespace, object, written).await
}

fn single(name: &str, image: &str) -> Vec<ContainerSpec> {
    vec![ContainerSpec {
        init: false,
        name: name.to_string(),
        image: image.to_string(),
    }]
}

async fn create_simple(world: &mut World, ctx: Context) -> Result<(), String> {
    let (kind, name, image) = (arg(&ctx, 0)?, arg(&ctx, 1)?, arg(&ctx, 2)?);
    create_workload(world, &kind, &name, BTreeMap::new(), single(&name, &image)).await
}

async fn create_labelled(world: &mut World, ctx: Context) -> Result<(), String> {
    let (kind, name, labels, image) = (arg(&ctx, 0)?, arg(&ctx, 1)?, arg(&ctx, 2)?, arg(&ctx, 3)?);
    let labels = parse_labels(&labels)?;
    create_workload(world, &kind, &name, labels, single(&name, &image)).await
}

async fn create_with_containers(world: &mut World, ctx: Context) -> Result<(), String> {
    let (kind, name) = (arg(&ctx, 0)?, arg(&ctx, 1)?);
    let mut containers = Vec::new();
    for row in table_rows(&ctx)? {
        let field = |key: &str| {
            row.get(key)
                .cloned()
                .ok_or_else(|| format!("the containers table needs a `{key}` column"))
        };
        let init = match field("type")?.as_str() {
            "container" => false,
            "init" => true,
            other => {
                return Err(format!(
                    "container type {other:?}: expected container or init"
                ));
            }
        };
        containers.push(ContainerSpec {
            init,
            name: field("name")?,
            image: field("image")?,
        });
    }
    create_workload(world, &kind, &name, BTreeMap::new(), containers).await
}

async fn create_pod_elsewhere(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, namespace, written) = (arg(&ctx, 0)?, arg(&ctx, 1)?, arg(&ctx, 2)?);
    let name = format!("{name}-{}", world.token);
    let image = world.image(&written);
    let object = manifest("Pod", &name, &BTreeMap::new(), &single(&name, &image))?;
    world.outside.push((namespace.clone(), name.clone()));
    create(world, &namespace, object, vec![(name, written)]).await
}

async fn create_forged_child(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, owner, written) = (arg(&ctx, 0)?, arg(&ctx, 1)?, arg(&ctx, 2)?);
    let namespace = world.namespace()?.to_string();
    let deployment = Api::<Deployment>::namespaced(world.client(), &namespace)
        .get(&owner)
        .await
        .map_err(|error| format!("get Deployment {owner}: {error}"))?;
    let uid = deployment.metadata.uid.unwrap_or_default();
    let image = world.image(&written);
    let mut object = manifest("Pod", &name, &BTreeMap::new(), &single(&name, &image))?;
    object["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "apps/v1", "kind": "Deployment", "name": owner, "uid": uid,
        "controller": true, "blockOwnerDeletion": true,
    }]);
    create(world, &namespace, object, vec![(name, written)]).await
}

async fn add_ephemeral_container(world: &mut World, ctx: Context) -> Result<(), String> {
    let (container, written, pod) = (arg(&ctx, 0)?, arg(&ctx, 1)?, arg(&ctx, 2)?);
    barrier(world).await?;
    let namespace = world.namespace()?.to_string();
    let image = world.image(&written);
    let pods: Api<Pod> = Api::namespaced(world.client(), &namespace);
    let patch = json!({"spec": {"ephemeralContainers": [{
        "name": container, "image": image, "targetContainerName": pod,
    }]}});
    let outcome = match pods
        .patch_subresource(
            "ephemeralcontainers",
            &pod,
            &PatchParams::default(),
            &Patch::Strategic(patch),
        )
        .await
    {
        Ok(_) => Outcome::Admitted,
        Err(kube::Error::Api(status)) => Outcome::Rejected {
            code: status.code,
            message: status.message,
        },
        Err(error) => return Err(format!("add an ephemeral container to Pod {pod}: {error}")),
    };
    world.record(Attempt {
        what: format!("add ephemeral container {container} to Pod {pod}"),
        containers: vec![(container, written)],
        outcome,
        warnings: Vec::new(),
    });
    Ok(())
}

async fn admitted_deployment(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, image) = (arg(&ctx, 0)?, arg(&ctx, 1)?);
    create_workload(
        world,
        "Deployment",
        &name,
        BTreeMap::new(),
        single(&name, &image),
    )
    .await?;
    expect_admitted(world)
}

async fn admitted_pod(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, image) = (arg(&ctx, 0)?, arg(&ctx, 1)?);
    create_workload(world, "Pod", &name, BTreeMap::new(), single(&name, &image)).await?;
    expect_admitted(world)
}

fn expect_admitted(world: &World) -> Result<(), String> {
    let attempt = world.last()?;
    match &attempt.outcome {
        Outcome::Admitted => Ok(()),
        Outcome::Rejected { code, message } => Err(format!(
            "expected {} to be admitted, but it was refused ({code}): {}",
            attempt.what,
            world.as_written(message)
        )),
    }
}

async fn is_admitted(world: &mut World, _ctx: Context) -> Result<(), String> {
    expect_admitted(world)
}

/// The refusal message the API server shows for images rejected by one rule.
pub fn denial(policy: &str, rule: usize, containers: &[(String, String)]) -> String {
    let per_image: Vec<String> = containers
        .iter()
        .map(|(container, image)| {
            format!(
                "image \"{image}\" (container \"{container}\"): Action 'Reject' enforced by ContainerPolicy {policy} rule index {rule}"
            )
        })
        .collect();
    format!(
        "admission webhook \"{WORKLOAD_WEBHOOK_NAME}\" denied the request: {}",
        per_image.join("; ")
    )
}

fn expect_rejected(world: &World, expected: &str) -> Result<(), String> {
    let attempt = world.last()?;
    match &attempt.outcome {
        Outcome::Admitted => Err(format!(
            "expected {} to be refused with\n  {expected}\nbut it was admitted",
            attempt.what
        )),
        Outcome::Rejected { message, .. } => {
            let seen = world.as_written(message);
            if seen == expected {
                Ok(())
            } else {
                Err(format!(
                    "{} was refused, but with a different message:\n  expected: {expected}\n  actual:   {seen}",
                    attempt.what
                ))
            }
        }
    }
}

async fn rejected_by_rule(world: &mut World, ctx: Context) -> Result<(), String> {
    let policy = arg(&ctx, 0)?;
    let rule: usize = arg(&ctx, 1)?
        .parse()
        .map_err(|error| format!("rule index: {error}"))?;
    let expected = denial(&policy, rule, &world.last()?.containers);
    expect_rejected(world, &expected)
}

async fn rejected_with(world: &mut World, ctx: Context) -> Result<(), String> {
    let expected = docstring(&ctx)?;
    expect_rejected(world, expected.trim())
}

/// Each line of the docstring is one warning the API server passed on (names as written).
async fn warned(world: &mut World, ctx: Context) -> Result<(), String> {
    let expected = docstring(&ctx)?;
    let attempt = world.last()?;
    let seen: Vec<String> = attempt
        .warnings
        .iter()
        .map(|warning| world.as_written(warning))
        .collect();
    for line in expected
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        if !seen.iter().any(|warning| warning == line) {
            return Err(format!(
                "{} did not warn {line:?}; its warnings:\n  {}",
                attempt.what,
                seen.join("\n  ")
            ));
        }
    }
    Ok(())
}

async fn not_warned(world: &mut World, _ctx: Context) -> Result<(), String> {
    let attempt = world.last()?;
    if attempt.warnings.is_empty() {
        return Ok(());
    }
    let seen: Vec<String> = attempt
        .warnings
        .iter()
        .map(|warning| world.as_written(warning))
        .collect();
    Err(format!(
        "{} warned, expected no warning:\n  {}",
        attempt.what,
        seen.join("\n  ")
    ))
}

async fn rejected_containing(world: &mut World, ctx: Context) -> Result<(), String> {
    let parts = docstring(&ctx)?;
    let attempt = world.last()?;
    let Outcome::Rejected { message, .. } = &attempt.outcome else {
        return Err(format!(
            "expected {} to be refused, but it was admitted",
            attempt.what
        ));
    };
    let seen = world.as_written(message);
    for part in parts.lines().map(str::trim).filter(|line| !line.is_empty()) {
        if !seen.contains(part) {
            return Err(format!(
                "{} was refused, but the message lacks {part:?}:\n  {seen}",
                attempt.what
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_puts_the_containers_where_its_controller_reads_them() {
        let containers = vec![
            ContainerSpec {
                init: true,
                name: "setup".into(),
                image: "busybox:1.36".into(),
            },
            ContainerSpec {
                init: false,
                name: "web".into(),
                image: "nginx:1.27".into(),
            },
        ];
        let paths = [
            ("Pod", "/spec"),
            ("Deployment", "/spec/template/spec"),
            ("ReplicaSet", "/spec/template/spec"),
            ("StatefulSet", "/spec/template/spec"),
            ("DaemonSet", "/spec/template/spec"),
            ("Job", "/spec/template/spec"),
            ("ReplicationController", "/spec/template/spec"),
            ("CronJob", "/spec/jobTemplate/spec/template/spec"),
        ];
        for (kind, path) in paths {
            let object = manifest(kind, "web", &BTreeMap::new(), &containers).unwrap();
            let spec = object
                .pointer(path)
                .unwrap_or_else(|| panic!("{kind}: {path}"));
            assert_eq!(spec["containers"][0]["image"], "nginx:1.27", "{kind}");
            assert_eq!(spec["initContainers"][0]["name"], "setup", "{kind}");
            assert_eq!(object["kind"], kind);
        }
        // The typed k8s-openapi objects accept what we send.
        let deployment: Deployment = serde_json::from_value(
            manifest("Deployment", "web", &BTreeMap::new(), &containers).unwrap(),
        )
        .unwrap();
        assert_eq!(deployment.spec.replicas, Some(1));
    }

    #[test]
    fn the_denial_joins_images_with_semicolons() {
        let message = denial(
            "p",
            0,
            &[("a".into(), "nginx".into()), ("b".into(), "redis:7".into())],
        );
        assert_eq!(
            message,
            "admission webhook \"image-assurance.tigera.io\" denied the request: image \"nginx\" (container \"a\"): Action 'Reject' enforced by ContainerPolicy p rule index 0; image \"redis:7\" (container \"b\"): Action 'Reject' enforced by ContainerPolicy p rule index 0"
        );
    }
}
