//! `order_by:` — columns, related columns, value lists and named orderings.

use super::catalog::{TableInfo, TableSource};
use super::ctx::Ctx;
use super::error::{CompileError, Result};
use super::names::{ident, string_literal, suggestion};
use super::relation::resolve;
use crate::gql::ast::{Value, ValueKind};

const DIRECTIONS: [&str; 6] = [
    "asc",
    "desc",
    "asc_nulls_first",
    "asc_nulls_last",
    "desc_nulls_first",
    "desc_nulls_last",
];

fn direction(v: &Value) -> Result<&'static str> {
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
        "asc" => "ASC",
        "desc" => "DESC",
        "asc_nulls_first" => "ASC NULLS FIRST",
        "asc_nulls_last" => "ASC NULLS LAST",
        "desc_nulls_first" => "DESC NULLS FIRST",
        "desc_nulls_last" => "DESC NULLS LAST",
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
    pub fn order_sql(&mut self, table: &TableInfo, alias: &str, v: &Value) -> Result<Vec<String>> {
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
                        out.push(format!("ts_rank({tsv}, {query}) {}", direction(val)?));
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
                                out.push(format!("array_position({list}, {lhs}) {dir}"));
                            }
                            _ => out.push(format!("{lhs} {}", direction(val)?)),
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
                            out.push(format!(
                                "(SELECT {ca}.{} FROM {} AS {ca} WHERE {cond} LIMIT 1) {}",
                                ident(&col.name),
                                self.source(&child),
                                direction(cv)?
                            ));
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
                        out.push(format!(
                            "CASE WHEN {p} = {} THEN {alias}.{} END {}",
                            string_literal(name),
                            ident(col),
                            dir.to_uppercase()
                        ));
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
