//! Every object an installation needs, as k8s-openapi values, in the order `kubectl apply`
//! must create them: the namespace before what lives in it, the CRD before policies can exist,
//! the Secret before the pods that mount it, the NetworkPolicy before the pods it isolates, and
//! the webhook configuration last, once what it points at exists.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::CustomResourceExt;
use serde::Serialize;

use super::cert_files::CertFiles;
use super::deployment::{
    DeploymentOptions, deployment, metrics_service, pod_disruption_budget, service,
};
use super::names::{check_dns1123_label, check_dns1123_subdomain};
use super::network_policy::network_policy;
use super::rbac::{
    cluster_role, cluster_role_binding, lease_role, lease_role_binding, service_account,
};
use super::scope::NamespaceScope;
use super::webhook_configuration::{
    FailurePolicy, MAX_TIMEOUT_SECONDS, WebhookOptions, validating_webhook_configuration,
};
use super::{
    POD_SECURITY_ENFORCE_LABEL, POD_SECURITY_LEVEL, POD_SECURITY_WARN_LABEL, TLS_SECRET_NAME,
    app_labels,
};
use crate::audit::policy_report::PolicyReport;
use crate::image::ImageRef;
use crate::policy::crd::ContainerAdmissionPolicy;

/// The pull policies Kubernetes knows.
pub const IMAGE_PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];
/// Two, so that one pod can be drained, restarted or rolled while the other answers.
pub const DEFAULT_REPLICAS: i32 = 2;

#[derive(Clone, Debug)]
pub struct ManifestOptions {
    /// The webhook's own namespace; must be the one `scope` was built for.
    pub namespace: String,
    pub scope: NamespaceScope,
    pub image: String,
    pub image_pull_policy: String,
    pub replicas: i32,
    pub failure_policy: FailurePolicy,
    pub timeout_seconds: i32,
    pub certs: CertFiles,
    /// The pods' PriorityClass (`--priority-class-name`); `None`: the cluster's default.
    pub priority_class_name: Option<String>,
    /// Flags appended to the webhook's `serve` (`manifests --enforcement warn` adds
    /// `--enforcement=warn`).
    pub serve_flags: Vec<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("--namespace {value:?}: not a valid namespace name: {reason}")]
    Namespace { value: String, reason: String },
    #[error("--image {value:?}: {reason}")]
    Image { value: String, reason: String },
    #[error("--image-pull-policy {value:?}: must be one of Always, IfNotPresent, Never")]
    ImagePullPolicy { value: String },
    #[error("--replicas {value}: must be at least 1")]
    Replicas { value: i32 },
    #[error("--timeout-seconds {value}: must be between 1 and {MAX_TIMEOUT_SECONDS}")]
    Timeout { value: i32 },
    #[error("--priority-class-name {value:?}: not a valid PriorityClass name: {reason}")]
    PriorityClass { value: String, reason: String },
    #[error(
        "the namespace selector was built for namespace {scope:?}, not for --namespace {namespace:?}"
    )]
    ScopeNamespace { scope: String, namespace: String },
}

/// The objects, in apply order.
#[derive(Clone, Debug)]
pub struct Manifests {
    pub namespace: Namespace,
    pub crd: CustomResourceDefinition,
    /// `wgpolicyk8s.io` PolicyReport, where the audit publishes (the same group, version and
    /// schema as the Policy WG's, which Kyverno also installs).
    pub policy_report_crd: CustomResourceDefinition,
    pub service_account: ServiceAccount,
    pub cluster_role: ClusterRole,
    pub cluster_role_binding: ClusterRoleBinding,
    /// The audit Lease's permissions, in the webhook's namespace.
    pub role: Role,
    pub role_binding: RoleBinding,
    pub secret: Secret,
    /// Before the Deployment, so that no pod ever runs without it.
    pub network_policy: NetworkPolicy,
    pub deployment: Deployment,
    /// None with one replica: a budget of one pod out of one would block every node drain.
    pub pod_disruption_budget: Option<PodDisruptionBudget>,
    pub service: Service,
    pub metrics_service: Service,
    pub webhook_configuration: ValidatingWebhookConfiguration,
}

