//! Installing the webhook with the installer library: the very objects `image-assurance
//! manifests` prints, applied through `kube::Client` (create, or replace what exists, so a
//! restore after a scenario that changed the install puts back exactly these objects).

use std::collections::BTreeSet;
use std::time::Duration;

use image_assurance::install::cert_files::CertFiles;
use image_assurance::install::certs::{CertRequest, DEFAULT_CA_DAYS, generate};
use image_assurance::install::manifests::{DEFAULT_REPLICAS, ManifestOptions, Manifests, build};
use image_assurance::install::scope::NamespaceScope;
use image_assurance::install::webhook_configuration::{DEFAULT_TIMEOUT_SECONDS, FailurePolicy};
use image_assurance::install::{
    DEFAULT_NAMESPACE, DEPLOYMENT_NAME, SERVICE_NAME, WEBHOOK_CONFIGURATION_NAME,
};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Endpoints, ObjectReference, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wait::poll;

/// The label that opts a namespace in, as in the seed: `apply-container-policies=true`.
pub const SCOPE_KEY: &str = "apply-container-policies";
pub const SCOPE_VALUES: &str = "true";
/// The Trivy CRD, so that scan data is the same on every backend.
pub const VULNERABILITY_REPORT_CRD: &str = "fixtures/crds/vulnerabilityreports.yaml";
/// How long a fresh install may take to serve (image start, two replicas, readiness).
pub const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// How often the installed webhook audits running workloads (besides after every change).
pub const AUDIT_INTERVAL_FLAG: &str = "--audit-interval=15s";

/// One way of installing: the safe default, or a variant a scenario asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallPlan {
    pub selector_key: String,
    pub selector_values: String,
    pub allow_critical_namespaces: bool,
    pub failure_policy: FailurePolicy,
    /// Flags added to the webhook's `serve` (the dry run's `--enforcement=warn`).
    pub serve_flags: Vec<String>,
}

impl Default for InstallPlan {
    fn default() -> InstallPlan {
        InstallPlan {
            selector_key: SCOPE_KEY.to_string(),
            selector_values: SCOPE_VALUES.to_string(),
            allow_critical_namespaces: false,
            failure_policy: FailurePolicy::Fail,
            // Scenarios wait for the audit's reports: a short interval keeps them short.
            serve_flags: vec![AUDIT_INTERVAL_FLAG.to_string()],
        }
    }
}

/// What is the same for every install of one run: the image and the certificates.
#[derive(Clone, Debug)]
pub struct InstallBase {
    pub image: String,
    pub certs: CertFiles,
}

impl InstallBase {
    /// New certificates for the webhook's Service, valid for a day.
    pub fn new(image: &str) -> Result<InstallBase, String> {
        let generated = generate(
            &CertRequest {
                service: SERVICE_NAME.to_string(),
                namespace: DEFAULT_NAMESPACE.to_string(),
                days: 1,
                now: jiff::Timestamp::now(),
            },
            DEFAULT_CA_DAYS,
        )
        .map_err(|error| format!("cannot make the webhook's certificates: {error}"))?;
        Ok(InstallBase {
            image: image.to_string(),
            certs: CertFiles {
                cert_pem: generated.cert_pem.into_bytes(),
                key_pem: generated.key_pem.into_bytes(),
                ca_pem: generated.ca_cert_pem.into_bytes(),
            },
        })
    }

    /// The installer's objects for `plan`; the installer's refusal (e.g. a critical namespace)
    /// is the error, word for word.
    pub fn manifests(&self, plan: &InstallPlan) -> Result<Manifests, String> {
        let scope = NamespaceScope::new(
            &plan.selector_key,
            &plan.selector_values,
            DEFAULT_NAMESPACE,
            plan.allow_critical_namespaces,
        )
        .map_err(|error| error.to_string())?;
        build(&ManifestOptions {
            namespace: DEFAULT_NAMESPACE.to_string(),
            scope,
            image: self.image.clone(),
            image_pull_policy: "IfNotPresent".to_string(),
            replicas: DEFAULT_REPLICAS,
            failure_policy: plan.failure_policy,
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            certs: self.certs.clone(),
            priority_class_name: None,
            serve_flags: plan.serve_flags.clone(),
        })
        .map_err(|error| error.to_string())
    }
}

/// The VulnerabilityReport CRD from the fixtures.
pub fn vulnerability_report_crd(
    root: &std::path::Path,
) -> Result<CustomResourceDefinition, String> {
    let path = root.join(VULNERABILITY_REPORT_CRD);
    let text =
        std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
    serde_saphyr::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
}

