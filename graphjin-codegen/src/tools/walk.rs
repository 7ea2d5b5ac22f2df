//! Which tables an operation's fields select, update or delete, found from the parsed
//! operation and the compiler's catalog (public types only). The compliance checks use it to
//! point at the field that breaks a rule and to see the filters written on it.

use crate::compile::Catalog;
use crate::compile::catalog::{TableInfo, TableSource};
use crate::compile::names::{camel_to_snake, singular};
use crate::compile::relation::{Find, resolve};
use crate::gql::ast::{Field, Fragment, OpKind, Operation, Selection, Value, ValueKind};

/// How a field uses its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Rows are selected (a query's field, or a relation under any field).
    Select,
    /// Rows are inserted or upserted: the field's selection returns the rows written.
    Insert,
    /// Rows picked by `id:`/`where:` are updated.
    Update,
    /// Rows picked by `id:`/`where:` are deleted.
    Delete,
}

/// One field that reads or writes a table.
#[derive(Debug, Clone)]
pub struct TableUse<'c, 'd> {
    /// The table as the compiler knows it.
    pub table: &'c TableInfo,
    /// The field (its position is where a problem is reported).
    pub field: &'d Field,
    /// What the field does with the table.
    pub how: Use,
}

impl TableUse<'_, '_> {
    /// The table's real name (what the compiler's read lists use).
    pub fn real_name(&self) -> &str {
        real_name(self.table)
    }

    /// The field's argument `name`, if written.
    pub fn argument(&self, name: &str) -> Option<&Value> {
        self.field
            .arguments
            .iter()
            .find(|a| a.name.value == name)
            .map(|a| &a.value)
    }
}

/// A table's real name: the relation's own name for aliases, else the name queries use.
pub fn real_name(table: &TableInfo) -> &str {
    table.relation_name().unwrap_or(&table.name)
}

/// A name as the database spells it (`enable_camelcase` turns `productId` into `product_id`).
pub fn db_name(name: &str, camel: bool) -> String {
    if camel && name.chars().any(char::is_uppercase) {
        camel_to_snake(name)
    } else {
        name.to_string()
    }
}

/// The fields of a selection set with fragments spread (both sides of `@include`/`@skip`
/// count: either may run).
pub fn flatten<'d>(sel: &'d [Selection], fragments: &'d [Fragment]) -> Vec<&'d Field> {
    let mut out = Vec::new();
    flatten_into(sel, fragments, &mut out, 0);
    out
}

fn flatten_into<'d>(
    sel: &'d [Selection],
    fragments: &'d [Fragment],
    out: &mut Vec<&'d Field>,
    depth: usize,
) {
    // The compiler refuses fragment cycles; the bound only keeps a bad input finite.
    if depth > 64 {
        return;
    }
    for s in sel {
        match s {
            Selection::Field(f) => out.push(f),
            Selection::FragmentSpread(spread) => {
                if let Some(frag) = fragments.iter().find(|f| f.name.value == spread.name.value) {
                    flatten_into(&frag.selection, fragments, out, depth + 1);
                }
            }
            Selection::InlineFragment(inline) => {
                flatten_into(&inline.selection, fragments, out, depth + 1)
            }
        }
    }
}

/// Every field of `op` that selects, inserts, updates or deletes rows of a table, outermost
/// first. Fields the walk cannot follow (set-returning functions, polymorphic unions) are
/// left out; callers that must not miss a table compare with the compiler's read list.
pub fn table_uses<'c, 'd>(
    cat: &'c Catalog,
    camel: bool,
    op: &'d Operation,
    fragments: &'d [Fragment],
) -> Vec<TableUse<'c, 'd>> {
    let mut out = Vec::new();
    for f in flatten(&op.selection, fragments) {
        if f.name.value == "__typename" {
            continue;
        }
        let name = db_name(&f.name.value, camel);
        let table = match op.kind {
            OpKind::Mutation => cat
                .table(&name)
                .filter(|t| matches!(t.source, TableSource::Relation { .. })),
            _ => cat
                .table(&name)
                .filter(|t| matches!(t.source, TableSource::Relation { .. }))
                .or_else(|| {
                    cat.tables
                        .iter()
                        .find(|t| singular(&t.name) == name && t.name != name)
                }),
        };
        let Some(table) = table else { continue };
        let how = if op.kind == OpKind::Mutation {
            mutation_use(f)
        } else {
            Use::Select
        };
        out.push(TableUse {
            table,
            field: f,
            how,
        });
        children(cat, camel, table, f, fragments, &mut out, 0);
    }
    out
}

