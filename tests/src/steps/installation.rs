//! The installation itself: the serving certificate, readiness, what the installer refuses,
//! and the scenarios that change the install (tagged @serial; the after-hook restores the
//! standard install with `restore`).

use std::collections::BTreeMap;
use std::time::Duration;

use cucumber::step::Context;
use image_assurance::install::cert_files::{CertFiles, verify};
use image_assurance::install::manifests::DEFAULT_REPLICAS;
use image_assurance::install::webhook_configuration::FailurePolicy;
use image_assurance::install::{
    CONTAINER_NAME, DEFAULT_NAMESPACE, DEPLOYMENT_NAME, NAMESPACE_NAME_LABEL, TLS_SECRET_NAME,
    WEBHOOK_CONFIGURATION_NAME,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, Secret, SecretVolumeSource, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::cluster::{CATCH_UP, barrier};
use super::controllers::failed_creates;
use super::{Keyword, Registration, arg, docstring, step, table_rows};
use crate::install::{self, InstallPlan};
use crate::wait::poll;
use crate::world::{Attempt, Outcome, World};

const SCAN_SECRET: &str = "image-assurance-e2e-scan-results";
const SCAN_MOUNT: &str = "/scan-results";
/// How long a change to a Secret may take to reach the pods' files (a real kubelet syncs
/// Secret volumes about once a minute).
const SECRET_SYNC: Duration = Duration::from_secs(90);

pub fn steps() -> Vec<Registration> {
    vec![
        (
            Keyword::Then,
            r#"the webhook's serving certificate is valid for "([^"]+)""#,
            step!(certificate_valid_for),
        ),
        (
            Keyword::Then,
            r"the webhook has (\d+) ready Pods behind its Service",
            step!(ready_pods),
        ),
        (
            Keyword::When,
            r#"I ask the installer for namespace selector values "([^"]+)""#,
            step!(ask_installer),
        ),
        (
            Keyword::When,
            r#"I ask the installer for namespace selector values "([^"]+)" with --allow-critical-namespaces"#,
            step!(ask_installer_unsafe),
        ),
        (
            Keyword::Then,
            r"the installer refuses with a message starting:",
            step!(installer_refuses),
        ),
        (
            Keyword::Then,
            r"the installer gives the manifests",
            step!(installer_accepts),
        ),
        (
            Keyword::Given,
            r#"the webhook is installed unsafely with --allow-critical-namespaces for the namespaces named "([^"]+)""#,
            step!(install_unsafely),
        ),
        (
            Keyword::Given,
            r"the webhook's failurePolicy is (Fail|Ignore)",
            step!(set_failure_policy),
        ),
        (
            Keyword::When,
            r"I delete the webhook's Pods",
            step!(delete_webhook_pods),
        ),
        (
            Keyword::Then,
            r"the webhook's Pods come back and are ready",
            step!(pods_come_back),
        ),
        (
            Keyword::Then,
            r"the webhook's Pods cannot come back, its ReplicaSet reporting:",
            step!(pods_cannot_come_back),
        ),
        (
            Keyword::When,
            r#"I delete the ValidatingWebhookConfiguration "image-assurance.tigera.io""#,
            step!(delete_configuration),
        ),
        (
            Keyword::Given,
            r"the webhook's Deployment is scaled to 0 replicas",
            step!(scale_to_zero),
        ),
        (
            Keyword::When,
            r"the webhook's Deployment is scaled to 0 replicas",
            step!(scale_to_zero),
        ),
        (
            Keyword::When,
            r"the webhook's Deployment is scaled back to (\d+) replicas",
            step!(scale_back),
        ),
        (
            Keyword::When,
            r"the webhook's ReplicaSet is scaled to (\d+) replicas",
            step!(scale_replica_set),
        ),
        (
            Keyword::Then,
            r#"the installed webhook "([^"]+)" is called only for namespaces matching:"#,
            step!(installed_namespace_selector),
        ),
        (
            Keyword::Given,
            r"the webhook also reads a scan-results file",
            step!(with_scan_file),
        ),
        (
            Keyword::Given,
            r"the webhook is reinstalled to treat every policy as Warn",
            step!(dry_run),
        ),
        (
            Keyword::When,
            r"the scan-results file becomes unreadable",
            step!(break_scan_file),
        ),
        (
            Keyword::Then,
            r#"soon a Pod "([^"]+)" with image "([^"]+)" is rejected with a message containing:"#,
            step!(soon_rejected_containing),
        ),
        (
            Keyword::Then,
            r"the webhook's Pods stay ready, their metrics reporting the scan-results file unavailable",
            step!(ready_with_scan_file_unavailable),
        ),
    ]
}

async fn certificate_valid_for(world: &mut World, ctx: Context) -> Result<(), String> {
    let name = arg(&ctx, 0)?;
    let secret = Api::<Secret>::namespaced(world.client(), DEFAULT_NAMESPACE)
        .get(TLS_SECRET_NAME)
        .await
        .map_err(|error| format!("get Secret {TLS_SECRET_NAME}: {error}"))?;
    let data = secret.data.unwrap_or_default();
    let field = |key: &str| {
        data.get(key)
            .map(|bytes| bytes.0.clone())
            .ok_or_else(|| format!("Secret {TLS_SECRET_NAME} has no {key}"))
    };
    let files = CertFiles {
        cert_pem: field("tls.crt")?,
        key_pem: field("tls.key")?,
        ca_pem: field("ca.crt")?,
    };
    verify(
        &files,
        std::path::Path::new(&format!("secret/{TLS_SECRET_NAME}")),
        &name,
        jiff::Timestamp::now(),
    )
    .map_err(|error| error.to_string())?;
    world.log(format!(
        "the serving certificate chains to ca.crt and names {name}"
    ));
    Ok(())
}

async fn ready_pods(world: &mut World, ctx: Context) -> Result<(), String> {
    let count: i32 = arg(&ctx, 0)?
        .parse()
        .map_err(|error| format!("pod count: {error}"))?;
    install::wait_ready(&world.client(), DEFAULT_NAMESPACE, count).await?;
    let endpoints = install::ready_endpoints(&world.client(), DEFAULT_NAMESPACE).await?;
    world.log(format!(
        "the webhook Service has {endpoints} ready endpoints"
    ));
    Ok(())
}

fn ask(world: &mut World, values: &str, allow_critical: bool) {
    let plan = InstallPlan {
        selector_values: values.to_string(),
        allow_critical_namespaces: allow_critical,
        ..world.ctx.standard.clone()
    };
    let answer = world.ctx.base.manifests(&plan).map(|_| ());
    world.log(format!("the installer for {values:?}: {answer:?}"));
    world.installer = Some(answer);
}

async fn ask_installer(world: &mut World, ctx: Context) -> Result<(), String> {
    ask(world, &arg(&ctx, 0)?, false);
    Ok(())
}

async fn ask_installer_unsafe(world: &mut World, ctx: Context) -> Result<(), String> {
    ask(world, &arg(&ctx, 0)?, true);
    Ok(())
}

async fn installer_refuses(world: &mut World, ctx: Context) -> Result<(), String> {
    let expected = docstring(&ctx)?;
    let expected = expected.split_whitespace().collect::<Vec<_>>().join(" ");
    match &world.installer {
        None => Err("the installer was not asked".to_string()),
        Some(Ok(())) => Err(format!(
            "the installer accepted; expected it to refuse with {expected:?}"
        )),
        Some(Err(message)) if message.starts_with(&expected) => Ok(()),
        Some(Err(message)) => Err(format!(
            "the installer refused, but with:\n  {message}\nexpected it to start with:\n  {expected}"
        )),
    }
}

async fn installer_accepts(world: &mut World, _ctx: Context) -> Result<(), String> {
    match &world.installer {
        Some(Ok(())) => Ok(()),
        Some(Err(message)) => Err(format!("the installer refused: {message}")),
        None => Err("the installer was not asked".to_string()),
    }
}

/// Puts the webhook configuration of `plan` (the only object that differs between plans).
async fn put_configuration(world: &mut World, plan: &InstallPlan) -> Result<(), String> {
    barrier(world).await?;
    let manifests = world.ctx.base.manifests(plan)?;
    world.install_changed = true;
    install::put(&Api::all(world.client()), &manifests.webhook_configuration).await?;
    world.log(format!("webhook configuration now {plan:?}"));
    Ok(())
}

async fn install_unsafely(world: &mut World, ctx: Context) -> Result<(), String> {
    let plan = InstallPlan {
        selector_key: NAMESPACE_NAME_LABEL.to_string(),
        selector_values: arg(&ctx, 0)?,
        allow_critical_namespaces: true,
        failure_policy: FailurePolicy::Fail,
        serve_flags: world.ctx.standard.serve_flags.clone(),
    };
    put_configuration(world, &plan).await
}

async fn set_failure_policy(world: &mut World, ctx: Context) -> Result<(), String> {
    let failure_policy = match arg(&ctx, 0)?.as_str() {
        "Ignore" => FailurePolicy::Ignore,
        _ => FailurePolicy::Fail,
    };
    let plan = InstallPlan {
        failure_policy,
        ..world.ctx.standard.clone()
    };
    put_configuration(world, &plan).await
}

/// Notes the webhook's current pods as gone: pods that "come back" must be others.
async fn note_gone(world: &mut World) -> Result<Vec<String>, String> {
    let pods = install::webhook_pods(&world.client(), DEFAULT_NAMESPACE).await?;
    let mut names = Vec::new();
    for pod in pods {
        world
            .gone_webhook_pods
            .extend(pod.metadata.uid.iter().cloned());
        names.extend(pod.metadata.name);
    }
    Ok(names)
}

/// An ordinary (graceful) delete, as a node drain or `kubectl delete pod` does: the old
/// processes may answer for a while and their replacements are created at once, which is
/// fine under the safe install, whose webhook never covers its own namespace.
async fn delete_webhook_pods(world: &mut World, _ctx: Context) -> Result<(), String> {
    barrier(world).await?;
    world.install_changed = true;
    let names = note_gone(world).await?;
    let pods: Api<Pod> = Api::namespaced(world.client(), DEFAULT_NAMESPACE);
    pods.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels(&install::pod_selector()),
    )
    .await
    .map_err(|error| format!("delete the webhook's Pods: {error}"))?;
    world.log(format!("deleted the webhook's Pods {names:?}"));
    Ok(())
}

