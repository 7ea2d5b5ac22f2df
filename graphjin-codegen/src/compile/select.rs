//! Selections: each table field becomes a correlated subquery that builds its JSON, so the
//! whole operation is one statement returning one `json` value shaped like `data`.

use super::catalog::{ColumnInfo, FunctionInfo, TableInfo, TableSource};
use super::ctx::{Ctx, FieldDirectives, uses_variable};
use super::error::{CompileError, Result};
use super::names::{singular, suggestion};
use super::paging::PagingArgs;
use super::relation::{Find, Relation, resolve};
use super::shape::Shape;
use super::sql::quote::{ident, string_literal};
use super::sql::{
    Cte, CteBody, Cycle, Direction, Expr, From, Item, Join, JoinKind, OrderItem, Select, Source,
    With,
};
use crate::gql::ast::{Argument, Field, Operation, Selection, Value, ValueKind};

/// How a table selection is reached.
enum Link<'l> {
    /// A top-level field.
    Root,
    /// A nested field joined to its parent (alias).
    Rel(&'l Relation, &'l str),
    /// A set-returning function call (`fn(args)`), and the function.
    Function(String, &'l FunctionInfo),
    /// The rows a mutation's CTE returned (its `id`/`where` picked them already).
    Cte(String),
}

/// The arguments a table field accepts.
#[derive(Default)]
struct SelArgs<'f> {
    id: Option<&'f Value>,
    where_: Option<&'f Value>,
    order_by: Option<&'f Value>,
    limit: Option<&'f Value>,
    offset: Option<&'f Value>,
    distinct: Option<&'f Value>,
    find: Option<&'f Value>,
    args: Option<&'f Value>,
    search: Option<&'f Value>,
    mutation: Option<&'f Value>,
    /// `includeIf:` / `skipIf:` (a filter deciding whether the field shows).
    include_if: Option<&'f Value>,
    skip_if: Option<&'f Value>,
    /// A function's arguments written on the field itself (`fn(limit: 2, tag: $tag)`).
    direct: Vec<&'f Argument>,
    /// `first` / `last` / `after` / `before`: cursor pagination.
    paging: PagingArgs<'f>,
}

/// A table field's arguments, in every spelling GraphJin's `qcode/args.go` accepts.
const TABLE_ARGS: [&str; 21] = [
    "id",
    "where",
    "order_by",
    "orderBy",
    "order",
    "limit",
    "first",
    "last",
    "after",
    "before",
    "offset",
    "distinct",
    "distinct_on",
    "distinctOn",
    "find",
    "args",
    "search",
    "includeIf",
    "include_if",
    "skipIf",
    "skip_if",
];

fn sel_args(args: &[Argument]) -> Result<SelArgs<'_>> {
    sel_args_of(args, None, false)
}

/// The arguments of a field; for a function's field, an argument named like one of its
/// inputs (or `a0`, `a1`...) is that input, as GraphJin's named arguments. A scalar
/// function of a row takes no table arguments, so there `id: id` is its input `id`.
fn sel_args_of<'f>(
    args: &'f [Argument],
    func: Option<&FunctionInfo>,
    scalar: bool,
) -> Result<SelArgs<'f>> {
    let mut a = SelArgs::default();
    for arg in args {
        if let Some(func) = func
            && (scalar || !TABLE_ARGS.contains(&arg.name.value.as_str()))
            && func.input_index(&arg.name.value).is_some()
        {
            a.direct.push(arg);
            continue;
        }
        let name = arg.name.value.as_str();
        if matches!(name, "first" | "last" | "after" | "before") {
            if a.paging.pos.is_none() {
                a.paging.pos = Some(arg.name.pos);
            }
            a.paging.paged = true;
        }
        if name == "last" {
            if args.iter().any(|o| o.name.value == "first") {
                return Err(CompileError::new(
                    arg.name.pos,
                    "give `first` or `last`, not both",
                ));
            }
            a.paging.last = true;
        }
        let slot = match name {
            "id" => &mut a.id,
            "where" => &mut a.where_,
            "order_by" | "orderBy" | "order" => &mut a.order_by,
            "limit" | "first" | "last" => &mut a.limit,
            "after" | "before" => &mut a.paging.cursor,
            "offset" => &mut a.offset,
            "distinct" | "distinct_on" | "distinctOn" => &mut a.distinct,
            "find" => &mut a.find,
            "args" => &mut a.args,
            "search" => &mut a.search,
            "includeIf" | "include_if" => &mut a.include_if,
            "skipIf" | "skip_if" => &mut a.skip_if,
            "insert" | "update" | "upsert" | "delete" => &mut a.mutation,
            other => {
                let inputs = func
                    .map(|f| f.inputs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
                    .unwrap_or_default();
                return Err(CompileError::new(
                    arg.name.pos,
                    format!(
                        "unknown argument `{other}`{}",
                        suggestion(other, TABLE_ARGS.iter().copied().chain(inputs))
                    ),
                ));
            }
        };
        if slot.is_some() {
            return Err(CompileError::new(
                arg.name.pos,
                format!("argument `{}` is given twice", arg.name.value),
            ));
        }
        *slot = Some(&arg.value);
    }
    Ok(a)
}

