//! `image-assurance audit`: what the cluster's policies would reject among the workloads that
//! already run, read from the cluster in KUBECONFIG. The decisions are the library's
//! (`image_assurance::audit`); this prints them.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use image_assurance::admission::Context;
use image_assurance::audit::cluster::{
    CombinedScans, NamespaceSelection, covered_namespaces, list_objects, read_policies,
    read_vulnerability_reports,
};
use image_assurance::audit::report::result_kind;
use image_assurance::audit::{AuditOutcome, ObjectError, Progress, Violation, audit};
use image_assurance::install::WEBHOOK_CONFIGURATION_NAME;
use image_assurance::policy::Enforcement;
use image_assurance::scan::{SeverityThresholds, load_scan_file};
use image_assurance::timestamp::parse_rfc3339;
use image_assurance::workload::ControllerIdentities;
use serde::Serialize;

use super::{CliError, EXIT_REJECTED};
use crate::OutputFormat;

/// Decide every running workload as if it were created now.
///
/// Reads the ContainerAdmissionPolicies, the VulnerabilityReports and every pod-creating object
/// (Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs,
/// ReplicationControllers) in the namespaces the installed webhook covers. An object made by a
/// controller that exists is reported through that controller, once. Prints one line per
/// rejected image.
///
/// Exit status: 0 nothing would be rejected, 1 something would (an `Enforce` policy rejects an
/// image, or an image does not parse), 2 bad input or the cluster cannot be read.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// The ValidatingWebhookConfiguration whose namespaceSelector says which namespaces are
    /// covered.
    #[arg(long, value_name = "NAME", default_value = WEBHOOK_CONFIGURATION_NAME, conflicts_with = "all_namespaces")]
    webhook_configuration: String,
    /// Audit every namespace, whatever the webhook covers.
    #[arg(long)]
    all_namespaces: bool,
    /// A scan-results file (our format or VulnerabilityReports), as `serve --scan-results`
    /// takes it, in addition to the cluster's VulnerabilityReports.
    #[arg(long, value_name = "PATH")]
    scans: Option<PathBuf>,
    /// The lowest finding severity that makes a VulnerabilityReport `Fail`.
    #[arg(long, default_value = "high")]
    fail_severity: String,
    /// The lowest finding severity that makes a VulnerabilityReport `Warn`.
    #[arg(long, default_value = "medium")]
    warn_severity: String,
    /// The evaluation time, RFC 3339 [default: now].
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

pub fn run(args: &AuditArgs) -> Result<ExitCode, CliError> {
    // Local input first: a mistyped flag fails before any cluster round trip.
    let thresholds = SeverityThresholds::parse(&args.fail_severity, &args.warn_severity)
        .map_err(|error| CliError::new(format!("--fail-severity/--warn-severity: {error}")))?;
    let file = match &args.scans {
        Some(path) => Some(
            load_scan_file(path, &thresholds).map_err(|error| CliError::new(error.to_string()))?,
        ),
        None => None,
    };
    let now = match &args.now {
        Some(text) => {
            parse_rfc3339(text).map_err(|error| CliError::new(format!("--now: {error}")))?
        }
        None => jiff::Timestamp::now(),
    };
    let selection = if args.all_namespaces {
        NamespaceSelection::All
    } else {
        NamespaceSelection::Webhook {
            configuration: args.webhook_configuration.clone(),
        }
    };
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| CliError::new(format!("cannot start the async runtime: {error}")))?;
    let mut progress = ProgressLine::new();
    let (outcome, namespaces) = runtime.block_on(async {
        let client = kube::Client::try_default().await.map_err(|error| {
            CliError::new(format!(
                "cannot connect to the cluster (KUBECONFIG or in-cluster): {error}"
            ))
        })?;
        let namespaces = covered_namespaces(&client, &selection)
            .await
            .map_err(|error| CliError::new(error.to_string()))?;
        let (_, policies) = read_policies(&client, None)
            .await
            .map_err(|error| CliError::new(error.to_string()))?;
        let reports = read_vulnerability_reports(&client, &thresholds)
            .await
            .map_err(|error| CliError::new(error.to_string()))?;
        let objects = list_objects(
            &client,
            &|namespace| namespaces.contains_key(namespace),
            &mut |read| progress.read(read),
        )
        .await
        .map_err(|error| CliError::new(error.to_string()))?;
        let scans = CombinedScans { reports, file };
        let identities = ControllerIdentities::default();
        let context = Context {
            policies: &policies,
            scans: &scans,
            now,
            identities: &identities,
        };
        let outcome = audit(&context, &namespaces, &objects, &mut |step| {
            progress.decided(step)
        });
        Ok::<_, CliError>((outcome, namespaces.len()))
    })?;
    print(&outcome, args.output)?;
    eprintln!(
        "audit: {} objects decided in {} namespaces ({} more reported through their owners): {} rejected images, {} objects that do not parse",
        outcome.evaluated,
        namespaces,
        outcome.through_owner,
        outcome.violations.len(),
        outcome.errors.len()
    );
    let rejected = !outcome.errors.is_empty()
        || outcome
            .violations
            .iter()
            .any(|violation| violation.enforcement == Enforcement::Enforce);
    Ok(if rejected {
        ExitCode::from(EXIT_REJECTED)
    } else {
        ExitCode::SUCCESS
    })
}

/// A line on stderr now and then during a long run: at most one a second, and when stderr is
/// not a terminal (a log), only once 100 more objects were handled.
struct ProgressLine {
    started: Instant,
    last_line: Instant,
    last_count: usize,
    terminal: bool,
}

