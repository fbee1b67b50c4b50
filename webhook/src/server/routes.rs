//! The HTTPS endpoints: `POST /admission-review`, `POST /validate-policy`, `GET /healthz`,
//! `GET /readyz`. Every admission request is answered within a deadline well inside the API
//! server's webhook timeout; a decision that cannot finish in time is a denial (fail closed).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kube::core::DynamicObject;
use kube::core::admission::AdmissionRequest;

use super::caches::ClusterCaches;
use super::metrics::{Metrics, RequestLabels};
use crate::admission::handler::{Admitter, Outcome};
use crate::admission::review::{deny, read_request, review_json};

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

/// Reads at most `limit` bytes. Past the limit the rest is read and dropped, up to a bound, so
/// that a client still sending gets the 413 instead of a reset connection; a client sending
/// more than that is cut off.
async fn read_limited(body: Body, limit: usize) -> Result<Vec<u8>, Response> {
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {limit} bytes"),
        )
            .into_response()
    };
    let mut stream = body.into_data_stream();
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
        return Err(too_large());
    }
    Ok(bytes)
}

/// The AdmissionRequest of a body, or the 4xx that says what is wrong with it.
async fn read(
    state: &AppState,
    request: Request<Body>,
) -> Result<AdmissionRequest<DynamicObject>, Response> {
    let bytes = read_limited(request.into_body(), state.max_body_bytes).await?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|error| {
        (
            StatusCode::BAD_REQUEST,
            format!("the body is not a JSON AdmissionReview: {error}"),
        )
            .into_response()
    })?;
    let request = read_request(&value)
        .map_err(|error| (StatusCode::BAD_REQUEST, error.to_string()).into_response())?;
    if request.uid.is_empty() {
        return Err((
            StatusCode::BAD_REQUEST,
            "the AdmissionReview request has no uid",
        )
            .into_response());
    }
    Ok(request)
}

fn record(
    state: &AppState,
    endpoint: &str,
    request: &AdmissionRequest<DynamicObject>,
    outcome: &Outcome,
    started: Instant,
    message: &str,
) {
    let elapsed = started.elapsed();
    state.metrics.latency.observe(elapsed.as_secs_f64());
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            decision: outcome.decision.to_string(),
            kind: outcome.kind.clone(),
            endpoint: endpoint.to_string(),
        })
        .inc();
    tracing::info!(
        uid = %request.uid,
        kind = %outcome.kind,
        namespace = request.namespace.as_deref().unwrap_or(""),
        name = %request.name,
        operation = ?request.operation,
        decision = outcome.decision,
        latency_us = elapsed.as_micros() as u64,
        message,
        "admission"
    );
}

async fn admission_review(State(state): State<Arc<AppState>>, request: Request<Body>) -> Response {
    let started = Instant::now();
    let request = match read(&state, request).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let now = jiff::Timestamp::now();
    let (response, outcome) = match tokio::time::timeout(
        state.deadline,
        state.admitter.review(&request, now),
    )
    .await
    {
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
        &outcome,
        started,
        &response.result.message,
    );
    axum::Json(review_json(response)).into_response()
}

async fn validate_policy(State(state): State<Arc<AppState>>, request: Request<Body>) -> Response {
    let started = Instant::now();
    let request = match read(&state, request).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let (response, outcome) = state.admitter.validate_policy(&request);
    record(
        &state,
        "validate-policy",
        &request,
        &outcome,
        started,
        &response.result.message,
    );
    axum::Json(review_json(response)).into_response()
}
