//! One round trip for a signed-in caller: the role statement and a query's statement for
//! every role it can answer, as one statement, made at build time from the SQL tree.
//!
//! Without it, a signed-in caller (a user id, no role set by a trusted layer) costs two
//! dependent round trips: the role statement, then the statement of the role it chose.
//!
//! ```sql
//! WITH "__gj_r" AS MATERIALIZED (<role statement>)
//! SELECT CASE WHEN "__gj_r"."role" = 'anon' THEN (<anon's root expression>)
//!             WHEN "__gj_r"."role" IN ('user', 'staff') THEN (<theirs>)
//!        END AS "json", "__gj_r"."role"
//! FROM "__gj_r"
//! ```
//!
//! The role statement is a `MATERIALIZED` common table expression so that it runs once
//! per call. As a subquery in `FROM`, PostgreSQL folds it into the outer query and copies
//! it wherever the role is read: once per `WHEN` it tests and once more for the reported
//! role: three runs of the roles query for a statement with two branches.
//!
//! `$1` is the user id, as in the role statement; each branch is compiled again with its
//! parameters numbered after those before it. Every branch is an uncorrelated scalar
//! subquery or expression, which PostgreSQL runs only when the `CASE` reaches it, so the
//! statement does the work of the chosen role alone. The second column names the role, so
//! the runtime reports it and refuses a role the operation does not have (`NULL` data).
//!
//! Only the roles the role statement can answer (`anon`, `user`, and those with a
//! `match`) that the operation has get a branch, and roles whose statements are the same
//! (same SQL, same parameters, none of them `$user_role`) share one: PostgreSQL sets up
//! every branch's plan at each execution, run or not, so a branch per role made the
//! statement cost about 1.7× the single role's where three roles read the same columns.
//! A branch that is the root's expression alone (no paged root field) is written as that
//! expression: 0.87 of the single role's rate against 0.72 as a scalar subquery (pgbench,
//! `getProduct`).

use super::sql::quote::string_literal;
use super::sql::{Cte, CteBody, Expr, From, Item, Select, Source, With, render};
use super::{CompileError, CompiledQuery, Compiler};
use crate::gql::ast::{Document, OpKind};

/// A query's one-round-trip statement for signed-in callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInStatement {
    /// The statement: `$1` is the user id; it returns `json` and the chosen `role`.
    pub sql: String,
    /// Its branches, in parameter order.
    pub branches: Vec<SignedInBranch>,
    /// How many parameters it takes, the user id included.
    pub params: usize,
}

/// One branch of a [`SignedInStatement`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInBranch {
    /// The role whose statement the branch runs (the first of the roles sharing it); the
    /// branch binds that role's parameters.
    pub role: String,
    /// How far the branch's parameters moved: the role statement's `$k` is this
    /// statement's `$(k + first)`.
    pub first: usize,
}

impl Compiler {
    /// The one-round-trip statement of query `index` of `doc`, given its statement per role
    /// (`roles`, in [`Compiler::roles`] order); `None` when roles are not matched with
    /// `roles_query`, the operation is not a query, or it has no role the role statement
    /// can answer. An error names the role whose branch failed (it compiled on its own, so
    /// this is a compiler bug).
    pub fn signed_in(
        &self,
        doc: &Document,
        index: usize,
        roles: &[(String, CompiledQuery)],
    ) -> Result<Option<SignedInStatement>, (String, CompileError)> {
        let Some(role_statement) = self.role_statement() else {
            return Ok(None);
        };
        if doc.operations.get(index).map(|op| op.kind) != Some(OpKind::Query) {
            return Ok(None);
        }
        // Each group: the roles sharing one branch; the first of them binds its parameters.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (r, (role, q)) in roles.iter().enumerate() {
            if !self.answerable(role) {
                continue;
            }
            let same = |g: &&mut Vec<usize>| {
                let first = &roles[g[0]].1;
                first.sql == q.sql && first.params == q.params && !reads_role(q)
            };
            match groups.iter_mut().find(same) {
                Some(g) => g.push(r),
                None => groups.push(vec![r]),
            }
        }
        if groups.is_empty() {
            return Ok(None);
        }
        let role_column = || Expr::raw("\"__gj_r\".\"role\"");
        let mut arms = Vec::with_capacity(groups.len());
        let mut branches = Vec::with_capacity(groups.len());
        let mut next = 1; // $1 is the user id
        for group in &groups {
            let (role, q) = &roles[group[0]];
            let names: Vec<String> = group.iter().map(|&r| string_literal(&roles[r].0)).collect();
            let test = match names.as_slice() {
                [one] => format!("= {one}"),
                many => format!("IN ({})", many.join(", ")),
            };
            let cond = Expr::Raw(format!("\"__gj_r\".\"role\" {test}"));
            let branch = self
                .branch(doc, index, role, next)
                .map_err(|e| (role.clone(), e))?;
            arms.push((cond, branch));
            branches.push(SignedInBranch {
                role: role.clone(),
                first: next,
            });
            next += q.params.len();
        }
        let statement = Select {
            items: vec![
                Item::named(Expr::Case(arms), "json"),
                Item::bare(role_column()),
            ],
            with: Some(With {
                recursive: false,
                ctes: vec![Cte {
                    name: "\"__gj_r\"".to_owned(),
                    columns: Vec::new(),
                    body: CteBody::Materialized(role_statement),
                    cycle: None,
                }],
            }),
            from: Some(From::of(Source::Bare("\"__gj_r\"".to_owned()))),
            ..Select::default()
        };
        Ok(Some(SignedInStatement {
            sql: render::select(&statement),
            branches,
            params: next,
        }))
    }

    /// Whether the role statement can answer `role`.
    fn answerable(&self, role: &str) -> bool {
        role == "anon"
            || role == "user"
            || self
                .roles
                .roles
                .iter()
                .any(|r| r.name == role && r.match_.is_some())
    }

    /// Query `index` for `role` with its parameters numbered from `$(1 + base)`, as a
    /// branch: the root's expression when the root is that alone, else the statement as a
    /// scalar subquery.
    fn branch(
        &self,
        doc: &Document,
        index: usize,
        role: &str,
        base: usize,
    ) -> Result<Expr, CompileError> {
        let op = &doc.operations[index];
        let mut ctx = self.ctx(doc, op, role);
        ctx.param_base = base;
        let (mut root, _) = ctx.query(op)?;
        Ok(if root.from.is_none() && root.items.len() == 1 {
            Expr::Paren(Box::new(root.items.remove(0).expr))
        } else {
            Expr::subquery(root)
        })
    }
}

