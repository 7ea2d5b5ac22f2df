//! Selections, lowered from their plan (see [`super::plan`]): each table field becomes a
//! correlated subquery that builds its JSON, so the whole operation is one statement
//! returning one `json` value shaped like `data`.

use super::catalog::{FunctionInfo, TableInfo};
use super::ctx::Ctx;
use super::error::{CompileError, Result};
use super::plan::shape::selection_shape;
use super::plan::{FnArg, Kind, Member, Planned, Reach, Refusal, RowFilter, Show, TablePlan};
use super::relation::{Find, Relation};
use super::shape::Shape;
use super::sql::quote::{ident, string_literal};
use super::sql::{
    Cte, CteBody, Cycle, Direction, Expr, From, Item, Join, JoinKind, OrderItem, Select, Source,
    With,
};
use crate::gql::ast::{Field, Operation, ValueKind};

/// `expr` when the field's `@include` / `@skip` condition holds, else `null`.
pub(super) fn wrap_include(expr: Expr, include: &Option<String>) -> Expr {
    match include {
        Some(cond) => expr.when(Expr::raw(cond.as_str())),
        None => expr,
    }
}

impl<'a> Ctx<'a> {
    /// The whole statement for a query operation.
    pub fn query(&mut self, op: &'a Operation) -> Result<(Select, Shape)> {
        let planned = self.plan_query(op)?;
        let mut pairs = Vec::with_capacity(planned.len());
        self.paging.op_name = op
            .name
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_default();
        for p in &planned {
            let include = self.show_sql(&p.dirs.show)?;
            let key = p.key.clone();
            let expr = match &p.kind {
                Kind::Typename(name) => Expr::Raw(string_literal(name)),
                Kind::Table(t) => {
                    self.paging.path.push(key.clone());
                    let field = self.lower_table(t);
                    self.paging.path.pop();
                    field?
                }
                _ => {
                    return Err(CompileError::new(
                        p.field.name.pos,
                        "internal: a top-level field that is not a table; please report this operation",
                    ));
                }
            };
            pairs.push((key.clone(), wrap_include(expr, &include)));
            self.cursor_pair(&key, &include, &mut pairs);
        }
        let shape = Shape::Object {
            fields: selection_shape(&planned, None),
            list: false,
            nullable: false,
        };
        // Paged root fields are computed once each, joined laterally to a one-row `FROM`
        // (a subscription batch joins them to its own `FROM` instead).
        let joins = std::mem::take(&mut self.paging.laterals);
        let from = (!joins.is_empty()).then(|| From {
            source: Source::derived(Select::default(), "__root_x"),
            joins,
        });
        Ok((
            Select {
                items: vec![Item::named(Expr::JsonObject(pairs), "__root")],
                from,
                ..Select::default()
            },
            shape,
        ))
    }

