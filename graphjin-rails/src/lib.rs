//! Share a login with a Ruby on Rails app (Devise/Warden), as GraphJin does.
//!
//! [`RailsAuth`] is built once from a [`RailsConfig`] (deriving the cookie keys and setting up
//! the session-store pool) and then reads the signed-in user's id from a request's `Cookie`
//! header:
//!
//! - cookie-store sessions, encrypted by Rails 4.x-5.1 (AES-256-CBC + HMAC-SHA1), 5.2/6.x
//!   (AES-256-GCM, PBKDF2-SHA1 keys) or 7.x+ (AES-256-GCM, PBKDF2-SHA256 keys), with the
//!   Rails 5.2+/6+ `_rails` purpose/expiry envelope, serialized as JSON or Marshal;
//! - server-side sessions, where the cookie holds a session id (plain, or encrypted as a
//!   Rails cookie by redis-store's `signed: true`) and the session lives in memcached or
//!   redis, written by Rack/dalli, redis-store or Rails' `CacheStore` (any Active Support
//!   cache format from 6.1 on); see the `store` module for the keys tried.
//!
//! The user id is `session["warden.user.user.key"][0][0]`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), graphjin_rails::RailsError> {
//! use graphjin_rails::{RailsAuth, RailsConfig};
//! let auth = RailsAuth::new(&RailsConfig {
//!     version: "6.1".into(),
//!     secret_key_base: Some("...".into()),
//!     cookie: "_app_session".into(),
//!     ..Default::default()
//! })?;
//! let user = auth.user_from_cookie_header("_app_session=...").await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod config;
mod cookie;
mod error;
mod keys;
pub mod marshal;
mod session;
mod store;
#[cfg(feature = "test-servers")]
pub mod test_cookies;
#[cfg(feature = "test-servers")]
pub mod test_servers;

use std::fmt;
use std::time::SystemTime;

pub use config::RailsConfig;
pub use error::RailsError;
pub use session::{Session, WARDEN_USER_KEY};
pub use store::RedisClaims;

use config::{Scheme, scheme_for};
use cookie::CookieValue;
use keys::{CbcKeys, GcmKey};
use store::Store;

/// Keys derived once from `secret_key_base`.
enum CookieKeys {
    /// Rails 4.x-5.1.
    Cbc(CbcKeys),
    /// Rails 5.2+: the GCM key, plus legacy keys for CBC cookies that Rails 5.2+ still reads
    /// (apps upgraded from 5.1).
    Gcm { key: GcmKey, legacy: CbcKeys },
}

/// Reads Rails sessions and the Devise user in them. Built once per configuration: cookie
/// keys are derived (PBKDF2) in [`RailsAuth::new`], and store connections are pooled.
pub struct RailsAuth {
    cookie: String,
    purpose: String,
    version: String,
    keys: Option<CookieKeys>,
    store: Option<Store>,
}

impl fmt::Debug for RailsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RailsAuth")
            .field("cookie", &self.cookie)
            .field("version", &self.version)
            .field("keys", &self.keys.as_ref().map(|_| "<derived>"))
            .field("store", &self.store.as_ref().map(Store::name))
            .finish()
    }
}

