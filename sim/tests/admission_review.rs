//! What a validating webhook receives for each kind of write (reference `k8s-admission.md`
//! §2.1): the prepared object, generated names, operations, subresources, options, the caller's
//! identity, and a write that conflicts while it is being admitted being admitted again.

mod admission_support;
mod common;

use std::time::Duration;

use admission_support::{Answer, TestWebhook, configure, setup, webhook};
use common::api::{patch, raw};
use common::objects::app_pod;
use common::poll::eventually;
use serde_json::{Value, json};
use sim::auth::UserInfo;

const PODS: &str = "/api/v1/namespaces/default/pods";

/// Every `request` the webhook got since the last call.
fn take(hook: &TestWebhook) -> Vec<Value> {
    let reviews = hook.reviews();
    hook.clear();
    reviews
        .into_iter()
        .map(|(_, r)| r["request"].clone())
        .collect()
}

fn only(hook: &TestWebhook) -> Value {
    let requests = take(hook);
    assert_eq!(requests.len(), 1, "{requests:#?}");
    requests.into_iter().next().unwrap()
}

fn admin() -> Value {
    json!({"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]})
}

#[tokio::test]
async fn a_create_sends_the_prepared_object_with_its_generated_name() {
    let setup = setup(|_, _| Answer::allow()).await;
    configure(
        &setup.client,
        "v",
        vec![webhook(
            "w.example.com",
            "hook",
            "/validate",
            &setup.ca,
            json!({}),
        )],
    )
    .await;
    let body = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": "web-", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}});
    let created = raw(&setup.client, "POST", PODS, Some(body)).await;
    assert_eq!(created.code, 201);
    let reviews = setup.hook.reviews();
    assert_eq!(reviews.len(), 1);
    let (path, review) = &reviews[0];
    assert_eq!(path, "/validate?timeout=10s");
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(review["kind"], "AdmissionReview");
    let request = &review["request"];
    let name = created.body["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    let pod_kind = json!({"group": "", "version": "v1", "kind": "Pod"});
    let pods = json!({"group": "", "version": "v1", "resource": "pods"});
    assert_eq!(request["kind"], pod_kind);
    assert_eq!(request["resource"], pods);
    assert_eq!(request["requestKind"], pod_kind);
    assert_eq!(request["requestResource"], pods);
    assert!(request.get("subResource").is_none());
    assert_eq!(request["name"], name);
    assert_eq!(request["namespace"], "default");
    assert_eq!(request["operation"], "CREATE");
    assert_eq!(request["userInfo"], admin());
    assert_eq!(request["oldObject"], Value::Null);
    assert_eq!(request["dryRun"], false);
    assert_eq!(
        request["options"],
        json!({"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"})
    );
    assert!(request["uid"].as_str().is_some_and(|uid| uid.len() == 36));
    let object = &request["object"];
    assert_eq!(
        (object["apiVersion"].as_str(), object["kind"].as_str()),
        (Some("v1"), Some("Pod"))
    );
    assert_eq!(object["metadata"]["name"], name);
    assert_eq!(object["metadata"]["namespace"], "default");
    assert_eq!(object["status"]["phase"], "Pending");
    assert!(object["metadata"]["uid"].is_string());
}

#[tokio::test]
async fn updates_patches_subresources_and_deletes_are_admitted_as_kube_apiserver_does() {
    let setup = setup(|_, _| Answer::allow()).await;
    let client = &setup.client;
    let all = json!({"rules": [{"operations": ["*"], "apiGroups": ["", "apps"], "apiVersions": ["v1"],
                                "resources": ["pods", "pods/*", "deployments", "deployments/scale"]}]});
    configure(
        client,
        "v",
        vec![webhook("w.example.com", "hook", "/", &setup.ca, all)],
    )
    .await;
    assert_eq!(
        raw(
            client,
            "POST",
            PODS,
            Some(app_pod("p", json!({"app": "web"})))
        )
        .await
        .code,
        201
    );
    take(&setup.hook);

    // PUT
    let mut current = raw(client, "GET", &format!("{PODS}/p"), None).await.body;
    current["metadata"]["labels"]["tier"] = json!("front");
    assert_eq!(
        raw(
            client,
            "PUT",
            &format!("{PODS}/p?fieldManager=me"),
            Some(current)
        )
        .await
        .code,
        200
    );
    let request = only(&setup.hook);
    assert_eq!(request["operation"], "UPDATE");
    assert_eq!(request["name"], "p");
    assert_eq!(request["object"]["metadata"]["labels"]["tier"], "front");
    assert!(
        request["oldObject"]["metadata"]["labels"]
            .get("tier")
            .is_none()
    );
    assert_eq!(
        request["options"],
        json!({"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "me"})
    );

    // PATCH is an UPDATE
    let patched = patch(
        client,
        &format!("{PODS}/p"),
        "application/merge-patch+json",
        json!({"metadata": {"labels": {"patched": "yes"}}}),
    )
    .await;
    assert_eq!(patched.code, 200);
    let request = only(&setup.hook);
    assert_eq!(request["operation"], "UPDATE");
    assert_eq!(request["object"]["metadata"]["labels"]["patched"], "yes");

    // status and ephemeralcontainers subresources: the whole Pod, with subResource set.
    let mut status = raw(client, "GET", &format!("{PODS}/p"), None).await.body;
    status["status"]["phase"] = json!("Running");
    assert_eq!(
        raw(client, "PUT", &format!("{PODS}/p/status"), Some(status))
            .await
            .code,
        200
    );
    let request = only(&setup.hook);
    assert_eq!(
        (
            request["operation"].as_str(),
            request["subResource"].as_str()
        ),
        (Some("UPDATE"), Some("status"))
    );
    assert_eq!(request["requestSubResource"], "status");
    assert_eq!(request["kind"]["kind"], "Pod");
    assert_eq!(request["object"]["status"]["phase"], "Running");
    let debug =
        json!({"spec": {"ephemeralContainers": [{"name": "debugger", "image": "busybox"}]}});
    assert_eq!(
        patch(
            client,
            &format!("{PODS}/p/ephemeralcontainers"),
            "application/strategic-merge-patch+json",
            debug
        )
        .await
        .code,
        200
    );
    let request = only(&setup.hook);
    assert_eq!(request["subResource"], "ephemeralcontainers");
    assert_eq!(
        request["kind"],
        json!({"group": "", "version": "v1", "kind": "Pod"})
    );
    assert_eq!(
        request["object"]["spec"]["ephemeralContainers"][0]["image"],
        "busybox"
    );
    assert!(
        request["oldObject"]["spec"]
            .get("ephemeralContainers")
            .is_none()
    );

    // scale: an autoscaling/v1 Scale
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}}}});
    assert_eq!(
        raw(
            client,
            "POST",
            "/apis/apps/v1/namespaces/default/deployments",
            Some(deployment)
        )
        .await
        .code,
        201
    );
    take(&setup.hook);
    assert_eq!(
        patch(
            client,
            "/apis/apps/v1/namespaces/default/deployments/web/scale",
            "application/merge-patch+json",
            json!({"spec": {"replicas": 3}})
        )
        .await
        .code,
        200
    );
    let request = only(&setup.hook);
    assert_eq!(
        request["kind"],
        json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})
    );
    assert_eq!(
        request["resource"],
        json!({"group": "apps", "version": "v1", "resource": "deployments"})
    );
    assert_eq!(request["subResource"], "scale");
    assert_eq!(
        (
            request["object"]["spec"]["replicas"].as_i64(),
            request["oldObject"]["spec"]["replicas"].as_i64()
        ),
        (Some(3), Some(1))
    );

    // server-side apply that creates is a CREATE with CreateOptions
    let applied = app_pod("applied", json!({}));
    let path = format!("{PODS}/applied?fieldManager=tester");
    assert_eq!(
        patch(client, &path, "application/apply-patch+yaml", applied)
            .await
            .code,
        201
    );
    let request = only(&setup.hook);
    assert_eq!(request["operation"], "CREATE");
    assert_eq!(
        request["options"],
        json!({"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "tester"})
    );

    // DELETE: no object, the stored one as oldObject, DeleteOptions
    let deleted = raw(
        client,
        "DELETE",
        &format!("{PODS}/p"),
        Some(json!({"propagationPolicy": "Foreground"})),
    )
    .await;
    assert_eq!(deleted.code, 200);
    // The API server alone only marks it: the garbage collector would finish a Foreground delete.
    assert_eq!(
        deleted.body["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    let request = only(&setup.hook);
    assert_eq!(request["operation"], "DELETE");
    assert_eq!(request["name"], "p");
    assert_eq!(request["object"], Value::Null);
    assert_eq!(request["oldObject"]["metadata"]["name"], "p");
    assert_eq!(
        request["options"],
        json!({"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1", "propagationPolicy": "Foreground"})
    );

    // deletecollection: each item, without a name, the marked one again too
    assert_eq!(raw(client, "DELETE", PODS, None).await.code, 200);
    let requests = take(&setup.hook);
    let names: Vec<&Value> = requests
        .iter()
        .map(|request| &request["oldObject"]["metadata"]["name"])
        .collect();
    assert_eq!(names, [&json!("applied"), &json!("p")], "{requests:#?}");
    for request in &requests {
        assert_eq!(request["operation"], "DELETE");
        assert!(request.get("name").is_none());
    }
}

#[tokio::test]
async fn the_callers_identity_is_sent_as_user_info() {
    let setup = setup(|_, _| Answer::allow()).await;
    configure(
        &setup.client,
        "v",
        vec![webhook("w.example.com", "hook", "/", &setup.ca, json!({}))],
    )
    .await;
    let controller = setup
        .sim
        .client_as(&UserInfo::controller("replicaset"))
        .unwrap();
    assert_eq!(
        raw(&controller, "POST", PODS, Some(app_pod("p", json!({}))))
            .await
            .code,
        201
    );
    let request = only(&setup.hook);
    assert_eq!(
        request["userInfo"]["username"],
        "system:serviceaccount:kube-system:replicaset-controller"
    );
    assert_eq!(
        request["userInfo"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:kube-system",
            "system:authenticated"
        ])
    );
}

#[tokio::test]
async fn namespace_requests_carry_their_own_name_and_new_labels() {
    let setup = setup(|_, _| Answer::allow()).await;
    let rules = json!({"rules": [{"operations": ["CREATE", "DELETE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["namespaces"]}],
                       "namespaceSelector": {"matchLabels": {"env": "prod"}}});
    configure(
        &setup.client,
        "v",
        vec![webhook("w.example.com", "hook", "/", &setup.ca, rules)],
    )
    .await;
    let namespace = |name: &str, labels: Value| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}});
    assert_eq!(
        raw(
            &setup.client,
            "POST",
            "/api/v1/namespaces",
            Some(namespace("dev", json!({"env": "dev"})))
        )
        .await
        .code,
        201
    );
    assert!(take(&setup.hook).is_empty(), "its new labels do not match");
    assert_eq!(
        raw(
            &setup.client,
            "POST",
            "/api/v1/namespaces",
            Some(namespace("shop", json!({"env": "prod"})))
        )
        .await
        .code,
        201
    );
    let request = only(&setup.hook);
    assert_eq!(
        (request["namespace"].as_str(), request["name"].as_str()),
        (Some("shop"), Some("shop"))
    );
    assert_eq!(
        request["object"]["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "shop"
    );
    assert_eq!(
        raw(&setup.client, "DELETE", "/api/v1/namespaces/shop", None)
            .await
            .code,
        200
    );
    let request = only(&setup.hook);
    assert_eq!(
        (request["operation"].as_str(), request["namespace"].as_str()),
        (Some("DELETE"), Some("shop"))
    );
}

#[tokio::test]
async fn v1beta1_is_sent_when_it_is_the_first_known_version() {
    let setup = setup(|_, _| Answer::allow()).await;
    let versions = json!({"admissionReviewVersions": ["v2", "v1beta1", "v1"]});
    configure(
        &setup.client,
        "v",
        vec![webhook("w.example.com", "hook", "/", &setup.ca, versions)],
    )
    .await;
    assert_eq!(
        raw(&setup.client, "POST", PODS, Some(app_pod("p", json!({}))))
            .await
            .code,
        201
    );
    let reviews = setup.hook.reviews();
    assert_eq!(reviews[0].1["apiVersion"], "admission.k8s.io/v1beta1");
}

#[tokio::test]
async fn an_update_that_conflicts_while_admitted_is_recomputed_and_admitted_again() {
    // The first admission of the label patch is slow; meanwhile another write lands.
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    let setup = setup(move |_, review| {
        let first_slow = review["request"]["object"]["metadata"]["labels"]["slow"] == "yes"
            && counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
        if first_slow {
            Answer::Slowly(Duration::from_millis(500))
        } else {
            Answer::allow()
        }
    })
    .await;
    let client = setup.client.clone();
    assert_eq!(
        raw(&client, "POST", PODS, Some(app_pod("p", json!({}))))
            .await
            .code,
        201
    );
    configure(
        &client,
        "v",
        vec![webhook("w.example.com", "hook", "/", &setup.ca, json!({}))],
    )
    .await;
    let slow = tokio::spawn({
        let client = client.clone();
        async move {
            patch(
                &client,
                &format!("{PODS}/p"),
                "application/merge-patch+json",
                json!({"metadata": {"labels": {"slow": "yes"}}}),
            )
            .await
            .code
        }
    });
    eventually(
        Duration::from_secs(5),
        "the slow admission to start",
        || !setup.hook.reviews().is_empty(),
    )
    .await;
    assert_eq!(
        patch(
            &client,
            &format!("{PODS}/p"),
            "application/merge-patch+json",
            json!({"metadata": {"labels": {"fast": "yes"}}})
        )
        .await
        .code,
        200
    );
    assert_eq!(slow.await.unwrap(), 200);
    let requests = take(&setup.hook);
    assert_eq!(requests.len(), 3, "slow, fast, slow again: {requests:#?}");
    assert_eq!(
        requests[2]["oldObject"]["metadata"]["labels"]["fast"],
        "yes"
    );
    let stored = raw(&client, "GET", &format!("{PODS}/p"), None).await.body;
    assert_eq!(
        stored["metadata"]["labels"],
        json!({"slow": "yes", "fast": "yes"})
    );
}

#[tokio::test]
async fn deletions_are_admitted_item_by_item_and_dry_runs_too() {
    let setup = setup(|_, review| {
        let request = &review["request"];
        if request["operation"] == "DELETE" && request["oldObject"]["metadata"]["name"] == "keep" {
            Answer::Deny {
                status: json!({"code": 403, "reason": "Forbidden", "message": "keep stays"}),
                warnings: vec![],
            }
        } else {
            Answer::allow()
        }
    })
    .await;
    let client = &setup.client;
    for name in ["a", "keep", "b"] {
        assert_eq!(
            raw(client, "POST", PODS, Some(app_pod(name, json!({}))))
                .await
                .code,
            201
        );
    }
    configure(
        client,
        "v",
        vec![webhook("w.example.com", "hook", "/", &setup.ca, json!({}))],
    )
    .await;

    let dry = raw(client, "DELETE", &format!("{PODS}/a?dryRun=All"), None).await;
    assert_eq!(dry.code, 200);
    let request = only(&setup.hook);
    assert_eq!(
        (request["operation"].as_str(), request["dryRun"].as_bool()),
        (Some("DELETE"), Some(true))
    );
    assert_eq!(request["options"]["dryRun"], json!(["All"]));
    assert_eq!(
        raw(client, "GET", &format!("{PODS}/a"), None).await.code,
        200,
        "a dry run deletes nothing"
    );

    let refused = raw(client, "DELETE", PODS, None).await;
    assert_eq!(refused.code, 403, "{:?}", refused.body);
    assert_eq!(
        refused.body["message"],
        "admission webhook \"w.example.com\" denied the request: keep stays"
    );
    assert_eq!(take(&setup.hook).len(), 3);
    let left = raw(client, "GET", PODS, None).await.body;
    let names: Vec<&str> = left["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pod| pod["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["keep"], "the other items are deleted");
}
