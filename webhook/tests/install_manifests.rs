//! `image-assurance manifests`: the objects it prints, read back into k8s-openapi types, against
//! the contract of architecture.md and the install brief.

mod install_support;

use std::collections::BTreeMap;

use base64::Engine;
use install_support::{
    certs, documents, exit_code, manifests, named, object, read, stderr, stdout,
};
use k8s_openapi::api::admissionregistration::v1::{
    RuleWithOperations, ValidatingWebhook, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

const NS: &str = "tigera-image-assurance";
const NAME: &str = "tigera-image-assurance-admission-controller";
const SERVICE: &str = "tigera-image-assurance-admission-controller-service";
const ACCOUNT: &str = "tigera-secure-container-admission-controller";
const METRICS_SERVICE: &str = "tigera-image-assurance-admission-controller-metrics";
const POLICY_CRD: &str = "containeradmissionpolicies.containersecurity.tigera.io";

fn default_install() -> (tempfile::TempDir, String, Vec<Value>) {
    let (tmp, dir) = certs(&[]);
    let output = manifests(&dir, &[]);
    (tmp, dir, documents(&stdout(&output)))
}

fn webhooks(documents: &[Value]) -> (ValidatingWebhook, ValidatingWebhook) {
    let configuration: ValidatingWebhookConfiguration =
        object(documents, "ValidatingWebhookConfiguration");
    assert_eq!(
        configuration.metadata.name.as_deref(),
        Some("image-assurance.tigera.io")
    );
    let mut webhooks = configuration.webhooks.expect("webhooks").into_iter();
    let workloads = webhooks.next().expect("the workload webhook");
    let policies = webhooks.next().expect("the policy webhook");
    assert!(webhooks.next().is_none(), "exactly two webhooks");
    (workloads, policies)
}

/// A rule in one group, every version (what both webhooks use).
fn rule(group: &str, resources: &[&str], operations: &[&str], scope: &str) -> RuleWithOperations {
    RuleWithOperations {
        api_groups: Some(strings(&[group])),
        api_versions: Some(strings(&["*"])),
        resources: Some(strings(resources)),
        operations: Some(strings(operations)),
        scope: Some(scope.to_string()),
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| value.to_string()).collect()
}

#[test]
fn every_object_in_apply_order() {
    let (_tmp, _dir, documents) = default_install();
    let kinds: Vec<(&str, &str)> = documents
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Namespace", NS),
            (
                "CustomResourceDefinition",
                "containeradmissionpolicies.containersecurity.tigera.io"
            ),
            ("CustomResourceDefinition", "policyreports.wgpolicyk8s.io"),
            ("ServiceAccount", ACCOUNT),
            ("ClusterRole", ACCOUNT),
            ("ClusterRoleBinding", ACCOUNT),
            ("Role", ACCOUNT),
            ("RoleBinding", ACCOUNT),
            (
                "Secret",
                "tigera-image-assurance-admission-controller-certs"
            ),
            ("NetworkPolicy", NAME),
            ("Deployment", NAME),
            ("PodDisruptionBudget", NAME),
            ("Service", SERVICE),
            ("Service", METRICS_SERVICE),
            (
                "ValidatingWebhookConfiguration",
                "image-assurance.tigera.io"
            ),
        ]
    );
    let _: Namespace = object(&documents, "Namespace");
    let crd: CustomResourceDefinition = named(&documents, "CustomResourceDefinition", POLICY_CRD);
    assert_eq!(crd.spec.group, "containersecurity.tigera.io");
    let account: ServiceAccount = object(&documents, "ServiceAccount");
    assert_eq!(account.metadata.namespace.as_deref(), Some(NS));
    for document in &documents[3..] {
        let namespaced = !matches!(
            document["kind"].as_str(),
            Some("ClusterRole" | "ClusterRoleBinding" | "ValidatingWebhookConfiguration")
        );
        assert_eq!(
            document["metadata"]["namespace"].as_str(),
            namespaced.then_some(NS),
            "{}",
            document["kind"]
        );
    }
}

