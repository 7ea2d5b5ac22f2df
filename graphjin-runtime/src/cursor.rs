//! Cursor pagination's opaque cursors, as GraphJin makes them: the cursor PostgreSQL
//! returns in a `<field>_cursor` field is sealed with AES-256-GCM before the client sees
//! it, and the `$cursor` the client sends back is opened before it is bound.
//!
//! The form is GraphJin's: `__gj/enc:` followed by unpadded standard base64 of the 12-byte
//! nonce and the ciphertext with its tag, under the key `sha256(secret_key)`. Without a
//! `secret_key` the key is GraphJin's default, 32 zero bytes: cursors keep the same form
//! and a changed one is still refused, but anyone can make one, so set `secret_key` (or
//! `GJ_SECRET_KEY`) in production. The nonce is derived from the key and the cursor
//! (HMAC-SHA256), so the same page always seals to the same text and a subscription whose
//! page did not change sends nothing.
//!
//! Which operations have cursors: the compiler writes each paged selection's marker into
//! the statement as the SQL literal `'gj/<16 hex digits>:'`; [`Cursors::new`] finds them
//! once at start-up. Operations without one are never scanned or rewritten.

use std::borrow::Cow;
use std::fmt;

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::{Error, Operation, Param};

/// What a sealed cursor starts with (GraphJin's `decPrefix`).
pub const SEALED_PREFIX: &str = "__gj/enc:";

const MARKER_PREFIX: &str = "gj/";
const MARKER_HEX: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The key cursors are sealed with: `sha256(secret_key)` as GraphJin derives it, or
/// GraphJin's default of 32 zero bytes. Its `Debug` output never shows it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    /// The key for the config's `secret_key`.
    pub fn from_secret(secret: &str) -> CursorKey {
        CursorKey(Sha256::digest(secret.as_bytes()).into())
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(<redacted>)")
    }
}

/// Why a `$cursor` was refused; its text is [`Error::Variable`]'s `got`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorError {
    /// Not a sealed cursor at all.
    NotACursor,
    /// Not base64, or too short to hold a nonce and a tag.
    Malformed,
    /// The tag does not verify: changed, cut short, or sealed under another key.
    Tampered,
    /// It opens, but belongs to another operation or selection (or an older build whose
    /// ordering differs).
    Foreign,
}

impl CursorError {
    /// What was sent, as an error message says it.
    pub fn reason(self) -> &'static str {
        match self {
            CursorError::NotACursor => {
                "a value that is not a cursor (sealed cursors start with `__gj/enc:`)"
            }
            CursorError::Malformed => "a cursor that is cut short or not in the sealed form",
            CursorError::Tampered => {
                "a cursor that does not open with this server's key (changed, cut short, or sealed by another server)"
            }
            CursorError::Foreign => "a cursor of another operation or selection",
        }
    }
}

impl fmt::Display for CursorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for CursorError {}

impl From<CursorError> for Error {
    fn from(e: CursorError) -> Error {
        Error::Variable {
            name: "cursor".to_owned(),
            expected:
                "a cursor this operation returned in a `_cursor` field (or null for the first page)"
                    .to_owned(),
            got: e.reason(),
        }
    }
}

/// Every operation's cursor markers and the key: what the executor needs to seal and open
/// cursors.
#[derive(Debug, Default)]
pub(crate) struct Cursors {
    key: CursorKey,
    /// Per operation (as the table orders them): its markers, without quotes.
    markers: Vec<Box<[&'static str]>>,
}

impl Cursors {
    /// Finds each operation's markers in its statements.
    pub(crate) fn new(operations: &'static [Operation], key: CursorKey) -> Cursors {
        let markers = operations
            .iter()
            .map(|op| {
                let mut found: Vec<&'static str> = Vec::new();
                for rs in op.roles {
                    for m in markers_in(rs.sql) {
                        if !found.contains(&m) {
                            found.push(m);
                        }
                    }
                }
                found.into_boxed_slice()
            })
            .collect();
        Cursors { key, markers }
    }

    /// Whether any operation pages with cursors.
    pub(crate) fn any(&self) -> bool {
        self.markers.iter().any(|m| !m.is_empty())
    }

    /// Whether the key is GraphJin's default (no `secret_key`).
    pub(crate) fn default_key(&self) -> bool {
        self.key == CursorKey::default()
    }

    fn of(&self, op: usize) -> &[&'static str] {
        self.markers.get(op).map_or(&[], |m| m)
    }

