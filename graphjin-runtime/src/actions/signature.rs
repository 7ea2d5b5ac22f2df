//! Signed calls: `HMAC-SHA256(secret, timestamp + "." + body)`, sent as
//! `X-Signature: sha256=<hex>` with `X-Timestamp: <unix seconds>`; checked in constant time,
//! within a time window, and once only (see [`super::replay`]).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::replay::{Replay, ReplayCache};
use super::replay_store::ReplayStore;
use crate::config::{ConfigError, HmacConfig, Secret};

/// The default header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-signature";
/// The default header carrying the timestamp (unix seconds).
pub const TIMESTAMP_HEADER: &str = "x-timestamp";
/// How far a timestamp may be from now, either way, by default: 5 minutes.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// How many signatures are remembered by default to refuse replays.
pub const DEFAULT_REPLAY_CACHE: usize = 10_000;

type HmacSha256 = Hmac<Sha256>;

/// The signature of `body` sent at `timestamp` (unix seconds): `sha256=` and the hex of
/// `HMAC-SHA256(secret, "<timestamp>.<body>")`. What webhook actions send, and what a
/// caller of an action guarded by a `type: hmac` auth must send.
///
/// ```
/// let sig = graphjin_runtime::actions::sign(b"s3cret", 1_700_000_000, br#"{"id":1}"#);
/// assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
/// ```
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mac = mac(secret, timestamp.to_string().as_bytes(), body);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in mac.finalize().into_bytes() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn mac(secret: &[u8], timestamp: &[u8], body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this never fails.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    mac
}

/// The current time in unix seconds.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Why a signed call was refused. Messages name the header, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A required header is missing.
    #[error("header {header} is missing")]
    Missing {
        /// The header's name.
        header: String,
    },

    /// The timestamp header is not a number of seconds.
    #[error("header {header} must be the time in unix seconds")]
    BadTimestamp {
        /// The header's name.
        header: String,
    },

    /// The timestamp is outside the window (too old, or too far in the future).
    #[error("the request's timestamp is more than {max_age}s away from the server's clock")]
    Stale {
        /// The window, in seconds.
        max_age: u64,
    },

    /// The signature header is not `sha256=` and 64 hex digits.
    #[error("header {header} must be sha256= followed by 64 hex digits")]
    BadFormat {
        /// The header's name.
        header: String,
    },

    /// The signature does not match the body and timestamp.
    #[error("the request's signature does not match")]
    Mismatch,

    /// The same signed request was already accepted.
    #[error("this signed request was already used")]
    Replayed,

    /// The shared-secret header has the wrong value.
    #[error("header {header} has the wrong value")]
    WrongSecret {
        /// The header's name.
        header: String,
    },

    /// Too many signatures are inside the window to remember another one.
    #[error("too many signed requests within the time window; try again later")]
    ReplayCacheFull,

    /// The shared replay store (redis) cannot be reached, so whether the call is a replay
    /// cannot be known: it is refused (503) rather than accepted unchecked.
    #[error("signed requests cannot be checked for replays right now; try again later")]
    ReplayStoreUnavailable,
}

impl SignatureError {
    /// Whether the call was refused because of the server, not the caller (answered 503 with
    /// `Retry-After`).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            SignatureError::ReplayCacheFull | SignatureError::ReplayStoreUnavailable
        )
    }
}

/// Checks signed calls; shared by `type: hmac` auths and [`super::VerifyAction`].
pub(crate) struct Verifier {
    key: Secret,
    signature_header: HeaderName,
    timestamp_header: HeaderName,
    max_age: Duration,
    replay: Replay,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("signature_header", &self.signature_header.as_str())
            .field("timestamp_header", &self.timestamp_header.as_str())
            .field("max_age", &self.max_age)
            .field("replay_store", &self.shared_store())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier with the default headers, window and cache size.
    pub(crate) fn new(key: Secret) -> Verifier {
        Verifier {
            key,
            signature_header: HeaderName::from_static(SIGNATURE_HEADER),
            timestamp_header: HeaderName::from_static(TIMESTAMP_HEADER),
            max_age: DEFAULT_MAX_AGE,
            replay: Replay::Memory(ReplayCache::new(DEFAULT_REPLAY_CACHE)),
        }
    }

