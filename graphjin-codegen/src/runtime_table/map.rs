//! Compiled operations to a [`RuntimeTable`]: every decision about what the runtime's table
//! holds is made here, once, for the build and the development server alike.

use super::{
    AccessEntry, BatchEntry, ConstraintEntry, OperationEntry, ParamEntry, RoleQueryEntry,
    RoleStatementEntry, RuleEntry, RuntimeTable, SignedInEntry,
};
use crate::CompiledOperation;
use crate::compile::op_directives::{ConstraintSpec, RuleSpec};
use crate::compile::{Compiler, Param};

impl RuntimeTable {
    /// The table for `ops` (in that order) and the role statement `role_query`.
    pub fn new(ops: &[CompiledOperation], role_query: Option<RoleQueryEntry>) -> Self {
        let role_query = role_query.map(|rq| RoleQueryEntry {
            statements: ops.iter().filter_map(signed_in).collect(),
            ..rq
        });
        RuntimeTable {
            operations: ops.iter().map(operation).collect(),
            role_query,
            batches: ops.iter().flat_map(batches).collect(),
            access: ops.iter().flat_map(access).collect(),
        }
    }
}

impl RoleQueryEntry {
    /// The role statement of `compiler`'s config and the roles with a `match` it can
    /// answer, when roles are matched with `roles_query`.
    pub fn of(compiler: &Compiler) -> Option<Self> {
        let sql = compiler.role_statement()?;
        let roles = compiler
            .role_set()
            .roles
            .iter()
            .filter(|r| r.match_.is_some())
            .map(|r| r.name.clone())
            .collect();
        Some(RoleQueryEntry {
            sql,
            roles,
            statements: Vec::new(),
        })
    }
}

fn signed_in(op: &CompiledOperation) -> Option<SignedInEntry> {
    let s = op.signed_in.as_ref()?;
    Some(SignedInEntry {
        operation: op.name.clone(),
        sql: s.sql.clone(),
        branches: s
            .branches
            .iter()
            .map(|b| (b.role.clone(), b.first))
            .collect(),
        params: s.params,
    })
}

fn operation(op: &CompiledOperation) -> OperationEntry {
    OperationEntry {
        name: op.name.clone(),
        kind: op.kind,
        query: op.normalized.clone(),
        sha256: op.sha256.clone(),
        roles: op
            .roles
            .iter()
            .map(|(role, q)| RoleStatementEntry {
                role: role.clone(),
                sql: q.sql.clone(),
                params: q.params.iter().map(param).collect(),
            })
            .collect(),
        constraints: op.constraints.iter().map(constraint).collect(),
    }
}

fn param(p: &Param) -> ParamEntry {
    ParamEntry {
        name: p.name.clone(),
        pg_type: p.pg_type.clone(),
        builtin: p.builtin,
        // The runtime reads a default as JSON text.
        default: p.default.as_ref().map(ToString::to_string),
    }
}

/// Every role of `op` that has a batch statement (subscriptions), in role order.
fn batches(op: &CompiledOperation) -> impl Iterator<Item = BatchEntry> + '_ {
    op.roles.iter().filter_map(|(role, q)| {
        Some(BatchEntry {
            operation: op.name.clone(),
            role: role.clone(),
            sql: q.batch_sql.clone()?,
        })
    })
}

/// The roles that may run `op` with what they read, then the refused ones with why.
fn access(op: &CompiledOperation) -> impl Iterator<Item = AccessEntry> + '_ {
    let allowed = op.roles.iter().map(|(role, q)| AccessEntry {
        operation: op.name.clone(),
        role: role.clone(),
        reads: q.reads.clone(),
        refused: None,
    });
    let refused = op.refused.iter().map(|(role, why)| AccessEntry {
        operation: op.name.clone(),
        role: role.clone(),
        reads: Vec::new(),
        refused: Some(why.clone()),
    });
    allowed.chain(refused)
}

fn constraint(c: &ConstraintSpec) -> ConstraintEntry {
    use RuleSpec as R;
    let rule = match &c.rule {
        R::Required => RuleEntry::Required,
        R::NotNull => RuleEntry::NotNull,
        R::RequiredIf(p) => RuleEntry::RequiredIf(p.clone()),
        R::RequiredUnless(p) => RuleEntry::RequiredUnless(p.clone()),
        R::RequiredWith(l) => RuleEntry::RequiredWith(l.clone()),
        R::RequiredWithAll(l) => RuleEntry::RequiredWithAll(l.clone()),
        R::RequiredWithout(l) => RuleEntry::RequiredWithout(l.clone()),
        R::RequiredWithoutAll(l) => RuleEntry::RequiredWithoutAll(l.clone()),
        R::Min(n) => RuleEntry::Min(*n),
        R::Max(n) => RuleEntry::Max(*n),
        R::Equals(t) => RuleEntry::Equals(t.clone()),
        R::NotEquals(t) => RuleEntry::NotEquals(t.clone()),
        R::OneOf(l) => RuleEntry::OneOf(l.clone()),
        R::GreaterThan(n) => RuleEntry::GreaterThan(*n),
        R::GreaterThanOrEquals(n) => RuleEntry::GreaterThanOrEquals(*n),
        R::LessThan(n) => RuleEntry::LessThan(*n),
        R::LessThanOrEquals(n) => RuleEntry::LessThanOrEquals(*n),
        R::EqualsField(o) => RuleEntry::EqualsField(o.clone()),
        R::NotEqualsField(o) => RuleEntry::NotEqualsField(o.clone()),
        R::GreaterThanField(o) => RuleEntry::GreaterThanField(o.clone()),
        R::GreaterThanOrEqualsField(o) => RuleEntry::GreaterThanOrEqualsField(o.clone()),
        R::LessThanField(o) => RuleEntry::LessThanField(o.clone()),
        R::LessThanOrEqualsField(o) => RuleEntry::LessThanOrEqualsField(o.clone()),
        R::Format(f) => RuleEntry::Format(format_variant(f)),
    };
    ConstraintEntry {
        variable: c.variable.clone(),
        rule,
    }
}

/// The runtime's `Format` variant for a format name (`alphaNumeric` -> `AlphaNumeric`).
fn format_variant(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}
