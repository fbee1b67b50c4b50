//! Shared by the `install_*` tests: running the binary in a clean environment, certificates in a
//! temporary directory, and the YAML of `manifests` read back into k8s-openapi types.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use serde::de::DeserializeOwned;
use serde_json::Value;
use tempfile::TempDir;

pub const KEY_ENV: &str = "IN_NAMESPACE_SELECTOR_KEY";
pub const VALUES_ENV: &str = "IN_NAMESPACE_SELECTOR_VALUES";

/// Runs `image-assurance` with `args` and the upstream selector variables set as in `env`
/// (and only then: inherited values would make the tests depend on the caller's shell).
pub fn run_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_image-assurance"));
    command
        .args(args)
        .env_remove(KEY_ENV)
        .env_remove(VALUES_ENV);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

pub fn run(args: &[&str]) -> Output {
    run_with_env(args, &[])
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn exit_code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

/// `image-assurance certs --out <tmp>/certs` plus `extra`; returns the temporary directory
/// (kept alive by the caller) and the certificate directory's path as a string.
pub fn certs(extra: &[&str]) -> (TempDir, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("certs").display().to_string();
    let mut args = vec!["certs", "--out", out.as_str()];
    args.extend_from_slice(extra);
    let output = run(&args);
    assert_eq!(exit_code(&output), 0, "certs failed: {}", stderr(&output));
    (dir, out)
}

pub fn read(dir: &str, file: &str) -> Vec<u8> {
    std::fs::read(Path::new(dir).join(file)).expect("the file certs wrote")
}

/// `manifests --cert-dir DIR --namespace-selector-key name --namespace-selector-values
/// "prod staging-test"` plus `extra`, which must succeed.
pub fn manifests(cert_dir: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "manifests",
        "--cert-dir",
        cert_dir,
        "--namespace-selector-key",
        "name",
        "--namespace-selector-values",
        "prod staging-test",
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    assert_eq!(
        exit_code(&output),
        0,
        "manifests failed: {}",
        stderr(&output)
    );
    output
}

/// The documents of a multi-document YAML stream, as JSON values.
pub fn documents(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_str_multiple::<Value, Vec<Value>>(yaml).expect("valid multi-document YAML")
}

/// The only document of `kind`, as its k8s-openapi type.
pub fn object<T: DeserializeOwned>(documents: &[Value], kind: &str) -> T {
    let mut matching = documents.iter().filter(|document| document["kind"] == kind);
    let document = matching
        .next()
        .unwrap_or_else(|| panic!("no {kind} document"));
    assert!(matching.next().is_none(), "more than one {kind} document");
    serde_json::from_value(document.clone())
        .unwrap_or_else(|error| panic!("{kind} does not parse as its k8s-openapi type: {error}"))
}

/// The document of `kind` named `name`, as its k8s-openapi type (for kinds installed twice,
/// such as the two Services).
pub fn named<T: DeserializeOwned>(documents: &[Value], kind: &str, name: &str) -> T {
    let document = documents
        .iter()
        .find(|document| document["kind"] == kind && document["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"));
    serde_json::from_value(document.clone())
        .unwrap_or_else(|error| panic!("{kind} {name} does not parse as its type: {error}"))
}
