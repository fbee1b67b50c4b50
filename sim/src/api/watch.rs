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

use super::objects::{Filter, is_true, serve_version};
use super::{SharedState, Target};
use crate::status::ApiError;
use crate::store::{StoreError, StoreEvent, Subscription};

/// kube-apiserver ends watches after a random 30–60 minutes when the client sets no timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

struct WatchState {
    target: Target,
    filter: Filter,
    pending: VecDeque<Bytes>,
    subscription: Subscription,
    deadline: Instant,
    bookmarks: Option<tokio::time::Interval>,
    state: SharedState,
    done: bool,
}

fn line(event_type: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": event_type, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn expired_event(message: String) -> Bytes {
    line("ERROR", &ApiError::new(410, "Expired", message).status())
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
            self.pending.push_back(line(
                event.event_type.as_str(),
                &serve_version(info, &event.object),
            ));
        }
    }

    fn bookmark(&mut self) {
        let rv = self.state.store.resource_version().to_string();
        let object = json!({
            "kind": self.target.info.kind,
            "apiVersion": self.target.info.api_version(),
            "metadata": {"resourceVersion": rv},
        });
        self.pending.push_back(line("BOOKMARK", &object));
    }
}

pub fn serve(
    state: SharedState,
    target: Target,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
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
                pending.push_back(line("ADDED", &serve_version(&target.info, object)));
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
