//! `where:` — GraphJin's filter language rendered as an SQL condition.

use super::catalog::{ColumnInfo, TableInfo, TableSource};
use super::ctx::Ctx;
use super::error::{CompileError, Result};
use super::names::suggestion;
use super::relation::resolve;
use super::roles::OpRules;
use super::sql::quote::ident;
use crate::gql::ast::{Name, Value, ValueKind};

/// The operators GraphJin accepts (each also with a leading `_`), every spelling of its
/// `qcode/exp.go` (`gteq`, `greaterThan`, `notIn`, `isNull`, ...), and the canonical name
/// each stands for.
pub const OPERATORS: [(&str, &str); 59] = [
    ("eq", "eq"),
    ("equals", "eq"),
    ("neq", "neq"),
    ("notEquals", "neq"),
    ("not_equals", "neq"),
    ("gt", "gt"),
    ("greaterThan", "gt"),
    ("greater_than", "gt"),
    ("lt", "lt"),
    ("lesserThan", "lt"),
    ("lesser_than", "lt"),
    ("gte", "gte"),
    ("gteq", "gte"),
    ("greaterOrEquals", "gte"),
    ("greater_or_equals", "gte"),
    ("lte", "lte"),
    ("lteq", "lte"),
    ("lesserOrEquals", "lte"),
    ("lesser_or_equals", "lte"),
    ("in", "in"),
    ("nin", "nin"),
    ("notIn", "nin"),
    ("not_in", "nin"),
    ("like", "like"),
    ("nlike", "nlike"),
    ("notLike", "nlike"),
    ("not_like", "nlike"),
    ("ilike", "ilike"),
    ("iLike", "ilike"),
    ("nilike", "nilike"),
    ("notILike", "nilike"),
    ("not_ilike", "nilike"),
    ("similar", "similar"),
    ("nsimilar", "nsimilar"),
    ("notSimiliar", "nsimilar"),
    ("not_similar", "nsimilar"),
    ("regex", "regex"),
    ("nregex", "nregex"),
    ("notRegex", "nregex"),
    ("not_regex", "nregex"),
    ("iregex", "iregex"),
    ("niregex", "niregex"),
    ("notIRegex", "niregex"),
    ("not_iregex", "niregex"),
    ("contains", "contains"),
    ("containedIn", "contained_in"),
    ("contained_in", "contained_in"),
    ("hasInCommon", "has_in_common"),
    ("has_in_common", "has_in_common"),
    ("hasKey", "has_key"),
    ("has_key", "has_key"),
    ("hasKeyAny", "has_key_any"),
    ("has_key_any", "has_key_any"),
    ("hasKeyAll", "has_key_all"),
    ("has_key_all", "has_key_all"),
    ("isNull", "is_null"),
    ("is_null", "is_null"),
    ("distinct", "distinct"),
    ("not_distinct", "not_distinct"),
];

/// GraphJin's short forms of the distinct operators.
const DISTINCT_SHORT: [(&str, &str); 3] = [
    ("dis", "distinct"),
    ("ndis", "not_distinct"),
    ("notDistinct", "not_distinct"),
];

/// The canonical name of operator `op` as written (a leading `_` allowed), if it is one.
pub fn canonical_operator(op: &str) -> Option<&'static str> {
    let op = op.strip_prefix('_').unwrap_or(op);
    OPERATORS
        .iter()
        .chain(&DISTINCT_SHORT)
        .find(|(spelling, _)| *spelling == op)
        .map(|(_, canonical)| *canonical)
}

