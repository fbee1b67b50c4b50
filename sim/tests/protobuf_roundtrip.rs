//! Round trips: a realistic object of every served kind goes through k8s-openapi (which checks
//! the field names and gives Kubernetes' own JSON), `encode_body` and `decode_body`, and must
//! come back equal. Plus bodies built by an independent encoder (k8s-rs-pb's generated types).

use protobuf::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sim::protobuf::{SUPPORTED_KINDS, decode_body, encode_body};

use k8s_openapi::api::{
    admissionregistration::v1 as admission, apps::v1 as apps, autoscaling::v1 as autoscaling,
    batch::v1 as batch, core::v1 as core, policy::v1 as policy, rbac::v1 as rbac,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;

fn round_trip<T: DeserializeOwned + Serialize>(input: Value) -> Value {
    let typed: T = serde_json::from_value(input).expect("k8s-openapi accepts the object");
    let original = serde_json::to_value(&typed).expect("serialises");
    let body = encode_body(&original).expect("encodes");
    assert!(body.starts_with(b"k8s\0"));
    let decoded = decode_body(&body).expect("decodes");
    assert_eq!(decoded, original);
    decoded
}

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "uid": "6f2b1c1e-0000-4000-8000-000000000001",
           "resourceVersion": "42", "generation": 3, "creationTimestamp": "2026-11-26T12:00:00Z",
           "labels": {"app": name, "tier": "web"}, "annotations": {"note": "kept as is"},
           "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                "uid": "u-1", "controller": true, "blockOwnerDeletion": false}],
           "finalizers": ["example.com/guard"]})
}

fn pod_spec() -> Value {
    json!({
        "automountServiceAccountToken": false,
        "terminationGracePeriodSeconds": 0,
        "securityContext": {},
        "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "true"],
                            "restartPolicy": "Always"}],
        "containers": [{
            "name": "app", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
            "args": ["--port", "8080"],
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": "PLAIN", "value": "v"},
                    {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a", "optional": false}}},
                    {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
            "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}, {"name": "config", "mountPath": "/etc/cfg", "readOnly": true}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "httpHeaders": [{"name": "X", "value": ""}]},
                              "initialDelaySeconds": 5, "periodSeconds": 10},
            "readinessProbe": {"tcpSocket": {"port": 8080}},
            "startupProbe": {"exec": {"command": ["cat", "/ready"]}, "failureThreshold": 30},
            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
            "securityContext": {"privileged": false, "runAsUser": 0, "runAsNonRoot": false,
                                "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                                "seccompProfile": {"type": "RuntimeDefault"}}
        }],
        "volumes": [{"name": "scratch", "emptyDir": {}},
                    {"name": "config", "configMap": {"name": "cfg", "defaultMode": 420,
                                                     "items": [{"key": "a", "path": "a.txt"}]}},
                    {"name": "sized", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                    {"name": "proj", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute", "tolerationSeconds": 0}],
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}}}]}},
        "serviceAccountName": "sa1",
        "imagePullSecrets": [{"name": "reg"}]
    })
}

fn template() -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": pod_spec()})
}

