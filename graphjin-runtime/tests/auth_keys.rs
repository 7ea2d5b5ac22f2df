//! JWT verification key files (`auth.jwt.public_key_file`) as the config loads them:
//! every accepted kind (SPKI RSA, P-256, P-384, Ed25519; PKCS#1 RSA; X.509 certificates)
//! verifies a token of its own algorithm through a real server and reqwest, and refuses
//! tokens of any other algorithm or key; small RSA keys, bad points and garbage are
//! refused when the config loads, with a message that says what is wrong.

mod auth_common;

use std::path::PathBuf;

use auth_common::*;
use graphjin_runtime::{AuthLayer, Config, ConfigError};
use jsonwebtoken::{Algorithm, EncodingKey};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Value, json};

/// A fresh folder under the target directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("auth_keys")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// Loads a config whose JWT key file holds `pem` (and `public_key_type` when given).
fn load(name: &str, pem: &str, key_type: Option<&str>) -> Result<AuthLayer, ConfigError> {
    let dir = temp_dir(name);
    std::fs::write(dir.join("key.pem"), pem).expect("write key");
    let mut yaml = "auth:\n  type: jwt\n  jwt:\n    public_key_file: key.pem\n".to_owned();
    if let Some(t) = key_type {
        yaml.push_str(&format!("    public_key_type: {t}\n"));
    }
    std::fs::write(dir.join("dev.yml"), yaml).expect("write config");
    let auth = Config::load(&dir).expect("config loads").authenticator()?;
    Ok(AuthLayer::new(auth).fail_block(true))
}

/// The refusal's message for a key file holding `pem`.
fn refusal(name: &str, pem: &str) -> String {
    match load(name, pem, None) {
        Ok(_) => panic!("{name}: the key was accepted"),
        Err(e) => {
            assert!(matches!(e, ConfigError::KeyFile { .. }), "{name}: {e}");
            let text = e.to_string();
            assert!(text.contains("auth.jwt.public_key_file"), "{text}");
            text
        }
    }
}