impl Ctx<'_> {
    /// A role's filters for `table` as conditions over `alias` (the filters themselves
    /// are not filtered again).
    pub(super) fn rule_filters(
        &mut self,
        table: &TableInfo,
        alias: &str,
        rules: &OpRules,
    ) -> Result<Vec<String>> {
        let ignore = self.ignore_rules;
        self.ignore_rules = true;
        let out = rules
            .filters
            .iter()
            .map(|f| self.where_sql(table, alias, f))
            .collect();
        self.ignore_rules = ignore;
        out
    }

    /// An SQL condition for a `where` object over `table` aliased `alias`.
    pub fn where_sql(&mut self, table: &TableInfo, alias: &str, v: &Value) -> Result<String> {
        match &v.kind {
            ValueKind::Object(fields) => {
                let mut parts = Vec::with_capacity(fields.len());
                for (key, val) in fields {
                    parts.push(self.where_entry(table, alias, key, val)?);
                }
                Ok(join(parts, "AND"))
            }
            ValueKind::List(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    parts.push(self.where_sql(table, alias, item)?);
                }
                Ok(join(parts, "AND"))
            }
            _ => Err(CompileError::new(
                v.pos,
                "a filter must be an object such as `{ id: { eq: 1 } }`",
            )),
        }
    }

    fn where_entry(
        &mut self,
        table: &TableInfo,
        alias: &str,
        key: &Name,
        val: &Value,
    ) -> Result<String> {
        let k = key.value.trim_start_matches('_');
        match k {
            "and" => return self.where_sql(table, alias, val),
            "or" => {
                let parts = match &val.kind {
                    ValueKind::Object(fields) => fields
                        .iter()
                        .map(|(k, v)| self.where_entry(table, alias, k, v))
                        .collect::<Result<Vec<_>>>()?,
                    ValueKind::List(items) => items
                        .iter()
                        .map(|i| self.where_sql(table, alias, i))
                        .collect::<Result<Vec<_>>>()?,
                    _ => {
                        return Err(CompileError::new(
                            val.pos,
                            "`or` takes an object or a list of objects",
                        ));
                    }
                };
                return Ok(join(parts, "OR"));
            }
            "not" => return Ok(format!("NOT ({})", self.where_sql(table, alias, val)?)),
            _ => {}
        }
        let name = self.db_name(&key.value).into_owned();
        if let Some(col) = table.column(&name) {
            self.check_column(table, col, key.pos)?;
            let col = col.clone();
            let lhs = format!("{alias}.{}", ident(&col.name));
            let outer = self
                .origin
                .replace((table.origin(&col.name), col.pg_type.clone()));
            let condition = self.column_condition(&col, &lhs, val);
            self.origin = outer;
            return condition;
        }
        if let Some((child, rel)) = resolve(self.cat, table, &name, None, None) {
            if !matches!(child.source, TableSource::Relation { .. }) {
                return Err(CompileError::new(
                    key.pos,
                    format!("cannot filter on `{name}` here"),
                ));
            }
            let Some(_) = rel.condition("x", "y") else {
                return Err(CompileError::new(
                    key.pos,
                    format!("cannot filter on the self-reference `{name}`"),
                ));
            };
            let child = child.clone();
            let ca = self.alias();
            let cond = rel.condition(&ca, alias).unwrap_or_default();
            let inner = self.where_sql(&child, &ca, val)?;
            return Ok(format!(
                "EXISTS (SELECT 1 FROM {} AS {ca} WHERE {cond} AND {inner})",
                self.source(&child)
            ));
        }
        let names = table.columns.iter().map(|c| c.name.as_str());
        Err(CompileError::new(
            key.pos,
            format!(
                "table `{}` has no column `{}`{}",
                table.name,
                key.value,
                suggestion(&name, names.chain(["and", "or", "not"]))
            ),
        ))
    }

    /// The condition for one column: `{ op: value, ... }`, a list (IN), or a value (=).
    fn column_condition(&mut self, col: &ColumnInfo, lhs: &str, val: &Value) -> Result<String> {
        match &val.kind {
            ValueKind::Object(ops) => {
                let mut parts = Vec::with_capacity(ops.len());
                for (op, v) in ops {
                    let o = op.value.trim_start_matches('_');
                    let part = match o {
                        "and" | "or" => {
                            let items: Vec<&Value> = match &v.kind {
                                ValueKind::List(items) => items.iter().collect(),
                                ValueKind::Object(_) => vec![v],
                                _ => {
                                    return Err(CompileError::new(
                                        v.pos,
                                        format!("`{o}` takes an object or a list"),
                                    ));
                                }
                            };
                            let mut sub = Vec::new();
                            for item in items {
                                match &item.kind {
                                    // `{ or: { gt: 1, lt: 5 } }`: each operator is one alternative.
                                    ValueKind::Object(inner)
                                        if o == "or"
                                            && items_are_ops(inner)
                                            && inner.len() > 1
                                            && matches!(v.kind, ValueKind::Object(_)) =>
                                    {
                                        for (k, x) in inner {
                                            let one = Value {
                                                kind: ValueKind::Object(vec![(
                                                    k.clone(),
                                                    x.clone(),
                                                )]),
                                                pos: x.pos,
                                            };
                                            sub.push(self.column_condition(col, lhs, &one)?);
                                        }
                                    }
                                    _ => sub.push(self.column_condition(col, lhs, item)?),
                                }
                            }
                            join(sub, if o == "and" { "AND" } else { "OR" })
                        }
                        "not" => format!("NOT ({})", self.column_condition(col, lhs, v)?),
                        _ => self.operator(col, lhs, op, v)?,
                    };
                    parts.push(part);
                }
                Ok(join(parts, "AND"))
            }
            ValueKind::List(_) => {
                let op = Name {
                    value: "in".into(),
                    pos: val.pos,
                };
                self.operator(col, lhs, &op, val)
            }
            ValueKind::Null => Ok(format!("{lhs} IS NULL")),
            _ => {
                let op = Name {
                    value: "eq".into(),
                    pos: val.pos,
                };
                self.operator(col, lhs, &op, val)
            }
        }
    }

    fn operator(&mut self, col: &ColumnInfo, lhs: &str, op: &Name, v: &Value) -> Result<String> {
        let t = col.cast_type();
        let elem = col.pg_type.as_str();
        let written = op.value.trim_start_matches('_');
        let Some(o) = canonical_operator(written) else {
            return Err(CompileError::new(
                op.pos,
                format!(
                    "unknown operator `{}` for column `{}`{}",
                    op.value,
                    col.name,
                    suggestion(written, OPERATORS.iter().map(|(s, _)| *s))
                ),
            ));
        };
        if matches!(v.kind, ValueKind::Null)
            && !matches!(o, "is_null" | "distinct" | "not_distinct")
        {
            return Ok(match o {
                "eq" => format!("{lhs} IS NULL"),
                "neq" => format!("{lhs} IS NOT NULL"),
                _ => {
                    return Err(CompileError::new(
                        v.pos,
                        format!("`{o}` cannot compare with null"),
                    ));
                }
            });
        }
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
            "is_null" => match &v.kind {
                ValueKind::Boolean(true) => format!("{lhs} IS NULL"),
                ValueKind::Boolean(false) => format!("{lhs} IS NOT NULL"),
                ValueKind::Variable(_) => {
                    let p = self.value_sql(v, "boolean")?;
                    format!("(({lhs} IS NULL) = {p})")
                }
                _ => {
                    return Err(CompileError::new(
                        v.pos,
                        "`is_null` takes true, false or a variable",
                    ));
                }
            },
            "has_key" => bin(self, "?", "text")?,
            "has_key_any" => bin(self, "?|", "text[]")?,
            "has_key_all" => bin(self, "?&", "text[]")?,
            "contains" => bin(self, "@>", &t)?,
            "contained_in" => bin(self, "<@", &t)?,
            "has_in_common" => bin(self, "&&", &t)?,
            other => {
                return Err(CompileError::new(
                    op.pos,
                    format!("internal: operator `{other}` has no SQL"),
                ));
            }
        })
    }
}

fn items_are_ops(fields: &[(Name, Value)]) -> bool {
    fields
        .iter()
        .all(|(k, _)| canonical_operator(&k.value).is_some())
}

/// Joins conditions with AND/OR, parenthesised; an empty list is `true`.
pub(super) fn join(parts: Vec<String>, op: &str) -> String {
    match parts.len() {
        0 => "true".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => format!("(({}))", parts.join(&format!(") {op} ("))),
    }
}
