//! Reading `config/db.graphql` into a [`DbSchema`].
//!
//! The file is GraphQL SDL (parsed with `graphql-parser`) preceded by a
//! `# dbinfo:<dbtype>,<server_version_num>,<schema>` line. Every `type` is a table, view
//! or materialized view, or, with `@function(...)`, a database function. The reader checks
//! everything the compiler relies on (known directives and arguments, unique names,
//! `@relation` targets that exist) and reports problems as [`SchemaError`]s that carry the
//! line and column of the offending type, field or directive.
//!
//! Enum types and domains are recorded in comment lines that start the line (an extension
//! of GraphJin's format that GraphJin itself skips as comments):
//!
//! ```text
//! # enum:order_status ["pending","shipped","on hold"]
//! # enum:sales.priority ["low","high"]
//! # domain:positive_int Integer
//! # domain:tag_list [Text]
//! ```
//!
//! The name is `[schema.]name`, each part a GraphQL name or a JSON string; an enum's labels
//! are a JSON array of strings, exact and in the database's sort order; a domain's base is
//! a type in the form columns use. Columns name both in GraphJin's form
//! (`status: Order_status`, `score: Positive_int`).

use std::collections::HashMap;
use std::fmt;

use graphql_parser::Pos;
use graphql_parser::schema::{
    Definition, Directive, Field, ObjectType, Type, TypeDefinition, TypeExtension, Value,
};

use crate::schema::model::{
    Column, DbSchema, Domain, EnumType, ForeignKey, Function, FunctionArg, Table,
};

/// Deepest bracket nesting accepted before handing the text to the GraphQL parser (which
/// recurses on nesting); real files never go beyond 3.
const MAX_NESTING: usize = 64;

/// A problem in `db.graphql`, with the 1-based line and column where it was found.
///
/// Displays as `db.graphql:LINE:COL: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("db.graphql:{line}:{col}: {message}")]
pub struct SchemaError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl SchemaError {
    /// An error at `line:col`.
    pub fn new(line: u32, col: u32, message: impl Into<String>) -> Self {
        SchemaError {
            line,
            col,
            message: message.into(),
        }
    }

    /// The `(line, col)` position of the error, both 1-based.
    pub fn position(&self) -> (u32, u32) {
        (self.line, self.col)
    }

    fn at(pos: Pos, message: impl Into<String>) -> Self {
        SchemaError::new(to_u32(pos.line), to_u32(pos.column), message)
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Parses the text of a `db.graphql` file.
///
/// Tables and functions come back in file order. Never panics: any problem, from a
/// syntax error to a `@relation` naming a column that does not exist, is a
/// [`SchemaError`].
pub fn parse_schema(src: &str) -> Result<DbSchema, SchemaError> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let (db_type, version, schema) = parse_dbinfo(src)?;
    let mut out = DbSchema {
        db_type,
        version,
        schema,
        tables: Vec::new(),
        functions: Vec::new(),
        enums: Vec::new(),
        domains: Vec::new(),
    };
    parse_records(src, &mut out)?;
    if only_comments(src) {
        return Ok(out);
    }
    check_nesting(src)?;
    let doc = graphql_parser::parse_schema::<String>(src).map_err(syntax_error)?;

    let mut reader = Reader::default();
    for def in &doc.definitions {
        match def {
            Definition::TypeDefinition(TypeDefinition::Object(obj)) => {
                reader.object(obj, &mut out)?
            }
            other => {
                let (pos, what) = describe_definition(other);
                return Err(SchemaError::at(
                    pos,
                    format!(
                        "{what} is not allowed in db.graphql: only `type` definitions \
                         (tables, views and `@function` types) may appear"
                    ),
                ));
            }
        }
    }
    reader.check_relations(&out)?;
    Ok(out)
}

/// Positions remembered while reading, for errors found after the whole file is read.
#[derive(Default)]
struct Reader {
    /// Type name -> where it was defined.
    types: HashMap<String, Pos>,
    /// Position of each table field, parallel to `DbSchema::tables[i].columns`.
    column_pos: Vec<Vec<Pos>>,
}

impl Reader {
    fn object(
        &mut self,
        obj: &ObjectType<'_, String>,
        out: &mut DbSchema,
    ) -> Result<(), SchemaError> {
        if let Some(first) = self.types.get(&obj.name) {
            return Err(SchemaError::at(
                obj.position,
                format!(
                    "duplicate type `{}` (first defined at {}:{}); every table, view and \
                     function needs its own name",
                    obj.name, first.line, first.column
                ),
            ));
        }
        self.types.insert(obj.name.clone(), obj.position);
        if let Some(iface) = obj.implements_interfaces.first() {
            return Err(SchemaError::at(
                obj.position,
                format!(
                    "type `{}` implements `{iface}`: db.graphql types cannot implement interfaces",
                    obj.name
                ),
            ));
        }

        let mut schema: Option<String> = None;
        let mut function: Option<(String, bool)> = None;
        let mut seen = Seen::default();
        for d in &obj.directives {
            seen.check(d, &format!("type `{}`", obj.name))?;
            match d.name.as_str() {
                "schema" => {
                    let mut args = Args::new(d, &["name"])?;
                    schema = Some(args.name("name", "@schema(name: sales)")?);
                }
                "function" => {
                    let mut args = Args::new(d, &["return_type", "set"])?;
                    let ret =
                        args.name("return_type", "@function(return_type: Record, set: true)")?;
                    let set = args.opt_bool("set")?.unwrap_or(false);
                    function = Some((ret, set));
                }
                other => {
                    return Err(SchemaError::at(
                        d.position,
                        format!(
                            "unknown directive @{other} on type `{}`; types take @schema(name: ...) \
                             and, for functions, @function(return_type: ..., set: ...)",
                            obj.name
                        ),
                    ));
                }
            }
        }

        match function {
            Some((return_type, returns_set)) => {
                let f = self.function(obj, schema, return_type, returns_set)?;
                out.functions.push(f);
            }
            None => {
                let (t, pos) = self.table(obj, schema)?;
                out.tables.push(t);
                self.column_pos.push(pos);
            }
        }
        Ok(())
    }

