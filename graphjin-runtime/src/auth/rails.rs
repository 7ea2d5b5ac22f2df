//! `type: rails`: share a login with a Ruby on Rails app (Devise/Warden) through its session
//! cookie, read by [`graphjin_rails`].
//!
//! Built once when the [`super::Authenticator`] is built: the cookie keys are derived
//! (PBKDF2) and the session-store pool set up then; store connections open at first use.
//!
//! Per request, the configured cookie is taken from the `Cookie` headers:
//!
//! | request | result |
//! | --- | --- |
//! | no such cookie, or an empty one (signed out) | `Ok(None)`: anonymous |
//! | a session with a Warden user | [`Auth::user`] with `session["warden.user.user.key"][0][0]` |
//! | altered, another `secret_key_base`, expired, another cookie's purpose, no Warden user, unknown session id, garbage | [`AuthError::InvalidSession`]: 401 under `auth_fail_block`, else `anon` (as a bad JWT) |
//! | the session store refuses, fails or does not answer in time | [`AuthError::SessionStoreUnavailable`], a server-side error (as unreachable JWKS keys): 401 `UNAUTHENTICATED` with the generic "try again later" message under `auth_fail_block`, else `anon`, with a warning in the log |

use std::fmt;

use axum::http::HeaderMap;
use graphjin_rails::{RailsAuth, RailsError};

use super::jwt::cookie;
use super::{Auth, AuthError};
use crate::config::{AuthConfig, ConfigError};

/// A built Rails session reader (boxed: the derived keys and the store pool are large).
pub(crate) struct RailsSession {
    auth: Box<RailsAuth>,
}

impl fmt::Debug for RailsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // RailsAuth's Debug shows the cookie, version and store kind, never keys.
        self.auth.fmt(f)
    }
}

impl RailsSession {
    /// Checks the `cookie` and `rails:` keys of auth `key` (`auth`, `auths[name]`), derives
    /// the cookie keys and prepares the store pool.
    pub(crate) fn build(config: &AuthConfig, key: &str) -> Result<Self, ConfigError> {
        let env = |suffix: &str| {
            if key == "auth" {
                format!("GJ_AUTH_{suffix}")
            } else {
                format!("GJ_AUTHS_<NAME>_{suffix}")
            }
        };
        let cookie_name = config
            .cookie
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ConfigError::Invalid {
                key: format!("{key}.cookie"),
                message: format!(
                    "rails auth needs the session cookie's name, e.g. cookie: _app_session (or {})",
                    env("COOKIE")
                ),
            })?;
        let r = &config.rails;
        let secret_key_base = r
            .secret_key_base
            .as_ref()
            .filter(|s| !s.is_empty())
            .map(|s| s.expose().to_owned());
        let url = r
            .url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned);
        if secret_key_base.is_none() && url.is_none() {
            return Err(ConfigError::Invalid {
                key: format!("{key}.rails"),
                message: format!(
                    "rails auth needs rails.secret_key_base (or {}) with rails.version for cookie-store sessions, or rails.url (memcache://host:port or redis://host:port) for a session store",
                    env("RAILS_SECRET_KEY_BASE")
                ),
            });
        }
        let settings = graphjin_rails::RailsConfig {
            version: r.version.clone().unwrap_or_default(),
            secret_key_base,
            cookie: cookie_name.to_owned(),
            url,
            password: r
                .password
                .as_ref()
                .filter(|p| !p.is_empty())
                .map(|p| p.expose().to_owned()),
            max_idle: r.max_idle,
            max_active: r.max_active,
            namespace: r.namespace.clone(),
            key_prefix: r.key_prefix.clone(),
            salt: r.salt.clone(),
            sign_salt: r.sign_salt.clone(),
            auth_salt: r.auth_salt.clone(),
            ..Default::default()
        };
        let auth = RailsAuth::new(&settings).map_err(|e| ConfigError::Invalid {
            key: format!("{key}.rails"),
            message: match e {
                RailsError::Config(message) => message,
                other => other.to_string(),
            },
        })?;
        Ok(RailsSession {
            auth: Box::new(auth),
        })
    }

    /// The caller named by the session cookie in `headers`; see the [module docs](self).
    pub(crate) async fn authenticate(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Auth>, AuthError> {
        let Some(raw) = cookie(headers, self.auth.cookie_name()) else {
            return Ok(None);
        };
        let user = match self.auth.session_from_cookie_value(raw).await {
            Ok(session) => session.user_id(),
            Err(e) => Err(e),
        };
        match user {
            Ok(id) => Ok(Some(Auth::user(id))),
            Err(e) if e.is_unavailable() => Err(AuthError::SessionStoreUnavailable {
                reason: e.to_string(),
            }),
            Err(e) => {
                tracing::debug!(error = %e, "rails session cookie rejected");
                Err(AuthError::InvalidSession {
                    reason: public_reason(&e).to_owned(),
                })
            }
        }
    }
}

/// A client-safe reason: the full one may name configuration (`rails.version`, ...).
fn public_reason(e: &RailsError) -> &'static str {
    match e {
        RailsError::BadSignature => "it was altered or signed with another key",
        RailsError::Expired => "it has expired",
        RailsError::WrongPurpose { .. } => "it was made for another cookie",
        RailsError::NotSignedIn | RailsError::BadWardenKey(_) => "no user is signed in",
        RailsError::SessionNotFound => "no such session (expired or signed out)",
        RailsError::Malformed(_)
        | RailsError::Marshal(_)
        | RailsError::Json(_)
        | RailsError::UnknownSerializer => "its session data could not be read",
        _ => "it is not a session cookie this server can read",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AuthType, RailsConfig, Secret};

    fn config(rails: RailsConfig) -> AuthConfig {
        AuthConfig {
            kind: AuthType::Rails,
            cookie: Some("_app_session".into()),
            rails,
            ..AuthConfig::default()
        }
    }

    #[test]
    fn build_errors_name_the_key() {
        let e = RailsSession::build(
            &AuthConfig {
                cookie: None,
                ..config(RailsConfig::default())
            },
            "auth",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`auth.cookie`") && e.contains("GJ_AUTH_COOKIE"),
            "{e}"
        );

        let e = RailsSession::build(&config(RailsConfig::default()), "auths[admin]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`auths[admin].rails`"), "{e}");
        assert!(e.contains("GJ_AUTHS_<NAME>_RAILS_SECRET_KEY_BASE"), "{e}");

        let e = RailsSession::build(
            &config(RailsConfig {
                secret_key_base: Some(Secret::new("very-secret-base")),
                version: Some("3.2".into()),
                ..RailsConfig::default()
            }),
            "auth",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("rails.version") && !e.contains("very-secret-base"),
            "{e}"
        );

        let e = RailsSession::build(
            &config(RailsConfig {
                url: Some("redis://:store-pass@127.0.0.1:1/x".into()),
                ..RailsConfig::default()
            }),
            "auth",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("rails.url") && !e.contains("store-pass"), "{e}");
    }

    #[test]
    fn public_reasons_do_not_name_the_config() {
        let e = RailsError::VersionMismatch {
            found: "AES-256-GCM (Rails 5.2+)",
            configured: "4.2".into(),
        };
        assert!(!public_reason(&e).contains("4.2"));
        assert_eq!(
            public_reason(&RailsError::SessionNotFound),
            "no such session (expired or signed out)"
        );
    }
}
