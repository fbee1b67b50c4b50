//! What kube-apiserver does to a Validating- or MutatingWebhookConfiguration on its way into
//! storage (its registry strategy; k8s.io/kubernetes `pkg/apis/admissionregistration/
//! validation`, v1.32): the body is decoded (a mistyped field is a 400, `config_decode`),
//! defaulted (`config_defaults`), and validated; what is wrong is a 422 `Invalid` listing each
//! field as kube-apiserver does, in its order. An update is validated the same way, except for
//! what the stored object already breaks (kube's ratcheting), and bumps `generation` when the
//! webhooks change.
//!
//! One refusal is the simulator's own: `matchConditions` are CEL expressions, which it does not
//! evaluate; storing them would make matching silently wrong, so they are `Forbidden`.

use serde_json::{Value, json};

use super::client_config::{validate_service, validate_url};
use super::{config_decode, config_defaults};
use crate::catalogue::ResourceInfo;
use crate::selectors::validation::{self as selector_validation, validate_label_selector};
use crate::status::{ApiError, FieldCause};
use crate::validation::field::{self, child, index, quote, string_slice};
use crate::validation::names::{dns1035_label_errors, fully_qualified_name_errors};

const GROUP: &str = "admissionregistration.k8s.io";

/// `Some(mutating)` for the two webhook configuration resources.
fn configuration_kind(info: &ResourceInfo) -> Option<bool> {
    match (info.group.as_str(), info.resource.as_str()) {
        (GROUP, "validatingwebhookconfigurations") => Some(false),
        (GROUP, "mutatingwebhookconfigurations") => Some(true),
        _ => None,
    }
}

/// On create: decodes, defaults and validates `object` in place. Other kinds pass untouched.
pub fn prepare_create(info: &ResourceInfo, name: &str, object: &mut Value) -> Result<(), ApiError> {
    let Some(mutating) = configuration_kind(info) else {
        return Ok(());
    };
    decode_and_default(info, object, mutating)?;
    let options = Options {
        require_no_side_effects: true,
        require_recognized_versions: true,
        require_unique_names: true,
        allow_invalid_label_value: false,
    };
    refuse(info, name, validate(object, mutating, options))
}

/// On update from the stored `old`: as on create, with the ratcheting options kube derives
/// from `old`, and `metadata.generation` bumped when `webhooks` changed.
pub fn prepare_update(
    info: &ResourceInfo,
    name: &str,
    old: &Value,
    new: &mut Value,
) -> Result<(), ApiError> {
    let Some(mutating) = configuration_kind(info) else {
        return Ok(());
    };
    decode_and_default(info, new, mutating)?;
    if old.get("webhooks") != new.get("webhooks")
        && let Some(metadata) = new.get_mut("metadata").and_then(Value::as_object_mut)
    {
        let generation = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        metadata.insert("generation".into(), json!(generation + 1));
    }
    refuse(info, name, validate(new, mutating, Options::ratcheted(old)))
}

fn decode_and_default(
    info: &ResourceInfo,
    object: &mut Value,
    mutating: bool,
) -> Result<(), ApiError> {
    config_decode::check(object, mutating).map_err(|error| {
        ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {error}",
            kind = info.kind,
            version = info.version
        ))
    })?;
    config_defaults::default_configuration(object, mutating);
    Ok(())
}

fn refuse(info: &ResourceInfo, name: &str, causes: Vec<FieldCause>) -> Result<(), ApiError> {
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(info, name, &causes))
    }
}

/// kube's `validationOptions` (the CEL ones aside).
#[derive(Clone, Copy, Debug)]
struct Options {
    require_no_side_effects: bool,
    require_recognized_versions: bool,
    require_unique_names: bool,
    allow_invalid_label_value: bool,
}

impl Options {
    /// What an update must still meet: whatever the stored object already meets.
    fn ratcheted(old: &Value) -> Options {
        let hooks = webhooks(old);
        let mut names = Vec::new();
        let unique = hooks.iter().all(|hook| {
            let name = text(hook, "name");
            let new = !names.contains(&name);
            names.push(name);
            new
        });
        Options {
            require_no_side_effects: hooks
                .iter()
                .all(|hook| NO_SIDE_EFFECTS.contains(&text(hook, "sideEffects"))),
            require_recognized_versions: hooks.iter().all(|hook| {
                let versions = strings(hook.get("admissionReviewVersions"));
                versions.is_empty()
                    || versions
                        .iter()
                        .any(|v| REVIEW_VERSIONS.contains(&v.as_str()))
            }),
            require_unique_names: unique,
            allow_invalid_label_value: hooks.iter().any(|hook| {
                ["namespaceSelector", "objectSelector"].iter().any(|field| {
                    let selector = hook.get(*field).unwrap_or(&Value::Null);
                    !validate_label_selector(selector, "", Default::default()).is_empty()
                })
            }),
        }
    }
}

