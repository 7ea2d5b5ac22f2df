//! The database schema as the compiler sees it: what `config/db.graphql` holds.

/// A database schema snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DbSchema {
    /// The database kind from the `# dbinfo:` line (always `postgres` here).
    pub db_type: String,
    /// PostgreSQL's `server_version_num`, e.g. `150004`.
    pub version: u32,
    /// The default schema, e.g. `public`.
    pub schema: String,
    /// Tables, views and materialized views, in file order.
    pub tables: Vec<Table>,
    /// Functions, in file order.
    pub functions: Vec<Function>,
    /// Enum types the columns use (`# enum:` lines), in file order.
    pub enums: Vec<EnumType>,
    /// Domains the columns use (`# domain:` lines), in file order.
    pub domains: Vec<Domain>,
}

impl DbSchema {
    /// The table (or view) with this exact name, if any.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The function with this exact name, if any.
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The enum or domain a column of GraphJin type `ty` (`Order_status`) has, if the
    /// snapshot records one.
    pub fn user_type(&self, ty: &str) -> Option<UserType<'_>> {
        if let Some(e) = self.enums.iter().find(|e| e.type_name() == ty) {
            return Some(UserType::Enum(e));
        }
        self.domains
            .iter()
            .find(|d| d.type_name() == ty)
            .map(UserType::Domain)
    }
}

/// A type of the database's own making that a snapshot records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserType<'s> {
    /// An enum.
    Enum(&'s EnumType),
    /// A domain.
    Domain(&'s Domain),
}

impl UserType<'_> {
    /// The name to cast to in SQL (`order_status`, `sales."Level"`).
    pub fn sql_name(&self) -> String {
        match self {
            UserType::Enum(e) => sql_type_name(e.schema.as_deref(), &e.name),
            UserType::Domain(d) => sql_type_name(d.schema.as_deref(), &d.name),
        }
    }
}

/// A PostgreSQL enum (`CREATE TYPE order_status AS ENUM (...)`), written to `db.graphql` as
/// `# enum:order_status ["pending","shipped"]`; columns name it in GraphJin's form
/// (`status: Order_status`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnumType {
    /// Its name in PostgreSQL.
    pub name: String,
    /// Its schema when not the snapshot's default schema.
    pub schema: Option<String>,
    /// The labels, exactly, in the database's sort order.
    pub labels: Vec<String>,
}

impl EnumType {
    /// How columns name it: GraphJin's type name for `name` (`order_status` ->
    /// `Order_status`).
    pub fn type_name(&self) -> String {
        graphjin_type_name(&self.name)
    }
}

/// A PostgreSQL domain (`CREATE DOMAIN positive_int AS integer CHECK ...`), written as
/// `# domain:positive_int Integer`; its values are those of its base type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Domain {
    /// Its name in PostgreSQL.
    pub name: String,
    /// Its schema when not the snapshot's default schema.
    pub schema: Option<String>,
    /// The base type in GraphJin's form (`Integer`, `Order_status`, another domain).
    pub base: String,
    /// The base is an array of `base` (`[Text]`).
    pub array: bool,
}

impl Domain {
    /// How columns name it (`positive_int` -> `Positive_int`).
    pub fn type_name(&self) -> String {
        graphjin_type_name(&self.name)
    }
}

/// `schema.name` for SQL, each part double-quoted only when it must be.
pub fn sql_type_name(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(schema) => format!("{}.{}", sql_name_part(schema), sql_name_part(name)),
        None => sql_name_part(name),
    }
}

fn sql_name_part(name: &str) -> String {
    const RESERVED: &[&str] = &[
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "current_catalog",
        "current_date",
        "current_role",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lateral",
        "leading",
        "limit",
        "localtime",
        "localtimestamp",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "placing",
        "primary",
        "references",
        "returning",
        "select",
        "session_user",
        "some",
        "symmetric",
        "system_user",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    ];
    let plain = name.starts_with(|c: char| c == '_' || c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c == '_' || c.is_ascii_lowercase() || c.is_ascii_digit())
        && !RESERVED.contains(&name);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A table, view or materialized view.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// The table's name.
    pub name: String,
    /// Its schema when it is not the snapshot's default schema (`@schema(name: ...)`).
    pub schema: Option<String>,
    /// Columns in file order.
    pub columns: Vec<Column>,
}

impl Table {
    /// The column with this exact name, if any.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The primary-key column (`@id`), if the table has a single-column one.
    pub fn primary_key(&self) -> Option<&Column> {
        self.columns.iter().find(|c| c.primary_key)
    }
}

