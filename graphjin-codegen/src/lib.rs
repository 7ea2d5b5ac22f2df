//! GraphJin for Rust, build-time half: everything that knows GraphQL.
//!
//! The pipeline reads like the product works: read the config folder ([`allowlist`],
//! [`schema`], [`config`]) -> parse each operation ([`gql`]) -> plan it against the schema
//! and the role's rules, lower the plan to an SQL tree and print PostgreSQL, for every role
//! ([`compile`]). [`Project`] runs it, into one [`Compiled`] result:
//!
//! ```no_run
//! let project = graphjin_codegen::Project::load("config".as_ref())?;
//! let operations = project.compile().map_err(|errors| errors.into_iter().next().unwrap())?;
//! for op in &operations {
//!     println!("{}: {}", op.name, op.roles[0].1.sql);
//! }
//! # Ok::<(), graphjin_codegen::Error>(())
//! ```

pub mod allowlist;
pub mod compile;
mod compiled;
pub mod config;
mod error;
pub mod gql;
pub mod origin;
mod project;
pub mod record;
pub mod schema;
pub mod source;
pub mod tools;

pub use compiled::Compiled;
pub use error::Error;
pub use graphjin_normalize::normalize;
pub use project::{CompiledOperation, One, Project, VariableSpec, parse_at};
pub mod emit;
pub mod runtime_table;