const FAILURE_POLICIES: [&str; 2] = ["Fail", "Ignore"];
const MATCH_POLICIES: [&str; 2] = ["Equivalent", "Exact"];
const SIDE_EFFECTS: [&str; 4] = ["None", "NoneOnDryRun", "Some", "Unknown"];
const NO_SIDE_EFFECTS: [&str; 2] = ["None", "NoneOnDryRun"];
const REINVOCATION_POLICIES: [&str; 2] = ["IfNeeded", "Never"];
const OPERATIONS: [&str; 5] = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"];
const SCOPES: [&str; 3] = ["*", "Cluster", "Namespaced"];
/// The AdmissionReview versions kube-apiserver speaks (`AcceptedAdmissionReviewVersions`).
const REVIEW_VERSIONS: [&str; 2] = ["v1", "v1beta1"];

fn webhooks(configuration: &Value) -> &[Value] {
    configuration
        .get("webhooks")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A string field; absent and null read as "" (Go's zero value).
fn text<'a>(object: &'a Value, name: &str) -> &'a str {
    object.get(name).and_then(Value::as_str).unwrap_or("")
}

/// A string list; null items read as "".
fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|item| item.as_str().unwrap_or("").to_string())
        .collect()
}

/// An optional enum field checked against its allowed values.
fn enumeration(hook: &Value, name: &str, path: &str, allowed: &[&str]) -> Option<FieldCause> {
    let value = hook.get(name).and_then(Value::as_str)?;
    (!allowed.contains(&value)).then(|| field::not_supported(&child(path, name), value, allowed))
}

/// `validateValidatingWebhookConfiguration` / `validateMutatingWebhookConfiguration`.
fn validate(configuration: &Value, mutating: bool, options: Options) -> Vec<FieldCause> {
    let mut errors = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (position, hook) in webhooks(configuration).iter().enumerate() {
        let path = index("webhooks", position);
        errors.extend(validate_webhook(hook, &path, mutating, options));
        errors.extend(validate_review_versions(
            &strings(hook.get("admissionReviewVersions")),
            options.require_recognized_versions,
            &child(&path, "admissionReviewVersions"),
        ));
        let name = text(hook, "name");
        if options.require_unique_names && !name.is_empty() {
            if names.contains(&name) {
                errors.push(field::duplicate(&child(&path, "name"), name));
            } else {
                names.push(name);
            }
        }
    }
    errors
}

/// `validateValidatingWebhook` / `validateMutatingWebhook`, in their order.
fn validate_webhook(hook: &Value, path: &str, mutating: bool, options: Options) -> Vec<FieldCause> {
    let mut errors = fully_qualified_name_errors(&child(path, "name"), text(hook, "name"));
    let rules = hook
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for (position, rule) in rules.enumerate() {
        errors.extend(validate_rule(rule, &index(&child(path, "rules"), position)));
    }
    errors.extend(enumeration(hook, "failurePolicy", path, &FAILURE_POLICIES));
    errors.extend(enumeration(hook, "matchPolicy", path, &MATCH_POLICIES));
    let allowed: &[&str] = if options.require_no_side_effects {
        &NO_SIDE_EFFECTS
    } else {
        &SIDE_EFFECTS
    };
    if hook.get("sideEffects").is_none_or(Value::is_null) {
        errors.push(field::required(
            &child(path, "sideEffects"),
            &format!("must specify one of {}", allowed.join(", ")),
        ));
    }
    errors.extend(enumeration(hook, "sideEffects", path, allowed));
    if let Some(timeout) = hook.get("timeoutSeconds").and_then(Value::as_i64)
        && !(1..=30).contains(&timeout)
    {
        errors.push(field::invalid(
            &child(path, "timeoutSeconds"),
            &timeout.to_string(),
            "the timeout value must be between 1 and 30 seconds",
        ));
    }
    let selector_options = selector_validation::Options {
        allow_invalid_label_value: options.allow_invalid_label_value,
    };
    for selector in ["namespaceSelector", "objectSelector"] {
        let value = hook.get(selector).unwrap_or(&Value::Null);
        errors.extend(validate_label_selector(
            value,
            &child(path, selector),
            selector_options,
        ));
    }
    if mutating {
        errors.extend(enumeration(
            hook,
            "reinvocationPolicy",
            path,
            &REINVOCATION_POLICIES,
        ));
    }
    let config_path = child(path, "clientConfig");
    let config = hook.get("clientConfig").unwrap_or(&Value::Null);
    let url = config.get("url").and_then(Value::as_str);
    let service = config.get("service").filter(|service| service.is_object());
    match (url, service) {
        (Some(url), None) => errors.extend(validate_url(&child(&config_path, "url"), url)),
        (None, Some(service)) => {
            errors.extend(validate_service(&child(&config_path, "service"), service));
        }
        _ => errors.push(field::required(
            &config_path,
            "exactly one of url or service is required",
        )),
    }
    let conditions = hook.get("matchConditions").and_then(Value::as_array);
    if conditions.is_some_and(|conditions| !conditions.is_empty()) {
        errors.push(field::forbidden(
            &child(path, "matchConditions"),
            "matchConditions (CEL expressions) are not supported by the simulated cluster",
        ));
    }
    errors
}

