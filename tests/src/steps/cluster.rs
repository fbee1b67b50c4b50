//! The scenario's namespace, the standing install, the barrier that waits for the webhook to
//! catch up with the scenario's changes, and the clean-up after each scenario.

use std::collections::BTreeMap;
use std::time::Duration;

use cucumber::step::Context;
use futures::future::LocalBoxFuture;
use image_assurance::install::DEFAULT_NAMESPACE;
use image_assurance::policy::crd::ContainerAdmissionPolicy;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::{Keyword, Registration, arg, step};
use crate::install;
use crate::steps::scans::{Status, put_report};
use crate::wait::poll;
use crate::world::World;

/// How long the webhook may take to see a change (watches; a real cluster is slower).
pub const CATCH_UP: Duration = Duration::from_secs(20);
const BARRIER_LABEL: &str = "image-assurance.e2e/barrier";
/// Refusals in a row that make the barrier conclusive: with two replicas picked at random,
/// a lagging one goes unprobed with probability 2^-7.
const BARRIER_CONFIRMATIONS: u32 = 8;

pub fn steps() -> Vec<Registration> {
    vec![
        (
            Keyword::Given,
            r#"the image-assurance webhook is installed for namespaces labelled "([^"=]+)=([^"]*)""#,
            step!(installed),
        ),
        (
            Keyword::Given,
            r#"a namespace labelled "([^"]+)""#,
            step!(namespace_labelled),
        ),
        (
            Keyword::Given,
            r"a namespace with no labels",
            step!(namespace_unlabelled),
        ),
        (
            Keyword::When,
            r#"the namespace is labelled "([^"]+)""#,
            step!(label_namespace),
        ),
        (
            Keyword::Given,
            r#"the namespace "([^"]+)" is labelled "([^"]+)""#,
            step!(label_other_namespace),
        ),
    ]
}

async fn installed(world: &mut World, ctx: Context) -> Result<(), String> {
    let (key, value) = (arg(&ctx, 0)?, arg(&ctx, 1)?);
    let plan = &world.ctx.standard;
    if plan.selector_key != key || !plan.selector_values.split_whitespace().any(|v| v == value) {
        return Err(format!(
            "the run installs the webhook for {}={:?}, not {key}={value}",
            plan.selector_key, plan.selector_values
        ));
    }
    install::wait_ready(&world.client(), DEFAULT_NAMESPACE, 2).await?;
    world.log(format!(
        "the webhook serves namespaces labelled {key}={value}"
    ));
    Ok(())
}

/// `a=b, c=d` as labels.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
                .ok_or_else(|| format!("label {pair:?}: expected key=value"))
        })
        .collect()
}

async fn create_namespace(
    world: &mut World,
    labels: BTreeMap<String, String>,
) -> Result<(), String> {
    if world.namespace.is_some() {
        return Err("one namespace per scenario: this one already has one".to_string());
    }
    let name = world.namespace_name();
    let namespace: Namespace = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels}
    }))
    .map_err(|error| format!("namespace {name}: {error}"))?;
    Api::<Namespace>::all(world.client())
        .create(&PostParams::default(), &namespace)
        .await
        .map_err(|error| format!("create namespace {name}: {error}"))?;
    world.log(format!("created namespace {name} labelled {labels:?}"));
    world.namespace = Some(name);
    world.namespace_labels = labels;
    world.dirty = true;
    Ok(())
}

async fn namespace_labelled(world: &mut World, ctx: Context) -> Result<(), String> {
    let labels = parse_labels(&arg(&ctx, 0)?)?;
    create_namespace(world, labels).await
}

async fn namespace_unlabelled(world: &mut World, _ctx: Context) -> Result<(), String> {
    create_namespace(world, BTreeMap::new()).await
}

async fn label_namespace(world: &mut World, ctx: Context) -> Result<(), String> {
    let labels = parse_labels(&arg(&ctx, 0)?)?;
    let name = world.namespace()?.to_string();
    Api::<Namespace>::all(world.client())
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": labels}})),
        )
        .await
        .map_err(|error| format!("label namespace {name}: {error}"))?;
    world.log(format!("labelled namespace {name} {labels:?}"));
    world.namespace_labels.extend(labels);
    world.dirty = true;
    Ok(())
}

/// Labels a namespace the scenario does not own (such as kube-system); the after-hook takes
/// the labels off again.
async fn label_other_namespace(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, labels) = (arg(&ctx, 0)?, parse_labels(&arg(&ctx, 1)?)?);
    let namespaces = Api::<Namespace>::all(world.client());
    let existing = namespaces
        .get(&name)
        .await
        .map_err(|error| format!("get namespace {name}: {error}"))?
        .metadata
        .labels
        .unwrap_or_default();
    if let Some(key) = labels.keys().find(|key| existing.contains_key(*key)) {
        // Removing it afterwards would then destroy a label that was there before.
        return Err(format!(
            "namespace {name} already has the label {key}: is an earlier scenario's clean-up missing?"
        ));
    }
    for key in labels.keys() {
        world.labelled_elsewhere.push((name.clone(), key.clone()));
    }
    namespaces
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": labels}})),
        )
        .await
        .map_err(|error| format!("label namespace {name}: {error}"))?;
    world.log(format!("labelled namespace {name} {labels:?}"));
    world.dirty = true;
    Ok(())
}