/// GET /me with `token`: the status and the user id answered.
async fn call(base: &str, token: &str) -> (u16, Value) {
    let (status, body) = get_json(
        &format!("{base}/me"),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    (status, body["user_id"].clone())
}

/// A key pair of another kind, to sign tokens that must be refused.
struct Signer {
    name: &'static str,
    alg: Algorithm,
    key: EncodingKey,
}

fn rcgen_signer(
    name: &'static str,
    alg: Algorithm,
    sign_algo: &'static rcgen::SignatureAlgorithm,
) -> (Signer, rcgen::KeyPair) {
    let pair = rcgen::KeyPair::generate_for(sign_algo).expect("generate key");
    let der = pair.serialize_der();
    let key = if alg == Algorithm::EdDSA {
        EncodingKey::from_ed_der(&der)
    } else {
        EncodingKey::from_ec_der(&der)
    };
    (Signer { name, alg, key }, pair)
}

/// A self-signed certificate (PEM) for `pair`.
fn certificate(pair: &rcgen::KeyPair) -> String {
    let params = rcgen::CertificateParams::new(vec!["keys.test".to_owned()]).expect("params");
    params.self_signed(pair).expect("certificate").pem()
}

/// Every accepted file kind verifies its own tokens and nothing else.
#[tokio::test]
async fn each_key_kind_verifies_its_own_tokens_only() {
    let rsa = rsa_key(0);
    let rsa_signer = Signer {
        name: "RS256",
        alg: Algorithm::RS256,
        key: rsa.encoding(),
    };
    let (p256, p256_pair) = rcgen_signer("ES256", Algorithm::ES256, &rcgen::PKCS_ECDSA_P256_SHA256);
    let (p384, p384_pair) = rcgen_signer("ES384", Algorithm::ES384, &rcgen::PKCS_ECDSA_P384_SHA384);
    let (ed, ed_pair) = rcgen_signer("EdDSA", Algorithm::EdDSA, &rcgen::PKCS_ED25519);
    let rsa_pkcs1 = rsa
        .private
        .to_public_key()
        .to_pkcs1_pem(LineEnding::LF)
        .expect("pkcs1 pem");
    let signers = [&rsa_signer, &p256, &p384, &ed];
    // (file kind, file text, config public_key_type, the signer whose tokens it verifies)
    let cases: Vec<(&str, String, Option<&str>, &Signer)> = vec![
        ("rsa-spki", rsa.public_pem(), Some("rsa"), &rsa_signer),
        ("rsa-pkcs1", rsa_pkcs1, None, &rsa_signer),
        (
            "rsa-certificate",
            rsa.certificate(),
            Some("rsa"),
            &rsa_signer,
        ),
        (
            "p256-spki",
            p256_pair.public_key_pem(),
            Some("ecdsa"),
            &p256,
        ),
        ("p256-certificate", certificate(&p256_pair), None, &p256),
        (
            "p384-spki",
            p384_pair.public_key_pem(),
            Some("ecdsa"),
            &p384,
        ),
        ("p384-certificate", certificate(&p384_pair), None, &p384),
        ("ed25519-spki", ed_pair.public_key_pem(), None, &ed),
        ("ed25519-certificate", certificate(&ed_pair), None, &ed),
    ];
    for (kind, pem, key_type, own) in &cases {
        let layer = load(kind, pem, *key_type)
            .unwrap_or_else(|e| panic!("{kind}: the key was refused: {e}"));
        let base = echo_app(layer).await;
        let token = sign(own.alg, None, &claims("u-7", json!({})), &own.key);
        assert_eq!(
            call(&base, &token).await,
            (200, json!("u-7")),
            "{kind}: its own {} token",
            own.name
        );
        for other in signers.iter().filter(|s| s.name != own.name) {
            let token = sign(other.alg, None, &claims("u-7", json!({})), &other.key);
            assert_eq!(
                call(&base, &token).await.0,
                401,
                "{kind}: a {} token must be refused",
                other.name
            );
        }
        // The public key file's own text as an HMAC secret: algorithm confusion.
        let confused = hs256(pem, &claims("u-7", json!({})));
        assert_eq!(call(&base, &confused).await.0, 401, "{kind}: HS256 refused");
    }
    // A second key of the same kind is another key.
    let layer = load("rsa-other", &rsa_key(1).public_pem(), None).expect("loads");
    let base = echo_app(layer).await;
    assert_eq!(
        call(&base, &rsa.sign(None, &claims("u-7", json!({}))))
            .await
            .0,
        401
    );
}

#[test]
fn a_1024_bit_rsa_key_is_refused_with_its_size() {
    let mut rng = rsa::rand_core::OsRng;
    let small = rsa::RsaPrivateKey::new(&mut rng, 1024).expect("generate");
    let public = small.to_public_key();
    let spki = public.to_public_key_pem(LineEnding::LF).expect("pem");
    let pkcs1 = public.to_pkcs1_pem(LineEnding::LF).expect("pem");
    for (name, pem) in [("small-spki", spki), ("small-pkcs1", pkcs1)] {
        let text = refusal(name, &pem);
        assert!(
            text.contains("the RSA key is too small (1024 bits): use 2048 bits or more"),
            "{name}: {text}"
        );
    }
}

#[test]
fn an_rsa_key_over_4096_bits_is_refused_as_too_large() {
    // 5120 bits, odd: a valid-looking key the verifier would refuse on every token.
    let mut n = vec![0xFF_u8; 640];
    n[639] = 0xFB;
    let big = rsa::RsaPublicKey::new_with_max_size(
        rsa::BigUint::from_bytes_be(&n),
        rsa::BigUint::from(65_537_u32),
        8192,
    )
    .expect("a key");
    let text = refusal("big", &big.to_public_key_pem(LineEnding::LF).expect("pem"));
    assert!(text.contains("too large (5120 bits)"), "{text}");
}

#[test]
fn a_certificate_carries_its_key_and_the_type_must_match() {
    let text = match load("cert-type", &rsa_key(0).certificate(), Some("ecdsa")) {
        Ok(_) => panic!("an RSA certificate passed as ecdsa"),
        Err(e) => e.to_string(),
    };
    assert!(
        text.contains("public_key_type is ecdsa, but the file holds an rsa key"),
        "{text}"
    );
    // Text around the block and other blocks before it are skipped; the first key block
    // counts (a chain's leaf certificate comes first).
    let pem = format!(
        "subject=CN=keys.test\n-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}{}",
        rsa_key(0).certificate(),
        rsa_key(1).certificate()
    );
    assert!(load("cert-chain", &pem, Some("rsa")).is_ok());
}

#[test]
fn garbage_is_refused_with_a_clear_message() {
    let good = rsa_key(0).public_pem();
    let body: String = good
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    let wrap = |label: &str, body: &str| {
        format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
    };
    // A point that is not on P-256: the SPKI of a real key with its last byte changed.
    let (_, pair) = rcgen_signer("ES256", Algorithm::ES256, &rcgen::PKCS_ECDSA_P256_SHA256);
    let mut spki = rcgen::PublicKeyData::subject_public_key_info(&pair);
    if let Some(last) = spki.last_mut() {
        *last ^= 0x01;
    }
    use base64::Engine;
    let bad_point = wrap(
        "PUBLIC KEY",
        &base64::engine::general_purpose::STANDARD.encode(&spki),
    );
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "empty",
            String::new(),
            "no PEM block \"PUBLIC KEY\", \"RSA PUBLIC KEY\" or \"CERTIFICATE\" found",
        ),
        ("text", "just some text\n".to_owned(), "no PEM block"),
        (
            "base64",
            wrap("PUBLIC KEY", "%%% not base64 %%%"),
            "the PEM block \"PUBLIC KEY\" is not valid base64",
        ),
        (
            "truncated",
            wrap("PUBLIC KEY", &body[..body.len() / 2]),
            "malformed DER",
        ),
        ("zeros", wrap("PUBLIC KEY", "AAAAAAAA"), "malformed DER"),
        (
            "cert-not-cert",
            wrap("CERTIFICATE", &body),
            "malformed DER: the CERTIFICATE block (X.509) does not decode",
        ),
        (
            "pkcs1-not-pkcs1",
            wrap("RSA PUBLIC KEY", &body),
            "malformed DER: the RSA public key (PKCS#1) does not decode",
        ),
        (
            "no-end",
            "-----BEGIN PUBLIC KEY-----\nMIIB\n".to_owned(),
            "has no END line",
        ),
        (
            "private",
            rsa_key(0).pkcs8_pem(),
            "the file holds a private key",
        ),
        ("bad-point", bad_point, "not a point on P-256"),
    ];
    for (name, pem, want) in &cases {
        let text = refusal(name, pem);
        assert!(text.contains(want), "{name}: want `{want}`, got: {text}");
        assert!(!text.contains("MII"), "{name}: no key material: {text}");
    }
}

#[test]
fn line_wrapping_does_not_matter() {
    // Go's encoding/pem reads any wrapping; so does this reader.
    let pem = rsa_key(0).public_pem();
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    let one_line = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n");
    let wide: Vec<String> = body
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let wide = format!(
        "-----BEGIN PUBLIC KEY-----\r\n{}\r\n-----END PUBLIC KEY-----\r\n",
        wide.join("\r\n")
    );
    assert!(load("one-line", &one_line, Some("rsa")).is_ok());
    assert!(load("wide", &wide, Some("rsa")).is_ok());
}