impl RailsAuth {
    /// Checks the configuration, derives the cookie keys and prepares the store pool (store
    /// connections are opened on first use).
    pub fn new(cfg: &RailsConfig) -> Result<Self, RailsError> {
        let cookie = cfg.cookie.trim();
        if cookie.is_empty() {
            return Err(RailsError::Config(
                "the session cookie name (auth.cookie, e.g. _app_session) is not set".into(),
            ));
        }
        if cookie
            .bytes()
            .any(|b| b <= b' ' || b == 0x7f || b";=,\"".contains(&b))
        {
            return Err(RailsError::Config(format!(
                "the session cookie name {cookie:?} is not a valid cookie name"
            )));
        }
        let keys = match cfg.secret_key_base.as_deref() {
            None => None,
            Some("") => {
                return Err(RailsError::Config(
                    "rails.secret_key_base is empty (is its environment variable set?)".into(),
                ));
            }
            Some(secret) => {
                if cfg.version.trim().is_empty() {
                    return Err(RailsError::Config(
                        "rails.version is needed with rails.secret_key_base (e.g. 5.2, 6.1, 7.0)"
                            .into(),
                    ));
                }
                let defaults = keys::Salts::default();
                fn salt(s: &Option<String>) -> Option<&str> {
                    s.as_deref().filter(|s| !s.is_empty())
                }
                let salts = keys::Salts {
                    encrypt: salt(&cfg.salt).unwrap_or(defaults.encrypt),
                    sign: salt(&cfg.sign_salt).unwrap_or(defaults.sign),
                    auth: salt(&cfg.auth_salt).unwrap_or(defaults.auth),
                };
                Some(match scheme_for(&cfg.version)? {
                    Scheme::LegacyCbc => {
                        CookieKeys::Cbc(CbcKeys::derive(secret, keys::KeyDigest::Sha1, salts))
                    }
                    Scheme::Gcm(digest) => CookieKeys::Gcm {
                        key: GcmKey::derive(secret, digest, salts),
                        legacy: CbcKeys::derive(secret, digest, salts),
                    },
                })
            }
        };
        let store = match cfg.url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => Some(Store::from_config(cfg, url)?),
        };
        if keys.is_none() && store.is_none() {
            return Err(RailsError::Config(
                "set rails.secret_key_base and rails.version (cookie-store sessions) or rails.url (memcache:// or redis:// session store)"
                    .into(),
            ));
        }
        Ok(RailsAuth {
            cookie: cookie.to_string(),
            purpose: format!("cookie.{cookie}"),
            version: cfg.version.trim().to_string(),
            keys,
            store,
        })
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.cookie
    }

    /// The signed-in user's id from a request's `Cookie` header: `Ok(None)` when the header
    /// has no cookie of the configured name (or only an empty one, as left by a sign-out);
    /// an error when the cookie is there but does not give a user (see
    /// [`RailsError::is_unavailable`] to tell store failures apart).
    pub async fn user_from_cookie_header(
        &self,
        cookie_header: &str,
    ) -> Result<Option<String>, RailsError> {
        let Some(raw) = cookie_value(cookie_header, &self.cookie) else {
            return Ok(None);
        };
        if matches!(raw, "" | "\"\"") {
            return Ok(None);
        }
        let session = self.session_from_cookie_value(raw).await?;
        session.user_id().map(Some)
    }

    /// Reads the session behind a cookie value (URL-encoded, as the browser sent it): decrypts
    /// a cookie-store session, or fetches a server-side session by its id (from the cookie,
    /// or from inside an encrypted cookie when a store is configured).
    pub async fn session_from_cookie_value(&self, raw: &str) -> Result<Session, RailsError> {
        let now = SystemTime::now();
        match cookie::classify(raw)? {
            CookieValue::Encrypted(value) => {
                let session = self.decrypt(&value, now)?;
                match (&self.store, session.as_session_id()) {
                    // redis-store's signed cookie: the id it holds is checked like a plain
                    // one before it reaches the store's protocol.
                    (Some(store), Some(id)) if cookie::is_session_id(id) => {
                        stored_session(store, id, now).await
                    }
                    (Some(_), Some(_)) => Err(RailsError::NotRailsCookie),
                    _ => Ok(session),
                }
            }
            CookieValue::SessionId(id) => {
                let store = self.store.as_ref().ok_or(RailsError::NoStore)?;
                stored_session(store, &id, now).await
            }
        }
    }

    /// Decrypts a cookie-store session cookie value (URL-encoded, as the browser sent it).
    /// A session-id cookie gives [`RailsError::NeedsStore`]: use
    /// [`RailsAuth::session_from_cookie_value`] for those.
    pub fn decode_cookie_value(&self, raw: &str) -> Result<Session, RailsError> {
        self.decode_cookie_value_at(raw, SystemTime::now())
    }

    /// As [`RailsAuth::decode_cookie_value`], judging envelope expiry at `now`.
    pub fn decode_cookie_value_at(
        &self,
        raw: &str,
        now: SystemTime,
    ) -> Result<Session, RailsError> {
        match cookie::classify(raw)? {
            CookieValue::Encrypted(value) => self.decrypt(&value, now),
            CookieValue::SessionId(_) if self.store.is_some() => Err(RailsError::NeedsStore),
            CookieValue::SessionId(_) => Err(RailsError::NoStore),
        }
    }

    fn decrypt(&self, value: &str, now: SystemTime) -> Result<Session, RailsError> {
        let keys = self.keys.as_ref().ok_or(RailsError::NoSecret)?;
        let payload = match (value.matches("--").count(), keys) {
            (1, CookieKeys::Cbc(k)) | (1, CookieKeys::Gcm { legacy: k, .. }) => {
                cookie::legacy_cbc::decrypt(k, value)?
            }
            (2, CookieKeys::Gcm { key, .. }) => cookie::gcm::decrypt(key, value)?,
            (2, CookieKeys::Cbc(_)) => {
                cookie::gcm::parts(value)?;
                return Err(RailsError::VersionMismatch {
                    found: "AES-256-GCM (Rails 5.2+)",
                    configured: self.version.clone(),
                });
            }
            _ => return Err(RailsError::NotRailsCookie),
        };
        cookie::envelope::open(&payload, &self.purpose, now)
    }
}