#[test]
fn workloads() {
    let deployment = round_trip::<apps::Deployment>(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web"),
        "spec": {"replicas": 0, "revisionHistoryLimit": 0, "selector": {"matchLabels": {"app": "web"}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
                 "template": template()},
        "status": {"replicas": 2, "conditions": [{"type": "Available", "status": "True",
                   "lastTransitionTime": "2026-11-26T12:00:00Z", "reason": "MinimumReplicasAvailable"}]}
    }));
    // Pointers set to zero survive; present-but-empty structs too.
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 0);
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    let pod = &spec["template"]["spec"];
    assert_eq!(
        pod["volumes"][0],
        json!({"name": "scratch", "emptyDir": {}})
    );
    assert_eq!(pod["securityContext"], json!({}));
    assert_eq!(pod["containers"][0]["securityContext"]["runAsUser"], 0);
    assert_eq!(pod["containers"][0]["securityContext"]["privileged"], false);
    assert_eq!(pod["automountServiceAccountToken"], false);

    round_trip::<apps::ReplicaSet>(
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta("rs"),
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template()},
        "status": {"replicas": 0, "readyReplicas": 1}}),
    );
    // An embedded object's apiVersion/kind (Go's TypeMeta) has no protobuf field: like Go,
    // the round trip loses it.
    let statefulset: apps::StatefulSet = serde_json::from_value(json!({"apiVersion": "apps/v1",
        "kind": "StatefulSet", "metadata": meta("db"),
        "spec": {"serviceName": "db", "replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template(),
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                 "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                     "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "",
                              "resources": {"requests": {"storage": "1Gi"}}}}]}}))
    .expect("k8s-openapi accepts the object");
    let mut original = serde_json::to_value(&statefulset).expect("serialises");
    let decoded = decode_body(&encode_body(&original).expect("encodes")).expect("decodes");
    let claim = original["spec"]["volumeClaimTemplates"][0].as_object_mut();
    let removed = claim.map(|c| (c.remove("apiVersion"), c.remove("kind")));
    assert_eq!(
        removed,
        Some((Some(json!("v1")), Some(json!("PersistentVolumeClaim"))))
    );
    assert_eq!(decoded, original);
    assert_eq!(
        decoded["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"],
        ""
    );
    round_trip::<apps::DaemonSet>(
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta("agent"),
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template(),
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}},
        "status": {"currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberMisscheduled": 0, "numberReady": 0}}),
    );
    round_trip::<core::ReplicationController>(
        json!({"apiVersion": "v1", "kind": "ReplicationController",
        "metadata": meta("rc"), "spec": {"replicas": 1, "selector": {"app": "web"}, "template": template()}}),
    );
    round_trip::<batch::Job>(
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("j"),
        "spec": {"backoffLimit": 0, "completions": 1, "parallelism": 1, "ttlSecondsAfterFinished": 60, "suspend": false,
                 "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]},
                 "template": template()},
        "status": {"startTime": "2026-11-26T12:00:00Z", "active": 1}}),
    );
    round_trip::<batch::CronJob>(
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("cj"),
        "spec": {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid", "suspend": false,
                 "successfulJobsHistoryLimit": 0,
                 "jobTemplate": {"metadata": {"labels": {"a": "b"}}, "spec": {"template": template()}}},
        "status": {"lastScheduleTime": "2026-11-26T12:05:00Z"}}),
    );
    let pod = round_trip::<core::Pod>(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta("p"), "spec": pod_spec(),
        "status": {"phase": "Running", "podIP": "10.0.0.5", "startTime": "2026-11-26T12:00:00Z",
                   "conditions": [{"type": "Ready", "status": "False"}],
                   "containerStatuses": [{"name": "app", "image": "nginx:1.27", "imageID": "", "ready": false,
                                          "restartCount": 0, "started": false,
                                          "state": {"running": {"startedAt": "2026-11-26T12:00:01Z"}}}]}}),
    );
    assert_eq!(pod["status"]["containerStatuses"][0]["restartCount"], 0);
}

#[test]
fn core_objects() {
    round_trip::<core::Namespace>(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
    );
    round_trip::<core::Service>(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("svc"),
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "clusterIP": "10.96.0.10",
                 "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                           {"name": "alt", "port": 8443, "targetPort": 8443, "nodePort": 30443, "appProtocol": ""}],
                 "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}},
                 "allocateLoadBalancerNodePorts": false, "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}),
    );
    round_trip::<core::Endpoints>(
        json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": meta("svc"),
        "subsets": [{"addresses": [{"ip": "10.0.0.5", "nodeName": "n1",
                                    "targetRef": {"kind": "Pod", "name": "p", "namespace": "default"}}],
                     "notReadyAddresses": [{"ip": "10.0.0.6"}],
                     "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]}),
    );
    round_trip::<core::ConfigMap>(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cfg"),
        "data": {"a": "b", "empty": ""}, "binaryData": {"blob": "AAECAwQ="}, "immutable": false}),
    );
    let secret = round_trip::<core::Secret>(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("s"),
        "type": "Opaque", "data": {"k": "dg==", "empty": "", "binary": "/wD+AQ=="}, "immutable": true}),
    );
    assert_eq!(secret["data"]["k"], "dg==");
    round_trip::<core::ServiceAccount>(
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("sa1"),
        "automountServiceAccountToken": false, "secrets": [{"name": "tok"}], "imagePullSecrets": [{"name": "reg"}]}),
    );
    round_trip::<core::Event>(
        json!({"apiVersion": "v1", "kind": "Event", "metadata": meta("p.1"),
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default", "uid": "u"},
        "reason": "Scheduled", "message": "assigned", "type": "Normal", "count": 1,
        "source": {"component": "scheduler"}, "firstTimestamp": "2026-11-26T12:00:00Z",
        "lastTimestamp": "2026-11-26T12:00:00Z", "eventTime": "2026-11-26T12:00:00.123456Z",
        "reportingComponent": "scheduler", "reportingInstance": "s-1", "action": "Binding"}),
    );
    round_trip::<core::Node>(
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"a": "b"}},
        "spec": {"podCIDR": "10.0.0.0/24", "unschedulable": true,
                 "taints": [{"key": "k", "value": "v", "effect": "NoSchedule", "timeAdded": "2026-11-26T12:00:00Z"}]},
        "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"}, "allocatable": {"cpu": "3800m"},
                   "addresses": [{"type": "InternalIP", "address": "192.0.2.10"}],
                   "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-11-26T12:00:00Z"}],
                   "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                   "nodeInfo": {"machineID": "m", "systemUUID": "s", "bootID": "b", "kernelVersion": "6.1",
                                "osImage": "Debian", "containerRuntimeVersion": "containerd://1.7",
                                "kubeletVersion": "v1.32.0", "kubeProxyVersion": "", "operatingSystem": "linux",
                                "architecture": "amd64"}}}),
    );
    round_trip::<core::Binding>(
        json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p", "namespace": "default"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}),
    );
}

