//! The run-time part of GraphJin's YAML config: `production`, `auth_fail_block`, `auth` and
//! `auths`. The build reads the same file for its own keys (`tables`, `roles`,
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
//! | `GJ_AUTHS_<NAME>_...` | the same keys of the `auths:` entry named NAME (upper-cased, other characters than letters and digits as `_`), e.g. `GJ_AUTHS_ADMIN_JWT_SECRET` |
//!
//! Relative `public_key_file` paths (from the file or the environment) are resolved against
//! the config folder.

mod auth;
mod error;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub(crate) use auth::redact_url;
pub use auth::{AuthConfig, AuthType, HeaderConfig, JwtConfig, JwtProvider, PublicKeyType, Secret};
pub use error::ConfigError;

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
    /// `auths`: named auths for actions and routes of your own.
    pub auths: Vec<AuthConfig>,
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
        Ok(Config {
            production: field(map, "production", &origin)?,
            auth_fail_block: field(map, "auth_fail_block", &origin)?,
            auth: field(map, "auth", &origin)?,
            auths: field(map, "auths", &origin)?,
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
        Some(value) => serde_path_to_error::deserialize(value.clone()).map_err(|e| {
            let inner = e.path().to_string();
            let key = if inner == "." || inner.is_empty() {
                key.to_owned()
            } else if inner.starts_with('[') {
                format!("{key}{inner}")
            } else {
                format!("{key}.{inner}")
            };
            ConfigError::Key {
                path: origin(map_key(&key)),
                key,
                message: e.into_inner().to_string(),
            }
        }),
    }
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
