//! The `auth:` / `auths:` part of the config: GraphJin's keys, as plain data.
//!
//! ```yaml
//! auth:
//!   type: jwt                 # jwt | header | none | rails
//!   cookie: _jwt              # jwt: optional, read the token from this cookie too; rails: the session cookie
//!   creds_in_header: true     # development only: honour X-User-ID, X-User-ID-Provider, X-User-Role
//!   jwt:
//!     provider: auth0         # none (alias other) | auth0 | firebase | jwks
//!     secret: "..."           # HS256; better: GJ_AUTH_JWT_SECRET
//!     public_key_file: keys/rsa_public.pem   # RS256 / ES256, relative to the config folder
//!     public_key_type: rsa    # rsa | ecdsa (checked against the file)
//!     issuer: https://example.auth0.com/
//!     audience: my-api
//!     jwks_url: https://example.auth0.com/.well-known/jwks.json
//!     jwks_refresh: 30        # minutes; overrides the server's cache headers
//!     jwks_min_refresh: 60    # minutes; the floor under the cache headers (default 60)
//!   header:
//!     name: X-Api-Key
//!     value: "..."            # compared in constant time; or `exists: true`
//!   rails:                    # type: rails, with cookie: _app_session (see RailsConfig)
//!     version: 7.0            # the app's Rails version: 4.2 ... 8.x
//!     secret_key_base: "..."  # cookie-store sessions; better: GJ_AUTH_RAILS_SECRET_KEY_BASE
//!     url: redis://127.0.0.1:6379   # cache-store sessions: memcache://host:port or redis://host:port[/db]
//!     password: "..."         # redis; better: GJ_AUTH_RAILS_PASSWORD
//!     max_idle: 8             # store connections kept open
//!     max_active: 32          # store connections open at once
//!     namespace: session      # store key namespace; unset: session, rack:session and _session_id are tried
//!     key_prefix: "myapp:"    # a whole key prefix instead (the key is <key_prefix><session id>)
//!     auth_salt: "..."        # the app's cookie salts, when it changed Rails' defaults
//!     salt: "..."             #   (encrypted_cookie_salt, encrypted_signed_cookie_salt,
//!     sign_salt: "..."        #   authenticated_encrypted_cookie_salt)
//! ```
//!
//! Durations (`jwks_refresh`, `jwks_min_refresh`) are minutes when given as a number, as in
//! GraphJin; a string may carry a unit instead: `"90s"`, `"5m"`, `"1h"`, `"500ms"`.

use std::cell::Cell;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// A secret value (JWT secret, header value). Its `Debug` output is redacted and it has no
/// `Display`, so it cannot end up in a log line or an error message by accident; read it
/// with [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is the empty string (which counts as not set).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

thread_local! {
    /// Whether a [`Secret`] serializes as its value on this thread: only inside
    /// [`with_secrets`].
    static REVEAL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with secrets serializing as their values: the config's own round trip through
/// keys ([`crate::Config::apply_env`]). Anywhere else they serialize as `"<redacted>"`.
pub(crate) fn with_secrets<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            REVEAL.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(REVEAL.with(|r| r.replace(true)));
    f()
}

impl Serialize for Secret {
    /// Writes `"<redacted>"`: serializing a config (to log or show it) never writes a secret
    /// out.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if REVEAL.with(Cell::get) {
            serializer.serialize_str(&self.0)
        } else {
            serializer.serialize_str("<redacted>")
        }
    }
}

/// A duration as text the duration keys read back: `"250ms"`, or seconds `"1.5s"`.
pub(crate) fn duration_text<S: Serializer>(
    value: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        None => serializer.serialize_none(),
        Some(d) if d.subsec_nanos() % 1_000_000 == 0 => {
            serializer.serialize_str(&format!("{}ms", d.as_millis()))
        }
        Some(d) => serializer.serialize_str(&format!("{}s", d.as_secs_f64())),
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Accepts a string only; the error for anything else never repeats the value.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) => Ok(Secret(s)),
            serde_json::Value::Null => Ok(Secret::default()),
            _ => Err(de::Error::custom(
                "a secret must be a string: put the value in quotes",
            )),
        }
    }
}

