//! Errors. Messages name what to fix; none includes the secret or a cookie's contents.

use crate::marshal::MarshalError;

/// Why a Rails login could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RailsError {
    /// The configuration cannot work (bad version, missing secret and store, bad URL, ...).
    #[error("rails auth config: {0}")]
    Config(String),

    /// The cookie value is neither an encrypted Rails cookie nor a session id.
    #[error("not a Rails session cookie (neither an encrypted cookie nor a session id)")]
    NotRailsCookie,

    /// The cookie value is longer than any browser sends.
    #[error("cookie value is {len} bytes, over the {limit}-byte limit")]
    CookieTooLarge {
        /// Length of the value.
        len: usize,
        /// The limit.
        limit: usize,
    },

    /// The cookie has the format of another Rails version than the one configured.
    #[error("cookie has the {found} format but rails.version is {configured}: check rails.version")]
    VersionMismatch {
        /// The format the cookie has.
        found: &'static str,
        /// The configured version.
        configured: String,
    },

    /// The signature or authentication tag does not match.
    #[error(
        "cookie failed verification: it was altered, or made with another secret_key_base (check rails.secret_key_base and rails.version)"
    )]
    BadSignature,

    /// The cookie was verified but its contents could not be decrypted or read.
    #[error("cookie verified but its contents are malformed: {0}")]
    Malformed(&'static str),

    /// The Rails 6+ envelope names another purpose than `cookie.<name>`.
    #[error("cookie was made for another cookie name (its purpose is not {expected})")]
    WrongPurpose {
        /// The purpose expected: `cookie.<configured cookie name>`.
        expected: String,
    },

    /// The Rails envelope's expiry time has passed.
    #[error("session cookie has expired")]
    Expired,

    /// An encrypted cookie arrived but no `secret_key_base` is configured.
    #[error("cookie is encrypted but rails.secret_key_base (and rails.version) are not set")]
    NoSecret,

    /// A session-id cookie arrived but no session store is configured.
    #[error(
        "cookie holds a session id but no session store is configured: set rails.url to memcache://host:port or redis://host:port"
    )]
    NoStore,

    /// [`crate::RailsAuth::decode_cookie_value`] was given a session id, which needs the
    /// (asynchronous) session store.
    #[error(
        "cookie holds a session id: read it with RailsAuth::session_from_cookie_value, which asks the session store"
    )]
    NeedsStore,

    /// The session data is Marshal data that could not be read.
    #[error("session data: {0}")]
    Marshal(#[from] MarshalError),

    /// The session data is not valid JSON.
    #[error("session data is not valid JSON: {0}")]
    Json(String),

    /// The session data is neither JSON nor Marshal.
    #[error("session data is neither JSON nor Ruby Marshal")]
    UnknownSerializer,

    /// The session has no Devise/Warden user.
    #[error("session has no warden.user.user.key: the user is not signed in")]
    NotSignedIn,

    /// `warden.user.user.key` is not `[[id], salt]`.
    #[error("warden.user.user.key is not [[id], salt]: {0}")]
    BadWardenKey(&'static str),

    /// The session store has no session under that id.
    #[error("no such session in the store (expired, signed out or never created)")]
    SessionNotFound,

    /// The session store could not be reached or answered with an error.
    #[error("session store {store} at {addr}: {message}")]
    Store {
        /// `memcache` or `redis`.
        store: &'static str,
        /// `host:port` (never the password).
        addr: String,
        /// What went wrong.
        message: String,
    },

    /// The session store did not answer in time.
    #[error("session store {store} at {addr} did not {what} within {ms} ms")]
    StoreTimeout {
        /// `memcache` or `redis`.
        store: &'static str,
        /// `host:port`.
        addr: String,
        /// `connect` or `answer`.
        what: &'static str,
        /// The timeout.
        ms: u64,
    },
}

impl RailsError {
    /// True when the failure is on the server side (session store down, slow or misbehaving,
    /// or a configuration error) rather than a credential that does not authenticate: a
    /// caller may answer 503/500 instead of 401.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            RailsError::Store { .. } | RailsError::StoreTimeout { .. } | RailsError::Config(_)
        )
    }
}
