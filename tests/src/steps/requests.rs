//! Whether the API server consulted the webhook: the webhook's own admission request counter
//! (`image_assurance_admission_requests_total`, webhook/src/server/metrics.rs), read from every
//! webhook pod's metrics port through the API server's `pods/proxy` subresource, before and
//! after a request. The counter is process-wide, so the scenarios that use it are @serial.

use std::collections::BTreeMap;

use cucumber::step::Context;
use image_assurance::install::{DEFAULT_NAMESPACE, METRICS_PORT_NAME};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams};
use kube::{Client, Resource};

use super::{Keyword, Registration, step};
use crate::install::{self, READY_TIMEOUT};
use crate::wait::poll;
use crate::world::World;

/// The counter family (prometheus-client adds `_total` to counters).
const METRIC: &str = "image_assurance_admission_requests_total";
/// Only workload admissions: policy validations are counted under `validate-policy`.
const ENDPOINT: &str = r#"endpoint="admission-review""#;

pub fn steps() -> Vec<Registration> {
    vec![
        (
            Keyword::Given,
            r"the webhook's admission requests are counted",
            step!(start_counting),
        ),
        (
            Keyword::Then,
            r"the webhook was not asked",
            step!(not_asked),
        ),
        (Keyword::Then, r"the webhook was asked", step!(asked)),
    ]
}

/// The sum of the workload admission counters in a Prometheus text exposition.
pub fn admission_requests(exposition: &str) -> Result<u64, String> {
    let mut total = 0;
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix(METRIC) else {
            continue;
        };
        if !rest.starts_with('{') || !rest.contains(ENDPOINT) {
            continue;
        }
        let value = rest
            .rsplit(' ')
            .next()
            .and_then(|value| value.parse::<f64>().ok())
            .ok_or_else(|| format!("unreadable metric line {line:?}"))?;
        // Counters are whole numbers; f64 holds every count a test can reach exactly.
        total += value as u64;
    }
    Ok(total)
}

/// `<pod>:<port>` of a webhook pod's metrics port, as the manifests declare it.
fn metrics_target(pod: &Pod) -> Result<String, String> {
    let name = pod.meta().name.clone().unwrap_or_default();
    let port = pod
        .spec
        .iter()
        .flat_map(|spec| spec.containers.iter())
        .flat_map(|container| container.ports.iter().flatten())
        .find(|port| port.name.as_deref() == Some(METRICS_PORT_NAME))
        .map(|port| port.container_port)
        .ok_or_else(|| format!("Pod {name} declares no {METRICS_PORT_NAME:?} port"))?;
    Ok(format!("{name}:{port}"))
}

/// Every webhook pod's count of workload admissions, keyed by pod uid. Only running pods
/// answer the API server's calls, and all of them must answer here.
pub async fn counts(client: &Client) -> Result<BTreeMap<String, u64>, String> {
    let pods = install::webhook_pods(client, DEFAULT_NAMESPACE).await?;
    if pods.is_empty() {
        return Err("the webhook has no Pods to ask".to_string());
    }
    let mut counts = BTreeMap::new();
    for pod in &pods {
        let text = pod_metrics(client, pod).await?;
        let uid = pod
            .meta()
            .uid
            .clone()
            .ok_or_else(|| format!("Pod {:?} has no uid", pod.meta().name))?;
        counts.insert(uid, admission_requests(&text)?);
    }
    Ok(counts)
}

/// A webhook pod's metrics (the Prometheus text exposition), through `pods/proxy`.
pub async fn pod_metrics(client: &Client, pod: &Pod) -> Result<String, String> {
    let url_path = Pod::url_path(&(), Some(DEFAULT_NAMESPACE));
    let target = metrics_target(pod)?;
    let request = kube::core::Request::new(&url_path)
        .get_subresource("proxy/metrics", &target)
        .map_err(|error| format!("GET pods/{target}/proxy/metrics: {error}"))?;
    client
        .request_text(request)
        .await
        .map_err(|error| format!("GET pods/{target}/proxy/metrics: {error}"))
}

