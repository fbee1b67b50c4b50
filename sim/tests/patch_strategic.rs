//! Strategic merge patch: merge keys, directives, ordering, and a client-side `kubectl apply`.

mod common;

use common::patch::{DEPLOYMENT, request};
use serde_json::{Value, json};
use sim::patch::{PatchError, PatchTarget, PatchType, apply_patch, merge_key};

fn deployment(containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "finalizers": ["a", "b"]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": containers,
                    "tolerations": [{"key": "x", "operator": "Exists"}, {"key": "y", "operator": "Exists"}],
                },
            },
        },
    })
}

fn two_containers() -> Value {
    deployment(json!([
        {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
        {"name": "b", "image": "b:1"},
    ]))
}

fn strategic(current: &Value, patch: Value) -> Result<Value, PatchError> {
    let body = patch.to_string();
    apply_patch(
        &DEPLOYMENT,
        Some(current),
        &request(PatchType::StrategicMerge, body.as_bytes()),
    )
}

fn pod_spec(patch: Value) -> Value {
    json!({"spec": {"template": {"spec": patch}}})
}

fn containers(object: &Value) -> &Value {
    &object["spec"]["template"]["spec"]["containers"]
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap())
        .collect()
}

#[test]
fn container_list_merges_by_name() {
    let patched = strategic(
        &two_containers(),
        pod_spec(json!({"containers": [{"name": "b", "image": "b:2"}]})),
    )
    .unwrap();
    assert_eq!(
        containers(&patched),
        &json!([
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
            {"name": "b", "image": "b:2"},
        ])
    );
}

#[test]
fn set_element_order_orders_the_merged_list() {
    let patched = strategic(
        &two_containers(),
        pod_spec(json!({
            "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}],
            "containers": [{"name": "c", "image": "c:1"}],
        })),
    )
    .unwrap();
    assert_eq!(names(containers(&patched)), ["c", "b", "a"]);
}

#[test]
fn set_element_order_that_contradicts_the_patch_is_bad_request() {
    let error = strategic(
        &two_containers(),
        pod_spec(json!({
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "b:2"}, {"name": "a", "image": "a:2"}],
        })),
    )
    .unwrap_err();
    assert_eq!(error.code(), 400);
}

#[test]
fn new_item_without_order_directive_goes_before_live_items() {
    // upstream's mergeSortedSlice puts a patch item that is not live ahead of server-only items.
    let patched = strategic(
        &two_containers(),
        pod_spec(json!({"containers": [{"name": "c", "image": "c:1"}]})),
    )
    .unwrap();
    assert_eq!(names(containers(&patched)), ["c", "a", "b"]);
}

#[test]
fn patch_delete_directive_removes_an_item() {
    let patched = strategic(
        &two_containers(),
        pod_spec(json!({"containers": [{"name": "a", "$patch": "delete"}]})),
    )
    .unwrap();
    assert_eq!(names(containers(&patched)), ["b"]);
}

#[test]
fn patch_replace_directive_replaces_the_list() {
    let patched = strategic(
        &two_containers(),
        pod_spec(json!({"containers": [{"name": "z", "image": "z:1"}, {"$patch": "replace"}]})),
    )
    .unwrap();
    assert_eq!(
        containers(&patched),
        &json!([{"name": "z", "image": "z:1"}])
    );
}

#[test]
fn patch_replace_directive_replaces_a_map() {
    let patched = strategic(
        &two_containers(),
        json!({"spec": {"selector": {"$patch": "replace", "matchLabels": {"tier": "x"}}}}),
    )
    .unwrap();
    assert_eq!(
        patched["spec"]["selector"],
        json!({"matchLabels": {"tier": "x"}})
    );
}

#[test]
fn env_list_merges_by_name_inside_a_container() {
    let patched = strategic(
        &two_containers(),
        pod_spec(json!({"containers": [{"name": "a", "env": [{"name": "Y", "value": "3"}, {"name": "Z", "value": "4"}]}]})),
    )
    .unwrap();
    assert_eq!(
        containers(&patched)[0]["env"],
        json!([{"name": "X", "value": "1"}, {"name": "Y", "value": "3"}, {"name": "Z", "value": "4"}])
    );
}

#[test]
fn null_deletes_a_key() {
    let patched = strategic(
        &two_containers(),
        json!({"spec": {"replicas": null, "template": {"metadata": {"labels": {"app": null}}}}}),
    )
    .unwrap();
    assert!(patched["spec"].get("replicas").is_none());
    assert_eq!(patched["spec"]["template"]["metadata"]["labels"], json!({}));
}

#[test]
fn finalizers_merge_as_a_set() {
    let patched = strategic(
        &two_containers(),
        json!({"metadata": {"finalizers": ["b", "c"]}}),
    )
    .unwrap();
    assert_eq!(patched["metadata"]["finalizers"], json!(["a", "b", "c"]));
}

#[test]
fn delete_from_primitive_list_removes_finalizers() {
    let patched = strategic(
        &two_containers(),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
    )
    .unwrap();
    assert_eq!(patched["metadata"]["finalizers"], json!(["b"]));
}

