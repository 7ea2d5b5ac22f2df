//! (g): an axum + tokio-postgres handler for `getProduct` alone, as one would write it by
//! hand: parse the body, run the prepared statement on the next connection, wrap
//! PostgreSQL's JSON text in `{"data":...}`. The benches measure the runtime against it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use graphjin_runtime::axum::Router;
use graphjin_runtime::axum::extract::State;
use graphjin_runtime::axum::http::{StatusCode, header};
use graphjin_runtime::axum::response::{IntoResponse, Response};
use graphjin_runtime::axum::routing::post;
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, Statement};

/// A `json`/`jsonb` column's bytes as PostgreSQL sent them, unparsed.
pub(crate) struct JsonBytes<'a>(pub(crate) &'a [u8]);

impl<'a> FromSql<'a> for JsonBytes<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(JsonBytes(raw))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON
    }
}

/// The request body's part the handler reads.
#[derive(serde::Deserialize)]
struct Request {
    variables: Variables,
}

#[derive(serde::Deserialize)]
struct Variables {
    id: i64,
}

/// The connections with the statement prepared on each, taken in turn.
struct Conns {
    all: Vec<(Client, Statement)>,
    next: AtomicUsize,
}

/// The handler at `path`, on `conns` (each with `getProduct`'s statement prepared).
pub(crate) fn router(path: &str, conns: Vec<(Client, Statement)>) -> Router {
    let state = Arc::new(Conns {
        all: conns,
        next: AtomicUsize::new(0),
    });
    Router::new()
        .route(path, post(get_product))
        .with_state(state)
}

async fn get_product(State(conns): State<Arc<Conns>>, body: Bytes) -> Response {
    let request: Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let n = conns.next.fetch_add(1, Ordering::Relaxed) % conns.all.len();
    let (client, statement) = &conns.all[n];
    let id = request.variables.id.to_string();
    let row = match client.query_one(statement, &[&id]).await {
        Ok(row) => row,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let json: JsonBytes<'_> = match row.try_get(0) {
        Ok(json) => json,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let mut out = Vec::with_capacity(json.0.len() + 9);
    out.extend_from_slice(b"{\"data\":");
    out.extend_from_slice(json.0);
    out.push(b'}');
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}
