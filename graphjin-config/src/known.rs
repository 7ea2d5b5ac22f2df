//! Every key a config file may hold, declared once for the build and the runtime alike,
//! and the check that refuses any other ([`check`]).
//!
//! GraphJin silently ignores a key nobody reads, so a typo (`auth: {jwt: {secrte: ...}}`,
//! `cors_allowd_origins`) does nothing. Here each side (graphjin-codegen, graphjin-runtime)
//! checks the whole file against [`KEYS`], the union of both sides' keys and GraphJin's keys
//! this port deliberately does not use, and refuses anything else with the file, the key
//! path and a did-you-mean:
//!
//! ```text
//! config/dev.yml: key `auth.jwt.secrte`: unknown key; did you mean `secret`?
//! ```
//!
//! Keys match ignoring case, as GraphJin's viper does. Each side has a test that every key
//! its own types read ([`crate::Schema`]) is in the tree and every key the tree gives it is
//! read ([`drift`]), so the tree cannot drift from the code.
//!
//! To add a key: add it to the side's serde type, then here under its owner
//! ([`Owner::Build`] or [`Owner::Runtime`]); the drift tests name whatever is missing.

use serde_json::Value;

use crate::schema::{Kind, Schema, Segment};
use crate::{Error, Source};

/// Who reads a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The build (graphjin-codegen): what shapes the SQL, the generated code and the
    /// OpenAPI document.
    Build,
    /// The runtime (graphjin-runtime).
    Runtime,
    /// The reader itself (`inherits`).
    Reader,
    /// A GraphJin key accepted and not used here, for the reason given. Nothing below it is
    /// checked.
    Ignored(&'static str),
    /// A GraphJin key for something this port does not do: accepted only with its default
    /// (false, 0, empty or null), else refused with the reason given, because ignoring it
    /// would weaken what the config asks for or lose data.
    Unsupported(&'static str),
}

/// What a key holds.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// A scalar, or anything read as a whole: nothing below it is checked.
    Value,
    /// A list (or, as GraphJin's weak typing allows, a single item) of the shape.
    List(&'static Shape),
    /// A map whose keys are the user's (preset columns, variable names); values of the
    /// shape.
    Map(&'static Shape),
    /// A map with these keys only.
    Keys(&'static [Known]),
    /// A map with the keys of all these groups (an `auths:` entry: the auth keys and
    /// `hmac`).
    KeysOf(&'static [&'static [Known]]),
}

/// One known key.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    /// Its name as documented (matched ignoring case).
    pub name: &'static str,
    /// Other names for the same key.
    pub aliases: &'static [&'static str],
    /// Who reads it.
    pub owner: Owner,
    /// What it holds.
    pub shape: Shape,
}

const fn key(name: &'static str, owner: Owner, shape: Shape) -> Known {
    Known {
        name,
        aliases: &[],
        owner,
        shape,
    }
}
const fn b(name: &'static str) -> Known {
    key(name, Owner::Build, Shape::Value)
}
const fn r(name: &'static str) -> Known {
    key(name, Owner::Runtime, Shape::Value)
}
const fn ignored(name: &'static str, why: &'static str) -> Known {
    key(name, Owner::Ignored(why), Shape::Value)
}
const fn unsupported(name: &'static str, why: &'static str) -> Known {
    key(name, Owner::Unsupported(why), Shape::Value)
}
const fn list(name: &'static str, owner: Owner) -> Known {
    key(name, owner, Shape::List(&Shape::Value))
}

impl Known {
    const fn alias(mut self, aliases: &'static [&'static str]) -> Known {
        self.aliases = aliases;
        self
    }

    /// Whether `written` (a key as the file spells it) is this key.
    pub fn matches(&self, written: &str) -> bool {
        written.eq_ignore_ascii_case(self.name)
            || self.aliases.iter().any(|a| written.eq_ignore_ascii_case(a))
    }
}

use Owner::{Build, Runtime};

const OP_RULES: &[Known] = &[
    list("filters", Build),
    list("columns", Build),
    key("presets", Build, Shape::Map(&Shape::Value)),
    b("limit"),
    b("block"),
    b("disable_functions"),
];

