//! What the webhook's periodic audit publishes: each namespace's PolicyReport and each
//! policy's status. The harness installs the webhook with a short `--audit-interval`, and an
//! audit also runs a few seconds after any policy or scan-data change, so these steps poll.

use std::time::Duration;

use cucumber::step::Context;
use image_assurance::audit::policy_report::PolicyReport;
use image_assurance::audit::report::REPORT_NAME;
use image_assurance::policy::ContainerAdmissionPolicy;
use kube::api::{Api, PostParams};
use serde_json::Value;

use super::{Keyword, Registration, arg, docstring, step, table_rows};
use crate::install;
use crate::wait::poll;
use crate::world::World;

/// An audit runs at most every 10 s after a change, and every `--audit-interval` (15 s here).
const AUDITED: Duration = Duration::from_secs(90);

pub fn steps() -> Vec<Registration> {
    vec![
        (
            Keyword::Then,
            r"soon the namespace's PolicyReport lists:",
            step!(report_lists),
        ),
        (
            Keyword::Then,
            r#"soon the policy "([^"]+)" is Ready and counts (\d+) violations?"#,
            step!(policy_ready),
        ),
        (
            Keyword::Then,
            r#"soon the policy "([^"]+)" is not Ready, saying:"#,
            step!(policy_not_ready),
        ),
        (
            Keyword::Given,
            r"the policy, stored while the webhook does not check policies:",
            step!(store_unchecked),
        ),
    ]
}

