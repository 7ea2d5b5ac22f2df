//! The schema a client sees, built from `db.graphql` and the config as GraphJin's
//! `core/intro.go` builds it: one object type per table (columns, relationships, functions),
//! `<table>WhereInput` / `<table>OrderByInput` for filtering and ordering, `insert<table>Input`
//! / `update<table>Input` / `upsert<table>Input` for writes, `<Scalar>Expression` operator
//! types, `OrderDirection`, `FindSearchInput`, `tablesEnum`, `rolesEnum`, PostgreSQL enums,
//! and the `Query`, `Mutation` and `Subscription` roots. Field and argument names are the
//! ones this compiler accepts, so whatever a client builds from the schema compiles.

use std::collections::HashSet;

use graphjin_codegen::Compiled;
use graphjin_codegen::compile::catalog::{
    Catalog, ColumnInfo, FunctionInfo, TableInfo, TableSource,
};
use graphjin_codegen::compile::names::singular;
use graphjin_codegen::compile::relation::{Relation, resolve};
use graphjin_codegen::schema::DbSchema;

use super::model::{
    Directive, EnumValue, Field, InputValue, Kind, Schema, Ty, TypeDef, builtin_scalars, meta_types,
};

/// Scalar operators (GraphJin's `expScalar`): name, description.
const SCALAR_OPS: [(&str, &str); 28] = [
    ("equals", "Equals value"),
    ("_eq", "Equals value"),
    ("notEquals", "Does not equal value"),
    ("_neq", "Does not equal value"),
    ("greaterThan", "Is greater than value"),
    ("_gt", "Is greater than value"),
    ("lesserThan", "Is lesser than value"),
    ("_lt", "Is lesser than value"),
    ("greaterOrEquals", "Is greater than or equals value"),
    ("_gte", "Is greater than or equals value"),
    ("lesserOrEquals", "Is lesser than or equals value"),
    ("_lte", "Is lesser than or equals value"),
    (
        "like",
        "Value matching pattern where '%' represents zero or more characters",
    ),
    (
        "_like",
        "Value matching pattern where '%' represents zero or more characters",
    ),
    ("notLike", "Value not matching pattern"),
    ("_nlike", "Value not matching pattern"),
    ("iLike", "Value matching (case-insensitive) pattern"),
    ("_ilike", "Value matching (case-insensitive) pattern"),
    ("notILike", "Value not matching (case-insensitive) pattern"),
    ("_nilike", "Value not matching (case-insensitive) pattern"),
    (
        "similar",
        "Value matching an SQL regex pattern (the whole value)",
    ),
    (
        "_similar",
        "Value matching an SQL regex pattern (the whole value)",
    ),
    ("_nsimilar", "Value not matching an SQL regex pattern"),
    ("regex", "Value matches regex pattern"),
    ("_regex", "Value matches regex pattern"),
    ("notRegex", "Value not matching regex pattern"),
    ("_nregex", "Value not matching regex pattern"),
    ("_iregex", "Value matches (case-insensitive) regex pattern"),
];

/// List operators: name, description.
const LIST_OPS: [(&str, &str); 4] = [
    ("in", "Is in list of values"),
    ("_in", "Is in list of values"),
    ("notIn", "Is not in list of values"),
    ("_nin", "Is not in list of values"),
];

/// Operators of array columns (GraphJin's `expList` plus containment).
const ARRAY_OPS: [(&str, &str); 6] = [
    ("contains", "The array contains all of these values"),
    ("_contains", "The array contains all of these values"),
    ("containedIn", "Every value of the array is one of these"),
    ("_containedIn", "Every value of the array is one of these"),
    ("hasInCommon", "The array shares a value with these"),
    ("_hasInCommon", "The array shares a value with these"),
];

