//! The `image-assurance` command line as users run it: flags, output, exit codes (the contract
//! of architecture.md, "The binary").

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(path: &str) -> String {
    root().join("fixtures").join(path).display().to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_image-assurance"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
        .collect()
}

const NOW: &str = "2026-11-26T12:00:00Z";

fn evaluate(policy: &str, resource: &str, extra: &[&str]) -> Output {
    let policy = fixture(policy);
    let resource = fixture(resource);
    let scans = fixture("scans/scan-results.yaml");
    let mut args = vec![
        "evaluate",
        "--policy",
        &policy,
        "--resource",
        &resource,
        "--scans",
        &scans,
        "--now",
        NOW,
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

// ---------- acceptance: the seed policies ----------

#[test]
fn seed_policy_1_rejects_an_image_outside_the_repository_with_rule_index_0() {
    let output = evaluate(
        "policies/reject-failed-and-non-gcr.yaml",
        "workloads/pod.yaml",
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = &json_lines(&output)[0];
    assert_eq!(report["document"], 0);
    assert_eq!(report["kind"], "Pod");
    assert_eq!(report["name"], "nginx");
    assert_eq!(report["allowed"], false);
    assert_eq!(
        report["message"],
        "image \"nginx:1.27\" (container \"nginx\"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 0"
    );
    let image = &report["images"][0];
    assert_eq!(image["container"], "nginx");
    assert_eq!(image["image"], "nginx:1.27");
    assert_eq!(image["subject"], "docker.io/library/nginx:1.27");
    assert_eq!(image["status"], "Unknown");
    assert_eq!(image["lastScan"], Value::Null);
    assert_eq!(image["decision"], "rejected");
    assert_eq!(image["policy"], "reject-failed-and-non-gcr");
    assert_eq!(image["ruleIndex"], 0);
}

#[test]
fn seed_policy_1_allows_a_pass_image_inside_the_repository() {
    let output = evaluate(
        "policies/reject-failed-and-non-gcr.yaml",
        "workloads/deployment.yaml",
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = &json_lines(&output)[0];
    assert_eq!(report["allowed"], true);
    assert_eq!(report["message"], Value::Null);
    let api = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["container"] == "api")
        .unwrap();
    assert_eq!(api["status"], "Pass");
    assert_eq!(api["lastScan"], "2026-11-25T10:00:00Z");
    assert_eq!(api["decision"], "allowed");
    assert_eq!(api["ruleIndex"], 1);
}

#[test]
fn seed_policy_1_rejects_a_fail_image_inside_the_repository_with_rule_index_2() {
    let output = evaluate(
        "policies/reject-failed-and-non-gcr.yaml",
        "workloads/statefulset.yaml",
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let image = &json_lines(&output)[0]["images"][0];
    assert_eq!(image["status"], "Fail");
    assert_eq!(image["ruleIndex"], 2);
}

#[test]
fn seed_policy_2_rejects_a_scan_4_days_old_with_rule_index_1_and_allows_2_days() {
    let labels = [
        "--namespace",
        "production",
        "--namespace-labels",
        "apply-container-policies=true",
    ];
    let old = evaluate(
        "policies/reject-outdated-scans.yaml",
        "workloads/job.yaml",
        &labels,
    );
    assert_eq!(old.status.code(), Some(1), "{}", stderr(&old));
    let image = &json_lines(&old)[0]["images"][0];
    assert_eq!(image["lastScan"], "2026-11-22T12:00:00Z");
    assert_eq!(image["policy"], "reject-outdated-scans");
    assert_eq!(image["ruleIndex"], 1);

    let recent = evaluate(
        "policies/reject-outdated-scans.yaml",
        "workloads/cronjob.yaml",
        &labels,
    );
    assert_eq!(recent.status.code(), Some(0), "{}", stderr(&recent));
    let image = &json_lines(&recent)[0]["images"][0];
    assert_eq!(image["decision"], "allowed");
    assert_eq!(image["ruleIndex"], 0);
}

#[test]
fn seed_policy_2_does_not_apply_outside_labelled_namespaces() {
    let output = evaluate(
        "policies/reject-outdated-scans.yaml",
        "workloads/job.yaml",
        &["--namespace", "production"],
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        json_lines(&output)[0]["images"][0]["ruleIndex"],
        Value::Null
    );
}

#[test]
fn a_directory_of_workloads_gives_one_line_per_document_and_exit_1_if_any_is_rejected() {
    let output = evaluate(
        "policies",
        "workloads",
        &["--namespace-labels", "apply-container-policies=true"],
    );
    assert_eq!(output.status.code(), Some(1));
    let reports = json_lines(&output);
    let verdicts: Vec<(String, bool)> = reports
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["allowed"].as_bool().unwrap(),
            )
        })
        .collect();
    // Sorted by file name, as kubectl reads a directory.
    assert_eq!(
        verdicts,
        [
            ("CronJob".to_string(), true),
            ("DaemonSet".to_string(), true),
            ("Deployment".to_string(), true),
            ("Job".to_string(), false),
            ("Pod".to_string(), false),
            ("ReplicaSet".to_string(), false),
            ("ReplicationController".to_string(), true),
            ("StatefulSet".to_string(), false),
        ]
    );
}

#[test]
fn text_output_names_the_object_and_explain_shows_the_subject() {
    let policy = fixture("policies/reject-failed-and-non-gcr.yaml");
    let resource = fixture("workloads/pod.yaml");
    let output = run(&[
        "evaluate",
        "--policy",
        &policy,
        "--resource",
        &resource,
        "--now",
        NOW,
        "--explain",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.starts_with("Pod/nginx (namespace default): rejected\n"),
        "{text}"
    );
    assert!(
        text.contains("subject:  docker.io/library/nginx:1.27"),
        "{text}"
    );
    assert!(
        text.contains("applicable policies in order: reject-failed-and-non-gcr (order 10)"),
        "{text}"
    );
}

#[test]
fn kinds_that_create_no_pods_are_allowed_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let service = write(
        &dir,
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n",
    );
    let policy = fixture("policies/reject-failed-and-non-gcr.yaml");
    let output = run(&[
        "evaluate",
        "--policy",
        &policy,
        "--resource",
        &service,
        "--output",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(json_lines(&output)[0]["images"], serde_json::json!([]));
}

// ---------- AdmissionReviews, owners and users ----------

#[test]
fn an_admission_review_is_evaluated_with_its_namespace_and_user() {
    let policy = fixture("policies/reject-failed-and-non-gcr.yaml");
    let review = fixture("admission-reviews/pod-create.json");
    let output = run(&[
        "evaluate",
        "--policy",
        &policy,
        "--resource",
        &review,
        "--output",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = &json_lines(&output)[0];
    assert_eq!(report["kind"], "Pod");
    assert_eq!(report["name"], "debug");
    assert_eq!(report["namespace"], "production");
    assert_eq!(report["images"][0]["ruleIndex"], 0);
}

#[test]
fn a_delete_admission_review_is_allowed() {
    let policy = fixture("policies/reject-failed-and-non-gcr.yaml");
    let review = fixture("admission-reviews/pod-delete.json");
    let output = run(&["evaluate", "--policy", &policy, "--resource", &review]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("not evaluated: DELETE requests create no containers"));
}

#[test]
fn a_child_with_its_owner_and_a_controller_user_is_not_re_evaluated() {
    let policy = fixture("policies/reject-failed-and-non-gcr.yaml");
    let child = fixture("children/replicaset-api.yaml");
    let owner = fixture("owners/deployment-api.yaml");
    let controller = "system:serviceaccount:kube-system:replicaset-controller";
    // No scan data: evaluated, the images would be Unknown and rejected by rule index 2.
    let direct = run(&[
        "evaluate",
        "--policy",
        &policy,
        "--resource",
        &child,
        "--output",
        "json",
    ]);
    assert_eq!(direct.status.code(), Some(1));
    let approved = run(&[
        "evaluate",
        "--policy",
        &policy,
        "--resource",
        &child,
        "--owner",
        &owner,
        "--user",
        controller,
        "--output",
        "json",
    ]);
    assert_eq!(approved.status.code(), Some(0), "{}", stderr(&approved));
    let report = &json_lines(&approved)[0];
    assert_eq!(report["images"][0]["policy"], Value::Null);
    assert!(
        report["images"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("admitted Deployment \"api\"")
    );
}

#[test]
fn a_forged_owner_reference_is_evaluated_with_a_warning() {
    let policy = fixture("policies/reject-failed-and-non-gcr.yaml");
    let forged = fixture("children/pod-forged-owner.yaml");
    let owner = fixture("owners/deployment-api.yaml");
    let controller = "system:serviceaccount:kube-system:replicaset-controller";
    let output = run(&[
        "evaluate",
        "--policy",
        &policy,
        "--resource",
        &forged,
        "--owner",
        &owner,
        "--user",
        controller,
        "--output",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let report = &json_lines(&output)[0];
    assert!(
        report["warnings"][0]
            .as_str()
            .unwrap()
            .contains("\"busybox:1.36\" is not in the owner's pod template")
    );
}

#[test]
fn vulnerability_reports_are_accepted_as_scan_data() {
    let policy = fixture("policies/reject-failed-and-non-gcr.yaml");
    let resource = fixture("workloads/deployment.yaml");
    let reports = fixture("scans/vulnerability-reports.yaml");
    let output = run(&[
        "evaluate",
        "--policy",
        &policy,
        "--resource",
        &resource,
        "--scans",
        &reports,
        "--output",
        "json",
    ]);
    let report = &json_lines(&output)[0];
    let api = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["container"] == "api")
        .unwrap();
    assert_eq!(api["status"], "Pass");
    assert_eq!(api["lastScan"], "2026-11-25T10:00:00Z");
}

// ---------- policy-semantics §4–§5: updates, a person's requests ----------

const SEED_POLICY_1: &str = "policies/reject-failed-and-non-gcr.yaml";

fn evaluate_text(policy: &str, resource: &str) -> Output {
    let (policy, resource) = (fixture(policy), fixture(resource));
    let scans = fixture("scans/scan-results.yaml");
    run(&[
        "evaluate",
        "--policy",
        &policy,
        "--resource",
        &resource,
        "--scans",
        &scans,
        "--now",
        NOW,
    ])
}

#[test]
fn s4_an_update_review_that_changes_no_image_is_allowed_as_unchanged_since_admitted() {
    // `kubectl label`, `rollout restart` and a new replica count on a Deployment whose image
    // (ledger:0.9) has failed its scan since it was admitted.
    let review = "admission-reviews/deployment-restart.json";
    let output = evaluate(SEED_POLICY_1, review, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = &json_lines(&output)[0];
    assert_eq!(report["allowed"], true);
    assert_eq!(
        report["images"],
        serde_json::json!([{
            "container": "ledger", "image": "gcr.io/company/production-repository/ledger:0.9",
            "subject": "gcr.io/company/production-repository/ledger:0.9", "status": "Fail",
            "lastScan": "2026-11-25T10:00:00Z", "decision": "allowed", "policy": null,
            "ruleIndex": null, "reason": "unchanged since admitted",
        }])
    );
    assert_eq!(report["warnings"], serde_json::json!([]));
    let text = evaluate_text(SEED_POLICY_1, review);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    assert_eq!(
        stdout(&text),
        "Deployment/ledger (namespace production): allowed\n  container \"ledger\" image \"gcr.io/company/production-repository/ledger:0.9\": unchanged since admitted, not evaluated\n"
    );
}

#[test]
fn s4_an_update_review_judges_only_the_image_it_changes() {
    // `kubectl set image deployment/api api=…/ledger:0.9`, a failed image.
    let review = "admission-reviews/deployment-set-image.json";
    let output = evaluate(SEED_POLICY_1, review, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = &json_lines(&output)[0];
    assert_eq!(
        report["message"],
        "image \"gcr.io/company/production-repository/ledger:0.9\" (container \"api\"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 2"
    );
    let reasons: Vec<(&str, &str)> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|image| {
            (
                image["container"].as_str().unwrap(),
                image["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(reasons, [("migrate", "allowed"), ("api", "rejected")]);
    assert_eq!(report["images"][0]["reason"], "unchanged since admitted");
    let text = stdout(&evaluate_text(SEED_POLICY_1, review));
    assert!(
        text.contains("  container \"migrate\" image \"gcr.io/company/production-repository/migrations:5\": unchanged since admitted, not evaluated\n"),
        "{text}"
    );
}

#[test]
fn s4_a_debug_container_is_judged_alone_and_without_a_warning() {
    // `kubectl debug` with a passing image on a Pod whose own image has failed since.
    let output = evaluate(SEED_POLICY_1, "admission-reviews/pod-debug.json", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = &json_lines(&output)[0];
    assert_eq!(report["images"][0]["reason"], "unchanged since admitted");
    assert_eq!(report["images"][0]["status"], "Fail");
    assert_eq!(report["images"][1]["container"], "debugger-7k2p");
    assert_eq!(report["images"][1]["ruleIndex"], 1);
    assert_eq!(report["warnings"], serde_json::json!([]));
}

#[test]
fn s4_an_unreadable_old_object_is_bad_input_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut review: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("admission-reviews/pod-debug.json")).unwrap(),
    )
    .unwrap();
    review["request"]["oldObject"]["spec"]["containers"] = serde_json::json!("ledger");
    let path = write(&dir, "review.json", &review.to_string());
    let output = run(&[
        "evaluate",
        "--policy",
        &fixture(SEED_POLICY_1),
        "--resource",
        &path,
    ]);
    assert_bad_input(
        &output,
        &["review.json", "request.oldObject", "spec.containers"],
    );
}

#[test]
fn s5_a_job_created_from_a_cronjob_by_a_person_is_evaluated_without_a_warning() {
    // `kubectl create job --from=cronjob/hourly-report`: owned by the CronJob, sent by a person.
    let output = evaluate(
        SEED_POLICY_1,
        "admission-reviews/job-from-cronjob.json",
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = &json_lines(&output)[0];
    assert_eq!(report["images"][0]["ruleIndex"], 1);
    assert_eq!(report["warnings"], serde_json::json!([]));
    let text = stdout(&evaluate_text(
        SEED_POLICY_1,
        "admission-reviews/job-from-cronjob.json",
    ));
    assert_eq!(
        text,
        "Job/hourly-report-manual (namespace production): allowed\n"
    );
}

// ---------- selector ----------

#[test]
fn selector_prints_match_and_exits_0() {
    let output = run(&[
        "selector",
        "has(a) && b in {'x','y'}",
        "--labels",
        "a=1,b=x",
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "match\n");
}

#[test]
fn selector_prints_no_match_and_exits_1() {
    let output = run(&[
        "selector",
        "has(a) && b in {'x','y'}",
        "--labels",
        "a=1,b=z",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "no match\n");
}

#[test]
fn an_invalid_selector_exits_2_and_shows_where_the_error_is() {
    let output = run(&["selector", "a = 'b'"]);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(error.contains("position 2"), "{error}");
    assert!(error.contains("a = 'b'\n  ^"), "{error}");
}

// ---------- crd ----------

#[test]
fn the_checked_in_crd_equals_the_generated_one() {
    let output = run(&["crd"]);
    assert_eq!(output.status.code(), Some(0));
    let checked_in = std::fs::read_to_string(root().join("webhook/deploy/crd.yaml")).unwrap();
    assert!(
        stdout(&output) == checked_in,
        "webhook/deploy/crd.yaml differs from `image-assurance crd`: run `cargo xtask crd`"
    );
}

// ---------- bad input: exit 2 naming file, document and field ----------

fn assert_bad_input(output: &Output, expected: &[&str]) {
    assert_eq!(
        output.status.code(),
        Some(2),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
    assert!(
        stdout(output).is_empty(),
        "nothing is printed on stdout for bad input"
    );
    let error = stderr(output);
    for part in expected {
        assert!(error.contains(part), "expected {part:?} in: {error}");
    }
}

fn evaluate_files(policy: &str, resource: &str) -> Output {
    run(&["evaluate", "--policy", policy, "--resource", resource])
}

const GOOD_POLICY: &str = "apiVersion: containersecurity.tigera.io/v1beta1\nkind: ContainerAdmissionPolicy\nmetadata: {name: ok}\nspec:\n  rules: [{action: Reject}]\n";

#[test]
fn bad_input_malformed_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        &dir,
        "p.yaml",
        &format!("{GOOD_POLICY}---\nspec: [unclosed\n"),
    );
    assert_bad_input(
        &evaluate_files(&policy, &fixture("workloads/pod.yaml")),
        &["p.yaml document 1", "not valid YAML"],
    );
}

#[test]
fn bad_input_wrong_field_type() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        &dir,
        "p.yaml",
        &GOOD_POLICY.replace("spec:\n", "spec:\n  order: first\n"),
    );
    assert_bad_input(
        &evaluate_files(&policy, &fixture("workloads/pod.yaml")),
        &["p.yaml document 0", "spec.order"],
    );
}

#[test]
fn bad_input_invalid_selector_in_a_policy() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        &dir,
        "p.yaml",
        &GOOD_POLICY.replace("spec:\n", "spec:\n  selector: \"app === 'x'\"\n"),
    );
    assert_bad_input(
        &evaluate_files(&policy, &fixture("workloads/pod.yaml")),
        &[
            "p.yaml document 0",
            "ContainerAdmissionPolicy ok",
            "spec.selector",
            "position",
        ],
    );
}

#[test]
fn bad_input_invalid_regex() {
    let dir = tempfile::tempdir().unwrap();
    let rules =
        "  rules:\n  - action: Reject\n    imagePath: {operator: IsOneOf, values: ['[a-']}\n";
    let policy = write(
        &dir,
        "p.yaml",
        &GOOD_POLICY.replace("  rules: [{action: Reject}]\n", rules),
    );
    assert_bad_input(
        &evaluate_files(&policy, &fixture("workloads/pod.yaml")),
        &[
            "p.yaml document 0",
            "spec.rules[0].imagePath.values[0]",
            "invalid regular expression",
        ],
    );
}

#[test]
fn bad_input_duration_and_time_together() {
    let dir = tempfile::tempdir().unwrap();
    let rules = "  rules:\n  - action: Allow\n    imageLastScan: {operator: gt, duration: {days: 3}, time: '2026-01-01T00:00:00Z'}\n";
    let policy = write(
        &dir,
        "p.yaml",
        &GOOD_POLICY.replace("  rules: [{action: Reject}]\n", rules),
    );
    assert_bad_input(
        &evaluate_files(&policy, &fixture("workloads/pod.yaml")),
        &[
            "p.yaml document 0",
            "spec.rules[0].imageLastScan",
            "not both",
        ],
    );
}

#[test]
fn bad_input_unparsable_image_reference() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "p.yaml", GOOD_POLICY);
    let pod = write(
        &dir,
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: nginx}, {name: b, image: 'My Image'}]\n",
    );
    assert_bad_input(
        &evaluate_files(&policy, &pod),
        &[
            "pod.yaml document 0",
            "spec.containers[1].image",
            "My Image",
        ],
    );
}

#[test]
fn bad_input_a_document_that_is_not_a_kubernetes_object() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "p.yaml", GOOD_POLICY);
    let resource = write(
        &dir,
        "r.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n---\n- just\n- a list\n",
    );
    assert_bad_input(
        &evaluate_files(&policy, &resource),
        &["r.yaml document 1", "not a Kubernetes object"],
    );
}

#[test]
fn bad_input_a_workload_field_of_the_wrong_type() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "p.yaml", GOOD_POLICY);
    let resource = write(
        &dir,
        "d.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: many\n",
    );
    assert_bad_input(
        &evaluate_files(&policy, &resource),
        &["d.yaml document 0", "spec.replicas"],
    );
}

