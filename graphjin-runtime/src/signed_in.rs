//! One round trip for a signed-in caller: the role statement and the operation's
//! statement for every role it can answer, as one statement.
//!
//! Without it, a signed-in caller (a user id, no role set by a trusted layer) costs two
//! dependent round trips: the role statement, then the statement of the role it chose.
//! For each query the runtime builds, at start-up, from the build-time statements:
//!
//! ```sql
//! SELECT CASE WHEN "__gj_r"."role" = 'anon' THEN (<anon's statement>)
//!             WHEN "__gj_r"."role" IN ('user', 'staff') THEN (<their statement, parameters moved up>)
//!        END AS "json", "__gj_r"."role"
//! FROM (<role statement>) AS "__gj_r"
//! ```
//!
//! `$1` is the user id, as in the role statement; each branch's parameters follow, renumbered
//! by [`renumber`]. Every branch is an uncorrelated scalar subquery, which PostgreSQL runs
//! only when the `CASE` reaches it (an init plan is evaluated on first use), so the
//! statement does the work of the chosen role alone. The second column names the role, so
//! the runtime reports it and refuses a role the operation does not have (`NULL` data).
//! Only the roles the role statement can answer (`anon`, `user`, and those with a
//! `match`) that the operation has get a branch, and roles whose statements are the same
//! (same SQL, same parameters, none of them `$user_role`) share one: PostgreSQL sets up
//! every branch's plan at each execution, run or not, so a branch per role made the
//! statement cost about 1.7× the single role's where three roles read the same columns.

use std::fmt::Write as _;

use crate::operation::{OpKind, Operation, RoleQuery};

/// The combined statement of `op` and where each branch's parameters start, or `None` when
/// it does not apply (not a query, or no role the role statement can answer).
pub(crate) fn statement(rq: &RoleQuery, op: &Operation) -> Option<Combined> {
    if op.kind != OpKind::Query {
        return None;
    }
    // Each group: the roles sharing one branch, the first of them binds its parameters.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (r, rs) in op.roles.iter().enumerate() {
        let answerable = rs.role == "anon" || rs.role == "user" || rq.roles.contains(&rs.role);
        if !answerable {
            continue;
        }
        let same = |g: &&mut Vec<usize>| {
            let first = &op.roles[g[0]];
            first.sql == rs.sql && first.params == rs.params && !reads_role(rs.params)
        };
        match groups.iter_mut().find(same) {
            Some(g) => g.push(r),
            None => groups.push(vec![r]),
        }
    }
    if groups.is_empty() {
        return None;
    }
    let mut sql = String::from("SELECT CASE");
    let mut branches = Vec::new();
    let mut next = 1; // $1 is the user id
    for roles in &groups {
        let rs = &op.roles[roles[0]];
        let names: Vec<String> = roles.iter().map(|&r| literal(op.roles[r].role)).collect();
        let test = match names.as_slice() {
            [one] => format!("= {one}"),
            many => format!("IN ({})", many.join(", ")),
        };
        // `SELECT <expression> AS "__root"` (a query's statement) joins as its
        // expression; anything else as a scalar subquery.
        let branch = renumber(rs.sql, next);
        let then = root_expression(&branch).unwrap_or(&branch);
        let _ = write!(sql, " WHEN \"__gj_r\".\"role\" {test} THEN ({then})");
        branches.push(Branch {
            role: roles[0],
            first: next,
        });
        next += rs.params.len();
    }
    let _ = write!(
        sql,
        " END AS \"json\", \"__gj_r\".\"role\" FROM ({}) AS \"__gj_r\"",
        rq.sql
    );
    Some(Combined {
        sql,
        branches,
        params: next,
    })
}

