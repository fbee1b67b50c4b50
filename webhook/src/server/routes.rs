//! The HTTPS endpoints: `POST /admission-review`, `POST /validate-policy`, `GET /healthz`,
//! `GET /readyz`. Every admission request is answered within a deadline well inside the API
//! server's webhook timeout; a decision that cannot finish in time is a denial (fail closed).
//! Reading and deciding run on decision threads (`decisions`), never on the runtime's workers,
//! so that `/healthz` and `/readyz` answer however expensive the requests in flight are.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse};
use serde_json::value::RawValue;

use super::body;
use super::caches::ClusterCaches;
use super::decisions::{Decisions, Overrun};
use super::metrics::{Metrics, RequestLabels, kind_label};
use crate::admission::handler::{Admitter, Outcome, ReviewObject};
use crate::admission::review::{TextRequest, deny, read_request_text, review_json};
use crate::quote::{bound, bound_response, cut};

pub struct AppState {
    pub admitter: Admitter<Arc<ClusterCaches>>,
    pub caches: Arc<ClusterCaches>,
    pub metrics: Arc<Metrics>,
    pub max_body_bytes: usize,
    /// For the request body to arrive in full.
    pub read_timeout: Duration,
    /// For the decision, from when the body is in.
    pub deadline: Duration,
    pub decisions: Decisions,
    /// See `Limits::inline_body_bytes`.
    pub inline_body_bytes: usize,
    /// Request bodies held at once (see `body`).
    pub bodies: body::Budget,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/admission-review", post(admission_review))
        .route("/validate-policy", post(validate_policy))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.caches.ready() {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(waiting) => (StatusCode::SERVICE_UNAVAILABLE, waiting).into_response(),
    }
}

/// The AdmissionRequest of a body and its object (still JSON text), or the 400 that says what
/// is wrong with it.
fn read(bytes: &[u8]) -> Result<TextRequest<'_>, (StatusCode, String)> {
    let read =
        read_request_text(bytes).map_err(|error| (StatusCode::BAD_REQUEST, error.to_string()))?;
    if read.request.uid.is_empty() {
        return Err((
            StatusCode::BAD_REQUEST,
            "the AdmissionReview request has no uid".into(),
        ));
    }
    Ok(read)
}

fn record(
    state: &AppState,
    endpoint: &'static str,
    request: &AdmissionRequest<DynamicObject>,
    outcome: Outcome,
    started: Instant,
    message: &str,
) {
    let elapsed = started.elapsed();
    state.metrics.latency.observe(elapsed.as_secs_f64());
    let labels = RequestLabels {
        decision: outcome.decision,
        kind: kind_label(&outcome.kind),
        endpoint,
    };
    state.metrics.requests.get_or_create(&labels).inc();
    tracing::info!(
        uid = %cut(&request.uid),
        kind = %labels.kind,
        namespace = &*cut(request.namespace.as_deref().unwrap_or("")),
        name = %cut(&request.name),
        operation = ?request.operation,
        decision = labels.decision,
        latency_us = elapsed.as_micros() as u64,
        message = &*bound(message),
        "admission"
    );
}

/// What a request came to: the request (for its log line), the answer, and its outcome.
type Decided = (AdmissionRequest<DynamicObject>, AdmissionResponse, Outcome);

type Refusal = (StatusCode, String);

#[derive(Clone, Copy)]
enum Endpoint {
    AdmissionReview,
    ValidatePolicy,
}

/// Reads the AdmissionReview in `bytes` and decides it within the deadline: a large request on
/// a decision thread (see `decisions`), a small one here (see `Limits::inline_body_bytes`). A
/// decision that does not finish in time, or cannot start, is a denial saying so, sent at the
/// deadline (fail closed). Every text of the answer is bounded.
///
/// `held`, the body's share of the budget for bodies, is given back once it is decided (in the
/// background, for a decision past its deadline).
async fn decide(
    state: &Arc<AppState>,
    bytes: Bytes,
    held: body::Held,
    endpoint: Endpoint,
) -> Result<Decided, Response> {
    let deadline = tokio::time::Instant::now() + state.deadline;
    // Compiling a policy's patterns is not cheap by size: always on a decision thread.
    let inline =
        matches!(endpoint, Endpoint::AdmissionReview) && bytes.len() <= state.inline_body_bytes;
    let decided = if inline {
        let TextRequest {
            mut request,
            object,
        } = read(&bytes).map_err(IntoResponse::into_response)?;
        let decision = decide_request(state, endpoint, &mut request, object);
        let decided = tokio::time::timeout_at(deadline, decision).await;
        drop(held);
        match decided {
            Ok(Ok((response, outcome))) => Ok((request, response, outcome)),
            Ok(Err(refusal)) => Err(refusal.into_response()),
            Err(_) => Ok(overrun(request, &Overrun::Late, state.deadline)),
        }
    } else {
        // The request as soon as it is read, to answer it should its decision run late.
        let (read_tx, mut read_rx) = tokio::sync::oneshot::channel();
        let job_state = state.clone();
        let job = move || async move {
            let _held = held;
            let TextRequest {
                mut request,
                object,
            } = read(&bytes)?;
            let _ = read_tx.send(request.clone());
            let (response, outcome) =
                decide_request(&job_state, endpoint, &mut request, object).await?;
            Ok::<_, Refusal>((request, response, outcome))
        };
        match state.decisions.run(deadline, job).await {
            Ok(Ok(decided)) => Ok(decided),
            Ok(Err(refusal)) => Err(refusal.into_response()),
            Err(late) => match read_rx.try_recv() {
                Ok(request) => Ok(overrun(request, &late, state.deadline)),
                Err(_) => Err((
                    StatusCode::SERVICE_UNAVAILABLE,
                    late.message(state.deadline),
                )
                    .into_response()),
            },
        }
    };
    decided.map(|(request, mut response, outcome)| {
        bound_response(&mut response);
        (request, response, outcome)
    })
}

