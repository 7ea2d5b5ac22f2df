//! What a session store holds under a session key, read the way Rails reads it back.
//!
//! - Rack and redis-store sessions: `Marshal.dump(session hash)`.
//! - `ActionDispatch::Session::CacheStore` sessions: an `ActiveSupport::Cache::Entry` in one
//!   of Active Support's cache formats:
//!   - 6.1 (`marshal_6_1`): `Marshal.dump(entry)`, the session in `@value` (zlib-deflated
//!     Marshal text when `@compressed`), expiry `@created_at + @expires_in`;
//!   - 7.0 (`marshal_7_0`): `"\x00"` + `Marshal.dump([value, expires_at, version])`, or
//!     `"\x01"` + the same deflated;
//!   - 7.1+ (`Cache::Coder`): `"\x00\x11"`, a type byte (`0x01` a Marshal'd object, `0x80`
//!     set when deflated), `expires_at` (little-endian double, negative for none), the
//!     version's length (little-endian i32, -1 for none), the version, then the payload.
//!
//! Only the fields needed to reach the session hash are read; the Marshal reader still
//! refuses every object but the cache entry. An entry past its expiry is no session, as for
//! Rails.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::RailsError;
use crate::marshal::{self, Limits, MarshalError, Value};
use crate::session::Session;

/// The one class read from a session store besides plain data.
const CACHE_ENTRY: &str = "ActiveSupport::Cache::Entry";
/// Active Support 7.1's cache-format signature.
const CODER_71: &[u8] = b"\x00\x11";
/// 7.1's type byte for a Marshal'd object, and its deflated flag.
const CODER_71_OBJECT: u8 = 0x01;
const CODER_71_COMPRESSED: u8 = 0x80;

/// Reads the session in a stored value. `Ok(None)` is an expired cache entry (no session).
pub(crate) fn session(stored: &[u8], now: SystemTime) -> Result<Option<Session>, RailsError> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    match stored {
        [0x00, 0x11, ..] => coder_71(&stored[CODER_71.len()..], now),
        [mark @ (0x00 | 0x01), rest @ ..] => {
            let packed = if *mark == 0x01 {
                inflate(rest)?
            } else {
                rest.to_vec()
            };
            let members = marshal::load(&packed)?;
            let members = members.as_array().ok_or(RailsError::Malformed(
                "a Rails 7.0 cache entry is not an array",
            ))?;
            let expires_at = members.get(1).map_or(Ok(None), float_or_nil)?;
            if expires_at.is_some_and(|at| at <= now) {
                return Ok(None);
            }
            match members.first() {
                Some(value) => Ok(Some(Session::Marshal(value.clone()))),
                None => Err(RailsError::Malformed("a Rails 7.0 cache entry is empty")),
            }
        }
        _ if marshal::is_marshal(stored) => {
            let value = marshal::load_allowing(stored, Limits::default(), &[CACHE_ENTRY])?;
            match value {
                Value::Object { .. } => entry_61(&value, now),
                other => Ok(Some(Session::Marshal(other))),
            }
        }
        _ => Session::parse(stored).map(Some),
    }
}

/// A 6.1 `Marshal.dump(entry)`.
fn entry_61(entry: &Value, now: f64) -> Result<Option<Session>, RailsError> {
    let created_at = entry.ivar("@created_at").map_or(Ok(None), float_or_nil)?;
    let expires_in = entry.ivar("@expires_in").map_or(Ok(None), float_or_nil)?;
    if let Some(expires_in) = expires_in
        && created_at.unwrap_or(0.0) + expires_in <= now
    {
        return Ok(None);
    }
    let value = entry
        .ivar("@value")
        .ok_or(RailsError::Malformed("the cache entry has no @value"))?;
    if matches!(entry.ivar("@compressed"), Some(Value::Bool(true))) {
        let Value::String { bytes, .. } = value else {
            return Err(RailsError::Malformed(
                "a compressed cache entry's @value is not a string",
            ));
        };
        return Ok(Some(Session::Marshal(marshal::load(&inflate(bytes)?)?)));
    }
    Ok(Some(Session::Marshal(value.clone())))
}