/// Waits until the webhook has seen every policy, scan result and namespace label this
/// scenario changed. The webhook learns of them through three watches; the barrier writes one
/// more change to each (a namespace label, a VulnerabilityReport marking a barrier image
/// `Fail`, and a first-in-order policy rejecting that image only when it is `Fail` in a
/// namespace with that label), then dry-runs a Pod with the barrier image until it is
/// rejected by the barrier policy. Each watch delivers changes in order, so by then the
/// earlier changes have arrived too. The barrier policy matches no other image, so it never
/// decides anything a feature asserts.
pub async fn barrier(world: &mut World) -> Result<(), String> {
    if !world.dirty || !world.namespace_in_scope() {
        return Ok(());
    }
    world.barrier += 1;
    let round = world.barrier.to_string();
    let namespace = world.namespace()?.to_string();
    let client = world.client();
    let image = format!("barrier.invalid/{}:{round}", world.token);
    Api::<Namespace>::all(client.clone())
        .patch(
            &namespace,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {BARRIER_LABEL: round}}})),
        )
        .await
        .map_err(|error| format!("barrier: label namespace {namespace}: {error}"))?;
    put_report(
        &client,
        &namespace,
        "e2e-barrier",
        &image,
        Status::Fail,
        jiff::Timestamp::now(),
    )
    .await?;
    let policy_name = format!("e2e-barrier-{}", world.token);
    let policy: ContainerAdmissionPolicy = serde_json::from_value(json!({
        "apiVersion": "containersecurity.tigera.io/v1beta1",
        "kind": "ContainerAdmissionPolicy",
        "metadata": {"name": policy_name},
        "spec": {
            "order": -1_000_000.0,
            "namespaceSelector": format!("kubernetes.io/metadata.name == '{namespace}' && {BARRIER_LABEL} == '{round}'"),
            "rules": [{
                "action": "Reject",
                "imagePath": {"operator": "IsOneOf", "values": [format!("^barrier\\.invalid/{}:{round}$", world.token)]},
                "imageScanStatus": {"operator": "IsOneOf", "values": ["Fail"]},
            }],
        },
    }))
    .map_err(|error| format!("barrier policy: {error}"))?;
    install::put(
        &Api::<ContainerAdmissionPolicy>::all(client.clone()),
        &policy,
    )
    .await?;
    if !world.policies.contains(&policy_name) {
        world.policies.push(policy_name.clone());
    }
    every_replica_caught_up(&client, &namespace, &policy_name).await?;
    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    let probe: Pod = serde_json::from_value(json!({
        "metadata": {"name": "e2e-barrier-probe"},
        "spec": {"containers": [{"name": "probe", "image": image}]},
    }))
    .map_err(|error| format!("barrier probe: {error}"))?;
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    // Every replica of the webhook has its own caches and the API server picks one per call,
    // so the probe must be refused several times in a row, not once.
    poll(
        CATCH_UP,
        "the webhook to see this scenario's changes",
        || async {
            for confirmed in 0..BARRIER_CONFIRMATIONS {
                match pods.create(&dry_run, &probe).await {
                    Err(kube::Error::Api(status)) if status.message.contains(&policy_name) => {}
                    Err(kube::Error::Api(status)) => {
                        return Ok(Err(format!(
                            "after {confirmed} refusals: {}",
                            status.message
                        )));
                    }
                    Ok(_) => return Ok(Err(format!("after {confirmed} refusals: admitted"))),
                    Err(error) => return Err(error.to_string()),
                }
            }
            Ok(Ok(()))
        },
    )
    .await?;
    world.dirty = false;
    Ok(())
}

