//! The HTTP error: every way a request can fail, rendered as GraphQL-over-HTTP errors
//! (`{"errors":[{"message","extensions":{"code"}}]}`) with a fitting status.
//!
//! | code | status | when |
//! | --- | --- | --- |
//! | `BAD_REQUEST` | 400 | malformed JSON, variables not an object, no operation named, batches |
//! | `BAD_USER_INPUT` | 400 | a variable of the wrong type; a value PostgreSQL rejects (SQLSTATE class 22) |
//! | `CONSTRAINT_VIOLATION` | 400 | the write breaks a constraint (SQLSTATE class 23) |
//! | `OPERATION_NOT_ALLOWED` | 400 | the operation (by name or text) is not in the allow list |
//! | `PERSISTED_QUERY_NOT_FOUND` | 400 | an unknown persisted-query hash without query text |
//! | `QUERY_MISMATCH` | 400 | the request's query text (or hash) differs from the listed operation's |
//! | `SUBSCRIPTION_OVER_HTTP` | 400 | a subscription sent as a plain HTTP request |
//! | `UNAUTHENTICATED` | 401 | the operation has no statement for `anon`: sign in; or, under `auth_fail_block`, the credential sent is invalid; or a subscription's credentials expired |
//! | `FORBIDDEN` | 403 | the operation has no statement for the caller's role |
//! | `ACTION_NOT_FOUND` | 404 | `POST {prefix}/v1/actions/{name}` names no configured action |
//! | `METHOD_NOT_ALLOWED` | 405 | a mutation via GET, or a method the route does not serve |
//! | `NOT_ACCEPTABLE` | 406 | the GraphQL route's `Accept` allows neither `application/graphql-response+json` nor `application/json` |
//! | `PAYLOAD_TOO_LARGE` | 413 | the body is over the limit |
//! | `UNSUPPORTED_MEDIA_TYPE` | 415 | a body that is not `application/json` |
//! | `INTERNAL_SERVER_ERROR` | 500 | anything else; the detail goes to the log, not the client |
//! | `SERVICE_UNAVAILABLE` | 503 | no database connection could be had, or it was lost under the call (with `Retry-After: 1`); too many signed action calls inside the time window |
//! | `TIMEOUT` | 504 | the operation did not finish within its time limit (`database.statement_timeout`, or its entry in `database.operation_timeouts`); the message names the operation and the limit |
//! | `ACTION_HANDLER_FAILED` | 502 | a webhook action's handler could not be reached, failed, or answered no JSON |
//! | `ACTION_TIMEOUT` | 504 | a webhook action's handler did not answer in time |
//!
//! A refused action caller (missing or wrong secret header, bad HMAC signature, stale
//! timestamp, replay) gets 401 `UNAUTHENTICATED`.
//!
//! An operation missing from the allow list is a 400 (not a 404) on both the GraphQL and the
//! REST route: the endpoint exists, the request asks for something it does not serve.
//!
//! These are the statuses of `application/json` responses. A GraphQL request that accepts
//! `application/graphql-response+json` gets that media type with the same statuses, except
//! for execution errors (`CONSTRAINT_VIOLATION`): 200 with `"data": null` beside the
//! `errors` (see [`Media`](super::Media)).

