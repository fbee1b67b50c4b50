//! Webhook configurations are decoded, defaulted and validated as kube-apiserver v1.32 does:
//! every case of `tests/data/webhook-configuration-validation.json` (answers recorded from
//! kube-apiserver's own code, see its `source`) sent through the API and compared whole; every
//! LabelSelector example of the shared `webhook-match-examples.json` as a webhook's selectors;
//! and what kubectl shows of it.

mod common;

use common::api::{patch, raw};
use common::kubectl::Cluster;
use common::{data, start};
use serde_json::{Value, json};

const GROUP_PATH: &str = "/apis/admissionregistration.k8s.io/v1";

fn collection(kind: &str) -> String {
    format!("{GROUP_PATH}/{}s", kind.to_ascii_lowercase())
}

/// The Status fields kube-apiserver's error carries (the server adds kind, apiVersion and
/// metadata to every Status alike).
fn status_of(body: &Value) -> Value {
    let mut status = body.clone();
    if let Some(fields) = status.as_object_mut() {
        for added in ["kind", "apiVersion", "metadata"] {
            fields.remove(added);
        }
    }
    status
}

/// `webhooks` as stored; Go omits an empty list where the simulator keeps what was sent.
fn webhooks_of(object: &Value) -> Value {
    match object.get("webhooks") {
        Some(Value::Array(items)) if items.is_empty() => Value::Null,
        Some(webhooks) => webhooks.clone(),
        None => Value::Null,
    }
}

/// Runs one recorded case; `Err` says how the simulator's answer differs.
async fn check_case(client: &kube::Client, case: &Value) -> Result<(), String> {
    let kind = case["kind"].as_str().unwrap_or_default();
    let path = collection(kind);
    let response = match case.get("old") {
        None => raw(client, "POST", &path, Some(case["object"].clone())).await,
        Some(old) => {
            let created = raw(client, "POST", &path, Some(old.clone())).await;
            if created.code != 201 {
                return Err(format!("storing `old` failed: {:?}", created.body));
            }
            let mut object = case["object"].clone();
            object["metadata"]["resourceVersion"] =
                created.body["metadata"]["resourceVersion"].clone();
            raw(client, "PUT", &format!("{path}/c"), Some(object)).await
        }
    };
    let expected = &case["expect"];
    if let Some(status) = expected.get("status") {
        let actual = status_of(&response.body);
        if &actual != status {
            return Err(format!("expected {status}\n   got {actual}"));
        }
        return Ok(());
    }
    if !(200..300).contains(&response.code) {
        return Err(format!("refused: {}", response.body));
    }
    let stored = raw(client, "GET", &format!("{path}/c"), None).await.body;
    for (what, object) in [("answered", &response.body), ("stored", &stored)] {
        if webhooks_of(object) != expected["webhooks"] {
            return Err(format!(
                "{what} webhooks {}\n   expected {}",
                webhooks_of(object),
                expected["webhooks"]
            ));
        }
    }
    Ok(())
}

#[tokio::test]
async fn kube_apiservers_recorded_answers() {
    let (_sim, client) = start::api().await;
    let recorded = data::json("webhook-configuration-validation.json");
    let cases = recorded["cases"].as_array().unwrap();
    assert!(cases.len() > 100, "the recording has its cases");
    let mut failures = Vec::new();
    for case in cases {
        let id = case["id"].as_str().unwrap_or_default();
        if let Err(why) = check_case(&client, case).await {
            failures.push(format!("{id}: {why}"));
        }
        for kind in [
            "validatingwebhookconfigurations",
            "mutatingwebhookconfigurations",
        ] {
            raw(&client, "DELETE", &format!("{GROUP_PATH}/{kind}/c"), None).await;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from kube-apiserver:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A configuration whose webhook selects with `selector` (namespace and objects alike).
fn with_selector(name: &str, selector: &Value) -> Value {
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{"name": "check.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "clientConfig": {"url": "https://hook.example.com/check"},
            "namespaceSelector": selector, "objectSelector": selector}]})
}