pub fn build(options: &ManifestOptions) -> Result<Manifests, ManifestError> {
    validate(options)?;
    let namespace = options.namespace.as_str();
    Ok(Manifests {
        namespace: webhook_namespace(namespace),
        crd: ContainerAdmissionPolicy::crd(),
        policy_report_crd: PolicyReport::crd(),
        service_account: service_account(namespace),
        cluster_role: cluster_role(),
        cluster_role_binding: cluster_role_binding(namespace),
        role: lease_role(namespace),
        role_binding: lease_role_binding(namespace),
        secret: tls_secret(namespace, &options.certs),
        network_policy: network_policy(namespace),
        deployment: deployment(&DeploymentOptions {
            namespace: namespace.to_string(),
            image: options.image.clone(),
            image_pull_policy: options.image_pull_policy.clone(),
            replicas: options.replicas,
            priority_class_name: options.priority_class_name.clone(),
            serve_flags: options.serve_flags.clone(),
        }),
        pod_disruption_budget: (options.replicas > 1).then(|| pod_disruption_budget(namespace)),
        service: service(namespace),
        metrics_service: metrics_service(namespace),
        webhook_configuration: validating_webhook_configuration(&WebhookOptions {
            namespace: namespace.to_string(),
            scope: options.scope.clone(),
            failure_policy: options.failure_policy,
            timeout_seconds: options.timeout_seconds,
            ca_bundle: options.certs.ca_pem.clone(),
        }),
    })
}

fn validate(options: &ManifestOptions) -> Result<(), ManifestError> {
    check_dns1123_label(&options.namespace).map_err(|reason| ManifestError::Namespace {
        value: options.namespace.clone(),
        reason,
    })?;
    if options.scope.own_namespace() != options.namespace {
        return Err(ManifestError::ScopeNamespace {
            scope: options.scope.own_namespace().to_string(),
            namespace: options.namespace.clone(),
        });
    }
    ImageRef::parse(&options.image).map_err(|error| ManifestError::Image {
        value: options.image.clone(),
        reason: error.reason,
    })?;
    if !IMAGE_PULL_POLICIES.contains(&options.image_pull_policy.as_str()) {
        return Err(ManifestError::ImagePullPolicy {
            value: options.image_pull_policy.clone(),
        });
    }
    if options.replicas < 1 {
        return Err(ManifestError::Replicas {
            value: options.replicas,
        });
    }
    if !(1..=MAX_TIMEOUT_SECONDS).contains(&options.timeout_seconds) {
        return Err(ManifestError::Timeout {
            value: options.timeout_seconds,
        });
    }
    if let Some(name) = &options.priority_class_name {
        check_dns1123_subdomain(name).map_err(|reason| ManifestError::PriorityClass {
            value: name.clone(),
            reason,
        })?;
    }
    Ok(())
}

