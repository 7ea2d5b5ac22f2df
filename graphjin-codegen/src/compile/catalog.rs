//! The compiler's view of the database: schema snapshot tables plus what the config adds
//! (aliases, JSON-column tables, undeclared foreign keys, polymorphic unions), built once per
//! build and shared by every operation and role.

use std::collections::HashMap;

use crate::config::{BuildConfig, TableConfig};
use crate::schema::model::{DbSchema, graphjin_to_pg_type};

/// The PostgreSQL name for casts of a snapshot type: a recorded enum or domain by its own
/// (possibly schema-qualified) name, anything else from GraphJin's type name.
fn cast_name(schema: &DbSchema, ty: &str) -> String {
    match schema.user_type(ty) {
        Some(user) => user.sql_name(),
        None => graphjin_to_pg_type(ty),
    }
}

/// Where a queryable table's rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableSource {
    /// A table, view or materialized view.
    Relation {
        /// Its schema, when not the default search path.
        schema: Option<String>,
        /// The real name in the database.
        name: String,
    },
    /// Rows stored as a JSON array of objects in `column` of table `host`.
    JsonColumn {
        /// The host table's query name.
        host: String,
        /// The JSON column.
        column: String,
        /// `jsonb` rather than `json`.
        binary: bool,
    },
}

/// A column as the compiler needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// PostgreSQL element type name for casts, e.g. `bigint`, `timestamp with time zone`.
    pub pg_type: String,
    /// The column is an array of `pg_type`.
    pub array: bool,
    /// May be NULL.
    pub nullable: bool,
    /// Primary key.
    pub primary_key: bool,
    /// A tsvector usable with `search:`.
    pub full_text: bool,
    /// Never exposed.
    pub blocked: bool,
    /// Foreign key target: (table query name, column).
    pub foreign_key: Option<(String, String)>,
}

impl ColumnInfo {
    /// The full type for casts, with `[]` for arrays.
    pub fn cast_type(&self) -> String {
        if self.array {
            format!("{}[]", self.pg_type)
        } else {
            self.pg_type.clone()
        }
    }
}

/// A queryable table (by the name queries use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// The name queries use.
    pub name: String,
    /// Where rows come from.
    pub source: TableSource,
    /// Columns in order.
    pub columns: Vec<ColumnInfo>,
    /// Named orderings: name -> [(column, direction)].
    pub order_by: Vec<(String, Vec<(String, String)>)>,
}

impl TableInfo {
    /// The table's name in SQL: `"schema"."table"`, or `"table"` on the search path (a
    /// JSON-column table: its column's name).
    pub fn sql_name(&self) -> String {
        use super::sql::quote::ident;
        match &self.source {
            TableSource::Relation {
                schema: Some(s),
                name,
            } => format!("{}.{}", ident(s), ident(name)),
            TableSource::Relation { schema: None, name } => ident(name),
            TableSource::JsonColumn { column, .. } => ident(column),
        }
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The primary key, or a column named `id`.
    pub fn primary_key(&self) -> Option<&ColumnInfo> {
        self.columns
            .iter()
            .find(|c| c.primary_key)
            .or_else(|| self.column("id"))
    }

    /// `table.column` naming a column of this table for per-column settings: the real
    /// table's name for a relation (aliases included), else the name queries use.
    pub fn origin(&self, column: &str) -> String {
        format!("{}.{column}", self.relation_name().unwrap_or(&self.name))
    }

    /// The real table name when this is a database relation.
    pub fn relation_name(&self) -> Option<&str> {
        match &self.source {
            TableSource::Relation { name, .. } => Some(name),
            TableSource::JsonColumn { .. } => None,
        }
    }
}

/// A polymorphic relation: `<name>_id` holds the key, `<name>_type` names the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polymorphic {
    /// The field name used in queries (`subject`).
    pub name: String,
    /// Column with the related row's key (`subject_id`).
    pub id_column: String,
    /// Column with the related table's name (`subject_type`).
    pub type_column: String,
    /// Key column in the related tables (`id`).
    pub target_column: String,
}

/// A callable database function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// Name.
    pub name: String,
    /// Schema when not default.
    pub schema: Option<String>,
    /// Inputs: (name, cast type).
    pub inputs: Vec<(String, String)>,
    /// Output columns for set-returning functions.
    pub outputs: Vec<ColumnInfo>,
    /// Returns rows rather than one value.
    pub returns_set: bool,
    /// Return type as a PostgreSQL name (scalar functions).
    pub return_type: String,
}

impl FunctionInfo {
    /// The position of the input named `name`, or written `a<i>` (GraphJin's positional
    /// names).
    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|(n, _)| n == name).or_else(|| {
            name.strip_prefix('a')
                .and_then(|i| i.parse::<usize>().ok())
                .filter(|i| *i < self.inputs.len())
        })
    }
}

