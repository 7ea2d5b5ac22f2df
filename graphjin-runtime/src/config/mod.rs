//! The run-time part of GraphJin's YAML config: `production`, `auth_fail_block`, `auth`,
//! `auths`, `actions` (see [`crate::actions`]), `poll_every_seconds`, `subscriptions`,
//! `log_level`, `log_format`, `metrics` ([`MetricsConfig`]), and
//! the HTTP keys (`cors_*`, `http_compress`, `host_port`, `shutdown_timeout`, `http_*_timeout`,
//! `http_max_connections`: [`HttpConfig`]),
//! and `database` ([`DatabaseConfig`]).
//! The build reads the same file for its own keys (`tables`, `roles`, `default_limit`, ...);
//! this reader leaves those to it. A key neither side reads (a typo, a misplaced key) is
//! refused with the file, the key path and a did-you-mean; GraphJin keys this port does not
//! use are accepted or refused as [`graphjin_config::known`] documents.
//!
//! Both sides read the file with the same reader, graphjin-config: [`Config::load`] reads
//! the file `GJ_ENV`/`GO_ENV` names (`development` -> `dev.yml`, `production` -> `prod.yml`,
//! any other name -> `NAME.yml`), else `prod.yml`, else `dev.yml`, follows `inherits:` (the child's top-level
//! keys replace the parent's), applies environment overrides, and reads the keys with
//! GraphJin's weak typing: a list of one-key maps where a map is expected, a single value
//! where a list is expected, numbers and bools written as strings, keys in any case.
//!
//! # Environment overrides
//!
//! GraphJin's `GJ_` variables, so secrets stay out of the files: every key has one, its
//! path upper-cased and joined by `_` after `GJ_` ([`env_vars`] lists them). An empty
//! variable counts as unset; a list key takes comma-separated items. Examples:
//!
//! | variable | key |
//! | --- | --- |
//! | `GJ_PRODUCTION` | `production` (`true`/`false`/`1`/`0`) |
//! | `GJ_SECRET_KEY` | `secret_key` (the key cursors are sealed with) |
//! | `GJ_AUTH_FAIL_BLOCK` | `auth_fail_block` |
//! | `GJ_AUTH_TYPE` | `auth.type` |
//! | `GJ_AUTH_COOKIE` | `auth.cookie` |
//! | `GJ_AUTH_CREDS_IN_HEADER` | `auth.creds_in_header` |
//! | `GJ_AUTH_JWT_PROVIDER` | `auth.jwt.provider` |
//! | `GJ_AUTH_JWT_SECRET` | `auth.jwt.secret` |
//! | `GJ_AUTH_JWT_PUBLIC_KEY_FILE` | `auth.jwt.public_key_file` |
//! | `GJ_AUTH_JWT_PUBLIC_KEY_TYPE` | `auth.jwt.public_key_type` |
//! | `GJ_AUTH_JWT_ISSUER` | `auth.jwt.issuer` |
//! | `GJ_AUTH_JWT_AUDIENCE` | `auth.jwt.audience` |
//! | `GJ_AUTH_JWT_JWKS_URL` | `auth.jwt.jwks_url` |
//! | `GJ_AUTH_HEADER_NAME` | `auth.header.name` |
//! | `GJ_AUTH_HEADER_VALUE` | `auth.header.value` |
//! | `GJ_AUTH_RAILS_VERSION` | `auth.rails.version` |
//! | `GJ_AUTH_RAILS_SECRET_KEY_BASE` | `auth.rails.secret_key_base` |
//! | `GJ_AUTH_RAILS_URL` | `auth.rails.url` |
//! | `GJ_AUTH_RAILS_PASSWORD` | `auth.rails.password` |
//! | `GJ_AUTH_RAILS_MAX_IDLE` | `auth.rails.max_idle` |
//! | `GJ_AUTH_RAILS_MAX_ACTIVE` | `auth.rails.max_active` |
//! | `GJ_AUTH_RAILS_NAMESPACE` | `auth.rails.namespace` |
//! | `GJ_AUTH_RAILS_KEY_PREFIX` | `auth.rails.key_prefix` |
//! | `GJ_POLL_EVERY_SECONDS` | `poll_every_seconds` |
//! | `GJ_SUBSCRIPTIONS_MAX_PER_CONNECTION` | `subscriptions.max_per_connection` |
//! | `GJ_LOG_LEVEL` | `log_level` (`RUST_LOG`, when set, wins) |
//! | `GJ_LOG_FORMAT` | `log_format` |
//! | `GJ_METRICS_ENABLED` | `metrics.enabled` |
//! | `GJ_METRICS_PATH` | `metrics.path` |
//! | `GJ_METRICS_AUTH` | `metrics.auth` |
//! | `GJ_HOST_PORT` | `host_port` (GraphJin's plain `HOST` and `PORT` replace its parts; see [`HttpConfig`]) |
//! | `GJ_HTTP_COMPRESS` | `http_compress` |
//! | `GJ_CORS_ALLOWED_ORIGINS` | `cors_allowed_origins` (comma-separated) |
//! | `GJ_CORS_ALLOWED_HEADERS` | `cors_allowed_headers` (comma-separated) |
//! | `GJ_SHUTDOWN_TIMEOUT` | `shutdown_timeout` |
//! | `GJ_HTTP_HEADER_TIMEOUT` | `http_header_timeout` (and so on for `http_body_timeout`, `http_idle_timeout`) |
//! | `GJ_HTTP_MAX_CONNECTIONS` | `http_max_connections` |
//! | `GJ_DATABASE_CONNECTION_STRING` | `database.connection_string` (`DATABASE_URL` replaces the whole address) |
//! | `GJ_DATABASE_PASSWORD` | `database.password` |
//! | `GJ_DATABASE_POOL_SIZE` | `database.pool_size` (and so on for every `database:` key) |
//! | `GJ_AUTHS_<NAME>_...` | the same keys of the `auths:` entry named NAME (upper-cased, other characters than letters and digits as `_`), e.g. `GJ_AUTHS_ADMIN_JWT_SECRET` |
//! | `GJ_AUTHS_<NAME>_HMAC_SECRET` | `hmac.secret` of the `type: hmac` entry of `auths:` named NAME |
//! | `GJ_ACTIONS_<NAME>_SECRET` | `secret` of the action named NAME (the key webhook calls are signed with) |
//! | `GJ_ACTIONS_<NAME>_URL` | `url` of the action named NAME (and so on for its other keys) |
//!
//! An action header's `value_from_env: VAR` reads `VAR` the same way.
//!
//! Relative `public_key_file` paths (from the file or the environment) are resolved against
//! the config folder.

