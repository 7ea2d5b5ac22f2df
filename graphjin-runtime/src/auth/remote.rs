//! Key sets downloaded over HTTP: a JWKS (`jwks_url`) or Firebase's X.509 certificates by
//! key id. One cache per authenticator:
//!
//! - first use downloads the set; requests wait for it (one download, however many
//!   requests);
//! - it is refreshed on the first use after it goes stale: every `jwks_refresh` when set,
//!   otherwise after the response's `Cache-Control: max-age` (or `Expires`), never sooner
//!   than `jwks_min_refresh` (default 60 minutes);
//! - a token with an unknown `kid` triggers one refresh, at most once per
//!   [`KID_REFRESH_INTERVAL`] (key rotation without waiting for the schedule, but no
//!   download per forged token);
//! - a failed download keeps the last good keys and is retried after a short back-off.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::header::{ACCEPT, CACHE_CONTROL, EXPIRES, HeaderMap};
use serde_json::Value;

use super::AuthError;
use super::keys::{PublicKey, VerifyKey, parse_pem};

/// The least time between two refreshes caused by unknown key ids.
pub(crate) const KID_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// The default floor under cache headers (`jwks_min_refresh`).
pub(crate) const DEFAULT_MIN_REFRESH: Duration = Duration::from_secs(60 * 60);
/// The largest key set read.
const MAX_BODY: usize = 1024 * 1024;

/// What the URL serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySetFormat {
    /// `{"keys": [JWK, ...]}`.
    Jwks,
    /// `{"<kid>": "-----BEGIN CERTIFICATE-----...", ...}` (Firebase / Google).
    X509Map,
}

/// When a key set goes stale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshPolicy {
    /// A fixed interval overriding the cache headers.
    pub(crate) fixed: Option<Duration>,
    /// The floor under the cache headers.
    pub(crate) floor: Duration,
}

impl RefreshPolicy {
    fn ttl(&self, headers: &HeaderMap) -> Duration {
        match self.fixed {
            Some(fixed) => fixed,
            None => cache_lifetime(headers)
                .unwrap_or(Duration::ZERO)
                .max(self.floor),
        }
    }

    /// How long to wait after a failed download.
    fn retry(&self) -> Duration {
        self.fixed
            .unwrap_or(self.floor)
            .clamp(Duration::from_secs(1), Duration::from_secs(60))
    }
}

/// Keys by id.
type KeyMap = HashMap<String, Arc<VerifyKey>>;

/// A copy of the state's parts a lookup needs, taken without holding the lock.
struct Snapshot {
    keys: Arc<KeyMap>,
    loaded: bool,
    stale_at: Option<Instant>,
    generation: u64,
}

struct State {
    keys: Arc<KeyMap>,
    loaded: bool,
    /// When the set is due for a refresh (`None`: never downloaded).
    stale_at: Option<Instant>,
    /// Bumped by every download attempt, so waiters can tell one happened.
    generation: u64,
    last_kid_refresh: Option<Instant>,
    last_error: Option<String>,
}

/// A downloaded key set with its refresh schedule.
pub(crate) struct RemoteKeys {
    url: String,
    format: KeySetFormat,
    client: reqwest::Client,
    policy: RefreshPolicy,
    state: RwLock<State>,
    download: tokio::sync::Mutex<()>,
}

impl RemoteKeys {
    pub(crate) fn new(
        url: String,
        format: KeySetFormat,
        client: reqwest::Client,
        policy: RefreshPolicy,
    ) -> Self {
        RemoteKeys {
            url,
            format,
            client,
            policy,
            state: RwLock::new(State {
                keys: Arc::new(HashMap::new()),
                loaded: false,
                stale_at: None,
                generation: 0,
                last_kid_refresh: None,
                last_error: None,
            }),
            download: tokio::sync::Mutex::new(()),
        }
    }

    /// The URL for log lines: no user info, no query.
    pub(crate) fn display_url(&self) -> String {
        display_url(&self.url)
    }

    fn snapshot(&self) -> Snapshot {
        let s = self.state.read().unwrap_or_else(|e| e.into_inner());
        Snapshot {
            keys: s.keys.clone(),
            loaded: s.loaded,
            stale_at: s.stale_at,
            generation: s.generation,
        }
    }