/// Installs the VulnerabilityReport CRD and waits until its resource is served.
pub async fn install_vulnerability_reports(
    client: &Client,
    root: &std::path::Path,
) -> Result<(), String> {
    let crd = vulnerability_report_crd(root)?;
    put(&Api::<CustomResourceDefinition>::all(client.clone()), &crd).await?;
    let reports: Api<kube::api::DynamicObject> = Api::all_with(
        client.clone(),
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(
                "aquasecurity.github.io",
                "v1alpha1",
                "VulnerabilityReport",
            ),
            "vulnerabilityreports",
        ),
    );
    poll(
        READY_TIMEOUT,
        "VulnerabilityReports to be served",
        || async {
            Ok(reports
                .list(&ListParams::default().limit(1))
                .await
                .map(|_| ())
                .map_err(|error| error.to_string()))
        },
    )
    .await
}

/// Creates `object`, or replaces the stored one with it.
pub async fn put<K>(api: &Api<K>, object: &K) -> Result<(), String>
where
    K: Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
    <K as Resource>::DynamicType: Default,
{
    let name = object
        .meta()
        .name
        .clone()
        .ok_or_else(|| format!("a {} without a name", K::kind(&Default::default())))?;
    let kind = K::kind(&Default::default()).to_string();
    match api
        .get_opt(&name)
        .await
        .map_err(|error| format!("get {kind} {name}: {error}"))?
    {
        None => {
            api.create(&PostParams::default(), object)
                .await
                .map_err(|error| format!("create {kind} {name}: {error}"))?;
            println!("  created {kind} {name}");
        }
        Some(existing) => {
            let mut object = object.clone();
            object.meta_mut().resource_version = existing.meta().resource_version.clone();
            api.replace(&name, &PostParams::default(), &object)
                .await
                .map_err(|error| format!("replace {kind} {name}: {error}"))?;
            println!("  replaced {kind} {name}");
        }
    }
    Ok(())
}

/// Creates or replaces a dynamic object (VulnerabilityReports have no Rust type of their own).
pub async fn put_dynamic(
    api: &Api<kube::api::DynamicObject>,
    object: &kube::api::DynamicObject,
) -> Result<(), String> {
    let name = object.metadata.name.clone().unwrap_or_default();
    let kind = object
        .types
        .as_ref()
        .map_or("object", |types| types.kind.as_str());
    match api
        .get_opt(&name)
        .await
        .map_err(|error| format!("get {kind} {name}: {error}"))?
    {
        None => api
            .create(&PostParams::default(), object)
            .await
            .map(|_| ())
            .map_err(|error| format!("create {kind} {name}: {error}")),
        Some(existing) => {
            let mut object = object.clone();
            object.metadata.resource_version = existing.metadata.resource_version;
            api.replace(&name, &PostParams::default(), &object)
                .await
                .map(|_| ())
                .map_err(|error| format!("replace {kind} {name}: {error}"))
        }
    }
}

fn namespaced<K>(client: &Client, namespace: &str) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope>,
    <K as Resource>::DynamicType: Default,
{
    Api::namespaced(client.clone(), namespace)
}

/// Applies every object, in the installer's order, and waits until the webhook serves.
pub async fn apply(client: &Client, manifests: &Manifests) -> Result<(), String> {
    let namespace = manifests
        .namespace
        .metadata
        .name
        .clone()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
    put(&Api::all(client.clone()), &manifests.namespace).await?;
    put(&Api::all(client.clone()), &manifests.crd).await?;
    put(&Api::all(client.clone()), &manifests.policy_report_crd).await?;
    put(&namespaced(client, &namespace), &manifests.service_account).await?;
    put(&Api::all(client.clone()), &manifests.cluster_role).await?;
    put(&Api::all(client.clone()), &manifests.cluster_role_binding).await?;
    put(&namespaced(client, &namespace), &manifests.role).await?;
    put(&namespaced(client, &namespace), &manifests.role_binding).await?;
    put(&namespaced(client, &namespace), &manifests.secret).await?;
    put(&namespaced(client, &namespace), &manifests.network_policy).await?;
    put(&namespaced(client, &namespace), &manifests.deployment).await?;
    if let Some(budget) = &manifests.pod_disruption_budget {
        put(&namespaced(client, &namespace), budget).await?;
    }
    put(&namespaced(client, &namespace), &manifests.service).await?;
    put(&namespaced(client, &namespace), &manifests.metrics_service).await?;
    put(&Api::all(client.clone()), &manifests.webhook_configuration).await?;
    wait_ready(client, &namespace, DEFAULT_REPLICAS).await
}

