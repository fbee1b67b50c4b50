//! `image-assurance manifests` hardening: Pod Security `restricted` on the webhook's namespace
//! (and pods that meet it), a NetworkPolicy that admits only the webhook's two ports, the
//! metrics port behind a Service of its own, least-privilege RBAC and a priority class.

mod install_support;

use std::collections::BTreeSet;

use install_support::{certs, documents, exit_code, manifests, named, object, run, stderr, stdout};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Namespace, PodSpec, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::ClusterRole;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

const SERVICE: &str = "tigera-image-assurance-admission-controller-service";
const METRICS_SERVICE: &str = "tigera-image-assurance-admission-controller-metrics";

fn default_install() -> Vec<Value> {
    let (_tmp, dir) = certs(&[]);
    documents(&stdout(&manifests(&dir, &[])))
}

fn pod_spec(documents: &[Value]) -> PodSpec {
    let deployment: Deployment = object(documents, "Deployment");
    deployment.spec.template.spec.expect("a pod spec")
}

/// The container's port of that name or number, as (name, number).
fn container_port(container: &Container, port: &IntOrString) -> Option<(String, i32)> {
    container.ports.iter().flatten().find_map(|p| {
        let name = p.name.clone().unwrap_or_default();
        let matches = match port {
            IntOrString::Int(number) => p.container_port == *number,
            IntOrString::String(wanted) => name == *wanted,
        };
        matches.then_some((name, p.container_port))
    })
}

/// What Pod Security admission's `restricted` level (Kubernetes v1.32) refuses in a pod, one
/// message per violation; empty when the pod is admitted.
fn restricted_violations(pod: &PodSpec) -> Vec<String> {
    let mut violations = Vec::new();
    let pod_context = pod.security_context.clone().unwrap_or_default();
    for (flag, name) in [
        (pod.host_network, "hostNetwork"),
        (pod.host_pid, "hostPID"),
        (pod.host_ipc, "hostIPC"),
    ] {
        if flag == Some(true) {
            violations.push(name.to_string());
        }
    }
    let allowed_volumes = [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    for volume in pod.volumes.iter().flatten() {
        let value = serde_json::to_value(volume).expect("a volume serializes");
        for key in value.as_object().expect("an object").keys() {
            if key != "name" && !allowed_volumes.contains(&key.as_str()) {
                violations.push(format!("volume {} of type {key}", volume.name));
            }
        }
    }
    let pod_seccomp = pod_context
        .seccomp_profile
        .as_ref()
        .map(|p| p.type_.clone());
    for container in &pod.containers {
        let context = container.security_context.clone().unwrap_or_default();
        let name = &container.name;
        if context.privileged == Some(true) {
            violations.push(format!("{name}: privileged"));
        }
        if context.allow_privilege_escalation != Some(false) {
            violations.push(format!("{name}: allowPrivilegeEscalation != false"));
        }
        let capabilities = context.capabilities.clone().unwrap_or_default();
        if !capabilities.drop.iter().flatten().any(|c| c == "ALL") {
            violations.push(format!("{name}: capabilities.drop lacks ALL"));
        }
        if capabilities
            .add
            .iter()
            .flatten()
            .any(|c| c != "NET_BIND_SERVICE")
        {
            violations.push(format!("{name}: capabilities.add"));
        }
        if context.run_as_non_root.or(pod_context.run_as_non_root) != Some(true) {
            violations.push(format!("{name}: runAsNonRoot != true"));
        }
        if context.run_as_user.or(pod_context.run_as_user) == Some(0) {
            violations.push(format!("{name}: runAsUser 0"));
        }
        let seccomp = context
            .seccomp_profile
            .as_ref()
            .map(|p| p.type_.clone())
            .or(pod_seccomp.clone());
        if !matches!(seccomp.as_deref(), Some("RuntimeDefault" | "Localhost")) {
            violations.push(format!("{name}: seccompProfile {seccomp:?}"));
        }
        for port in container.ports.iter().flatten() {
            if port.host_port.is_some_and(|port| port != 0) {
                violations.push(format!("{name}: hostPort"));
            }
        }
    }
    violations
}

#[test]
fn the_namespace_enforces_pod_security_restricted_and_the_webhooks_pods_meet_it() {
    let documents = default_install();
    let namespace: Namespace = object(&documents, "Namespace");
    let labels = namespace.metadata.labels.expect("labels");
    assert_eq!(
        labels
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str),
        Some("restricted")
    );
    assert_eq!(
        labels
            .get("pod-security.kubernetes.io/warn")
            .map(String::as_str),
        Some("restricted")
    );
    assert_eq!(
        restricted_violations(&pod_spec(&documents)),
        Vec::<String>::new()
    );
}

