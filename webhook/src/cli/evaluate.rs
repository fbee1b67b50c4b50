//! `image-assurance evaluate`: the webhook's decision, offline. Every input is read and checked
//! before anything is printed, so bad input (exit 2) never leaves half a report behind.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use image_assurance::admission::Finding;
use image_assurance::admission::handler::finding_text;
use image_assurance::admission::review::{self, is_evaluated};
use image_assurance::admission::{self, Assessment, Context, Subject};
use image_assurance::manifest::{self, Document, Origin};
use image_assurance::policy::evaluate::{Verdict, applicable_policies};
use image_assurance::policy::explain::why;
use image_assurance::policy::{ImageDecision, PolicySet, Reason, read_policies};
use image_assurance::scan::ScanStatus;
use image_assurance::scan::SeverityThresholds;
use image_assurance::scan::load_scan_file;
use image_assurance::scan::{NoScanData, ScanIndex, ScanSource};
use image_assurance::timestamp::{format_rfc3339, parse_rfc3339};
use image_assurance::workload::{
    ControllerIdentities, Workload, WorkloadKind, controller_reference,
};
use jiff::Timestamp;
use kube::core::admission::Operation;
use serde::Serialize;

use super::{CliError, EXIT_REJECTED, parse_labels};
use crate::OutputFormat;

pub struct Options {
    pub policies: Vec<PathBuf>,
    pub resource: PathBuf,
    pub namespace: Option<String>,
    pub namespace_labels: Option<String>,
    pub scans: Option<PathBuf>,
    pub owners: Vec<PathBuf>,
    pub user: Option<String>,
    pub now: Option<String>,
    pub explain: bool,
    pub output: OutputFormat,
}

/// The user offline evaluation acts as unless told otherwise: not a controller, so that
/// children are evaluated like directly created objects.
pub const DEFAULT_USER: &str = "kubernetes-admin";
const DEFAULT_NAMESPACE: &str = "default";

/// The result for one document of `--resource`.
#[derive(Serialize)]
struct DocumentReport {
    document: usize,
    kind: String,
    name: Option<String>,
    namespace: String,
    allowed: bool,
    message: Option<String>,
    images: Vec<ImageReport>,
    /// The child check's warnings, then what `Warn` and `Audit` policies would reject.
    warnings: Vec<String>,
    /// Applicable policies in evaluation order, for `--explain` (not part of the JSON).
    #[serde(skip)]
    applicable: Vec<String>,
    /// Why nothing was evaluated (a kind or operation that creates no containers).
    #[serde(skip)]
    skipped: Option<String>,
}

pub fn run(options: &Options) -> Result<ExitCode, CliError> {
    let policies =
        read_policies(&options.policies).map_err(|error| CliError::new(error.to_string()))?;
    // No policy at all would allow everything: almost certainly a wrong path, not a decision.
    if policies.is_empty() {
        let paths: Vec<String> = options
            .policies
            .iter()
            .map(|path| path.display().to_string())
            .collect();
        return Err(CliError::new(format!(
            "--policy {}: no ContainerAdmissionPolicy found (an empty file or a directory without .yaml, .yml or .json files?)",
            paths.join(", ")
        )));
    }
    let scan_index;
    let scans: &dyn ScanSource = match &options.scans {
        Some(path) => {
            scan_index = load_scan_file(path, &SeverityThresholds::default())
                .map_err(|error| CliError::new(error.to_string()))?;
            &scan_index as &ScanIndex
        }
        None => &NoScanData,
    };
    let now = match &options.now {
        Some(text) => {
            parse_rfc3339(text).map_err(|error| CliError::new(format!("--now: {error}")))?
        }
        None => Timestamp::now(),
    };
    let extra_labels = match &options.namespace_labels {
        Some(text) => parse_labels("--namespace-labels", text)?,
        None => BTreeMap::new(),
    };
    let owners = read_owners(&options.owners)?;
    let identities = ControllerIdentities::default();
    let context = Context {
        policies: &policies,
        scans,
        now,
        identities: &identities,
    };
    let documents = if options.resource.as_os_str() == "-" {
        manifest::read_stdin_documents()
    } else {
        manifest::read_documents(&options.resource)
    }
    .map_err(|error| CliError::new(error.to_string()))?;
    if documents.is_empty() {
        return Err(CliError::new(format!(
            "{}: no documents to evaluate",
            options.resource.display()
        )));
    }
    let mut reports = Vec::with_capacity(documents.len());
    for document in &documents {
        reports.push(evaluate_document(
            document,
            options,
            &extra_labels,
            &owners,
            &context,
        )?);
    }
    for report in &reports {
        match options.output {
            OutputFormat::Json => {
                let line = serde_json::to_string(report)
                    .map_err(|error| CliError::new(format!("cannot encode the report: {error}")))?;
                println!("{line}");
            }
            OutputFormat::Text => print!("{}", render_text(report, options.explain, now)),
        }
    }
    let all_allowed = reports.iter().all(|report| report.allowed);
    Ok(if all_allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REJECTED)
    })
}

