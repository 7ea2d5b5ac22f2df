//! The schema snapshot `config/db.graphql`: its model, reading, writing and (feature
//! `introspect`) pulling it from a live database.

#[cfg(feature = "introspect")]
pub mod introspect;
pub mod model;
pub mod read;
pub mod write;

pub use model::{Column, DbSchema, ForeignKey, Function, FunctionArg, Table};
pub use read::{SchemaError, parse_schema};
pub use write::write_schema;
