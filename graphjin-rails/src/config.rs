//! Configuration: the `rails:` block of GraphJin's auth config plus the cookie name.

use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::RailsError;
use crate::keys::KeyDigest;

/// Settings for sharing a login with a Rails app.
///
/// `cookie` sits outside the `rails:` block in GraphJin's YAML (`auth.cookie`); the caller
/// fills it in. `Debug` shows neither `secret_key_base` nor `password`.
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
pub struct RailsConfig {
    /// The Rails version of the app: `4.2`, `5.1`, `5.2`, `6.1`, `7.0`, ... (a YAML number
    /// is accepted). Needed with `secret_key_base`.
    #[serde(deserialize_with = "string_or_number")]
    pub version: String,
    /// The app's `secret_key_base`, for cookie-store sessions.
    pub secret_key_base: Option<String>,
    /// Rails' `encrypted_cookie_salt` when the app changed it (default `encrypted cookie`;
    /// Rails 4.x-5.1 cookies).
    pub salt: Option<String>,
    /// Rails' `encrypted_signed_cookie_salt` when the app changed it (default
    /// `signed encrypted cookie`; Rails 4.x-5.1 cookies).
    pub sign_salt: Option<String>,
    /// Rails' `authenticated_encrypted_cookie_salt` when the app changed it (default
    /// `authenticated encrypted cookie`; Rails 5.2+ cookies).
    pub auth_salt: Option<String>,
    /// The session cookie's name (e.g. `_app_session`).
    pub cookie: String,
    /// Session store for cache-store sessions: `memcache://host:port` or
    /// `redis://[:password@]host:port[/db]`; `rediss://…[?ca_file=/path/ca.pem]` is redis
    /// over TLS (the certificate checked against `ca_file` or the system roots).
    pub url: Option<String>,
    /// Redis password (overrides one in `url`).
    pub password: Option<String>,
    /// Idle store connections kept open (default 8).
    pub max_idle: Option<usize>,
    /// Store connections open at once, busy or idle (default 32); callers beyond it wait.
    pub max_active: Option<usize>,
    /// The session store's namespace, as the Rails app configures it (`namespace:` of dalli
    /// or of the cache store): keys are `<namespace>:<id>`. redis-store's URL form
    /// (`redis://host:port/0/<namespace>`) sets it too. Unset: the conventional namespaces
    /// `session`, `rack:session` and `_session_id` are each tried.
    pub namespace: Option<String>,
    /// The whole key prefix, for stores that do not join with `:` (overrides `namespace`):
    /// the key is `<prefix><session id>`.
    pub key_prefix: Option<String>,
    /// How long to wait for a store connection, in milliseconds (default 1000).
    pub connect_timeout_ms: Option<u64>,
    /// How long to wait for a store's answer, in milliseconds (default 2000).
    pub read_timeout_ms: Option<u64>,
}

impl fmt::Debug for RailsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("RailsConfig")
            .field("version", &self.version)
            .field("secret_key_base", &redact(&self.secret_key_base))
            .field("salt", &self.salt)
            .field("sign_salt", &self.sign_salt)
            .field("auth_salt", &self.auth_salt)
            .field("cookie", &self.cookie)
            .field("url", &self.url.as_deref().map(redact_url))
            .field("password", &redact(&self.password))
            .field("max_idle", &self.max_idle)
            .field("max_active", &self.max_active)
            .field("namespace", &self.namespace)
            .field("key_prefix", &self.key_prefix)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("read_timeout_ms", &self.read_timeout_ms)
            .finish()
    }
}

/// A URL with any `user:password@` replaced.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://<redacted>@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        S(String),
        I(i64),
        F(f64),
    }
    Ok(match V::deserialize(d)? {
        V::S(s) => s,
        V::I(i) => i.to_string(),
        V::F(f) => f.to_string(),
    })
}

/// How cookies of a Rails version are encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// 4.x to 5.1: AES-256-CBC, then HMAC-SHA1 signed.
    LegacyCbc,
    /// 5.2 and later: AES-256-GCM, keys derived with the given digest.
    Gcm(KeyDigest),
}

/// Maps `4.2`, `5`, `6.1.7`, `7.0` ... to the cookie scheme.
pub(crate) fn scheme_for(version: &str) -> Result<Scheme, RailsError> {
    let bad = || {
        RailsError::Config(format!(
            "unsupported rails.version {version:?}: use the app's Rails version, 4.x to 8.x (e.g. 4.2, 5.2, 6.1, 7.0)"
        ))
    };
    let mut parts = version.trim().split('.');
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let minor: u32 = match parts.next() {
        Some(p) => p.parse().map_err(|_| bad())?,
        None => 0,
    };
    match (major, minor) {
        (4, _) | (5, 0 | 1) => Ok(Scheme::LegacyCbc),
        (5, _) | (6, _) => Ok(Scheme::Gcm(KeyDigest::Sha1)),
        (7 | 8, _) => Ok(Scheme::Gcm(KeyDigest::Sha256)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(scheme_for("4.2").unwrap(), Scheme::LegacyCbc);
        assert_eq!(scheme_for("5.1.7").unwrap(), Scheme::LegacyCbc);
        assert_eq!(scheme_for("5").unwrap(), Scheme::LegacyCbc);
        assert_eq!(scheme_for("5.2").unwrap(), Scheme::Gcm(KeyDigest::Sha1));
        assert_eq!(scheme_for("6.1").unwrap(), Scheme::Gcm(KeyDigest::Sha1));
        assert_eq!(scheme_for("7").unwrap(), Scheme::Gcm(KeyDigest::Sha256));
        assert_eq!(scheme_for("8.0").unwrap(), Scheme::Gcm(KeyDigest::Sha256));
        for bad in ["", "3.2", "9", "x", "6.x"] {
            assert!(scheme_for(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_redacts() {
        let cfg = RailsConfig {
            secret_key_base: Some("topsecret".into()),
            password: Some("hunter2".into()),
            url: Some("redis://:hunter2@h:1".into()),
            ..Default::default()
        };
        let s = format!("{cfg:?}");
        assert!(!s.contains("topsecret") && !s.contains("hunter2"), "{s}");
    }

    #[test]
    fn version_as_number() {
        let cfg: RailsConfig = serde_json::from_str(r#"{"version": 4.2}"#).unwrap();
        assert_eq!(cfg.version, "4.2");
        let cfg: RailsConfig = serde_json::from_str(r#"{"version": 7}"#).unwrap();
        assert_eq!(cfg.version, "7");
    }
}
