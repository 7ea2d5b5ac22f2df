//! Refusing a signature that was already accepted: per instance, in memory
//! ([`ReplayCache`]), or shared by every instance in redis ([`ReplayStore`]). Also the
//! redis key and expiry of a shared record ([`shared_key`], [`shared_ttl`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::replay_store::ReplayStore;
use super::signature::SignatureError;

/// How far the clocks of two instances may differ and a replay still be refused: a shared
/// record outlives the timestamp's validity on the accepting instance's clock by this much.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Where the signatures already accepted are remembered.
pub(crate) enum Replay {
    /// This instance only.
    Memory(ReplayCache),
    /// A redis every instance shares; `scope` (the auth's name) is part of each key.
    Shared {
        /// The client.
        store: ReplayStore,
        /// The auth's name.
        scope: String,
    },
}

impl Replay {
    /// Records `signature`, made at `timestamp` (valid while within `max_age` seconds of the
    /// clock), as accepted at `now`: [`SignatureError::Replayed`] when it already was,
    /// [`SignatureError::ReplayCacheFull`] or [`SignatureError::ReplayStoreUnavailable`] when
    /// it cannot be known.
    pub(crate) async fn record(
        &self,
        signature: &[u8; 32],
        timestamp: u64,
        max_age: u64,
        now: u64,
    ) -> Result<(), SignatureError> {
        match self {
            Replay::Memory(cache) => {
                cache.insert(*signature, timestamp.saturating_add(max_age), now)
            }
            Replay::Shared { store, scope } => {
                let ttl = shared_ttl(timestamp, max_age, now);
                store
                    .record(&shared_key(store.prefix(), scope, signature), ttl)
                    .await
            }
        }
    }
}

/// The redis key of a signature: `<prefix><scope>:<hex of SHA-256 of the signature's 32
/// bytes>`. The signature's bytes, not its text, so `sha256=<hex>`, the bare hex and its
/// upper-case spelling share one key; hashed, so redis never holds a signature.
pub(crate) fn shared_key(prefix: &str, scope: &str, signature: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(signature);
    let mut key = String::with_capacity(prefix.len() + scope.len() + 1 + 64);
    key.push_str(prefix);
    key.push_str(scope);
    key.push(':');
    for b in digest {
        key.push(char::from(HEX[usize::from(b >> 4)]));
        key.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    key
}

/// How long a shared record lives (its `PX`): until the timestamp is stale on every
/// instance's clock, so a replay is never accepted while the timestamp is still valid.
///
/// A timestamp is accepted while `|now - timestamp| <= max_age` in whole seconds of the
/// clock, that is until the clock reaches `timestamp + max_age + 1`. The record is made at
/// `now` (a whole second, so a real time of `now` or later), and lives
/// `timestamp + max_age + 1 - now` seconds: past the last moment the accepting instance takes
/// the timestamp. [`CLOCK_SKEW`] more cover instances whose clocks lag behind. At most
/// `2 × max_age + 1 s + CLOCK_SKEW` (a timestamp `max_age` ahead of the clock), at least
/// `1 s + CLOCK_SKEW` (one `max_age` behind it).
pub(crate) fn shared_ttl(timestamp: u64, max_age: u64, now: u64) -> Duration {
    let valid_for = timestamp
        .saturating_add(max_age)
        .saturating_add(1)
        .saturating_sub(now);
    Duration::from_secs(valid_for).saturating_add(CLOCK_SKEW)
}

/// Signatures seen inside their window, so each verifies once. Bounded: expired entries are
/// dropped (at most once a second, and whenever it is full); when it is full of live ones a
/// call is refused rather than a signature forgotten.
pub(crate) struct ReplayCache {
    capacity: usize,
    state: Mutex<ReplayState>,
}

#[derive(Default)]
struct ReplayState {
    /// Signature -> the unix second after which its timestamp is stale anyway.
    seen: HashMap<[u8; 32], u64>,
    last_sweep: u64,
}

impl ReplayCache {
    /// A cache of at most `capacity` signatures.
    pub(crate) fn new(capacity: usize) -> ReplayCache {
        ReplayCache {
            capacity,
            state: Mutex::new(ReplayState::default()),
        }
    }

    fn insert(&self, signature: [u8; 32], expires: u64, now: u64) -> Result<(), SignatureError> {
        // A poisoned lock only means another thread panicked mid-insert; the map is intact.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.last_sweep != now || state.seen.len() >= self.capacity {
            state.seen.retain(|_, exp| *exp >= now);
            state.last_sweep = now;
        }
        if state.seen.get(&signature).is_some_and(|exp| *exp >= now) {
            return Err(SignatureError::Replayed);
        }
        if state.seen.len() >= self.capacity {
            return Err(SignatureError::ReplayCacheFull);
        }
        state.seen.insert(signature, expires);
        Ok(())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.lock().map(|s| s.seen.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_is_bounded_and_evicts_expired() {
        let cache = ReplayCache::new(2);
        assert!(cache.insert([1; 32], 10, 5).is_ok());
        assert!(cache.insert([2; 32], 10, 5).is_ok());
        assert_eq!(
            cache.insert([3; 32], 10, 5),
            Err(SignatureError::ReplayCacheFull)
        );
        assert_eq!(cache.insert([1; 32], 10, 5), Err(SignatureError::Replayed));
        // Later, the first two are stale and make room.
        assert!(cache.insert([3; 32], 20, 11).is_ok());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn shared_key_is_prefix_scope_and_hashed_signature() {
        let key = shared_key("graphjin:replay:", "signed", &[0; 32]);
        // SHA-256 of 32 zero bytes.
        assert_eq!(
            key,
            "graphjin:replay:signed:66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
        assert_ne!(key, shared_key("graphjin:replay:", "other", &[0; 32]));
        assert_ne!(key, shared_key("graphjin:replay:", "signed", &[1; 32]));
        assert_eq!(shared_key("", "s", &[0; 32]).len(), 2 + 64);
    }

    #[test]
    fn shared_ttl_outlives_the_timestamp_on_every_clock() {
        let skew = CLOCK_SKEW.as_secs();
        let (max_age, now) = (300, 1_700_000_000_u64);
        // Signed now: valid for max_age more seconds (and the one it is in).
        assert_eq!(shared_ttl(now, max_age, now).as_secs(), 301 + skew);
        // Signed max_age ago (the oldest accepted): valid for the rest of this second.
        assert_eq!(shared_ttl(now - 300, max_age, now).as_secs(), 1 + skew);
        // Signed max_age ahead (the newest accepted): 2 × max_age.
        assert_eq!(shared_ttl(now + 300, max_age, now).as_secs(), 601 + skew);
        // Whatever the timestamp inside the window, the record lives until the clock has
        // passed timestamp + max_age, the last second the timestamp is accepted.
        for ts in now - max_age..=now + max_age {
            let until = now + shared_ttl(ts, max_age, now).as_secs();
            assert!(until > ts + max_age, "{ts}");
            assert!(until <= ts + max_age + 1 + skew, "{ts}");
        }
        // Never zero, never overflowing.
        assert_eq!(shared_ttl(0, 1, 10).as_secs(), skew);
        assert!(shared_ttl(u64::MAX, u64::MAX, 0) > Duration::ZERO);
    }
}
