//! Mutations: `insert`, `update`, `upsert` and `delete`, with nested writes through
//! relationships (insert a parent with its children, a child with its parent, `connect` and
//! `disconnect` existing rows, nested updates). One operation is one statement: a chain of
//! data-modifying CTEs, then the selection, which reads every written table as it stands
//! after the writes. PostgreSQL runs it atomically: nothing is half-written.
//!
//! Which columns a `$data` variable writes is known at build time from the operation's
//! saved `variables { ... }` block in allow.list (GraphJin keeps it for this reason); a key
//! the saved shape has but a request omits is written as NULL.

use serde_json::Value as Json;

use super::catalog::{ColumnInfo, TableInfo, TableSource};
use super::ctx::{Ctx, JSON_PATH};
use super::error::{CompileError, Result};
use super::filter::join;
use super::inputs::InputShape;
use super::names::suggestion;
use super::relation::{Find, Relation, resolve};
use super::roles::OpRules;
use super::select::wrap_include;
use super::shape::Shape;
use super::sql::quote::{ident, string_literal};
use super::sql::{Cte, CteBody, Expr, Item, Select, With};
use crate::gql::ast::{Field, Name, Operation, Value, ValueKind};
use crate::source::Pos;

/// What a mutation field does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Insert,
    Update,
    Upsert,
    Delete,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Insert => "insert",
            Action::Update => "update",
            Action::Upsert => "upsert",
            Action::Delete => "delete",
        }
    }
}

/// The CTEs planned so far and which tables they write.
#[derive(Default)]
struct Writes {
    ctes: Vec<Cte>,
    /// Real table name -> CTEs whose rows are the table's new or changed rows.
    written: Vec<(String, String)>,
    /// Real table name -> CTEs whose rows were deleted.
    deleted: Vec<(String, String)>,
}

fn as_array(expr: &str) -> String {
    if expr.starts_with("json_build_array(") {
        expr.to_string()
    } else if expr.starts_with("json_build_object(") {
        format!("json_build_array({expr})")
    } else {
        format!(
            "(CASE WHEN json_typeof({expr}) = 'array' THEN {expr} ELSE json_build_array({expr}) END)"
        )
    }
}

