//! How a nested field joins its parent: found from foreign keys in either direction, join
//! tables, array columns, JSON columns, self references and polymorphic unions.

use super::catalog::{Catalog, TableInfo, TableSource};
use super::names::singular;
use super::sql::quote::ident;

/// Direction to walk a self-reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Find {
    /// Follow the key upward: the row's parent, its parent, ...
    Parents,
    /// Follow the key downward: the rows pointing at this one (one level).
    Children,
}

/// A resolved relationship from a parent table to a child table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    /// Parent column points at the child (`products.owner_id -> users.id`): one object.
    ToOne {
        /// Parent's foreign-key column.
        parent_col: String,
        /// Child's key column.
        child_col: String,
    },
    /// Parent array column holds child keys (`products.category_ids -> categories.id`).
    ToManyByArray {
        /// Parent's array column.
        parent_col: String,
        /// Child's key column.
        child_col: String,
    },
    /// Child column points at the parent (`products.owner_id` under `users`): a list.
    ToMany {
        /// Child's foreign-key column.
        child_col: String,
        /// Parent's key column.
        parent_col: String,
    },
    /// Child array column holds parent keys (`products.category_ids` under `categories`).
    ToManyInArray {
        /// Child's array column.
        child_col: String,
        /// Parent's key column.
        parent_col: String,
    },
    /// Through a join table (`products -> purchases -> users`): a list.
    Through {
        /// The join table's real name.
        join_table: String,
        /// The join table's schema, if not default.
        join_schema: Option<String>,
        /// Join-table column pointing at the parent.
        join_parent_col: String,
        /// Parent's key column.
        parent_col: String,
        /// Join-table column pointing at the child.
        join_child_col: String,
        /// Child's key column.
        child_col: String,
    },
    /// A table pointing at itself (`comments.reply_to_id -> comments.id`).
    Recursive {
        /// The self-referencing column.
        fk_col: String,
        /// The key it references.
        key_col: String,
        /// Which way to walk.
        find: Find,
    },
    /// Rows stored in a JSON column of the parent.
    JsonColumn {
        /// The column.
        column: String,
        /// jsonb rather than json.
        binary: bool,
    },
}

impl Relation {
    /// True when the relation yields at most one row.
    pub fn is_one(&self) -> bool {
        matches!(self, Relation::ToOne { .. })
    }

    /// The join condition between child alias `c` and parent alias `p`, or `None` when the
    /// relation is expressed in the FROM clause instead.
    pub fn condition(&self, c: &str, p: &str) -> Option<String> {
        Some(match self {
            Relation::ToOne {
                parent_col,
                child_col,
            } => {
                format!("{c}.{} = {p}.{}", ident(child_col), ident(parent_col))
            }
            Relation::ToManyByArray {
                parent_col,
                child_col,
            } => {
                format!("{c}.{} = ANY({p}.{})", ident(child_col), ident(parent_col))
            }
            Relation::ToMany {
                child_col,
                parent_col,
            } => {
                format!("{c}.{} = {p}.{}", ident(child_col), ident(parent_col))
            }
            Relation::ToManyInArray {
                child_col,
                parent_col,
            } => {
                format!("{p}.{} = ANY({c}.{})", ident(parent_col), ident(child_col))
            }
            Relation::Through {
                join_table,
                join_schema,
                join_parent_col,
                parent_col,
                join_child_col,
                child_col,
            } => {
                let table = match join_schema {
                    Some(s) => format!("{}.{}", ident(s), ident(join_table)),
                    None => ident(join_table),
                };
                format!(
                    "{c}.{} IN (SELECT __j.{} FROM {table} AS __j WHERE __j.{} = {p}.{})",
                    ident(child_col),
                    ident(join_child_col),
                    ident(join_parent_col),
                    ident(parent_col)
                )
            }
            Relation::Recursive { .. } | Relation::JsonColumn { .. } => return None,
        })
    }
}

/// Does `field` name `table`: its name, its singular, or (when `stem` is given) the foreign
/// key column's name without `_id`.
fn names_table(field: &str, table: &TableInfo) -> bool {
    field == table.name || field == singular(&table.name)
}

fn fk_stem(col: &str) -> &str {
    col.strip_suffix("_ids")
        .or_else(|| col.strip_suffix("_id"))
        .unwrap_or(col)
}

