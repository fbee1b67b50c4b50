//! Whether kube-apiserver calls a validating webhook for a request (reference
//! `k8s-admission.md` §1.2–1.6; `generic/webhook.go` `Dispatch`/`ShouldCallHook`,
//! `predicates/{rules,namespace,object}`).
//!
//! Order: exemptions; namespaceSelector and objectSelector (a definite "no" skips the webhook,
//! an error is held back); rules, exact pass then (matchPolicy Equivalent only) the equivalent
//! pass; no rule → not called and held-back errors are dropped; then the held-back errors; then
//! matchConditions, which the simulator does not evaluate.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::selectors::LabelSelector;

/// A request's attributes as the matcher needs them (see the examples JSON's `conventions`).
#[derive(Clone, Copy, Debug)]
pub struct RequestAttributes<'a> {
    /// CREATE | UPDATE | DELETE | CONNECT.
    pub operation: &'a str,
    pub group: &'a str,
    pub version: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    /// "" for cluster-scoped objects; for Namespace objects, their own name.
    pub namespace: &'a str,
    /// Labels of the existing namespace; `None`: it does not exist (or not applicable).
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
    /// `None`: no object, or an object without ObjectMeta (e.g. PodExecOptions).
    pub object_labels: Option<&'a BTreeMap<String, String>>,
    pub old_object_labels: Option<&'a BTreeMap<String, String>>,
    /// The object's (group, version, kind), for the exemption check.
    pub kind: Option<(&'a str, &'a str, &'a str)>,
    /// (group, version, resource)s served from the same storage as the requested one.
    pub equivalent_resources: &'a [(String, String, String)],
    /// Whether the resource is cluster-scoped (Namespace objects are).
    pub cluster_scoped: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchOutcome {
    NotCalled,
    /// Called with this (group, version, resource, subresource) — differs from the request's
    /// for an Equivalent match; the original stays requestResource.
    Called {
        group: String,
        version: String,
        resource: String,
        subresource: String,
    },
    /// The predicate itself failed (e.g. an invalid selector): the whole API request fails.
    /// The text is kube-apiserver's Status message: `namespaces "x" not found` (404) or
    /// `Internal error occurred: ...` (500).
    Error(String),
}

/// What [`MatchOutcome::Error`] carries for a webhook with matchConditions.
pub const MATCH_CONDITIONS_UNSUPPORTED: &str = "matchConditions are not supported by the simulator";

/// Decides whether the (already defaulted) `webhook` is called for `request`.
pub fn matches(webhook: &Value, request: &RequestAttributes<'_>) -> MatchOutcome {
    if is_exempt(request) {
        return MatchOutcome::NotCalled;
    }
    let namespace_match = match_namespace_selector(webhook, request);
    if namespace_match == Ok(false) {
        return MatchOutcome::NotCalled;
    }
    let object_match = match_object_selector(webhook, request);
    if object_match == Ok(false) {
        return MatchOutcome::NotCalled;
    }
    let Some((group, version, resource)) = match_rules(webhook, request) else {
        return MatchOutcome::NotCalled;
    };
    if let Err(error) = namespace_match.and(object_match) {
        return MatchOutcome::Error(error);
    }
    let has_conditions = webhook
        .get("matchConditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| !conditions.is_empty());
    if has_conditions {
        return MatchOutcome::Error(MATCH_CONDITIONS_UNSUPPORTED.to_string());
    }
    MatchOutcome::Called {
        group: group.to_string(),
        version: version.to_string(),
        resource: resource.to_string(),
        subresource: request.subresource.to_string(),
    }
}

const ADMISSION_GROUP: &str = "admissionregistration.k8s.io";

/// `rules.IsExemptAdmissionConfigurationResource`: webhook and admission-policy configurations
/// never go to webhooks, so a broken webhook can always be removed. Go looks at the kind; without
/// one, the resource names the same objects.
fn is_exempt(request: &RequestAttributes<'_>) -> bool {
    const KINDS: [&str; 6] = [
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
    ];
    const RESOURCES: [&str; 6] = [
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
        "mutatingadmissionpolicies",
        "mutatingadmissionpolicybindings",
    ];
    match request.kind {
        Some((group, _, kind)) => group == ADMISSION_GROUP && KINDS.contains(&kind),
        None => request.group == ADMISSION_GROUP && RESOURCES.contains(&request.resource),
    }
}

fn internal_error(error: impl std::fmt::Display) -> String {
    format!("Internal error occurred: {error}")
}

fn selector(webhook: &Value, field: &str) -> Result<LabelSelector, String> {
    // A missing selector is Go's nil pointer: it selects nothing (defaulting prevents that).
    LabelSelector::from_value(webhook.get(field).unwrap_or(&Value::Null)).map_err(internal_error)
}

/// `namespace.Matcher.MatchNamespaceSelector` (§1.5).
fn match_namespace_selector(
    webhook: &Value,
    request: &RequestAttributes<'_>,
) -> Result<bool, String> {
    // Go tests the resource name only (any group), before even parsing the selector.
    if request.namespace.is_empty() && request.resource != "namespaces" {
        return Ok(true);
    }
    let selector = selector(webhook, "namespaceSelector")?;
    if selector.is_empty() {
        return Ok(true);
    }
    let labels = namespace_labels(request)?;
    Ok(selector.matches(labels))
}

/// `GetNamespaceLabels`: a Namespace being created or updated is judged by its new labels
/// (the cache does not have them yet); everything else by the stored namespace.
fn namespace_labels<'a>(
    request: &RequestAttributes<'a>,
) -> Result<&'a BTreeMap<String, String>, String> {
    if request.resource == "namespaces"
        && request.subresource.is_empty()
        && matches!(request.operation, "CREATE" | "UPDATE")
    {
        return request
            .object_labels
            .ok_or_else(|| internal_error("object does not implement the Object interfaces"));
    }
    request
        .namespace_labels
        .ok_or_else(|| format!("namespaces \"{}\" not found", request.namespace))
}

