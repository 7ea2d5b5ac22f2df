//! JWT authentication with `jsonwebtoken` (RustCrypto backend): the token comes from the
//! configured cookie or `Authorization: Bearer`; the algorithm comes from the configured key
//! (HS256 for a secret, RS256 / ES256 / ES384 for a public key, the key's own for a JWKS),
//! never from the token; `exp` is required, `nbf` is checked, `iss` and `aud` when
//! configured, all with 60 s leeway. The [`Auth`] a token gives expires when validation
//! would start refusing it (`exp` plus the leeway), so running subscriptions end then.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;

use super::keys::{VerifyKey, parse_pem};
use super::remote::{DEFAULT_MIN_REFRESH, KeySetFormat, RefreshPolicy, RemoteKeys};
use super::verified::VerifiedTokens;
use super::{Auth, AuthError, AuthOptions};
use crate::config::{AuthConfig, ConfigError, JwtProvider, PublicKeyType};

/// Where Google publishes the certificates that sign Firebase ID tokens.
pub const FIREBASE_CERTS_URL: &str =
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";
/// The prefix of a Firebase ID token's issuer; the project id follows.
pub const FIREBASE_ISSUER_PREFIX: &str = "https://securetoken.google.com/";

/// Seconds of clock skew tolerated for `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;

enum KeySource {
    /// A secret or key file: its checks made once, and the tokens it verified.
    Static(Box<Fixed>),
    /// A key set (JWKS, Firebase), keys by `kid`, rotating.
    Remote(Arc<RemoteKeys>),
}

/// A configured JWT verifier.
pub(crate) struct JwtVerifier {
    cookie: Option<String>,
    provider: JwtProvider,
    keys: KeySource,
    issuer: Option<String>,
    audience: Option<String>,
}

/// What verifies tokens under a static key: the key and its rules never change, so the
/// checks are made once and a verified token is remembered (see [`JwtVerifier::verify`]).
struct Fixed {
    key: VerifyKey,
    validation: Validation,
    verified: VerifiedTokens,
}

impl Fixed {
    fn new(key: VerifyKey, issuer: Option<&str>, audience: Option<&str>) -> Box<Fixed> {
        Box::new(Fixed {
            validation: validation(key.alg, issuer, audience),
            key,
            verified: VerifiedTokens::new(VerifiedTokens::CAPACITY),
        })
    }
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<serde_json::Value>,
    #[serde(default)]
    exp: Option<serde_json::Value>,
}

/// The first instant at which validation refuses a token whose `exp` claim is `exp`.
///
/// jsonwebtoken reads `exp` as whole seconds (a fraction is rounded) and accepts the token
/// while `exp + leeway >= now` in whole seconds, that is until `exp + leeway + 1` s.
/// `None` for a claim it would not accept, or one too far off to represent.
fn expiry(exp: Option<&serde_json::Value>) -> Option<SystemTime> {
    let exp = exp?;
    let secs = match exp.as_u64() {
        Some(secs) => secs,
        None => {
            let f = exp.as_f64()?;
            if !(f.is_finite() && f >= 0.0 && f < u64::MAX as f64) {
                return None;
            }
            f.round() as u64
        }
    };
    let until = secs.checked_add(LEEWAY_SECS)?.checked_add(1)?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(until))
}

impl JwtVerifier {
    /// Builds the verifier for `config` (whose keys are named `{key}.jwt.*` in errors).
    pub(crate) fn build(
        config: &AuthConfig,
        key: &str,
        options: &AuthOptions,
    ) -> Result<Self, ConfigError> {
        self_test()?;
        let jwt = &config.jwt;
        let mut issuer = nonempty(&jwt.issuer).map(str::to_owned);
        let audience = nonempty(&jwt.audience).map(str::to_owned);
        let jwks_url = nonempty(&jwt.jwks_url);
        let secret = jwt.secret.as_ref().filter(|s| !s.is_empty());
        let policy = RefreshPolicy {
            fixed: jwt.jwks_refresh.filter(|d| !d.is_zero()),
            floor: jwt
                .jwks_min_refresh
                .filter(|d| !d.is_zero())
                .unwrap_or(DEFAULT_MIN_REFRESH),
        };
        let remote =
            |url: &str, format: KeySetFormat, what: &str| -> Result<KeySource, ConfigError> {
                let parsed = reqwest::Url::parse(url).map_err(|_| ConfigError::Invalid {
                    key: format!("{key}.jwt.{what}"),
                    message: "not a valid URL".to_owned(),
                })?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(ConfigError::Invalid {
                        key: format!("{key}.jwt.{what}"),
                        message: "the URL must be http:// or https://".to_owned(),
                    });
                }
                Ok(KeySource::Remote(Arc::new(RemoteKeys::new(
                    url.to_owned(),
                    format,
                    http_client(options)?,
                    policy,
                ))))
            };