/// JSON operators (GraphJin's `expJSON`): name, description, takes a list of keys.
const JSON_OPS: [(&str, &str, &str); 10] = [
    ("hasKey", "JSON value contains this key", "String"),
    ("_hasKey", "JSON value contains this key", "String"),
    (
        "hasKeyAny",
        "JSON value contains any of these keys",
        "[String]",
    ),
    (
        "_hasKeyAny",
        "JSON value contains any of these keys",
        "[String]",
    ),
    (
        "hasKeyAll",
        "JSON value contains all of these keys",
        "[String]",
    ),
    (
        "_hasKeyAll",
        "JSON value contains all of these keys",
        "[String]",
    ),
    (
        "contains",
        "JSON value contains these key/value pairs",
        "JSON",
    ),
    (
        "_contains",
        "JSON value contains these key/value pairs",
        "JSON",
    ),
    ("containedIn", "JSON value is contained in this one", "JSON"),
    (
        "_containedIn",
        "JSON value is contained in this one",
        "JSON",
    ),
];

/// The scalars expressions exist for.
const EXPRESSION_SCALARS: [&str; 5] = ["ID", "String", "Int", "Float", "Boolean"];

/// Whether `name` is a GraphQL name a schema may define (`__` is reserved).
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !name.starts_with("__")
}

/// The columns of `t` a client can see.
fn visible(t: &TableInfo) -> impl Iterator<Item = &ColumnInfo> {
    t.columns.iter().filter(|c| !c.blocked && is_name(&c.name))
}

/// `<field>_cursor`: the cursor of a paged list field's last row (GraphJin's keyword field).
fn cursor_field(field: &str) -> Field {
    Field::new(format!("{field}_cursor"), Ty::named("Cursor")).describe(format!(
        "The cursor after the last row of `{field}` when it is paged (`first`/`last`); pass it as `after: $cursor`"
    ))
}

/// The GraphQL scalar for a PostgreSQL type (GraphJin's `dbTypes`).
fn scalar_of(pg: &str) -> &'static str {
    match pg {
        "smallint" | "integer" | "bigint" | "int2" | "int4" | "int8" | "smallserial" | "serial"
        | "bigserial" => "Int",
        "numeric" | "decimal" | "real" | "double precision" | "money" | "float4" | "float8" => {
            "Float"
        }
        "boolean" | "bool" => "Boolean",
        "json" | "jsonb" => "JSON",
        _ => "String",
    }
}

/// Builds the schema for a schema snapshot and the compile result made from it and the
/// config.
pub fn schema(db: &DbSchema, compiled: &Compiled) -> Schema {
    Builder::new(db, compiled).finish()
}

struct Builder<'a> {
    cat: &'a Catalog,
    schema: Schema,
    /// PostgreSQL enum name (as columns cast to it) -> GraphQL enum type name.
    enums: Vec<(String, String)>,
    roles: Vec<String>,
    /// The tables a client sees.
    exposed: HashSet<String>,
}

impl<'a> Builder<'a> {
    fn new(db: &'a DbSchema, compiled: &'a Compiled) -> Self {
        let mut types = builtin_scalars();
        types.push(TypeDef::scalar(
            "JSON",
            "The `JSON` scalar type represents JSON data",
        ));
        types.push(TypeDef::scalar(
            "Cursor",
            "A cursor is an encoded string used for pagination",
        ));
        types.extend(meta_types());
        let mut b = Builder {
            cat: compiled.catalog(),
            schema: Schema {
                types,
                query: "Query".into(),
                mutation: Some("Mutation".into()),
                subscription: Some("Subscription".into()),
                directives: Vec::new(),
            },
            enums: Vec::new(),
            roles: compiled.roles(),
            exposed: HashSet::new(),
        };
        for e in &db.enums {
            let name = e.type_name();
            let usable = is_name(&name)
                && b.schema.get(&name).is_none()
                && !e.labels.is_empty()
                && e.labels
                    .iter()
                    .all(|l| is_name(l) && !matches!(l.as_str(), "true" | "false" | "null"));
            if usable {
                let mut t = TypeDef::new(Kind::Enum, &name)
                    .describe(format!("The PostgreSQL enum `{}`", e.name));
                t.enum_values = e
                    .labels
                    .iter()
                    .map(|l| EnumValue {
                        name: l.clone(),
                        description: None,
                    })
                    .collect();
                b.schema.add(t);
                b.enums.push((
                    graphjin_codegen::schema::model::UserType::Enum(e).sql_name(),
                    name,
                ));
            }
        }
        b
    }

