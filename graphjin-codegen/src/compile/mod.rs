//! The compiler: operation + schema + config + role -> one PostgreSQL statement whose single
//! `json` value is the GraphQL response's `data`.
//!
//! [`catalog`] merges the schema and the config once. Per operation and role, `plan`
//! checks a selection against the catalog and the role's rules into data (fields resolved,
//! relationships, filters, ordering, refusals), and `select` lowers that plan to an SQL
//! tree (`sql::ast`), with `filter` (`where`), `order` (`order_by`), `cursor` (paging) and
//! [`relation`] (joins) writing its leaf conditions and numbering bind
//! [`values::Param`]s; `sql::render` prints the tree once. A mutation's writes are planned
//! the same way (`plan::write`) and lowered by `mutate` to a chain of data-modifying CTEs.
//! A subscription's batch statement is a change to the tree (`batch`), not to its text.
//!
//! Module layering, each using only those before it: `sql`, `names`, `values`, `catalog`,
//! `roles`, `paging`, `inputs`, `shape` -> `ctx` (the per-statement state) -> `plan` -> `filter`,
//! `order`, `cursor` -> `select` -> `mutate` -> this module.

mod batch;
pub mod catalog;
mod ctx;
mod cursor;
mod error;
mod filter;
mod inputs;
mod mutate;
pub mod names;
pub mod op_directives;
mod order;
mod paging;
mod plan;
pub mod relation;
pub mod role_query;
pub mod roles;
mod select;
pub mod shape;
mod signed_in;
mod sql;
pub mod values;

pub use catalog::{Catalog, CatalogError};
pub use error::CompileError;
pub use inputs::InputShape;
pub use roles::RoleSet;
pub use shape::Shape;
pub use signed_in::{SignedInBranch, SignedInStatement};
pub use values::Param;

use crate::config::BuildConfig;
use crate::gql::ast::{Document, OpKind, Operation};
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
    /// Columns read, per table, sorted.
    pub reads: Vec<(String, Vec<String>)>,
    /// Shapes of the JSON variables that carry mutation data.
    pub inputs: Vec<(String, InputShape)>,
    /// For subscriptions: the same query for many subscribers at once. It takes one `text[]`
    /// parameter per column, all of one length, one element per subscriber: `$1` the
    /// subscriber's id (`__sub`), `$2..$(n+1)` the text of parameter 1..n as
    /// [`CompiledQuery::params`] lists them (a NULL element for a NULL value); it returns one
    /// row per subscriber: `sub` (text) and `__root` (json).
    pub batch_sql: Option<String>,
}

/// Compiles operations against one schema and config; build it once, reuse it for every
/// operation and role.
#[derive(Debug, Clone)]
pub struct Compiler {
    catalog: Catalog,
    config: BuildConfig,
    roles: RoleSet,
}

impl Compiler {
    /// Merges the schema snapshot and the config; fails when they do not fit together.
    pub fn new(schema: &DbSchema, config: &BuildConfig) -> Result<Self, CatalogError> {
        let catalog = Catalog::new(schema, config)?;
        let roles = RoleSet::new(config, &catalog)?;
        let compiler = Compiler {
            catalog,
            config: config.clone(),
            roles,
        };
        compiler.check_role_filters()?;
        Ok(compiler)
    }

