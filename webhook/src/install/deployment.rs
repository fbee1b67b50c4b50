//! The webhook's pods and how they are reached: the Deployment, its PodDisruptionBudget, the
//! Service the API server calls and the one Prometheus scrapes. Availability matters more here
//! than for most workloads: with `failurePolicy: Fail`, no ready webhook pod means no pods in
//! the selected namespaces.

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction,
    ObjectFieldSelector, PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecretVolumeSource,
    SecurityContext, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
    WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{
    CERT_MOUNT_PATH, CONTAINER_NAME, DEPLOYMENT_NAME, HEALTHZ_PATH, HTTPS_PORT, HTTPS_PORT_NAME,
    METRICS_PORT, METRICS_PORT_NAME, METRICS_SERVICE_NAME, READYZ_PATH, SERVICE_ACCOUNT_NAME,
    SERVICE_NAME, SERVICE_PORT, TLS_SECRET_NAME, app_labels, pod_selector_labels,
};

/// The image's non-root user (distroless `nonroot`), also set in the Dockerfile.
pub const RUN_AS_USER: i64 = 65532;
const CERT_VOLUME: &str = "certs";

/// What varies between installations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploymentOptions {
    pub namespace: String,
    pub image: String,
    pub image_pull_policy: String,
    pub replicas: i32,
    /// A PriorityClass for the pods, so that under node pressure they are preempted or evicted
    /// after the workloads they admit; `None` leaves the cluster's default.
    pub priority_class_name: Option<String>,
    /// Flags appended to `serve`'s, e.g. `--enforcement=warn`.
    pub serve_flags: Vec<String>,
}

/// The arguments of the container: `serve` (the image's default command, repeated because
/// `args` replaces it) and the flags whose contract `serve` implements.
pub fn serve_args() -> Vec<String> {
    vec![
        "serve".to_string(),
        format!("--listen=0.0.0.0:{HTTPS_PORT}"),
        format!("--metrics-listen=0.0.0.0:{METRICS_PORT}"),
        format!("--tls-cert={CERT_MOUNT_PATH}/tls.crt"),
        format!("--tls-key={CERT_MOUNT_PATH}/tls.key"),
    ]
}

pub fn deployment(options: &DeploymentOptions) -> Deployment {
    Deployment {
        metadata: metadata(DEPLOYMENT_NAME, &options.namespace),
        spec: DeploymentSpec {
            replicas: Some(options.replicas),
            selector: LabelSelector {
                match_labels: Some(pod_selector_labels()),
                match_expressions: None,
            },
            // Start a new pod before stopping an old one: a rollout never leaves the webhook
            // with fewer ready pods than asked for.
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(app_labels()),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(options)),
            },
            ..DeploymentSpec::default()
        },
        status: None,
    }
}

fn pod_spec(options: &DeploymentOptions) -> PodSpec {
    PodSpec {
        service_account_name: Some(SERVICE_ACCOUNT_NAME.to_string()),
        priority_class_name: options.priority_class_name.clone(),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS_USER),
            run_as_group: Some(RUN_AS_USER),
            seccomp_profile: Some(runtime_default_seccomp()),
            ..PodSecurityContext::default()
        }),
        // Pod Security `restricted` (the namespace enforces it) asks runAsNonRoot and the
        // RuntimeDefault seccomp profile here or on every container; the container repeats them.
        // Spread the replicas over nodes, so that draining or losing one node leaves a
        // webhook running; preferred, so a one-node cluster still runs them all.
        affinity: Some(Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    WeightedPodAffinityTerm {
                        weight: 100,
                        pod_affinity_term: PodAffinityTerm {
                            label_selector: Some(LabelSelector {
                                match_labels: Some(pod_selector_labels()),
                                match_expressions: None,
                            }),
                            topology_key: "kubernetes.io/hostname".to_string(),
                            ..PodAffinityTerm::default()
                        },
                    },
                ]),
                ..PodAntiAffinity::default()
            }),
            ..Affinity::default()
        }),
        containers: vec![container(options)],
        volumes: Some(vec![Volume {
            name: CERT_VOLUME.to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(TLS_SECRET_NAME.to_string()),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        }]),
        ..PodSpec::default()
    }
}

