//! Planning a selection: every field resolved against the catalog and checked against the
//! role's rules, with nothing written as SQL.

use super::args::{
    SelArgs, aggregate, aggregate_call, find_arg, has_paging, is_field_condition, sel_args,
    sel_args_of,
};
use super::{FnArg, Kind, Member, Planned, Reach, Refusal, RowFilter, TablePlan};
use crate::compile::catalog::{ColumnInfo, FunctionInfo, TableInfo, TableSource};
use crate::compile::ctx::{Ctx, uses_variable};
use crate::compile::error::{CompileError, Result};
use crate::compile::names::{singular, suggestion};
use crate::compile::plan::FieldDirectives;
use crate::compile::relation::{Relation, resolve};
use crate::gql::ast::{Field, Operation, Selection, Value, ValueKind};
use crate::source::Pos;

impl<'a> Ctx<'a> {
    /// Plans the top-level fields of a query or subscription.
    pub(in crate::compile) fn plan_query(&mut self, op: &'a Operation) -> Result<Vec<Planned<'a>>> {
        self.plan_selection(&op.selection, None, |ctx, f, dirs| {
            Ok(if f.name.value == "__typename" {
                let name = op
                    .name
                    .as_ref()
                    .map(|n| n.value.as_str())
                    .unwrap_or(op.kind.keyword());
                Kind::Typename(name.to_owned())
            } else {
                ctx.plan_root_field(f, dirs)?
            })
        })
    }

    /// Plans a selection set, at the root (`table` is `None`) or in a row of `table`:
    /// fields removed by a directive are left out, `<name>_cursor` fields are checked
    /// against their paged siblings, and `plan_one` plans every other field.
    fn plan_selection(
        &mut self,
        sel: &'a [Selection],
        table: Option<&TableInfo>,
        mut plan_one: impl FnMut(&mut Self, &'a Field, &FieldDirectives<'a>) -> Result<Kind<'a>>,
    ) -> Result<Vec<Planned<'a>>> {
        let fields = self.flatten(sel)?;
        let mut planned = Vec::with_capacity(fields.len());
        let mut cursor_fields = Vec::new();
        for f in fields.iter().copied() {
            let dirs = self.field_directives(f)?;
            if dirs.removed {
                continue;
            }
            if self.is_cursor_field(f, table) {
                cursor_fields.push(f);
                continue;
            }
            let kind = plan_one(self, f, &dirs)?;
            planned.push(Planned {
                field: f,
                key: f.response_key().to_string(),
                dirs,
                kind,
            });
        }
        check_cursor_fields(&cursor_fields, &fields, &planned)?;
        Ok(planned)
    }

    /// A field `<name>_cursor` with no selection that is not a column of `table` (or, at
    /// the root, a table): the cursor of the paged sibling `<name>`, which every paged
    /// selection returns whether or not it is asked for (GraphJin's keyword field).
    fn is_cursor_field(&self, f: &Field, table: Option<&TableInfo>) -> bool {
        let name = self.db_name(&f.name.value);
        f.selection.is_empty()
            && f.arguments.is_empty()
            && name.ends_with("_cursor")
            && match table {
                Some(t) => t.column(&name).is_none(),
                None => self.cat.table(&name).is_none(),
            }
    }

