//! `order_by:` — columns, related columns, value lists and named orderings.

use super::catalog::{TableInfo, TableSource};
use super::ctx::Ctx;
use super::error::{CompileError, Result};
use super::names::suggestion;
use super::relation::resolve;
use super::sql::quote::{ident, string_literal};
use super::sql::{Direction, Expr, From, Item, OrderItem, Select, Source, render};
use crate::gql::ast::{Value, ValueKind};

const DIRECTIONS: [&str; 6] = [
    "asc",
    "desc",
    "asc_nulls_first",
    "asc_nulls_last",
    "desc_nulls_first",
    "desc_nulls_last",
];

fn direction(v: &Value) -> Result<Direction> {
    let s = match &v.kind {
        ValueKind::Enum(s) | ValueKind::String(s) => s.as_str(),
        _ => {
            return Err(CompileError::new(
                v.pos,
                "an order direction must be asc or desc",
            ));
        }
    };
    Ok(match s.to_lowercase().as_str() {
        "asc" => Direction::Asc,
        "desc" => Direction::Desc,
        "asc_nulls_first" => Direction::AscNullsFirst,
        "asc_nulls_last" => Direction::AscNullsLast,
        "desc_nulls_first" => Direction::DescNullsFirst,
        "desc_nulls_last" => Direction::DescNullsLast,
        _ => {
            return Err(CompileError::new(
                v.pos,
                format!("unknown order direction `{s}`{}", suggestion(s, DIRECTIONS)),
            ));
        }
    })
}

impl Ctx<'_> {
    /// ORDER BY items for `order_by` over `table` aliased `alias`.
    pub fn order_sql(
        &mut self,
        table: &TableInfo,
        alias: &str,
        v: &Value,
    ) -> Result<Vec<OrderItem>> {
        match &v.kind {
            ValueKind::Object(fields) => {
                let mut out = Vec::new();
                for (key, val) in fields {
                    let name = self.db_name(&key.value).into_owned();
                    if name == "search_rank" && table.column(&name).is_none() {
                        let Some((tsv, query)) = self.search.clone() else {
                            return Err(CompileError::new(
                                key.pos,
                                format!(
                                    "ordering by `search_rank` needs `search:` on `{}`",
                                    table.name
                                ),
                            ));
                        };
                        out.push(OrderItem {
                            expr: format!("ts_rank({tsv}, {query})"),
                            dir: direction(val)?,
                        });
                        continue;
                    }
                    if let Some(col) = table.column(&name) {
                        self.check_column(table, col, key.pos)?;
                        let lhs = format!("{alias}.{}", ident(&col.name));
                        match &val.kind {
                            // `id: [$list, "asc"]`: the order of the values in a list.
                            ValueKind::List(items) if items.len() == 2 => {
                                let list =
                                    self.value_sql(&items[0], &format!("{}[]", col.pg_type))?;
                                let dir = direction(&items[1])?;
                                out.push(OrderItem {
                                    expr: format!("array_position({list}, {lhs})"),
                                    dir,
                                });
                            }
                            _ => out.push(OrderItem {
                                expr: lhs,
                                dir: direction(val)?,
                            }),
                        }
                        continue;
                    }
                    if let Some((child, rel)) = resolve(self.cat, table, &name, None, None)
                        && rel.is_one()
                        && matches!(child.source, TableSource::Relation { .. })
                    {
                        let child = child.clone();
                        let ca = self.alias();
                        let cond = rel.condition(&ca, alias).unwrap_or_default();
                        let ValueKind::Object(inner) = &val.kind else {
                            return Err(CompileError::new(
                                val.pos,
                                format!(
                                    "ordering by `{name}` needs an object such as `{{ email: desc }}`"
                                ),
                            ));
                        };
                        for (ck, cv) in inner {
                            let cname = self.db_name(&ck.value).into_owned();
                            let col = child.column(&cname).ok_or_else(|| {
                                CompileError::new(
                                    ck.pos,
                                    format!("table `{}` has no column `{cname}`", child.name),
                                )
                            })?;
                            let first = Select {
                                items: vec![Item::bare(Expr::Raw(format!(
                                    "{ca}.{}",
                                    ident(&col.name)
                                )))],
                                from: Some(From::of(Source::named(self.source(&child), &ca))),
                                filter: Some(Expr::Raw(cond.clone())),
                                limit: Some(Expr::raw("1")),
                                ..Select::default()
                            };
                            out.push(OrderItem {
                                expr: render::expr(&Expr::subquery(first)),
                                dir: direction(cv)?,
                            });
                        }
                        continue;
                    }
                    let names = table.columns.iter().map(|c| c.name.as_str());
                    return Err(CompileError::new(
                        key.pos,
                        format!(
                            "cannot order by `{}`: table `{}` has no such column{}",
                            key.value,
                            table.name,
                            suggestion(&name, names)
                        ),
                    ));
                }
                Ok(out)
            }
            ValueKind::Variable(var) => {
                if table.order_by.is_empty() {
                    return Err(CompileError::new(
                        v.pos,
                        format!(
                            "`order_by: ${var}` needs named orderings in the config (`tables: [{{name: {}, order_by: {{...}}}}]`)",
                            table.name
                        ),
                    ));
                }
                let p = self.var_sql(var, "text", v.pos)?;
                let mut out = Vec::new();
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
                Ok(out)
            }
            ValueKind::List(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(self.order_sql(table, alias, item)?);
                }
                Ok(out)
            }
            _ => Err(CompileError::new(
                v.pos,
                "`order_by` takes an object such as `{ price: desc }`",
            )),
        }
    }
}
