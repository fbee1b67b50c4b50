//! Load on the real webhook (`cargo xtask bench webhook`): the release `image-assurance serve`
//! runs as a child process against the simulated API server, and C keep-alive HTTPS clients post
//! the same AdmissionReview (a 5-container Deployment, every policy applying and no rule
//! matching) for a fixed time. An allow-all server on the same TLS stack (axum + axum-server +
//! rustls, same `server_config`), also a child process (this binary run with
//! `--allow-all-server`), takes the same load as the baseline. Each run also reports the
//! server's CPU time per request (from /proc), steadier than throughput when the load generator
//! and other builds share the machine's cores. Then the webhook restarts with 1000 policies and
//! its peak RSS is read from /proc, with and without the scan-results file.
//!
//! Then both servers take an open-loop load (`support/open_loop.rs`): requests at a fixed
//! `--rate` (2,000/s), whatever the answers' latency, as an API server sends them.
//!
//! Goals (BENCHMARKS.md): at 64 connections, throughput ≥ 0.8× the allow-all baseline's and p99
//! within 1.25× the baseline's; in the open loop at 2,000 requests/s, p99 < 2 ms for both
//! servers; peak RSS < 64 MiB with 1000 policies and 10^5 scan results. A missed goal is
//! reported, not fatal (the figures are noisy on a shared machine); any request that fails or
//! gets the wrong answer fails the benchmark.
//!
//! Each connection count (and the open loop) is measured in `--rounds` rounds (3), each the
//! webhook's run then the baseline's, and the goals are judged on the medians: single runs vary
//! by ±20 % here.
//!
//! Options: `--conns 1,8,64`, `--rate N` (2000; 0 for no open loop), `--rounds N` (3),
//! `--duration SECS` (5), `--warmup SECS` (1).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, TryStreamExt, stream};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use image_assurance::policy::ContainerAdmissionPolicy;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use kube::api::{Api, ListParams, PostParams};
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio_rustls::TlsConnector;

#[path = "support/open_loop.rs"]
mod open_loop;
#[path = "support/request.rs"]
mod request;

use request::{IMAGES, NAMESPACE, Review};

type BenchResult<T> = Result<T, String>;

const THROUGHPUT_POLICIES: usize = 100;
const MEMORY_POLICIES: usize = 1000;
const SCAN_RESULTS: usize = 100_000;
const RATIO_GOAL: f64 = 0.8;
/// The webhook's p99 at `GOAL_CONNS` over the baseline's in the same round.
const P99_RATIO_GOAL: f64 = 1.25;
const OPEN_LOOP_RATE: f64 = 2000.0;
const OPEN_LOOP_P99_GOAL_MS: f64 = 2.0;
const RSS_GOAL_MIB: f64 = 64.0;
/// Generous: the machine may be busy compiling while the webhook lists and loads its sources.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The connection count the goals are stated for.
const GOAL_CONNS: usize = 64;
const MEMORY_RUN: Duration = Duration::from_secs(3);
/// Built by cargo with the bench profile (release settings) before this benchmark runs.
const SERVER_BINARY: &str = env!("CARGO_BIN_EXE_image-assurance");

struct Options {
    conns: Vec<usize>,
    /// Requests per second of the open loop; 0 for none.
    rate: f64,
    /// Webhook-then-baseline runs per connection count; the goals are judged on the medians.
    rounds: usize,
    warmup: Duration,
    duration: Duration,
}