/// One image's decision as `--output json` gives it: `reason` is the why of a rule's decision
/// (`policy::explain`), and `wouldBeRejectedBy` lists the `Warn`/`Audit` policies that would
/// reject the image (omitted when none).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageReport {
    container: String,
    image: String,
    subject: String,
    status: ScanStatus,
    last_scan: Option<Timestamp>,
    decision: Verdict,
    policy: Option<String>,
    rule_index: Option<usize>,
    reason: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    would_be_rejected_by: Vec<AdvisoryReport>,
    /// `Unchanged since admitted`, for the text output.
    #[serde(skip)]
    unchanged: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdvisoryReport {
    policy: String,
    enforcement: &'static str,
    rule_index: Option<usize>,
    reason: String,
}

fn image_report(policies: &PolicySet, image: ImageDecision, findings: &[Finding]) -> ImageReport {
    let reason = why(policies, &image).unwrap_or_else(|| image.explain().to_string());
    let would_be_rejected_by = findings
        .iter()
        .filter(|finding| finding.container == image.container)
        .map(|finding| AdvisoryReport {
            policy: finding.policy.clone(),
            enforcement: finding.enforcement.name(),
            rule_index: finding.rule_index,
            reason: finding.why.clone(),
        })
        .collect();
    ImageReport {
        subject: image.subject().to_string(),
        unchanged: image.reason == Reason::Unchanged,
        container: image.container,
        image: image.image,
        status: image.status,
        last_scan: image.last_scan,
        decision: image.decision,
        policy: image.policy,
        rule_index: image.rule_index,
        reason,
        would_be_rejected_by,
    }
}

/// What one document asks: an object, under an operation, by a user, in a namespace.
struct Request {
    kind: String,
    name: Option<String>,
    object: Option<serde_json::Value>,
    /// An UPDATE's object as it was: only the images new to the object are evaluated.
    old_object: Option<serde_json::Value>,
    namespace: Option<String>,
    user: Option<String>,
    skipped: Option<String>,
}

