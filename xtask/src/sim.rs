//! `cargo xtask sim [--port N] [--kubeconfig PATH] [--work-dir PATH] [--image IMAGE=PATH]...
//! [--api-only]`: the simulated cluster for people. Prints `kubeconfig: <path>` and where pod
//! logs go, then `ready` once it serves, and runs until interrupted, so that
//! `KUBECONFIG=<path> kubectl ...` works against it. It is a whole cluster (controllers, nodes, a
//! process kubelet) unless `--api-only`; `--image` registers an executable for an image, which
//! the kubelet then runs for pods of that image.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const DEFAULT_KUBECONFIG: &str = "target/sim/kubeconfig";
/// Pods' directories (volumes, logs) go under `<work dir>/pods`; kept after the simulator
/// stops, so a crashed webhook's log can still be read.
const DEFAULT_WORK_DIR: &str = "target/sim";

const USAGE: &str = "usage: cargo xtask sim [--port N] [--kubeconfig PATH] [--work-dir PATH] [--image IMAGE=PATH]... [--api-only]
  --port N            listen on 127.0.0.1:N (default: a free port)
  --kubeconfig PATH   where to write the kubeconfig (default: target/sim/kubeconfig)
  --work-dir PATH     where pods' directories and logs go, under PATH/pods (default: target/sim,
                      whose pods/ is cleared at start)
  --image IMAGE=PATH  run pods of IMAGE as the executable PATH (relative to the current
                      directory); repeatable
  --api-only          only the API server: no controllers, nodes or kubelet
  -h, --help          this help";

#[derive(Debug)]
struct Options {
    port: u16,
    kubeconfig: PathBuf,
    /// `None`: the default, whose `pods/` is ours to clear.
    work_dir: Option<PathBuf>,
    api_only: bool,
    images: BTreeMap<String, PathBuf>,
}

#[derive(Debug)]
enum Parsed {
    Run(Options),
    Help,
}