fn parse_options() -> BenchResult<Options> {
    let mut options = Options {
        conns: vec![1, 8, GOAL_CONNS],
        rate: OPEN_LOOP_RATE,
        rounds: 3,
        warmup: Duration::from_secs(1),
        duration: Duration::from_secs(5),
    };
    let seconds = |value: Option<String>, flag: &str| -> BenchResult<Duration> {
        let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
        let seconds: f64 = value
            .parse()
            .map_err(|_| format!("{flag}: not a number of seconds: {value:?}"))?;
        Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("{flag}: not a duration: {value:?}"))
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every benchmark.
            "--bench" => {}
            "--duration" => options.duration = seconds(args.next(), "--duration")?,
            "--warmup" => options.warmup = seconds(args.next(), "--warmup")?,
            "--rate" => {
                let value = args.next().ok_or("--rate needs a value")?;
                options.rate = value
                    .parse::<f64>()
                    .ok()
                    .filter(|rate| rate.is_finite() && *rate >= 0.0)
                    .ok_or_else(|| {
                        format!("--rate: expected requests per second (0 for none), got {value:?}")
                    })?;
            }
            "--rounds" => {
                let value = args.next().ok_or("--rounds needs a value")?;
                options.rounds = value
                    .parse::<usize>()
                    .ok()
                    .filter(|&rounds| rounds > 0)
                    .ok_or_else(|| format!("--rounds: expected a positive count, got {value:?}"))?;
            }
            "--conns" => {
                let value = args.next().ok_or("--conns needs a value, e.g. 1,8,64")?;
                options.conns = value
                    .split(',')
                    .map(|count| {
                        count
                            .trim()
                            .parse::<usize>()
                            .ok()
                            .filter(|&count| count > 0)
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        format!(
                            "--conns: expected positive counts separated by commas, got {value:?}"
                        )
                    })?;
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?} (options: --conns 1,8,64 --rate N --rounds N --duration SECS --warmup SECS)"
                ));
            }
        }
    }
    if options.duration.is_zero() {
        return Err("--duration must be more than 0".into());
    }
    Ok(options)
}

// ---------------------------------------------------------------------------------------------
// Certificates

struct Certificates {
    cert: PathBuf,
    key: PathBuf,
    ca: CertificateDer<'static>,
}

/// A throwaway CA and a serving certificate for 127.0.0.1 and localhost.
fn certificates(dir: &Path) -> BenchResult<Certificates> {
    let failed = |error: rcgen::Error| format!("cannot make the test certificates: {error}");
    let ca_key = rcgen::KeyPair::generate().map_err(failed)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "webhook-load CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(failed)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .map_err(failed)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).map_err(failed)?;

    let paths = Certificates {
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
        ca: ca_cert.der().clone(),
    };
    write(&paths.cert, &cert.pem())?;
    write(&paths.key, &key.serialize_pem())?;
    Ok(paths)
}

fn write(path: &Path, contents: &str) -> BenchResult<()> {
    std::fs::write(path, contents)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}

