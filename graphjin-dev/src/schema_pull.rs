//! Pulling a [`DbSchema`] from a live PostgreSQL database: what `graphjin schema pull` and the
//! development server write to `db.graphql`.
//!
//! Reads `pg_catalog` directly (a handful of queries, one per kind of object, rather than
//! one per table through `information_schema`):
//!
//! - tables (`relkind` `r`, `p`; partitions are left out, their parent stands for them),
//!   views (`v`) and materialized views (`m`) of the schema, sorted by name; then those of
//!   every other schema (not `pg_*` or `information_schema`), marked `@schema(name: ...)`,
//!   unless the name is already taken (db.graphql names each type once);
//! - their columns in `attnum` order, without dropped and system columns, typed through
//!   `format_type` (`numeric(7,1)` becomes `Numeric` with `@type(args: "7,1")`, `text[]`
//!   becomes `[Text]`), with NOT NULL, single-column primary keys (`@id`, which also gets
//!   `@unique`), single-column unique constraints and unique indexes that are neither
//!   partial nor on expressions (`@unique`), `tsvector` columns (`@search`) and
//!   single-column foreign keys (`@relation`);
//! - the enum types and domains those columns use, wherever they live (a domain's base
//!   type too, and so on down), written as `# enum:` / `# domain:` lines with the enum's
//!   labels in their sort order; a column names them in GraphJin's form (`order_status` ->
//!   `Order_status`);
//! - plain functions of the schema (not aggregates, window functions or procedures), except
//!   those belonging to an extension, trigger and event-trigger functions, and functions
//!   taking or returning `internal`.
//!
//! What cannot be written to `db.graphql` is left out rather than failing the pull: objects
//! whose names are not GraphQL names (`[_A-Za-z][_0-9A-Za-z]*`) (a table with such a column
//! keeps its other columns), foreign keys to another schema's tables, another schema's
//! tables whose name is taken and its functions,
//! functions that share a table's name, and all but the oldest (lowest oid) of overloaded
//! functions.

use std::collections::{HashMap, HashSet};

use graphjin_codegen::schema::model::{
    Column, DbSchema, Domain, EnumType, ForeignKey, Function, FunctionArg, Table,
    graphjin_type_name,
};
use graphjin_codegen::schema::write::{is_graphql_name, write_schema};
use graphjin_pgtls::{ConnectError, TlsOptions};
use tokio_postgres::config::Host;
use tokio_postgres::types::FromSql;
use tokio_postgres::{Client, Config, Row};

/// Why pulling the schema failed.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    /// The connection string could not be parsed.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The server could not be reached, or refused the connection.
    #[error("could not connect to the database at {target}: {}", connect_detail(.source))]
    Connect {
        /// `host:port` of every host tried (never the password).
        target: String,
        /// Why: PostgreSQL's error, or the TLS cause ("certificate verify failed: …").
        source: ConnectError,
    },
    /// A catalog query failed.
    #[error("could not read {what} from pg_catalog: {}", pg_detail(.source))]
    Query {
        /// What was being read (`tables`, `columns`, ...).
        what: &'static str,
        /// The driver's error.
        source: tokio_postgres::Error,
    },
    /// The schema to pull does not exist.
    #[error(
        "schema `{0}` does not exist in the database; check the schema name in the config \
         or create it"
    )]
    SchemaNotFound(String),
}

