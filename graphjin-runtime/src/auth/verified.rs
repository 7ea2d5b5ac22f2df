//! Tokens a static key already verified, remembered until they expire.
//!
//! A client sends the same bearer token with every request for as long as it lives, and
//! under a static key (a secret or a public key file, not a key set that rotates) its
//! verification always ends the same way until its expiry: same signature, same claims,
//! same issuer and audience rules. So the identity it carries is kept, keyed by the
//! token's SHA-256 digest (the token itself is never stored or compared), and reused
//! while the clock is before the instant validation starts refusing the token
//! ([`Auth::expires_at`]). After that instant the token is verified again, and refused.
//!
//! Memory is bounded: at most [`VerifiedTokens::CAPACITY`] tokens; when full, expired ones
//! are dropped first, then all (it is a cache: the next request of each client verifies
//! its token again).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::Auth;

/// A token's SHA-256 digest.
pub(crate) type TokenDigest = [u8; 32];

/// Identities of tokens verified under one static key; see the module docs.
#[derive(Debug)]
pub(crate) struct VerifiedTokens {
    entries: Mutex<HashMap<TokenDigest, Auth>>,
    capacity: usize,
}

impl VerifiedTokens {
    /// How many tokens are kept at most (about 150 bytes each).
    pub(crate) const CAPACITY: usize = 10_000;

    /// An empty cache holding at most `capacity` tokens.
    pub(crate) fn new(capacity: usize) -> Self {
        VerifiedTokens {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The digest `token` is kept under.
    pub(crate) fn digest(token: &str) -> TokenDigest {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The identity the token with `digest` was verified to carry, if it is still valid
    /// at `now`.
    pub(crate) fn get(&self, digest: &TokenDigest, now: SystemTime) -> Option<Auth> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let auth = entries.get(digest)?;
        auth.expires_at
            .is_some_and(|expires| now < expires)
            .then(|| auth.clone())
    }

    /// Keeps `auth`, just verified from the token with `digest`, until it expires. An
    /// identity without an expiry is not kept (a verified token always has one).
    pub(crate) fn put(&self, digest: TokenDigest, auth: &Auth, now: SystemTime) {
        if auth.expires_at.is_none_or(|expires| now >= expires) {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        crate::bounded::make_room(&mut entries, &digest, self.capacity, |kept| {
            kept.expires_at.is_some_and(|e| now < e)
        });
        entries.insert(digest, auth.clone());
    }

    /// How many tokens are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn user(id: &str, expires: SystemTime) -> Auth {
        let mut auth = Auth::user(id);
        auth.expires_at = Some(expires);
        auth
    }

    #[test]
    fn a_kept_identity_is_returned_until_its_expiry_and_never_after() {
        let now = SystemTime::now();
        let cache = VerifiedTokens::new(10);
        let digest = VerifiedTokens::digest("token-a");
        cache.put(digest, &user("7", now + Duration::from_secs(5)), now);
        let hit = cache
            .get(&digest, now + Duration::from_secs(4))
            .expect("kept");
        assert_eq!(hit.user_id.as_deref(), Some("7"));
        assert!(cache.get(&digest, now + Duration::from_secs(5)).is_none());
        assert!(cache.get(&VerifiedTokens::digest("token-b"), now).is_none());
    }

    #[test]
    fn identities_that_expired_or_never_expire_are_not_kept() {
        let now = SystemTime::now();
        let cache = VerifiedTokens::new(10);
        cache.put(VerifiedTokens::digest("old"), &user("1", now), now);
        cache.put(VerifiedTokens::digest("forever"), &Auth::user("2"), now);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_full_cache_drops_expired_tokens_first_then_everything() {
        let now = SystemTime::now();
        let cache = VerifiedTokens::new(3);
        let soon = now + Duration::from_secs(1);
        let later = now + Duration::from_secs(60);
        cache.put(VerifiedTokens::digest("a"), &user("a", soon), now);
        cache.put(VerifiedTokens::digest("b"), &user("b", later), now);
        cache.put(VerifiedTokens::digest("c"), &user("c", later), now);
        // Two seconds on, "a" has expired: it makes room for "d".
        let then = now + Duration::from_secs(2);
        cache.put(VerifiedTokens::digest("d"), &user("d", later), then);
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&VerifiedTokens::digest("b"), then).is_some());
        // Full of valid tokens: a new one starts the cache over, within its bound.
        cache.put(VerifiedTokens::digest("e"), &user("e", later), then);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&VerifiedTokens::digest("e"), then).is_some());
    }
}
