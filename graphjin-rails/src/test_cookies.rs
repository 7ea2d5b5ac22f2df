//! Rails 5.2+ session cookies made here, for tests that need a cookie under a secret no
//! Rails app made one for (a documentation example's `secret_key_base`, custom salts).
//! The reader is checked against cookies made by Rails itself (`shared/vectors/rails.json`);
//! this writer is checked against the reader.
//!
//! Only with the `test-servers` feature, which only dev-dependencies enable.

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::{Scheme, scheme_for};
use crate::keys::{GcmKey, Salts};

/// A URL-encoded cookie value as Rails `version` (5.2 or later) writes it for cookie
/// `cookie_name` under `secret_key_base`: the JSON session in the `_rails` envelope
/// (purpose `cookie.<name>`, no expiry), encrypted with AES-256-GCM under the key derived
/// with `auth_salt` (Rails' default when `None`). `iv` makes the output reproducible.
///
/// # Panics
/// On a version before 5.2 (CBC cookies are not written here) or an unknown one.
pub fn gcm_cookie(
    version: &str,
    secret_key_base: &str,
    auth_salt: Option<&str>,
    cookie_name: &str,
    session: &serde_json::Value,
    iv: [u8; 12],
) -> String {
    let Ok(Scheme::Gcm(digest)) = scheme_for(version) else {
        panic!("gcm_cookie writes Rails 5.2+ cookies, not {version}");
    };
    let salts = Salts {
        auth: auth_salt.unwrap_or(Salts::default().auth),
        ..Salts::default()
    };
    let key = GcmKey::derive(secret_key_base, digest, salts);
    let message = STANDARD.encode(session.to_string());
    let payload = serde_json::json!({
        "_rails": { "message": message, "exp": null, "pur": format!("cookie.{cookie_name}") }
    })
    .to_string();
    let cipher = Aes256Gcm::new_from_slice(&key.0[..]).expect("32-byte key");
    let mut buf = payload.into_bytes();
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(iv), b"", InOutBuf::from(&mut buf[..]))
        .expect("encrypt");
    let value = format!(
        "{}--{}--{}",
        STANDARD.encode(&buf),
        STANDARD.encode(iv),
        STANDARD.encode(tag.as_slice())
    );
    percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
}