    /// Builds the `hmac:` settings found at config key `key` (e.g. `auths[signed].hmac`) of
    /// the auth named `scope` (part of the replay store's keys).
    pub(crate) fn from_config(
        config: &HmacConfig,
        scope: &str,
        key: &str,
    ) -> Result<Verifier, ConfigError> {
        let secret = config
            .secret
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConfigError::Invalid {
                key: format!("{key}.secret"),
                message: "an hmac auth needs a secret (or GJ_AUTHS_<NAME>_HMAC_SECRET)".to_owned(),
            })?;
        let mut v = Verifier::new(secret);
        if let Some(name) = &config.signature_header {
            v.signature_header = header_name(name, &format!("{key}.signature_header"))?;
        }
        if let Some(name) = &config.timestamp_header {
            v.timestamp_header = header_name(name, &format!("{key}.timestamp_header"))?;
        }
        if v.signature_header == v.timestamp_header {
            return Err(ConfigError::Invalid {
                key: format!("{key}.timestamp_header"),
                message: "the signature and the timestamp need two different headers".to_owned(),
            });
        }
        if let Some(max_age) = config.max_age {
            v = v.max_age(max_age);
        }
        if let Some(n) = config.replay_cache {
            if n == 0 {
                return Err(ConfigError::Invalid {
                    key: format!("{key}.replay_cache"),
                    message: "must be at least 1: replays are always refused".to_owned(),
                });
            }
            v.replay = Replay::Memory(ReplayCache::new(n));
        }
        let store = config
            .replay_store
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let prefix = config.replay_key_prefix.as_deref();
        match (store, prefix) {
            (Some(_), _) if config.replay_cache.is_some() => {
                return Err(ConfigError::Invalid {
                    key: format!("{key}.replay_cache"),
                    message: "replay_cache sizes the in-memory cache, which replay_store replaces: remove one of them".to_owned(),
                });
            }
            (Some(url), prefix) => {
                let mut store = ReplayStore::at(url, &format!("{key}.replay_store"))?;
                if let Some(prefix) = prefix {
                    store = store.key_prefix(prefix);
                }
                v = v.replay_store(store, scope);
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    key: format!("{key}.replay_key_prefix"),
                    message: "replay_key_prefix applies to replay_store, which is not set"
                        .to_owned(),
                });
            }
            (None, None) => {}
        }
        Ok(v)
    }

    pub(crate) fn signature_header(mut self, name: HeaderName) -> Self {
        self.signature_header = name;
        self
    }

    pub(crate) fn timestamp_header(mut self, name: HeaderName) -> Self {
        self.timestamp_header = name;
        self
    }

    /// The window, at least one second.
    pub(crate) fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age.max(Duration::from_secs(1));
        self
    }

    pub(crate) fn replay_cache(mut self, capacity: usize) -> Self {
        self.replay = Replay::Memory(ReplayCache::new(capacity.max(1)));
        self
    }

    /// Records signatures in `store`, under keys naming `scope`, instead of in memory.
    pub(crate) fn replay_store(mut self, store: ReplayStore, scope: &str) -> Self {
        self.replay = Replay::Shared {
            store,
            scope: scope.to_owned(),
        };
        self
    }

    /// The shared replay store, when there is one.
    pub(crate) fn shared_store(&self) -> Option<&ReplayStore> {
        match &self.replay {
            Replay::Shared { store, .. } => Some(store),
            Replay::Memory(_) => None,
        }
    }

    /// Verifies a call at the current time; returns its timestamp.
    pub(crate) async fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<u64, SignatureError> {
        self.verify_at(headers, body, now()).await
    }

    /// Verifies a call at time `now`: the timestamp within the window, the signature in
    /// constant time (`Mac::verify_slice`), then that the signature is new.
    pub(crate) async fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<u64, SignatureError> {
        let (timestamp, signature) = self.check_at(headers, body, now)?;
        self.replay
            .record(&signature, timestamp, self.max_age.as_secs(), now)
            .await?;
        Ok(timestamp)
    }

    /// The checks that need no replay store: returns the timestamp and the signature.
    fn check_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<(u64, [u8; 32]), SignatureError> {
        let header = |name: &HeaderName| {
            headers
                .get(name)
                .map(|v| v.as_bytes())
                .ok_or_else(|| SignatureError::Missing {
                    header: name.as_str().to_owned(),
                })
        };
        let ts_text = trim(header(&self.timestamp_header)?);
        let timestamp = parse_timestamp(ts_text).ok_or_else(|| SignatureError::BadTimestamp {
            header: self.timestamp_header.as_str().to_owned(),
        })?;
        let max_age = self.max_age.as_secs();
        if timestamp.abs_diff(now) > max_age {
            return Err(SignatureError::Stale { max_age });
        }
        let signature =
            parse_signature(trim(header(&self.signature_header)?)).ok_or_else(|| {
                SignatureError::BadFormat {
                    header: self.signature_header.as_str().to_owned(),
                }
            })?;
        mac(self.key.expose().as_bytes(), ts_text, body)
            .verify_slice(&signature)
            .map_err(|_| SignatureError::Mismatch)?;
        Ok((timestamp, signature))
    }
}

