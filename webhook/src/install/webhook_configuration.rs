//! The ValidatingWebhookConfiguration: what the API server sends to the webhook, and how it
//! reaches it. Every field that has a Kubernetes default is set explicitly, so what is applied
//! is what is stored and `kubectl diff` stays quiet.

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    RuleWithOperations, ServiceReference, ValidatingWebhook, ValidatingWebhookConfiguration,
    WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::scope::NamespaceScope;
use super::{
    ADMISSION_REVIEW_PATH, POLICY_WEBHOOK_NAME, SERVICE_NAME, SERVICE_PORT, VALIDATE_POLICY_PATH,
    WEBHOOK_CONFIGURATION_NAME, WORKLOAD_WEBHOOK_NAME, app_labels,
};

/// Upstream's timeout, half the API server's default: a slow webhook delays every pod creation.
pub const DEFAULT_TIMEOUT_SECONDS: i32 = 5;
/// The API server refuses timeouts outside 1..=30.
pub const MAX_TIMEOUT_SECONDS: i32 = 30;

/// What the API server does when it cannot get an answer from the webhook.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Reject (upstream's setting, by default): nothing unchecked gets in while the webhook
    /// is down.
    #[default]
    Fail,
    /// Admit: availability over enforcement.
    Ignore,
}

impl FailurePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::Fail => "Fail",
            FailurePolicy::Ignore => "Ignore",
        }
    }
}

#[derive(Clone, Debug)]
pub struct WebhookOptions {
    pub namespace: String,
    pub scope: NamespaceScope,
    pub failure_policy: FailurePolicy,
    pub timeout_seconds: i32,
    /// The PEM CA certificate(s) the API server trusts for the webhook's serving certificate.
    pub ca_bundle: Vec<u8>,
}

/// The pod-creating resources, by API group. Upstream lists them under `apiGroups: ["*"]`;
/// naming the real groups keeps unrelated CRDs that share a plural (`jobs`) out.
const WORKLOAD_RESOURCES: [(&str, &[&str]); 3] = [
    ("", &["pods", "replicationcontrollers"]),
    (
        "apps",
        &["deployments", "replicasets", "statefulsets", "daemonsets"],
    ),
    ("batch", &["jobs", "cronjobs"]),
];

pub fn validating_webhook_configuration(
    options: &WebhookOptions,
) -> ValidatingWebhookConfiguration {
    ValidatingWebhookConfiguration {
        metadata: ObjectMeta {
            name: Some(WEBHOOK_CONFIGURATION_NAME.to_string()),
            labels: Some(app_labels()),
            ..ObjectMeta::default()
        },
        webhooks: Some(vec![workload_webhook(options), policy_webhook(options)]),
    }
}

/// Pod-creating resources in the selected namespaces. `kubectl debug` adds containers through
/// an UPDATE of `pods/ephemeralcontainers`, a subresource a `pods` rule does not match; upstream
/// misses it, so debug containers could run any image.
fn workload_webhook(options: &WebhookOptions) -> ValidatingWebhook {
    let mut rules: Vec<RuleWithOperations> = WORKLOAD_RESOURCES
        .iter()
        .map(|(group, resources)| rule(group, resources, &["CREATE", "UPDATE"], "Namespaced"))
        .collect();
    rules.push(rule(
        "",
        &["pods/ephemeralcontainers"],
        &["UPDATE"],
        "Namespaced",
    ));
    ValidatingWebhook {
        name: WORKLOAD_WEBHOOK_NAME.to_string(),
        rules: Some(rules),
        namespace_selector: Some(options.scope.label_selector()),
        failure_policy: Some(options.failure_policy.as_str().to_string()),
        ..common(options, ADMISSION_REVIEW_PATH)
    }
}

/// ContainerAdmissionPolicy objects, checked before they are stored so that a policy that
/// cannot be compiled (a bad selector or regex) is refused at `kubectl apply`. Always `Fail`:
/// an unchecked policy could silently stop enforcing. Cluster-scoped, so no namespaceSelector.
fn policy_webhook(options: &WebhookOptions) -> ValidatingWebhook {
    ValidatingWebhook {
        name: POLICY_WEBHOOK_NAME.to_string(),
        rules: Some(vec![rule(
            "containersecurity.tigera.io",
            &["containeradmissionpolicies"],
            &["CREATE", "UPDATE"],
            "Cluster",
        )]),
        failure_policy: Some(FailurePolicy::Fail.as_str().to_string()),
        ..common(options, VALIDATE_POLICY_PATH)
    }
}

fn common(options: &WebhookOptions, path: &str) -> ValidatingWebhook {
    ValidatingWebhook {
        admission_review_versions: vec!["v1".to_string(), "v1beta1".to_string()],
        client_config: WebhookClientConfig {
            service: Some(ServiceReference {
                namespace: options.namespace.clone(),
                name: SERVICE_NAME.to_string(),
                path: Some(path.to_string()),
                port: Some(SERVICE_PORT),
            }),
            ca_bundle: Some(ByteString(options.ca_bundle.clone())),
            url: None,
        },
        match_policy: Some("Equivalent".to_string()),
        // The workload webhook records refused updates as Events, never on a dry run.
        side_effects: "NoneOnDryRun".to_string(),
        timeout_seconds: Some(options.timeout_seconds),
        ..ValidatingWebhook::default()
    }
}

fn rule(group: &str, resources: &[&str], operations: &[&str], scope: &str) -> RuleWithOperations {
    RuleWithOperations {
        api_groups: Some(vec![group.to_string()]),
        api_versions: Some(vec!["*".to_string()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        operations: Some(operations.iter().map(|o| o.to_string()).collect()),
        scope: Some(scope.to_string()),
    }
}
