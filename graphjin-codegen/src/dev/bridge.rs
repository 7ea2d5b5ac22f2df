//! Operations compiled at run time turned into the runtime's `'static` operation table, so
//! the production runtime serves them unchanged. The strings are leaked: fine for a
//! development server (bounded by the distinct operations of a session) and for tests.

use graphjin_runtime::{OpKind, Operation, Param, RoleQuery, RoleStatement};

use crate::CompiledOperation;
use crate::gql::ast::OpKind as GqlKind;

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// One compiled operation as a runtime [`Operation`].
pub fn to_runtime(op: &CompiledOperation) -> Operation {
    let roles: Vec<RoleStatement> = op
        .roles
        .iter()
        .map(|(role, q)| {
            let params: Vec<Param> = q
                .params
                .iter()
                .map(|p| Param {
                    name: leak(&p.name),
                    pg_type: leak(&p.pg_type),
                    builtin: p.builtin,
                    default: p.default.as_ref().map(|d| leak(&d.to_string())),
                })
                .collect();
            RoleStatement {
                role: leak(role),
                sql: leak(&q.sql),
                params: Box::leak(params.into_boxed_slice()),
            }
        })
        .collect();
    Operation {
        name: leak(&op.name),
        kind: match op.kind {
            GqlKind::Query => OpKind::Query,
            GqlKind::Mutation => OpKind::Mutation,
            GqlKind::Subscription => OpKind::Subscription,
        },
        query: leak(&op.normalized),
        sha256: leak(&op.sha256),
        roles: Box::leak(roles.into_boxed_slice()),
    }
}

/// A whole table.
pub fn table(ops: &[CompiledOperation]) -> &'static [Operation] {
    let table: Vec<Operation> = ops.iter().map(to_runtime).collect();
    Box::leak(table.into_boxed_slice())
}

/// The role statement, if roles are matched with `roles_query`.
pub fn role_query(sql: Option<String>, roles: &[String]) -> Option<&'static RoleQuery> {
    let sql = sql?;
    let roles: Vec<&'static str> = roles.iter().map(|r| leak(r)).collect();
    Some(Box::leak(Box::new(RoleQuery {
        sql: leak(&sql),
        roles: Box::leak(roles.into_boxed_slice()),
    })))
}
