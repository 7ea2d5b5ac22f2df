//! Cursor pagination, as GraphJin's `qcode/args.go` and `psql/query.go` define it:
//! `first`/`last` (a limit, and the primary key as the last ordering column, ascending for
//! `first`, descending for `last`) and `after`/`before: $cursor` on a list selection. Such
//! a selection orders by every `order_by` item plus the primary key, and its response gets
//! the sibling field `<field>_cursor`: the ordering values of the page's last row.
//!
//! The cursor the statement returns is the text `gj/<16 hex>:` (the selection's *marker*,
//! a hash of the operation's name, the selection's response path and its ordering) followed
//! by a JSON array of the last row's ordering values, or `null` for an empty page. The
//! runtime seals it (AES-256-GCM, GraphJin's `__gj/enc:` form) before the client sees it,
//! and opens the `$cursor` the client sends back before binding it; it finds each
//! statement's markers in the SQL, where they appear as the literal `'gj/<16 hex>:'`.
//! A `$cursor` with another selection's marker (or none) reads as no cursor: the first page.
//!
//! The continuation condition compares the row with the cursor's values in the ordering's
//! own directions: the row-value comparison `(a, b) > ($a, $b)` when every item is `NOT
//! NULL` and all go one way, else GraphJin's expanded form (`a > $a OR (a = $a AND b >
//! $b) ...`) with each item's `NULLS FIRST`/`LAST` placement.

use std::fmt::Write as _;

use super::catalog::{ColumnInfo, TableInfo, TableSource};
use super::ctx::Ctx;
use super::error::{CompileError, Result};
use super::names::{ident, string_literal};
use super::relation::resolve;
use crate::gql::ast::{Value, ValueKind};
use crate::source::Pos;

/// The prefix every marker starts with (GraphJin's `gj/<hex>:` print format).
pub const MARKER_PREFIX: &str = "gj/";

/// Per statement: what cursor-paged selections hand to the selection around them.
#[derive(Debug, Default)]
pub(super) struct PagingState {
    /// `CROSS JOIN LATERAL (...) AS __pgN` items the enclosing selection (or the root)
    /// adds to its `FROM`: each paged list is computed once there, with its cursor.
    pub laterals: Vec<String>,
    /// The `_cursor` value of the table field just compiled, if it is cursor-paged.
    pub pending: Option<String>,
    /// Response keys from the root to the field being compiled.
    pub path: Vec<String>,
    /// The operation's name (part of each marker).
    pub op_name: String,
    /// Set while a mutation's result is compiled: cursors apply to reads only.
    pub in_mutation: bool,
    /// Subscription batches: the root's lateral joins, which go after the batch's `FROM`.
    pub root_joins: String,
}

/// `first`, `last`, `after`, `before` as written on a field.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PagingArgs<'f> {
    /// Any of the four was given.
    pub paged: bool,
    /// `last`: the primary key orders descending.
    pub last: bool,
    /// `after:` / `before:` (GraphJin reads both the same way: onwards in the ordering).
    pub cursor: Option<&'f Value>,
    /// Where the first paging argument is, for errors.
    pub pos: Option<Pos>,
}

/// One ordering item of a paged selection.
#[derive(Debug, Clone)]
struct Item {
    expr: String,
    desc: bool,
    nulls_first: bool,
    pg_type: String,
    nullable: bool,
}

/// What a paged selection adds to its statement.
pub(super) struct PagedSql {
    /// Appended to the selection's `FROM` (the cursor's values, one row).
    pub from: String,
    /// Added to its `WHERE`: rows after the cursor (true without one).
    pub condition: String,
    /// Its `ORDER BY` items: the ordering plus the primary key.
    pub order: Vec<String>,
    /// Extra output columns of the inner select (`, expr AS "__c0"`...).
    pub columns: String,
    marker: String,
    count: usize,
}

impl PagedSql {
    /// The lateral subquery computing the page's JSON (`"json"`) and cursor (`"cursor"`)
    /// from the inner select `inner`, aliased `n`.
    pub fn wrap(&self, inner: &str, n: usize) -> String {
        let values: Vec<String> = (0..self.count)
            .map(|k| format!("__sj{n}.\"__c{k}\""))
            .collect();
        format!(
            " CROSS JOIN LATERAL (SELECT coalesce(json_agg(__sj{n}.\"json\"), '[]') AS \"json\", {} || ((array_agg(json_build_array({})))[count(*)::int])::text AS \"cursor\" FROM ({inner}) AS __sj{n}) AS __pg{n}",
            string_literal(&self.marker),
            values.join(", ")
        )
    }
}