const ROLE_TABLE: &[Known] = &[
    b("name"),
    unsupported(
        "schema",
        "tables outside the database's default schema are not supported; db.graphql names the schema",
    ),
    unsupported(
        "read_only",
        "block writes per operation instead: `insert: {block: true}`, `update: {block: true}`, `delete: {block: true}`",
    ),
    key("query", Build, Shape::Keys(OP_RULES)),
    key("insert", Build, Shape::Keys(OP_RULES)),
    key("update", Build, Shape::Keys(OP_RULES)),
    key("delete", Build, Shape::Keys(OP_RULES)),
    ignored(
        "upsert",
        "upsert mutations are not compiled here (an operation using one fails the build)",
    ),
];

const ROLE: &[Known] = &[
    b("name"),
    ignored("comment", "a comment for people"),
    b("match"),
    key("tables", Build, Shape::List(&Shape::Keys(ROLE_TABLE))),
];

const COLUMN: &[Known] = &[
    b("name"),
    b("type"),
    b("related_to").alias(&["foreign_key"]),
    b("array"),
    b("primary"),
];

const TABLE: &[Known] = &[
    b("name"),
    unsupported(
        "schema",
        "tables outside the database's default schema are not supported; db.graphql names the schema",
    ),
    b("table"),
    b("type"),
    key("columns", Build, Shape::List(&Shape::Keys(COLUMN))),
    key("order_by", Build, Shape::Map(&Shape::List(&Shape::Value))),
    list("blocklist", Build),
];

const COMPLIANCE: &[Known] = &[
    b("name"),
    b("role"),
    list("roles", Build),
    list("except_roles", Build),
    list("never_reads", Build),
    list("never_writes", Build),
    list("only_roles", Build),
    list("read", Build),
    list("write", Build),
    b("table"),
    b("must_filter_by"),
];

const RUST: &[Known] = &[
    list("presets", Build),
    key("types", Build, Shape::Map(&Shape::Value)),
    key("columns", Build, Shape::Map(&Shape::Value)),
];

const JWT: &[Known] = &[
    r("provider"),
    r("secret"),
    r("public_key_file"),
    r("public_key_type"),
    r("issuer"),
    r("audience"),
    r("jwks_url"),
    r("jwks_refresh"),
    r("jwks_min_refresh"),
    r("firebase_certs_url"),
];

const HEADER: &[Known] = &[r("name"), r("exists"), r("value")];

const RAILS: &[Known] = &[
    r("version"),
    r("secret_key_base"),
    r("url"),
    r("password"),
    r("max_idle"),
    r("max_active"),
    r("namespace"),
    r("key_prefix"),
    r("salt"),
    r("sign_salt"),
    r("auth_salt"),
];

const AUTH: &[Known] = &[
    r("name"),
    r("type"),
    r("cookie"),
    r("creds_in_header"),
    r("subs_creds_in_vars"),
    ignored(
        "development",
        "use `creds_in_header` (honoured unless `production: true`)",
    ),
    key("jwt", Runtime, Shape::Keys(JWT)),
    key("header", Runtime, Shape::Keys(HEADER)),
    key("rails", Runtime, Shape::Keys(RAILS)),
];

const HMAC: &[Known] = &[
    r("secret"),
    r("signature_header"),
    r("timestamp_header"),
    r("max_age"),
    r("replay_cache"),
    r("replay_store"),
    r("replay_key_prefix"),
];

const AUTHS_ENTRY: &[&[Known]] = &[AUTH, &[key("hmac", Runtime, Shape::Keys(HMAC))]];

const ACTION_PARAM: &[Known] = &[r("name"), r("type"), r("required"), r("default"), r("from")];

const ACTION_HEADER: &[Known] = &[r("name"), r("value"), r("value_from_env")];