mod action;
mod auth;
mod database;
mod error;
mod http;
mod observe;
mod subs;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use graphjin_config::{Schema, Source};
use serde::Deserialize;
use serde_json::{Map, Value};

pub use action::{
    ActionConfig, ActionHeader, ActionParam, HmacAuthConfig, HmacConfig, ParamSource,
};
pub(crate) use auth::redact_url;
pub use auth::{
    AuthConfig, AuthType, HeaderConfig, JwtConfig, JwtProvider, PublicKeyType, RailsConfig, Secret,
};
pub use database::DatabaseConfig;
pub use error::ConfigError;
/// Why the config files could not be read (the reader shared with the build).
pub use graphjin_config::Error as ReadError;
pub use http::{DEFAULT_HOST_PORT, DEFAULT_SHUTDOWN_TIMEOUT, HttpConfig};
pub use observe::MetricsConfig;
pub use subs::SubsConfig;

use crate::auth::{AuthLayer, AuthOptions, AuthRegistry, Authenticator};

/// The run-time config. Build one with [`Config::load`], or by hand for tests and
/// embedded setups (`Config { auth: AuthConfig::jwt_secret("..."), ..Default::default() }`).
///
/// Its `Debug` output never shows a secret.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// `production`: turns off development conveniences (`creds_in_header`).
    pub production: bool,
    /// `secret_key`: the key cursor pagination's `_cursor` values are sealed with
    /// (`sha256` of it, as GraphJin derives it); see [`crate::cursor`]. Unset: GraphJin's
    /// default key, which anyone can seal with.
    pub secret_key: Option<Secret>,
    /// `auth_fail_block`: a present but invalid credential is answered 401 instead of
    /// running the request as `anon`.
    pub auth_fail_block: bool,
    /// `auth`: the default auth, guarding the GraphQL and REST routes.
    pub auth: AuthConfig,
    /// `auths`: named auths for actions and routes of your own (all but `type: hmac`).
    pub auths: Vec<AuthConfig>,
    /// The `type: hmac` entries of `auths`: signed calls, for actions only.
    pub hmac_auths: Vec<HmacAuthConfig>,
    /// `actions`: SQL statements and HTTP handlers served at `{prefix}/v1/actions/{name}`.
    pub actions: Vec<ActionConfig>,
    /// `poll_every_seconds` (or GraphJin's `subs_poll_duration`): how often subscriptions
    /// re-read their results; `None` for the default (5 s).
    pub poll_every: Option<std::time::Duration>,
    /// `subscriptions`: limits and timeouts of subscriptions over WebSocket.
    pub subscriptions: SubsConfig,
    /// `cors_*`, `http_compress`, `host_port` (`host`, `port`, env `HOST`/`PORT`),
    /// `shutdown_timeout`, and the connection limits (`http_header_timeout`,
    /// `http_body_timeout`, `http_idle_timeout`, `http_max_connections`): see [`HttpConfig`].
    pub http: HttpConfig,
    /// `log_level`: `debug`, `info`, `warn` or `error` (see [`Config::log_options`]).
    pub log_level: Option<crate::observe::logging::LogLevel>,
    /// `log_format`: `json` or `simple`.
    pub log_format: Option<crate::observe::logging::LogFormat>,
    /// `metrics`: whether, where and behind which auth Prometheus metrics are served.
    pub metrics: MetricsConfig,
    /// `database`: where to connect and how the pool behaves (see
    /// [`Config::database_url`], [`Config::pool_options`]).
    pub database: DatabaseConfig,
    /// The folder relative key files are resolved against (the config folder when loaded).
    pub dir: Option<PathBuf>,
    /// The files read, child first.
    pub files: Vec<PathBuf>,
}