/// The driver's error with its causes (`tokio_postgres::Error` alone displays only its
/// kind, e.g. "db error"). Server messages and I/O errors never contain the password.
fn pg_detail(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            s.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = db.hint() {
            s.push_str(&format!(" (hint: {hint})"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// [`pg_detail`] for a PostgreSQL error, else the TLS cause as [`ConnectError`] words it.
fn connect_detail(e: &ConnectError) -> String {
    match e.postgres() {
        Some(pg) => pg_detail(pg),
        None => e.to_string(),
    }
}

/// Connects to `database_url` (a `postgres://` URL or `key=value` string), reads `schema`
/// and returns the text of `db.graphql`.
///
/// TLS follows the URL's libpq settings (`sslmode`, default `prefer`; `sslrootcert`,
/// `sslcert`, `sslkey`), as [`graphjin_pgtls`] reads them.
///
/// Must run inside a Tokio runtime: the connection is driven by a spawned task.
pub async fn pull(database_url: &str, schema: &str) -> Result<String, IntrospectError> {
    pull_with_tls(database_url, schema, None).await
}

/// [`pull`] with TLS settings laid over the URL's: GraphJin's `database.enable_tls` keys
/// from [`TlsOptions::from_graphjin_keys`].
pub async fn pull_with_tls(
    database_url: &str,
    schema: &str,
    tls: Option<TlsOptions>,
) -> Result<String, IntrospectError> {
    let (config, url_tls) = TlsOptions::from_url(database_url).map_err(|e| {
        IntrospectError::InvalidUrl(match e {
            graphjin_pgtls::TlsError::InvalidUrl(message) => message,
            other => other.to_string(),
        })
    })?;
    let tls = match tls {
        Some(keys) => keys.over(url_tls),
        None => url_tls,
    };
    let (client, connection) = graphjin_pgtls::connect(&config, &tls)
        .await
        .map_err(|source| IntrospectError::Connect {
            target: describe_target(&config),
            source,
        })?;
    let driver = tokio::spawn(async move {
        // Ends when `client` is dropped; its errors surface through the queries.
        let _ = connection.await;
    });
    let result = introspect(&client, schema).await;
    drop(client);
    let _ = driver.await;
    Ok(write_schema(&result?))
}

/// `host:port` for each host in the config, for error messages.
fn describe_target(config: &Config) -> String {
    let ports = config.get_ports();
    let port = |i: usize| -> u16 {
        match ports {
            [] => 5432,
            [one] => *one,
            many => many.get(i).copied().unwrap_or(5432),
        }
    };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| match h {
            Host::Tcp(name) => format!("{name}:{}", port(i)),
            #[cfg(unix)]
            Host::Unix(dir) => format!("{}/.s.PGSQL.{}", dir.display(), port(i)),
        })
        .collect();
    if hosts.is_empty() {
        "(no host given)".to_string()
    } else {
        hosts.join(", ")
    }
}

/// Reads tables, views, materialized views and functions of `schema` from `pg_catalog`.
pub async fn introspect(client: &Client, schema: &str) -> Result<DbSchema, IntrospectError> {
    let version: i32 = first(
        client,
        "server version",
        "SELECT current_setting('server_version_num')::int4",
        &[],
    )
    .await?;
    let exists: bool = first(
        client,
        "schemas",
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
        &[&schema],
    )
    .await?;
    if !exists {
        return Err(IntrospectError::SchemaNotFound(schema.to_string()));
    }
    let mut tables = read_tables(client, schema).await?;
    let functions = read_functions(client, schema, &tables).await?;
    let (mut enums, mut domains) = read_user_types(client, schema).await?;
    // The other schemas' tables, as GraphJin reads them, each marked with its schema
    // (`type orders @schema(name: sales)`); a name the default schema (or an earlier schema)
    // already has is left out, since db.graphql names each type once.
    let others = query(
        client,
        "schemas",
        "SELECT nspname::text FROM pg_namespace \
         WHERE nspname <> $1 AND nspname <> 'information_schema' \
           AND nspname NOT LIKE 'pg\\_%' ORDER BY 1",
        &[&schema],
    )
    .await?;
    for row in others {
        let other: String = get(&row, 0, "schemas")?;
        if !is_graphql_name(&other) {
            continue;
        }
        let more = read_tables(client, &other).await?;
        if more.is_empty() {
            continue;
        }
        let (more_enums, more_domains) = read_user_types(client, &other).await?;
        for mut t in more {
            if tables.iter().any(|x| x.name == t.name) {
                continue;
            }
            t.schema = Some(other.clone());
            for c in &mut t.columns {
                if let Some(fk) = &mut c.foreign_key {
                    fk.schema = Some(other.clone());
                }
            }
            tables.push(t);
        }
        // Types of that schema are named with it (`sales.mood`).
        for mut e in more_enums {
            e.schema.get_or_insert_with(|| other.clone());
            if !enums
                .iter()
                .any(|x| x.schema == e.schema && x.name == e.name)
            {
                enums.push(e);
            }
        }
        for mut d in more_domains {
            d.schema.get_or_insert_with(|| other.clone());
            if !domains
                .iter()
                .any(|x| x.schema == d.schema && x.name == d.name)
            {
                domains.push(d);
            }
        }
    }
    Ok(DbSchema {
        db_type: "postgres".to_string(),
        version: u32::try_from(version).unwrap_or(0),
        schema: schema.to_string(),
        tables,
        functions,
        enums,
        domains,
    })
}

/// The relations GraphJin exposes: tables, partitioned tables (not their partitions),
/// views and materialized views.
const RELATIONS: &str = "c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition";

/// `type_name` (element type for arrays, via `format_type`) and `is_array` of the type
/// `t`, with the type modifier `{typmod}`.
macro_rules! type_columns {
    ($typmod:literal) => {
        concat!(
            "CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 ",
            "THEN format_type(t.typelem, ",
            $typmod,
            ") ELSE format_type(t.oid, ",
            $typmod,
            ") END AS type_name, ",
            "(t.typcategory = 'A' AND t.typelem <> 0) AS is_array"
        )
    };
}

async fn read_tables(client: &Client, schema: &str) -> Result<Vec<Table>, IntrospectError> {
    let columns_sql = format!(
        "SELECT c.relname::text, a.attname::text, {}, a.attndims > 0, a.attnotnull \
         FROM pg_attribute a \
         JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_type t ON t.oid = a.atttypid \
         WHERE n.nspname = $1 AND {RELATIONS} AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY c.relname, a.attnum",
        type_columns!("a.atttypmod")
    );
    let tables_sql = format!(
        "SELECT c.relname::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND {RELATIONS} ORDER BY c.relname"
    );
    let keys_sql = format!(
        "SELECT c.relname::text, a.attname::text, bool_or(i.indisprimary) \
         FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
         WHERE n.nspname = $1 AND {RELATIONS} AND i.indisunique AND i.indisvalid \
           AND i.indnkeyatts = 1 AND i.indexprs IS NULL AND i.indpred IS NULL \
         GROUP BY 1, 2"
    );
    let fkeys_sql = format!(
        "SELECT c.relname::text, a.attname::text, fn.nspname::text, fc.relname::text, \
                fa.attname::text \
         FROM pg_constraint co \
         JOIN pg_class c ON c.oid = co.conrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = co.conkey[1] \
         JOIN pg_class fc ON fc.oid = co.confrelid \
         JOIN pg_namespace fn ON fn.oid = fc.relnamespace \
         JOIN pg_attribute fa ON fa.attrelid = co.confrelid AND fa.attnum = co.confkey[1] \
         WHERE co.contype = 'f' AND co.conparentid = 0 AND n.nspname = $1 AND {RELATIONS} \
           AND array_length(co.conkey, 1) = 1 \
         ORDER BY c.relname, a.attnum, co.conname"
    );

    let mut tables: Vec<Table> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in query(client, "tables", &tables_sql, &[&schema]).await? {
        let name: String = get(&row, 0, "tables")?;
        if is_graphql_name(&name) {
            index.insert(name.clone(), tables.len());
            tables.push(Table {
                name,
                schema: None,
                columns: Vec::new(),
            });
        }
    }

    for row in query(client, "columns", &columns_sql, &[&schema]).await? {
        let table: String = get(&row, 0, "columns")?;
        let name: String = get(&row, 1, "columns")?;
        let Some(&ti) = index.get(&table) else {
            continue;
        };
        if !is_graphql_name(&name) {
            continue;
        }
        let pg_type: String = get(&row, 2, "columns")?;
        let is_array: bool = get(&row, 3, "columns")?;
        let has_dims: bool = get(&row, 4, "columns")?;
        let not_null: bool = get(&row, 5, "columns")?;
        let (ty, type_args) = graphjin_type(&pg_type);
        let array = is_array || has_dims;
        tables[ti].columns.push(Column {
            full_text: ty == "Tsvector" && !array,
            name,
            ty,
            type_args,
            array,
            not_null,
            ..Column::default()
        });
    }

    for row in query(client, "unique keys", &keys_sql, &[&schema]).await? {
        let table: String = get(&row, 0, "unique keys")?;
        let column: String = get(&row, 1, "unique keys")?;
        let primary: bool = get(&row, 2, "unique keys")?;
        if let Some(c) = column_mut(&mut tables, &index, &table, &column) {
            c.unique = true;
            c.primary_key |= primary;
        }
    }

    for row in query(client, "foreign keys", &fkeys_sql, &[&schema]).await? {
        let table: String = get(&row, 0, "foreign keys")?;
        let column: String = get(&row, 1, "foreign keys")?;
        let target_schema: String = get(&row, 2, "foreign keys")?;
        let target_table: String = get(&row, 3, "foreign keys")?;
        let target_column: String = get(&row, 4, "foreign keys")?;
        // Only targets that are in the file: the reader checks every @relation.
        let target_known = target_schema == schema
            && index
                .get(&target_table)
                .is_some_and(|&ti| tables[ti].column(&target_column).is_some());
        if !target_known {
            continue;
        }
        if let Some(c) = column_mut(&mut tables, &index, &table, &column)
            && c.foreign_key.is_none()
        {
            c.foreign_key = Some(ForeignKey {
                table: target_table,
                column: target_column,
                schema: None,
            });
        }
    }
    Ok(tables)
}

/// The enums and domains the columns of `schema`'s relations use (array elements
/// included), with every type a used domain is based on.
async fn read_user_types(
    client: &Client,
    schema: &str,
) -> Result<(Vec<EnumType>, Vec<Domain>), IntrospectError> {
    let sql = format!(
        "WITH RECURSIVE used(oid) AS ( \
           SELECT CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END \
           FROM pg_attribute a \
           JOIN pg_class c ON c.oid = a.attrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
           JOIN pg_type t ON t.oid = a.atttypid \
           WHERE n.nspname = $1 AND {RELATIONS} AND a.attnum > 0 AND NOT a.attisdropped \
           UNION \
           SELECT CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END \
           FROM used u \
           JOIN pg_type d ON d.oid = u.oid AND d.typtype = 'd' \
           JOIN pg_type t ON t.oid = d.typbasetype \
         ) \
         SELECT ut.typtype::text, un.nspname::text, ut.typname::text, \
                (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) \
                 FROM pg_enum e WHERE e.enumtypid = ut.oid), \
                {} \
         FROM used u \
         JOIN pg_type ut ON ut.oid = u.oid AND ut.typtype IN ('e', 'd') \
         JOIN pg_namespace un ON un.oid = ut.typnamespace \
         LEFT JOIN pg_type t ON t.oid = ut.typbasetype \
         ORDER BY un.nspname, ut.typname",
        type_columns!("NULL")
    );
    let mut enums = Vec::new();
    let mut domains = Vec::new();
    for row in query(client, "enum types and domains", &sql, &[&schema]).await? {
        let what = "enum types and domains";
        let kind: String = get(&row, 0, what)?;
        let type_schema: String = get(&row, 1, what)?;
        let name: String = get(&row, 2, what)?;
        let type_schema = (type_schema != schema).then_some(type_schema);
        if kind == "e" {
            let labels: Option<Vec<String>> = get(&row, 3, what)?;
            enums.push(EnumType {
                name,
                schema: type_schema,
                labels: labels.unwrap_or_default(),
            });
        } else {
            let base: Option<String> = get(&row, 4, what)?;
            let array: Option<bool> = get(&row, 5, what)?;
            let (base, _) = graphjin_type(base.as_deref().unwrap_or("text"));
            domains.push(Domain {
                name,
                schema: type_schema,
                base,
                array: array.unwrap_or(false),
            });
        }
    }
    Ok((enums, domains))
}

fn column_mut<'t>(
    tables: &'t mut [Table],
    index: &HashMap<String, usize>,
    table: &str,
    column: &str,
) -> Option<&'t mut Column> {
    let &ti = index.get(table)?;
    tables[ti].columns.iter_mut().find(|c| c.name == column)
}