/// FNV-1a, 64 bits: a stable identity for a marker (integrity comes from the runtime's
/// AES-GCM, not from this hash).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Splits `expr DIR` as `order_sql` writes it: (expr, descending, nulls first).
fn split_direction(item: &str) -> Option<(&str, bool, bool)> {
    const FORMS: [(&str, bool, bool); 6] = [
        (" ASC NULLS FIRST", false, true),
        (" ASC NULLS LAST", false, false),
        (" DESC NULLS FIRST", true, true),
        (" DESC NULLS LAST", true, false),
        (" ASC", false, false),
        (" DESC", true, true),
    ];
    FORMS
        .iter()
        .find_map(|(suffix, desc, first)| item.strip_suffix(suffix).map(|e| (e, *desc, *first)))
}

impl<'a> Ctx<'a> {
    /// The SQL types (and whether NULL is possible) of the items `order_sql` writes for
    /// `order_by` value `v`, in the same order. `order_sql` has checked `v` already.
    fn order_types(&self, table: &TableInfo, v: &Value, out: &mut Vec<(String, bool)>) {
        let col_type = |c: Option<&ColumnInfo>| match c {
            Some(c) => (c.cast_type(), c.nullable),
            None => ("text".to_owned(), true),
        };
        match &v.kind {
            ValueKind::Object(fields) => {
                for (key, val) in fields {
                    let name = self.db_name(&key.value).into_owned();
                    if name == "search_rank" && table.column(&name).is_none() {
                        out.push(("real".to_owned(), true));
                    } else if let Some(col) = table.column(&name) {
                        match &val.kind {
                            ValueKind::List(items) if items.len() == 2 => {
                                out.push(("integer".to_owned(), true));
                            }
                            _ => out.push(col_type(Some(col))),
                        }
                    } else if let Some((child, _)) = resolve(self.cat, table, &name, None, None)
                        && let ValueKind::Object(inner) = &val.kind
                    {
                        for (ck, _) in inner {
                            let cname = self.db_name(&ck.value).into_owned();
                            let (ty, _) = col_type(child.column(&cname));
                            out.push((ty, true));
                        }
                    }
                }
            }
            ValueKind::Variable(_) => {
                for (_, items) in &table.order_by {
                    for (col, _) in items {
                        let (ty, _) = col_type(table.column(col));
                        out.push((ty, true));
                    }
                }
            }
            ValueKind::List(items) => {
                for item in items {
                    self.order_types(table, item, out);
                }
            }
            _ => {}
        }
    }

    /// Reads `first`/`last`/`after`/`before` for a list selection: the cursor's join,
    /// condition, ordering and output columns. `order` is what `order_sql` wrote for the
    /// field's `order_by` (nothing else: no `distinct`, no default order).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn paged_sql(
        &mut self,
        paging: &PagingArgs<'_>,
        field_pos: Pos,
        table: &TableInfo,
        alias: &str,
        order_by: Option<&Value>,
        order: &[String],
        n: usize,
    ) -> Result<PagedSql> {
        let pos = paging.pos.unwrap_or(field_pos);
        if self.paging.in_mutation {
            return Err(CompileError::new(
                pos,
                "cursor pagination (`first`, `last`, `after`, `before`) applies to queries and subscriptions, not to a mutation's result",
            ));
        }
        let pk = match (&table.source, table.primary_key()) {
            (TableSource::Relation { .. }, Some(pk)) => pk.clone(),
            _ => {
                return Err(CompileError::new(
                    pos,
                    format!(
                        "cursor pagination needs a primary key: table `{}` has none (GraphJin: \"table requires primary key\")",
                        table.name
                    ),
                ));
            }
        };
        let mut types = Vec::new();
        if let Some(v) = order_by {
            self.order_types(table, v, &mut types);
        }
        if types.len() != order.len() {
            return Err(CompileError::new(
                pos,
                "cursor pagination cannot follow this `order_by` (an ordering whose type is unknown)",
            ));
        }
        let mut items = Vec::with_capacity(order.len() + 1);
        for (text, (pg_type, nullable)) in order.iter().zip(types) {
            let (expr, desc, nulls_first) = split_direction(text).ok_or_else(|| {
                CompileError::new(pos, format!("cursor pagination cannot follow `{text}`"))
            })?;
            items.push(Item {
                expr: expr.to_owned(),
                desc,
                nulls_first,
                pg_type,
                nullable,
            });
        }
        let pk_expr = format!("{alias}.{}", ident(&pk.name));
        if !items.iter().any(|i| i.expr == pk_expr) {
            items.push(Item {
                expr: pk_expr,
                desc: paging.last,
                nulls_first: paging.last,
                pg_type: pk.cast_type(),
                nullable: false,
            });
        }

        let path = self.paging.path.join(".");
        let spec: String = items
            .iter()
            .map(|i| format!("{} {} {};", i.pg_type, i.desc, i.nulls_first))
            .collect();
        let marker = format!(
            "{MARKER_PREFIX}{:016x}:",
            fnv1a(&[&self.paging.op_name, &path, &spec])
        );

        // GraphJin reads `$cursor` whenever a selection is paged, `after` or not.
        if let Some(v) = paging.cursor {
            match &v.kind {
                ValueKind::Variable(name) if name == "cursor" => {}
                _ => {
                    return Err(CompileError::new(
                        v.pos,
                        "`after`/`before` take the variable `$cursor`, e.g. `products(first: 10, after: $cursor)`",
                    ));
                }
            }
        }
        let p = self.var_sql("cursor", "text", pos)?;
        let cur = format!("__cur{n}");
        let len = marker.len();
        let mut values = String::new();
        for (k, item) in items.iter().enumerate() {
            let _ = write!(values, ", (__j->>{k})::{} AS \"v{k}\"", item.pg_type);
        }
        let from = format!(
            " CROSS JOIN (SELECT __j{values} FROM (SELECT CASE WHEN left({p}, {len}) = {} THEN substr({p}, {})::json END AS __j) AS __x) AS {cur}",
            string_literal(&marker),
            len + 1
        );
        let condition = format!("({cur}.__j IS NULL OR {})", seek(&items, &cur));
        let order = items
            .iter()
            .map(|i| {
                let dir = match (i.desc, i.nulls_first) {
                    (false, false) => "ASC",
                    (false, true) => "ASC NULLS FIRST",
                    (true, true) => "DESC",
                    (true, false) => "DESC NULLS LAST",
                };
                format!("{} {dir}", i.expr)
            })
            .collect();
        let mut columns = String::new();
        for (k, item) in items.iter().enumerate() {
            let _ = write!(columns, ", {} AS \"__c{k}\"", item.expr);
        }
        Ok(PagedSql {
            from,
            condition,
            order,
            columns,
            marker,
            count: items.len(),
        })
    }
}

