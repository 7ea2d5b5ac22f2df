//! `order_by:` checked against its table, as data: columns, related columns, value lists,
//! `search_rank` and named orderings. `order` lowers it to `ORDER BY` items.

use crate::compile::catalog::{ColumnInfo, TableInfo, TableSource};
use crate::compile::ctx::Ctx;
use crate::compile::error::{CompileError, Result};
use crate::compile::names::suggestion;
use crate::compile::relation::{Relation, resolve};
use crate::compile::sql::Direction;
use crate::gql::ast::{Value, ValueKind};
use crate::source::Pos;

/// One key of an ordering.
#[derive(Debug, Clone)]
pub(in crate::compile) enum OrderKey<'v> {
    /// `search_rank` of the table's `search:`.
    SearchRank(Direction),
    /// A column of the row.
    Column(ColumnInfo, Direction),
    /// The position of the column's value in a list (`id: [$list, "asc"]`).
    Position {
        /// The column.
        col: ColumnInfo,
        /// The list (a variable or a constant).
        list: &'v Value,
        /// The direction.
        dir: Direction,
    },
    /// Columns of the one row a to-one relationship reaches.
    Related {
        /// The related table.
        table: TableInfo,
        /// How it is reached.
        rel: Relation,
        /// Its columns, each with a direction.
        cols: Vec<(ColumnInfo, Direction)>,
    },
    /// The table's named orderings (config `order_by`), one chosen by a text variable.
    Named {
        /// The variable.
        var: &'v str,
        /// Where it is written.
        pos: Pos,
    },
}

impl OrderKey<'_> {
    /// The SQL types (and whether NULL is possible) of the `ORDER BY` items this key
    /// lowers to, in order (cursor pagination stores them in its cursor).
    pub fn types(&self, table: &TableInfo, out: &mut Vec<(String, bool)>) {
        let col_type = |c: Option<&ColumnInfo>| match c {
            Some(c) => (c.cast_type(), c.nullable),
            None => ("text".to_owned(), true),
        };
        match self {
            OrderKey::SearchRank(_) => out.push(("real".to_owned(), true)),
            OrderKey::Column(col, _) => out.push(col_type(Some(col))),
            OrderKey::Position { .. } => out.push(("integer".to_owned(), true)),
            OrderKey::Related { cols, .. } => {
                out.extend(cols.iter().map(|(c, _)| (col_type(Some(c)).0, true)));
            }
            OrderKey::Named { .. } => {
                for (_, items) in &table.order_by {
                    for (col, _) in items {
                        out.push((col_type(table.column(col)).0, true));
                    }
                }
            }
        }
    }
}

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
    /// `order_by` over `table`, checked; `searched` when the table has `search:`.
    pub(in crate::compile) fn plan_order<'v>(
        &mut self,
        table: &TableInfo,
        v: &'v Value,
        searched: bool,
    ) -> Result<Vec<OrderKey<'v>>> {
        match &v.kind {
            ValueKind::Object(fields) => {
                let mut out = Vec::new();
                for (key, val) in fields {
                    let name = self.db_name(&key.value).into_owned();
                    if name == "search_rank" && table.column(&name).is_none() {
                        if !searched {
                            return Err(CompileError::new(
                                key.pos,
                                format!(
                                    "ordering by `search_rank` needs `search:` on `{}`",
                                    table.name
                                ),
                            ));
                        }
                        out.push(OrderKey::SearchRank(direction(val)?));
                        continue;
                    }
                    if let Some(col) = table.column(&name) {
                        self.check_column(table, col, key.pos)?;
                        let col = col.clone();
                        out.push(match &val.kind {
                            // `id: [$list, "asc"]`: the order of the values in a list.
                            ValueKind::List(items) if items.len() == 2 => OrderKey::Position {
                                col,
                                list: &items[0],
                                dir: direction(&items[1])?,
                            },
                            _ => OrderKey::Column(col, direction(val)?),
                        });
                        continue;
                    }
                    if let Some((child, rel)) = resolve(self.cat, table, &name, None, None)
                        && rel.is_one()
                        && matches!(child.source, TableSource::Relation { .. })
                    {
                        let child = child.clone();
                        let ValueKind::Object(inner) = &val.kind else {
                            return Err(CompileError::new(
                                val.pos,
                                format!(
                                    "ordering by `{name}` needs an object such as `{{ email: desc }}`"
                                ),
                            ));
                        };
                        let mut cols = Vec::with_capacity(inner.len());
                        for (ck, cv) in inner {
                            let cname = self.db_name(&ck.value).into_owned();
                            let col = child.column(&cname).ok_or_else(|| {
                                CompileError::new(
                                    ck.pos,
                                    format!("table `{}` has no column `{cname}`", child.name),
                                )
                            })?;
                            // The role's rules for the related table apply to ordering
                            // by its columns as to reading them.
                            self.check_column(&child, col, ck.pos)?;
                            cols.push((col.clone(), direction(cv)?));
                        }
                        out.push(OrderKey::Related {
                            table: child,
                            rel,
                            cols,
                        });
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
                Ok(vec![OrderKey::Named { var, pos: v.pos }])
            }
            ValueKind::List(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(self.plan_order(table, item, searched)?);
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