/// `auth.type`: how requests are authenticated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AuthType {
    /// No authentication: every request is anonymous (unless development headers apply).
    #[default]
    #[serde(alias = "")]
    None,
    /// A JSON Web Token in `Authorization: Bearer` or in the configured cookie.
    Jwt,
    /// A shared value (or the mere presence) of a request header.
    Header,
    /// A Ruby on Rails (Devise/Warden) session cookie named by `cookie`, read with the
    /// `rails:` settings ([`RailsConfig`]).
    Rails,
}

impl AuthType {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::None => "none",
            AuthType::Jwt => "jwt",
            AuthType::Header => "header",
            AuthType::Rails => "rails",
        }
    }
}

impl fmt::Display for AuthType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `auth.jwt.provider`: where the verification keys come from and how `sub` is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JwtProvider {
    /// A secret or a public key file (or `jwks_url`); `sub` is the user id.
    #[default]
    #[serde(alias = "other", alias = "generic", alias = "")]
    None,
    /// As `none`, and a `sub` of the form `provider|id` gives `user_id` = id and
    /// `user_id_provider` = provider.
    Auth0,
    /// Firebase ID tokens: RS256 keys from Google's certificate URL, issuer
    /// `https://securetoken.google.com/<audience>`.
    Firebase,
    /// Keys from `jwks_url`, chosen by the token's `kid`.
    Jwks,
}

/// `auth.jwt.public_key_type`: the kind of key in `public_key_file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PublicKeyType {
    /// An RSA key: tokens must be RS256.
    Rsa,
    /// An ECDSA key: tokens must be ES256 (P-256) or ES384 (P-384).
    #[serde(alias = "ec")]
    Ecdsa,
}

/// `auth.jwt`: JWT settings. Its `Debug` output redacts the secret and any user info or
/// query in the URLs.
#[derive(Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct JwtConfig {
    /// Where keys come from; see [`JwtProvider`].
    pub provider: JwtProvider,
    /// The HS256 secret (env `GJ_AUTH_JWT_SECRET`).
    pub secret: Option<Secret>,
    /// A PEM public key (SubjectPublicKeyInfo, PKCS#1 RSA or an X.509 certificate); relative
    /// paths are resolved against the config folder. Takes precedence over `secret`.
    pub public_key_file: Option<PathBuf>,
    /// What `public_key_file` must hold; when unset, whatever it holds (RSA or ECDSA).
    pub public_key_type: Option<PublicKeyType>,
    /// The `iss` a token must carry, when set.
    pub issuer: Option<String>,
    /// The `aud` a token must carry, when set (for Firebase: the project id).
    pub audience: Option<String>,
    /// The JWKS endpoint (provider `jwks`; also used by `none`/`auth0` without a key).
    pub jwks_url: Option<String>,
    /// Refresh the key set this often, whatever the server's cache headers say.
    #[serde(deserialize_with = "minutes", serialize_with = "duration_text")]
    pub jwks_refresh: Option<Duration>,
    /// The least time between two scheduled refreshes when following the server's
    /// `Cache-Control` / `Expires` (default 60 minutes).
    #[serde(deserialize_with = "minutes", serialize_with = "duration_text")]
    pub jwks_min_refresh: Option<Duration>,
    /// Where Firebase's X.509 certificates are fetched from (default Google's URL); set it
    /// to point tests or a proxy elsewhere.
    pub firebase_certs_url: Option<String>,
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = |u: &Option<String>| u.as_deref().map(redact_url);
        f.debug_struct("JwtConfig")
            .field("provider", &self.provider)
            .field("secret", &self.secret)
            .field("public_key_file", &self.public_key_file)
            .field("public_key_type", &self.public_key_type)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("jwks_url", &url(&self.jwks_url))
            .field("jwks_refresh", &self.jwks_refresh)
            .field("jwks_min_refresh", &self.jwks_min_refresh)
            .field("firebase_certs_url", &url(&self.firebase_certs_url))
            .finish()
    }
}

/// A URL fit for logs: user info and query replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let had_user = !u.username().is_empty() || u.password().is_some();
            let had_query = u.query().is_some();
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            let mut text = u.to_string();
            if had_user && let Some(i) = text.find("://") {
                text.insert_str(i + 3, "***@");
            }
            if had_query {
                text.push_str("?***");
            }
            text
        }
        Err(_) => "<invalid URL>".to_owned(),
    }
}

/// `auth.header`: header authentication.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct HeaderConfig {
    /// The header's name.
    pub name: Option<String>,
    /// Only check that the header is present (any value).
    pub exists: bool,
    /// The value the header must have, compared in constant time (env
    /// `GJ_AUTH_HEADER_VALUE`).
    pub value: Option<Secret>,
}