    fn plan_root_field(&mut self, f: &'a Field, dirs: &FieldDirectives<'a>) -> Result<Kind<'a>> {
        let name = self.db_name(&f.name.value).into_owned();
        if self.cat.is_blocked(&name) {
            return Err(CompileError::new(
                f.name.pos,
                format!("table `{name}` is blocked"),
            ));
        }
        let table = |p: TablePlan<'a>| Kind::Table(Box::new(p));
        if let Some(schema) = &dirs.schema {
            let t = self.schema_table(&name, schema, f)?;
            return Ok(table(self.plan_table(f, t, Reach::Root, dirs.object)?));
        }
        if let Some(t) = self.cat.table(&name) {
            if matches!(t.source, TableSource::JsonColumn { .. }) {
                return Err(CompileError::new(
                    f.name.pos,
                    format!("`{name}` is stored in a JSON column; select it under its table"),
                ));
            }
            let t = t.clone();
            return Ok(table(self.plan_table(f, t, Reach::Root, dirs.object)?));
        }
        if let Some(func) = self.cat.function(&name).filter(|x| x.returns_set) {
            let func = func.clone();
            let args = sel_args_of(&f.arguments, Some(&func), false)?;
            let inputs = self.plan_call(&func, &args, f.name.pos, None)?;
            let rows = TableInfo {
                name: func.name.clone(),
                source: TableSource::Relation {
                    schema: func.schema.clone(),
                    name: func.name.clone(),
                },
                columns: func.outputs.clone(),
                order_by: Vec::new(),
            };
            let reach = Reach::Function(func, inputs);
            return Ok(table(self.plan_table(f, rows, reach, dirs.object)?));
        }
        if let Some(t) = self
            .cat
            .tables
            .iter()
            .find(|t| singular(&t.name) == name && t.name != name)
        {
            let t = t.clone();
            return Ok(table(self.plan_table(f, t, Reach::Root, true)?));
        }
        let candidates = self.cat.tables.iter().map(|t| t.name.as_str()).chain(
            self.cat
                .functions
                .iter()
                .filter(|f| f.returns_set)
                .map(|f| f.name.as_str()),
        );
        Err(CompileError::new(
            f.name.pos,
            format!(
                "unknown table `{}`{}",
                f.name.value,
                suggestion(&name, candidates)
            ),
        ))
    }

    /// The inputs of a call to `func`, matched by name or position (`a0`, `a1`...) from
    /// `args: { name: v }`, `args: [v0, v1]` and arguments written on the field itself. An
    /// unquoted name as an argument (`is_hot_product(args: { id: id })`) is a column of
    /// `row`'s table, as in GraphJin (`qcode.ArgTypeCol`); at the root, where there is no
    /// table, it is refused.
    fn plan_call(
        &mut self,
        func: &FunctionInfo,
        args: &SelArgs<'a>,
        pos: Pos,
        row: Option<&TableInfo>,
    ) -> Result<Vec<FnArg<'a>>> {
        let mut given: Vec<(String, Pos, &'a Value)> = Vec::new();
        match args.args.map(|a| &a.kind) {
            Some(ValueKind::Object(fields)) => {
                given.extend(fields.iter().map(|(k, v)| (k.value.clone(), k.pos, v)));
            }
            Some(ValueKind::List(items)) => {
                given.extend(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (format!("a{i}"), v.pos, v)),
                );
            }
            None => {}
            Some(_) => {
                return Err(CompileError::new(
                    args.args.map(|a| a.pos).unwrap_or(pos),
                    "`args` takes a list such as `[id, 4]` or an object such as `{ a0: 1 }` or `{ name: value }`",
                ));
            }
        }
        given.extend(
            args.direct
                .iter()
                .map(|a| (a.name.value.clone(), a.name.pos, &a.value)),
        );
        for (i, (k, kpos, _)) in given.iter().enumerate() {
            let Some(index) = func.input_index(k) else {
                let names = func.inputs.iter().map(|(n, _)| n.as_str());
                return Err(CompileError::new(
                    *kpos,
                    if k.starts_with('a') && k[1..].parse::<usize>().is_ok() {
                        format!(
                            "function `{}` takes {} argument(s); `{k}` is too many",
                            func.name,
                            func.inputs.len()
                        )
                    } else {
                        format!(
                            "function `{}` has no argument `{k}`{}",
                            func.name,
                            suggestion(k, names)
                        )
                    },
                ));
            };
            if given[..i]
                .iter()
                .any(|(other, _, _)| func.input_index(other) == Some(index))
            {
                return Err(CompileError::new(
                    *kpos,
                    format!(
                        "argument `{}` of `{}` is given twice",
                        func.inputs[index].0, func.name
                    ),
                ));
            }
        }
        let mut inputs = Vec::with_capacity(func.inputs.len());
        for (i, (n, ty)) in func.inputs.iter().enumerate() {
            let v = given
                .iter()
                .find(|(k, _, _)| func.input_index(k) == Some(i))
                .map(|(_, _, v)| *v);
            match v {
                Some(
                    v @ Value {
                        kind: ValueKind::Enum(col),
                        ..
                    },
                ) => {
                    let Some(table) = row else {
                        return Err(CompileError::new(
                            v.pos,
                            format!(
                                "`{col}` names a column, but `{}` is not called on a table here: quote a string (\"{col}\") or pass a variable",
                                func.name
                            ),
                        ));
                    };
                    let Some(c) = table.column(col) else {
                        let names = table.columns.iter().map(|c| c.name.as_str());
                        return Err(CompileError::new(
                            v.pos,
                            format!(
                                "table `{}` has no column `{col}`{} (an unquoted name in `args` is a column)",
                                table.name,
                                suggestion(col, names)
                            ),
                        ));
                    };
                    let c = c.clone();
                    self.check_column(table, &c, v.pos)?;
                    inputs.push(FnArg::Column(c));
                }
                Some(v) => inputs.push(FnArg::Value(v, ty.clone())),
                None => {
                    return Err(CompileError::new(
                        pos,
                        format!(
                            "function `{}` needs argument `{n}` (or `a{i}`) in `args`",
                            func.name
                        ),
                    ));
                }
            }
        }
        Ok(inputs)
    }

    /// Plans a table field. A table the role may not read, and a field that needs a
    /// signed-in user for `anon`, read as `null` (GraphJin's behaviour): they are still
    /// planned, for their shape, but leave no columns read behind.
    pub(in crate::compile) fn plan_table(
        &mut self,
        f: &'a Field,
        table: TableInfo,
        reach: Reach<'a>,
        force_one: bool,
    ) -> Result<TablePlan<'a>> {
        let blocked = self.table_blocked(&table.name);
        let refused = if blocked {
            Some(Refusal::Blocked)
        } else if self.role == "anon" && field_uses_user_id(f) {
            Some(Refusal::SignedInOnly)
        } else {
            None
        };
        if refused.is_none() {
            return self.plan_table_inner(f, table, reach, force_one);
        }
        let (reads, ignore) = (self.reads.clone(), self.ignore_rules);
        self.ignore_rules |= blocked;
        let planned = self.plan_table_inner(f, table, reach, force_one);
        self.ignore_rules = ignore;
        self.reads = reads;
        let mut planned = planned?;
        planned.refused = refused;
        Ok(planned)
    }

    fn plan_table_inner(
        &mut self,
        f: &'a Field,
        table: TableInfo,
        reach: Reach<'a>,
        force_one: bool,
    ) -> Result<TablePlan<'a>> {
        if f.selection.is_empty() {
            return Err(CompileError::new(
                f.name.pos,
                format!(
                    "`{}` is a table: select some of its fields, e.g. `{} {{ id }}`",
                    f.name.value, f.name.value
                ),
            ));
        }
        let args = match &reach {
            Reach::Function(func, _) => sel_args_of(&f.arguments, Some(func), false)?,
            _ => sel_args(&f.arguments)?,
        };
        let recursive = matches!(reach, Reach::Rel(Relation::Recursive { .. }));
        let mut one = force_one
            || matches!(&reach, Reach::Rel(rel)
                if !matches!(rel, Relation::JsonColumn { .. } | Relation::Recursive { .. })
                    && rel.is_one());
        let from_cte = matches!(reach, Reach::Cte(_));
        if let Some(id) = args.id.filter(|_| !from_cte) {
            if table.primary_key().is_none() {
                return Err(CompileError::new(
                    id.pos,
                    format!(
                        "table `{}` has no primary key to look up by `id`",
                        table.name
                    ),
                ));
            }
            one = true;
        }
        if args.mutation.is_some() && matches!(reach, Reach::Rel(..)) {
            return Err(CompileError::new(
                f.name.pos,
                "nested fields cannot take insert/update/upsert/delete; nest the data instead",
            ));
        }
        let filter = match args.where_.filter(|_| !from_cte) {
            Some(w) => Some(self.plan_filter(&table, w)?),
            None => None,
        };
        let row_filter = self.plan_row_filter(&args, &table)?;
        let rules = self.rules(&table.name);
        let role_filters = match rules {
            Some(r) => self.plan_role_filters(&table, &r.filters)?,
            None => Vec::new(),
        };
        let search = match args.search {
            Some(s) => Some(
                table
                    .columns
                    .iter()
                    .find(|c| c.full_text)
                    .cloned()
                    .ok_or_else(|| {
                        CompileError::new(
                            s.pos,
                            format!(
                                "table `{}` has no full-text (tsvector) column to `search`",
                                table.name
                            ),
                        )
                    })?,
            ),
            None => None,
        };
        if let Some(find) = args.find
            && !recursive
        {
            return Err(CompileError::new(
                find.pos,
                "`find` only applies to a table nested under itself (a self-reference)",
            ));
        }
        if let Some(a) = args.args
            && !matches!(reach, Reach::Function(..))
        {
            return Err(CompileError::new(a.pos, "`args` only applies to functions"));
        }
        let fields = self.plan_fields(&f.selection, &table, search.is_some())?;
        let order = match args.order_by {
            Some(o) => self.plan_order(&table, o, search.is_some())?,
            None => Vec::new(),
        };
        let aggregate = fields
            .iter()
            .any(|p| matches!(p.kind, Kind::Aggregate { .. }));
        if args.paging.paged && !one && (args.distinct.is_some() || aggregate || recursive) {
            return Err(CompileError::new(
                args.paging.pos.unwrap_or(f.name.pos),
                "cursor pagination does not combine with `distinct`, aggregates or a recursive relation",
            ));
        }
        let distinct = match args.distinct {
            Some(d) => self.distinct_columns(&table, d)?,
            None => Vec::new(),
        };
        Ok(TablePlan {
            field: f,
            table,
            reach,
            args,
            one,
            refused: None,
            rules,
            filter,
            row_filter,
            role_filters,
            required: false,
            search,
            order,
            distinct,
            fields,
        })
    }

    /// A field's `includeIf` / `skipIf` over the rows of `table`.
    fn plan_row_filter(&mut self, args: &SelArgs<'a>, table: &TableInfo) -> Result<RowFilter<'a>> {
        Ok(RowFilter {
            include_if: match args.include_if {
                Some(v) => Some(self.plan_filter(table, v)?),
                None => None,
            },
            skip_if: match args.skip_if {
                Some(v) => Some(self.plan_filter(table, v)?),
                None => None,
            },
        })
    }

    fn distinct_columns(&mut self, table: &TableInfo, v: &Value) -> Result<Vec<(ColumnInfo, Pos)>> {
        let items: Vec<&Value> = match &v.kind {
            ValueKind::List(items) => items.iter().collect(),
            _ => vec![v],
        };
        items
            .into_iter()
            .map(|i| match &i.kind {
                ValueKind::Enum(s) | ValueKind::String(s) => {
                    let name = self.db_name(s).into_owned();
                    let col = table.column(&name).ok_or_else(|| {
                        CompileError::new(
                            i.pos,
                            format!("table `{}` has no column `{s}` for `distinct`", table.name),
                        )
                    })?;
                    self.check_column(table, col, i.pos)?;
                    Ok((col.clone(), i.pos))
                }
                _ => Err(CompileError::new(
                    i.pos,
                    "`distinct` takes column names, e.g. `distinct: [price]`",
                )),
            })
            .collect()
    }

    /// Plans the selection of a row of `table`; `searched` when the table has `search:`.
    fn plan_fields(
        &mut self,
        sel: &'a [Selection],
        table: &TableInfo,
        searched: bool,
    ) -> Result<Vec<Planned<'a>>> {
        self.plan_selection(sel, Some(table), |ctx, f, dirs| {
            ctx.plan_field(f, dirs, table, searched)
        })
    }

    /// Plans one field of a row of `table`.
    fn plan_field(
        &mut self,
        f: &'a Field,
        dirs: &FieldDirectives<'a>,
        table: &TableInfo,
        searched: bool,
    ) -> Result<Kind<'a>> {
        let name = self.db_name(&f.name.value).into_owned();
        if name == "__typename" {
            return Ok(Kind::Typename(table.name.clone()));
        }
        if let Some(col) = table
            .column(&name)
            .filter(|_| !self.is_json_table(table, &name))
        {
            let args = sel_args(&f.arguments)?;
            let col = col.clone();
            self.check_column(table, &col, f.name.pos)?;
            if let Some(a) = f
                .arguments
                .iter()
                .find(|a| !is_field_condition(&a.name.value))
            {
                return Err(CompileError::new(
                    a.name.pos,
                    format!("column `{}` takes no arguments", col.name),
                ));
            }
            if !f.selection.is_empty() {
                return Err(CompileError::new(
                    f.name.pos,
                    format!(
                        "`{}` is a column, not a relation: remove its `{{ ... }}`",
                        f.name.value
                    ),
                ));
            }
            let cond = self.plan_row_filter(&args, table)?;
            return Ok(Kind::Column { col, cond });
        }
        if let Some(kind) = self.plan_search_field(&name, table, f, searched)? {
            return Ok(kind);
        }
        if let Some((func, cname)) = aggregate(&name)
            .filter(|(_, c)| table.column(c).is_some())
            .or(aggregate_call(f, &name)?)
            && let Some(col) = table.column(cname)
        {
            let col = col.clone();
            self.check_column(table, &col, f.name.pos)?;
            self.check_function(table, func, f.name.pos)?;
            return Ok(Kind::Aggregate { func, col });
        }
        if let Some(func) = self.cat.function(&name).filter(|x| !x.returns_set) {
            let func = func.clone();
            self.check_function(table, &func.name, f.name.pos)?;
            let args = sel_args_of(&f.arguments, Some(&func), true)?;
            let cond = self.plan_row_filter(&args, table)?;
            let inputs = self.plan_call(&func, &args, f.name.pos, Some(table))?;
            return Ok(Kind::Function {
                func,
                args: inputs,
                cond,
            });
        }
        if let Some(poly) = self
            .cat
            .polymorphic(&name)
            .filter(|p| table.column(&p.id_column).is_some())
        {
            let poly = poly.clone();
            let members = self.plan_union(f, &poly, searched)?;
            return Ok(Kind::Union { poly, members });
        }
        if dirs.not_related || dirs.schema.is_some() {
            // `@notRelated`: selected as at the root, with no join to this row.
            let child = match &dirs.schema {
                Some(schema) => self.schema_table(&name, schema, f)?,
                None => self
                    .cat
                    .table(&name)
                    .filter(|t| matches!(t.source, TableSource::Relation { .. }))
                    .cloned()
                    .ok_or_else(|| {
                        CompileError::new(
                            f.name.pos,
                            format!(
                                "unknown table `{}`{}",
                                f.name.value,
                                self.cat.table_suggestion(&name)
                            ),
                        )
                    })?,
            };
            if !dirs.not_related {
                return Err(CompileError::new(
                    f.name.pos,
                    format!(
                        "`@schema` on a nested table needs `@notRelated` too (relationships are read from `{}`'s foreign keys)",
                        table.name
                    ),
                ));
            }
            let plan = self.plan_table(f, child, Reach::Root, dirs.object)?;
            return Ok(Kind::Table(Box::new(plan)));
        }
        let find = find_arg(f)?;
        let Some((child, rel)) = resolve(self.cat, table, &name, dirs.through.as_deref(), find)
        else {
            let candidates: Vec<&str> = table
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .chain(self.cat.tables.iter().map(|t| t.name.as_str()))
                .collect();
            return Err(CompileError::new(
                f.name.pos,
                format!(
                    "table `{}` has no column or relation `{}`{}",
                    table.name,
                    f.name.value,
                    suggestion(&name, candidates)
                ),
            ));
        };
        if self.cat.is_blocked(&child.name) {
            return Err(CompileError::new(
                f.name.pos,
                format!("table `{}` is blocked", child.name),
            ));
        }
        let child = child.clone();
        // A NOT NULL foreign key always finds its row (unless filtered).
        let filtered = f.arguments.iter().any(|a| a.name.value == "where");
        let required = match &rel {
            Relation::ToOne { parent_col, .. } if !filtered => {
                table.column(parent_col).is_some_and(|c| !c.nullable)
            }
            _ => false,
        };
        let mut plan = self.plan_table(f, child, Reach::Rel(rel), dirs.object)?;
        plan.required = required;
        Ok(Kind::Table(Box::new(plan)))
    }

    /// A JSON column that the config declares as a table of its own (`type: json`).
    fn is_json_table(&self, host: &TableInfo, column: &str) -> bool {
        self.cat.table(column).is_some_and(|t| {
            matches!(&t.source, TableSource::JsonColumn { host: h, .. }
                if self.cat.table(h).is_some_and(|h| h.source == host.source))
        })
    }

    /// `search_rank` and `search_headline_<column>`, as GraphJin's `psql/fn.go` has them;
    /// both need `search:` on their table.
    fn plan_search_field(
        &mut self,
        name: &str,
        table: &TableInfo,
        f: &Field,
        searched: bool,
    ) -> Result<Option<Kind<'a>>> {
        let headline = name.strip_prefix("search_headline_");
        if name != "search_rank" && headline.is_none() {
            return Ok(None);
        }
        if table.column(name).is_some() {
            return Ok(None);
        }
        if !searched {
            return Err(CompileError::new(
                f.name.pos,
                format!(
                    "`{name}` needs `search:` on `{}` (e.g. `{}(search: $query)`)",
                    table.name, table.name
                ),
            ));
        }
        if let Some(a) = f.arguments.first() {
            return Err(CompileError::new(
                a.name.pos,
                format!("`{name}` takes no arguments"),
            ));
        }
        let Some(column) = headline else {
            return Ok(Some(Kind::SearchRank));
        };
        let col_name = self.db_name(column).into_owned();
        let col = table.column(&col_name).cloned().ok_or_else(|| {
            CompileError::new(
                f.name.pos,
                format!(
                    "`{name}`: table `{}` has no column `{column}`{}",
                    table.name,
                    suggestion(&col_name, table.columns.iter().map(|c| c.name.as_str()))
                ),
            )
        })?;
        self.check_column(table, &col, f.name.pos)?;
        Ok(Some(Kind::SearchHeadline(col)))
    }

    /// The table `name` in PostgreSQL schema `schema` (`@schema(name:)`), as db.graphql
    /// declares it (`type t @schema(name: s)`; `public` when it says none).
    fn schema_table(&self, name: &str, schema: &str, f: &Field) -> Result<TableInfo> {
        let found = self.cat.tables.iter().find(|t| match &t.source {
            TableSource::Relation { schema: s, name: n } => {
                n == name && s.as_deref().unwrap_or("public") == schema
            }
            TableSource::JsonColumn { .. } => false,
        });
        found.cloned().ok_or_else(|| {
            CompileError::new(
                f.name.pos,
                format!(
                    "db.graphql has no table `{name}` in schema `{schema}` (declare it with `type {name} @schema(name: {schema})`)"
                ),
            )
        })
    }

    /// The members of a polymorphic field: one per `... on table` fragment.
    fn plan_union(
        &mut self,
        f: &'a Field,
        poly: &crate::compile::catalog::Polymorphic,
        searched: bool,
    ) -> Result<Vec<Member<'a>>> {
        let mut members = Vec::new();
        for s in &f.selection {
            let Selection::InlineFragment(frag) = s else {
                return Err(CompileError::new(
                    f.name.pos,
                    format!(
                        "`{}` is a union: select fields inside `... on table {{ }}` fragments",
                        f.name.value
                    ),
                ));
            };
            let Some(on) = &frag.type_condition else {
                return Err(CompileError::new(
                    frag.pos,
                    "a union member needs a type: `... on users { }`",
                ));
            };
            let tname = self.db_name(&on.value).into_owned();
            let table = self
                .cat
                .table(&tname)
                .or_else(|| self.cat.tables.iter().find(|t| singular(&t.name) == tname))
                .ok_or_else(|| {
                    CompileError::new(
                        on.pos,
                        format!(
                            "unknown table `{}`{}",
                            on.value,
                            self.cat.table_suggestion(&tname)
                        ),
                    )
                })?
                .clone();
            let key = table
                .column(&poly.target_column)
                .ok_or_else(|| {
                    CompileError::new(
                        on.pos,
                        format!(
                            "table `{}` has no column `{}`",
                            table.name, poly.target_column
                        ),
                    )
                })?
                .clone();
            let fields = self.plan_fields(&frag.selection, &table, searched)?;
            members.push(Member { table, key, fields });
        }
        Ok(members)
    }
}

