//! CORS from the config's `cors_*` keys: see [`Cors`].

use std::sync::Arc;

use axum::http::header::HeaderName;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::config::{ConfigError, HttpConfig};

/// GraphJin's allowed request headers when `cors_allowed_headers` is empty.
pub const DEFAULT_ALLOWED_HEADERS: [&str; 5] = [
    "Origin",
    "Accept",
    "Content-Type",
    "X-Requested-With",
    "Authorization",
];

/// The CORS policy of a [`crate::Service`]: from GraphJin's `cors_allowed_origins`, `cors_allowed_headers` and `cors_debug`,
/// as GraphJin's service sets up `rs/cors`:
///
/// - no origins: no CORS headers at all (browsers allow same-origin calls only);
/// - a list of origins (`https://shop.example`, or a pattern with one `*` such as
///   `https://*.shop.example`), compared without regard to case: those origins, with
///   credentials (cookies, `Authorization`) allowed; any other origin gets no
///   `Access-Control-Allow-Origin`, so the browser refuses the call;
/// - `*` among the origins: any origin, without credentials (browsers refuse credentials
///   with a wildcard origin, so GraphJin's `*` with credentials works the same way);
/// - methods `GET`, `POST`, `HEAD`; request headers `cors_allowed_headers` (`*` mirrors
///   what the browser asks for), by default `Origin`, `Accept`, `Content-Type`,
///   `X-Requested-With`, `Authorization`;
/// - `cors_debug: true` logs each decision (origin and verdict) at `info`.
///
/// Preflight requests (`OPTIONS` with `Access-Control-Request-Method`) are answered by the
/// layer itself, before authentication.
#[derive(Debug, Clone)]
pub struct Cors {
    layer: CorsLayer,
}

impl Cors {
    /// The policy of `cors_allowed_origins` and friends, or `None` when no origin is
    /// allowed. A header name that is not one is an error naming its key.
    pub fn from_config(http: &HttpConfig) -> Result<Option<Cors>, ConfigError> {
        if http.cors_allowed_origins.is_empty() {
            return Ok(None);
        }
        let headers = if http.cors_allowed_headers.iter().any(|h| h == "*") {
            AllowHeaders::mirror_request()
        } else {
            let mut names = Vec::new();
            let given: Vec<&str> = if http.cors_allowed_headers.is_empty() {
                DEFAULT_ALLOWED_HEADERS.to_vec()
            } else {
                http.cors_allowed_headers
                    .iter()
                    .map(String::as_str)
                    .collect()
            };
            for (i, name) in given.iter().enumerate() {
                let header =
                    HeaderName::from_bytes(name.as_bytes()).map_err(|_| ConfigError::Invalid {
                        key: format!("cors_allowed_headers[{i}]"),
                        message: format!("`{name}` is not a valid HTTP header name"),
                    })?;
                names.push(header);
            }
            // rs/cors always allows `Origin`.
            if !names.contains(&axum::http::header::ORIGIN) {
                names.push(axum::http::header::ORIGIN);
            }
            AllowHeaders::list(names)
        };
        let origins = Origins::new(&http.cors_allowed_origins);
        let debug = http.cors_debug;
        let layer = CorsLayer::new()
            .allow_methods([Method::GET, Method::POST, Method::HEAD])
            .allow_headers(headers);
        let layer = if origins.any {
            if debug {
                layer.allow_origin(AllowOrigin::predicate(|origin: &HeaderValue, _: &Parts| {
                    log_decision(origin, true);
                    true
                }))
            } else {
                layer.allow_origin(AllowOrigin::any())
            }
        } else {
            let origins = Arc::new(origins);
            layer
                .allow_origin(AllowOrigin::predicate(
                    move |origin: &HeaderValue, _: &Parts| {
                        let allowed = origins.allows(origin);
                        if debug {
                            log_decision(origin, allowed);
                        }
                        allowed
                    },
                ))
                .allow_credentials(true)
        };
        Ok(Some(Cors { layer }))
    }

    /// The tower layer.
    pub fn layer(&self) -> CorsLayer {
        self.layer.clone()
    }
}

fn log_decision(origin: &HeaderValue, allowed: bool) {
    let origin = String::from_utf8_lossy(origin.as_bytes());
    tracing::info!(%origin, allowed, "CORS");
}

/// The allowed origins: exact (lower-cased) or `prefix*suffix` patterns.
#[derive(Debug)]
struct Origins {
    any: bool,
    exact: Vec<String>,
    patterns: Vec<(String, String)>,
}

impl Origins {
    fn new(list: &[String]) -> Origins {
        let mut origins = Origins {
            any: false,
            exact: Vec::new(),
            patterns: Vec::new(),
        };
        for origin in list {
            let origin = origin.trim().to_ascii_lowercase();
            if origin == "*" {
                origins.any = true;
            } else if let Some((prefix, suffix)) = origin.split_once('*') {
                origins
                    .patterns
                    .push((prefix.to_owned(), suffix.to_owned()));
            } else {
                origins.exact.push(origin);
            }
        }
        origins
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.to_ascii_lowercase();
        self.any
            || self.exact.contains(&origin)
            || self.patterns.iter().any(|(prefix, suffix)| {
                origin.len() >= prefix.len() + suffix.len()
                    && origin.starts_with(prefix.as_str())
                    && origin.ends_with(suffix.as_str())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_patterns() {
        let o = Origins::new(&[
            "https://Shop.example".to_owned(),
            "https://*.b.example".to_owned(),
        ]);
        let allows = |s: &'static str| o.allows(&HeaderValue::from_static(s));
        assert!(allows("https://shop.example"));
        assert!(allows("HTTPS://SHOP.EXAMPLE"));
        assert!(allows("https://x.b.example"));
        assert!(!allows("https://b.example"));
        assert!(!allows("https://evil.example"));
        assert!(!allows("https://shop.example.evil"));
        assert!(!allows("null"));
    }

    /// tower-http refuses (panics on) some combinations when the layer is applied, e.g.
    /// credentials with wildcard headers: none of the configurable ones is such.
    #[test]
    fn every_combination_builds() {
        for origins in [vec!["*"], vec!["https://a.example", "https://*.b.example"]] {
            for headers in [vec![], vec!["*"], vec!["Authorization"]] {
                for debug in [false, true] {
                    let http = HttpConfig {
                        cors_allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
                        cors_allowed_headers: headers.iter().map(|s| s.to_string()).collect(),
                        cors_debug: debug,
                        ..HttpConfig::default()
                    };
                    let cors = Cors::from_config(&http).expect("valid").expect("some");
                    let _ = axum::Router::<()>::new()
                        .route("/", axum::routing::get(|| async { "ok" }))
                        .layer(cors.layer());
                }
            }
        }
    }

    #[test]
    fn bad_header_names_name_their_key() {
        let http = HttpConfig {
            cors_allowed_origins: vec!["*".to_owned()],
            cors_allowed_headers: vec!["Authorization".to_owned(), "bad header".to_owned()],
            ..HttpConfig::default()
        };
        let e = Cors::from_config(&http).unwrap_err();
        assert!(e.to_string().contains("cors_allowed_headers[1]"), "{e}");
    }
}
