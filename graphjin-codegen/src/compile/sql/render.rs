//! The one printer of the SQL tree: every statement the compiler makes is written here.

use std::fmt::Write;

use super::ast::{Cte, CteBody, Expr, From, Item, Join, JoinKind, Select, Source, With};
use super::quote::{ident, string_literal};

/// PostgreSQL takes at most 100 arguments per call: 50 key/value pairs.
const OBJECT_CHUNK: usize = 50;

/// Prints a statement.
pub fn select(s: &Select) -> String {
    let mut out = String::with_capacity(256);
    write_select(&mut out, s);
    out
}

/// Prints an expression.
pub fn expr(e: &Expr) -> String {
    let mut out = String::with_capacity(64);
    write_expr(&mut out, e);
    out
}

fn write_select(out: &mut String, s: &Select) {
    if let Some(with) = &s.with {
        write_with(out, with);
    }
    out.push_str("SELECT");
    if !s.distinct_on.is_empty() {
        let _ = write!(out, " DISTINCT ON ({})", s.distinct_on.join(", "));
    }
    for (i, item) in s.items.iter().enumerate() {
        out.push_str(if i == 0 { " " } else { ", " });
        write_item(out, item);
    }
    if let Some(from) = &s.from {
        out.push_str(" FROM ");
        write_from(out, from);
    }
    if let Some(filter) = &s.filter {
        out.push_str(" WHERE ");
        write_expr(out, filter);
    }
    if !s.group_by.is_empty() {
        let _ = write!(out, " GROUP BY {}", s.group_by.join(", "));
    }
    for (i, o) in s.order_by.iter().enumerate() {
        out.push_str(if i == 0 { " ORDER BY " } else { ", " });
        let _ = write!(out, "{} {}", o.expr, o.dir.keywords());
    }
    if let Some(limit) = &s.limit {
        out.push_str(" LIMIT ");
        write_expr(out, limit);
    }
    if let Some(offset) = &s.offset {
        out.push_str(" OFFSET ");
        write_expr(out, offset);
    }
}

fn write_with(out: &mut String, w: &With) {
    out.push_str(if w.recursive {
        "WITH RECURSIVE "
    } else {
        "WITH "
    });
    for (i, cte) in w.ctes.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_cte(out, cte);
    }
    out.push(' ');
}

fn write_cte(out: &mut String, c: &Cte) {
    out.push_str(&c.name);
    if !c.columns.is_empty() {
        let _ = write!(out, "({})", c.columns.join(", "));
    }
    out.push_str(if matches!(c.body, CteBody::Materialized(_)) {
        " AS MATERIALIZED ("
    } else {
        " AS ("
    });
    match &c.body {
        CteBody::UnionAll(a, b) => {
            write_select(out, a);
            out.push_str(" UNION ALL ");
            write_select(out, b);
        }
        CteBody::Write(sql) | CteBody::Materialized(sql) => out.push_str(sql),
    }
    out.push(')');
    if let Some(cycle) = &c.cycle {
        let _ = write!(
            out,
            " CYCLE {} SET {} USING {}",
            cycle.column, cycle.mark, cycle.path
        );
    }
}

fn write_item(out: &mut String, item: &Item) {
    write_expr(out, &item.expr);
    if let Some(alias) = &item.alias {
        out.push_str(" AS ");
        if item.quoted {
            out.push_str(&ident(alias));
        } else {
            out.push_str(alias);
        }
    }
}

fn write_from(out: &mut String, from: &From) {
    write_source(out, &from.source);
    for join in &from.joins {
        write_join(out, join);
    }
}

fn write_join(out: &mut String, join: &Join) {
    match &join.kind {
        JoinKind::Inner(_) => out.push_str(" JOIN "),
        JoinKind::Cross => out.push_str(" CROSS JOIN "),
        JoinKind::CrossLateral => out.push_str(" CROSS JOIN LATERAL "),
    }
    write_source(out, &join.source);
    if let JoinKind::Inner(on) = &join.kind {
        out.push_str(" ON ");
        write_expr(out, on);
    }
}

fn write_source(out: &mut String, source: &Source) {
    match source {
        Source::Named {
            relation,
            alias,
            columns,
        } => {
            let _ = write!(out, "{relation} AS {alias}");
            if !columns.is_empty() {
                let _ = write!(out, "({})", columns.join(", "));
            }
        }
        Source::Bare(name) => out.push_str(name),
        Source::Derived { select, alias } => {
            out.push('(');
            write_select(out, select);
            let _ = write!(out, ") AS {alias}");
        }
    }
}