/// An aggregate written as a function of a column, as GraphJin's cheatsheet does:
/// `min(args: [price])` is `min_price`.
fn aggregate_call<'f>(f: &'f Field, name: &str) -> Result<Option<(&'static str, &'f str)>> {
    const FUNCS: [&str; 11] = [
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "stddev",
        "stddev_pop",
        "stddev_samp",
        "variance",
        "var_pop",
        "var_samp",
    ];
    let Some(func) = FUNCS.iter().find(|f| **f == name) else {
        return Ok(None);
    };
    let Some(args) = f.arguments.iter().find(|a| a.name.value == "args") else {
        return Ok(None);
    };
    let column = match &args.value.kind {
        ValueKind::List(items) if items.len() == 1 => &items[0],
        ValueKind::Object(fields) if fields.len() == 1 => &fields[0].1,
        _ => {
            return Err(CompileError::new(
                args.value.pos,
                format!("`{name}` takes one column: `{name}(args: [price])`"),
            ));
        }
    };
    match &column.kind {
        ValueKind::Enum(c) | ValueKind::String(c) => Ok(Some((func, c.as_str()))),
        _ => Err(CompileError::new(
            column.pos,
            format!("`{name}` takes a column name: `{name}(args: [price])`"),
        )),
    }
}

fn aggregate(name: &str) -> Option<(&'static str, &str)> {
    for (prefix, func) in [
        ("count_", "count"),
        ("sum_", "sum"),
        ("avg_", "avg"),
        ("min_", "min"),
        ("max_", "max"),
        // Longest prefix first: `stddev_pop_price` is stddev_pop of `price`.
        ("stddev_pop_", "stddev_pop"),
        ("stddev_samp_", "stddev_samp"),
        ("stddev_", "stddev"),
        ("var_pop_", "var_pop"),
        ("var_samp_", "var_samp"),
        ("variance_", "variance"),
    ] {
        if let Some(col) = name.strip_prefix(prefix) {
            return Some((func, col));
        }
    }
    None
}

/// Whether an argument name is one of the field filters `includeIf` / `skipIf`.
fn is_field_condition(name: &str) -> bool {
    matches!(name, "includeIf" | "include_if" | "skipIf" | "skip_if")
}

fn wrap_include(expr: Expr, dirs: &FieldDirectives) -> Expr {
    match &dirs.include_if {
        Some(cond) => expr.when(Expr::raw(cond.as_str())),
        None => expr,
    }
}

fn field_uses_user_id(f: &Field) -> bool {
    f.arguments
        .iter()
        .any(|a| uses_variable(&a.value, "user_id"))
}

