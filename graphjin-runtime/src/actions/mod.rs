//! Actions: named SQL statements and HTTP handlers of yours, each callable at
//! `POST {prefix}/v1/actions/{name}` by the callers its named auth lets in.
//!
//! ```yaml
//! auths:
//!   - name: cron                       # a shared secret in a header
//!     type: header
//!     header: {name: X-Cron-Secret}    # value from GJ_AUTHS_CRON_HEADER_VALUE
//!   - name: signed                     # HMAC-signed calls
//!     type: hmac
//!     hmac: {secret: "..."}            # better: GJ_AUTHS_SIGNED_HMAC_SECRET
//!   - name: users
//!     type: jwt
//!     jwt: {secret: "..."}
//!
//! actions:
//!   - name: refresh_leaderboard
//!     sql: REFRESH MATERIALIZED VIEW CONCURRENTLY leaderboard
//!     auth_name: cron
//!   - name: archive_product
//!     sql: UPDATE products SET archived = true WHERE id = $1 AND owner_id = $2 RETURNING id
//!     auth_name: users
//!     params:
//!       - {name: id, type: bigint, required: true}
//!       - {name: owner, type: bigint, from: user_id}
//!   - name: send_welcome
//!     url: https://hooks.internal/welcome
//!     auth_name: users
//!     secret: "..."                    # better: GJ_ACTIONS_SEND_WELCOME_SECRET
//!     headers:
//!       - {name: X-Action-Secret, value_from_env: ACTION_SECRET}
//!     forward_headers: [X-Request-Id]
//!     timeout: 10s
//! ```
//!
//! # Keys of an action
//!
//! | key | what |
//! | --- | --- |
//! | `name` | the route's last segment; letters, digits, `_`, `-`, `.`; unique |
//! | `auth_name` | required: the entry of `auths:` that guards it (`type: none` makes it public) |
//! | `sql` | one statement; `$1..$n` are `params` in order. A trailing `;` is dropped |
//! | `params` | `[{name, type, required, default, from}]`: `type` is the PostgreSQL type the statement is prepared with (`bigint`, `text`, `uuid`, `jsonb`, `bigint[]`, an enum...); `from` is `input` (the body's key `name`, the default), `user_id`, `user_id_provider` or `role`; `default` is used when the key is missing or null; `required: true` answers 400 instead of binding NULL |
//! | `url` | instead of `sql`: the handler the call is forwarded to (http/https; env `GJ_ACTIONS_<NAME>_URL`) |
//! | `secret` | `url` actions: the key each call is signed with (required; env `GJ_ACTIONS_<NAME>_SECRET`) |
//! | `headers` | `url` actions: `[{name, value}]` or `[{name, value_from_env: VAR}]`, sent with every call |
//! | `forward_headers` | `url` actions: the caller's request headers passed on, by name |
//! | `signature_header`, `timestamp_header` | `url` actions: default `X-Signature`, `X-Timestamp` |
//! | `timeout` | `url` actions: seconds, or with a unit (`500ms`, `10s`); default 10 s |
//!
//! # Auths
//!
//! `auth_name` names an entry of `auths:`. JWT, header and Rails auths work as for the
//! GraphQL routes (through [`crate::AuthRegistry::get`]), except that a missing credential
//! is refused with 401 too. Header auths compare the value's SHA-256 digest in constant
//! time (`subtle`), and header names match ignoring case (`name: X-Cron-Secret` matches a
//! request's `x-cron-secret`).
//!
//! `type: hmac` auths verify a signature of the body: the caller sends
//! `X-Timestamp: <unix seconds>` and `X-Signature: sha256=<hex>` (the prefix is optional),
//! where the hex is `HMAC-SHA256(secret, timestamp + "." + body)` over the exact body bytes
//! ([`sign`] computes it). A timestamp more than `max_age` (default 5 minutes) from the
//! server's clock, either way, is refused, and so is a signature already accepted within its
//! window (a bounded in-memory cache, `replay_cache` entries, default 10000; or a redis all
//! instances share, see below). The signature is checked in constant time with `hmac`'s
//! `Mac::verify_slice`. Keys of `hmac:`: `secret` (env `GJ_AUTHS_<NAME>_HMAC_SECRET`),
//! `signature_header`, `timestamp_header`, `max_age` (seconds, or with a unit),
//! `replay_cache`, `replay_store`, `replay_key_prefix`.
//!
//! # Replays across instances
//!
//! The in-memory cache is per instance: with several instances behind one load balancer, a
//! signed call replayed to another instance than the one that accepted it is accepted
//! again. Give such auths a redis that every instance shares:
//!
//! ```yaml
//! auths:
//!   - name: signed
//!     type: hmac
//!     hmac:
//!       replay_store: redis://redis.internal:6379/0   # or rediss://...; env GJ_AUTHS_SIGNED_HMAC_REPLAY_STORE
//!       replay_key_prefix: "graphjin:replay:"         # default
//! ```
//!
//! | key | what |
//! | --- | --- |
//! | `replay_store` | `redis://[[user]:password@]host:port[/db]`, or `rediss://...[?ca_file=/path/ca.pem]` for TLS (checked against `ca_file` or the system roots). Replaces the in-memory cache (so not with `replay_cache`) |
//! | `replay_key_prefix` | the start of every key, default `graphjin:replay:` |
//!
//! Each accepted signature is recorded with `SET <prefix><auth name>:<sha256 hex of the
//! signature> 1 NX PX <ms>`: the instance whose `SET` succeeds accepts the call; every
//! other one, and it again, refuses it with the 401 of an in-memory replay. The record
//! lives until the timestamp is stale (`timestamp + max_age + 1 s` on the accepting
//! instance's clock) plus a minute for clocks that differ between instances
//! ([`CLOCK_SKEW`]): at most `2 × max_age + 61 s`. Connections are pooled and opened on
//! first use; each check takes at most 2 s ([`REPLAY_STORE_TIMEOUT`]).
//!
//! It fails closed: while redis cannot be reached, answers with an error or does not
//! answer in time, every signed call is refused with 503 `SERVICE_UNAVAILABLE` and
//! `Retry-After: 1`, before its statement runs or its handler is called; never accepted
//! without the check. The outage is logged once when it starts (with redis's `host:port`
//! and the reason, never the password, key or signature) and once when redis answers
//! again. [`ReplayStore`] gives the same to a [`VerifyAction`] layer.
//!
//! With `production: true`, start-up logs a warning for each `type: hmac` auth without
//! `replay_store`, naming the key to set. Only replay records are shared: the other caches
//! stay per instance (each instance fetches and caches JWKS and Firebase keys itself, and
//! keeps its own Rails session-store connections).
//!
//! # Answers
//!
//! - A statement that returns rows: `{"data": [{"column": value, ...}, ...]}`, the rows as
//!   PostgreSQL renders them to JSON (the statement runs as
//!   `WITH __gj_action AS (<sql>) SELECT array_to_json(array_agg(__gj_action)) ...`, so
//!   `INSERT/UPDATE/DELETE ... RETURNING` work too).
//! - A statement without rows (`REFRESH MATERIALIZED VIEW`, `UPDATE` without `RETURNING`):
//!   `{"data": {"rows_affected": n}}`.
//! - A webhook action: `{"data": <the handler's JSON>}` for a 2xx answer (`null` for an empty
//!   one). A 4xx answer with `{"errors": [...]}` is relayed with its status and errors (not for
//!   401, 403 and 407, which mean the handler refused the runtime); anything else is 502
//!   `ACTION_HANDLER_FAILED`; no answer within `timeout` is 504 `ACTION_TIMEOUT`.
//! - Errors as everywhere else (`{"errors":[{"message","extensions":{"code"}}]}`): 401
//!   `UNAUTHENTICATED`, 404 `ACTION_NOT_FOUND`, 400 `BAD_USER_INPUT` for a parameter of the
//!   wrong type or a missing required one, 415 for a body that is not JSON.
//!
//! # Webhook calls
//!
//! The handler receives `POST url` with `Content-Type: application/json`, the configured
//! `headers`, the listed `forward_headers`, `X-Timestamp` and `X-Signature` (the same scheme
//! as `type: hmac`, signed with the action's `secret`), and the body
//!
//! ```json
//! {"action": "send_welcome", "input": <the client's body or null>,
//!  "session": {"user_id": "42", "user_id_provider": null, "role": "user"}}
//! ```
//!
//! `session.role` is the auth's explicit role, else `user` with a user id, else `anon`
//! (`roles_query` is not consulted). Redirects are not followed. Handlers written in Rust check all of it with the
//! [`VerifyAction`] layer and read it with the [`SignedAction`] extractor.
//!
//! # Start-up
//!
//! [`Actions::from_config`] checks every action and prepares every statement before the
//! server starts: an unknown `auth_name`, a statement that does not prepare (PostgreSQL's
//! message is quoted) or a parameter type that does not exist stops start-up with an error
//! naming the action.
//!
//! ```no_run
//! # async fn demo(db: graphjin_runtime::Db) -> Result<(), Box<dyn std::error::Error>> {
//! use graphjin_runtime::{Config, Service, actions::Actions, router};
//! let config = Config::load("config")?;
//! let actions = Actions::from_config(&config, &db).await?;
//! let app = router(Service::from_config(db, &config)?.actions(actions));
//! # Ok(()) }
//! ```