fn header_name(name: &str, key: &str) -> Result<HeaderName, ConfigError> {
    HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| ConfigError::Invalid {
        key: key.to_owned(),
        message: format!("\"{}\" is not a valid header name", name.trim()),
    })
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// Digits only (at most 19, so it fits).
fn parse_timestamp(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// `sha256=<64 hex>` or the bare hex, either case.
fn parse_signature(text: &[u8]) -> Option<[u8; 32]> {
    let hex = match text.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case(b"sha256=") => &text[7..],
        _ => text,
    };
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi << 4 | lo).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-timestamp", ts.parse().unwrap());
        h.insert("x-signature", sig.parse().unwrap());
        h
    }

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"; here the
        // data is split as "<timestamp>.<body>" = "what do ya want for nothing?".
        let mut m = HmacSha256::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        let hex: String = m
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(sign(b"k", 1, b"x"), {
            let mut m = HmacSha256::new_from_slice(b"k").unwrap();
            m.update(b"1.x");
            let hex: String = m
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("sha256={hex}")
        });
    }

    #[tokio::test]
    async fn verifies_window_tamper_and_replay() {
        let v = Verifier::new(Secret::new("k"));
        let now = 1_700_000_000;
        let sig = sign(b"k", now, b"{}");
        assert_eq!(
            v.verify_at(&headers(&now.to_string(), &sig), b"{}", now)
                .await,
            Ok(now)
        );
        assert_eq!(
            v.verify_at(&headers(&now.to_string(), &sig), b"{}", now)
                .await,
            Err(SignatureError::Replayed)
        );
        let sig2 = sign(b"k", now, b"{ }");
        assert_eq!(
            v.verify_at(&headers(&now.to_string(), &sig2), b"{}", now)
                .await,
            Err(SignatureError::Mismatch)
        );
        // Bare and upper-case hex verify too.
        let sig3 = sign(b"k", now, b"[]");
        let bare = sig3.trim_start_matches("sha256=").to_ascii_uppercase();
        assert!(
            v.verify_at(&headers(&now.to_string(), &bare), b"[]", now)
                .await
                .is_ok()
        );
        // Both directions of the window.
        for ts in [now - 301, now + 301] {
            let s = sign(b"k", ts, b"{}");
            assert_eq!(
                v.verify_at(&headers(&ts.to_string(), &s), b"{}", now).await,
                Err(SignatureError::Stale { max_age: 300 })
            );
        }
        assert!(matches!(
            v.verify_at(&headers("12a", &sig), b"{}", now).await,
            Err(SignatureError::BadTimestamp { .. })
        ));
        assert!(matches!(
            v.verify_at(&headers(&now.to_string(), "sha256=zz"), b"{}", now)
                .await,
            Err(SignatureError::BadFormat { .. })
        ));
    }

    #[test]
    fn replay_store_keys_are_checked() {
        let cfg = |v: serde_json::Value| -> HmacConfig { serde_json::from_value(v).unwrap() };
        let v = Verifier::from_config(
            &cfg(
                serde_json::json!({"secret": "k", "replay_store": "redis://r:1/2",
                                    "replay_key_prefix": "app:"}),
            ),
            "signed",
            "auths[signed].hmac",
        )
        .expect("builds");
        let store = v.shared_store().expect("shared");
        assert_eq!((store.addr(), store.prefix()), ("r:1", "app:"));
        // A blank URL (an empty variable) is no store.
        let v = Verifier::from_config(
            &cfg(serde_json::json!({"secret": "k", "replay_store": " "})),
            "signed",
            "h",
        )
        .expect("builds");
        assert!(v.shared_store().is_none());
        for (keys, bad_key) in [
            (
                serde_json::json!({"secret": "k", "replay_store": "redis://r", "replay_cache": 5}),
                "h.replay_cache",
            ),
            (
                serde_json::json!({"secret": "k", "replay_key_prefix": "x:"}),
                "h.replay_key_prefix",
            ),
            (
                serde_json::json!({"secret": "k", "replay_store": "memcache://r"}),
                "h.replay_store",
            ),
        ] {
            match Verifier::from_config(&cfg(keys), "signed", "h") {
                Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, bad_key),
                other => panic!("{other:?}"),
            }
        }
    }
}