    /// Compiles every role filter once so a filter naming an unknown column fails the
    /// build with its config key.
    fn check_role_filters(&self) -> Result<(), CatalogError> {
        for role in &self.roles.roles {
            for rules_by_table in [&role.query, &role.insert, &role.update, &role.delete] {
                for (table, rules) in rules_by_table {
                    let Some(t) = self.catalog.table(table) else {
                        continue;
                    };
                    for (filter, key) in rules.filters.iter().zip(&rules.filter_keys) {
                        let mut ctx = ctx::Ctx::new(
                            &self.catalog,
                            &self.config,
                            &self.roles,
                            &role.name,
                            &[],
                            &[],
                        );
                        ctx.ignore_rules = true;
                        ctx.where_sql(t, "t", filter)
                            .map_err(|e| CatalogError::new(key.clone(), e.message))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The role rules.
    pub fn role_set(&self) -> &RoleSet {
        &self.roles
    }

    /// The statement that picks a signed-in user's role (`$1` = user id), if roles are
    /// matched with `roles_query`.
    pub fn role_statement(&self) -> Option<String> {
        self.roles.role_statement()
    }

    /// The merged catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The roles every operation is compiled for: `anon`, `user`, then configured roles.
    pub fn roles(&self) -> Vec<String> {
        self.roles.names()
    }

    /// The state for compiling `op` of `doc` for `role`.
    fn ctx<'a>(&'a self, doc: &'a Document, op: &'a Operation, role: &'a str) -> ctx::Ctx<'a> {
        ctx::Ctx::new(
            &self.catalog,
            &self.config,
            &self.roles,
            role,
            &doc.fragments,
            &op.variables,
        )
    }

    /// Compiles operation `index` of `doc` (its fragments available) for `role`.
    pub fn compile(
        &self,
        doc: &Document,
        index: usize,
        role: &str,
    ) -> Result<CompiledQuery, CompileError> {
        self.compile_with(doc, index, role, None)
    }

    /// [`Compiler::compile`] with example variables (allow.list's `variables` block), which
    /// give mutations the shape of their JSON data.
    pub fn compile_with(
        &self,
        doc: &Document,
        index: usize,
        role: &str,
        examples: Option<&serde_json::Value>,
    ) -> Result<CompiledQuery, CompileError> {
        let op = doc.operations.get(index).ok_or_else(|| {
            CompileError::new(
                crate::source::Pos::new(1, 1),
                "the document has no such operation",
            )
        })?;
        if self.roles.role(role).is_none() {
            return Err(CompileError::new(op.pos, format!("unknown role `{role}`")));
        }
        let mut ctx = self.ctx(doc, op, role);
        let (statement, shape) = if op.kind == OpKind::Mutation {
            ctx.mutation(op, examples)?
        } else {
            ctx.query(op)?
        };
        let batch_sql = if op.kind == OpKind::Subscription {
            let mut b = self.ctx(doc, op, role);
            b.batch = true;
            let (root, _) = b.query(op)?;
            let n = b.params.list.len();
            // The runtime binds one array per parameter of the single statement.
            if n != ctx.params.list.len() {
                return Err(CompileError::new(
                    op.pos,
                    format!(
                        "internal: the subscription's batch statement has {n} parameters and its single statement {}; please report this operation",
                        ctx.params.list.len()
                    ),
                ));
            }
            Some(sql::render::select(&batch::batch_select(root, n)))
        } else {
            None
        };
        let sql = sql::render::select(&statement);
        Ok(CompiledQuery {
            sql,
            params: ctx.params.list,
            batch_sql,
            shape,
            reads: ctx
                .reads
                .into_iter()
                .map(|(t, c)| (t, c.into_iter().collect()))
                .collect(),
            inputs: {
                let mut inputs: Vec<(String, InputShape)> = ctx.inputs.into_iter().collect();
                inputs.sort_by(|a, b| a.0.cmp(&b.0));
                inputs
            },
        })
    }
}

#[cfg(test)]
impl crate::Project {
    /// Plans the first operation of `text` (a query) for `role` and hands the plan to `f`;
    /// for tests of the plan.
    pub(in crate::compile) fn with_planned_query<R>(
        &self,
        text: &str,
        role: &str,
        f: impl FnOnce(&[plan::Planned<'_>]) -> R,
    ) -> R {
        let compiler = Compiler::new(&self.schema, &self.config).expect("catalog");
        let doc = crate::parse_at(text, crate::source::Pos::new(1, 1)).expect("parses");
        let op = &doc.operations[0];
        let mut ctx = compiler.ctx(&doc, op, role);
        let planned = ctx.plan_query(op).expect("plans");
        f(&planned)
    }

    /// Plans the first operation of `text` (a query) for `role`: the error's message, if any.
    pub(in crate::compile) fn try_plan_query(&self, text: &str, role: &str) -> Result<(), String> {
        let compiler = Compiler::new(&self.schema, &self.config).expect("catalog");
        let doc = crate::parse_at(text, crate::source::Pos::new(1, 1)).expect("parses");
        let op = &doc.operations[0];
        let mut ctx = compiler.ctx(&doc, op, role);
        ctx.plan_query(op).map(|_| ()).map_err(|e| e.message)
    }

    /// Plans the write of the first field of mutation `text` for `role`, with the saved
    /// variables `examples`, and hands it (or the error's message) to `f`.
    pub(in crate::compile) fn with_planned_write<R>(
        &self,
        text: &str,
        examples: &serde_json::Value,
        role: &str,
        f: impl FnOnce(Result<&plan::write::WriteRoot<'_>, String>) -> R,
    ) -> R {
        let compiler = Compiler::new(&self.schema, &self.config).expect("catalog");
        let doc = crate::parse_at(text, crate::source::Pos::new(1, 1)).expect("parses");
        let op = &doc.operations[0];
        let mut ctx = compiler.ctx(&doc, op, role);
        let crate::gql::ast::Selection::Field(field) = &op.selection[0] else {
            panic!("a field first");
        };
        let planned = ctx.mutation_table(field).and_then(|table| {
            let (action, data) = plan::write::mutation_action(field)?;
            ctx.plan_write(field, table, action, data, Some(examples))
        });
        match planned {
            Ok(p) => f(Ok(&p)),
            Err(e) => f(Err(e.message)),
        }
    }
}
