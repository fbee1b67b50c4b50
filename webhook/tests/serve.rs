//! `serve` against the simulated API server, over real TLS: live policy, namespace and
//! VulnerabilityReport changes, certificate rotation, bad input. Readiness and failing closed
//! are in `serve_fail_closed.rs`.

mod serve_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};
use serve_support::{
    decision_within_a_second, eventually, https_client, make_certs, policy, review, start,
};

#[tokio::test(flavor = "multi_thread")]
async fn policy_changes_change_decisions_within_a_second() {
    let harness = start(true, None).await;
    harness.wait_ready().await;
    assert!(
        harness.decide("nginx:1.27", json!({})).await.0,
        "no policy: default allow"
    );
    harness.policies().create(&PostParams::default(), &policy("deny-nginx", json!({"order": 1, "rules": [{"action": "Reject", "imagePath": {"operator": "IsOneOf", "values": ["nginx"]}}]}))).await.unwrap();
    assert!(decision_within_a_second(&harness, false).await, "created");
    let (_, message) = harness.decide("nginx:1.27", json!({})).await;
    assert_eq!(
        message,
        "image \"nginx:1.27\" (container \"web\"): Action 'Reject' enforced by ContainerPolicy deny-nginx rule index 0"
    );
    harness
        .policies()
        .patch(
            "deny-nginx",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"rules": [{"action": "Allow"}]}})),
        )
        .await
        .unwrap();
    assert!(decision_within_a_second(&harness, true).await, "changed");
    harness
        .policies()
        .patch(
            "deny-nginx",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"rules": [{"action": "Reject"}]}})),
        )
        .await
        .unwrap();
    assert!(
        decision_within_a_second(&harness, false).await,
        "changed back"
    );
    harness
        .policies()
        .delete("deny-nginx", &DeleteParams::default())
        .await
        .unwrap();
    assert!(decision_within_a_second(&harness, true).await, "deleted");
    // Metrics count the decisions, on their own plain-HTTP port.
    let metrics = reqwest::get(format!("http://{}/metrics", harness.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("image_assurance_admission_requests_total{decision=\"rejected\",kind=\"Deployment\",endpoint=\"admission-review\"}"), "{metrics}");
    assert!(
        metrics.contains("image_assurance_policies_loaded 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("image_assurance_source_synced{source=\"policies\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn namespace_label_changes_change_decisions_within_a_second() {
    let harness = start(true, None).await;
    harness.wait_ready().await;
    harness
        .policies()
        .create(
            &PostParams::default(),
            &policy(
                "prod-only",
                json!({"namespaceSelector": "env == 'prod'", "rules": [{"action": "Reject"}]}),
            ),
        )
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(1), || async {
            harness.decide("nginx", json!({})).await.0
        })
        .await
    );
    let namespaces: Api<Namespace> = Api::all(harness.client.clone());
    namespaces
        .patch(
            "team-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"env": "prod"}}})),
        )
        .await
        .unwrap();
    assert!(decision_within_a_second(&harness, false).await, "labelled");
    namespaces
        .patch(
            "team-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"env": null}}})),
        )
        .await
        .unwrap();
    assert!(decision_within_a_second(&harness, true).await, "unlabelled");
}

fn report(summary: Value, updated: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "aquasecurity.github.io/v1alpha1", "kind": "VulnerabilityReport",
        "metadata": {"name": "replicaset-web-web", "namespace": "team-a"},
        "report": {"updateTimestamp": updated, "registry": {"server": "index.docker.io"}, "artifact": {"repository": "library/nginx", "tag": "1.27"}, "summary": summary},
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn vulnerability_reports_set_the_status_even_when_their_crd_arrives_later() {
    let harness = start(true, None).await;
    harness.wait_ready().await;
    harness.policies().create(&PostParams::default(), &policy("pass-only", json!({"rules": [{"action": "Allow", "imageScanStatus": {"operator": "IsOneOf", "values": ["Pass"]}}, {"action": "Reject"}]}))).await.unwrap();
    assert!(
        decision_within_a_second(&harness, false).await,
        "never scanned: Unknown, rejected"
    );
    let crd: CustomResourceDefinition = serde_saphyr::from_str(include_str!(
        "../../fixtures/crds/vulnerabilityreports.yaml"
    ))
    .unwrap();
    Api::<CustomResourceDefinition>::all(harness.client.clone())
        .create(&PostParams::default(), &crd)
        .await
        .unwrap();
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("aquasecurity.github.io", "v1alpha1", "VulnerabilityReport"),
        "vulnerabilityreports",
    );
    let reports: Api<DynamicObject> =
        Api::namespaced_with(harness.client.clone(), "team-a", &resource);
    reports
        .create(
            &PostParams::default(),
            &report(
                json!({"criticalCount": 0, "highCount": 0, "mediumCount": 0, "lowCount": 2}),
                "2026-11-25T10:00:00Z",
            ),
        )
        .await
        .unwrap();
    // The CRD is polled every 2 s, then the reports are listed.
    assert!(
        eventually(Duration::from_secs(5), || async {
            harness.decide("nginx:1.27", json!({})).await.0
        })
        .await,
        "a Pass report allows"
    );
    reports
        .patch("replicaset-web-web", &PatchParams::default(), &Patch::Merge(json!({"report": {"summary": {"criticalCount": 1}, "updateTimestamp": "2026-11-26T10:00:00Z"}})))
        .await
        .unwrap();
    assert!(
        decision_within_a_second(&harness, false).await,
        "a critical finding makes it Fail"
    );

    // The report's updateTimestamp is the scan time: a 3-day window admits a fresh scan only.
    harness
        .policies()
        .delete("pass-only", &DeleteParams::default())
        .await
        .unwrap();
    harness.policies().create(&PostParams::default(), &policy("fresh-scans", json!({"rules": [{"action": "Allow", "imageLastScan": {"operator": "gt", "duration": {"days": 3}}}, {"action": "Reject"}]}))).await.unwrap();
    let ago = |days: i64| {
        (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days))
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    reports
        .patch(
            "replicaset-web-web",
            &PatchParams::default(),
            &Patch::Merge(json!({"report": {"updateTimestamp": ago(1)}})),
        )
        .await
        .unwrap();
    assert!(
        decision_within_a_second(&harness, true).await,
        "scanned a day ago"
    );
    reports
        .patch(
            "replicaset-web-web",
            &PatchParams::default(),
            &Patch::Merge(json!({"report": {"updateTimestamp": ago(5)}})),
        )
        .await
        .unwrap();
    assert!(
        decision_within_a_second(&harness, false).await,
        "scanned five days ago"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_certificate_is_served_to_new_connections_without_failed_requests() {
    let harness = start(true, None).await;
    harness.wait_ready().await;
    let second = make_certs(harness.dir.path(), "second");
    // A client trusting both CAs keeps posting through the rotation: nothing may fail.
    let both = https_client(&[&harness.certs.ca_pem, &second.ca_pem]);
    let failures = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    let url = harness.url("/admission-review");
    let loop_task = {
        let (failures, sent) = (failures.clone(), sent.clone());
        tokio::spawn(async move {
            while done_rx.try_recv().is_err() {
                let body = review("nginx", json!({})).to_string();
                match both.post(&url).body(body).send().await {
                    Ok(response) if response.status() == 200 => {}
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    std::fs::copy(&second.cert, &harness.certs.cert).unwrap();
    std::fs::copy(&second.key, &harness.certs.key).unwrap();
    let only_second = https_client(&[&second.ca_pem]);
    let url = harness.url("/healthz");
    assert!(
        eventually(Duration::from_secs(5), || async {
            only_second
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await,
        "new connections never got the new certificate"
    );
    let _ = done_tx.send(());
    loop_task.await.unwrap();
    assert!(sent.load(Ordering::Relaxed) > 0);
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "requests failed during the rotation"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_answer_and_the_server_keeps_serving() {
    let harness = start(true, None).await;
    harness.wait_ready().await;
    harness
        .policies()
        .create(
            &PostParams::default(),
            &policy("deny-all", json!({"rules": [{"action": "Reject"}]})),
        )
        .await
        .unwrap();
    let mut no_uid = review("nginx", json!({}));
    no_uid["request"]["uid"] = json!("");
    let mut bad_version = review("nginx", json!({}));
    bad_version["apiVersion"] = json!("admission.k8s.io/v2");
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("malformed JSON", b"{\"apiVersion\":".to_vec(), 400),
        (
            "no request",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
            400,
        ),
        ("no uid", no_uid.to_string().into_bytes(), 400),
        ("unknown version", bad_version.to_string().into_bytes(), 400),
        ("huge body", vec![b' '; 2 * 1024 * 1024], 413),
    ];
    for (what, body, code) in cases {
        let (got, answer) = harness.post("/admission-review", body).await;
        assert_eq!(got, code, "{what}: {answer}");
    }
    // An object whose containers or labels do not parse: a denial naming the field, never an
    // allow. (Fields the decision does not read are not decoded: the API server has validated
    // them before it calls any webhook.)
    let mut garbled = review("nginx", json!({}));
    garbled["request"]["object"]["spec"]["template"]["spec"]["containers"][0]["image"] = json!(7);
    let mut bad_labels = review("nginx", json!({}));
    bad_labels["request"]["object"]["metadata"]["labels"] = json!({"app": ["web"]});
    for (review, field) in [
        (garbled, "spec.template.spec.containers[0].image"),
        (bad_labels, "metadata.labels.app"),
    ] {
        let (code, answer) = harness
            .post("/admission-review", review.to_string().into_bytes())
            .await;
        assert_eq!(code, 200);
        assert_eq!(answer["response"]["allowed"], false);
        assert!(
            answer["response"]["status"]["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "{answer}"
        );
    }
    // A slow client that never finishes its headers is cut off; others are unaffected.
    let mut slow = tokio::net::TcpStream::connect(harness.address)
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut slow, b"\x16\x03\x01")
        .await
        .unwrap();
    // Still serving correctly.
    assert!(
        eventually(Duration::from_secs(1), || async {
            !harness.decide("nginx", json!({})).await.0
        })
        .await
    );
    let (allowed, message) = harness.decide("nginx", json!({})).await;
    assert!(
        !allowed && message.contains("ContainerPolicy deny-all rule index 0"),
        "{message}"
    );
    drop(slow);
}