/// `auth.rails`: share a login with a Ruby on Rails app (Devise/Warden). The session cookie's
/// name is `auth.cookie`; the user id is the session's `warden.user.user.key`.
///
/// Cookie-store sessions need `version` and `secret_key_base`; cache-store sessions (the
/// cookie holds a session id) need `url`; both may be set. Its `Debug` output redacts the
/// secret, the password and any user info in `url`.
#[derive(Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct RailsConfig {
    /// The app's Rails version (`4.2`, `5.2`, `6.1`, `7.0`, ...; a YAML number is fine): it
    /// picks the cookie encryption. Needed with `secret_key_base`.
    #[serde(deserialize_with = "version_text")]
    pub version: Option<String>,
    /// The app's `secret_key_base`, for cookie-store sessions (env
    /// `GJ_AUTH_RAILS_SECRET_KEY_BASE`).
    pub secret_key_base: Option<Secret>,
    /// The session store, for cache-store sessions: `memcache://host:port` or
    /// `redis://[:password@]host:port[/db]`.
    pub url: Option<String>,
    /// The redis password; overrides one in `url` (env `GJ_AUTH_RAILS_PASSWORD`).
    pub password: Option<Secret>,
    /// Idle store connections kept open (default 8).
    pub max_idle: Option<usize>,
    /// Store connections open at once, busy or idle (default 32); requests beyond it wait.
    pub max_active: Option<usize>,
    /// The session store's namespace (`namespace:` of the app's dalli or cache store; keys
    /// are `<namespace>:<id>`). Unset: `session`, `rack:session` and `_session_id` are each
    /// tried, by private id (`2::<sha256>`) and by public id.
    pub namespace: Option<String>,
    /// A whole key prefix instead of `namespace`: the key is `<key_prefix><session id>`.
    pub key_prefix: Option<String>,
    /// Rails' `encrypted_cookie_salt`, when the app changed it (4.x-5.1 cookies).
    pub salt: Option<String>,
    /// Rails' `encrypted_signed_cookie_salt`, when the app changed it (4.x-5.1 cookies).
    pub sign_salt: Option<String>,
    /// Rails' `authenticated_encrypted_cookie_salt`, when the app changed it (5.2+ cookies).
    pub auth_salt: Option<String>,
}

impl fmt::Debug for RailsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RailsConfig")
            .field("version", &self.version)
            .field("secret_key_base", &self.secret_key_base)
            .field("url", &self.url.as_deref().map(redact_url))
            .field("password", &self.password)
            .field("max_idle", &self.max_idle)
            .field("max_active", &self.max_active)
            .field("namespace", &self.namespace)
            .field("key_prefix", &self.key_prefix)
            .field("salt", &self.salt)
            .field("sign_salt", &self.sign_salt)
            .field("auth_salt", &self.auth_salt)
            .finish()
    }
}

/// A Rails version written as text or as a YAML number (`7.0`, `6.1`, `7`).
fn version_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s)),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(de::Error::custom(
            "expected the app's Rails version, e.g. 7.0 or \"6.1\"",
        )),
    }
}

/// One auth configuration: the default `auth:` or an entry of `auths:`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct AuthConfig {
    /// The name other parts of the config (actions, routes) use for it; required in `auths:`.
    pub name: Option<String>,
    /// `type`: jwt, header, none or rails.
    #[serde(rename = "type")]
    pub kind: AuthType,
    /// The cookie that may carry the token (JWT); the session cookie (Rails, e.g.
    /// `_app_session`).
    pub cookie: Option<String>,
    /// Development only: honour `X-User-ID`, `X-User-ID-Provider` and `X-User-Role`
    /// headers. Ignored when the config says `production: true`.
    pub creds_in_header: bool,
    /// Debugging only (`subs_creds_in_vars`): take `X-User-ID`, `X-User-ID-Provider` and
    /// `X-User-Role` from a subscription's variables. Ignored when the config says
    /// `production: true`.
    pub subs_creds_in_vars: bool,
    /// JWT settings.
    pub jwt: JwtConfig,
    /// Header-auth settings.
    pub header: HeaderConfig,
    /// Rails settings.
    pub rails: RailsConfig,
}

impl AuthConfig {
    /// An auth of this type with every other key at its default.
    pub fn new(kind: AuthType) -> Self {
        AuthConfig {
            kind,
            ..AuthConfig::default()
        }
    }

