//! [`Authenticator`]: one configured auth (`auth:` or an entry of `auths:`), turning a
//! request's headers into an [`Auth`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::jwt::{CONNECT_TIMEOUT, HTTP_TIMEOUT, JwtVerifier};
use super::rails::RailsSession;
use super::{Auth, AuthError};
use crate::config::{AuthConfig, AuthType, ConfigError};

/// The development header naming the user id.
pub const DEV_USER_ID: &str = "x-user-id";
/// The development header naming the user id's provider.
pub const DEV_USER_ID_PROVIDER: &str = "x-user-id-provider";
/// The development header naming the role.
pub const DEV_USER_ROLE: &str = "x-user-role";

/// How authenticators are built, beyond their own config keys.
///
/// ```
/// let options = graphjin_runtime::auth::AuthOptions::default()
///     .production(true)
///     .base_dir("config");
/// ```
#[derive(Debug, Clone)]
pub struct AuthOptions {
    pub(crate) production: bool,
    pub(crate) base_dir: Option<PathBuf>,
    pub(crate) connect_timeout: Duration,
    pub(crate) http_timeout: Duration,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            production: false,
            base_dir: None,
            connect_timeout: CONNECT_TIMEOUT,
            http_timeout: HTTP_TIMEOUT,
        }
    }
}

impl AuthOptions {
    /// In production, `creds_in_header` is ignored (with a warning at start-up).
    pub fn production(mut self, on: bool) -> Self {
        self.production = on;
        self
    }

    /// The folder relative `public_key_file` paths are resolved against (default: the
    /// working directory).
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    /// Timeouts for downloading key sets (JWKS, Firebase certificates): connecting, and the
    /// whole request. Defaults: 5 s and 10 s.
    pub fn http_timeouts(mut self, connect: Duration, total: Duration) -> Self {
        self.connect_timeout = connect;
        self.http_timeout = total;
        self
    }

    pub(crate) fn base_dir_path(&self) -> Option<&Path> {
        self.base_dir.as_deref()
    }
}

enum Method {
    None,
    Jwt(JwtVerifier),
    Header(HeaderCheck),
    Rails(RailsSession),
}

struct HeaderCheck {
    name: HeaderName,
    /// `None`: presence is enough; else the SHA-256 of the expected value.
    digest: Option<[u8; 32]>,
}

struct Inner {
    name: Option<String>,
    kind: AuthType,
    method: Method,
    dev_headers: bool,
}

/// One configured auth: verifies a request's credential and says who is calling. Cheap
/// to clone (one `Arc`); clones share the key cache.
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use graphjin_runtime::auth::Authenticator;
/// use graphjin_runtime::config::AuthConfig;
/// let auth = Authenticator::new(&AuthConfig::header_value("x-api-key", "s3cret"))?;
/// let mut headers = axum::http::HeaderMap::new();
/// headers.insert("x-api-key", "s3cret".parse()?);
/// assert!(auth.require(&headers).await.is_ok());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Authenticator");
        d.field("name", &self.inner.name)
            .field("type", &self.inner.kind)
            .field("dev_headers", &self.inner.dev_headers);
        if let Method::Jwt(jwt) = &self.inner.method
            && let Some(url) = jwt.key_url()
        {
            d.field("keys", &url);
        }
        if let Method::Header(h) = &self.inner.method {
            d.field("header", &h.name.as_str());
        }
        if let Method::Rails(r) = &self.inner.method {
            d.field("rails", r);
        }
        d.finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator that lets everyone in as `anon`.
    pub fn none() -> Self {
        Authenticator {
            inner: Arc::new(Inner {
                name: None,
                kind: AuthType::None,
                method: Method::None,
                dev_headers: false,
            }),
        }
    }

    /// Builds `config` with default [`AuthOptions`] (not production, paths relative to the
    /// working directory).
    pub fn new(config: &AuthConfig) -> Result<Self, ConfigError> {
        Authenticator::with_options(config, &AuthOptions::default())
    }

    /// Builds `config`. Reads key files and runs the JWT self-test now; key sets are
    /// downloaded at first use.
    pub fn with_options(config: &AuthConfig, options: &AuthOptions) -> Result<Self, ConfigError> {
        let key = match &config.name {
            Some(name) => format!("auths[{name}]"),
            None => "auth".to_owned(),
        };
        Authenticator::build(config, &key, options)
    }

    pub(crate) fn build(
        config: &AuthConfig,
        key: &str,
        options: &AuthOptions,
    ) -> Result<Self, ConfigError> {
        let method = match config.kind {
            AuthType::None => Method::None,
            AuthType::Jwt => Method::Jwt(JwtVerifier::build(config, key, options)?),
            AuthType::Header => Method::Header(header_check(config, key)?),
            AuthType::Rails => Method::Rails(RailsSession::build(config, key)?),
        };
        let dev_headers = config.creds_in_header && !options.production;
        if config.creds_in_header && options.production {
            tracing::warn!(
                auth = key,
                "creds_in_header is ignored because production is true"
            );
        } else if dev_headers {
            tracing::warn!(
                auth = key,
                "creds_in_header is on: X-User-ID, X-User-ID-Provider and X-User-Role set the caller; never use this in production"
            );
        }
        Ok(Authenticator {
            inner: Arc::new(Inner {
                name: config.name.clone(),
                kind: config.kind,
                method,
                dev_headers,
            }),
        })
    }

    /// The auth's name (`auths[].name`), if it has one.
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// The auth's type.
    pub fn kind(&self) -> AuthType {
        self.inner.kind
    }

    /// Whether development headers (`X-User-ID`, ...) are honoured.
    pub fn dev_headers(&self) -> bool {
        self.inner.dev_headers
    }

    /// Who sent `headers`: `Ok(Some(auth))` for a valid credential, `Ok(None)` when there is
    /// none (anonymous), `Err` for a credential that is present but invalid.
    ///
    /// A passing header auth names no user: it yields `Some(Auth::anon())`. With
    /// development headers allowed, `X-User-ID`, `X-User-ID-Provider` and `X-User-Role`
    /// fill in (and override) the identity.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Auth>, AuthError> {
        let found = match &self.inner.method {
            Method::None => None,
            Method::Jwt(jwt) => match jwt.token(headers)? {
                Some(token) => Some(jwt.verify(token).await?),
                None => None,
            },
            Method::Header(check) => check.check(headers)?,
            Method::Rails(rails) => rails.authenticate(headers).await?,
        };
        if self.inner.dev_headers {
            return Ok(dev_identity(headers, found));
        }
        Ok(found)
    }

    /// As [`Authenticator::authenticate`], but a missing credential is an error
    /// ([`AuthError::Missing`]): for actions and routes that must be authenticated.
    pub async fn require(&self, headers: &HeaderMap) -> Result<Auth, AuthError> {
        self.authenticate(headers).await?.ok_or(AuthError::Missing)
    }
}

