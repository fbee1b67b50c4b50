//! Watches: newline-delimited JSON events (`{"type":"ADDED","object":{...}}`) streamed on one
//! response. A watch from a resourceVersion replays what came after it; one without starts
//! with the current objects as ADDED events. Bookmarks carry the latest version; an expired
//! version, or a watcher too slow to keep up, gets an ERROR event with a 410 Status (clients
//! then relist), as from kube-apiserver.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::listing::Filter;
use super::objects::{Served, is_true};
use super::shape::{Shape, partial_metadata};
use super::{SharedState, Target};
use crate::status::ApiError;
use crate::store::{StoreError, StoreEvent, Subscription};

/// kube-apiserver ends watches after a random 30–60 minutes when the client sets no timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

struct WatchState {
    target: Target,
    shape: Shape,
    /// Whether a Table event has carried the column definitions yet (only the first does).
    columns_sent: bool,
    filter: Filter,
    pending: VecDeque<Bytes>,
    subscription: Subscription,
    deadline: Instant,
    bookmarks: Option<tokio::time::Interval>,
    state: SharedState,
    done: bool,
}

/// One event line. Written from the borrowed object: a watch must not copy every object it
/// sends (ten watchers of ten thousand pods would copy a hundred thousand).
fn line<T: serde::Serialize>(event_type: &str, object: &T) -> Bytes {
    #[derive(serde::Serialize)]
    struct Line<'a, T> {
        #[serde(rename = "type")]
        event_type: &'a str,
        object: &'a T,
    }
    let mut bytes = serde_json::to_vec(&Line { event_type, object }).unwrap_or_else(|error| {
        // Our own values always serialise; should one not, say so in-band rather than panic.
        ApiError::internal(format!("cannot encode a watch event: {error}"))
            .status()
            .to_string()
            .into_bytes()
    });
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn expired_event(message: String) -> Bytes {
    let status = ApiError::new(410, "Expired", message).to_status();
    line("ERROR", &crate::status::GoStatus(&status))
}

impl WatchState {
    fn accept(&mut self, event: &StoreEvent) {
        let info = &self.target.info;
        let same_resource = event.key.group == info.group && event.key.resource == info.resource;
        let same_namespace = self
            .target
            .namespace
            .as_deref()
            .is_none_or(|ns| event.key.namespace == ns);
        if same_resource && same_namespace && self.filter.matches(&event.object) {
            let line = event_line(
                &self.target,
                &self.shape,
                &mut self.columns_sent,
                event.event_type.as_str(),
                &event.object,
            );
            self.pending.push_back(line);
        }
    }

    fn bookmark(&mut self) {
        let rv = self.state.store.resource_version().to_string();
        let object = match &self.shape {
            Shape::Metadata { version } => json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": format!("meta.k8s.io/{version}"),
                "metadata": {"resourceVersion": rv},
            }),
            _ => json!({
                "kind": self.target.info.kind,
                "apiVersion": self.target.info.api_version(),
                "metadata": {"resourceVersion": rv},
            }),
        };
        self.pending.push_back(line("BOOKMARK", &object));
    }
}

/// One event of a stored object, in the shape the watch asked for: the object, its metadata,
/// or a one-row Table (kube-apiserver sends the column definitions with the first only, `null`
/// after).
fn event_line(
    target: &Target,
    shape: &Shape,
    columns_sent: &mut bool,
    event_type: &str,
    object: &Arc<Value>,
) -> Bytes {
    match shape {
        Shape::Metadata { version } => line(event_type, &partial_metadata(object, version)),
        Shape::Table { version } => {
            let mut table =
                crate::table::table(&target.info, std::slice::from_ref(object), None, version);
            if *columns_sent {
                table["columnDefinitions"] = Value::Null;
            }
            *columns_sent = true;
            if let Some(rv) = object.pointer("/metadata/resourceVersion") {
                table["metadata"] = json!({"resourceVersion": rv});
            }
            line(event_type, &table)
        }
        Shape::Objects | Shape::MetadataList { .. } => {
            let api_version = target.info.api_version();
            line(
                event_type,
                &Served {
                    object,
                    api_version: &api_version,
                },
            )
        }
    }
}

pub fn serve(
    state: SharedState,
    target: Target,
    query: &HashMap<String, String>,
    shape: Shape,
) -> Result<Response, ApiError> {
    let mut columns_sent = false;
    let filter = Filter::from_query(query)?;
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    let from = query
        .get("resourceVersion")
        .map(String::as_str)
        .filter(|rv| !rv.is_empty() && *rv != "0");
    let mut pending = VecDeque::new();
    let subscription = match from {
        None => {
            let (items, subscription) = state.store.snapshot_and_subscribe(
                &target.info.group,
                &target.info.resource,
                target.namespace.as_deref(),
            );
            for object in items.iter().filter(|object| filter.matches(object)) {
                pending.push_back(event_line(
                    &target,
                    &shape,
                    &mut columns_sent,
                    "ADDED",
                    object,
                ));
            }
            Some(subscription)
        }
        Some(rv) => {
            let rv = rv
                .parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?;
            match state.store.subscribe(Some(rv)) {
                Ok(subscription) => Some(subscription),
                Err(StoreError::Expired { requested, oldest }) => {
                    pending.push_back(expired_event(format!(
                        "too old resource version: {requested} ({oldest})"
                    )));
                    None
                }
                Err(other) => return Err(ApiError::internal(other.to_string())),
            }
        }
    };
    let body = match subscription {
        None => Body::from_stream(futures::stream::iter(
            pending.into_iter().map(Ok::<_, Infallible>),
        )),
        Some(subscription) => {
            let bookmarks = is_true(query.get("allowWatchBookmarks")).then(|| {
                let mut interval = tokio::time::interval_at(
                    Instant::now() + state.bookmark_interval,
                    state.bookmark_interval,
                );
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                interval
            });
            let mut watch = WatchState {
                target,
                shape,
                columns_sent,
                filter,
                pending,
                subscription,
                deadline: Instant::now() + timeout,
                bookmarks,
                state,
                done: false,
            };
            let backlog: Vec<Arc<StoreEvent>> = std::mem::take(&mut watch.subscription.backlog);
            for event in &backlog {
                watch.accept(event);
            }
            Body::from_stream(futures::stream::unfold(watch, next_chunk))
        }
    };
    Response::builder()
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .map_err(|error| ApiError::internal(error.to_string()))
}

async fn tick(bookmarks: &mut Option<tokio::time::Interval>) {
    match bookmarks {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending::<()>().await,
    }
}

async fn next_chunk(mut watch: WatchState) -> Option<(Result<Bytes, Infallible>, WatchState)> {
    loop {
        if let Some(chunk) = watch.pending.pop_front() {
            return Some((Ok(chunk), watch));
        }
        if watch.done {
            return None;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(watch.deadline) => watch.done = true,
            _ = tick(&mut watch.bookmarks) => watch.bookmark(),
            received = watch.subscription.live.recv() => match received {
                Ok(event) => watch.accept(&event),
                Err(RecvError::Lagged(missed)) => {
                    watch.pending.push_back(expired_event(format!("watch fell {missed} events behind; relist")));
                    watch.done = true;
                }
                Err(RecvError::Closed) => watch.done = true,
            },
        }
    }
}
