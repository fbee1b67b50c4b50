//! Load on the simulated API server (`cargo xtask bench sim`): 10,000 pod creates over HTTP
//! with 10 concurrent watchers that must each see every event in order, then a list. The
//! server runs in a child process (this binary, re-run with `SIM_LOAD_SERVER=1`) so that its
//! peak resident memory is measured alone. Goals (BENCHMARKS.md): creates under 10 s, memory
//! under 200 MiB.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

const PODS: usize = 10_000;
const WATCHERS: usize = 10;
const CONCURRENCY: usize = 32;

fn pod(index: usize) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("load-{index:05}"), "labels": {"app": "load", "shard": (index % 10).to_string()}},
        "spec": {"containers": [{"name": "app", "image": "registry.example.com/team/app:1.0", "ports": [{"containerPort": 8080}]}]},
    }))
    .unwrap_or_default()
}

/// Peak resident set size of a process, from /proc (Linux).
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Counts ADDED events from `from` until `PODS` have arrived, checking versions only grow.
async fn watch_all(api: Api<Pod>, from: String) -> Result<(usize, Duration), String> {
    let started = Instant::now();
    let params = WatchParams::default().timeout(290);
    let mut events = api
        .watch(&params, &from)
        .await
        .map_err(|e| e.to_string())?
        .boxed();
    let (mut seen, mut last) = (0usize, 0u64);
    while seen < PODS {
        match events.try_next().await.map_err(|e| e.to_string())? {
            Some(WatchEvent::Added(pod)) => {
                let rv: u64 = pod
                    .metadata
                    .resource_version
                    .as_deref()
                    .and_then(|rv| rv.parse().ok())
                    .unwrap_or(0);
                if rv <= last {
                    return Err(format!("out of order: {rv} after {last}"));
                }
                last = rv;
                seen += 1;
            }
            Some(WatchEvent::Bookmark(_)) => {}
            Some(other) => return Err(format!("unexpected event {other:?}")),
            None => return Err(format!("watch ended after {seen} events")),
        }
    }
    Ok((seen, started.elapsed()))
}

/// The child: serves until its stdin closes, after printing its address.
async fn serve() -> Result<(), String> {
    let sim = sim::Simulator::start(sim::Config::default())
        .await
        .map_err(|e| e.to_string())?;
    println!("{}", sim.address());
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let mut line = String::new();
    let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await;
    Ok(())
}

/// Kills the server child on every exit path.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_server() -> Result<(Child, String), String> {
    use std::io::BufRead;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = std::process::Command::new(exe)
        .env("SIM_LOAD_SERVER", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the server process: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let child = Child(child);
    let mut address = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut address)
        .map_err(|e| e.to_string())?;
    Ok((child, address.trim().to_string()))
}

async fn run() -> Result<(), String> {
    let (server, address) = spawn_server()?;
    let url: axum::http::Uri = format!("http://{address}")
        .parse()
        .map_err(|e: axum::http::uri::InvalidUri| e.to_string())?;
    let client = kube::Client::try_from(kube::Config::new(url)).map_err(|e| e.to_string())?;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let start_rv = pods
        .list_metadata(&ListParams::default().limit(1))
        .await
        .map_err(|e| e.to_string())?
        .metadata
        .resource_version
        .unwrap_or_default();
    let watchers: Vec<_> = (0..WATCHERS)
        .map(|_| tokio::spawn(watch_all(pods.clone(), start_rv.clone())))
        .collect();

    let started = Instant::now();
    let results: Vec<Result<Pod, kube::Error>> = stream::iter(0..PODS)
        .map(|index| {
            let pods = pods.clone();
            async move { pods.create(&PostParams::default(), &pod(index)).await }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let create_time = started.elapsed();
    let failed = results.iter().filter(|r| r.is_err()).count();

    let list_started = Instant::now();
    let listed = pods
        .list(&ListParams::default())
        .await
        .map_err(|e| e.to_string())?
        .items
        .len();
    let list_time = list_started.elapsed();

    let mut slowest = Duration::ZERO;
    for watcher in watchers {
        let (seen, took) = watcher.await.map_err(|e| e.to_string())??;
        if seen != PODS {
            return Err(format!("a watcher saw {seen} of {PODS} events"));
        }
        slowest = slowest.max(took);
    }
    println!(
        "sim/pod-creates: {PODS} creates ({CONCURRENCY} concurrent) in {:.2} s = {:.0}/s, {failed} failed",
        create_time.as_secs_f64(),
        PODS as f64 / create_time.as_secs_f64()
    );
    println!(
        "sim/list: {listed} pods in {:.1} ms",
        list_time.as_secs_f64() * 1000.0
    );
    println!(
        "sim/watchers: {WATCHERS} watchers each saw all {PODS} events in order; slowest finished after {:.2} s",
        slowest.as_secs_f64()
    );
    match peak_rss_mib(server.0.id()) {
        Some(mib) => println!("sim/memory: server peak RSS {mib:.0} MiB"),
        None => println!("sim/memory: peak RSS unavailable (no /proc)"),
    }
    if failed > 0 || listed != PODS {
        return Err(format!("{failed} creates failed; list returned {listed}"));
    }
    Ok(())
}

fn main() {
    // `cargo bench` passes `--bench`; this benchmark takes no options.
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start a runtime: {error}");
            std::process::exit(2);
        }
    };
    let role = if std::env::var_os("SIM_LOAD_SERVER").is_some() {
        runtime.block_on(serve())
    } else {
        runtime.block_on(run())
    };
    if let Err(error) = role {
        eprintln!("sim load benchmark failed: {error}");
        std::process::exit(1);
    }
}