const ACTION: &[Known] = &[
    r("name"),
    r("sql"),
    r("url"),
    r("auth_name"),
    key("params", Runtime, Shape::List(&Shape::Keys(ACTION_PARAM))),
    key("headers", Runtime, Shape::List(&Shape::Keys(ACTION_HEADER))),
    list("forward_headers", Runtime),
    r("secret"),
    r("signature_header"),
    r("timestamp_header"),
    r("timeout"),
];

const SUBSCRIPTIONS: &[Known] = &[
    r("max_per_connection"),
    r("send_queue"),
    r("keepalive_seconds"),
    r("idle_timeout_seconds"),
    r("init_timeout_seconds"),
    r("batch_size"),
    r("poll_connections"),
];

const METRICS: &[Known] = &[r("enabled"), r("path"), r("auth")];

const DATABASE: &[Known] = &[
    r("connection_string"),
    r("type"),
    r("host"),
    r("port"),
    r("dbname"),
    r("user"),
    r("password"),
    r("schema"),
    r("pool_size"),
    r("max_connections"),
    r("max_connection_idle_time"),
    r("max_connection_life_time"),
    r("ping_timeout"),
    r("enable_tls"),
    r("server_name"),
    r("server_cert"),
    r("client_cert"),
    r("client_key"),
    r("statement_timeout"),
    key("operation_timeouts", Runtime, Shape::Map(&Shape::Value)),
    r("connection_setup"),
    r("pipeline_depth"),
    r("statement_mode"),
    list("read_replicas", Runtime),
    r("max_replica_lag"),
    r("replica_check_interval"),
    r("read_your_writes"),
    r("role_cache_ttl"),
    r("role_cache_size"),
];

const RATE_LIMITER: &str =
    "no rate limiting here: put a proxy or load balancer that limits in front";

/// Every top-level key: the build's, the runtime's and GraphJin's keys this port does not
/// use (with the reason).
pub static KEYS: &[Known] = &[
    key("inherits", Owner::Reader, Shape::Value),
    // The build: what shapes the SQL and the generated code.
    b("default_limit"),
    b("enable_camelcase"),
    key("variables", Build, Shape::Map(&Shape::Value)),
    list("blocklist", Build),
    key("tables", Build, Shape::List(&Shape::Keys(TABLE))),
    b("roles_query"),
    key("roles", Build, Shape::List(&Shape::Keys(ROLE))),
    b("default_block"),
    key("compliance", Build, Shape::List(&Shape::Keys(COMPLIANCE))),
    key("rust", Build, Shape::Keys(RUST)),
    b("app_name"),
    // The runtime.
    r("production"),
    r("auth_fail_block"),
    key("auth", Runtime, Shape::Keys(AUTH)),
    key("auths", Runtime, Shape::List(&Shape::KeysOf(AUTHS_ENTRY))),
    key("actions", Runtime, Shape::List(&Shape::Keys(ACTION))),
    r("poll_every_seconds"),
    r("subs_poll_duration"),
    key("subscriptions", Runtime, Shape::Keys(SUBSCRIPTIONS)),
    key("database", Runtime, Shape::Keys(DATABASE)),
    list("cors_allowed_origins", Runtime),
    list("cors_allowed_headers", Runtime),
    r("cors_debug"),
    r("http_compress"),
    r("host_port"),
    r("host"),
    r("port"),
    r("shutdown_timeout"),
    r("http_header_timeout"),
    r("http_body_timeout"),
    r("http_idle_timeout"),
    r("http_max_connections"),
    r("log_level"),
    r("log_format"),
    key("metrics", Runtime, Shape::Keys(METRICS)),
    // GraphJin's keys for what this port does differently.
    r("secret_key"),
    ignored(
        "disable_allow_list",
        "the production binary serves exactly the compiled allow list; the dev server runs any operation",
    ),
    ignored(
        "enable_schema",
        "the build always reads the schema snapshot config/db.graphql",
    ),
    ignored(
        "enable_introspection",
        "no introspection JSON is written; the build writes an OpenAPI document instead",
    ),
    unsupported(
        "set_user_id",
        "the `user.id` session setting is not set; statements get the caller as the bind parameter $user_id",
    ),
    unsupported(
        "header_variables",
        "HTTP headers are not mapped to query variables",
    ),
    unsupported(
        "resolvers",
        "remote joins (custom resolvers) are not compiled",
    ),
    ignored(
        "db_type",
        "PostgreSQL only; the schema snapshot's `# dbinfo:` line names the database",
    ),
    ignored("debug", "logging is set with `RUST_LOG`"),
    ignored("log_vars", "variables are never logged"),
    unsupported(
        "disable_agg_functions",
        "block aggregates per role and table with `disable_functions: true`",
    ),
    unsupported(
        "disable_functions",
        "block functions per role and table with `disable_functions: true` under `roles[].tables[].query`",
    ),
    ignored(
        "db_schema_poll_duration",
        "the schema is fixed at build time (config/db.graphql)",
    ),
    unsupported(
        "disable_production_security",
        "production always serves only the compiled allow list",
    ),
    ignored(
        "config_path",
        "the config folder is given to the build (include_allowlist!/build.rs) and to Config::load",
    ),
    unsupported(
        "secrets_file",
        "Mozilla SOPS files are not read; set secrets with `GJ_` environment variables (e.g. GJ_AUTH_JWT_SECRET)",
    ),
    ignored("rate_limiter", RATE_LIMITER),
    ignored("server_timing", "no Server-Timing header is sent"),
    ignored(
        "web_ui",
        "no web UI is served; the dev server has its own playground",
    ),
    ignored(
        "enable_tracing",
        "tracing goes through the `tracing` crate's subscriber",
    ),
    ignored(
        "reload_on_config_change",
        "the config is read once at start-up; `cargo build` recompiles on change",
    ),
    ignored(
        "migrations_path",
        "database migrations are not run by this port",
    ),
    ignored(
        "cache_control",
        "set Cache-Control with a tower layer of your own",
    ),
    ignored("hot_deploy", "a new allow list is a new build"),
    ignored("admin_secret_key", "there is no admin API"),
];