    /// Opens the `$cursor` among an operation's bound parameters (`bound[i]` is the text
    /// for `params[i]`), in place. Operations without cursors are left alone.
    pub(crate) fn open_params(
        &self,
        op: usize,
        params: &[Param],
        bound: &mut [Option<Cow<'_, str>>],
    ) -> Result<(), Error> {
        let markers = self.of(op);
        if markers.is_empty() {
            return Ok(());
        }
        for (p, value) in params.iter().zip(bound.iter_mut()) {
            if p.builtin || p.name != "cursor" {
                continue;
            }
            if let Some(text) = value.take() {
                *value = open(&text, &self.key, markers)?.map(Cow::Owned);
            }
        }
        Ok(())
    }

    /// An operation's `data` with every cursor sealed; unchanged (borrowed) for
    /// operations without cursors.
    pub(crate) fn seal_data<'d>(&self, op: usize, data: &'d [u8]) -> Cow<'d, [u8]> {
        let markers = self.of(op);
        if markers.is_empty() {
            return Cow::Borrowed(data);
        }
        seal_all(data, &self.key, markers)
    }

    /// The cursor a subscription pages on with, unsealed: the last one in an operation's
    /// raw `data` (a root field's cursor follows its list, and so any cursor nested in it),
    /// if the operation has cursors and the data holds one.
    pub(crate) fn next_cursor(&self, op: usize, data: &[u8]) -> Option<String> {
        let markers = self.of(op);
        cursor_tokens(data, markers).last().map(|(_, _, text)| text)
    }

    /// Whether `op` pages with cursors.
    pub(crate) fn has(&self, op: usize) -> bool {
        !self.of(op).is_empty()
    }
}

/// The markers `'gj/<16 hex>:'` a statement contains, without quotes.
fn markers_in(sql: &'static str) -> impl Iterator<Item = &'static str> {
    let pattern = "'gj/";
    let len = MARKER_PREFIX.len() + MARKER_HEX + 1;
    sql.match_indices(pattern).filter_map(move |(i, _)| {
        let m = sql.get(i + 1..i + 1 + len)?;
        let hex = &m[MARKER_PREFIX.len()..MARKER_PREFIX.len() + MARKER_HEX];
        (hex.bytes().all(|b| b.is_ascii_hexdigit())
            && m.ends_with(':')
            && sql[i + 1 + len..].starts_with('\''))
        .then_some(m)
    })
}

/// The JSON strings in `data` that start with one of `markers`: (start, end) of the token
/// with its quotes, and its text.
fn cursor_tokens<'d>(
    data: &'d [u8],
    markers: &'d [&'static str],
) -> impl Iterator<Item = (usize, usize, String)> + 'd {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < data.len() {
            let rel = data[at..].iter().position(|b| *b == b'"')?;
            let start = at + rel;
            let end = string_end(data, start)?;
            at = end + 1;
            let body = &data[start + 1..end];
            if !markers.iter().any(|m| body.starts_with(m.as_bytes())) {
                continue;
            }
            if let Ok(text) = serde_json::from_slice::<String>(&data[start..=end]) {
                return Some((start, end, text));
            }
        }
        None
    })
}

/// The index of the quote closing the JSON string that opens at `start`.
fn string_end(data: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < data.len() {
        match data[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// `data` with each cursor string replaced by its sealed form.
fn seal_all<'d>(data: &'d [u8], key: &CursorKey, markers: &[&'static str]) -> Cow<'d, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    for (start, end, text) in cursor_tokens(data, markers) {
        let buf = out.get_or_insert_with(|| Vec::with_capacity(data.len() + data.len() / 4));
        buf.extend_from_slice(&data[copied..start]);
        buf.push(b'"');
        buf.extend_from_slice(seal(&text, key).as_bytes());
        buf.push(b'"');
        copied = end + 1;
    }
    match out {
        Some(mut buf) => {
            buf.extend_from_slice(&data[copied..]);
            Cow::Owned(buf)
        }
        None => Cow::Borrowed(data),
    }
}

/// `__gj/enc:` + base64(nonce ‖ ciphertext ‖ tag).
pub(crate) fn seal(plain: &str, key: &CursorKey) -> String {
    let nonce = nonce_for(plain, key);
    let mut sealed = nonce.to_vec();
    // Sealing a short text with a valid key cannot fail; an empty sealing would only ever
    // be refused when it comes back.
    if let Ok(ct) = key.cipher().encrypt(&Nonce::from(nonce), plain.as_bytes()) {
        sealed.extend_from_slice(&ct);
    }
    format!("{SEALED_PREFIX}{}", STANDARD_NO_PAD.encode(sealed))
}

/// The nonce: HMAC-SHA256 of the cursor under the key, first 12 bytes. Equal nonces come
/// only with equal cursors, which seal to equal texts.
fn nonce_for(plain: &str, key: &CursorKey) -> [u8; NONCE_LEN] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"graphjin cursor nonce");
    mac.update(plain.as_bytes());
    let tag = mac.finalize().into_bytes();
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&tag[..NONCE_LEN]);
    nonce
}

