//! `POST {prefix}/v1/actions/{name}`: the body is read whole first (a signed call's
//! signature covers its bytes), then the caller is checked by the action's named auth, then
//! the action runs.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;

use super::error::ActionError;
use super::{Actions, Guard, Target};
use crate::Auth;
use crate::auth::{AuthError, Authenticator};
use crate::config::AuthType;
use crate::http::ApiError;
use crate::http::body::json_body;

#[derive(Clone)]
struct RouteState {
    actions: Actions,
    limit: usize,
}

/// The action route at `path` (e.g. `/api/v1/actions/{name}`), with a body limit of
/// `limit` bytes for its messages.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(
    path: &str,
    actions: Actions,
    limit: usize,
) -> Router<S> {
    // The body extractor reads within the limit (the other routes read theirs by hand).
    Router::new()
        .route(path, post(call).fallback(method_not_allowed))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(RouteState { actions, limit })
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed { method }
}

async fn call(
    State(state): State<RouteState>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(name) = name.map_err(|e| {
        ApiError::BadRequest(format!("invalid action in the path: {}", e.body_text()))
    })?;
    let inner = &state.actions.inner;
    let Some(action) = inner.actions.get(name.as_str()) else {
        return Err(ActionError::NotFound {
            name: name.chars().take(64).collect(),
        }
        .into());
    };
    crate::observe::context::note_action(&action.name);
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge { limit: state.limit }
        } else {
            ApiError::BadRequest(format!(
                "cannot read the request body: {}",
                rejection.body_text()
            ))
        }
    })?;
    let auth = match &action.guard {
        Guard::Auth(authenticator) => authenticate(authenticator, &headers).await?,
        Guard::Hmac(verifier) => {
            if let Err(e) = verifier.verify(&headers, &body).await {
                // As an ActionError response: a 503 carries Retry-After.
                return Ok(ActionError::from(e).into_response());
            }
            Auth::anon()
        }
    };
    let input = json_body(&headers, body)?;
    match &action.target {
        Target::Sql(sql) => {
            sql.run(&inner.db, &action.name, &auth, input.as_deref())
                .await
        }
        Target::Webhook(hook) => {
            let client = inner
                .client
                .as_ref()
                .ok_or_else(|| ActionError::HandlerFailed {
                    action: action.name.clone(),
                    reason: "no HTTP client".to_owned(),
                })?;
            hook.call(client, &action.name, &auth, &headers, input.as_deref())
                .await
        }
    }
}

/// The caller by the action's named auth: its identity, or 401 for a missing or invalid
/// credential. An auth of `type: none` lets everyone in as `anon`.
async fn authenticate(auth: &Authenticator, headers: &HeaderMap) -> Result<Auth, ApiError> {
    match auth.authenticate(headers).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) if auth.kind() == AuthType::None => Ok(Auth::anon()),
        Ok(None) => Err(unauthenticated(AuthError::Missing)),
        Err(e) => Err(unauthenticated(e)),
    }
}

/// A 401, counted by kind in the metrics.
fn unauthenticated(e: AuthError) -> ApiError {
    crate::observe::context::note_auth_failure(&e);
    ApiError::Unauthenticated(e)
}