/// A key found in a config that GraphJin reads and this port deliberately does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredKey {
    /// The key path as written, e.g. `web_ui` or `roles[0].comment`.
    pub key: String,
    /// Why it is not used.
    pub reason: &'static str,
}

/// Checks every key of `source` against [`KEYS`]: an unknown key is an error naming the
/// file (or the `GJ_` variable), the key path and the nearest known key; an unsupported
/// GraphJin key with a value other than its default is an error saying why. Returns the
/// ignored GraphJin keys found, for a log line.
pub fn check(source: &Source) -> Result<Vec<IgnoredKey>, Error> {
    let mut ignored = Vec::new();
    check_keys(source, source.value(), &[KEYS], "", &mut ignored)?;
    Ok(ignored)
}

fn check_value(
    source: &Source,
    value: &Value,
    shape: &Shape,
    path: &str,
    ignored: &mut Vec<IgnoredKey>,
) -> Result<(), Error> {
    match shape {
        Shape::Value => Ok(()),
        Shape::Keys(keys) => check_keys(source, value, &[keys], path, ignored),
        Shape::KeysOf(groups) => check_keys(source, value, groups, path, ignored),
        Shape::List(item) => match value {
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    check_value(source, v, item, &format!("{path}[{i}]"), ignored)?;
                }
                Ok(())
            }
            Value::Null => Ok(()),
            // A single value where a list is expected.
            other => check_value(source, other, item, path, ignored),
        },
        Shape::Map(entry) => {
            if matches!(entry, Shape::Value) {
                return Ok(());
            }
            for (k, v, at) in entries(value, path) {
                check_value(source, v, entry, &join(&at, k), ignored)?;
            }
            Ok(())
        }
    }
}