/// The file names tried by [`Config::load`], in order.
pub const CONFIG_FILES: [&str; 4] = graphjin_config::CONFIG_FILES;

/// The keys this reader owns, as the file writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Keys {
    production: bool,
    secret_key: Option<Secret>,
    auth_fail_block: bool,
    auth: AuthConfig,
    /// Split into [`Config::auths`] and [`Config::hmac_auths`] by `type`.
    auths: Vec<Value>,
    actions: Vec<ActionConfig>,
    poll_every_seconds: Option<Value>,
    subs_poll_duration: Option<Value>,
    subscriptions: SubsConfig,
    log_level: Option<String>,
    log_format: Option<String>,
    metrics: MetricsConfig,
    cors_allowed_origins: Vec<String>,
    cors_allowed_headers: Vec<String>,
    cors_debug: bool,
    http_compress: Option<bool>,
    host_port: Option<String>,
    host: Option<String>,
    port: Option<String>,
    shutdown_timeout: Option<Value>,
    http_header_timeout: Option<Value>,
    http_body_timeout: Option<Value>,
    http_idle_timeout: Option<Value>,
    http_max_connections: Option<Value>,
    database: DatabaseConfig,
}

/// The run-time keys, for the `GJ_` environment overrides: every field of [`Keys`] and of
/// the types below it; entries of `auths` and `actions` by name.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::of::<Keys>()
            .named_list::<AuthConfig>("auths")
            .named_list::<HmacAuthConfig>("auths")
            .named_list::<ActionConfig>("actions")
    })
}

/// Every `GJ_` variable that overrides a run-time key, e.g. `GJ_AUTH_JWT_SECRET`, and
/// `GJ_AUTHS_<NAME>_JWT_SECRET` for the entries of `auths`.
pub fn env_vars() -> Vec<String> {
    schema().env_vars()
}

impl Config {
    /// Reads the config file from `dir` that `GJ_ENV` / `GO_ENV` names, as GraphJin does
    /// (`development` -> `dev.yml`, `production` -> `prod.yml`, any other name ->
    /// `NAME.yml`), else `prod.yml`, else `dev.yml`; resolves `inherits:` and applies the
    /// `GJ_` environment overrides. Every key of the file must be known (to the runtime, the
    /// build, or documented as an ignored GraphJin key): an unknown one is an error naming
    /// the file, the key and the nearest known key.
    pub fn load(dir: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let dir = dir.as_ref();
        let chosen = graphjin_config::choose_config(dir, |v| std::env::var(v).ok())?;
        let path = chosen.ok_or_else(|| ConfigError::NotFound {
            dir: dir.to_path_buf(),
        })?;
        Config::load_file(path)
    }

