//! Filters lowered to SQL: a planned `where` (see [`super::plan::filter`]) as a condition
//! over one row alias.

use super::catalog::{ColumnInfo, TableInfo};
use super::ctx::Ctx;
use super::error::{CompileError, Result};
use super::plan::filter::{Filter, Test};
use super::sql::quote::ident;
use crate::gql::ast::Value;

impl Ctx<'_> {
    /// An SQL condition for a `where` object over `table` aliased `alias`.
    pub fn where_sql(&mut self, table: &TableInfo, alias: &str, v: &Value) -> Result<String> {
        let planned = self.plan_filter(table, v)?;
        self.lower_filter(&planned, alias)
    }

    /// Each of `filters` as a condition over `alias`.
    pub(super) fn lower_filters(
        &mut self,
        filters: &[Filter<'_>],
        alias: &str,
    ) -> Result<Vec<String>> {
        filters
            .iter()
            .map(|f| self.lower_filter(f, alias))
            .collect()
    }

    /// A planned filter as an SQL condition over the row `alias`.
    pub(super) fn lower_filter(&mut self, f: &Filter<'_>, alias: &str) -> Result<String> {
        Ok(match f {
            Filter::All(parts) => join(self.lower_filters(parts, alias)?, "AND"),
            Filter::Any(parts) => join(self.lower_filters(parts, alias)?, "OR"),
            Filter::Not(inner) => format!("NOT ({})", self.lower_filter(inner, alias)?),
            Filter::Column { col, origin, test } => {
                let lhs = format!("{alias}.{}", ident(&col.name));
                let outer = self.origin.replace((origin.clone(), col.pg_type.clone()));
                let condition = self.lower_test(col, &lhs, test);
                self.origin = outer;
                condition?
            }
            Filter::Related { table, rel, filter } => {
                let ca = self.alias();
                let cond = rel.condition(&ca, alias).unwrap_or_default();
                let inner = self.lower_filter(filter, &ca)?;
                format!(
                    "EXISTS (SELECT 1 FROM {} AS {ca} WHERE {cond} AND {inner})",
                    self.source(table)
                )
            }
        })
    }

    fn lower_test(&mut self, col: &ColumnInfo, lhs: &str, test: &Test<'_>) -> Result<String> {
        let all = |this: &mut Self, tests: &[Test<'_>], op: &str| -> Result<String> {
            let parts = tests
                .iter()
                .map(|t| this.lower_test(col, lhs, t))
                .collect::<Result<Vec<_>>>()?;
            Ok(join(parts, op))
        };
        let (o, v) = match test {
            Test::All(tests) => return all(self, tests, "AND"),
            Test::Any(tests) => return all(self, tests, "OR"),
            Test::Not(inner) => return Ok(format!("NOT ({})", self.lower_test(col, lhs, inner)?)),
            Test::Null(true) => return Ok(format!("{lhs} IS NULL")),
            Test::Null(false) => return Ok(format!("{lhs} IS NOT NULL")),
            Test::NullIs(v) => {
                let p = self.value_sql(v, "boolean")?;
                return Ok(format!("(({lhs} IS NULL) = {p})"));
            }
            Test::Compare(o, v) => (*o, *v),
        };
        let t = col.cast_type();
        let elem = col.pg_type.as_str();
        let bin = |this: &mut Self, sym: &str, cast: &str| -> Result<String> {
            Ok(format!("{lhs} {sym} {}", this.value_sql(v, cast)?))
        };
        Ok(match o {
            "eq" => bin(self, "=", &t)?,
            "neq" => bin(self, "<>", &t)?,
            "gt" => bin(self, ">", &t)?,
            "gte" => bin(self, ">=", &t)?,
            "lt" => bin(self, "<", &t)?,
            "lte" => bin(self, "<=", &t)?,
            "distinct" => bin(self, "IS DISTINCT FROM", &t)?,
            "not_distinct" => bin(self, "IS NOT DISTINCT FROM", &t)?,
            "in" | "nin" => {
                let list = self.value_sql(v, &format!("{elem}[]"))?;
                let neg = o != "in";
                match (col.array, neg) {
                    (true, false) => format!("{lhs} && {list}"),
                    (true, true) => format!("NOT ({lhs} && {list})"),
                    (false, false) => format!("{lhs} = ANY({list})"),
                    (false, true) => format!("{lhs} <> ALL({list})"),
                }
            }
            "like" => bin(self, "LIKE", "text")?,
            "nlike" => bin(self, "NOT LIKE", "text")?,
            "ilike" => bin(self, "ILIKE", "text")?,
            "nilike" => bin(self, "NOT ILIKE", "text")?,
            "similar" => bin(self, "SIMILAR TO", "text")?,
            "nsimilar" => bin(self, "NOT SIMILAR TO", "text")?,
            "regex" => bin(self, "~", "text")?,
            "nregex" => bin(self, "!~", "text")?,
            "iregex" => bin(self, "~*", "text")?,
            "niregex" => bin(self, "!~*", "text")?,
            "has_key" => bin(self, "?", "text")?,
            "has_key_any" => bin(self, "?|", "text[]")?,
            "has_key_all" => bin(self, "?&", "text[]")?,
            "contains" => bin(self, "@>", &t)?,
            "contained_in" => bin(self, "<@", &t)?,
            "has_in_common" => bin(self, "&&", &t)?,
            other => {
                return Err(CompileError::new(
                    v.pos,
                    format!("internal: operator `{other}` has no SQL"),
                ));
            }
        })
    }
}

/// Joins conditions with AND/OR, parenthesised; an empty list is `true`.
pub(super) fn join(parts: Vec<String>, op: &str) -> String {
    match parts.len() {
        0 => "true".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => format!("(({}))", parts.join(&format!(") {op} ("))),
    }
}