/// `object.Matcher.MatchObjectSelector` (§1.6): new or old object; absent ones never match.
fn match_object_selector(webhook: &Value, request: &RequestAttributes<'_>) -> Result<bool, String> {
    let selector = selector(webhook, "objectSelector")?;
    if selector.is_empty() {
        return Ok(true);
    }
    let matches = |labels: Option<&BTreeMap<String, String>>| {
        labels.is_some_and(|labels| selector.matches(labels))
    };
    Ok(matches(request.object_labels) || matches(request.old_object_labels))
}

/// The GVR the webhook is invoked with, if any rule matches: an exact pass over all rules, then
/// with matchPolicy Equivalent each rule in order against each equivalent GVR.
fn match_rules<'a>(
    webhook: &Value,
    request: &RequestAttributes<'a>,
) -> Option<(&'a str, &'a str, &'a str)> {
    let rules: &[Value] = webhook
        .get("rules")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let requested = (request.group, request.version, request.resource);
    if rules
        .iter()
        .any(|rule| rule_matches(rule, requested, request))
    {
        return Some(requested);
    }
    // Go: a nil matchPolicy behaves as Exact; the API defaults it to Equivalent.
    if webhook.get("matchPolicy").and_then(Value::as_str) != Some("Equivalent") {
        return None;
    }
    rules.iter().find_map(|rule| {
        request
            .equivalent_resources
            .iter()
            .map(|(g, v, r)| (g.as_str(), v.as_str(), r.as_str()))
            .filter(|equivalent| *equivalent != requested)
            .find(|equivalent| rule_matches(rule, *equivalent, request))
    })
}

/// `rules.Matcher.Matches` for one rule against `gvr` (the request's own or an equivalent one).
fn rule_matches(rule: &Value, gvr: (&str, &str, &str), request: &RequestAttributes<'_>) -> bool {
    let (group, version, resource) = gvr;
    scope_matches(rule, gvr, request)
        && exact_or_wildcard(rule, "operations", request.operation)
        && exact_or_wildcard(rule, "apiGroups", group)
        && exact_or_wildcard(rule, "apiVersions", version)
        && strings(rule, "resources").any(|entry| {
            // Split at the first '/': "*" has no subresource part, so it skips subresources,
            // while "pods/*" also matches the pods main resource (sub "" vs "*").
            let (res, sub) = entry.split_once('/').unwrap_or((entry, ""));
            (res == "*" || res == resource) && (sub == "*" || sub == request.subresource)
        })
}

fn strings<'v>(rule: &'v Value, field: &str) -> impl Iterator<Item = &'v str> {
    rule.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn exact_or_wildcard(rule: &Value, field: &str, requested: &str) -> bool {
    strings(rule, field).any(|item| item == "*" || item == requested)
}

/// `rules.Matcher.scope`. A Namespace (and its subresources) carries its own name as the
/// namespace yet is cluster-scoped; `cluster_scoped` lets the caller say so for any resource.
fn scope_matches(rule: &Value, gvr: (&str, &str, &str), request: &RequestAttributes<'_>) -> bool {
    let cluster =
        gvr == ("", "v1", "namespaces") || request.namespace.is_empty() || request.cluster_scoped;
    match rule.get("scope") {
        None | Some(Value::Null) => true,
        Some(Value::String(scope)) => match scope.as_str() {
            "*" => true,
            "Namespaced" => !cluster,
            "Cluster" => cluster,
            _ => false,
        },
        Some(_) => false,
    }
}

#[cfg(test)]
#[path = "matching_tests.rs"]
mod tests;