/// Why the schema and config do not fit together: the config key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct CatalogError {
    /// The config key, e.g. `tables[2].columns[0].related_to` or `roles[1].tables[0].name`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl CatalogError {
    /// An error about config key `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        CatalogError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Tables, functions and relations known to the compiler.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Tables in schema order, then config-only tables.
    pub tables: Vec<TableInfo>,
    index: HashMap<String, usize>,
    /// Polymorphic relations from the config.
    pub polymorphic: Vec<Polymorphic>,
    /// Functions.
    pub functions: Vec<FunctionInfo>,
    /// Names never exposed (config `blocklist`).
    pub blocklist: Vec<String>,
}

fn config_type(ty: Option<&str>) -> String {
    match ty.map(|t| t.trim().to_lowercase()).as_deref() {
        None | Some("") => "text".into(),
        Some("int") | Some("integer") | Some("int4") => "integer".into(),
        Some("bigint") | Some("int8") => "bigint".into(),
        Some("float") | Some("double") => "double precision".into(),
        Some("bool") | Some("boolean") => "boolean".into(),
        Some("string") => "text".into(),
        Some(other) => other.to_string(),
    }
}

impl Catalog {
    /// Builds the catalog; fails when the config names tables or columns the schema lacks.
    pub fn new(schema: &DbSchema, config: &BuildConfig) -> Result<Catalog, CatalogError> {
        let mut cat = Catalog {
            blocklist: config.blocklist.clone(),
            ..Default::default()
        };
        for t in &schema.tables {
            let columns = t
                .columns
                .iter()
                .map(|c| ColumnInfo {
                    name: c.name.clone(),
                    pg_type: cast_name(schema, &c.ty),
                    array: c.array,
                    nullable: !c.not_null,
                    primary_key: c.primary_key,
                    full_text: c.full_text,
                    blocked: c.blocked,
                    foreign_key: c
                        .foreign_key
                        .as_ref()
                        .map(|fk| (fk.table.clone(), fk.column.clone())),
                })
                .collect();
            cat.push(TableInfo {
                name: t.name.clone(),
                source: TableSource::Relation {
                    schema: t.schema.clone(),
                    name: t.name.clone(),
                },
                columns,
                order_by: Vec::new(),
            });
        }
        for f in &schema.functions {
            cat.functions.push(FunctionInfo {
                name: f.name.clone(),
                schema: f.schema.clone(),
                inputs: f
                    .inputs
                    .iter()
                    .map(|a| {
                        let t = cast_name(schema, &a.ty);
                        (a.name.clone(), if a.array { format!("{t}[]") } else { t })
                    })
                    .collect(),
                outputs: f
                    .outputs
                    .iter()
                    .map(|a| ColumnInfo {
                        name: a.name.clone(),
                        pg_type: cast_name(schema, &a.ty),
                        array: a.array,
                        nullable: true,
                        primary_key: false,
                        full_text: false,
                        blocked: false,
                        foreign_key: None,
                    })
                    .collect(),
                returns_set: f.returns_set,
                return_type: cast_name(schema, &f.return_type),
            });
        }
        for (index, tc) in config.tables.iter().enumerate() {
            cat.apply_table_config(index, tc)?;
        }
        Ok(cat)
    }

    fn push(&mut self, t: TableInfo) {
        self.index.insert(t.name.clone(), self.tables.len());
        self.tables.push(t);
    }