fn read_request(document: &Document) -> Result<Request, CliError> {
    let at = |error: &dyn std::fmt::Display| CliError::new(format!("{}: {error}", document.origin));
    let (api_version, kind) = document
        .type_meta()
        .map_err(|error| CliError::new(error.to_string()))?;
    if !review::is_review(api_version, kind) {
        return Ok(Request {
            kind: kind.to_string(),
            name: document.name().map(str::to_string),
            object: Some(document.value.clone()),
            old_object: None,
            namespace: None,
            user: None,
            skipped: None,
        });
    }
    let request = review::read_request(&document.value).map_err(|error| at(&error))?;
    let skipped = (!is_evaluated(&request.operation)).then(|| {
        let operation = format!("{:?}", request.operation).to_uppercase();
        format!("{operation} requests create no containers")
    });
    let object = match (&skipped, request.object) {
        (Some(_), _) => None,
        (None, Some(object)) => Some(
            serde_json::to_value(object)
                .map_err(|error| at(&format!("field `request.object`: {error}")))?,
        ),
        (None, None) => {
            return Err(at(
                &"field `request.object`: missing for a CREATE or UPDATE",
            ));
        }
    };
    let old_object = match (&skipped, request.operation, request.old_object) {
        (None, Operation::Update, Some(old)) => Some(
            serde_json::to_value(old)
                .map_err(|error| at(&format!("field `request.oldObject`: {error}")))?,
        ),
        _ => None,
    };
    Ok(Request {
        kind: request.kind.kind,
        name: Some(request.name).filter(|name| !name.is_empty()),
        object,
        old_object,
        namespace: request.namespace.filter(|namespace| !namespace.is_empty()),
        user: Some(request.user_info.username.unwrap_or_default()),
        skipped,
    })
}

