//! The executor's error: start-up problems (connecting, preparing), problems with what a
//! caller sent (variables), and database failures, each with the HTTP status and GraphQL
//! error code it maps to.
//!
//! Database failures say what to do: the database being away (a connection lost,
//! terminated or refused, SQLSTATE 57P01-57P03 and class 08) is [`Error::Unavailable`], a
//! 503 worth retrying; a statement over its time limit (the client's deadline, or
//! PostgreSQL's cancel, SQLSTATE 57014) is [`Error::Timeout`], a 504. What remains a 500
//! is a bug, logged with the operation and the SQLSTATE, never a variable's value.

use std::time::Duration;

use axum::http::StatusCode;

/// Everything [`crate::Db`] can fail with.
///
/// Messages are meant for the people who can fix them: start-up errors name the
/// operation, role and PostgreSQL's message; request errors name the variable and the
/// type it needs. None of them contain the database password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database URL could not be parsed.
    #[error(
        "invalid database URL: {message} (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DBNAME)"
    )]
    InvalidUrl {
        /// What is wrong with it (never the URL itself, which may hold a password).
        message: String,
    },

    /// A connection could not be opened.
    #[error("cannot connect to the database at {target}: {message}")]
    Connect {
        /// `user@host:port/dbname`, without the password.
        target: String,
        /// Why.
        message: String,
    },

    /// A statement of the operation table did not prepare: the SQL does not fit the
    /// database (a stale `db.graphql`, a missing migration).
    #[error("operation \"{operation}\", role \"{role}\": {message}")]
    Prepare {
        /// The operation's name.
        operation: String,
        /// The role whose statement failed.
        role: String,
        /// PostgreSQL's message.
        message: String,
    },

    /// A PostgreSQL enum differs from the schema snapshot the build used (a label added or
    /// removed, the type missing): pull the schema again and rebuild.
    #[error("enum {name}: {message}")]
    EnumMismatch {
        /// The enum's name.
        name: String,
        /// What differs.
        message: String,
    },

    /// An entry of the operation table is unusable (wrong result shape, parameter count or
    /// default), which means the generated code and this runtime disagree.
    #[error("operation \"{operation}\", role \"{role}\": {problem}")]
    InvalidOperation {
        /// The operation's name.
        operation: String,
        /// The role of the faulty statement.
        role: String,
        /// What is wrong.
        problem: String,
    },

    /// [`crate::Db::execute`] was given an operation that is not in the table the `Db` was
    /// connected with.
    #[error(
        "operation \"{0}\" is not in the operation table this Db was connected with; pass an entry of the OPERATIONS slice given to Db::connect"
    )]
    UnknownOperation(String),

    /// The operation has no statement for the caller's role.
    #[error("operation \"{operation}\" is not available to role \"{role}\"")]
    Forbidden {
        /// The operation's name.
        operation: &'static str,
        /// The caller's role.
        role: String,
    },

    /// A variable does not fit the type its statement uses it as.
    #[error("variable \"{name}\" must be {expected}, got {got}")]
    Variable {
        /// The variable's name without `$`.
        name: String,
        /// What it must be, e.g. `an integer (bigint)`.
        expected: String,
        /// What was sent, e.g. `a string`.
        got: &'static str,
    },

    /// Variables break the operation's `@constraint` rules (or a declared `!`).
    #[error(
        "variables of \"{operation}\" fail validation: {}",
        describe_failures(failures)
    )]
    Validation {
        /// The operation's name.
        operation: &'static str,
        /// Each broken rule: the variable and the rule's name.
        failures: Vec<(&'static str, &'static str)>,
    },

    /// The variables are not a JSON object.
    #[error("variables must be a JSON object, got {got}")]
    VariablesNotObject {
        /// What was sent instead.
        got: &'static str,
    },

    /// The variables are not valid JSON, or a typed caller's variables could not be
    /// serialized.
    #[error("variables are not valid JSON: {0}")]
    VariablesJson(#[source] serde_json::Error),

    /// PostgreSQL rejected a value the caller sent (SQLSTATE class 22, data exception).
    #[error("a variable's value was rejected by the database: {message}")]
    InvalidValue {
        /// PostgreSQL's message, which describes the value, not the data.
        message: String,
    },

    /// The statement would break an integrity constraint (SQLSTATE class 23).
    #[error("{message}")]
    Constraint {
        /// Which kind of constraint and its name.
        message: String,
    },

    /// No connection could be had in time, or the connection broke: worth retrying (a
    /// 503 with `Retry-After`). A mutation that failed this way may or may not have been
    /// applied; it is never run twice.
    #[error("the database is unavailable: {message}")]
    Unavailable {
        /// Why.
        message: String,
    },

    /// The statement did not finish within its time limit (`statement_timeout`, or the
    /// operation's entry in `operation_timeouts`), or PostgreSQL cancelled it: a 504. A
    /// mutation cut off by the client-side deadline may still be applied.
    #[error("operation \"{operation}\" did not finish within {}", describe_limit(*limit))]
    Timeout {
        /// The operation's name.
        operation: &'static str,
        /// The limit it ran against; `None` when PostgreSQL cancelled the statement on its
        /// own (its `statement_timeout`, or an administrator's `pg_cancel_backend`).
        limit: Option<Duration>,
    },

    /// A prepared statement was missing on the server (SQLSTATE 26000,
    /// `invalid_sql_statement_name`): the connection does not keep what was prepared on
    /// it, as behind PgBouncer in `transaction` pooling mode. A 503 naming
    /// `database.statement_mode`: set it to `unnamed` there. The call was not run.
    #[error(
        "operation \"{operation}\": {message}; the database connection does not keep prepared statements (PgBouncer in transaction pooling mode?): set `database.statement_mode: unnamed`"
    )]
    StatementMissing {
        /// The operation's name.
        operation: &'static str,
        /// PostgreSQL's message (`prepared statement "s3" does not exist`).
        message: String,
    },

    /// Pool options that cannot work together, e.g. a session setting with
    /// `statement_mode: unnamed`.
    #[error("`database.{option}`: {message}")]
    Options {
        /// The config key under `database:`.
        option: &'static str,
        /// Why, and what to do instead.
        message: String,
    },

    /// Any other database failure.
    #[error("operation \"{operation}\" failed in the database: {message}")]
    Database {
        /// The operation's name.
        operation: &'static str,
        /// PostgreSQL's (or the driver's) message.
        message: String,
    },

    /// A subscription was asked for an operation that is a query or mutation.
    #[error(
        "operation \"{operation}\" is a {kind}, not a subscription: run it with Db::run or over HTTP"
    )]
    NotSubscription {
        /// The operation's name.
        operation: &'static str,
        /// `query` or `mutation`.
        kind: &'static str,
    },

    /// A subscriber did not take its results as fast as they came, so it was dropped.
    #[error(
        "subscription \"{operation}\" was dropped: the subscriber did not keep up (its queue of {capacity} results was full)"
    )]
    Lagged {
        /// The subscription's name.
        operation: &'static str,
        /// The queue's size.
        capacity: usize,
    },

    /// The credentials a subscription was started with expired (see
    /// [`crate::Auth::expires_at`]), so it ended.
    #[error(
        "subscription \"{operation}\" ended: the caller's credentials expired; subscribe again with fresh credentials (e.g. a new token)"
    )]
    CredentialsExpired {
        /// The subscription's name.
        operation: &'static str,
    },

    /// The statement's JSON does not deserialize into the caller's type: the generated
    /// types and the SQL disagree.
    #[error("operation \"{operation}\": the result does not match the Rust type: {source}")]
    Decode {
        /// The operation's name.
        operation: &'static str,
        /// serde_json's error, with line and column in the result.
        #[source]
        source: serde_json::Error,
    },
}