#[test]
fn the_crd_is_the_one_image_assurance_crd_prints() {
    let (_tmp, _dir, documents) = default_install();
    let crd: CustomResourceDefinition = named(&documents, "CustomResourceDefinition", POLICY_CRD);
    let output = install_support::run(&["crd"]);
    let printed: CustomResourceDefinition =
        serde_saphyr::from_str(&stdout(&output)).expect("the crd subcommand prints one CRD");
    assert_eq!(crd, printed);
}

#[test]
fn the_policy_report_crd_is_the_policy_wgs_v1alpha2() {
    let (_tmp, _dir, documents) = default_install();
    let crd: CustomResourceDefinition = named(
        &documents,
        "CustomResourceDefinition",
        "policyreports.wgpolicyk8s.io",
    );
    assert_eq!(crd.spec.group, "wgpolicyk8s.io");
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(crd.spec.names.kind, "PolicyReport");
    let versions: Vec<&str> = crd.spec.versions.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(versions, ["v1alpha2"]);
    let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
    let properties = &schema["openAPIV3Schema"]["properties"];
    for field in ["results", "summary", "scope"] {
        assert!(
            properties.get(field).is_some(),
            "no top-level {field}: {properties}"
        );
    }
}

#[test]
fn rbac_is_exactly_what_the_webhook_reads_and_the_audit_writes() {
    let (_tmp, _dir, documents) = default_install();
    let role: ClusterRole = object(&documents, "ClusterRole");
    type Rule = (Vec<String>, Vec<String>, Vec<String>, Option<Vec<String>>);
    let rules: Vec<Rule> = role
        .rules
        .expect("rules")
        .into_iter()
        .map(|rule| {
            assert!(rule.non_resource_urls.is_none());
            (
                rule.api_groups.expect("groups"),
                rule.resources.expect("resources"),
                rule.verbs,
                rule.resource_names,
            )
        })
        .collect();
    // Reflectors list and watch; single objects are fetched only where the server GETs them:
    // a namespace missing from its cache, an owner, and the one CRD whose presence it checks.
    // The audit lists every pod-creating kind, reads its own webhook configuration, and writes
    // only PolicyReports and policy statuses.
    let reflect = strings(&["list", "watch"]);
    let get = strings(&["get"]);
    let get_list = strings(&["get", "list", "watch"]);
    assert_eq!(
        rules,
        [
            (
                strings(&["containersecurity.tigera.io"]),
                strings(&["containeradmissionpolicies"]),
                reflect.clone(),
                None
            ),
            (
                strings(&[""]),
                strings(&["namespaces"]),
                strings(&["get", "list", "watch"]),
                None
            ),
            (
                strings(&["aquasecurity.github.io"]),
                strings(&["vulnerabilityreports"]),
                reflect,
                None
            ),
            (
                strings(&["apiextensions.k8s.io"]),
                strings(&["customresourcedefinitions"]),
                get.clone(),
                Some(strings(&["vulnerabilityreports.aquasecurity.github.io"]))
            ),
            (
                strings(&[""]),
                strings(&["pods", "replicationcontrollers"]),
                get_list.clone(),
                None
            ),
            (
                strings(&["apps"]),
                strings(&["deployments", "replicasets", "statefulsets", "daemonsets"]),
                get_list.clone(),
                None
            ),
            (
                strings(&["batch"]),
                strings(&["jobs", "cronjobs"]),
                get_list,
                None
            ),
            (
                strings(&["wgpolicyk8s.io"]),
                strings(&["policyreports"]),
                strings(&["get", "list", "create", "update", "patch", "delete"]),
                None
            ),
            (
                strings(&["containersecurity.tigera.io"]),
                strings(&["containeradmissionpolicies/status"]),
                strings(&["update", "patch"]),
                None
            ),
            (
                strings(&[""]),
                strings(&["events"]),
                strings(&["create"]),
                None
            ),
            (
                strings(&["admissionregistration.k8s.io"]),
                strings(&["validatingwebhookconfigurations"]),
                get,
                Some(strings(&["image-assurance.tigera.io"]))
            ),
        ]
    );
    // The audit Lease: in the webhook's namespace only, and only what leader election does.
    let lease_role: Role = object(&documents, "Role");
    assert_eq!(lease_role.metadata.namespace.as_deref(), Some(NS));
    let lease_rules = lease_role.rules.expect("rules");
    assert_eq!(lease_rules.len(), 1);
    assert_eq!(
        lease_rules[0].api_groups,
        Some(strings(&["coordination.k8s.io"]))
    );
    assert_eq!(lease_rules[0].resources, Some(strings(&["leases"])));
    assert_eq!(lease_rules[0].verbs, strings(&["get", "create", "update"]));
    let lease_binding: RoleBinding = object(&documents, "RoleBinding");
    assert_eq!(lease_binding.role_ref.kind, "Role");
    assert_eq!(lease_binding.role_ref.name, ACCOUNT);
    let subjects = lease_binding.subjects.expect("subjects");
    assert_eq!(
        (subjects[0].name.as_str(), subjects[0].namespace.as_deref()),
        (ACCOUNT, Some(NS))
    );
    let binding: ClusterRoleBinding = object(&documents, "ClusterRoleBinding");
    assert_eq!(binding.role_ref.kind, "ClusterRole");
    assert_eq!(binding.role_ref.name, ACCOUNT);
    let subjects = binding.subjects.expect("subjects");
    assert_eq!(subjects.len(), 1);
    assert_eq!(subjects[0].kind, "ServiceAccount");
    assert_eq!(subjects[0].name, ACCOUNT);
    assert_eq!(subjects[0].namespace.as_deref(), Some(NS));
}

