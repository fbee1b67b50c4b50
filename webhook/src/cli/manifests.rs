//! `image-assurance manifests`: every object of an installation, as YAML on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use image_assurance::install::cert_files;
use image_assurance::install::manifests::{ManifestOptions, build};
use image_assurance::install::names::check_dns1123_label;
use image_assurance::install::scope::{NamespaceScope, ScopeError};
use image_assurance::install::webhook_configuration::FailurePolicy;
use image_assurance::install::{
    DEFAULT_IMAGE, DEFAULT_NAMESPACE, SERVICE_NAME, WEBHOOK_CONFIGURATION_NAME, service_dns_name,
};

use super::CliError;
use super::serve::EnforcementMode;

/// Upstream's installer variables, still honoured so its procedure works unchanged.
pub const KEY_ENV: &str = "IN_NAMESPACE_SELECTOR_KEY";
pub const VALUES_ENV: &str = "IN_NAMESPACE_SELECTOR_VALUES";
const KEY_FLAG: &str = "--namespace-selector-key";
const VALUES_FLAG: &str = "--namespace-selector-values";

/// Print every object of an installation as YAML, for `kubectl apply -f -`.
///
/// Namespace (Pod Security `restricted`), CRD, RBAC, TLS Secret, NetworkPolicy, Deployment,
/// PodDisruptionBudget, the webhook's and the metrics Service, and the
/// ValidatingWebhookConfiguration. Exit status: 0 printed, 2 bad input.
#[derive(Args, Debug)]
pub struct ManifestsArgs {
    /// The namespace label that opts a namespace in [default: $IN_NAMESPACE_SELECTOR_KEY].
    // Hyphen values allowed so that `-name` gets the label-syntax error, not "unknown flag".
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub namespace_selector_key: Option<String>,
    /// Its values, space-separated [default: $IN_NAMESPACE_SELECTOR_VALUES].
    #[arg(long, value_name = "\"V1 V2\"", allow_hyphen_values = true)]
    pub namespace_selector_values: Option<String>,
    /// Directory holding the files written by `image-assurance certs`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub cert_dir: PathBuf,
    /// The webhook image (build it from the repository's Dockerfile).
    #[arg(long, value_name = "IMAGE", default_value = DEFAULT_IMAGE)]
    pub image: String,
    /// The webhook's own namespace.
    #[arg(long, value_name = "NS", default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// What the API server does when the webhook cannot answer: reject, or admit.
    #[arg(long, value_enum, default_value_t = FailurePolicyArg::Fail)]
    pub failure_policy: FailurePolicyArg,
    /// How long the API server waits for the webhook (1-30).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub timeout_seconds: i32,
    /// Webhook pods.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub replicas: i32,
    #[arg(
        long,
        value_name = "P",
        default_value = "IfNotPresent",
        value_parser = ["Always", "IfNotPresent", "Never"]
    )]
    pub image_pull_policy: String,
    /// The PriorityClass of the webhook's pods, e.g. system-cluster-critical, so that under
    /// node pressure they outlast the workloads they admit [default: none, the cluster's
    /// default priority]. The class must exist.
    #[arg(long, value_name = "NAME")]
    pub priority_class_name: Option<String>,
    /// `warn` or `audit`: the webhook treats every policy as that, a dry run for a first
    /// install (nothing is rejected; `warn` tells users what would be); `policy`: each policy's
    /// own `spec.enforcement`.
    #[arg(long, value_enum, default_value_t = EnforcementMode::Policy)]
    pub enforcement: EnforcementMode,
    /// The webhook's audit interval (`serve --audit-interval`: `90s`, `5m`, `1h`; `0`
    /// disables the audit) [default: serve's, 5m].
    #[arg(long, value_name = "DURATION")]
    pub audit_interval: Option<String>,
    /// DANGEROUS, for demonstrating the deadlock only: accept kube-system, kube-public,
    /// kube-node-lease and the webhook's own namespace as selector values, and exclude no
    /// namespace by name. If the webhook then goes down, pods in those namespaces, its own
    /// included, cannot be created, so it cannot come back.
    #[arg(long)]
    pub allow_critical_namespaces: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailurePolicyArg {
    #[value(name = "Fail")]
    Fail,
    #[value(name = "Ignore")]
    Ignore,
}

impl From<FailurePolicyArg> for FailurePolicy {
    fn from(arg: FailurePolicyArg) -> Self {
        match arg {
            FailurePolicyArg::Fail => FailurePolicy::Fail,
            FailurePolicyArg::Ignore => FailurePolicy::Ignore,
        }
    }
}

/// Where a selector setting came from, so an error points at what to fix.
struct Setting {
    value: String,
    source: &'static str,
}

/// `--audit-interval=…` for the Deployment's args, only when it is not serve's default.
fn audit_interval_flag(text: Option<&str>) -> Result<Option<String>, CliError> {
    use image_assurance::server::audit_task::{DEFAULT_INTERVAL, format_interval, parse_interval};
    let Some(text) = text else { return Ok(None) };
    let interval =
        parse_interval(text).map_err(|error| CliError::new(format!("--audit-interval {error}")))?;
    Ok((interval != DEFAULT_INTERVAL)
        .then(|| format!("--audit-interval={}", format_interval(interval))))
}