/// A column and what GraphJin records about it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Column {
    /// The column's name.
    pub name: String,
    /// The GraphJin type name in PascalCase, e.g. `Bigint`, `TimestampWithTimeZone`,
    /// `CharacterVarying`, `Numeric`, `Jsonb`, `Tsvector`.
    pub ty: String,
    /// Type arguments, e.g. `3` for `varchar(3)` or `7,1` for `numeric(7,1)` (`@type(args:)`).
    pub type_args: Option<String>,
    /// `[T]`: a PostgreSQL array of `ty`.
    pub array: bool,
    /// `!`: declared NOT NULL.
    pub not_null: bool,
    /// `@id`: part of the primary key.
    pub primary_key: bool,
    /// `@unique`: has a single-column unique constraint.
    pub unique: bool,
    /// `@search`: a `tsvector` column for full-text search.
    pub full_text: bool,
    /// `@blocked`: never exposed.
    pub blocked: bool,
    /// `@relation(type:, field:)`: a foreign key.
    pub foreign_key: Option<ForeignKey>,
}

/// The target of a foreign key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForeignKey {
    /// Target table name.
    pub table: String,
    /// Target column name.
    pub column: String,
    /// Target schema when not the default one.
    pub schema: Option<String>,
}

/// A function callable from GraphQL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Function {
    /// The function's name.
    pub name: String,
    /// Its schema when not the default one.
    pub schema: Option<String>,
    /// The return type in GraphJin's PascalCase form (`Boolean`, `Record`, a composite type...).
    pub return_type: String,
    /// True when it returns a set of rows (`SETOF` / `RETURNS TABLE`).
    pub returns_set: bool,
    /// Input arguments, in positional order.
    pub inputs: Vec<FunctionArg>,
    /// Output columns (for table-returning functions), in order.
    pub outputs: Vec<FunctionArg>,
}

/// A function argument or output column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FunctionArg {
    /// The name (`a0`, `a1`... when the database has none).
    pub name: String,
    /// The GraphJin type name in PascalCase.
    pub ty: String,
    /// Type arguments, if any.
    pub type_args: Option<String>,
    /// An array of `ty`.
    pub array: bool,
}

/// Converts a PostgreSQL type name (`timestamp with time zone`, `character varying`,
/// `bigint`, `order_status`) to GraphJin's PascalCase name (`TimestampWithTimeZone`,
/// `CharacterVarying`, `Bigint`, `Order_status`) as GraphJin writes it: each
/// space-separated word capitalized, so [`graphjin_to_pg_type`] gives the name back.
pub fn pg_to_graphjin_type(pg: &str) -> String {
    let mut out = String::new();
    for part in pg.trim().split(' ').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase());
        }
    }
    out
}

/// [`pg_to_graphjin_type`] made a GraphQL name: other characters become `_`, a leading
/// digit gets a `_` before it (`"9lives"` -> `_9lives`), nothing at all becomes `Unknown`.
pub fn graphjin_type_name(pg: &str) -> String {
    let mut ty: String = pg_to_graphjin_type(pg)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if ty.is_empty() {
        ty = "Unknown".to_string();
    } else if ty.starts_with(|c: char| c.is_ascii_digit()) {
        ty.insert(0, '_');
    }
    ty
}

/// Converts a GraphJin PascalCase type name back to the PostgreSQL name used in casts
/// (`TimestampWithTimeZone` -> `timestamp with time zone`).
pub fn graphjin_to_pg_type(gj: &str) -> String {
    let mut out = String::new();
    for (i, ch) in gj.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(ch.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for pg in [
            "bigint",
            "timestamp with time zone",
            "character varying",
            "double precision",
            "jsonb",
            "numeric",
        ] {
            assert_eq!(graphjin_to_pg_type(&pg_to_graphjin_type(pg)), pg);
        }
        assert_eq!(
            pg_to_graphjin_type("timestamp with time zone"),
            "TimestampWithTimeZone"
        );
        // GraphJin's form for names with underscores, which reads back unchanged.
        assert_eq!(pg_to_graphjin_type("order_status"), "Order_status");
        assert_eq!(graphjin_to_pg_type("Order_status"), "order_status");
        assert_eq!(graphjin_type_name("My-Type"), "My_type");
        assert_eq!(graphjin_type_name("9lives"), "_9lives");
    }

    #[test]
    fn sql_names_are_quoted_only_when_needed() {
        assert_eq!(sql_type_name(None, "order_status"), "order_status");
        assert_eq!(sql_type_name(Some("sales"), "Level"), "sales.\"Level\"");
        assert_eq!(sql_type_name(None, "user"), "\"user\"");
        assert_eq!(sql_type_name(None, "a\"b"), "\"a\"\"b\"");
    }
}
