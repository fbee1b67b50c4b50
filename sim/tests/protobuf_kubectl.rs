//! Request bodies captured from the real kubectl v1.32.4 (a recording HTTP server stood in for
//! the API server; `kubectl create -f` needed `--validate=false` as it serves no OpenAPI).
//!
//! Sent as `application/vnd.kubernetes.protobuf` (Accept: `application/vnd.kubernetes.protobuf,
//! application/json`), all POST, never retried as JSON:
//! - `kubectl create namespace|deployment|configmap|secret generic|secret docker-registry|
//!   secret tls|job|job --from=cronjob/x|cronjob|service clusterip|nodeport|loadbalancer|
//!   externalname|role|rolebinding|clusterrole|clusterrolebinding|poddisruptionbudget|
//!   serviceaccount|quota|priorityclass|ingress` to the collection path (e.g.
//!   `/apis/apps/v1/namespaces/default/deployments`) with `?fieldManager=kubectl-create&
//!   fieldValidation=Strict` (plus `dryRun=All` first for `--dry-run=server`);
//! - `kubectl autoscale` to `/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers?
//!   fieldManager=kubectl-autoscale` (autoscaling/v1 HorizontalPodAutoscaler);
//! - `kubectl create token sa1` to `/api/v1/namespaces/default/serviceaccounts/sa1/token`, no
//!   query (authentication.k8s.io/v1 TokenRequest; kubectl fails unless `status.token` is set);
//! - `kubectl auth can-i get pods` to `/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`,
//!   no query (SelfSubjectAccessReview);
//! - `kubectl debug p1 --copy-to=x` and `kubectl debug node/n1` to
//!   `/api/v1/namespaces/default/pods`, no query (Pod; the copy re-encodes the fetched Pod).
//!
//! Sent as JSON:
//! - `kubectl run` POST `/api/v1/namespaces/default/pods?fieldManager=kubectl-run`
//!   (`application/json`, with `creationTimestamp: null`, `resources: {}`, `status: {}`);
//! - `kubectl expose` POST `.../services?fieldManager=kubectl-expose` (`application/json`);
//! - `kubectl create -f`/`apply`/`replace` (`application/json`; `create -f` adds
//!   `fieldValidation=Strict`, or `Ignore` with `--validate=false`);
//! - `kubectl delete` DELETE with a JSON DeleteOptions body without apiVersion/kind, e.g.
//!   `{"propagationPolicy":"Background"}` or `{"gracePeriodSeconds":5,"propagationPolicy":
//!   "Foreground"}`;
//! - `kubectl drain` POST `/api/v1/namespaces/default/pods/p1/eviction` (`application/json`,
//!   policy/v1 Eviction with `deleteOptions: {}`), after a strategic-merge PATCH of the node;
//! - `kubectl scale` PATCH `.../deployments/web/scale` (`application/merge-patch+json`,
//!   `{"spec":{"replicas":0}}`, no query; it expects an autoscaling/v1 Scale back);
//! - `kubectl debug p1` (ephemeral) PATCH `/api/v1/namespaces/default/pods/p1/ephemeralcontainers`
//!   (`application/strategic-merge-patch+json`);
//! - `kubectl label|annotate` PATCH `?fieldManager=kubectl-label|kubectl-annotate`
//!   (`application/merge-patch+json`); `kubectl set image`, `rollout restart`, `taint`, `cordon`
//!   PATCH (`application/strategic-merge-patch+json`, `fieldManager=kubectl-set|kubectl-rollout|
//!   kubectl-taint`).
//!
//! Go's protobuf encoder writes every non-pointer field, so these bodies carry `generateName: ""`,
//! `generation: 0`, `status: {phase: ""}` and so on; the decoded JSON must not.

mod common;

use common::data;
use serde_json::{Value, json};
use sim::protobuf::decode_body;

fn decode(name: &str) -> Value {
    let body = data::bytes(&format!("protobuf/kubectl-{name}.pb"));
    decode_body(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn create_namespace_is_just_the_name() {
    assert_eq!(
        decode("create-namespace"),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"},
               "spec": {}, "status": {}})
    );
}

#[test]
fn create_deployment_keeps_replicas_labels_and_empty_structs() {
    assert_eq!(
        decode("create-deployment"),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "labels": {"app": "web"}},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                        "strategy": {},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                                                              "resources": {}}]}}},
               "status": {}})
    );
}