/// New pods (none of those deleted or scaled away), Ready, and exactly they behind the
/// Service's endpoints.
async fn pods_come_back(world: &mut World, _ctx: Context) -> Result<(), String> {
    let names = install::wait_ready_replacing(
        &world.client(),
        DEFAULT_NAMESPACE,
        DEFAULT_REPLICAS,
        &world.gone_webhook_pods,
    )
    .await?;
    world.log(format!(
        "new webhook Pods {names:?} are ready behind the Service's endpoints"
    ));
    Ok(())
}

async fn pods_cannot_come_back(world: &mut World, ctx: Context) -> Result<(), String> {
    let expected = docstring(&ctx)?.trim().to_string();
    let client = world.client();
    let event = poll(
        install::READY_TIMEOUT,
        "a FailedCreate event of the webhook's ReplicaSet",
        || async {
            let failed = failed_creates(&client, DEFAULT_NAMESPACE).await?;
            Ok(failed
                .into_iter()
                .find(|event| event.starts_with("ReplicaSet") && event.contains(&expected))
                .ok_or_else(|| "no matching FailedCreate event yet".to_string()))
        },
    )
    .await?;
    world.log(format!("event: {event}"));
    let served = install::service_endpoints(&client, DEFAULT_NAMESPACE).await?;
    let pods = install::webhook_pods(&client, DEFAULT_NAMESPACE).await?;
    if !served.is_empty() || !pods.is_empty() {
        return Err(format!(
            "the webhook came back: {} Pods, {served}",
            pods.len()
        ));
    }
    Ok(())
}

