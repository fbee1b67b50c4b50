//! `image-assurance manifests` output applies unchanged to the simulated cluster with the real
//! `kubectl apply -f -`, and re-applying it changes nothing.

use std::io::Write;
use std::process::{Command, Stdio};

fn image_assurance(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_image-assurance"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn kubectl(
    kubeconfig: &std::path::Path,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> std::process::Output {
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl must be installed (the CI gate installs it): it is the client these tests measure against");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input).expect("writes to kubectl");
    }
    child.wait_with_output().expect("kubectl runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn manifests_apply_to_the_simulator_unchanged_and_reapply_as_unchanged() {
    let mut sim = sim::Simulator::start(sim::Config::default())
        .await
        .expect("the simulator starts");
    let kubeconfig = sim.kubeconfig_path().expect("a kubeconfig");
    let dir = tempfile::tempdir().expect("a temp dir");
    let certs = dir.path().join("certs");
    let made = image_assurance(&["certs", "--out", certs.to_str().expect("utf-8 path")]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let manifests = image_assurance(&[
        "manifests",
        "--namespace-selector-key",
        "apply-container-policies",
        "--namespace-selector-values",
        "true",
        "--cert-dir",
        certs.to_str().expect("utf-8 path"),
    ]);
    assert!(
        manifests.status.success(),
        "{}",
        String::from_utf8_lossy(&manifests.stderr)
    );

    let kubeconfig_path = kubeconfig.clone();
    let yaml = manifests.stdout.clone();
    let first = tokio::task::spawn_blocking(move || {
        kubectl(&kubeconfig_path, &["apply", "-f", "-"], Some(&yaml))
    })
    .await
    .expect("joins");
    let printed = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(
        first.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for expected in [
        "namespace/tigera-image-assurance created",
        "customresourcedefinition.apiextensions.k8s.io/containeradmissionpolicies.containersecurity.tigera.io created",
        "customresourcedefinition.apiextensions.k8s.io/policyreports.wgpolicyk8s.io created",
        "serviceaccount/tigera-secure-container-admission-controller created",
        "clusterrole.rbac.authorization.k8s.io/tigera-secure-container-admission-controller created",
        "clusterrolebinding.rbac.authorization.k8s.io/tigera-secure-container-admission-controller created",
        "role.rbac.authorization.k8s.io/tigera-secure-container-admission-controller created",
        "rolebinding.rbac.authorization.k8s.io/tigera-secure-container-admission-controller created",
        "secret/tigera-image-assurance-admission-controller-certs created",
        "networkpolicy.networking.k8s.io/tigera-image-assurance-admission-controller created",
        "deployment.apps/tigera-image-assurance-admission-controller created",
        "poddisruptionbudget.policy/tigera-image-assurance-admission-controller created",
        "service/tigera-image-assurance-admission-controller-service created",
        "service/tigera-image-assurance-admission-controller-metrics created",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/image-assurance.tigera.io created",
    ] {
        assert!(
            printed.contains(expected),
            "missing {expected:?} in:\n{printed}"
        );
    }

    let pdbs: kube::Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> =
        kube::Api::namespaced(sim.client().expect("a client"), "tigera-image-assurance");
    let before = pdbs
        .get("tigera-image-assurance-admission-controller")
        .await
        .expect("the PDB exists");
    let yaml = manifests.stdout;
    let again = tokio::task::spawn_blocking(move || {
        kubectl(&kubeconfig, &["apply", "-f", "-"], Some(&yaml))
    })
    .await
    .expect("joins");
    let printed = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(
        again.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&again.stderr)
    );
    // kubectl prints `configured` for a PodDisruptionBudget on every re-apply, against a real
    // API server too: its `spec.selector` has patch strategy `replace`, so the computed patch
    // is never empty. What matters is that the object did not change.
    let changed: Vec<&str> = printed
        .lines()
        .filter(|line| {
            !line.ends_with(" unchanged") && !line.starts_with("poddisruptionbudget.policy/")
        })
        .collect();
    assert!(
        changed.is_empty(),
        "a re-apply of identical manifests changed: {changed:?}"
    );
    let after = pdbs
        .get("tigera-image-assurance-admission-controller")
        .await
        .expect("the PDB exists");
    assert_eq!(
        before.metadata.resource_version, after.metadata.resource_version,
        "the PDB must not change"
    );
    assert_eq!(before.metadata.generation, after.metadata.generation);
}