/// The expression of a statement that is only `SELECT <expression> AS "__root"` (one
/// column, no `FROM`, `WHERE` or anything else at its top level, as the compiler writes a
/// query), or `None`. A branch written as the expression itself costs PostgreSQL less
/// than the same statement as a scalar subquery, whose JSON result is copied out of its
/// init plan: 0.87 of the single role's rate against 0.72 (pgbench, `getProduct`).
fn root_expression(sql: &str) -> Option<&str> {
    let expr = sql
        .strip_prefix("SELECT ")?
        .strip_suffix(" AS \"__root\"")?;
    let b = expr.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        if let Some(end) = skip_text(b, i) {
            i = end;
            continue;
        }
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => return None,
            b'/' if b.get(i + 1) == Some(&b'*') => return None,
            b'(' | b'[' => {
                depth += 1;
                i += 1;
            }
            b')' | b']' => {
                depth = depth.checked_sub(1)?;
                i += 1;
            }
            b',' | b';' if depth == 0 => return None,
            c if depth == 0 && is_ident(c) && (i == 0 || !is_ident(b[i - 1])) => {
                let end = b[i..]
                    .iter()
                    .position(|&c| !is_ident(c))
                    .map_or(b.len(), |p| i + p);
                const CLAUSES: [&str; 15] = [
                    "FROM",
                    "WHERE",
                    "GROUP",
                    "HAVING",
                    "WINDOW",
                    "UNION",
                    "INTERSECT",
                    "EXCEPT",
                    "ORDER",
                    "LIMIT",
                    "OFFSET",
                    "FETCH",
                    "FOR",
                    "INTO",
                    "AS",
                ];
                if CLAUSES.iter().any(|k| expr[i..end].eq_ignore_ascii_case(k)) {
                    return None;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    (depth == 0 && !expr.trim().is_empty()).then_some(expr)
}

/// Whether a statement's parameters include the caller's role, which differs between
/// roles even where their SQL is the same.
fn reads_role(params: &[crate::operation::Param]) -> bool {
    params.iter().any(|p| p.builtin && p.name == "user_role")
}

/// A combined statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Combined {
    /// Its SQL.
    pub(crate) sql: String,
    /// Its branches, in parameter order.
    pub(crate) branches: Vec<Branch>,
    /// How many parameters it takes, the user id included.
    pub(crate) params: usize,
}

/// One role's branch of a combined statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Branch {
    /// The position, in the operation's roles, of the role whose statement the branch
    /// runs (the first of the roles sharing it); its binding is the branch's parameters.
    pub(crate) role: usize,
    /// How far the branch's parameters moved: its `$k` is the statement's `$(k + first)`,
    /// so its parameters are the statement's `first..first + n` (counting from 0).
    pub(crate) first: usize,
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `sql` with every parameter `$k` written `$(k + by)`. Parameters inside string
/// literals (`'...'`, `E'...'`), quoted identifiers, dollar-quoted strings and comments
/// are text, not parameters, and are left as they are; so is a `$` inside an identifier
/// (`a$1`).
pub(crate) fn renumber(sql: &str, by: usize) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16);
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if let Some(end) = skip_text(b, i) {
            i = end;
            continue;
        }
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p + 1);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_block_comment(b, i),
            b'$' if i > 0 && is_ident(b[i - 1]) => i += 1,
            b'$' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let end = b[i + 1..]
                    .iter()
                    .position(|c| !c.is_ascii_digit())
                    .map_or(b.len(), |p| i + 1 + p);
                // Too long to be a parameter: PostgreSQL refuses it anyway.
                if let Ok(n) = sql[i + 1..end].parse::<usize>() {
                    out.push_str(&sql[copied..i]);
                    let _ = write!(out, "${}", n + by);
                    copied = end;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    out
}

