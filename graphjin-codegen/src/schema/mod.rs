//! The schema snapshot `config/db.graphql`: its model, reading and writing. Pulling it from
//! a live database is graphjin-dev's (`graphjin schema pull`): the build only reads it.

pub mod model;
pub mod read;
pub mod write;

pub use model::{Column, DbSchema, ForeignKey, Function, FunctionArg, Table};
pub use read::{SchemaError, parse_schema};
pub use write::write_schema;
