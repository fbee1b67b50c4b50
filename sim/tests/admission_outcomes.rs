//! What the client sees when validating webhooks deny, fail or warn (reference
//! `k8s-admission.md` §1.7, §2.2, §2.3): denial Status rules, every call failure's exact reason
//! under `failurePolicy: Fail` and its fail-open under `Ignore`, dry-run and `sideEffects`,
//! warnings as headers, exempt webhook configurations.

mod admission_support;
mod common;

use std::time::{Duration, Instant};

use admission_support::{
    Answer, CONFIGURATIONS, Ca, TestWebhook, configuration, configure, service_for, setup,
    unconfigure, webhook,
};
use common::api::raw;
use common::objects::{app_pod, service};
use serde_json::{Value, json};

const PODS: &str = "/api/v1/namespaces/default/pods";
const WEBHOOK: &str = "w.example.com";

fn uid(review: &Value) -> Value {
    review["request"]["uid"].clone()
}

fn review_answer(review: &Value, response: Value) -> Answer {
    let mut response = response;
    if response.get("uid").is_none() {
        response["uid"] = uid(review);
    }
    Answer::Raw {
        code: 200,
        content_type: "application/json",
        body: json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                     "response": response})
        .to_string(),
    }
}

/// Answers by path, for the call-failure cases.
fn misbehave(path: &str, review: &Value) -> Answer {
    let path = path.split('?').next().unwrap_or("");
    let text = |code, content_type, body: &str| Answer::Raw {
        code,
        content_type,
        body: body.to_string(),
    };
    match path {
        "/hang" => Answer::Hang,
        "/close" => Answer::Close,
        "/garbage" => text(200, "application/json", "garbage"),
        "/huge" => text(200, "application/json", &" ".repeat(11 * 1024 * 1024)),
        "/boom" => text(500, "text/plain; charset=utf-8", "boom"),
        "/missing-page" => text(404, "text/plain; charset=utf-8", "404 page not found"),
        "/wrong-uid" => review_answer(review, json!({"uid": "other", "allowed": true})),
        "/no-response" => text(
            200,
            "application/json",
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
        ),
        "/no-kind" => text(
            200,
            "application/json",
            &json!({"response": {"uid": uid(review), "allowed": true}}).to_string(),
        ),
        "/patch" => review_answer(review, json!({"allowed": true, "patch": "W10="})),
        "/patch-type" => review_answer(review, json!({"allowed": true, "patchType": "JSONPatch"})),
        _ => Answer::allow(),
    }
}

#[tokio::test]
async fn denials_follow_kube_apiservers_status_rules() {
    let setup = setup(|path, _| {
        let status = match path.split('?').next().unwrap_or("") {
            "/forbidden" => json!({"code": 403, "reason": "Forbidden",
                                    "message": "pods must run as non-root",
                                    "details": {"name": "p", "causes": [{"field": "spec"}]}}),
            "/no-code" => json!({"message": "no code"}),
            "/reason-only" => json!({"code": 422, "reason": "Invalid"}),
            _ => json!({}),
        };
        Answer::Deny {
            status,
            warnings: vec![],
        }
    })
    .await;
    let client = &setup.client;
    let cases = [
        (
            "/forbidden",
            403,
            Some("Forbidden"),
            "admission webhook \"w.example.com\" denied the request: pods must run as non-root",
        ),
        (
            "/no-code",
            400,
            None,
            "admission webhook \"w.example.com\" denied the request: no code",
        ),
        (
            "/reason-only",
            422,
            Some("Invalid"),
            "admission webhook \"w.example.com\" denied the request: Invalid",
        ),
        (
            "/empty",
            400,
            None,
            "admission webhook \"w.example.com\" denied the request without explanation",
        ),
    ];
    for (index, (path, code, reason, expected)) in cases.into_iter().enumerate() {
        configure(
            client,
            "deny",
            vec![webhook(WEBHOOK, "hook", path, &setup.ca, json!({}))],
        )
        .await;
        let response = raw(
            client,
            "POST",
            PODS,
            Some(app_pod(&format!("p{index}"), json!({}))),
        )
        .await;
        assert_eq!(response.code, code, "{path}: {:?}", response.body);
        assert_eq!(response.message(), expected, "{path}");
        assert_eq!(response.body["reason"].as_str(), reason, "{path}");
        assert_eq!(response.body["status"], "Failure", "{path}");
        assert_eq!(response.body["kind"], "Status", "{path}");
        assert_eq!(response.body["code"], code, "{path}");
        if path == "/forbidden" {
            assert_eq!(
                response.body["details"],
                json!({"name": "p", "causes": [{"field": "spec"}]})
            );
        }
        unconfigure(client, "deny").await;
    }
    let stored = raw(client, "GET", PODS, None).await;
    assert_eq!(
        stored.body["items"],
        json!([]),
        "denied pods are not stored"
    );
}

