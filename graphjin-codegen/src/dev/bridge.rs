//! Operations compiled at run time turned into the runtime's `'static` operation table, so
//! the production runtime serves them unchanged. The strings are leaked: fine for a
//! development server (bounded by the distinct operations of a session) and for tests.

use graphjin_runtime::validate::{Constraint, Format, Rule};
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
        constraints: Box::leak(
            op.constraints
                .iter()
                .map(constraint)
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        ),
    }
}

/// A compiled variable rule as the runtime's.
fn constraint(c: &crate::compile::op_directives::ConstraintSpec) -> Constraint {
    use crate::compile::op_directives::RuleSpec as R;
    fn strs(l: &[String]) -> &'static [&'static str] {
        Box::leak(
            l.iter()
                .map(|s| leak(s))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        )
    }
    fn pairs(p: &[(String, String)]) -> &'static [(&'static str, &'static str)] {
        Box::leak(
            p.iter()
                .map(|(n, v)| (leak(n), leak(v)))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        )
    }
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
        R::Format(f) => Rule::Format(
            Format::ALL
                .iter()
                .find(|(n, _)| n == f)
                .map_or(Format::Email, |(_, f)| *f),
        ),
    };
    Constraint {
        variable: leak(&c.variable),
        rule,
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

#[cfg(test)]
mod constraint_tests {
    use super::*;
    use crate::compile::op_directives::{ConstraintSpec, FORMATS, RuleSpec};

    /// The compiler's format names and the runtime's agree, one for one.
    #[test]
    fn formats_agree() {
        let runtime: Vec<&str> = Format::ALL.iter().map(|(n, _)| *n).collect();
        assert_eq!(runtime, FORMATS);
        for (name, f) in Format::ALL {
            let c = constraint(&ConstraintSpec {
                variable: "v".into(),
                rule: RuleSpec::Format(name.into()),
            });
            assert_eq!(c.rule, Rule::Format(f));
            assert_eq!(crate::emit::format_variant(name), format!("{f:?}"));
        }
    }
}