/// A 7.1 `Cache::Coder` payload (after the signature).
fn coder_71(rest: &[u8], now: f64) -> Result<Option<Session>, RailsError> {
    const HEADER: usize = 1 + 8 + 4;
    let short = || RailsError::Malformed("a Rails 7.1 cache entry is cut short");
    let header = rest.get(..HEADER).ok_or_else(short)?;
    let kind = header[0];
    let expires_at = f64::from_le_bytes(header[1..9].try_into().map_err(|_| short())?);
    let version_len = i32::from_le_bytes(header[9..13].try_into().map_err(|_| short())?);
    let skip = usize::try_from(version_len.max(0)).map_err(|_| short())?;
    let payload = rest.get(HEADER + skip..).ok_or_else(short)?;
    if expires_at >= 0.0 && expires_at <= now {
        return Ok(None);
    }
    if kind & !CODER_71_COMPRESSED != CODER_71_OBJECT {
        return Err(RailsError::Malformed(
            "the cache entry holds a string, not a session hash",
        ));
    }
    let payload = if kind & CODER_71_COMPRESSED != 0 {
        inflate(payload)?
    } else {
        payload.to_vec()
    };
    if !marshal::is_marshal(&payload) {
        return Err(RailsError::Malformed(
            "the cache entry is not Marshal data (a message_pack cache serializer is not supported: use :marshal_7_1)",
        ));
    }
    Ok(Some(Session::Marshal(marshal::load(&payload)?)))
}

fn float_or_nil(v: &Value) -> Result<Option<f64>, RailsError> {
    match v {
        Value::Nil => Ok(None),
        Value::Float(x) => Ok(Some(*x)),
        #[allow(clippy::cast_precision_loss)]
        Value::Int(i) => Ok(Some(*i as f64)),
        _ => Err(RailsError::Malformed(
            "a cache entry time is not a number or nil",
        )),
    }
}

