//! Load on the simulated API server (`cargo xtask bench sim`): 10,000 pod creates over HTTP
//! with 10 concurrent watchers that must each see every event in order, then a list. Prints
//! the times and the process's peak resident memory (server and clients together, so an upper
//! bound for the server). Goals (BENCHMARKS.md): creates under 10 s, memory under 200 MiB.

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

/// Peak resident set size of this process, from /proc (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
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

async fn run() -> Result<(), String> {
    let sim = sim::Simulator::start(sim::Config::default())
        .await
        .map_err(|e| e.to_string())?;
    let client = sim.client().map_err(|e| e.to_string())?;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let start_rv = sim.state().store.resource_version().to_string();
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
    match peak_rss_mib() {
        Some(mib) => {
            println!("sim/memory: peak RSS {mib:.0} MiB (server and clients in one process)")
        }
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
    if let Err(error) = runtime.block_on(run()) {
        eprintln!("sim load benchmark failed: {error}");
        std::process::exit(1);
    }
}