    fn finish(mut self) -> Schema {
        self.standard_types();
        let cat = self.cat;
        let tables: Vec<&TableInfo> = cat.tables.iter().filter(|t| self.exposable(t)).collect();
        let names: HashSet<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        self.exposed = names.iter().map(|n| (*n).to_owned()).collect();
        for t in &tables {
            self.table_types(t);
        }
        let scalar_fns: Vec<&FunctionInfo> = cat
            .functions
            .iter()
            .filter(|f| !f.returns_set && is_name(&f.name))
            .collect();
        for f in &scalar_fns {
            self.args_type(f);
        }
        for t in &tables {
            self.table_object(t, &names, &scalar_fns);
        }
        let mut query = Vec::new();
        let mut mutation = Vec::new();
        for t in tables
            .iter()
            .filter(|t| matches!(t.source, TableSource::Relation { .. }))
        {
            query.push(
                Field::new(&t.name, Ty::List(Box::new(Ty::non_null(&t.name))))
                    .describe(format!("Rows of `{}`", t.name))
                    .args(self.select_args(t, false)),
            );
            query.push(cursor_field(&t.name));
            let one = singular(&t.name);
            if one != t.name && !names.contains(one.as_str()) && is_name(&one) {
                query.push(
                    Field::new(&one, Ty::named(&t.name))
                        .describe(format!("One row of `{}`", t.name))
                        .args(self.select_args(t, false)),
                );
            }
            let mut args = self.select_args(t, false);
            for action in ["insert", "update", "upsert"] {
                args.push(InputValue::new(
                    action,
                    Ty::named(format!("{action}{}Input", t.name)),
                ));
            }
            args.push(
                InputValue::new("delete", Ty::named("Boolean"))
                    .describe("Delete the rows `where` or `id` select"),
            );
            mutation.push(
                Field::new(&t.name, Ty::List(Box::new(Ty::non_null(&t.name))))
                    .describe(format!(
                        "Write rows of `{}`; returns the rows written",
                        t.name
                    ))
                    .args(args),
            );
        }
        for f in cat
            .functions
            .iter()
            .filter(|f| f.returns_set && !names.contains(f.name.as_str()))
        {
            if let Some(field) = self.set_function(f) {
                query.push(field);
            }
        }
        if query.is_empty() {
            query.push(
                Field::new("__empty", Ty::named("Boolean"))
                    .describe("The database has no tables yet"),
            );
        }
        let mut q = TypeDef::new(Kind::Object, "Query");
        q.fields = query.clone();
        let mut s = TypeDef::new(Kind::Object, "Subscription");
        s.fields = query;
        self.schema.add(q);
        self.schema.add(s);
        if mutation.is_empty() {
            self.schema.mutation = None;
        } else {
            let mut m = TypeDef::new(Kind::Object, "Mutation");
            m.fields = mutation;
            self.schema.add(m);
        }
        self.directives();
        self.schema
    }

    /// Tables a client can see: not blocked, with a visible column, named as GraphQL allows,
    /// not clashing with a built-in type.
    fn exposable(&self, t: &TableInfo) -> bool {
        is_name(&t.name)
            && !self.cat.is_blocked(&t.name)
            && self.schema.get(&t.name).is_none()
            && visible(t).next().is_some()
    }