/// The label selector of the webhook's pods, as a list query writes it.
pub fn pod_selector() -> String {
    image_assurance::install::pod_selector_labels()
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The webhook's pods (terminating ones included).
pub async fn webhook_pods(client: &Client, namespace: &str) -> Result<Vec<Pod>, String> {
    namespaced::<Pod>(client, namespace)
        .list(&ListParams::default().labels(&pod_selector()))
        .await
        .map(|list| list.items)
        .map_err(|error| format!("list the webhook's Pods: {error}"))
}

/// The pods the webhook's Service sends traffic to, by name, as the API publishes them: the
/// ready addresses of its Endpoints and, where the API serves them, the ready endpoints of its
/// EndpointSlices (a real cluster keeps both; the API server resolves webhooks through them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceEndpoints {
    pub endpoints: BTreeSet<String>,
    /// `None` when the API does not serve EndpointSlices.
    pub slices: Option<BTreeSet<String>>,
}

impl ServiceEndpoints {
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty() && self.slices.as_ref().is_none_or(BTreeSet::is_empty)
    }

    /// Both views name exactly `pods`.
    pub fn are(&self, pods: &BTreeSet<String>) -> bool {
        &self.endpoints == pods && self.slices.as_ref().is_none_or(|slices| slices == pods)
    }
}

impl std::fmt::Display for ServiceEndpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Endpoints {:?}", self.endpoints)?;
        match &self.slices {
            Some(slices) => write!(f, ", EndpointSlices {slices:?}"),
            None => write!(f, " (EndpointSlices not served)"),
        }
    }
}

/// What an endpoint stands for: its pod, or its IP when it names none.
fn endpoint_name(target: Option<&ObjectReference>, ip: &str) -> String {
    target
        .and_then(|target| target.name.clone())
        .unwrap_or_else(|| ip.to_string())
}

pub async fn service_endpoints(
    client: &Client,
    namespace: &str,
) -> Result<ServiceEndpoints, String> {
    let endpoints: Api<Endpoints> = namespaced(client, namespace);
    let found = endpoints
        .get_opt(SERVICE_NAME)
        .await
        .map_err(|error| format!("get Endpoints {SERVICE_NAME}: {error}"))?;
    let ready = found
        .and_then(|endpoints| endpoints.subsets)
        .unwrap_or_default()
        .iter()
        .flat_map(|subset| subset.addresses.iter().flatten())
        .map(|address| endpoint_name(address.target_ref.as_ref(), &address.ip))
        .collect();
    let slices: Api<EndpointSlice> = namespaced(client, namespace);
    let listed = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={SERVICE_NAME}")))
        .await;
    let slices = match listed {
        Ok(list) => Some(
            list.items
                .iter()
                .flat_map(|slice| slice.endpoints.iter().flatten())
                // An unknown readiness counts as ready, as the API documents it.
                .filter(|endpoint| {
                    endpoint
                        .conditions
                        .as_ref()
                        .and_then(|conditions| conditions.ready)
                        .unwrap_or(true)
                })
                .map(|endpoint| {
                    endpoint_name(
                        endpoint.target_ref.as_ref(),
                        endpoint.addresses.first().map_or("", String::as_str),
                    )
                })
                .collect(),
        ),
        Err(error) if is_not_found(&error) => None,
        Err(error) => return Err(format!("list EndpointSlices of {SERVICE_NAME}: {error}")),
    };
    Ok(ServiceEndpoints {
        endpoints: ready,
        slices,
    })
}

/// How many pods the webhook's Service has ready endpoints for (in either view).
pub async fn ready_endpoints(client: &Client, namespace: &str) -> Result<usize, String> {
    let view = service_endpoints(client, namespace).await?;
    let mut all = view.endpoints;
    all.extend(view.slices.unwrap_or_default());
    Ok(all.len())
}

/// Whether the Pod's `Ready` condition is `True`.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|condition| condition.type_ == "Ready" && condition.status == "True")
        })
}

/// Until the Deployment has rolled out `replicas` ready pods (and no others: a terminating
/// or outdated pod could still be listed and refuse connections) and the Service has exactly
/// those pods as its ready endpoints.
pub async fn wait_ready(client: &Client, namespace: &str, replicas: i32) -> Result<(), String> {
    wait_ready_replacing(client, namespace, replicas, &BTreeSet::new())
        .await
        .map(|_| ())
}