    /// The SQL condition a field's `@include` / `@skip` show it under, if any.
    pub(super) fn show_sql(&mut self, show: &[Show<'_>]) -> Result<Option<String>> {
        let mut cond: Option<String> = None;
        for s in show {
            let part = match *s {
                Show::Never => "false".to_owned(),
                Show::Var { name, pos, include } => {
                    let p = self.var_sql(name, "boolean", pos)?;
                    if include {
                        format!("coalesce({p}, false)")
                    } else {
                        format!("NOT coalesce({p}, false)")
                    }
                }
            };
            cond = Some(match cond {
                Some(prev) => format!("{prev} AND {part}"),
                None => part,
            });
        }
        Ok(cond)
    }

    /// After a table field `key`: its `<key>_cursor` sibling, when the field was paged.
    fn cursor_pair(
        &mut self,
        key: &str,
        include: &Option<String>,
        pairs: &mut Vec<(String, Expr)>,
    ) {
        if let Some(cursor) = self.paging.pending.take() {
            pairs.push((format!("{key}_cursor"), wrap_include(cursor, include)));
        }
    }

    /// `name(arg, ...)`: a call with its inputs, columns read from the row `alias`.
    fn call_sql(&mut self, func: &FunctionInfo, args: &[FnArg<'_>], alias: &str) -> Result<String> {
        let mut parts = Vec::with_capacity(args.len());
        for a in args {
            parts.push(match a {
                FnArg::Column(c) => format!("{alias}.{}", ident(&c.name)),
                FnArg::Value(v, ty) => self.value_sql(v, ty)?,
            });
        }
        let name = match &func.schema {
            Some(s) => format!("{}.{}", ident(s), ident(&func.name)),
            None => ident(&func.name),
        };
        Ok(format!("{name}({})", parts.join(", ")))
    }

    /// The JSON-producing subquery for a table field reached from the row `parent` (none
    /// at the root).
    fn lower_table(&mut self, t: &TablePlan<'a>) -> Result<Expr> {
        self.lower_table_from(t, "")
    }

    fn lower_table_from(&mut self, t: &TablePlan<'a>, parent: &str) -> Result<Expr> {
        let call = match &t.reach {
            Reach::Function(func, args) => Some(self.call_sql(func, args, parent)?),
            _ => None,
        };
        match t.refused {
            None => self.table_select(t, parent, call),
            Some(refusal) => self.null_with_shape(t, parent, call, refusal == Refusal::Blocked),
        }
    }

    /// `NULL` in place of a field. Its selection is lowered all the same (it takes its
    /// aliases, and a paged field still has a cursor: `null`), but nothing it touched
    /// (parameters, paged joins, columns read) stays behind.
    fn null_with_shape(
        &mut self,
        t: &TablePlan<'a>,
        parent: &str,
        call: Option<String>,
        ignore_rules: bool,
    ) -> Result<Expr> {
        let (params, ignore, laterals) = (
            self.params.list.len(),
            self.ignore_rules,
            self.paging.laterals.len(),
        );
        self.ignore_rules |= ignore_rules;
        let reads = self.reads.clone();
        let shaped = self.table_select(t, parent, call);
        self.reads = reads;
        self.ignore_rules = ignore;
        self.params.list.truncate(params);
        self.paging.laterals.truncate(laterals);
        if self.paging.pending.is_some() {
            // A paged field that reads as null has a null cursor (GraphJin's behaviour).
            self.paging.pending = Some(Expr::Null);
        }
        shaped?;
        Ok(Expr::Null)
    }

    /// The SQL condition of a field's `includeIf` / `skipIf` over the row `alias` of
    /// `table` (GraphJin's field filters); both may be given.
    fn row_filter_sql(&mut self, filter: &RowFilter<'_>, alias: &str) -> Result<Option<String>> {
        let mut conds = Vec::new();
        if let Some(f) = &filter.include_if {
            conds.push(self.lower_filter(f, alias)?);
        }
        if let Some(f) = &filter.skip_if {
            conds.push(format!("NOT ({})", self.lower_filter(f, alias)?));
        }
        Ok((!conds.is_empty()).then(|| super::filter::join(conds, "AND")))
    }

    /// The JSON-producing subquery for a table field the role may read (or one read as
    /// `null`).
    fn table_select(
        &mut self,
        t: &TablePlan<'a>,
        parent: &str,
        call: Option<String>,
    ) -> Result<Expr> {
        let alias = self.alias();
        let mut conds = Vec::new();
        let mut with = None;
        let mut default_order = None;
        let (table, args, one) = (&t.table, &t.args, t.one);
        let from = match &t.reach {
            Reach::Root => From::of(Source::named(self.source(table), &alias)),
            Reach::Function(..) => From::of(Source::named(call.unwrap_or_default(), &alias)),
            Reach::Cte(cte) => From::of(Source::named(ident(cte), &alias)),
            Reach::Rel(rel) => match rel {
                Relation::JsonColumn { column, binary } => {
                    let defs: Vec<String> = table
                        .columns
                        .iter()
                        .map(|c| format!("{} {}", ident(&c.name), c.cast_type()))
                        .collect();
                    let func = if *binary {
                        "jsonb_to_recordset"
                    } else {
                        "json_to_recordset"
                    };
                    From::of(Source::Named {
                        relation: format!("{func}({parent}.{})", ident(column)),
                        alias: alias.clone(),
                        columns: defs,
                    })
                }
                Relation::Recursive {
                    fk_col,
                    key_col,
                    find,
                } => {
                    // GraphJin's recursion (psql/recur.go): the whole chain of parents or
                    // subtree of children, each step filtered by the field's `where` and
                    // the role's filters, so a row that fails them ends its branch. In a
                    // mutation the walk stays within the rows the statement wrote.
                    let n = self.serial();
                    let rc = format!("__rc{n}");
                    let src = match table.relation_name().and_then(|r| self.written.get(r)) {
                        Some(rows) => rows.clone(),
                        None => self.source(table),
                    };
                    let (fk, key) = (ident(fk_col), ident(key_col));
                    let mut step_conds = Vec::new();
                    if let Some(w) = &t.filter {
                        step_conds.push(self.lower_filter(w, "__r")?);
                    }
                    step_conds.extend(self.lower_filters(&t.role_filters, "__r")?);
                    // `__link`: the column the next step follows.
                    let (link_col, anchor_cond, step_join) = match find {
                        Find::Parents => (
                            &fk,
                            format!("__r.{key} = {parent}.{fk}"),
                            format!("__r.{key} = {rc}.__link"),
                        ),
                        Find::Children => (
                            &key,
                            format!("__r.{fk} = {parent}.{key}"),
                            format!("__r.{fk} = {rc}.__link"),
                        ),
                    };
                    let step = |first: String, depth: String, joins: Vec<Join>| {
                        let mut filter = vec![Expr::Raw(first)];
                        filter.extend(step_conds.iter().cloned().map(Expr::Raw));
                        Select {
                            items: vec![
                                Item::bare(Expr::Raw(format!("__r.{key}"))),
                                Item::bare(Expr::Raw(format!("__r.{link_col}"))),
                                Item::bare(Expr::Raw(depth)),
                            ],
                            from: Some(From {
                                source: Source::named(src.as_str(), "__r"),
                                joins,
                            }),
                            filter: Some(Expr::Conj(filter)),
                            ..Select::default()
                        }
                    };
                    let anchor = step(anchor_cond, "1".into(), Vec::new());
                    let walk = step(
                        "true".into(),
                        format!("{rc}.__depth + 1"),
                        vec![Join {
                            kind: JoinKind::Inner(Expr::Raw(step_join)),
                            source: Source::Bare(rc.clone()),
                        }],
                    );
                    with = Some(With {
                        recursive: true,
                        ctes: vec![Cte {
                            name: rc.clone(),
                            columns: vec!["__id".into(), "__link".into(), "__depth".into()],
                            body: CteBody::UnionAll(Box::new(anchor), Box::new(walk)),
                            cycle: Some(Cycle {
                                column: "__id".into(),
                                mark: "__cycle".into(),
                                path: "__path".into(),
                            }),
                        }],
                    });
                    default_order = Some(OrderItem {
                        expr: format!("{rc}.__depth"),
                        dir: Direction::Asc,
                    });
                    From {
                        source: Source::named(src.as_str(), &alias),
                        joins: vec![Join {
                            kind: JoinKind::Inner(Expr::Raw(format!(
                                "{alias}.{key} = {rc}.__id AND NOT {rc}.__cycle"
                            ))),
                            source: Source::Bare(rc.clone()),
                        }],
                    }
                }
                other => {
                    if let Some(c) = other.condition(&alias, parent) {
                        conds.push(c);
                    }
                    From::of(Source::named(self.source(table), &alias))
                }
            },
        };
        let from_cte = matches!(t.reach, Reach::Cte(_));
        if let Some(id) = args.id.filter(|_| !from_cte)
            && let Some(pk) = table.primary_key()
        {
            conds.push(format!(
                "{alias}.{} = {}",
                ident(&pk.name),
                self.value_sql(id, &pk.cast_type())?
            ));
        }
        if let Some(w) = &t.filter {
            conds.push(self.lower_filter(w, &alias)?);
        }
        // On a table, `includeIf` / `skipIf` decide per row (GraphJin's example hides
        // owners whose `keep_private` is set).
        if let Some(c) = self.row_filter_sql(&t.row_filter, &alias)? {
            conds.push(c);
        }
        // The role's filters.
        conds.extend(self.lower_filters(&t.role_filters, &alias)?);
        let rules = t.rules;
        let mut searched = None;
        if let (Some(s), Some(col)) = (args.search, &t.search) {
            let col = ident(&col.name);
            let q = self.value_sql(s, "text")?;
            let query = format!("websearch_to_tsquery({q})");
            conds.push(format!("{alias}.{col} @@ {query}"));
            searched = Some((format!("{alias}.{col}"), query));
        }
        // `search_rank` / `search_headline_*` of this table's fields and ordering.
        let outer_search = std::mem::replace(&mut self.search, searched);

        // Paged children are computed once each, joined laterally to this selection.
        let outer_laterals = std::mem::take(&mut self.paging.laterals);
        let out = self.output_fields(&t.fields, &alias);
        let child_laterals = std::mem::replace(&mut self.paging.laterals, outer_laterals);
        let out = out?;
        let mut json = Expr::JsonObject(out.pairs);
        let mut from = from;
        if !child_laterals.is_empty() {
            if out.aggregate {
                return Err(CompileError::new(
                    t.field.name.pos,
                    format!(
                        "`{}` aggregates, so a field under it cannot be paged with `first`/`last`/`after`/`before`",
                        t.field.name.value
                    ),
                ));
            }
            // In the row's own JSON expression, so only rows that survive this selection's
            // LIMIT compute their paged children (a FROM-level join would run them for every
            // row the WHERE keeps).
            json = Expr::subquery(Select {
                items: vec![Item::bare(json)],
                from: Some(From {
                    source: Source::derived(Select::default(), "__lx"),
                    joins: child_laterals,
                }),
                ..Select::default()
            });
        }

        let order = self.order_sql(&t.order, table, &alias);
        self.search = outer_search;
        let mut order = order?;
        let paged = if t.paged() {
            let n = self.serial();
            let p = self.paged_sql(
                &args.paging,
                t.field.name.pos,
                table,
                &alias,
                &t.order,
                &order,
                n,
            )?;
            from.joins.push(p.from.clone());
            conds.push(p.condition.clone());
            order = p.order.clone();
            Some((p, n))
        } else {
            None
        };
        if order.is_empty()
            && let Some(d) = default_order
        {
            order.push(d);
        }
        let mut distinct_on = Vec::new();
        if !t.distinct.is_empty() {
            let cols: Vec<String> = t
                .distinct
                .iter()
                .map(|(c, _)| format!("{alias}.{}", ident(&c.name)))
                .collect();
            // DISTINCT ON needs its expressions to lead the ORDER BY.
            let mut lead: Vec<OrderItem> = cols
                .iter()
                .filter(|c| !order.iter().any(|o| o.expr == **c))
                .map(|c| OrderItem {
                    expr: c.clone(),
                    dir: Direction::Asc,
                })
                .collect();
            lead.append(&mut order);
            order = lead;
            distinct_on = cols;
        }
        let mut group_by = Vec::new();
        if out.aggregate && !out.plain.is_empty() {
            group_by = out.plain;
        } else if out.aggregate {
            order.clear();
        }

        let mut offset = None;
        let limit = if one {
            Expr::raw("1")
        } else {
            // GraphJin's `setLimit`/`renderDefaultLimit`: the role's table `limit`, else
            // `default_limit` (else 20), is the limit when none is written and the ceiling
            // of a limit taken from a variable (`least($limit, cap)`; a null variable gives
            // the cap). A literal limit is the allow list's own choice and stays as written.
            let cap = rules
                .and_then(|r| r.limit)
                .unwrap_or_else(|| self.config.limit());
            let limit = match args.limit {
                Some(v) if matches!(v.kind, ValueKind::Variable(_)) => {
                    format!("least({}, {cap})", self.value_sql(v, "integer")?)
                }
                Some(v) => self.value_sql(v, "integer")?,
                None => cap.to_string(),
            };
            if let Some(v) = args.offset {
                offset = Some(Expr::Raw(format!(
                    "coalesce({}, 0)",
                    self.value_sql(v, "integer")?
                )));
            }
            Expr::Raw(limit)
        };
        let mut items = vec![Item::named(json, "json")];
        if let Some((p, _)) = &paged {
            items.extend(p.columns.iter().cloned());
        }
        let inner = Select {
            with,
            distinct_on,
            items,
            from: Some(from),
            filter: (!conds.is_empty())
                .then(|| Expr::All(conds.into_iter().map(Expr::Raw).collect())),
            group_by,
            order_by: order,
            limit: Some(limit),
            offset,
        };
        if let Some((p, n)) = paged {
            // Computed once in the enclosing FROM; the field and its cursor read it.
            self.paging.laterals.push(p.wrap(inner, n));
            self.paging.pending = Some(Expr::Raw(format!("__pg{n}.\"cursor\"")));
            return Ok(Expr::Raw(format!("__pg{n}.\"json\"")));
        }
        if one {
            Ok(Expr::subquery(inner))
        } else {
            let n = self.serial();
            let list = Select {
                items: vec![Item::bare(Expr::Raw(format!(
                    "coalesce(json_agg(__sj{n}.\"json\"), '[]')"
                )))],
                from: Some(From::of(Source::derived(inner, format!("__sj{n}")))),
                ..Select::default()
            };
            Ok(Expr::subquery(list))
        }
    }

    /// A mutation's selection over the rows its write returned.
    pub(super) fn select_from_cte(
        &mut self,
        f: &'a Field,
        table: &TableInfo,
        cte: &str,
        one: bool,
    ) -> Result<(Expr, Shape)> {
        self.paging.in_mutation = true;
        let plan = self.plan_table(f, table.clone(), Reach::Cte(cte.to_string()), one)?;
        Ok((self.lower_table(&plan)?, plan.shape()))
    }

    /// A mutation's selection over the table as it stands after the writes.
    pub(super) fn table_select_root(
        &mut self,
        f: &'a Field,
        table: &TableInfo,
        one: bool,
    ) -> Result<(Expr, Shape)> {
        self.paging.in_mutation = true;
        let plan = self.plan_table(f, table.clone(), Reach::Root, one)?;
        Ok((self.lower_table(&plan)?, plan.shape()))
    }

    /// The JSON pairs of a selection over the row `alias`.
    fn output_fields(&mut self, fields: &[Planned<'a>], alias: &str) -> Result<Output> {
        let mut out = Output::default();
        for p in fields {
            let include = self.show_sql(&p.dirs.show)?;
            let key = p.key.clone();
            self.paging.path.push(key.clone());
            let field = self.output_field(p, alias, &mut out);
            self.paging.path.pop();
            out.pairs
                .push((key.clone(), wrap_include(field?, &include)));
            self.cursor_pair(&key, &include, &mut out.pairs);
        }
        out.plain.dedup();
        Ok(out)
    }

    /// One field of a table's selection: its SQL.
    fn output_field(&mut self, p: &Planned<'a>, alias: &str, out: &mut Output) -> Result<Expr> {
        let mut cond = None;
        let expr = match &p.kind {
            Kind::Typename(name) => Expr::Raw(string_literal(name)),
            Kind::Column { col, cond: filter } => {
                cond = self.row_filter_sql(filter, alias)?;
                let e = format!("{alias}.{}", ident(&col.name));
                out.plain.push(e.clone());
                Expr::Raw(e)
            }
            Kind::SearchRank | Kind::SearchHeadline(_) => {
                let Some((tsv, query)) = self.search.clone() else {
                    return Err(CompileError::new(
                        p.field.name.pos,
                        "internal: a search field without `search:`; please report this operation",
                    ));
                };
                Expr::Raw(match &p.kind {
                    Kind::SearchHeadline(col) => {
                        format!("ts_headline({alias}.{}::text, {query})", ident(&col.name))
                    }
                    _ => format!("ts_rank({tsv}, {query})"),
                })
            }
            Kind::Aggregate { func, col } => {
                out.aggregate = true;
                Expr::Raw(format!("{func}({alias}.{})", ident(&col.name)))
            }
            Kind::Function {
                func,
                args,
                cond: filter,
            } => {
                cond = self.row_filter_sql(filter, alias)?;
                Expr::Raw(self.call_sql(func, args, alias)?)
            }
            Kind::Union { poly, members } => self.union_select(poly, members, alias)?,
            Kind::Table(t) => {
                if let Reach::Rel(rel) = &t.reach {
                    out.plain.extend(parent_columns(rel, alias));
                }
                self.lower_table_from(t, alias)?
            }
        };
        // On a column or function, `includeIf` / `skipIf` read the row it belongs to.
        Ok(match cond {
            Some(c) => Expr::Paren(Box::new(expr.when(Expr::Raw(c)))),
            None => expr,
        })
    }

    /// A polymorphic field: one branch per member, chosen by the type column.
    fn union_select(
        &mut self,
        poly: &super::catalog::Polymorphic,
        members: &[Member<'a>],
        parent: &str,
    ) -> Result<Expr> {
        let mut branches = Vec::with_capacity(members.len());
        for m in members {
            let alias = self.alias();
            let out = self.output_fields(&m.fields, &alias)?;
            let member = Select {
                items: vec![Item::bare(Expr::JsonObject(out.pairs))],
                from: Some(From::of(Source::named(self.source(&m.table), &alias))),
                filter: Some(Expr::Raw(format!(
                    "{alias}.{} = {parent}.{}",
                    ident(&m.key.name),
                    ident(&poly.id_column)
                ))),
                limit: Some(Expr::raw("1")),
                ..Select::default()
            };
            branches.push((
                Expr::Raw(string_literal(
                    m.table.relation_name().unwrap_or(&m.table.name),
                )),
                Expr::subquery(member),
            ));
        }
        Ok(Expr::Switch(
            Box::new(Expr::Raw(format!("{parent}.{}", ident(&poly.type_column)))),
            branches,
        ))
    }
}
/// Parent columns a nested relation reads (they must be grouped when aggregating).
fn parent_columns(rel: &Relation, alias: &str) -> Vec<String> {
    let col = match rel {
        Relation::ToOne { parent_col, .. }
        | Relation::ToManyByArray { parent_col, .. }
        | Relation::ToMany { parent_col, .. }
        | Relation::ToManyInArray { parent_col, .. }
        | Relation::Through { parent_col, .. } => parent_col,
        Relation::Recursive { key_col, .. } => key_col,
        Relation::JsonColumn { column, .. } => column,
    };
    vec![format!("{alias}.{}", ident(col))]
}

#[derive(Default)]
struct Output {
    pairs: Vec<(String, Expr)>,
    aggregate: bool,
    plain: Vec<String>,
}