fn check_keys(
    source: &Source,
    value: &Value,
    groups: &[&[Known]],
    path: &str,
    ignored: &mut Vec<IgnoredKey>,
) -> Result<(), Error> {
    for (written, v, at) in entries(value, path) {
        let key_path = join(&at, written);
        let Some(known) = groups
            .iter()
            .flat_map(|g| g.iter())
            .find(|k| k.matches(written))
        else {
            return Err(source.key_error(&key_path, unknown_message(written, groups, path)));
        };
        match known.owner {
            Owner::Ignored(reason) => ignored.push(IgnoredKey {
                key: key_path,
                reason,
            }),
            Owner::Unsupported(reason) => {
                if !is_default(v) {
                    return Err(source.key_error(
                        &key_path,
                        format!(
                            "GraphJin's `{}` is not supported here: {reason}",
                            known.name
                        ),
                    ));
                }
            }
            _ => check_value(source, v, &known.shape, &key_path, ignored)?,
        }
    }
    Ok(())
}

/// The entries of a map, or of a list of maps (GraphJin's list form of a map), each with
/// the path of the map it is in.
fn entries<'v>(value: &'v Value, path: &str) -> Vec<(&'v str, &'v Value, String)> {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.as_str(), v, path.to_owned()))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| Some((i, item.as_object()?)))
            .flat_map(|(i, map)| {
                map.iter()
                    .map(move |(k, v)| (k.as_str(), v, format!("{path}[{i}]")))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Whether a value is what an unset key reads as: null, false, zero, empty.
fn is_default(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => {
            let t = s.trim();
            t.is_empty() || t == "0" || t.eq_ignore_ascii_case("false")
        }
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// `unknown key; did you mean `secret`?`, else where a key of that name belongs, else the
/// keys allowed here.
fn unknown_message(written: &str, groups: &[&[Known]], path: &str) -> String {
    let here: Vec<&Known> = groups.iter().flat_map(|g| g.iter()).collect();
    let lower = written.to_ascii_lowercase();
    let nearest = here
        .iter()
        .flat_map(|k| std::iter::once(k.name).chain(k.aliases.iter().copied()))
        .map(|name| (distance(&lower, name), name))
        .filter(|(d, name)| *d <= (name.len().max(lower.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d);
    if let Some((_, name)) = nearest {
        return format!("unknown key; did you mean `{name}`?");
    }
    let here_path = without_indexes(path);
    if let Some(elsewhere) = find_elsewhere(&lower, KEYS, "") {
        let parent = elsewhere.rsplit_once('.').map_or("", |(p, _)| p);
        if parent != here_path {
            return format!("unknown key; did you mean `{elsewhere}`?");
        }
    }
    let mut names: Vec<&str> = here
        .iter()
        .filter(|k| !matches!(k.owner, Owner::Ignored(_) | Owner::Unsupported(_)))
        .map(|k| k.name)
        .collect();
    names.sort_unstable();
    if names.len() <= 16 {
        format!("unknown key (the keys here: {})", names.join(", "))
    } else {
        "unknown key".to_owned()
    }
}

/// `roles[0].tables[1]` as `roles[].tables[]`.
fn without_indexes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if in_index => continue,
            _ => {}
        }
        out.push(c);
    }
    out
}

/// The path of a known key named `name` anywhere in the tree (`database.pool_size` for
/// `pool_size`).
fn find_elsewhere(name: &str, keys: &[Known], path: &str) -> Option<String> {
    for k in keys {
        let here = join(path, k.name);
        if k.matches(name) {
            return Some(here);
        }
        let below = match k.shape {
            Shape::Keys(keys) => find_elsewhere(name, keys, &here),
            Shape::List(Shape::Keys(keys)) => find_elsewhere(name, keys, &format!("{here}[]")),
            _ => None,
        };
        if below.is_some() {
            return below;
        }
    }
    None
}

/// Damerau-Levenshtein distance (optimal string alignment), ASCII case ignored.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<u8> = a.bytes().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<u8> = b.bytes().map(|c| c.to_ascii_lowercase()).collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The keys a side reads that the tree does not give it, and the tree's keys of that side
/// that the side does not read: what a drift test asserts empty.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Read by the side's types but missing from [`KEYS`] (or marked ignored there).
    pub unlisted: Vec<String>,
    /// Listed in [`KEYS`] for the side but read by none of its types.
    pub unread: Vec<String>,
}

/// Compares the keys `schemas` read (one side's types: the build's or the runtime's) with
/// the keys [`KEYS`] lists for `owner`. A key read as a whole value, as a map of its own or
/// by a hand-written `Deserialize` that lists no fields covers the tree's keys below it.
pub fn drift(owner: Owner, schemas: &[&Schema]) -> Drift {
    let mut out = Drift::default();
    let read: Vec<(&Vec<Segment>, Kind)> = schemas
        .iter()
        .flat_map(|s| s.keys().iter().map(|k| (&k.path, k.kind)))
        .collect();
    for (path, _) in &read {
        if path.is_empty() {
            continue;
        }
        match lookup(path) {
            Some(k) if !matches!(k.owner, Owner::Ignored(_) | Owner::Unsupported(_)) => {}
            _ => out.unlisted.push(show(path)),
        }
    }
    let mut tree = Vec::new();
    walk(KEYS, &mut Vec::new(), &mut tree);
    for (path, k) in tree {
        if k.owner != owner {
            continue;
        }
        let covered = read.iter().any(|(p, kind)| {
            if **p == path {
                return true;
            }
            if p.is_empty() || !path.starts_with(p) {
                return false;
            }
            // Read whole, as a map of its own, or as a struct that reads its own keys
            // (a hand-written `Deserialize` that lists no fields).
            match kind {
                Kind::Value | Kind::Map => true,
                Kind::Struct => !read
                    .iter()
                    .any(|(q, _)| q.len() > p.len() && q.starts_with(p)),
                Kind::List => false,
            }
        });
        if !covered {
            out.unread.push(show(&path));
        }
    }
    out.unlisted.sort();
    out.unlisted.dedup();
    out
}

/// `auths[].jwt.secret`.
fn show(path: &[Segment]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Segment::Field(f) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(f);
            }
            Segment::Item => s.push_str("[]"),
            Segment::Entry => s.push_str(".<key>"),
        }
    }
    s
}

