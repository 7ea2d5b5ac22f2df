//! Key derivation from `secret_key_base`, as Rails' `ActiveSupport::KeyGenerator` does it
//! (PBKDF2-HMAC, 1000 iterations). Done once, when [`crate::RailsAuth`] is built.

use sha1::Sha1;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Rails' key generator iteration count.
const ITERATIONS: u32 = 1000;

/// Which hash the app's key generator uses: SHA1 up to Rails 6, SHA256 from Rails 7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyDigest {
    Sha1,
    Sha256,
}

/// Keys for the AES-256-CBC + HMAC-SHA1 cookies of Rails 4.x to 5.1.
pub(crate) struct CbcKeys {
    /// AES-256 key: salt "encrypted cookie" (Rails derives 64 bytes and uses the first 32,
    /// which are the same bytes PBKDF2 gives for 32).
    pub(crate) encrypt: Zeroizing<[u8; 32]>,
    /// HMAC key: salt "signed encrypted cookie", 64 bytes.
    pub(crate) sign: Zeroizing<[u8; 64]>,
}

/// The AES-256-GCM key of Rails 5.2+: salt "authenticated encrypted cookie".
pub(crate) struct GcmKey(pub(crate) Zeroizing<[u8; 32]>);

fn derive<const N: usize>(secret: &[u8], salt: &[u8], digest: KeyDigest) -> Zeroizing<[u8; N]> {
    let mut out = Zeroizing::new([0u8; N]);
    match digest {
        KeyDigest::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(secret, salt, ITERATIONS, &mut out[..]),
        KeyDigest::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(secret, salt, ITERATIONS, &mut out[..]),
    }
    out
}

/// The key generator salts: Rails' `config.action_dispatch.encrypted_cookie_salt`,
/// `encrypted_signed_cookie_salt` and `authenticated_encrypted_cookie_salt` (GraphJin's
/// `rails.salt`, `sign_salt` and `auth_salt`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Salts<'a> {
    pub(crate) encrypt: &'a str,
    pub(crate) sign: &'a str,
    pub(crate) auth: &'a str,
}

impl Default for Salts<'_> {
    fn default() -> Self {
        Salts {
            encrypt: "encrypted cookie",
            sign: "signed encrypted cookie",
            auth: "authenticated encrypted cookie",
        }
    }
}

impl CbcKeys {
    pub(crate) fn derive(secret_key_base: &str, digest: KeyDigest, salts: Salts<'_>) -> Self {
        let secret = secret_key_base.as_bytes();
        CbcKeys {
            encrypt: derive(secret, salts.encrypt.as_bytes(), digest),
            sign: derive(secret, salts.sign.as_bytes(), digest),
        }
    }
}

impl GcmKey {
    pub(crate) fn derive(secret_key_base: &str, digest: KeyDigest, salts: Salts<'_>) -> Self {
        GcmKey(derive(
            secret_key_base.as_bytes(),
            salts.auth.as_bytes(),
            digest,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_32_bytes_of_a_64_byte_key_are_the_32_byte_key() {
        let long: Zeroizing<[u8; 64]> = derive(b"s", b"encrypted cookie", KeyDigest::Sha1);
        let short: Zeroizing<[u8; 32]> = derive(b"s", b"encrypted cookie", KeyDigest::Sha1);
        assert_eq!(&long[..32], &short[..]);
    }
}