#[tokio::test]
async fn call_failures_fail_closed_with_kube_apiservers_reasons_and_open_under_ignore() {
    let setup = setup(misbehave).await;
    let client = &setup.client;
    // A webhook whose certificate comes from another CA than the caBundle says.
    let stranger = Ca::new("stranger");
    let _other = TestWebhook::serve(client, &stranger, "other", |_, _| Answer::allow()).await;
    // A Service whose only endpoint is not ready.
    let service = service(
        "empty",
        json!({"ports": [{"port": 443, "targetPort": 8443}]}),
    );
    assert_eq!(
        raw(
            client,
            "POST",
            "/api/v1/namespaces/default/services",
            Some(service)
        )
        .await
        .code,
        201
    );
    let endpoints = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "empty"},
        "subsets": [{"notReadyAddresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 8443}]}]});
    assert_eq!(
        raw(
            client,
            "POST",
            "/api/v1/namespaces/default/endpoints",
            Some(endpoints)
        )
        .await
        .code,
        201
    );
    // A Service whose endpoint has nothing listening.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    service_for(client, "default", "closed", closed).await;

    let post = |svc: &str, path: &str, timeout: u64| {
        format!(
            "failed to call webhook: Post \"https://{svc}.default.svc:443{path}?timeout={timeout}s\""
        )
    };
    // (service, path, extra webhook fields, expected reason; `{uid}` is the uid sent)
    let cases: Vec<(&str, &str, Value, String)> = vec![
        ("hook", "/hang", json!({"timeoutSeconds": 1}),
         format!("{}: context deadline exceeded", post("hook", "/hang", 1))),
        ("hook", "/garbage", json!({}),
         "failed to call webhook: couldn't get version/kind; json parse error: invalid character 'g' looking for beginning of value".into()),
        ("hook", "/wrong-uid", json!({}),
         "received invalid webhook response: expected response.uid=\"{uid}\", got \"other\"".into()),
        ("hook", "/no-response", json!({}),
         "received invalid webhook response: webhook response was absent".into()),
        ("hook", "/no-kind", json!({}),
         "received invalid webhook response: expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got /, Kind=".into()),
        ("hook", "/patch", json!({}),
         "received invalid webhook response: validating webhook may not return response.patch".into()),
        ("hook", "/patch-type", json!({}),
         "received invalid webhook response: validating webhook may not return response.patchType".into()),
        ("hook", "/boom", json!({}),
         "failed to call webhook: an error on the server (\"boom\") has prevented the request from succeeding".into()),
        ("hook", "/missing-page", json!({}),
         "failed to call webhook: the server could not find the requested resource".into()),
        ("hook", "/close", json!({}), format!("{}: EOF", post("hook", "/close", 10))),
        ("hook", "/huge", json!({}),
         format!("{}: the webhook response is larger than 10485760 bytes", post("hook", "/huge", 10))),
        ("other", "/", json!({}),
         format!("{}: tls: failed to verify certificate: x509: certificate signed by unknown authority", post("other", "/", 10))),
        ("empty", "/", json!({}),
         format!("{}: no endpoints available for service \"empty\"", post("empty", "/", 10))),
        ("closed", "/", json!({}),
         format!("{}: dial tcp {closed}: connect: connection refused", post("closed", "/", 10))),
        ("missing", "/", json!({}),
         format!("{}: service \"missing\" not found", post("missing", "/", 10))),
        // Not here: a webhook without a known AdmissionReview version, which v1 refuses to store.
    ];
    for (index, (svc, path, fields, reason)) in cases.into_iter().enumerate() {
        for policy in ["Fail", "Ignore"] {
            let mut fields = fields.clone();
            fields["failurePolicy"] = json!(policy);
            configure(
                client,
                "bad",
                vec![webhook(WEBHOOK, svc, path, &setup.ca, fields)],
            )
            .await;
            setup.hook.clear();
            let started = Instant::now();
            let name = format!("p{index}-{}", policy.to_lowercase());
            let response = raw(client, "POST", PODS, Some(app_pod(&name, json!({})))).await;
            if policy == "Fail" {
                let sent = setup
                    .hook
                    .reviews()
                    .last()
                    .map(|(_, r)| uid(r))
                    .unwrap_or_default();
                let reason = reason.replace("{uid}", sent.as_str().unwrap_or(""));
                assert_eq!(response.code, 500, "{path} on {svc}: {:?}", response.body);
                assert_eq!(response.body["reason"], "InternalError");
                assert_eq!(
                    response.message(),
                    format!(
                        "Internal error occurred: failed calling webhook \"{WEBHOOK}\": {reason}"
                    ),
                );
            } else {
                assert_eq!(
                    response.code, 201,
                    "{path} on {svc} fails open: {:?}",
                    response.body
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{path} took {:?}",
                started.elapsed()
            );
            assert!(
                setup.hook.reviews().len() <= 1,
                "{path}: the webhook is called once, never retried"
            );
            unconfigure(client, "bad").await;
        }
    }
    // The simulator keeps serving after all of that.
    let listed = raw(client, "GET", PODS, None).await;
    assert_eq!(listed.code, 200);
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        15,
        "the Ignore creations"
    );
}

#[tokio::test]
async fn dry_run_needs_webhooks_without_side_effects() {
    let setup = setup(|_, _| Answer::allow()).await;
    let client = &setup.client;
    // admissionregistration.k8s.io/v1 stores only webhooks without side effects (or none on
    // dry runs), so kube-apiserver's "does not support dry run" refusal cannot be reached.
    for side_effects in ["Some", "Unknown"] {
        let configuration = configuration(
            "dry",
            vec![webhook(
                WEBHOOK,
                "hook",
                "/",
                &setup.ca,
                json!({"sideEffects": side_effects}),
            )],
        );
        let response = raw(client, "POST", CONFIGURATIONS, Some(configuration)).await;
        assert_eq!(response.code, 422, "{side_effects}: {:?}", response.body);
        assert_eq!(
            response.message(),
            format!(
                "ValidatingWebhookConfiguration.admissionregistration.k8s.io \"dry\" is invalid: webhooks[0].sideEffects: Unsupported value: \"{side_effects}\": supported values: \"None\", \"NoneOnDryRun\""
            )
        );
    }
    assert!(setup.hook.reviews().is_empty());
    configure(
        client,
        "dry",
        vec![webhook(
            WEBHOOK,
            "hook",
            "/",
            &setup.ca,
            json!({"sideEffects": "NoneOnDryRun"}),
        )],
    )
    .await;
    let response = raw(
        client,
        "POST",
        &format!("{PODS}?dryRun=All"),
        Some(app_pod("p", json!({}))),
    )
    .await;
    assert_eq!(response.code, 201, "{:?}", response.body);
    let reviews = setup.hook.reviews();
    assert_eq!(reviews.len(), 1);
    let request = &reviews[0].1["request"];
    assert_eq!(request["dryRun"], true);
    assert_eq!(
        request["options"],
        json!({"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "dryRun": ["All"]})
    );
    assert_eq!(
        raw(client, "GET", &format!("{PODS}/p"), None).await.code,
        404,
        "a dry run stores nothing"
    );
}

#[tokio::test]
async fn warnings_of_every_webhook_come_back_as_headers() {
    let setup = setup(|path, _| match path.split('?').next().unwrap_or("") {
        "/deny" => Answer::Deny {
            status: json!({"code": 403, "reason": "Forbidden", "message": "no"}),
            warnings: vec!["denied, and \"quoted\"".into()],
        },
        _ => Answer::Allow {
            warnings: vec!["image nginx:1.27 is not pinned by digest".into()],
        },
    })
    .await;
    let client = &setup.client;
    configure(
        client,
        "warn",
        vec![webhook(WEBHOOK, "hook", "/allow", &setup.ca, json!({}))],
    )
    .await;
    let response = raw(client, "POST", PODS, Some(app_pod("p", json!({})))).await;
    assert_eq!(response.code, 201);
    assert_eq!(
        response.warnings,
        ["299 - \"image nginx:1.27 is not pinned by digest\""]
    );
    configure(
        client,
        "warn2",
        vec![webhook(
            "deny.example.com",
            "hook",
            "/deny",
            &setup.ca,
            json!({}),
        )],
    )
    .await;
    let response = raw(client, "POST", PODS, Some(app_pod("q", json!({})))).await;
    assert_eq!(response.code, 403);
    let mut warnings = response.warnings.clone();
    warnings.sort();
    assert_eq!(
        warnings,
        [
            "299 - \"denied, and \\\"quoted\\\"\"",
            "299 - \"image nginx:1.27 is not pinned by digest\"",
        ]
    );
}

#[tokio::test]
async fn webhook_configurations_are_exempt_so_a_deadlock_can_be_undone() {
    let setup = setup(|_, _| Answer::allow()).await;
    let client = &setup.client;
    // Fails every request on everything, and its Service does not exist.
    let everything = json!({"rules": [{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"]}]});
    configure(
        client,
        "deadlock",
        vec![webhook(
            WEBHOOK,
            "missing",
            "/",
            &setup.ca,
            everything.clone(),
        )],
    )
    .await;
    let response = raw(client, "POST", PODS, Some(app_pod("p", json!({})))).await;
    assert_eq!(response.code, 500);
    // Webhook configurations are never sent to webhooks: others can be created and this one
    // patched and deleted.
    configure(
        client,
        "another",
        vec![webhook(
            "x.example.com",
            "missing",
            "/",
            &setup.ca,
            everything,
        )],
    )
    .await;
    let patched = raw(
        client,
        "PUT",
        &format!("{CONFIGURATIONS}/another"),
        Some(configuration("another", vec![])),
    )
    .await;
    assert_eq!(patched.code, 200, "{:?}", patched.body);
    unconfigure(client, "deadlock").await;
    let response = raw(client, "POST", PODS, Some(app_pod("p", json!({})))).await;
    assert_eq!(response.code, 201, "{:?}", response.body);
}

#[tokio::test]
async fn match_conditions_are_refused_naming_the_field() {
    let setup = setup(|_, _| Answer::allow()).await;
    let with_conditions = webhook(
        WEBHOOK,
        "hook",
        "/",
        &setup.ca,
        json!({"matchConditions": [{"name": "c", "expression": "true"}]}),
    );
    let configuration = configuration(
        "cel",
        vec![
            webhook("plain.example.com", "hook", "/", &setup.ca, json!({})),
            with_conditions,
        ],
    );
    let response = raw(&setup.client, "POST", CONFIGURATIONS, Some(configuration)).await;
    assert_eq!(response.code, 422, "{:?}", response.body);
    assert_eq!(response.body["reason"], "Invalid");
    assert_eq!(
        response.body["details"]["causes"][0]["field"],
        "webhooks[1].matchConditions"
    );
    assert!(response.message().starts_with(
        "ValidatingWebhookConfiguration.admissionregistration.k8s.io \"cel\" is invalid: webhooks[1].matchConditions: Forbidden: "
    ), "{}", response.message());
}

#[tokio::test]
async fn a_hundred_calls_reuse_connections_and_take_well_under_ten_seconds() {
    let setup = setup(|_, _| Answer::allow()).await;
    let client = &setup.client;
    configure(
        client,
        "fast",
        vec![webhook(WEBHOOK, "hook", "/", &setup.ca, json!({}))],
    )
    .await;
    let started = Instant::now();
    for index in 0..100 {
        let response = raw(
            client,
            "POST",
            PODS,
            Some(app_pod(&format!("p{index}"), json!({}))),
        )
        .await;
        assert_eq!(response.code, 201);
    }
    let elapsed = started.elapsed();
    assert_eq!(setup.hook.reviews().len(), 100);
    assert!(
        elapsed < Duration::from_secs(10),
        "100 admitted creations took {elapsed:?}"
    );
    let connections = setup
        .hook
        .connections
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        connections <= 2,
        "{connections} connections for 100 sequential calls"
    );
}

#[tokio::test]
async fn matching_webhooks_are_called_in_parallel() {
    let setup = setup(|_, _| Answer::Slowly(Duration::from_millis(800))).await;
    let client = &setup.client;
    configure(
        client,
        "slow",
        vec![
            webhook("one.example.com", "hook", "/one", &setup.ca, json!({})),
            webhook("two.example.com", "hook", "/two", &setup.ca, json!({})),
            webhook("three.example.com", "hook", "/three", &setup.ca, json!({})),
        ],
    )
    .await;
    let started = Instant::now();
    let response = raw(client, "POST", PODS, Some(app_pod("p", json!({})))).await;
    let elapsed = started.elapsed();
    assert_eq!(response.code, 201, "{:?}", response.body);
    assert_eq!(setup.hook.reviews().len(), 3);
    // One after the other would take 2.4 s.
    assert!(elapsed < Duration::from_millis(2000), "took {elapsed:?}");
}

/// kube-apiserver calls every matching webhook at once and answers with the error that reaches
/// it first, not the first webhook listed: a quick denial wins over a listed-earlier timeout.
#[tokio::test]
async fn the_first_error_to_arrive_wins_when_several_webhooks_fail() {
    let setup = setup(|path, _| match path.split('?').next().unwrap_or("") {
        "/hang" => Answer::Hang,
        _ => Answer::Deny {
            status: json!({"code": 403, "message": "quick no"}),
            warnings: vec![],
        },
    })
    .await;
    let client = &setup.client;
    configure(
        client,
        "two",
        vec![
            webhook(
                "slow.example.com",
                "hook",
                "/hang",
                &setup.ca,
                json!({"timeoutSeconds": 2}),
            ),
            webhook("quick.example.com", "hook", "/deny", &setup.ca, json!({})),
        ],
    )
    .await;
    let answer = raw(client, "POST", PODS, Some(app_pod("p", json!({})))).await;
    assert_eq!(answer.code, 403, "{:?}", answer.body);
    assert_eq!(
        answer.body["message"],
        "admission webhook \"quick.example.com\" denied the request: quick no"
    );
}