    /// Reads one config file (with `inherits:` resolved) and applies the environment
    /// overrides.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let lookup = |name: &str| std::env::var(name).ok();
        let mut source = Source::read(path)?;
        source.apply_env(schema(), lookup);
        let mut config = Config::from_source(&source)?;
        config.apply_header_env(lookup);
        config.http.apply_host_port_env(lookup)?;
        config.dir = Some(path.parent().unwrap_or(Path::new(".")).to_path_buf());
        config.files = source.files().to_vec();
        Ok(config)
    }

    /// Reads one config file with `inherits:` resolved, without environment overrides.
    pub fn read_file(path: &Path) -> Result<Config, ConfigError> {
        let source = Source::read(path)?;
        let mut config = Config::from_source(&source)?;
        config.dir = Some(path.parent().unwrap_or(Path::new(".")).to_path_buf());
        config.files = source.files().to_vec();
        Ok(config)
    }

    /// Parses config text (no `inherits:`, no environment); `origin` names it in errors
    /// and its folder is where relative key files are looked up.
    pub fn from_yaml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let source = Source::parse(text, origin)?;
        let mut config = Config::from_source(&source)?;
        config.dir = Some(origin.parent().unwrap_or(Path::new(".")).to_path_buf());
        config.files = vec![origin.to_path_buf()];
        Ok(config)
    }

    /// The run-time keys of a config read by graphjin-config (`dir` and `files` left
    /// empty).
    pub fn from_source(source: &Source) -> Result<Config, ConfigError> {
        // A key nobody reads is a typo or a misplaced key: refused, not ignored.
        graphjin_config::known::check(source)?;
        let keys: Keys = source.deserialize()?;
        keys.database.validate()?;
        let (auths, hmac_auths) = split_auths(&keys.auths, source)?;
        let observed = observe::read(
            observe::ObserveKeys {
                log_level: keys.log_level.as_deref(),
                log_format: keys.log_format.as_deref(),
                metrics: keys.metrics.clone(),
            },
            source,
        )?;
        check_hmac_names(&keys.auth, &auths, &hmac_auths)?;
        Ok(Config {
            production: keys.production,
            secret_key: keys.secret_key.filter(|s| !s.is_empty()),
            auth_fail_block: keys.auth_fail_block,
            poll_every: subs::poll_every(
                [
                    ("poll_every_seconds", keys.poll_every_seconds.as_ref()),
                    ("subs_poll_duration", keys.subs_poll_duration.as_ref()),
                ],
                source,
            )?,
            auth: keys.auth,
            auths,
            hmac_auths,
            actions: keys.actions,
            subscriptions: keys.subscriptions,
            http: HttpConfig::from_keys(
                http::HttpKeys {
                    cors_allowed_origins: keys.cors_allowed_origins,
                    cors_allowed_headers: keys.cors_allowed_headers,
                    cors_debug: keys.cors_debug,
                    http_compress: keys.http_compress,
                    host_port: keys.host_port,
                    host: keys.host,
                    port: keys.port,
                    shutdown_timeout: keys.shutdown_timeout.as_ref(),
                    http_header_timeout: keys.http_header_timeout.as_ref(),
                    http_body_timeout: keys.http_body_timeout.as_ref(),
                    http_idle_timeout: keys.http_idle_timeout.as_ref(),
                    http_max_connections: keys.http_max_connections.as_ref(),
                },
                source,
            )?,
            log_level: observed.log_level,
            log_format: observed.log_format,
            metrics: observed.metrics,
            database: keys.database,
            dir: None,
            files: Vec::new(),
        })
    }

    /// Applies the `GJ_` overrides described in the [module docs](self), reading variables
    /// through `lookup` (`|name| std::env::var(name).ok()` in production), then the
    /// `value_from_env` of action headers.
    ///
    /// The config is written back to keys, the variables applied to them as when a file is
    /// loaded, and the keys read again; a bad value is a [`ConfigError::Read`] ([`ReadError::Env`]) naming the
    /// variable, never repeating its value.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let origin = self
            .files
            .first()
            .cloned()
            .unwrap_or_else(|| PathBuf::from("config"));
        let mut source = Source::from_map(self.to_keys()?, &origin);
        source.apply_env(schema(), &lookup);
        if source.env_vars_applied().next().is_some() {
            let mut fresh = Config::from_source(&source)?;
            fresh.dir = self.dir.take();
            fresh.files = std::mem::take(&mut self.files);
            *self = fresh;
        }
        self.apply_header_env(&lookup);
        self.http.apply_host_port_env(&lookup)?;
        Ok(())
    }

    /// Sets the value of each action header with `value_from_env: VAR` from `VAR`.
    fn apply_header_env(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        for action in &mut self.actions {
            for header in &mut action.headers {
                if let Some(var) = header.value_from_env.as_deref().map(str::trim)
                    && let Some(v) = lookup(var).filter(|v| !v.is_empty())
                {
                    header.value = Some(Secret::new(v));
                }
            }
        }
    }

    /// The config as the keys of a file: what [`Config::from_source`] reads back as an
    /// equal config.
    fn to_keys(&self) -> Result<Map<String, Value>, ConfigError> {
        // Every field, so a new one cannot be forgotten here.
        let Config {
            production,
            secret_key,
            auth_fail_block,
            auth,
            auths,
            hmac_auths,
            actions,
            poll_every,
            subscriptions,
            http,
            log_level,
            log_format,
            metrics,
            database,
            dir: _,
            files: _,
        } = self;
        let value = |key: &str, v: Result<Value, serde_json::Error>| {
            v.map_err(|e| ConfigError::Invalid {
                key: key.to_owned(),
                message: e.to_string(),
            })
        };
        auth::with_secrets(|| {
            let mut map = Map::new();
            map.insert("production".into(), Value::Bool(*production));
            if let Some(key) = secret_key {
                map.insert(
                    "secret_key".into(),
                    value("secret_key", serde_json::to_value(key))?,
                );
            }
            map.insert("auth_fail_block".into(), Value::Bool(*auth_fail_block));
            map.insert("auth".into(), value("auth", serde_json::to_value(auth))?);
            let mut entries = Vec::with_capacity(auths.len() + hmac_auths.len());
            for entry in auths {
                entries.push(value("auths", serde_json::to_value(entry))?);
            }
            for entry in hmac_auths {
                let mut v = value("auths", serde_json::to_value(entry))?;
                if let Some(m) = v.as_object_mut() {
                    m.insert("type".into(), Value::String("hmac".into()));
                }
                entries.push(v);
            }
            map.insert("auths".into(), Value::Array(entries));
            map.insert(
                "actions".into(),
                value("actions", serde_json::to_value(actions))?,
            );
            if let Some(every) = poll_every {
                map.insert(
                    "poll_every_seconds".into(),
                    value(
                        "poll_every_seconds",
                        serde_json::to_value(every.as_secs_f64()),
                    )?,
                );
            }
            map.insert(
                "subscriptions".into(),
                value("subscriptions", serde_json::to_value(subscriptions))?,
            );
            http.write_keys(&mut map);
            if let Some(level) = log_level {
                map.insert("log_level".into(), Value::String(level.as_str().into()));
            }
            if let Some(format) = log_format {
                map.insert("log_format".into(), Value::String(format.as_str().into()));
            }
            map.insert(
                "metrics".into(),
                value("metrics", serde_json::to_value(metrics))?,
            );
            map.insert(
                "database".into(),
                value("database", serde_json::to_value(database))?,
            );
            Ok(map)
        })
    }

    /// Where to connect: `DATABASE_URL` when set, else the `database:` keys
    /// ([`DatabaseConfig::url`]: `connection_string`, else assembled from host, port,
    /// dbname, user and password, percent-encoded); `None` when neither names a database.
    /// `GJ_DATABASE_*` variables were applied when the file was loaded. The result holds
    /// the password: never log it.
    pub fn database_url(&self) -> Option<String> {
        self.database_url_with_env(|v| std::env::var(v).ok())
    }

    /// [`Config::database_url`] reading `DATABASE_URL` through `lookup`.
    pub fn database_url_with_env(&self, lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
        lookup("DATABASE_URL")
            .filter(|u| !u.trim().is_empty())
            .or_else(|| self.database.url())
    }

    /// The pool's settings from the `database:` keys ([`DatabaseConfig::pool_options`]):
    /// `pool_size`/`max_connections`, idle and life times, `ping_timeout`,
    /// `statement_timeout`, `operation_timeouts`, `connection_setup`, `schema` and
    /// `pipeline_depth`.
    pub fn pool_options(&self) -> crate::PoolOptions {
        crate::PoolOptions {
            cursor_key: self
                .secret_key
                .as_ref()
                .map(|s| crate::CursorKey::from_secret(s.expose())),
            ..self.database.pool_options()
        }
    }

    /// GraphJin's `database.enable_tls` keys as TLS options for [`crate::DbBuilder::tls`]
    /// (`verify-full` against `server_cert`, for `server_name`); `None` without
    /// `enable_tls` (the URL's `sslmode` decides). Relative paths are resolved against the
    /// config folder.
    pub fn tls_options(&self) -> Result<Option<graphjin_pgtls::TlsOptions>, ConfigError> {
        self.database.tls_options(self.dir.as_deref())
    }

    /// The options authenticators are built with: `production` and the config folder.
    pub fn auth_options(&self) -> AuthOptions {
        let options = AuthOptions::default().production(self.production);
        match &self.dir {
            Some(dir) => options.base_dir(dir),
            None => options,
        }
    }

    /// Builds the default `auth`.
    pub fn authenticator(&self) -> Result<Authenticator, ConfigError> {
        Authenticator::with_options(&self.auth, &self.auth_options())
    }

    /// Builds the layer guarding the GraphQL and REST routes: the default `auth` with
    /// `auth_fail_block`.
    pub fn auth_layer(&self) -> Result<AuthLayer, ConfigError> {
        Ok(AuthLayer::new(self.authenticator()?).fail_block(self.auth_fail_block))
    }

    /// Builds every auth, the default and the named ones.
    pub fn auth_registry(&self) -> Result<AuthRegistry, ConfigError> {
        AuthRegistry::from_config(self)
    }
}

