//! The validating admission chain (§1.2, §1.7, §2.3): every stored ValidatingWebhookConfiguration
//! (v1 defaults applied, configurations in name order), each webhook matched with
//! [`matching::matches`], all matching webhooks called in parallel, their answers turned into
//! the client's outcome. Warnings of every webhook go to the caller.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::Value;

use super::Caller;
use super::client::{CallError, Reply};
use super::endpoints::{canonical_url, resolve};
use super::matching::{self, MatchOutcome, RequestAttributes};
use super::review::{self, ReviewRequest};
use crate::api::ServerState;
use crate::catalogue::ResourceInfo;
use crate::status::ApiError;
use crate::store::ObjectKey;

const ADMISSION_GROUP: &str = "admissionregistration.k8s.io";
const CONFIGURATIONS: [&str; 2] = [
    "validatingwebhookconfigurations",
    "mutatingwebhookconfigurations",
];

/// One write as admission sees it.
pub struct Attributes<'a> {
    /// CREATE | UPDATE | DELETE.
    pub operation: &'static str,
    pub info: &'a ResourceInfo,
    /// "" for the main resource.
    pub subresource: &'a str,
    /// (group, version, kind) of `object`: the resource's kind, `autoscaling/v1 Scale` for scale.
    pub kind: (&'a str, &'a str, &'a str),
    pub name: &'a str,
    /// The request's namespace ("" when cluster-scoped).
    pub namespace: &'a str,
    pub object: Option<&'a Value>,
    pub old_object: Option<&'a Value>,
    pub dry_run: bool,
    /// CreateOptions / UpdateOptions / DeleteOptions.
    pub options: Value,
}

/// Runs the chain; `Ok` lets the write proceed.
pub async fn admit(
    state: &ServerState,
    attributes: &Attributes<'_>,
    caller: &Caller,
) -> Result<(), ApiError> {
    let info = attributes.info;
    if info.group == ADMISSION_GROUP && CONFIGURATIONS.contains(&info.resource.as_str()) {
        // Exempt: a broken webhook can always be removed.
        return Ok(());
    }
    let (mut configurations, _) =
        state
            .store
            .list(ADMISSION_GROUP, "validatingwebhookconfigurations", None);
    if configurations.is_empty() {
        return Ok(());
    }
    configurations.sort_by(|a, b| name_of(a).cmp(name_of(b)));

    let is_namespace = info.group.is_empty() && info.resource == "namespaces";
    // Requests on a Namespace carry its own name as their namespace.
    let namespace = if is_namespace {
        attributes.name
    } else {
        attributes.namespace
    };
    let namespace_labels = if namespace.is_empty() {
        None
    } else {
        state
            .store
            .get(&ObjectKey::new("", "namespaces", "", namespace))
            .map(|ns| labels(&ns))
    };
    let object_labels = attributes.object.map(labels);
    let old_object_labels = attributes.old_object.map(labels);
    let equivalents = state.catalogue.versions_of(&info.group, &info.resource);
    let request = RequestAttributes {
        operation: attributes.operation,
        group: &info.group,
        version: &info.version,
        resource: &info.resource,
        subresource: attributes.subresource,
        namespace,
        namespace_labels: namespace_labels.as_ref(),
        object_labels: object_labels.as_ref(),
        old_object_labels: old_object_labels.as_ref(),
        kind: Some(attributes.kind),
        equivalent_resources: &equivalents,
        cluster_scoped: !info.namespaced,
    };

    let mut calls = Vec::new();
    for configuration in &configurations {
        for webhook in configuration
            .get("webhooks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut webhook = webhook.clone();
            // Stored configurations are defaulted already; this keeps matching right anyway.
            super::config_defaults::apply_defaults(&mut webhook);
            match matching::matches(&webhook, &request) {
                MatchOutcome::NotCalled => {}
                MatchOutcome::Error(message) => return Err(match_error(message, namespace)),
                MatchOutcome::Called {
                    group,
                    version,
                    resource,
                    ..
                } => calls.push((webhook, (group, version, resource))),
            }
        }
    }
    let mut pending: FuturesUnordered<_> = calls
        .iter()
        .map(|(webhook, invoked)| {
            let invoked = (invoked.0.as_str(), invoked.1.as_str(), invoked.2.as_str());
            call_hook(state, webhook, invoked, attributes, namespace, caller)
        })
        .collect();
    // As Go's dispatcher: every call runs to its end, and the error that reached the channel
    // first (the first call to fail, not the first webhook listed) is the answer.
    let mut first_error = None;
    while let Some(result) = pending.next().await {
        if let Err(error) = result {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn labels(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_string())))
        .collect()
}