#[test]
fn bad_input_a_policy_file_holding_another_kind() {
    let policy = fixture("workloads/pod.yaml");
    assert_bad_input(
        &evaluate_files(&policy, &fixture("workloads/pod.yaml")),
        &[
            "pod.yaml document 0",
            "expected a ContainerAdmissionPolicy",
            "found Pod",
        ],
    );
}

#[test]
fn bad_input_missing_file_and_bad_flags() {
    assert_bad_input(
        &evaluate_files("/nonexistent/p.yaml", &fixture("workloads/pod.yaml")),
        &["/nonexistent/p.yaml", "cannot read"],
    );
    let policy = fixture("policies/reject-failed-and-non-gcr.yaml");
    let pod = fixture("workloads/pod.yaml");
    assert_bad_input(
        &run(&[
            "evaluate",
            "--policy",
            &policy,
            "--resource",
            &pod,
            "--now",
            "yesterday",
        ]),
        &["--now"],
    );
    assert_bad_input(
        &run(&[
            "evaluate",
            "--policy",
            &policy,
            "--resource",
            &pod,
            "--namespace-labels",
            "novalue",
        ]),
        &["--namespace-labels"],
    );
}

#[test]
fn bad_input_in_the_scan_file_names_file_document_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let scans = write(
        &dir,
        "s.yaml",
        "images:\n  - image: nginx\n    status: pass\n",
    );
    let policy = fixture("policies/reject-failed-and-non-gcr.yaml");
    let pod = fixture("workloads/pod.yaml");
    assert_bad_input(
        &run(&[
            "evaluate",
            "--policy",
            &policy,
            "--resource",
            &pod,
            "--scans",
            &scans,
        ]),
        &["s.yaml document 0", "images[0].status"],
    );
}
