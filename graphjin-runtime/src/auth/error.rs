//! Why a request's credential was not accepted.

/// A credential that did not authenticate. [`AuthError::Missing`] means there was none;
/// every other variant is a credential that was present but invalid (401 under
/// `auth_fail_block`, else the request runs as `anon`).
///
/// Messages never contain the token, a secret or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credential was sent.
    #[error("no credential was sent")]
    Missing,

    /// The token is not a JWT (wrong shape, bad base64 or JSON, or an algorithm such as
    /// `none` that is never accepted).
    #[error("the token is not a valid JWT: {0}")]
    Malformed(String),

    /// The token's `alg` is not the algorithm its key is configured for.
    #[error("the token is signed with {got}, but this auth accepts only {expected}")]
    WrongAlgorithm {
        /// The configured algorithm.
        expected: String,
        /// The token's.
        got: String,
    },

    /// The signature does not verify with the configured key.
    #[error("the token's signature is invalid")]
    BadSignature,

    /// `exp` is in the past.
    #[error("the token has expired")]
    Expired,

    /// `nbf` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,

    /// `iss` is missing or not the configured issuer.
    #[error("the token's issuer (iss) is not the expected one")]
    WrongIssuer,

    /// `aud` is missing or not the configured audience.
    #[error("the token's audience (aud) is not the expected one")]
    WrongAudience,

    /// A required claim is missing or has the wrong type.
    #[error("the token has no valid `{0}` claim")]
    MissingClaim(String),

    /// The token has no `kid` header, which key sets (JWKS, Firebase) need.
    #[error("the token has no key id (kid)")]
    NoKeyId,

    /// The token's `kid` is not in the key set, even after a refresh.
    #[error("the token's key id \"{kid}\" is not in the key set")]
    UnknownKey {
        /// The `kid` (shortened and stripped of control characters).
        kid: String,
    },

    /// The key set could not be downloaded and no earlier copy is at hand.
    #[error("the verification keys are unavailable: {reason}")]
    KeysUnavailable {
        /// Why (for the log).
        reason: String,
    },

    /// The configured key could not be used to verify (a server-side problem).
    #[error("the verification key is unusable: {reason}")]
    BadKey {
        /// Why (for the log).
        reason: String,
    },

    /// A header auth's header has the wrong value.
    #[error("header {header} has the wrong value")]
    HeaderMismatch {
        /// The header's name.
        header: String,
    },

    /// A Rails session cookie that gives no signed-in user: altered or made with another
    /// `secret_key_base`, expired, made for another cookie, without a Devise/Warden user,
    /// naming a session the store does not have, or not a Rails cookie at all.
    #[error("the session cookie was not accepted: {reason}")]
    InvalidSession {
        /// Why, in words fit for the client (the full reason is logged at debug level).
        reason: String,
    },

    /// The Rails session store (memcached, redis) could not be reached, failed or did not
    /// answer in time: a server-side problem, handled like unavailable JWT keys.
    #[error("the session store is unavailable: {reason}")]
    SessionStoreUnavailable {
        /// Why, with the store's address but never its password (for the log).
        reason: String,
    },
}

impl AuthError {
    /// Whether no credential was sent at all (always anonymous, never 401 by itself).
    pub fn is_missing(&self) -> bool {
        matches!(self, AuthError::Missing)
    }

    /// Whether the failure is the server's (keys unavailable or unusable, session store
    /// down) rather than the credential's.
    pub fn is_server_side(&self) -> bool {
        matches!(
            self,
            AuthError::KeysUnavailable { .. }
                | AuthError::BadKey { .. }
                | AuthError::SessionStoreUnavailable { .. }
        )
    }

    /// The message a client may see: the reason for credential problems, a generic text for
    /// server-side ones.
    pub fn public_message(&self) -> String {
        if self.is_server_side() {
            "the credential could not be verified right now; try again later".to_owned()
        } else {
            format!("authentication failed: {self}")
        }
    }

    /// A `kid` fit to echo: at most 64 printable ASCII characters.
    pub(crate) fn unknown_key(kid: &str) -> AuthError {
        AuthError::UnknownKey {
            kid: kid
                .chars()
                .filter(|c| c.is_ascii_graphic() || *c == ' ')
                .take(64)
                .collect(),
        }
    }
}