/// The known key at a schema path (list items and map entries step into their shape).
fn lookup(path: &[Segment]) -> Option<&'static Known> {
    let mut shape = &Shape::Keys(KEYS);
    let mut found: Option<&'static Known> = None;
    for seg in path {
        let (next, key): (&'static Shape, Option<&'static Known>) = match (seg, shape) {
            (Segment::Field(f), Shape::Keys(keys)) => {
                let k = keys.iter().find(|k| k.matches(f))?;
                (&k.shape, Some(k))
            }
            (Segment::Field(f), Shape::KeysOf(groups)) => {
                let k = groups
                    .iter()
                    .flat_map(|g| g.iter())
                    .find(|k| k.matches(f))?;
                (&k.shape, Some(k))
            }
            (Segment::Item, Shape::List(item)) => (item, None),
            (Segment::Entry, Shape::Map(entry)) => (entry, None),
            _ => return None,
        };
        shape = next;
        if key.is_some() {
            found = key;
        }
    }
    found
}

/// Every key of the tree with its schema path.
fn walk(
    keys: &'static [Known],
    at: &mut Vec<Segment>,
    out: &mut Vec<(Vec<Segment>, &'static Known)>,
) {
    for k in keys {
        at.push(Segment::Field(k.name.to_owned()));
        out.push((at.clone(), k));
        walk_shape(&k.shape, at, out);
        at.pop();
    }
}

fn walk_shape(
    shape: &'static Shape,
    at: &mut Vec<Segment>,
    out: &mut Vec<(Vec<Segment>, &'static Known)>,
) {
    match shape {
        Shape::Value => {}
        Shape::Keys(keys) => walk(keys, at, out),
        Shape::KeysOf(groups) => {
            for g in *groups {
                walk(g, at, out);
            }
        }
        Shape::List(item) => {
            at.push(Segment::Item);
            walk_shape(item, at, out);
            at.pop();
        }
        Shape::Map(entry) => {
            at.push(Segment::Entry);
            walk_shape(entry, at, out);
            at.pop();
        }
    }
}

/// The GraphJin keys accepted and not used here, with the reason: for documentation.
pub fn ignored_keys() -> Vec<(String, &'static str)> {
    let mut tree = Vec::new();
    walk(KEYS, &mut Vec::new(), &mut tree);
    tree.into_iter()
        .filter_map(|(path, k)| match k.owner {
            Owner::Ignored(why) => Some((show(&path), why)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn checked(yaml: &str) -> Result<Vec<IgnoredKey>, String> {
        let source = Source::parse(yaml, Path::new("dev.yml")).map_err(|e| e.to_string())?;
        check(&source).map_err(|e| e.to_string())
    }

    #[test]
    fn a_typo_names_file_key_and_the_nearest_key() {
        assert_eq!(
            checked("auth:\n  jwt:\n    secrte: x\n").unwrap_err(),
            "dev.yml: key `auth.jwt.secrte`: unknown key; did you mean `secret`?"
        );
        assert_eq!(
            checked("cors_allowd_origins: [a]\n").unwrap_err(),
            "dev.yml: key `cors_allowd_origins`: unknown key; did you mean `cors_allowed_origins`?"
        );
        let e =
            checked("roles:\n  - name: user\n    tables:\n      - name: t\n        insrt: {}\n")
                .unwrap_err();
        assert_eq!(
            e,
            "dev.yml: key `roles[0].tables[0].insrt`: unknown key; did you mean `insert`?"
        );
    }

    #[test]
    fn a_key_in_the_wrong_place_says_where_it_belongs() {
        let e = checked("pool_size: 5\n").unwrap_err();
        assert!(e.contains("`database.pool_size`"), "{e}");
        let e = checked("zzz: 1\n").unwrap_err();
        assert_eq!(e, "dev.yml: key `zzz`: unknown key");
        let e = checked("subscriptions: {zzz: 1}\n").unwrap_err();
        assert!(
            e.contains("(the keys here: batch_size, idle_timeout_seconds, init_"),
            "{e}"
        );
    }

    #[test]
    fn any_case_free_maps_and_lenient_forms_pass() {
        let ok = checked(
            "Auth:\n  JWT: {Secret: x}\nvariables: {anything: 1}\nroles:\n  name: user\n  tables: [{name: t, query: [{filters: a}, {limit: 1}]}]\ntables: [{name: t, order_by: {x: [id]}, columns: [{name: a, foreign_key: b.c}]}]\n",
        );
        assert_eq!(ok, Ok(vec![]));
    }

    #[test]
    fn ignored_and_unsupported_graphjin_keys() {
        let ignored = checked("web_ui: true\nroles: [{name: user, comment: hi}]\n").unwrap();
        assert_eq!(ignored.len(), 2);
        assert_eq!(ignored[0].key, "web_ui");
        assert_eq!(ignored[1].key, "roles[0].comment");
        assert!(checked("set_user_id: false\nsecrets_file: \"\"\n").is_ok());
        let e = checked("set_user_id: true\n").unwrap_err();
        assert!(
            e.starts_with(
                "dev.yml: key `set_user_id`: GraphJin's `set_user_id` is not supported here"
            ),
            "{e}"
        );
    }

    #[test]
    fn distances() {
        assert_eq!(distance("secrte", "secret"), 1);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("", "ab"), 2);
    }

    /// The README lists every GraphJin key accepted and not used, and every one refused
    /// unless left at its default.
    #[test]
    fn the_readme_documents_ignored_and_unsupported_keys() {
        let readme = include_str!("../../README.md");
        let mut tree = Vec::new();
        walk(KEYS, &mut Vec::new(), &mut tree);
        for (path, k) in tree {
            if matches!(k.owner, Owner::Ignored(_) | Owner::Unsupported(_)) {
                let name = format!("`{}`", show(&path));
                assert!(readme.contains(&name), "README.md does not mention {name}");
            }
        }
    }

    #[test]
    fn ignored_keys_are_listed() {
        let keys = ignored_keys();
        assert!(keys.iter().any(|(k, _)| k == "web_ui"));
        assert!(keys.iter().any(|(k, _)| k == "roles[].comment"));
    }
}
