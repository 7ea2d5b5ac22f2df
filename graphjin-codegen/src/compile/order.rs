//! `ORDER BY` items lowered from a planned ordering (see [`super::plan::order`]).

use super::catalog::TableInfo;
use super::ctx::Ctx;
use super::error::Result;
use super::plan::order::OrderKey;
use super::sql::quote::{ident, string_literal};
use super::sql::{Direction, Expr, From, Item, OrderItem, Select, Source, render};

impl Ctx<'_> {
    /// ORDER BY items for a planned ordering of `table` aliased `alias`.
    pub(super) fn order_sql(
        &mut self,
        keys: &[OrderKey<'_>],
        table: &TableInfo,
        alias: &str,
    ) -> Result<Vec<OrderItem>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            match key {
                OrderKey::SearchRank(dir) => {
                    let (tsv, query) = self.search.clone().unwrap_or_default();
                    out.push(OrderItem {
                        expr: format!("ts_rank({tsv}, {query})"),
                        dir: *dir,
                    });
                }
                OrderKey::Column(col, dir) => out.push(OrderItem {
                    expr: format!("{alias}.{}", ident(&col.name)),
                    dir: *dir,
                }),
                OrderKey::Position { col, list, dir } => {
                    let lhs = format!("{alias}.{}", ident(&col.name));
                    let list = self.value_sql(list, &format!("{}[]", col.pg_type))?;
                    out.push(OrderItem {
                        expr: format!("array_position({list}, {lhs})"),
                        dir: *dir,
                    });
                }
                OrderKey::Related {
                    table: child,
                    rel,
                    cols,
                } => {
                    let ca = self.alias();
                    let cond = rel.condition(&ca, alias).unwrap_or_default();
                    for (col, dir) in cols {
                        let first = Select {
                            items: vec![Item::bare(Expr::Raw(format!(
                                "{ca}.{}",
                                ident(&col.name)
                            )))],
                            from: Some(From::of(Source::named(self.source(child), &ca))),
                            filter: Some(Expr::Raw(cond.clone())),
                            limit: Some(Expr::raw("1")),
                            ..Select::default()
                        };
                        out.push(OrderItem {
                            expr: render::expr(&Expr::subquery(first)),
                            dir: *dir,
                        });
                    }
                }
                OrderKey::Named { var, pos } => {
                    let p = self.var_sql(var, "text", *pos)?;
                    for (name, items) in &table.order_by {
                        for (col, dir) in items {
                            out.push(OrderItem {
                                expr: format!(
                                    "CASE WHEN {p} = {} THEN {alias}.{} END",
                                    string_literal(name),
                                    ident(col)
                                ),
                                // The catalog allows `asc` and `desc` only.
                                dir: if dir == "desc" {
                                    Direction::Desc
                                } else {
                                    Direction::Asc
                                },
                            });
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}
