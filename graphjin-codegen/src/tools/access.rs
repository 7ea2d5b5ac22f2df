//! Who reaches what: per operation and role, the columns the role's statement reads (the
//! compiler's list, the same one `graphjin audit` and the generated `ACCESS` print) and the
//! columns the caller's data writes, plus the tables whose rows it deletes.
//!
//! Writes are read off the operation as the compiler plans it: the keys of its mutation data
//! (a literal object, or the `variables { ... }` block saved above it in allow.list) that
//! name columns, the foreign keys that `connect`, `disconnect` and nested rows set, and
//! nothing that a role's `presets` overrides (the caller does not choose those values).

use std::collections::BTreeSet;

use serde_json::Value as Json;

use crate::Compiled;
use crate::compile::catalog::TableInfo;
use crate::compile::relation::{Find, Relation, resolve};
use crate::compile::roles::RoleSet;
use crate::compile::values::literal_example;
use crate::compile::{Catalog, Compiler};
use crate::gql::ast::{Field, Fragment, OpKind, Operation, ValueKind};
use crate::project::{CompiledOperation, Project, parse_at};
use crate::source::Pos;
use crate::tools::walk::{db_name, flatten, real_name};

/// One operation's reach for every role.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationAccess {
    /// The operation's name.
    pub name: String,
    /// Query, mutation or subscription.
    pub kind: OpKind,
    /// Where it starts in allow.list.
    pub pos: Pos,
    /// The roles that have a statement for it.
    pub roles: Vec<RoleAccess>,
    /// The roles refused, and why.
    pub refused: Vec<(String, String)>,
}

/// What one role's statement for one operation touches. Columns are `table.column` with the
/// table's real name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoleAccess {
    /// The role.
    pub role: String,
    /// Columns the statement uses: selected, filtered, ordered or written (the compiler's
    /// list).
    pub reads: BTreeSet<String>,
    /// Columns whose new values come from the caller.
    pub writes: BTreeSet<String>,
    /// Tables whose rows the statement deletes.
    pub deletes: BTreeSet<String>,
}

/// The reach of every compiled operation of `project`.
pub fn access(project: &Project, compiled: &Compiled) -> Vec<OperationAccess> {
    reach(project, compiled.compiler(), compiled)
}

/// [`access`] while the compile result is being made (the compliance checks run inside
/// [`Project::compile`]).
pub(crate) fn reach(
    project: &Project,
    compiler: &Compiler,
    ops: &[CompiledOperation],
) -> Vec<OperationAccess> {
    let fragments = fragments(project);
    ops.iter()
        .map(|op| operation_access(project, compiler, &fragments, op))
        .collect()
}

/// Every fragment of the allow list, parsed (fragments that do not parse are left out: the
/// compiler has reported them).
pub(crate) fn fragments(project: &Project) -> Vec<Fragment> {
    project
        .allow_list
        .fragments()
        .filter_map(|f| parse_at(&f.text, f.pos).ok())
        .flat_map(|d| d.fragments)
        .collect()
}

/// The operation's syntax tree with allow.list positions.
pub(crate) fn parsed(op: &CompiledOperation) -> Option<Operation> {
    parse_at(&op.source, op.pos)
        .ok()
        .and_then(|d| d.operations.into_iter().next())
}

fn operation_access(
    project: &Project,
    compiler: &Compiler,
    fragments: &[Fragment],
    op: &CompiledOperation,
) -> OperationAccess {
    let tree = parsed(op);
    let examples: Option<Json> = project
        .allow_list
        .find(&op.name)
        .and_then(|e| e.variables.as_deref())
        .and_then(|v| serde_json::from_str(v).ok());
    let roles = op
        .roles
        .iter()
        .map(|(role, q)| {
            let mut access = RoleAccess {
                role: role.clone(),
                ..RoleAccess::default()
            };
            for (table, cols) in &q.reads {
                for c in cols {
                    access.reads.insert(format!("{table}.{c}"));
                }
            }
            if let Some(tree) = &tree
                && tree.kind == OpKind::Mutation
            {
                let mut w = Writes {
                    cat: compiler.catalog(),
                    roles: compiler.role_set(),
                    role,
                    camel: project.config.enable_camelcase,
                    out: &mut access,
                };
                for f in flatten(&tree.selection, fragments) {
                    w.root(f, examples.as_ref());
                }
            }
            access
        })
        .collect();
    OperationAccess {
        name: op.name.clone(),
        kind: op.kind,
        pos: op.pos,
        roles,
        refused: op.refused.clone(),
    }
}

/// What a mutation field does to its table's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Insert,
    Update,
    Upsert,
}

const DATA_KEYWORDS: [&str; 4] = ["connect", "disconnect", "where", "find"];

struct Writes<'a> {
    cat: &'a Catalog,
    roles: &'a RoleSet,
    role: &'a str,
    camel: bool,
    out: &'a mut RoleAccess,
}

