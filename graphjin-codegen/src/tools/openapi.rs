//! The locked API as an OpenAPI 3.1 document (`graphjin openapi`): one path per
//! allow-listed query and mutation on the REST route, one per configured action, with
//! their variables, response shapes, errors and security schemes.
//!
//! What it describes, route by route:
//!
//! - `GET {prefix}/v1/rest/{operation}` (queries): the variables as one JSON object in the
//!   `variables` query parameter (`?variables={"id":3}`).
//! - `POST {prefix}/v1/rest/{operation}`: the variables object as the body itself (an empty
//!   body means none). Mutations are POST only.
//! - `POST {prefix}/v1/actions/{name}`: the action's `from: input` parameters as the body's
//!   keys, guarded by its named auth.
//! - Answers: `{"data": ...}` shaped as compiled (a key only some roles select may be
//!   absent; `null` only where the column or relation allows it), or
//!   `{"errors": [{"message", "extensions": {"code"}}]}` with the runtime's status codes.
//!
//! Subscriptions are not REST routes (they run over the GraphQL WebSocket) and are left
//! out. Values follow [`super::wire`]: a `numeric` is a JSON number (kept exact by the
//! runtime), its NaN and infinities the strings PostgreSQL writes.

use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use super::response::{Node, pascal, response};
use super::surface::{ActionKeys, ApiConfig, AuthKeys};
use super::wire::{Wire, WireTypes};
use crate::compile::InputShape;
use crate::gql::ast::OpKind;
use crate::project::{CompiledOperation, Project, VariableSpec};

/// Choices the config does not make.
#[derive(Debug, Clone)]
pub struct OpenApiOptions {
    /// The API prefix the service is mounted under (`Service::api_prefix`, default `/api`).
    pub api_prefix: String,
    /// `servers[0].url`, if any.
    pub server: Option<String>,
}

impl Default for OpenApiOptions {
    fn default() -> Self {
        OpenApiOptions {
            api_prefix: "/api".into(),
            server: None,
        }
    }
}