#[test]
fn create_deployment_with_port_and_two_images() {
    let d = decode("create-deployment-ports");
    assert_eq!(d["spec"]["replicas"], 1);
    let containers = &d["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        containers[0],
        json!({"name": "nginx", "image": "nginx:1.27",
                                     "ports": [{"containerPort": 80}], "resources": {}})
    );
    assert_eq!(
        containers[1],
        json!({"name": "redis", "image": "redis:7", "resources": {}})
    );
}

#[test]
fn create_configmap_data() {
    assert_eq!(
        decode("create-configmap"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
               "data": {"a": "b", "greeting": "hello world"}})
    );
}

#[test]
fn secret_data_is_base64_as_in_json() {
    assert_eq!(
        decode("create-secret-generic"),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
               "data": {"k": "dg==", "password": "cEBzczp3MHJkIQ=="}})
    );
    let docker = decode("create-secret-docker-registry");
    assert_eq!(docker["type"], "kubernetes.io/dockerconfigjson");
    assert_eq!(
        docker["data"][".dockerconfigjson"],
        "eyJhdXRocyI6eyJyLmlvIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImF1dGgiOiJkVHB3In19fQ=="
    );
    let tls = decode("create-secret-tls");
    assert_eq!(tls["type"], "kubernetes.io/tls");
    let cert = tls["data"]["tls.crt"].as_str().unwrap_or_default();
    assert!(
        cert.starts_with("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"),
        "{cert}"
    );
    let file = decode("create-secret-file");
    assert!(
        file["data"]["kubeconfig"]
            .as_str()
            .is_some_and(|s| s.starts_with("YXBpVmVyc2lvbjog"))
    );
    assert_eq!(
        decode("create-secret-dry-run-server")["data"],
        json!({"k": "dg=="})
    );
}

#[test]
fn create_job_variants() {
    assert_eq!(
        decode("create-job"),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
               "spec": {"template": {"metadata": {},
                                     "spec": {"containers": [{"name": "j", "image": "busybox",
                                                              "resources": {}}],
                                              "restartPolicy": "Never"}}},
               "status": {}})
    );
    let command = decode("create-job-command");
    assert_eq!(
        command["spec"]["template"]["spec"]["containers"][0]["command"],
        json!(["echo", "hi"])
    );
    let from = decode("create-job-from-cronjob");
    assert_eq!(
        from["metadata"],
        json!({"name": "j2", "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
               "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "x",
                                    "uid": "11111111-2222-3333-4444-555555555555",
                                    "controller": true}]})
    );
    assert_eq!(
        from["spec"]["template"]["spec"]["restartPolicy"],
        "OnFailure"
    );
}

#[test]
fn create_cronjob() {
    let cj = decode("create-cronjob");
    assert_eq!(cj["spec"]["schedule"], "*/1 * * * *");
    assert_eq!(cj["spec"]["jobTemplate"]["metadata"], json!({"name": "cj"}));
    let pod = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0],
        json!({"name": "cj", "image": "busybox", "command": ["date"],
                                            "resources": {}})
    );
    assert_eq!(pod["restartPolicy"], "OnFailure");
    assert!(cj["spec"].get("suspend").is_none());
}

#[test]
fn services_int_and_named_target_ports() {
    assert_eq!(
        decode("create-service-clusterip"),
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "svc", "labels": {"app": "svc"}},
               "spec": {"ports": [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                        "selector": {"app": "svc"}, "type": "ClusterIP"},
               "status": {"loadBalancer": {}}})
    );
    assert_eq!(
        decode("create-service-named-port")["spec"]["ports"][0]["targetPort"],
        "http"
    );
    assert_eq!(
        decode("create-service-headless")["spec"]["clusterIP"],
        "None"
    );
    assert_eq!(
        decode("create-service-nodeport")["spec"]["ports"][0]["nodePort"],
        30001
    );
    assert_eq!(
        decode("create-service-loadbalancer")["spec"]["type"],
        "LoadBalancer"
    );
    let external = decode("create-service-externalname");
    assert_eq!(external["spec"]["externalName"], "example.com");
    assert!(external["spec"].get("ports").is_none());
}

