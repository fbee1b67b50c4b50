//! A Kubernetes Event on an existing object whose UPDATE the webhook refused, so that `kubectl
//! describe` shows why a change (a new image, a rollout undo) did not happen. Best effort: the
//! answer never waits for it, a failure is logged, and at most `MAX_IN_FLIGHT` are being written
//! at once (a flood of refused updates drops events rather than piling up tasks).

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, PostParams};
use kube::core::DynamicObject;
use kube::core::admission::AdmissionRequest;
use tokio::sync::Semaphore;

use crate::quote::bound_owned;

/// The reason kubectl shows in the Events table.
pub const REASON: &str = "UpdateRejected";
pub const COMPONENT: &str = "image-assurance";
const MAX_IN_FLIGHT: usize = 16;

pub struct EventRecorder {
    client: kube::Client,
    /// This replica (`POD_NAME`), as `reportingInstance`.
    instance: String,
    slots: Arc<Semaphore>,
}

impl EventRecorder {
    pub fn new(client: kube::Client, instance: String) -> Self {
        EventRecorder {
            client,
            instance,
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }

    /// Records, in the background, that `request` (an UPDATE) was refused with `message`.
    /// Dry runs record nothing: the webhook declares `sideEffects: NoneOnDryRun`.
    pub fn update_rejected(&self, request: &AdmissionRequest<DynamicObject>, message: &str) {
        let Some(event) = rejection_event(request, message, &self.instance, jiff::Timestamp::now())
        else {
            return;
        };
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            tracing::debug!("too many events in flight: this rejection is not recorded");
            return;
        };
        let namespace = event.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        tokio::spawn(async move {
            if let Err(error) = api.create(&PostParams::default(), &event).await {
                tracing::warn!(%error, "cannot record the rejection as an Event");
            }
            drop(slot);
        });
    }
}

/// The Event for a refused UPDATE, on the object as it is stored (`oldObject`'s uid); `None`
/// for a dry run or a request that names no namespaced object.
pub fn rejection_event(
    request: &AdmissionRequest<DynamicObject>,
    message: &str,
    instance: &str,
    now: jiff::Timestamp,
) -> Option<Event> {
    if request.dry_run {
        return None;
    }
    let namespace = request
        .namespace
        .clone()
        .filter(|namespace| !namespace.is_empty())?;
    let uid = request
        .old_object
        .as_ref()
        .and_then(|old| old.metadata.uid.clone());
    let api_version = request.kind.api_version();
    let time = Time(now);
    Some(Event {
        metadata: ObjectMeta {
            // As client-go's recorder names events: the object, then a unique suffix.
            name: Some(format!(
                "{}.{:x}",
                request.name,
                now.as_nanosecond().unsigned_abs()
            )),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some(api_version),
            kind: Some(request.kind.kind.clone()),
            name: Some(request.name.clone()),
            namespace: Some(namespace),
            uid,
            ..ObjectReference::default()
        },
        reason: Some(REASON.to_string()),
        message: Some(bound_owned(format!(
            "the update was refused by the image-assurance webhook: {message}"
        ))),
        type_: Some("Warning".to_string()),
        source: Some(EventSource {
            component: Some(COMPONENT.to_string()),
            host: None,
        }),
        reporting_component: Some(COMPONENT.to_string()),
        reporting_instance: Some(instance.to_string()),
        action: Some("Admit".to_string()),
        count: Some(1),
        first_timestamp: Some(time.clone()),
        last_timestamp: Some(time),
        event_time: Some(MicroTime(now)),
        ..Event::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn update(dry_run: bool) -> AdmissionRequest<DynamicObject> {
        let review = json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "u", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
                "name": "api", "namespace": "team-a", "operation": "UPDATE",
                "userInfo": {"username": "jane"}, "dryRun": dry_run,
                "object": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "uid": "d-1"}},
                "oldObject": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "uid": "d-1"}},
            },
        });
        crate::admission::review::read_request(&review).unwrap()
    }

    #[test]
    fn a_refused_update_is_a_warning_event_on_the_stored_object() {
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let event = rejection_event(&update(false), "image \"nginx\" …", "webhook-0", now).unwrap();
        assert_eq!(event.metadata.namespace.as_deref(), Some("team-a"));
        assert!(event.metadata.name.as_deref().unwrap().starts_with("api."));
        let object = &event.involved_object;
        assert_eq!(object.kind.as_deref(), Some("Deployment"));
        assert_eq!(object.api_version.as_deref(), Some("apps/v1"));
        assert_eq!(object.uid.as_deref(), Some("d-1"));
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        assert_eq!(event.reason.as_deref(), Some(REASON));
        assert_eq!(
            event.message.as_deref(),
            Some("the update was refused by the image-assurance webhook: image \"nginx\" …")
        );
        assert_eq!(event.reporting_instance.as_deref(), Some("webhook-0"));
    }

    #[test]
    fn a_dry_run_records_nothing() {
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        assert_eq!(rejection_event(&update(true), "m", "w", now), None);
    }
}
