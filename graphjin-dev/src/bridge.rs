//! Operations compiled at run time turned into the runtime's `'static` operation table, so
//! the production runtime serves them unchanged: a [`RuntimeTable`] (the same one the build
//! writes as `OPERATIONS`, `ROLE_QUERY`, `BATCHES` and `ACCESS`) copied, structurally, into
//! leaked runtime values. [`StaticTable::db_builder`] passes the runtime what the generated
//! `db_builder` passes, batch statements included, so subscriptions are polled as in
//! production. (The generated `ENUMS` check the build's Rust enums against the database;
//! the development server generates no Rust types, so it has none.)
//!
//! The strings are leaked: fine for a development server (bounded by the distinct
//! operations of a session) and for tests.

use graphjin_codegen::runtime_table::{
    AccessEntry, BatchEntry, ConstraintEntry, OpKind as Kind, OperationEntry, ParamEntry,
    RoleQueryEntry, RoleStatementEntry, RuleEntry, RuntimeTable, SignedInEntry,
};
use graphjin_runtime::validate::{Constraint, Format, Rule};
use graphjin_runtime::{
    Access, Batch, Db, DbBuilder, OpKind, Operation, Param, RoleQuery, RoleStatement, SignedIn,
    SignedInBranch,
};

/// Why a table could not be given to this runtime.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The compiler chose a `format:` the linked runtime does not have.
    #[error(
        "operation `{operation}`: variable `{variable}` has format `{format}`, which this \
         graphjin-runtime does not know; use graphjin-codegen and graphjin-runtime of the \
         same version"
    )]
    UnknownFormat {
        /// The operation.
        operation: String,
        /// The variable.
        variable: String,
        /// The runtime variant the compiler named.
        format: String,
    },
}

/// A [`RuntimeTable`] as the runtime's `'static` values: what the generated `OPERATIONS`,
/// `ROLE_QUERY`, `BATCHES` and `ACCESS` hold.
#[derive(Debug, Clone, Copy)]
pub struct StaticTable {
    /// The operations (`OPERATIONS`).
    pub operations: &'static [Operation],
    /// The role statement (`ROLE_QUERY`).
    pub role_query: Option<&'static RoleQuery>,
    /// The subscriptions' batch statements (`BATCHES`).
    pub batches: &'static [Batch],
    /// The access manifest (`ACCESS`).
    pub access: &'static [Access],
}

impl StaticTable {
    /// A runtime builder with the operations, role statement and batch statements, as the
    /// generated `db_builder` makes one.
    pub fn db_builder(&self, database_url: &str) -> DbBuilder {
        Db::builder(database_url, self.operations)
            .role_query(self.role_query)
            .batches(self.batches)
    }
}

/// Leaks `table` into the runtime's `'static` values.
pub fn leak_table(table: &RuntimeTable) -> Result<StaticTable, BridgeError> {
    let operations = table
        .operations
        .iter()
        .map(operation)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StaticTable {
        operations: slice(operations),
        role_query: table.role_query.as_ref().map(role_query),
        batches: slice(table.batches.iter().map(batch).collect()),
        access: slice(table.access.iter().map(access).collect()),
    })
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn slice<T>(items: Vec<T>) -> &'static [T] {
    Box::leak(items.into_boxed_slice())
}

fn strs(l: &[String]) -> &'static [&'static str] {
    slice(l.iter().map(|s| leak(s)).collect())
}

fn pairs(p: &[(String, String)]) -> &'static [(&'static str, &'static str)] {
    slice(p.iter().map(|(n, v)| (leak(n), leak(v))).collect())
}

fn role_query(rq: &RoleQueryEntry) -> &'static RoleQuery {
    Box::leak(Box::new(RoleQuery {
        sql: leak(&rq.sql),
        roles: strs(&rq.roles),
        statements: slice(rq.statements.iter().map(signed_in).collect()),
    }))
}

fn signed_in(s: &SignedInEntry) -> SignedIn {
    SignedIn {
        operation: leak(&s.operation),
        sql: leak(&s.sql),
        branches: slice(
            s.branches
                .iter()
                .map(|(role, first)| SignedInBranch {
                    role: leak(role),
                    first: *first,
                })
                .collect(),
        ),
        params: s.params,
    }
}

fn batch(b: &BatchEntry) -> Batch {
    Batch {
        operation: leak(&b.operation),
        role: leak(&b.role),
        sql: leak(&b.sql),
    }
}

fn access(a: &AccessEntry) -> Access {
    Access {
        operation: leak(&a.operation),
        role: leak(&a.role),
        reads: slice(
            a.reads
                .iter()
                .map(|(table, cols)| (leak(table), strs(cols)))
                .collect(),
        ),
        refused: a.refused.as_deref().map(leak),
    }
}

fn param(p: &ParamEntry) -> Param {
    Param {
        name: leak(&p.name),
        pg_type: leak(&p.pg_type),
        builtin: p.builtin,
        default: p.default.as_deref().map(leak),
    }
}

