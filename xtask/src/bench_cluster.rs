//! `cargo xtask bench cluster --cluster upstream`: what `cargo xtask bench cluster` measures on
//! the simulator (webhook/benches/cluster_scale.rs), on Kubernetes' own control plane with the
//! process kubelet as two nodes. Our webhook runs from its own manifests (the release binary, as
//! the simulator bench runs it) and is called for every object; timed are a 10-replica
//! Deployment from `kubectl apply` to 10 Running and Ready pods, and `kubectl scale` to 100.
//!
//! It runs here rather than as a `cargo bench` target because the cluster needs this process in
//! a network namespace of its own, entered before any thread starts (see the upstream backend's
//! `netns`). The cluster is torn down at the end, also when a step fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use conformance::backend::upstream::UpstreamBackend;
use conformance::backend::{Backend, BackendOptions};
use conformance::install::{self, InstallBase, InstallPlan, SCOPE_KEY, SCOPE_VALUES};
use conformance::wait::poll;
use image_assurance::install::DEFAULT_IMAGE;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

/// Which cluster `bench cluster` runs on.
#[derive(Debug, PartialEq, Eq)]
pub enum Cluster {
    /// The simulator, through `cargo bench`, with these arguments passed on.
    Sim(Vec<String>),
    Upstream,
}

const USAGE: &str = "bench cluster [--cluster sim|upstream] [ARGS]";

/// Splits `--cluster X` (or `--cluster=X`) off the arguments after `bench cluster`.
pub fn parse(args: &[String]) -> Result<Cluster, String> {
    let mut upstream = false;
    let mut rest = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = if arg == "--cluster" {
            args.next()
                .cloned()
                .ok_or_else(|| format!("--cluster needs a value (usage: {USAGE})"))?
        } else if let Some(inline) = arg.strip_prefix("--cluster=") {
            inline.to_string()
        } else {
            rest.push(arg.clone());
            continue;
        };
        upstream = match value.as_str() {
            "sim" => false,
            "upstream" => true,
            other => {
                return Err(format!(
                    "bench cluster: --cluster {other:?}: expected sim or upstream"
                ));
            }
        };
    }
    match (upstream, rest.first()) {
        (false, _) => Ok(Cluster::Sim(rest)),
        (true, None) => Ok(Cluster::Upstream),
        (true, Some(other)) => Err(format!(
            "bench cluster --cluster upstream: unknown argument {other:?} (usage: {USAGE})"
        )),
    }
}

/// The namespace the Deployment runs in, in the webhook's scope.
const NAMESPACE: &str = "shop";
/// The seed's first policy: images under gcr.io/company/production-repository/ that scanned
/// Pass or Warn are admitted.
const POLICY: &str = "fixtures/policies/reject-failed-and-non-gcr.yaml";
/// How long 10 (or 100) pods may take before the run gives up, as in the simulator bench.
const GIVE_UP: Duration = Duration::from_secs(120);

/// A passing scan of the Deployment's image (as webhook/tests/cluster_support has it).
const PASSING_REPORT: &str = r#"apiVersion: aquasecurity.github.io/v1alpha1
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

/// cluster_support's ADMITTED_DEPLOYMENT with 10 replicas.
const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 10
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

/// A pod the policy refuses (not under the production repository).
const REJECTED_POD: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: probe
  namespace: shop
spec:
  containers:
  - name: app
    image: nginx:1.27
"#;

/// Builds the release webhook and the control plane, enters the network namespace, runs the
/// bench, tears the cluster down.
pub fn run(root: &Path) -> Result<(), String> {
    let binary = crate::e2e::build_webhook_profile(root, true)?;
    crate::e2e::prepare_upstream(root)?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| format!("cannot start a runtime: {error}"))?;
    runtime.block_on(bench(root, binary))
}

async fn bench(root: &Path, binary: PathBuf) -> Result<(), String> {
    let started = Instant::now();
    let backend = UpstreamBackend::start(&BackendOptions {
        root: root.to_path_buf(),
        image: DEFAULT_IMAGE.to_string(),
        binary,
        cluster_name: "upstream".into(),
        keep: false,
    })
    .await?;
    // The logs stay for a look after a failure (the next start clears them).
    let result = measure(&backend, root, started).await.map_err(|error| {
        format!(
            "{error} (the cluster's logs: {})",
            UpstreamBackend::dir(root).display()
        )
    });
    let teardown = Box::new(backend).teardown().await;
    match (result, teardown) {
        (Ok(()), teardown) => teardown,
        (Err(error), Ok(())) => Err(error),
        (Err(error), Err(teardown)) => Err(format!("{error}; and teardown: {teardown}")),
    }
}