/// As `wait_ready`, and none of the pods is one of `gone` (uids): the pods are new ones. Gives
/// the ready pods' names.
pub async fn wait_ready_replacing(
    client: &Client,
    namespace: &str,
    replicas: i32,
    gone: &BTreeSet<String>,
) -> Result<BTreeSet<String>, String> {
    let deployments: Api<Deployment> = namespaced(client, namespace);
    let wanted = usize::try_from(replicas).unwrap_or(0);
    poll(
        READY_TIMEOUT,
        &format!("the webhook Deployment {DEPLOYMENT_NAME} rolled out with {replicas} new ready pods behind its Service"),
        || async {
            let deployment = deployments
                .get_opt(DEPLOYMENT_NAME)
                .await
                .map_err(|error| error.to_string())?;
            let generation = deployment.as_ref().and_then(|d| d.metadata.generation).unwrap_or(0);
            let status = deployment.and_then(|deployment| deployment.status).unwrap_or_default();
            let observed = status.observed_generation.unwrap_or(0);
            let ready = status.ready_replicas.unwrap_or(0);
            let updated = status.updated_replicas.unwrap_or(0);
            let total = status.replicas.unwrap_or(0);
            let pods = webhook_pods(client, namespace).await?;
            let names: BTreeSet<String> = pods
                .iter()
                .filter_map(|pod| pod.metadata.name.clone())
                .collect();
            let fresh_and_ready = pods.iter().all(|pod| {
                is_ready(pod)
                    && pod.metadata.deletion_timestamp.is_none()
                    && pod.metadata.uid.as_ref().is_none_or(|uid| !gone.contains(uid))
            });
            let served = service_endpoints(client, namespace).await?;
            let done = observed >= generation
                && ready == replicas
                && updated == replicas
                && total == replicas
                && pods.len() == wanted
                && fresh_and_ready
                && served.are(&names);
            let replaced = pods
                .iter()
                .filter(|pod| pod.metadata.uid.as_ref().is_some_and(|uid| gone.contains(uid)))
                .count();
            Ok(done.then(|| names.clone()).ok_or(format!(
                "generation {generation} (observed {observed}), {total} pods ({updated} updated, {ready} ready); listed {names:?} ({replaced} of them replaced ones, all new and ready: {fresh_and_ready}); {served}"
            )))
        },
    )
    .await
}

/// Until the webhook has no pods at all (so no process of it can still answer, even on a
/// connection the API server keeps alive) and its Service no ready endpoints.
pub async fn wait_gone(client: &Client, namespace: &str) -> Result<(), String> {
    poll(
        READY_TIMEOUT,
        "the webhook's Pods to be gone and its Service to have no ready endpoints",
        || async {
            let pods = webhook_pods(client, namespace).await?;
            let served = service_endpoints(client, namespace).await?;
            Ok(if pods.is_empty() && served.is_empty() {
                Ok(())
            } else {
                let names: Vec<String> = pods
                    .iter()
                    .filter_map(|pod| pod.metadata.name.clone())
                    .collect();
                Err(format!("Pods {names:?}; {served}"))
            })
        },
    )
    .await
}

/// A 404 from the API server.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// Deletes the webhook configuration (recovery from a deadlock; it is never intercepted).
pub async fn delete_webhook_configuration(client: &Client) -> Result<(), String> {
    let api: Api<k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration> =
        Api::all(client.clone());
    match api
        .delete(WEBHOOK_CONFIGURATION_NAME, &Default::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) => Err(format!(
            "delete ValidatingWebhookConfiguration {WEBHOOK_CONFIGURATION_NAME}: {error}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_install_is_the_seeds_opt_in_label_and_fails_closed() {
        let base = InstallBase::new("image-assurance:test").unwrap();
        let manifests = base.manifests(&InstallPlan::default()).unwrap();
        let webhook = &manifests.webhook_configuration.webhooks.as_ref().unwrap()[0];
        assert_eq!(webhook.failure_policy.as_deref(), Some("Fail"));
        let selector = webhook.namespace_selector.as_ref().unwrap();
        let first = &selector.match_expressions.as_ref().unwrap()[0];
        assert_eq!(first.key, SCOPE_KEY);
        assert_eq!(first.values.as_deref(), Some(&["true".to_string()][..]));
        let container = &manifests
            .deployment
            .spec
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0];
        assert_eq!(container.image.as_deref(), Some("image-assurance:test"));
        assert_eq!(container.image_pull_policy.as_deref(), Some("IfNotPresent"));
    }

    #[test]
    fn the_installer_refusal_is_passed_on_word_for_word() {
        let base = InstallBase::new("image-assurance:test").unwrap();
        let plan = InstallPlan {
            selector_values: "true kube-system".to_string(),
            ..InstallPlan::default()
        };
        let error = base.manifests(&plan).unwrap_err();
        assert!(
            error.starts_with(
                "refusing \"kube-system\": kube-system is a critical Kubernetes namespace"
            ),
            "{error}"
        );
        let allowed = InstallPlan {
            allow_critical_namespaces: true,
            ..plan
        };
        assert!(base.manifests(&allowed).is_ok());
    }
}
