//! Deletions the cluster does on its own reach validating webhooks as they do on a real
//! cluster: the garbage collector's deletes of dependents and the namespace controller's
//! deletes of a namespace's contents are admitted under those controllers' identities, a
//! refusal keeps the object (retried with backoff), and the namespace stays `Terminating` with
//! the refusal in its `NamespaceDeletionContentFailure` condition meanwhile.

mod admission_support;
mod common;

use std::time::Duration;

use admission_support::{Answer, Ca, TestWebhook, configure, webhook};
use common::api::raw;
use common::poll::wait_for;
use serde_json::{Value, json};

const GARBAGE_COLLECTOR: &str = "system:serviceaccount:kube-system:generic-garbage-collector";
const NAMESPACE_CONTROLLER: &str = "system:serviceaccount:kube-system:namespace-controller";

/// Refuses to delete a ConfigMap labelled `guard: "true"`; allows everything else.
fn guard(_path: &str, review: &Value) -> Answer {
    let request = &review["request"];
    if request["operation"] == "DELETE"
        && request["oldObject"]["metadata"]["labels"]["guard"] == "true"
    {
        Answer::Deny {
            status: json!({"code": 403, "message": "this ConfigMap is guarded"}),
            warnings: vec![],
        }
    } else {
        Answer::allow()
    }
}

/// A cluster whose webhook sees every DELETE and UPDATE of ConfigMaps.
async fn cluster_with_guard() -> (sim::Simulator, kube::Client, TestWebhook) {
    let (sim, client) = common::start::cluster().await;
    let ca = Ca::new("server-side-deletes");
    let hook = TestWebhook::serve(&client, &ca, "guard", guard).await;
    let rules = json!({"rules": [{"operations": ["DELETE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}]});
    configure(
        &client,
        "guard",
        vec![webhook("guard.example.com", "guard", "/", &ca, rules)],
    )
    .await;
    (sim, client, hook)
}

/// The DELETE reviews of ConfigMap `name` (a deletecollection's items are named in oldObject).
fn deletes_of(hook: &TestWebhook, name: &str) -> Vec<Value> {
    hook.reviews()
        .into_iter()
        .map(|(_, review)| review["request"].clone())
        .filter(|request| {
            request["operation"] == "DELETE" && request["oldObject"]["metadata"]["name"] == name
        })
        .collect()
}

async fn create_config_map(client: &kube::Client, namespace: &str, metadata: Value) -> Value {
    let created = raw(
        client,
        "POST",
        &format!("/api/v1/namespaces/{namespace}/configmaps"),
        Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata})),
    )
    .await;
    assert_eq!(created.code, 201, "{:?}", created.body);
    created.body
}

async fn unguard(client: &kube::Client, namespace: &str, name: &str) {
    let patched = common::api::patch(
        client,
        &format!("/api/v1/namespaces/{namespace}/configmaps/{name}"),
        "application/merge-patch+json",
        json!({"metadata": {"labels": {"guard": null}}}),
    )
    .await;
    assert_eq!(patched.code, 200, "{:?}", patched.body);
}

async fn exists(client: &kube::Client, path: &str) -> bool {
    raw(client, "GET", path, None).await.code == 200
}

#[tokio::test(flavor = "multi_thread")]
async fn the_garbage_collectors_deletes_are_admitted_as_its_own_and_a_refused_one_is_retried() {
    let (_sim, client, hook) = cluster_with_guard().await;
    let owner = create_config_map(&client, "default", json!({"name": "owner"})).await;
    let reference = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]});
    let child = create_config_map(
        &client,
        "default",
        json!({"name": "child", "labels": {"guard": "true"}, "ownerReferences": [reference]}),
    )
    .await;
    let deleted = raw(
        &client,
        "DELETE",
        "/api/v1/namespaces/default/configmaps/owner",
        None,
    )
    .await;
    assert_eq!(deleted.code, 200, "{:?}", deleted.body);

    // The collector asks to delete the dependent, is refused, and asks again.
    let attempts = wait_for(
        "two refused deletes of the dependent",
        Duration::from_secs(10),
        || async {
            let attempts = deletes_of(&hook, "child");
            (attempts.len() >= 2).then_some(attempts)
        },
    )
    .await;
    let first = &attempts[0];
    assert_eq!(first["userInfo"]["username"], GARBAGE_COLLECTOR, "{first}");
    assert_eq!(first["name"], "child");
    assert_eq!(first["options"]["propagationPolicy"], "Background");
    assert_eq!(
        first["options"]["preconditions"]["uid"],
        child["metadata"]["uid"]
    );
    assert!(
        exists(&client, "/api/v1/namespaces/default/configmaps/child").await,
        "a refused delete keeps the dependent"
    );

    // Once the webhook lets it go, the next attempt deletes it.
    unguard(&client, "default", "child").await;
    wait_for(
        "the dependent to be collected",
        Duration::from_secs(15),
        || async {
            (!exists(&client, "/api/v1/namespaces/default/configmaps/child").await).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_namespace_controllers_deletes_are_admitted_and_a_refusal_keeps_the_namespace_terminating()
 {
    let (_sim, client, hook) = cluster_with_guard().await;
    let created = raw(
        &client,
        "POST",
        "/api/v1/namespaces",
        Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}})),
    )
    .await;
    assert_eq!(created.code, 201, "{:?}", created.body);
    create_config_map(
        &client,
        "doomed",
        json!({"name": "held", "labels": {"guard": "true"}}),
    )
    .await;
    let deleted = raw(&client, "DELETE", "/api/v1/namespaces/doomed", None).await;
    assert_eq!(deleted.code, 200, "{:?}", deleted.body);
    assert_eq!(deleted.body["status"]["phase"], "Terminating");

    let refused = wait_for(
        "the namespace controller's refused delete",
        Duration::from_secs(10),
        || async { deletes_of(&hook, "held").into_iter().next() },
    )
    .await;
    assert_eq!(
        refused["userInfo"]["username"], NAMESPACE_CONTROLLER,
        "{refused}"
    );
    // A deletecollection's items are admitted without a name.
    assert_eq!(refused["name"], Value::Null);
    assert_eq!(refused["options"]["propagationPolicy"], "Background");

    let condition = wait_for(
        "the content failure condition",
        Duration::from_secs(10),
        || async {
            let namespace = raw(&client, "GET", "/api/v1/namespaces/doomed", None)
                .await
                .body;
            namespace["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|condition| {
                    condition["type"] == "NamespaceDeletionContentFailure"
                        && condition["status"] == "True"
                })
                .cloned()
        },
    )
    .await;
    assert_eq!(condition["reason"], "ContentDeletionFailed");
    let message = condition["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Failed to delete all resource types, 1 remaining: admission webhook \"guard.example.com\" denied the request: this ConfigMap is guarded"),
        "{message}"
    );
    // Nothing new goes into a terminating namespace.
    let refused_create = raw(
        &client,
        "POST",
        "/api/v1/namespaces/doomed/configmaps",
        Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}})),
    )
    .await;
    assert_eq!(refused_create.code, 403, "{:?}", refused_create.body);

    unguard(&client, "doomed", "held").await;
    wait_for("the namespace to go", Duration::from_secs(15), || async {
        (!exists(&client, "/api/v1/namespaces/doomed").await).then_some(())
    })
    .await;
}
