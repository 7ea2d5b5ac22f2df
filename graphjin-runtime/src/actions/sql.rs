//! SQL actions: one statement, checked at start-up and prepared on each connection it runs
//! on, run with the declared parameters bound from the request's JSON body (or the
//! caller's session).

use std::borrow::Cow;
use std::collections::HashSet;
use std::error::Error as StdError;
use std::pin::pin;
use std::sync::{Arc, Mutex, OnceLock};

use axum::response::Response;
use bytes::BytesMut;
use futures_util::TryStreamExt;
use postgres_types::{Format, IsNull, ToSql, Type, to_sql_checked};
use serde_json::value::RawValue;
use tokio_postgres::Client;

use super::error::{ActionError, StartupError};
use crate::config::{ActionConfig, ConfigError, ParamSource};
use crate::error::pg_message;
use crate::http::ApiError;
use crate::pgtype::{Kind, Scalar};
use crate::types::RawJson;
use crate::vars::{RawVariables, Source};
use crate::{Auth, Db, Error};

/// The name of the common table expression a row-returning statement is wrapped in.
const WRAP_NAME: &str = "__gj_action";

/// A checked SQL action, prepared on each pooled connection the first time it runs there.
pub(crate) struct SqlAction {
    /// What runs: the statement itself, or (when it returns rows) the statement wrapped so
    /// that PostgreSQL returns the rows as one JSON array.
    sql: Arc<str>,
    /// The parameters' types, in order.
    types: Vec<Type>,
    returns_rows: bool,
    params: Vec<BoundParam>,
}

struct BoundParam {
    name: String,
    kind: Kind,
    required: bool,
    /// `{"<name>": <default>}`, bound through the same checks as the body.
    default: Option<serde_json::Map<String, serde_json::Value>>,
    from: ParamSource,
}

impl SqlAction {
    /// Checks `config`'s parameters and statement against the database on `client`.
    pub(crate) async fn prepare(
        client: &Client,
        config: &ActionConfig,
        sql: &str,
        key: &str,
    ) -> Result<SqlAction, StartupError> {
        let action = config.name.as_str();
        let fail = |message: String| StartupError::Prepare {
            action: action.to_owned(),
            message,
        };
        let sql = sql.trim().trim_end_matches(';').trim_end();
        if sql.is_empty() {
            return Err(ConfigError::Invalid {
                key: format!("{key}.sql"),
                message: "the statement is empty".to_owned(),
            }
            .into());
        }
        let mut params = Vec::with_capacity(config.params.len());
        let mut types = Vec::with_capacity(config.params.len());
        let mut names = HashSet::new();
        for (i, p) in config.params.iter().enumerate() {
            let pkey = format!("{key}.params[{i}]");
            let name = p.name.trim();
            if p.from == ParamSource::Input && name.is_empty() {
                return Err(ConfigError::Invalid {
                    key: format!("{pkey}.name"),
                    message: "a parameter read from the body needs the key's name".to_owned(),
                }
                .into());
            }
            if p.from == ParamSource::Input && !names.insert(name) {
                return Err(ConfigError::Invalid {
                    key: format!("{pkey}.name"),
                    message: format!("\"{name}\" is listed twice"),
                }
                .into());
            }
            let type_name = p.pg_type.trim();
            if type_name.is_empty() {
                return Err(ConfigError::Invalid {
                    key: format!("{pkey}.type"),
                    message: "each parameter needs its PostgreSQL type, e.g. type: bigint"
                        .to_owned(),
                }
                .into());
            }
            let ty = resolve_type(client, type_name).await.map_err(|e| {
                fail(format!(
                    "parameter ${} (\"{name}\"): type \"{type_name}\": {}",
                    i + 1,
                    pg_message(&e)
                ))
            })?;
            let kind = Kind::of(intern(type_name));
            let default = match &p.default {
                None | Some(serde_json::Value::Null) => None,
                Some(value) => {
                    let mut map = serde_json::Map::new();
                    map.insert(name.to_owned(), value.clone());
                    // Check the default now, as a request's value would be.
                    Source::Value(&map).bind(name, &kind, None).map_err(|e| {
                        ConfigError::Invalid {
                            key: format!("{pkey}.default"),
                            message: e.to_string(),
                        }
                    })?;
                    Some(map)
                }
            };
            types.push(ty);
            params.push(BoundParam {
                name: name.to_owned(),
                kind,
                required: p.required,
                default,
                from: p.from,
            });
        }
        let stmt = client
            .prepare_typed(sql, &types)
            .await
            .map_err(|e| fail(pg_message(&e)))?;
        if stmt.params().len() != params.len() {
            return Err(fail(format!(
                "the statement uses {} parameter(s) ($1..${}) but `params` lists {}",
                stmt.params().len(),
                stmt.params().len(),
                params.len()
            )));
        }
        let returns_rows = !stmt.columns().is_empty();
        drop(stmt);
        let sql = if returns_rows {
            let wrapped = format!(
                "WITH \"{WRAP_NAME}\" AS (\n{sql}\n) SELECT coalesce(array_to_json(array_agg(\"{WRAP_NAME}\")), '[]') FROM \"{WRAP_NAME}\""
            );
            client.prepare_typed(&wrapped, &types).await.map_err(|e| {
                fail(format!(
                    "the statement returns rows, which are answered as JSON by running it as WITH {WRAP_NAME} AS (...) SELECT ..., and that does not prepare: {}",
                    pg_message(&e)
                ))
            })?;
            wrapped
        } else {
            sql.to_owned()
        };
        Ok(SqlAction {
            sql: sql.into(),
            types,
            returns_rows,
            params,
        })
    }