async fn measure(backend: &UpstreamBackend, root: &Path, started: Instant) -> Result<(), String> {
    let client = backend.client();
    let kubectl = Kubectl {
        kubeconfig: backend.admin_kubeconfig().to_path_buf(),
    };
    install_webhook(&client, root).await?;
    shop(&kubectl, root).await?;
    println!(
        "{}: cluster, webhook, policy and scan report ready in {:.1} s",
        backend.description(),
        started.elapsed().as_secs_f64()
    );
    let pods: Api<Pod> = Api::namespaced(client, NAMESPACE);

    let start = Instant::now();
    kubectl
        .ok(&["apply", "-f", "-"], Some(DEPLOYMENT.as_bytes()))
        .await?;
    let (ten, created) = time_until_running(&pods, 10, start).await?;
    println!(
        "10-replica Deployment through the webhook: 10 Running in {:.2} s (simulator's goal < 2 s: {})",
        ten.as_secs_f64(),
        verdict(ten, Duration::from_secs(2))
    );
    println!(
        "  (all 10 pods created after {:.2} s)",
        created.as_secs_f64()
    );

    let start = Instant::now();
    kubectl
        .ok(
            &["scale", "deployment/web", "-n", NAMESPACE, "--replicas=100"],
            None,
        )
        .await?;
    let (hundred, created) = time_until_running(&pods, 100, start).await?;
    println!(
        "scale-up to 100 replicas: 100 Running in {:.2} s (simulator's goal < 10 s: {})",
        hundred.as_secs_f64(),
        verdict(hundred, Duration::from_secs(10))
    );
    println!(
        "  (all 100 pods created after {:.2} s)",
        created.as_secs_f64()
    );
    Ok(())
}

/// The VulnerabilityReport CRD, then the webhook's standard install (as the harness's
/// `runner::prepare`); `install::apply` waits until both replicas serve behind the Service.
async fn install_webhook(client: &kube::Client, root: &Path) -> Result<(), String> {
    install::install_vulnerability_reports(client, root).await?;
    let manifests = InstallBase::new(DEFAULT_IMAGE)?.manifests(&InstallPlan::default())?;
    install::apply(client, &manifests).await
}

/// The `shop` namespace in the webhook's scope, with the policy and a passing scan report, as
/// cluster_support's `shop` sets it up for the simulator.
async fn shop(kubectl: &Kubectl, root: &Path) -> Result<(), String> {
    kubectl
        .ok(&["create", "namespace", NAMESPACE], None)
        .await?;
    kubectl
        .ok(
            &[
                "label",
                "namespace",
                NAMESPACE,
                &format!("{SCOPE_KEY}={SCOPE_VALUES}"),
            ],
            None,
        )
        .await?;
    let policy = root.join(POLICY);
    let policy = policy
        .to_str()
        .ok_or_else(|| format!("{}: not UTF-8", policy.display()))?;
    // The policy CRD came with the install a moment ago: it may not be established yet.
    poll(
        Duration::from_secs(30),
        "the policy to be accepted",
        || async { Ok(kubectl.run(&["apply", "-f", policy], None).await?.map(drop)) },
    )
    .await?;
    kubectl
        .ok(
            &["apply", "-n", NAMESPACE, "-f", "-"],
            Some(PASSING_REPORT.as_bytes()),
        )
        .await?;
    // Each webhook replica learns of the policy and the report through its own watches: wait
    // until server-side dry runs give the final answers several times in a row (the API server
    // may call either replica), so the timed part does not race them.
    settle(kubectl, REJECTED_POD, false).await?;
    settle(kubectl, DEPLOYMENT, true).await
}