#[test]
fn the_restricted_check_here_does_catch_a_violation() {
    let documents = default_install();
    let mut pod = pod_spec(&documents);
    let context = pod.containers[0]
        .security_context
        .as_mut()
        .expect("context");
    context.allow_privilege_escalation = None;
    context.capabilities = None;
    pod.host_network = Some(true);
    assert_eq!(
        restricted_violations(&pod),
        [
            "hostNetwork",
            "admission-controller: allowPrivilegeEscalation != false",
            "admission-controller: capabilities.drop lacks ALL",
        ]
    );
}

#[test]
fn the_network_policy_admits_only_the_webhook_and_metrics_ports_of_the_webhooks_pods() {
    let documents = default_install();
    let policy: NetworkPolicy = object(&documents, "NetworkPolicy");
    assert_eq!(
        policy.metadata.namespace.as_deref(),
        Some("tigera-image-assurance")
    );
    let spec = policy.spec.expect("spec");
    assert_eq!(
        spec.policy_types.as_deref(),
        Some(&["Ingress".to_string()][..])
    );
    assert!(spec.egress.is_none());

    let deployment: Deployment = object(&documents, "Deployment");
    let pod_labels = deployment
        .spec
        .template
        .metadata
        .and_then(|metadata| metadata.labels)
        .expect("pod labels");
    let selector = spec.pod_selector.expect("podSelector");
    assert!(selector.match_expressions.is_none());
    let match_labels = selector.match_labels.expect("matchLabels");
    assert!(
        !match_labels.is_empty(),
        "an empty selector would isolate every pod"
    );
    assert!(
        match_labels
            .iter()
            .all(|(k, v)| pod_labels.get(k) == Some(v))
    );

    let rules = spec.ingress.expect("ingress");
    assert_eq!(rules.len(), 1);
    assert!(
        rules[0].from.is_none(),
        "from anywhere: the API server and Prometheus"
    );
    let container = &deployment.spec.template.spec.expect("pod").containers[0];
    let admitted: BTreeSet<(String, i32)> = rules[0]
        .ports
        .iter()
        .flatten()
        .map(|port| {
            assert_eq!(port.protocol.as_deref(), Some("TCP"));
            assert!(port.end_port.is_none());
            let port = port.port.as_ref().expect("a port");
            container_port(container, port)
                .unwrap_or_else(|| panic!("{port:?} is no port of the container"))
        })
        .collect();
    assert_eq!(
        admitted,
        BTreeSet::from([("https".to_string(), 8443), ("metrics".to_string(), 9090)])
    );
    // The probes go to an admitted port.
    for probe in [&container.readiness_probe, &container.liveness_probe] {
        let port = &probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .expect("probe")
            .port;
        assert!(admitted.contains(&container_port(container, port).expect("a port")));
    }
}