#[test]
fn tolerations_are_replaced_atomically() {
    let patched = strategic(
        &two_containers(),
        pod_spec(json!({"tolerations": [{"key": "z", "operator": "Exists"}]})),
    )
    .unwrap();
    assert_eq!(
        patched["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "z", "operator": "Exists"}])
    );
}

#[test]
fn retain_keys_clears_unlisted_keys() {
    let mut current = two_containers();
    current["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}});
    let patched = strategic(
        &current,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    )
    .unwrap();
    assert_eq!(patched["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn retain_keys_must_list_every_patched_key() {
    let mut current = two_containers();
    current["spec"]["strategy"] = json!({"type": "RollingUpdate"});
    let error = strategic(
        &current,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
    )
    .unwrap_err();
    assert_eq!(error.code(), 422);
}

#[test]
fn item_without_its_merge_key_is_bad_request() {
    let error = strategic(
        &two_containers(),
        pod_spec(json!({"containers": [{"image": "x:1"}]})),
    )
    .unwrap_err();
    assert!(matches!(error, PatchError::BadRequest(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("does not contain declared merge key: name")
    );
}

#[test]
fn strategic_merge_on_a_custom_resource_is_unsupported_media_type() {
    let target = PatchTarget {
        api_version: "example.com/v1",
        kind: "Widget",
        builtin: false,
    };
    let current =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    let request = request(PatchType::StrategicMerge, b"{}");
    let error = apply_patch(&target, Some(&current), &request).unwrap_err();
    assert!(matches!(error, PatchError::UnsupportedMediaType(_)));
    assert_eq!(error.code(), 415);
    assert_eq!(
        error.to_string(),
        "the body of the request was in an unknown format - accepted media types include: \
         application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
}

#[test]
fn service_ports_merge_by_port() {
    let target = PatchTarget {
        api_version: "v1",
        kind: "Service",
        builtin: true,
    };
    let current = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]},
    });
    let body = json!({"spec": {"ports": [{"port": 443, "targetPort": 9443}]}}).to_string();
    let request = request(PatchType::StrategicMerge, body.as_bytes());
    let patched = apply_patch(&target, Some(&current), &request).unwrap();
    assert_eq!(
        patched["spec"]["ports"],
        json!([{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 9443}])
    );
}

#[test]
fn merge_key_table_covers_the_documented_fields() {
    let pod = |path: &str| merge_key("v1", "Pod", path);
    assert_eq!(pod("spec.containers"), Some("name"));
    assert_eq!(pod("spec.containers.ports"), Some("containerPort"));
    assert_eq!(pod("spec.containers.env"), Some("name"));
    assert_eq!(pod("spec.containers.volumeMounts"), Some("mountPath"));
    assert_eq!(pod("spec.containers.volumeDevices"), Some("devicePath"));
    assert_eq!(pod("spec.ephemeralContainers"), Some("name"));
    assert_eq!(pod("spec.volumes"), Some("name"));
    assert_eq!(pod("spec.imagePullSecrets"), Some("name"));
    assert_eq!(pod("spec.hostAliases"), Some("ip"));
    assert_eq!(pod("spec.topologySpreadConstraints"), Some("topologyKey"));
    assert_eq!(pod("spec.tolerations"), None);
    assert_eq!(pod("status.conditions"), Some("type"));
    assert_eq!(pod("status.containerStatuses"), None);
    assert_eq!(pod("metadata.ownerReferences"), Some("uid"));
    assert_eq!(merge_key("v1", "Service", "spec.ports"), Some("port"));
    assert_eq!(
        merge_key(
            "batch/v1",
            "CronJob",
            "spec.jobTemplate.spec.template.spec.containers"
        ),
        Some("name")
    );
    assert_eq!(
        merge_key("apps/v1", "Deployment", "status.conditions"),
        Some("type")
    );
}

/// The patch a second `kubectl apply` sends (CreateThreeWayMergePatch) after the image changed
/// and an env var was added: `$setElementOrder` for every merged list it touches, the new
/// last-applied annotation, and only the changed fields.
#[test]
fn client_side_apply_patch_updates_image_and_adds_env() {
    let first_config = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"annotations": {}, "name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"env": [{"name": "A", "value": "1"}], "image": "nginx:1.25", "name": "web"}]}}},
    });
    let second_config = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"annotations": {}, "name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "image": "nginx:1.26", "name": "web"}]}}},
    });
    let annotation = "kubectl.kubernetes.io/last-applied-configuration";
    let live = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "resourceVersion": "7", "generation": 1,
                     "annotations": {annotation: format!("{first_config}\n")}},
        "spec": {"replicas": 2, "revisionHistoryLimit": 10, "selector": {"matchLabels": {"app": "web"}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}],
                                                       "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"}],
                                       "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}}},
    });
    let patch = json!({
        "metadata": {"annotations": {annotation: format!("{second_config}\n")}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
                "env": [{"name": "B", "value": "2"}],
                "image": "nginx:1.26",
                "name": "web",
            }],
        }}},
    });
    let patched = strategic(&live, patch).unwrap();
    let container = &containers(&patched)[0];
    assert_eq!(container["image"], "nginx:1.26");
    assert_eq!(
        container["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    );
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        patched["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
        "25%"
    );
    assert_eq!(patched["metadata"]["uid"], "u-1");
    assert_eq!(
        patched["metadata"]["annotations"][annotation],
        format!("{second_config}\n")
    );
    // Nothing else moved.
    let mut expected = live.clone();
    expected["metadata"]["annotations"][annotation] = json!(format!("{second_config}\n"));
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.26");
    expected["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]);
    assert_eq!(patched, expected);
}
