//! The webhook's periodic audit (`serve --audit-interval`): every interval, and a few seconds
//! after the policies or the scan data change, the replica holding the audit Lease decides
//! every running pod-creating object in the covered namespaces as if it were created now and
//! publishes what it found: PolicyReports, each policy's status, and the
//! `image_assurance_audit_violations` gauge. Other replicas only keep trying for the lease.
//!
//! The lease is renewed by a task of its own, so a long audit never lets it lapse; an audit
//! that is running when the lease is lost still finishes, and the next holder's first audit
//! overwrites whatever it wrote.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::Api;
use tokio::sync::watch;
use tokio::time::Instant;

use super::caches::ClusterCaches;
use super::metrics::{AuditLabels, Metrics};
use crate::admission::Context;
use crate::admission::handler::ClusterView;
use crate::audit::cluster::{NamespaceSelection, covered_namespaces, list_objects, read_policies};
use crate::audit::lease::{Elector, RETRY_PERIOD, try_acquire_or_renew};
use crate::audit::publish::{PublishError, publish_reports, publish_statuses};
use crate::audit::report::results_by_namespace;
use crate::audit::{AuditOutcome, audit, objects_per_namespace_and_policy, objects_per_policy};
use crate::install::{DEFAULT_NAMESPACE, WEBHOOK_CONFIGURATION_NAME};
use crate::policy::PolicySet;
use crate::workload::ControllerIdentities;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
pub const LEASE_NAME: &str = "image-assurance-audit";
/// How long after a policy or scan-data change the audit runs: changes come in bursts (a
/// `kubectl apply` of several policies, a scanner's sweep), and one audit should see them all.
pub const DEBOUNCE: Duration = Duration::from_secs(3);
/// Audits triggered by changes are at least this far apart, so that a scanner that updates
/// reports continuously does not keep the leader auditing.
const MIN_GAP: Duration = Duration::from_secs(10);

/// How the audit runs (part of `ServeOptions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditSettings {
    /// Between periodic audits; zero disables the audit altogether.
    pub interval: Duration,
    /// Where the Lease lives: the webhook's own namespace.
    pub namespace: String,
    /// Our `holderIdentity`: the pod's name.
    pub identity: String,
    pub lease_name: String,
    /// The ValidatingWebhookConfiguration whose namespaceSelector says what is covered.
    pub webhook_configuration: String,
    pub debounce: Duration,
}

impl AuditSettings {
    pub fn new(interval: Duration, namespace: String, identity: String) -> Self {
        AuditSettings {
            interval,
            namespace,
            identity,
            lease_name: LEASE_NAME.to_string(),
            webhook_configuration: WEBHOOK_CONFIGURATION_NAME.to_string(),
            debounce: DEBOUNCE,
        }
    }

    /// No audit (tests of other parts of the server, `--audit-interval 0`).
    pub fn disabled() -> Self {
        AuditSettings::new(Duration::ZERO, DEFAULT_NAMESPACE.to_string(), String::new())
    }

    pub fn enabled(&self) -> bool {
        !self.interval.is_zero()
    }
}

/// Parses an interval as `--audit-interval` takes it: a whole number with a unit, `s`, `m` or
/// `h` (`90s`, `5m`, `1h`), or `0` (disabled). The message names the value and the syntax.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = || {
        format!(
            "{text:?}: expected a whole number with a unit s, m or h (90s, 5m, 1h), or 0 to disable"
        )
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "s" => Some(number),
        "m" => number.checked_mul(60),
        "h" => number.checked_mul(3600),
        _ => None,
    }
    .ok_or_else(invalid)?;
    Ok(Duration::from_secs(seconds))
}

/// The interval as `--audit-interval` writes it (the largest unit that divides it).
pub fn format_interval(interval: Duration) -> String {
    let seconds = interval.as_secs();
    if seconds == 0 {
        "0".to_string()
    } else if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// Starts the lease and audit tasks (none when disabled); they run until aborted.
pub fn spawn(
    settings: AuditSettings,
    client: Client,
    caches: Arc<ClusterCaches>,
    metrics: Arc<Metrics>,
    identities: ControllerIdentities,
) -> Vec<tokio::task::JoinHandle<()>> {
    if !settings.enabled() {
        return Vec::new();
    }
    let (leader_tx, leader_rx) = watch::channel(false);
    let lease = tokio::spawn(hold_lease(
        settings.clone(),
        client.clone(),
        metrics.clone(),
        leader_tx,
    ));
    let audits = tokio::spawn(audit_loop(
        settings, client, caches, metrics, identities, leader_rx,
    ));
    vec![lease, audits]
}

async fn hold_lease(
    settings: AuditSettings,
    client: Client,
    metrics: Arc<Metrics>,
    leader: watch::Sender<bool>,
) {
    let api: Api<Lease> = Api::namespaced(client, &settings.namespace);
    let mut elector = Elector::new(settings.identity.clone());
    let mut failing = false;
    let mut tick = tokio::time::interval(RETRY_PERIOD);
    loop {
        tick.tick().await;
        let held = match try_acquire_or_renew(&api, &settings.lease_name, &mut elector).await {
            Ok(held) => {
                failing = false;
                held
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(lease = %settings.lease_name, namespace = %settings.namespace, %error, "cannot read or write the audit lease; retrying");
                }
                failing = true;
                false
            }
        };
        let leading = held && elector.is_leader(jiff::Timestamp::now());
        if *leader.borrow() != leading {
            tracing::info!(identity = %settings.identity, leading, "audit lease");
            metrics.audit_leader.set(i64::from(leading));
        }
        leader.send_replace(leading);
    }
}