        let keys = match jwt.provider {
            JwtProvider::Firebase => {
                let Some(project) = audience.as_deref() else {
                    return Err(ConfigError::Invalid {
                        key: format!("{key}.jwt.audience"),
                        message: "provider firebase needs the Firebase project id as audience"
                            .to_owned(),
                    });
                };
                issuer.get_or_insert_with(|| format!("{FIREBASE_ISSUER_PREFIX}{project}"));
                let url = nonempty(&jwt.firebase_certs_url).unwrap_or(FIREBASE_CERTS_URL);
                remote(url, KeySetFormat::X509Map, "firebase_certs_url")?
            }
            JwtProvider::Jwks => match jwks_url {
                Some(url) => remote(url, KeySetFormat::Jwks, "jwks_url")?,
                None => {
                    return Err(ConfigError::Invalid {
                        key: format!("{key}.jwt.jwks_url"),
                        message: "provider jwks needs jwks_url (the key set's address)".to_owned(),
                    });
                }
            },
            JwtProvider::None | JwtProvider::Auth0 => {
                if let Some(file) = &jwt.public_key_file {
                    KeySource::Static(Fixed::new(
                        load_key_file(
                            file,
                            jwt.public_key_type,
                            &format!("{key}.jwt.public_key_file"),
                            options.base_dir_path(),
                        )?,
                        issuer.as_deref(),
                        audience.as_deref(),
                    ))
                } else if let Some(secret) = secret {
                    if secret.expose().len() < 32 {
                        tracing::warn!(
                            auth = key,
                            "the JWT secret is shorter than 32 bytes; use a long random secret"
                        );
                    }
                    KeySource::Static(Fixed::new(
                        VerifyKey {
                            key: DecodingKey::from_secret(secret.expose().as_bytes()),
                            alg: Algorithm::HS256,
                        },
                        issuer.as_deref(),
                        audience.as_deref(),
                    ))
                } else if let Some(url) = jwks_url {
                    remote(url, KeySetFormat::Jwks, "jwks_url")?
                } else {
                    let env = if key == "auth" {
                        "GJ_AUTH_JWT_SECRET".to_owned()
                    } else {
                        "GJ_AUTHS_<NAME>_JWT_SECRET".to_owned()
                    };
                    return Err(ConfigError::Invalid {
                        key: format!("{key}.jwt"),
                        message: format!(
                            "no verification key: set secret (or {env}), public_key_file, or jwks_url"
                        ),
                    });
                }
            }
        };
        let cookie = config
            .cookie
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Ok(JwtVerifier {
            cookie,
            provider: jwt.provider,
            keys,
            issuer,
            audience,
        })
    }

    /// The token: the configured cookie first, else `Authorization: Bearer`. `Ok(None)`
    /// when neither is sent; an error for an `Authorization` header that holds no usable
    /// bearer token (a credential present but invalid).
    pub(crate) fn token<'h>(&self, headers: &'h HeaderMap) -> Result<Option<&'h str>, AuthError> {
        if let Some(name) = &self.cookie
            && let Some(token) = cookie(headers, name)
        {
            return Ok(Some(token));
        }
        bearer(headers)
    }

    /// Verifies `token` and reads the identity from its claims.
    pub(crate) async fn verify(&self, token: &str) -> Result<Auth, AuthError> {
        let remote = match &self.keys {
            // A token this key verified before and that has not expired since carries the
            // same identity (see `verified.rs`); else one decode, with the checks made at
            // start-up. Only a refused token reads its header, to say what is wrong with it
            // as the key-set path does.
            KeySource::Static(fixed) => {
                let now = SystemTime::now();
                let digest = VerifiedTokens::digest(token);
                if let Some(auth) = fixed.verified.get(&digest, now) {
                    return Ok(auth);
                }
                return match jsonwebtoken::decode::<Claims>(
                    token,
                    &fixed.key.key,
                    &fixed.validation,
                ) {
                    Ok(data) => {
                        let auth = self.identity(data.claims)?;
                        fixed.verified.put(digest, &auth, now);
                        Ok(auth)
                    }
                    Err(e) => {
                        check_algorithm(&header(token)?, &fixed.key)?;
                        Err(from_jwt_error(e))
                    }
                };
            }
            KeySource::Remote(remote) => remote,
        };
        let header = header(token)?;
        let kid = header.kid.as_deref().ok_or(AuthError::NoKeyId)?;
        let key = remote.key(kid).await?;
        check_algorithm(&header, &key)?;
        let validation = validation(key.alg, self.issuer.as_deref(), self.audience.as_deref());
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.key, &validation).map_err(from_jwt_error)?;
        self.identity(data.claims)
    }

    /// The identity in verified `claims`.
    fn identity(&self, claims: Claims) -> Result<Auth, AuthError> {
        let sub = match claims.sub {
            Some(serde_json::Value::String(s)) if !s.is_empty() => s,
            _ => return Err(AuthError::MissingClaim("sub".to_owned())),
        };
        let mut auth = if self.provider == JwtProvider::Auth0
            && let Some((provider, id)) = sub.split_once('|')
            && !provider.is_empty()
            && !id.is_empty()
        {
            Auth::user(id).with_provider(provider)
        } else {
            Auth::user(sub)
        };
        auth.expires_at = expiry(claims.exp.as_ref());
        Ok(auth)
    }

    /// The key set's URL for logs, when keys are downloaded.
    pub(crate) fn key_url(&self) -> Option<String> {
        match &self.keys {
            KeySource::Remote(r) => Some(r.display_url()),
            KeySource::Static(_) => None,
        }
    }
}