/// A JSON example's object: itself, or the union of the keys of an array's objects.
fn object_keys(example: &Json) -> (Vec<(String, Json)>, bool) {
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

const DATA_KEYWORDS: [&str; 4] = ["connect", "disconnect", "where", "find"];

impl<'a> Ctx<'a> {
    /// The whole statement for a mutation. `examples` are the saved variables (allow.list's
    /// `variables` block) giving the shape of JSON variables.
    pub fn mutation(
        &mut self,
        op: &'a Operation,
        examples: Option<&Json>,
    ) -> Result<(Select, Shape)> {
        let fields = self.flatten(&op.selection)?;
        let mut writes = Writes::default();
        let mut roots = Vec::new();
        for f in &fields {
            let dirs = self.field_directives(f)?;
            if dirs.schema.is_some() || dirs.not_related {
                return Err(CompileError::new(
                    f.name.pos,
                    "`@schema` and `@notRelated` apply to query selectors, not to a mutation's table",
                ));
            }
            if dirs.removed || f.name.value == "__typename" {
                roots.push(None);
                continue;
            }
            // As in GraphJin, `@include` / `@skip` decide whether the field's selection
            // shows (it is `null` otherwise); its write runs either way.
            let include = self.show_sql(&dirs.show)?;
            let table = self.mutation_table(f)?;
            let (action, data) = mutation_action(f)?;
            let cte = self.plan_root(f, &table, action, data, examples, &mut writes)?;
            roots.push(Some((table, action, cte, include)));
        }
        self.install_overlays(&writes);

        let mut pairs = Vec::new();
        let mut shapes = Vec::new();
        for (f, root) in fields.iter().zip(roots) {
            let key = f.response_key().to_string();
            let Some((table, action, cte, include)) = root else {
                if f.name.value == "__typename" {
                    let name = op
                        .name
                        .as_ref()
                        .map(|n| n.value.as_str())
                        .unwrap_or("mutation");
                    pairs.push((key.clone(), Expr::Raw(string_literal(name))));
                    shapes.push((key, Shape::scalar("text", false)));
                }
                continue;
            };
            let mut dirs = self.field_directives(f)?;
            // A singular name (`product(insert: ...)`) answers with one object.
            dirs.object |= self.cat.table(&self.db_name(&f.name.value)).is_none();
            let has_where = f.arguments.iter().any(|a| a.name.value == "where");
            // An insert with `where` selects from the table as it stands after the writes
            // (GraphJin's way to return rows written by nested inserts too); otherwise the
            // selection is the rows the root write returned.
            let (sql, shape) = if action == Action::Insert && has_where {
                self.mutation_select(f, &table, None, dirs.object)?
            } else {
                self.mutation_select(f, &table, Some(&cte), dirs.object)?
            };
            let shape = if include.is_some() {
                shape.nullable()
            } else {
                shape
            };
            pairs.push((key.clone(), wrap_include(sql, &include)));
            shapes.push((key, shape));
        }
        let shape = Shape::Object {
            fields: shapes,
            list: false,
            nullable: false,
        };
        // The writes run first, in order, each reading those before it; the selection reads
        // the rows they returned.
        Ok((
            Select {
                with: Some(With {
                    recursive: false,
                    ctes: writes.ctes,
                }),
                items: vec![Item::named(Expr::JsonObject(pairs), "__root")],
                ..Select::default()
            },
            shape,
        ))
    }

    fn mutation_table(&self, f: &Field) -> Result<TableInfo> {
        let name = self.db_name(&f.name.value).into_owned();
        if self.cat.is_blocked(&name) {
            return Err(CompileError::new(
                f.name.pos,
                format!("table `{name}` is blocked"),
            ));
        }
        // `product(insert: ...)`: the singular name of a table, as in queries.
        let table = self.cat.table(&name).or_else(|| {
            self.cat
                .tables
                .iter()
                .find(|t| super::names::singular(&t.name) == name && t.name != name)
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

    /// Reads written tables through subqueries that show them after the writes.
    fn install_overlays(&mut self, writes: &Writes) {
        let mut tables: Vec<&str> = writes
            .written
            .iter()
            .chain(&writes.deleted)
            .map(|(t, _)| t.as_str())
            .collect();
        tables.dedup();
        for rel in tables {
            let Some(info) = self
                .cat
                .tables
                .iter()
                .find(|t| t.relation_name() == Some(rel))
            else {
                continue;
            };
            let base = info.sql_name();
            let changed: Vec<&str> = writes
                .written
                .iter()
                .filter(|(t, _)| t == rel)
                .map(|(_, c)| c.as_str())
                .collect();
            let gone: Vec<&str> = writes
                .deleted
                .iter()
                .filter(|(t, _)| t == rel)
                .map(|(_, c)| c.as_str())
                .collect();
            let mut parts: Vec<String> = changed
                .iter()
                .map(|c| format!("SELECT * FROM {}", ident(c)))
                .collect();
            if !parts.is_empty() {
                self.written
                    .insert(rel.to_string(), format!("({})", parts.join(" UNION ALL ")));
            }
            match info.primary_key() {
                Some(pk) => {
                    let pk = ident(&pk.name);
                    let keys: Vec<String> = changed
                        .iter()
                        .chain(&gone)
                        .map(|c| format!("SELECT {pk} FROM {}", ident(c)))
                        .collect();
                    parts.push(format!(
                        "SELECT * FROM {base} WHERE {pk} NOT IN ({})",
                        keys.join(" UNION ALL ")
                    ));
                }
                None => parts.push(format!("SELECT * FROM {base}")),
            }
            self.overlays
                .insert(rel.to_string(), format!("({})", parts.join(" UNION ALL ")));
        }
    }

    /// The write rules of this role for `table`; `anon` may write only where its config
    /// says so.
    fn write_rules(&self, table: &TableInfo, action: Action, pos: Pos) -> Result<OpRules> {
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
            Some(r) => Ok(r.clone()),
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
            None => Ok(OpRules::default()),
        }
    }

    fn plan_root(
        &mut self,
        f: &Field,
        table: &TableInfo,
        action: Action,
        data: Option<&Value>,
        examples: Option<&Json>,
        w: &mut Writes,
    ) -> Result<String> {
        let args = RootArgs::of(f)?;
        if action == Action::Delete {
            let mut conds = self.root_conditions(table, "u", &args)?;
            let rules = self.write_rules(table, action, f.name.pos)?;
            conds.extend(self.rule_filters(table, "u", &rules)?);
            if conds.is_empty() {
                return Err(CompileError::new(
                    f.name.pos,
                    "`delete` needs `id:` or `where:` (deleting every row is not allowed)",
                ));
            }
            let cte = self.cte_name(table);
            w.ctes.push(write_cte(
                &cte,
                format!(
                    "DELETE FROM {} AS u WHERE {} RETURNING u.*",
                    table.sql_name(),
                    join(conds, "AND")
                ),
            ));
            w.deleted.push((rel(table), cte.clone()));
            return Ok(cte);
        }
        let data = data.ok_or_else(|| {
            CompileError::new(f.name.pos, format!("`{}` needs data", action.name()))
        })?;
        let (jexpr, example) = self.data_expr(table, data, examples)?;
        match action {
            Action::Insert | Action::Upsert => {
                if args.id.is_some() {
                    return Err(CompileError::new(
                        f.name.pos,
                        "`id:` does not apply to an insert; put the id in the data",
                    ));
                }
                self.insert_rows(table, &example, &jexpr, Vec::new(), action, f.name.pos, w)
            }
            Action::Update => {
                let mut conds = self.root_conditions(table, "u", &args)?;
                if conds.is_empty() {
                    return Err(CompileError::new(
                        f.name.pos,
                        "`update` needs `id:` or `where:` (updating every row is not allowed)",
                    ));
                }
                let rules = self.write_rules(table, action, f.name.pos)?;
                conds.extend(self.rule_filters(table, "u", &rules)?);
                self.update_rows(table, &example, &jexpr, conds, f.name.pos, w)
            }
            Action::Delete => unreachable_delete(f.name.pos),
        }
    }

    fn root_conditions(
        &mut self,
        table: &TableInfo,
        alias: &str,
        args: &RootArgs,
    ) -> Result<Vec<String>> {
        let mut conds = Vec::new();
        if let Some(id) = args.id {
            let pk = table.primary_key().ok_or_else(|| {
                CompileError::new(
                    id.pos,
                    format!(
                        "table `{}` has no primary key to look up by `id`",
                        table.name
                    ),
                )
            })?;
            let (name, cast) = (pk.name.clone(), pk.cast_type());
            conds.push(format!(
                "{alias}.{} = {}",
                ident(&name),
                self.value_sql(id, &cast)?
            ));
        }
        if let Some(w) = args.where_ {
            conds.push(self.where_sql(table, alias, w)?);
        }
        Ok(conds)
    }

    /// The data as an SQL json expression, and its example shape.
    fn data_expr(
        &mut self,
        table: &TableInfo,
        data: &Value,
        examples: Option<&Json>,
    ) -> Result<(String, Json)> {
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
                let expr = self.var_sql(name, "json", data.pos)?;
                self.record_input(name, table, &example)?;
                Ok((expr, example))
            }
            // GraphJin writes each row of a list written inline as a write of its own,
            // taken off a stack (`qcode/mutate.go`: `processList`, then `st.Pop()`): the
            // last row is written first, and the rows come back in that order. So are they
            // here (parameters keep their numbers in the order written).
            ValueKind::List(items) => {
                let mut rows = items
                    .iter()
                    .map(|i| self.literal_json(table, i))
                    .collect::<Result<Vec<_>>>()?;
                rows.reverse();
                let expr = format!("json_build_array({})", rows.join(", "));
                Ok((expr, literal_example(data)))
            }
            ValueKind::Object(_) => {
                let expr = self.literal_json(table, data)?;
                Ok((expr, literal_example(data)))
            }
            _ => Err(CompileError::new(
                data.pos,
                "mutation data must be an object, a list of objects or a variable",
            )),
        }
    }

    /// A literal data object as a json expression; variables inside are cast to their
    /// column's type.
    fn literal_json(&mut self, table: &TableInfo, v: &Value) -> Result<String> {
        match &v.kind {
            ValueKind::List(items) => {
                let parts = items
                    .iter()
                    .map(|i| self.literal_json(table, i))
                    .collect::<Result<Vec<_>>>()?;
                Ok(format!("json_build_array({})", parts.join(", ")))
            }
            ValueKind::Object(fields) => {
                let mut parts = Vec::new();
                for (k, val) in fields {
                    let name = self.db_name(&k.value).into_owned();
                    let sql = if matches!(k.value.as_str(), "connect" | "disconnect") {
                        // Rows of `table` to (dis)connect, matched by its columns.
                        self.connect_json(table, &k.value, val)?
                    } else if matches!(k.value.as_str(), "where" | "find") {
                        plain_json(val)?
                    } else if let Some(col) = table.column(&name) {
                        let cast = col.cast_type();
                        format!("to_json({})", self.value_sql(val, &cast)?)
                    } else if let Some((child, _)) = resolve(self.cat, table, &name, None, None) {
                        let child = child.clone();
                        self.literal_json(&child, val)?
                    } else {
                        format!("to_json({})", self.value_sql(val, "text")?)
                    };
                    parts.push(format!("{}, {sql}", string_literal(&k.value)));
                }
                Ok(format!("json_build_object({})", parts.join(", ")))
            }
            _ => Err(CompileError::new(
                v.pos,
                "expected an object in mutation data",
            )),
        }
    }

    /// An inline `connect: { id: 6 }` / `disconnect: { id: [1, 2] }` as a json object whose
    /// values are typed by the columns of `table` (variables inside are bound as such).
    fn connect_json(&mut self, table: &TableInfo, keyword: &str, v: &Value) -> Result<String> {
        let ValueKind::Object(fields) = &v.kind else {
            return Err(CompileError::new(
                v.pos,
                format!(
                    "`{keyword}` for `{}` needs an object such as {{ id: 1 }}",
                    table.name
                ),
            ));
        };
        let mut parts = Vec::new();
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
            let cast = col.cast_type();
            let sql = match &val.kind {
                ValueKind::List(items) => {
                    let items = items
                        .iter()
                        .map(|i| Ok(format!("to_json({})", self.value_sql(i, &cast)?)))
                        .collect::<Result<Vec<_>>>()?;
                    format!("json_build_array({})", items.join(", "))
                }
                _ => format!("to_json({})", self.value_sql(val, &cast)?),
            };
            parts.push(format!("{}, {sql}", string_literal(&k.value)));
        }
        Ok(format!("json_build_object({})", parts.join(", ")))
    }

    fn cte_name(&mut self, table: &TableInfo) -> String {
        let n = self.serial();
        format!("w{n}_{}", table.name)
    }

    /// Splits a data object's keys into columns and relations, checking each.
    fn classify(
        &mut self,
        table: &TableInfo,
        keys: &[(String, Json)],
        rules: &OpRules,
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
                if !rules.allows_column(&col.name) {
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

    /// `WHERE` conditions over alias `r` of `table` for a `connect`/`disconnect` object.
    fn connect_conditions(
        &mut self,
        table: &TableInfo,
        r: &str,
        example: &Json,
        expr: &str,
        pos: Pos,
    ) -> Result<String> {
        let Json::Object(m) = example else {
            return Err(CompileError::new(
                pos,
                format!(
                    "`connect` for `{}` needs an object such as {{ \"id\": 1 }}",
                    table.name
                ),
            ));
        };
        let mut conds = Vec::new();
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
            let leaf = super::ctx::json_leaf_sql(
                &format!("{expr}->{}", string_literal(key)),
                &format!("{}[]", col.pg_type),
            );
            conds.push(format!("{r}.{} = ANY({leaf})", ident(&col.name)));
        }
        if conds.is_empty() {
            return Err(CompileError::new(
                pos,
                "`connect` needs at least one column to match",
            ));
        }
        Ok(join(conds, "AND"))
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

    /// A preset value (`now`, `$user_id`, `sql:...` or a literal) as SQL of type `cast`.
    fn preset_sql(&mut self, value: &str, cast: &str, pos: Pos) -> Result<String> {
        let v = value.trim();
        if v.eq_ignore_ascii_case("now") {
            return Ok(format!("now()::{cast}"));
        }
        if let Some(var) = v.strip_prefix('$') {
            return self.var_sql(var, cast, pos);
        }
        if let Some(sql) = v.strip_prefix("sql:") {
            return Ok(format!("({})::{cast}", sql.trim()));
        }
        Ok(format!("{}::{cast}", string_literal(v)))
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_rows(
        &mut self,
        table: &TableInfo,
        example: &Json,
        jexpr: &str,
        mut assigned: Vec<(String, String)>,
        action: Action,
        pos: Pos,
        w: &mut Writes,
    ) -> Result<String> {
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
        let parts = self.classify(table, &keys, &rules, pos)?;
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
        // Parents first: rows this one points at.
        let mut after = Vec::new();
        for (key, child, rel, val) in &parts.relations {
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
            if val.get("connect").is_some() && has_data_keys(val) {
                return Err(CompileError::new(
                    pos,
                    format!("`{key}` has `connect` and data at once; use one"),
                ));
            }
            let sub = format!("{jexpr}->{}", string_literal(key));
            match rel {
                Relation::ToOne {
                    parent_col,
                    child_col,
                }
                | Relation::ToManyByArray {
                    parent_col,
                    child_col,
                } => {
                    // The keys of the rows this one points at: connected or inserted first.
                    let rows = if let Some(c) = val.get("connect") {
                        let cond = self.connect_conditions(
                            child,
                            "r",
                            c,
                            &format!("{sub}->'connect'"),
                            pos,
                        )?;
                        format!(
                            "SELECT r.{} FROM {} AS r WHERE {cond}",
                            ident(child_col),
                            self.source(child)
                        )
                    } else {
                        let cte =
                            self.insert_rows(child, val, &sub, Vec::new(), Action::Insert, pos, w)?;
                        format!("SELECT {} FROM {}", ident(child_col), ident(&cte))
                    };
                    let expr = if matches!(rel, Relation::ToOne { .. }) {
                        format!("({rows} LIMIT 1)")
                    } else {
                        format!("ARRAY({rows})")
                    };
                    assigned.push((parent_col.clone(), expr));
                }
                _ => after.push((key, child, rel, val)),
            }
        }
        for (col, value) in &rules.presets {
            let c = self.preset_column(table, col, pos)?;
            let sql = self.preset_sql(value, &c.cast_type(), pos)?;
            assigned.retain(|(a, _)| a != &c.name);
            assigned.push((c.name.clone(), sql));
        }
        let columns: Vec<&(String, String, String)> = parts
            .columns
            .iter()
            .filter(|(_, c, _)| !assigned.iter().any(|(a, _)| a == c))
            .collect();
        let mut names: Vec<String> = columns.iter().map(|(_, c, _)| ident(c)).collect();
        let mut values: Vec<String> = columns
            .iter()
            .map(|(key, _, cast)| {
                super::ctx::json_leaf_sql(&format!("__x.j->{}", string_literal(key)), cast)
            })
            .collect();
        for (c, v) in &assigned {
            names.push(ident(c));
            values.push(v.clone());
        }
        let cte = self.cte_name(table);
        let target = table.sql_name();
        let insert = if names.is_empty() {
            format!("INSERT INTO {target} DEFAULT VALUES RETURNING *")
        } else {
            let conflict = if action == Action::Upsert {
                self.on_conflict(table, &columns, pos)?
            } else {
                String::new()
            };
            format!(
                "INSERT INTO {target} ({}) SELECT {} FROM json_array_elements({}) AS __x(j){conflict} RETURNING *",
                names.join(", "),
                values.join(", "),
                as_array(jexpr)
            )
        };
        w.ctes.push(write_cte(&cte, insert));
        w.written.push((rel(table), cte.clone()));

        // Then rows pointing at this one.
        for (key, child, relation, val) in after {
            let sub = format!("{jexpr}->{}", string_literal(key));
            let (fk, parent_key) = match relation {
                Relation::ToMany {
                    child_col,
                    parent_col,
                } => (child_col.clone(), parent_col.clone()),
                Relation::Recursive {
                    fk_col,
                    key_col,
                    find: Find::Children,
                } => (fk_col.clone(), key_col.clone()),
                _ => {
                    return Err(CompileError::new(
                        pos,
                        format!(
                            "writing `{key}` through this kind of relationship is not supported yet"
                        ),
                    ));
                }
            };
            let parent_value = format!(
                "(SELECT {} FROM {} LIMIT 1)",
                ident(&parent_key),
                ident(&cte)
            );
            if let Some(c) = val.get("connect") {
                let cond =
                    self.connect_conditions(child, "u", c, &format!("{sub}->'connect'"), pos)?;
                self.write_rules(child, Action::Update, pos)?;
                let ucte = self.cte_name(child);
                w.ctes.push(write_cte(
                    &ucte,
                    format!(
                        "UPDATE {} AS u SET {} = {parent_value} WHERE {cond} RETURNING u.*",
                        child.sql_name(),
                        ident(&fk)
                    ),
                ));
                w.written.push((rel(child), ucte));
            } else {
                self.insert_rows(
                    child,
                    val,
                    &sub,
                    vec![(fk, parent_value)],
                    Action::Insert,
                    pos,
                    w,
                )?;
            }
        }
        Ok(cte)
    }

    fn on_conflict(
        &mut self,
        table: &TableInfo,
        columns: &[&(String, String, String)],
        pos: Pos,
    ) -> Result<String> {
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
        let sets: Vec<String> = columns
            .iter()
            .filter(|(_, c, _)| *c != target)
            .map(|(_, c, _)| format!("{} = EXCLUDED.{}", ident(c), ident(c)))
            .collect();
        Ok(if sets.is_empty() {
            format!(" ON CONFLICT ({}) DO NOTHING", ident(&target))
        } else {
            format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                ident(&target),
                sets.join(", ")
            )
        })
    }

    fn update_rows(
        &mut self,
        table: &TableInfo,
        example: &Json,
        jexpr: &str,
        conds: Vec<String>,
        pos: Pos,
        w: &mut Writes,
    ) -> Result<String> {
        let rules = self.write_rules(table, Action::Update, pos)?;
        let (keys, is_list) = object_keys(example);
        if is_list {
            return Err(CompileError::new(
                pos,
                format!("`update` of `{}` takes one object", table.name),
            ));
        }
        let parts = self.classify(table, &keys, &rules, pos)?;
        let mut sets: Vec<(String, String)> = parts
            .columns
            .iter()
            .map(|(key, col, cast)| {
                (
                    col.clone(),
                    super::ctx::json_leaf_sql(&format!("{jexpr}->{}", string_literal(key)), cast),
                )
            })
            .collect();
        let mut after = Vec::new();
        for (key, child, relation, val) in &parts.relations {
            let sub = format!("{jexpr}->{}", string_literal(key));
            let (connect, disconnect) = (val.get("connect"), val.get("disconnect"));
            if (connect.is_some() || disconnect.is_some()) && has_data_keys(val) {
                return Err(CompileError::new(
                    pos,
                    format!(
                        "`{key}` has `connect`/`disconnect` and data at once; write them as two mutations"
                    ),
                ));
            }
            match relation {
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
                } if connect.is_some() => {
                    let c = val.get("connect").cloned().unwrap_or(Json::Null);
                    let cond =
                        self.connect_conditions(child, "r", &c, &format!("{sub}->'connect'"), pos)?;
                    let expr = format!(
                        "(SELECT r.{} FROM {} AS r WHERE {cond} LIMIT 1)",
                        ident(child_col),
                        self.source(child)
                    );
                    sets.push((parent_col.clone(), expr));
                }
                Relation::ToOne {
                    parent_col,
                    child_col,
                } if disconnect.is_some() => {
                    // Only when it points at a row the `disconnect` object matches.
                    let d = disconnect.cloned().unwrap_or(Json::Null);
                    let cond = self.connect_conditions(
                        child,
                        "r",
                        &d,
                        &format!("{sub}->'disconnect'"),
                        pos,
                    )?;
                    let col = ident(parent_col);
                    sets.push((
                        parent_col.clone(),
                        format!(
                            "(CASE WHEN u.{col} IN (SELECT r.{} FROM {} AS r WHERE {cond}) THEN NULL ELSE u.{col} END)",
                            ident(child_col),
                            self.source(child)
                        ),
                    ));
                }
                Relation::ToManyByArray {
                    parent_col,
                    child_col,
                } if connect.is_some() || disconnect.is_some() => {
                    // GraphJin's connect sets the array to the connected rows' keys; a
                    // disconnect removes the matching keys (GraphJin sets the whole column
                    // to NULL, which a NOT NULL array column refuses).
                    let col = ident(parent_col);
                    let mut expr = match connect {
                        Some(c) => {
                            let cond = self.connect_conditions(
                                child,
                                "r",
                                c,
                                &format!("{sub}->'connect'"),
                                pos,
                            )?;
                            format!(
                                "ARRAY(SELECT DISTINCT r.{} FROM {} AS r WHERE {cond})",
                                ident(child_col),
                                self.source(child)
                            )
                        }
                        None => format!("u.{col}"),
                    };
                    if let Some(d) = disconnect {
                        let cond = self.connect_conditions(
                            child,
                            "r",
                            d,
                            &format!("{sub}->'disconnect'"),
                            pos,
                        )?;
                        expr = format!(
                            "ARRAY(SELECT __k FROM unnest({expr}) AS __k WHERE __k NOT IN (SELECT r.{} FROM {} AS r WHERE {cond}))",
                            ident(child_col),
                            self.source(child)
                        );
                    }
                    sets.push((parent_col.clone(), expr));
                }
                _ => after.push((key, child, relation, val)),
            }
        }
        for (col, value) in &rules.presets {
            let c = self.preset_column(table, col, pos)?;
            let sql = self.preset_sql(value, &c.cast_type(), pos)?;
            sets.retain(|(a, _)| a != &c.name);
            sets.push((c.name.clone(), sql));
        }
        if sets.is_empty() {
            let pk = table
                .primary_key()
                .or(table.columns.first())
                .map(|c| c.name.clone())
                .unwrap_or_default();
            sets.push((pk.clone(), format!("u.{}", ident(&pk))));
        }
        let cte = self.cte_name(table);
        let set_sql: Vec<String> = sets
            .iter()
            .map(|(c, v)| format!("{} = {v}", ident(c)))
            .collect();
        w.ctes.push(write_cte(
            &cte,
            format!(
                "UPDATE {} AS u SET {} WHERE {} RETURNING u.*",
                table.sql_name(),
                set_sql.join(", "),
                join(conds, "AND")
            ),
        ));
        w.written.push((rel(table), cte.clone()));

        for (key, child, relation, val) in after {
            let sub = format!("{jexpr}->{}", string_literal(key));
            let mut child_conds = match relation {
                Relation::ToOne {
                    parent_col,
                    child_col,
                } => {
                    vec![format!(
                        "u.{} IN (SELECT {} FROM {})",
                        ident(child_col),
                        ident(parent_col),
                        ident(&cte)
                    )]
                }
                Relation::ToMany {
                    child_col,
                    parent_col,
                }
                | Relation::Recursive {
                    fk_col: child_col,
                    key_col: parent_col,
                    find: Find::Children,
                } => {
                    let (connect, disconnect) = (val.get("connect"), val.get("disconnect"));
                    if let Some(c) = connect {
                        let mut cond = self.connect_conditions(
                            child,
                            "u",
                            c,
                            &format!("{sub}->'connect'"),
                            pos,
                        )?;
                        if let Some(d) = disconnect {
                            // One UPDATE per row and statement: a row named by both is
                            // left as it is by the connect, and disconnected below.
                            let dcond = self.connect_conditions(
                                child,
                                "u",
                                d,
                                &format!("{sub}->'disconnect'"),
                                pos,
                            )?;
                            cond = format!("({cond}) AND NOT ({dcond})");
                        }
                        self.write_rules(child, Action::Update, pos)?;
                        let ucte = self.cte_name(child);
                        w.ctes.push(write_cte(
                            &ucte,
                            format!(
                                "UPDATE {} AS u SET {} = (SELECT {} FROM {} LIMIT 1) WHERE {cond} RETURNING u.*",
                                child.sql_name(),
                                ident(child_col),
                                ident(parent_col),
                                ident(&cte)
                            ),
                        ));
                        w.written.push((rel(child), ucte));
                    }
                    if let Some(d) = disconnect {
                        let cond = self.connect_conditions(
                            child,
                            "u",
                            d,
                            &format!("{sub}->'disconnect'"),
                            pos,
                        )?;
                        self.write_rules(child, Action::Update, pos)?;
                        let ucte = self.cte_name(child);
                        w.ctes.push(write_cte(
                            &ucte,
                            format!(
                                "UPDATE {} AS u SET {} = NULL WHERE {cond} AND u.{} IN (SELECT {} FROM {}) RETURNING u.*",
                                child.sql_name(),
                                ident(child_col),
                                ident(child_col),
                                ident(parent_col),
                                ident(&cte)
                            ),
                        ));
                        w.written.push((rel(child), ucte));
                    }
                    if connect.is_some() || disconnect.is_some() {
                        continue;
                    }
                    vec![format!(
                        "u.{} IN (SELECT {} FROM {})",
                        ident(child_col),
                        ident(parent_col),
                        ident(&cte)
                    )]
                }
                _ => {
                    return Err(CompileError::new(
                        pos,
                        format!(
                            "updating `{key}` through this kind of relationship is not supported yet"
                        ),
                    ));
                }
            };
            if let Some(wh) = val.get("where") {
                let filter = json_filter(wh, &format!("{sub}->'where'"), pos)?;
                child_conds.push(self.where_sql(child, "u", &filter)?);
            }
            let child_rules = self.write_rules(child, Action::Update, pos)?;
            child_conds.extend(self.rule_filters(child, "u", &child_rules)?);
            self.update_rows(child, val, &sub, child_conds, pos, w)?;
        }
        Ok(cte)
    }

    /// The selection of a mutation field: from the written rows (`cte`), or from the table
    /// as it stands after the writes.
    fn mutation_select(
        &mut self,
        f: &'a Field,
        table: &TableInfo,
        cte: Option<&str>,
        object: bool,
    ) -> Result<(Expr, Shape)> {
        let one = object || f.arguments.iter().any(|a| a.name.value == "id");
        match cte {
            Some(cte) => self.select_from_cte(f, table, cte, one),
            None => self.table_select_root(f, table, one),
        }
    }

    fn record_input(&mut self, name: &str, table: &TableInfo, example: &Json) -> Result<()> {
        let shape = self.input_shape(table, example);
        self.inputs.insert(name.to_string(), shape);
        Ok(())
    }

    fn input_shape(&self, table: &TableInfo, example: &Json) -> InputShape {
        let (keys, list) = object_keys(example);
        let mut fields = Vec::new();
        for (key, val) in &keys {
            if DATA_KEYWORDS.contains(&key.as_str()) {
                fields.push((
                    key.clone(),
                    if key == "find" {
                        InputShape::Scalar("text".into())
                    } else {
                        InputShape::Any
                    },
                ));
                continue;
            }
            let name = self.db_name(key).into_owned();
            let shape = if let Some(col) = table.column(&name) {
                InputShape::Column {
                    pg_type: col.cast_type(),
                    column: table.origin(&col.name),
                }
            } else if let Some((child, _)) = resolve(self.cat, table, &name, None, None) {
                self.input_shape(child, val)
            } else {
                InputShape::Any
            };
            fields.push((key.clone(), shape));
        }
        InputShape::Object { fields, list }
    }
}

/// Whether a nested object has keys besides `connect`, `disconnect`, `where` and `find`.
fn has_data_keys(val: &Json) -> bool {
    let (keys, _) = object_keys(val);
    keys.iter()
        .any(|(k, _)| !DATA_KEYWORDS.contains(&k.as_str()))
}

fn unreachable_delete(pos: Pos) -> Result<String> {
    Err(CompileError::new(pos, "internal: delete planned twice"))
}

/// A write in the statement's `WITH` chain, named `name`.
fn write_cte(name: &str, write: String) -> Cte {
    Cte {
        name: ident(name),
        columns: Vec::new(),
        body: CteBody::Write(write),
        cycle: None,
    }
}

fn rel(t: &TableInfo) -> String {
    t.relation_name().unwrap_or(&t.name).to_string()
}

#[derive(Default)]
struct Classified {
    /// (data key, column, cast type)
    columns: Vec<(String, String, String)>,
    /// (data key, related table, relation, example value)
    relations: Vec<(String, TableInfo, Relation, Json)>,
}

/// The arguments of a mutation field that pick rows.
struct RootArgs<'f> {
    id: Option<&'f Value>,
    where_: Option<&'f Value>,
}