    fn standard_types(&mut self) {
        self.schema.add(
            TypeDef::enumeration(
                "OrderDirection",
                &[
                    ("asc", "Ascending order"),
                    ("desc", "Descending order"),
                    ("asc_nulls_first", "Ascending nulls first order"),
                    ("desc_nulls_first", "Descending nulls first order"),
                    ("asc_nulls_last", "Ascending nulls last order"),
                    ("desc_nulls_last", "Descending nulls last order"),
                ],
            )
            .describe("Result ordering types"),
        );
        self.schema.add(TypeDef::enumeration(
            "FindSearchInput",
            &[
                ("children", "Children of parent row"),
                ("parents", "Parents of current row"),
            ],
        ));
        let roles: Vec<(&str, &str)> = self.roles.iter().map(|r| (r.as_str(), "")).collect();
        self.schema
            .add(TypeDef::enumeration("rolesEnum", &roles).describe("All available roles"));
        let tables: Vec<(&str, &str)> = self
            .cat
            .tables
            .iter()
            .filter(|t| is_name(&t.name) && !self.cat.is_blocked(&t.name))
            .map(|t| (t.name.as_str(), ""))
            .collect();
        if !tables.is_empty() {
            self.schema
                .add(TypeDef::enumeration("tablesEnum", &tables).describe("All available tables"));
        }
        let null_ops = || {
            ["isNull", "_isNull"].map(|n| {
                InputValue::new(n, Ty::named("Boolean"))
                    .describe("Is value null (true) or not null (false)")
            })
        };
        for scalar in EXPRESSION_SCALARS {
            let mut t = TypeDef::new(Kind::InputObject, format!("{scalar}Expression"));
            t.input_fields.extend(null_ops());
            for (n, d) in SCALAR_OPS {
                t.input_fields
                    .push(InputValue::new(n, Ty::named(scalar)).describe(d));
            }
            for (n, d) in LIST_OPS {
                t.input_fields
                    .push(InputValue::new(n, Ty::List(Box::new(Ty::non_null(scalar)))).describe(d));
            }
            self.schema.add(t);
            let mut l = TypeDef::new(Kind::InputObject, format!("{scalar}ListExpression"));
            l.input_fields.extend(null_ops());
            for (n, d) in ARRAY_OPS {
                l.input_fields
                    .push(InputValue::new(n, Ty::List(Box::new(Ty::named(scalar)))).describe(d));
            }
            self.schema.add(l);
        }
        let mut j = TypeDef::new(Kind::InputObject, "JSONExpression");
        j.input_fields.extend(null_ops());
        for (n, d, ty) in JSON_OPS {
            let ty = match ty {
                "[String]" => Ty::List(Box::new(Ty::named("String"))),
                other => Ty::named(other),
            };
            j.input_fields.push(InputValue::new(n, ty).describe(d));
        }
        self.schema.add(j);
    }

    /// The GraphQL type of a column's values (without list or non-null).
    fn column_scalar(&self, c: &ColumnInfo) -> String {
        if c.primary_key {
            return "ID".into();
        }
        if let Some((_, name)) = self.enums.iter().find(|(pg, _)| *pg == c.pg_type) {
            return name.clone();
        }
        scalar_of(&c.pg_type).into()
    }

    /// The expression type filtering a column.
    fn column_expression(&self, c: &ColumnInfo) -> String {
        let scalar = match self.column_scalar(c) {
            s if EXPRESSION_SCALARS.contains(&s.as_str()) || s == "JSON" => s,
            _ => "String".into(),
        };
        if scalar == "JSON" {
            "JSONExpression".into()
        } else if c.array {
            format!("{scalar}ListExpression")
        } else {
            format!("{scalar}Expression")
        }
    }

