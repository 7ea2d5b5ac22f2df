//! GraphJin for Rust, development half: the tools a developer runs, kept out of the build.
//!
//! - [`DevServer`]: a server that compiles any operation on the fly (queries and mutations
//!   over HTTP, subscriptions over its WebSocket), serves it with the production runtime
//!   ([`bridge`] turns the compile result into the runtime's `'static` table), and records
//!   named ones into allow.list; it also answers introspection ([`introspect`]) from
//!   `db.graphql` and the config, and serves a playground page.
//! - [`schema_pull`]: reads a live database's catalog and writes `db.graphql`.
//! - The `graphjin` command line (`src/bin/graphjin`): `schema pull`, `check`, `sql`,
//!   `audit`, `openapi`, `typescript` and `dev`, over this crate and graphjin-codegen's
//!   public API.
//!
//! graphjin-codegen, which an application's `build.rs` runs, stays a plain synchronous
//! compiler: the async stack (tokio, hyper, the runtime, a WebSocket library) and clap are
//! dependencies of this crate only.

pub mod bridge;
pub mod introspect;
mod playground;
pub mod schema_pull;
mod server;
mod subscriptions;

pub use server::{DevError, DevOptions, DevServer};