    fn table(
        &mut self,
        obj: &ObjectType<'_, String>,
        schema: Option<String>,
    ) -> Result<(Table, Vec<Pos>), SchemaError> {
        let mut columns = Vec::with_capacity(obj.fields.len());
        let mut positions = Vec::with_capacity(obj.fields.len());
        let mut names: HashMap<&str, Pos> = HashMap::new();
        for field in &obj.fields {
            let what = format!("column `{}.{}`", obj.name, field.name);
            if let Some(first) = names.insert(&field.name, field.position) {
                return Err(SchemaError::at(
                    field.position,
                    format!(
                        "duplicate column `{}` in type `{}` (first defined at {}:{})",
                        field.name, obj.name, first.line, first.column
                    ),
                ));
            }
            no_arguments(field, &what)?;
            let ft = field_type(&field.field_type, field.position, &what)?;
            let mut col = Column {
                name: field.name.clone(),
                ty: ft.name,
                array: ft.array,
                not_null: ft.not_null,
                ..Column::default()
            };
            let mut seen = Seen::default();
            for d in &field.directives {
                seen.check(d, &what)?;
                match d.name.as_str() {
                    "id" => {
                        Args::new(d, &[])?;
                        col.primary_key = true;
                    }
                    "unique" => {
                        Args::new(d, &[])?;
                        col.unique = true;
                    }
                    "search" => {
                        Args::new(d, &[])?;
                        col.full_text = true;
                    }
                    "blocked" => {
                        Args::new(d, &[])?;
                        col.blocked = true;
                    }
                    "type" => {
                        let mut args = Args::new(d, &["args"])?;
                        col.type_args = Some(args.string("args", "@type(args: \"7,1\")")?);
                    }
                    "relation" => {
                        let mut args = Args::new(d, &["type", "field", "schema"])?;
                        let example = "@relation(type: users, field: id)";
                        let table = args.name("type", example)?;
                        let column = args.name("field", example)?;
                        let schema = args.opt_name("schema")?;
                        col.foreign_key = Some(ForeignKey {
                            table,
                            column,
                            schema,
                        });
                    }
                    other => {
                        return Err(SchemaError::at(
                            d.position,
                            format!(
                                "unknown directive @{other} on {what}; columns take @id, @unique, \
                                 @search, @blocked, @type(args: ...) and @relation(type: ..., field: ...)"
                            ),
                        ));
                    }
                }
            }
            columns.push(col);
            positions.push(field.position);
        }
        let table = Table {
            name: obj.name.clone(),
            schema,
            columns,
        };
        Ok((table, positions))
    }

    fn function(
        &mut self,
        obj: &ObjectType<'_, String>,
        schema: Option<String>,
        return_type: String,
        returns_set: bool,
    ) -> Result<Function, SchemaError> {
        let mut f = Function {
            name: obj.name.clone(),
            schema,
            return_type,
            returns_set,
            inputs: Vec::new(),
            outputs: Vec::new(),
        };
        let mut input_names: HashMap<&str, Pos> = HashMap::new();
        let mut output_names: HashMap<&str, Pos> = HashMap::new();
        for field in &obj.fields {
            let what = format!("argument `{}` of function `{}`", field.name, obj.name);
            no_arguments(field, &what)?;
            let ft = field_type(&field.field_type, field.position, &what)?;
            if ft.not_null {
                return Err(SchemaError::at(
                    field.position,
                    format!(
                        "{what} is marked `!`: function arguments and outputs cannot be NOT NULL"
                    ),
                ));
            }
            let mut arg = FunctionArg {
                name: field.name.clone(),
                ty: ft.name,
                type_args: None,
                array: ft.array,
            };
            let mut input = false;
            let mut output = false;
            let mut seen = Seen::default();
            for d in &field.directives {
                seen.check(d, &what)?;
                match d.name.as_str() {
                    "input" => {
                        Args::new(d, &[])?;
                        input = true;
                    }
                    "output" => {
                        Args::new(d, &[])?;
                        output = true;
                    }
                    "type" => {
                        let mut args = Args::new(d, &["args"])?;
                        arg.type_args = Some(args.string("args", "@type(args: \"7,1\")")?);
                    }
                    other => {
                        return Err(SchemaError::at(
                            d.position,
                            format!(
                                "unknown directive @{other} on {what}; function fields take \
                                 @input or @output, and @type(args: ...)"
                            ),
                        ));
                    }
                }
            }
            let (names, kind) = match (input, output) {
                (true, false) => (&mut input_names, "input"),
                (false, true) => (&mut output_names, "output"),
                (true, true) => {
                    return Err(SchemaError::at(
                        field.position,
                        format!(
                            "{what} has both @input and @output; an INOUT argument is written \
                             twice, once with each"
                        ),
                    ));
                }
                (false, false) => {
                    return Err(SchemaError::at(
                        field.position,
                        format!("{what} needs @input (an argument) or @output (a result column)"),
                    ));
                }
            };
            if let Some(first) = names.insert(&field.name, field.position) {
                return Err(SchemaError::at(
                    field.position,
                    format!(
                        "duplicate {kind} `{}` in function `{}` (first defined at {}:{})",
                        field.name, obj.name, first.line, first.column
                    ),
                ));
            }
            if input {
                f.inputs.push(arg);
            } else {
                f.outputs.push(arg);
            }
        }
        Ok(f)
    }