impl<'a> Ctx<'a> {
    /// The whole statement for a query operation.
    pub fn query(&mut self, op: &'a Operation) -> Result<(Select, Shape)> {
        let fields = self.flatten(&op.selection)?;
        let mut pairs = Vec::with_capacity(fields.len());
        let mut shapes = Vec::with_capacity(fields.len());
        self.paging.op_name = op
            .name
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_default();
        let mut cursor_fields = Vec::new();
        for f in fields.iter().copied() {
            let dirs = self.field_directives(f)?;
            if dirs.removed {
                continue;
            }
            let key = f.response_key().to_string();
            if self.is_cursor_field(f, None) {
                cursor_fields.push(f);
                continue;
            }
            if f.name.value == "__typename" {
                let name = op
                    .name
                    .as_ref()
                    .map(|n| n.value.as_str())
                    .unwrap_or(op.kind.keyword());
                pairs.push((key.clone(), Expr::Raw(string_literal(name))));
                shapes.push((key, Shape::scalar("text", false)));
                continue;
            }
            self.paging.path.push(key.clone());
            let field = self.root_field(f, &dirs);
            self.paging.path.pop();
            let (expr, shape) = field?;
            let shape = if dirs.include_if.is_some() {
                shape.nullable()
            } else {
                shape
            };
            pairs.push((key.clone(), wrap_include(expr, &dirs)));
            shapes.push((key.clone(), shape));
            self.cursor_pair(&key, &dirs, &mut pairs, &mut shapes);
        }
        check_cursor_fields(&cursor_fields, &fields, &pairs)?;
        let shape = Shape::Object {
            fields: shapes,
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

    /// After a table field `key`: its `<key>_cursor` sibling, when the field was paged.
    fn cursor_pair(
        &mut self,
        key: &str,
        dirs: &FieldDirectives,
        pairs: &mut Vec<(String, Expr)>,
        shapes: &mut Vec<(String, Shape)>,
    ) {
        if let Some(cursor) = self.paging.pending.take() {
            let name = format!("{key}_cursor");
            pairs.push((name.clone(), wrap_include(cursor, dirs)));
            shapes.push((name, Shape::scalar("text", true)));
        }
    }

    fn root_field(&mut self, f: &'a Field, dirs: &FieldDirectives) -> Result<(Expr, Shape)> {
        let name = self.db_name(&f.name.value).into_owned();
        if self.cat.is_blocked(&name) {
            return Err(CompileError::new(
                f.name.pos,
                format!("table `{name}` is blocked"),
            ));
        }
        if let Some(schema) = &dirs.schema {
            let t = self.schema_table(&name, schema, f)?;
            return self.table_select(f, &t, Link::Root, dirs.object);
        }
        if let Some(t) = self.cat.table(&name) {
            if matches!(t.source, TableSource::JsonColumn { .. }) {
                return Err(CompileError::new(
                    f.name.pos,
                    format!("`{name}` is stored in a JSON column; select it under its table"),
                ));
            }
            let t = t.clone();
            return self.table_select(f, &t, Link::Root, dirs.object);
        }
        if let Some(func) = self.cat.function(&name).filter(|x| x.returns_set) {
            let func = func.clone();
            let args = sel_args_of(&f.arguments, Some(&func), false)?;
            let call = self.function_call(&func, &args, f.name.pos, None)?;
            let table = TableInfo {
                name: func.name.clone(),
                source: TableSource::Relation {
                    schema: func.schema.clone(),
                    name: func.name.clone(),
                },
                columns: func.outputs.clone(),
                order_by: Vec::new(),
            };
            return self.table_select(f, &table, Link::Function(call, &func), dirs.object);
        }
        if let Some(t) = self
            .cat
            .tables
            .iter()
            .find(|t| singular(&t.name) == name && t.name != name)
        {
            let t = t.clone();
            return self.table_select(f, &t, Link::Root, true);
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

    /// `fn(arg, ...)` with inputs matched by name or position (`a0`, `a1`...).
    /// `name(arg, ...)` for a function field. An unquoted name as an argument
    /// (`is_hot_product(args: { id: id })`) is a column of `columns`' table, as in GraphJin
    /// (`qcode.ArgTypeCol`); at the root, where there is no table, it is refused.
    fn function_call(
        &mut self,
        func: &FunctionInfo,
        args: &SelArgs<'_>,
        pos: crate::source::Pos,
        columns: Option<(&TableInfo, &str)>,
    ) -> Result<String> {
        // (name as written, value): `args: { name: v }`, `args: [v0, v1]` (positions
        // `a0`, `a1`...) and arguments written on the field itself.
        let mut given: Vec<(String, crate::source::Pos, &Value)> = Vec::new();
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
        let mut parts = Vec::with_capacity(func.inputs.len());
        for (i, (n, ty)) in func.inputs.iter().enumerate() {
            let positional = format!("a{i}");
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
                    let Some((table, alias)) = columns else {
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
                    parts.push(format!("{alias}.{}", ident(&c.name)));
                }
                Some(v) => parts.push(self.value_sql(v, ty)?),
                None => {
                    return Err(CompileError::new(
                        pos,
                        format!(
                            "function `{}` needs argument `{n}` (or `{positional}`) in `args`",
                            func.name
                        ),
                    ));
                }
            }
        }
        let name = match &func.schema {
            Some(s) => format!("{}.{}", ident(s), ident(&func.name)),
            None => ident(&func.name),
        };
        Ok(format!("{name}({})", parts.join(", ")))
    }

    /// The JSON-producing subquery for one table field.
    fn table_select(
        &mut self,
        f: &'a Field,
        table: &TableInfo,
        link: Link<'_>,
        force_one: bool,
    ) -> Result<(Expr, Shape)> {
        let blocked = self.table_blocked(&table.name);
        if blocked || (self.role == "anon" && field_uses_user_id(f)) {
            // A blocked table reads as null (GraphJin's behaviour), and GraphJin skips
            // selectors that need a signed-in user for anonymous callers: either way the
            // field is `null`, compiled only for its shape.
            return self.null_with_shape(f, table, link, force_one, blocked);
        }
        self.table_select_inner(f, table, link, force_one)
    }

    /// `NULL` in place of a field, with the shape the field would have; nothing the shape
    /// compile touched (parameters, columns read) stays behind.
    fn null_with_shape(
        &mut self,
        f: &'a Field,
        table: &TableInfo,
        link: Link<'_>,
        force_one: bool,
        ignore_rules: bool,
    ) -> Result<(Expr, Shape)> {
        let (params, reads, ignore, laterals) = (
            self.params.list.len(),
            self.reads.clone(),
            self.ignore_rules,
            self.paging.laterals.len(),
        );
        self.ignore_rules |= ignore_rules;
        let shaped = self.table_select_inner(f, table, link, force_one);
        self.ignore_rules = ignore;
        self.params.list.truncate(params);
        self.reads = reads;
        self.paging.laterals.truncate(laterals);
        if self.paging.pending.is_some() {
            // A paged field that reads as null has a null cursor (GraphJin's behaviour).
            self.paging.pending = Some(Expr::Null);
        }
        Ok((Expr::Null, shaped?.1.nullable()))
    }

    fn table_select_inner(
        &mut self,
        f: &'a Field,
        table: &TableInfo,
        link: Link<'_>,
        force_one: bool,
    ) -> Result<(Expr, Shape)> {
        if f.selection.is_empty() {
            return Err(CompileError::new(
                f.name.pos,
                format!(
                    "`{}` is a table: select some of its fields, e.g. `{} {{ id }}`",
                    f.name.value, f.name.value
                ),
            ));
        }
        let args = match &link {
            Link::Function(_, func) => sel_args_of(&f.arguments, Some(func), false)?,
            _ => sel_args(&f.arguments)?,
        };
        let alias = self.alias();
        let mut conds = Vec::new();
        let mut with = None;
        let mut default_order = None;
        let mut one = force_one;
        let from = match &link {
            Link::Root => From::of(Source::named(self.source(table), &alias)),
            Link::Function(call, _) => From::of(Source::named(call.as_str(), &alias)),
            Link::Cte(cte) => From::of(Source::named(ident(cte), &alias)),
            Link::Rel(rel, parent) => match rel {
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
                    if let Some(w) = args.where_ {
                        step_conds.push(self.where_sql(table, "__r", w)?);
                    }
                    if let Some(rules) = self.rules(&table.name) {
                        step_conds.extend(self.rule_filters(table, "__r", rules)?);
                    }
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
                    if other.is_one() {
                        one = true;
                    }
                    From::of(Source::named(self.source(table), &alias))
                }
            },
        };
        let from_cte = matches!(link, Link::Cte(_));
        if let Some(id) = args.id.filter(|_| !from_cte) {
            let pk = table.primary_key().ok_or_else(|| {
                CompileError::new(
                    id.pos,
                    format!(
                        "table `{}` has no primary key to look up by `id`",
                        table.name
                    ),
                )
            })?;
            let pk = pk.clone();
            conds.push(format!(
                "{alias}.{} = {}",
                ident(&pk.name),
                self.value_sql(id, &pk.cast_type())?
            ));
            one = true;
        }
        if let Some(w) = args.where_.filter(|_| !from_cte) {
            conds.push(self.where_sql(table, &alias, w)?);
        }
        // On a table, `includeIf` / `skipIf` decide per row (GraphJin's example hides
        // owners whose `keep_private` is set).
        if let Some(c) = self.field_condition(&args, table, &alias)? {
            conds.push(c);
        }
        if args.mutation.is_some() && matches!(link, Link::Rel(..)) {
            return Err(CompileError::new(
                f.name.pos,
                "nested fields cannot take insert/update/upsert/delete; nest the data instead",
            ));
        }
        let rules = self.rules(&table.name);
        if let Some(rules) = rules {
            conds.extend(self.rule_filters(table, &alias, rules)?);
        }
        let mut searched = None;
        if let Some(s) = args.search {
            let col = table.columns.iter().find(|c| c.full_text).ok_or_else(|| {
                CompileError::new(
                    s.pos,
                    format!(
                        "table `{}` has no full-text (tsvector) column to `search`",
                        table.name
                    ),
                )
            })?;
            let col = ident(&col.name);
            let q = self.value_sql(s, "text")?;
            let query = format!("websearch_to_tsquery({q})");
            conds.push(format!("{alias}.{col} @@ {query}"));
            searched = Some((format!("{alias}.{col}"), query));
        }
        // `search_rank` / `search_headline_*` of this table's fields and ordering.
        let outer_search = std::mem::replace(&mut self.search, searched);
        if let Some(find) = args.find
            && !matches!(link, Link::Rel(Relation::Recursive { .. }, _))
        {
            return Err(CompileError::new(
                find.pos,
                "`find` only applies to a table nested under itself (a self-reference)",
            ));
        }
        if let Some(a) = args.args
            && !matches!(link, Link::Function(..))
        {
            return Err(CompileError::new(a.pos, "`args` only applies to functions"));
        }

        // Paged children are computed once each, joined laterally to this selection.
        let outer_laterals = std::mem::take(&mut self.paging.laterals);
        let out = self.output_fields(&f.selection, table, &alias);
        let child_laterals = std::mem::replace(&mut self.paging.laterals, outer_laterals);
        let out = out?;
        let mut json = Expr::JsonObject(out.pairs);
        let mut from = from;
        if !child_laterals.is_empty() {
            if out.aggregate {
                return Err(CompileError::new(
                    f.name.pos,
                    format!(
                        "`{}` aggregates, so a field under it cannot be paged with `first`/`last`/`after`/`before`",
                        f.name.value
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

        let order = match args.order_by {
            Some(o) => self.order_sql(table, &alias, o),
            None => Ok(Vec::new()),
        };
        self.search = outer_search;
        let mut order = order?;
        let paged = if args.paging.paged && !one {
            if args.distinct.is_some() || out.aggregate || default_order.is_some() {
                return Err(CompileError::new(
                    args.paging.pos.unwrap_or(f.name.pos),
                    "cursor pagination does not combine with `distinct`, aggregates or a recursive relation",
                ));
            }
            let n = self.serial();
            let p = self.paged_sql(
                &args.paging,
                f.name.pos,
                table,
                &alias,
                args.order_by,
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
        if let Some(d) = args.distinct {
            let cols = self.distinct_columns(table, &alias, d)?;
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
        let shape = Shape::Object {
            fields: out.fields,
            list: !one,
            nullable: one,
        };
        if let Some((p, n)) = paged {
            // Computed once in the enclosing FROM; the field and its cursor read it.
            self.paging.laterals.push(p.wrap(inner, n));
            self.paging.pending = Some(Expr::Raw(format!("__pg{n}.\"cursor\"")));
            return Ok((Expr::Raw(format!("__pg{n}.\"json\"")), shape));
        }
        if one {
            Ok((Expr::subquery(inner), shape))
        } else {
            let n = self.serial();
            let list = Select {
                items: vec![Item::bare(Expr::Raw(format!(
                    "coalesce(json_agg(__sj{n}.\"json\"), '[]')"
                )))],
                from: Some(From::of(Source::derived(inner, format!("__sj{n}")))),
                ..Select::default()
            };
            Ok((Expr::subquery(list), shape))
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
        self.table_select(f, table, Link::Cte(cte.to_string()), one)
    }

    /// A mutation's selection over the table as it stands after the writes.
    pub(super) fn table_select_root(
        &mut self,
        f: &'a Field,
        table: &TableInfo,
        one: bool,
    ) -> Result<(Expr, Shape)> {
        self.paging.in_mutation = true;
        self.table_select(f, table, Link::Root, one)
    }

    fn distinct_columns(
        &mut self,
        table: &TableInfo,
        alias: &str,
        v: &Value,
    ) -> Result<Vec<String>> {
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
                    Ok(format!("{alias}.{}", ident(&col.name)))
                }
                _ => Err(CompileError::new(
                    i.pos,
                    "`distinct` takes column names, e.g. `distinct: [price]`",
                )),
            })
            .collect()
    }

    fn output_fields(
        &mut self,
        sel: &'a [Selection],
        table: &TableInfo,
        alias: &str,
    ) -> Result<Output> {
        let mut out = Output::default();
        let fields = self.flatten(sel)?;
        let mut cursor_fields = Vec::new();
        for f in fields.iter().copied() {
            let dirs = self.field_directives(f)?;
            if dirs.removed {
                continue;
            }
            let key = f.response_key().to_string();
            if self.is_cursor_field(f, Some(table)) {
                cursor_fields.push(f);
                continue;
            }
            self.paging.path.push(key.clone());
            let field = self.output_field(f, &dirs, table, alias, &mut out);
            self.paging.path.pop();
            let (expr, shape) = field?;
            out.pairs.push((key.clone(), wrap_include(expr, &dirs)));
            out.fields.push((key.clone(), shape));
            self.cursor_pair(&key, &dirs, &mut out.pairs, &mut out.fields);
        }
        check_cursor_fields(&cursor_fields, &fields, &out.pairs)?;
        out.plain.dedup();
        Ok(out)
    }

    /// One field of a table's selection: its SQL and shape.
    fn output_field(
        &mut self,
        f: &'a Field,
        dirs: &FieldDirectives,
        table: &TableInfo,
        alias: &str,
        out: &mut Output,
    ) -> Result<(Expr, Shape)> {
        {
            let name = self.db_name(&f.name.value).into_owned();
            let mut cond = None;
            let (expr, shape) = if name == "__typename" {
                (
                    Expr::Raw(string_literal(&table.name)),
                    Shape::scalar("text", false),
                )
            } else if let Some(col) = table
                .column(&name)
                .filter(|_| !self.is_json_table(table, &name))
            {
                cond = self.field_condition(&sel_args(&f.arguments)?, table, alias)?;
                let e = self.column_expr(f, table, col, alias)?;
                out.plain.push(e.clone());
                let shape = Shape::column(col.cast_type(), col.nullable, table.origin(&col.name));
                (Expr::Raw(e), shape)
            } else if let Some((expr, shape)) = self.search_field(&name, table, alias, f)? {
                (Expr::Raw(expr), shape)
            } else if let Some((func, cname)) = aggregate(&name)
                .filter(|(_, c)| table.column(c).is_some())
                .or(aggregate_call(f, &name)?)
                && let Some(col) = table.column(cname)
            {
                self.check_column(table, col, f.name.pos)?;
                self.check_function(table, func, f.name.pos)?;
                out.aggregate = true;
                (
                    Expr::Raw(format!("{func}({alias}.{})", ident(&col.name))),
                    aggregate_shape(func, col),
                )
            } else if let Some(func) = self.cat.function(&name).filter(|x| !x.returns_set) {
                let func = func.clone();
                self.check_function(table, &func.name, f.name.pos)?;
                let args = sel_args_of(&f.arguments, Some(&func), true)?;
                cond = self.field_condition(&args, table, alias)?;
                let call = self.function_call(&func, &args, f.name.pos, Some((table, alias)))?;
                (
                    Expr::Raw(call),
                    Shape::scalar(func.return_type.clone(), true),
                )
            } else if let Some(poly) = self
                .cat
                .polymorphic(&name)
                .filter(|p| table.column(&p.id_column).is_some())
            {
                let poly = poly.clone();
                (self.union_select(f, &poly, alias)?, Shape::Any)
            } else if dirs.not_related || dirs.schema.is_some() {
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
                self.table_select(f, &child, Link::Root, dirs.object)?
            } else {
                let find = self.find_arg(f)?;
                match resolve(self.cat, table, &name, dirs.through.as_deref(), find) {
                    Some((child, rel)) => {
                        if self.cat.is_blocked(&child.name) {
                            return Err(CompileError::new(
                                f.name.pos,
                                format!("table `{}` is blocked", child.name),
                            ));
                        }
                        let child = child.clone();
                        out.plain.extend(parent_columns(&rel, alias));
                        let (sql, shape) =
                            self.table_select(f, &child, Link::Rel(&rel, alias), dirs.object)?;
                        // A NOT NULL foreign key always finds its row (unless filtered).
                        let filtered = f.arguments.iter().any(|a| a.name.value == "where");
                        let required = match &rel {
                            Relation::ToOne { parent_col, .. } if !filtered => {
                                table.column(parent_col).is_some_and(|c| !c.nullable)
                            }
                            _ => false,
                        };
                        match shape {
                            Shape::Object {
                                fields,
                                list: false,
                                ..
                            } if required && sql != Expr::Null => (
                                sql,
                                Shape::Object {
                                    fields,
                                    list: false,
                                    nullable: false,
                                },
                            ),
                            shape => (sql, shape),
                        }
                    }
                    None => {
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
                    }
                }
            };
            // On a column or function, `includeIf` / `skipIf` read the row it belongs to.
            let (expr, shape) = match &cond {
                Some(c) => (
                    Expr::Paren(Box::new(expr.when(Expr::Raw(c.clone())))),
                    shape.nullable(),
                ),
                None => (expr, shape),
            };
            let shape = if dirs.include_if.is_some() {
                shape.nullable()
            } else {
                shape
            };
            Ok((expr, shape))
        }
    }

    /// A JSON column that the config declares as a table of its own (`type: json`).
    fn is_json_table(&self, host: &TableInfo, column: &str) -> bool {
        self.cat.table(column).is_some_and(|t| {
            matches!(&t.source, TableSource::JsonColumn { host: h, .. }
                if self.cat.table(h).is_some_and(|h| h.source == host.source))
        })
    }

    fn find_arg(&self, f: &Field) -> Result<Option<Find>> {
        let Some(arg) = f.arguments.iter().find(|a| a.name.value == "find") else {
            return Ok(None);
        };
        match &arg.value.kind {
            ValueKind::String(s) | ValueKind::Enum(s) => match s.as_str() {
                "parents" | "parent" => Ok(Some(Find::Parents)),
                "children" | "child" => Ok(Some(Find::Children)),
                _ => Err(CompileError::new(
                    arg.value.pos,
                    format!("`find` must be \"parents\" or \"children\", found \"{s}\""),
                )),
            },
            _ => Err(CompileError::new(
                arg.value.pos,
                "`find` must be \"parents\" or \"children\"",
            )),
        }
    }

    fn column_expr(
        &mut self,
        f: &Field,
        table: &TableInfo,
        col: &ColumnInfo,
        alias: &str,
    ) -> Result<String> {
        self.check_column(table, col, f.name.pos)?;
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
        Ok(format!("{alias}.{}", ident(&col.name)))
    }

    /// `search_rank` (`ts_rank` of the table's tsvector column against its `search:`) and
    /// `search_headline_<column>` (`ts_headline` of the column), as GraphJin's
    /// `psql/fn.go` renders them; both need `search:` on their table.
    fn search_field(
        &mut self,
        name: &str,
        table: &TableInfo,
        alias: &str,
        f: &Field,
    ) -> Result<Option<(String, Shape)>> {
        let headline = name.strip_prefix("search_headline_");
        if name != "search_rank" && headline.is_none() {
            return Ok(None);
        }
        if table.column(name).is_some() {
            return Ok(None);
        }
        let Some((tsv, query)) = self.search.clone() else {
            return Err(CompileError::new(
                f.name.pos,
                format!(
                    "`{name}` needs `search:` on `{}` (e.g. `{}(search: $query)`)",
                    table.name, table.name
                ),
            ));
        };
        if let Some(a) = f.arguments.first() {
            return Err(CompileError::new(
                a.name.pos,
                format!("`{name}` takes no arguments"),
            ));
        }
        Ok(Some(match headline {
            None => (
                format!("ts_rank({tsv}, {query})"),
                Shape::scalar("real", true),
            ),
            Some(column) => {
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
                (
                    format!("ts_headline({alias}.{}::text, {query})", ident(&col.name)),
                    Shape::scalar("text", true),
                )
            }
        }))
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

    /// The SQL condition of a field's `includeIf` / `skipIf` over the row `alias` of
    /// `table` (GraphJin's field filters); both may be given.
    fn field_condition(
        &mut self,
        args: &SelArgs<'_>,
        table: &TableInfo,
        alias: &str,
    ) -> Result<Option<String>> {
        let mut conds = Vec::new();
        if let Some(v) = args.include_if {
            conds.push(self.where_sql(table, alias, v)?);
        }
        if let Some(v) = args.skip_if {
            conds.push(format!("NOT ({})", self.where_sql(table, alias, v)?));
        }
        Ok((!conds.is_empty()).then(|| super::filter::join(conds, "AND")))
    }

    /// A polymorphic field: one branch per `... on table` fragment, chosen by the type column.
    fn union_select(
        &mut self,
        f: &'a Field,
        poly: &super::catalog::Polymorphic,
        parent: &str,
    ) -> Result<Expr> {
        let mut branches = Vec::new();
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
            let key = table.column(&poly.target_column).ok_or_else(|| {
                CompileError::new(
                    on.pos,
                    format!(
                        "table `{}` has no column `{}`",
                        table.name, poly.target_column
                    ),
                )
            })?;
            let key = key.clone();
            let alias = self.alias();
            let out = self.output_fields(&frag.selection, &table, &alias)?;
            let member = Select {
                items: vec![Item::bare(Expr::JsonObject(out.pairs))],
                from: Some(From::of(Source::named(self.source(&table), &alias))),
                filter: Some(Expr::Raw(format!(
                    "{alias}.{} = {parent}.{}",
                    ident(&key.name),
                    ident(&poly.id_column)
                ))),
                limit: Some(Expr::raw("1")),
                ..Select::default()
            };
            branches.push((
                Expr::Raw(string_literal(table.relation_name().unwrap_or(&table.name))),
                Expr::subquery(member),
            ));
        }
        Ok(Expr::Switch(
            Box::new(Expr::Raw(format!("{parent}.{}", ident(&poly.type_column)))),
            branches,
        ))
    }
}

/// Every `<name>_cursor` field written in a selection must belong to a sibling `<name>`
/// (paged for this role, or left out for it by a directive).
fn check_cursor_fields(
    cursor_fields: &[&Field],
    fields: &[&Field],
    pairs: &[(String, Expr)],
) -> Result<()> {
    for f in cursor_fields {
        let key = f.response_key();
        let paged_sibling = pairs.iter().any(|(k, _)| k == key);
        let base = key.strip_suffix("_cursor").unwrap_or(key);
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

fn has_paging(f: &Field) -> bool {
    f.arguments
        .iter()
        .any(|a| matches!(a.name.value.as_str(), "first" | "last" | "after" | "before"))
}

/// The JSON type an aggregate returns, as PostgreSQL computes it.
fn aggregate_shape(func: &str, col: &ColumnInfo) -> Shape {
    let t = col.pg_type.as_str();
    let float = matches!(t, "real" | "double precision");
    match func {
        "count" => Shape::scalar("bigint", false),
        "min" | "max" => Shape::scalar(col.cast_type(), true),
        "sum" if matches!(t, "integer" | "smallint") => Shape::scalar("bigint", true),
        "sum" | "avg" | "stddev" | "stddev_pop" | "stddev_samp" | "variance" | "var_pop"
        | "var_samp"
            if float =>
        {
            Shape::scalar("double precision", true)
        }
        _ => Shape::scalar("numeric", true),
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
    fields: Vec<(String, Shape)>,
    aggregate: bool,
    plain: Vec<String>,
}