/// The denial of a request whose decision did not come in time.
fn overrun(
    request: AdmissionRequest<DynamicObject>,
    overrun: &Overrun,
    deadline: Duration,
) -> Decided {
    let response = deny(&request, 500, "InternalError", &overrun.message(deadline));
    let outcome = Outcome {
        decision: "rejected",
        kind: request.kind.kind.clone(),
    };
    (request, response, outcome)
}

async fn decide_request(
    state: &AppState,
    endpoint: Endpoint,
    request: &mut AdmissionRequest<DynamicObject>,
    object: Option<&RawValue>,
) -> Result<(AdmissionResponse, Outcome), Refusal> {
    match endpoint {
        Endpoint::AdmissionReview => Ok(review(state, request, object).await),
        Endpoint::ValidatePolicy => validate(state, request, object),
    }
}

async fn review(
    state: &AppState,
    request: &AdmissionRequest<DynamicObject>,
    object: Option<&RawValue>,
) -> (AdmissionResponse, Outcome) {
    // Before the policies have synced the policy set is empty, and would allow everything.
    if let Some(reason) = state.caches.policies_not_loaded() {
        let message = format!("image-assurance cannot decide yet: {reason}; denied (fail closed)");
        let response = deny(request, 503, "ServiceUnavailable", &message);
        let outcome = Outcome {
            decision: "rejected",
            kind: request.kind.kind.clone(),
        };
        return (response, outcome);
    }
    let now = jiff::Timestamp::now();
    state
        .admitter
        .review_object(request, object.map(ReviewObject::Text), now)
        .await
}

fn validate(
    state: &AppState,
    request: &mut AdmissionRequest<DynamicObject>,
    object: Option<&RawValue>,
) -> Result<(AdmissionResponse, Outcome), Refusal> {
    // Policies are decoded from the kube object (not a hot path).
    request.object = object
        .map(|text| serde_json::from_str::<DynamicObject>(text.get()))
        .transpose()
        .map_err(|error| {
            (
                StatusCode::BAD_REQUEST,
                format!(
                    "malformed AdmissionReview: field `request.object`: {}",
                    bound(&error.to_string())
                ),
            )
        })?;
    let decided = state.admitter.validate_policy(request);
    // Not needed for the log line.
    request.object = None;
    Ok(decided)
}

async fn admission_review(State(state): State<Arc<AppState>>, request: Request<Body>) -> Response {
    let started = Instant::now();
    let limit = state.max_body_bytes;
    let (bytes, held) = match body::read(request, limit, state.read_timeout, &state.bodies).await {
        Ok(read) => read,
        Err(refusal) => return refusal.into_response(),
    };
    let (request, response, outcome) =
        match decide(&state, bytes, held, Endpoint::AdmissionReview).await {
            Ok(decided) => decided,
            Err(response) => return response,
        };
    record(
        &state,
        "admission-review",
        &request,
        outcome,
        started,
        &response.result.message,
    );
    json_response(review_json(response))
}

fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn validate_policy(State(state): State<Arc<AppState>>, request: Request<Body>) -> Response {
    let started = Instant::now();
    let limit = state.max_body_bytes;
    let (bytes, held) = match body::read(request, limit, state.read_timeout, &state.bodies).await {
        Ok(read) => read,
        Err(refusal) => return refusal.into_response(),
    };
    let (request, response, outcome) =
        match decide(&state, bytes, held, Endpoint::ValidatePolicy).await {
            Ok(decided) => decided,
            Err(response) => return response,
        };
    record(
        &state,
        "validate-policy",
        &request,
        outcome,
        started,
        &response.result.message,
    );
    json_response(review_json(response))
}