impl ProgressLine {
    fn new() -> Self {
        let now = Instant::now();
        ProgressLine {
            started: now,
            last_line: now,
            last_count: 0,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn due(&mut self, count: usize) -> bool {
        let due = self.last_line.elapsed() >= Duration::from_secs(1)
            && (self.terminal || count >= self.last_count + 100);
        if due {
            self.last_line = Instant::now();
            self.last_count = count;
        }
        due
    }

    fn read(&mut self, count: usize) {
        if self.due(count) {
            eprintln!(
                "audit: {count} objects read ({}s)",
                self.started.elapsed().as_secs()
            );
        }
    }

    fn decided(&mut self, progress: Progress) {
        if progress.done == 1 {
            // Counts restart for the second phase.
            self.last_count = 0;
        }
        if self.due(progress.done) {
            eprintln!(
                "audit: {} of {} objects decided ({}s)",
                progress.done,
                progress.total,
                self.started.elapsed().as_secs()
            );
        }
    }
}

/// One rejected image, a line of `--output json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonViolation<'a> {
    namespace: &'a str,
    kind: &'a str,
    api_version: &'a str,
    name: &'a str,
    uid: Option<&'a str>,
    container: &'a str,
    image: &'a str,
    status: &'a str,
    policy: &'a str,
    rule_index: Option<usize>,
    enforcement: &'a str,
    /// `fail` or `warn`, as in the PolicyReports.
    result: image_assurance::audit::policy_report::ResultKind,
    message: &'a str,
}

/// An object whose images do not parse, a line of `--output json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonError<'a> {
    namespace: &'a str,
    kind: &'a str,
    api_version: &'a str,
    name: &'a str,
    uid: Option<&'a str>,
    error: &'a str,
}

fn json_violation(violation: &Violation) -> JsonViolation<'_> {
    JsonViolation {
        namespace: &violation.namespace,
        kind: violation.kind.name(),
        api_version: &violation.api_version,
        name: &violation.name,
        uid: violation.uid.as_deref(),
        container: &violation.container,
        image: &violation.image,
        status: violation.status.as_str(),
        policy: &violation.policy,
        rule_index: violation.rule_index,
        enforcement: violation.enforcement.name(),
        result: result_kind(violation.enforcement),
        message: &violation.message,
    }
}

fn json_error(error: &ObjectError) -> JsonError<'_> {
    JsonError {
        namespace: &error.namespace,
        kind: error.kind.name(),
        api_version: &error.api_version,
        name: &error.name,
        uid: error.uid.as_deref(),
        error: &error.error,
    }
}

pub const HEADER: [&str; 8] = [
    "NAMESPACE",
    "KIND",
    "NAME",
    "CONTAINER",
    "IMAGE",
    "STATUS",
    "POLICY",
    "RULE",
];

/// The table's rows: one per rejected image, `-` for the rule of an invalid policy.
pub fn table_rows(violations: &[Violation]) -> Vec<[String; 8]> {
    violations
        .iter()
        .map(|violation| {
            [
                violation.namespace.clone(),
                violation.kind.name().to_string(),
                violation.name.clone(),
                violation.container.clone(),
                violation.image.clone(),
                violation.status.as_str().to_string(),
                violation.policy.clone(),
                violation
                    .rule_index
                    .map_or_else(|| "-".to_string(), |index| index.to_string()),
            ]
        })
        .collect()
}

/// Columns padded to their widest cell, three spaces apart, as `kubectl get` prints them.
pub fn render_table(rows: &[[String; 8]]) -> String {
    let mut widths = HEADER.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header = HEADER.map(str::to_string);
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
            if index + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}   "));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn print(outcome: &AuditOutcome, output: OutputFormat) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    let write_error = |error: std::io::Error| CliError::new(format!("cannot write: {error}"));
    match output {
        OutputFormat::Json => {
            for violation in &outcome.violations {
                let line = serde_json::to_string(&json_violation(violation))
                    .map_err(|error| CliError::new(error.to_string()))?;
                writeln!(stdout, "{line}").map_err(write_error)?;
            }
            for error in &outcome.errors {
                let line = serde_json::to_string(&json_error(error))
                    .map_err(|error| CliError::new(error.to_string()))?;
                writeln!(stdout, "{line}").map_err(write_error)?;
            }
        }
        OutputFormat::Text => {
            if !outcome.violations.is_empty() {
                stdout
                    .write_all(render_table(&table_rows(&outcome.violations)).as_bytes())
                    .map_err(write_error)?;
            }
            for error in &outcome.errors {
                eprintln!(
                    "audit: {}/{} {}: {} (the webhook would reject it)",
                    error.namespace,
                    error.kind.name(),
                    error.name,
                    error.error
                );
            }
        }
    }
    stdout.flush().map_err(write_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_columns_and_marks_an_invalid_policys_rule() {
        let row = |name: &str, policy: &str, rule: &str| -> [String; 8] {
            [
                "team-a",
                "Deployment",
                name,
                "web",
                "nginx:1.27",
                "Unknown",
                policy,
                rule,
            ]
            .map(str::to_string)
        };
        let text = render_table(&[
            row("web", "no-nginx", "1"),
            row("api-server", "broken", "-"),
        ]);
        assert_eq!(
            text,
            "NAMESPACE   KIND         NAME         CONTAINER   IMAGE        STATUS    POLICY     RULE\n\
             team-a      Deployment   web          web         nginx:1.27   Unknown   no-nginx   1\n\
             team-a      Deployment   api-server   web         nginx:1.27   Unknown   broken     -\n"
        );
    }
}