fn role_statement(r: &RoleStatementEntry) -> RoleStatement {
    RoleStatement {
        role: leak(&r.role),
        sql: leak(&r.sql),
        params: slice(r.params.iter().map(param).collect()),
    }
}

fn operation(op: &OperationEntry) -> Result<Operation, BridgeError> {
    let constraints = op
        .constraints
        .iter()
        .map(|c| constraint(c, &op.name))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Operation {
        name: leak(&op.name),
        kind: match op.kind {
            Kind::Query => OpKind::Query,
            Kind::Mutation => OpKind::Mutation,
            Kind::Subscription => OpKind::Subscription,
        },
        query: leak(&op.query),
        sha256: leak(&op.sha256),
        roles: slice(op.roles.iter().map(role_statement).collect()),
        constraints: slice(constraints),
    })
}

/// The runtime's `Format` whose variant is named `variant` (as the generated code names it).
fn format(variant: &str) -> Option<Format> {
    Format::ALL
        .iter()
        .map(|(_, f)| *f)
        .find(|f| format!("{f:?}") == variant)
}

fn constraint(c: &ConstraintEntry, operation: &str) -> Result<Constraint, BridgeError> {
    use RuleEntry as R;
    let rule = match &c.rule {
        R::Required => Rule::Required,
        R::NotNull => Rule::NotNull,
        R::RequiredIf(p) => Rule::RequiredIf(pairs(p)),
        R::RequiredUnless(p) => Rule::RequiredUnless(pairs(p)),
        R::RequiredWith(l) => Rule::RequiredWith(strs(l)),
        R::RequiredWithAll(l) => Rule::RequiredWithAll(strs(l)),
        R::RequiredWithout(l) => Rule::RequiredWithout(strs(l)),
        R::RequiredWithoutAll(l) => Rule::RequiredWithoutAll(strs(l)),
        R::Min(n) => Rule::Min(*n),
        R::Max(n) => Rule::Max(*n),
        R::Equals(t) => Rule::Equals(leak(t)),
        R::NotEquals(t) => Rule::NotEquals(leak(t)),
        R::OneOf(l) => Rule::OneOf(strs(l)),
        R::GreaterThan(n) => Rule::GreaterThan(*n),
        R::GreaterThanOrEquals(n) => Rule::GreaterThanOrEquals(*n),
        R::LessThan(n) => Rule::LessThan(*n),
        R::LessThanOrEquals(n) => Rule::LessThanOrEquals(*n),
        R::EqualsField(o) => Rule::EqualsField(leak(o)),
        R::NotEqualsField(o) => Rule::NotEqualsField(leak(o)),
        R::GreaterThanField(o) => Rule::GreaterThanField(leak(o)),
        R::GreaterThanOrEqualsField(o) => Rule::GreaterThanOrEqualsField(leak(o)),
        R::LessThanField(o) => Rule::LessThanField(leak(o)),
        R::LessThanOrEqualsField(o) => Rule::LessThanOrEqualsField(leak(o)),
        R::Format(variant) => {
            Rule::Format(format(variant).ok_or_else(|| BridgeError::UnknownFormat {
                operation: operation.to_owned(),
                variable: c.variable.clone(),
                format: variant.clone(),
            })?)
        }
    };
    Ok(Constraint {
        variable: leak(&c.variable),
        rule,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use graphjin_codegen::compile::op_directives::FORMATS;

    /// The compiler's format names and the runtime's agree, one for one, through the
    /// mapping and this renderer.
    #[test]
    fn formats_agree() {
        let runtime: Vec<&str> = Format::ALL.iter().map(|(n, _)| *n).collect();
        assert_eq!(runtime, FORMATS);
        let project = graphjin_codegen::Project::load_dev(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-app/config"),
        )
        .expect("example config");
        for (name, f) in Format::ALL {
            let text = format!(
                "query f($v: String) @constraint(variable: \"v\", format: \"{name}\") {{ products(where: {{ name: {{ eq: $v }} }}) {{ id }} }}"
            );
            let op = project
                .compile_one(graphjin_codegen::One::Text {
                    text: &text,
                    variables: None,
                })
                .expect("compiles");
            let table = leak_table(&RuntimeTable::new(&[op], None)).expect("leaks");
            assert_eq!(
                table.operations[0].constraints,
                [Constraint {
                    variable: "v",
                    rule: Rule::Format(f)
                }],
                "{name}"
            );
        }
    }

    /// A variant the runtime lacks is an error naming it, not some other format.
    #[test]
    fn an_unknown_format_is_an_error() {
        let table = RuntimeTable {
            operations: vec![OperationEntry {
                name: "op".into(),
                kind: Kind::Query,
                query: "query op { x }".into(),
                sha256: String::new(),
                roles: Vec::new(),
                constraints: vec![ConstraintEntry {
                    variable: "v".into(),
                    rule: RuleEntry::Format("Telepathic".into()),
                }],
            }],
            role_query: None,
            batches: Vec::new(),
            access: Vec::new(),
        };
        let e = leak_table(&table).unwrap_err();
        assert!(e.to_string().contains("format `Telepathic`"), "{e}");
    }
}
