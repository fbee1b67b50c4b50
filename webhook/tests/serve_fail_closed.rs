//! `serve` fails closed and says why, through the API server (issue 12 §2): readiness means
//! "this replica can answer" (policies synced), an unavailable scan source denies what needs
//! scan data with the reason while the replica stays ready, requests before the policies have
//! synced are denied saying so, and the metrics report every source. Also the metric labels,
//! which never take a value from the request (§3).

mod serve_support;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use serve_support::{Harness, eventually, install_policy_crd, policy, review, start};

async fn metrics(harness: &Harness) -> String {
    reqwest::get(format!("http://{}/metrics", harness.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the sample `name` (with its labels, if any) in a Prometheus exposition.
fn sample(exposition: &str, name: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.parse().ok())
    })
}

const FILE: &str = r#"{source="scan-results-file"}"#;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// Polls `harness.decide(image)` until it gives `allowed` with a message containing every one
/// of `parts`; the last answer on failure.
async fn decides(
    harness: &Harness,
    image: &str,
    allowed: bool,
    parts: &[&str],
) -> Result<(), (bool, String)> {
    let found = eventually(Duration::from_secs(5), || async {
        let (got, message) = harness.decide(image, json!({})).await;
        got == allowed && parts.iter().all(|part| message.contains(part))
    })
    .await;
    if found {
        Ok(())
    } else {
        Err(harness.decide(image, json!({})).await)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn before_the_policies_sync_requests_are_denied_saying_so() {
    // The policy CRD does not exist yet, so policies cannot sync.
    let harness = start(false, None).await;
    let missing_crd = "the ContainerAdmissionPolicy CRD (containeradmissionpolicies.containersecurity.tigera.io) is not installed";
    assert!(
        eventually(Duration::from_secs(5), || async {
            let (code, body) = harness.get("/readyz").await;
            code == 503 && body.contains(missing_crd)
        })
        .await,
        "{:?}",
        harness.get("/readyz").await
    );
    let (code, answer) = harness
        .post(
            "/admission-review",
            review("nginx:1.27", json!({})).to_string().into_bytes(),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    let response = &answer["response"];
    assert_eq!(response["allowed"], false, "{answer}");
    assert_eq!(response["status"]["code"], 503, "{answer}");
    assert_eq!(
        response["status"]["message"],
        format!(
            "image-assurance cannot decide yet: the ContainerAdmissionPolicies are not loaded yet: {missing_crd}; denied (fail closed)"
        )
    );
    let exposition = metrics(&harness).await;
    assert_eq!(sample(&exposition, "image_assurance_ready"), Some(0.0));
    assert_eq!(
        sample(
            &exposition,
            r#"image_assurance_source_synced{source="policies"}"#
        ),
        Some(0.0)
    );

    install_policy_crd(&harness.client).await;
    harness.wait_ready().await;
    // No policy at all, once they have synced: the default allow.
    assert!(harness.decide("nginx:1.27", json!({})).await.0);
    assert_eq!(
        sample(&metrics(&harness).await, "image_assurance_ready"),
        Some(1.0)
    );
}

fn scanned_a_day_ago(image: &str, status: &str) -> String {
    let day_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
    format!(
        "images:\n- image: {image}\n  status: {status}\n  lastScan: \"{}\"\n",
        day_ago.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_scan_file_keeps_the_replica_ready_and_denies_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scans.yaml");
    let harness = start(true, Some(path.clone())).await;
    // Ready although the file does not exist: the replica can answer, and says why.
    harness.wait_ready().await;
    harness.policies().create(&Default::default(), &policy("gcr-pass-only", json!({"rules": [
        {"action": "Reject", "imagePath": {"operator": "IsNoneOf", "values": ["^gcr\\.io/"]}},
        {"action": "Allow", "imageScanStatus": {"operator": "IsOneOf", "values": ["Pass"]}},
        {"action": "Reject"},
    ]}))).await.unwrap();
    let api = "gcr.io/company/api:1.2";
    decides(
        &harness,
        api,
        false,
        &[
            "scan data is unavailable: the scan-results file is unavailable:",
            "scans.yaml",
        ],
    )
    .await
    .unwrap();
    // A rule that needs no scan data still decides.
    decides(
        &harness,
        "busybox",
        false,
        &["ContainerPolicy gcr-pass-only rule index 0"],
    )
    .await
    .unwrap();
    let exposition = metrics(&harness).await;
    assert_eq!(sample(&exposition, "image_assurance_ready"), Some(1.0));
    let synced = format!("image_assurance_source_synced{FILE}");
    let results = format!("image_assurance_scan_results{FILE}");
    let age = format!("image_assurance_scan_data_age_seconds{FILE}");
    assert_eq!(sample(&exposition, &synced), Some(0.0), "{exposition}");
    assert_eq!(sample(&exposition, &results), Some(0.0), "{exposition}");
    assert_eq!(sample(&exposition, &age), None, "no data is not fresh data");
    // Without their CRD, VulnerabilityReports are an empty, synced source.
    assert_eq!(
        sample(
            &exposition,
            r#"image_assurance_scan_results{source="vulnerabilityreports"}"#
        ),
        Some(0.0),
        "{exposition}"
    );

    // The file appears: its results decide, and the metrics count them and their age.
    write(&path, &scanned_a_day_ago(api, "Pass"));
    decides(&harness, api, true, &[]).await.unwrap();
    let exposition = metrics(&harness).await;
    assert_eq!(sample(&exposition, &synced), Some(1.0), "{exposition}");
    assert_eq!(sample(&exposition, &results), Some(1.0), "{exposition}");
    let data_age = sample(&exposition, &age).unwrap_or_else(|| panic!("{exposition}"));
    assert!((86_400.0..86_500.0).contains(&data_age), "{data_age}");

    // Broken again: denied with the parser's reason, still ready.
    write(&path, "images: [ this is not YAML\n");
    decides(
        &harness,
        api,
        false,
        &["scan data is unavailable: the scan-results file is unavailable:"],
    )
    .await
    .unwrap();
    assert_eq!(harness.get("/readyz").await.0, 200);
    let exposition = metrics(&harness).await;
    assert_eq!(sample(&exposition, &synced), Some(0.0), "{exposition}");
    assert_eq!(sample(&exposition, &age), None, "{exposition}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_scan_file_is_an_error_and_images_empty_is_the_empty_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scans.yaml");
    write(&path, "");
    let harness = start(true, Some(path.clone())).await;
    harness.wait_ready().await;
    // Rejects only Fail: an empty file read as "nothing scanned" would admit a failed image.
    harness.policies().create(&Default::default(), &policy("reject-failed", json!({"rules": [
        {"action": "Reject", "imageScanStatus": {"operator": "IsOneOf", "values": ["Fail"]}},
    ]}))).await.unwrap();
    decides(
        &harness,
        "nginx:1.27",
        false,
        &["scan data is unavailable", "no scan results", "images: []"],
    )
    .await
    .unwrap();
    write(&path, "images: []\n");
    decides(&harness, "nginx:1.27", true, &[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_file_without_end_is_cut_off_and_reported() {
    let harness = start(true, Some("/dev/zero".into())).await;
    harness.wait_ready().await;
    harness.policies().create(&Default::default(), &policy("pass-only", json!({"rules": [
        {"action": "Allow", "imageScanStatus": {"operator": "IsOneOf", "values": ["Pass"]}},
        {"action": "Reject"},
    ]}))).await.unwrap();
    decides(
        &harness,
        "nginx:1.27",
        false,
        &["the scan-results file is unavailable: /dev/zero: cannot read: line 1: longer than 16 MiB"],
    )
    .await
    .unwrap();
    let exposition = metrics(&harness).await;
    assert_eq!(
        sample(&exposition, &format!("image_assurance_source_synced{FILE}")),
        Some(0.0),
        "{exposition}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metric_labels_never_take_the_requests_kind() {
    let harness = start(true, None).await;
    harness.wait_ready().await;
    let mut sent = 0;
    for index in 0..40 {
        let mut body: Value = review("nginx", json!({}));
        let kind = format!("Made{index}Up{}", "K".repeat(4096));
        body["request"]["kind"]["kind"] = json!(kind);
        body["request"]["object"]["kind"] = json!(kind);
        let (code, answer) = harness
            .post("/admission-review", body.to_string().into_bytes())
            .await;
        assert_eq!(code, 200, "{answer}");
        sent += 1;
    }
    let exposition = metrics(&harness).await;
    assert!(
        !exposition.contains("Made0Up"),
        "a request's kind became a label"
    );
    let others: f64 = exposition
        .lines()
        .filter(|line| {
            line.starts_with("image_assurance_admission_requests_total{")
                && line.contains(r#"kind="other""#)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(others, f64::from(sent), "{exposition}");
    assert!(exposition.len() < 16 * 1024, "{} bytes", exposition.len());
}