mod error;
mod replay;
mod replay_store;
pub(crate) mod route;
mod signature;
mod sql;
mod verify;
mod webhook;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use error::{ActionError, StartupError};
pub use replay::CLOCK_SKEW;
pub use replay_store::{DEFAULT_REPLAY_KEY_PREFIX, REPLAY_STORE_TIMEOUT, ReplayStore};
pub use signature::{
    DEFAULT_MAX_AGE, DEFAULT_REPLAY_CACHE, SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER, sign,
};
pub use verify::{
    DEFAULT_BODY_LIMIT, SignedAction, VerifiedAction, VerifyAction, VerifyActionService,
};
pub use webhook::{DEFAULT_TIMEOUT, MAX_ANSWER_BYTES, Session};

use signature::Verifier;
use sql::SqlAction;
use webhook::Webhook;

use crate::Db;
use crate::auth::{AuthRegistry, Authenticator};
use crate::config::{ActionConfig, Config, ConfigError};

/// Every configured action, checked and prepared; mount them with
/// [`crate::Service::actions`]. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Actions {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    actions: HashMap<String, Action>,
    /// The client for webhook actions (when there are any).
    client: Option<reqwest::Client>,
}

struct Action {
    name: String,
    guard: Guard,
    target: Target,
}

enum Guard {
    Auth(Authenticator),
    Hmac(Arc<Verifier>),
}

