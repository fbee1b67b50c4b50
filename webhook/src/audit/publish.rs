//! Writing an audit's results to the cluster: one PolicyReport per namespace with violations
//! (server-side apply, only when its content changed; deleted once the namespace has none),
//! and each policy's status (a status patch, only when it changed).

use std::collections::{BTreeMap, BTreeSet};

use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};

use super::cluster::{PolicyObject, ReadError};
use super::policy_report::{PolicyReport, PolicyReportResult};
use super::report::{
    MANAGED_BY, MANAGED_BY_LABEL, REPORT_NAME, keep_first_seen, policy_report, unchanged,
};
use super::status::{desired_status, needs_write};
use crate::policy::ContainerAdmissionPolicy;

/// The field manager of everything the audit writes.
pub const FIELD_MANAGER: &str = "image-assurance-audit";

/// What a publication changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    pub written: usize,
    pub deleted: usize,
    pub unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the PolicyReport CRD (policyreports.wgpolicyk8s.io) is not installed")]
    NotInstalled,
    #[error(transparent)]
    Kube(#[from] ReadError),
}

fn kube_error(what: String) -> impl FnOnce(kube::Error) -> PublishError {
    move |source| PublishError::Kube(ReadError::Kube { what, source })
}

/// Makes the cluster's reports say `results` (namespace → results, every namespace with
/// any). Our reports in other namespaces are deleted.
pub async fn publish_reports(
    client: &Client,
    results: BTreeMap<String, Vec<PolicyReportResult>>,
) -> Result<Published, PublishError> {
    let all: Api<PolicyReport> = Api::all(client.clone());
    let listed = all
        .list(&ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}")))
        .await;
    let listed = match listed {
        Ok(listed) => listed,
        Err(kube::Error::Api(status)) if status.code == 404 => {
            return Err(PublishError::NotInstalled);
        }
        Err(source) => return Err(kube_error("list policyreports".into())(source)),
    };
    let mut stored: BTreeMap<String, PolicyReport> = listed
        .items
        .into_iter()
        .filter(|report| report.name_any() == REPORT_NAME)
        .filter_map(|report| Some((report.namespace()?, report)))
        .collect();
    let mut published = Published::default();
    let namespaces: BTreeSet<String> = results.keys().cloned().collect();
    for (namespace, mut results) in results {
        let previous = stored.remove(&namespace);
        if let Some(previous) = &previous {
            keep_first_seen(&mut results, &previous.spec.results);
        }
        let wanted = policy_report(&namespace, results);
        if previous.is_some_and(|previous| unchanged(&previous, &wanted)) {
            published.unchanged += 1;
            continue;
        }
        let api: Api<PolicyReport> = Api::namespaced(client.clone(), &namespace);
        api.patch(
            REPORT_NAME,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&wanted),
        )
        .await
        .map_err(kube_error(format!(
            "write PolicyReport {namespace}/{REPORT_NAME}"
        )))?;
        published.written += 1;
    }
    // Namespaces whose violations are all gone (or that are no longer covered).
    for namespace in stored.into_keys() {
        if namespaces.contains(&namespace) {
            continue;
        }
        let api: Api<PolicyReport> = Api::namespaced(client.clone(), &namespace);
        match api.delete(REPORT_NAME, &DeleteParams::default()).await {
            Ok(_) => published.deleted += 1,
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => {
                return Err(kube_error(format!(
                    "delete PolicyReport {namespace}/{REPORT_NAME}"
                ))(source));
            }
        }
    }
    Ok(published)
}

/// Writes each policy's status where it changed: Ready from `error`, `violations` from
/// `counts` (policy → objects it would reject; absent: 0). Returns how many were written.
pub async fn publish_statuses(
    client: &Client,
    policies: &[PolicyObject],
    counts: &BTreeMap<String, i64>,
    now: jiff::Timestamp,
) -> Result<usize, ReadError> {
    let api: Api<ContainerAdmissionPolicy> = Api::all(client.clone());
    let mut written = 0;
    for policy in policies {
        let violations = counts.get(&policy.name).copied().unwrap_or(0);
        let desired = desired_status(
            policy.generation,
            policy.error.as_deref(),
            violations,
            now,
            policy.status.as_ref(),
        );
        if !needs_write(policy.status.as_ref(), &desired) {
            continue;
        }
        let patch = serde_json::json!({
            "apiVersion": format!("{}/v1beta1", crate::policy::API_GROUP),
            "kind": crate::policy::KIND,
            "status": desired,
        });
        match api
            .patch_status(
                &policy.name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
        {
            Ok(_) => written += 1,
            // Deleted since it was listed: nothing to report on.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => {
                return Err(ReadError::Kube {
                    what: format!(
                        "write the status of ContainerAdmissionPolicy {}",
                        policy.name
                    ),
                    source,
                });
            }
        }
    }
    Ok(written)
}