/// Every LabelSelector row of the shared examples, as a webhook's selectors: the invalid ones
/// are refused with the example's own validation error under each selector's path, the valid
/// ones stored as given (a null one defaulted to `{}`).
#[tokio::test]
async fn shared_label_selector_examples_through_the_api() {
    let (_sim, client) = start::api().await;
    let examples = data::json("webhook-match-examples.json");
    let section = &examples["labelSelector"];
    let path = collection("ValidatingWebhookConfiguration");
    let mut failures = Vec::new();
    let mut checked = 0;
    for list in ["cases", "validEdgeCases", "invalid"] {
        for (position, example) in section[list].as_array().unwrap().iter().enumerate() {
            checked += 1;
            let id = example["id"].as_str().unwrap_or_default();
            let name = format!("{}-{position}", list.to_ascii_lowercase());
            let selector = &example["selector"];
            let response = raw(&client, "POST", &path, Some(with_selector(&name, selector))).await;
            let message = response.body["message"].as_str().unwrap_or_default();
            match example["apiValidationError"].as_str() {
                Some(error) => {
                    let expected: Vec<String> = ["namespaceSelector", "objectSelector"]
                        .iter()
                        .map(|field| format!("webhooks[0].{field}.{error}"))
                        .collect();
                    if response.code != 422 || !expected.iter().all(|e| message.contains(e)) {
                        failures.push(format!(
                            "{id}: {} {message:?} lacks {expected:?}",
                            response.code
                        ));
                    }
                }
                None => {
                    let stored = if selector.is_null() {
                        json!({})
                    } else {
                        selector.clone()
                    };
                    let webhook = &response.body["webhooks"][0];
                    if response.code != 201
                        || webhook["namespaceSelector"] != stored
                        || webhook["objectSelector"] != stored
                    {
                        failures.push(format!("{id}: {} {}", response.code, response.body));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(checked, 4 + 2 + section["cases"].as_array().unwrap().len());
}

#[tokio::test]
async fn updates_and_patches_are_validated_and_bump_generation_on_change() {
    let (_sim, client) = start::api().await;
    let path = collection("ValidatingWebhookConfiguration");
    let created = raw(&client, "POST", &path, Some(with_selector("c", &json!({})))).await;
    assert_eq!(created.code, 201, "{:?}", created.body);
    assert_eq!(created.body["metadata"]["generation"], 1);

    let item = format!("{path}/c");
    let merge = async |merge: Value| {
        let patched = patch(&client, &item, "application/merge-patch+json", merge).await;
        (patched.code, patched.body)
    };
    let (code, body) = merge(json!({"metadata": {"labels": {"a": "b"}}})).await;
    assert_eq!(
        (code, &body["metadata"]["generation"]),
        (200, &json!(1)),
        "{body}"
    );
    let (code, body) = merge(
        json!({"webhooks": [{"name": "check.example.com", "timeoutSeconds": 0,
        "sideEffects": "None", "admissionReviewVersions": ["v1"],
        "clientConfig": {"url": "https://hook.example.com/check"}}]}),
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["message"],
        "ValidatingWebhookConfiguration.admissionregistration.k8s.io \"c\" is invalid: webhooks[0].timeoutSeconds: Invalid value: 0: the timeout value must be between 1 and 30 seconds"
    );
    let (code, body) = merge(
        json!({"webhooks": [{"name": "check.example.com", "timeoutSeconds": 3,
        "sideEffects": "None", "admissionReviewVersions": ["v1"],
        "clientConfig": {"url": "https://hook.example.com/check"}}]}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["metadata"]["generation"], 2);
    assert_eq!(body["webhooks"][0]["timeoutSeconds"], 3);
    assert_eq!(
        body["webhooks"][0]["failurePolicy"], "Fail",
        "a patched webhook is defaulted"
    );
}

const MINIMAL: &str = "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: minimal
webhooks:
- name: check.example.com
  clientConfig:
    service:
      name: hook
      namespace: default
  rules:
  - operations: [CREATE]
    apiGroups: ['']
    apiVersions: [v1]
    resources: [pods]
  sideEffects: None
  admissionReviewVersions: [v1]
";

const BROKEN: &str = "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: broken
webhooks:
- name: check
  clientConfig:
    url: http://hook.example.com/check
  timeoutSeconds: 31
  namespaceSelector:
    matchExpressions:
    - key: a/b/c
      operator: in
";

#[tokio::test]
async fn kubectl_shows_the_defaults_and_the_refusals() {
    let cluster = Cluster::start().await;
    let file = cluster.write("minimal.yaml", MINIMAL);
    let applied = cluster.run(&["apply", "-f", &file]).await;
    assert!(applied.success, "{applied:?}");
    let shown = cluster
        .run(&[
            "get",
            "validatingwebhookconfiguration",
            "minimal",
            "-o",
            "yaml",
        ])
        .await;
    assert!(shown.success, "{shown:?}");
    for default in [
        "failurePolicy: Fail",
        "matchPolicy: Equivalent",
        "timeoutSeconds: 10",
        "namespaceSelector: {}",
        "objectSelector: {}",
        "scope: '*'",
        "port: 443",
    ] {
        assert!(
            shown.stdout.contains(default),
            "{default} in:\n{}",
            shown.stdout
        );
    }
    // Applying the same file again sends the rules (an atomic list, which the live object has
    // with `scope` added), as on a real cluster; defaulted again, the webhooks are unchanged.
    let again = cluster.run(&["apply", "-f", &file]).await;
    assert!(again.success, "{again:?}");
    let generation = cluster
        .run(&[
            "get",
            "validatingwebhookconfiguration",
            "minimal",
            "-o",
            "jsonpath={.metadata.generation}",
        ])
        .await;
    assert_eq!(generation.stdout, "1");

    let file = cluster.write("broken.yaml", BROKEN);
    let refused = cluster.run(&["apply", "-f", &file]).await;
    assert!(!refused.success);
    assert!(
        refused
            .stderr
            .starts_with("The ValidatingWebhookConfiguration \"broken\" is invalid: "),
        "{}",
        refused.stderr
    );
    for line in [
        "* webhooks[0].name: Invalid value: \"check\": should be a domain with at least three segments separated by dots",
        "* webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
        "* webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds",
        "* webhooks[0].namespaceSelector.matchExpressions[0].operator: Invalid value: \"in\": not a valid selector operator",
        "* webhooks[0].namespaceSelector.matchExpressions[0].key: Invalid value: \"a/b/c\": a qualified name must consist of",
        "* webhooks[0].clientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
        "* webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1",
    ] {
        assert!(
            refused.stderr.contains(line),
            "{line}\nin:\n{}",
            refused.stderr
        );
    }
    let missing = cluster
        .run(&["get", "validatingwebhookconfiguration", "broken"])
        .await;
    assert!(!missing.success, "nothing is stored");
}
