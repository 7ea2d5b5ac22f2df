//! The run-time part of GraphJin's YAML config: `production`, `auth_fail_block`, `auth`,
//! `auths` and `actions` (see [`crate::actions`]). The build reads the same file for its own keys (`tables`, `roles`,
//! `default_limit`, ...); this reader ignores every key it does not own.
//!
//! [`Config::load`] reads `prod.yml` (else `dev.yml`) from a folder, follows `inherits:`
//! (the child's top-level keys replace the parent's), then applies environment overrides.
//!
//! # Environment overrides
//!
//! GraphJin's `GJ_` variables, so secrets stay out of the files. An empty variable counts as
//! unset.
//!
//! | variable | key |
//! | --- | --- |
//! | `GJ_PRODUCTION` | `production` (`true`/`false`/`1`/`0`) |
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
//! | `GJ_AUTH_RAILS_KEY_PREFIX` | `auth.rails.key_prefix` |
//! | `GJ_AUTHS_<NAME>_...` | the same keys of the `auths:` entry named NAME (upper-cased, other characters than letters and digits as `_`), e.g. `GJ_AUTHS_ADMIN_JWT_SECRET` |
//! | `GJ_AUTHS_<NAME>_HMAC_SECRET` | `hmac.secret` of the `type: hmac` entry of `auths:` named NAME |
//! | `GJ_ACTIONS_<NAME>_SECRET` | `secret` of the action named NAME (the key webhook calls are signed with) |
//! | `GJ_ACTIONS_<NAME>_URL` | `url` of the action named NAME |
//!
//! An action header's `value_from_env: VAR` reads `VAR` the same way.
//!
//! Relative `public_key_file` paths (from the file or the environment) are resolved against
//! the config folder.

mod action;
mod auth;
mod error;
mod subs;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use action::{
    ActionConfig, ActionHeader, ActionParam, HmacAuthConfig, HmacConfig, ParamSource,
};
pub(crate) use auth::redact_url;
pub use auth::{
    AuthConfig, AuthType, HeaderConfig, JwtConfig, JwtProvider, PublicKeyType, RailsConfig, Secret,
};
pub use error::ConfigError;
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
    /// The folder relative key files are resolved against (the config folder when loaded).
    pub dir: Option<PathBuf>,
    /// The files read, child first.
    pub files: Vec<PathBuf>,
}

/// The file names tried by [`Config::load`], in order.
pub const CONFIG_FILES: [&str; 4] = ["prod.yml", "prod.yaml", "dev.yml", "dev.yaml"];

impl Config {
    /// Reads `prod.yml` (else `dev.yml`) from `dir`, resolves `inherits:` and applies the
    /// `GJ_` environment overrides.
    pub fn load(dir: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let dir = dir.as_ref();
        let path = CONFIG_FILES
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
            .ok_or_else(|| ConfigError::NotFound {
                dir: dir.to_path_buf(),
            })?;
        Config::load_file(path)
    }

    /// Reads one config file (with `inherits:` resolved) and applies the environment
    /// overrides.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let mut config = Config::read_file(path.as_ref())?;
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Reads one config file with `inherits:` resolved, without environment overrides.
    pub fn read_file(path: &Path) -> Result<Config, ConfigError> {
        let mut files = Vec::new();
        let mut origins = HashMap::new();
        let map = load_map(path, &mut files, &mut origins)?;
        let mut config = Config::from_map(&map, &origins, path)?;
        config.dir = Some(path.parent().unwrap_or(Path::new(".")).to_path_buf());
        config.files = files;
        Ok(config)
    }