/// The OpenAPI 3.1 document of `project`'s compiled operations `ops` and the actions and
/// auth of `api`.
pub fn document(
    project: &Project,
    ops: &[CompiledOperation],
    api: &ApiConfig,
    options: &OpenApiOptions,
) -> Json {
    let wire = WireTypes::new(&project.schema);
    let prefix = prefix(&options.api_prefix);
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert("Error".into(), error_schema());
    schemas.insert("Numeric".into(), numeric_schema());
    let mut default_auth = auth_schemes(&api.auth, "auth");
    default_auth.fail_block_possible &= api.auth_fail_block;
    let mut security_schemes = Map::new();
    for (name, scheme) in &default_auth.schemes {
        security_schemes.insert(name.clone(), scheme.clone());
    }

    for op in ops.iter().filter(|o| o.kind != OpKind::Subscription) {
        let pascal = pascal(&op.name);
        let vars_name = format!("{pascal}Variables");
        let data_name = format!("{pascal}Data");
        schemas.insert(vars_name.clone(), variables_schema(&op.variables, &wire));
        schemas.insert(data_name.clone(), output_schema(&response(op), &wire));
        let vars_ref = json!({ "$ref": format!("#/components/schemas/{vars_name}") });
        let required = op.variables.iter().any(|v| v.required);
        let anon = op.roles.iter().any(|(r, _)| r == "anon");
        let refused_signed_in = op.refused.iter().any(|(r, _)| r != "anon");
        let entry = project.allow_list.find(&op.name);
        let comments = entry
            .map(|e| {
                e.comments
                    .iter()
                    .map(|c| c.trim_start_matches('#').trim())
                    .filter(|c| !c.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let summary = if comments.is_empty() {
            format!("{} {}", op.kind.keyword(), op.name)
        } else {
            comments
        };
        let description = format!(
            "The allow-listed {} `{}` (allow.list:{}):\n\n```graphql\n{}\n```",
            op.kind.keyword(),
            op.name,
            op.pos,
            op.source.trim()
        );
        let roles: Vec<&str> = op.roles.iter().map(|(r, _)| r.as_str()).collect();
        let ok = json!({
            "description": "The operation's `data`, shaped as compiled.",
            "content": { "application/json": { "schema": {
                "type": "object",
                "required": ["data"],
                "properties": { "data": { "$ref": format!("#/components/schemas/{data_name}") } },
                "additionalProperties": false
            } } }
        });
        let mut responses = Map::new();
        responses.insert("200".into(), ok);
        responses.insert("400".into(), response_ref("BadRequest"));
        if !anon || default_auth.fail_block_possible {
            responses.insert("401".into(), response_ref("Unauthenticated"));
        }
        if refused_signed_in {
            responses.insert("403".into(), response_ref("Forbidden"));
        }
        responses.insert("500".into(), response_ref("InternalError"));
        responses.insert("503".into(), response_ref("Unavailable"));
        let security = default_auth.requirements(anon);
        let base = |id: String, responses: Map<String, Json>| {
            let mut o = Map::new();
            o.insert("operationId".into(), json!(id));
            o.insert("summary".into(), json!(summary));
            o.insert("description".into(), json!(description));
            o.insert("tags".into(), json!([op.kind.keyword()]));
            if let Some(sec) = &security {
                o.insert("security".into(), sec.clone());
            }
            o.insert("responses".into(), Json::Object(responses));
            o.insert("x-graphjin-roles".into(), json!(roles));
            o.insert("x-graphjin-sha256".into(), json!(op.sha256));
            o
        };
        let mut item = Map::new();
        if op.kind == OpKind::Query {
            let mut get = base(op.name.clone(), responses.clone());
            if !op.variables.is_empty() {
                get.insert(
                    "parameters".into(),
                    json!([{
                        "name": "variables",
                        "in": "query",
                        "required": required,
                        "description": "The operation's variables as one JSON object.",
                        "content": { "application/json": { "schema": vars_ref } }
                    }]),
                );
            }
            item.insert("get".into(), Json::Object(get));
        }
        let mut post_responses = responses;
        post_responses.insert("413".into(), response_ref("PayloadTooLarge"));
        post_responses.insert("415".into(), response_ref("UnsupportedMediaType"));
        let post_id = if op.kind == OpKind::Query {
            format!("{}ViaPost", op.name)
        } else {
            op.name.clone()
        };
        let mut post = base(post_id, post_responses);
        post.insert(
            "requestBody".into(),
            json!({
                "required": required,
                "description": "The operation's variables: the body is the variables object itself.",
                "content": { "application/json": { "schema": vars_ref } }
            }),
        );
        item.insert("post".into(), Json::Object(post));
        paths.insert(format!("{prefix}/v1/rest/{}", op.name), Json::Object(item));
    }

    for action in &api.actions {
        let named = api
            .auths
            .iter()
            .find(|a| a.name.is_some() && a.name == action.auth_name);
        let auth = named
            .map(|a| {
                let name = a.name.clone().unwrap_or_default();
                auth_schemes(a, &format!("auths.{name}"))
            })
            .unwrap_or_default();
        for (name, scheme) in &auth.schemes {
            security_schemes.insert(name.clone(), scheme.clone());
        }
        paths.insert(
            format!("{prefix}/v1/actions/{}", action.name),
            json!({ "post": action_operation(action, &auth, &wire) }),
        );
    }

    let mut components = Map::new();
    components.insert("schemas".into(), Json::Object(schemas));
    components.insert("responses".into(), error_responses());
    if !security_schemes.is_empty() {
        components.insert("securitySchemes".into(), Json::Object(security_schemes));
    }
    let mut hash = Sha256::new();
    for op in ops {
        hash.update(op.name.as_bytes());
        hash.update(b"\0");
        hash.update(op.sha256.as_bytes());
    }
    let version = crate::project::hex(&hash.finalize())[..12].to_string();
    let mut doc = Map::new();
    doc.insert("openapi".into(), json!("3.1.0"));
    doc.insert(
        "info".into(),
        json!({
            "title": api.app_name.clone().unwrap_or_else(|| "GraphJin API".into()),
            "version": version,
            "description": "The locked API compiled from allow.list: every operation below is fixed at build time, and the server refuses anything else. Generated by `graphjin openapi`. Subscriptions run over the GraphQL WebSocket and are not listed."
        }),
    );
    if let Some(url) = &options.server {
        doc.insert("servers".into(), json!([{ "url": url }]));
    }
    doc.insert("paths".into(), Json::Object(paths));
    doc.insert("components".into(), Json::Object(components));
    Json::Object(doc)
}

/// Loads and compiles the config folder `dir` and returns its document as JSON text.
pub fn generate(dir: &std::path::Path, options: &OpenApiOptions) -> Result<String, Vec<String>> {
    let project = Project::load(dir).map_err(|e| vec![e.to_string()])?;
    let ops = project
        .compile()
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let api = ApiConfig::load(dir).map_err(|e| vec![e.to_string()])?;
    let doc = document(&project, &ops, &api, options);
    serde_json::to_string_pretty(&doc).map_err(|e| vec![e.to_string()])
}

/// For `build.rs`, beside [`crate::emit::build`]: writes the document of the config folder
/// `dir` (relative to the crate) to `$OUT_DIR/{file}`, for the crate to serve with
/// `include_str!(concat!(env!("OUT_DIR"), "/openapi.json"))`. On errors prints each and
/// exits with status 1.
pub fn build(dir: &str, file: &str) {
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    let path = root.join(dir);
    println!("cargo:rerun-if-changed={}", path.display());
    match generate(&path, &OpenApiOptions::default()) {
        Ok(text) => {
            let out = std::env::var_os("OUT_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| std::path::PathBuf::from("."));
            let target = out.join(file);
            if let Err(e) = std::fs::write(&target, text) {
                eprintln!("error: could not write {}: {e}", target.display());
                std::process::exit(1);
            }
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            std::process::exit(1);
        }
    }
}

fn prefix(p: &str) -> String {
    let t = p.trim().trim_matches('/');
    if t.is_empty() {
        String::new()
    } else {
        format!("/{t}")
    }
}

fn response_ref(name: &str) -> Json {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

fn error_schema() -> Json {
    json!({
        "type": "object",
        "description": "GraphQL-over-HTTP errors.",
        "required": ["errors"],
        "properties": {
            "errors": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["message"],
                    "properties": {
                        "message": { "type": "string" },
                        "extensions": {
                            "type": "object",
                            "required": ["code"],
                            "properties": { "code": { "type": "string" } }
                        }
                    }
                }
            }
        }
    })
}

fn numeric_schema() -> Json {
    json!({
        "description": "A PostgreSQL numeric: a JSON number whose digits are exact (read it with a decimal type, not a float); NaN and the infinities are strings.",
        "anyOf": [
            { "type": "number" },
            { "type": "string", "enum": ["NaN", "Infinity", "-Infinity"] }
        ]
    })
}

fn error_responses() -> Json {
    let one = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
        })
    };
    json!({
        "BadRequest": one("BAD_REQUEST (malformed JSON, variables not an object), BAD_USER_INPUT (a variable of the wrong type, a value PostgreSQL rejects), CONSTRAINT_VIOLATION (the write breaks a constraint)."),
        "Unauthenticated": one("UNAUTHENTICATED: sign in (no statement for anonymous callers), or the credential sent is invalid."),
        "Forbidden": one("FORBIDDEN: the caller's role has no statement for the operation."),
        "PayloadTooLarge": one("PAYLOAD_TOO_LARGE: the body is over the limit."),
        "UnsupportedMediaType": one("UNSUPPORTED_MEDIA_TYPE: send Content-Type: application/json."),
        "InternalError": one("INTERNAL_SERVER_ERROR: the detail is in the server's log."),
        "Unavailable": one("SERVICE_UNAVAILABLE: no database connection could be had (or too many signed action calls)."),
        "HandlerFailed": one("ACTION_HANDLER_FAILED: the action's handler could not be reached, failed, or answered no JSON."),
        "HandlerTimeout": one("ACTION_TIMEOUT: the action's handler did not answer in time.")
    })
}