    fn apply_table_config(&mut self, index: usize, tc: &TableConfig) -> Result<(), CatalogError> {
        let err =
            |message: String| CatalogError::new(format!("tables[{index}] ({})", tc.name), message);
        let kind = tc.kind.as_deref().map(str::to_lowercase);
        match kind.as_deref() {
            Some("polymorphic") => {
                let col = tc.columns.first().ok_or_else(|| {
                    err("a polymorphic table needs one column, e.g. `{name: subject_id, related_to: subject_type.id}`".into())
                })?;
                let target = col.related_to.as_deref().unwrap_or("");
                let (type_column, target_column) = target.split_once('.').ok_or_else(|| {
                    err(format!(
                        "`related_to` must be `type_column.key_column`, found `{target}`"
                    ))
                })?;
                self.polymorphic.push(Polymorphic {
                    name: tc.name.clone(),
                    id_column: col.name.clone(),
                    type_column: type_column.to_string(),
                    target_column: target_column.to_string(),
                });
                return Ok(());
            }
            Some("json") | Some("jsonb") => {
                let host = tc.table.clone().ok_or_else(|| {
                    err("a json table needs `table:` naming the table that holds the column".into())
                })?;
                let host_info = self.table(&host).ok_or_else(|| {
                    err(format!(
                        "unknown table `{host}`{}",
                        self.table_suggestion(&host)
                    ))
                })?;
                let column = host_info.column(&tc.name).ok_or_else(|| {
                    err(format!("table `{host}` has no JSON column `{}`", tc.name))
                })?;
                let binary = column.pg_type == "jsonb";
                let columns = tc
                    .columns
                    .iter()
                    .map(|c| ColumnInfo {
                        name: c.name.clone(),
                        pg_type: config_type(c.ty.as_deref()),
                        array: c.array,
                        nullable: true,
                        primary_key: c.primary,
                        full_text: false,
                        blocked: false,
                        foreign_key: c.related_to.as_deref().and_then(split_fk),
                    })
                    .collect();
                self.push(TableInfo {
                    name: tc.name.clone(),
                    source: TableSource::JsonColumn {
                        host,
                        column: tc.name.clone(),
                        binary,
                    },
                    columns,
                    order_by: Vec::new(),
                });
                return Ok(());
            }
            Some(other) if !other.is_empty() => {
                return Err(err(format!(
                    "unknown table type `{other}` (expected `json` or `polymorphic`)"
                )));
            }
            _ => {}
        }
        // Alias of another table (`name: me, table: users`).
        if let Some(real) = tc.table.as_deref().filter(|r| *r != tc.name) {
            let base = self
                .table(real)
                .ok_or_else(|| {
                    err(format!(
                        "unknown table `{real}`{}",
                        self.table_suggestion(real)
                    ))
                })?
                .clone();
            if self.table(&tc.name).is_none() {
                self.push(TableInfo {
                    name: tc.name.clone(),
                    ..base
                });
            }
        }
        let Some(&ti) = self.index.get(&tc.name) else {
            return Err(err(format!(
                "unknown table `{}`{}",
                tc.name,
                self.table_suggestion(&tc.name)
            )));
        };
        for c in &tc.columns {
            let fk = match c.related_to.as_deref() {
                Some(target) => Some(split_fk(target).ok_or_else(|| {
                    err(format!(
                        "column `{}`: `related_to` must be `table.column`, found `{target}`",
                        c.name
                    ))
                })?),
                None => None,
            };
            if let Some((t, col)) = &fk {
                let target = self.table(t).ok_or_else(|| {
                    err(format!(
                        "column `{}`: unknown table `{t}`{}",
                        c.name,
                        self.table_suggestion(t)
                    ))
                })?;
                if target.column(col).is_none() {
                    return Err(err(format!(
                        "column `{}`: table `{t}` has no column `{col}`",
                        c.name
                    )));
                }
            }
            let table = &mut self.tables[ti];
            match table.columns.iter_mut().find(|x| x.name == c.name) {
                Some(existing) => {
                    if fk.is_some() {
                        existing.foreign_key = fk;
                    }
                    if c.array {
                        existing.array = true;
                    }
                    if c.primary {
                        existing.primary_key = true;
                    }
                }
                None => {
                    let names: Vec<&str> = table.columns.iter().map(|x| x.name.as_str()).collect();
                    let hint = super::names::suggestion(&c.name, names);
                    return Err(err(format!(
                        "table `{}` has no column `{}`{hint}",
                        tc.name, c.name
                    )));
                }
            }
        }
        for b in &tc.blocklist {
            if let Some(col) = self.tables[ti].columns.iter_mut().find(|x| &x.name == b) {
                col.blocked = true;
            }
        }
        let mut orders = Vec::new();
        for (name, items) in &tc.order_by {
            let mut list = Vec::new();
            for item in items {
                let mut parts = item.split_whitespace();
                let col = parts.next().unwrap_or("").to_string();
                let dir = parts.next().unwrap_or("asc").to_lowercase();
                if self.tables[ti].column(&col).is_none() {
                    return Err(err(format!("order_by `{name}`: unknown column `{col}`")));
                }
                if !matches!(dir.as_str(), "asc" | "desc") {
                    return Err(err(format!(
                        "order_by `{name}`: direction must be asc or desc, found `{dir}`"
                    )));
                }
                list.push((col, dir));
            }
            orders.push((name.clone(), list));
        }
        self.tables[ti].order_by = orders;
        Ok(())
    }

    /// A table by query name.
    pub fn table(&self, name: &str) -> Option<&TableInfo> {
        self.index.get(name).map(|&i| &self.tables[i])
    }

    /// A function by name.
    pub fn function(&self, name: &str) -> Option<&FunctionInfo> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// A polymorphic relation by field name.
    pub fn polymorphic(&self, name: &str) -> Option<&Polymorphic> {
        self.polymorphic.iter().find(|p| p.name == name)
    }

    /// Whether a table name is on the blocklist.
    pub fn is_blocked(&self, name: &str) -> bool {
        self.blocklist.iter().any(|b| b.eq_ignore_ascii_case(name))
    }

    /// A `did you mean` hint for an unknown table name.
    pub fn table_suggestion(&self, name: &str) -> String {
        super::names::suggestion(name, self.tables.iter().map(|t| t.name.as_str()))
    }
}

fn split_fk(s: &str) -> Option<(String, String)> {
    let (t, c) = s.split_once('.')?;
    (!t.is_empty() && !c.is_empty()).then(|| (t.to_string(), c.to_string()))
}