    /// Runs the statement for `auth` with the body `input` (a JSON object, or none):
    /// `{"data": [rows]}`, or `{"data": {"rows_affected": n}}` for a statement without rows.
    pub(crate) async fn run(
        &self,
        db: &Db,
        action: &str,
        auth: &Auth,
        input: Option<&[u8]>,
    ) -> Result<Response, ApiError> {
        let vars = match input {
            Some(bytes) => RawVariables::parse(bytes).map_err(not_object)?,
            None => RawVariables::default(),
        };
        let role = auth.role();
        let mut values = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let text = match p.from {
                ParamSource::Input => bind_input(p, &vars)?,
                ParamSource::UserId => auth.user_id.as_deref().map(Cow::Borrowed),
                ParamSource::UserIdProvider => auth.user_id_provider.as_deref().map(Cow::Borrowed),
                ParamSource::Role => Some(Cow::Borrowed(role)),
            };
            values.push(TextParam(text));
        }
        let conn = db.connection().await?;
        let failed = |e: tokio_postgres::Error| query_error(action, e);
        let rows = crate::exec::action(&conn, &self.sql, &self.types, &values)
            .await
            .map_err(failed)?;
        let mut rows = pin!(rows);
        if self.returns_rows {
            let row = rows.try_next().await.map_err(failed)?;
            while rows.try_next().await.map_err(failed)?.is_some() {}
            let row = row.ok_or_else(|| ActionError::Database {
                action: action.to_owned(),
                message: "the statement returned no row".to_owned(),
            })?;
            let json = match row.try_get::<_, Option<RawJson<'_>>>(0) {
                Ok(Some(json)) => json.0,
                Ok(None) => b"[]",
                Err(e) => {
                    return Err(ActionError::Database {
                        action: action.to_owned(),
                        message: pg_message(&e),
                    }
                    .into());
                }
            };
            Ok(crate::http::body::data_response(json))
        } else {
            while rows.try_next().await.map_err(failed)?.is_some() {}
            let n = rows.rows_affected().unwrap_or(0);
            Ok(crate::http::body::data_response(
                format!("{{\"rows_affected\":{n}}}").as_bytes(),
            ))
        }
    }
}

/// The bind text of a body parameter: its value, else its default, else NULL (or 400 when
/// required). Arrays become PostgreSQL array literals.
fn bind_input<'a>(
    p: &BoundParam,
    vars: &'a RawVariables<'a>,
) -> Result<Option<Cow<'a, str>>, ApiError> {
    let found = Source::Raw(vars).bind(&p.name, &p.kind, None)?;
    let text = match (found, &p.default) {
        (Some(text), _) => Some(text),
        (None, Some(default)) => Source::Value(default)
            .bind(&p.name, &p.kind, None)?
            .map(|c| Cow::Owned(c.into_owned())),
        (None, None) if p.required => {
            return Err(ActionError::MissingParam {
                name: p.name.clone(),
            }
            .into());
        }
        (None, None) => None,
    };
    match text {
        Some(json) if p.kind.dims > 0 => {
            let json_elements = p.kind.scalar == Scalar::Json;
            let mut out = String::with_capacity(json.len() + 2);
            pg_array(&json, json_elements, &mut out).map_err(Error::VariablesJson)?;
            Ok(Some(Cow::Owned(out)))
        }
        other => Ok(other),
    }
}