fn mutation_use(f: &Field) -> Use {
    for a in &f.arguments {
        match a.name.value.as_str() {
            "update" => return Use::Update,
            "delete" => return Use::Delete,
            "insert" | "upsert" => return Use::Insert,
            _ => {}
        }
    }
    Use::Insert
}

fn children<'c, 'd>(
    cat: &'c Catalog,
    camel: bool,
    parent: &'c TableInfo,
    field: &'d Field,
    fragments: &'d [Fragment],
    out: &mut Vec<TableUse<'c, 'd>>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    for f in flatten(&field.selection, fragments) {
        if f.selection.is_empty() {
            continue;
        }
        let name = db_name(&f.name.value, camel);
        if parent.column(&name).is_some() && cat.table(&name).is_none() {
            continue;
        }
        let through = f
            .directives
            .iter()
            .find(|d| d.name.value == "through")
            .and_then(|d| d.arguments.iter().find(|a| a.name.value == "table"))
            .and_then(|a| match &a.value.kind {
                ValueKind::String(s) | ValueKind::Enum(s) => Some(s.as_str()),
                _ => None,
            });
        let find = f
            .arguments
            .iter()
            .find(|a| a.name.value == "find")
            .and_then(|a| match &a.value.kind {
                ValueKind::String(s) | ValueKind::Enum(s) => Some(if s.starts_with("parent") {
                    Find::Parents
                } else {
                    Find::Children
                }),
                _ => None,
            });
        let Some((child, _)) = resolve(cat, parent, &name, through, find) else {
            continue;
        };
        out.push(TableUse {
            table: child,
            field: f,
            how: Use::Select,
        });
        children(cat, camel, child, f, fragments, out, depth + 1);
    }
}

/// Whether `filter` restricts rows by `needle` for certain: the variable (`$user_id`) or
/// the column (`customer_id`) appears in a condition that every row must meet, that is, not
/// under `or` or `not`.
pub fn filter_requires(filter: &Value, needle: &Needle) -> bool {
    match &filter.kind {
        ValueKind::Object(fields) => fields.iter().any(|(key, v)| match key.value.as_str() {
            "or" | "_or" | "not" | "_not" => false,
            "and" | "_and" => match &v.kind {
                ValueKind::List(items) => items.iter().any(|i| filter_requires(i, needle)),
                _ => filter_requires(v, needle),
            },
            k => matches!(needle, Needle::Column(c) if c == k) || mentions_variable(v, needle),
        }),
        ValueKind::List(items) => items.iter().any(|i| filter_requires(i, needle)),
        _ => mentions_variable(filter, needle),
    }
}

fn mentions_variable(v: &Value, needle: &Needle) -> bool {
    let Needle::Variable(name) = needle else {
        return false;
    };
    match &v.kind {
        ValueKind::Variable(n) => n == name,
        ValueKind::Object(fields) => fields.iter().any(|(k, v)| {
            !matches!(k.value.as_str(), "or" | "_or" | "not" | "_not")
                && mentions_variable(v, needle)
        }),
        ValueKind::List(items) => items.iter().any(|i| mentions_variable(i, needle)),
        _ => false,
    }
}

/// What a `must_filter_by` rule looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Needle {
    /// `$name`: the variable must restrict the rows.
    Variable(String),
    /// `column`: a condition on the column must restrict the rows.
    Column(String),
}

impl Needle {
    /// `$user_id` is a variable, anything else a column.
    pub fn parse(text: &str) -> Needle {
        match text.trim().strip_prefix('$') {
            Some(v) => Needle::Variable(v.to_string()),
            None => Needle::Column(text.trim().to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::roles::parse_filter;

    fn requires(src: &str, needle: &str) -> bool {
        filter_requires(&parse_filter(src).expect("filter"), &Needle::parse(needle))
    }

    #[test]
    fn a_filter_requires_what_every_row_must_meet() {
        assert!(requires("{ customer_id: { eq: $user_id } }", "$user_id"));
        assert!(requires("{ customer_id: { eq: $user_id } }", "customer_id"));
        assert!(requires(
            "{ and: [{ status: { eq: \"open\" } }, { customer_id: { eq: $user_id } }] }",
            "$user_id"
        ));
        assert!(!requires(
            "{ or: [{ public: { eq: true } }, { customer_id: { eq: $user_id } }] }",
            "$user_id"
        ));
        assert!(!requires(
            "{ not: { customer_id: { eq: $user_id } } }",
            "$user_id"
        ));
        assert!(!requires("{ customer_id: { eq: $id } }", "$user_id"));
    }
}
