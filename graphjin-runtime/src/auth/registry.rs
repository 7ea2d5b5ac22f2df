//! [`AuthRegistry`]: the default auth and the named ones (`auths:`), built once at start-up.

use std::collections::HashMap;
use std::sync::Arc;

use super::Authenticator;
use crate::config::{Config, ConfigError};

/// Every configured auth by name, for actions and routes that name theirs.
///
/// ```
/// # fn demo() -> Result<(), graphjin_runtime::ConfigError> {
/// use std::path::Path;
/// use graphjin_runtime::Config;
/// let config = Config::from_yaml(
///     "auths:\n  - name: hooks\n    type: header\n    header: {name: X-Hook-Key, value: s3cret}\n",
///     Path::new("dev.yml"),
/// )?;
/// let auths = config.auth_registry()?;
/// assert!(auths.get("hooks").is_some());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AuthRegistry {
    default: Authenticator,
    named: Arc<HashMap<String, Authenticator>>,
}

impl AuthRegistry {
    /// Builds `auth` and every entry of `auths` (each must have a unique `name`).
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let options = config.auth_options();
        let default = Authenticator::build(&config.auth, "auth", &options)?;
        let mut named = HashMap::new();
        if let Some(name) = config.auth.name.as_deref().filter(|n| !n.is_empty()) {
            named.insert(name.to_owned(), default.clone());
        }
        for (i, auth) in config.auths.iter().enumerate() {
            let Some(name) = auth
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
            else {
                return Err(ConfigError::Invalid {
                    key: format!("auths[{i}].name"),
                    message: "every entry of auths needs a name".to_owned(),
                });
            };
            if named.contains_key(name) {
                return Err(ConfigError::DuplicateAuth {
                    name: name.to_owned(),
                });
            }
            let built = Authenticator::build(auth, &format!("auths[{name}]"), &options)?;
            named.insert(name.to_owned(), built);
        }
        Ok(AuthRegistry {
            default,
            named: Arc::new(named),
        })
    }

    /// A registry of one default auth and no named ones.
    pub fn single(default: Authenticator) -> Self {
        AuthRegistry {
            default,
            named: Arc::new(HashMap::new()),
        }
    }

    /// The default `auth` (the one guarding the GraphQL and REST routes).
    pub fn default_auth(&self) -> &Authenticator {
        &self.default
    }

    /// The auth called `name` (an entry of `auths:`, or `auth:` if it has that name).
    pub fn get(&self, name: &str) -> Option<&Authenticator> {
        self.named.get(name)
    }

    /// The names of the named auths.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.named.keys().map(String::as_str)
    }
}