/// Polls a server-side dry run of `manifest` until it is admitted (or refused) six times in a
/// row.
async fn settle(kubectl: &Kubectl, manifest: &str, admitted: bool) -> Result<(), String> {
    let limit = Duration::from_secs(60);
    let start = Instant::now();
    let mut in_a_row = 0;
    while in_a_row < 6 {
        let answer = kubectl
            .run(
                &["apply", "--dry-run=server", "-f", "-"],
                Some(manifest.as_bytes()),
            )
            .await?;
        if answer.is_ok() == admitted {
            in_a_row += 1;
            continue;
        }
        in_a_row = 0;
        if start.elapsed() > limit {
            let seen = match answer {
                Ok(stdout) => stdout,
                Err(stderr) => stderr,
            };
            return Err(format!(
                "the webhook never settled on {} within {limit:?} for:\n{manifest}\nlast answer: {seen}",
                if admitted { "admitting" } else { "refusing" },
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The `web` Deployment's pods: how many exist, and how many are Running and Ready (what the
/// simulator bench counts).
async fn count(pods: &Api<Pod>) -> (usize, usize) {
    let Ok(list) = pods.list(&ListParams::default().labels("app=web")).await else {
        return (0, 0);
    };
    let running = list
        .items
        .iter()
        .filter(|pod| {
            let status = pod.status.as_ref();
            status.and_then(|s| s.phase.as_deref()) == Some("Running")
                && status
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|conditions| {
                        conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status == "True")
                    })
        })
        .count();
    (list.items.len(), running)
}

/// How long until `wanted` pods are Running and Ready, and when the last of them was created
/// (to tell the controllers' share from the scheduler's and the kubelet's).
async fn time_until_running(
    pods: &Api<Pod>,
    wanted: usize,
    start: Instant,
) -> Result<(Duration, Duration), String> {
    let mut created = None;
    loop {
        let (exist, running) = count(pods).await;
        if exist >= wanted && created.is_none() {
            created = Some(start.elapsed());
        }
        if running >= wanted {
            let took = start.elapsed();
            return Ok((took, created.unwrap_or(took)));
        }
        if start.elapsed() > GIVE_UP {
            return Err(format!(
                "gave up: {running} of {wanted} pods Running ({exist} created) after {} s",
                GIVE_UP.as_secs()
            ));
        }
        // The simulator bench's interval, so both sample alike.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn verdict(took: Duration, goal: Duration) -> &'static str {
    if took < goal {
        "goal met"
    } else {
        "GOAL MISSED"
    }
}

/// The real `kubectl` with the cluster's admin kubeconfig: the client the simulator bench
/// measures with. It runs inside this process's network namespace, as every child does.
struct Kubectl {
    kubeconfig: PathBuf,
}

impl Kubectl {
    /// `Ok(Ok(stdout))` when kubectl succeeded, `Ok(Err(stderr))` when it ran and failed.
    async fn run(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<Result<String, String>, String> {
        let kubeconfig = self.kubeconfig.clone();
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        let stdin = stdin.map(<[u8]>::to_vec);
        tokio::task::spawn_blocking(move || kubectl(&kubeconfig, &args, stdin.as_deref()))
            .await
            .map_err(|error| format!("kubectl: {error}"))?
    }

    /// Runs kubectl and gives its stdout; its failure is an error.
    async fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<String, String> {
        self.run(args, stdin)
            .await?
            .map_err(|stderr| format!("`kubectl {}` failed: {stderr}", args.join(" ")))
    }
}

fn kubectl(
    kubeconfig: &Path,
    args: &[String],
    stdin: Option<&[u8]>,
) -> Result<Result<String, String>, String> {
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot run kubectl (is it installed?): {error}"))?;
    // Taking the pipe and dropping it closes kubectl's stdin.
    if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
        pipe.write_all(input)
            .map_err(|error| format!("cannot write to kubectl: {error}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|error| format!("kubectl: {error}"))?;
    Ok(if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn the_cluster_flag_picks_the_backend() {
        assert_eq!(parse(&[]), Ok(Cluster::Sim(vec![])));
        assert_eq!(
            parse(&strings(&["--cluster", "sim", "--bench"])),
            Ok(Cluster::Sim(strings(&["--bench"])))
        );
        assert_eq!(
            parse(&strings(&["--cluster", "upstream"])),
            Ok(Cluster::Upstream)
        );
        assert_eq!(
            parse(&strings(&["--cluster=upstream"])),
            Ok(Cluster::Upstream)
        );
        assert!(parse(&strings(&["--cluster", "kind"])).is_err());
        assert!(parse(&strings(&["--cluster"])).is_err());
        assert!(parse(&strings(&["--cluster", "upstream", "--fast"])).is_err());
    }
}
