//! What an audit reads from the cluster: the namespaces the installed webhook covers, every
//! pod-creating object in them, the ContainerAdmissionPolicies and the VulnerabilityReports.
//! Lists are paginated, and objects are reduced to [`Workload`]s as they arrive, so a large
//! cluster is never held as whole JSON objects.

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::core::{Selector, SelectorExt};
use kube::{Client, ResourceExt};

use super::AuditObject;
use crate::admission::namespace_labels;
use crate::image::ImageRef;
use crate::install::WORKLOAD_WEBHOOK_NAME;
use crate::policy::{
    ContainerAdmissionPolicy, ContainerAdmissionPolicyStatus, Enforcement, PolicyError, PolicySet,
    compile_policy,
};
use crate::scan::trivy::{VulnerabilityReport, record_from_report};
use crate::scan::{ScanIndex, ScanResult, ScanSource, ScanUnavailable, SeverityThresholds};
use crate::workload::{Workload, WorkloadKind};

/// Objects asked for per list request: large enough for few round trips, small enough that
/// one page of Pods stays a few megabytes.
const PAGE_SIZE: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot {what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

fn kube_error(what: impl Into<String>) -> impl FnOnce(kube::Error) -> ReadError {
    let what = what.into();
    move |source| ReadError::Kube { what, source }
}

fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// Which namespaces an audit covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamespaceSelection {
    /// Every namespace.
    All,
    /// Those the `namespaceSelector` of this ValidatingWebhookConfiguration's workload webhook
    /// selects: the ones the webhook judges.
    Webhook { configuration: String },
}

/// The covered namespaces, each with its labels (`kubernetes.io/metadata.name` included).
pub async fn covered_namespaces(
    client: &Client,
    selection: &NamespaceSelection,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, ReadError> {
    let selector = match selection {
        NamespaceSelection::All => Selector::default(),
        NamespaceSelection::Webhook { configuration } => {
            webhook_namespace_selector(client, configuration).await?
        }
    };
    let api: Api<Namespace> = Api::all(client.clone());
    let namespaces = api
        .list(&ListParams::default())
        .await
        .map_err(kube_error("list namespaces"))?;
    Ok(namespaces
        .items
        .into_iter()
        .filter_map(|namespace| {
            let name = namespace.name_any();
            let labels = namespace_labels(&name, namespace.metadata.labels.unwrap_or_default());
            selector.matches(&labels).then_some((name, labels))
        })
        .collect())
}

/// The namespaceSelector of the workload webhook (named as `manifests` names it, else the first
/// webhook whose rules name `pods`) of the configuration `name`.
pub async fn webhook_namespace_selector(
    client: &Client,
    name: &str,
) -> Result<Selector, ReadError> {
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let configuration = api
        .get_opt(name)
        .await
        .map_err(kube_error(format!("read ValidatingWebhookConfiguration {name:?}")))?
        .ok_or_else(|| {
            ReadError::Invalid(format!(
                "ValidatingWebhookConfiguration {name:?} not found: is the webhook installed? (name another with --webhook-configuration, or audit every namespace with --all-namespaces)"
            ))
        })?;
    let webhooks = configuration.webhooks.unwrap_or_default();
    let names_pods = |webhook: &&k8s_openapi::api::admissionregistration::v1::ValidatingWebhook| {
        webhook.rules.iter().flatten().any(|rule| {
            rule.resources
                .iter()
                .flatten()
                .any(|resource| resource == "pods" || resource == "*")
        })
    };
    let webhook = webhooks
        .iter()
        .find(|webhook| webhook.name == WORKLOAD_WEBHOOK_NAME)
        .or_else(|| webhooks.iter().find(names_pods))
        .ok_or_else(|| {
            ReadError::Invalid(format!(
                "ValidatingWebhookConfiguration {name:?} has no webhook for pods (none named {WORKLOAD_WEBHOOK_NAME:?}, none whose rules name pods)"
            ))
        })?;
    match &webhook.namespace_selector {
        None => Ok(Selector::default()),
        Some(selector) => Selector::try_from(selector.clone()).map_err(|error| {
            ReadError::Invalid(format!(
                "ValidatingWebhookConfiguration {name:?}: webhook {:?}: namespaceSelector: {error}",
                webhook.name
            ))
        }),
    }
}

/// Every object `api` lists, page by page, each handed to `each`.
async fn list_all(
    api: &Api<DynamicObject>,
    mut each: impl FnMut(DynamicObject),
) -> Result<(), kube::Error> {
    let mut params = ListParams::default().limit(PAGE_SIZE);
    loop {
        let page = api.list(&params).await?;
        let next = page
            .metadata
            .continue_
            .clone()
            .filter(|token| !token.is_empty());
        page.items.into_iter().for_each(&mut each);
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}

/// Every pod-creating object of the cluster in a namespace `covered` accepts. `read` is
/// called with the running count, for progress lines.
pub async fn list_objects(
    client: &Client,
    covered: &(dyn Fn(&str) -> bool + Sync),
    read: &mut (dyn FnMut(usize) + Send),
) -> Result<Vec<AuditObject>, ReadError> {
    let mut objects = Vec::new();
    for kind in WorkloadKind::ALL {
        let resource = kind.api_resource();
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let what = format!("list {}", resource.plural);
        list_all(&api, |object| {
            if !object
                .namespace()
                .is_some_and(|namespace| covered(&namespace))
            {
                return;
            }
            let api_version = object.types.as_ref().map_or_else(
                || resource.api_version.clone(),
                |types| types.api_version.clone(),
            );
            let decoded = serde_json::to_value(&object)
                .map_err(|error| error.to_string())
                .and_then(|value| Workload::from_value(kind, &value).map_err(|e| e.to_string()));
            match decoded {
                Ok(workload) => {
                    objects.push(AuditObject {
                        api_version,
                        workload,
                    });
                    read(objects.len());
                }
                Err(error) => tracing::warn!(
                    kind = kind.name(),
                    namespace = object.namespace().unwrap_or_default(),
                    name = %object.name_any(),
                    %error,
                    "skipping an object that does not decode"
                ),
            }
        })
        .await
        .map_err(kube_error(what.clone()))?;
    }
    Ok(objects)
}

pub fn policy_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(crate::policy::API_GROUP, "v1beta1", crate::policy::KIND),
        "containeradmissionpolicies",
    )
}

