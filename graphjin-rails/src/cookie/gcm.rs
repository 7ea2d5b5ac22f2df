//! Rails 5.2+ cookies: `base64(ciphertext)--base64(iv)--base64(auth_tag)`, AES-256-GCM with
//! a 12-byte IV, a 16-byte tag and no associated data.

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit, Nonce, Tag};

use super::b64;
use crate::RailsError;
use crate::keys::GcmKey;

/// The decoded parts of a GCM cookie.
pub(crate) struct Parts {
    pub(crate) ciphertext: Vec<u8>,
    pub(crate) iv: [u8; 12],
    pub(crate) tag: [u8; 16],
}

/// Splits a GCM cookie (already URL-decoded) into its three decoded parts, or says it is not
/// one.
pub(crate) fn parts(value: &str) -> Result<Parts, RailsError> {
    let mut it = value.split("--");
    let (Some(ct), Some(iv), Some(tag), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(RailsError::NotRailsCookie);
    };
    let ct = b64(ct)?;
    let iv: [u8; 12] = b64(iv)?
        .try_into()
        .map_err(|_| RailsError::NotRailsCookie)?;
    let tag: [u8; 16] = b64(tag)?
        .try_into()
        .map_err(|_| RailsError::NotRailsCookie)?;
    Ok(Parts {
        ciphertext: ct,
        iv,
        tag,
    })
}

/// Authenticates and decrypts a GCM cookie, returning the serialized payload.
pub(crate) fn decrypt(key: &GcmKey, value: &str) -> Result<Vec<u8>, RailsError> {
    let Parts {
        ciphertext: mut buf,
        iv,
        tag,
    } = parts(value)?;
    let cipher = Aes256Gcm::new_from_slice(&key.0[..]).map_err(|_| RailsError::BadSignature)?;
    let nonce = Nonce::from(iv);
    let tag = Tag::from(tag);
    cipher
        .decrypt_inout_detached(&nonce, b"", InOutBuf::from(&mut buf[..]), &tag)
        .map_err(|_| RailsError::BadSignature)?;
    Ok(buf)
}