#[test]
fn policy_rbac_and_scale() {
    round_trip::<policy::PodDisruptionBudget>(
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": meta("pdb"), "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}},
                                          "unhealthyPodEvictionPolicy": "AlwaysAllow"}}),
    );
    let eviction = round_trip::<policy::Eviction>(
        json!({"apiVersion": "policy/v1", "kind": "Eviction",
        "metadata": {"name": "p", "namespace": "default"},
        "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "u"}, "dryRun": ["All"]}}),
    );
    assert_eq!(eviction["deleteOptions"]["gracePeriodSeconds"], 0);
    let rule =
        json!({"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]});
    round_trip::<rbac::Role>(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": meta("r"), "rules": [rule]}),
    );
    round_trip::<rbac::ClusterRole>(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "cr"}, "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}],
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "true"}}]}}),
    );
    let subjects = json!([{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
                          {"kind": "ServiceAccount", "name": "sa1", "namespace": "default"}]);
    round_trip::<rbac::RoleBinding>(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": meta("rb"), "subjects": subjects,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}}),
    );
    round_trip::<rbac::ClusterRoleBinding>(json!({"apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding", "metadata": {"name": "crb"}, "subjects": subjects,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cr"}}));
    round_trip::<autoscaling::Scale>(
        json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": meta("web"),
        "spec": {"replicas": 3}, "status": {"replicas": 0, "selector": "app=web"}}),
    );
}

#[test]
fn admission_webhooks_and_crds() {
    let webhook = json!({
        "name": "check.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
        "failurePolicy": "Fail", "timeoutSeconds": 5, "matchPolicy": "Equivalent",
        "clientConfig": {"service": {"namespace": "sys", "name": "hook", "path": "/validate", "port": 8443},
                         "caBundle": "LS0tLS1CRUdJTg=="},
        "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["", "apps"], "apiVersions": ["v1"],
                   "resources": ["pods", "deployments"], "scope": "Namespaced"}],
        "namespaceSelector": {"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]},
        "matchConditions": [{"name": "not-system", "expression": "request.namespace != 'kube-system'"}]
    });
    let validating = round_trip::<admission::ValidatingWebhookConfiguration>(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "v"}, "webhooks": [webhook.clone()]}));
    assert_eq!(validating["webhooks"][0]["rules"][0]["scope"], "Namespaced");
    let mut mutating = webhook;
    mutating["reinvocationPolicy"] = json!("IfNeeded");
    mutating["clientConfig"] = json!({"url": "https://hook.example.com/mutate"});
    round_trip::<admission::MutatingWebhookConfiguration>(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "m"}, "webhooks": [mutating]}));
    let crd = round_trip::<apiext::CustomResourceDefinition>(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList",
                           "shortNames": ["wd"]},
                 "versions": [
                     {"name": "v1", "served": true, "storage": true,
                      "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                               "statusReplicasPath": ".status.replicas"}},
                      "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
                      "schema": {"openAPIV3Schema": {
                          "type": "object", "required": ["spec"],
                          "x-kubernetes-validations": [{"rule": "self.spec.size <= 10", "message": "too big"}],
                          "properties": {
                              "spec": {"type": "object", "properties": {
                                  "size": {"type": "integer", "minimum": 0.5, "maximum": 10.5, "default": 1},
                                  "mode": {"type": "string", "enum": ["fast", "slow"]},
                                  "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                                  "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                  "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                                  "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}}},
                              "status": {"type": "object", "additionalProperties": false}}}}},
                     {"name": "v1beta1", "served": false, "storage": false, "deprecated": true,
                      "deprecationWarning": "use v1", "schema": {"openAPIV3Schema": {"type": "object",
                                                                                    "x-kubernetes-preserve-unknown-fields": true}}}]},
        "status": {"storedVersions": ["v1"]}}));
    let versions = &crd["spec"]["versions"];
    assert_eq!(
        (
            versions[1]["served"].clone(),
            versions[1]["storage"].clone()
        ),
        (json!(false), json!(false))
    );
    let props = &versions[0]["schema"]["openAPIV3Schema"]["properties"];
    assert_eq!(props["status"]["additionalProperties"], false);
    assert_eq!(props["spec"]["properties"]["size"]["default"], 1);
}

