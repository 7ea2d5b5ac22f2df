//! Public keys from PEM text: SubjectPublicKeyInfo (`PUBLIC KEY`: RSA, ECDSA P-256/P-384,
//! Ed25519), PKCS#1 (`RSA PUBLIC KEY`) and X.509 certificates (`CERTIFICATE`, as Firebase
//! publishes them).
//!
//! jsonwebtoken's own PEM support (feature `use_pem`) is off. The PEM frame is found by
//! [`pem`]; the DER inside is decoded by RustCrypto's `x509-cert` and `spki` (certificates,
//! SubjectPublicKeyInfo) and `rsa`'s PKCS#1 reader; each key is then checked by the crate
//! jsonwebtoken verifies it with (`rsa`, `p256`, `p384`, `ed25519-dalek`), so a key that
//! could never verify a token is refused when the config loads, not on every request.
//! Certificates are only a way to carry a key: their signature and dates are not checked
//! (the download over HTTPS is what is trusted, as in GraphJin).

mod pem;

use jsonwebtoken::{Algorithm, DecodingKey};
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::der::referenced::OwnedToRef;
use x509_cert::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

/// A verification key and the one algorithm tokens checked with it must use.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub(crate) key: DecodingKey,
    pub(crate) alg: Algorithm,
}

/// What a PEM block holds, checked to be a usable key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// PKCS#1 `RSAPublicKey` DER, 2048 to 4096 bits.
    Rsa(Vec<u8>),
    /// A SEC1 point (uncompressed or compressed) on P-256.
    P256(Vec<u8>),
    /// A SEC1 point on P-384.
    P384(Vec<u8>),
    /// The 32 bytes of an Ed25519 public key.
    Ed25519(Vec<u8>),
}

impl PublicKey {
    /// `rsa` or `ecdsa`, as the config names them (`ed25519` has no config name).
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            PublicKey::Rsa(_) => "rsa",
            PublicKey::P256(_) | PublicKey::P384(_) => "ecdsa",
            PublicKey::Ed25519(_) => "ed25519",
        }
    }

    /// The verification key with its fixed algorithm: RS256, ES256, ES384 or EdDSA.
    pub(crate) fn into_verify_key(self) -> VerifyKey {
        match self {
            PublicKey::Rsa(der) => VerifyKey {
                key: DecodingKey::from_rsa_der(&der),
                alg: Algorithm::RS256,
            },
            PublicKey::P256(point) => VerifyKey {
                key: DecodingKey::from_ec_der(&point),
                alg: Algorithm::ES256,
            },
            PublicKey::P384(point) => VerifyKey {
                key: DecodingKey::from_ec_der(&point),
                alg: Algorithm::ES384,
            },
            PublicKey::Ed25519(raw) => VerifyKey {
                key: DecodingKey::from_ed_der(&raw),
                alg: Algorithm::EdDSA,
            },
        }
    }
}

/// The smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// The largest RSA modulus accepted, in bits: the most the `rsa` crate verifies with.
pub(crate) const MAX_RSA_BITS: usize = rsa::RsaPublicKey::MAX_SIZE;

/// Why a key file or certificate gives no usable verification key.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    /// `-----BEGIN …` without the closing dashes.
    #[error("a PEM header is not closed with -----")]
    UnclosedHeader,
    /// A block without its `-----END LABEL-----`.
    #[error("the PEM block \"{label}\" has no END line")]
    NoEndLine {
        /// The block's label.
        label: String,
    },
    /// The body of a block is not base64.
    #[error("the PEM block \"{label}\" is not valid base64")]
    Base64 {
        /// The block's label.
        label: String,
    },
    /// A private key where a public key belongs.
    #[error(
        "the file holds a private key: configure the public key (openssl pkey -pubout) instead"
    )]
    PrivateKey,
    /// No block this reader knows.
    #[error("no PEM block \"PUBLIC KEY\", \"RSA PUBLIC KEY\" or \"CERTIFICATE\" found")]
    NoKeyBlock,
    /// The DER inside a block does not decode as what its label says.
    #[error("malformed DER: the {what} does not decode ({source})")]
    Der {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's reason.
        source: x509_cert::der::Error,
    },
    /// A public key bit string with unused bits.
    #[error("malformed DER: the public key is not a whole number of bytes")]
    PartialBits,
    /// An RSA modulus under [`MIN_RSA_BITS`].
    #[error("the RSA key is too small ({bits} bits): use 2048 bits or more")]
    RsaTooSmall {
        /// The modulus size.
        bits: usize,
    },
    /// An RSA modulus over [`MAX_RSA_BITS`].
    #[error("the RSA key is too large ({bits} bits): use at most 4096 bits")]
    RsaTooLarge {
        /// The modulus size.
        bits: usize,
    },
    /// An RSA key the `rsa` crate refuses (even modulus, bad exponent, …).
    #[error("the RSA key is not valid: {0}")]
    RsaInvalid(rsa::Error),
    /// An EC key whose algorithm parameters are not a named curve.
    #[error("malformed EC public key: the algorithm parameters do not name a curve")]
    NoCurve,
    /// A curve other than P-256 and P-384.
    #[error("unsupported elliptic curve {oid}: use P-256 (ES256) or P-384 (ES384)")]
    UnsupportedCurve {
        /// The curve's object identifier.
        oid: ObjectIdentifier,
    },
    /// Bytes that are not a point on the named curve.
    #[error("malformed EC public key point: not a point on {curve}")]
    BadPoint {
        /// `P-256` or `P-384`.
        curve: &'static str,
    },
    /// Bytes that are not an Ed25519 public key.
    #[error("malformed Ed25519 public key: not 32 bytes encoding a curve point")]
    BadEd25519,
    /// A key algorithm other than RSA, EC and Ed25519.
    #[error(
        "unsupported key algorithm {oid}: use an RSA, an ECDSA (P-256, P-384) or an Ed25519 key"
    )]
    UnsupportedAlgorithm {
        /// The algorithm's object identifier.
        oid: ObjectIdentifier,
    },
}

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Reads the first public key, RSA public key or certificate block of PEM `text`; the
/// reason as text, for the config error that names the file.
pub(crate) fn parse_pem(text: &str) -> Result<PublicKey, String> {
    read_pem(text).map_err(|e| e.to_string())
}

