//! The run-time keys an API description needs (`app_name`, `auth`, `auths`, `actions`),
//! read from the same config file as the build, through the same reader
//! (graphjin-config: `inherits:`, `GJ_*` overrides, GraphJin's lenient forms). Only the
//! keys that shape what a caller sends are read: no secret, URL or key file.

use std::path::Path;

use serde::Deserialize;

use crate::config::ConfigError;

/// The run-time keys that describe the HTTP surface.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ApiConfig {
    /// `app_name`: the document's title.
    pub app_name: Option<String>,
    /// `auth`: how the GraphQL and REST routes authenticate.
    pub auth: AuthKeys,
    /// `auth_fail_block`: a bad credential is refused with 401 rather than served as
    /// anonymous.
    pub auth_fail_block: bool,
    /// `auths`: named auths, which guard actions.
    pub auths: Vec<AuthKeys>,
    /// `actions`.
    pub actions: Vec<ActionKeys>,
}

/// An `auth:` block or an `auths:` entry: how the credential travels.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AuthKeys {
    /// The name actions use (`auths:` entries).
    pub name: Option<String>,
    /// `jwt`, `header`, `rails`, `hmac`, `none`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The cookie carrying a JWT, or the Rails session cookie.
    pub cookie: Option<String>,
    /// Header auth.
    pub header: HeaderKeys,
    /// HMAC-signed calls.
    pub hmac: HmacKeys,
}

impl AuthKeys {
    /// The type, lower-case (`none` when unset).
    pub fn kind(&self) -> String {
        self.kind
            .as_deref()
            .map(|k| k.trim().to_ascii_lowercase())
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "none".into())
    }
}

/// `header:` of a header auth.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HeaderKeys {
    /// The header's name.
    pub name: Option<String>,
}

/// `hmac:` of a signed-call auth.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HmacKeys {
    /// Default `X-Signature`.
    pub signature_header: Option<String>,
    /// Default `X-Timestamp`.
    pub timestamp_header: Option<String>,
}

/// One `actions:` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ActionKeys {
    /// The route's last segment.
    pub name: String,
    /// A statement (SQL action).
    pub sql: Option<String>,
    /// A handler (webhook action).
    pub url: Option<String>,
    /// The `auths:` entry guarding it.
    pub auth_name: Option<String>,
    /// SQL actions: the statement's parameters.
    pub params: Vec<ParamKeys>,
}

/// One `actions[].params[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ParamKeys {
    /// The body's key.
    pub name: String,
    /// The PostgreSQL type.
    #[serde(rename = "type")]
    pub pg_type: String,
    /// Refused when missing and without default.
    pub required: bool,
    /// Used when missing.
    pub default: Option<serde_json::Value>,
    /// `input` (the body, the default), `user_id`, `user_id_provider`, `role`.
    pub from: Option<String>,
}

impl ParamKeys {
    /// Whether the caller sends it in the body.
    pub fn from_input(&self) -> bool {
        self.from
            .as_deref()
            .is_none_or(|f| f.trim().is_empty() || f.trim().eq_ignore_ascii_case("input"))
    }
}

impl ApiConfig {
    /// Reads the config file the build reads in `dir` (`prod.yml`, else `dev.yml`); the
    /// defaults when there is none.
    pub fn load(dir: &Path) -> Result<ApiConfig, ConfigError> {
        match crate::config::config_path(dir) {
            Some(path) => Self::load_file(&path, |name| std::env::var(name).ok()),
            None => Ok(ApiConfig::default()),
        }
    }

    /// Reads `path`, environment variables through `lookup`.
    pub fn load_file(
        path: &Path,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ApiConfig, ConfigError> {
        use std::sync::OnceLock;
        static SCHEMA: OnceLock<graphjin_config::Schema> = OnceLock::new();
        let mut source = graphjin_config::Source::read(path)?;
        source.apply_env(
            SCHEMA.get_or_init(graphjin_config::Schema::of::<ApiConfig>),
            lookup,
        );
        source.deserialize()
    }
}