    /// The key with id `kid`, downloading or refreshing the set as the schedule says.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<VerifyKey>, AuthError> {
        let before = self.snapshot();
        let mut downloaded = false;
        if before.stale_at.is_none_or(|t| Instant::now() >= t) {
            self.refresh(before.generation, false).await;
            downloaded = true;
        }
        let now = self.snapshot();
        if let Some(key) = now.keys.get(kid) {
            return Ok(key.clone());
        }
        if !now.loaded {
            return Err(self.unavailable());
        }
        if !downloaded
            && self.refresh(now.generation, true).await
            && let Some(key) = self.snapshot().keys.get(kid)
        {
            return Ok(key.clone());
        }
        Err(AuthError::unknown_key(kid))
    }

    fn unavailable(&self) -> AuthError {
        let s = self.state.read().unwrap_or_else(|e| e.into_inner());
        AuthError::KeysUnavailable {
            reason: s
                .last_error
                .clone()
                .unwrap_or_else(|| "the key set was not downloaded yet".to_owned()),
        }
    }

    /// Downloads the set unless another task did since `seen`. For an unknown `kid`
    /// (`for_kid`), only when the last such refresh is [`KID_REFRESH_INTERVAL`] ago.
    /// Returns whether a download was attempted (by this task or one it waited for).
    async fn refresh(&self, seen: u64, for_kid: bool) -> bool {
        if for_kid && !self.kid_refresh_allowed() {
            return false;
        }
        let _one_at_a_time = self.download.lock().await;
        {
            let s = self.state.read().unwrap_or_else(|e| e.into_inner());
            if s.generation != seen {
                return true;
            }
        }
        if for_kid {
            if !self.kid_refresh_allowed() {
                return false;
            }
            let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
            s.last_kid_refresh = Some(Instant::now());
        }
        let result = self.download().await;
        let now = Instant::now();
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        s.generation += 1;
        match result {
            Ok((keys, ttl)) => {
                tracing::debug!(
                    url = %display_url(&self.url),
                    keys = keys.len(),
                    refresh_in_secs = ttl.as_secs(),
                    "downloaded the key set"
                );
                s.keys = Arc::new(keys);
                s.loaded = true;
                s.stale_at = Some(now + ttl);
                s.last_error = None;
            }
            Err(reason) => {
                crate::observe::note_jwks_refresh_failure();
                let retry = self.policy.retry();
                if s.loaded {
                    tracing::warn!(
                        url = %display_url(&self.url),
                        error = %reason,
                        retry_in_secs = retry.as_secs(),
                        "could not refresh the key set; keeping the last good keys"
                    );
                } else {
                    tracing::warn!(
                        url = %display_url(&self.url),
                        error = %reason,
                        retry_in_secs = retry.as_secs(),
                        "could not download the key set; tokens cannot be verified yet"
                    );
                }
                s.stale_at = Some(now + retry);
                s.last_error = Some(reason);
            }
        }
        true
    }

    fn kid_refresh_allowed(&self) -> bool {
        let s = self.state.read().unwrap_or_else(|e| e.into_inner());
        s.last_kid_refresh
            .is_none_or(|t| t.elapsed() >= KID_REFRESH_INTERVAL)
    }

    async fn download(&self) -> Result<(KeyMap, Duration), String> {
        let response = self
            .client
            .get(&self.url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the server answered HTTP {status}"));
        }
        let ttl = self.policy.ttl(response.headers());
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY as u64)
        {
            return Err(format!("the key set is larger than {MAX_BODY} bytes"));
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!("the key set is larger than {MAX_BODY} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let keys = match self.format {
            KeySetFormat::Jwks => parse_jwks(&body)?,
            KeySetFormat::X509Map => parse_x509_map(&body)?,
        };
        if keys.is_empty() {
            return Err("the key set holds no usable signing key".to_owned());
        }
        Ok((keys, ttl))
    }
}

/// reqwest's error with its causes, without the URL.
fn describe(e: &reqwest::Error) -> String {
    let mut message = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// The URL without user info or query, for logs.
pub(crate) fn display_url(url: &str) -> String {
    crate::config::redact_url(url)
}

/// How long a response may be cached: `Cache-Control: max-age` (0 for `no-cache` /
/// `no-store`), else `Expires`.
pub(crate) fn cache_lifetime(headers: &HeaderMap) -> Option<Duration> {
    let mut no_cache = false;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(text) = value.to_str() else { continue };
        for directive in text.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("max-age")
                && let Some(secs) = arg.and_then(|a| a.parse::<u64>().ok())
            {
                return Some(Duration::from_secs(secs));
            }
            if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
                no_cache = true;
            }
        }
    }
    if no_cache {
        return Some(Duration::ZERO);
    }
    let expires = headers.get(EXPIRES)?.to_str().ok()?;
    match httpdate::parse_http_date(expires) {
        Ok(at) => Some(
            at.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO),
        ),
        Err(_) => Some(Duration::ZERO), // RFC 9111: an invalid Expires means already expired
    }
}

fn parse_json(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("the key set is not JSON: {e}"))
}

/// The signing keys of a JWKS that have a `kid`; others are skipped with a debug line.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<KeyMap, String> {
    let value = parse_json(body)?;
    let list = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the key set has no \"keys\" array")?;
    let mut keys = HashMap::new();
    for jwk in list {
        let kid = jwk.get("kid").and_then(Value::as_str).unwrap_or_default();
        match jwk_key(jwk) {
            Ok(key) if !kid.is_empty() => {
                keys.insert(kid.to_owned(), Arc::new(key));
            }
            Ok(_) => tracing::debug!("skipping a JWK without kid"),
            Err(reason) => tracing::debug!(kid, reason, "skipping a JWK"),
        }
    }
    Ok(keys)
}