enum Target {
    Sql(SqlAction),
    Webhook(Box<Webhook>),
}

impl fmt::Debug for Actions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<(&str, String)> = self
            .inner
            .actions
            .values()
            .map(|a| {
                let what = match &a.target {
                    Target::Sql(_) => "sql".to_owned(),
                    Target::Webhook(w) => w.shown_url().to_owned(),
                };
                (a.name.as_str(), what)
            })
            .collect();
        names.sort();
        f.debug_struct("Actions").field("actions", &names).finish()
    }
}

/// How long opening a connection to a webhook handler may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Actions {
    /// Builds the config's named auths ([`Config::auth_registry`]) and then its actions, as
    /// [`Actions::build`].
    pub async fn from_config(config: &Config, db: &Db) -> Result<Actions, StartupError> {
        let auths = config.auth_registry()?;
        Actions::build(config, &auths, db).await
    }

    /// Checks every entry of `config.actions`, resolves its `auth_name` in `auths` (or among
    /// the `type: hmac` auths) and prepares every statement on a connection of `db`.
    pub async fn build(
        config: &Config,
        auths: &AuthRegistry,
        db: &Db,
    ) -> Result<Actions, StartupError> {
        let mut hmac = HashMap::new();
        for h in &config.hmac_auths {
            let name = h.name.as_deref().map(str::trim).unwrap_or_default();
            let verifier = Verifier::from_config(&h.hmac, name, &format!("auths[{name}].hmac"))?;
            match verifier.shared_store() {
                Some(store) => tracing::info!(
                    auth = %name,
                    replay_store = %store.addr(),
                    "signed calls are checked for replays in redis, shared by every instance"
                ),
                None if config.production => warn_unshared(name),
                None => {}
            }
            hmac.insert(name.to_owned(), Arc::new(verifier));
        }
        let mut checked = Vec::with_capacity(config.actions.len());
        for (i, a) in config.actions.iter().enumerate() {
            if config.actions[..i].iter().any(|b| b.name == a.name) {
                return Err(ConfigError::Invalid {
                    key: format!("actions[{i}].name"),
                    message: format!("two actions are named \"{}\": names must be unique", a.name),
                }
                .into());
            }
            checked.push(check(a, i, auths, &hmac)?);
        }
        let needs_db = checked
            .iter()
            .any(|(_, _, kind)| matches!(kind, Kind::Sql(_)));
        // Checked on a connection of its own, in a transaction that leaves no statement
        // behind (see `scratch.rs`); each pooled connection prepares an action the first
        // time it runs there, or sends it unnamed (`statement_mode: unnamed`).
        let conn = match needs_db {
            true => Some(crate::scratch::Scratch::open(db.pool().opener()).await?),
            false => None,
        };
        let mut client = None;
        let mut actions = HashMap::with_capacity(checked.len());
        for (config, guard, kind) in checked {
            let key = format!("actions[{}]", config.name);
            let target = match kind {
                Kind::Sql(sql) => match &conn {
                    Some(conn) => {
                        Target::Sql(SqlAction::prepare(conn.client(), config, sql, &key).await?)
                    }
                    None => continue, // not reached: `needs_db` saw this action
                },
                Kind::Url(url) => {
                    let hook = Webhook::build(config, url, &key)?;
                    if client.is_none() {
                        client = Some(http_client()?);
                    }
                    tracing::info!(action = %config.name, url = %hook.shown_url(), "webhook action");
                    Target::Webhook(Box::new(hook))
                }
            };
            actions.insert(
                config.name.clone(),
                Action {
                    name: config.name.clone(),
                    guard,
                    target,
                },
            );
        }
        if let Some(conn) = conn {
            conn.finish().await?;
        }
        Ok(Actions {
            inner: Arc::new(Inner {
                db: db.clone(),
                actions,
                client,
            }),
        })
    }

    /// The actions' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inner.actions.keys().map(String::as_str)
    }

    /// How many actions there are.
    pub fn len(&self) -> usize {
        self.inner.actions.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.inner.actions.is_empty()
    }
}