/// A policy as stored, with what its status needs.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyObject {
    pub name: String,
    pub generation: Option<i64>,
    /// Why it is invalid (`None`: it compiles).
    pub error: Option<String>,
    pub status: Option<ContainerAdmissionPolicyStatus>,
}

/// Every ContainerAdmissionPolicy, compiled as the webhook compiles them (one that does not
/// even decode is kept, invalid), with `every` replacing each policy's enforcement when given.
pub async fn read_policies(
    client: &Client,
    every: Option<Enforcement>,
) -> Result<(Vec<PolicyObject>, PolicySet), ReadError> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &policy_resource());
    let mut raw = Vec::new();
    list_all(&api, |object| raw.push(object))
        .await
        .map_err(|source| {
            if is_not_found(&source) {
                ReadError::Invalid(format!(
                    "the ContainerAdmissionPolicy CRD (containeradmissionpolicies.{}) is not installed",
                    crate::policy::API_GROUP
                ))
            } else {
                ReadError::Kube {
                    what: "list containeradmissionpolicies".into(),
                    source,
                }
            }
        })?;
    let mut policies = Vec::new();
    let mut undecodable = Vec::new();
    let mut objects = Vec::new();
    for object in raw {
        let name = object.name_any();
        let generation = object.metadata.generation;
        let status = object
            .data
            .get("status")
            .and_then(|status| serde_json::from_value(status.clone()).ok());
        let decoded = serde_json::to_value(&object)
            .map_err(|error| error.to_string())
            .and_then(|value| {
                serde_path_to_error::deserialize::<_, ContainerAdmissionPolicy>(&value)
                    .map_err(|error| format!("field `{}`: {}", error.path(), error.inner()))
            });
        let error = match decoded {
            Ok(policy) => {
                let error = compile_policy(&policy).err().map(|error| error.to_string());
                policies.push(policy);
                error
            }
            Err(message) => {
                let error = PolicyError {
                    policy: name.clone(),
                    field: "(object)".into(),
                    message,
                };
                let text = error.to_string();
                undecodable.push(error);
                Some(text)
            }
        };
        objects.push(PolicyObject {
            name,
            generation,
            error,
            status,
        });
    }
    let set = PolicySet::compile_enforcing(&policies, undecodable, every);
    Ok((objects, set))
}

fn vulnerability_report_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("aquasecurity.github.io", "v1alpha1", "VulnerabilityReport"),
        "vulnerabilityreports",
    )
}

/// Every Trivy VulnerabilityReport of the cluster as scan results (none when their CRD is not
/// installed). Reports that do not decode are skipped, as the webhook skips them.
pub async fn read_vulnerability_reports(
    client: &Client,
    thresholds: &SeverityThresholds,
) -> Result<ScanIndex, ReadError> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &vulnerability_report_resource());
    let mut index = ScanIndex::default();
    let listed = list_all(&api, |object| {
        let report = serde_json::to_value(&object)
            .and_then(serde_json::from_value::<VulnerabilityReport>);
        match report.map(|report| record_from_report(&report, thresholds)) {
            Ok(Ok(record)) => index.insert(record),
            Ok(Err(error)) => {
                tracing::warn!(report = %object.name_any(), %error, "ignoring a VulnerabilityReport")
            }
            Err(error) => {
                tracing::warn!(report = %object.name_any(), %error, "ignoring a VulnerabilityReport that does not decode")
            }
        }
    })
    .await;
    match listed {
        Ok(()) => Ok(index),
        Err(error) if is_not_found(&error) => Ok(ScanIndex::default()),
        Err(source) => Err(ReadError::Kube {
            what: "list vulnerabilityreports".into(),
            source,
        }),
    }
}

/// Scan results from the cluster's reports and an optional file: the newest scan wins across
/// the two, as in the webhook.
pub struct CombinedScans {
    pub reports: ScanIndex,
    pub file: Option<ScanIndex>,
}

impl ScanSource for CombinedScans {
    fn lookup(&self, image: &ImageRef) -> Result<Option<ScanResult>, ScanUnavailable> {
        let from_reports = self.reports.get(image);
        let from_file = self.file.as_ref().and_then(|file| file.get(image));
        Ok(match (from_reports, from_file) {
            (Some(a), Some(b)) => Some(if b.last_scan > a.last_scan { b } else { a }),
            (a, b) => a.or(b),
        })
    }
}
