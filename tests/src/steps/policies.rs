//! ContainerAdmissionPolicies. Policies are cluster-scoped and scenarios run concurrently, so
//! each policy is created under `<name>-<token>` with its namespaceSelector narrowed to the
//! scenario's namespace; denial messages are compared with the names mapped back.

use cucumber::step::Context;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::Value;

use super::{Keyword, Registration, arg, docstring, step};
use crate::world::{Attempt, Outcome, World};

pub fn steps() -> Vec<Registration> {
    vec![
        (
            Keyword::Given,
            r#"the policy "([^"]+)" from the fixtures"#,
            step!(fixture_policy),
        ),
        (
            Keyword::Given,
            r#"the policy "([^"]+)" from the fixtures with enforcement (Enforce|Warn|Audit)"#,
            step!(fixture_policy_enforced),
        ),
        (Keyword::Given, r"the policy:", step!(given_policies)),
        (
            Keyword::Given,
            r#"the policy for the "([^"]+)" namespace:"#,
            step!(given_policy_elsewhere),
        ),
        (Keyword::Given, r"these policies:", step!(given_policies)),
        (Keyword::When, r"I apply the policy:", step!(apply_policy)),
    ]
}

pub fn policy_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(
            "containersecurity.tigera.io",
            "v1beta1",
            "ContainerAdmissionPolicy",
        ),
        "containeradmissionpolicies",
    )
}

/// Every document of a YAML text.
pub fn documents(text: &str, source: &str) -> Result<Vec<Value>, String> {
    let documents: Vec<Value> =
        serde_saphyr::from_str_multiple(text).map_err(|error| format!("{source}: {error}"))?;
    Ok(documents
        .into_iter()
        .filter(|document| !document.is_null())
        .collect())
}

/// The policy as this scenario creates it: its own name, only its own namespace.
pub fn scoped(world: &mut World, policy: Value) -> Result<(String, Value), String> {
    let namespace = world.namespace()?.to_string();
    scoped_to(world, policy, &namespace)
}

/// The policy under this scenario's name for it, applying only in `namespace`.
fn scoped_to(
    world: &mut World,
    mut policy: Value,
    namespace: &str,
) -> Result<(String, Value), String> {
    let written = policy
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .ok_or("a policy without metadata.name")?
        .to_string();
    let actual = world.policy_name(&written);
    policy["metadata"]["name"] = Value::String(actual.clone());
    let only_here = format!("kubernetes.io/metadata.name == '{namespace}'");
    let selector = match policy
        .pointer("/spec/namespaceSelector")
        .and_then(Value::as_str)
    {
        Some(given) if !given.trim().is_empty() => format!("({given}) && {only_here}"),
        _ => only_here,
    };
    if let Some(spec) = policy.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("namespaceSelector".to_string(), Value::String(selector));
    }
    Ok((actual, policy))
}

/// Creates a policy for the scenario's namespace (or `elsewhere`); the API server's answer
/// (the policy webhook may refuse it) is returned.
async fn create_in(
    world: &mut World,
    policy: Value,
    elsewhere: Option<&str>,
) -> Result<(String, Outcome), String> {
    let (actual, policy) = match elsewhere {
        Some(namespace) => scoped_to(world, policy, namespace)?,
        None => scoped(world, policy)?,
    };
    let object: DynamicObject =
        serde_json::from_value(policy).map_err(|error| format!("policy {actual}: {error}"))?;
    let api: Api<DynamicObject> = Api::all_with(world.client(), &policy_resource());
    let outcome = match api.create(&PostParams::default(), &object).await {
        Ok(_) => {
            world.policies.push(actual.clone());
            world.dirty = true;
            Outcome::Admitted
        }
        Err(kube::Error::Api(status)) => Outcome::Rejected {
            code: status.code,
            message: status.message,
        },
        Err(error) => return Err(format!("create ContainerAdmissionPolicy {actual}: {error}")),
    };
    Ok((actual, outcome))
}

async fn create(world: &mut World, policy: Value) -> Result<(String, Outcome), String> {
    create_in(world, policy, None).await
}

async fn create_all(world: &mut World, text: &str, source: &str) -> Result<(), String> {
    create_all_in(world, text, source, None).await
}

async fn create_all_in(
    world: &mut World,
    text: &str,
    source: &str,
    elsewhere: Option<&str>,
) -> Result<(), String> {
    for policy in documents(text, source)? {
        let (actual, outcome) = create_in(world, policy, elsewhere).await?;
        match outcome {
            Outcome::Admitted => world.log(format!("created ContainerAdmissionPolicy {actual}")),
            Outcome::Rejected { message, .. } => {
                return Err(format!(
                    "ContainerAdmissionPolicy {actual} was refused: {message}"
                ));
            }
        }
    }
    Ok(())
}

fn fixture_text(world: &World, name: &str) -> Result<(String, String), String> {
    let path = world
        .ctx
        .root
        .join("fixtures/policies")
        .join(format!("{name}.yaml"));
    let text =
        std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
    Ok((text, path.display().to_string()))
}

async fn fixture_policy(world: &mut World, ctx: Context) -> Result<(), String> {
    let (text, source) = fixture_text(world, &arg(&ctx, 0)?)?;
    create_all(world, &text, &source).await
}

/// A fixture policy with `spec.enforcement` set.
async fn fixture_policy_enforced(world: &mut World, ctx: Context) -> Result<(), String> {
    let (name, enforcement) = (arg(&ctx, 0)?, arg(&ctx, 1)?);
    let (text, source) = fixture_text(world, &name)?;
    for mut policy in documents(&text, &source)? {
        if let Some(spec) = policy.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert(
                "enforcement".to_string(),
                Value::String(enforcement.clone()),
            );
        }
        let (actual, outcome) = create(world, policy).await?;
        if let Outcome::Rejected { message, .. } = outcome {
            return Err(format!(
                "ContainerAdmissionPolicy {actual} was refused: {message}"
            ));
        }
        world.log(format!(
            "created ContainerAdmissionPolicy {actual} ({enforcement})"
        ));
    }
    Ok(())
}

async fn given_policies(world: &mut World, ctx: Context) -> Result<(), String> {
    let text = docstring(&ctx)?;
    create_all(world, &text, "the policy in the feature").await
}

/// A policy for a namespace that is not the scenario's (kube-system): still under the
/// scenario's name, and narrowed to that one namespace, so it decides nothing elsewhere.
async fn given_policy_elsewhere(world: &mut World, ctx: Context) -> Result<(), String> {
    let namespace = arg(&ctx, 0)?;
    let text = docstring(&ctx)?;
    create_all_in(world, &text, "the policy in the feature", Some(&namespace)).await
}

async fn apply_policy(world: &mut World, ctx: Context) -> Result<(), String> {
    let text = docstring(&ctx)?;
    let mut documents = documents(&text, "the policy in the feature")?;
    if documents.len() != 1 {
        return Err(format!("expected one policy, got {}", documents.len()));
    }
    let policy = documents.remove(0);
    let written = policy
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (_, outcome) = create(world, policy).await?;
    world.record(Attempt {
        what: format!("create ContainerAdmissionPolicy {written}"),
        containers: Vec::new(),
        outcome,
        warnings: Vec::new(),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_policies_parse() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for name in ["reject-failed-and-non-gcr", "reject-outdated-scans"] {
            let path = root.join("fixtures/policies").join(format!("{name}.yaml"));
            let text = std::fs::read_to_string(&path).unwrap();
            let documents = documents(&text, "fixture").unwrap();
            assert_eq!(documents.len(), 1);
            assert_eq!(documents[0]["metadata"]["name"], name);
        }
    }
}