/// The start-up warning for an hmac auth whose replay cache is this instance's only.
fn warn_unshared(name: &str) {
    let env: String = name
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c.to_ascii_uppercase(),
            false => '_',
        })
        .collect();
    tracing::warn!(
        auth = %name,
        "auths[{name}]: replays are refused by this instance only, so a signed call replayed to another instance behind the same load balancer is accepted; set auths[{name}].hmac.replay_store (or GJ_AUTHS_{env}_HMAC_REPLAY_STORE) to a redis every instance shares"
    );
}

enum Kind<'a> {
    Sql(&'a str),
    Url(&'a str),
}

/// The config checks that need no database: name, auth, and `sql` xor `url` with the keys
/// that go with it.
fn check<'a>(
    a: &'a ActionConfig,
    i: usize,
    auths: &AuthRegistry,
    hmac: &HashMap<String, Arc<Verifier>>,
) -> Result<(&'a ActionConfig, Guard, Kind<'a>), ConfigError> {
    let name = a.name.as_str();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        return Err(ConfigError::Invalid {
            key: format!("actions[{i}].name"),
            message: format!(
                "\"{name}\" is not a usable action name: use letters, digits, _, - and ."
            ),
        });
    }
    let key = format!("actions[{name}]");
    let invalid = |k: &str, message: String| ConfigError::Invalid {
        key: format!("{key}.{k}"),
        message,
    };
    let auth_name = a
        .auth_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            invalid(
                "auth_name",
                format!(
                    "action \"{name}\" needs auth_name, the entry of auths that guards it (an auth of type: none makes it public)"
                ),
            )
        })?;
    let guard = match (auths.get(auth_name), hmac.get(auth_name)) {
        (Some(a), _) => Guard::Auth(a.clone()),
        (None, Some(v)) => Guard::Hmac(v.clone()),
        (None, None) => {
            let mut known: Vec<&str> = auths
                .names()
                .chain(hmac.keys().map(String::as_str))
                .collect();
            known.sort_unstable();
            let known = if known.is_empty() {
                "auths is empty".to_owned()
            } else {
                format!("known: {}", known.join(", "))
            };
            return Err(invalid(
                "auth_name",
                format!("action \"{name}\": no entry of auths is named \"{auth_name}\" ({known})"),
            ));
        }
    };
    let sql = a.sql.as_deref().filter(|s| !s.trim().is_empty());
    let url = a.url.as_deref().filter(|s| !s.trim().is_empty());
    let kind = match (sql, url) {
        (Some(sql), None) => {
            let webhook_keys = !a.headers.is_empty()
                || !a.forward_headers.is_empty()
                || a.secret.is_some()
                || a.signature_header.is_some()
                || a.timestamp_header.is_some()
                || a.timeout.is_some();
            if webhook_keys {
                return Err(invalid(
                    "sql",
                    format!(
                        "action \"{name}\" runs SQL: headers, forward_headers, secret, signature_header, timestamp_header and timeout apply to url actions only"
                    ),
                ));
            }
            Kind::Sql(sql)
        }
        (None, Some(url)) => {
            if !a.params.is_empty() {
                return Err(invalid(
                    "params",
                    format!(
                        "action \"{name}\" calls a url: params apply to sql actions (the handler gets the whole body as input)"
                    ),
                ));
            }
            Kind::Url(url)
        }
        (Some(_), Some(_)) => {
            return Err(invalid(
                "url",
                format!("action \"{name}\" has both sql and url: choose one"),
            ));
        }
        (None, None) => {
            return Err(invalid(
                "sql",
                format!("action \"{name}\" needs sql (a statement) or url (a handler)"),
            ));
        }
    };
    Ok((a, guard, kind))
}

fn http_client() -> Result<reqwest::Client, StartupError> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("graphjin-runtime/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| StartupError::HttpClient {
            message: e.to_string(),
        })
}