/// Parses the arguments; relative `--image` paths are resolved against `cwd`, where the
/// command runs (the kubelet starts each container in its pod's own directory, where a
/// relative path would name nothing).
fn parse(args: &[String], root: &Path, cwd: &Path) -> Result<Parsed, String> {
    let mut options = Options {
        port: 0,
        kubeconfig: root.join(DEFAULT_KUBECONFIG),
        work_dir: None,
        api_only: false,
        images: BTreeMap::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("sim: {flag} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--port" => {
                let port = value("--port")?;
                options.port = port
                    .parse()
                    .map_err(|_| format!("sim: --port: not a port number: {port:?}"))?;
            }
            "--kubeconfig" => options.kubeconfig = PathBuf::from(value("--kubeconfig")?),
            "--work-dir" => options.work_dir = Some(cwd.join(value("--work-dir")?)),
            "--api-only" => options.api_only = true,
            "--image" => {
                let pair = value("--image")?;
                let (image, path) = pair
                    .split_once('=')
                    .filter(|(image, path)| !image.is_empty() && !path.is_empty())
                    .ok_or_else(|| format!("sim: --image: expected IMAGE=PATH, got {pair:?}"))?;
                let program = cwd.join(path);
                check_executable(&program)
                    .map_err(|problem| format!("sim: --image {image}={path}: {problem}"))?;
                options.images.insert(image.to_string(), program);
            }
            other => return Err(format!("sim: unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Parsed::Run(options))
}

/// `Ok` when `path` is a file someone may execute; otherwise what is wrong with it.
fn check_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(path)
        .map_err(|error| format!("{} cannot be read: {error}", path.display()))?;
    if !metadata.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    if metadata.permissions().mode() & 0o111 == 0 {
        return Err(format!("{} is not executable", path.display()));
    }
    Ok(())
}

pub fn run(args: &[String], root: &Path) -> Result<(), String> {
    let cwd = std::env::current_dir()
        .map_err(|error| format!("sim: cannot read the current directory: {error}"))?;
    let options = match parse(args, root, &cwd)? {
        Parsed::Help => {
            println!("{USAGE}");
            return Ok(());
        }
        Parsed::Run(options) => options,
    };
    let work_dir = match &options.work_dir {
        Some(dir) => dir.clone(),
        None => {
            let dir = root.join(DEFAULT_WORK_DIR);
            // The previous run's pods are gone with it; only their directories would be left.
            let pods = dir.join("pods");
            if pods.exists() {
                std::fs::remove_dir_all(&pods)
                    .map_err(|error| format!("sim: cannot clear {}: {error}", pods.display()))?;
            }
            dir
        }
    };
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| format!("cannot start a runtime: {error}"))?;
    runtime.block_on(async {
        let cluster = (!options.api_only).then(|| sim::ClusterOptions {
            images: options.images.clone(),
            work_dir: Some(work_dir.clone()),
            ..Default::default()
        });
        let config = sim::Config {
            address: SocketAddr::from(([127, 0, 0, 1], options.port)),
            cluster,
            ..sim::Config::default()
        };
        let mut simulator = sim::Simulator::start(config)
            .await
            .map_err(|error| error.to_string())?;
        let path = simulator
            .write_kubeconfig(&options.kubeconfig)
            .map_err(|error| error.to_string())?;
        let mut stdout = std::io::stdout();
        // Flushed at once: scripts wait for these lines.
        let _ = writeln!(stdout, "kubeconfig: {}", path.display());
        if let Some(kubelet) = simulator.kubelet() {
            let _ = writeln!(
                stdout,
                "pod logs: {}/pods/<namespace>_<pod>_<uid>/<container>.log (or kubectl logs)",
                kubelet.work_dir().display()
            );
        }
        let _ = writeln!(stdout, "ready");
        let _ = stdout.flush();
        tokio::signal::ctrl_c()
            .await
            .map_err(|error| format!("cannot wait for Ctrl-C: {error}"))?;
        simulator.shutdown().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A private directory for one test, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("xtask-sim-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn options(args: &[&str], root: &Path, cwd: &Path) -> Options {
        match parse(&strings(args), root, cwd) {
            Ok(Parsed::Run(options)) => options,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn flags_are_parsed_and_default_to_target_sim() {
        let root = Path::new("/repo");
        let options = options(&[], root, root);
        assert_eq!(options.kubeconfig, Path::new("/repo/target/sim/kubeconfig"));
        assert_eq!(options.port, 0);
        assert_eq!(options.work_dir, None);
        let parsed = self::options(
            &[
                "--port",
                "6443",
                "--kubeconfig",
                "/tmp/k",
                "--work-dir",
                "w",
            ],
            root,
            Path::new("/here"),
        );
        assert_eq!(
            (parsed.port, parsed.kubeconfig.as_path()),
            (6443, Path::new("/tmp/k"))
        );
        assert_eq!(parsed.work_dir.as_deref(), Some(Path::new("/here/w")));
        assert!(!parsed.api_only && parsed.images.is_empty());
        let parsed = self::options(&["--api-only", "--image", "sh:1=/bin/sh"], root, root);
        assert!(parsed.api_only);
        assert_eq!(
            parsed.images.get("sh:1").map(PathBuf::as_path),
            Some(Path::new("/bin/sh"))
        );
        for bad in [
            &["--image", "no-path"][..],
            &["--port", "x"],
            &["--bogus"],
            &["--port"],
        ] {
            assert!(parse(&strings(bad), root, root).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn help_is_not_an_error() {
        let root = Path::new("/repo");
        for flag in ["--help", "-h"] {
            assert!(matches!(
                parse(&strings(&["--port", "1", flag]), root, root),
                Ok(Parsed::Help)
            ));
        }
        let error = parse(&strings(&["--bogus"]), root, root).unwrap_err();
        assert!(
            error.contains("unknown argument \"--bogus\"") && error.contains("--image"),
            "an unknown argument shows the usage: {error}"
        );
    }

    /// The README's own `--image image-assurance:0.1.0=target/debug/image-assurance`: the
    /// path names a file where the command runs, not in each pod's directory.
    #[test]
    fn relative_image_paths_are_resolved_where_the_command_runs() {
        let dir = Scratch::new("relative");
        let bin = dir.path().join("target/debug");
        std::fs::create_dir_all(&bin).unwrap();
        let program = bin.join("image-assurance");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let parsed = options(
            &[
                "--image",
                "image-assurance:0.1.0=target/debug/image-assurance",
            ],
            Path::new("/repo"),
            dir.path(),
        );
        assert_eq!(
            parsed.images.get("image-assurance:0.1.0"),
            Some(&program),
            "resolved against the current directory"
        );
        assert!(parsed.images.values().all(|path| path.is_absolute()));
    }

    #[test]
    fn an_image_path_that_is_not_an_executable_file_fails_at_once_naming_it() {
        let dir = Scratch::new("missing");
        let root = Path::new("/repo");
        let error = parse(&strings(&["--image", "x:1=missing"]), root, dir.path()).unwrap_err();
        let missing = dir.path().join("missing");
        assert!(
            error.contains(&format!("{} cannot be read", missing.display())),
            "{error}"
        );
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "data").unwrap();
        let error = parse(&strings(&["--image", "x:1=plain"]), root, dir.path()).unwrap_err();
        assert!(
            error.contains(&format!("{} is not executable", plain.display())),
            "{error}"
        );
        let error = parse(&strings(&["--image", "x:1=."]), root, dir.path()).unwrap_err();
        assert!(error.contains("is not a file"), "{error}");
    }
}