async fn read_functions(
    client: &Client,
    schema: &str,
    tables: &[Table],
) -> Result<Vec<Function>, IntrospectError> {
    const FILTER: &str = "n.nspname = $1 AND p.prokind = 'f' \
        AND p.prorettype NOT IN ('trigger'::regtype::oid, 'event_trigger'::regtype::oid, \
                                 'internal'::regtype::oid) \
        AND NOT ('internal'::regtype::oid = ANY (p.proargtypes::oid[])) \
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass \
                        AND d.objid = p.oid AND d.deptype = 'e')";
    let functions_sql = format!(
        "SELECT p.oid, p.proname::text, p.proretset, {} \
         FROM pg_proc p \
         JOIN pg_namespace n ON n.oid = p.pronamespace \
         JOIN pg_type t ON t.oid = p.prorettype \
         WHERE {FILTER} ORDER BY p.proname, p.oid",
        type_columns!("NULL")
    );
    let args_sql = format!(
        "SELECT p.oid, COALESCE(p.proargmodes[a.ord]::text, 'i'), \
                COALESCE(p.proargnames[a.ord], ''), {} \
         FROM pg_proc p \
         JOIN pg_namespace n ON n.oid = p.pronamespace \
         CROSS JOIN LATERAL unnest(COALESCE(p.proallargtypes, p.proargtypes::oid[])) \
              WITH ORDINALITY AS a(typ, ord) \
         JOIN pg_type t ON t.oid = a.typ \
         WHERE {FILTER} ORDER BY p.oid, a.ord",
        type_columns!("NULL")
    );
    // Result columns of functions returning a composite type (or a table's row type).
    let composite_sql = format!(
        "SELECT p.oid, a.attname::text, {} \
         FROM pg_proc p \
         JOIN pg_namespace n ON n.oid = p.pronamespace \
         JOIN pg_type rt ON rt.oid = p.prorettype AND rt.typtype = 'c' \
         JOIN pg_attribute a ON a.attrelid = rt.typrelid AND a.attnum > 0 AND NOT a.attisdropped \
         JOIN pg_type t ON t.oid = a.atttypid \
         WHERE {FILTER} ORDER BY p.oid, a.attnum",
        type_columns!("a.atttypmod")
    );

    // oid -> function; `None` marks a function left out.
    let mut functions: Vec<(u32, Option<Function>)> = Vec::new();
    let mut names: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
    for row in query(client, "functions", &functions_sql, &[&schema]).await? {
        let oid: u32 = get(&row, 0, "functions")?;
        let name: String = get(&row, 1, "functions")?;
        let returns_set: bool = get(&row, 2, "functions")?;
        let ret: String = get(&row, 3, "functions")?;
        let ret_array: bool = get(&row, 4, "functions")?;
        // Overloads after the first, and names taken by tables, would be duplicate types.
        let keep = is_graphql_name(&name) && !names.contains(&name);
        let f = keep.then(|| {
            names.push(name.clone());
            let (mut return_type, _) = graphjin_type(&ret);
            if ret_array {
                return_type.push_str("Array");
            }
            Function {
                name,
                schema: None,
                return_type,
                returns_set,
                inputs: Vec::new(),
                outputs: Vec::new(),
            }
        });
        functions.push((oid, f));
    }
    let by_oid: HashMap<u32, usize> = functions
        .iter()
        .enumerate()
        .filter(|(_, (_, f))| f.is_some())
        .map(|(i, (oid, _))| (*oid, i))
        .collect();
    // Functions with OUT or TABLE arguments: their result columns are those arguments.
    let mut has_out_args: HashSet<u32> = HashSet::new();

    for row in query(client, "function arguments", &args_sql, &[&schema]).await? {
        let oid: u32 = get(&row, 0, "function arguments")?;
        let Some(&fi) = by_oid.get(&oid) else {
            continue;
        };
        let mode: String = get(&row, 1, "function arguments")?;
        let name: String = get(&row, 2, "function arguments")?;
        let pg_type: String = get(&row, 3, "function arguments")?;
        let array: bool = get(&row, 4, "function arguments")?;
        let (ty, type_args) = graphjin_type(&pg_type);
        let Some(f) = functions[fi].1.as_mut() else {
            continue;
        };
        let input = matches!(mode.as_str(), "i" | "b" | "v");
        let output = matches!(mode.as_str(), "o" | "b" | "t");
        let mut bad_name = false;
        if input {
            let name = if name.is_empty() {
                format!("a{}", f.inputs.len())
            } else {
                name.clone()
            };
            bad_name |= !is_graphql_name(&name);
            f.inputs.push(FunctionArg {
                name,
                ty: ty.clone(),
                type_args: type_args.clone(),
                array,
            });
        }
        if output {
            has_out_args.insert(oid);
            // PostgreSQL itself calls unnamed output columns column1, column2, ...
            let name = if name.is_empty() {
                format!("column{}", f.outputs.len() + 1)
            } else {
                name
            };
            bad_name |= !is_graphql_name(&name);
            f.outputs.push(FunctionArg {
                name,
                ty,
                type_args,
                array,
            });
        }
        if bad_name {
            functions[fi].1 = None;
        }
    }

    for row in query(client, "function result types", &composite_sql, &[&schema]).await? {
        let oid: u32 = get(&row, 0, "function result types")?;
        let Some(&fi) = by_oid.get(&oid) else {
            continue;
        };
        if has_out_args.contains(&oid) {
            continue;
        }
        let name: String = get(&row, 1, "function result types")?;
        let pg_type: String = get(&row, 2, "function result types")?;
        let array: bool = get(&row, 3, "function result types")?;
        if !is_graphql_name(&name) {
            continue;
        }
        let (ty, type_args) = graphjin_type(&pg_type);
        if let Some(f) = functions[fi].1.as_mut() {
            f.outputs.push(FunctionArg {
                name,
                ty,
                type_args,
                array,
            });
        }
    }

    Ok(functions.into_iter().filter_map(|(_, f)| f).collect())
}

