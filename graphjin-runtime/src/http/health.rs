//! Health endpoints, for load balancers and orchestrators:
//!
//! | route | answers | use it as |
//! | --- | --- | --- |
//! | `GET /health/live` | always 200 `{"status":"ok"}` while the process serves HTTP; touches no database | liveness probe: a slow or absent database must not get a healthy process restarted |
//! | `GET /health/ready` | 200 `{"status":"ready","pool":{...}}` when the database answers (see [`Db::ready`](crate::Db::ready)); 503 `{"status":"unavailable",...}` when it does not, `{"status":"stopping",...}` once a shutdown began | readiness probe: send traffic here or not |
//! | `GET /health` | GraphJin's endpoint: the same check as `/health/ready`, answering 200 `{"status":"ok"}` or 503 `{"status":"unavailable"}` | what GraphJin users already probe |
//!
//! The check runs `SELECT 1` on a connection of its own, outside the pool (see
//! [`Db::health`](crate::Db::health)), so it answers for the database, not for the load: a
//! lock holding calls on a table, or a saturated pool, leaves the service ready.
//!
//! `pool` is `{"connections","in_flight","waiting","capacity","saturated","stalled"}`: a
//! saturated pool (every call slot taken) is still ready, and says so; `stalled` counts
//! connections stuck on a slow statement (new calls avoid them). Why the database is
//! unavailable goes to the log, not the response.
//!
//! With read replicas, readiness is the primary's (with every replica out, reads run on
//! the primary), and a ready answer adds `replicas`: one
//! `{"target","in_use","lag_ms","in_flight","reason"}` per replica
//! ([`Db::replica_status`](crate::Db::replica_status)), `reason` saying why one is out.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Service;

/// `GET /health/live`: 200 while the process serves.
pub(crate) async fn live() -> Response {
    json_response(StatusCode::OK, r#"{"status":"ok"}"#.to_owned())
}

/// `GET /health/ready`.
pub(crate) async fn ready(State(service): State<Arc<Service>>) -> Response {
    let (status, body) = match check(&service).await {
        Ok(pool) => {
            let mut body = json!({ "status": "ready", "pool": pool });
            let replicas = service.db.replica_status();
            if !replicas.is_empty() {
                body["replicas"] = json!(replicas);
            }
            (StatusCode::OK, body)
        }
        Err(state) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": state, "pool": service.db.pool_status() }),
        ),
    };
    json_response(status, body.to_string())
}

/// `GET /health`: GraphJin's endpoint, the readiness check with GraphJin's short answer.
pub(crate) async fn health(State(service): State<Arc<Service>>) -> Response {
    match check(&service).await {
        Ok(_) => json_response(StatusCode::OK, r#"{"status":"ok"}"#.to_owned()),
        Err(_) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":"unavailable"}"#.to_owned(),
        ),
    }
}

/// The pool's status when ready, else `stopping` or `unavailable`.
async fn check(service: &Service) -> Result<crate::db::PoolStatus, &'static str> {
    if service.subs.is_shut_down() {
        return Err("stopping");
    }
    service.db.ready().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        "unavailable"
    })
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}