fn evaluate_document(
    document: &Document,
    options: &Options,
    extra_labels: &BTreeMap<String, String>,
    owners: &[(Origin, Workload)],
    context: &Context<'_>,
) -> Result<DocumentReport, CliError> {
    let at = |error: &dyn std::fmt::Display| CliError::new(format!("{}: {error}", document.origin));
    let request = read_request(document)?;
    let object_namespace = request
        .object
        .as_ref()
        .and_then(|object| object.pointer("/metadata/namespace"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    let namespace = options
        .namespace
        .clone()
        .or(request.namespace)
        .or(object_namespace)
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
    let name = request
        .object
        .as_ref()
        .and_then(|object| object.pointer("/metadata/name"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .or(request.name);
    let mut report = DocumentReport {
        document: document.origin.index,
        kind: request.kind.clone(),
        name,
        namespace: namespace.clone(),
        allowed: true,
        message: None,
        images: Vec::new(),
        warnings: Vec::new(),
        applicable: Vec::new(),
        skipped: request.skipped,
    };
    let Some(object) = request.object else {
        return Ok(report);
    };
    let api_version = object
        .get("apiVersion")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let Some(kind) = WorkloadKind::from_type(api_version, &request.kind) else {
        report.skipped = Some(format!("{} creates no pods", request.kind));
        return Ok(report);
    };
    let workload = Workload::from_value(kind, &object).map_err(|error| at(&error))?;
    let old = match &request.old_object {
        Some(old) => Some(
            Workload::from_value(kind, old)
                .map_err(|error| at(&format!("field `request.oldObject`: {error}")))?,
        ),
        None => None,
    };
    let namespace_labels = admission::namespace_labels(&namespace, extra_labels.clone());
    let user = options
        .user
        .clone()
        .or(request.user)
        .unwrap_or_else(|| DEFAULT_USER.to_string());
    let owner = find_owner(&workload, &namespace, owners);
    let subject = Subject {
        workload: &workload,
        namespace: &namespace,
        namespace_labels: &namespace_labels,
        user: &user,
        owner,
    };
    let Assessment {
        decision,
        warnings,
        findings,
    } = admission::assess_update(context, &subject, old.as_ref()).map_err(|error| at(&error))?;
    report.applicable = applicable_policies(context.policies, workload.labels(), &namespace_labels)
        .iter()
        .map(|policy| match policy.order {
            Some(order) => format!("{} (order {order})", policy.name),
            None => policy.name.clone(),
        })
        .collect();
    report.allowed = decision.allowed;
    report.message = decision.message;
    report.images = decision
        .images
        .into_iter()
        .map(|image| image_report(context.policies, image, &findings))
        .collect();
    report.warnings = warnings;
    report.warnings.extend(findings.iter().map(finding_text));
    Ok(report)
}

fn read_owners(paths: &[PathBuf]) -> Result<Vec<(Origin, Workload)>, CliError> {
    let mut owners = Vec::new();
    for path in paths {
        for document in
            manifest::read_documents(path).map_err(|error| CliError::new(error.to_string()))?
        {
            let (api_version, kind) = document
                .type_meta()
                .map_err(|error| CliError::new(error.to_string()))?;
            let Some(kind) = WorkloadKind::from_type(api_version, kind) else {
                return Err(CliError::new(format!(
                    "{}: --owner objects must be pod-creating kinds, found {kind} ({api_version})",
                    document.origin
                )));
            };
            let workload = Workload::from_value(kind, &document.value)
                .map_err(|error| CliError::new(format!("{}: {error}", document.origin)))?;
            owners.push((document.origin, workload));
        }
    }
    Ok(owners)
}

/// The owner named by the workload's controller reference, in the workload's namespace (an
/// owner file without a namespace counts as being in it, like `kubectl apply -n`).
fn find_owner<'a>(
    workload: &Workload,
    namespace: &str,
    owners: &'a [(Origin, Workload)],
) -> Option<&'a Workload> {
    let reference = controller_reference(workload.metadata())?;
    owners.iter().map(|(_, owner)| owner).find(|owner| {
        let meta = owner.metadata();
        owner.kind().name() == reference.kind
            && meta.name.as_deref() == Some(reference.name.as_str())
            && meta
                .namespace
                .as_deref()
                .is_none_or(|owner_namespace| owner_namespace == namespace)
    })
}

fn render_text(report: &DocumentReport, explain: bool, now: Timestamp) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let name = report.name.as_deref().unwrap_or("<unnamed>");
    let verdict = if report.allowed {
        "allowed"
    } else {
        "rejected"
    };
    let _ = writeln!(
        out,
        "{}/{name} (namespace {}): {verdict}",
        report.kind, report.namespace
    );
    if let Some(skipped) = &report.skipped {
        let _ = writeln!(out, "  not evaluated: {skipped}");
    }
    if let Some(message) = &report.message {
        for reason in message.split("; ") {
            let _ = writeln!(out, "  {reason}");
        }
    }
    for image in &report.images {
        if image.unchanged {
            let _ = writeln!(
                out,
                "  container {:?} image {:?}: {}, not evaluated",
                image.container, image.image, image.reason
            );
        }
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "  warning: {warning}");
    }
    if explain && report.skipped.is_none() {
        let applicable = if report.applicable.is_empty() {
            "none".to_string()
        } else {
            report.applicable.join(", ")
        };
        let _ = writeln!(
            out,
            "  evaluated at {}; applicable policies in order: {applicable}",
            format_rfc3339(now)
        );
        for image in &report.images {
            let scanned = image.last_scan.map_or("never".to_string(), format_rfc3339);
            let decided_by = match (&image.policy, image.rule_index) {
                (Some(policy), Some(index)) => {
                    format!("ContainerPolicy {policy} rule index {index}")
                }
                (Some(policy), None) => format!("ContainerPolicy {policy}"),
                _ => "no rule".to_string(),
            };
            let verdict = match image.decision {
                Verdict::Allowed => "allowed",
                Verdict::Rejected => "rejected",
            };
            let _ = writeln!(
                out,
                "  container {:?} image {:?}",
                image.container, image.image
            );
            let _ = writeln!(out, "    subject:  {}", image.subject);
            let _ = writeln!(
                out,
                "    scan:     {} (last scanned {scanned})",
                image.status
            );
            let _ = writeln!(out, "    decision: {verdict} by {decided_by}");
            let _ = writeln!(out, "    reason:   {}", image.reason);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image_assurance::policy::PolicySet;

    #[test]
    fn the_default_user_is_not_a_controller() {
        assert!(!ControllerIdentities::default().contains(DEFAULT_USER));
    }

    #[test]
    fn an_empty_policy_set_reports_no_applicable_policies() {
        let policies = PolicySet::default();
        let labels: BTreeMap<String, String> = BTreeMap::new();
        assert!(applicable_policies(&policies, &labels, &labels).is_empty());
    }
}