/// The cursor inside a sealed `$cursor`, checked to belong to one of `markers` and to
/// carry a JSON array of values; `None` for the empty string (GraphJin's "no cursor").
pub(crate) fn open(
    sent: &str,
    key: &CursorKey,
    markers: &[&'static str],
) -> Result<Option<String>, CursorError> {
    if sent.is_empty() {
        return Ok(None);
    }
    let b64 = sent
        .strip_prefix(SEALED_PREFIX)
        .ok_or(CursorError::NotACursor)?;
    let raw = STANDARD_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|_| CursorError::Malformed)?;
    if raw.len() < NONCE_LEN + TAG_LEN {
        return Err(CursorError::Malformed);
    }
    let (nonce, ct) = raw.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CursorError::Malformed)?;
    let plain = key
        .cipher()
        .decrypt(&Nonce::from(nonce), ct)
        .map_err(|_| CursorError::Tampered)?;
    let plain = String::from_utf8(plain).map_err(|_| CursorError::Tampered)?;
    let values = markers
        .iter()
        .find_map(|m| plain.strip_prefix(m))
        .ok_or(CursorError::Foreign)?;
    // The statement reads the values as a JSON array; anything else is not ours.
    serde_json::from_str::<Vec<serde::de::IgnoredAny>>(values).map_err(|_| CursorError::Foreign)?;
    Ok(Some(plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "gj/0123456789abcdef:";

    #[test]
    fn markers_found_in_sql() {
        let sql: &'static str = "SELECT 'gj/0123456789abcdef:' || x, 'gj/nothex!!!!!!!!!!:' FROM 'gj/0123456789abcdef:'";
        let found: Vec<&str> = markers_in(sql).collect();
        assert_eq!(found, vec![M, M]);
    }

    #[test]
    fn seal_open_round_trip() {
        let key = CursorKey::from_secret("s3cret");
        let plain = format!("{M}[12.5, \"a,b\", 3]");
        let sealed = seal(&plain, &key);
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert_eq!(seal(&plain, &key), sealed, "deterministic");
        assert_eq!(open(&sealed, &key, &[M]), Ok(Some(plain)));
        assert_eq!(open("", &key, &[M]), Ok(None));
    }

    #[test]
    fn refusals() {
        let key = CursorKey::from_secret("s3cret");
        let sealed = seal(&format!("{M}[1]"), &key);
        assert_eq!(open("abc", &key, &[M]), Err(CursorError::NotACursor));
        assert_eq!(
            open(&sealed[..sealed.len() - 4], &key, &[M]),
            Err(CursorError::Tampered)
        );
        assert_eq!(
            open("__gj/enc:AAAA", &key, &[M]),
            Err(CursorError::Malformed)
        );
        assert_eq!(
            open("__gj/enc:@@@", &key, &[M]),
            Err(CursorError::Malformed)
        );
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap_or_default();
        assert_eq!(open(&flipped, &key, &[M]), Err(CursorError::Tampered));
        let other = CursorKey::from_secret("other");
        assert_eq!(open(&sealed, &other, &[M]), Err(CursorError::Tampered));
        assert_eq!(
            open(&sealed, &key, &["gj/fedcba9876543210:"]),
            Err(CursorError::Foreign)
        );
    }

    #[test]
    fn data_rewritten_in_place() {
        let key = CursorKey::default();
        let data = format!(r#"{{"a":"x \"q\"","p":[1],"p_cursor":"{M}[1, \"k\\\"\"]","n":null}}"#);
        let sealed = seal_all(data.as_bytes(), &key, &[M]);
        let v: serde_json::Value = serde_json::from_slice(&sealed).unwrap_or_default();
        let cursor = v["p_cursor"].as_str().unwrap_or_default();
        assert_eq!(v["a"], "x \"q\"");
        assert_eq!(
            open(cursor, &key, &[M]),
            Ok(Some(format!("{M}[1, \"k\\\"\"]")))
        );
        assert!(matches!(
            seal_all(b"{\"a\":1}", &key, &[M]),
            Cow::Borrowed(_)
        ));
    }
}
