//! A simulated cluster running our webhook from its own manifests (the kubelet runs the
//! `image-assurance` binary for the webhook's pods), driven with the real `kubectl`. Shared by
//! the in-cluster tests and the cluster scale benchmark.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const IMAGE: &str = "image-assurance:in-cluster-test";
pub const NAMESPACE: &str = "tigera-image-assurance";
pub const DEPLOYMENT: &str = "tigera-image-assurance-admission-controller";
pub const SERVICE: &str = "tigera-image-assurance-admission-controller-service";
pub const WEBHOOK: &str = "image-assurance.tigera.io";
pub const KEY: &str = "apply-container-policies";

pub struct Cluster {
    pub sim: sim::Simulator,
    pub kubeconfig: PathBuf,
    // Certificates and manifests live as long as the cluster.
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// A simulated cluster running the webhook from `image-assurance manifests EXTRA...`.
    pub async fn with_webhook(extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("a temp dir");
        let options = sim::ClusterOptions {
            images: BTreeMap::from([(
                IMAGE.to_string(),
                PathBuf::from(env!("CARGO_BIN_EXE_image-assurance")),
            )]),
            work_dir: Some(dir.path().join("cluster")),
            ..Default::default()
        };
        let mut sim = sim::Simulator::start(sim::Config {
            cluster: Some(options),
            ..Default::default()
        })
        .await
        .expect("the simulator starts");
        let kubeconfig = sim.kubeconfig_path().expect("a kubeconfig");
        let certs = dir.path().join("certs");
        let certs = certs.to_str().expect("utf-8 path");
        succeeded(&image_assurance(&["certs", "--out", certs]));
        let mut args = vec![
            "manifests",
            "--namespace-selector-key",
            KEY,
            "--cert-dir",
            certs,
            "--image",
            IMAGE,
        ];
        args.extend_from_slice(extra);
        if !extra.contains(&"--namespace-selector-values") {
            args.extend_from_slice(&["--namespace-selector-values", "true"]);
        }
        let manifests = image_assurance(&args);
        succeeded(&manifests);
        let cluster = Cluster {
            sim,
            kubeconfig,
            _dir: dir,
        };
        cluster
            .kubectl_ok(&["apply", "-f", "-"], Some(&manifests.stdout))
            .await;
        let crd = fixture("crds/vulnerabilityreports.yaml");
        cluster
            .kubectl_ok(&["apply", "-f", crd.to_str().expect("utf-8 path")], None)
            .await;
        cluster.wait_rolled_out().await;
        cluster
    }

    pub async fn kubectl(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let kubeconfig = self.kubeconfig.clone();
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        let stdin = stdin.map(<[u8]>::to_vec);
        tokio::task::spawn_blocking(move || kubectl(&kubeconfig, &args, stdin.as_deref()))
            .await
            .expect("joins")
    }

    /// Runs kubectl, asserts it succeeded, returns its stdout.
    pub async fn kubectl_ok(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let output = self.kubectl(args, stdin).await;
        succeeded(&output);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Polls `kubectl ARGS` until `done(stdout, stderr)` holds; panics with the last output
    /// after `limit`.
    pub async fn wait_until(
        &self,
        args: &[&str],
        limit: Duration,
        done: impl Fn(&str, &str) -> bool,
    ) -> String {
        let start = Instant::now();
        loop {
            let output = self.kubectl(args, None).await;
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            if done(&stdout, &stderr) {
                return stdout;
            }
            assert!(
                start.elapsed() < limit,
                "`kubectl {}` did not reach the expected state in {limit:?}:\n{stdout}\n{stderr}",
                args.join(" ")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_rolled_out(&self) {
        let deployment = format!("deployment/{DEPLOYMENT}");
        let printed = self
            .kubectl_ok(
                &[
                    "rollout",
                    "status",
                    &deployment,
                    "-n",
                    NAMESPACE,
                    "--timeout=60s",
                ],
                None,
            )
            .await;
        assert!(
            printed.contains(&format!(
                "deployment \"{DEPLOYMENT}\" successfully rolled out"
            )),
            "{printed}"
        );
        // Both replicas serve: the Service's endpoints list two ready addresses.
        self.wait_until(
            &[
                "get",
                "endpoints",
                SERVICE,
                "-n",
                NAMESPACE,
                "-o",
                "jsonpath={.subsets[*].addresses[*].ip}",
            ],
            Duration::from_secs(30),
            |out, _| out.split_whitespace().count() == 2,
        )
        .await;
    }

    /// A namespace in the webhook's scope, with the seed's first policy and scan reports.
    pub async fn shop(&self) {
        self.kubectl_ok(&["create", "namespace", "shop"], None)
            .await;
        self.kubectl_ok(
            &["label", "namespace", "shop", &format!("{KEY}=true")],
            None,
        )
        .await;
        let policy = fixture("policies/reject-failed-and-non-gcr.yaml");
        let printed = self
            .kubectl_ok(&["apply", "-f", policy.to_str().expect("utf-8 path")], None)
            .await;
        assert!(
            printed.contains("containeradmissionpolicy.containersecurity.tigera.io/reject-failed-and-non-gcr created"),
            "{printed}"
        );
        self.kubectl_ok(
            &["apply", "-n", "shop", "-f", "-"],
            Some(PASSING_REPORT.as_bytes()),
        )
        .await;
        // Each webhook replica learns of the policy and the scan report through its own
        // watches: wait until server-side dry runs give the final answers several times in a
        // row (the API server may call either replica), so the checks below do not race them.
        self.wait_for_answers(&rejected_pod("probe"), false).await;
        self.wait_for_answers(ADMITTED_DEPLOYMENT, true).await;
    }
}

impl Cluster {
    /// Polls a server-side dry run of `manifest` until it is admitted (or refused) six times
    /// in a row.
    async fn wait_for_answers(&self, manifest: &str, admitted: bool) {
        let start = Instant::now();
        let mut in_a_row = 0;
        while in_a_row < 6 {
            let output = self
                .kubectl(
                    &["apply", "--dry-run=server", "-f", "-"],
                    Some(manifest.as_bytes()),
                )
                .await;
            if output.status.success() == admitted {
                in_a_row += 1;
            } else {
                in_a_row = 0;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the webhook never settled on {} for:\n{manifest}\n{}",
                if admitted { "admitting" } else { "refusing" },
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

pub const PASSING_REPORT: &str = r#"apiVersion: aquasecurity.github.io/v1alpha1
kind: VulnerabilityReport
metadata:
  name: web
report:
  updateTimestamp: "2026-11-25T10:00:00Z"
  scanner: {name: Trivy, vendor: Aqua Security, version: 0.58.1}
  registry: {server: gcr.io}
  artifact: {repository: company/production-repository/web, tag: "1.0"}
  summary: {criticalCount: 0, highCount: 0, mediumCount: 1, lowCount: 3, unknownCount: 0}
  vulnerabilities: []
"#;

pub const ADMITTED_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: gcr.io/company/production-repository/web:1.0
"#;

pub fn rejected_pod(name: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: shop
spec:
  containers:
  - name: app
    image: nginx:1.27
"
    )
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(path)
}

pub fn image_assurance(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_image-assurance"))
        .args(args)
        .output()
        .expect("the binary runs")
}

pub fn succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn kubectl(kubeconfig: &Path, args: &[String], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "kubectl must be installed (the CI gate checks): it is the client we measure against",
        );
    // Taking the pipe and dropping it closes kubectl's stdin.
    if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
        pipe.write_all(input).expect("writes to kubectl");
    }
    child.wait_with_output().expect("kubectl runs")
}