/// The webhook's namespace, labelled for Pod Security admission: only pods that meet the
/// `restricted` standard (as the webhook's own do) can run beside the webhook's key.
fn webhook_namespace(name: &str) -> Namespace {
    let labels = [POD_SECURITY_ENFORCE_LABEL, POD_SECURITY_WARN_LABEL]
        .into_iter()
        .map(|label| (label.to_string(), POD_SECURITY_LEVEL.to_string()))
        .collect();
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// `kubernetes.io/tls`, the type cert-manager and ingress controllers also use, so the Secret
/// can later be handed to cert-manager unchanged; `ca.crt` rides along for whoever checks the
/// serving certificate from inside the cluster.
fn tls_secret(namespace: &str, certs: &CertFiles) -> Secret {
    let data = BTreeMap::from([
        ("tls.crt".to_string(), ByteString(certs.cert_pem.clone())),
        ("tls.key".to_string(), ByteString(certs.key_pem.clone())),
        ("ca.crt".to_string(), ByteString(certs.ca_pem.clone())),
    ]);
    Secret {
        metadata: ObjectMeta {
            name: Some(TLS_SECRET_NAME.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(app_labels()),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".to_string()),
        data: Some(data),
        ..Secret::default()
    }
}

impl Manifests {
    /// Multi-document YAML for `kubectl apply -f -`, one `---`-separated document per object.
    pub fn to_yaml(&self) -> Result<String, serde_saphyr::SerializeError> {
        let mut yaml = String::from(concat!(
            "# Generated by `image-assurance manifests` (",
            env!("CARGO_PKG_VERSION"),
            "). Holds the webhook's private key: apply it, do not commit it.\n"
        ));
        let mut push = |object: &dyn ErasedSerialize| -> Result<(), serde_saphyr::SerializeError> {
            yaml.push_str("---\n");
            yaml.push_str(&object.to_yaml()?);
            if !yaml.ends_with('\n') {
                yaml.push('\n');
            }
            Ok(())
        };
        push(&self.namespace)?;
        push(&self.crd)?;
        push(&self.policy_report_crd)?;
        push(&self.service_account)?;
        push(&self.cluster_role)?;
        push(&self.cluster_role_binding)?;
        push(&self.role)?;
        push(&self.role_binding)?;
        push(&self.secret)?;
        push(&self.network_policy)?;
        push(&self.deployment)?;
        if let Some(budget) = &self.pod_disruption_budget {
            push(budget)?;
        }
        push(&self.service)?;
        push(&self.metrics_service)?;
        push(&self.webhook_configuration)?;
        Ok(yaml)
    }
}

/// Lets objects of different types be serialized in one ordered list.
trait ErasedSerialize {
    fn to_yaml(&self) -> Result<String, serde_saphyr::SerializeError>;
}

impl<T: Serialize> ErasedSerialize for T {
    fn to_yaml(&self) -> Result<String, serde_saphyr::SerializeError> {
        serde_saphyr::to_string(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::certs::{CertRequest, generate};
    use crate::install::{DEFAULT_IMAGE, DEFAULT_NAMESPACE};

    fn options() -> ManifestOptions {
        let certs = generate(
            &CertRequest {
                service: crate::install::SERVICE_NAME.to_string(),
                namespace: DEFAULT_NAMESPACE.to_string(),
                days: 1,
                now: jiff::Timestamp::from_second(1_800_000_000).unwrap(),
            },
            1,
        )
        .unwrap();
        ManifestOptions {
            namespace: DEFAULT_NAMESPACE.to_string(),
            scope: NamespaceScope::new("name", "prod", DEFAULT_NAMESPACE, false).unwrap(),
            image: DEFAULT_IMAGE.to_string(),
            image_pull_policy: "IfNotPresent".to_string(),
            replicas: DEFAULT_REPLICAS,
            failure_policy: FailurePolicy::Fail,
            timeout_seconds: 5,
            certs: CertFiles {
                cert_pem: certs.cert_pem.into_bytes(),
                key_pem: certs.key_pem.into_bytes(),
                ca_pem: certs.ca_cert_pem.into_bytes(),
            },
            priority_class_name: None,
            serve_flags: Vec::new(),
        }
    }

    #[test]
    fn the_yaml_reads_back_as_the_same_objects() {
        let manifests = build(&options()).unwrap();
        let yaml = manifests.to_yaml().unwrap();
        let documents: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(&yaml).unwrap();
        assert_eq!(documents.len(), 15);
        let reports: CustomResourceDefinition =
            serde_json::from_value(documents[2].clone()).unwrap();
        assert_eq!(reports, manifests.policy_report_crd);
        let role: Role = serde_json::from_value(documents[6].clone()).unwrap();
        assert_eq!(role, manifests.role);
        let policy: NetworkPolicy = serde_json::from_value(documents[9].clone()).unwrap();
        assert_eq!(policy, manifests.network_policy);
        let deployment: Deployment = serde_json::from_value(documents[10].clone()).unwrap();
        assert_eq!(deployment, manifests.deployment);
        let metrics: Service = serde_json::from_value(documents[13].clone()).unwrap();
        assert_eq!(metrics, manifests.metrics_service);
        let configuration: ValidatingWebhookConfiguration =
            serde_json::from_value(documents[14].clone()).unwrap();
        assert_eq!(configuration, manifests.webhook_configuration);
    }

    type Change = fn(&mut ManifestOptions);

    #[test]
    fn invalid_options_name_the_flag() {
        let cases: [(Change, &str); 7] = [
            (|o| o.replicas = 0, "--replicas 0: must be at least 1"),
            (
                |o| o.image_pull_policy = "always".to_string(),
                "--image-pull-policy \"always\"",
            ),
            (|o| o.timeout_seconds = 31, "--timeout-seconds 31"),
            (|o| o.image = String::new(), "--image \"\""),
            (
                |o| o.namespace = "other".to_string(),
                "the namespace selector was built for",
            ),
            (
                |o| o.priority_class_name = Some("High_Priority".to_string()),
                "--priority-class-name \"High_Priority\": not a valid PriorityClass name",
            ),
            (
                |o| o.priority_class_name = Some(String::new()),
                "--priority-class-name \"\"",
            ),
        ];
        for (change, expected) in cases {
            let mut options = options();
            change(&mut options);
            let error = build(&options).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{error}");
        }
    }

    #[test]
    fn a_priority_class_reaches_the_pods_and_none_is_the_default() {
        let pod = |manifests: &Manifests| manifests.deployment.spec.template.spec.clone().unwrap();
        let manifests = build(&options()).unwrap();
        assert_eq!(pod(&manifests).priority_class_name, None);
        let mut with_class = options();
        with_class.priority_class_name = Some("system-cluster-critical".to_string());
        let manifests = build(&with_class).unwrap();
        assert_eq!(
            pod(&manifests).priority_class_name.as_deref(),
            Some("system-cluster-critical")
        );
    }
}