fn container(options: &DeploymentOptions) -> Container {
    Container {
        name: CONTAINER_NAME.to_string(),
        image: Some(options.image.clone()),
        image_pull_policy: Some(options.image_pull_policy.clone()),
        args: Some(
            serve_args()
                .into_iter()
                .chain(options.serve_flags.clone())
                .collect(),
        ),
        // The audit Lease's holder identity and namespace (serve reads both).
        env: Some(vec![
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_NAMESPACE", "metadata.namespace"),
        ]),
        ports: Some(vec![
            container_port(HTTPS_PORT_NAME, HTTPS_PORT),
            container_port(METRICS_PORT_NAME, METRICS_PORT),
        ]),
        // Ready only once policies, namespaces and scans are synced (serve's `/readyz`), so
        // the Service never routes an admission to a pod that would decide on empty caches.
        readiness_probe: Some(https_probe(READYZ_PATH, 5, 3)),
        liveness_probe: Some(https_probe(HEALTHZ_PATH, 10, 3)),
        // Requests: the steady state, which is watched caches (policies, namespaces, scan
        // reports) and a few TLS handshakes per admission; small enough to schedule anywhere.
        // Limits: room for the initial list of every scan report and for admission bursts
        // during large rollouts, while bounding a runaway cache to this pod, not the node.
        resources: Some(ResourceRequirements {
            requests: Some(
                [
                    ("cpu".to_string(), Quantity("50m".to_string())),
                    ("memory".to_string(), Quantity("64Mi".to_string())),
                ]
                .into(),
            ),
            limits: Some(
                [
                    ("cpu".to_string(), Quantity("500m".to_string())),
                    ("memory".to_string(), Quantity("256Mi".to_string())),
                ]
                .into(),
            ),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS_USER),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_string()]),
                add: None,
            }),
            seccomp_profile: Some(runtime_default_seccomp()),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: CERT_VOLUME.to_string(),
            mount_path: CERT_MOUNT_PATH.to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    }
}

/// An environment variable from the downward API.
fn field_env(name: &str, field_path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: Some("v1".to_string()),
                field_path: field_path.to_string(),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_string()),
        container_port: port,
        protocol: Some("TCP".to_string()),
        ..ContainerPort::default()
    }
}

fn https_probe(path: &str, period_seconds: i32, failure_threshold: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String(HTTPS_PORT_NAME.to_string()),
            scheme: Some("HTTPS".to_string()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period_seconds),
        failure_threshold: Some(failure_threshold),
        timeout_seconds: Some(2),
        ..Probe::default()
    }
}

fn runtime_default_seccomp() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_string(),
        localhost_profile: None,
    }
}

/// Keeps one webhook pod through voluntary disruptions (node drains). Only meaningful with two
/// or more replicas: with one it would block every drain of that pod's node.
pub fn pod_disruption_budget(namespace: &str) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: metadata(DEPLOYMENT_NAME, namespace),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(pod_selector_labels()),
                match_expressions: None,
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    }
}

/// The Service the webhook configuration names: 443, the port the API server dials by default,
/// to the container's `https` port, and no other port (metrics have their own Service).
pub fn service(namespace: &str) -> Service {
    Service {
        metadata: metadata(SERVICE_NAME, namespace),
        spec: Some(ServiceSpec {
            selector: Some(pod_selector_labels()),
            ports: Some(vec![ServicePort {
                name: Some(HTTPS_PORT_NAME.to_string()),
                port: SERVICE_PORT,
                target_port: Some(IntOrString::String(HTTPS_PORT_NAME.to_string())),
                protocol: Some("TCP".to_string()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The metrics port behind a Service of its own, port named `metrics`, so that a
/// ServiceMonitor (`port: metrics`) or the `prometheus.io/*` annotation convention finds every
/// pod. Not ready pods are published too: a replica that cannot become ready is the one whose
/// metrics (sources not synced, failing loads) say why.
pub fn metrics_service(namespace: &str) -> Service {
    let mut metadata = metadata(METRICS_SERVICE_NAME, namespace);
    metadata.annotations = Some(
        [
            ("prometheus.io/scrape", "true".to_string()),
            ("prometheus.io/port", METRICS_PORT.to_string()),
            ("prometheus.io/path", "/metrics".to_string()),
            ("prometheus.io/scheme", "http".to_string()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect(),
    );
    Service {
        metadata,
        spec: Some(ServiceSpec {
            selector: Some(pod_selector_labels()),
            ports: Some(vec![ServicePort {
                name: Some(METRICS_PORT_NAME.to_string()),
                port: METRICS_PORT,
                target_port: Some(IntOrString::String(METRICS_PORT_NAME.to_string())),
                protocol: Some("TCP".to_string()),
                ..ServicePort::default()
            }]),
            publish_not_ready_addresses: Some(true),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn metadata(name: &str, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(app_labels()),
        ..ObjectMeta::default()
    }
}