/// Waits until every ready webhook replica has seen the barrier's policy and report, by the
/// newest resourceVersion each reports per source (`image_assurance_source_resource_version`).
/// The API server sends a request to whichever replica its connection leads to, so refusals of
/// the probe alone may all come from the replica that caught up first.
async fn every_replica_caught_up(
    client: &kube::Client,
    namespace: &str,
    policy_name: &str,
) -> Result<(), String> {
    let version =
        |object: Result<kube::api::ObjectMeta, kube::Error>| -> Result<Option<i64>, String> {
            let meta = object.map_err(|error| format!("barrier: {error}"))?;
            Ok(meta
                .resource_version
                .and_then(|version| version.parse().ok()))
        };
    let policy = version(
        Api::<ContainerAdmissionPolicy>::all(client.clone())
            .get(policy_name)
            .await
            .map(|policy| policy.metadata),
    )?;
    let report = version(
        Api::<kube::api::DynamicObject>::namespaced_with(
            client.clone(),
            namespace,
            &crate::steps::scans::report_resource(),
        )
        .get("e2e-barrier")
        .await
        .map(|report| report.metadata),
    )?;
    // Resource versions that are not numbers cannot be compared: the probe alone decides.
    let (Some(policy), Some(report)) = (policy, report) else {
        return Ok(());
    };
    poll(CATCH_UP, "every webhook replica to see this scenario's changes", || async {
        let pods = install::webhook_pods(client, DEFAULT_NAMESPACE).await?;
        for pod in pods.iter().filter(|pod| is_serving(pod)) {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let text = match crate::steps::requests::pod_metrics(client, pod).await {
                Ok(text) => text,
                Err(error) => return Ok(Err(format!("Pod {name}: {error}"))),
            };
            let seen = |source: &str| seen_version(&text, source);
            if seen("policies") < policy || seen("vulnerabilityreports") < report {
                return Ok(Err(format!(
                    "Pod {name} has seen policies up to {} and reports up to {}, not {policy} and {report}",
                    seen("policies"),
                    seen("vulnerabilityreports")
                )));
            }
        }
        Ok(Ok(()))
    })
    .await
}

/// A Pod the webhook Service sends requests to: not being deleted, and Ready.
fn is_serving(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none() && install::is_ready(pod)
}

/// The `image_assurance_source_resource_version` of `source` in a metrics text; 0 if absent.
fn seen_version(metrics: &str, source: &str) -> i64 {
    let prefix = format!("image_assurance_source_resource_version{{source=\"{source}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map_or(0, |value| value as i64)
}

/// After every scenario: put back the standard install if the scenario changed it, and delete
/// what the scenario created.
pub fn after_scenario(world: Option<&mut World>) -> LocalBoxFuture<'_, ()> {
    Box::pin(async move {
        let Some(world) = world else {
            return;
        };
        if let Err(error) = clean_up(world).await {
            // A failed clean-up can break later scenarios: say so loudly.
            eprintln!("  [{}] CLEAN-UP FAILED: {error}", world.token);
        }
    })
}

/// Every part runs even when an earlier one fails, so that one failure leaks as little as
/// possible into later scenarios; the failures are reported together.
async fn clean_up(world: &mut World) -> Result<(), String> {
    let client = world.client();
    let mut failures = Vec::new();
    if world.install_changed {
        world.log("restoring the standard install");
        if let Err(error) = crate::steps::installation::restore(world).await {
            failures.push(error);
        }
    }
    for (namespace, key) in std::mem::take(&mut world.labelled_elsewhere) {
        let patch = json!({"metadata": {"labels": {key.clone(): null}}});
        match Api::<Namespace>::all(client.clone())
            .patch(&namespace, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => world.log(format!(
                "removed the label {key} from namespace {namespace}"
            )),
            Err(error) if crate::install::is_not_found(&error) => {}
            Err(error) => failures.push(format!(
                "remove the label {key} from namespace {namespace}: {error}"
            )),
        }
    }
    for (namespace, name) in std::mem::take(&mut world.outside) {
        let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        match pods.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(error) if crate::install::is_not_found(&error) => {}
            Err(error) => failures.push(format!("delete Pod {namespace}/{name}: {error}")),
        }
    }
    let policies: Api<ContainerAdmissionPolicy> = Api::all(client.clone());
    for name in std::mem::take(&mut world.policies) {
        match policies.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(error) if crate::install::is_not_found(&error) => {}
            Err(error) => failures.push(format!("delete ContainerAdmissionPolicy {name}: {error}")),
        }
    }
    if let Some(namespace) = world.namespace.take() {
        match Api::<Namespace>::all(client)
            .delete(&namespace, &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(error) if crate::install::is_not_found(&error) => {}
            Err(error) => failures.push(format!("delete namespace {namespace}: {error}")),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_from_comma_separated_pairs() {
        let labels = parse_labels("apply-container-policies=true, environment=production").unwrap();
        assert_eq!(labels["environment"], "production");
        assert_eq!(labels.len(), 2);
        assert!(parse_labels("novalue").is_err());
    }

    #[test]
    fn a_replicas_resource_versions_are_read_from_its_metrics() {
        let metrics = "# HELP x\nimage_assurance_source_resource_version{source=\"policies\"} 812\nimage_assurance_source_resource_version{source=\"vulnerabilityreports\"} 90\n";
        assert_eq!(seen_version(metrics, "policies"), 812);
        assert_eq!(seen_version(metrics, "vulnerabilityreports"), 90);
        assert_eq!(seen_version(metrics, "namespaces"), 0);
    }
}
