//! `cargo xtask sim [--port N] [--kubeconfig PATH] [--image IMAGE=PATH]... [--api-only]`: the
//! simulated cluster for people. Prints `kubeconfig: <path>`, then `ready` once it serves, and
//! runs until interrupted, so that `KUBECONFIG=<path> kubectl ...` works against it. It is a
//! whole cluster (controllers, nodes, a process kubelet) unless `--api-only`; `--image` registers
//! an executable for an image, which the kubelet then runs for pods of that image.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const DEFAULT_KUBECONFIG: &str = "target/sim/kubeconfig";

struct Options {
    port: u16,
    kubeconfig: PathBuf,
    api_only: bool,
    images: BTreeMap<String, PathBuf>,
}

fn parse(args: &[String], root: &Path) -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        kubeconfig: root.join(DEFAULT_KUBECONFIG),
        api_only: false,
        images: BTreeMap::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match arg.as_str() {
            "--port" => {
                let port = value("--port")?;
                options.port = port
                    .parse()
                    .map_err(|_| format!("--port: not a port number: {port:?}"))?;
            }
            "--kubeconfig" => options.kubeconfig = PathBuf::from(value("--kubeconfig")?),
            "--api-only" => options.api_only = true,
            "--image" => {
                let pair = value("--image")?;
                let (image, path) = pair
                    .split_once('=')
                    .filter(|(image, path)| !image.is_empty() && !path.is_empty())
                    .ok_or_else(|| format!("--image: expected IMAGE=PATH, got {pair:?}"))?;
                options
                    .images
                    .insert(image.to_string(), PathBuf::from(path));
            }
            other => {
                return Err(format!(
                    "sim: unknown argument {other:?} (usage: sim [--port N] [--kubeconfig PATH] [--image IMAGE=PATH]... [--api-only])"
                ));
            }
        }
    }
    Ok(options)
}

pub fn run(args: &[String], root: &Path) -> Result<(), String> {
    let options = parse(args, root)?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| format!("cannot start a runtime: {error}"))?;
    runtime.block_on(async {
        let cluster = (!options.api_only).then(|| sim::ClusterOptions {
            images: options.images.clone(),
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

    #[test]
    fn flags_are_parsed_and_default_to_target_sim() {
        let root = Path::new("/repo");
        let options = parse(&[], root).unwrap();
        assert_eq!(options.kubeconfig, Path::new("/repo/target/sim/kubeconfig"));
        assert_eq!(options.port, 0);
        let args: Vec<String> = ["--port", "6443", "--kubeconfig", "/tmp/k"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let options = parse(&args, root).unwrap();
        assert_eq!(
            (options.port, options.kubeconfig.as_path()),
            (6443, Path::new("/tmp/k"))
        );
        assert!(!options.api_only && options.images.is_empty());
        let args: Vec<String> = ["--api-only", "--image", "image-assurance:dev=/bin/ia"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let options = parse(&args, root).unwrap();
        assert!(options.api_only);
        assert_eq!(
            options
                .images
                .get("image-assurance:dev")
                .map(PathBuf::as_path),
            Some(Path::new("/bin/ia"))
        );
        assert!(parse(&["--image".to_string(), "no-path".to_string()], root).is_err());
        assert!(parse(&["--port".to_string(), "x".to_string()], root).is_err());
        assert!(parse(&["--bogus".to_string()], root).is_err());
    }
}