/// Reads the first public key, RSA public key or certificate block of PEM `text`; other
/// blocks (EC parameters, a certificate's chain after it) are skipped, a private key is
/// refused.
pub(crate) fn read_pem(text: &str) -> Result<PublicKey, KeyError> {
    for block in pem::blocks(text) {
        let block = block?;
        match block.label {
            "PUBLIC KEY" => return from_spki_der(&block.decode()?),
            "RSA PUBLIC KEY" => return rsa_key(&block.decode()?),
            "CERTIFICATE" => return from_certificate_der(&block.decode()?),
            label if label.contains("PRIVATE KEY") => return Err(KeyError::PrivateKey),
            _ => {}
        }
    }
    Err(KeyError::NoKeyBlock)
}

/// `SubjectPublicKeyInfo` DER.
fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
    let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|source| KeyError::Der {
        what: "PUBLIC KEY block (SubjectPublicKeyInfo)",
        source,
    })?;
    from_spki(&spki)
}

/// An X.509 certificate's subject public key.
fn from_certificate_der(der: &[u8]) -> Result<PublicKey, KeyError> {
    let cert = Certificate::from_der(der).map_err(|source| KeyError::Der {
        what: "CERTIFICATE block (X.509)",
        source,
    })?;
    from_spki(&cert.tbs_certificate.subject_public_key_info.owned_to_ref())
}

fn from_spki(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<PublicKey, KeyError> {
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or(KeyError::PartialBits)?;
    let oid = spki.algorithm.oid;
    if oid == RSA_ENCRYPTION {
        return rsa_key(key);
    }
    if oid == EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters_oid()
            .map_err(|_| KeyError::NoCurve)?;
        return if curve == SECP256R1 {
            p256::PublicKey::from_sec1_bytes(key)
                .map(|_| PublicKey::P256(key.to_vec()))
                .map_err(|_| KeyError::BadPoint { curve: "P-256" })
        } else if curve == SECP384R1 {
            p384::PublicKey::from_sec1_bytes(key)
                .map(|_| PublicKey::P384(key.to_vec()))
                .map_err(|_| KeyError::BadPoint { curve: "P-384" })
        } else {
            Err(KeyError::UnsupportedCurve { oid: curve })
        };
    }
    if oid == ED25519 {
        let bytes: &[u8; 32] = key.try_into().map_err(|_| KeyError::BadEd25519)?;
        ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::BadEd25519)?;
        return Ok(PublicKey::Ed25519(key.to_vec()));
    }
    Err(KeyError::UnsupportedAlgorithm { oid })
}

/// PKCS#1 `RSAPublicKey` DER: decoded, sized, and checked by the `rsa` crate as it will be
/// when a token is verified.
fn rsa_key(der: &[u8]) -> Result<PublicKey, KeyError> {
    let parsed = rsa::pkcs1::RsaPublicKey::from_der(der).map_err(|source| KeyError::Der {
        what: "RSA public key (PKCS#1)",
        source,
    })?;
    let bits = bit_length(parsed.modulus.as_bytes());
    if bits < MIN_RSA_BITS {
        return Err(KeyError::RsaTooSmall { bits });
    }
    if bits > MAX_RSA_BITS {
        return Err(KeyError::RsaTooLarge { bits });
    }
    rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(parsed.modulus.as_bytes()),
        rsa::BigUint::from_bytes_be(parsed.public_exponent.as_bytes()),
    )
    .map_err(KeyError::RsaInvalid)?;
    Ok(PublicKey::Rsa(der.to_vec()))
}

/// The bit length of a big-endian unsigned integer.
fn bit_length(be: &[u8]) -> usize {
    let digits = match be.iter().position(|b| *b != 0) {
        Some(first) => &be[first..],
        None => return 0,
    };
    let top = usize::try_from(digits[0].leading_zeros()).unwrap_or(0);
    digits.len() * 8 - top
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_private_keys_and_junk() {
        let e =
            read_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap_err();
        assert!(matches!(e, KeyError::PrivateKey), "{e}");
        assert!(e.to_string().contains("private key"), "{e}");
        assert!(matches!(read_pem("hello"), Err(KeyError::NoKeyBlock)));
        assert!(matches!(
            read_pem("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----"),
            Err(KeyError::Base64 { .. })
        ));
        assert!(matches!(
            read_pem("-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----"),
            Err(KeyError::Der { .. })
        ));
        // An over-long DER length is a decode error, not an allocation or a panic.
        assert!(matches!(
            read_pem("-----BEGIN PUBLIC KEY-----\nMIT/////\n-----END PUBLIC KEY-----"),
            Err(KeyError::Der { .. })
        ));
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0, 0x80, 0]), 16);
        assert_eq!(bit_length(&[0x7F, 0xFF]), 15);
    }
}