async fn delete_configuration(world: &mut World, _ctx: Context) -> Result<(), String> {
    world.install_changed = true;
    install::delete_webhook_configuration(&world.client()).await?;
    world.log("deleted the ValidatingWebhookConfiguration");
    Ok(())
}

/// Scales the webhook's Deployment through its `scale` subresource, which the webhook does
/// not cover (its rules name main resources), so this works under any install.
async fn scale_deployment(world: &World, replicas: i32) -> Result<(), String> {
    Api::<Deployment>::namespaced(world.client(), DEFAULT_NAMESPACE)
        .patch_scale(
            DEPLOYMENT_NAME,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .map_err(|error| format!("scale the webhook's Deployment to {replicas}: {error}"))?;
    Ok(())
}

/// Down to no pods at all, not only no endpoints: a webhook process that is still shutting
/// down could otherwise answer on a connection the API server keeps alive.
async fn scale_to_zero(world: &mut World, _ctx: Context) -> Result<(), String> {
    barrier(world).await?;
    world.install_changed = true;
    note_gone(world).await?;
    scale_deployment(world, 0).await?;
    install::wait_gone(&world.client(), DEFAULT_NAMESPACE).await?;
    world.log("the webhook is scaled to 0: no Pods, no ready endpoints");
    Ok(())
}

async fn scale_back(world: &mut World, ctx: Context) -> Result<(), String> {
    let replicas: i32 = arg(&ctx, 0)?
        .parse()
        .map_err(|error| format!("replicas: {error}"))?;
    world.install_changed = true;
    scale_deployment(world, replicas).await?;
    world.log(format!("scaled the webhook's Deployment to {replicas}"));
    Ok(())
}

/// The Deployment's current ReplicaSet: the one it controls whose pod template is the
/// Deployment's own, apart from the `pod-template-hash` label the Deployment controller adds.
async fn current_replica_set(world: &World) -> Result<ReplicaSet, String> {
    let client = world.client();
    let deployment = Api::<Deployment>::namespaced(client.clone(), DEFAULT_NAMESPACE)
        .get(DEPLOYMENT_NAME)
        .await
        .map_err(|error| format!("get Deployment {DEPLOYMENT_NAME}: {error}"))?;
    let uid = deployment.metadata.uid.clone().unwrap_or_default();
    let template =
        serde_json::to_value(&deployment.spec.template).map_err(|error| error.to_string())?;
    let sets = Api::<ReplicaSet>::namespaced(client, DEFAULT_NAMESPACE)
        .list(&ListParams::default().labels(&install::pod_selector()))
        .await
        .map_err(|error| format!("list the webhook's ReplicaSets: {error}"))?;
    let mut seen = Vec::new();
    for set in sets.items {
        let controlled = set
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|owner| owner.controller == Some(true) && owner.uid == uid);
        let mut own =
            serde_json::to_value(&set.spec.template).map_err(|error| error.to_string())?;
        if let Some(labels) = own
            .pointer_mut("/metadata/labels")
            .and_then(serde_json::Value::as_object_mut)
        {
            labels.remove("pod-template-hash");
        }
        seen.push(set.metadata.name.clone().unwrap_or_default());
        if controlled && own == template {
            return Ok(set);
        }
    }
    Err(format!(
        "none of the ReplicaSets {seen:?} is the current one of Deployment {DEPLOYMENT_NAME}"
    ))
}