/// Waits until no namespace but the scenario's own is in the webhook's scope: a namespace of
/// an earlier scenario that is still being deleted could have its objects updated (finalizers,
/// scaling) and so send requests to the webhook while this scenario counts.
async fn start_counting(world: &mut World, _ctx: Context) -> Result<(), String> {
    let plan = world.ctx.standard.clone();
    let scope = image_assurance::install::scope::NamespaceScope::new(
        &plan.selector_key,
        &plan.selector_values,
        DEFAULT_NAMESPACE,
        plan.allow_critical_namespaces,
    )
    .map_err(|error| error.to_string())?;
    let excluded = scope.excluded_namespaces();
    let selector = format!("{} in ({})", plan.selector_key, scope.values().join(","));
    let own = world.namespace.clone();
    let namespaces: Api<Namespace> = Api::all(world.client());
    poll(
        READY_TIMEOUT,
        "the namespaces of earlier scenarios to be gone",
        || async {
            let others: Vec<String> = namespaces
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(|error| format!("list namespaces: {error}"))?
                .items
                .into_iter()
                .filter_map(|namespace| namespace.metadata.name)
                .filter(|name| Some(name) != own.as_ref() && !excluded.contains(name))
                .collect();
            Ok(if others.is_empty() {
                Ok(())
            } else {
                Err(format!("still in scope: {others:?}"))
            })
        },
    )
    .await?;
    world.counting_requests = true;
    world.log("counting the webhook's admission requests (its metrics, through pods/proxy)");
    Ok(())
}

/// Called just before a request, once the webhook has caught up (the barrier's own probes
/// are counted too, so they must come first).
pub async fn before_request(world: &mut World) -> Result<(), String> {
    if world.counting_requests {
        world.requests_before = Some(counts(&world.client()).await?);
    }
    Ok(())
}

/// How many admission requests the webhook answered since the last request's snapshot.
async fn since_last_request(world: &World) -> Result<u64, String> {
    let before = world.requests_before.as_ref().ok_or(
        "no request was counted: add `Given the webhook's admission requests are counted` before the request",
    )?;
    let after = counts(&world.client()).await?;
    if after.keys().ne(before.keys()) {
        return Err(format!(
            "the webhook's Pods changed while counting (before {:?}, after {:?}): their counters cannot be compared",
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>()
        ));
    }
    let mut asked = 0;
    for (pod, now) in &after {
        let then = before.get(pod).copied().unwrap_or(0);
        if *now < then {
            return Err(format!(
                "the counter of Pod {pod} went back from {then} to {now}: the webhook restarted"
            ));
        }
        asked += now - then;
    }
    Ok(asked)
}

async fn not_asked(world: &mut World, _ctx: Context) -> Result<(), String> {
    let asked = since_last_request(world).await?;
    if asked == 0 {
        world.log("the webhook answered no admission request since then");
        Ok(())
    } else {
        Err(format!(
            "the API server sent {asked} admission request(s) to the webhook since the last request; expected none"
        ))
    }
}

async fn asked(world: &mut World, _ctx: Context) -> Result<(), String> {
    let asked = since_last_request(world).await?;
    if asked > 0 {
        world.log(format!(
            "the webhook answered {asked} admission request(s) since then"
        ));
        Ok(())
    } else {
        Err(
            "the webhook's counters did not move: the API server did not send it the request"
                .to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image_assurance::server::metrics::{Metrics, RequestLabels};

    #[test]
    fn the_count_is_read_from_what_the_webhook_serves() {
        let metrics = Metrics::default();
        assert_eq!(admission_requests(&metrics.encode()).unwrap(), 0);
        let count = |decision, kind, endpoint| {
            metrics
                .requests
                .get_or_create(&RequestLabels {
                    decision,
                    kind,
                    endpoint,
                })
                .inc();
        };
        count("allowed", "Pod", "admission-review");
        count("rejected", "Deployment", "admission-review");
        count("allowed", "Pod", "admission-review");
        count("allowed", "ContainerAdmissionPolicy", "validate-policy");
        assert_eq!(admission_requests(&metrics.encode()).unwrap(), 3);
    }
}