#[test]
fn rbac_objects_keep_empty_core_group() {
    let role = decode("create-role");
    assert_eq!(
        role["rules"],
        json!([{"apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"], "verbs": ["get", "list"]},
               {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["a"],
                "verbs": ["get", "list"]}])
    );
    assert_eq!(
        decode("create-rolebinding")["subjects"],
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"},
               {"kind": "ServiceAccount", "name": "sa1", "namespace": "default"}])
    );
    assert_eq!(
        decode("create-clusterrole")["rules"],
        json!([{"nonResourceURLs": ["/logs/*"], "verbs": ["get"]}])
    );
    assert_eq!(
        decode("create-clusterrole-aggregated")["aggregationRule"],
        json!({"clusterRoleSelectors": [{"matchLabels": {"foo": "bar"}}]})
    );
    assert_eq!(
        decode("create-clusterrolebinding")["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cr"})
    );
}

#[test]
fn pdb_int_or_string_and_required_status_counters() {
    let min = decode("create-pdb-min-available");
    assert_eq!(
        min["spec"],
        json!({"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}})
    );
    // Non-omitempty Go fields keep their zero value, as Go's JSON does.
    assert_eq!(
        min["status"],
        json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0})
    );
    assert_eq!(
        decode("create-pdb-max-unavailable")["spec"]["maxUnavailable"],
        "50%"
    );
}

#[test]
fn other_create_commands() {
    assert_eq!(
        decode("create-serviceaccount"),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa1"}})
    );
    assert_eq!(
        decode("create-quota")["spec"],
        json!({"hard": {"cpu": "1", "memory": "1Gi", "pods": "10"}, "scopes": ["BestEffort"]})
    );
    assert_eq!(
        decode("create-priorityclass"),
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "pc"},
               "value": 1000, "description": "hi", "preemptionPolicy": "Never"})
    );
    assert_eq!(
        decode("create-ingress")["spec"],
        json!({"rules": [{"host": "foo.com", "http": {"paths": [{"path": "/bar", "pathType": "Exact",
            "backend": {"service": {"name": "svc1", "port": {"number": 8080}}}}]}}]})
    );
    assert_eq!(
        decode("create-token"),
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {},
               "spec": {"expirationSeconds": 3600}, "status": {"token": ""}})
    );
    assert_eq!(
        decode("autoscale")["spec"],
        json!({"maxReplicas": 3, "minReplicas": 1, "targetCPUUtilizationPercentage": 50,
               "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}})
    );
    assert_eq!(
        decode("auth-can-i")["spec"],
        json!({"resourceAttributes": {"namespace": "default", "resource": "pods", "verb": "get"}})
    );
}

#[test]
fn debug_pods() {
    let node = decode("debug-node");
    let spec = &node["spec"];
    assert_eq!(spec["nodeName"], "n1");
    assert_eq!(
        (spec["hostPID"].clone(), spec["hostNetwork"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(
        spec["volumes"],
        json!([{"name": "host-root", "hostPath": {"path": "/"}}])
    );
    assert_eq!(spec["tolerations"], json!([{"operator": "Exists"}]));
    let copy = decode("debug-copy-to");
    assert_eq!(
        copy["metadata"],
        json!({"name": "p1-debug", "namespace": "default"})
    );
    assert_eq!(copy["spec"]["containers"][1]["image"], "busybox");
}

/// kubectl fed a Pod whose every struct was present and every scalar unset: Go writes all its
/// non-pointer scalars as zero, and none of them may show up, while present structs stay.
#[test]
fn go_zero_values_vanish_but_present_structs_stay() {
    let pod = decode("debug-copy-to-skeleton");
    let spec = &pod["spec"];
    assert!(spec.get("hostNetwork").is_none() && spec.get("dnsPolicy").is_none());
    assert!(spec.get("automountServiceAccountToken").is_none());
    let container = &spec["containers"][0];
    assert_eq!(container["name"], "c");
    assert_eq!(
        container["securityContext"],
        json!({"appArmorProfile": {"type": ""}, "capabilities": {}, "seLinuxOptions": {},
               "seccompProfile": {"type": ""}, "windowsOptions": {}})
    );
    let volume = &spec["volumes"][0];
    assert_eq!(volume["emptyDir"], json!({}));
    assert_eq!(
        volume["secret"],
        json!({"items": [{"key": "", "path": ""}]})
    );
    assert_eq!(volume["name"], "");
    assert_eq!(
        container["livenessProbe"],
        json!({"exec": {}, "grpc": {"port": 0}, "httpGet": {"httpHeaders": [{"name": "", "value": ""}],
               "port": 0}, "tcpSocket": {"port": 0}})
    );
    assert_eq!(
        container["env"][0]["valueFrom"]["configMapKeyRef"],
        json!({"key": "", "name": ""}),
        "inline LocalObjectReference fields land in the parent; `name` is required in the OpenAPI"
    );
}