    /// Parses config text (no `inherits:`, no environment); `origin` names it in errors
    /// and its folder is where relative key files are looked up.
    pub fn from_yaml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let map = parse_yaml(text, origin)?;
        let origins = map
            .keys()
            .map(|k| (k.clone(), origin.to_path_buf()))
            .collect();
        let mut config = Config::from_map(&map, &origins, origin)?;
        config.dir = Some(origin.parent().unwrap_or(Path::new(".")).to_path_buf());
        config.files = vec![origin.to_path_buf()];
        Ok(config)
    }

    fn from_map(
        map: &Map<String, Value>,
        origins: &HashMap<String, PathBuf>,
        fallback: &Path,
    ) -> Result<Config, ConfigError> {
        let origin = |key: &str| origins.get(key).cloned().unwrap_or_else(|| fallback.into());
        // Keys are read in this order, so the first problem reported is the same as ever.
        let production = field(map, "production", &origin)?;
        let auth_fail_block = field(map, "auth_fail_block", &origin)?;
        let auth: AuthConfig = field(map, "auth", &origin)?;
        let (auths, hmac_auths) = split_auths(map.get("auths"), &origin("auths"))?;
        check_hmac_names(&auth, &auths, &hmac_auths)?;
        Ok(Config {
            production,
            auth_fail_block,
            auth,
            auths,
            hmac_auths,
            actions: field(map, "actions", &origin)?,
            poll_every: subs::poll_every(map, origins, fallback)?,
            subscriptions: field(map, "subscriptions", &origin)?,
            dir: None,
            files: Vec::new(),
        })
    }

    /// Applies the `GJ_` overrides listed in the [module docs](self), reading variables
    /// through `lookup` (`|name| std::env::var(name).ok()` in production).
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        if let Some(v) = get("GJ_PRODUCTION") {
            self.production = env_bool("GJ_PRODUCTION", &v)?;
        }
        if let Some(v) = get("GJ_AUTH_FAIL_BLOCK") {
            self.auth_fail_block = env_bool("GJ_AUTH_FAIL_BLOCK", &v)?;
        }
        apply_auth_env(&mut self.auth, "GJ_AUTH_", &get)?;
        for auth in &mut self.auths {
            if let Some(name) = auth.name.clone() {
                let prefix = format!("GJ_AUTHS_{}_", env_name(&name));
                apply_auth_env(auth, &prefix, &get)?;
            }
        }
        for auth in &mut self.hmac_auths {
            if let Some(name) = &auth.name
                && let Some(v) = get(&format!("GJ_AUTHS_{}_HMAC_SECRET", env_name(name)))
            {
                auth.hmac.secret = Some(Secret::new(v));
            }
        }
        for action in &mut self.actions {
            let prefix = format!("GJ_ACTIONS_{}_", env_name(&action.name));
            if let Some(v) = get(&format!("{prefix}SECRET")) {
                action.secret = Some(Secret::new(v));
            }
            if let Some(v) = get(&format!("{prefix}URL")) {
                action.url = Some(v);
            }
            for header in &mut action.headers {
                if let Some(var) = header.value_from_env.as_deref().map(str::trim)
                    && let Some(v) = get(var)
                {
                    header.value = Some(Secret::new(v));
                }
            }
        }
        Ok(())
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

/// Deserializes top-level key `key`, naming the file and the nested key on error.
fn field<T: DeserializeOwned + Default>(
    map: &Map<String, Value>,
    key: &str,
    origin: &impl Fn(&str) -> PathBuf,
) -> Result<T, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(value) => deserialize_at(value, key, &origin(map_key(key))),
    }
}

/// Deserializes `value`, found at key path `key` of file `path`, naming the nested key on
/// error.
fn deserialize_at<T: DeserializeOwned>(
    value: &Value,
    key: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let inner = e.path().to_string();
        let key = if inner == "." || inner.is_empty() {
            key.to_owned()
        } else if inner.starts_with('[') {
            format!("{key}{inner}")
        } else {
            format!("{key}.{inner}")
        };
        ConfigError::Key {
            path: path.to_path_buf(),
            key,
            message: e.into_inner().to_string(),
        }
    })
}

/// Reads `auths:`, setting the `type: hmac` entries apart (they verify the body, so they are
/// no [`Authenticator`]s). Error keys keep each entry's position in the file.
fn split_auths(
    value: Option<&Value>,
    path: &Path,
) -> Result<(Vec<AuthConfig>, Vec<HmacAuthConfig>), ConfigError> {
    let items = match value {
        None | Some(Value::Null) => return Ok((Vec::new(), Vec::new())),
        Some(Value::Array(items)) => items,
        Some(other) => return Ok((deserialize_at(other, "auths", path)?, Vec::new())),
    };
    let mut auths = Vec::new();
    let mut hmac = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = format!("auths[{i}]");
        let is_hmac = item
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("hmac"));
        if is_hmac {
            let entry: HmacAuthConfig = deserialize_at(item, &key, path)?;
            if entry.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
                return Err(ConfigError::Invalid {
                    key: format!("{key}.name"),
                    message: "every entry of auths needs a name".to_owned(),
                });
            }
            hmac.push(entry);
        } else {
            auths.push(deserialize_at(item, &key, path)?);
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

/// The top-level part of a key path.
fn map_key(key: &str) -> &str {
    key.split(['.', '[']).next().unwrap_or(key)
}

fn parse_yaml(src: &str, path: &Path) -> Result<Map<String, Value>, ConfigError> {
    if src.trim().is_empty() {
        return Ok(Map::new());
    }
    let options = serde_saphyr::options! { with_snippet: false };
    let value: Value =
        serde_saphyr::from_str_with_options(src, options).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    match value {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map),
        _ => Err(ConfigError::Syntax {
            path: path.to_path_buf(),
            message: "the config must be a mapping of keys".to_owned(),
        }),
    }
}