fn tls_connector(ca: &CertificateDer<'static>) -> BenchResult<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca.clone())
        .map_err(|error| format!("cannot trust the test CA: {error}"))?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| format!("cannot configure the TLS client: {error}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

// ---------------------------------------------------------------------------------------------
// The cluster: policies, namespace, scan results

/// Like `policy_yaml` in decisions.rs: applies to the request's Deployment and namespace, but no
/// rule matches any of its images, so every policy is walked to the end (then the default allow).
fn policy(index: usize) -> BenchResult<ContainerAdmissionPolicy> {
    serde_json::from_value(request::policy(index))
        .map_err(|error| format!("the benchmark policy does not decode: {error}"))
}

async fn install_crd_and_namespace(client: &kube::Client) -> BenchResult<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &ContainerAdmissionPolicy::crd())
        .await
        .map_err(|error| format!("cannot install the ContainerAdmissionPolicy CRD: {error}"))?;
    let namespace: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": {"env": "production", "team": "shop"}},
    }))
    .map_err(|error| format!("the benchmark namespace does not decode: {error}"))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .map_err(|error| format!("cannot create namespace {NAMESPACE}: {error}"))?;
    // The new resource may take a moment to be served.
    let policies: Api<ContainerAdmissionPolicy> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match policies.list(&ListParams::default()).await {
            Ok(_) => return Ok(()),
            Err(error) if Instant::now() > deadline => {
                return Err(format!(
                    "ContainerAdmissionPolicies are not served after the CRD was created: {error}"
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Creates policies `from..to`.
async fn create_policies(client: &kube::Client, from: usize, to: usize) -> BenchResult<()> {
    let api: Api<ContainerAdmissionPolicy> = Api::all(client.clone());
    stream::iter(from..to)
        .map(|index| {
            let api = api.clone();
            async move {
                let policy = policy(index)?;
                api.create(&PostParams::default(), &policy)
                    .await
                    .map_err(|error| format!("cannot create policy {index}: {error}"))
            }
        })
        .buffer_unordered(16)
        .try_for_each(|_| async { Ok(()) })
        .await
}

const SCANNED: &str = "2026-11-25T10:00:00Z";

/// The request's images (all `Pass`) among `count` results for other images, in the `images:`
/// format written as YAML (the loader streams it; JSON takes the same path).
fn write_scan_results(path: &Path, count: usize) -> BenchResult<()> {
    let statuses = ["Pass", "Warn", "Fail"];
    let mut text = String::with_capacity(count * 110);
    text.push_str("images:\n");
    for index in 0..count {
        let (image, status) = match IMAGES.get(index) {
            Some(image) => (image.to_string(), "Pass"),
            None => (
                format!(
                    "registry.example.com/team-{}/service-{index}:1.{}",
                    index % 97,
                    index % 13
                ),
                statuses[index % 3],
            ),
        };
        let _ = writeln!(
            text,
            "  - image: {image}\n    status: {status}\n    lastScan: \"{SCANNED}\""
        );
    }
    write(path, &text)
}

// ---------------------------------------------------------------------------------------------
// The response

#[derive(serde::Deserialize)]
struct ReviewResponse {
    response: ResponseBody,
}

#[derive(serde::Deserialize)]
struct ResponseBody {
    uid: String,
    allowed: bool,
    #[serde(default)]
    status: Option<Value>,
}

// ---------------------------------------------------------------------------------------------
// The client

#[derive(Clone)]
struct Target {
    address: SocketAddr,
    tls: TlsConnector,
    /// Whose CPU time serves this target.
    cpu: CpuSource,
}

/// The process that serves a target (its pid), for its CPU time per request: a figure that the
/// machine's other load (and the load generator sharing its two cores) disturbs far less than
/// throughput.
#[derive(Clone, Copy)]
struct CpuSource(u32);

impl CpuSource {
    /// CPU time of the process's threads alive now, from /proc/PID/task/*/schedstat
    /// (nanoseconds on CPU).
    fn time(self) -> BenchResult<Duration> {
        let tasks = format!("/proc/{}/task", self.0);
        let entries =
            std::fs::read_dir(&tasks).map_err(|error| format!("cannot list {tasks}: {error}"))?;
        let mut total = 0u64;
        for entry in entries.flatten() {
            let path = entry.path();
            // A thread that ended meanwhile is simply not counted.
            let Ok(schedstat) = std::fs::read_to_string(path.join("schedstat")) else {
                continue;
            };
            total += schedstat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
        Ok(Duration::from_nanos(total))
    }
}

type Sender = SendRequest<Full<Bytes>>;

async fn connect(target: &Target) -> BenchResult<Sender> {
    let tcp = tokio::net::TcpStream::connect(target.address)
        .await
        .map_err(|error| format!("connect {}: {error}", target.address))?;
    tcp.set_nodelay(true)
        .map_err(|error| format!("TCP_NODELAY: {error}"))?;
    let name = ServerName::try_from("localhost").map_err(|error| error.to_string())?;
    let tls = target
        .tls
        .connect(name, tcp)
        .await
        .map_err(|error| format!("TLS handshake: {error}"))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|error| format!("HTTP handshake: {error}"))?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes; errors surface on the sender.
        let _ = connection.await;
    });
    Ok(sender)
}

async fn send(
    sender: &mut Sender,
    method: Method,
    path: &str,
    body: Bytes,
) -> BenchResult<(StatusCode, Bytes)> {
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "localhost")
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|error| error.to_string())?;
    sender
        .ready()
        .await
        .map_err(|error| format!("connection: {error}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| format!("request: {error}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|error| format!("response body: {error}"))?
        .to_bytes();
    Ok((status, body))
}

/// One review, checked: HTTP 200, a parsable AdmissionReview, our uid, and an allow.
async fn review(sender: &mut Sender, review: &Review, uid: &str) -> BenchResult<()> {
    let (status, body) = send(sender, Method::POST, "/admission-review", review.body(uid)).await?;
    if status != StatusCode::OK {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    let answer: ReviewResponse = serde_json::from_slice(&body)
        .map_err(|error| format!("the response is not an AdmissionReview: {error}"))?;
    if answer.response.uid != uid {
        return Err(format!(
            "the response is for uid {:?}, not {uid:?}",
            answer.response.uid
        ));
    }
    if !answer.response.allowed {
        return Err(format!(
            "denied, expected allowed: {}",
            answer.response.status.unwrap_or(Value::Null)
        ));
    }
    Ok(())
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }
}

/// One keep-alive connection posting reviews back to back until `until`; only requests that
/// start after `measure_from` and end by `until` are timed.
async fn client(
    target: Target,
    reviews: Arc<Review>,
    id: usize,
    measure_from: Instant,
    until: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut sender: Option<Sender> = None;
    let mut sequence = 0u64;
    while Instant::now() < until {
        let connection = match &mut sender {
            Some(connection) => connection,
            None => match connect(&target).await {
                Ok(connection) => sender.insert(connection),
                Err(error) => {
                    tally.error(error);
                    // Not a busy loop while the server is unreachable.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        sequence += 1;
        let uid = format!("6f0d9a52-{id:04x}-4b1e-9c3a-{sequence:012x}");
        let started = Instant::now();
        match review(connection, &reviews, &uid).await {
            Ok(()) => {
                let ended = Instant::now();
                if started >= measure_from && ended <= until {
                    tally.latencies.push(ended - started);
                }
            }
            Err(error) => {
                tally.error(error);
                sender = None;
            }
        }
    }
    tally
}

struct Measurement {
    conns: usize,
    window: Duration,
    /// Sorted.
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
    /// The server's CPU time over the window.
    cpu: Duration,
}

impl Measurement {
    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.window.as_secs_f64()
    }

    /// Nearest-rank percentile, in milliseconds.
    fn percentile_ms(&self, fraction: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((fraction * self.latencies.len() as f64).ceil() as usize)
            .clamp(1, self.latencies.len());
        self.latencies[rank - 1].as_secs_f64() * 1000.0
    }

    /// Server CPU time per timed request, in microseconds.
    fn cpu_per_request_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.latencies.len().max(1) as f64
    }

    fn line(&self, name: &str) -> String {
        format!(
            "webhook/{name}: {} conns, {:.1} s: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors; server CPU {:.0} µs/req",
            self.conns,
            self.window.as_secs_f64(),
            self.throughput(),
            self.percentile_ms(0.50),
            self.percentile_ms(0.99),
            self.errors,
            self.cpu_per_request_us()
        )
    }
}

async fn load(
    target: &Target,
    reviews: &Arc<Review>,
    conns: usize,
    warmup: Duration,
    duration: Duration,
) -> BenchResult<Measurement> {
    let measure_from = Instant::now() + warmup;
    let until = measure_from + duration;
    let clients: Vec<_> = (0..conns)
        .map(|id| {
            tokio::spawn(client(
                target.clone(),
                reviews.clone(),
                id,
                measure_from,
                until,
            ))
        })
        .collect();
    let source = target.cpu;
    let cpu = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let before = source.time()?;
        tokio::time::sleep_until(until.into()).await;
        Ok::<_, String>(source.time()?.saturating_sub(before))
    });
    let mut measurement = Measurement {
        conns,
        window: duration,
        latencies: Vec::new(),
        errors: 0,
        first_error: None,
        cpu: Duration::ZERO,
    };
    for client in clients {
        let tally = client
            .await
            .map_err(|error| format!("a client task failed: {error}"))?;
        measurement.latencies.extend(tally.latencies);
        measurement.errors += tally.errors;
        if measurement.first_error.is_none() {
            measurement.first_error = tally.first_error;
        }
    }
    measurement.latencies.sort_unstable();
    measurement.cpu = cpu
        .await
        .map_err(|error| format!("the CPU sampler failed: {error}"))??;
    Ok(measurement)
}

