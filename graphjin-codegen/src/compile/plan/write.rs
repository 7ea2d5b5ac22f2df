//! Mutations checked, as data: which table a field writes and how (`insert`, `update`,
//! `upsert`, `delete`), the rows it picks, the data it writes (a variable with its saved
//! shape, or written inline), the columns and relationships in that data, nested writes
//! through relationships (`connect`, `disconnect`, children and parents inserted or
//! updated with it), the role's presets and filters. `mutate` lowers it to a chain of
//! data-modifying CTEs.

use serde_json::Value as Json;

use super::filter::Filter;
use crate::compile::catalog::{ColumnInfo, TableInfo, TableSource};
use crate::compile::ctx::Ctx;
use crate::compile::error::{CompileError, Result};
use crate::compile::names::suggestion;
use crate::compile::relation::{Find, Relation, resolve};
use crate::compile::roles::OpRules;
use crate::compile::values::literal_example;
use crate::gql::ast::{Field, Value, ValueKind};
use crate::source::Pos;

/// What a mutation field does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::compile) enum Action {
    /// `insert:`
    Insert,
    /// `update:`
    Update,
    /// `upsert:`
    Upsert,
    /// `delete: true`
    Delete,
}

impl Action {
    /// The argument's name.
    pub fn name(self) -> &'static str {
        match self {
            Action::Insert => "insert",
            Action::Update => "update",
            Action::Upsert => "upsert",
            Action::Delete => "delete",
        }
    }
}

/// Keys of nested data that are not columns or relationships.
pub(in crate::compile) const DATA_KEYWORDS: [&str; 4] = ["connect", "disconnect", "where", "find"];

/// A mutation field's write, checked.
pub(in crate::compile) struct WriteRoot<'a> {
    /// The table written.
    pub table: TableInfo,
    /// What is written.
    pub kind: RootWrite<'a>,
}

/// The rows a mutation field picks with `id:` and `where:`.
#[derive(Default)]
pub(in crate::compile) struct Picks<'a> {
    /// `id:` and the primary key it matches.
    pub id: Option<(&'a Value, ColumnInfo)>,
    /// `where:`.
    pub filter: Option<Filter<'a>>,
}

impl Picks<'_> {
    fn is_empty(&self) -> bool {
        self.id.is_none() && self.filter.is_none()
    }
}

/// The write of a mutation field.
pub(in crate::compile) enum RootWrite<'a> {
    /// `delete: true` of the rows picked (and passing the role's filters).
    Delete {
        /// The rows picked.
        picks: Picks<'a>,
        /// The role's delete filters.
        role_filters: Vec<Filter<'a>>,
    },
    /// `insert:` or `upsert:`.
    Insert {
        /// The data.
        data: Data<'a>,
        /// The rows inserted, with their nested writes.
        rows: Box<InsertPlan>,
    },
    /// `update:` of the rows picked (and passing the role's filters).
    Update {
        /// The data.
        data: Data<'a>,
        /// The rows picked.
        picks: Picks<'a>,
        /// The role's update filters.
        role_filters: Vec<Filter<'a>>,
        /// The update, with its nested writes.
        rows: Box<UpdatePlan<'a>>,
    },
}

