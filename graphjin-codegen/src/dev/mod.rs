//! The development workflow (feature `dev`): a server that compiles any operation on the
//! fly, serves it with the production runtime, and records named ones into allow.list.

pub mod bridge;
pub mod introspect;
mod playground;
mod server;
mod subscriptions;

pub use server::{DevError, DevOptions, DevServer};