/// A matching error fails the request: a missing namespace is its 404, anything else a 500.
fn match_error(message: String, namespace: &str) -> ApiError {
    if message.starts_with("Internal error occurred: ") {
        ApiError::new(500, "InternalError", message)
    } else {
        ApiError::namespace_not_found(namespace)
    }
}

/// Calls one webhook and judges its answer (`validating/dispatcher.go callHook`).
async fn call_hook(
    state: &ServerState,
    webhook: &Value,
    invoked: (&str, &str, &str),
    attributes: &Attributes<'_>,
    namespace: &str,
    caller: &Caller,
) -> Result<(), ApiError> {
    let text = |field: &str| webhook.get(field).and_then(Value::as_str);
    let name = text("name").unwrap_or("");
    let fail_open = text("failurePolicy") == Some("Ignore");
    let failure = |reason: String| {
        if fail_open {
            tracing::warn!(webhook = name, %reason, "Failed calling webhook, failing open");
            Ok(())
        } else {
            tracing::warn!(webhook = name, %reason, "Failed calling webhook, failing closed");
            Err(ApiError::internal(format!(
                "failed calling webhook {name:?}: {reason}"
            )))
        }
    };
    if attributes.dry_run {
        match text("sideEffects") {
            Some("None" | "NoneOnDryRun") => {}
            None => return failure("Webhook SideEffects is nil".into()),
            Some(_) => {
                return Err(ApiError::bad_request(format!(
                    "admission webhook {name:?} does not support dry run"
                )));
            }
        }
    }
    let Some(version) = review::review_version(webhook) else {
        return failure(
            "could not create admission objects: webhook does not accept known AdmissionReview versions (v1, v1beta1)"
                .into(),
        );
    };
    let uid = uuid::Uuid::new_v4().to_string();
    let info = attributes.info;
    let requested = (
        info.group.as_str(),
        info.version.as_str(),
        info.resource.as_str(),
    );
    let converted = invoked != requested;
    // An Equivalent match sends the object as the matched version (same storage, same fields).
    let invoked_kind_name = if converted && attributes.subresource.is_empty() {
        state
            .catalogue
            .get(invoked.0, invoked.1, invoked.2)
            .map(|other| other.kind)
            .unwrap_or_else(|| attributes.kind.2.to_string())
    } else {
        attributes.kind.2.to_string()
    };
    let kind = if converted && attributes.subresource.is_empty() {
        (invoked.0, invoked.1, invoked_kind_name.as_str())
    } else {
        attributes.kind
    };
    let as_version = |object: &Value| {
        let mut object = object.clone();
        if let Some(fields) = object.as_object_mut() {
            let api_version = if kind.0.is_empty() {
                kind.1.to_string()
            } else {
                format!("{}/{}", kind.0, kind.1)
            };
            fields.insert("apiVersion".into(), Value::String(api_version));
            fields.insert("kind".into(), Value::String(kind.2.to_string()));
        }
        object
    };
    let object = attributes.object.map(as_version);
    let old_object = attributes.old_object.map(as_version);
    let body = review::build(
        version,
        &ReviewRequest {
            uid: &uid,
            kind,
            resource: invoked,
            request_kind: attributes.kind,
            request_resource: requested,
            subresource: attributes.subresource,
            name: attributes.name,
            namespace,
            operation: attributes.operation,
            user: &caller.user,
            object: object.as_ref(),
            old_object: old_object.as_ref(),
            dry_run: attributes.dry_run,
            options: Some(&attributes.options),
        },
    );
    let body = match serde_json::to_vec(&body) {
        Ok(body) => Bytes::from(body),
        Err(error) => return failure(format!("could not create admission objects: {error}")),
    };
    let timeout = webhook
        .get("timeoutSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(10)
        .max(1);
    let client_config = webhook.get("clientConfig").unwrap_or(&Value::Null);
    let url = match canonical_url(client_config, timeout) {
        Ok(url) => url,
        Err(error) => return failure(format!("could not get REST client: {error}")),
    };
    let ca_bundle = client_config
        .get("caBundle")
        .and_then(Value::as_str)
        .unwrap_or("");
    let call = async {
        let destination = resolve(&state.store, client_config, timeout)
            .await
            .map_err(CallError::Transport)?;
        state
            .webhook_client
            .post(&destination, ca_bundle, body)
            .await
    };
    let reply = match tokio::time::timeout(Duration::from_secs(timeout), call).await {
        Err(_) => {
            return failure(format!(
                "failed to call webhook: Post {url:?}: context deadline exceeded"
            ));
        }
        Ok(Err(CallError::Transport(error))) => {
            return failure(format!("failed to call webhook: Post {url:?}: {error}"));
        }
        Ok(Err(CallError::Config(error))) => {
            return failure(format!("could not get REST client: {error}"));
        }
        Ok(Ok(reply)) => reply,
    };
    if !(200..300).contains(&reply.status) {
        return failure(format!("failed to call webhook: {}", server_error(&reply)));
    }
    if let Some(reason) = review::undecodable(&reply.content_type, reply.status, &reply.body) {
        return failure(format!("failed to call webhook: {reason}"));
    }
    let verdict = match review::verify(version, &uid, &reply.body) {
        Ok(verdict) => verdict,
        Err(reason) => return failure(reason),
    };
    for warning in &verdict.warnings {
        caller.warnings.add(warning);
    }
    if verdict.allowed {
        Ok(())
    } else {
        Err(review::denial(name, verdict.status.as_ref()))
    }
}

/// client-go's error for a non-2xx answer: a Status body's message, else
/// `NewGenericServerResponse` over the (text) body.
fn server_error(reply: &Reply) -> String {
    if let Ok(status) = serde_json::from_slice::<Value>(&reply.body)
        && status.get("kind").and_then(Value::as_str) == Some("Status")
        && let Some(message) = status.get("message").and_then(Value::as_str)
        && !message.is_empty()
    {
        return message.to_string();
    }
    // client-go keeps at most 2 KiB of an unstructured body, and only a text one.
    let server_message = if reply.content_type.starts_with("text/") {
        let end = reply.body.len().min(2048);
        String::from_utf8_lossy(&reply.body[..end])
            .trim()
            .to_string()
    } else {
        "unknown".to_string()
    };
    generic_server_response(reply.status, &server_message)
}

fn generic_server_response(code: u16, server_message: &str) -> String {
    match code {
        409 => "the server reported a conflict".into(),
        404 => "the server could not find the requested resource".into(),
        400 => "the server rejected our request for an unknown reason".into(),
        401 => "the server has asked for the client to provide credentials".into(),
        403 | 415 => server_message.into(),
        406 if server_message.is_empty() || server_message == "unknown" => {
            "the server was unable to respond with a content type that the client supports".into()
        }
        406 => server_message.into(),
        405 => "the server does not allow this method on the requested resource".into(),
        422 => "the server rejected our request due to an error in our request".into(),
        503 => "the server is currently unable to handle the request".into(),
        504 => "the server was unable to return a response in the time allotted, but may still be processing the request".into(),
        429 => "the server has received too many requests and has asked us to try again later".into(),
        code if code >= 500 => format!(
            "an error on the server ({server_message:?}) has prevented the request from succeeding"
        ),
        code => format!(
            "the server responded with the status code {code} but did not return more information"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_2xx_answers_are_worded_as_client_go_does() {
        let reply = |status, content_type: &str, body: &'static str| Reply {
            status,
            content_type: content_type.into(),
            body: Bytes::from_static(body.as_bytes()),
        };
        assert_eq!(
            server_error(&reply(500, "text/plain; charset=utf-8", "boom\n")),
            "an error on the server (\"boom\") has prevented the request from succeeding"
        );
        assert_eq!(
            server_error(&reply(404, "text/plain", "404 page not found")),
            "the server could not find the requested resource"
        );
        assert_eq!(
            server_error(&reply(500, "application/json", "{}")),
            "an error on the server (\"unknown\") has prevented the request from succeeding"
        );
    }
}