// ---------------------------------------------------------------------------------------------
// The webhook process

fn free_port() -> BenchResult<SocketAddr> {
    // Released before the server binds it: a race only with another process picking the same
    // ephemeral port in that instant.
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|error| format!("cannot find a free port: {error}"))?;
    listener
        .local_addr()
        .map_err(|error| format!("cannot find a free port: {error}"))
}

/// `image-assurance serve` as a child process, killed when dropped (on every exit path).
struct ServerProcess {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
}

impl ServerProcess {
    fn start(
        dir: &Path,
        name: &str,
        kubeconfig: &Path,
        certs: &Certificates,
        scan_results: Option<&Path>,
    ) -> BenchResult<ServerProcess> {
        let address = free_port()?;
        let metrics = free_port()?;
        let log = dir.join(format!("{name}.log"));
        // Per-request logs go to a file, as a container's stderr goes to the runtime's log.
        let log_file = std::fs::File::create(&log)
            .map_err(|error| format!("cannot create {}: {error}", log.display()))?;
        let mut command = Command::new(SERVER_BINARY);
        command
            .arg("serve")
            .arg("--listen")
            .arg(address.to_string())
            .arg("--metrics-listen")
            .arg(metrics.to_string())
            .arg("--tls-cert")
            .arg(&certs.cert)
            .arg("--tls-key")
            .arg(&certs.key);
        if let Some(scan_results) = scan_results {
            command.arg("--scan-results").arg(scan_results);
        }
        let child = command
            .env("KUBECONFIG", kubeconfig)
            // The server's default (info) logging, whatever the caller's environment says.
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|error| format!("cannot start {SERVER_BINARY}: {error}"))?;
        Ok(ServerProcess {
            child,
            address,
            log,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of the server's log, for error messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Polls `GET /readyz` until 200, for at most READY_TIMEOUT.
    async fn wait_ready(&mut self, tls: &TlsConnector) -> BenchResult<Duration> {
        let target = Target {
            address: self.address,
            tls: tls.clone(),
            cpu: CpuSource(self.pid()),
        };
        let started = Instant::now();
        let mut last = String::from("no answer");
        while started.elapsed() < READY_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the webhook exited ({status}) before it was ready; its log ends:\n{}",
                    self.log_tail()
                ));
            }
            let attempt = async {
                let mut sender = connect(&target).await?;
                send(&mut sender, Method::GET, "/readyz", Bytes::new()).await
            };
            match attempt.await {
                Ok((StatusCode::OK, _)) => return Ok(started.elapsed()),
                Ok((status, body)) => {
                    last = format!("HTTP {status}: {}", String::from_utf8_lossy(&body))
                }
                Err(error) => last = error,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "the webhook was not ready within {READY_TIMEOUT:?} (last /readyz: {last}); its log ends:\n{}",
            self.log_tail()
        ))
    }

    /// `VmHWM` and `VmRSS` from /proc, in MiB.
    fn memory_mib(&self) -> BenchResult<(f64, f64)> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path)
            .map_err(|error| format!("cannot read {path}: {error}"))?;
        let field = |name: &str| -> BenchResult<f64> {
            let line = status
                .lines()
                .find(|line| line.starts_with(name))
                .ok_or_else(|| format!("no {name} in {path}"))?;
            let kib: f64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|kib| kib.parse().ok())
                .ok_or_else(|| format!("cannot read {line:?}"))?;
            Ok(kib / 1024.0)
        };
        Ok((field("VmHWM:")?, field("VmRSS:")?))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Killed by its own PID; an already exited child makes both calls harmless errors.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The allow-all baseline