/// What a token signed with `alg` must satisfy: that algorithm alone, `exp` (and `nbf`
/// when present) within [`LEEWAY_SECS`], and the configured `issuer` and `audience`.
fn validation(alg: Algorithm, issuer: Option<&str>, audience: Option<&str>) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    let mut required = vec!["exp"];
    if let Some(issuer) = issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    match audience {
        Some(audience) => {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        None => validation.validate_aud = false,
    }
    validation.set_required_spec_claims(&required);
    validation
}

/// The token's header; an algorithm no key could have is named as such.
fn header(token: &str) -> Result<Header, AuthError> {
    jsonwebtoken::decode_header(token).map_err(|e| match header_alg(token) {
        Some(alg) if !KNOWN_ALGS.contains(&alg.as_str()) => AuthError::Malformed(format!(
            "algorithm \"{}\" is never accepted",
            alg.chars()
                .filter(char::is_ascii_graphic)
                .take(16)
                .collect::<String>()
        )),
        _ => from_jwt_error(e),
    })
}

/// Refuses a token whose header names another algorithm than `key`'s (no algorithm
/// confusion: the key decides, never the token).
fn check_algorithm(header: &Header, key: &VerifyKey) -> Result<(), AuthError> {
    if header.alg != key.alg {
        return Err(AuthError::WrongAlgorithm {
            expected: format!("{:?}", key.alg),
            got: format!("{:?}", header.alg),
        });
    }
    Ok(())
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn http_client(options: &AuthOptions) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .timeout(options.http_timeout)
        .pool_max_idle_per_host(0)
        .user_agent(concat!("graphjin-runtime/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConfigError::HttpClient {
            message: e.to_string(),
        })
}

