//! Who is calling: the identity a request runs as, and how it is established.
//!
//! - [`Auth`]: the identity (user id, its provider, an explicit role). Typed callers pass
//!   one to [`crate::Db::run`]; HTTP handlers take it from the request's extensions (it is
//!   also an axum extractor, `anon` when absent).
//! - [`Authenticator`]: one configured auth (`auth:` or an entry of `auths:`): JWT (HS256
//!   secret, RS/ES/EdDSA public key file: `PUBLIC KEY`, `RSA PUBLIC KEY` or a certificate;
//!   Auth0, Firebase, JWKS), header, Rails session
//!   cookie, or none; plus development headers when `creds_in_header` allows them outside
//!   production.
//! - [`AuthLayer`]: the `tower::Layer` that runs an authenticator for every request and
//!   inserts the [`Auth`]; [`crate::router`] applies the service's default one.
//! - [`AuthRegistry`]: every auth by name, for actions and routes of your own.
//!
//! ```no_run
//! # async fn demo(db: graphjin_runtime::Db) -> Result<(), Box<dyn std::error::Error>> {
//! use graphjin_runtime::{Config, Service, router};
//! let config = Config::load("config")?;            // prod.yml else dev.yml, GJ_* overrides
//! let app = router(Service::new(db).auth(config.auth_layer()?));
//! # Ok(()) }
//! ```
//!
//! `type: rails` reads the Rails (Devise/Warden) session cookie named by `auth.cookie` with
//! the `rails:` keys ([`crate::config::RailsConfig`]): cookie-store sessions of Rails 4.2 to
//! 8 and memcached/redis session stores. A session with a Warden user gives
//! [`Auth::user`]; no cookie is anonymous; an invalid one is [`AuthError::InvalidSession`]
//! (401 under `auth_fail_block`, else `anon`, as a bad JWT). A session store that is down
//! or does not answer in time gives [`AuthError::SessionStoreUnavailable`], a server-side
//! failure handled like unreachable JWKS keys: 401 `UNAUTHENTICATED` with the generic
//! "try again later" message under `auth_fail_block`, else `anon`, logged as a warning;
//! the store's own timeouts (1 s to connect, 2 s to answer) bound the wait.

mod authenticator;
mod error;
mod jwt;
mod keys;
mod layer;
mod rails;
mod registry;
mod remote;
mod verified;

pub use authenticator::{
    AuthOptions, Authenticator, DEV_USER_ID, DEV_USER_ID_PROVIDER, DEV_USER_ROLE,
};
pub use error::AuthError;
pub use jwt::{FIREBASE_CERTS_URL, FIREBASE_ISSUER_PREFIX, self_test};
pub use layer::{AuthLayer, AuthMiddleware};
pub use registry::AuthRegistry;

use std::time::SystemTime;

/// The caller's identity. Builtin statement parameters (`$user_id`, `$user_id_provider`,
/// `$user_role`) are filled from here, never from the client's variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth {
    /// The signed-in user's id, or `None` for an anonymous caller.
    pub user_id: Option<String>,
    /// Which identity provider vouched for `user_id` (e.g. a JWT issuer), if known.
    pub user_id_provider: Option<String>,
    /// An explicit role; when `None` the role is `user` for a signed-in caller, else `anon`.
    pub role: Option<String>,
    /// When the credentials stop being valid (a JWT's `exp` plus the leeway its validation
    /// allows), or `None` when they do not expire; subscriptions end then.
    pub expires_at: Option<SystemTime>,
}

impl Auth {
    /// The role of a caller without a user.
    pub const ANON: &'static str = "anon";
    /// The default role of a signed-in caller.
    pub const USER: &'static str = "user";

    /// An anonymous caller (role `anon`).
    pub fn anon() -> Self {
        Self::default()
    }

    /// A signed-in caller with this user id (role `user` unless [`Auth::with_role`] says
    /// otherwise).
    pub fn user(id: impl Into<String>) -> Self {
        Self {
            user_id: Some(id.into()),
            ..Self::default()
        }
    }

    /// The same caller with an explicit role, e.g. one picked by a `roles_query`.
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// The same caller with the provider that vouched for the user id.
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.user_id_provider = Some(provider.into());
        self
    }

    /// The same caller with credentials that stop being valid at `at`: a subscription
    /// started as this caller ends then (see [`Auth::expires_at`]).
    pub fn with_expiry(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Whether the credentials have stopped being valid at `now`.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The role the caller's statements run as: the explicit role, else `user` when a user
    /// id is set, else `anon`.
    pub fn role(&self) -> &str {
        match (&self.role, &self.user_id) {
            (Some(role), _) => role,
            (None, Some(_)) => Self::USER,
            (None, None) => Self::ANON,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_defaults() {
        assert_eq!(Auth::anon().role(), "anon");
        assert_eq!(Auth::user("7").role(), "user");
        assert_eq!(Auth::user("7").with_role("admin").role(), "admin");
        assert_eq!(Auth::anon().with_role("bot").role(), "bot");
    }

    #[test]
    fn expiry() {
        let now = SystemTime::now();
        assert!(!Auth::user("7").is_expired_at(now));
        let at = now + std::time::Duration::from_secs(5);
        let auth = Auth::user("7").with_expiry(at);
        assert_eq!(auth.expires_at, Some(at));
        assert!(!auth.is_expired_at(now));
        assert!(auth.is_expired_at(at));
    }
}
