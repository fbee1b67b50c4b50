//! What `image-assurance manifests` refuses, always with exit 2 and a message that names the flag
//! (or variable, or file) and the value: the critical namespaces that could deadlock the
//! cluster, missing or malformed selector settings, and certificates the API server would reject.

mod install_support;

use install_support::{
    KEY_ENV, VALUES_ENV, certs, documents, exit_code, run, run_with_env, stderr, stdout,
};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use serde_json::Value;

fn manifests_with(dir: &str, key: &str, values: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "manifests",
        "--cert-dir",
        dir,
        "--namespace-selector-key",
        key,
        "--namespace-selector-values",
        values,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn assert_refused(output: &std::process::Output, expected: &[&str]) {
    assert_eq!(exit_code(output), 2, "stdout: {}", stdout(output));
    assert!(
        stdout(output).is_empty(),
        "nothing printed for kubectl on refusal"
    );
    let message = stderr(output);
    for part in expected {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
}

fn selector_expressions(output: &std::process::Output) -> Vec<(String, String, Vec<String>)> {
    let documents = documents(&stdout(output));
    let configuration: ValidatingWebhookConfiguration =
        install_support::object(&documents, "ValidatingWebhookConfiguration");
    let workloads = configuration.webhooks.expect("webhooks").remove(0);
    workloads
        .namespace_selector
        .and_then(|selector| selector.match_expressions)
        .expect("matchExpressions")
        .into_iter()
        .map(|e| (e.key, e.operator, e.values.unwrap_or_default()))
        .collect()
}

#[test]
fn each_critical_namespace_is_refused_with_the_deadlock() {
    let (_tmp, dir) = certs(&[]);
    for namespace in ["kube-system", "kube-public", "kube-node-lease"] {
        let output = manifests_with(&dir, "name", &format!("prod {namespace}"), &[]);
        assert_refused(
            &output,
            &[
                "--namespace-selector-values",
                &format!("refusing \"{namespace}\""),
                "critical",
                "deadlock",
                "--allow-critical-namespaces",
            ],
        );
    }
}

#[test]
fn the_webhooks_own_namespace_is_refused() {
    let (_tmp, dir) = certs(&[]);
    let output = manifests_with(&dir, "name", "tigera-image-assurance", &[]);
    assert_refused(
        &output,
        &[
            "refusing \"tigera-image-assurance\"",
            "own namespace",
            "deadlock",
        ],
    );
    // Whatever the namespace is called.
    let (_tmp, dir) = certs(&["--namespace", "security"]);
    let output = manifests_with(&dir, "name", "prod security", &["--namespace", "security"]);
    assert_refused(&output, &["refusing \"security\"", "own namespace"]);
}

#[test]
fn allow_critical_namespaces_warns_and_excludes_nothing() {
    let (_tmp, dir) = certs(&[]);
    let output = manifests_with(
        &dir,
        "kubernetes.io/metadata.name",
        "kube-system tigera-image-assurance",
        &["--allow-critical-namespaces"],
    );
    assert_eq!(exit_code(&output), 0, "{}", stderr(&output));
    let warning = stderr(&output);
    assert!(
        warning.starts_with("warning: --allow-critical-namespaces"),
        "{warning}"
    );
    assert!(
        warning.contains("kube-system, tigera-image-assurance"),
        "{warning}"
    );
    assert!(warning.contains("deadlock"), "{warning}");
    assert!(
        warning.contains("kubectl delete validatingwebhookconfiguration image-assurance.tigera.io"),
        "{warning}"
    );
    assert_eq!(
        selector_expressions(&output),
        [(
            "kubernetes.io/metadata.name".to_string(),
            "In".to_string(),
            vec![
                "kube-system".to_string(),
                "tigera-image-assurance".to_string()
            ]
        )]
    );

    // Even without critical values the flag drops the exclusion, and still warns.
    let output = manifests_with(&dir, "name", "prod", &["--allow-critical-namespaces"]);
    assert_eq!(exit_code(&output), 0);
    assert!(stderr(&output).starts_with("warning:"));
    assert_eq!(selector_expressions(&output).len(), 1);
}

#[test]
fn the_help_says_what_allow_critical_namespaces_is_for() {
    let output = run(&["manifests", "--help"]);
    assert_eq!(exit_code(&output), 0);
    let help = stdout(&output);
    assert!(help.contains("--allow-critical-namespaces"), "{help}");
    assert!(help.contains("demonstrating the deadlock"), "{help}");
}

#[test]
fn the_upstream_variables_are_the_defaults() {
    let (_tmp, dir) = certs(&[]);
    let env = [
        (KEY_ENV, "apply-container-policies"),
        (VALUES_ENV, " true  enforcing "),
    ];
    let output = run_with_env(&["manifests", "--cert-dir", &dir], &env);
    assert_eq!(exit_code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        selector_expressions(&output)[0],
        (
            "apply-container-policies".to_string(),
            "In".to_string(),
            vec!["true".to_string(), "enforcing".to_string()]
        )
    );

    // Flags win over the variables.
    let output = run_with_env(
        &[
            "manifests",
            "--cert-dir",
            &dir,
            "--namespace-selector-values",
            "prod",
        ],
        &env,
    );
    assert_eq!(exit_code(&output), 0, "{}", stderr(&output));
    let first = &selector_expressions(&output)[0];
    assert_eq!(
        (first.0.as_str(), &first.2[..]),
        ("apply-container-policies", &["prod".to_string()][..])
    );

    // A refused value from a variable says where it came from.
    let env = [(KEY_ENV, "name"), (VALUES_ENV, "kube-system")];
    let output = run_with_env(&["manifests", "--cert-dir", &dir], &env);
    assert_refused(
        &output,
        &["--namespace-selector-values (from IN_NAMESPACE_SELECTOR_VALUES)"],
    );
}

#[test]
fn a_missing_or_empty_key_or_values_names_the_flag_and_the_variable() {
    let (_tmp, dir) = certs(&[]);
    type Env<'a> = &'a [(&'a str, &'a str)];
    let cases: [(&[&str], Env, &str); 6] = [
        (
            &[],
            &[(VALUES_ENV, "prod")],
            "--namespace-selector-key is required",
        ),
        (
            &["--namespace-selector-key", ""],
            &[(VALUES_ENV, "prod")],
            "--namespace-selector-key is empty",
        ),
        (
            &[],
            &[(KEY_ENV, ""), (VALUES_ENV, "prod")],
            "--namespace-selector-key is empty",
        ),
        (
            &["--namespace-selector-key", "name"],
            &[],
            "--namespace-selector-values is required",
        ),
        (
            &[
                "--namespace-selector-key",
                "name",
                "--namespace-selector-values",
                "  ",
            ],
            &[],
            "--namespace-selector-values is empty",
        ),
        (
            &[],
            &[(KEY_ENV, "name"), (VALUES_ENV, " ")],
            "--namespace-selector-values is empty",
        ),
    ];
    for (flags, env, expected) in cases {
        let mut args = vec!["manifests", "--cert-dir", dir.as_str()];
        args.extend_from_slice(flags);
        let output = run_with_env(&args, env);
        let variable = if expected.contains("-key") {
            KEY_ENV
        } else {
            VALUES_ENV
        };
        assert_refused(&output, &[expected, variable]);
    }
}

#[test]
fn malformed_label_keys_and_values_are_refused_with_the_problem() {
    let (_tmp, dir) = certs(&[]);
    let cases = [
        (
            "has space",
            "prod",
            "--namespace-selector-key: invalid label key \"has space\": name part must consist of",
        ),
        ("-name", "prod", "invalid label key \"-name\""),
        (
            "Example.com/name",
            "prod",
            "prefix part a lowercase RFC 1123 subdomain",
        ),
        ("example.com/", "prod", "name part must be non-empty"),
        (
            "name",
            "prod bad/value",
            "--namespace-selector-values: invalid label value \"bad/value\"",
        ),
        ("name", "ends-", "invalid label value \"ends-\""),
    ];
    for (key, values, expected) in cases {
        let output = manifests_with(&dir, key, values, &[]);
        assert_refused(&output, &[expected]);
    }
    let long = "v".repeat(64);
    let output = manifests_with(&dir, "name", &long, &[]);
    assert_refused(&output, &["must be no more than 63 characters"]);
}

#[test]
fn missing_certificates_name_the_path_and_the_fix() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let missing = tmp.path().join("nowhere").display().to_string();
    let output = manifests_with(&missing, "name", "prod", &[]);
    assert_refused(
        &output,
        &[
            &format!("--cert-dir {missing}"),
            "image-assurance certs --out DIR",
        ],
    );

    let empty = tmp.path().display().to_string();
    let output = manifests_with(&empty, "name", "prod", &[]);
    assert_refused(
        &output,
        &[
            "admission_controller_cert.pem",
            "image-assurance certs --out DIR",
        ],
    );
}

#[test]
fn certificates_for_another_namespace_are_refused() {
    let (_tmp, dir) = certs(&["--namespace", "elsewhere"]);
    let output = manifests_with(&dir, "name", "prod", &[]);
    assert_refused(
        &output,
        &[
            "admission_controller_cert.pem",
            "tigera-image-assurance-admission-controller-service.tigera-image-assurance.svc",
        ],
    );
}

#[test]
fn certificates_from_two_runs_do_not_mix() {
    let (_tmp, dir) = certs(&[]);
    let (_tmp2, other) = certs(&[]);
    std::fs::copy(
        std::path::Path::new(&other).join("ca.pem"),
        std::path::Path::new(&dir).join("ca.pem"),
    )
    .expect("copied");
    let output = manifests_with(&dir, "name", "prod", &[]);
    assert_refused(&output, &["does not verify against the CA"]);
}

#[test]
fn other_bad_flags_exit_2_naming_the_flag() {
    let (_tmp, dir) = certs(&[]);
    let cases: [(&[&str], &str); 7] = [
        (&["--timeout-seconds", "0"], "--timeout-seconds 0"),
        (&["--timeout-seconds", "31"], "--timeout-seconds 31"),
        (&["--replicas", "0"], "--replicas 0"),
        (&["--image", "Not An Image"], "--image \"Not An Image\""),
        (&["--image-pull-policy", "Sometimes"], "--image-pull-policy"),
        (&["--failure-policy", "Maybe"], "--failure-policy"),
        (&["--namespace", "Bad_NS"], "--namespace \"Bad_NS\""),
    ];
    for (extra, expected) in cases {
        let output = manifests_with(&dir, "name", "prod", extra);
        assert_refused(&output, &[expected]);
    }
}

#[test]
fn values_are_deduplicated_in_order() {
    let (_tmp, dir) = certs(&[]);
    let output = manifests_with(&dir, "name", "b a b", &[]);
    assert_eq!(exit_code(&output), 0);
    let expressions = selector_expressions(&output);
    assert_eq!(expressions[0].2, ["b", "a"]);
    let _: Vec<Value> = documents(&stdout(&output));
}
