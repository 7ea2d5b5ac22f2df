//! GraphJin for Rust, run-time half: everything that runs in production and knows no GraphQL.
//!
//! The build turns each allow-listed operation into one SQL statement per role and emits
//! them as a static [`Operation`] table. This crate serves that table:
//!
//! - [`Db`]: a connection pool on which every statement is prepared for every role at
//!   start-up; [`Db::execute`] returns an operation's `data` as raw JSON bytes and
//!   [`Db::run`] deserializes it into the generated types.
//! - [`Auth`]: who is calling, and so which role's statement runs; [`auth`] establishes it
//!   (JWT, header, named auths) and [`Config`] reads the run-time part of the YAML config.
//! - [`router`]: the HTTP routes (GraphQL over HTTP, REST by operation name, health).
//! - [`actions`]: configured SQL statements and webhook handlers at
//!   `POST {prefix}/v1/actions/{name}`, guarded by named auths (shared-secret headers,
//!   HMAC-signed calls, JWT), and [`actions::VerifyAction`] for handlers of your own.
//! - [`Subscriptions`]: subscriptions polled in batches (one statement per poll for all
//!   subscribers of an operation and role), as typed streams ([`Subscription`]) and over
//!   WebSocket at `GET {prefix}/v1/graphql` (`graphql-transport-ws`), see [`subs`].
//! - [`cursor`]: cursor pagination's `<field>_cursor` values sealed as GraphJin seals them
//!   (AES-256-GCM under `sha256(secret_key)`, `__gj/enc:`), and `$cursor` opened before it
//!   is bound; operations that do not page pass through untouched.
//! - [`observe`]: logs ([`observe::logging::init`]), a span and request id per request,
//!   Prometheus metrics.
//! - [`types::Numeric`]: exact `numeric` values for generated structs.

#![warn(missing_docs)]

pub mod actions;
pub mod auth;
mod bounded;
mod call;
mod catalog;
pub mod config;
mod conn;
pub mod cursor;
mod db;
mod deadline;
mod error;
mod exec;
pub mod http;
pub mod observe;
pub mod operation;
mod pgtype;
mod pool;
mod prepare;
mod probe;
pub mod replicas;
mod role_cache;
mod roles;
mod scratch;
mod signed_in;
pub mod subs;
pub mod types;
pub mod validate;
mod vars;

pub use auth::{Auth, AuthError, AuthLayer, AuthRegistry, Authenticator};
pub use config::{Config, ConfigError};
pub use cursor::CursorKey;
pub use db::{Db, DbBuilder, PoolOptions, PoolStats};
pub use error::Error;
pub use exec::StatementMode;
/// TLS to PostgreSQL (GraphJin's `database.enable_tls` keys, libpq's `sslmode`), for
/// [`DbBuilder::tls`].
pub use graphjin_pgtls::{SslMode, TlsOptions};
pub use http::{ApiError, Service, router};
pub use operation::{
    Access, Batch, EnumType, OpKind, Operation, Param, RoleQuery, RoleStatement, SignedIn,
    SignedInBranch,
};
pub use replicas::{ReplicaStatus, ReplicaUrl};
pub use subs::{SubsOptions, Subscription, Subscriptions};

/// axum, re-exported so apps and generated code use the version [`router`] is built with
/// (`graphjin_runtime::axum::serve(listener, app)`).
pub use axum;
/// serde, re-exported for the derives in generated code.
pub use serde;
/// serde_json, re-exported for generated code (`serde_json::Value` fields).
pub use serde_json;
