//! GraphJin for Rust, build-time half: everything that knows GraphQL.
//!
//! The pipeline reads like the product works:
//! read the files ([`allowlist`], [`schema`], [`config`]) -> parse each operation ([`gql`]) ->
//! check and plan it against the schema for every role -> render PostgreSQL ([`compile`]).

pub mod allowlist;
pub mod compile;
pub mod config;
pub mod gql;
pub mod schema;
pub mod source;