impl Writes<'_> {
    fn root(&mut self, f: &Field, examples: Option<&Json>) {
        let name = db_name(&f.name.value, self.camel);
        let Some(table) = self.cat.table(&name).cloned() else {
            return;
        };
        for a in &f.arguments {
            let action = match a.name.value.as_str() {
                "insert" => Action::Insert,
                "update" => Action::Update,
                "upsert" => Action::Upsert,
                "delete" => {
                    self.out.deletes.insert(real_name(&table).to_string());
                    continue;
                }
                _ => continue,
            };
            let data = match &a.value.kind {
                ValueKind::Variable(v) => examples.and_then(|e| e.get(v)).cloned(),
                ValueKind::Object(_) | ValueKind::List(_) => Some(literal_example(&a.value)),
                _ => None,
            };
            if let Some(data) = data {
                self.data(&table, action, &data, 0);
            }
        }
    }

    /// Columns preset for this role on `table`: the caller's values for them are ignored.
    fn preset(&self, table: &TableInfo, action: Action, column: &str) -> bool {
        let Some(rules) = self.roles.role(self.role) else {
            return false;
        };
        let by_table = match action {
            Action::Insert => rules.insert.get(&table.name),
            Action::Update => rules.update.get(&table.name),
            Action::Upsert => rules
                .insert
                .get(&table.name)
                .or_else(|| rules.update.get(&table.name)),
        };
        by_table.is_some_and(|r| {
            r.presets
                .iter()
                .any(|(c, _)| db_name(c, self.camel) == column)
        })
    }

    fn write(&mut self, table: &TableInfo, action: Action, column: &str) {
        if !self.preset(table, action, column) {
            self.out
                .writes
                .insert(format!("{}.{column}", real_name(table)));
        }
    }

    fn data(&mut self, table: &TableInfo, action: Action, example: &Json, depth: usize) {
        if depth > 32 {
            return;
        }
        for (key, val) in object_keys(example) {
            if DATA_KEYWORDS.contains(&key.as_str()) {
                continue;
            }
            let name = db_name(&key, self.camel);
            if table.column(&name).is_some() {
                self.write(table, action, &name);
                continue;
            }
            let find = match val.get("find").and_then(Json::as_str) {
                Some(s) if s.starts_with("parent") => Some(Find::Parents),
                Some(_) => Some(Find::Children),
                None => None,
            };
            let Some((child, rel)) = resolve(self.cat, table, &name, None, find) else {
                continue;
            };
            let child = child.clone();
            let linked = val.get("connect").is_some() || val.get("disconnect").is_some();
            match rel {
                // This row points at the other: its key column is set.
                Relation::ToOne { parent_col, .. } | Relation::ToManyByArray { parent_col, .. } => {
                    self.write(table, action, &parent_col);
                    if !linked {
                        let nested = if action == Action::Update {
                            Action::Update
                        } else {
                            Action::Insert
                        };
                        self.data(&child, nested, &val, depth + 1);
                    }
                }
                // The other rows point at this one: their key column is set.
                Relation::ToMany { child_col, .. }
                | Relation::Recursive {
                    fk_col: child_col, ..
                } => {
                    if linked {
                        self.write(&child, Action::Update, &child_col);
                    } else if action == Action::Update {
                        self.data(&child, Action::Update, &val, depth + 1);
                    } else {
                        self.write(&child, Action::Insert, &child_col);
                        self.data(&child, Action::Insert, &val, depth + 1);
                    }
                }
                _ => self.data(&child, action, &val, depth + 1),
            }
        }
    }
}

/// A JSON example's keys: its own, or the union of the keys of a list's objects.
fn object_keys(example: &Json) -> Vec<(String, Json)> {
    match example {
        Json::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Json::Array(items) => {
            let mut keys: Vec<(String, Json)> = Vec::new();
            for item in items {
                for (k, v) in object_keys(item) {
                    if !keys.iter().any(|(x, _)| x == &k) {
                        keys.push((k, v));
                    }
                }
            }
            keys
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(allow: &str, config: &str) -> (Project, Compiled) {
        let p = crate::tools::test_project(allow, config);
        let ops = p.compile().expect("compiles");
        (p, ops)
    }

    #[test]
    fn writes_come_from_the_data_and_not_from_presets() {
        let (p, ops) = project(
            r#"variables { "data": { "status": "", "note": "", "order_items": [{ "quantity": 1 }] } }
mutation place { orders(insert: $data) { id } }
mutation setNote($id: ID!, $note: String) { orders(id: $id, update: { note: $note }) { id } }
mutation drop($id: ID!) { orders(id: $id, delete: true) { id } }
"#,
            "roles:\n  - name: user\n    tables:\n      - name: orders\n        insert:\n          presets:\n            status: open\n",
        );
        let all = access(&p, &ops);
        let user = |name: &str| {
            all.iter()
                .find(|o| o.name == name)
                .unwrap()
                .roles
                .iter()
                .find(|r| r.role == "user")
                .unwrap()
                .clone()
        };
        let place = user("place");
        assert_eq!(
            place.writes.iter().map(String::as_str).collect::<Vec<_>>(),
            [
                "order_items.order_id",
                "order_items.quantity",
                "orders.note"
            ]
        );
        assert_eq!(
            user("setNote").writes.into_iter().collect::<Vec<_>>(),
            ["orders.note"]
        );
        let drop = user("drop");
        assert!(drop.writes.is_empty());
        assert_eq!(drop.deletes.into_iter().collect::<Vec<_>>(), ["orders"]);
    }
}