/// `its time limit of 2s`, or PostgreSQL's own cancel.
fn describe_limit(limit: Option<Duration>) -> String {
    match limit {
        Some(d) => format!(
            "its time limit of {}",
            graphjin_config::format_go_duration(d)
        ),
        None => "the time PostgreSQL allowed it (the statement was cancelled)".to_owned(),
    }
}

/// `variable "email" (format), variable "id" (greaterThan)`.
fn describe_failures(failures: &[(&str, &str)]) -> String {
    failures
        .iter()
        .map(|(v, r)| format!("variable \"{v}\" ({r})"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// The HTTP status this error maps to: 4xx for what a client sent, 5xx otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Variable { .. }
            | Error::Validation { .. }
            | Error::VariablesNotObject { .. }
            | Error::VariablesJson(_)
            | Error::InvalidValue { .. }
            | Error::Constraint { .. }
            | Error::NotSubscription { .. } => StatusCode::BAD_REQUEST,
            Error::Forbidden { role, .. } if role == crate::Auth::ANON => StatusCode::UNAUTHORIZED,
            Error::CredentialsExpired { .. } => StatusCode::UNAUTHORIZED,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::Unavailable { .. }
            | Error::Connect { .. }
            | Error::Lagged { .. }
            | Error::StatementMissing { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Error::InvalidUrl { .. }
            | Error::Prepare { .. }
            | Error::EnumMismatch { .. }
            | Error::InvalidOperation { .. }
            | Error::UnknownOperation(_)
            | Error::Options { .. }
            | Error::Database { .. }
            | Error::Decode { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The GraphQL error code (`extensions.code`) this error maps to.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Variable { .. } | Error::InvalidValue { .. } | Error::Validation { .. } => {
                "BAD_USER_INPUT"
            }
            Error::VariablesNotObject { .. }
            | Error::VariablesJson(_)
            | Error::NotSubscription { .. } => "BAD_REQUEST",
            Error::Lagged { .. } => "SUBSCRIPTION_LAGGED",
            Error::Constraint { .. } => "CONSTRAINT_VIOLATION",
            Error::Forbidden { role, .. } if role == crate::Auth::ANON => "UNAUTHENTICATED",
            Error::CredentialsExpired { .. } => "UNAUTHENTICATED",
            Error::Forbidden { .. } => "FORBIDDEN",
            Error::Unavailable { .. } | Error::Connect { .. } | Error::StatementMissing { .. } => {
                "SERVICE_UNAVAILABLE"
            }
            Error::Timeout { .. } => "TIMEOUT",
            _ => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The message a client may see: the full message for 4xx errors, a generic one for
    /// 5xx errors (whose detail belongs in the server's log).
    pub fn public_message(&self) -> String {
        match self {
            Error::Forbidden { operation, role } if role == crate::Auth::ANON => {
                format!("operation \"{operation}\" needs a signed-in user")
            }
            e if e.status().is_client_error() => e.to_string(),
            Error::Lagged { .. } => self.to_string(),
            Error::Timeout { .. } => format!("{self}; try again later, or ask for less"),
            Error::Unavailable { .. } | Error::Connect { .. } => {
                "the database is unavailable; try again later".to_owned()
            }
            Error::StatementMissing { .. } => STATEMENT_MISSING.to_owned(),
            _ => "internal server error; the details are in the server's log".to_owned(),
        }
    }

    /// Classifies a failure of running a statement.
    pub(crate) fn from_query(operation: &'static str, e: tokio_postgres::Error) -> Error {
        Error::from_query_within(operation, None, e)
    }

    /// Classifies a failure of running a statement of `operation`, which ran against
    /// `limit`: a value or constraint PostgreSQL refused is the caller's (400), a lost
    /// connection is [`Error::Unavailable`], a cancelled statement [`Error::Timeout`], and
    /// anything else [`Error::Database`] with the SQLSTATE.
    pub(crate) fn from_query_within(
        operation: &'static str,
        limit: Option<Duration>,
        e: tokio_postgres::Error,
    ) -> Error {
        if let Some(db) = e.as_db_error() {
            let code = db.code().code();
            if code.starts_with("22") {
                return Error::InvalidValue {
                    message: db.message().to_owned(),
                };
            }
            if code.starts_with("23") {
                return Error::Constraint {
                    message: constraint_message(code, db.constraint(), db.column()),
                };
            }
            if code == "57014" {
                return Error::Timeout { operation, limit };
            }
            if code == "26000" {
                warn_statement_missing(db.message());
                return Error::StatementMissing {
                    operation,
                    message: db.message().to_owned(),
                };
            }
        }
        if is_lost(&e) {
            return Error::Unavailable {
                message: pg_message(&e),
            };
        }
        Error::Database {
            operation,
            message: match e.code() {
                Some(code) => format!("{} (SQLSTATE {})", pg_message(&e), code.code()),
                None => pg_message(&e),
            },
        }
    }
}

/// What a client is told when a prepared statement went missing.
const STATEMENT_MISSING: &str = "the database connection lost a prepared statement (PgBouncer in transaction pooling mode does not keep them): the operator must set `database.statement_mode: unnamed`; try again later";

/// What an operator is told, with PostgreSQL's message, when a prepared statement went
/// missing (SQLSTATE 26000).
const STATEMENT_MISSING_HINT: &str = "the connection does not keep prepared statements, as behind PgBouncer in transaction pooling mode: set `database.statement_mode: unnamed`";

/// Logs, once per process, that prepared statements go missing (every call that meets
/// one fails with a 503 as well).
fn warn_statement_missing(message: &str) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            error = message,
            "{STATEMENT_MISSING_HINT} (logged once; each call that meets a missing statement answers 503)"
        );
    }
}

/// Whether `e` means the connection is gone, not that the statement failed: closed, an
/// I/O error, the server shutting down or terminating the session (SQLSTATE 57P01
/// `admin_shutdown`, 57P02 `crash_shutdown`, 57P03 `cannot_connect_now`), or a
/// connection exception (class 08).
pub(crate) fn is_lost(e: &tokio_postgres::Error) -> bool {
    if let Some(code) = e.code() {
        let code = code.code();
        return matches!(code, "57P01" | "57P02" | "57P03") || code.starts_with("08");
    }
    e.is_closed() || is_io(e)
}

fn is_io(e: &tokio_postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

fn constraint_message(code: &str, constraint: Option<&str>, column: Option<&str>) -> String {
    let kind = match code {
        "23502" => {
            return match column {
                Some(c) => format!("the value for column \"{c}\" must not be null"),
                None => "a required value is null".to_owned(),
            };
        }
        "23503" => "foreign key",
        "23505" => "unique",
        "23514" => "check",
        "23P01" => "exclusion",
        _ => "integrity",
    };
    match constraint {
        Some(name) => format!("the data violates the {kind} constraint \"{name}\""),
        None => format!("the data violates a {kind} constraint"),
    }
}

/// The driver's message with its causes, and for database errors PostgreSQL's message and
/// hint. tokio-postgres never puts the password into these.
pub(crate) fn pg_message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return match db.hint() {
            Some(hint) => format!("{} (hint: {hint})", db.message()),
            None if db.code().code() == "26000" => {
                format!("{} ({STATEMENT_MISSING_HINT})", db.message())
            }
            None => db.message().to_owned(),
        };
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_message() {
        let e = Error::Variable {
            name: "id".into(),
            expected: "an integer (bigint)".into(),
            got: "a string",
        };
        assert_eq!(
            e.to_string(),
            "variable \"id\" must be an integer (bigint), got a string"
        );
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.code(), "BAD_USER_INPUT");
    }

    #[test]
    fn server_errors_hide_detail() {
        let e = Error::Database {
            operation: "x",
            message: "secret detail".into(),
        };
        assert!(!e.public_message().contains("secret"));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn timeouts_name_the_operation_and_the_limit() {
        let e = Error::Timeout {
            operation: "listProducts",
            limit: Some(Duration::from_millis(2500)),
        };
        assert_eq!(
            e.to_string(),
            "operation \"listProducts\" did not finish within its time limit of 2500ms"
        );
        assert_eq!(e.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(e.code(), "TIMEOUT");
        assert!(
            e.public_message().contains("2500ms"),
            "{}",
            e.public_message()
        );
        let e = Error::Timeout {
            operation: "x",
            limit: None,
        };
        assert!(e.to_string().contains("cancelled"), "{e}");
    }

    #[test]
    fn a_missing_statement_is_a_503_naming_statement_mode() {
        let e = Error::StatementMissing {
            operation: "listProducts",
            message: "prepared statement \"s3\" does not exist".into(),
        };
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code(), "SERVICE_UNAVAILABLE");
        assert!(e.public_message().contains("statement_mode: unnamed"));
        assert!(e.to_string().contains("\"s3\""), "{e}");
        assert!(e.to_string().contains("statement_mode: unnamed"), "{e}");
    }

    #[test]
    fn expired_credentials_are_unauthenticated() {
        let e = Error::CredentialsExpired { operation: "watch" };
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(e.code(), "UNAUTHENTICATED");
        assert!(e.public_message().contains("fresh credentials"));
    }
}