use axum::http::header::{ALLOW, CONNECTION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::media::Media;
use crate::Error;

/// A failed request. Implements [`IntoResponse`], so handlers of your own can return it
/// too (`?` converts an executor [`Error`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),

    /// The body is larger than the configured limit.
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },

    /// The body is not JSON.
    #[error("the request body must be JSON: send Content-Type: application/json (got {got})")]
    UnsupportedMediaType {
        /// The content type sent, or `none`.
        got: String,
    },

    /// The named operation is not in the allow list.
    #[error("operation \"{name}\" is not in the allow list")]
    NotAllowed {
        /// The name the request used.
        name: String,
    },

    /// Query text without a name matched no operation.
    #[error(
        "this query is not in the allow list: send the text of a listed operation, or its operationName"
    )]
    QueryNotAllowed,

    /// A persisted-query hash matched no operation and no query text came with it.
    #[error("persisted query {hash} is not in the allow list")]
    PersistedQueryNotFound {
        /// The hash sent.
        hash: String,
    },

    /// The request's query text or hash differs from the listed operation's.
    #[error("the query {what} for {name} differs from the allow list's")]
    QueryMismatch {
        /// The operation's name.
        name: &'static str,
        /// `text` or `hash`.
        what: &'static str,
    },

    /// A mutation sent with GET.
    #[error("operation \"{name}\" is a mutation: send it with POST")]
    MutationViaGet {
        /// The operation's name.
        name: &'static str,
    },

    /// A subscription sent as a plain HTTP request.
    #[error(
        "operation \"{name}\" is a subscription: subscribe over a WebSocket at GET {path} (protocol graphql-transport-ws)"
    )]
    SubscriptionOverHttp {
        /// The operation's name.
        name: &'static str,
        /// The GraphQL endpoint's path.
        path: String,
    },

    /// The GraphQL route's `Accept` header allows neither response media type.
    #[error(
        "the Accept header allows neither application/graphql-response+json nor application/json (got {got})"
    )]
    NotAcceptable {
        /// The `Accept` header sent (shortened).
        got: String,
    },

    /// The route does not serve this HTTP method.
    #[error("method {method} is not allowed here")]
    MethodNotAllowed {
        /// The method used.
        method: Method,
    },

    /// The credential is invalid (under `auth_fail_block`) or missing where required.
    #[error("{0}")]
    Unauthenticated(#[from] crate::auth::AuthError),

    /// The executor failed.
    #[error(transparent)]
    Db(#[from] Error),

    /// An action call failed (see [`crate::actions`]).
    #[error(transparent)]
    Action(#[from] crate::actions::ActionError),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_)
            | ApiError::NotAllowed { .. }
            | ApiError::QueryNotAllowed
            | ApiError::PersistedQueryNotFound { .. }
            | ApiError::QueryMismatch { .. }
            | ApiError::SubscriptionOverHttp { .. } => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable { .. } => StatusCode::NOT_ACCEPTABLE,
            ApiError::MutationViaGet { .. } | ApiError::MethodNotAllowed { .. } => {
                StatusCode::METHOD_NOT_ALLOWED
            }
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Db(e) => e.status(),
            ApiError::Action(e) => e.status(),
        }
    }

    /// The GraphQL error code (`extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            ApiError::UnsupportedMediaType { .. } => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::NotAcceptable { .. } => "NOT_ACCEPTABLE",
            ApiError::NotAllowed { .. } | ApiError::QueryNotAllowed => "OPERATION_NOT_ALLOWED",
            ApiError::PersistedQueryNotFound { .. } => "PERSISTED_QUERY_NOT_FOUND",
            ApiError::QueryMismatch { .. } => "QUERY_MISMATCH",
            ApiError::SubscriptionOverHttp { .. } => "SUBSCRIPTION_OVER_HTTP",
            ApiError::MutationViaGet { .. } | ApiError::MethodNotAllowed { .. } => {
                "METHOD_NOT_ALLOWED"
            }
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Db(e) => e.code(),
            ApiError::Action(e) => e.code(),
        }
    }

    /// The message the client sees (generic for 5xx).
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Db(e) => e.public_message(),
            ApiError::Action(e) => e.public_message(),
            ApiError::Unauthenticated(e) => e.public_message(),
            other => other.to_string(),
        }
    }

    /// Whether the operation ran and PostgreSQL refused what it did (a constraint): a
    /// GraphQL execution error, answered 200 with `"data": null` under
    /// `application/graphql-response+json`. Every other error is a request error (or the
    /// service's own failure) and has no `data`.
    pub fn is_execution_error(&self) -> bool {
        matches!(self, ApiError::Db(Error::Constraint { .. }))
    }

    /// The error as a response of media type `media` (see [`Media`]).
    pub fn response(self, media: Media) -> Response {
        let code = self.code();
        let mut status = self.status();
        if status.is_server_error() {
            tracing::error!(code, error = %self, "request failed");
        } else {
            tracing::debug!(code, error = %self, "request rejected");
        }
        let error =
            serde_json::json!({ "message": self.public_message(), "extensions": { "code": code } });
        let body = if media == Media::GraphqlResponse && self.is_execution_error() {
            status = StatusCode::OK;
            serde_json::json!({ "data": null, "errors": [error] })
        } else {
            serde_json::json!({ "errors": [error] })
        };
        let mut response = (
            status,
            [(CONTENT_TYPE, media.content_type())],
            body.to_string(),
        )
            .into_response();
        match self {
            ApiError::MutationViaGet { .. } => {
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("POST"));
            }
            // The rest of the body was never read, so the connection cannot carry another
            // request: say so, or the client may send its next request on it and lose it.
            ApiError::PayloadTooLarge { .. } => {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            // The database is away for now (a lost connection, an outage): worth retrying.
            ApiError::Db(Error::Unavailable { .. } | Error::Connect { .. }) => {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.response(Media::Json)
    }
}
