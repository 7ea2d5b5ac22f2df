//! GraphJin for Rust, run-time half: everything that runs in production and knows no GraphQL.

pub mod operation;

pub use operation::{OpKind, Operation, Param, RoleStatement};
