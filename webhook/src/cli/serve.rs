//! `image-assurance serve`: flags, logging, and the runtime around `server::run`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use image_assurance::policy::Enforcement;
use image_assurance::scan::SeverityThresholds;
use image_assurance::server::ServeOptions;
use image_assurance::workload::ControllerIdentities;

use super::CliError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// HTTPS address for /admission-review, /validate-policy, /healthz, /readyz.
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// Plain-HTTP address for Prometheus /metrics.
    #[arg(long, default_value = "0.0.0.0:9090")]
    metrics_listen: SocketAddr,
    /// PEM certificate chain (reloaded when it changes).
    #[arg(long, value_name = "PATH")]
    tls_cert: PathBuf,
    /// PEM private key (reloaded when it changes).
    #[arg(long, value_name = "PATH")]
    tls_key: PathBuf,
    /// A scan-results file (our format or VulnerabilityReports), reloaded when it changes.
    #[arg(long, value_name = "PATH")]
    scan_results: Option<PathBuf>,
    /// Users trusted to create children of admitted controllers; `*` matches any run of
    /// characters. Repeatable [default: system:serviceaccount:kube-system:*-controller and
    /// system:kube-controller-manager].
    #[arg(long = "controller-identity", value_name = "PATTERN")]
    controller_identities: Vec<String>,
    /// The lowest finding severity that makes a VulnerabilityReport `Fail`.
    #[arg(long, default_value = "high")]
    fail_severity: String,
    /// The lowest finding severity that makes a VulnerabilityReport `Warn`.
    #[arg(long, default_value = "medium")]
    warn_severity: String,
    /// Request bodies larger than this are refused (413).
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Per-request deadline in milliseconds, well inside the webhook's timeoutSeconds.
    #[arg(long, default_value_t = 3000)]
    deadline_ms: u64,
    /// How long requests in flight may take to finish on shutdown, in seconds.
    #[arg(long, default_value_t = 10)]
    shutdown_grace_seconds: u64,
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// How often the replica holding the audit lease audits running workloads and publishes
    /// PolicyReports and policy statuses (`90s`, `5m`, `1h`; `0` disables the audit).
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    audit_interval: String,
    /// The webhook's namespace, where the audit lease lives [default: $POD_NAMESPACE, else the
    /// service account's namespace file, else tigera-image-assurance].
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// `warn` or `audit`: treat every policy as that (a dry run of all of them: nothing is
    /// rejected); `policy`: each policy's own `spec.enforcement`.
    #[arg(long, value_enum, default_value_t = EnforcementMode::Policy)]
    enforcement: EnforcementMode,
}

/// `--enforcement` of `serve` and `manifests`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum EnforcementMode {
    /// Each policy's own `spec.enforcement`.
    #[default]
    Policy,
    Warn,
    Audit,
}

impl EnforcementMode {
    /// The enforcement every policy gets, if any.
    pub fn every(self) -> Option<Enforcement> {
        match self {
            EnforcementMode::Policy => None,
            EnforcementMode::Warn => Some(Enforcement::Warn),
            EnforcementMode::Audit => Some(Enforcement::Audit),
        }
    }

    pub fn flag_value(self) -> &'static str {
        match self {
            EnforcementMode::Policy => "policy",
            EnforcementMode::Warn => "warn",
            EnforcementMode::Audit => "audit",
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: in a file or a log collector they are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second initialisation (only possible in tests) is harmless: keep the first.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    let thresholds = SeverityThresholds::parse(&args.fail_severity, &args.warn_severity)
        .map_err(|error| CliError::new(format!("--fail-severity/--warn-severity: {error}")))?;
    let identities = if args.controller_identities.is_empty() {
        ControllerIdentities::default()
    } else {
        ControllerIdentities::from_patterns(args.controller_identities.iter().map(String::as_str))
    };
    let audit_interval = image_assurance::server::audit_task::parse_interval(&args.audit_interval)
        .map_err(|error| CliError::new(format!("--audit-interval {error}")))?;
    let audit = image_assurance::server::audit_task::AuditSettings::new(
        audit_interval,
        webhook_namespace(args.namespace.clone()),
        pod_name(),
    );
    init_logging(args.log_format);
    let options = ServeOptions {
        listen: args.listen,
        metrics_listen: args.metrics_listen,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        scan_results: args.scan_results,
        thresholds,
        identities,
        every_enforcement: args.enforcement.every(),
        max_body_bytes: args.max_body_bytes,
        deadline: Duration::from_millis(args.deadline_ms),
        shutdown_grace: Duration::from_secs(args.shutdown_grace_seconds),
        cert_poll: Duration::from_secs(1),
        audit,
    };
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| CliError::new(format!("cannot start the async runtime: {error}")))?;
    runtime
        .block_on(image_assurance::server::run(options))
        .map_err(|error| CliError::new(error.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

/// Where the service account's namespace is mounted in every pod.
const SERVICE_ACCOUNT_NAMESPACE_FILE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// `--namespace`, else `POD_NAMESPACE` (the manifests set it from the downward API), else the
/// service account's namespace file, else the default namespace.
fn webhook_namespace(flag: Option<String>) -> String {
    flag.filter(|namespace| !namespace.is_empty())
        .or_else(|| {
            std::env::var("POD_NAMESPACE")
                .ok()
                .filter(|ns| !ns.is_empty())
        })
        .or_else(|| {
            std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE_FILE)
                .ok()
                .map(|text| text.trim().to_string())
                .filter(|ns| !ns.is_empty())
        })
        .unwrap_or_else(|| image_assurance::install::DEFAULT_NAMESPACE.to_string())
}

/// The lease holder's identity: `POD_NAME` (the manifests set it from the downward API), else
/// the host name with the process id (as client-go adds a unique suffix), so that two
/// processes on one host never share an identity.
fn pod_name() -> String {
    if let Some(name) = std::env::var("POD_NAME")
        .ok()
        .filter(|name| !name.is_empty())
    {
        return name;
    }
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|text| text.trim().to_string())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "image-assurance".to_string());
    format!("{host}_{}", std::process::id())
}