/// The `type` of an `auths:` entry, to set the `type: hmac` ones apart.
#[derive(Deserialize, Default)]
#[serde(default)]
struct EntryType {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Reads `auths:`, setting the `type: hmac` entries apart (they verify the body, so they are
/// no [`Authenticator`]s). Error keys keep each entry's position in the file.
fn split_auths(
    items: &[Value],
    source: &Source,
) -> Result<(Vec<AuthConfig>, Vec<HmacAuthConfig>), ConfigError> {
    let mut auths = Vec::new();
    let mut hmac = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = format!("auths[{i}]");
        let is_hmac = source
            .deserialize_at::<EntryType>(item, &key)
            .ok()
            .and_then(|e| e.kind)
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("hmac"));
        if is_hmac {
            let entry: HmacAuthConfig = source.deserialize_at(item, &key)?;
            if entry.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
                return Err(ConfigError::Invalid {
                    key: format!("{key}.name"),
                    message: "every entry of auths needs a name".to_owned(),
                });
            }
            hmac.push(entry);
        } else {
            auths.push(source.deserialize_at(item, &key)?);
        }
    }
    Ok((auths, hmac))
}

/// The names of `type: hmac` auths must differ from each other and from the other auths'.
fn check_hmac_names(
    auth: &AuthConfig,
    auths: &[AuthConfig],
    hmac: &[HmacAuthConfig],
) -> Result<(), ConfigError> {
    let mut seen: Vec<&str> = std::iter::once(auth)
        .chain(auths)
        .filter_map(|a| a.name.as_deref().map(str::trim))
        .collect();
    for entry in hmac {
        let name = entry.name.as_deref().map(str::trim).unwrap_or_default();
        if seen.contains(&name) {
            return Err(ConfigError::DuplicateAuth {
                name: name.to_owned(),
            });
        }
        seen.push(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert_eq!(graphjin_config::env_name("admin-api.v2"), "ADMIN_API_V2");
    }

    /// Every variable the module docs name is one the reader applies.
    #[test]
    fn documented_variables_exist() {
        let vars = env_vars();
        let docs = include_str!("mod.rs");
        let mut documented = 0;
        for line in docs.lines().filter(|l| l.starts_with("//! | `GJ_")) {
            let var = line.split('`').nth(1).expect("a variable");
            let known = if let Some(prefix) = var.strip_suffix("...") {
                vars.iter().any(|v| v.starts_with(prefix))
            } else {
                vars.iter().any(|v| v == var)
            };
            assert!(known, "{var} is documented but not applied: {vars:?}");
            documented += 1;
        }
        assert!(documented > 20, "{documented}");
        let mut unique = vars.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            vars.len(),
            "two keys share a variable: {vars:?}"
        );
    }

    /// What `apply_env` writes back and reads again is the same config.
    #[test]
    fn keys_round_trip() {
        let yaml = r#"
production: true
auth_fail_block: true
poll_every_seconds: 0.25
cors_allowed_origins: ["https://a.example", "https://*.b.example"]
cors_allowed_headers: Authorization
cors_debug: true
http_compress: false
host_port: "127.0.0.1:9000"
port: 9001
shutdown_timeout: 2500ms
http_header_timeout: 5s
http_body_timeout: 0
http_idle_timeout: 1m30s
http_max_connections: 500
subscriptions: {max_per_connection: 3, send_queue: 4, keepalive_seconds: 1.5, idle_timeout_seconds: 60, init_timeout_seconds: 2}
auth:
  name: main
  type: jwt
  cookie: _jwt
  creds_in_header: true
  subs_creds_in_vars: true
  jwt: {provider: auth0, secret: s3cret, public_key_file: keys/k.pem, public_key_type: ecdsa, issuer: i, audience: a, jwks_url: "https://u:p@k.example/j?x=1", jwks_refresh: 5, jwks_min_refresh: 90s, firebase_certs_url: "https://c.example/"}
  header: {name: X-Key, exists: true, value: hv}
  rails: {version: 7.0, secret_key_base: kb, url: "redis://h:6379/1", password: pw, max_idle: 2, max_active: 4, key_prefix: "s:"}
auths:
  - {name: hooks, type: header, header: {name: X-Hook, value: v}}
  - name: signed
    type: hmac
    hmac: {secret: hs, signature_header: X-S, timestamp_header: X-T, max_age: 1.5s, replay_cache: 10}
actions:
  - name: act
    url: "https://hooks.example/a"
    auth_name: hooks
    sql: SELECT 1
    params: [{name: id, type: bigint, required: true, default: 5, from: user_id}]
    headers: [{name: X-A, value: av, value_from_env: SOME_VAR}]
    forward_headers: [X-Request-Id]
    secret: as
    signature_header: X-Sig
    timestamp_header: X-Ts
    timeout: 250ms
"#;
        let config = Config::from_yaml(yaml, Path::new("prod.yml")).expect("parses");
        let source = Source::from_map(config.to_keys().expect("keys"), Path::new("prod.yml"));
        let mut again = Config::from_source(&source).expect("reads back");
        again.dir = config.dir.clone();
        again.files = config.files.clone();
        assert_eq!(again, config);
        // Serializing outside the round trip never writes a secret.
        let text = serde_json::to_string(&config.auth).expect("serializes");
        assert!(
            !text.contains("s3cret") && text.contains("<redacted>"),
            "{text}"
        );
    }

    #[test]
    fn ignores_build_keys() {
        let c = Config::from_yaml(
            "default_limit: 5\ntables: [{name: users}]\nroles: []\nauth_fail_block: true\nauth: {type: header, header: {name: X-Key, exists: true}}\n",
            Path::new("dev.yml"),
        )
        .expect("parses");
        assert!(c.auth_fail_block);
        assert_eq!(c.auth.kind, AuthType::Header);
        assert!(c.auth.header.exists);
    }

    #[test]
    fn key_errors_name_file_and_key() {
        let e = Config::from_yaml(
            "auth:\n  jwt:\n    public_key_type: dsa\n",
            Path::new("config/dev.yml"),
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("config/dev.yml: key `auth.jwt.public_key_type`"),
            "{text}"
        );
        let e = Config::from_yaml("auths:\n  - name: a\n    type: magic\n", Path::new("p.yml"))
            .unwrap_err();
        assert!(e.to_string().contains("`auths[0].type`"), "{e}");
    }
}
