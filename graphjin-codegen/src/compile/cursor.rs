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

use super::catalog::{TableInfo, TableSource};
use super::ctx::Ctx;
use super::error::{CompileError, Result};
use super::paging::PagingArgs;
use super::plan::order::OrderKey;
use super::sql::quote::{ident, string_literal};
use super::sql::{Direction, Expr, From, Item, Join, JoinKind, OrderItem, Select, Source};
use crate::gql::ast::ValueKind;
use crate::source::Pos;

/// The prefix every marker starts with (GraphJin's `gj/<hex>:` print format).
pub const MARKER_PREFIX: &str = "gj/";

/// One ordering item of a paged selection.
#[derive(Debug, Clone)]
struct Key {
    expr: String,
    desc: bool,
    nulls_first: bool,
    pg_type: String,
    nullable: bool,
}

/// What a paged selection adds to its statement.
pub(super) struct PagedSql {
    /// Joined to the selection's `FROM` (the cursor's values, one row).
    pub from: Join,
    /// Added to its `WHERE`: rows after the cursor (true without one).
    pub condition: String,
    /// Its `ORDER BY` items: the ordering plus the primary key.
    pub order: Vec<OrderItem>,
    /// Extra output columns of the inner select (`expr AS "__c0"`...).
    pub columns: Vec<Item>,
    marker: String,
    count: usize,
}

impl PagedSql {
    /// The lateral subquery computing the page's JSON (`"json"`) and cursor (`"cursor"`)
    /// from the inner select `inner`, aliased `n`.
    pub fn wrap(&self, inner: Select, n: usize) -> Join {
        let values: Vec<String> = (0..self.count)
            .map(|k| format!("__sj{n}.\"__c{k}\""))
            .collect();
        let page = Select {
            items: vec![
                Item::named(
                    Expr::Raw(format!("coalesce(json_agg(__sj{n}.\"json\"), '[]')")),
                    "json",
                ),
                Item::named(
                    Expr::Raw(format!(
                        "{} || ((array_agg(json_build_array({})))[count(*)::int])::text",
                        string_literal(&self.marker),
                        values.join(", ")
                    )),
                    "cursor",
                ),
            ],
            from: Some(From::of(Source::derived(inner, format!("__sj{n}")))),
            ..Select::default()
        };
        Join {
            kind: JoinKind::CrossLateral,
            source: Source::derived(page, format!("__pg{n}")),
        }
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

impl<'a> Ctx<'a> {
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
        keys: &[OrderKey<'_>],
        order: &[OrderItem],
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
        for key in keys {
            key.types(table, &mut types);
        }
        if types.len() != order.len() {
            return Err(CompileError::new(
                pos,
                "internal: the ordering and its types differ; please report this operation",
            ));
        }
        let mut items = Vec::with_capacity(order.len() + 1);
        for (o, (pg_type, nullable)) in order.iter().zip(types) {
            items.push(Key {
                expr: o.expr.clone(),
                desc: o.dir.desc(),
                nulls_first: o.dir.nulls_first(),
                pg_type,
                nullable,
            });
        }
        let pk_expr = format!("{alias}.{}", ident(&pk.name));
        if !items.iter().any(|i| i.expr == pk_expr) {
            items.push(Key {
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
        let mut values = vec![Item::bare(Expr::raw("__j"))];
        for (k, item) in items.iter().enumerate() {
            values.push(Item::named(
                Expr::Raw(format!("(__j->>{k})::{}", item.pg_type)),
                &format!("v{k}"),
            ));
        }
        let sealed = Select {
            items: vec![
                Item::named(
                    Expr::Raw(format!("substr({p}, {})::json", len + 1)).when(Expr::Raw(format!(
                        "left({p}, {len}) = {}",
                        string_literal(&marker)
                    ))),
                    "__j",
                )
                .unquoted(),
            ],
            ..Select::default()
        };
        let from = Join {
            kind: JoinKind::Cross,
            source: Source::derived(
                Select {
                    items: values,
                    from: Some(From::of(Source::derived(sealed, "__x"))),
                    ..Select::default()
                },
                cur.clone(),
            ),
        };
        let condition = format!("({cur}.__j IS NULL OR {})", seek(&items, &cur));
        let order = items
            .iter()
            .map(|i| OrderItem {
                expr: i.expr.clone(),
                dir: Direction::of(i.desc, i.nulls_first),
            })
            .collect();
        let columns = items
            .iter()
            .enumerate()
            .map(|(k, item)| Item::named(Expr::Raw(item.expr.clone()), &format!("__c{k}")))
            .collect();
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
fn seek(items: &[Key], cur: &str) -> String {
    let value = |k: usize| format!("{cur}.\"v{k}\"");
    let op = |i: &Key| if i.desc { "<" } else { ">" };
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

    fn item(expr: &str, desc: bool, nullable: bool) -> Key {
        Key {
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
    fn directions_keep_their_null_placement() {
        for (desc, first) in [(false, false), (false, true), (true, false), (true, true)] {
            let d = Direction::of(desc, first);
            assert_eq!((d.desc(), d.nulls_first()), (desc, first), "{d:?}");
        }
        assert_eq!(Direction::of(true, true).keywords(), "DESC");
        assert_eq!(Direction::of(false, false).keywords(), "ASC");
    }

    #[test]
    fn markers_are_stable_and_distinct() {
        assert_eq!(fnv1a(&["a", "b"]), fnv1a(&["a", "b"]));
        assert_ne!(fnv1a(&["ab", ""]), fnv1a(&["a", "b"]));
    }
}
