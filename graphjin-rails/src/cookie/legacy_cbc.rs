//! Rails 4.x to 5.1 cookies: `base64(data)--hex(HMAC-SHA1(data))` where `data` decodes to
//! `base64(ciphertext)--base64(iv)`, AES-256-CBC with PKCS#7 padding.

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::b64;
use crate::RailsError;
use crate::keys::CbcKeys;

/// Verifies and decrypts a legacy cookie (already URL-decoded), returning the serialized
/// session.
pub(crate) fn decrypt(keys: &CbcKeys, value: &str) -> Result<Vec<u8>, RailsError> {
    let (data, digest) = value.split_once("--").ok_or(RailsError::NotRailsCookie)?;
    if data.is_empty()
        || digest.len() != 40
        || !digest.bytes().all(|b| b.is_ascii_hexdigit())
        || digest.contains("--")
    {
        return Err(RailsError::NotRailsCookie);
    }
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(&keys.sign[..])
        .map_err(|_| RailsError::BadSignature)?;
    mac.update(data.as_bytes());
    let expected = hex(&mac.finalize().into_bytes());
    // Rails compares the lowercase hex strings with a constant-time compare.
    if !bool::from(expected.as_bytes().ct_eq(digest.as_bytes())) {
        return Err(RailsError::BadSignature);
    }
    let inner = b64(data).map_err(|_| RailsError::Malformed("signed data is not base64"))?;
    let inner = std::str::from_utf8(&inner)
        .map_err(|_| RailsError::Malformed("signed data is not text"))?;
    let (ciphertext, iv) = inner
        .split_once("--")
        .ok_or(RailsError::Malformed("signed data is not ciphertext--iv"))?;
    let mut buf = b64(ciphertext).map_err(|_| RailsError::Malformed("ciphertext is not base64"))?;
    let iv = b64(iv).map_err(|_| RailsError::Malformed("iv is not base64"))?;
    let decryptor = cbc::Decryptor::<Aes256>::new_from_slices(&keys.encrypt[..], &iv)
        .map_err(|_| RailsError::Malformed("iv is not 16 bytes"))?;
    let len = decryptor
        .decrypt_padded::<Pkcs7>(&mut buf)
        .map_err(|_| RailsError::Malformed("bad AES-CBC padding"))?
        .len();
    buf.truncate(len);
    Ok(buf)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}