fn load_key_file(
    file: &Path,
    want: Option<PublicKeyType>,
    key: &str,
    base_dir: Option<&Path>,
) -> Result<VerifyKey, ConfigError> {
    let path = match base_dir {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file.to_path_buf(),
    };
    let fail = |message: String| ConfigError::KeyFile {
        key: key.to_owned(),
        path: path.clone(),
        message,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
    let public = parse_pem(&text).map_err(fail)?;
    if let Some(want) = want {
        let want_name = match want {
            PublicKeyType::Rsa => "rsa",
            PublicKeyType::Ecdsa => "ecdsa",
        };
        if public.type_name() != want_name {
            return Err(fail(format!(
                "public_key_type is {want_name}, but the file holds an {} key",
                public.type_name()
            )));
        }
    }
    Ok(public.into_verify_key())
}

/// The algorithms jsonwebtoken knows; anything else (`none`) is refused by name.
const KNOWN_ALGS: &[&str] = &[
    "HS256", "HS384", "HS512", "ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384",
    "PS512", "EdDSA",
];

/// The `alg` of a token's header, read without trusting anything else in it.
fn header_alg(token: &str) -> Option<String> {
    use base64::Engine;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("alg")?.as_str().map(str::to_owned)
}

/// `Authorization: Bearer <token>` (scheme in any case): `Ok(None)` without the header. Any
/// other shape (another scheme such as `Basic`, no token, bytes that are not text, the
/// header twice) is a credential that was sent and cannot be used: an error, so
/// `auth_fail_block` refuses it rather than running the request as `anon`.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let malformed = |why: &str| Err(AuthError::Malformed(why.to_owned()));
    if values.next().is_some() {
        return malformed("more than one Authorization header");
    }
    let Ok(value) = value.to_str() else {
        return malformed("the Authorization header is not text");
    };
    match value.trim().split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => malformed("the Authorization header is not `Bearer <token>`"),
    }
}

/// The value of cookie `name` from the `Cookie` headers.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| n.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|v| !v.is_empty())
}

fn from_jwt_error(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) if c == "iss" => AuthError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(c) if c == "aud" => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) | ErrorKind::InvalidClaimFormat(c) => {
            AuthError::MissingClaim(c.clone())
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            AuthError::Malformed("unsupported or unexpected algorithm".to_owned())
        }
        ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::Provider(_) => AuthError::BadKey {
            reason: e.to_string(),
        },
        ErrorKind::InvalidToken => AuthError::Malformed("not three base64url parts".to_owned()),
        ErrorKind::Base64(_) => AuthError::Malformed("invalid base64url".to_owned()),
        ErrorKind::Json(_) => {
            AuthError::Malformed("invalid JSON in the header or claims".to_owned())
        }
        ErrorKind::Utf8(_) => AuthError::Malformed("invalid UTF-8".to_owned()),
        _ => AuthError::Malformed(e.to_string()),
    }
}

/// Signs and verifies one HS256 token, once per process: jsonwebtoken panics at first use
/// when its crypto backend is missing or ambiguous, and start-up is the place to find out.
pub fn self_test() -> Result<(), ConfigError> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            let run = || -> Result<(), String> {
                let secret = b"graphjin self-test key, not a secret";
                let claims = serde_json::json!({"sub": "self-test", "exp": 4_102_444_800u64});
                let token = jsonwebtoken::encode(
                    &Header::new(Algorithm::HS256),
                    &claims,
                    &EncodingKey::from_secret(secret),
                )
                .map_err(|e| format!("signing failed: {e}"))?;
                let data = jsonwebtoken::decode::<Claims>(
                    &token,
                    &DecodingKey::from_secret(secret),
                    &Validation::new(Algorithm::HS256),
                )
                .map_err(|e| format!("verifying failed: {e}"))?;
                match data.claims.sub {
                    Some(serde_json::Value::String(s)) if s == "self-test" => Ok(()),
                    _ => Err("the verified claims differ from the signed ones".to_owned()),
                }
            };
            match std::panic::catch_unwind(run) {
                Ok(result) => result,
                Err(panic) => Err(panic
                    .downcast_ref::<String>()
                    .map(|s| s.trim().to_owned())
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.trim().to_owned()))
                    .unwrap_or_else(|| "it panicked".to_owned())),
            }
        })
        .clone()
        .map_err(|message| ConfigError::CryptoSelfTest { message })
}

