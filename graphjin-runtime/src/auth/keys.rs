//! Public keys from PEM text: SubjectPublicKeyInfo (`PUBLIC KEY`), PKCS#1
//! (`RSA PUBLIC KEY`) and X.509 certificates (`CERTIFICATE`, as Firebase publishes them).
//!
//! jsonwebtoken's own PEM support (feature `use_pem`) is off, so this is a small DER
//! reader that walks to the key and hands jsonwebtoken the bytes it verifies with: PKCS#1
//! `RSAPublicKey` DER for RSA, the SEC1 point for ECDSA. Certificates are only a way to
//! carry a key: their signature and dates are not checked (the download over HTTPS is what
//! is trusted, as in GraphJin).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey};

/// A verification key and the one algorithm tokens checked with it must use.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub(crate) key: DecodingKey,
    pub(crate) alg: Algorithm,
}

/// What a PEM block holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// PKCS#1 `RSAPublicKey` DER.
    Rsa(Vec<u8>),
    /// An uncompressed or compressed SEC1 point on P-256.
    P256(Vec<u8>),
    /// A SEC1 point on P-384.
    P384(Vec<u8>),
}

impl PublicKey {
    /// `rsa` or `ecdsa`, as the config names them.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            PublicKey::Rsa(_) => "rsa",
            PublicKey::P256(_) | PublicKey::P384(_) => "ecdsa",
        }
    }

    /// The verification key with its fixed algorithm: RS256, ES256 or ES384.
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
        }
    }
}

const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const VERSION_TAG: u8 = 0xA0;

/// Reads the first public key, RSA public key or certificate block of PEM `text`.
pub(crate) fn parse_pem(text: &str) -> Result<PublicKey, String> {
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let label_end = after
            .find("-----")
            .ok_or("a PEM header is not closed with -----")?;
        let label = after[..label_end].trim();
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let body_end = body_start
            .find(&end_marker)
            .ok_or_else(|| format!("the PEM block \"{label}\" has no END line"))?;
        let body = &body_start[..body_end];
        rest = &body_start[body_end + end_marker.len()..];
        match label {
            "PUBLIC KEY" => return spki(&decode_base64(body)?),
            "RSA PUBLIC KEY" => {
                let der = decode_base64(body)?;
                check_rsa_public_key(&der)?;
                return Ok(PublicKey::Rsa(der));
            }
            "CERTIFICATE" => return certificate(&decode_base64(body)?),
            l if l.contains("PRIVATE KEY") => {
                return Err(
                    "the file holds a private key: configure the public key (openssl pkey -pubout) instead"
                        .to_owned(),
                );
            }
            _ => continue,
        }
    }
    Err("no PEM block \"PUBLIC KEY\", \"RSA PUBLIC KEY\" or \"CERTIFICATE\" found".to_owned())
}

fn decode_base64(body: &str) -> Result<Vec<u8>, String> {
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| "the PEM block is not valid base64".to_owned())
}

/// A minimal DER reader: definite lengths only, which is all DER allows.
struct Der<'a> {
    data: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(data: &'a [u8]) -> Self {
        Der { data }
    }

    fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    /// The next element's tag and contents.
    fn next(&mut self) -> Result<(u8, &'a [u8]), String> {
        let malformed = || "malformed DER".to_owned();
        let (&tag, rest) = self.data.split_first().ok_or_else(malformed)?;
        let (&first, rest) = rest.split_first().ok_or_else(malformed)?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(malformed());
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return Err(malformed());
        }
        let (content, rest) = rest.split_at(len);
        self.data = rest;
        Ok((tag, content))
    }

    fn expect(&mut self, want: u8) -> Result<&'a [u8], String> {
        let (tag, content) = self.next()?;
        if tag == want {
            Ok(content)
        } else {
            Err(format!(
                "malformed DER: expected tag {want:#04x}, found {tag:#04x}"
            ))
        }
    }
}

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }`
fn spki(der: &[u8]) -> Result<PublicKey, String> {
    let mut outer = Der::new(der);
    let body = outer.expect(SEQUENCE)?;
    spki_body(body)
}

fn spki_body(body: &[u8]) -> Result<PublicKey, String> {
    let mut seq = Der::new(body);
    let mut algorithm = Der::new(seq.expect(SEQUENCE)?);
    let oid = algorithm.expect(OID)?;
    let bits = seq.expect(BIT_STRING)?;
    let (&unused, key) = bits
        .split_first()
        .ok_or("malformed DER: empty public key")?;
    if unused != 0 {
        return Err("malformed DER: the public key is not a whole number of bytes".to_owned());
    }
    if oid == OID_RSA {
        check_rsa_public_key(key)?;
        return Ok(PublicKey::Rsa(key.to_vec()));
    }
    if oid == OID_EC {
        let curve = algorithm.expect(OID)?;
        let point = key.to_vec();
        return match curve {
            c if c == OID_P256 => check_point(point, 32).map(PublicKey::P256),
            c if c == OID_P384 => check_point(point, 48).map(PublicKey::P384),
            _ => Err("unsupported elliptic curve: use P-256 (ES256) or P-384 (ES384)".to_owned()),
        };
    }
    Err("unsupported key algorithm: use an RSA or an ECDSA (P-256, P-384) key".to_owned())
}

fn check_point(point: Vec<u8>, size: usize) -> Result<Vec<u8>, String> {
    let ok = match point.first() {
        Some(0x04) => point.len() == 1 + 2 * size,
        Some(0x02 | 0x03) => point.len() == 1 + size,
        _ => false,
    };
    if ok {
        Ok(point)
    } else {
        Err("malformed EC public key point".to_owned())
    }
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`
fn check_rsa_public_key(der: &[u8]) -> Result<(), String> {
    let mut outer = Der::new(der);
    let mut seq = Der::new(outer.expect(SEQUENCE)?);
    let n = seq.expect(INTEGER)?;
    let e = seq.expect(INTEGER)?;
    let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
    if bits < 1024 || e.is_empty() {
        return Err(format!(
            "the RSA key is too small ({bits} bits): use 2048 bits or more"
        ));
    }
    Ok(())
}

/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }`, with
/// `TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer,
/// validity, subject, subjectPublicKeyInfo, ... }`.
fn certificate(der: &[u8]) -> Result<PublicKey, String> {
    let mut outer = Der::new(der);
    let mut cert = Der::new(outer.expect(SEQUENCE)?);
    let mut tbs = Der::new(cert.expect(SEQUENCE)?);
    if tbs.peek_tag() == Some(VERSION_TAG) {
        tbs.next()?;
    }
    tbs.expect(INTEGER)?; // serial number
    for _ in 0..4 {
        // signature algorithm, issuer, validity, subject
        tbs.expect(SEQUENCE)?;
    }
    spki_body(tbs.expect(SEQUENCE)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_private_keys_and_junk() {
        let e = parse_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap_err();
        assert!(e.contains("private key"), "{e}");
        assert!(parse_pem("hello").is_err());
        assert!(parse_pem("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----").is_err());
        assert!(parse_pem("-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----").is_err());
    }

    #[test]
    fn der_lengths_are_bounded() {
        let mut d = Der::new(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(d.next().is_err());
        let mut d = Der::new(&[0x30, 0x05, 0x01]);
        assert!(d.next().is_err());
    }
}
