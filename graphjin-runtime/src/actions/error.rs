//! What can go wrong with actions: at start-up ([`StartupError`]) and per call
//! ([`ActionError`]).

use std::time::Duration;

use axum::http::StatusCode;
use axum::http::header::{HeaderValue, RETRY_AFTER};
use axum::response::{IntoResponse, Response};

use super::signature::SignatureError;
use crate::config::ConfigError;
use crate::http::ApiError;

/// Why the actions could not be set up. Each names the action; none repeats a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The `actions:` (or `auths:`) config is unusable: an unknown `auth_name`, neither or
    /// both of `sql` and `url`, a bad header name, a missing secret, ...
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// An action's statement did not prepare, or does not fit its `params`.
    #[error("action \"{action}\": {message}")]
    Prepare {
        /// The action's name.
        action: String,
        /// PostgreSQL's message (or what does not fit).
        message: String,
    },

    /// No database connection could be had to prepare the statements.
    #[error("cannot prepare the actions' statements: {0}")]
    Database(#[from] crate::Error),

    /// The HTTP client for webhook actions could not be built.
    #[error("cannot build the HTTP client for webhook actions: {message}")]
    HttpClient {
        /// Why.
        message: String,
    },
}

/// A failed action call, or a call a [`super::VerifyAction`] layer refused. Rendered like
/// every other API error (`{"errors":[{"message","extensions":{"code"}}]}`); see
/// [`ActionError::status`] and [`ActionError::code`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// No action has this name (404, `ACTION_NOT_FOUND`).
    #[error("there is no action \"{name}\"")]
    NotFound {
        /// The name in the path (shortened).
        name: String,
    },

    /// The call's signature, timestamp or shared secret was refused (401,
    /// `UNAUTHENTICATED`; 503 with `Retry-After` when the replay cache is full or the replay
    /// store cannot be reached: [`SignatureError::is_unavailable`]).
    #[error("{0}")]
    Signature(#[from] SignatureError),

    /// A required parameter is missing or null (400, `BAD_USER_INPUT`).
    #[error("the action needs \"{name}\" in the request body")]
    MissingParam {
        /// The parameter's name.
        name: String,
    },

    /// The statement failed in the database (500; the detail is logged only).
    #[error("action \"{action}\" failed in the database: {message}")]
    Database {
        /// The action's name.
        action: String,
        /// PostgreSQL's message.
        message: String,
    },

    /// The handler could not be reached, or answered with an error or something that is
    /// not JSON (502, `ACTION_HANDLER_FAILED`).
    #[error("the handler of action \"{action}\" failed: {reason}")]
    HandlerFailed {
        /// The action's name.
        action: String,
        /// What happened, without the handler's URL.
        reason: String,
    },

    /// The handler did not answer in time (504, `ACTION_TIMEOUT`).
    #[error("the handler of action \"{action}\" did not answer within {after:?}")]
    Timeout {
        /// The action's name.
        action: String,
        /// The configured timeout.
        after: Duration,
    },

    /// A call's body is not the envelope a webhook action sends (400, `BAD_REQUEST`).
    #[error("the request body is not an action call: {0}")]
    BadEnvelope(String),

    /// [`super::SignedAction`] was used on a route without the [`super::VerifyAction`]
    /// layer (500): the call is refused rather than trusted unverified.
    #[error("SignedAction needs the VerifyAction layer on its route; refusing an unverified call")]
    NotVerified,
}

impl ActionError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ActionError::NotFound { .. } => StatusCode::NOT_FOUND,
            ActionError::Signature(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            ActionError::Signature(_) => StatusCode::UNAUTHORIZED,
            ActionError::MissingParam { .. } | ActionError::BadEnvelope(_) => {
                StatusCode::BAD_REQUEST
            }
            ActionError::Database { .. } | ActionError::NotVerified => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ActionError::HandlerFailed { .. } => StatusCode::BAD_GATEWAY,
            ActionError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The error code (`extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            ActionError::NotFound { .. } => "ACTION_NOT_FOUND",
            ActionError::Signature(e) if e.is_unavailable() => "SERVICE_UNAVAILABLE",
            ActionError::Signature(_) => "UNAUTHENTICATED",
            ActionError::MissingParam { .. } => "BAD_USER_INPUT",
            ActionError::BadEnvelope(_) => "BAD_REQUEST",
            ActionError::Database { .. } | ActionError::NotVerified => "INTERNAL_SERVER_ERROR",
            ActionError::HandlerFailed { .. } => "ACTION_HANDLER_FAILED",
            ActionError::Timeout { .. } => "ACTION_TIMEOUT",
        }
    }

    /// The message the client sees: the reason for client errors and the handler's
    /// failures, a generic text for server-side ones.
    pub fn public_message(&self) -> String {
        match self {
            ActionError::Database { .. } | ActionError::NotVerified => {
                "internal server error; the details are in the server's log".to_owned()
            }
            ActionError::Signature(e) if !e.is_unavailable() => {
                format!("authentication failed: {e}")
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ActionError {
    /// The error as JSON; a 503 says when to try again (`Retry-After: 1`).
    fn into_response(self) -> Response {
        let retry = matches!(&self, ActionError::Signature(e) if e.is_unavailable());
        let mut response = ApiError::Action(self).into_response();
        if retry {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