    /// A JWT auth verifying HS256 tokens with `secret`.
    pub fn jwt_secret(secret: impl Into<Secret>) -> Self {
        let mut config = AuthConfig::new(AuthType::Jwt);
        config.jwt.secret = Some(secret.into());
        config
    }

    /// A header auth requiring header `name` to equal `value`.
    pub fn header_value(name: impl Into<String>, value: impl Into<Secret>) -> Self {
        let mut config = AuthConfig::new(AuthType::Header);
        config.header.name = Some(name.into());
        config.header.value = Some(value.into());
        config
    }
}

/// A duration written as minutes (a number, GraphJin's form) or with a unit (`"90s"`).
fn minutes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(m) if m.is_finite() && m >= 0.0 => Ok(Some(Duration::from_secs_f64(m * 60.0))),
            _ => Err(de::Error::custom(
                "expected a number of minutes (0 or more)",
            )),
        },
        serde_json::Value::String(s) => parse_duration(&s).map(Some).ok_or_else(|| {
            de::Error::custom(format!(
                "`{s}` is not a duration: write minutes as a number, or a number with a unit (500ms, 90s, 5m, 1h)"
            ))
        }),
        _ => Err(de::Error::custom(
            "expected a number of minutes or a duration such as \"90s\"",
        )),
    }
}

/// Parses `"90s"`, `"5m"`, `"1h"`, `"500ms"`; a bare number means minutes.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "s" | "sec" | "secs" => number,
        "" | "m" | "min" | "mins" => number * 60.0,
        "h" | "hour" | "hours" => number * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials() {
        assert_eq!(
            redact_url("https://user:pw@keys.example/jwks.json?token=abc"),
            "https://***@keys.example/jwks.json?***"
        );
        assert_eq!(
            redact_url("https://keys.example/jwks.json"),
            "https://keys.example/jwks.json"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("5"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        let config = AuthConfig::jwt_secret("hunter2");
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(!format!("{config:#?}").contains("hunter2"));
    }

    #[test]
    fn secret_type_errors_do_not_echo() {
        let e = serde_json::from_str::<Secret>("12345678").unwrap_err();
        assert!(!e.to_string().contains("12345678"), "{e}");
    }

    #[test]
    fn graphjin_names_parse() {
        let c: AuthConfig = serde_json::from_value(serde_json::json!({
            "type": "jwt",
            "jwt": {"provider": "other", "public_key_type": "ecdsa", "jwks_refresh": 5, "jwks_min_refresh": "30s"}
        }))
        .expect("parses");
        assert_eq!(c.kind, AuthType::Jwt);
        assert_eq!(c.jwt.provider, JwtProvider::None);
        assert_eq!(c.jwt.public_key_type, Some(PublicKeyType::Ecdsa));
        assert_eq!(c.jwt.jwks_refresh, Some(Duration::from_secs(300)));
        assert_eq!(c.jwt.jwks_min_refresh, Some(Duration::from_secs(30)));
        let rails: AuthConfig =
            serde_json::from_value(serde_json::json!({"type": "rails"})).expect("parses");
        assert_eq!(rails.kind, AuthType::Rails);
    }

    #[test]
    fn rails_keys_parse_and_redact() {
        let c: AuthConfig = serde_json::from_value(serde_json::json!({
            "type": "rails",
            "cookie": "_app_session",
            "rails": {
                "version": 7.0, "secret_key_base": "kb-secret", "url": "redis://:pw-secret@h:6379/1",
                "password": "pw2-secret", "max_idle": 2, "max_active": 4, "key_prefix": "s:"
            }
        }))
        .expect("parses");
        assert_eq!(c.rails.version.as_deref(), Some("7.0"));
        assert_eq!(c.rails.max_active, Some(4));
        assert_eq!(
            c.rails.secret_key_base.as_ref().map(Secret::expose),
            Some("kb-secret")
        );
        let text = format!("{c:?}");
        for secret in ["kb-secret", "pw-secret", "pw2-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
        let c: RailsConfig =
            serde_json::from_value(serde_json::json!({"version": "6.1"})).expect("parses");
        assert_eq!(c.version.as_deref(), Some("6.1"));
        let e = serde_json::from_value::<RailsConfig>(serde_json::json!({"version": [6]}));
        assert!(e.is_err());
    }
}
