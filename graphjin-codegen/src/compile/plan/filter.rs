//! `where:` (and a role's filters, and `includeIf` / `skipIf`): GraphJin's filter language
//! checked against a table, as data. `filter` lowers it to an SQL condition.

use crate::compile::catalog::{ColumnInfo, TableInfo, TableSource};
use crate::compile::ctx::Ctx;
use crate::compile::error::{CompileError, Result};
use crate::compile::names::suggestion;
use crate::compile::relation::{Relation, resolve};
use crate::gql::ast::{Name, Value, ValueKind};

/// A filter over the rows of one table.
#[derive(Debug, Clone)]
pub(in crate::compile) enum Filter<'v> {
    /// All of these hold (an object's entries, a list's items, `and`); none is `true`.
    All(Vec<Filter<'v>>),
    /// One of these holds (`or`).
    Any(Vec<Filter<'v>>),
    /// This does not hold (`not`).
    Not(Box<Filter<'v>>),
    /// A test of a column of the row.
    Column {
        /// The column.
        col: ColumnInfo,
        /// `table.column`, the origin a variable compared with it takes its type from.
        origin: String,
        /// The test.
        test: Test<'v>,
    },
    /// Some row of a related table passes `filter`.
    Related {
        /// The related table.
        table: TableInfo,
        /// How its rows relate to the row filtered.
        rel: Relation,
        /// The filter its rows must pass.
        filter: Box<Filter<'v>>,
    },
}

/// A test of one column.
#[derive(Debug, Clone)]
pub(in crate::compile) enum Test<'v> {
    /// All of these hold.
    All(Vec<Test<'v>>),
    /// One of these holds.
    Any(Vec<Test<'v>>),
    /// This does not hold.
    Not(Box<Test<'v>>),
    /// The column is null (`true`) or is not (`false`).
    Null(bool),
    /// Whether the column is null equals a boolean variable.
    NullIs(&'v Value),
    /// A comparison: the canonical operator (see [`OPERATORS`]) and the value compared with.
    Compare(&'static str, &'v Value),
}

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
    /// A `where` object (or a list of them) over `table`, checked.
    pub(in crate::compile) fn plan_filter<'v>(
        &mut self,
        table: &TableInfo,
        v: &'v Value,
    ) -> Result<Filter<'v>> {
        match &v.kind {
            ValueKind::Object(fields) => {
                let mut parts = Vec::with_capacity(fields.len());
                for (key, val) in fields {
                    parts.push(self.filter_entry(table, key, val)?);
                }
                Ok(Filter::All(parts))
            }
            ValueKind::List(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    parts.push(self.plan_filter(table, item)?);
                }
                Ok(Filter::All(parts))
            }
            _ => Err(CompileError::new(
                v.pos,
                "a filter must be an object such as `{ id: { eq: 1 } }`",
            )),
        }
    }

    /// A role's filters for `table` (the filters themselves are not filtered again).
    pub(in crate::compile) fn plan_role_filters<'v>(
        &mut self,
        table: &TableInfo,
        filters: &'v [Value],
    ) -> Result<Vec<Filter<'v>>> {
        let ignore = self.ignore_rules;
        self.ignore_rules = true;
        let out = filters.iter().map(|f| self.plan_filter(table, f)).collect();
        self.ignore_rules = ignore;
        out
    }

    fn filter_entry<'v>(
        &mut self,
        table: &TableInfo,
        key: &Name,
        val: &'v Value,
    ) -> Result<Filter<'v>> {
        let k = key.value.trim_start_matches('_');
        match k {
            "and" => return self.plan_filter(table, val),
            "or" => {
                let parts = match &val.kind {
                    ValueKind::Object(fields) => fields
                        .iter()
                        .map(|(k, v)| self.filter_entry(table, k, v))
                        .collect::<Result<Vec<_>>>()?,
                    ValueKind::List(items) => items
                        .iter()
                        .map(|i| self.plan_filter(table, i))
                        .collect::<Result<Vec<_>>>()?,
                    _ => {
                        return Err(CompileError::new(
                            val.pos,
                            "`or` takes an object or a list of objects",
                        ));
                    }
                };
                return Ok(Filter::Any(parts));
            }
            "not" => return Ok(Filter::Not(Box::new(self.plan_filter(table, val)?))),
            _ => {}
        }
        let name = self.db_name(&key.value).into_owned();
        if let Some(col) = table.column(&name) {
            self.check_column(table, col, key.pos)?;
            let col = col.clone();
            let test = column_test(&col, val)?;
            return Ok(Filter::Column {
                origin: table.origin(&col.name),
                col,
                test,
            });
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
            let filter = self.plan_filter(&child, val)?;
            return Ok(Filter::Related {
                table: child,
                rel,
                filter: Box::new(filter),
            });
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
}

/// The test for one column: `{ op: value, ... }`, a list (IN), or a value (=).
fn column_test<'v>(col: &ColumnInfo, val: &'v Value) -> Result<Test<'v>> {
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
                                        sub.push(Test::All(vec![operator(col, k, x)?]));
                                    }
                                }
                                _ => sub.push(column_test(col, item)?),
                            }
                        }
                        if o == "and" {
                            Test::All(sub)
                        } else {
                            Test::Any(sub)
                        }
                    }
                    "not" => Test::Not(Box::new(column_test(col, v)?)),
                    _ => operator(col, op, v)?,
                };
                parts.push(part);
            }
            Ok(Test::All(parts))
        }
        ValueKind::List(_) => operator(
            col,
            &Name {
                value: "in".into(),
                pos: val.pos,
            },
            val,
        ),
        ValueKind::Null => Ok(Test::Null(true)),
        _ => operator(
            col,
            &Name {
                value: "eq".into(),
                pos: val.pos,
            },
            val,
        ),
    }
}

fn operator<'v>(col: &ColumnInfo, op: &Name, v: &'v Value) -> Result<Test<'v>> {
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
    if matches!(v.kind, ValueKind::Null) && !matches!(o, "is_null" | "distinct" | "not_distinct") {
        return match o {
            "eq" => Ok(Test::Null(true)),
            "neq" => Ok(Test::Null(false)),
            _ => Err(CompileError::new(
                v.pos,
                format!("`{o}` cannot compare with null"),
            )),
        };
    }
    if o == "is_null" {
        return match &v.kind {
            ValueKind::Boolean(b) => Ok(Test::Null(*b)),
            ValueKind::Variable(_) => Ok(Test::NullIs(v)),
            _ => Err(CompileError::new(
                v.pos,
                "`is_null` takes true, false or a variable",
            )),
        };
    }
    Ok(Test::Compare(o, v))
}

fn items_are_ops(fields: &[(Name, Value)]) -> bool {
    fields
        .iter()
        .all(|(k, _)| canonical_operator(&k.value).is_some())
}