fn write_expr(out: &mut String, e: &Expr) {
    match e {
        Expr::Raw(text) => out.push_str(text),
        Expr::Null => out.push_str("NULL"),
        Expr::Paren(e) => {
            out.push('(');
            write_expr(out, e);
            out.push(')');
        }
        Expr::Subquery(s) => {
            out.push('(');
            write_select(out, s);
            out.push(')');
        }
        Expr::JsonObject(pairs) if pairs.len() <= OBJECT_CHUNK => write_object(out, pairs),
        Expr::JsonObject(pairs) => {
            out.push('(');
            for (i, chunk) in pairs.chunks(OBJECT_CHUNK).enumerate() {
                if i > 0 {
                    out.push_str(" || ");
                }
                write_object(out, chunk);
                out.push_str("::jsonb");
            }
            out.push_str(")::json");
        }
        Expr::Case(arms) => {
            out.push_str("CASE");
            for (cond, then) in arms {
                out.push_str(" WHEN ");
                write_expr(out, cond);
                out.push_str(" THEN ");
                write_expr(out, then);
            }
            out.push_str(" END");
        }
        Expr::Switch(subject, arms) => {
            out.push_str("CASE ");
            write_expr(out, subject);
            for (k, v) in arms {
                out.push_str(" WHEN ");
                write_expr(out, k);
                out.push_str(" THEN ");
                write_expr(out, v);
            }
            out.push_str(" END");
        }
        Expr::All(parts) => match parts.as_slice() {
            [] => out.push_str("true"),
            [one] => write_expr(out, one),
            _ => {
                out.push_str("((");
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(") AND (");
                    }
                    write_expr(out, p);
                }
                out.push_str("))");
            }
        },
        Expr::Conj(parts) => {
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(" AND ");
                }
                write_expr(out, p);
            }
        }
    }
}

fn write_object(out: &mut String, pairs: &[(String, Expr)]) {
    out.push_str("json_build_object(");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&string_literal(k));
        out.push_str(", ");
        write_expr(out, v);
    }
    out.push(')');
}

#[cfg(test)]
mod tests {
    use super::super::ast::{Direction, OrderItem};
    use super::*;

    #[test]
    fn a_select_prints_its_clauses_in_sql_order() {
        let s = Select {
            distinct_on: vec!["t0.\"a\"".into()],
            items: vec![Item::named(Expr::raw("t0.\"a\""), "json")],
            from: Some(From {
                source: Source::named("\"public\".\"t\"", "t0"),
                joins: vec![Join {
                    kind: JoinKind::Cross,
                    source: Source::derived(Select::default(), "__x"),
                }],
            }),
            filter: Some(Expr::All(vec![Expr::raw("a"), Expr::raw("b")])),
            group_by: vec!["t0.\"a\"".into()],
            order_by: vec![OrderItem {
                expr: "t0.\"a\"".into(),
                dir: Direction::DescNullsLast,
            }],
            limit: Some(Expr::raw("20")),
            offset: Some(Expr::raw("coalesce($1::integer, 0)")),
            with: None,
        };
        assert_eq!(
            select(&s),
            "SELECT DISTINCT ON (t0.\"a\") t0.\"a\" AS \"json\" FROM \"public\".\"t\" AS t0 CROSS JOIN (SELECT) AS __x WHERE ((a) AND (b)) GROUP BY t0.\"a\" ORDER BY t0.\"a\" DESC NULLS LAST LIMIT 20 OFFSET coalesce($1::integer, 0)"
        );
    }

    #[test]
    fn a_large_object_is_merged_from_chunks_of_fifty_pairs() {
        let pairs: Vec<(String, Expr)> = (0..51)
            .map(|i| (format!("k{i}"), Expr::raw(i.to_string())))
            .collect();
        let text = expr(&Expr::JsonObject(pairs));
        assert!(text.starts_with("(json_build_object('k0', 0, "), "{text}");
        assert!(
            text.ends_with("'k49', 49)::jsonb || json_build_object('k50', 50)::jsonb)::json"),
            "{text}"
        );
    }

    #[test]
    fn keys_and_aliases_are_quoted() {
        let s = Select {
            items: vec![Item::named(
                Expr::JsonObject(vec![("it's".into(), Expr::raw("1"))]),
                "a\"b",
            )],
            ..Select::default()
        };
        assert_eq!(
            select(&s),
            "SELECT json_build_object('it''s', 1) AS \"a\"\"b\""
        );
    }

    #[test]
    fn conditions_print_as_graphjin_groups_them() {
        assert_eq!(expr(&Expr::All(vec![])), "true");
        assert_eq!(expr(&Expr::All(vec![Expr::raw("a")])), "a");
        assert_eq!(
            expr(&Expr::Conj(vec![Expr::raw("a"), Expr::raw("b")])),
            "a AND b"
        );
        assert_eq!(
            expr(&Expr::raw("x").when(Expr::raw("c"))),
            "CASE WHEN c THEN x END"
        );
    }
}