/// Where the text starting at `i` ends when it is a string literal (`'...'`, `E'...'`), a
/// quoted identifier or a dollar-quoted string; `None` for anything else (a `$` inside an
/// identifier or opening a parameter `$1` is not text).
fn skip_text(b: &[u8], i: usize) -> Option<usize> {
    let after_ident = i > 0 && is_ident(b[i - 1]);
    match b[i] {
        b'\'' => {
            let escapes =
                i > 0 && matches!(b[i - 1], b'e' | b'E') && (i < 2 || !is_ident(b[i - 2]));
            Some(skip_quoted(b, i, b'\'', escapes))
        }
        b'"' => Some(skip_quoted(b, i, b'"', false)),
        b'$' if !after_ident && !b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
            Some(skip_dollar_quoted(b, i))
        }
        _ => None,
    }
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// The end of the quoted text starting at `start` (a doubled quote is one quote; with
/// `escapes`, a backslash escapes the next byte).
fn skip_quoted(b: &[u8], start: usize, quote: u8, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if escapes && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// The end of the (nested) block comment starting at `start`.
fn skip_block_comment(b: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// The end of the dollar-quoted string starting at `start` (`$tag$ ... $tag$`), or just
/// past the `$` when no tag opens there.
fn skip_dollar_quoted(b: &[u8], start: usize) -> usize {
    let tag_end = b[start + 1..]
        .iter()
        .position(|&c| !(is_ident(c) && !c.is_ascii_digit() || c.is_ascii_digit()))
        .map(|p| start + 1 + p);
    let Some(tag_end) = tag_end.filter(|&e| b[e] == b'$') else {
        return start + 1;
    };
    if tag_end > start + 1 && b[start + 1].is_ascii_digit() {
        return start + 1;
    }
    let tag = &b[start..=tag_end];
    let body = tag_end + 1;
    b[body..]
        .windows(tag.len())
        .position(|w| w == tag)
        .map_or(b.len(), |p| body + p + tag.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::{Param, RoleStatement};

    #[test]
    fn parameters_move_up() {
        assert_eq!(
            renumber("SELECT $1::text, $2::integer, $10", 3),
            "SELECT $4::text, $5::integer, $13"
        );
    }

    #[test]
    fn text_is_not_renumbered() {
        let sql = "SELECT '$1', E'it\\'s $2', \"a$3\", $$ $4 $$, $q$ $5 $q$, a$6 -- $7\n, /* $8 /* $9 */ */ $1";
        assert_eq!(
            renumber(sql, 1),
            "SELECT '$1', E'it\\'s $2', \"a$3\", $$ $4 $$, $q$ $5 $q$, a$6 -- $7\n, /* $8 /* $9 */ */ $2"
        );
    }

    #[test]
    fn doubled_quotes_stay_inside() {
        assert_eq!(renumber("SELECT 'a''$1', $1", 2), "SELECT 'a''$1', $3");
        assert_eq!(
            renumber("SELECT \"x\"\"$1\", $1", 2),
            "SELECT \"x\"\"$1\", $3"
        );
    }

    #[test]
    fn unterminated_text_is_copied() {
        assert_eq!(renumber("SELECT $1, 'open $2", 1), "SELECT $2, 'open $2");
    }

    static USER_PARAMS: &[Param] = &[Param {
        name: "id",
        pg_type: "bigint",
        builtin: false,
        default: None,
    }];

    static ROLES: &[RoleStatement] = &[
        RoleStatement {
            role: "anon",
            sql: "SELECT 0",
            params: &[],
        },
        RoleStatement {
            role: "user",
            sql: "SELECT $1",
            params: USER_PARAMS,
        },
        RoleStatement {
            role: "admin",
            sql: "SELECT $1 + 1",
            params: USER_PARAMS,
        },
        RoleStatement {
            role: "robot", // set by a trusted layer only: no branch
            sql: "SELECT 2",
            params: &[],
        },
    ];

    #[test]
    fn one_branch_per_answerable_role() {
        let rq = RoleQuery {
            sql: "SELECT 'admin' AS \"role\" WHERE $1 = 1",
            roles: &["admin"],
        };
        let op = Operation {
            name: "getThing",
            kind: OpKind::Query,
            query: "",
            sha256: "",
            roles: ROLES,
            constraints: &[],
        };
        let c = statement(&rq, &op).expect("a query");
        assert_eq!(
            c.sql,
            "SELECT CASE WHEN \"__gj_r\".\"role\" = 'anon' THEN (SELECT 0) \
             WHEN \"__gj_r\".\"role\" = 'user' THEN (SELECT $2) \
             WHEN \"__gj_r\".\"role\" = 'admin' THEN (SELECT $3 + 1) END AS \"json\", \"__gj_r\".\"role\" \
             FROM (SELECT 'admin' AS \"role\" WHERE $1 = 1) AS \"__gj_r\""
        );
        assert_eq!(
            c.branches,
            vec![
                Branch { role: 0, first: 1 },
                Branch { role: 1, first: 1 },
                Branch { role: 2, first: 2 }
            ]
        );
        assert_eq!(c.params, 3);
        let mutation = Operation {
            kind: OpKind::Mutation,
            ..op
        };
        assert_eq!(statement(&rq, &mutation), None);
    }

    static SAME: &[RoleStatement] = &[
        RoleStatement {
            role: "anon",
            sql: "SELECT $1",
            params: USER_PARAMS,
        },
        RoleStatement {
            role: "user",
            sql: "SELECT $1",
            params: USER_PARAMS,
        },
        RoleStatement {
            role: "admin",
            sql: "SELECT $1",
            params: USER_PARAMS,
        },
    ];

    static ROLE_PARAM: &[Param] = &[Param {
        name: "user_role",
        pg_type: "text",
        builtin: true,
        default: None,
    }];

    static READS_ROLE: &[RoleStatement] = &[
        RoleStatement {
            role: "user",
            sql: "SELECT $1",
            params: ROLE_PARAM,
        },
        RoleStatement {
            role: "admin",
            sql: "SELECT $1",
            params: ROLE_PARAM,
        },
    ];

    #[test]
    fn roles_with_the_same_statement_share_a_branch() {
        let rq = RoleQuery {
            sql: "SELECT 'admin' AS \"role\" WHERE $1 = 1",
            roles: &["admin"],
        };
        let op = Operation {
            name: "getThing",
            kind: OpKind::Query,
            query: "",
            sha256: "",
            roles: SAME,
            constraints: &[],
        };
        let c = statement(&rq, &op).expect("a query");
        assert_eq!(
            c.sql,
            "SELECT CASE WHEN \"__gj_r\".\"role\" IN ('anon', 'user', 'admin') THEN (SELECT $2) \
             END AS \"json\", \"__gj_r\".\"role\" FROM (SELECT 'admin' AS \"role\" WHERE $1 = 1) AS \"__gj_r\""
        );
        assert_eq!(c.branches, vec![Branch { role: 0, first: 1 }]);
        assert_eq!(c.params, 2);

        // `$user_role` binds each role's own name: no sharing.
        let op = Operation {
            roles: READS_ROLE,
            ..op
        };
        let c = statement(&rq, &op).expect("a query");
        assert_eq!(c.branches.len(), 2, "{}", c.sql);
        assert_eq!(c.params, 3);
    }

    #[test]
    fn a_query_statement_joins_as_its_expression() {
        let sql = "SELECT json_build_object('a', (SELECT x FROM t AS t0 WHERE t0.\"id\" = $2 LIMIT 1), 'from', 'FROM') AS \"__root\"";
        assert_eq!(
            root_expression(sql),
            Some(
                "json_build_object('a', (SELECT x FROM t AS t0 WHERE t0.\"id\" = $2 LIMIT 1), 'from', 'FROM')"
            )
        );
        for other in [
            "SELECT 1 AS \"__root\" FROM t",
            "SELECT x AS \"__root\" FROM t WHERE y AS \"__root\"",
            "SELECT a, b AS \"__root\"",
            "WITH w AS (SELECT 1) SELECT 1 AS \"__root\"",
            "SELECT (1 AS \"__root\"",
            "SELECT 1 -- c\n AS \"__root\"",
            "SELECT 1",
            "SELECT 1 UNION SELECT 2 AS \"__root\"",
        ] {
            assert_eq!(root_expression(other), None, "{other}");
        }
    }

    static ROOTS: &[RoleStatement] = &[
        RoleStatement {
            role: "anon",
            sql: "SELECT json_build_object('n', $1) AS \"__root\"",
            params: USER_PARAMS,
        },
        RoleStatement {
            role: "user",
            sql: "WITH w AS (SELECT $1 AS n) SELECT json_build_object('n', w.n) AS \"__root\" FROM w",
            params: USER_PARAMS,
        },
    ];

    #[test]
    fn branches_inline_what_they_can() {
        let rq = RoleQuery {
            sql: "SELECT 'user' AS \"role\"",
            roles: &[],
        };
        let op = Operation {
            name: "getThing",
            kind: OpKind::Query,
            query: "",
            sha256: "",
            roles: ROOTS,
            constraints: &[],
        };
        let c = statement(&rq, &op).expect("a query");
        assert_eq!(
            c.sql,
            "SELECT CASE WHEN \"__gj_r\".\"role\" = 'anon' THEN (json_build_object('n', $2)) \
             WHEN \"__gj_r\".\"role\" = 'user' THEN (WITH w AS (SELECT $3 AS n) SELECT json_build_object('n', w.n) AS \"__root\" FROM w) \
             END AS \"json\", \"__gj_r\".\"role\" FROM (SELECT 'user' AS \"role\") AS \"__gj_r\""
        );
    }
}