impl<'f> RootArgs<'f> {
    fn of(f: &'f Field) -> Result<RootArgs<'f>> {
        let get = |n: &str| {
            f.arguments
                .iter()
                .find(|a| a.name.value == n)
                .map(|a| &a.value)
        };
        Ok(RootArgs {
            id: get("id"),
            where_: get("where"),
        })
    }
}

/// Which of insert/update/upsert/delete a field does, and its data.
fn mutation_action(f: &Field) -> Result<(Action, Option<&Value>)> {
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

/// An inline `where` / `find` value inside mutation data as a json constant.
fn plain_json(v: &Value) -> Result<String> {
    let json = literal_value(v).ok_or_else(|| {
        CompileError::new(
            v.pos,
            "a variable inside an inline `where` of nested data is not supported; pass the \
             whole data as a variable (`update: $data`)",
        )
    })?;
    Ok(format!("{}::json", string_literal(&json.to_string())))
}

/// A literal GraphQL value as JSON; `None` when it holds a variable.
fn literal_value(v: &Value) -> Option<Json> {
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

/// The example shape of literal data.
fn literal_example(v: &Value) -> Json {
    match &v.kind {
        ValueKind::Object(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| (k.value.clone(), literal_example(v)))
                .collect(),
        ),
        ValueKind::List(items) => Json::Array(items.iter().map(literal_example).collect()),
        // Strings matter (`find: "children"`); other values only their presence.
        ValueKind::String(s) => Json::String(s.clone()),
        _ => Json::Null,
    }
}

/// A `where` object inside mutation data as a filter whose leaves read the JSON at run time.
fn json_filter(example: &Json, expr: &str, pos: Pos) -> Result<Value> {
    let kind = match example {
        Json::Object(m) => {
            let mut fields = Vec::new();
            for (k, v) in m {
                let sub = format!("{expr}->{}", string_literal(k));
                fields.push((
                    Name {
                        value: k.clone(),
                        pos,
                    },
                    json_filter(v, &sub, pos)?,
                ));
            }
            ValueKind::Object(fields)
        }
        _ => ValueKind::Variable(format!("{JSON_PATH}{expr}")),
    };
    Ok(Value { kind, pos })
}