/// Whether a statement's parameters include the caller's role, which differs between
/// roles even where their SQL is the same.
fn reads_role(q: &CompiledQuery) -> bool {
    q.params.iter().any(|p| p.builtin && p.name == "user_role")
}

#[cfg(test)]
mod tests {
    use crate::tools::test_project;

    const MATCHED: &str = "roles_query: \"SELECT * FROM customers WHERE id = $user_id\"\nroles:\n  - name: admin\n    match: id = 1\n";

    fn statement(allow: &str, config: &str) -> Option<super::SignedInStatement> {
        let ops = test_project(allow, config).compile().expect("compiles");
        ops[0].signed_in.clone()
    }

    #[test]
    fn roles_with_the_same_statement_share_one_branch() {
        let s = statement("query getOrders { orders { id } }\n", MATCHED).expect("a query");
        assert!(
            s.sql.starts_with(
                "WITH \"__gj_r\" AS MATERIALIZED (SELECT COALESCE((SELECT \"__gj_role\" FROM (SELECT *, CASE WHEN (id = 1) THEN 'admin' ELSE 'user' END AS \"__gj_role\" FROM customers WHERE id = $1) AS \"__gj_rq\" LIMIT 1), 'anon') AS \"role\") SELECT CASE WHEN \"__gj_r\".\"role\" IN ('anon', 'user', 'admin') THEN (json_build_object('orders', "
            ),
            "{}",
            s.sql
        );
        assert!(
            s.sql
                .ends_with(" END AS \"json\", \"__gj_r\".\"role\" FROM \"__gj_r\""),
            "{}",
            s.sql
        );
        assert_eq!(s.branches.len(), 1);
        assert_eq!(
            (s.branches[0].role.as_str(), s.branches[0].first),
            ("anon", 1)
        );
        assert_eq!(s.params, 1);
    }

    #[test]
    fn each_branch_numbers_its_parameters_after_those_before_it() {
        let config = format!(
            "{MATCHED}  - name: user\n    tables:\n      - name: orders\n        query:\n          filters: [\"{{ customer_id: {{ eq: $user_id }} }}\"]\n"
        );
        let allow = "query getOrders($status: String) { orders(where: { status: { eq: $status } }) { id } }\n";
        let s = statement(allow, &config).expect("a query");
        let firsts: Vec<(&str, usize)> = s
            .branches
            .iter()
            .map(|b| (b.role.as_str(), b.first))
            .collect();
        // anon and admin read alike; user adds its filter's `$user_id`.
        assert_eq!(firsts, [("anon", 1), ("user", 2)], "{}", s.sql);
        assert_eq!(s.params, 4);
        assert!(
            s.sql
                .contains("WHEN \"__gj_r\".\"role\" IN ('anon', 'admin') THEN"),
            "{}",
            s.sql
        );
        assert!(s.sql.contains("t0.\"status\" = $2::text"), "{}", s.sql);
        assert!(s.sql.contains("t0.\"status\" = $3::text"), "{}", s.sql);
        assert!(
            s.sql.contains("t0.\"customer_id\" = $4::bigint"),
            "{}",
            s.sql
        );
        assert!(!s.sql.contains("$5"), "{}", s.sql);
    }

    #[test]
    fn a_root_with_paged_fields_joins_as_a_subquery() {
        let allow = "query pages { orders(first: 2, after: $cursor) { id } }\n";
        let s = statement(allow, MATCHED).expect("a query");
        assert!(
            s.sql
                .contains("THEN (SELECT json_build_object('orders', __pg"),
            "{}",
            s.sql
        );
        assert!(
            s.sql
                .contains("FROM (SELECT) AS __root_x CROSS JOIN LATERAL"),
            "{}",
            s.sql
        );
    }

    #[test]
    fn only_queries_with_a_roles_query_have_one() {
        assert_eq!(
            statement(
                "mutation m { orders(id: 1, delete: true) { id } }\n",
                MATCHED
            ),
            None
        );
        assert_eq!(statement("query q { orders { id } }\n", ""), None);
    }
}