/// Resolves `field` under `parent`: the child table's name and how it joins.
/// `through` forces a join table (`@through(table: ...)`).
pub fn resolve<'c>(
    cat: &'c Catalog,
    parent: &TableInfo,
    field: &str,
    through: Option<&str>,
    find: Option<Find>,
) -> Option<(&'c TableInfo, Relation)> {
    // A table stored in one of the parent's JSON columns.
    if let Some(t) = cat.table(field)
        && let TableSource::JsonColumn {
            host,
            column,
            binary,
        } = &t.source
        && (host == &parent.name || cat.table(host).is_some_and(|h| h.source == parent.source))
    {
        return Some((
            t,
            Relation::JsonColumn {
                column: column.clone(),
                binary: *binary,
            },
        ));
    }

    if through.is_none() {
        // Self reference: `comments { comments(find: "parents") }`.
        if names_table(field, parent)
            && let Some(col) = parent.columns.iter().find(|c| {
                !c.array
                    && c.foreign_key
                        .as_ref()
                        .is_some_and(|(t, _)| t == &parent.name)
            })
        {
            let (_, key) = col.foreign_key.clone().unwrap_or_default();
            let me = cat.table(&parent.name)?;
            return Some((
                me,
                Relation::Recursive {
                    fk_col: col.name.clone(),
                    key_col: key,
                    find: find.unwrap_or(Find::Children),
                },
            ));
        }

        // Parent column points at the child.
        for col in &parent.columns {
            let Some((t, key)) = &col.foreign_key else {
                continue;
            };
            let Some(target) = cat.table(t) else { continue };
            if names_table(field, target) || fk_stem(&col.name) == field {
                let rel = if col.array {
                    Relation::ToManyByArray {
                        parent_col: col.name.clone(),
                        child_col: key.clone(),
                    }
                } else {
                    Relation::ToOne {
                        parent_col: col.name.clone(),
                        child_col: key.clone(),
                    }
                };
                return Some((target, rel));
            }
        }

        // Child column points at the parent.
        for child in &cat.tables {
            if !names_table(field, child) {
                continue;
            }
            for col in &child.columns {
                let Some((t, key)) = &col.foreign_key else {
                    continue;
                };
                if !points_at(cat, t, parent) {
                    continue;
                }
                let rel = if col.array {
                    Relation::ToManyInArray {
                        child_col: col.name.clone(),
                        parent_col: key.clone(),
                    }
                } else {
                    Relation::ToMany {
                        child_col: col.name.clone(),
                        parent_col: key.clone(),
                    }
                };
                return Some((child, rel));
            }
        }
    }

    // Through a join table.
    for join in &cat.tables {
        if let Some(name) = through
            && join.name != name
        {
            continue;
        }
        let TableSource::Relation {
            schema,
            name: join_real,
        } = &join.source
        else {
            continue;
        };
        if join.name == parent.name {
            continue;
        }
        // Each column pointing at the parent may be the way in: an edge table with two keys
        // to the same table (`graph_edge(src_node, dst_node)`) is followed out by the
        // column the field names, and in by the other.
        let to_parents = join.columns.iter().filter(|c| {
            !c.array
                && c.foreign_key
                    .as_ref()
                    .is_some_and(|(t, _)| points_at(cat, t, parent))
        });
        for to_parent in to_parents {
            for col in &join.columns {
                if col.name == to_parent.name || col.array {
                    continue;
                }
                let Some((t, key)) = &col.foreign_key else {
                    continue;
                };
                let Some(target) = cat.table(t) else { continue };
                if target.name == join.name {
                    continue;
                }
                if names_table(field, target) || fk_stem(&col.name) == field {
                    let (_, parent_key) = to_parent.foreign_key.clone().unwrap_or_default();
                    return Some((
                        target,
                        Relation::Through {
                            join_table: join_real.clone(),
                            join_schema: schema.clone(),
                            join_parent_col: to_parent.name.clone(),
                            parent_col: parent_key,
                            join_child_col: col.name.clone(),
                            child_col: key.clone(),
                        },
                    ));
                }
            }
        }
    }
    None
}

/// Whether a foreign key naming table `t` points at `parent` (directly, or because `parent`
/// is an alias of `t`).
fn points_at(cat: &Catalog, t: &str, parent: &TableInfo) -> bool {
    t == parent.name || cat.table(t).is_some_and(|x| x.source == parent.source)
}
