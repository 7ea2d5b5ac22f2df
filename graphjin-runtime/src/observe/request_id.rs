//! Request ids: the client's `x-request-id` when it is fit to echo and log, else a new one.

use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderValue;

/// The header that carries a request's id, in and out.
pub const HEADER: &str = "x-request-id";

/// The longest client-sent id kept; a longer one is replaced by a new id.
pub const MAX_LEN: usize = 128;

/// A request's id: visible ASCII only (`!` to `~`), 1 to [`MAX_LEN`] bytes. Handlers find
/// it in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The client's id if it is 1 to [`MAX_LEN`] visible ASCII characters, else a new one.
    pub fn from_header(sent: Option<&HeaderValue>) -> RequestId {
        match sent {
            Some(v) if is_acceptable(v.as_bytes()) => RequestId(v.clone()),
            _ => RequestId::generate(),
        }
    }

    /// A new id, unique within the process and unlikely to repeat across processes: a
    /// random per-process prefix and a counter, 24 hex digits.
    pub fn generate() -> RequestId {
        static PREFIX: OnceLock<u32> = OnceLock::new();
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let prefix = *PREFIX.get_or_init(|| {
            // std's RandomState is seeded from the operating system's randomness.
            let seed =
                RandomState::new().hash_one((std::process::id(), std::time::SystemTime::now()));
            (seed ^ (seed >> 32)) as u32
        });
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut text = [0u8; 24];
        hex(u64::from(prefix), &mut text[..8]);
        hex(n, &mut text[8..]);
        // One allocation, shared by every clone (the id goes to the request, its
        // extensions and the response); a copied slice would allocate again when first
        // cloned. Hex digits are always a valid header value.
        HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text))
            .map_or_else(|_| RequestId(HeaderValue::from_static("0")), RequestId)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only visible ASCII is ever stored.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_acceptable(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// Writes `value`'s low `out.len() * 4` bits as lower-case hex digits.
fn hex(mut value: u64, out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(value & 0xf) as usize];
        value >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_or_replaces() {
        let ok = HeaderValue::from_static("abc-123_XYZ.~!");
        assert_eq!(RequestId::from_header(Some(&ok)).as_str(), "abc-123_XYZ.~!");
        for bad in [
            HeaderValue::from_static("has space"),
            HeaderValue::from_static(""),
            HeaderValue::from_bytes(&[b'a'; MAX_LEN + 1]).unwrap(),
            HeaderValue::from_bytes("é".as_bytes()).unwrap(),
        ] {
            let id = RequestId::from_header(Some(&bad));
            assert_ne!(id.as_str(), bad.to_str().unwrap_or("é"));
            assert_eq!(id.as_str().len(), 24, "{id}");
        }
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        assert!(a.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a.as_str().len(), 24);
        assert_eq!(a.clone(), a, "a clone is the same id");
    }
}
