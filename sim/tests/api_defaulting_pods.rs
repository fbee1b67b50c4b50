//! Pods as clients and validating webhooks see them after create and update: the QoS class and
//! what the built-in admission plugins kube-apiserver v1.32.9 runs by default add
//! (ServiceAccount's token volume, Priority, DefaultTolerationSeconds), checked against what a
//! real one returned for the same requests. Other kinds: `api_defaulting.rs`.

mod admission_support;
mod common;

use admission_support::{Answer, configure, setup, webhook};
use common::api::{create_and_get, raw};
use common::objects::pod;
use common::start;
use serde_json::json;

const NS: &str = "/api/v1/namespaces/default";

#[tokio::test]
async fn pods_get_their_qos_class_from_requests_and_limits() {
    let (_sim, client) = start::api().await;
    let pods = format!("{NS}/pods");
    let burstable = create_and_get(
        &client,
        &pods,
        pod(
            "burst",
            json!({"containers": [
        {"name": "c", "image": "busybox:latest", "resources": {"requests": {"cpu": "100m"}}}]}),
        ),
    )
    .await;
    assert_eq!(
        burstable["status"],
        json!({"phase": "Pending", "qosClass": "Burstable"})
    );

    let guaranteed = create_and_get(&client, &pods, pod("guaranteed", json!({"containers": [
        {"name": "c", "image": "registry.local:5000/busybox", "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}}]}))).await;
    assert_eq!(guaranteed["status"]["qosClass"], "Guaranteed");
    assert_eq!(
        guaranteed["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "100m", "memory": "64Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}}),
        "limits stand in for missing requests"
    );

    let best_effort = create_and_get(
        &client,
        &pods,
        pod(
            "besteffort",
            json!({"containers": [{"name": "c", "image": "busybox"}]}),
        ),
    )
    .await;
    assert_eq!(best_effort["status"]["qosClass"], "BestEffort");
}

#[tokio::test]
async fn a_pod_runs_as_the_default_service_account_with_a_projected_token_volume() {
    let (_sim, client) = start::api().await;
    let stored = create_and_get(&client, &format!("{NS}/pods"), pod("burst", json!({
        "containers": [{"name": "c", "image": "busybox:latest", "resources": {"requests": {"cpu": "100m"}}}],
        "initContainers": [{"name": "i", "image": "busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000"}],
    }))).await;
    let spec = &stored["spec"];
    let volume = spec["volumes"][0]["name"].as_str().unwrap().to_string();
    let suffix = volume.strip_prefix("kube-api-access-").unwrap();
    assert_eq!(suffix.len(), 5, "{volume}");
    let mount = json!([{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": volume, "readOnly": true}]);
    // What kube-apiserver v1.32.9 stored for the same pod, but for the volume's random name.
    assert_eq!(
        *spec,
        json!({
            "containers": [{"image": "busybox:latest", "imagePullPolicy": "Always", "name": "c",
                "resources": {"requests": {"cpu": "100m"}},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "volumeMounts": mount}],
            "dnsPolicy": "ClusterFirst", "enableServiceLinks": true,
            "initContainers": [{"image": "busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "imagePullPolicy": "IfNotPresent", "name": "i", "resources": {},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "volumeMounts": mount}],
            "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
            "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {},
            "serviceAccount": "default", "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
            "tolerations": [
                {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
                {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300},
            ],
            "volumes": [{"name": volume, "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}},
            ]}}],
        })
    );
}

#[tokio::test]
async fn automounting_can_be_turned_off_by_the_pod_or_its_service_account() {
    let (_sim, client) = start::api().await;
    let pods = format!("{NS}/pods");
    let stored = create_and_get(
        &client,
        &pods,
        pod(
            "off",
            json!({"automountServiceAccountToken": false,
        "containers": [{"name": "c", "image": "busybox"}]}),
        ),
    )
    .await;
    assert_eq!(stored["spec"]["serviceAccountName"], "default");
    assert!(
        stored["spec"].get("volumes").is_none(),
        "{:#}",
        stored["spec"]
    );
    assert!(
        stored["spec"]["containers"][0]
            .get("volumeMounts")
            .is_none()
    );

    let account = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "quiet"},
        "automountServiceAccountToken": false, "imagePullSecrets": [{"name": "registry"}]});
    assert_eq!(
        raw(
            &client,
            "POST",
            &format!("{NS}/serviceaccounts"),
            Some(account)
        )
        .await
        .code,
        201
    );
    let stored = create_and_get(
        &client,
        &pods,
        pod(
            "quiet",
            json!({"serviceAccountName": "quiet",
        "containers": [{"name": "c", "image": "busybox"}]}),
        ),
    )
    .await;
    assert_eq!(stored["spec"]["serviceAccount"], "quiet");
    assert!(
        stored["spec"].get("volumes").is_none(),
        "{:#}",
        stored["spec"]
    );
    assert_eq!(
        stored["spec"]["imagePullSecrets"],
        json!([{"name": "registry"}]),
        "copied from the account"
    );

    let stored = create_and_get(
        &client,
        &pods,
        pod(
            "loud",
            json!({"serviceAccountName": "quiet",
        "automountServiceAccountToken": true, "containers": [{"name": "c", "image": "busybox"}]}),
        ),
    )
    .await;
    assert_eq!(
        stored["spec"]["volumes"].as_array().map(Vec::len),
        Some(1),
        "the pod's choice wins"
    );
}

#[tokio::test]
async fn a_pod_naming_a_missing_service_account_is_forbidden_as_kube_apiserver_words_it() {
    let (_sim, client) = start::api().await;
    let pods = format!("{NS}/pods");
    let refused = raw(
        &client,
        "POST",
        &pods,
        Some(pod(
            "nosa",
            json!({"serviceAccountName": "missing",
        "automountServiceAccountToken": false, "containers": [{"name": "c", "image": "busybox"}]}),
        )),
    )
    .await;
    assert_eq!(refused.code, 403, "{:#}", refused.body);
    assert_eq!(refused.body["reason"], "Forbidden");
    assert_eq!(
        refused.body["message"],
        "pods \"nosa\" is forbidden: error looking up service account default/missing: serviceaccount \"missing\" not found"
    );
    assert_eq!(
        refused.body["details"],
        json!({"name": "nosa", "kind": "pods"})
    );

    let generated = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "gen-"},
        "spec": {"serviceAccountName": "missing", "containers": [{"name": "c", "image": "busybox"}]}});
    let refused = raw(&client, "POST", &pods, Some(generated)).await;
    assert_eq!(
        refused.body["message"],
        "pods \"gen-\" is forbidden: error looking up service account default/missing: serviceaccount \"missing\" not found",
        "before its name is generated a pod is called by its prefix"
    );
    let listed = raw(&client, "GET", &pods, None).await;
    assert_eq!(listed.body["items"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn priority_classes_resolve_to_their_values() {
    let (_sim, client) = start::api().await;
    let pods = format!("{NS}/pods");
    let critical = create_and_get(
        &client,
        &pods,
        pod(
            "critical",
            json!({"priorityClassName": "system-node-critical",
        "containers": [{"name": "c", "image": "busybox"}]}),
        ),
    )
    .await;
    assert_eq!(critical["spec"]["priority"], 2_000_001_000);
    let refused = raw(
        &client,
        "POST",
        &pods,
        Some(pod(
            "unknown",
            json!({"priorityClassName": "gold",
        "containers": [{"name": "c", "image": "busybox"}]}),
        )),
    )
    .await;
    assert_eq!(refused.code, 403);
    assert_eq!(
        refused.body["message"],
        "pods \"unknown\" is forbidden: no PriorityClass with name gold was found"
    );
    let refused = raw(
        &client,
        "POST",
        &pods,
        Some(pod(
            "forged",
            json!({"priority": 7,
        "containers": [{"name": "c", "image": "busybox"}]}),
        )),
    )
    .await;
    assert_eq!(
        refused.body["message"],
        "pods \"forged\" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name"
    );
}

#[tokio::test]
async fn existing_tolerations_of_the_node_taints_are_left_alone() {
    let (_sim, client) = start::api().await;
    let own = json!([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]);
    let stored = create_and_get(
        &client,
        &format!("{NS}/pods"),
        pod(
            "tolerant",
            json!({"tolerations": own,
        "containers": [{"name": "c", "image": "busybox"}]}),
        ),
    )
    .await;
    assert_eq!(
        stored["spec"]["tolerations"],
        json!([own[0], {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}])
    );
}

#[tokio::test]
async fn a_validating_webhook_sees_the_defaulted_pod() {
    let setup = setup(|_, _| Answer::allow()).await;
    let (client, ca, hook) = (&setup.client, &setup.ca, &setup.hook);
    let rules = json!({"rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]});
    configure(
        client,
        "v",
        vec![webhook("w.example.com", "hook", "/validate", ca, rules)],
    )
    .await;
    let stored = create_and_get(client, &format!("{NS}/pods"), pod("seen", json!({"containers": [
        {"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}))).await;
    let reviews = hook.reviews();
    assert_eq!(reviews.len(), 1);
    let object = &reviews[0].1["request"]["object"];
    assert_eq!(
        object["spec"], stored["spec"],
        "the webhook saw the stored spec"
    );
    assert_eq!(object["spec"]["serviceAccountName"], "default");
    assert_eq!(object["spec"]["containers"][0]["imagePullPolicy"], "Always");
    assert_eq!(object["status"]["qosClass"], "Guaranteed");
}