    /// `<t>WhereInput`, `<t>OrderByInput` and the write inputs of table `t`.
    fn table_types(&mut self, t: &TableInfo) {
        let where_name = format!("{}WhereInput", t.name);
        let mut w = TypeDef::new(Kind::InputObject, &where_name)
            .describe(format!("A filter on rows of `{}`", t.name));
        for op in ["and", "_and", "or", "_or"] {
            w.input_fields.push(InputValue::new(
                op,
                Ty::List(Box::new(Ty::non_null(&where_name))),
            ));
        }
        for op in ["not", "_not"] {
            w.input_fields
                .push(InputValue::new(op, Ty::named(&where_name)));
        }
        let mut o = TypeDef::new(Kind::InputObject, format!("{}OrderByInput", t.name))
            .describe(format!("The order of rows of `{}`", t.name));
        let mut upsert = TypeDef::new(Kind::InputObject, format!("upsert{}Input", t.name));
        for c in visible(t) {
            w.input_fields.push(InputValue::new(
                &c.name,
                Ty::named(self.column_expression(c)),
            ));
            o.input_fields
                .push(InputValue::new(&c.name, Ty::named("OrderDirection")));
            let mut ty = Ty::named(self.column_scalar(c));
            if c.array {
                ty = Ty::List(Box::new(ty));
            }
            upsert.input_fields.push(InputValue::new(&c.name, ty));
        }
        self.schema.add(w);
        self.schema.add(o);
        let mut insert = upsert.clone();
        insert.name = format!("insert{}Input", t.name);
        let mut update = upsert.clone();
        update.name = format!("update{}Input", t.name);
        // Nested writes into related tables (`products { insert: { owner: { ... } } }`).
        let mut seen: HashSet<String> = visible(t).map(|c| c.name.clone()).collect();
        for (field, child, rel) in self.relations(t) {
            if matches!(
                rel,
                Relation::JsonColumn { .. } | Relation::Recursive { .. }
            ) || !seen.insert(field.clone())
            {
                continue;
            }
            insert.input_fields.push(InputValue::new(
                &field,
                Ty::named(format!("insert{child}Input")),
            ));
            update.input_fields.push(InputValue::new(
                &field,
                Ty::named(format!("update{child}Input")),
            ));
        }
        for (key, what) in [
            (
                "connect",
                "Connect to rows in table '{}' that match the expression",
            ),
            (
                "disconnect",
                "Disconnect from rows in table '{}' that match the expression",
            ),
            (
                "where",
                "Update rows in table '{}' that match the expression",
            ),
        ] {
            if seen.contains(key) {
                continue;
            }
            update.input_fields.push(
                InputValue::new(key, Ty::named(&where_name)).describe(what.replace("{}", &t.name)),
            );
        }
        self.schema.add(insert);
        self.schema.add(update);
        self.schema.add(upsert);
    }