#[test]
fn the_tls_secret_holds_the_files_certs_wrote() {
    let (_tmp, dir, documents) = default_install();
    let secret: Secret = object(&documents, "Secret");
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let data = secret.data.expect("data");
    let files: BTreeMap<&str, Vec<u8>> = data
        .iter()
        .map(|(k, v)| (k.as_str(), v.0.clone()))
        .collect();
    assert_eq!(
        files,
        BTreeMap::from([
            ("ca.crt", read(&dir, "ca.pem")),
            ("tls.crt", read(&dir, "admission_controller_cert.pem")),
            ("tls.key", read(&dir, "admission_controller_key.pem")),
        ])
    );
    let everything: String = documents.iter().map(Value::to_string).collect();
    let ca_key = base64::engine::general_purpose::STANDARD.encode(read(&dir, "ca_key.pem"));
    assert!(
        !everything.contains(&ca_key),
        "the CA key never leaves the operator"
    );
}

#[test]
fn the_deployment_runs_serve_hardened_and_highly_available() {
    let (_tmp, _dir, documents) = default_install();
    let deployment: Deployment = object(&documents, "Deployment");
    let labels = BTreeMap::from([
        ("k8s-app".to_string(), NAME.to_string()),
        ("name".to_string(), NAME.to_string()),
    ]);
    assert_eq!(deployment.metadata.labels.as_ref(), Some(&labels));
    let spec = deployment.spec;
    assert_eq!(spec.replicas, Some(2));
    let template = spec.template;
    assert_eq!(
        template.metadata.expect("metadata").labels.as_ref(),
        Some(&labels)
    );
    let selector = spec.selector.match_labels.expect("matchLabels");
    assert!(selector.iter().all(|(k, v)| labels.get(k) == Some(v)));

    let pod = template.spec.expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some(ACCOUNT));
    let pod_security = pod.security_context.expect("pod securityContext");
    assert_eq!(pod_security.run_as_non_root, Some(true));
    let anti = pod
        .affinity
        .expect("affinity")
        .pod_anti_affinity
        .expect("anti-affinity");
    let preferred = anti
        .preferred_during_scheduling_ignored_during_execution
        .expect("preferred");
    assert_eq!(
        preferred[0].pod_affinity_term.topology_key,
        "kubernetes.io/hostname"
    );
    assert!(
        anti.required_during_scheduling_ignored_during_execution
            .is_none()
    );

    assert_eq!(pod.containers.len(), 1);
    let container = &pod.containers[0];
    assert_eq!(container.name, "admission-controller");
    assert_eq!(
        container.image.as_deref(),
        Some(concat!("image-assurance:", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(container.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert!(container.command.is_none(), "the image's entrypoint runs");
    assert_eq!(
        container.args.as_deref(),
        Some(
            &strings(&[
                "serve",
                "--listen=0.0.0.0:8443",
                "--metrics-listen=0.0.0.0:9090",
                "--tls-cert=/certs/tls.crt",
                "--tls-key=/certs/tls.key",
            ])[..]
        )
    );
    let ports: Vec<(Option<&str>, i32)> = container
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.as_deref(), p.container_port))
        .collect();
    assert_eq!(ports, [(Some("https"), 8443), (Some("metrics"), 9090)]);

    for (probe, path) in [
        (container.readiness_probe.as_ref(), "/readyz"),
        (container.liveness_probe.as_ref(), "/healthz"),
    ] {
        let get = probe
            .and_then(|p| p.http_get.as_ref())
            .expect("an HTTP probe");
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(get.port, IntOrString::String("https".to_string()));
        assert_eq!(get.scheme.as_deref(), Some("HTTPS"));
    }

    let security = container
        .security_context
        .as_ref()
        .expect("container securityContext");
    assert_eq!(security.run_as_non_root, Some(true));
    assert_eq!(security.run_as_user, Some(65532));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    let capabilities = security.capabilities.as_ref().expect("capabilities");
    assert_eq!(capabilities.drop.as_deref(), Some(&strings(&["ALL"])[..]));
    assert!(capabilities.add.is_none());
    let seccomp = security.seccomp_profile.as_ref().expect("seccompProfile");
    assert_eq!(seccomp.type_, "RuntimeDefault");

    let resources = container.resources.as_ref().expect("resources");
    for bound in [&resources.requests, &resources.limits] {
        let bound = bound.as_ref().expect("requests and limits");
        assert!(bound.contains_key("cpu") && bound.contains_key("memory"));
    }

    let mount = &container.volume_mounts.as_ref().expect("mounts")[0];
    assert_eq!(mount.mount_path, "/certs");
    assert_eq!(mount.read_only, Some(true));
    let volume = &pod.volumes.as_ref().expect("volumes")[0];
    assert_eq!(volume.name, mount.name);
    let secret = volume.secret.as_ref().expect("a Secret volume");
    assert_eq!(
        secret.secret_name.as_deref(),
        Some("tigera-image-assurance-admission-controller-certs")
    );
}

#[test]
fn the_budget_and_service_reach_the_pods() {
    let (_tmp, _dir, documents) = default_install();
    let budget: PodDisruptionBudget = object(&documents, "PodDisruptionBudget");
    let budget = budget.spec.expect("spec");
    assert_eq!(budget.min_available, Some(IntOrString::Int(1)));
    let pod_selector = budget
        .selector
        .and_then(|s| s.match_labels)
        .expect("selector");

    let service: Service = named(&documents, "Service", SERVICE);
    let spec = service.spec.expect("spec");
    assert_eq!(spec.selector.as_ref(), Some(&pod_selector));
    let ports = spec.ports.expect("ports");
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].port, 443);
    assert_eq!(
        ports[0].target_port,
        Some(IntOrString::String("https".to_string()))
    );
}