/// Answers every AdmissionReview with an allow, after parsing it (comparable JSON work).
async fn allow_all(body: Bytes) -> Response {
    let review: Value = match serde_json::from_slice(&body) {
        Ok(review) => review,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    let uid = review
        .pointer("/request/uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    axum::Json(json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": uid, "allowed": true}})).into_response()
}

/// The argument that makes this benchmark binary the allow-all server (see `main`).
const ALLOW_ALL_ARG: &str = "--allow-all-server";

/// Runs the allow-all server on `address` until killed: the webhook's TLS configuration and
/// HTTP settings, and a runtime with as many workers as the webhook's.
fn serve_allow_all(address: &str, cert: &Path, key: &Path) -> BenchResult<()> {
    let address: SocketAddr = address
        .parse()
        .map_err(|error| format!("{ALLOW_ALL_ARG}: not an address: {address:?}: {error}"))?;
    let config = image_assurance::server::tls::server_config(cert, key)
        .map_err(|error| error.to_string())?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| format!("cannot start a runtime: {error}"))?;
    runtime.block_on(async move {
        let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));
        let mut server = axum_server::bind_rustls(address, tls);
        server
            .http_builder()
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(5));
        let app = axum::Router::new().route("/admission-review", axum::routing::post(allow_all));
        server
            .serve(app.into_make_service())
            .await
            .map_err(|error| format!("allow-all on {address}: {error}"))
    })
}

