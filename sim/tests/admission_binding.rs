//! `pods/binding`, what the scheduler posts: a CREATE of a `v1 Binding` on the subresource,
//! seen only by webhooks whose rules name it — so a webhook on `pods` does not stand between
//! an admitted pod and its node.

mod admission_support;
mod common;

use admission_support::{Answer, Ca, TestWebhook, configure, webhook};
use common::api::raw;
use common::objects::app_pod;
use common::start;
use serde_json::json;

const PODS: &str = "/api/v1/namespaces/default/pods";

#[tokio::test]
async fn a_binding_is_admitted_as_a_create_of_pods_binding_and_sets_the_node_once() {
    let (_sim, client) = start::api().await;
    let ca = Ca::new("webhooks");
    let pods_hook = TestWebhook::serve(&client, &ca, "pods-hook", |_, _| Answer::allow()).await;
    let binding_hook =
        TestWebhook::serve(&client, &ca, "binding-hook", |_, _| Answer::allow()).await;
    let rules = |resource: &str| {
        json!({"rules": [{"operations": ["*"], "apiGroups": [""], "apiVersions": ["v1"],
                          "resources": [resource]}]})
    };
    configure(
        &client,
        "v",
        vec![
            webhook("pods.example.com", "pods-hook", "/", &ca, rules("pods")),
            webhook(
                "binding.example.com",
                "binding-hook",
                "/",
                &ca,
                rules("pods/binding"),
            ),
        ],
    )
    .await;
    let created = raw(&client, "POST", PODS, Some(app_pod("web", json!({})))).await;
    assert_eq!(created.code, 201, "{:?}", created.body);
    pods_hook.clear();

    let binding = json!({"apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": "web", "namespace": "default"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "sim-node-1"}});
    let bound = raw(
        &client,
        "POST",
        &format!("{PODS}/web/binding"),
        Some(binding.clone()),
    )
    .await;
    assert_eq!(bound.code, 201, "{:?}", bound.body);
    assert_eq!(bound.body["status"], "Success");
    assert!(
        pods_hook.reviews().is_empty(),
        "a webhook on pods must not see the binding"
    );
    let reviews = binding_hook.reviews();
    assert_eq!(reviews.len(), 1);
    let request = &reviews[0].1["request"];
    assert_eq!(request["operation"], "CREATE");
    assert_eq!(request["subResource"], "binding");
    assert_eq!(
        request["kind"],
        json!({"group": "", "version": "v1", "kind": "Binding"})
    );
    assert_eq!(request["name"], "web");
    assert_eq!(request["object"]["target"]["name"], "sim-node-1");

    let stored = raw(&client, "GET", &format!("{PODS}/web"), None).await;
    assert_eq!(stored.body["spec"]["nodeName"], "sim-node-1");
    let again = raw(
        &client,
        "POST",
        &format!("{PODS}/web/binding"),
        Some(binding),
    )
    .await;
    assert_eq!(again.code, 409);
    assert_eq!(
        again.body["message"],
        "Operation cannot be fulfilled on pods/binding \"web\": pod web is already assigned to node \"sim-node-1\""
    );
    let missing = raw(
        &client,
        "POST",
        &format!("{PODS}/nope/binding"),
        Some(json!({"apiVersion": "v1", "kind": "Binding", "target": {"name": "sim-node-1"}})),
    )
    .await;
    assert_eq!(missing.code, 404);
}