/// Writes the JSON array `json` as a PostgreSQL array literal: elements quoted, `NULL` for
/// null, nested arrays as nested braces. `json_elements` keeps each element's JSON text (for
/// `json[]`/`jsonb[]`).
fn pg_array(json: &str, json_elements: bool, out: &mut String) -> Result<(), serde_json::Error> {
    let items: Vec<&RawValue> = serde_json::from_str(json)?;
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let text = item.get();
        match text.as_bytes().first() {
            Some(b'n') => out.push_str("NULL"),
            Some(b'[') if !json_elements => pg_array(text, json_elements, out)?,
            Some(b'"') if !json_elements => quote(&serde_json::from_str::<String>(text)?, out),
            _ => quote(text, out),
        }
    }
    out.push('}');
    Ok(())
}

fn quote(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn not_object(e: Error) -> ApiError {
    match e {
        Error::VariablesNotObject { got } => ApiError::BadRequest(format!(
            "the request body must be a JSON object of the action's parameters, got {got}"
        )),
        Error::VariablesJson(e) => {
            ApiError::BadRequest(format!("the request body is not valid JSON: {e}"))
        }
        other => other.into(),
    }
}

/// Client mistakes (bad values, constraints) as 400s; anything else names the action.
fn query_error(action: &str, e: tokio_postgres::Error) -> ApiError {
    match Error::from_query("action", e) {
        Error::Database { message, .. } => ActionError::Database {
            action: action.to_owned(),
            message,
        }
        .into(),
        other => other.into(),
    }
}

/// The OID of type `name` as PostgreSQL resolves it (`int8`, `bigint`, `text[]`, an enum...).
async fn resolve_type(client: &Client, name: &str) -> Result<Type, tokio_postgres::Error> {
    // Sent unnamed, so nothing stays prepared on the connection.
    let rows = client
        .query_typed("SELECT $1::text::regtype::oid", &[(&name, Type::TEXT)])
        .await?;
    let Some(row) = rows.first() else {
        return Ok(Type::TEXT); // not reached: the statement always answers one row
    };
    let oid: u32 = row.try_get(0)?;
    Ok(Type::from_oid(oid).unwrap_or_else(|| {
        Type::new(
            name.to_owned(),
            oid,
            postgres_types::Kind::Simple,
            String::new(),
        )
    }))
}

/// Type names live as long as the process (the variable checks want `&'static str`); each
/// distinct name is stored once however often actions are built.
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(found) = names.get(name) {
        return found;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// A parameter sent in PostgreSQL's text format, which every type reads: PostgreSQL parses
/// and checks it as the type the statement was prepared with.
#[derive(Debug)]
struct TextParam<'a>(Option<Cow<'a, str>>);

impl ToSql for TextParam<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match &self.0 {
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array(json: &str, json_elements: bool) -> String {
        let mut out = String::new();
        pg_array(json, json_elements, &mut out).unwrap();
        out
    }

    #[test]
    fn arrays_become_literals() {
        assert_eq!(array("[1, 2, null]", false), r#"{"1","2",NULL}"#);
        assert_eq!(array(r#"["a\"b", "c\\d"]"#, false), r#"{"a\"b","c\\d"}"#);
        assert_eq!(array("[[1], [2]]", false), r#"{{"1"},{"2"}}"#);
        assert_eq!(
            array(r#"[{"a": 1}, "s"]"#, true),
            r#"{"{\"a\": 1}","\"s\""}"#
        );
        assert_eq!(array("[]", false), "{}");
    }

    #[test]
    fn interned_once() {
        let a = intern("bigint[]");
        let b = intern(&String::from("bigint[]"));
        assert!(std::ptr::eq(a, b));
    }
}
