//! Installing the webhook: its certificates (`image-assurance certs`) and every Kubernetes object
//! it needs (`image-assurance manifests`). The names are upstream's, so the upstream procedure,
//! its troubleshooting advice and its `kubectl` commands still apply.

pub mod ca;
pub mod cert_dir;
pub mod cert_files;
pub mod certs;
pub mod deployment;
pub mod manifests;
pub mod names;
pub mod network_policy;
pub mod rbac;
pub mod scope;
pub mod webhook_configuration;

use std::collections::BTreeMap;

/// Where the webhook runs.
pub const DEFAULT_NAMESPACE: &str = "tigera-image-assurance";
/// The Service the API server calls; the serving certificate must name it.
pub const SERVICE_NAME: &str = "tigera-image-assurance-admission-controller-service";
/// The Service Prometheus finds the metrics port through; separate from `SERVICE_NAME`, so the
/// Service the webhook configuration names only ever leads to the HTTPS port.
pub const METRICS_SERVICE_NAME: &str = "tigera-image-assurance-admission-controller-metrics";
/// The NetworkPolicy that admits traffic to the webhook's two ports only.
pub const NETWORK_POLICY_NAME: &str = "tigera-image-assurance-admission-controller";
pub const DEPLOYMENT_NAME: &str = "tigera-image-assurance-admission-controller";
pub const SERVICE_ACCOUNT_NAME: &str = "tigera-secure-container-admission-controller";
/// The ClusterRole and its binding share the service account's name, as upstream.
pub const CLUSTER_ROLE_NAME: &str = SERVICE_ACCOUNT_NAME;
pub const TLS_SECRET_NAME: &str = "tigera-image-assurance-admission-controller-certs";
pub const CONTAINER_NAME: &str = "admission-controller";
pub const WEBHOOK_CONFIGURATION_NAME: &str = "image-assurance.tigera.io";
/// The webhook for pod-creating resources; named like its configuration, as upstream.
pub const WORKLOAD_WEBHOOK_NAME: &str = "image-assurance.tigera.io";
pub const POLICY_WEBHOOK_NAME: &str = "policies.image-assurance.tigera.io";

/// Our image, tagged with this binary's version: manifests and image then come from the same
/// source, so the `serve` flags the manifests pass are the ones the image understands. Nobody
/// publishes it; build it from the root `Dockerfile` (docs/installing.md).
pub const DEFAULT_IMAGE: &str = concat!("image-assurance:", env!("CARGO_PKG_VERSION"));

pub const ADMISSION_REVIEW_PATH: &str = "/admission-review";
pub const VALIDATE_POLICY_PATH: &str = "/validate-policy";
pub const HEALTHZ_PATH: &str = "/healthz";
pub const READYZ_PATH: &str = "/readyz";
/// The container's HTTPS port (unprivileged, since the container runs as a non-root user).
pub const HTTPS_PORT: i32 = 8443;
pub const METRICS_PORT: i32 = 9090;
/// The Service's port, the one the API server dials (the Kubernetes default for webhooks).
pub const SERVICE_PORT: i32 = 443;
pub const HTTPS_PORT_NAME: &str = "https";
pub const METRICS_PORT_NAME: &str = "metrics";
/// Where the TLS Secret is mounted in the container.
pub const CERT_MOUNT_PATH: &str = "/certs";

/// Files `certs` writes and `manifests` reads, named as by upstream's
/// `generate-open-ssl-key-cert-pair.sh` so a hand-made pair can be dropped in.
pub const CERT_FILE: &str = "admission_controller_cert.pem";
pub const KEY_FILE: &str = "admission_controller_key.pem";
pub const CA_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca_key.pem";

/// Namespaces whose pods the cluster itself needs: a webhook that can block them can stop the
/// cluster from healing (reference/k8s-admission.md §4).
pub const CRITICAL_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

/// Pod Security admission's label for the level it enforces in a namespace; the webhook's pods
/// meet `restricted`, so nothing less privileged can be started beside them.
pub const POD_SECURITY_ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
/// Its `warn` twin: `kubectl apply` of a Deployment whose pods would be refused says so at once,
/// instead of the ReplicaSet failing to create them later.
pub const POD_SECURITY_WARN_LABEL: &str = "pod-security.kubernetes.io/warn";
pub const POD_SECURITY_LEVEL: &str = "restricted";

/// The name every namespace carries as a label (the API server sets it and it cannot change),
/// which is what lets a namespaceSelector exclude namespaces by name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// `<service>.<namespace>.svc`: the name the API server checks the serving certificate against.
pub fn service_dns_name(service: &str, namespace: &str) -> String {
    format!("{service}.{namespace}.svc")
}

/// Labels of the webhook's pods and of everything installed with them (upstream's two).
pub fn app_labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("k8s-app".to_string(), DEPLOYMENT_NAME.to_string()),
        ("name".to_string(), DEPLOYMENT_NAME.to_string()),
    ])
}

/// The pod selector of the Deployment, Service and PodDisruptionBudget.
pub fn pod_selector_labels() -> BTreeMap<String, String> {
    BTreeMap::from([("k8s-app".to_string(), DEPLOYMENT_NAME.to_string())])
}
