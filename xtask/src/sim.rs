//! `cargo xtask sim [--port N] [--kubeconfig PATH]`: the simulated cluster for people. Prints
//! `kubeconfig: <path>`, then `ready` once it serves, and runs until interrupted, so that
//! `KUBECONFIG=<path> kubectl ...` works against it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const DEFAULT_KUBECONFIG: &str = "target/sim/kubeconfig";

struct Options {
    port: u16,
    kubeconfig: PathBuf,
}

fn parse(args: &[String], root: &Path) -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        kubeconfig: root.join(DEFAULT_KUBECONFIG),
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
            other => {
                return Err(format!(
                    "sim: unknown argument {other:?} (usage: sim [--port N] [--kubeconfig PATH])"
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
        let config = sim::Config {
            address: SocketAddr::from(([127, 0, 0, 1], options.port)),
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
        assert!(parse(&["--port".to_string(), "x".to_string()], root).is_err());
        assert!(parse(&["--bogus".to_string()], root).is_err());
    }
}