#[test]
fn metrics_have_a_service_of_their_own_that_the_api_server_is_never_sent_to() {
    let documents = default_install();
    let metrics: Service = named(&documents, "Service", METRICS_SERVICE);
    let annotations = metrics.metadata.annotations.clone().expect("annotations");
    for (key, value) in [
        ("prometheus.io/scrape", "true"),
        ("prometheus.io/port", "9090"),
        ("prometheus.io/path", "/metrics"),
    ] {
        assert_eq!(
            annotations.get(key).map(String::as_str),
            Some(value),
            "{key}"
        );
    }
    let spec = metrics.spec.expect("spec");
    assert_eq!(spec.publish_not_ready_addresses, Some(true));
    let ports = spec.ports.expect("ports");
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].name.as_deref(), Some("metrics"));
    assert_eq!(ports[0].port, 9090);
    let deployment: Deployment = object(&documents, "Deployment");
    let container = &deployment.spec.template.spec.expect("pod").containers[0];
    let target = ports[0].target_port.as_ref().expect("targetPort");
    assert_eq!(
        container_port(container, target),
        Some(("metrics".to_string(), 9090))
    );
    let webhook_service: Service = named(&documents, "Service", SERVICE);
    assert_eq!(
        spec.selector,
        webhook_service.spec.clone().expect("spec").selector
    );

    // The webhook configuration names only the other Service, whose only port is HTTPS.
    let configuration: ValidatingWebhookConfiguration =
        object(&documents, "ValidatingWebhookConfiguration");
    for webhook in configuration.webhooks.expect("webhooks") {
        let reference = webhook.client_config.service.expect("a Service reference");
        assert_eq!(reference.name, SERVICE);
        let ports = webhook_service
            .spec
            .clone()
            .and_then(|s| s.ports)
            .expect("ports");
        assert_eq!(ports.len(), 1);
        assert_eq!(Some(ports[0].port), reference.port);
        let target = ports[0].target_port.as_ref().expect("targetPort");
        assert_eq!(
            container_port(container, target),
            Some(("https".to_string(), 8443))
        );
    }
}

#[test]
fn the_only_crd_the_webhook_may_read_is_the_one_it_looks_for() {
    let documents = default_install();
    let role: ClusterRole = object(&documents, "ClusterRole");
    let crd_rules: Vec<_> = role
        .rules
        .expect("rules")
        .into_iter()
        .filter(|rule| {
            rule.resources
                .iter()
                .flatten()
                .any(|r| r == "customresourcedefinitions")
        })
        .collect();
    assert_eq!(crd_rules.len(), 1);
    assert_eq!(crd_rules[0].verbs, ["get"]);
    // The name is the real Trivy CRD's, as the fixture (from the Trivy operator) has it.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/crds/vulnerabilityreports.yaml"
    );
    let text = std::fs::read_to_string(path).expect("the Trivy CRD fixture");
    let trivy: CustomResourceDefinition = serde_saphyr::from_str(&text).expect("a CRD");
    assert_eq!(
        crd_rules[0].resource_names.as_deref(),
        Some(&[trivy.metadata.name.expect("a name")][..])
    );
}

#[test]
fn a_priority_class_is_set_only_when_asked_for() {
    let documents = default_install();
    assert_eq!(pod_spec(&documents).priority_class_name, None);

    let (_tmp, dir) = certs(&[]);
    let output = manifests(&dir, &["--priority-class-name", "system-cluster-critical"]);
    let documents = install_support::documents(&stdout(&output));
    assert_eq!(
        pod_spec(&documents).priority_class_name.as_deref(),
        Some("system-cluster-critical")
    );

    let output = run(&[
        "manifests",
        "--cert-dir",
        &dir,
        "--namespace-selector-key",
        "name",
        "--namespace-selector-values",
        "prod",
        "--priority-class-name",
        "Critical",
    ]);
    assert_eq!(exit_code(&output), 2);
    assert!(stdout(&output).is_empty());
    assert!(
        stderr(&output).starts_with(
            "error: --priority-class-name \"Critical\": not a valid PriorityClass name: a \
             lowercase RFC 1123 subdomain"
        ),
        "{}",
        stderr(&output)
    );
}
