//! Project automation, run as `cargo xtask TASK` (the rust-analyzer pattern: plain Rust, no
//! shell scripts). Tasks:
//!   crd [--check]   regenerate webhook/deploy/crd.yaml from the Rust types (--check: fail if stale)
//!   bench [policies|sim|webhook|cluster [--cluster sim|upstream]] [ARGS]
//!                   the policy-engine benchmarks (criterion), the simulated API server's load
//!                   test, the webhook's load test (release `serve` against the simulator), or
//!                   the webhook inside the simulated cluster (Deployment → Running pods), or
//!                   inside Kubernetes' own control plane with `--cluster upstream`
//!   sim [--port N] [--kubeconfig PATH] [--image IMAGE=PATH]... [--api-only]
//!                   run the simulated cluster until interrupted
//!   cluster [--cluster upstream] [--kubeconfig PATH] [--port N]
//!                   run Kubernetes' own control plane (process kubelet as nodes) until interrupted
//!   e2e [--cluster auto|sim|upstream|kind|k3s] [--tags EXPR] [--junit PATH] [--keep]
//!                   the Gherkin features against a cluster
//!   compare [CASE]...
//!                   the simulator side by side with Kubernetes' own control plane: the kubectl
//!                   command lists in xtask/compare/*.kubectl must print the same on both

mod bench_cluster;
mod cluster;
mod compare;
mod e2e;
mod sim;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const CRD_PATH: &str = "webhook/deploy/crd.yaml";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    let result = match task.as_deref() {
        Some("crd") => crd(rest.iter().any(|arg| arg == "--check")),
        Some("bench") => bench(&rest),
        Some("sim") => sim::run(&rest, &workspace_root()),
        Some("cluster") => cluster::run(&rest, &workspace_root()),
        Some("e2e") => e2e::run_e2e(&rest, &workspace_root()),
        Some("compare") => compare::run(&rest, &workspace_root()),
        Some(other) => Err(format!("unknown task {other:?}\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::from(2)
        }
    }
}

const USAGE: &str = "usage: cargo xtask <task>\n  crd [--check]   regenerate (or check) webhook/deploy/crd.yaml\n  bench [policies|sim|webhook|cluster [--cluster sim|upstream]] [ARGS]\n                  the policy-engine benchmarks, the simulator load test, the webhook load test, or the\n                  webhook in the simulated cluster (or in Kubernetes' own control plane: --cluster upstream)\n  sim [--port N] [--kubeconfig PATH] [--image IMAGE=PATH]... [--api-only]\n                  run the simulated cluster until interrupted\n  cluster [--cluster upstream] [--kubeconfig PATH] [--port N]\n                  run Kubernetes' own control plane (process kubelet as nodes) until interrupted\n  e2e [--cluster auto|sim|upstream|kind|k3s] [--tags EXPR] [--junit PATH] [--keep]\n                  the Gherkin features against a cluster\n  compare [CASE]...\n                  the simulator side by side with Kubernetes' own control plane (xtask/compare/*.sh)";

fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn crd(check: bool) -> Result<(), String> {
    let path = workspace_root().join(CRD_PATH);
    let generated = image_assurance::policy::crd::crd_yaml()
        .map_err(|error| format!("cannot render the CRD: {error}"))?;
    if check {
        let current = std::fs::read_to_string(&path)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        if current != generated {
            return Err(format!("{CRD_PATH} is out of date: run `cargo xtask crd`"));
        }
        println!("{CRD_PATH} is up to date");
        return Ok(());
    }
    std::fs::write(&path, generated).map_err(|error| format!("{}: {error}", path.display()))?;
    println!("wrote {CRD_PATH}");
    Ok(())
}

fn bench(args: &[String]) -> Result<(), String> {
    // Without a known case every argument goes to the policy benchmarks, as before the cases.
    let simulated;
    let (package, target, args) = match args.first().map(String::as_str) {
        Some("policies") => ("image-assurance", "decisions", &args[1..]),
        Some("sim") => ("sim", "load", &args[1..]),
        // cargo builds the release `image-assurance` binary the benchmark starts
        // (CARGO_BIN_EXE_image-assurance) before running it.
        Some("webhook") => ("image-assurance", "webhook_load", &args[1..]),
        // The webhook inside the simulated cluster: Deployment to Running pods, and scale-up.
        // On upstream's control plane the same figures are taken by xtask itself, which can
        // enter the network namespace that cluster needs.
        Some("cluster") => match bench_cluster::parse(&args[1..])? {
            bench_cluster::Cluster::Upstream => return bench_cluster::run(&workspace_root()),
            bench_cluster::Cluster::Sim(rest) => {
                simulated = rest;
                ("image-assurance", "cluster_scale", simulated.as_slice())
            }
        },
        _ => ("image-assurance", "decisions", args),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    // What `cargo run` set for xtask itself: build scripts that watch these variables (ring's
    // does) would otherwise rebuild, with everything above them, on every switch between
    // `cargo xtask bench` and a plain `cargo bench`.
    const SET_FOR_XTASK: [&str; 3] = [
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
    ];
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || SET_FOR_XTASK.contains(&name.as_ref())
        {
            command.env_remove(name.as_ref());
        }
    }
    let status = command
        .current_dir(workspace_root())
        .args(["bench", "-p", package, "--bench", target, "--"])
        .args(args)
        .status()
        .map_err(|error| format!("cannot run cargo bench: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo bench failed: {status}"))
    }
}
