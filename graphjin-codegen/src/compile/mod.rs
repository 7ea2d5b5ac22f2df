//! The compiler: operation + schema + config + role -> one PostgreSQL statement whose single
//! `json` value is the GraphQL response's `data`.
//!
//! Stages: [`catalog`] (schema and config merged once), then per operation and role the
//! selection walk in `select` with `filter` (where), `order` (order_by) and
//! [`relation`] (joins), writing SQL text and collecting bind [`values::Param`]s.

pub mod catalog;
mod ctx;
mod error;
mod filter;
pub mod names;
mod order;
pub mod relation;
mod select;
pub mod shape;
pub mod values;

pub use catalog::{Catalog, CatalogError};
pub use error::CompileError;
pub use shape::Shape;
pub use values::Param;

use crate::config::BuildConfig;
use crate::gql::ast::{Document, OpKind};
use crate::schema::model::DbSchema;

/// One operation compiled for one role.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledQuery {
    /// The statement: one row, one `json` column named `__root`.
    pub sql: String,
    /// Bind parameters in `$1..$n` order; each is sent as text.
    pub params: Vec<Param>,
    /// The shape of the JSON the statement returns.
    pub shape: Shape,
}

/// Compiles operations against one schema and config; build it once, reuse it for every
/// operation and role.
#[derive(Debug, Clone)]
pub struct Compiler {
    catalog: Catalog,
    config: BuildConfig,
}

impl Compiler {
    /// Merges the schema snapshot and the config; fails when they do not fit together.
    pub fn new(schema: &DbSchema, config: &BuildConfig) -> Result<Self, CatalogError> {
        Ok(Compiler {
            catalog: Catalog::new(schema, config)?,
            config: config.clone(),
        })
    }

    /// The merged catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The roles every operation is compiled for: `anon`, `user`, then configured roles.
    pub fn roles(&self) -> Vec<String> {
        let mut roles = vec!["anon".to_string(), "user".to_string()];
        for r in &self.config.roles {
            if !roles.contains(&r.name) {
                roles.push(r.name.clone());
            }
        }
        roles
    }

    /// Compiles operation `index` of `doc` (its fragments available) for `role`.
    pub fn compile(
        &self,
        doc: &Document,
        index: usize,
        role: &str,
    ) -> Result<CompiledQuery, CompileError> {
        let op = doc.operations.get(index).ok_or_else(|| {
            CompileError::new(
                crate::source::Pos::new(1, 1),
                "the document has no such operation",
            )
        })?;
        if op.kind == OpKind::Mutation {
            return Err(CompileError::new(op.pos, "mutations are not supported yet"));
        }
        let mut ctx = ctx::Ctx::new(
            &self.catalog,
            &self.config,
            role,
            &doc.fragments,
            &op.variables,
        );
        let (sql, shape) = ctx.query(op)?;
        Ok(CompiledQuery {
            sql,
            params: ctx.params.list,
            shape,
        })
    }
}