#[test]
fn the_workload_webhook_covers_every_pod_creating_resource_and_debug_containers() {
    let (_tmp, dir, documents) = default_install();
    let (workloads, _) = webhooks(&documents);
    assert_eq!(workloads.name, "image-assurance.tigera.io");
    let rules = workloads.rules.expect("rules");
    let create_update = ["CREATE", "UPDATE"];
    assert_eq!(
        rules,
        [
            rule(
                "",
                &["pods", "replicationcontrollers"],
                &create_update,
                "Namespaced"
            ),
            rule(
                "apps",
                &["deployments", "replicasets", "statefulsets", "daemonsets"],
                &create_update,
                "Namespaced"
            ),
            rule("batch", &["jobs", "cronjobs"], &create_update, "Namespaced"),
            rule("", &["pods/ephemeralcontainers"], &["UPDATE"], "Namespaced"),
        ]
    );

    let selector = workloads.namespace_selector.expect("namespaceSelector");
    assert!(selector.match_labels.is_none());
    let expressions: Vec<(String, String, Vec<String>)> = selector
        .match_expressions
        .expect("matchExpressions")
        .into_iter()
        .map(|e| (e.key, e.operator, e.values.unwrap_or_default()))
        .collect();
    assert_eq!(
        expressions,
        [
            (
                "name".to_string(),
                "In".to_string(),
                strings(&["prod", "staging-test"])
            ),
            (
                "kubernetes.io/metadata.name".to_string(),
                "NotIn".to_string(),
                strings(&["kube-system", "kube-public", "kube-node-lease", NS])
            ),
        ]
    );
    assert!(workloads.object_selector.is_none());
    assert_eq!(workloads.failure_policy.as_deref(), Some("Fail"));
    assert_eq!(workloads.timeout_seconds, Some(5));
    // Refused updates are recorded as Events, never on a dry run.
    assert_eq!(workloads.side_effects, "NoneOnDryRun");
    assert_eq!(
        workloads.admission_review_versions,
        strings(&["v1", "v1beta1"])
    );
    assert_eq!(workloads.match_policy.as_deref(), Some("Equivalent"));
    let service = workloads
        .client_config
        .service
        .expect("a Service reference");
    assert_eq!(service.namespace, NS);
    assert_eq!(service.name, SERVICE);
    assert_eq!(service.path.as_deref(), Some("/admission-review"));
    assert_eq!(service.port, Some(443));
    assert!(workloads.client_config.url.is_none());
    assert_eq!(
        workloads.client_config.ca_bundle.expect("caBundle").0,
        read(&dir, "ca.pem")
    );
}