/// The data a mutation field writes.
pub(in crate::compile) enum Data<'a> {
    /// A JSON variable; its shape is the saved example (allow.list's `variables` block).
    Var {
        /// The variable.
        name: &'a str,
        /// Where it is written.
        pos: Pos,
        /// Its saved example.
        example: Json,
    },
    /// A list of objects written inline.
    Rows(Vec<Literal<'a>>),
    /// One object written inline.
    Object(Literal<'a>),
}

/// Data written inline, as a JSON value built in SQL.
pub(in crate::compile) enum Literal<'a> {
    /// A list.
    List(Vec<Literal<'a>>),
    /// An object: each key as written, with its value.
    Object(Vec<(&'a str, LitField<'a>)>),
}

/// One value of an inline data object.
pub(in crate::compile) enum LitField<'a> {
    /// `connect` / `disconnect`: columns of the table (by their key) and the values to match,
    /// read as the column's type.
    Connect(Vec<(&'a str, String, &'a Value)>),
    /// An inline `where` / `find`: a JSON constant.
    Plain(&'a Value),
    /// A column's value, read as its type.
    Column(&'a Value, String),
    /// A related table's data.
    Nested(Literal<'a>),
    /// Any other key, read as text.
    Text(&'a Value),
}

/// Rows of a table matched by the columns of a `connect` / `disconnect` object.
pub(in crate::compile) struct Match {
    /// The object's keys, each a column of the table.
    pub keys: Vec<(String, ColumnInfo)>,
}

/// An insert (or upsert) into one table.
pub(in crate::compile) struct InsertPlan {
    /// The table.
    pub table: TableInfo,
    /// The mutation field's position (for errors in what is read at run time).
    pub pos: Pos,
    /// Rows this one points at, connected or inserted first.
    pub parents: Vec<ParentWrite>,
    /// The role's presets: the column and the value's text.
    pub presets: Vec<(ColumnInfo, String)>,
    /// Columns written from the data: (data key, column, cast type); none that a parent
    /// or a preset assigns.
    pub columns: Vec<(String, String, String)>,
    /// `upsert`: the conflict target (the primary key) and the other columns it updates.
    pub conflict: Option<(String, Vec<String>)>,
    /// Rows pointing at this one, connected or inserted after it.
    pub children: Vec<ChildWrite>,
}

/// A row an inserted row points at (its foreign key, or a key array).
pub(in crate::compile) struct ParentWrite {
    /// The data key.
    pub key: String,
    /// The inserted row's column that points at it.
    pub parent_col: String,
    /// The column of the row pointed at.
    pub child_col: String,
    /// One row (a foreign key) rather than a key array.
    pub one: bool,
    /// Where the row comes from.
    pub source: ParentSource,
}

/// An existing row, or one inserted first.
pub(in crate::compile) enum ParentSource {
    /// `connect`: existing rows of the table.
    Connect(TableInfo, Match),
    /// Nested data: inserted first.
    Insert(Box<InsertPlan>),
}

/// Rows pointing at an inserted row.
pub(in crate::compile) struct ChildWrite {
    /// The data key.
    pub key: String,
    /// The child table.
    pub child: TableInfo,
    /// The child's column pointing at the parent.
    pub fk: String,
    /// The parent's column it points at.
    pub parent_key: String,
    /// Existing rows connected, or new rows inserted.
    pub how: ChildHow,
}

/// How rows come to point at an inserted row.
pub(in crate::compile) enum ChildHow {
    /// `connect`: existing rows are updated to point at it.
    Connect(Match),
    /// Nested data: inserted pointing at it.
    Insert(Box<InsertPlan>),
}

/// An update of one table's picked rows.
pub(in crate::compile) struct UpdatePlan<'a> {
    /// The table.
    pub table: TableInfo,
    /// The mutation field's position (for errors in what is read at run time).
    pub pos: Pos,
    /// Columns set from the data: (data key, column, cast type).
    pub columns: Vec<(String, String, String)>,
    /// Columns set by connecting or disconnecting related rows.
    pub links: Vec<Link>,
    /// The role's presets: the column and the value's text.
    pub presets: Vec<(ColumnInfo, String)>,
    /// When nothing else is set: the column set to itself, so the rows are still returned.
    pub unchanged: Option<String>,
    /// Related rows updated after these.
    pub children: Vec<ChildUpdate<'a>>,
}

/// A column an update sets by connecting or disconnecting related rows.
pub(in crate::compile) struct Link {
    /// The data key.
    pub key: String,
    /// The updated row's column.
    pub parent_col: String,
    /// The related table's column it holds.
    pub child_col: String,
    /// The related table.
    pub child: TableInfo,
    /// A foreign key (one row) rather than a key array.
    pub one: bool,
    /// Rows to connect.
    pub connect: Option<Match>,
    /// Rows to disconnect.
    pub disconnect: Option<Match>,
}

/// Related rows updated after an update.
pub(in crate::compile) struct ChildUpdate<'a> {
    /// The data key.
    pub key: String,
    /// The related table.
    pub child: TableInfo,
    /// The related rows' column matched against the updated rows' `parent_col`.
    pub child_col: String,
    /// The updated rows' column.
    pub parent_col: String,
    /// Children: rows to point at the updated row.
    pub connect: Option<Match>,
    /// Children: rows to stop pointing at it.
    pub disconnect: Option<Match>,
    /// Otherwise: the related rows' own update.
    pub nested: Option<NestedUpdate<'a>>,
}

/// The update of rows related to an updated row.
pub(in crate::compile) struct NestedUpdate<'a> {
    /// A `where` in the data (its values are read from the data at run time).
    pub where_: Option<Json>,
    /// The role's update filters for the related table.
    pub role_filters: Vec<Filter<'a>>,
    /// The update.
    pub rows: Box<UpdatePlan<'a>>,
}

impl<'a> Ctx<'a> {
    /// The table a mutation field writes (`products`, or the singular `product`).
    pub(in crate::compile) fn mutation_table(&self, f: &Field) -> Result<TableInfo> {
        let name = self.db_name(&f.name.value).into_owned();
        if self.cat.is_blocked(&name) {
            return Err(CompileError::new(
                f.name.pos,
                format!("table `{name}` is blocked"),
            ));
        }
        let table = self.cat.table(&name).or_else(|| {
            self.cat
                .tables
                .iter()
                .find(|t| crate::compile::names::singular(&t.name) == name && t.name != name)
        });
        match table {
            Some(t) if matches!(t.source, TableSource::Relation { .. }) => Ok(t.clone()),
            _ => Err(CompileError::new(
                f.name.pos,
                format!(
                    "unknown table `{}`{}",
                    f.name.value,
                    self.cat.table_suggestion(&name)
                ),
            )),
        }
    }

    /// The write rules of this role for `table` (none: no rules); `anon` may write only
    /// where its config says so.
    fn write_rules(
        &self,
        table: &TableInfo,
        action: Action,
        pos: Pos,
    ) -> Result<Option<&'a OpRules>> {
        let role = self.roles.role(self.role);
        let rules = role.and_then(|r| match action {
            Action::Insert => r.insert.get(&table.name),
            Action::Update => r.update.get(&table.name),
            Action::Upsert => r
                .insert
                .get(&table.name)
                .or_else(|| r.update.get(&table.name)),
            Action::Delete => r.delete.get(&table.name),
        });
        match rules {
            Some(r) if r.block => Err(CompileError::refused(
                pos,
                format!(
                    "{} on `{}` is blocked for role '{}'",
                    action.name(),
                    table.name,
                    self.role
                ),
            )),
            Some(r) => Ok(Some(r)),
            None if self.role == "anon" => Err(CompileError::refused(
                pos,
                format!(
                    "anonymous callers may not {} `{}` (allow it under roles: anon, tables: {}, {})",
                    action.name(),
                    table.name,
                    table.name,
                    action.name()
                ),
            )),
            None => Ok(None),
        }
    }

    fn write_filters(
        &mut self,
        table: &TableInfo,
        rules: Option<&'a OpRules>,
    ) -> Result<Vec<Filter<'a>>> {
        match rules {
            Some(r) => self.plan_role_filters(table, &r.filters),
            None => Ok(Vec::new()),
        }
    }

    /// Plans a mutation field's write. `examples` are the saved variables.
    pub(in crate::compile) fn plan_write(
        &mut self,
        f: &'a Field,
        table: TableInfo,
        action: Action,
        data: Option<&'a Value>,
        examples: Option<&Json>,
    ) -> Result<WriteRoot<'a>> {
        let pos = f.name.pos;
        let get = |n: &str| {
            f.arguments
                .iter()
                .find(|a| a.name.value == n)
                .map(|a| &a.value)
        };
        let (id, where_) = (get("id"), get("where"));
        if action == Action::Delete {
            let picks = self.plan_picks(&table, id, where_)?;
            let rules = self.write_rules(&table, action, pos)?;
            let role_filters = self.write_filters(&table, rules)?;
            if picks.is_empty() && role_filters.is_empty() {
                return Err(CompileError::new(
                    pos,
                    "`delete` needs `id:` or `where:` (deleting every row is not allowed)",
                ));
            }
            return Ok(WriteRoot {
                table,
                kind: RootWrite::Delete {
                    picks,
                    role_filters,
                },
            });
        }
        let data =
            data.ok_or_else(|| CompileError::new(pos, format!("`{}` needs data", action.name())))?;
        let (data, example) = self.plan_data(&table, data, examples)?;
        let kind = match action {
            Action::Insert | Action::Upsert => {
                if id.is_some() {
                    return Err(CompileError::new(
                        pos,
                        "`id:` does not apply to an insert; put the id in the data",
                    ));
                }
                let rows = Box::new(self.plan_insert(&table, &example, &[], action, pos)?);
                RootWrite::Insert { data, rows }
            }
            Action::Update => {
                let picks = self.plan_picks(&table, id, where_)?;
                if picks.is_empty() {
                    return Err(CompileError::new(
                        pos,
                        "`update` needs `id:` or `where:` (updating every row is not allowed)",
                    ));
                }
                let rules = self.write_rules(&table, action, pos)?;
                let role_filters = self.write_filters(&table, rules)?;
                let rows = Box::new(self.plan_update(&table, &example, pos)?);
                RootWrite::Update {
                    data,
                    picks,
                    role_filters,
                    rows,
                }
            }
            Action::Delete => {
                return Err(CompileError::new(pos, "internal: delete planned twice"));
            }
        };
        Ok(WriteRoot { table, kind })
    }

    fn plan_picks(
        &mut self,
        table: &TableInfo,
        id: Option<&'a Value>,
        where_: Option<&'a Value>,
    ) -> Result<Picks<'a>> {
        let id = match id {
            Some(id) => {
                let pk = table.primary_key().ok_or_else(|| {
                    CompileError::new(
                        id.pos,
                        format!(
                            "table `{}` has no primary key to look up by `id`",
                            table.name
                        ),
                    )
                })?;
                Some((id, pk.clone()))
            }
            None => None,
        };
        let filter = match where_ {
            Some(w) => Some(self.plan_filter(table, w)?),
            None => None,
        };
        Ok(Picks { id, filter })
    }

    /// The data, and its example shape.
    fn plan_data(
        &mut self,
        table: &TableInfo,
        data: &'a Value,
        examples: Option<&Json>,
    ) -> Result<(Data<'a>, Json)> {
        match &data.kind {
            ValueKind::Variable(name) => {
                let example = examples.and_then(|e| e.get(name)).cloned().ok_or_else(|| {
                    CompileError::new(
                        data.pos,
                        format!(
                            "`${name}` is mutation data: save its shape in a `variables {{ \"{name}\": {{ ... }} }}` block above the operation in allow.list (the dev server records it)"
                        ),
                    )
                })?;
                if !matches!(example, Json::Object(_) | Json::Array(_)) {
                    return Err(CompileError::new(
                        data.pos,
                        format!("the saved `${name}` must be an object or a list of objects"),
                    ));
                }
                let plan = Data::Var {
                    name,
                    pos: data.pos,
                    example: example.clone(),
                };
                Ok((plan, example))
            }
            ValueKind::List(items) => {
                let rows = items
                    .iter()
                    .map(|i| self.plan_literal(table, i))
                    .collect::<Result<Vec<_>>>()?;
                Ok((Data::Rows(rows), literal_example(data)))
            }
            ValueKind::Object(_) => Ok((
                Data::Object(self.plan_literal(table, data)?),
                literal_example(data),
            )),
            _ => Err(CompileError::new(
                data.pos,
                "mutation data must be an object, a list of objects or a variable",
            )),
        }
    }

    /// Inline data for `table`.
    fn plan_literal(&mut self, table: &TableInfo, v: &'a Value) -> Result<Literal<'a>> {
        match &v.kind {
            ValueKind::List(items) => Ok(Literal::List(
                items
                    .iter()
                    .map(|i| self.plan_literal(table, i))
                    .collect::<Result<Vec<_>>>()?,
            )),
            ValueKind::Object(fields) => {
                let mut out = Vec::with_capacity(fields.len());
                for (k, val) in fields {
                    let name = self.db_name(&k.value).into_owned();
                    let field = if matches!(k.value.as_str(), "connect" | "disconnect") {
                        LitField::Connect(self.plan_connect_literal(table, &k.value, val)?)
                    } else if matches!(k.value.as_str(), "where" | "find") {
                        if literal_value(val).is_none() {
                            return Err(CompileError::new(
                                val.pos,
                                "a variable inside an inline `where` of nested data is not supported; pass the \
                                 whole data as a variable (`update: $data`)",
                            ));
                        }
                        LitField::Plain(val)
                    } else if let Some(col) = table.column(&name) {
                        LitField::Column(val, col.cast_type())
                    } else if let Some((child, _)) = resolve(self.cat, table, &name, None, None) {
                        let child = child.clone();
                        LitField::Nested(self.plan_literal(&child, val)?)
                    } else {
                        LitField::Text(val)
                    };
                    out.push((k.value.as_str(), field));
                }
                Ok(Literal::Object(out))
            }
            _ => Err(CompileError::new(
                v.pos,
                "expected an object in mutation data",
            )),
        }
    }

    /// An inline `connect: { id: 6 }` / `disconnect: { id: [1, 2] }`: columns of `table`.
    fn plan_connect_literal(
        &self,
        table: &TableInfo,
        keyword: &str,
        v: &'a Value,
    ) -> Result<Vec<(&'a str, String, &'a Value)>> {
        let ValueKind::Object(fields) = &v.kind else {
            return Err(CompileError::new(
                v.pos,
                format!(
                    "`{keyword}` for `{}` needs an object such as {{ id: 1 }}",
                    table.name
                ),
            ));
        };
        let mut out = Vec::with_capacity(fields.len());
        for (k, val) in fields {
            let name = self.db_name(&k.value).into_owned();
            let Some(col) = table.column(&name) else {
                return Err(CompileError::new(
                    k.pos,
                    format!(
                        "`{keyword}` names `{}`, which is not a column of `{}`{}",
                        k.value,
                        table.name,
                        suggestion(&name, table.columns.iter().map(|c| c.name.as_str()))
                    ),
                ));
            };
            out.push((k.value.as_str(), col.cast_type(), val));
        }
        Ok(out)
    }

    /// Splits a data object's keys into columns and relations, checking each.
    fn classify(
        &mut self,
        table: &TableInfo,
        keys: &[(String, Json)],
        rules: Option<&OpRules>,
        pos: Pos,
    ) -> Result<Classified> {
        let mut out = Classified::default();
        for (key, val) in keys {
            if DATA_KEYWORDS.contains(&key.as_str()) {
                continue;
            }
            let name = self.db_name(key).into_owned();
            if let Some(col) = table.column(&name) {
                let col = col.clone();
                self.check_column(table, &col, pos)?;
                if !rules.is_none_or(|r| r.allows_column(&col.name)) {
                    return Err(CompileError::refused(
                        pos,
                        format!(
                            "column `{}` of `{}` may not be written by role '{}'",
                            col.name, table.name, self.role
                        ),
                    ));
                }
                out.columns
                    .push((key.clone(), col.name.clone(), col.cast_type()));
                continue;
            }
            let find = match val.get("find").and_then(Json::as_str) {
                Some("parents") | Some("parent") => Some(Find::Parents),
                Some(_) => Some(Find::Children),
                None => None,
            };
            match resolve(self.cat, table, &name, None, find) {
                Some((child, rel)) => {
                    out.relations
                        .push((key.clone(), child.clone(), rel, val.clone()))
                }
                None => {
                    let names: Vec<&str> = table
                        .columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .chain(self.cat.tables.iter().map(|t| t.name.as_str()))
                        .collect();
                    return Err(CompileError::new(
                        pos,
                        format!(
                            "the data for `{}` has a key `{key}` that is not a column or relation{}",
                            table.name,
                            suggestion(&name, names)
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The columns of `table` a `connect` / `disconnect` object matches.
    fn plan_match(&self, table: &TableInfo, example: &Json, pos: Pos) -> Result<Match> {
        let Json::Object(m) = example else {
            return Err(CompileError::new(
                pos,
                format!(
                    "`connect` for `{}` needs an object such as {{ \"id\": 1 }}",
                    table.name
                ),
            ));
        };
        let mut keys = Vec::with_capacity(m.len());
        for key in m.keys() {
            let name = self.db_name(key).into_owned();
            let col = table.column(&name).ok_or_else(|| {
                CompileError::new(
                    pos,
                    format!(
                        "`connect` names `{key}`, which is not a column of `{}`",
                        table.name
                    ),
                )
            })?;
            keys.push((key.clone(), col.clone()));
        }
        if keys.is_empty() {
            return Err(CompileError::new(
                pos,
                "`connect` needs at least one column to match",
            ));
        }
        Ok(Match { keys })
    }

    /// The column a role's preset names (`created_at`, or `createdAt` with
    /// `enable_camelcase`); a preset naming no column is an error, never skipped.
    fn preset_column(&self, table: &TableInfo, key: &str, pos: Pos) -> Result<ColumnInfo> {
        let name = self.db_name(key).into_owned();
        table.column(&name).cloned().ok_or_else(|| {
            CompileError::new(
                pos,
                format!(
                    "role '{}' presets `{key}` on `{}`, which has no such column{}",
                    self.role,
                    table.name,
                    suggestion(&name, table.columns.iter().map(|c| c.name.as_str()))
                ),
            )
        })
    }

    fn plan_presets(
        &self,
        table: &TableInfo,
        rules: Option<&OpRules>,
        pos: Pos,
    ) -> Result<Vec<(ColumnInfo, String)>> {
        let Some(rules) = rules else {
            return Ok(Vec::new());
        };
        rules
            .presets
            .iter()
            .map(|(col, value)| Ok((self.preset_column(table, col, pos)?, value.clone())))
            .collect()
    }

    /// An insert of `example`'s rows into `table`; `assigned` are columns the caller sets.
    fn plan_insert(
        &mut self,
        table: &TableInfo,
        example: &Json,
        assigned: &[String],
        action: Action,
        pos: Pos,
    ) -> Result<InsertPlan> {
        let rules = self.write_rules(
            table,
            if action == Action::Upsert {
                Action::Upsert
            } else {
                Action::Insert
            },
            pos,
        )?;
        let (keys, is_list) = object_keys(example);
        let parts = self.classify(table, &keys, rules, pos)?;
        if is_list && !parts.relations.is_empty() {
            return Err(CompileError::new(
                pos,
                format!(
                    "nested writes under `{}` need a single object, not a list",
                    table.name
                ),
            ));
        }
        if action == Action::Upsert && !parts.relations.is_empty() {
            return Err(CompileError::new(
                pos,
                "`upsert` writes one table; nested data is not supported",
            ));
        }
        let mut assigned: Vec<String> = assigned.to_vec();
        // Parents first: rows this one points at.
        let mut parents = Vec::new();
        let mut after = Vec::new();
        for (key, child, rel, val) in parts.relations {
            for keyword in ["disconnect", "where"] {
                if val.get(keyword).is_some() {
                    return Err(CompileError::new(
                        pos,
                        format!(
                            "`{key}` has `{keyword}` in an insert: a new row is connected to nothing yet (use `connect`, or nested data to insert)"
                        ),
                    ));
                }
            }
            if val.get("connect").is_some() && has_data_keys(&val) {
                return Err(CompileError::new(
                    pos,
                    format!("`{key}` has `connect` and data at once; use one"),
                ));
            }
            match &rel {
                Relation::ToOne {
                    parent_col,
                    child_col,
                }
                | Relation::ToManyByArray {
                    parent_col,
                    child_col,
                } => {
                    let source = match val.get("connect") {
                        Some(c) => {
                            ParentSource::Connect(child.clone(), self.plan_match(&child, c, pos)?)
                        }
                        None => ParentSource::Insert(Box::new(self.plan_insert(
                            &child,
                            &val,
                            &[],
                            Action::Insert,
                            pos,
                        )?)),
                    };
                    assigned.push(parent_col.clone());
                    parents.push(ParentWrite {
                        key,
                        parent_col: parent_col.clone(),
                        child_col: child_col.clone(),
                        one: matches!(rel, Relation::ToOne { .. }),
                        source,
                    });
                }
                _ => after.push((key, child, rel, val)),
            }
        }
        let presets = self.plan_presets(table, rules, pos)?;
        assigned.extend(presets.iter().map(|(c, _)| c.name.clone()));
        let columns: Vec<(String, String, String)> = parts
            .columns
            .into_iter()
            .filter(|(_, c, _)| !assigned.iter().any(|a| a == c))
            .collect();
        let conflict = if action == Action::Upsert && !(columns.is_empty() && assigned.is_empty()) {
            Some(on_conflict(table, &columns, pos)?)
        } else {
            None
        };

        // Then rows pointing at this one.
        let mut children = Vec::new();
        for (key, child, relation, val) in after {
            let (fk, parent_key) = match relation {
                Relation::ToMany {
                    child_col,
                    parent_col,
                } => (child_col, parent_col),
                Relation::Recursive {
                    fk_col,
                    key_col,
                    find: Find::Children,
                } => (fk_col, key_col),
                _ => {
                    return Err(CompileError::new(
                        pos,
                        format!(
                            "writing `{key}` through this kind of relationship is not supported yet"
                        ),
                    ));
                }
            };
            let how = match val.get("connect") {
                Some(c) => {
                    let m = self.plan_match(&child, c, pos)?;
                    self.write_rules(&child, Action::Update, pos)?;
                    ChildHow::Connect(m)
                }
                None => ChildHow::Insert(Box::new(self.plan_insert(
                    &child,
                    &val,
                    std::slice::from_ref(&fk),
                    Action::Insert,
                    pos,
                )?)),
            };
            children.push(ChildWrite {
                key,
                child,
                fk,
                parent_key,
                how,
            });
        }
        Ok(InsertPlan {
            table: table.clone(),
            pos,
            parents,
            presets,
            columns,
            conflict,
            children,
        })
    }

    /// An update of `table`'s picked rows with `example`'s data.
    fn plan_update(
        &mut self,
        table: &TableInfo,
        example: &Json,
        pos: Pos,
    ) -> Result<UpdatePlan<'a>> {
        let rules = self.write_rules(table, Action::Update, pos)?;
        let (keys, is_list) = object_keys(example);
        if is_list {
            return Err(CompileError::new(
                pos,
                format!("`update` of `{}` takes one object", table.name),
            ));
        }
        let parts = self.classify(table, &keys, rules, pos)?;
        let mut links = Vec::new();
        let mut after = Vec::new();
        for (key, child, relation, val) in parts.relations {
            let (connect, disconnect) = (val.get("connect"), val.get("disconnect"));
            if (connect.is_some() || disconnect.is_some()) && has_data_keys(&val) {
                return Err(CompileError::new(
                    pos,
                    format!(
                        "`{key}` has `connect`/`disconnect` and data at once; write them as two mutations"
                    ),
                ));
            }
            match &relation {
                Relation::ToOne { .. } if connect.is_some() && disconnect.is_some() => {
                    return Err(CompileError::new(
                        pos,
                        format!(
                            "`{key}` points at one row: `connect` replaces it, so `disconnect` with it is contradictory; use one"
                        ),
                    ));
                }
                Relation::ToOne {
                    parent_col,
                    child_col,
                }
                | Relation::ToManyByArray {
                    parent_col,
                    child_col,
                } if connect.is_some() || disconnect.is_some() => {
                    let connect = match connect {
                        Some(c) => Some(self.plan_match(&child, c, pos)?),
                        None => None,
                    };
                    let disconnect = match disconnect {
                        Some(d) => Some(self.plan_match(&child, d, pos)?),
                        None => None,
                    };
                    links.push(Link {
                        key,
                        parent_col: parent_col.clone(),
                        child_col: child_col.clone(),
                        one: matches!(relation, Relation::ToOne { .. }),
                        child,
                        connect,
                        disconnect,
                    });
                }
                _ => after.push((key, child, relation, val)),
            }
        }
        let presets = self.plan_presets(table, rules, pos)?;
        let unchanged =
            (parts.columns.is_empty() && links.is_empty() && presets.is_empty()).then(|| {
                table
                    .primary_key()
                    .or(table.columns.first())
                    .map(|c| c.name.clone())
                    .unwrap_or_default()
            });

        let mut children = Vec::new();
        for (key, child, relation, val) in after {
            let (child_col, parent_col, to_one) = match relation {
                Relation::ToOne {
                    parent_col,
                    child_col,
                } => (child_col, parent_col, true),
                Relation::ToMany {
                    child_col,
                    parent_col,
                }
                | Relation::Recursive {
                    fk_col: child_col,
                    key_col: parent_col,
                    find: Find::Children,
                } => (child_col, parent_col, false),
                _ => {
                    return Err(CompileError::new(
                        pos,
                        format!(
                            "updating `{key}` through this kind of relationship is not supported yet"
                        ),
                    ));
                }
            };
            let (mut connect, mut disconnect) = (None, None);
            if !to_one {
                // Children connected or disconnected are updated: each object matched once.
                for (keyword, slot) in [("connect", &mut connect), ("disconnect", &mut disconnect)]
                {
                    if let Some(m) = val.get(keyword) {
                        *slot = Some(self.plan_match(&child, m, pos)?);
                    }
                }
                if connect.is_some() || disconnect.is_some() {
                    self.write_rules(&child, Action::Update, pos)?;
                }
            }
            let nested = if connect.is_some() || disconnect.is_some() {
                None
            } else {
                let where_ = val.get("where").cloned();
                let rules = self.write_rules(&child, Action::Update, pos)?;
                let role_filters = self.write_filters(&child, rules)?;
                let rows = Box::new(self.plan_update(&child, &val, pos)?);
                Some(NestedUpdate {
                    where_,
                    role_filters,
                    rows,
                })
            };
            children.push(ChildUpdate {
                key,
                child,
                child_col,
                parent_col,
                connect,
                disconnect,
                nested,
            });
        }
        Ok(UpdatePlan {
            table: table.clone(),
            pos,
            columns: parts.columns,
            links,
            presets,
            unchanged,
            children,
        })
    }
}

/// `upsert`'s conflict target (the primary key, which the data must hold) and the other
/// columns it updates.
fn on_conflict(
    table: &TableInfo,
    columns: &[(String, String, String)],
    pos: Pos,
) -> Result<(String, Vec<String>)> {
    let pk = table.primary_key().map(|c| c.name.clone());
    let target = columns
        .iter()
        .map(|(_, c, _)| c.clone())
        .find(|c| Some(c) == pk.as_ref())
        .ok_or_else(|| {
            CompileError::new(
                pos,
                format!(
                    "`upsert` needs the primary key of `{}` in its data",
                    table.name
                ),
            )
        })?;
    let sets = columns
        .iter()
        .filter(|(_, c, _)| *c != target)
        .map(|(_, c, _)| c.clone())
        .collect();
    Ok((target, sets))
}

#[derive(Default)]
struct Classified {
    /// (data key, column, cast type)
    columns: Vec<(String, String, String)>,
    /// (data key, related table, relation, example value)
    relations: Vec<(String, TableInfo, Relation, Json)>,
}

/// A JSON example's object: itself, or the union of the keys of an array's objects.
pub(in crate::compile) fn object_keys(example: &Json) -> (Vec<(String, Json)>, bool) {
    match example {
        Json::Object(m) => (
            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            false,
        ),
        Json::Array(items) => {
            let mut keys: Vec<(String, Json)> = Vec::new();
            for item in items {
                if let Json::Object(m) = item {
                    for (k, v) in m {
                        if !keys.iter().any(|(x, _)| x == k) {
                            keys.push((k.clone(), v.clone()));
                        }
                    }
                }
            }
            (keys, true)
        }
        _ => (Vec::new(), false),
    }
}

/// Whether a nested object has keys besides `connect`, `disconnect`, `where` and `find`.
fn has_data_keys(val: &Json) -> bool {
    let (keys, _) = object_keys(val);
    keys.iter()
        .any(|(k, _)| !DATA_KEYWORDS.contains(&k.as_str()))
}

/// Which of insert/update/upsert/delete a field does, and its data.
pub(in crate::compile) fn mutation_action(f: &Field) -> Result<(Action, Option<&Value>)> {
    let mut found = None;
    for a in &f.arguments {
        let action = match a.name.value.as_str() {
            "insert" => Action::Insert,
            "update" => Action::Update,
            "upsert" => Action::Upsert,
            "delete" => Action::Delete,
            _ => continue,
        };
        if found.is_some() {
            return Err(CompileError::new(
                a.name.pos,
                "a mutation field takes one of insert, update, upsert or delete",
            ));
        }
        found = Some((action, a));
    }
    match found {
        Some((Action::Delete, a)) => match a.value.kind {
            ValueKind::Boolean(true) => Ok((Action::Delete, None)),
            _ => Err(CompileError::new(a.value.pos, "write `delete: true`")),
        },
        Some((action, a)) => Ok((action, Some(&a.value))),
        None => Err(CompileError::new(
            f.name.pos,
            format!(
                "mutation field `{}` needs insert:, update:, upsert: or delete:",
                f.name.value
            ),
        )),
    }
}

/// A literal GraphQL value as JSON; `None` when it holds a variable.
pub(in crate::compile) fn literal_value(v: &Value) -> Option<Json> {
    Some(match &v.kind {
        ValueKind::Variable(_) => return None,
        ValueKind::Int(n) | ValueKind::Float(n) => serde_json::from_str(n).ok()?,
        ValueKind::String(s) | ValueKind::Enum(s) => Json::String(s.clone()),
        ValueKind::Boolean(b) => Json::Bool(*b),
        ValueKind::Null => Json::Null,
        ValueKind::List(items) => {
            Json::Array(items.iter().map(literal_value).collect::<Option<_>>()?)
        }
        ValueKind::Object(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| Some((k.value.clone(), literal_value(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::{ChildHow, RootWrite};
    use crate::tools::test_project;
    use serde_json::json;

    const CONFIG: &str = "roles:\n  - name: user\n    tables:\n      - name: orders\n        insert:\n          presets:\n            customer_id: $user_id\n        delete: {}\n      - name: order_items\n        insert: {}\n";

    /// A nested insert is planned as data: the parent's columns from the data (without the
    /// preset's), the role's preset, and the children inserted after it, pointing at it
    /// (their foreign key is the plan's, not the data's).
    #[test]
    fn a_nested_insert_is_planned_with_its_children_and_presets() {
        let project = test_project("query q { orders { id } }\n", CONFIG);
        let examples = json!({ "data": { "status": "", "total": 0, "customer_id": 9, "order_items": [{ "quantity": 0, "order_id": 1 }] } });
        let text = "mutation m { orders(insert: $data) { id } }";
        project.with_planned_write(text, &examples, "user", |plan| {
            let plan = plan.expect("plans");
            let RootWrite::Insert { rows, .. } = &plan.kind else {
                panic!("an insert");
            };
            let columns: Vec<&str> = rows.columns.iter().map(|(_, c, _)| c.as_str()).collect();
            assert_eq!(
                columns,
                ["status", "total"],
                "the preset's column is not the data's"
            );
            assert_eq!(rows.presets[0].0.name, "customer_id");
            assert_eq!(rows.presets[0].1, "$user_id");
            let child = &rows.children[0];
            assert_eq!(
                (child.child.name.as_str(), child.fk.as_str()),
                ("order_items", "order_id")
            );
            let ChildHow::Insert(items) = &child.how else {
                panic!("children inserted");
            };
            let columns: Vec<&str> = items.columns.iter().map(|(_, c, _)| c.as_str()).collect();
            assert_eq!(columns, ["quantity"]);
        });
    }

    /// The plan refuses what may not be written: a table the role has no insert rule for
    /// (anonymous callers), and a delete that picks no rows.
    #[test]
    fn writes_the_role_may_not_make_are_refused_while_planning() {
        let project = test_project("query q { orders { id } }\n", CONFIG);
        let examples = json!({ "data": { "quantity": 1 } });
        let text = "mutation m { order_items(insert: $data) { id } }";
        project.with_planned_write(text, &examples, "anon", |plan| {
            let err = plan.err().expect("refused");
            assert!(err.contains("anonymous callers may not insert"), "{err}");
        });
        let text = "mutation m { orders(delete: true) { id } }";
        project.with_planned_write(text, &examples, "user", |plan| {
            let err = plan.err().expect("refused");
            assert!(err.contains("`delete` needs `id:` or `where:`"), "{err}");
        });
    }
}