/// The security schemes of one auth and how a request satisfies them.
#[derive(Debug, Clone, Default)]
struct AuthSchemes {
    /// Scheme name -> Security Scheme Object.
    schemes: Vec<(String, Json)>,
    /// Alternatives: each a set of schemes that together authenticate.
    alternatives: Vec<Vec<String>>,
    /// A request with a bad or missing credential can be refused with 401 even where
    /// anonymous callers are served (`auth_fail_block` for the default auth; always for a
    /// named auth guarding an action).
    fail_block_possible: bool,
}

impl AuthSchemes {
    /// The `security` requirement; `None` when the auth takes no credential.
    fn requirements(&self, anonymous_ok: bool) -> Option<Json> {
        if self.alternatives.is_empty() {
            return None;
        }
        let mut list: Vec<Json> = Vec::new();
        if anonymous_ok {
            list.push(json!({}));
        }
        for alt in &self.alternatives {
            let req: Map<String, Json> = alt.iter().map(|s| (s.clone(), json!([]))).collect();
            list.push(Json::Object(req));
        }
        Some(Json::Array(list))
    }
}

fn auth_schemes(auth: &AuthKeys, prefix: &str) -> AuthSchemes {
    let mut out = AuthSchemes::default();
    let add = |out: &mut AuthSchemes, suffix: &str, scheme: Json, alone: bool| {
        let name = format!("{prefix}.{suffix}");
        out.schemes.push((name.clone(), scheme));
        if alone {
            out.alternatives.push(vec![name]);
        }
    };
    let cookie = auth.cookie.as_deref().filter(|c| !c.trim().is_empty());
    match auth.kind().as_str() {
        "jwt" => {
            add(
                &mut out,
                "bearer",
                json!({ "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                        "description": "A JSON Web Token in `Authorization: Bearer <token>`." }),
                true,
            );
            if let Some(c) = cookie {
                add(
                    &mut out,
                    "cookie",
                    json!({ "type": "apiKey", "in": "cookie", "name": c,
                            "description": "The JSON Web Token in a cookie." }),
                    true,
                );
            }
        }
        "rails" => add(
            &mut out,
            "cookie",
            json!({ "type": "apiKey", "in": "cookie", "name": cookie.unwrap_or("_session"),
                    "description": "A Ruby on Rails session cookie (a Devise login)." }),
            true,
        ),
        "header" => {
            if let Some(h) = auth.header.name.as_deref().filter(|h| !h.trim().is_empty()) {
                add(
                    &mut out,
                    "header",
                    json!({ "type": "apiKey", "in": "header", "name": h,
                            "description": "A shared value in a request header." }),
                    true,
                );
            }
        }
        "hmac" => {
            let sig = auth
                .hmac
                .signature_header
                .clone()
                .unwrap_or_else(|| "X-Signature".into());
            let ts = auth
                .hmac
                .timestamp_header
                .clone()
                .unwrap_or_else(|| "X-Timestamp".into());
            add(
                &mut out,
                "signature",
                json!({ "type": "apiKey", "in": "header", "name": sig,
                        "description": "`sha256=<hex>`: HMAC-SHA256 of `timestamp + \".\" + body` with the shared secret." }),
                false,
            );
            add(
                &mut out,
                "timestamp",
                json!({ "type": "apiKey", "in": "header", "name": ts,
                        "description": "The call's time in Unix seconds, within the auth's `max_age` of the server's clock." }),
                false,
            );
            out.alternatives.push(vec![
                format!("{prefix}.signature"),
                format!("{prefix}.timestamp"),
            ]);
        }
        _ => {}
    }
    out.fail_block_possible = !out.alternatives.is_empty();
    out
}

fn action_operation(action: &ActionKeys, auth: &AuthSchemes, wire: &WireTypes<'_>) -> Json {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for p in action.params.iter().filter(|p| p.from_input()) {
        let mut s = input_schema(&wire.of(&p.pg_type));
        let needed = p.required && p.default.is_none();
        if needed {
            required.push(json!(p.name));
        } else {
            s = nullable(s);
        }
        if let (Json::Object(m), Some(d)) = (&mut s, &p.default) {
            m.insert("default".into(), d.clone());
        }
        properties.insert(p.name.clone(), s);
    }
    let data = if action.url.is_some() {
        json!({ "description": "The handler's JSON answer (`null` for an empty one)." })
    } else {
        json!({
            "description": "The rows the statement returns (as PostgreSQL renders them to JSON), or how many rows it changed.",
            "anyOf": [
                { "type": "array", "items": { "type": "object" } },
                { "type": "object", "required": ["rows_affected"],
                  "properties": { "rows_affected": { "type": "integer" } },
                  "additionalProperties": false }
            ]
        })
    };
    let mut responses = json!({
        "200": {
            "description": "The action ran.",
            "content": { "application/json": { "schema": {
                "type": "object", "required": ["data"],
                "properties": { "data": data }, "additionalProperties": false
            } } }
        },
        "400": response_ref("BadRequest"),
        "413": response_ref("PayloadTooLarge"),
        "415": response_ref("UnsupportedMediaType"),
        "500": response_ref("InternalError"),
        "503": response_ref("Unavailable")
    });
    if let Json::Object(r) = &mut responses {
        if auth.fail_block_possible {
            r.insert("401".into(), response_ref("Unauthenticated"));
        }
        if action.url.is_some() {
            r.insert("502".into(), response_ref("HandlerFailed"));
            r.insert("504".into(), response_ref("HandlerTimeout"));
        }
    }
    let kind = if action.url.is_some() {
        "a webhook action: the call is forwarded, signed, to the configured handler"
    } else {
        "an SQL action: one prepared statement"
    };
    let mut op = json!({
        "operationId": format!("{}Action", action.name),
        "summary": format!("action {}", action.name),
        "description": format!("The configured action `{}`, {kind}; guarded by the named auth `{}`.", action.name, action.auth_name.as_deref().unwrap_or("(none)")),
        "tags": ["action"],
        "requestBody": {
            "required": !required.is_empty(),
            "content": { "application/json": { "schema": {
                "type": "object", "properties": properties, "required": required
            } } }
        },
        "responses": responses
    });
    if let (Json::Object(m), Some(sec)) = (&mut op, auth.requirements(false)) {
        m.insert("security".into(), sec);
    }
    op
}

/// `schema` or `null`.
fn nullable(schema: Json) -> Json {
    if let Json::Object(m) = &schema
        && m.len() <= 3
        && let Some(Json::String(t)) = m.get("type")
        && m.keys()
            .all(|k| matches!(k.as_str(), "type" | "format" | "items"))
    {
        let mut m = m.clone();
        m.insert("type".into(), json!([t, "null"]));
        return Json::Object(m);
    }
    if schema.as_object().is_some_and(Map::is_empty) {
        return schema;
    }
    json!({ "anyOf": [schema, { "type": "null" }] })
}

/// A value PostgreSQL writes in a response.
fn output_wire(w: &Wire) -> Json {
    match w {
        Wire::Integer { bits: 64 } => json!({ "type": "integer", "format": "int64" }),
        Wire::Integer { .. } => json!({ "type": "integer", "format": "int32" }),
        Wire::Float => json!({ "type": "number", "format": "double" }),
        Wire::Numeric => json!({ "$ref": "#/components/schemas/Numeric" }),
        Wire::Boolean => json!({ "type": "boolean" }),
        Wire::String { format: Some(f) } => json!({ "type": "string", "format": f }),
        Wire::String { format: None } => json!({ "type": "string" }),
        Wire::Enum(labels) => json!({ "type": "string", "enum": labels }),
        Wire::Json => json!({}),
        Wire::Array(e) => json!({ "type": "array", "items": output_wire(e) }),
    }
}

/// A value the runtime accepts for a variable.
fn input_schema(w: &Wire) -> Json {
    match w {
        Wire::Integer { bits: 16 } => {
            json!({ "type": "integer", "minimum": i16::MIN, "maximum": i16::MAX })
        }
        Wire::Integer { bits: 32 } => json!({ "type": "integer", "format": "int32" }),
        Wire::Integer { .. } => json!({ "type": "integer", "format": "int64" }),
        Wire::Float | Wire::Numeric => json!({ "type": "number" }),
        Wire::Boolean => json!({ "type": "boolean" }),
        Wire::String {
            format: Some("uuid"),
        } => json!({ "type": "string", "format": "uuid" }),
        Wire::String { .. } => json!({ "type": "string" }),
        Wire::Enum(labels) => json!({ "type": "string", "enum": labels }),
        Wire::Json => json!({}),
        Wire::Array(e) => json!({ "type": "array", "items": nullable(input_schema(e)) }),
    }
}

fn output_schema(node: &Node<'_>, wire: &WireTypes<'_>) -> Json {
    match node {
        Node::Any => json!({}),
        Node::Scalar {
            pg_type,
            nullable: n,
        } => {
            let s = output_wire(&wire.of(pg_type));
            if *n { nullable(s) } else { s }
        }
        Node::Object {
            fields,
            list,
            nullable: n,
        } => {
            let mut properties = Map::new();
            let mut required = Vec::new();
            for m in fields {
                properties.insert(m.key.to_string(), output_schema(&m.node, wire));
                if m.always {
                    required.push(json!(m.key));
                }
            }
            let object = json!({
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": false
            });
            let s = if *list {
                json!({ "type": "array", "items": object })
            } else {
                object
            };
            if *n { nullable(s) } else { s }
        }
    }
}

fn variables_schema(vars: &[VariableSpec], wire: &WireTypes<'_>) -> Json {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for v in vars {
        let mut s = match &v.input {
            Some(shape) => input_shape(shape, wire),
            None => input_schema(&wire.of(&v.pg_type)),
        };
        if v.required {
            required.push(json!(v.name));
        } else {
            s = nullable(s);
        }
        if let Json::Object(m) = &mut s {
            if let Some(d) = &v.default {
                m.insert("default".into(), d.clone());
            }
            m.insert(
                "description".into(),
                json!(format!("`${}`, used as `{}`.", v.name, v.pg_type)),
            );
        }
        properties.insert(v.name.clone(), s);
    }
    json!({ "type": "object", "properties": properties, "required": required })
}