/// What the last audit saw: the policy set (compared by identity: the caches build a new one
/// on every change) and the scan-data generation.
struct Seen {
    policies: Arc<PolicySet>,
    scans: u64,
}

async fn audit_loop(
    settings: AuditSettings,
    client: Client,
    caches: Arc<ClusterCaches>,
    metrics: Arc<Metrics>,
    identities: ControllerIdentities,
    leader: watch::Receiver<bool>,
) {
    let mut last_audit: Option<Instant> = None;
    let mut seen: Option<Seen> = None;
    let mut changed_at: Option<Instant> = None;
    let mut reports_missing_logged = false;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        if !*leader.borrow() {
            // A new leader audits at once.
            last_audit = None;
            continue;
        }
        if caches.ready().is_err() {
            continue;
        }
        let policies = caches.policies();
        let scans = caches.scan_generation();
        let changed = seen
            .as_ref()
            .is_some_and(|seen| !Arc::ptr_eq(&seen.policies, &policies) || seen.scans != scans);
        if changed && changed_at.is_none() {
            changed_at = Some(Instant::now());
        }
        let periodic = last_audit.is_none_or(|last| last.elapsed() >= settings.interval);
        let after_change = changed_at.is_some_and(|at| at.elapsed() >= settings.debounce)
            && last_audit.is_none_or(|last| last.elapsed() >= MIN_GAP.min(settings.interval));
        if !periodic && !after_change {
            continue;
        }
        seen = Some(Seen {
            policies: policies.clone(),
            scans,
        });
        changed_at = None;
        last_audit = Some(Instant::now());
        let started = Instant::now();
        match run_once(&settings, &client, &caches, policies, &identities).await {
            Ok((outcome, counts)) => {
                metrics.set_audit_violations(counts);
                metrics
                    .audit_last_run
                    .set(jiff::Timestamp::now().as_second());
                let results = results_by_namespace(
                    &outcome.violations,
                    &outcome.errors,
                    jiff::Timestamp::now(),
                );
                match publish_reports(&client, results).await {
                    Ok(published) => tracing::info!(
                        evaluated = outcome.evaluated,
                        violations = outcome.violations.len(),
                        errors = outcome.errors.len(),
                        reports_written = published.written,
                        reports_deleted = published.deleted,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "audit done"
                    ),
                    Err(PublishError::NotInstalled) => {
                        if !reports_missing_logged {
                            tracing::info!(
                                "no PolicyReport CRD (policyreports.wgpolicyk8s.io): audit results are not published as reports"
                            );
                            reports_missing_logged = true;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot publish the audit's PolicyReports")
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "audit failed; retrying at the next interval"),
        }
    }
}

/// One audit: reads the cluster, decides, writes the policies' statuses. Returns what it
/// found and the gauge's counts (objects per namespace and policy).
async fn run_once(
    settings: &AuditSettings,
    client: &Client,
    caches: &Arc<ClusterCaches>,
    policies: Arc<PolicySet>,
    identities: &ControllerIdentities,
) -> Result<(AuditOutcome, BTreeMap<AuditLabels, i64>), String> {
    let selection = NamespaceSelection::Webhook {
        configuration: settings.webhook_configuration.clone(),
    };
    let namespaces = covered_namespaces(client, &selection)
        .await
        .map_err(|error| error.to_string())?;
    let objects = list_objects(
        client,
        &|namespace| namespaces.contains_key(namespace),
        &mut |_| {},
    )
    .await
    .map_err(|error| error.to_string())?;
    let (policy_objects, _) = read_policies(client, None)
        .await
        .map_err(|error| error.to_string())?;
    let now = jiff::Timestamp::now();
    // Deciding is CPU work, as long as the cluster is large: off the runtime's workers.
    let caches = caches.clone();
    let identities = identities.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let context = Context {
            policies: &policies,
            scans: caches.scans(),
            now,
            identities: &identities,
        };
        audit(&context, &namespaces, &objects, &mut |_| {})
    })
    .await
    .map_err(|error| format!("the audit stopped: {error}"))?;
    let per_policy = objects_per_policy(&outcome.violations);
    publish_statuses(client, &policy_objects, &per_policy, now)
        .await
        .map_err(|error| error.to_string())?;
    let counts = objects_per_namespace_and_policy(&outcome.violations)
        .into_iter()
        .map(|((namespace, policy), count)| (AuditLabels { namespace, policy }, count))
        .collect();
    Ok((outcome, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_take_a_unit_or_zero() {
        assert_eq!(parse_interval("0"), Ok(Duration::ZERO));
        assert_eq!(parse_interval("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval("5m"), Ok(DEFAULT_INTERVAL));
        assert_eq!(parse_interval("2h"), Ok(Duration::from_secs(7200)));
        for bad in ["", "5", "m", "5x", "-1m", "1.5m", "99999999999999999999h"] {
            let error = parse_interval(bad).unwrap_err();
            assert!(error.contains("expected a whole number"), "{bad}: {error}");
        }
    }

    #[test]
    fn intervals_print_as_they_parse() {
        for text in ["0", "90s", "5m", "2h"] {
            assert_eq!(format_interval(parse_interval(text).unwrap()), text);
        }
    }

    #[test]
    fn a_zero_interval_disables_the_audit() {
        assert!(!AuditSettings::disabled().enabled());
        let settings = AuditSettings::new(DEFAULT_INTERVAL, "ns".into(), "pod".into());
        assert!(settings.enabled());
        assert_eq!(settings.lease_name, "image-assurance-audit");
        assert_eq!(settings.webhook_configuration, "image-assurance.tigera.io");
    }
}