#[test]
fn the_ca_bundle_is_the_base64_of_ca_pem_on_the_wire() {
    let (_tmp, dir, documents) = default_install();
    let expected = base64::engine::general_purpose::STANDARD.encode(read(&dir, "ca.pem"));
    let configuration = documents
        .iter()
        .find(|d| d["kind"] == "ValidatingWebhookConfiguration")
        .expect("the configuration");
    for webhook in configuration["webhooks"].as_array().expect("webhooks") {
        assert_eq!(
            webhook["clientConfig"]["caBundle"],
            Value::String(expected.clone())
        );
    }
}

#[test]
fn the_policy_webhook_checks_container_admission_policies() {
    let (_tmp, dir, documents) = default_install();
    let (_, policies) = webhooks(&documents);
    assert_eq!(policies.name, "policies.image-assurance.tigera.io");
    assert_eq!(
        policies.rules.expect("rules"),
        [rule(
            "containersecurity.tigera.io",
            &["containeradmissionpolicies"],
            &["CREATE", "UPDATE"],
            "Cluster"
        )]
    );
    assert!(policies.namespace_selector.is_none());
    assert_eq!(policies.failure_policy.as_deref(), Some("Fail"));
    assert_eq!(policies.side_effects, "NoneOnDryRun");
    assert_eq!(
        policies.admission_review_versions,
        strings(&["v1", "v1beta1"])
    );
    let service = policies.client_config.service.expect("a Service reference");
    assert_eq!(
        (service.namespace.as_str(), service.name.as_str()),
        (NS, SERVICE)
    );
    assert_eq!(service.path.as_deref(), Some("/validate-policy"));
    assert_eq!(service.port, Some(443));
    assert_eq!(
        policies.client_config.ca_bundle.expect("caBundle").0,
        read(&dir, "ca.pem")
    );
}