/// Each row (policy, rule, result, kind, name) is a result of the scenario's report.
async fn report_lists(world: &mut World, ctx: Context) -> Result<(), String> {
    let mut expected = Vec::new();
    for row in table_rows(&ctx)? {
        let field = |key: &str| {
            row.get(key)
                .cloned()
                .ok_or_else(|| format!("the table has no {key} column"))
        };
        expected.push([
            field("policy")?,
            field("rule")?,
            field("result")?,
            field("kind")?,
            field("name")?,
        ]);
    }
    let namespace = world.namespace()?.to_string();
    let reports: Api<PolicyReport> = Api::namespaced(world.client(), &namespace);
    let world = &*world;
    let found = poll(AUDITED, "the audit's PolicyReport", || async {
        let report = match reports.get_opt(REPORT_NAME).await {
            Ok(Some(report)) => report,
            Ok(None) => return Ok(Err("no PolicyReport yet".to_string())),
            Err(error) => return Ok(Err(format!("PolicyReport: {error}"))),
        };
        let seen: Vec<[String; 5]> = report
            .spec
            .results
            .iter()
            .map(|result| {
                let resource = result.resources.first();
                [
                    world.as_written(&result.policy),
                    result.rule.clone().unwrap_or_default(),
                    result
                        .result
                        .as_ref()
                        .and_then(|kind| serde_json::to_value(kind).ok())
                        .and_then(|value| value.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    resource.and_then(|r| r.kind.clone()).unwrap_or_default(),
                    resource.and_then(|r| r.name.clone()).unwrap_or_default(),
                ]
            })
            .collect();
        Ok(if expected.iter().all(|row| seen.contains(row)) {
            Ok(seen)
        } else {
            Err(format!("the report lists {seen:?}"))
        })
    })
    .await?;
    world.log(format!("PolicyReport results: {found:?}"));
    Ok(())
}

/// The policy's `Ready` condition, once the audit has written one.
async fn ready_condition(
    world: &mut World,
    written: &str,
    want_ready: bool,
) -> Result<(String, Option<i64>), String> {
    let actual = world.policy_name(written);
    let policies: Api<ContainerAdmissionPolicy> = Api::all(world.client());
    poll(
        AUDITED,
        &format!("the status of policy {written}"),
        || async {
            let policy = policies
                .get(&actual)
                .await
                .map_err(|error| format!("policy {actual}: {error}"))?;
            let status = policy.status.unwrap_or_default();
            let ready = status
                .conditions
                .iter()
                .find(|condition| condition.type_ == "Ready");
            Ok(match ready {
                Some(condition) if (condition.status == "True") == want_ready => {
                    Ok((condition.message.clone(), status.violations))
                }
                Some(condition) => Err(format!(
                    "Ready is {} ({})",
                    condition.status, condition.message
                )),
                None => Err("no Ready condition yet".to_string()),
            })
        },
    )
    .await
}

async fn policy_ready(world: &mut World, ctx: Context) -> Result<(), String> {
    let (written, count) = (arg(&ctx, 0)?, arg(&ctx, 1)?);
    let count: i64 = count
        .parse()
        .map_err(|error| format!("violations: {error}"))?;
    let actual = world.policy_name(&written);
    let policies: Api<ContainerAdmissionPolicy> = Api::all(world.client());
    ready_condition(world, &written, true).await?;
    // The count follows the audit that finds the violations, which may come after the one
    // that first wrote the condition.
    poll(
        AUDITED,
        &format!("policy {written} to count {count}"),
        || async {
            let policy = policies
                .get(&actual)
                .await
                .map_err(|error| format!("policy {actual}: {error}"))?;
            let violations = policy.status.and_then(|status| status.violations);
            Ok(if violations.unwrap_or(0) == count {
                Ok(())
            } else {
                Err(format!("it counts {violations:?}"))
            })
        },
    )
    .await
}

async fn policy_not_ready(world: &mut World, ctx: Context) -> Result<(), String> {
    let written = arg(&ctx, 0)?;
    let expected = docstring(&ctx)?.trim().to_string();
    let (message, _) = ready_condition(world, &written, false).await?;
    let seen = world.as_written(&message);
    if seen.contains(&expected) {
        Ok(())
    } else {
        Err(format!(
            "the Ready condition says:\n  {seen}\nexpected it to contain:\n  {expected}"
        ))
    }
}

/// A policy the webhook would refuse gets stored only while the webhook configuration does not
/// send it policies (as when it was created before the webhook was installed); the standard
/// configuration is put back at once.
async fn store_unchecked(world: &mut World, ctx: Context) -> Result<(), String> {
    let text = docstring(&ctx)?;
    let documents = super::policies::documents(&text, "the policy in the feature")?;
    let [policy] = documents.as_slice() else {
        return Err(format!("expected one policy, got {}", documents.len()));
    };
    let (actual, policy) = super::policies::scoped(world, policy.clone())?;
    let mut configuration = world
        .ctx
        .base
        .manifests(&world.ctx.standard)?
        .webhook_configuration;
    let standard = configuration.clone();
    world.install_changed = true;
    if let Some(webhooks) = configuration.webhooks.as_mut() {
        webhooks.retain(|webhook| {
            !webhook
                .rules
                .iter()
                .flatten()
                .flat_map(|rule| rule.resources.iter().flatten())
                .any(|resource| resource == "containeradmissionpolicies")
        });
    }
    let configurations = Api::all(world.client());
    install::put(&configurations, &configuration).await?;
    let object: ContainerAdmissionPolicy = serde_json::from_value::<Value>(policy)
        .and_then(serde_json::from_value)
        .map_err(|error| format!("policy {actual}: {error}"))?;
    let policies: Api<ContainerAdmissionPolicy> = Api::all(world.client());
    // The API server may take a moment to stop calling the policy webhook.
    let created = poll(
        Duration::from_secs(20),
        "the policy to be stored",
        || async {
            Ok(
                match policies.create(&PostParams::default(), &object).await {
                    Ok(_) => Ok(()),
                    Err(error) => Err(error.to_string()),
                },
            )
        },
    )
    .await;
    install::put(&configurations, &standard).await?;
    created?;
    world.policies.push(actual.clone());
    world.dirty = true;
    world.log(format!(
        "stored ContainerAdmissionPolicy {actual} unchecked"
    ));
    Ok(())
}