/// The session stored for a session id, in one round trip to the store.
async fn stored_session(store: &Store, id: &str, now: SystemTime) -> Result<Session, RailsError> {
    let data = store.get(id).await?.ok_or(RailsError::SessionNotFound)?;
    store::value::session(&data, now)?.ok_or(RailsError::SessionNotFound)
}

/// The value of the first cookie named `name` in a `Cookie` request header.
pub fn cookie_value<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    cookie_header.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name).then(|| v.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_header() {
        let h = "a=1; _app_session=xyz%3D%3D--ab ; b=2; _app_session=second";
        assert_eq!(cookie_value(h, "_app_session"), Some("xyz%3D%3D--ab"));
        assert_eq!(cookie_value(h, "b"), Some("2"));
        assert_eq!(cookie_value(h, "c"), None);
        assert_eq!(cookie_value("", "c"), None);
    }

    #[test]
    fn config_errors() {
        let base = RailsConfig {
            cookie: "_s".into(),
            ..Default::default()
        };
        let err = |cfg: RailsConfig| RailsAuth::new(&cfg).unwrap_err().to_string();
        assert!(err(base.clone()).contains("secret_key_base"));
        assert!(
            err(RailsConfig {
                cookie: String::new(),
                ..base.clone()
            })
            .contains("cookie name")
        );
        let e = err(RailsConfig {
            secret_key_base: Some("supersecret".into()),
            ..base.clone()
        });
        assert!(
            e.contains("rails.version") && !e.contains("supersecret"),
            "{e}"
        );
        let e = err(RailsConfig {
            secret_key_base: Some("supersecret".into()),
            version: "3.2".into(),
            ..base.clone()
        });
        assert!(
            e.contains("unsupported") && !e.contains("supersecret"),
            "{e}"
        );
    }

    #[test]
    fn shareable_across_tasks() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>(_: &T) {}
        send_sync::<RailsAuth>();
        let auth = RailsAuth::new(&RailsConfig {
            cookie: "_s".into(),
            url: Some("redis://127.0.0.1:1".into()),
            ..Default::default()
        })
        .unwrap();
        send(&auth.user_from_cookie_header("_s=abc"));
    }

    #[tokio::test]
    async fn empty_cookie_is_none() {
        let auth = RailsAuth::new(&RailsConfig {
            cookie: "_s".into(),
            version: "6.1".into(),
            secret_key_base: Some("k".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            auth.user_from_cookie_header("_s=; a=b").await.unwrap(),
            None
        );
        assert!(matches!(
            auth.user_from_cookie_header("_s=abc").await,
            Err(RailsError::NoStore)
        ));
        assert!(matches!(
            auth.decode_cookie_value("YQ%3D%3D--YQ%3D%3D--YQ%3D%3D"),
            Err(RailsError::NotRailsCookie)
        ));
    }

    #[test]
    fn debug_hides_keys() {
        let auth = RailsAuth::new(&RailsConfig {
            cookie: "_s".into(),
            version: "7.0".into(),
            secret_key_base: Some("supersecret".into()),
            ..Default::default()
        })
        .unwrap();
        let s = format!("{auth:?}");
        assert!(!s.contains("supersecret"), "{s}");
    }
}