/// Reads `path` and its `inherits:` chain; the child's top-level keys win. Records which
/// file each top-level key came from.
fn load_map(
    path: &Path,
    files: &mut Vec<PathBuf>,
    origins: &mut HashMap<String, PathBuf>,
) -> Result<Map<String, Value>, ConfigError> {
    if files.iter().any(|f| f == path) {
        let mut chain: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        chain.push(path.display().to_string());
        return Err(ConfigError::InheritCycle {
            path: files.last().cloned().unwrap_or_else(|| path.to_path_buf()),
            chain: chain.join(" -> "),
        });
    }
    let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    files.push(path.to_path_buf());
    let child = parse_yaml(&src, path)?;
    let parent = match child.get("inherits") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if !name.trim().is_empty() => Some(name.trim().to_owned()),
        Some(_) => {
            return Err(ConfigError::Key {
                path: path.to_path_buf(),
                key: "inherits".to_owned(),
                message: "expected the name of another config file, e.g. `inherits: dev`"
                    .to_owned(),
            });
        }
    };
    let mut merged = match parent {
        Some(parent) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let parent_path = ["", ".yml", ".yaml"]
                .iter()
                .map(|ext| dir.join(format!("{parent}{ext}")))
                .find(|p| p.is_file())
                .unwrap_or_else(|| dir.join(format!("{parent}.yml")));
            load_map(&parent_path, files, origins)?
        }
        None => Map::new(),
    };
    for (key, value) in child {
        origins.insert(key.clone(), path.to_path_buf());
        merged.insert(key, value);
    }
    Ok(merged)
}

fn env_bool(var: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Env {
            var: var.to_owned(),
            message: "expected true or false".to_owned(),
        }),
    }
}

fn env_count(var: &str, value: &str) -> Result<usize, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::Env {
        var: var.to_owned(),
        message: "expected a whole number".to_owned(),
    })
}

fn env_enum<T: DeserializeOwned>(var: &str, value: &str) -> Result<T, ConfigError> {
    serde_json::from_value(Value::String(value.trim().to_ascii_lowercase())).map_err(|e| {
        ConfigError::Env {
            var: var.to_owned(),
            message: e.to_string(),
        }
    })
}

/// An auth name as it appears in a variable name: upper case, `_` for anything but letters
/// and digits.
fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn apply_auth_env(
    auth: &mut AuthConfig,
    prefix: &str,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let var = |suffix: &str| format!("{prefix}{suffix}");
    let read = |suffix: &str| get(&var(suffix));
    if let Some(v) = read("TYPE") {
        auth.kind = env_enum(&var("TYPE"), &v)?;
    }
    if let Some(v) = read("COOKIE") {
        auth.cookie = Some(v);
    }
    if let Some(v) = read("CREDS_IN_HEADER") {
        auth.creds_in_header = env_bool(&var("CREDS_IN_HEADER"), &v)?;
    }
    if let Some(v) = read("JWT_PROVIDER") {
        auth.jwt.provider = env_enum(&var("JWT_PROVIDER"), &v)?;
    }
    if let Some(v) = read("JWT_SECRET") {
        auth.jwt.secret = Some(Secret::new(v));
    }
    if let Some(v) = read("JWT_PUBLIC_KEY_FILE") {
        auth.jwt.public_key_file = Some(PathBuf::from(v));
    }
    if let Some(v) = read("JWT_PUBLIC_KEY_TYPE") {
        auth.jwt.public_key_type = Some(env_enum(&var("JWT_PUBLIC_KEY_TYPE"), &v)?);
    }
    if let Some(v) = read("JWT_ISSUER") {
        auth.jwt.issuer = Some(v);
    }
    if let Some(v) = read("JWT_AUDIENCE") {
        auth.jwt.audience = Some(v);
    }
    if let Some(v) = read("JWT_JWKS_URL") {
        auth.jwt.jwks_url = Some(v);
    }
    if let Some(v) = read("HEADER_NAME") {
        auth.header.name = Some(v);
    }
    if let Some(v) = read("HEADER_VALUE") {
        auth.header.value = Some(Secret::new(v));
    }
    if let Some(v) = read("RAILS_VERSION") {
        auth.rails.version = Some(v);
    }
    if let Some(v) = read("RAILS_SECRET_KEY_BASE") {
        auth.rails.secret_key_base = Some(Secret::new(v));
    }
    if let Some(v) = read("RAILS_URL") {
        auth.rails.url = Some(v);
    }
    if let Some(v) = read("RAILS_PASSWORD") {
        auth.rails.password = Some(Secret::new(v));
    }
    if let Some(v) = read("RAILS_MAX_IDLE") {
        auth.rails.max_idle = Some(env_count(&var("RAILS_MAX_IDLE"), &v)?);
    }
    if let Some(v) = read("RAILS_MAX_ACTIVE") {
        auth.rails.max_active = Some(env_count(&var("RAILS_MAX_ACTIVE"), &v)?);
    }
    if let Some(v) = read("RAILS_KEY_PREFIX") {
        auth.rails.key_prefix = Some(v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert_eq!(env_name("admin-api.v2"), "ADMIN_API_V2");
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