#[test]
fn flags_set_failure_policy_timeout_replicas_image_and_pull_policy() {
    let (_tmp, dir) = certs(&[]);
    let output = manifests(
        &dir,
        &[
            "--failure-policy",
            "Ignore",
            "--timeout-seconds",
            "12",
            "--replicas",
            "3",
            "--image",
            "registry.example.com/security/image-assurance:1.2.3",
            "--image-pull-policy",
            "Always",
        ],
    );
    let documents = documents(&stdout(&output));
    let (workloads, policies) = webhooks(&documents);
    assert_eq!(workloads.failure_policy.as_deref(), Some("Ignore"));
    assert_eq!(
        policies.failure_policy.as_deref(),
        Some("Fail"),
        "policies always checked"
    );
    assert_eq!(workloads.timeout_seconds, Some(12));
    let deployment: Deployment = object(&documents, "Deployment");
    assert_eq!(deployment.spec.replicas, Some(3));
    let container = &deployment.spec.template.spec.expect("pod").containers[0];
    assert_eq!(
        container.image.as_deref(),
        Some("registry.example.com/security/image-assurance:1.2.3")
    );
    assert_eq!(container.image_pull_policy.as_deref(), Some("Always"));
}

#[test]
fn another_namespace_moves_every_reference() {
    let (_tmp, dir) = certs(&["--namespace", "security"]);
    let output = manifests(&dir, &["--namespace", "security"]);
    let documents = documents(&stdout(&output));
    let namespace: Namespace = object(&documents, "Namespace");
    assert_eq!(namespace.metadata.name.as_deref(), Some("security"));
    let binding: ClusterRoleBinding = object(&documents, "ClusterRoleBinding");
    assert_eq!(
        binding.subjects.unwrap()[0].namespace.as_deref(),
        Some("security")
    );
    let (workloads, policies) = webhooks(&documents);
    for webhook in [&workloads, &policies] {
        let service = webhook.client_config.service.as_ref().expect("service");
        assert_eq!(service.namespace, "security");
    }
    let expressions = workloads
        .namespace_selector
        .unwrap()
        .match_expressions
        .unwrap();
    assert_eq!(
        expressions[1].values.as_deref(),
        Some(&strings(&["kube-system", "kube-public", "kube-node-lease", "security"])[..])
    );
}

#[test]
fn one_replica_has_no_budget_and_says_why() {
    let (_tmp, dir) = certs(&[]);
    let output = manifests(&dir, &["--replicas", "1"]);
    let documents = documents(&stdout(&output));
    assert!(documents.iter().all(|d| d["kind"] != "PodDisruptionBudget"));
    assert!(
        stderr(&output).contains("no PodDisruptionBudget"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_audit_interval_reaches_the_deployment_only_when_not_the_default() {
    let (_tmp, dir) = certs(&[]);
    let args = |extra: &[&str]| -> Vec<String> {
        let output = manifests(&dir, extra);
        assert_eq!(exit_code(&output), 0, "{}", stderr(&output));
        let deployment: Deployment = object(&documents(&stdout(&output)), "Deployment");
        let pod = deployment.spec.template.spec.unwrap();
        pod.containers[0].args.clone().unwrap_or_default()
    };
    let audit_flags = |args: Vec<String>| -> Vec<String> {
        args.into_iter()
            .filter(|arg| arg.starts_with("--audit-interval"))
            .collect()
    };
    assert!(audit_flags(args(&[])).is_empty());
    assert!(audit_flags(args(&["--audit-interval", "5m"])).is_empty());
    assert_eq!(
        audit_flags(args(&["--audit-interval", "600s"])),
        ["--audit-interval=10m"]
    );
    assert_eq!(
        audit_flags(args(&["--audit-interval", "0"])),
        ["--audit-interval=0"]
    );
    let output = install_support::run(&[
        "manifests",
        "--cert-dir",
        &dir,
        "--namespace-selector-key",
        "name",
        "--namespace-selector-values",
        "prod",
        "--audit-interval",
        "soon",
    ]);
    assert_eq!(exit_code(&output), 2);
    assert!(
        stderr(&output).contains("--audit-interval \"soon\": expected a whole number"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_output_is_documents_separated_by_dashes() {
    let (_tmp, dir) = certs(&[]);
    let output = manifests(&dir, &[]);
    assert_eq!(exit_code(&output), 0);
    let yaml = stdout(&output);
    assert_eq!(yaml.lines().filter(|line| *line == "---").count(), 15);
    assert!(
        stderr(&output).is_empty(),
        "nothing on stderr: {}",
        stderr(&output)
    );
}
