//! `cargo xtask cluster [--cluster upstream] [--kubeconfig PATH] [--port N]`: Kubernetes' own
//! control plane with the process kubelet as nodes, for people (as `xtask sim` is the simulator).
//! Prints `kubeconfig: <path>`, then `ready`, and runs until interrupted.
//!
//! The cluster lives in a network namespace of its own (see the upstream backend's `netns`);
//! this process listens on 127.0.0.1:<port> of the machine's namespace before entering it, and
//! forwards each connection to the API server inside, so `KUBECONFIG=<path> kubectl ...` works
//! from any shell.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use conformance::backend::upstream::UpstreamBackend;
use conformance::backend::upstream::control_plane::APISERVER_PORT;
use conformance::backend::{Backend, BackendOptions};
use image_assurance::install::DEFAULT_IMAGE;

const USAGE: &str = "cluster [--cluster upstream] [--kubeconfig PATH] [--port N]";
const DEFAULT_KUBECONFIG: &str = "target/upstream/kubeconfig";
const DEFAULT_PORT: u16 = 16443;

struct Options {
    kubeconfig: PathBuf,
    port: u16,
}

fn parse(args: &[String], root: &Path) -> Result<Options, String> {
    let mut options = Options {
        kubeconfig: root.join(DEFAULT_KUBECONFIG),
        port: DEFAULT_PORT,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value (usage: {USAGE})"))
        };
        match arg.as_str() {
            "--cluster" => {
                let cluster = value("--cluster")?;
                if cluster != "upstream" {
                    return Err(format!(
                        "cluster: --cluster {cluster:?}: only upstream (the simulator is `cargo xtask sim`)"
                    ));
                }
            }
            "--kubeconfig" => options.kubeconfig = PathBuf::from(value("--kubeconfig")?),
            "--port" => {
                let port = value("--port")?;
                options.port = port
                    .parse()
                    .map_err(|_| format!("--port: not a port number: {port:?}"))?;
            }
            other => {
                return Err(format!(
                    "cluster: unknown argument {other:?} (usage: {USAGE})"
                ));
            }
        }
    }
    Ok(options)
}

pub fn run(args: &[String], root: &Path) -> Result<(), String> {
    let options = parse(args, root)?;
    let binary = crate::e2e::build_webhook(root)?;
    // Bound in the machine's namespace, before this process leaves it.
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, options.port)))
        .map_err(|error| format!("cannot listen on 127.0.0.1:{}: {error}", options.port))?;
    crate::e2e::prepare_upstream(root)?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| format!("cannot start a runtime: {error}"))?;
    runtime.block_on(serve(options, listener, binary, root))
}

async fn serve(
    options: Options,
    listener: TcpListener,
    binary: PathBuf,
    root: &Path,
) -> Result<(), String> {
    let backend = UpstreamBackend::start(&BackendOptions {
        root: root.to_path_buf(),
        image: DEFAULT_IMAGE.to_string(),
        binary,
        cluster_name: "upstream".into(),
        keep: false,
    })
    .await?;
    let admin = std::fs::read_to_string(backend.admin_kubeconfig())
        .map_err(|error| format!("{}: {error}", backend.admin_kubeconfig().display()))?;
    // The same credentials, through the forwarder (the serving certificate names 127.0.0.1).
    let outside = admin.replace(
        &format!("https://127.0.0.1:{APISERVER_PORT}"),
        &format!("https://127.0.0.1:{}", options.port),
    );
    if let Some(parent) = options.kubeconfig.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("{}: {error}", parent.display()))?;
    }
    std::fs::write(&options.kubeconfig, outside)
        .map_err(|error| format!("{}: {error}", options.kubeconfig.display()))?;
    listener
        .set_nonblocking(true)
        .map_err(|error| format!("the forwarder's socket: {error}"))?;
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|error| format!("the forwarder's socket: {error}"))?;
    let forwarder = tokio::spawn(forward(listener));
    println!("kubeconfig: {}", options.kubeconfig.display());
    println!("ready");
    let interrupted = tokio::signal::ctrl_c()
        .await
        .map_err(|error| format!("cannot wait for Ctrl-C: {error}"));
    forwarder.abort();
    let stopped = Box::new(backend).teardown().await;
    interrupted.and(stopped)
}

/// Copies each connection to the API server inside the namespace, both ways.
async fn forward(listener: tokio::net::TcpListener) {
    let target = SocketAddr::from((Ipv4Addr::LOCALHOST, APISERVER_PORT));
    while let Ok((mut inbound, _)) = listener.accept().await {
        tokio::spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                // A connection that ends either way is simply over.
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