fn input_shape(shape: &InputShape, wire: &WireTypes<'_>) -> Json {
    match shape {
        InputShape::Scalar(pg) => input_schema(&wire.of(pg)),
        InputShape::Column { pg_type, .. } => input_schema(&wire.of(pg_type)),
        InputShape::Any => json!({}),
        InputShape::Object { fields, list } => {
            let properties: Map<String, Json> = fields
                .iter()
                .map(|(k, s)| (k.clone(), nullable(input_shape(s, wire))))
                .collect();
            let object = json!({ "type": "object", "properties": properties });
            if *list {
                json!({ "type": "array", "items": object })
            } else {
                object
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_forms() {
        assert_eq!(
            nullable(json!({ "type": "string" })),
            json!({ "type": ["string", "null"] })
        );
        assert_eq!(nullable(json!({})), json!({}));
        assert_eq!(
            nullable(json!({ "$ref": "#/components/schemas/Numeric" })),
            json!({ "anyOf": [{ "$ref": "#/components/schemas/Numeric" }, { "type": "null" }] })
        );
    }

    #[test]
    fn a_query_and_a_mutation() {
        let p = crate::tools::test_project(
            "# One customer.\nquery one($id: ID!) {\n  customers(id: $id) {\n    id\n    email\n  }\n}\n\
             mutation note($id: ID!, $note: String) {\n  orders(id: $id, update: { note: $note }) {\n    id\n    note\n    total\n  }\n}\n",
            "",
        );
        let ops = p.compile().expect("compiles");
        let api = ApiConfig {
            auth: AuthKeys {
                kind: Some("JWT".into()),
                cookie: Some("token".into()),
                ..AuthKeys::default()
            },
            ..ApiConfig::default()
        };
        let doc = document(&p, &ops, &api, &OpenApiOptions::default());
        assert_eq!(
            doc["paths"]["/api/v1/rest/one"]["post"]["security"],
            json!([{}, { "auth.bearer": [] }, { "auth.cookie": [] }])
        );
        // Anonymous callers may not write: the mutation needs a credential.
        assert_eq!(
            doc["paths"]["/api/v1/rest/note"]["post"]["security"],
            json!([{ "auth.bearer": [] }, { "auth.cookie": [] }])
        );
        let get = &doc["paths"]["/api/v1/rest/one"]["get"];
        assert_eq!(get["operationId"], "one");
        assert_eq!(get["summary"], "One customer.");
        assert_eq!(get["parameters"][0]["required"], true);
        assert!(doc["paths"]["/api/v1/rest/note"]["get"].is_null());
        let data = &doc["components"]["schemas"]["OneData"];
        assert_eq!(
            data["properties"]["customers"]["anyOf"][0]["properties"]["id"],
            json!({ "type": "integer", "format": "int64" })
        );
        let note = &doc["components"]["schemas"]["NoteData"]["properties"]["orders"];
        assert_eq!(
            note["anyOf"][0]["properties"]["note"],
            json!({ "type": ["string", "null"] })
        );
        assert_eq!(
            doc["components"]["schemas"]["NoteVariables"]["required"],
            json!(["id"])
        );
    }
}