/// Inflates zlib data (Ruby's `Zlib::Deflate.deflate`), refusing more than the Marshal
/// reader would accept.
pub(crate) fn inflate(data: &[u8]) -> Result<Vec<u8>, RailsError> {
    let limit = Limits::default().max_input;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| RailsError::Malformed("compressed session data does not inflate"))?;
    if out.len() > limit {
        return Err(RailsError::Marshal(MarshalError::TooLarge {
            len: out.len(),
            limit,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use super::*;

    /// `{"warden.user.user.key" => [[7], "salt"]}` as Marshal.
    const SESSION: &[u8] =
        b"\x04\x08{\x06I\"\x19warden.user.user.key\x06:\x06ET[\x07[\x06i\x0cI\"\x09salt\x06;\x00T";

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn user(stored: &[u8], now: SystemTime) -> Option<String> {
        session(stored, now).unwrap().map(|s| s.user_id().unwrap())
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn float(x: &str) -> Vec<u8> {
        let mut v = vec![b'f', u8::try_from(x.len() + 5).unwrap()];
        v.extend_from_slice(x.as_bytes());
        v
    }

    /// `Marshal.dump(ActiveSupport::Cache::Entry)` of Active Support 6.1, by hand.
    fn entry_61(
        value: &[u8],
        created_at: &str,
        expires_in: Option<&str>,
        compressed: bool,
    ) -> Vec<u8> {
        let mut v = b"\x04\x08o:\x20ActiveSupport::Cache::Entry".to_vec();
        v.push(if compressed { 0x0a } else { 0x09 });
        v.extend_from_slice(b":\x0b@value");
        v.extend_from_slice(value);
        v.extend_from_slice(b":\x0d@version0:\x10@created_at");
        v.extend_from_slice(&float(created_at));
        v.extend_from_slice(b":\x10@expires_in");
        match expires_in {
            Some(x) => v.extend_from_slice(&float(x)),
            None => v.push(b'0'),
        }
        if compressed {
            v.extend_from_slice(b":\x10@compressedT");
        }
        v
    }

    #[test]
    fn plain_session_hash() {
        assert_eq!(user(SESSION, at(0)).as_deref(), Some("7"));
    }

    #[test]
    fn rails_61_entry() {
        let body = &SESSION[2..];
        let stored = entry_61(body, "1000.5", None, false);
        assert_eq!(user(&stored, at(5_000)).as_deref(), Some("7"));
        let stored = entry_61(body, "1000.5", Some("100"), false);
        assert_eq!(user(&stored, at(1_050)).as_deref(), Some("7"));
        assert_eq!(user(&stored, at(1_101)), None, "expired entry");
        let mut compressed = vec![b'"'];
        let z = deflate(SESSION);
        compressed.push(u8::try_from(z.len() + 5).unwrap());
        compressed.extend_from_slice(&z);
        let stored = entry_61(&compressed, "1000.5", None, true);
        assert_eq!(user(&stored, at(5_000)).as_deref(), Some("7"));
    }

    #[test]
    fn other_objects_are_refused() {
        let stored = b"\x04\x08o:\x08Foo\x00";
        assert!(matches!(
            session(stored, at(0)),
            Err(RailsError::Marshal(MarshalError::Unsupported { .. }))
        ));
        // An entry whose value is an object of another class.
        let stored = entry_61(b"o:\x08Foo\x00", "0.0", None, false);
        assert!(matches!(
            session(&stored, at(0)),
            Err(RailsError::Marshal(MarshalError::Unsupported { .. }))
        ));
    }

    #[test]
    fn rails_70_entry() {
        // [session, expires_at]
        let mut packed = b"\x04\x08[\x07".to_vec();
        packed.extend_from_slice(&SESSION[2..]);
        packed.extend_from_slice(&float("2000.25"));
        let mut stored = vec![0x00];
        stored.extend_from_slice(&packed);
        assert_eq!(user(&stored, at(1_999)).as_deref(), Some("7"));
        assert_eq!(user(&stored, at(2_001)), None);
        let mut stored = vec![0x01];
        stored.extend_from_slice(&deflate(&packed));
        assert_eq!(user(&stored, at(1_999)).as_deref(), Some("7"));
    }

    #[test]
    fn rails_71_entry() {
        let coder = |kind: u8, expires_at: f64, version: Option<&[u8]>, payload: &[u8]| {
            let mut v = CODER_71.to_vec();
            v.push(kind);
            v.extend_from_slice(&expires_at.to_le_bytes());
            let len = version.map_or(-1, |s| i32::try_from(s.len()).unwrap());
            v.extend_from_slice(&len.to_le_bytes());
            v.extend_from_slice(version.unwrap_or_default());
            v.extend_from_slice(payload);
            v
        };
        let stored = coder(0x01, -1.0, None, SESSION);
        assert_eq!(user(&stored, at(9_999)).as_deref(), Some("7"));
        let stored = coder(0x01, 3000.0, Some(b"v1"), SESSION);
        assert_eq!(user(&stored, at(2_999)).as_deref(), Some("7"));
        assert_eq!(user(&stored, at(3_000)), None);
        let stored = coder(0x81, -1.0, None, &deflate(SESSION));
        assert_eq!(user(&stored, at(0)).as_deref(), Some("7"));
        let stored = coder(0x02, -1.0, None, b"text");
        assert!(matches!(
            session(&stored, at(0)),
            Err(RailsError::Malformed(_))
        ));
        assert!(matches!(
            session(&stored[..6], at(0)),
            Err(RailsError::Malformed(_))
        ));
    }

    #[test]
    fn inflate_is_bounded() {
        let big = vec![0u8; Limits::default().max_input + 10];
        assert!(matches!(
            inflate(&deflate(&big)),
            Err(RailsError::Marshal(MarshalError::TooLarge { .. }))
        ));
        assert!(inflate(b"not zlib").is_err());
    }
}
