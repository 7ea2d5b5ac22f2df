//! The development workflow (feature `dev`): a server that compiles any operation on the
//! fly (queries and mutations over HTTP, subscriptions over its WebSocket), serves it with
//! the production runtime, and records named ones into allow.list; it also answers
//! introspection ([`introspect`]) from `db.graphql` and the config.

pub mod bridge;
pub mod introspect;
mod playground;
mod server;
mod subscriptions;

pub use server::{DevError, DevOptions, DevServer};