/// The allow-all server as a child process (this binary, run with `ALLOW_ALL_ARG`), as the
/// webhook is one: sharing the load generator's process would spare it the switches between
/// address spaces that every request to the webhook costs. Killed when dropped.
struct AllowAll {
    child: Child,
    address: SocketAddr,
}

impl AllowAll {
    async fn start(certs: &Certificates, tls: &TlsConnector) -> BenchResult<AllowAll> {
        let address = free_port()?;
        let program = std::env::current_exe()
            .map_err(|error| format!("cannot find this benchmark's executable: {error}"))?;
        let child = Command::new(&program)
            .arg(ALLOW_ALL_ARG)
            .arg(address.to_string())
            .arg(&certs.cert)
            .arg(&certs.key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", program.display()))?;
        let mut allow_all = AllowAll { child, address };
        let target = allow_all.target(tls);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match connect(&target).await {
                Ok(_) => return Ok(allow_all),
                Err(error) if Instant::now() > deadline => {
                    return Err(format!("the allow-all server did not start: {error}"));
                }
                Err(_) => {}
            }
            if let Ok(Some(status)) = allow_all.child.try_wait() {
                return Err(format!("the allow-all server exited: {status}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn target(&self, tls: &TlsConnector) -> Target {
        Target {
            address: self.address,
            tls: tls.clone(),
            cpu: CpuSource(self.child.id()),
        }
    }
}

impl Drop for AllowAll {
    fn drop(&mut self) {
        // Killed by its own PID; an already exited child makes both calls harmless errors.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------

/// A webhook with 1000 policies under a short load, for its memory.
struct MemoryRun<'a> {
    dir: &'a Path,
    kubeconfig: &'a Path,
    certs: &'a Certificates,
    tls: &'a TlsConnector,
    reviews: &'a Arc<Review>,
    warmup: Duration,
}

impl MemoryRun<'_> {
    /// Peak and current RSS in MiB, after the load.
    async fn run(&self, name: &str, scan_results: Option<&Path>) -> BenchResult<(f64, f64)> {
        let mut server =
            ServerProcess::start(self.dir, name, self.kubeconfig, self.certs, scan_results)?;
        let ready = server.wait_ready(self.tls).await?;
        let target = Target {
            address: server.address,
            tls: self.tls.clone(),
            cpu: CpuSource(server.pid()),
        };
        let load = load(&target, self.reviews, GOAL_CONNS, self.warmup, MEMORY_RUN).await?;
        let memory = server.memory_mib()?;
        println!(
            "{} ({MEMORY_POLICIES} policies; ready after {:.2} s)",
            load.line(name),
            ready.as_secs_f64()
        );
        check(&load, name)
            .map_err(|error| format!("{error}\nthe webhook's log ends:\n{}", server.log_tail()))?;
        Ok(memory)
    }
}

/// One round at a connection count: the webhook's run and the baseline's right after it.
struct Round {
    serve: Measurement,
    allow: Measurement,
}

impl Round {
    fn ratio(&self) -> f64 {
        self.serve.throughput() / self.allow.throughput()
    }

    fn p99_ratio(&self) -> f64 {
        self.serve.percentile_ms(0.99) / self.allow.percentile_ms(0.99)
    }

    fn ratio_by_cpu(&self) -> f64 {
        self.allow.cpu_per_request_us() / self.serve.cpu_per_request_us()
    }
}

/// The median (the mean of the middle two for an even count); NaN for none.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        count if count % 2 == 1 => values[count / 2],
        count => (values[count / 2 - 1] + values[count / 2]) / 2.0,
    }
}

fn check(measurement: &Measurement, name: &str) -> BenchResult<()> {
    if measurement.errors == 0 && !measurement.latencies.is_empty() {
        return Ok(());
    }
    Err(format!(
        "webhook/{name} at {} conns: {} errors, {} timed requests; first error: {}",
        measurement.conns,
        measurement.errors,
        measurement.latencies.len(),
        measurement.first_error.as_deref().unwrap_or("none")
    ))
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

async fn run(options: Options) -> BenchResult<()> {
    let dir = tempfile::tempdir()
        .map_err(|error| format!("cannot make a temporary directory: {error}"))?;
    let certs = certificates(dir.path())?;
    let tls = tls_connector(&certs.ca)?;

    let mut simulator = sim::Simulator::start(sim::Config::default())
        .await
        .map_err(|error| error.to_string())?;
    let kubeconfig = simulator
        .write_kubeconfig(&dir.path().join("kubeconfig"))
        .map_err(|error| error.to_string())?;
    let client = simulator.client().map_err(|error| error.to_string())?;
    install_crd_and_namespace(&client).await?;
    create_policies(&client, 0, THROUGHPUT_POLICIES).await?;
    let scan_results = dir.path().join("scan-results.yaml");
    write_scan_results(&scan_results, SCAN_RESULTS)?;

    let reviews = Arc::new(Review::new()?);
    let mut server = ServerProcess::start(
        dir.path(),
        "serve-100",
        &kubeconfig,
        &certs,
        Some(&scan_results),
    )?;
    let ready = server.wait_ready(&tls).await?;
    println!(
        "webhook/serve: ready after {:.2} s ({THROUGHPUT_POLICIES} policies, {SCAN_RESULTS} scan results), pid {}",
        ready.as_secs_f64(),
        server.pid()
    );
    let baseline = AllowAll::start(&certs, &tls).await?;
    let serve_target = Target {
        address: server.address,
        tls: tls.clone(),
        cpu: CpuSource(server.pid()),
    };
    let baseline_target = baseline.target(&tls);

    // One checked request first, so that a wrong answer is reported once and plainly.
    let mut probe = connect(&serve_target).await?;
    review(&mut probe, &reviews, "6f0d9a52-ffff-4b1e-9c3a-000000000000")
        .await
        .map_err(|error| format!("the webhook's answer is wrong: {error}"))?;
    drop(probe);

    let mut at_goal = Vec::new();
    for &conns in &options.conns {
        let mut rounds = Vec::with_capacity(options.rounds);
        for _ in 0..options.rounds {
            // Alternating, so that the machine's background load affects both alike.
            let serve = load(
                &serve_target,
                &reviews,
                conns,
                options.warmup,
                options.duration,
            )
            .await?;
            println!("{}", serve.line("serve"));
            let allow = load(
                &baseline_target,
                &reviews,
                conns,
                options.warmup,
                options.duration,
            )
            .await?;
            println!("{}", allow.line("allow-all"));
            check(&serve, "serve").map_err(|error| {
                format!("{error}\nthe webhook's log ends:\n{}", server.log_tail())
            })?;
            check(&allow, "allow-all")?;
            println!(
                "webhook/ratio-{conns}: {:.2} (by server CPU per request: {:.2})",
                serve.throughput() / allow.throughput(),
                allow.cpu_per_request_us() / serve.cpu_per_request_us()
            );
            rounds.push(Round { serve, allow });
        }
        if options.rounds > 1 {
            println!(
                "webhook/ratio-{conns}: median {:.2} of {} rounds",
                median(rounds.iter().map(Round::ratio)),
                rounds.len()
            );
        }
        if conns == GOAL_CONNS {
            at_goal = rounds;
        }
    }
    let mut open_rounds = Vec::new();
    let open_loop_rounds = if options.rate > 0.0 {
        options.rounds
    } else {
        0
    };
    for _ in 0..open_loop_rounds {
        let (rate, warmup, duration) = (options.rate, options.warmup, options.duration);
        let serve = open_loop::load(&serve_target, &reviews, rate, warmup, duration).await?;
        println!("{} (open loop, {rate} req/s)", serve.line("serve"));
        let allow = open_loop::load(&baseline_target, &reviews, rate, warmup, duration).await?;
        println!("{} (open loop, {rate} req/s)", allow.line("allow-all"));
        check(&serve, "serve")
            .map_err(|error| format!("{error}\nthe webhook's log ends:\n{}", server.log_tail()))?;
        check(&allow, "allow-all")?;
        open_rounds.push(Round { serve, allow });
    }
    drop(baseline);
    let (peak, now) = server.memory_mib()?;
    println!(
        "webhook/memory-{THROUGHPUT_POLICIES}: peak RSS {peak:.0} MiB, {now:.0} MiB after the load"
    );
    drop(server);

    create_policies(&client, THROUGHPUT_POLICIES, MEMORY_POLICIES).await?;
    let memory = MemoryRun {
        dir: dir.path(),
        kubeconfig: &kubeconfig,
        certs: &certs,
        tls: &tls,
        reviews: &reviews,
        warmup: options.warmup,
    };
    let (peak, now) = memory.run("serve-1000", Some(&scan_results)).await?;
    // The same without the scan-results file, to show what that file costs.
    let (bare_peak, _) = memory.run("serve-1000-no-scan-file", None).await?;

    if !at_goal.is_empty() {
        let ratio = median(at_goal.iter().map(Round::ratio));
        let by_cpu = median(at_goal.iter().map(Round::ratio_by_cpu));
        let p99 = median(at_goal.iter().map(|round| round.serve.percentile_ms(0.99)));
        let baseline_p99 = median(at_goal.iter().map(|round| round.allow.percentile_ms(0.99)));
        let rounds = at_goal.len();
        println!(
            "webhook/ratio: {ratio:.2} (median of {rounds} at {GOAL_CONNS} conns; goal ≥ {RATIO_GOAL}: {}; by server CPU per request: {by_cpu:.2})",
            verdict(ratio >= RATIO_GOAL),
        );
        let p99_ratio = median(at_goal.iter().map(Round::p99_ratio));
        println!(
            "webhook/p99: {p99:.2} ms, the allow-all baseline's {baseline_p99:.2} ms (medians of {rounds} at {GOAL_CONNS} conns); webhook over baseline {p99_ratio:.2} (median of the rounds' ratios; goal ≤ {P99_RATIO_GOAL}: {})",
            verdict(p99_ratio <= P99_RATIO_GOAL)
        );
    }
    if !open_rounds.is_empty() {
        let rounds = open_rounds.len();
        let p99 = median(
            open_rounds
                .iter()
                .map(|round| round.serve.percentile_ms(0.99)),
        );
        let baseline_p99 = median(
            open_rounds
                .iter()
                .map(|round| round.allow.percentile_ms(0.99)),
        );
        let met = p99 < OPEN_LOOP_P99_GOAL_MS && baseline_p99 < OPEN_LOOP_P99_GOAL_MS;
        println!(
            "webhook/open-loop-p99: {p99:.2} ms, the allow-all baseline's {baseline_p99:.2} ms (medians of {rounds} at {} req/s; goal < {OPEN_LOOP_P99_GOAL_MS} ms for both: {})",
            options.rate,
            verdict(met)
        );
    }
    println!(
        "webhook/memory: peak RSS {peak:.0} MiB ({MEMORY_POLICIES} policies, {SCAN_RESULTS} scan results; {now:.0} MiB after the load; goal < {RSS_GOAL_MIB} MiB: {}; {bare_peak:.0} MiB without the scan-results file)",
        verdict(peak < RSS_GOAL_MIB)
    );
    simulator.shutdown().await;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, address, cert, key] = args.as_slice()
        && flag == ALLOW_ALL_ARG
    {
        if let Err(error) = serve_allow_all(address, Path::new(cert), Path::new(key)) {
            eprintln!("allow-all server: {error}");
            std::process::exit(1);
        }
        return;
    }
    let options = match parse_options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("webhook load benchmark: {error}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start a runtime: {error}");
            std::process::exit(2);
        }
    };
    let result = runtime.block_on(async {
        // Interrupting drops `run`, whose guards kill the webhook process.
        tokio::select! {
            result = run(options) => result,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
        }
    });
    if let Err(error) = result {
        eprintln!("webhook load benchmark failed: {error}");
        std::process::exit(1);
    }
}
