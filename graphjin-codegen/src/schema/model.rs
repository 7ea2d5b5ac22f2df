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
/// `bigint`) to GraphJin's PascalCase name (`TimestampWithTimeZone`, `CharacterVarying`,
/// `Bigint`).
pub fn pg_to_graphjin_type(pg: &str) -> String {
    let mut out = String::new();
    for part in pg.trim().split([' ', '_']).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase());
        }
    }
    out
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
    }
}
