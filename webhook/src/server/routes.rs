//! The HTTPS endpoints: `POST /admission-review`, `POST /validate-policy`, `GET /healthz`,
//! `GET /readyz`. Every admission request is answered within a deadline well inside the API
//! server's webhook timeout; a decision that cannot finish in time is a denial (fail closed).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kube::core::DynamicObject;
use kube::core::admission::AdmissionRequest;

use super::caches::ClusterCaches;
use super::metrics::{Metrics, RequestLabels};
use crate::admission::handler::{Admitter, Outcome, ReviewObject};
use crate::admission::review::{TextRequest, deny, read_request_text, review_json};

pub struct AppState {
    pub admitter: Admitter<Arc<ClusterCaches>>,
    pub caches: Arc<ClusterCaches>,
    pub metrics: Arc<Metrics>,
    pub max_body_bytes: usize,
    pub deadline: Duration,
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

/// A request body of at most `max_body_bytes`. Past the limit the rest is read and dropped, up
/// to a bound, so that a client still sending gets the 413 instead of a reset connection; a
/// client sending more than that is cut off.
async fn body(state: &AppState, request: Request<Body>) -> Result<Bytes, Response> {
    let limit = state.max_body_bytes;
    let mut stream = request.into_body().into_data_stream();
    let mut bytes = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        let chunk = chunk.map_err(|error| {
            (
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {error}"),
            )
                .into_response()
        })?;
        total += chunk.len();
        if total <= limit {
            bytes.extend_from_slice(&chunk);
        } else if total > limit.saturating_mul(4) {
            break;
        }
    }
    if total > limit {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {limit} bytes"),
        )
            .into_response());
    }
    Ok(Bytes::from(bytes))
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
        kind: outcome.kind,
        endpoint,
    };
    state.metrics.requests.get_or_create(&labels).inc();
    tracing::info!(
        uid = %request.uid,
        kind = %labels.kind,
        namespace = request.namespace.as_deref().unwrap_or(""),
        name = %request.name,
        operation = ?request.operation,
        decision = labels.decision,
        latency_us = elapsed.as_micros() as u64,
        message,
        "admission"
    );
}

async fn admission_review(State(state): State<Arc<AppState>>, request: Request<Body>) -> Response {
    let started = Instant::now();
    let bytes = match body(&state, request).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let TextRequest { request, object } = match read(&bytes) {
        Ok(read) => read,
        Err(refusal) => return refusal.into_response(),
    };
    let now = jiff::Timestamp::now();
    let review = state
        .admitter
        .review_object(&request, object.map(ReviewObject::Text), now);
    let (response, outcome) = match tokio::time::timeout(state.deadline, review).await {
        Ok(answer) => answer,
        Err(_) => {
            let message = format!(
                "the image-assurance decision did not complete within {:?}; denied (fail closed)",
                state.deadline
            );
            (
                deny(&request, 500, "InternalError", &message),
                Outcome {
                    decision: "rejected",
                    kind: request.kind.kind.clone(),
                },
            )
        }
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
    let bytes = match body(&state, request).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let TextRequest {
        mut request,
        object,
    } = match read(&bytes) {
        Ok(read) => read,
        Err(refusal) => return refusal.into_response(),
    };
    // Policies are decoded from the kube object (not a hot path).
    request.object = match object
        .map(|text| serde_json::from_str::<DynamicObject>(text.get()))
        .transpose()
    {
        Ok(object) => object,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("malformed AdmissionReview: field `request.object`: {error}"),
            )
                .into_response();
        }
    };
    let (response, outcome) = state.admitter.validate_policy(&request);
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