/// The default timeouts for key downloads.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default timeout of a whole key download.
pub(crate) const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn self_test_passes_with_rust_crypto() {
        self_test().expect("exactly one backend");
    }

    /// A token verified once is remembered (`verified.rs`), and refused again from the
    /// instant validation would refuse it, as a token seen for the first time is.
    #[tokio::test]
    async fn a_reused_token_is_refused_from_its_expiry_on() {
        use crate::auth::AuthOptions;
        use crate::config::AuthConfig;
        use serde_json::json;
        let secret = "reused token test secret, 0123456789abcdef";
        let verifier = JwtVerifier::build(
            &AuthConfig::jwt_secret(secret),
            "auth",
            &AuthOptions::default(),
        )
        .expect("build");
        // Accepted for one to two seconds from now.
        let exp = jsonwebtoken::get_current_timestamp() + 1 - LEEWAY_SECS;
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "5", "exp": exp}),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        let first = verifier.verify(&token).await.expect("valid now");
        let again = verifier.verify(&token).await.expect("still valid");
        assert_eq!(again, first);
        let expires = first.expires_at.expect("an expiry");
        let wait = expires
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        tokio::time::sleep(wait + Duration::from_millis(20)).await;
        assert!(matches!(
            verifier.verify(&token).await,
            Err(AuthError::Expired)
        ));
        // A token signed with another key is refused though a valid one is remembered.
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "5", "exp": exp + 3600}),
            &EncodingKey::from_secret(b"another key entirely, 0123456789abcdef"),
        )
        .unwrap();
        let fresh = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "5", "exp": exp + 3600}),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        verifier.verify(&fresh).await.expect("valid");
        assert!(matches!(
            verifier.verify(&forged).await,
            Err(AuthError::BadSignature)
        ));
    }

    #[test]
    fn expiry_matches_validation() {
        use serde_json::json;
        let at = |secs: u64| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(expiry(Some(&json!(1_000))), at(1_000 + LEEWAY_SECS + 1));
        assert_eq!(expiry(Some(&json!(1_000.4))), at(1_000 + LEEWAY_SECS + 1));
        assert_eq!(expiry(Some(&json!(1_000.6))), at(1_001 + LEEWAY_SECS + 1));
        assert_eq!(expiry(Some(&json!(-1))), None);
        assert_eq!(expiry(Some(&json!("1000"))), None);
        assert_eq!(expiry(Some(&json!(u64::MAX))), None);
        assert_eq!(expiry(None), None);

        // A token is accepted exactly until its expiry: the last accepted `exp` now gives
        // the next second.
        let secret = b"expiry test key, not a secret, 0123456789";
        let verify = |exp: u64| {
            let token = jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &json!({"sub": "x", "exp": exp}),
                &EncodingKey::from_secret(secret),
            )
            .unwrap();
            let mut validation = Validation::new(Algorithm::HS256);
            validation.leeway = LEEWAY_SECS;
            jsonwebtoken::decode::<Claims>(&token, &DecodingKey::from_secret(secret), &validation)
                .map(|d| expiry(d.claims.exp.as_ref()).unwrap())
        };
        for _ in 0..5 {
            let now = jsonwebtoken::get_current_timestamp();
            let last = verify(now - LEEWAY_SECS);
            let refused = verify(now - LEEWAY_SECS - 1);
            if jsonwebtoken::get_current_timestamp() != now {
                continue; // a second boundary passed meanwhile
            }
            assert_eq!(last.expect("within the leeway"), at(now + 1).unwrap());
            assert!(refused.is_err());
            return;
        }
        panic!("the clock kept crossing second boundaries");
    }

    #[test]
    fn tokens_from_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("bearer  abc.def.ghi "),
        );
        assert_eq!(bearer(&h), Ok(Some("abc.def.ghi")));
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpwdw=="),
        );
        assert!(matches!(bearer(&h), Err(AuthError::Malformed(_))));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert!(matches!(bearer(&h), Err(AuthError::Malformed(_))));
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff\xfe").expect("obs-text"),
        );
        assert!(matches!(bearer(&h), Err(AuthError::Malformed(_))));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer a.b.c"));
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer d.e.f"));
        assert!(matches!(bearer(&h), Err(AuthError::Malformed(_))));
        h.remove(AUTHORIZATION);
        assert_eq!(bearer(&h), Ok(None));
        h.insert(COOKIE, HeaderValue::from_static("a=1; _jwt=tok.en.x; b=2"));
        assert_eq!(cookie(&h, "_jwt"), Some("tok.en.x"));
        assert_eq!(cookie(&h, "jwt"), None);
    }
}
