//! Rails cookie values: URL decoding, telling an encrypted cookie from a session id, and
//! decryption by format.

pub(crate) mod envelope;
pub(crate) mod gcm;
pub(crate) mod legacy_cbc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;

use crate::RailsError;

/// Longest cookie value accepted (browsers send at most 4096 bytes per cookie).
pub(crate) const MAX_COOKIE_VALUE: usize = 16 * 1024;
/// Longest session id accepted.
const MAX_SESSION_ID: usize = 128;

/// What a cookie value holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CookieValue {
    /// An encrypted (cookie store) session: URL-decoded, `--` separated parts.
    Encrypted(String),
    /// A session id of a cache-store session.
    SessionId(String),
}

/// URL-decodes a cookie value as a browser sends it and classifies it.
pub(crate) fn classify(raw: &str) -> Result<CookieValue, RailsError> {
    if raw.len() > MAX_COOKIE_VALUE {
        return Err(RailsError::CookieTooLarge {
            len: raw.len(),
            limit: MAX_COOKIE_VALUE,
        });
    }
    let raw = raw.trim();
    let raw = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    // `+` stays `+`: Rack escapes it as %2B, and base64 has no spaces.
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| RailsError::NotRailsCookie)?;
    if decoded.contains("--") {
        Ok(CookieValue::Encrypted(decoded.into_owned()))
    } else if is_session_id(&decoded) {
        Ok(CookieValue::SessionId(decoded.into_owned()))
    } else {
        Err(RailsError::NotRailsCookie)
    }
}

/// Session ids are hex in Rack; allow the characters other stores use too, and nothing that
/// could break a store's protocol (spaces, control characters).
pub(crate) fn is_session_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SESSION_ID
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'))
}

/// Decodes one base64 part of a cookie as strictly as Ruby's `strict_decode64`: standard
/// alphabet, canonical padding, and unused trailing bits zero. (An altered last character
/// that changes only unused bits decodes to the same bytes and would pass the GCM check;
/// Rails refuses it, and so must we.) Anything else is not a Rails cookie.
pub(crate) fn b64(part: &str) -> Result<Vec<u8>, RailsError> {
    STANDARD
        .decode(part)
        .map_err(|_| RailsError::NotRailsCookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(
            classify("abc%3D%3D--ff").unwrap(),
            CookieValue::Encrypted("abc==--ff".into())
        );
        assert_eq!(
            classify("b373a3c48aa1aa3fdb1c264f28a8d308").unwrap(),
            CookieValue::SessionId("b373a3c48aa1aa3fdb1c264f28a8d308".into())
        );
        assert!(matches!(
            classify("a%0D%0Aflush_all"),
            Err(RailsError::NotRailsCookie)
        ));
        assert!(matches!(classify(""), Err(RailsError::NotRailsCookie)));
        assert!(matches!(
            classify("%FF--x"),
            Err(RailsError::NotRailsCookie)
        ));
        assert!(matches!(
            classify(&"a".repeat(MAX_COOKIE_VALUE + 1)),
            Err(RailsError::CookieTooLarge { .. })
        ));
    }
}