    /// Every relationship field of `t`: (field name, child table, relation), found the way
    /// the compiler resolves a nested field.
    fn relations(&self, t: &TableInfo) -> Vec<(String, String, Relation)> {
        let cat = self.cat;
        let points = |target: &str| {
            target == t.name || cat.table(target).is_some_and(|x| x.source == t.source)
        };
        let stem = |name: &str| {
            name.strip_suffix("_ids")
                .or_else(|| name.strip_suffix("_id"))
                .unwrap_or(name)
                .to_owned()
        };
        // Only tables a relation can reach: the ones `t` points at, the ones pointing at `t`
        // (children and join tables) and what those join tables point at, JSON tables.
        let mut near: Vec<&TableInfo> = Vec::new();
        let mut stems: Vec<String> = Vec::new();
        let targets_of = |x: &TableInfo, near: &mut Vec<&'a TableInfo>, c: &mut Vec<String>| {
            for col in &x.columns {
                if let Some((target, _)) = &col.foreign_key {
                    near.extend(cat.table(target));
                    c.push(stem(&col.name));
                }
            }
        };
        targets_of(t, &mut near, &mut stems);
        for other in &cat.tables {
            if let TableSource::JsonColumn { host, .. } = &other.source
                && points(host)
            {
                near.push(other);
            }
            let child = other.columns.iter().any(|c| {
                c.foreign_key
                    .as_ref()
                    .is_some_and(|(target, _)| points(target))
            });
            if child {
                near.push(other);
                targets_of(other, &mut near, &mut stems);
            }
        }
        // Table names first, so a to-many relation is named by its plural.
        let mut candidates: Vec<String> = Vec::new();
        for x in near {
            candidates.push(x.name.clone());
            candidates.push(singular(&x.name));
        }
        candidates.extend(stems);
        let mut out: Vec<(String, String, Relation)> = Vec::new();
        for field in candidates {
            if !is_name(&field)
                || t.column(&field).is_some()
                || out.iter().any(|(f, _, _)| *f == field)
            {
                continue;
            }
            let Some((child, rel)) = resolve(self.cat, t, &field, None, None) else {
                continue;
            };
            if !self.exposed.contains(&child.name) {
                continue;
            }
            // A singular name for a to-many relation is the compiler's, not a second field.
            let plural_twin = !rel.is_one()
                && field != child.name
                && out
                    .iter()
                    .any(|(f, c, _)| *f == child.name && *c == child.name);
            if plural_twin {
                continue;
            }
            out.push((field, child.name.clone(), rel));
        }
        out
    }

    /// The arguments of a selection of table `t`.
    fn select_args(&self, t: &TableInfo, recursive: bool) -> Vec<InputValue> {
        let mut args = vec![
            InputValue::new("id", Ty::named("ID")).describe("The row with this primary key"),
            InputValue::new("where", Ty::named(format!("{}WhereInput", t.name))),
            InputValue::new("order_by", Ty::named(format!("{}OrderByInput", t.name))),
            InputValue::new("limit", Ty::named("Int")),
            InputValue::new("first", Ty::named("Int")).describe("The same as `limit`"),
            InputValue::new("offset", Ty::named("Int")),
            InputValue::new("last", Ty::named("Int"))
                .describe("The last rows, for cursor pagination backwards"),
            InputValue::new("after", Ty::named("Cursor"))
                .describe("Rows after this cursor (`<field>_cursor` of a previous page)"),
            InputValue::new("before", Ty::named("Cursor")).describe("Rows before this cursor"),
            InputValue::new("distinct", Ty::List(Box::new(Ty::non_null("String"))))
                .describe("Column names: one row per distinct value"),
        ];
        if t.columns.iter().any(|c| c.full_text && !c.blocked) {
            args.push(
                InputValue::new("search", Ty::named("String"))
                    .describe("Full-text search over the table's tsvector column"),
            );
        }
        if recursive {
            args.push(InputValue::new("find", Ty::named("FindSearchInput")));
        }
        args
    }

    /// The object type of table `t`.
    fn table_object(&mut self, t: &TableInfo, names: &HashSet<&str>, fns: &[&FunctionInfo]) {
        let where_ty = Ty::named(format!("{}WhereInput", t.name));
        let cond = || {
            vec![
                InputValue::new("includeIf", where_ty.clone()),
                InputValue::new("skipIf", where_ty.clone()),
            ]
        };
        let mut obj = TypeDef::new(Kind::Object, &t.name);
        for c in visible(t) {
            let mut ty = Ty::named(self.column_scalar(c));
            if c.array {
                ty = Ty::List(Box::new(ty));
            }
            if !c.nullable {
                ty = Ty::NonNull(Box::new(ty));
            }
            obj.fields.push(Field::new(&c.name, ty).args(cond()));
        }
        if t.columns.iter().any(|c| c.full_text && !c.blocked) {
            obj.fields.push(
                Field::new("search_rank", Ty::named("Float"))
                    .describe("How well the row matches `search:`"),
            );
            for c in visible(t) {
                if !c.array && scalar_of(&c.pg_type) == "String" && !c.full_text {
                    obj.fields.push(
                        Field::new(format!("search_headline_{}", c.name), Ty::named("String"))
                            .describe(format!(
                                "`{}` with the words `search:` matched marked",
                                c.name
                            )),
                    );
                }
            }
        }
        for f in fns {
            if obj.field(&f.name).is_some() {
                continue;
            }
            let mut args = Vec::new();
            if !f.inputs.is_empty() {
                args.push(InputValue::new(
                    "args",
                    Ty::named(format!("{}ArgsInput", f.name)),
                ));
            }
            args.extend(cond());
            obj.fields.push(
                Field::new(&f.name, Ty::named(scalar_of(&f.return_type)))
                    .describe(format!("The database function `{}`", f.name))
                    .args(args),
            );
        }
        for (field, child, rel) in self.relations(t) {
            if obj.field(&field).is_some() || !names.contains(child.as_str()) {
                continue;
            }
            let Some(child_info) = self.cat.table(&child) else {
                continue;
            };
            let recursive = matches!(rel, Relation::Recursive { .. });
            let ty = if rel.is_one() {
                Ty::named(&child)
            } else {
                Ty::List(Box::new(Ty::non_null(&child)))
            };
            let list = !rel.is_one();
            obj.fields
                .push(Field::new(&field, ty).args(self.select_args(child_info, recursive)));
            if list && obj.field(&format!("{field}_cursor")).is_none() {
                obj.fields.push(cursor_field(&field));
            }
        }
        self.schema.add(obj);
    }

    /// `<fn>ArgsInput`: a function's inputs by name.
    fn args_type(&mut self, f: &FunctionInfo) {
        if f.inputs.is_empty() {
            return;
        }
        let mut t = TypeDef::new(Kind::InputObject, format!("{}ArgsInput", f.name))
            .describe(format!("The arguments of `{}`", f.name));
        for (i, (name, ty)) in f.inputs.iter().enumerate() {
            let name = if is_name(name) {
                name.clone()
            } else {
                format!("a{i}")
            };
            let (base, list) = match ty.strip_suffix("[]") {
                Some(base) => (base, true),
                None => (ty.as_str(), false),
            };
            let mut ty = Ty::named(scalar_of(base));
            if list {
                ty = Ty::List(Box::new(ty));
            }
            t.input_fields.push(InputValue::new(name, ty));
        }
        self.schema.add(t);
    }

    /// A set-returning function as a root field and its row type.
    fn set_function(&mut self, f: &FunctionInfo) -> Option<Field> {
        if !is_name(&f.name) || self.schema.get(&f.name).is_some() {
            return None;
        }
        let mut obj = TypeDef::new(Kind::Object, &f.name)
            .describe(format!("A row of the database function `{}`", f.name));
        for c in f.outputs.iter().filter(|c| is_name(&c.name)) {
            let mut ty = Ty::named(scalar_of(&c.pg_type));
            if c.array {
                ty = Ty::List(Box::new(ty));
            }
            obj.fields.push(Field::new(&c.name, ty));
        }
        if obj.fields.is_empty() {
            return None;
        }
        self.schema.add(obj);
        self.args_type(f);
        let mut args = Vec::new();
        if !f.inputs.is_empty() {
            args.push(InputValue::new(
                "args",
                Ty::named(format!("{}ArgsInput", f.name)),
            ));
        }
        args.push(InputValue::new("limit", Ty::named("Int")));
        args.push(InputValue::new("offset", Ty::named("Int")));
        Some(
            Field::new(&f.name, Ty::List(Box::new(Ty::non_null(&f.name))))
                .describe(format!("Rows of the database function `{}`", f.name))
                .args(args),
        )
    }

    fn directives(&mut self) {
        let field = || vec!["FIELD"];
        let ops = || vec!["QUERY", "MUTATION", "SUBSCRIPTION"];
        let role = || {
            InputValue::new("ifRole", Ty::named("rolesEnum"))
                .describe("If the current role is this one")
        };
        let cond = |name: &str, what: &str| Directive {
            name: name.into(),
            description: Some(what.into()),
            locations: vec!["FIELD", "FRAGMENT_SPREAD", "INLINE_FRAGMENT"],
            args: vec![
                InputValue::new("if", Ty::named("Boolean")),
                InputValue::new("ifVar", Ty::named("String"))
                    .describe("The name of a boolean variable"),
                role(),
            ],
            repeatable: false,
        };
        let mut constraint_args = vec![
            InputValue::new("variable", Ty::non_null("String"))
                .describe("The variable the rules apply to"),
        ];
        for (name, ty) in [
            ("required", Ty::named("Boolean")),
            ("notNull", Ty::named("Boolean")),
            ("min", Ty::named("Float")),
            ("max", Ty::named("Float")),
            ("greaterThan", Ty::named("Float")),
            ("greaterThanOrEquals", Ty::named("Float")),
            ("lessThan", Ty::named("Float")),
            ("lessThanOrEquals", Ty::named("Float")),
            ("equals", Ty::named("String")),
            ("notEquals", Ty::named("String")),
            ("oneOf", Ty::List(Box::new(Ty::named("String")))),
            ("format", Ty::named("String")),
            ("equalsField", Ty::named("String")),
            ("notEqualsField", Ty::named("String")),
            ("requiredWith", Ty::List(Box::new(Ty::named("String")))),
            ("requiredWithout", Ty::List(Box::new(Ty::named("String")))),
        ] {
            constraint_args.push(InputValue::new(name, ty));
        }
        let mut list = vec![
            cond(
                "include",
                "Include the field if the condition holds (for other roles: null)",
            ),
            cond(
                "skip",
                "Skip the field if the condition holds (for other roles: null)",
            ),
            Directive {
                name: "add".into(),
                description: Some("Add the field only for this role".into()),
                locations: field(),
                args: vec![role()],
                repeatable: false,
            },
            Directive {
                name: "remove".into(),
                description: Some("Remove the field for this role".into()),
                locations: field(),
                args: vec![role()],
                repeatable: false,
            },
            Directive {
                name: "object".into(),
                description: Some("Return one object instead of a list".into()),
                locations: field(),
                args: Vec::new(),
                repeatable: false,
            },
            Directive {
                name: "through".into(),
                description: Some(
                    "Use this table as the join table between the field and its parent".into(),
                ),
                locations: field(),
                args: vec![InputValue::new("table", Ty::non_null("String"))],
                repeatable: false,
            },
            Directive {
                name: "notRelated".into(),
                description: Some(
                    "Select this table on its own, not related to the parent field".into(),
                ),
                locations: field(),
                args: Vec::new(),
                repeatable: false,
            },
            Directive {
                name: "schema".into(),
                description: Some("The database schema the table is in".into()),
                locations: field(),
                args: vec![InputValue::new("name", Ty::non_null("String"))],
                repeatable: false,
            },
            Directive {
                name: "cacheControl".into(),
                description: Some("The Cache-Control header sent with the result".into()),
                locations: ops(),
                args: vec![
                    InputValue::new("maxAge", Ty::named("Int")),
                    InputValue::new("scope", Ty::named("String")),
                ],
                repeatable: false,
            },
        ];
        for name in ["constraint", "validate"] {
            list.push(Directive {
                name: name.into(),
                description: Some("Rules an input variable must meet".into()),
                locations: ops(),
                args: constraint_args.clone(),
                repeatable: true,
            });
        }
        list.push(Directive {
            name: "deprecated".into(),
            description: Some("Marks an element of a GraphQL schema as no longer supported".into()),
            locations: vec![
                "FIELD_DEFINITION",
                "ARGUMENT_DEFINITION",
                "INPUT_FIELD_DEFINITION",
                "ENUM_VALUE",
            ],
            args: vec![InputValue {
                default_value: Some("\"No longer supported\"".into()),
                ..InputValue::new("reason", Ty::named("String"))
            }],
            repeatable: false,
        });
        self.schema.directives = list;
    }
}