fn header_check(config: &AuthConfig, key: &str) -> Result<HeaderCheck, ConfigError> {
    let h = &config.header;
    let name = h
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ConfigError::Invalid {
            key: format!("{key}.header.name"),
            message: "header auth needs the header's name".to_owned(),
        })?;
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| ConfigError::Invalid {
        key: format!("{key}.header.name"),
        message: format!("\"{name}\" is not a valid header name"),
    })?;
    let digest = match (&h.value, h.exists) {
        (Some(value), _) if !value.is_empty() => Some(Sha256::digest(value.expose()).into()),
        (_, true) => None,
        _ => {
            let env = if key == "auth" {
                "GJ_AUTH_HEADER_VALUE"
            } else {
                "GJ_AUTHS_<NAME>_HEADER_VALUE"
            };
            return Err(ConfigError::Invalid {
                key: format!("{key}.header.value"),
                message: format!(
                    "header auth needs value (or {env}), or exists: true to only check presence"
                ),
            });
        }
    };
    Ok(HeaderCheck { name, digest })
}

impl HeaderCheck {
    fn check(&self, headers: &HeaderMap) -> Result<Option<Auth>, AuthError> {
        let mut values = headers.get_all(&self.name).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        // The header twice is ambiguous: refused, not decided by whichever comes first.
        if values.next().is_some() {
            return Err(AuthError::HeaderMismatch {
                header: self.name.as_str().to_owned(),
            });
        }
        match &self.digest {
            None => Ok(Some(Auth::anon())),
            Some(want) => {
                // Comparing digests keeps the comparison constant-time and hides the
                // expected value's length.
                let got: [u8; 32] = Sha256::digest(value.as_bytes()).into();
                if bool::from(got.ct_eq(want)) {
                    Ok(Some(Auth::anon()))
                } else {
                    Err(AuthError::HeaderMismatch {
                        header: self.name.as_str().to_owned(),
                    })
                }
            }
        }
    }
}

/// Applies `X-User-ID`, `X-User-ID-Provider` and `X-User-Role` over `found`.
fn dev_identity(headers: &HeaderMap, found: Option<Auth>) -> Option<Auth> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let (id, provider, role) = (
        get(DEV_USER_ID),
        get(DEV_USER_ID_PROVIDER),
        get(DEV_USER_ROLE),
    );
    if id.is_none() && provider.is_none() && role.is_none() {
        return found;
    }
    let mut auth = found.unwrap_or_default();
    if let Some(id) = id {
        auth.user_id = Some(id.to_owned());
    }
    if let Some(provider) = provider {
        auth.user_id_provider = Some(provider.to_owned());
    }
    if let Some(role) = role {
        auth.role = Some(role.to_owned());
    }
    Some(auth)
}
