//! `cargo xtask e2e [--cluster auto|sim|upstream|kind|k3s] [--tags EXPR] [--junit PATH] [--keep]`:
//! the Gherkin features against a cluster. Builds the `image-assurance` binary (the simulator's
//! and upstream's kubelet run it; kind and k3s build the image from the Dockerfile), and for
//! upstream the control plane (once per version), runs every feature, prints the backend and
//! `N scenarios (N passed)` with the wall time, writes JUnit XML when asked, and fails when any
//! scenario does.

use std::path::{Path, PathBuf};
use std::process::Command;

use conformance::backend::upstream::{binaries::Binaries, netns};
use conformance::backend::{BackendKind, available, choose, preflight};
use conformance::commands::missing_tools;
use conformance::runner::{RunOptions, run};

#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub cluster: BackendKind,
    pub tags: Option<String>,
    pub junit: Option<PathBuf>,
    pub keep: bool,
}

pub const USAGE: &str =
    "e2e [--cluster auto|sim|upstream|kind|k3s] [--tags EXPR] [--junit PATH] [--keep]";

pub fn parse(args: &[String], root: &Path) -> Result<Options, String> {
    let mut options = Options {
        cluster: BackendKind::Auto,
        tags: None,
        junit: None,
        keep: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value (usage: {USAGE})"))
        };
        match flag {
            "--cluster" => options.cluster = value()?.parse()?,
            "--tags" => options.tags = Some(value()?),
            "--junit" => {
                let path = PathBuf::from(value()?);
                // Relative to the workspace root, where `cargo xtask` is meant to be run from.
                options.junit = Some(if path.is_absolute() {
                    path
                } else {
                    root.join(path)
                });
            }
            "--keep" => options.keep = true,
            other => return Err(format!("e2e: unknown argument {other:?} (usage: {USAGE})")),
        }
    }
    Ok(options)
}

/// `cargo build [--release] -p image-assurance`, with the variables `cargo run` set for xtask
/// removed (build scripts that watch them would otherwise rebuild); the binary's path.
pub fn build_webhook_profile(root: &Path, release: bool) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(&cargo);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&name.as_ref())
        {
            command.env_remove(name.as_ref());
        }
    }
    let args: &[&str] = if release {
        &["build", "--release", "-p", "image-assurance"]
    } else {
        &["build", "-p", "image-assurance"]
    };
    let line = format!("cargo {}", args.join(" "));
    println!("$ {line}");
    let status = command
        .current_dir(root)
        .args(args)
        .status()
        .map_err(|error| format!("cannot run cargo build: {error}"))?;
    if !status.success() {
        return Err(format!("{line} failed: {status}"));
    }
    // xtask itself is target/debug/xtask: the debug webhook lands next to it, the release one
    // in target/release.
    let exe = std::env::current_exe().map_err(|error| format!("where is xtask? {error}"))?;
    let dir = if release {
        exe.parent()
            .and_then(Path::parent)
            .map(|target| target.join("release"))
            .ok_or_else(|| format!("{} has no target directory", exe.display()))?
    } else {
        exe.parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| format!("{} has no directory", exe.display()))?
    };
    let binary = dir.join(format!("image-assurance{}", std::env::consts::EXE_SUFFIX));
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!("{line} did not produce {}", binary.display()))
    }
}

/// The debug build, which the e2e run and `xtask cluster` use.
pub fn build_webhook(root: &Path) -> Result<PathBuf, String> {
    build_webhook_profile(root, false)
}

pub fn run_e2e(args: &[String], root: &Path) -> Result<(), String> {
    let options = parse(args, root)?;
    // Before any build: without a container engine, kind and k3s stop at once.
    match options.cluster {
        BackendKind::Kind => preflight(BackendKind::Kind, &missing_tools(true))?,
        BackendKind::K3s => preflight(BackendKind::K3s, &missing_tools(false))?,
        BackendKind::Auto | BackendKind::Sim | BackendKind::Upstream => {}
    }
    let (cluster, why) = choose(options.cluster, &available(options.cluster));
    let binary = build_webhook(root)?;
    if cluster == BackendKind::Upstream {
        prepare_upstream(root)?;
    }
    let mut run_options = RunOptions::new(root, &binary);
    run_options.cluster = cluster;
    run_options.reason = Some(why);
    run_options.tags = options.tags;
    run_options.junit = options.junit.clone();
    run_options.keep = options.keep;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| format!("cannot start a runtime: {error}"))?;
    let summary = runtime.block_on(run(&run_options))?;
    println!("{}", summary.line());
    for name in &summary.not_passed {
        println!("  not passed: {name}");
    }
    if let Some(path) = &options.junit {
        println!("JUnit report: {}", path.display());
    }
    if summary.success() {
        Ok(())
    } else if summary.scenarios() == 0 {
        Err("no scenario ran (check --tags)".to_string())
    } else {
        Err(format!(
            "{} of {} scenarios did not pass",
            summary.failed + summary.skipped,
            summary.scenarios()
        ))
    }
}

/// Builds the control plane if it is not cached (this needs the network), then moves this
/// process into the run's network namespace. Call before any thread starts.
pub fn prepare_upstream(root: &Path) -> Result<(), String> {
    Binaries::ensure(root)?;
    netns::enter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn flags_parse_with_defaults() {
        let root = Path::new("/repo");
        assert_eq!(
            parse(&[], root).unwrap(),
            Options {
                cluster: BackendKind::Auto,
                tags: None,
                junit: None,
                keep: false
            }
        );
        let options = parse(
            &strings(&[
                "--cluster",
                "kind",
                "--tags=@controllers and not @serial",
                "--junit",
                "target/e2e.xml",
                "--keep",
            ]),
            root,
        )
        .unwrap();
        assert_eq!(options.cluster, BackendKind::Kind);
        assert_eq!(
            options.tags.as_deref(),
            Some("@controllers and not @serial")
        );
        assert_eq!(options.junit, Some(PathBuf::from("/repo/target/e2e.xml")));
        assert!(options.keep);
        assert!(parse(&strings(&["--cluster", "minikube"]), root).is_err());
        assert!(parse(&strings(&["--tags"]), root).is_err());
        assert!(parse(&strings(&["--fast"]), root).is_err());
    }
}