fn jwk_key(jwk: &Value) -> Result<VerifyKey, String> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if text("use").is_some_and(|u| u != "sig") {
        return Err("not a signing key (use)".to_owned());
    }
    let alg = text("alg");
    let bad = |what: &str| format!("invalid {what}");
    match text("kty") {
        Some("RSA") => {
            let alg = match alg {
                None | Some("RS256") => Algorithm::RS256,
                Some("RS384") => Algorithm::RS384,
                Some("RS512") => Algorithm::RS512,
                Some("PS256") => Algorithm::PS256,
                Some("PS384") => Algorithm::PS384,
                Some("PS512") => Algorithm::PS512,
                Some(other) => return Err(format!("algorithm {other} does not fit an RSA key")),
            };
            let (n, e) = (text("n").ok_or("no n")?, text("e").ok_or("no e")?);
            let key = DecodingKey::from_rsa_components(n, e).map_err(|_| bad("n or e"))?;
            Ok(VerifyKey { key, alg })
        }
        Some("EC") => {
            let (expected, size) = match text("crv") {
                Some("P-256") => (Algorithm::ES256, 32),
                Some("P-384") => (Algorithm::ES384, 48),
                _ => return Err("unsupported curve: use P-256 or P-384".to_owned()),
            };
            if alg.is_some_and(|a| a != format!("{expected:?}")) {
                return Err("the alg does not fit the curve".to_owned());
            }
            let (x, y) = (text("x").ok_or("no x")?, text("y").ok_or("no y")?);
            let key = DecodingKey::from_ec_components(x, y).map_err(|_| bad("x or y"))?;
            if key.try_get_as_bytes().map(<[u8]>::len).ok() != Some(1 + 2 * size) {
                return Err(bad("x or y length"));
            }
            Ok(VerifyKey { key, alg: expected })
        }
        Some(other) => Err(format!(
            "key type {other} is not accepted from a key set (only RSA and EC)"
        )),
        None => Err("no kty".to_owned()),
    }
}

/// Firebase's `{kid: certificate PEM}`: RSA keys for RS256.
pub(crate) fn parse_x509_map(body: &[u8]) -> Result<KeyMap, String> {
    let value = parse_json(body)?;
    let map = value
        .as_object()
        .ok_or("the certificate list is not a JSON object of key id to certificate")?;
    let mut keys = HashMap::new();
    for (kid, pem) in map {
        let Some(pem) = pem.as_str() else { continue };
        match parse_pem(pem) {
            Ok(key @ PublicKey::Rsa(_)) => {
                keys.insert(kid.clone(), Arc::new(key.into_verify_key()));
            }
            Ok(_) => tracing::debug!(kid, "skipping a non-RSA Firebase certificate"),
            Err(reason) => tracing::debug!(kid, reason, "skipping a Firebase certificate"),
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn cache_headers() {
        let h = headers(&[("cache-control", "public, max-age=19302, must-revalidate")]);
        assert_eq!(cache_lifetime(&h), Some(Duration::from_secs(19302)));
        let h = headers(&[("cache-control", "no-store")]);
        assert_eq!(cache_lifetime(&h), Some(Duration::ZERO));
        let h = headers(&[("expires", "Thu, 01 Jan 1970 00:00:00 GMT")]);
        assert_eq!(cache_lifetime(&h), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(600));
        let h = headers(&[("expires", &later)]);
        let ttl = cache_lifetime(&h).expect("expires");
        assert!(ttl > Duration::from_secs(590) && ttl <= Duration::from_secs(600));
        assert_eq!(cache_lifetime(&HeaderMap::new()), None);
    }

    #[test]
    fn policy_floor_and_fixed() {
        let p = RefreshPolicy {
            fixed: None,
            floor: Duration::from_secs(60),
        };
        let h = headers(&[("cache-control", "max-age=5")]);
        assert_eq!(p.ttl(&h), Duration::from_secs(60));
        let h = headers(&[("cache-control", "max-age=500")]);
        assert_eq!(p.ttl(&h), Duration::from_secs(500));
        let p = RefreshPolicy {
            fixed: Some(Duration::from_secs(7)),
            floor: Duration::from_secs(60),
        };
        assert_eq!(p.ttl(&h), Duration::from_secs(7));
    }

    #[test]
    fn jwks_skips_what_it_cannot_use() {
        let body = br#"{"keys":[
            {"kty":"oct","kid":"sym","k":"c2VjcmV0"},
            {"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"},
            {"kty":"EC","kid":"ec","crv":"P-256","x":"NZZc6Fg7R-j9Af8U8zeOni8BePn_lU2YTyOcSDXEwjA","y":"jmlzyj8dD-QquFvwUILz1EVG4dUor6QzW1od2x_n0B8"}
        ]}"#;
        let keys = parse_jwks(body).expect("parses");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys["ec"].alg, Algorithm::ES256);
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"<html>").is_err());
    }
}