/// Splits a `format_type` result into GraphJin's type name and its modifier:
/// `numeric(7,1)` -> (`Numeric`, `7,1`), `timestamp(3) with time zone` ->
/// (`TimestampWithTimeZone`, `3`), `"char"` -> `Char`, `other_schema.order_status` ->
/// `Order_status` (GraphJin's form, which reads back as `order_status`),
/// `other_schema."My-Type"` -> `My_type`. The name is always a GraphQL name.
fn graphjin_type(formatted: &str) -> (String, Option<String>) {
    let mut base = String::new();
    let mut args: Option<String> = None;
    let mut current = String::new();
    let mut depth = 0usize;
    let mut quoted = false;
    for c in formatted.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                if depth == 0 { &mut base } else { &mut current }.push(c);
            }
            '(' if !quoted => {
                if depth > 0 {
                    current.push(c);
                }
                depth += 1;
            }
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    args.get_or_insert_with(|| current.trim().to_string());
                    current.clear();
                } else {
                    current.push(c);
                }
            }
            c if depth == 0 => base.push(c),
            c => current.push(c),
        }
    }
    let base = base.trim().trim_end_matches("[]").trim();
    // Drop a schema qualification: the part after the last dot outside quotes.
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in base.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => start = i + 1,
            _ => {}
        }
    }
    let name = &base[start..];
    let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => name.to_string(),
    };
    (graphjin_type_name(&name), args.filter(|a| !a.is_empty()))
}