/// What the Deployment controller does after a scale-up, done by hand: when the webhook
/// covers its own namespace and is down, the controller's own update of the ReplicaSet is
/// refused like any other request there. The `scale` subresource is not covered.
async fn scale_replica_set(world: &mut World, ctx: Context) -> Result<(), String> {
    let replicas: i32 = arg(&ctx, 0)?
        .parse()
        .map_err(|error| format!("replicas: {error}"))?;
    world.install_changed = true;
    let set = current_replica_set(world).await?;
    let name = set.metadata.name.unwrap_or_default();
    Api::<ReplicaSet>::namespaced(world.client(), DEFAULT_NAMESPACE)
        .patch_scale(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .map_err(|error| format!("scale ReplicaSet {name} to {replicas}: {error}"))?;
    world.log(format!(
        "scaled the webhook's ReplicaSet {name} to {replicas}"
    ));
    Ok(())
}

/// The namespaceSelector of one webhook of the installed configuration, read back from the
/// API, against a table of `key | operator | values` (values separated by spaces), in order.
async fn installed_namespace_selector(world: &mut World, ctx: Context) -> Result<(), String> {
    let webhook_name = arg(&ctx, 0)?;
    let mut expected = Vec::new();
    for row in table_rows(&ctx)? {
        let field = |key: &str| {
            row.get(key)
                .cloned()
                .ok_or_else(|| format!("the table needs a `{key}` column"))
        };
        expected.push(LabelSelectorRequirement {
            key: field("key")?,
            operator: field("operator")?,
            values: Some(
                field("values")?
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
            ),
        });
    }
    let configuration = Api::<ValidatingWebhookConfiguration>::all(world.client())
        .get(WEBHOOK_CONFIGURATION_NAME)
        .await
        .map_err(|error| {
            format!("get ValidatingWebhookConfiguration {WEBHOOK_CONFIGURATION_NAME}: {error}")
        })?;
    let webhook = configuration
        .webhooks
        .iter()
        .flatten()
        .find(|webhook| webhook.name == webhook_name)
        .ok_or_else(|| format!("{WEBHOOK_CONFIGURATION_NAME} has no webhook {webhook_name}"))?;
    let selector = webhook.namespace_selector.clone().unwrap_or_default();
    let actual = selector.match_expressions.unwrap_or_default();
    let labels = selector.match_labels.unwrap_or_default();
    if actual != expected || !labels.is_empty() {
        return Err(format!(
            "the webhook {webhook_name} selects namespaces by matchLabels {labels:?} and matchExpressions {actual:?}; expected only the matchExpressions {expected:?}"
        ));
    }
    world.log(format!(
        "webhook {webhook_name}: namespaceSelector {actual:?}"
    ));
    Ok(())
}

fn scan_secret(content: &str) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(SCAN_SECRET.to_string()),
            namespace: Some(DEFAULT_NAMESPACE.to_string()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            "results.yaml".to_string(),
            ByteString(content.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

/// The standard Deployment, plus `--scan-results` from a Secret volume.
async fn with_scan_file(world: &mut World, _ctx: Context) -> Result<(), String> {
    barrier(world).await?;
    world.install_changed = true;
    let client = world.client();
    install::put(
        &Api::namespaced(client.clone(), DEFAULT_NAMESPACE),
        &scan_secret("images: []\n"),
    )
    .await?;
    let mut deployment = world.ctx.base.manifests(&world.ctx.standard)?.deployment;
    let spec = deployment
        .spec
        .template
        .spec
        .as_mut()
        .ok_or("the installer's Deployment has no pod spec")?;
    spec.volumes.get_or_insert_with(Vec::new).push(Volume {
        name: "scan-results".to_string(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(SCAN_SECRET.to_string()),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    });
    let container = spec
        .containers
        .iter_mut()
        .find(|container| container.name == CONTAINER_NAME)
        .ok_or("the installer's Deployment has no webhook container")?;
    container
        .args
        .get_or_insert_with(Vec::new)
        .push(format!("--scan-results={SCAN_MOUNT}/results.yaml"));
    container
        .volume_mounts
        .get_or_insert_with(Vec::new)
        .push(VolumeMount {
            name: "scan-results".to_string(),
            mount_path: SCAN_MOUNT.to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    roll_out(&client, &deployment, "read the scan-results file").await?;
    world.log("the webhook reads a scan-results file");
    Ok(())
}

/// The global dry run: the webhook reinstalled with `serve --enforcement=warn`.
async fn dry_run(world: &mut World, _ctx: Context) -> Result<(), String> {
    barrier(world).await?;
    world.install_changed = true;
    let standard = world.ctx.standard.clone();
    let plan = InstallPlan {
        serve_flags: [
            standard.serve_flags.clone(),
            vec!["--enforcement=warn".to_string()],
        ]
        .concat(),
        ..standard
    };
    let deployment = world.ctx.base.manifests(&plan)?.deployment;
    roll_out(&world.client(), &deployment, "treat every policy as Warn").await?;
    world.log("the webhook treats every policy as Warn");
    Ok(())
}

/// Puts the webhook's `deployment` and waits for its rollout: two Pods, each running the
/// webhook container with exactly the Deployment's arguments (the old ones gone), both ready.
async fn roll_out(
    client: &kube::Client,
    deployment: &Deployment,
    what: &str,
) -> Result<(), String> {
    let args_of = |spec: Option<&k8s_openapi::api::core::v1::PodSpec>| {
        spec.and_then(|spec| {
            spec.containers
                .iter()
                .find(|container| container.name == CONTAINER_NAME)
                .map(|container| container.args.clone().unwrap_or_default())
        })
    };
    let wanted = args_of(deployment.spec.template.spec.as_ref())
        .ok_or("the installer's Deployment has no webhook container")?;
    install::put(
        &Api::namespaced(client.clone(), DEFAULT_NAMESPACE),
        deployment,
    )
    .await?;
    poll(
        install::READY_TIMEOUT,
        &format!("the webhook's Pods to {what}"),
        || async {
            let pods = Api::<Pod>::namespaced(client.clone(), DEFAULT_NAMESPACE)
                .list(&ListParams::default().labels(&install::pod_selector()))
                .await
                .map_err(|error| error.to_string())?;
            let current = pods
                .items
                .iter()
                .filter(|pod| pod.metadata.deletion_timestamp.is_none())
                .filter(|pod| args_of(pod.spec.as_ref()).as_ref() == Some(&wanted))
                .count();
            let total = pods.items.len();
            Ok(if current == 2 && total == 2 {
                Ok(())
            } else {
                Err(format!("{current} of {total} Pods run the new arguments"))
            })
        },
    )
    .await?;
    install::wait_ready(client, DEFAULT_NAMESPACE, 2).await
}

async fn break_scan_file(world: &mut World, _ctx: Context) -> Result<(), String> {
    install::put(
        &Api::namespaced(world.client(), DEFAULT_NAMESPACE),
        &scan_secret("images: [ this is not YAML\n"),
    )
    .await?;
    world.log("the scan-results file is now invalid");
    Ok(())
}

async fn soon_rejected_containing(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, written) = (arg(&ctx, 0)?, arg(&ctx, 1)?);
    let parts: Vec<String> = docstring(&ctx)?
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect();
    let namespace = world.namespace()?.to_string();
    let image = world.image(&written);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": name, "image": image}]},
    }))
    .map_err(|error| format!("Pod {name}: {error}"))?;
    let pods: Api<Pod> = Api::namespaced(world.client(), &namespace);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let world_ref = &*world;
    let message = poll(
        SECRET_SYNC.max(CATCH_UP),
        "the webhook to fail closed",
        || async {
            match pods.create(&dry_run, &pod).await {
                Err(kube::Error::Api(status)) => {
                    let seen = world_ref.as_written(&status.message);
                    Ok(if parts.iter().all(|part| seen.contains(part)) {
                        Ok(seen)
                    } else {
                        Err(seen)
                    })
                }
                Ok(_) => Ok(Err("admitted".to_string())),
                Err(error) => Err(error.to_string()),
            }
        },
    )
    .await?;
    world.record(Attempt {
        what: format!("create Pod {name} (dry run)"),
        containers: vec![(name, written)],
        outcome: Outcome::Rejected { code: 403, message },
        warnings: Vec::new(),
    });
    Ok(())
}

/// Readiness means "this replica can answer": an unreadable scan source must not take the
/// webhook's Pods out of its Service, or users would read the API server's "no endpoints"
/// instead of the reason. Each Pod's kubelet refreshes the Secret volume on its own, so this
/// waits until every Pod's own metrics (through pods/proxy) report the file unavailable, and
/// fails at once if a Pod says it is not ready or the API says it is not Ready; then the
/// Service must still send traffic to all of them.
async fn ready_with_scan_file_unavailable(world: &mut World, _ctx: Context) -> Result<(), String> {
    let client = world.client();
    let wanted = usize::try_from(DEFAULT_REPLICAS).unwrap_or(0);
    poll(
        SECRET_SYNC.max(CATCH_UP),
        "every webhook Pod to report the scan-results file unavailable while ready",
        || async {
            let pods: Vec<Pod> = install::webhook_pods(&client, DEFAULT_NAMESPACE)
                .await?
                .into_iter()
                .filter(|pod| pod.metadata.deletion_timestamp.is_none())
                .collect();
            if pods.len() != wanted {
                return Err(format!("{} webhook Pods, expected {wanted}", pods.len()));
            }
            let mut still_loaded = Vec::new();
            for pod in &pods {
                let name = pod.metadata.name.as_deref().unwrap_or("<unnamed>");
                let metrics = super::requests::pod_metrics(&client, pod).await?;
                let ready = metric(&metrics, "image_assurance_ready");
                if ready != Some(1.0) {
                    return Err(format!("Pod {name}: image_assurance_ready is {ready:?}"));
                }
                if !install::is_ready(pod) {
                    return Err(format!("Pod {name} is not Ready"));
                }
                let file = r#"image_assurance_source_synced{source="scan-results-file"}"#;
                match metric(&metrics, file) {
                    Some(0.0) => {}
                    other => still_loaded.push(format!("{name}: {file} {other:?}")),
                }
            }
            Ok(if still_loaded.is_empty() {
                Ok(())
            } else {
                Err(still_loaded.join(", "))
            })
        },
    )
    .await?;
    let endpoints = install::ready_endpoints(&client, DEFAULT_NAMESPACE).await?;
    if endpoints != wanted {
        return Err(format!(
            "the webhook Service has {endpoints} ready endpoints, expected {wanted}"
        ));
    }
    world.log(format!(
        "{wanted} webhook Pods ready behind the Service; each reports the scan-results file unavailable"
    ));
    Ok(())
}

/// The value of a sample (name and labels as written) in a Prometheus text exposition.
fn metric(exposition: &str, sample: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        line.strip_prefix(sample)?
            .strip_prefix(' ')?
            .parse::<f64>()
            .ok()
    })
}

/// Puts back the standard install: the webhook configuration first (it is never intercepted,
/// and while an unsafe one is in place nothing in the webhook's namespace can be changed), then
/// every object, then waits until the webhook serves again.
pub async fn restore(world: &mut World) -> Result<(), String> {
    let client = world.client();
    let manifests = world.ctx.base.manifests(&world.ctx.standard)?;
    install::put(&Api::all(client.clone()), &manifests.webhook_configuration).await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), DEFAULT_NAMESPACE);
    match secrets.delete(SCAN_SECRET, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(error) if crate::install::is_not_found(&error) => {}
        Err(error) => return Err(format!("delete Secret {SCAN_SECRET}: {error}")),
    }
    install::apply(&client, &manifests).await?;
    // Nothing of the changed install may answer a later scenario: wait for the standard Pods.
    roll_out(
        &client,
        &manifests.deployment,
        "run the standard install again",
    )
    .await?;
    world.install_changed = false;
    Ok(())
}