#[test]
fn delete_options_under_any_api_version() {
    for api_version in ["v1", "meta.k8s.io/v1", "apps/v1"] {
        let options = json!({"apiVersion": api_version, "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                             "propagationPolicy": "Foreground", "orphanDependents": false});
        let body = encode_body(&options).expect("encodes");
        assert_eq!(decode_body(&body).expect("decodes"), options);
    }
}

#[test]
fn go_omitempty_zero_values_are_dropped_but_pointers_kept() {
    // What Go's encoder writes for an unset non-pointer field equals an explicit zero on the wire.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "generateName": "", "generation": 0},
        "spec": {"hostNetwork": false, "dnsPolicy": "", "enableServiceLinks": false, "priority": 0,
                 "containers": [{"name": "c", "image": "i", "stdin": false, "ports": [{"containerPort": 80, "hostPort": 0}],
                                 "readinessProbe": {"httpGet": {"port": 0}}}]}});
    let decoded = decode_body(&encode_body(&pod).expect("encodes")).expect("decodes");
    assert_eq!(
        decoded,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"enableServiceLinks": false, "priority": 0,
                        "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}],
                                        "readinessProbe": {"httpGet": {"port": 0}}}]}})
    );
}

#[test]
fn every_supported_kind_round_trips_a_minimal_object() {
    for (api_version, kind) in SUPPORTED_KINDS {
        let object = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}});
        let body = encode_body(&object).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(
            decode_body(&body).unwrap_or_else(|e| panic!("{kind}: {e}")),
            object
        );
    }
}

/// A body made by k8s-rs-pb's generated encoder, not by `encode_body`.
#[test]
fn decodes_a_body_from_an_independent_encoder() {
    use k8s_rs_pb::api::core::v1::Secret;
    use k8s_rs_pb::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use k8s_rs_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};

    let mut metadata = ObjectMeta::new();
    metadata.set_name("s".to_owned());
    metadata.set_namespace(String::new());
    let mut created = Time::new();
    created.set_seconds(1_795_608_000);
    created.set_nanos(0);
    metadata.creationTimestamp = Some(created).into();
    let mut secret = Secret::new();
    secret.metadata = Some(metadata).into();
    secret.data.insert("k".to_owned(), b"v".to_vec());
    secret.set_type("Opaque".to_owned());
    secret.set_immutable(false);
    let mut type_meta = TypeMeta::new();
    type_meta.set_apiVersion("v1".to_owned());
    type_meta.set_kind("Secret".to_owned());
    let mut unknown = Unknown::new();
    unknown.typeMeta = Some(type_meta).into();
    unknown.set_raw(secret.write_to_bytes().expect("secret encodes"));
    unknown.set_contentEncoding(String::new());
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.write_to_bytes().expect("envelope encodes"));
    assert_eq!(
        decode_body(&body).expect("decodes"),
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "s", "creationTimestamp": "2026-11-25T12:00:00Z"},
               "type": "Opaque", "immutable": false, "data": {"k": "dg=="}})
    );
}
