//! Hostile request content, on loopback: values of megabytes are echoed cut to a bounded
//! length in answers and log lines, and patterns, selectors and policies beyond their limits
//! are refused naming the field.

mod hostile_support;

use hostile_support::{Setup, captured_logs, pod, pod_review, policy_review, start, verdict};
use serde_json::json;

/// Far more than a bounded answer needs, far less than the input.
const SMALL: usize = 16 * 1024;

fn longest_log_line() -> usize {
    let logs = captured_logs().lock().unwrap();
    logs.split(|&byte| byte == b'\n')
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_of_megabytes_get_a_small_answer_and_small_log_lines() {
    let server = start(Setup::default()).await;
    server
        .create_policy("deny-all", json!({"rules": [{"action": "Reject"}]}))
        .await;
    let huge = "a".repeat(7 << 20);

    // An invalid image (it contains a space) of 7 MB.
    let review = pod_review(pod(1, &format!("nginx {huge}")));
    let (code, body) = server
        .post("/admission-review", review.to_string().into_bytes())
        .await;
    assert_eq!(code, 200);
    assert!(body.len() < SMALL, "a {} byte answer", body.len());
    let (allowed, message) = verdict(&body);
    assert!(!allowed);
    assert!(
        message.contains("spec.containers[0].image")
            && message.contains("contains whitespace")
            && message.contains(&format!("… ({} bytes)", huge.len() + 6)),
        "{message}"
    );

    // A valid image with a 4 MB digest, in a container with a 1 MB name, in a 1 MB namespace
    // that does not exist, named 1 MB: all echoed somewhere.
    let digest = format!("nginx@md5:{}", "0".repeat(4 << 20));
    let mut review = pod_review(pod(1, &digest));
    let mega = "b".repeat(1 << 20);
    review["request"]["object"]["spec"]["containers"][0]["name"] = json!(mega);
    for (namespace, answer) in [
        ("team-a", "rejected by deny-all"),
        (mega.as_str(), "namespace"),
    ] {
        review["request"]["namespace"] = json!(namespace);
        review["request"]["name"] = json!(mega);
        let (code, body) = server
            .post("/admission-review", review.to_string().into_bytes())
            .await;
        assert_eq!(code, 200);
        assert!(body.len() < SMALL, "{answer}: a {} byte answer", body.len());
        let (allowed, message) = verdict(&body);
        assert!(!allowed, "{answer}: {message}");
    }

    // A 7 MB apiVersion, and 7 MB where a boolean belongs: refused (400), with a small answer.
    let mut review = pod_review(pod(1, "nginx"));
    review["apiVersion"] = json!(huge);
    let (code, body) = server
        .post("/admission-review", review.to_string().into_bytes())
        .await;
    assert_eq!(code, 400);
    assert!(body.len() < SMALL, "a {} byte refusal", body.len());
    let mut review = pod_review(pod(1, "nginx"));
    review["request"]["dryRun"] = json!(huge);
    let (code, body) = server
        .post("/admission-review", review.to_string().into_bytes())
        .await;
    assert_eq!(code, 400);
    assert!(body.len() < SMALL, "a {} byte refusal", body.len());

    let longest = longest_log_line();
    assert!(longest < SMALL, "a {longest} byte log line");
}

/// `(allowed, message)` of /validate-policy for `spec`, asserting the answer is small.
async fn validate(server: &hostile_support::Server, spec: serde_json::Value) -> (bool, String) {
    let (code, body) = server
        .post(
            "/validate-policy",
            policy_review(spec).to_string().into_bytes(),
        )
        .await;
    assert_eq!(code, 200, "{}", &body[..body.len().min(500)]);
    assert!(body.len() < SMALL, "a {} byte answer", body.len());
    verdict(&body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patterns_selectors_and_policies_beyond_their_limits_are_refused_naming_the_field() {
    let server = start(Setup {
        // Compiling megabytes of regex in a debug build takes seconds: the refusals, not the
        // deadline, are under test.
        deadline: std::time::Duration::from_secs(60),
        ..Setup::default()
    })
    .await;
    let path = |values: serde_json::Value| json!({"rules": [{"action": "Reject", "imagePath": {"operator": "IsOneOf", "values": values}}]});

    let (allowed, message) = validate(&server, path(json!(["^gcr\\.io/company/"]))).await;
    assert!(allowed, "{message}");

    // A 7 MB pattern (a literal: valid, and 7 MB of regex to compile).
    let (allowed, message) = validate(&server, path(json!(["a".repeat(7 << 20)]))).await;
    assert!(!allowed);
    assert!(
        message.contains("spec.rules[0].imagePath.values[0]") && message.contains("bytes long"),
        "{message}"
    );

    // A short pattern that compiles to megabytes.
    let (allowed, message) = validate(&server, path(json!(["^ok$", "\\w{100}"]))).await;
    assert!(!allowed);
    assert!(
        message.contains("spec.rules[0].imagePath.values[1]")
            && message.contains("compiles to more than"),
        "{message}"
    );

    // Patterns each within their limit that together are not.
    let heavy: Vec<String> = (0..40).map(|i| format!("^{i}\\w{{15}}")).collect();
    let (allowed, message) = validate(&server, path(json!(heavy))).await;
    assert!(!allowed);
    assert!(
        message.contains("spec.rules") && message.contains("together"),
        "{message}"
    );

    // A 1 MB selector (valid, were it not so long).
    let clause = "team == 'a' && ";
    let selector = format!("{}team == 'a'", clause.repeat((1 << 20) / clause.len()));
    let (allowed, message) = validate(
        &server,
        json!({"selector": selector, "rules": [{"action": "Reject"}]}),
    )
    .await;
    assert!(!allowed);
    assert!(
        message.contains("spec.selector") && message.contains("bytes long"),
        "{message}"
    );

    // Too many rules, and too many values.
    let rules: Vec<_> = (0..5000).map(|_| json!({"action": "Reject"})).collect();
    let (allowed, message) = validate(&server, json!({"rules": rules})).await;
    assert!(!allowed);
    assert!(
        message.contains("`spec.rules`") && message.contains("5000 rules"),
        "{message}"
    );
    let values: Vec<String> = (0..5000).map(|i| format!("^r{i}/")).collect();
    let (allowed, message) = validate(&server, path(json!(values))).await;
    assert!(!allowed);
    assert!(
        message.contains("spec.rules[0].imagePath.values") && message.contains("5000 values"),
        "{message}"
    );
    let longest = longest_log_line();
    assert!(longest < SMALL, "a {longest} byte log line");
}
