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

use super::catalog::TableInfo;
use super::ctx::{Ctx, JSON_PATH, json_leaf_sql};
use super::error::{CompileError, Result};
use super::filter::join;
use super::inputs::InputShape;
use super::plan::write::{
    Action, ChildHow, DATA_KEYWORDS, Data, InsertPlan, LitField, Literal, Match, ParentSource,
    Picks, RootWrite, UpdatePlan, WriteRoot, literal_value, mutation_action, object_keys,
};
use super::relation::resolve;
use super::select::wrap_include;
use super::shape::Shape;
use super::sql::quote::{ident, string_literal};
use super::sql::{Cte, CteBody, Expr, Item, Select, With};
use crate::gql::ast::{Field, Name, Operation, Value, ValueKind};
use crate::source::Pos;

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
            let plan = self.plan_write(f, table.clone(), action, data, examples)?;
            let cte = self.lower_write(&plan, &mut writes)?;
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

    /// Lowers a mutation field's planned write into CTEs; the name of the one whose rows
    /// the field's selection reads.
    fn lower_write(&mut self, plan: &WriteRoot<'a>, w: &mut Writes) -> Result<String> {
        let table = &plan.table;
        match &plan.kind {
            RootWrite::Delete {
                picks,
                role_filters,
            } => {
                let mut conds = self.picks_sql(picks, "u")?;
                conds.extend(self.lower_filters(role_filters, "u")?);
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
                Ok(cte)
            }
            RootWrite::Insert { data, rows } => {
                let jexpr = self.data_sql(table, data)?;
                self.insert_rows(rows, &jexpr, Vec::new(), w)
            }
            RootWrite::Update {
                data,
                picks,
                role_filters,
                rows,
            } => {
                let jexpr = self.data_sql(table, data)?;
                let mut conds = self.picks_sql(picks, "u")?;
                conds.extend(self.lower_filters(role_filters, "u")?);
                self.update_rows(rows, &jexpr, conds, w)
            }
        }
    }

    /// Conditions over `alias` for the rows `id:` and `where:` pick.
    fn picks_sql(&mut self, picks: &Picks<'_>, alias: &str) -> Result<Vec<String>> {
        let mut conds = Vec::new();
        if let Some((id, pk)) = &picks.id {
            conds.push(format!(
                "{alias}.{} = {}",
                ident(&pk.name),
                self.value_sql(id, &pk.cast_type())?
            ));
        }
        if let Some(f) = &picks.filter {
            conds.push(self.lower_filter(f, alias)?);
        }
        Ok(conds)
    }

    /// The data as an SQL json expression.
    fn data_sql(&mut self, table: &TableInfo, data: &Data<'_>) -> Result<String> {
        match data {
            Data::Var { name, pos, example } => {
                let expr = self.var_sql(name, "json", *pos)?;
                self.record_input(name, table, example)?;
                Ok(expr)
            }
            // GraphJin writes each row of a list written inline as a write of its own,
            // taken off a stack (`qcode/mutate.go`: `processList`, then `st.Pop()`): the
            // last row is written first, and the rows come back in that order. So are they
            // here (parameters keep their numbers in the order written).
            Data::Rows(items) => {
                let mut rows = items
                    .iter()
                    .map(|i| self.literal_json(i))
                    .collect::<Result<Vec<_>>>()?;
                rows.reverse();
                Ok(format!("json_build_array({})", rows.join(", ")))
            }
            Data::Object(object) => self.literal_json(object),
        }
    }

    /// Inline data as a json expression; variables inside are cast to their column's type.
    fn literal_json(&mut self, v: &Literal<'_>) -> Result<String> {
        match v {
            Literal::List(items) => {
                let parts = items
                    .iter()
                    .map(|i| self.literal_json(i))
                    .collect::<Result<Vec<_>>>()?;
                Ok(format!("json_build_array({})", parts.join(", ")))
            }
            Literal::Object(fields) => {
                let mut parts = Vec::with_capacity(fields.len());
                for (key, field) in fields {
                    let sql = match field {
                        LitField::Connect(cols) => self.connect_json(cols)?,
                        LitField::Plain(v) => plain_json(v)?,
                        LitField::Column(v, cast) => {
                            format!("to_json({})", self.value_sql(v, cast)?)
                        }
                        LitField::Nested(inner) => self.literal_json(inner)?,
                        LitField::Text(v) => format!("to_json({})", self.value_sql(v, "text")?),
                    };
                    parts.push(format!("{}, {sql}", string_literal(key)));
                }
                Ok(format!("json_build_object({})", parts.join(", ")))
            }
        }
    }

    /// An inline `connect: { id: 6 }` / `disconnect: { id: [1, 2] }` as a json object whose
    /// values are typed by their columns (variables inside are bound as such).
    fn connect_json(&mut self, cols: &[(&str, String, &Value)]) -> Result<String> {
        let mut parts = Vec::with_capacity(cols.len());
        for (key, cast, val) in cols {
            let sql = match &val.kind {
                ValueKind::List(items) => {
                    let items = items
                        .iter()
                        .map(|i| Ok(format!("to_json({})", self.value_sql(i, cast)?)))
                        .collect::<Result<Vec<_>>>()?;
                    format!("json_build_array({})", items.join(", "))
                }
                _ => format!("to_json({})", self.value_sql(val, cast)?),
            };
            parts.push(format!("{}, {sql}", string_literal(key)));
        }
        Ok(format!("json_build_object({})", parts.join(", ")))
    }

    fn cte_name(&mut self, table: &TableInfo) -> String {
        let n = self.serial();
        format!("w{n}_{}", table.name)
    }

    /// `WHERE` conditions over alias `r` for the rows a `connect` / `disconnect` object
    /// matches, its values read from `expr`.
    fn match_sql(&self, m: &Match, r: &str, expr: &str) -> String {
        let conds = m
            .keys
            .iter()
            .map(|(key, col)| {
                let leaf = json_leaf_sql(
                    &format!("{expr}->{}", string_literal(key)),
                    &format!("{}[]", col.pg_type),
                );
                format!("{r}.{} = ANY({leaf})", ident(&col.name))
            })
            .collect();
        join(conds, "AND")
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

    /// The CTEs of an insert (its parents first, its children after); the name of its own.
    fn insert_rows(
        &mut self,
        plan: &InsertPlan,
        jexpr: &str,
        mut assigned: Vec<(String, String)>,
        w: &mut Writes,
    ) -> Result<String> {
        let table = &plan.table;
        // Parents first: rows this one points at.
        for p in &plan.parents {
            let sub = format!("{jexpr}->{}", string_literal(&p.key));
            let rows = match &p.source {
                ParentSource::Connect(child, m) => {
                    let cond = self.match_sql(m, "r", &format!("{sub}->'connect'"));
                    format!(
                        "SELECT r.{} FROM {} AS r WHERE {cond}",
                        ident(&p.child_col),
                        self.source(child)
                    )
                }
                ParentSource::Insert(parent) => {
                    let cte = self.insert_rows(parent, &sub, Vec::new(), w)?;
                    format!("SELECT {} FROM {}", ident(&p.child_col), ident(&cte))
                }
            };
            let expr = if p.one {
                format!("({rows} LIMIT 1)")
            } else {
                format!("ARRAY({rows})")
            };
            assigned.push((p.parent_col.clone(), expr));
        }
        for (c, value) in &plan.presets {
            let sql = self.preset_sql(value, &c.cast_type(), plan.pos)?;
            assigned.retain(|(a, _)| a != &c.name);
            assigned.push((c.name.clone(), sql));
        }
        let mut names: Vec<String> = plan.columns.iter().map(|(_, c, _)| ident(c)).collect();
        let mut values: Vec<String> = plan
            .columns
            .iter()
            .map(|(key, _, cast)| json_leaf_sql(&format!("__x.j->{}", string_literal(key)), cast))
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
            let conflict = match &plan.conflict {
                Some((target, sets)) if sets.is_empty() => {
                    format!(" ON CONFLICT ({}) DO NOTHING", ident(target))
                }
                Some((target, sets)) => format!(
                    " ON CONFLICT ({}) DO UPDATE SET {}",
                    ident(target),
                    sets.iter()
                        .map(|c| format!("{} = EXCLUDED.{}", ident(c), ident(c)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => String::new(),
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
        for c in &plan.children {
            let sub = format!("{jexpr}->{}", string_literal(&c.key));
            let parent_value = format!(
                "(SELECT {} FROM {} LIMIT 1)",
                ident(&c.parent_key),
                ident(&cte)
            );
            match &c.how {
                ChildHow::Connect(m) => {
                    let cond = self.match_sql(m, "u", &format!("{sub}->'connect'"));
                    let ucte = self.cte_name(&c.child);
                    w.ctes.push(write_cte(
                        &ucte,
                        format!(
                            "UPDATE {} AS u SET {} = {parent_value} WHERE {cond} RETURNING u.*",
                            c.child.sql_name(),
                            ident(&c.fk)
                        ),
                    ));
                    w.written.push((rel(&c.child), ucte));
                }
                ChildHow::Insert(rows) => {
                    self.insert_rows(rows, &sub, vec![(c.fk.clone(), parent_value)], w)?;
                }
            }
        }
        Ok(cte)
    }

    /// The CTEs of an update of the rows `conds` pick (related updates after it); the name
    /// of its own.
    fn update_rows(
        &mut self,
        plan: &UpdatePlan<'_>,
        jexpr: &str,
        conds: Vec<String>,
        w: &mut Writes,
    ) -> Result<String> {
        let table = &plan.table;
        let mut sets: Vec<(String, String)> = plan
            .columns
            .iter()
            .map(|(key, col, cast)| {
                (
                    col.clone(),
                    json_leaf_sql(&format!("{jexpr}->{}", string_literal(key)), cast),
                )
            })
            .collect();
        for l in &plan.links {
            let sub = format!("{jexpr}->{}", string_literal(&l.key));
            let source = self.source(&l.child);
            let col = ident(&l.parent_col);
            let key = ident(&l.child_col);
            let expr = if l.one {
                match (&l.connect, &l.disconnect) {
                    (Some(c), _) => {
                        let cond = self.match_sql(c, "r", &format!("{sub}->'connect'"));
                        format!("(SELECT r.{key} FROM {source} AS r WHERE {cond} LIMIT 1)")
                    }
                    (None, Some(d)) => {
                        // Only when it points at a row the `disconnect` object matches.
                        let cond = self.match_sql(d, "r", &format!("{sub}->'disconnect'"));
                        format!(
                            "(CASE WHEN u.{col} IN (SELECT r.{key} FROM {source} AS r WHERE {cond}) THEN NULL ELSE u.{col} END)"
                        )
                    }
                    (None, None) => continue,
                }
            } else {
                // GraphJin's connect sets the array to the connected rows' keys; a
                // disconnect removes the matching keys (GraphJin sets the whole column
                // to NULL, which a NOT NULL array column refuses).
                let mut expr = match &l.connect {
                    Some(c) => {
                        let cond = self.match_sql(c, "r", &format!("{sub}->'connect'"));
                        format!("ARRAY(SELECT DISTINCT r.{key} FROM {source} AS r WHERE {cond})")
                    }
                    None => format!("u.{col}"),
                };
                if let Some(d) = &l.disconnect {
                    let cond = self.match_sql(d, "r", &format!("{sub}->'disconnect'"));
                    expr = format!(
                        "ARRAY(SELECT __k FROM unnest({expr}) AS __k WHERE __k NOT IN (SELECT r.{key} FROM {source} AS r WHERE {cond}))"
                    );
                }
                expr
            };
            sets.push((l.parent_col.clone(), expr));
        }
        for (c, value) in &plan.presets {
            let sql = self.preset_sql(value, &c.cast_type(), plan.pos)?;
            sets.retain(|(a, _)| a != &c.name);
            sets.push((c.name.clone(), sql));
        }
        if let Some(pk) = &plan.unchanged {
            sets.push((pk.clone(), format!("u.{}", ident(pk))));
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

        for c in &plan.children {
            let sub = format!("{jexpr}->{}", string_literal(&c.key));
            let (child_col, parent_col) = (ident(&c.child_col), ident(&c.parent_col));
            if let Some(m) = &c.connect {
                let mut cond = self.match_sql(m, "u", &format!("{sub}->'connect'"));
                if let Some(d) = &c.disconnect {
                    // One UPDATE per row and statement: a row named by both is left as it
                    // is by the connect, and disconnected below.
                    let dcond = self.match_sql(d, "u", &format!("{sub}->'disconnect'"));
                    cond = format!("({cond}) AND NOT ({dcond})");
                }
                let ucte = self.cte_name(&c.child);
                w.ctes.push(write_cte(
                    &ucte,
                    format!(
                        "UPDATE {} AS u SET {child_col} = (SELECT {parent_col} FROM {} LIMIT 1) WHERE {cond} RETURNING u.*",
                        c.child.sql_name(),
                        ident(&cte)
                    ),
                ));
                w.written.push((rel(&c.child), ucte));
            }
            if let Some(d) = &c.disconnect {
                let cond = self.match_sql(d, "u", &format!("{sub}->'disconnect'"));
                let ucte = self.cte_name(&c.child);
                w.ctes.push(write_cte(
                    &ucte,
                    format!(
                        "UPDATE {} AS u SET {child_col} = NULL WHERE {cond} AND u.{child_col} IN (SELECT {parent_col} FROM {}) RETURNING u.*",
                        c.child.sql_name(),
                        ident(&cte)
                    ),
                ));
                w.written.push((rel(&c.child), ucte));
            }
            let Some(nested) = &c.nested else {
                continue;
            };
            let mut child_conds = vec![format!(
                "u.{child_col} IN (SELECT {parent_col} FROM {})",
                ident(&cte)
            )];
            if let Some(wh) = &nested.where_ {
                let filter = json_filter(wh, &format!("{sub}->'where'"), plan.pos)?;
                child_conds.push(self.where_sql(&c.child, "u", &filter)?);
            }
            child_conds.extend(self.lower_filters(&nested.role_filters, "u")?);
            self.update_rows(&nested.rows, &sub, child_conds, w)?;
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

/// An inline `where` / `find` value inside mutation data as a json constant (the plan
/// checked it holds no variable).
fn plain_json(v: &Value) -> Result<String> {
    let json = literal_value(v).ok_or_else(|| {
        CompileError::new(
            v.pos,
            "internal: a variable in an inline `where` of nested data",
        )
    })?;
    Ok(format!("{}::json", string_literal(&json.to_string())))
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