fn field_uses_user_id(f: &Field) -> bool {
    f.arguments
        .iter()
        .any(|a| uses_variable(&a.value, "user_id"))
}

/// Every `<name>_cursor` field written in a selection must belong to a sibling `<name>`
/// (paged for this role, or left out for it by a directive).
fn check_cursor_fields(
    cursor_fields: &[&Field],
    fields: &[&Field],
    planned: &[Planned],
) -> Result<()> {
    for f in cursor_fields {
        let key = f.response_key();
        let base = key.strip_suffix("_cursor").unwrap_or(key);
        let paged_sibling = planned.iter().any(|p| {
            p.key == key
                || (matches!(&p.kind, Kind::Table(t) if t.paged())
                    && format!("{}_cursor", p.key) == key)
        });
        let sibling = fields.iter().any(|g| g.response_key() == base);
        if !paged_sibling && !sibling {
            return Err(CompileError::new(
                f.name.pos,
                format!(
                    "`{key}` is the cursor of a field `{base}` paged with `first`, `last`, `after` or `before`; there is no `{base}` here"
                ),
            ));
        }
        if !paged_sibling
            && sibling
            && !fields
                .iter()
                .any(|g| g.response_key() == base && has_paging(g))
        {
            return Err(CompileError::new(
                f.name.pos,
                format!(
                    "`{key}` needs `{base}` paged with `first`, `last`, `after` or `before`, e.g. `{base}(first: 10, after: $cursor)`"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::compile::plan::{Kind, Reach, Refusal};
    use crate::compile::relation::Relation;
    use crate::tools::test_project;

    const CONFIG: &str = "roles:\n  - name: user\n    tables:\n      - name: payments\n        query:\n          block: true\n      - name: orders\n        query:\n          filters: [\"{ customer_id: { eq: $user_id } }\"]\n";

    /// The plan holds what each field is and the role's decisions as values: a related
    /// table by its relationship, a NOT NULL foreign key as always found, a blocked table
    /// as a refusal (still resolved, for its shape), and the role's filters beside the
    /// operation's own `where`.
    #[test]
    fn a_selection_is_planned_as_data_with_the_roles_decisions() {
        let project = test_project("query q { orders { id } }\n", CONFIG);
        let text = "query q { orders(where: { status: { eq: \"new\" } }) { id customer { email } } payments { amount } }";
        project.with_planned_query(text, "user", |planned| {
            let [orders, payments] = planned else {
                panic!("two top-level fields");
            };
            let Kind::Table(orders) = &orders.kind else {
                panic!("orders is a table");
            };
            assert_eq!(orders.refused, None);
            assert!(orders.filter.is_some(), "the operation's where");
            assert_eq!(orders.role_filters.len(), 1, "the role's filter, apart");
            let Kind::Table(customer) = &orders.fields[1].kind else {
                panic!("customer is a related table");
            };
            assert!(matches!(customer.reach, Reach::Rel(Relation::ToOne { .. })));
            assert!(customer.required && customer.one);
            let Kind::Table(payments) = &payments.kind else {
                panic!("payments is a table");
            };
            assert_eq!(payments.refused, Some(Refusal::Blocked));
            assert!(
                matches!(&payments.fields[0].kind, Kind::Column { col, .. } if col.name == "amount")
            );
        });
    }

    /// Checks are the plan's: an unknown field is refused with a suggestion, before any
    /// SQL exists.
    #[test]
    fn a_wrong_field_is_refused_while_planning() {
        let project = test_project("query q { orders { id } }\n", CONFIG);
        let err = project
            .try_plan_query("query q { orders { id stauts } }", "user")
            .expect_err("unknown column");
        assert!(err.contains("stauts") && err.contains("status"), "{err}");
    }
}