/// Rows after the cursor's values `cur."vK"`, item by item.
fn seek(items: &[Item], cur: &str) -> String {
    let value = |k: usize| format!("{cur}.\"v{k}\"");
    let op = |i: &Item| if i.desc { "<" } else { ">" };
    if items.iter().all(|i| !i.nullable) && items.iter().all(|i| i.desc == items[0].desc) {
        let lhs: Vec<&str> = items.iter().map(|i| i.expr.as_str()).collect();
        let rhs: Vec<String> = (0..items.len()).map(value).collect();
        return format!(
            "({}) {} ({})",
            lhs.join(", "),
            op(&items[0]),
            rhs.join(", ")
        );
    }
    let mut alternatives = Vec::with_capacity(items.len());
    for (k, item) in items.iter().enumerate() {
        let mut terms: Vec<String> = items[..k]
            .iter()
            .enumerate()
            .map(|(j, e)| {
                if e.nullable {
                    format!("{} IS NOT DISTINCT FROM {}", e.expr, value(j))
                } else {
                    format!("{} = {}", e.expr, value(j))
                }
            })
            .collect();
        let (e, v, o) = (&item.expr, value(k), op(item));
        terms.push(match (item.nullable, item.nulls_first) {
            (false, _) => format!("{e} {o} {v}"),
            (true, false) => format!("({v} IS NOT NULL AND ({e} {o} {v} OR {e} IS NULL))"),
            (true, true) => format!("({e} {o} {v} OR ({v} IS NULL AND {e} IS NOT NULL))"),
        });
        alternatives.push(format!("({})", terms.join(" AND ")));
    }
    format!("({})", alternatives.join(" OR "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(expr: &str, desc: bool, nullable: bool) -> Item {
        Item {
            expr: expr.into(),
            desc,
            nulls_first: desc,
            pg_type: "bigint".into(),
            nullable,
        }
    }

    #[test]
    fn row_value_when_not_null_and_one_direction() {
        let s = seek(&[item("t.a", true, false), item("t.id", true, false)], "c");
        assert_eq!(s, "(t.a, t.id) < (c.\"v0\", c.\"v1\")");
    }

    #[test]
    fn expanded_when_directions_differ_or_nullable() {
        let s = seek(&[item("t.a", false, true), item("t.id", true, false)], "c");
        assert_eq!(
            s,
            "(((c.\"v0\" IS NOT NULL AND (t.a > c.\"v0\" OR t.a IS NULL))) OR (t.a IS NOT DISTINCT FROM c.\"v0\" AND t.id < c.\"v1\"))"
        );
    }

    #[test]
    fn directions_parse() {
        assert_eq!(
            split_direction("t.\"a\" DESC"),
            Some(("t.\"a\"", true, true))
        );
        assert_eq!(
            split_direction("x ASC NULLS FIRST"),
            Some(("x", false, true))
        );
        assert_eq!(split_direction("x"), None);
    }

    #[test]
    fn markers_are_stable_and_distinct() {
        assert_eq!(fnv1a(&["a", "b"]), fnv1a(&["a", "b"]));
        assert_ne!(fnv1a(&["ab", ""]), fnv1a(&["a", "b"]));
    }
}