    /// Every `@relation` must name a table (in the same schema) and a column of it that the
    /// file defines.
    fn check_relations(&self, s: &DbSchema) -> Result<(), SchemaError> {
        let default = s.schema.as_str();
        for (ti, t) in s.tables.iter().enumerate() {
            for (ci, c) in t.columns.iter().enumerate() {
                let Some(fk) = &c.foreign_key else { continue };
                let pos = self.column_pos[ti][ci];
                let fk_schema = fk.schema.as_deref().unwrap_or(default);
                let target = s.tables.iter().find(|x| {
                    x.name == fk.table && x.schema.as_deref().unwrap_or(default) == fk_schema
                });
                let Some(target) = target else {
                    let in_schema = if fk.schema.is_some() {
                        format!(" in schema `{fk_schema}`")
                    } else {
                        String::new()
                    };
                    return Err(SchemaError::at(
                        pos,
                        format!(
                            "@relation on `{}.{}` points to table `{}`{in_schema}, which is not \
                             defined in this file; add `type {} {{ ... }}` or fix the relation",
                            t.name, c.name, fk.table, fk.table
                        ),
                    ));
                };
                if target.column(&fk.column).is_none() {
                    return Err(SchemaError::at(
                        pos,
                        format!(
                            "@relation on `{}.{}` points to column `{}.{}`, but table `{}` has no \
                             column `{}`",
                            t.name, c.name, fk.table, fk.column, fk.table, fk.column
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A decoded field type: `T`, `T!`, `[T]` or `[T]!`.
struct FieldType {
    name: String,
    array: bool,
    not_null: bool,
}

fn field_type(ty: &Type<'_, String>, pos: Pos, what: &str) -> Result<FieldType, SchemaError> {
    let (inner, not_null) = match ty {
        Type::NonNullType(inner) => (inner.as_ref(), true),
        other => (other, false),
    };
    match inner {
        Type::NamedType(name) => Ok(FieldType {
            name: name.clone(),
            array: false,
            not_null,
        }),
        Type::ListType(elem) => match elem.as_ref() {
            Type::NamedType(name) => Ok(FieldType {
                name: name.clone(),
                array: true,
                not_null,
            }),
            Type::NonNullType(_) => Err(SchemaError::at(
                pos,
                format!("{what} has a `!` inside the list; write `[T]` or `[T]!` instead"),
            )),
            Type::ListType(_) => Err(SchemaError::at(
                pos,
                format!(
                    "{what} is a nested list; a PostgreSQL array of any dimension is written `[T]`"
                ),
            )),
        },
        // `T!!` cannot be produced by the grammar, but stay total.
        Type::NonNullType(_) => Err(SchemaError::at(pos, format!("{what} has a doubled `!`"))),
    }
}

fn no_arguments(field: &Field<'_, String>, what: &str) -> Result<(), SchemaError> {
    match field.arguments.first() {
        None => Ok(()),
        Some(arg) => Err(SchemaError::at(
            arg.position,
            format!(
                "{what} has an argument list; db.graphql fields take none (write `{}: Type`)",
                field.name
            ),
        )),
    }
}

/// Rejects a directive used twice on the same type or field.
#[derive(Default)]
struct Seen {
    names: Vec<String>,
}

impl Seen {
    fn check(&mut self, d: &Directive<'_, String>, what: &str) -> Result<(), SchemaError> {
        if self.names.contains(&d.name) {
            return Err(SchemaError::at(
                d.position,
                format!("@{} is repeated on {what}; give it once", d.name),
            ));
        }
        self.names.push(d.name.clone());
        Ok(())
    }
}

/// A directive's arguments, checked against the names it accepts.
struct Args<'r, 'a> {
    directive: &'r Directive<'a, String>,
    values: Vec<(&'r str, &'r Value<'a, String>)>,
}

impl<'r, 'a> Args<'r, 'a> {
    fn new(directive: &'r Directive<'a, String>, allowed: &[&str]) -> Result<Self, SchemaError> {
        let mut values: Vec<(&'r str, &'r Value<'a, String>)> = Vec::new();
        for (name, value) in &directive.arguments {
            if !allowed.contains(&name.as_str()) {
                let expected = if allowed.is_empty() {
                    format!("@{} takes no arguments", directive.name)
                } else {
                    let list: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
                    format!("@{} takes {}", directive.name, list.join(", "))
                };
                return Err(SchemaError::at(
                    directive.position,
                    format!(
                        "unknown argument `{name}` on @{}: {expected}",
                        directive.name
                    ),
                ));
            }
            if values.iter().any(|(n, _)| n == name) {
                return Err(SchemaError::at(
                    directive.position,
                    format!("argument `{name}` is repeated on @{}", directive.name),
                ));
            }
            values.push((name.as_str(), value));
        }
        Ok(Args { directive, values })
    }

    fn take(&mut self, name: &str) -> Option<&'r Value<'a, String>> {
        let i = self.values.iter().position(|(n, _)| *n == name)?;
        Some(self.values.remove(i).1)
    }

    fn err(&self, message: String) -> SchemaError {
        SchemaError::at(self.directive.position, message)
    }

    fn missing(&self, name: &str, example: &str) -> SchemaError {
        self.err(format!(
            "@{} needs `{name}:`, e.g. {example}",
            self.directive.name
        ))
    }

    /// A name, written bare (`users`) or quoted (`"users"`).
    fn opt_name(&mut self, name: &str) -> Result<Option<String>, SchemaError> {
        let Some(v) = self.take(name) else {
            return Ok(None);
        };
        match v {
            Value::Enum(s) | Value::String(s) if !s.is_empty() => Ok(Some(s.clone())),
            _ => Err(self.err(format!(
                "@{}({name}:) expects a name such as `users`, found {}",
                self.directive.name,
                describe_value(v)
            ))),
        }
    }

    fn name(&mut self, name: &str, example: &str) -> Result<String, SchemaError> {
        self.opt_name(name)?
            .ok_or_else(|| self.missing(name, example))
    }

    fn string(&mut self, name: &str, example: &str) -> Result<String, SchemaError> {
        match self.take(name) {
            None => Err(self.missing(name, example)),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(self.err(format!(
                "@{}({name}:) expects a string, e.g. {example}, found {}",
                self.directive.name,
                describe_value(v)
            ))),
        }
    }

    fn opt_bool(&mut self, name: &str) -> Result<Option<bool>, SchemaError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.err(format!(
                "@{}({name}:) expects `true` or `false`, found {}",
                self.directive.name,
                describe_value(v)
            ))),
        }
    }
}

fn describe_value(v: &Value<'_, String>) -> String {
    match v {
        Value::Variable(n) => format!("the variable `${n}`"),
        Value::Int(n) => match n.as_i64() {
            Some(i) => format!("the number {i}"),
            None => "a number".to_string(),
        },
        Value::Float(f) => format!("the number {f}"),
        Value::String(s) if s.is_empty() => "an empty string".to_string(),
        Value::String(s) => format!("the string {s:?}"),
        Value::Boolean(b) => format!("`{b}`"),
        Value::Null => "`null`".to_string(),
        Value::Enum(e) => format!("`{e}`"),
        Value::List(_) => "a list".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

fn describe_definition(def: &Definition<'_, String>) -> (Pos, &'static str) {
    match def {
        Definition::SchemaDefinition(d) => (d.position, "a `schema` definition"),
        Definition::DirectiveDefinition(d) => (d.position, "a `directive` definition"),
        Definition::TypeDefinition(t) => match t {
            TypeDefinition::Scalar(d) => (d.position, "a `scalar` definition"),
            TypeDefinition::Object(d) => (d.position, "a `type` definition"),
            TypeDefinition::Interface(d) => (d.position, "an `interface` definition"),
            TypeDefinition::Union(d) => (d.position, "a `union` definition"),
            TypeDefinition::Enum(d) => (d.position, "an `enum` definition"),
            TypeDefinition::InputObject(d) => (d.position, "an `input` definition"),
        },
        Definition::TypeExtension(t) => match t {
            TypeExtension::Scalar(d) => (d.position, "an `extend scalar`"),
            TypeExtension::Object(d) => (d.position, "an `extend type`"),
            TypeExtension::Interface(d) => (d.position, "an `extend interface`"),
            TypeExtension::Union(d) => (d.position, "an `extend union`"),
            TypeExtension::Enum(d) => (d.position, "an `extend enum`"),
            TypeExtension::InputObject(d) => (d.position, "an `extend input`"),
        },
    }
}

/// Reads the `# enum:` and `# domain:` lines.
fn parse_records(src: &str, out: &mut DbSchema) -> Result<(), SchemaError> {
    let mut seen: HashMap<(Option<String>, String), u32> = HashMap::new();
    for (i, line) in src.lines().enumerate() {
        let n = to_u32(i + 1);
        let (kind, rest) = if let Some(rest) = line.strip_prefix("# enum:") {
            ("enum", rest)
        } else if let Some(rest) = line.strip_prefix("# domain:") {
            ("domain", rest)
        } else {
            continue;
        };
        let mut cur = Cursor {
            line: n,
            text: rest,
            at: 0,
            base: line.chars().count() - rest.chars().count() + 1,
        };
        let example = if kind == "enum" {
            "# enum:order_status [\"pending\",\"shipped\"]"
        } else {
            "# domain:positive_int Integer"
        };
        let first = cur.name_part(kind, example)?;
        let (schema, name) = if cur.eat('.') {
            (Some(first), cur.name_part(kind, example)?)
        } else {
            (None, first)
        };
        if let Some(prev) = seen.insert((schema.clone(), name.clone()), n) {
            return Err(cur.err(
                0,
                format!(
                    "`{name}` is recorded twice (first on line {prev}); an enum or domain is \
                     recorded once"
                ),
            ));
        }
        if !cur.eat(' ') {
            return Err(cur.err(
                cur.at,
                format!("expected a space after the {kind}'s name, as in `{example}`"),
            ));
        }
        let value = cur.text[cur.at..].trim();
        if kind == "enum" {
            let labels: Vec<String> = serde_json::from_str(value).map_err(|e| {
                cur.err(
                    cur.at,
                    format!(
                        "the labels of enum `{name}` must be a JSON array of strings, as in \
                         `{example}`: {e}"
                    ),
                )
            })?;
            out.enums.push(EnumType {
                name,
                schema,
                labels,
            });
        } else {
            let (base, array) = match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
                Some(inner) => (inner, true),
                None => (value, false),
            };
            if !crate::schema::write::is_graphql_name(base) {
                return Err(cur.err(
                    cur.at,
                    format!(
                        "the base type of domain `{name}` must be a type such as `Integer` or \
                         `[Text]`, found `{value}`"
                    ),
                ));
            }
            out.domains.push(Domain {
                name,
                schema,
                base: base.to_string(),
                array,
            });
        }
    }
    Ok(())
}

/// Reading one `# enum:` / `# domain:` line.
struct Cursor<'s> {
    line: u32,
    text: &'s str,
    /// Byte offset in `text`.
    at: usize,
    /// Column (1-based, in characters) where `text` starts.
    base: usize,
}

impl Cursor<'_> {
    fn err(&self, at: usize, message: String) -> SchemaError {
        let col = self.base + self.text[..at.min(self.text.len())].chars().count();
        SchemaError::new(self.line, to_u32(col), message)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.text[self.at..].starts_with(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// A GraphQL name, or a JSON string.
    fn name_part(&mut self, kind: &str, example: &str) -> Result<String, SchemaError> {
        let rest = &self.text[self.at..];
        if rest.starts_with('"') {
            let mut escaped = false;
            let end = rest.char_indices().skip(1).find_map(|(i, c)| {
                let end = !escaped && c == '"';
                escaped = !escaped && c == '\\';
                end.then_some(i)
            });
            let name = end.and_then(|end| serde_json::from_str::<String>(&rest[..=end]).ok());
            return match (end, name) {
                (Some(end), Some(name)) if !name.is_empty() => {
                    self.at += end + 1;
                    Ok(name)
                }
                _ => Err(self.err(
                    self.at,
                    format!("the {kind}'s name is not a valid JSON string"),
                )),
            };
        }
        let len = rest
            .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
            .unwrap_or(rest.len());
        let name = &rest[..len];
        if !crate::schema::write::is_graphql_name(name) {
            return Err(self.err(
                self.at,
                format!("expected the {kind}'s name, as in `{example}`"),
            ));
        }
        self.at += len;
        Ok(name.to_string())
    }
}

/// Reads `# dbinfo:<dbtype>,<server_version_num>,<schema>` from the first non-blank line.
fn parse_dbinfo(src: &str) -> Result<(String, u32, String), SchemaError> {
    const EXAMPLE: &str = "# dbinfo:postgres,150004,public";
    // The first line that is not blank (GraphJin itself once wrote a leading empty line).
    let (n, line) = src
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty())
        .unwrap_or((0, ""));
    let n = to_u32(n + 1);
    let rest = line
        .strip_prefix('#')
        .map(|r| r.trim_start())
        .and_then(|r| r.strip_prefix("dbinfo:"));
    let Some(rest) = rest else {
        return Err(SchemaError::new(
            n,
            1,
            format!(
                "the first line must be the dbinfo line `{EXAMPLE}` (database type, \
                 server_version_num, default schema); pull the schema again or add it"
            ),
        ));
    };
    // Column (1-based, in characters) where `rest` starts.
    let base = line.chars().count() - rest.chars().count() + 1;
    let parts: Vec<&str> = rest.split(',').collect();
    if parts.len() != 3 {
        return Err(SchemaError::new(
            n,
            to_u32(base),
            format!(
                "garbled dbinfo line: expected 3 comma-separated values `<dbtype>,<version>,<schema>` \
                 as in `{EXAMPLE}`, found {}",
                parts.len()
            ),
        ));
    }
    let mut col = base;
    let mut fields = Vec::with_capacity(3);
    for part in &parts {
        fields.push((col, part.trim()));
        col += part.chars().count() + 1;
    }
    let (type_col, db_type) = fields[0];
    let (version_col, version) = fields[1];
    let (schema_col, schema) = fields[2];
    if db_type.is_empty() || db_type.contains(char::is_whitespace) {
        return Err(SchemaError::new(
            n,
            to_u32(type_col),
            format!(
                "garbled dbinfo line: the database type must be a word such as `postgres` (`{EXAMPLE}`)"
            ),
        ));
    }
    let version: u32 = version.parse().map_err(|_| {
        SchemaError::new(
            n,
            to_u32(version_col),
            format!(
                "garbled dbinfo line: the server version `{version}` is not a number such as \
                 150004 (PostgreSQL's server_version_num)"
            ),
        )
    })?;
    if schema.is_empty() || schema.contains(char::is_whitespace) {
        return Err(SchemaError::new(
            n,
            to_u32(schema_col),
            format!(
                "garbled dbinfo line: the default schema must be a name such as `public` (`{EXAMPLE}`)"
            ),
        ));
    }
    Ok((db_type.to_string(), version, schema.to_string()))
}

/// True when the text holds nothing but comments, whitespace and commas (a schema with
/// no tables or functions, which the GraphQL grammar itself would reject as empty).
fn only_comments(src: &str) -> bool {
    src.lines().all(|l| {
        let t = l.trim_matches(|c: char| c.is_whitespace() || c == ',' || c == '\u{feff}');
        t.is_empty() || t.starts_with('#')
    })
}

/// Rejects absurd bracket nesting before the recursive GraphQL parser sees it.
///
/// Scans bytes: every character that matters (brackets, quotes, `#`, `\\`, newlines) is
/// ASCII; columns count characters, not bytes.
fn check_nesting(src: &str) -> Result<(), SchemaError> {
    let b = src.as_bytes();
    let mut depth = 0usize;
    let (mut line, mut col) = (1u32, 0u32);
    let mut i = 0;
    // Advances over byte `i`, keeping line and column up to date.
    let step = |i: &mut usize, line: &mut u32, col: &mut u32| {
        if b[*i] == b'\n' {
            *line = line.saturating_add(1);
            *col = 0;
        } else if b[*i] & 0xC0 != 0x80 {
            *col = col.saturating_add(1);
        }
        *i += 1;
    };
    while i < b.len() {
        let c = b[i];
        step(&mut i, &mut line, &mut col);
        match c {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    step(&mut i, &mut line, &mut col);
                }
            }
            b'"' if b[i..].starts_with(b"\"\"") => {
                // Block string: skip to a closing `"""` not preceded by a backslash.
                step(&mut i, &mut line, &mut col);
                step(&mut i, &mut line, &mut col);
                while i < b.len() && !(b[i..].starts_with(b"\"\"\"") && b[i - 1] != b'\\') {
                    step(&mut i, &mut line, &mut col);
                }
                for _ in 0..3 {
                    if i < b.len() {
                        step(&mut i, &mut line, &mut col);
                    }
                }
            }
            b'"' => {
                let mut escaped = false;
                while i < b.len() && b[i] != b'\n' {
                    let n = b[i];
                    step(&mut i, &mut line, &mut col);
                    if n == b'"' && !escaped {
                        break;
                    }
                    escaped = !escaped && n == b'\\';
                }
            }
            b'[' | b'(' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(SchemaError::new(
                        line,
                        col,
                        format!("brackets nested more than {MAX_NESTING} deep"),
                    ));
                }
            }
            b']' | b')' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Turns graphql-parser's error (`schema parse error: Parse error at 3:5\nUnexpected ...`)
/// into a positioned [`SchemaError`].
fn syntax_error(e: impl fmt::Display) -> SchemaError {
    let text = e.to_string();
    let mut line = 1;
    let mut col = 1;
    let mut details = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if i == 0 {
            if let Some((_, at)) = l.rsplit_once(" at ")
                && let Some((l_str, c_str)) = at.trim().split_once(':')
                && let (Ok(l), Ok(c)) = (l_str.parse(), c_str.parse())
            {
                line = l;
                col = c;
                continue;
            }
            details.push(
                l.trim()
                    .trim_start_matches("schema parse error:")
                    .trim()
                    .to_string(),
            );
        } else if !l.trim().is_empty() {
            details.push(l.trim().to_string());
        }
    }
    let details = details
        .iter()
        .map(|d| {
            let d = d.replace("[Name]", "").replace("[Punctuator]", "");
            if let Some(rest) = d.strip_prefix("Unexpected ") {
                format!("unexpected {rest}")
            } else if let Some(rest) = d.strip_prefix("Expected ") {
                format!("expected {rest}")
            } else {
                d
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    SchemaError::new(line, col, format!("syntax error: {details}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"# dbinfo:postgres,150004,public

type products {
  id: Bigint! @id @unique
  name: Text
  tags: [Text]
  country_code: CharacterVarying @type(args: "3")
  price: Numeric @type(args: "7,1")
  owner_id: Bigint @relation(type: users, field: id)
  tsv: Tsvector @search
  category_ids: [Bigint]!
  created_at: TimestampWithTimeZone!
}

type users {
  id: Bigint! @id @unique
  email: Text! @unique
  secret: Text @blocked
}

type audit_log @schema(name: audit) {
  id: Bigint! @id
  user_id: Bigint @relation(type: users, field: id, schema: public)
}

type get_oldest_users @function(return_type: Record, set: true) {
  user_count: Integer @input
  tag: Text @input
  tag_name: Text @output
  id: Bigint @output
}
"#;

    fn err(src: &str) -> SchemaError {
        match parse_schema(src) {
            Ok(s) => panic!("expected an error, parsed {s:?}"),
            Err(e) => e,
        }
    }

    fn with_header(body: &str) -> String {
        format!("# dbinfo:postgres,150004,public\n{body}")
    }

    #[test]
    fn enum_and_domain_lines() {
        let s = parse_schema(&with_header(
            "# enum:order_status [\"pending\", \"on hold\"]\n\
             # domain:\"my schema\".score [Integer]\n\
             #enum:not_a_record [\"x\"]\n\
             type t {\n  # enum:inside [\"ignored\"]\n  s: Order_status\n}\n",
        ))
        .unwrap();
        assert_eq!(s.enums.len(), 1);
        assert_eq!(s.enums[0].labels, ["pending", "on hold"]);
        assert_eq!(s.domains[0].schema.as_deref(), Some("my schema"));
        assert!(s.domains[0].array && s.domains[0].base == "Integer");
        // Only records: the schema is otherwise comments.
        let s = parse_schema(&with_header("# enum:e []\n")).unwrap();
        assert!(s.enums[0].labels.is_empty() && s.tables.is_empty());

        let e = err(&with_header("# enum:e [\"a\", 1]\n"));
        assert_eq!(e.position(), (2, 10), "{e}");
        assert!(e.message.contains("JSON array of strings"), "{e}");
        let e = err(&with_header("# enum:e\n"));
        assert!(e.message.contains("expected a space"), "{e}");
        let e = err(&with_header("# enum: e [\"a\"]\n"));
        assert_eq!(e.position(), (2, 8), "{e}");
        let e = err(&with_header("# domain:d Not-A-Type\n"));
        assert!(e.message.contains("base type of domain `d`"), "{e}");
        let e = err(&with_header("# enum:e [\"a\"]\n# domain:e Text\n"));
        assert_eq!(e.position(), (3, 10), "{e}");
        assert!(
            e.message.contains("recorded twice (first on line 2)"),
            "{e}"
        );
        let e = err(&with_header("# enum:\"unterminated\n"));
        assert!(e.message.contains("not a valid JSON string"), "{e}");
    }

    #[test]
    fn reads_the_sample() {
        let s = parse_schema(SAMPLE).unwrap();
        assert_eq!(s.db_type, "postgres");
        assert_eq!(s.version, 150004);
        assert_eq!(s.schema, "public");
        assert_eq!(s.tables.len(), 3);
        let p = s.table("products").unwrap();
        assert_eq!(p.columns.len(), 9);
        let id = p.column("id").unwrap();
        assert!(id.primary_key && id.unique && id.not_null && !id.array);
        assert_eq!(id.ty, "Bigint");
        let tags = p.column("tags").unwrap();
        assert!(tags.array && !tags.not_null);
        assert_eq!(tags.ty, "Text");
        assert_eq!(
            p.column("country_code").unwrap().type_args.as_deref(),
            Some("3")
        );
        assert_eq!(p.column("price").unwrap().type_args.as_deref(), Some("7,1"));
        assert_eq!(
            p.column("owner_id").unwrap().foreign_key,
            Some(ForeignKey {
                table: "users".into(),
                column: "id".into(),
                schema: None
            })
        );
        assert!(p.column("tsv").unwrap().full_text);
        let cat = p.column("category_ids").unwrap();
        assert!(cat.array && cat.not_null);
        assert_eq!(p.column("created_at").unwrap().ty, "TimestampWithTimeZone");
        assert!(s.table("users").unwrap().column("secret").unwrap().blocked);
        let audit = s.table("audit_log").unwrap();
        assert_eq!(audit.schema.as_deref(), Some("audit"));
        assert_eq!(
            audit
                .column("user_id")
                .unwrap()
                .foreign_key
                .as_ref()
                .unwrap()
                .schema
                .as_deref(),
            Some("public")
        );
        let f = s.function("get_oldest_users").unwrap();
        assert_eq!(f.return_type, "Record");
        assert!(f.returns_set);
        let names = |a: &[FunctionArg]| a.iter().map(|x| x.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&f.inputs), ["user_count", "tag"]);
        assert_eq!(names(&f.outputs), ["tag_name", "id"]);
        assert_eq!(f.inputs[0].ty, "Integer");
    }

    #[test]
    fn header_only_is_an_empty_schema() {
        let s = parse_schema("# dbinfo:postgres,150004,public\n").unwrap();
        assert!(s.tables.is_empty() && s.functions.is_empty());
        let s = parse_schema("# dbinfo:postgres,1,app\n\n# nothing yet\n").unwrap();
        assert_eq!(s.schema, "app");
    }

    #[test]
    fn types_without_fields_and_quoted_names() {
        let s = parse_schema(&with_header(
            "type empty\n\ntype now_ish @function(return_type: \"TimestampWithTimeZone\")\n",
        ))
        .unwrap();
        assert!(s.table("empty").unwrap().columns.is_empty());
        let f = s.function("now_ish").unwrap();
        assert_eq!(f.return_type, "TimestampWithTimeZone");
        assert!(!f.returns_set);
    }

    #[test]
    fn dbinfo_after_blank_lines() {
        let s = parse_schema("\n  \n# dbinfo:postgres,120005,public\n\ntype a {\n  x: Text\n}\n")
            .unwrap();
        assert_eq!(s.version, 120005);
        let e = err("\n\n# dbinfo:postgres,x,public\n");
        assert_eq!((e.line, e.col), (3, 19));
    }

    #[test]
    fn dbinfo_errors() {
        let e = err("type users { id: Bigint }\n");
        assert_eq!((e.line, e.col), (1, 1));
        assert!(e.message.contains("dbinfo"), "{e}");
        let e = err("");
        assert!(e.message.contains("dbinfo"), "{e}");
        let e = err("# dbinfo:postgres,150004\n");
        assert!(e.message.contains("3 comma-separated"), "{e}");
        let e = err("# dbinfo:postgres,abc,public\n");
        assert_eq!((e.line, e.col), (1, 19));
        assert!(e.message.contains("`abc`"), "{e}");
        let e = err("# dbinfo:,1,public\n");
        assert!(e.message.contains("database type"), "{e}");
        let e = err("# dbinfo:postgres,1,\n");
        assert!(e.message.contains("default schema"), "{e}");
        assert_eq!(e.to_string(), format!("db.graphql:1:21: {}", e.message));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = err(&with_header("\ntype users {\n  id Bigint\n}\n"));
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.starts_with("syntax error"), "{e}");
        let e = err(&with_header("type users {\n  id: Bigint\n"));
        assert!(e.message.starts_with("syntax error"), "{e}");
    }

    #[test]
    fn unknown_directives() {
        let e = err(&with_header("type users {\n  id: Bigint @primary\n}\n"));
        assert_eq!((e.line, e.col), (3, 14));
        assert!(
            e.message
                .contains("unknown directive @primary on column `users.id`"),
            "{e}"
        );
        let e = err(&with_header("type users @table {\n  id: Bigint\n}\n"));
        assert!(
            e.message
                .contains("unknown directive @table on type `users`"),
            "{e}"
        );
        let e = err(&with_header(
            "type f @function(return_type: Boolean) {\n  a: Text @search\n}\n",
        ));
        assert!(e.message.contains("unknown directive @search"), "{e}");
    }

    #[test]
    fn bad_directive_arguments() {
        let cases = [
            ("  id: Bigint @id(x: 1)\n", "unknown argument `x` on @id"),
            ("  id: Numeric @type(args: 7)\n", "expects a string"),
            ("  id: Numeric @type\n", "@type needs `args:`"),
            (
                "  id: Bigint @relation(type: users)\n",
                "@relation needs `field:`",
            ),
            (
                "  id: Bigint @relation(type: 1, field: id)\n",
                "expects a name",
            ),
            (
                "  id: Bigint @relation(type: users, field: id, on: x)\n",
                "unknown argument `on`",
            ),
            ("  id: Bigint @id @id\n", "@id is repeated"),
        ];
        for (field, want) in cases {
            let e = err(&with_header(&format!("type users {{\n{field}}}\n")));
            assert_eq!(e.line, 3, "{e}");
            assert!(e.message.contains(want), "{e} (wanted {want})");
        }
        let e = err(&with_header(
            "type f @function(set: true) {\n  a: Text @input\n}\n",
        ));
        assert!(e.message.contains("needs `return_type:`"), "{e}");
        let e = err(&with_header(
            "type f @function(return_type: Text, set: 1)\n",
        ));
        assert!(e.message.contains("`true` or `false`"), "{e}");
        let e = err(&with_header("type t @schema {\n  a: Text\n}\n"));
        assert!(e.message.contains("@schema needs `name:`"), "{e}");
    }

    #[test]
    fn relation_targets_must_exist() {
        let e = err(&with_header(
            "type products {\n  id: Bigint\n  owner_id: Bigint @relation(type: people, field: id)\n}\n",
        ));
        assert_eq!((e.line, e.col), (4, 3));
        assert!(e.message.contains("`products.owner_id`"), "{e}");
        assert!(e.message.contains("table `people`"), "{e}");
        let e = err(&with_header(
            "type products {\n  owner_id: Bigint @relation(type: users, field: uid)\n}\n\ntype users {\n  id: Bigint\n}\n",
        ));
        assert!(e.message.contains("`products.owner_id`"), "{e}");
        assert!(e.message.contains("column `users.uid`"), "{e}");
        // A relation to a table of another schema must name that schema.
        let e = err(&with_header(
            "type a {\n  b_id: Bigint @relation(type: b, field: id)\n}\n\ntype b @schema(name: other) {\n  id: Bigint\n}\n",
        ));
        assert!(e.message.contains("table `b`"), "{e}");
        parse_schema(&with_header(
            "type a {\n  b_id: Bigint @relation(type: b, field: id, schema: other)\n}\n\ntype b @schema(name: other) {\n  id: Bigint\n}\n",
        ))
        .unwrap();
    }

    #[test]
    fn duplicates() {
        let e = err(&with_header(
            "type a {\n  x: Text\n}\n\ntype a {\n  y: Text\n}\n",
        ));
        assert_eq!((e.line, e.col), (6, 1));
        assert!(
            e.message
                .contains("duplicate type `a` (first defined at 2:1)"),
            "{e}"
        );
        let e = err(&with_header(
            "type a {\n  x: Text\n}\n\ntype a @function(return_type: Text)\n",
        ));
        assert!(e.message.contains("duplicate type `a`"), "{e}");
        let e = err(&with_header("type a {\n  x: Text\n  x: Bigint\n}\n"));
        assert_eq!((e.line, e.col), (4, 3));
        assert!(
            e.message.contains("duplicate column `x` in type `a`"),
            "{e}"
        );
        let e = err(&with_header(
            "type f @function(return_type: Text) {\n  x: Text @input\n  x: Text @input\n}\n",
        ));
        assert!(e.message.contains("duplicate input `x`"), "{e}");
        // The same name as input and output is fine (INOUT, or `get_product(id)` returning `id`).
        parse_schema(&with_header(
            "type f @function(return_type: Text) {\n  x: Text @input\n  x: Text @output\n}\n",
        ))
        .unwrap();
    }

    #[test]
    fn shapes_that_are_not_allowed() {
        let cases = [
            ("type a {\n  x: [[Text]]\n}\n", "nested list"),
            ("type a {\n  x: [Text!]\n}\n", "inside the list"),
            ("type a {\n  x(y: Int): Text\n}\n", "argument list"),
            ("type a implements B {\n  x: Text\n}\n", "interfaces"),
            ("scalar Bigint\n", "a `scalar` definition is not allowed"),
            ("enum E { A }\n", "an `enum` definition is not allowed"),
            ("input I { a: Text }\n", "an `input` definition"),
            ("extend type a @schema(name: x)\n", "`extend type`"),
            (
                "type f @function(return_type: Text) {\n  x: Text\n}\n",
                "needs @input",
            ),
            (
                "type f @function(return_type: Text) {\n  x: Text @input @output\n}\n",
                "both",
            ),
            (
                "type f @function(return_type: Text) {\n  x: Text! @input\n}\n",
                "NOT NULL",
            ),
        ];
        for (body, want) in cases {
            let e = err(&with_header(body));
            assert!(e.line >= 2, "{e}");
            assert!(e.message.contains(want), "{e} (wanted {want})");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!(
            "type a {{\n  x: {}Text{}\n}}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let e = err(&with_header(&deep));
        assert!(e.message.contains("nested"), "{e}");
        // Brackets inside strings and comments do not count.
        let ok = format!(
            "# {}\ntype a {{\n  x: Numeric @type(args: \"{}\")\n}}\n",
            "[".repeat(100),
            "(".repeat(100)
        );
        parse_schema(&with_header(&ok)).unwrap();
    }

    #[test]
    fn keyword_like_names_are_names() {
        let s = parse_schema(&with_header(
            "type type {\n  type: Text\n  true: Boolean\n  null: Text\n  input: Text\n}\n\ntype query {\n  t: Text @relation(type: \"type\", field: \"true\")\n}\n",
        ))
        .unwrap();
        assert_eq!(s.tables[0].columns.len(), 4);
        assert_eq!(
            s.tables[1].columns[0].foreign_key.as_ref().unwrap().column,
            "true"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(body in "\\PC{0,200}") {
            let _ = parse_schema(&with_header(&body));
            let _ = parse_schema(&body);
        }

        #[test]
        fn never_panics_on_graphql_like_text(
            body in "(type|[a-z]{1,3}|@[a-z]{1,8}|[\\[\\]{}():!,\"\\\\#\n ]|[0-9]){0,60}"
        ) {
            let _ = parse_schema(&with_header(&body));
        }
    }
}
