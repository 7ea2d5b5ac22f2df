//! `GET /health`: is the service up and the database reachable.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::Service;

/// 200 `{"status":"ok"}` when the database answers `SELECT 1` in time, else 503
/// `{"status":"unavailable"}` (the reason goes to the log).
pub(crate) async fn health(State(service): State<Arc<Service>>) -> Response {
    let (status, body) = match service.db.health().await {
        Ok(()) => (StatusCode::OK, r#"{"status":"ok"}"#),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unavailable"}"#,
            )
        }
    };
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}