pub fn run(options: &ManifestsArgs) -> Result<ExitCode, CliError> {
    // First, since the selector's exclusions and the certificate's name both derive from it.
    check_dns1123_label(&options.namespace).map_err(|reason| {
        CliError::new(format!(
            "--namespace {:?}: not a valid namespace name: {reason}",
            options.namespace
        ))
    })?;
    let key = setting(
        options.namespace_selector_key.as_deref(),
        KEY_FLAG,
        KEY_ENV,
        "the namespace label that opts a namespace in, e.g. `name`",
    )?;
    let values = setting(
        options.namespace_selector_values.as_deref(),
        VALUES_FLAG,
        VALUES_ENV,
        "the label values, space-separated, e.g. \"prod staging-test\"",
    )?;
    let scope = NamespaceScope::new(
        &key.value,
        &values.value,
        &options.namespace,
        options.allow_critical_namespaces,
    )
    .map_err(|error| scope_error(error, &key, &values))?;
    if options.allow_critical_namespaces {
        warn_critical(&scope);
    }

    if !options.cert_dir.is_dir() {
        return Err(CliError::new(format!(
            "--cert-dir {}: not a directory (generate the certificates with \
             `image-assurance certs --out DIR`, then pass --cert-dir DIR)",
            options.cert_dir.display()
        )));
    }
    let certs = cert_files::read(&options.cert_dir).map_err(|e| CliError::new(e.to_string()))?;
    cert_files::verify(
        &certs,
        &options.cert_dir,
        &service_dns_name(SERVICE_NAME, &options.namespace),
        jiff::Timestamp::now(),
    )
    .map_err(|error| CliError::new(error.to_string()))?;

    let manifests = build(&ManifestOptions {
        namespace: options.namespace.clone(),
        scope,
        image: options.image.clone(),
        image_pull_policy: options.image_pull_policy.clone(),
        replicas: options.replicas,
        failure_policy: options.failure_policy.into(),
        timeout_seconds: options.timeout_seconds,
        certs,
        priority_class_name: options.priority_class_name.clone(),
        serve_flags: match options.enforcement {
            EnforcementMode::Policy => Vec::new(),
            mode => vec![format!("--enforcement={}", mode.flag_value())],
        }
        .into_iter()
        .chain(audit_interval_flag(options.audit_interval.as_deref())?)
        .collect(),
    })
    .map_err(|error| CliError::new(error.to_string()))?;
    if manifests.pod_disruption_budget.is_none() {
        eprintln!(
            "note: --replicas {}: no PodDisruptionBudget (with a single pod it would block every \
             node drain); admission stops while that pod restarts",
            options.replicas
        );
    }
    let yaml = manifests
        .to_yaml()
        .map_err(|error| CliError::new(format!("cannot render the manifests: {error}")))?;
    print!("{yaml}");
    Ok(ExitCode::SUCCESS)
}

/// The flag if given, else the environment variable; empty either way is an error naming both.
fn setting(
    flag_value: Option<&str>,
    flag: &'static str,
    env: &'static str,
    what: &str,
) -> Result<Setting, CliError> {
    let (value, source) = match flag_value {
        Some(value) => (value.to_string(), flag),
        None => match std::env::var(env) {
            Ok(value) => (value, env),
            Err(std::env::VarError::NotPresent) => {
                return Err(CliError::new(format!(
                    "{flag} is required: pass {flag} or set {env} ({what})"
                )));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(CliError::new(format!("{env} is not valid UTF-8")));
            }
        },
    };
    if value.trim().is_empty() {
        return Err(CliError::new(format!(
            "{flag} is empty{}: pass {flag} or set {env} ({what})",
            if source == env {
                format!(" ({env} is set to {value:?})")
            } else {
                String::new()
            }
        )));
    }
    Ok(Setting { value, source })
}

fn scope_error(error: ScopeError, key: &Setting, values: &Setting) -> CliError {
    let origin = |setting: &Setting, flag: &str| {
        if setting.source == flag {
            flag.to_string()
        } else {
            format!("{flag} (from {})", setting.source)
        }
    };
    let origin = match error {
        ScopeError::EmptyKey | ScopeError::InvalidKey { .. } => origin(key, KEY_FLAG),
        _ => origin(values, VALUES_FLAG),
    };
    CliError::new(format!("{origin}: {error}"))
}

fn warn_critical(scope: &NamespaceScope) {
    let selected = scope.critical_values();
    let selected = if selected.is_empty() {
        String::new()
    } else {
        format!(" and selects {}", selected.join(", "))
    };
    eprintln!(
        "warning: --allow-critical-namespaces: the webhook excludes no namespace by name{selected}. \
         This flag exists to demonstrate the deadlock: when the webhook is down, pods in the \
         namespaces it covers cannot be created, its own included, so it cannot come back. \
         Recover with `kubectl delete validatingwebhookconfiguration {WEBHOOK_CONFIGURATION_NAME}`."
    );
}