async fn query(
    client: &Client,
    what: &'static str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<Row>, IntrospectError> {
    client
        .query(sql, params)
        .await
        .map_err(|source| IntrospectError::Query { what, source })
}

async fn first<T>(
    client: &Client,
    what: &'static str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<T, IntrospectError>
where
    T: for<'a> FromSql<'a>,
{
    let row = client
        .query_one(sql, params)
        .await
        .map_err(|source| IntrospectError::Query { what, source })?;
    get(&row, 0, what)
}

fn get<'r, T: FromSql<'r>>(
    row: &'r Row,
    idx: usize,
    what: &'static str,
) -> Result<T, IntrospectError> {
    row.try_get(idx)
        .map_err(|source| IntrospectError::Query { what, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use graphjin_codegen::schema::read::parse_schema;

    #[test]
    fn type_names_from_format_type() {
        let cases = [
            ("bigint", "Bigint", None),
            ("text", "Text", None),
            ("character varying(3)", "CharacterVarying", Some("3")),
            ("character varying", "CharacterVarying", None),
            ("numeric(7,1)", "Numeric", Some("7,1")),
            ("timestamp with time zone", "TimestampWithTimeZone", None),
            (
                "timestamp(3) with time zone",
                "TimestampWithTimeZone",
                Some("3"),
            ),
            ("double precision", "DoublePrecision", None),
            ("\"char\"", "Char", None),
            ("product_tuple", "Product_tuple", None),
            ("other.order_status", "Order_status", None),
            ("\"my.schema\".\"My-Type\"", "My_type", None),
            ("\"9lives\"", "_9lives", None),
            ("text[]", "Text", None),
            ("interval(6)", "Interval", Some("6")),
        ];
        for (pg, ty, args) in cases {
            let got = graphjin_type(pg);
            assert_eq!((got.0.as_str(), got.1.as_deref()), (ty, args), "{pg}");
        }
    }

    #[test]
    fn connection_errors_name_the_host_not_the_password() {
        let config: Config = "postgres://me:s3cret@db.example:6543/app".parse().unwrap();
        assert_eq!(describe_target(&config), "db.example:6543");
        let config: Config = "host=/run/postgresql user=me password=s3cret"
            .parse()
            .unwrap();
        assert_eq!(describe_target(&config), "/run/postgresql/.s.PGSQL.5432");
    }

    #[tokio::test]
    async fn unreachable_database_is_a_clear_error() {
        let e = pull("postgres://me:s3cret@127.0.0.1:1/app", "public")
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("could not connect to the database at 127.0.0.1:1: "),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
        let e = pull("postgres://me:s3cret@127.0.0.1:notaport/app", "public")
            .await
            .unwrap_err();
        assert!(matches!(e, IntrospectError::InvalidUrl(_)), "{e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    /// Loads the conformance database (this crate's copy, `tests/fixtures/postgres.sql`, or
    /// `GRAPHJIN_CONFORMANCE_SQL`) into a scratch schema of a fresh database on a throwaway
    /// PostgreSQL (or of the database at `GRAPHJIN_TEST_DATABASE_URL`, which must hold no
    /// other tables: the pull reads every schema), pulls it and checks the result; then does
    /// the same for a schema of awkward objects.
    #[tokio::test]
    async fn pulls_the_conformance_schema() {
        let url = match std::env::var("GRAPHJIN_TEST_DATABASE_URL") {
            Ok(url) => url,
            Err(_) => {
                let pg = graphjin_pg_tmp::shared().expect("start PostgreSQL");
                pg.create_database("schema_pull_unit", None)
                    .expect("create database");
                pg.url("schema_pull_unit")
            }
        };
        let sql_path = std::env::var("GRAPHJIN_CONFORMANCE_SQL").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/postgres.sql").into()
        });
        let sql = std::fs::read_to_string(&sql_path)
            .unwrap_or_else(|e| panic!("cannot read {sql_path}: {e}"));
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let client = std::sync::Arc::new(client);
        let scratch = format!("gj_introspect_{}", std::process::id());
        let extra = format!("{scratch}_extra");
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {scratch} CASCADE; DROP SCHEMA IF EXISTS {extra} CASCADE; \
                 CREATE SCHEMA {scratch}; CREATE SCHEMA {extra};"
            ))
            .await
            .unwrap();

        // Run the checks in a task so that the schemas are dropped even when one fails.
        let checks = {
            let client = client.clone();
            let (scratch, extra) = (scratch.clone(), extra.clone());
            tokio::spawn(async move {
                client
                    .batch_execute(&format!("SET search_path TO {scratch}; {sql}"))
                    .await
                    .unwrap();
                let schema = introspect(&client, &scratch).await.unwrap();
                let text = write_schema(&schema);
                println!("{text}");
                check_conformance(&schema);
                assert_round_trip(&text);
                check_edge_cases(&client, &scratch, &extra).await;
            })
            .await
        };
        client
            .batch_execute(&format!(
                "SET search_path TO public; DROP SCHEMA {scratch} CASCADE; \
                 DROP SCHEMA {extra} CASCADE;"
            ))
            .await
            .unwrap();
        if let Err(e) = checks {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    fn assert_round_trip(text: &str) {
        let back = parse_schema(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(write_schema(&back), text);
    }

    fn args(a: &[FunctionArg]) -> Vec<(String, String, bool)> {
        a.iter()
            .map(|x| (x.name.clone(), x.ty.clone(), x.array))
            .collect()
    }

    fn arg(name: &str, ty: &str, array: bool) -> (String, String, bool) {
        (name.to_string(), ty.to_string(), array)
    }

    fn column<'s>(s: &'s DbSchema, table: &str, column: &str) -> &'s Column {
        s.table(table)
            .unwrap_or_else(|| panic!("no table {table}"))
            .column(column)
            .unwrap_or_else(|| panic!("no column {table}.{column}"))
    }

    fn fk(table: &str, column: &str) -> Option<ForeignKey> {
        Some(ForeignKey {
            table: table.into(),
            column: column.into(),
            schema: None,
        })
    }

    fn check_conformance(s: &DbSchema) {
        assert_eq!(s.db_type, "postgres");
        assert!(s.version >= 100000, "{}", s.version);
        let mut names: Vec<&str> = s.tables.iter().map(|t| t.name.as_str()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "categories",
                "chats",
                "comments",
                "graph_edge",
                "graph_node",
                "hot_products",
                "notifications",
                "products",
                "purchases",
                "users"
            ]
        );
        let p = |c| column(s, "products", c);
        let cols: Vec<&str> = s
            .table("products")
            .unwrap()
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            cols,
            [
                "id",
                "name",
                "description",
                "tags",
                "metadata",
                "country_code",
                "price",
                "count_likes",
                "owner_id",
                "tsv",
                "category_ids",
                "created_at",
                "updated_at"
            ]
        );
        let id = p("id");
        assert!(id.primary_key && id.unique && id.not_null && !id.array);
        assert_eq!(id.ty, "Bigint");
        assert_eq!(
            (p("price").ty.as_str(), p("price").type_args.as_deref()),
            ("Numeric", Some("7,1"))
        );
        assert_eq!(
            (
                p("country_code").ty.as_str(),
                p("country_code").type_args.as_deref()
            ),
            ("CharacterVarying", Some("3"))
        );
        assert!(p("tags").array && !p("tags").not_null && p("tags").ty == "Text");
        let cat = p("category_ids");
        assert!(cat.array && cat.not_null && cat.ty == "Bigint");
        assert!(p("tsv").full_text && p("tsv").ty == "Tsvector");
        assert_eq!(p("owner_id").foreign_key, fk("users", "id"));
        assert_eq!(p("metadata").ty, "Jsonb");
        assert_eq!(p("created_at").ty, "TimestampWithTimeZone");
        assert!(p("created_at").not_null);
        assert!(!p("name").unique && !p("name").primary_key && p("name").foreign_key.is_none());

        let email = column(s, "users", "email");
        assert!(email.unique && email.not_null && !email.primary_key);
        assert_eq!(column(s, "users", "category_counts").ty, "Json");
        assert_eq!(column(s, "users", "disabled").ty, "Boolean");
        assert_eq!(
            column(s, "comments", "reply_to_id").foreign_key,
            fk("comments", "id")
        );
        assert_eq!(
            column(s, "purchases", "customer_id").foreign_key,
            fk("users", "id")
        );
        assert_eq!(
            column(s, "purchases", "product_id").foreign_key,
            fk("products", "id")
        );
        assert_eq!(
            column(s, "graph_edge", "src_node").foreign_key,
            fk("graph_node", "id")
        );
        assert_eq!(
            column(s, "graph_edge", "dst_node").foreign_key,
            fk("graph_node", "id")
        );
        assert!(column(s, "graph_node", "id").primary_key);
        let hot: Vec<(String, String, bool)> = s
            .table("hot_products")
            .unwrap()
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.ty.clone(), c.primary_key))
            .collect();
        assert_eq!(
            hot,
            [
                arg("product_id", "Bigint", false),
                arg("country_code", "CharacterVarying", false)
            ]
        );

        let mut fnames: Vec<&str> = s.functions.iter().map(|f| f.name.as_str()).collect();
        fnames.sort();
        assert_eq!(
            fnames,
            [
                "get_oldest5_products",
                "get_oldest_users",
                "get_product",
                "is_hot_product"
            ]
        );
        let f = s.function("get_oldest_users").unwrap();
        assert_eq!((f.return_type.as_str(), f.returns_set), ("Record", true));
        assert_eq!(
            args(&f.inputs),
            [
                arg("user_count", "Integer", false),
                arg("tag", "Text", false)
            ]
        );
        assert_eq!(
            args(&f.outputs),
            [
                arg("tag_name", "Text", false),
                arg("id", "Bigint", false),
                arg("full_name", "Text", false)
            ]
        );
        let f = s.function("get_oldest5_products").unwrap();
        assert_eq!((f.return_type.as_str(), f.returns_set), ("Record", true));
        assert!(f.inputs.is_empty());
        assert_eq!(
            args(&f.outputs),
            [arg("id", "Bigint", false), arg("name", "Text", false)]
        );
        let f = s.function("get_product").unwrap();
        assert_eq!(
            (f.return_type.as_str(), f.returns_set),
            ("Product_tuple", true)
        );
        assert_eq!(args(&f.inputs), [arg("id", "Bigint", false)]);
        assert_eq!(
            args(&f.outputs),
            [arg("id", "Bigint", false), arg("name", "Text", false)]
        );
        let f = s.function("is_hot_product").unwrap();
        assert_eq!((f.return_type.as_str(), f.returns_set), ("Boolean", false));
        assert_eq!(args(&f.inputs), [arg("id", "Bigint", false)]);
        assert!(f.outputs.is_empty());
    }

    async fn check_edge_cases(client: &Client, scratch: &str, extra: &str) {
        let citext: bool = first(
            client,
            "extensions",
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'citext')",
            &[],
        )
        .await
        .unwrap();
        let (ext, nick) = if citext {
            (
                format!("CREATE EXTENSION IF NOT EXISTS citext SCHEMA {extra};"),
                "citext",
            )
        } else {
            (String::new(), "text")
        };
        client
            .batch_execute(&format!(
                r#"SET search_path TO {extra};
                {ext}
                CREATE TYPE mood AS ENUM ('happy', 'sad', 'so so');
                CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
                CREATE TABLE people (
                  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                  handle text,
                  nick {nick},
                  feeling mood NOT NULL,
                  codes varchar(5)[],
                  seen_at timestamp(3) with time zone,
                  score posint,
                  "Bad-Name" text,
                  dropped_soon int,
                  manager_id int REFERENCES people(id),
                  user_id bigint REFERENCES {scratch}.users(id),
                  ch "char",
                  doc jsonb,
                  vecs tsvector[]
                );
                ALTER TABLE people DROP COLUMN dropped_soon;
                CREATE UNIQUE INDEX people_handle ON people (handle);
                CREATE UNIQUE INDEX people_lower_nick ON people (lower(nick::text));
                CREATE UNIQUE INDEX people_partial ON people (doc) WHERE doc IS NOT NULL;
                CREATE TABLE pairs (a int, b int, PRIMARY KEY (a, b), UNIQUE (b, a));
                CREATE TABLE "weird-table" (id int);
                CREATE TABLE events (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
                CREATE TABLE events_2024 PARTITION OF events
                  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
                CREATE VIEW people_view AS SELECT id, handle, codes FROM people;
                CREATE FUNCTION add_one(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + 1';
                CREATE FUNCTION add_one(bigint) RETURNS bigint LANGUAGE sql AS 'SELECT $1 + 1';
                CREATE FUNCTION split_name(full_name text, OUT first text, OUT last text)
                  LANGUAGE sql AS $$ SELECT split_part(full_name, ' ', 1), split_part(full_name, ' ', 2) $$;
                CREATE FUNCTION bump(INOUT counter int, VARIADIC extras int[])
                  LANGUAGE sql AS 'SELECT counter + 1';
                CREATE FUNCTION all_people() RETURNS SETOF people LANGUAGE sql AS 'SELECT * FROM people';
                CREATE FUNCTION unnamed_out(int, OUT int, OUT text) LANGUAGE sql AS $$ SELECT $1, 'x' $$;
                CREATE FUNCTION ids() RETURNS int[] LANGUAGE sql AS 'SELECT ARRAY[1]';
                CREATE FUNCTION one_person(OUT p people) LANGUAGE sql AS 'SELECT * FROM people LIMIT 1';
                CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
                CREATE FUNCTION people() RETURNS int LANGUAGE sql AS 'SELECT 1';
                CREATE FUNCTION "bad-name"() RETURNS int LANGUAGE sql AS 'SELECT 1';
                CREATE AGGREGATE my_sum(int) (sfunc = int4pl, stype = int);
                CREATE PROCEDURE do_nothing() LANGUAGE sql AS 'SELECT 1';
                SET search_path TO public;"#
            ))
            .await
            .unwrap();
        let s = introspect(client, extra).await.unwrap();
        let text = write_schema(&s);
        println!("{text}");
        assert_round_trip(&text);
        assert_eq!(s.schema, extra);

        // The default schema's own tables (the other schemas' come marked with theirs).
        let names: Vec<&str> = s
            .tables
            .iter()
            .filter(|t| t.schema.is_none())
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["events", "pairs", "people", "people_view"]);
        assert!(
            s.tables
                .iter()
                .filter(|t| t.schema.is_some())
                .all(|t| t.schema.as_deref() == Some(scratch)),
            "other schemas' tables are marked with their schema"
        );
        let people: Vec<&str> = s
            .table("people")
            .unwrap()
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            people,
            [
                "id",
                "handle",
                "nick",
                "feeling",
                "codes",
                "seen_at",
                "score",
                "manager_id",
                "user_id",
                "ch",
                "doc",
                "vecs"
            ]
        );
        let p = |c| column(&s, "people", c);
        assert!(p("id").primary_key && p("id").unique && p("id").ty == "Integer");
        assert!(p("handle").unique && !p("handle").primary_key);
        assert!(!p("nick").unique && !p("doc").unique);
        assert_eq!(p("nick").ty, if citext { "Citext" } else { "Text" });
        assert!(p("feeling").not_null && p("feeling").ty == "Mood");
        assert!(p("codes").array);
        assert_eq!(
            (p("codes").ty.as_str(), p("codes").type_args.as_deref()),
            ("CharacterVarying", Some("5"))
        );
        assert_eq!(
            (p("seen_at").ty.as_str(), p("seen_at").type_args.as_deref()),
            ("TimestampWithTimeZone", Some("3"))
        );
        assert_eq!(p("score").ty, "Posint");
        assert_eq!(
            s.enums,
            [EnumType {
                name: "mood".into(),
                schema: None,
                labels: vec!["happy".into(), "sad".into(), "so so".into()],
            }]
        );
        assert_eq!(
            s.domains,
            [Domain {
                name: "posint".into(),
                schema: None,
                base: "Integer".into(),
                array: false,
            }]
        );
        assert!(
            text.contains("# enum:mood [\"happy\",\"sad\",\"so so\"]\n"),
            "{text}"
        );
        assert_eq!(p("manager_id").foreign_key, fk("people", "id"));
        assert_eq!(
            p("user_id").foreign_key,
            None,
            "the target is in another schema"
        );
        assert_eq!(p("ch").ty, "Char");
        assert!(p("vecs").array && !p("vecs").full_text);
        let view = |c| column(&s, "people_view", c);
        assert!(view("codes").array && view("codes").type_args.as_deref() == Some("5"));
        assert!(!view("id").primary_key);
        for c in &s.table("pairs").unwrap().columns {
            assert!(!c.primary_key && !c.unique, "{c:?}");
        }
        assert!(column(&s, "events", "at").not_null);

        let mut fnames: Vec<&str> = s.functions.iter().map(|f| f.name.as_str()).collect();
        fnames.sort();
        assert_eq!(
            fnames,
            [
                "add_one",
                "all_people",
                "bump",
                "ids",
                "one_person",
                "split_name",
                "unnamed_out"
            ]
        );
        let f = s.function("add_one").unwrap();
        assert_eq!((f.return_type.as_str(), f.returns_set), ("Integer", false));
        assert_eq!(args(&f.inputs), [arg("a0", "Integer", false)]);
        let f = s.function("split_name").unwrap();
        assert_eq!((f.return_type.as_str(), f.returns_set), ("Record", false));
        assert_eq!(args(&f.inputs), [arg("full_name", "Text", false)]);
        assert_eq!(
            args(&f.outputs),
            [arg("first", "Text", false), arg("last", "Text", false)]
        );
        let f = s.function("bump").unwrap();
        assert_eq!(f.return_type, "Integer");
        assert_eq!(
            args(&f.inputs),
            [
                arg("counter", "Integer", false),
                arg("extras", "Integer", true)
            ]
        );
        assert_eq!(args(&f.outputs), [arg("counter", "Integer", false)]);
        let f = s.function("all_people").unwrap();
        assert_eq!((f.return_type.as_str(), f.returns_set), ("People", true));
        let outs: Vec<String> = f.outputs.iter().map(|a| a.name.clone()).collect();
        assert_eq!(outs, people);
        let f = s.function("unnamed_out").unwrap();
        assert_eq!(args(&f.inputs), [arg("a0", "Integer", false)]);
        assert_eq!(
            args(&f.outputs),
            [
                arg("column1", "Integer", false),
                arg("column2", "Text", false)
            ]
        );
        assert_eq!(s.function("ids").unwrap().return_type, "IntegerArray");
        let f = s.function("one_person").unwrap();
        assert_eq!(f.return_type, "People");
        assert_eq!(args(&f.outputs), [arg("p", "People", false)]);

        let e = introspect(client, "no_such_schema_here").await.unwrap_err();
        assert!(matches!(e, IntrospectError::SchemaNotFound(_)), "{e}");
    }
}