/// `validateAdmissionReviewVersions`.
fn validate_review_versions(
    versions: &[String],
    require_recognized: bool,
    path: &str,
) -> Vec<FieldCause> {
    let accepted = REVIEW_VERSIONS.join(", ");
    if versions.is_empty() {
        return vec![field::required(
            path,
            &format!("must specify one of {accepted}"),
        )];
    }
    let mut errors = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (position, version) in versions.iter().enumerate() {
        let item = index(path, position);
        if seen.contains(&version.as_str()) {
            errors.push(field::invalid(&item, &quote(version), "duplicate version"));
            continue;
        }
        seen.push(version);
        for message in dns1035_label_errors(version) {
            errors.push(field::invalid(&item, &quote(version), &message));
        }
    }
    if require_recognized
        && !versions
            .iter()
            .any(|v| REVIEW_VERSIONS.contains(&v.as_str()))
    {
        errors.push(field::invalid(
            path,
            &string_slice("string", Some(versions)),
            &format!("must include at least one of {accepted}"),
        ));
    }
    errors
}

/// `validateRuleWithOperations` and `validateRule` (subresources allowed).
fn validate_rule(rule: &Value, path: &str) -> Vec<FieldCause> {
    let mut errors = Vec::new();
    let operations = strings(rule.get("operations"));
    let operations_path = child(path, "operations");
    if operations.is_empty() {
        errors.push(field::required(&operations_path, ""));
    }
    if operations.len() > 1 && operations.iter().any(|o| o == "*") {
        errors.push(field::invalid(
            &operations_path,
            &string_slice("admissionregistration.OperationType", Some(&operations)),
            "if '*' is present, must not specify other operations",
        ));
    }
    for (position, operation) in operations.iter().enumerate() {
        if !OPERATIONS.contains(&operation.as_str()) {
            errors.push(field::not_supported(
                &index(&operations_path, position),
                operation,
                &OPERATIONS,
            ));
        }
    }
    for (name, what) in [("apiGroups", "API groups"), ("apiVersions", "API versions")] {
        let values = strings(rule.get(name));
        let list_path = child(path, name);
        if values.is_empty() {
            errors.push(field::required(&list_path, ""));
        }
        if values.len() > 1 && values.iter().any(|v| v == "*") {
            errors.push(field::invalid(
                &list_path,
                &string_slice("string", Some(&values)),
                &format!("if '*' is present, must not specify other {what}"),
            ));
        }
        // An empty group is the core group; an empty version is nothing.
        if name == "apiVersions" {
            for (position, _) in values.iter().enumerate().filter(|(_, v)| v.is_empty()) {
                errors.push(field::required(&index(&list_path, position), ""));
            }
        }
    }
    errors.extend(validate_resources(
        &strings(rule.get("resources")),
        &child(path, "resources"),
    ));
    if let Some(scope) = rule.get("scope").and_then(Value::as_str)
        && !SCOPES.contains(&scope)
    {
        errors.push(field::not_supported(&child(path, "scope"), scope, &SCOPES));
    }
    errors
}

/// `validateResources`: `resource` or `resource/subresource`, with the wildcard rules.
fn validate_resources(resources: &[String], path: &str) -> Vec<FieldCause> {
    let mut errors = Vec::new();
    if resources.is_empty() {
        errors.push(field::required(path, ""));
    }
    // "x/*" seen, "*/x" seen.
    let (mut wildcard_subresources, mut wildcard_resources): (Vec<&str>, Vec<&str>) =
        (vec![], vec![]);
    let (mut double_wildcard, mut single_wildcard, mut without_subresource) = (false, false, false);
    for (position, entry) in resources.iter().enumerate() {
        let item = index(path, position);
        if entry.is_empty() {
            errors.push(field::required(&item, ""));
            continue;
        }
        double_wildcard |= entry == "*/*";
        single_wildcard |= entry == "*";
        let Some((resource, subresource)) = entry.split_once('/') else {
            // Go overwrites rather than accumulates here; kept, since it decides the message.
            without_subresource = entry != "*";
            continue;
        };
        if wildcard_subresources.contains(&resource) {
            errors.push(field::invalid(
                &item,
                &quote(entry),
                &format!("if '{resource}/*' is present, must not specify {entry}"),
            ));
        }
        if wildcard_resources.contains(&subresource) {
            errors.push(field::invalid(
                &item,
                &quote(entry),
                &format!("if '*/{subresource}' is present, must not specify {entry}"),
            ));
        }
        if subresource == "*" {
            wildcard_subresources.push(resource);
        }
        if resource == "*" {
            wildcard_resources.push(subresource);
        }
    }
    let printed = string_slice("string", Some(resources));
    if resources.len() > 1 && double_wildcard {
        errors.push(field::invalid(
            path,
            &printed,
            "if '*/*' is present, must not specify other resources",
        ));
    }
    if single_wildcard && without_subresource {
        errors.push(field::invalid(
            path,
            &printed,
            "if '*' is present, must not specify other resources without subresources",
        ));
    }
    errors
}

#[cfg(test)]
#[path = "config_validation_tests.rs"]
mod tests;
