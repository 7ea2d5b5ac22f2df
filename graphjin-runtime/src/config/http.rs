//! The HTTP keys of the config: see [`HttpConfig`].

use std::time::Duration;

use graphjin_config::Source;
use serde_json::{Map, Value};

use super::ConfigError;
use crate::http::ServeLimits;

/// GraphJin's default `host_port`, used when only `host` or `port` is given.
pub const DEFAULT_HOST_PORT: &str = "0.0.0.0:8080";

/// The default `shutdown_timeout`: 10 s.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP part of the config: CORS, compression, the listen address, the shutdown
/// deadline and the connection limits. [`crate::Service::from_config`] applies the CORS,
/// compression, shutdown and limit keys; the listen address is the app's to bind
/// ([`HttpConfig::listen_addr`]).
///
/// Its keys, as GraphJin's service reads them:
///
/// ```yaml
/// host_port: 0.0.0.0:8080          # where the server listens (GraphJin's default)
/// # host: 127.0.0.1                # replaces host_port's host (env HOST, as GraphJin binds it)
/// # port: 3000                     # replaces host_port's port (env PORT)
/// http_compress: true              # gzip/br responses when the client accepts them (default true)
/// cors_allowed_origins: ["https://shop.example", "https://*.shop.example"]   # or ["*"]
/// cors_allowed_headers: [Authorization, Content-Type]   # default: Origin, Accept, Content-Type, X-Requested-With, Authorization
/// cors_debug: false                # log each CORS decision (the origin and whether it is allowed)
/// shutdown_timeout: 10s            # on SIGTERM/Ctrl-C, how long running requests may take to finish
/// # Slow and idle clients (not GraphJin keys; durations as above, 0 turns a timeout off):
/// http_header_timeout: 10s         # a request's head must arrive within it (from the connection's
///                                  # start, or from a keep-alive request's first byte), else the
///                                  # connection is closed
/// http_body_timeout: 30s           # a request's whole body must arrive within it, else 408 and close
/// http_idle_timeout: 60s           # a keep-alive connection without a request for this long is closed
/// http_max_connections: 10000      # open connections (WebSockets included) at most, lowered to the
///                                  # open-file limit (ulimit -n) minus 128; at the cap the longest-idle
///                                  # connection is closed to admit a new one, or the new one gets 503
/// ```
///
/// Which address the server listens on, highest precedence first (see
/// [`HttpConfig::listen_addr`]): an address the app itself takes (the example app's
/// `LISTEN`), then `host_port` with its host replaced by `HOST` (else `GJ_HOST`, else the
/// `host` key) and its port by `PORT` (else `GJ_PORT`, else `port`); `host_port` itself comes
/// from `GJ_HOST_PORT`, else the file, else GraphJin's default `0.0.0.0:8080` when only a
/// host or port is given. With none of them set the app picks its own default.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    /// `cors_allowed_origins`: origins allowed to call the API from a browser; `*` for
    /// any, `https://*.example.com` for a pattern. Empty (the default): no CORS headers.
    pub cors_allowed_origins: Vec<String>,
    /// `cors_allowed_headers`: request headers a browser may send cross-origin; `*` for
    /// any. Empty: GraphJin's list (`Origin`, `Accept`, `Content-Type`,
    /// `X-Requested-With`, `Authorization`).
    pub cors_allowed_headers: Vec<String>,
    /// `cors_debug`: log each CORS decision.
    pub cors_debug: bool,
    /// `http_compress`: compress responses (gzip, br) the client accepts compressed.
    /// Default: `true`, as in GraphJin.
    pub http_compress: bool,
    /// `host_port`: `HOST:PORT` to listen on.
    pub host_port: Option<String>,
    /// `host` (or the `HOST` variable): replaces `host_port`'s host.
    pub host: Option<String>,
    /// `port` (or the `PORT` variable): replaces `host_port`'s port.
    pub port: Option<String>,
    /// `shutdown_timeout`: how long running requests may take to finish after a stop
    /// signal; `None` for [`DEFAULT_SHUTDOWN_TIMEOUT`].
    pub shutdown_timeout: Option<Duration>,
    /// `http_header_timeout`: how long a request's head may take; `None` for the default
    /// ([`ServeLimits::DEFAULT_HEADER_TIMEOUT`]), zero for none.
    pub http_header_timeout: Option<Duration>,
    /// `http_body_timeout`: how long a request's body may take; `None` for the default
    /// ([`ServeLimits::DEFAULT_BODY_TIMEOUT`]), zero for none.
    pub http_body_timeout: Option<Duration>,
    /// `http_idle_timeout`: how long a keep-alive connection may wait for a request;
    /// `None` for the default ([`ServeLimits::DEFAULT_IDLE_TIMEOUT`]), zero for none.
    pub http_idle_timeout: Option<Duration>,
    /// `http_max_connections`: open connections at most; `None` for the default
    /// ([`ServeLimits::DEFAULT_MAX_CONNECTIONS`]).
    pub http_max_connections: Option<usize>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            cors_allowed_origins: Vec::new(),
            cors_allowed_headers: Vec::new(),
            cors_debug: false,
            http_compress: true,
            host_port: None,
            host: None,
            port: None,
            shutdown_timeout: None,
            http_header_timeout: None,
            http_body_timeout: None,
            http_idle_timeout: None,
            http_max_connections: None,
        }
    }
}

/// The keys as the file writes them (fields of the config's top-level `Keys`).
pub(super) struct HttpKeys<'a> {
    pub(super) cors_allowed_origins: Vec<String>,
    pub(super) cors_allowed_headers: Vec<String>,
    pub(super) cors_debug: bool,
    pub(super) http_compress: Option<bool>,
    pub(super) host_port: Option<String>,
    pub(super) host: Option<String>,
    pub(super) port: Option<String>,
    pub(super) shutdown_timeout: Option<&'a Value>,
    pub(super) http_header_timeout: Option<&'a Value>,
    pub(super) http_body_timeout: Option<&'a Value>,
    pub(super) http_idle_timeout: Option<&'a Value>,
    pub(super) http_max_connections: Option<&'a Value>,
}

impl HttpConfig {
    /// Reads and checks the keys; errors name the key (or the `GJ_` variable that set it).
    pub(super) fn from_keys(keys: HttpKeys<'_>, source: &Source) -> Result<Self, ConfigError> {
        let trimmed = |v: Option<String>| {
            v.map(|s| s.trim().to_owned())
                .filter(|s: &String| !s.is_empty())
        };
        let list = |v: Vec<String>| -> Vec<String> {
            v.iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let config = HttpConfig {
            cors_allowed_origins: list(keys.cors_allowed_origins),
            cors_allowed_headers: list(keys.cors_allowed_headers),
            cors_debug: keys.cors_debug,
            http_compress: keys.http_compress.unwrap_or(true),
            host_port: trimmed(keys.host_port),
            host: trimmed(keys.host),
            port: trimmed(keys.port),
            shutdown_timeout: duration_key("shutdown_timeout", keys.shutdown_timeout, source)?,
            http_header_timeout: duration_key(
                "http_header_timeout",
                keys.http_header_timeout,
                source,
            )?,
            http_body_timeout: duration_key("http_body_timeout", keys.http_body_timeout, source)?,
            http_idle_timeout: duration_key("http_idle_timeout", keys.http_idle_timeout, source)?,
            http_max_connections: match keys.http_max_connections {
                None | Some(Value::Null) => None,
                Some(v) => Some(count(v).ok_or_else(|| {
                    source.key_error(
                        "http_max_connections",
                        "expected a whole number of connections, at least 1",
                    )
                })?),
            },
        };
        config.check(|key, message| source.key_error(key, message).into())?;
        Ok(config)
    }

    /// Checks `host_port` and `port`; `error(key, message)` makes the error.
    fn check(&self, error: impl Fn(&str, String) -> ConfigError) -> Result<(), ConfigError> {
        if let Some(hp) = &self.host_port
            && split_host_port(hp).is_none()
        {
            return Err(error(
                "host_port",
                format!("expected HOST:PORT such as 0.0.0.0:8080 or [::1]:8080, got `{hp}`"),
            ));
        }
        if let Some(port) = &self.port
            && port.parse::<u16>().is_err()
        {
            return Err(error(
                "port",
                format!("expected a port number (0-65535), got `{port}`"),
            ));
        }
        Ok(())
    }

    /// Applies GraphJin's plain `HOST` and `PORT` variables (which replace the `host` and
    /// `port` keys; empty counts as unset), read through `lookup`.
    pub fn apply_host_port_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if let Some(host) = var("HOST") {
            self.host = Some(host);
        }
        if let Some(port) = var("PORT") {
            if port.parse::<u16>().is_err() {
                return Err(ConfigError::Invalid {
                    key: "port".to_owned(),
                    message: "the PORT environment variable is not a port number (0-65535)"
                        .to_owned(),
                });
            }
            self.port = Some(port);
        }
        Ok(())
    }

    /// The address to listen on from `host_port`, `host` and `port` (see the
    /// [`HttpConfig`] docs for their sources), or `None` when none is set and the app
    /// should use its own default. Only `host` or `port` set: they replace the parts of
    /// GraphJin's default `0.0.0.0:8080`.
    pub fn listen_addr(&self) -> Option<String> {
        if self.host_port.is_none() && self.host.is_none() && self.port.is_none() {
            return None;
        }
        let base = self.host_port.as_deref().unwrap_or(DEFAULT_HOST_PORT);
        let (host, port) = split_host_port(base).unwrap_or(("0.0.0.0", "8080"));
        let host = self.host.as_deref().unwrap_or(host);
        let port = self.port.as_deref().unwrap_or(port);
        Some(join_host_port(host, port))
    }

    /// The shutdown deadline: `shutdown_timeout`, else [`DEFAULT_SHUTDOWN_TIMEOUT`].
    pub fn shutdown_deadline(&self) -> Duration {
        self.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT)
    }

    /// The timeouts and connection cap [`crate::http::serve`] enforces: each key, else its
    /// default; a zero timeout is none.
    pub fn serve_limits(&self) -> ServeLimits {
        let timeout = |set: Option<Duration>, default: Duration| match set {
            Some(t) if t.is_zero() => None,
            Some(t) => Some(t),
            None => Some(default),
        };
        ServeLimits {
            header_timeout: timeout(
                self.http_header_timeout,
                ServeLimits::DEFAULT_HEADER_TIMEOUT,
            ),
            body_timeout: timeout(self.http_body_timeout, ServeLimits::DEFAULT_BODY_TIMEOUT),
            idle_timeout: timeout(self.http_idle_timeout, ServeLimits::DEFAULT_IDLE_TIMEOUT),
            max_connections: self
                .http_max_connections
                .unwrap_or(ServeLimits::DEFAULT_MAX_CONNECTIONS),
        }
    }

    /// Writes the keys into `map`, as a file would hold them.
    pub(super) fn write_keys(&self, map: &mut Map<String, Value>) {
        let HttpConfig {
            cors_allowed_origins,
            cors_allowed_headers,
            cors_debug,
            http_compress,
            host_port,
            host,
            port,
            shutdown_timeout,
            http_header_timeout,
            http_body_timeout,
            http_idle_timeout,
            http_max_connections,
        } = self;
        let strings = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
        map.insert("cors_allowed_origins".into(), strings(cors_allowed_origins));
        map.insert("cors_allowed_headers".into(), strings(cors_allowed_headers));
        map.insert("cors_debug".into(), Value::Bool(*cors_debug));
        map.insert("http_compress".into(), Value::Bool(*http_compress));
        for (key, value) in [("host_port", host_port), ("host", host), ("port", port)] {
            if let Some(v) = value {
                map.insert(key.into(), Value::String(v.clone()));
            }
        }
        for (key, value) in [
            ("shutdown_timeout", shutdown_timeout),
            ("http_header_timeout", http_header_timeout),
            ("http_body_timeout", http_body_timeout),
            ("http_idle_timeout", http_idle_timeout),
        ] {
            if let Some(t) = value
                && let Some(n) = serde_json::Number::from_f64(t.as_secs_f64())
            {
                map.insert(key.into(), Value::Number(n));
            }
        }
        if let Some(n) = http_max_connections {
            map.insert("http_max_connections".into(), Value::from(*n));
        }
    }
}

/// `host:port`, `[v6]:port` -> (host, port) with a numeric port; the host may be empty
/// (`:8080`, all interfaces).
fn split_host_port(text: &str) -> Option<(&str, &str)> {
    let (host, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return None;
    }
    Some((host, port))
}

/// `host:port`, bracketing a bare IPv6 host.
fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The duration key `key`: `None` when unset or null, an error naming it when malformed.
fn duration_key(
    key: &str,
    value: Option<&Value>,
    source: &Source,
) -> Result<Option<Duration>, ConfigError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Ok(Some(duration(v).ok_or_else(|| {
            source.key_error(
                key,
                "expected a number of seconds, or a duration such as \"10s\" or \"500ms\"",
            )
        })?)),
    }
}

/// A whole number of at least 1 (also as text, as a `GJ_` variable gives it).
fn count(value: &Value) -> Option<usize> {
    let n = match value {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    usize::try_from(n).ok().filter(|n| *n >= 1)
}

/// A number of seconds (`10`, `2.5`, also as text, as a `GJ_` variable gives it) or Go's
/// duration text (`"10s"`, `"500ms"`, `"1m30s"`); zero allowed (stop without waiting).
fn duration(value: &Value) -> Option<Duration> {
    let seconds = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(n) => n,
            Err(_) => return graphjin_config::parse_go_duration(s).ok(),
        },
        _ => return None,
    };
    (seconds.is_finite() && (0.0..1e9).contains(&seconds)).then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(host_port: Option<&str>, host: Option<&str>, port: Option<&str>) -> HttpConfig {
        HttpConfig {
            host_port: host_port.map(str::to_owned),
            host: host.map(str::to_owned),
            port: port.map(str::to_owned),
            ..HttpConfig::default()
        }
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(config(None, None, None).listen_addr(), None);
        assert_eq!(
            config(Some("127.0.0.1:9000"), None, None).listen_addr(),
            Some("127.0.0.1:9000".to_owned())
        );
        assert_eq!(
            config(None, None, Some("3000")).listen_addr(),
            Some("0.0.0.0:3000".to_owned())
        );
        assert_eq!(
            config(Some("127.0.0.1:9000"), Some("::1"), Some("7")).listen_addr(),
            Some("[::1]:7".to_owned())
        );
        assert_eq!(
            config(Some("[::1]:9000"), None, None).listen_addr(),
            Some("[::1]:9000".to_owned())
        );
    }

    #[test]
    fn host_port_shapes() {
        assert!(split_host_port("0.0.0.0:8080").is_some());
        assert!(split_host_port(":8080").is_some());
        assert!(split_host_port("[::]:80").is_some());
        assert!(split_host_port("8080").is_none());
        assert!(split_host_port("localhost:http").is_none());
        assert!(split_host_port("::1:80").is_none());
    }

    #[test]
    fn env_replaces_host_and_port() {
        let mut c = config(Some("127.0.0.1:9000"), Some("10.0.0.1"), None);
        c.apply_host_port_env(|name| match name {
            "PORT" => Some("3001".to_owned()),
            "HOST" => Some(String::new()),
            _ => None,
        })
        .expect("a valid port");
        assert_eq!(c.listen_addr(), Some("10.0.0.1:3001".to_owned()));
        let e = c
            .apply_host_port_env(|name| (name == "PORT").then(|| "http".to_owned()))
            .unwrap_err();
        assert!(e.to_string().contains("PORT"), "{e}");
    }

    #[test]
    fn serve_limits_from_keys() {
        let defaults = HttpConfig::default().serve_limits();
        assert_eq!(defaults, ServeLimits::default());
        let set = HttpConfig {
            http_header_timeout: Some(Duration::from_secs(2)),
            http_body_timeout: Some(Duration::ZERO),
            http_max_connections: Some(40),
            ..HttpConfig::default()
        }
        .serve_limits();
        assert_eq!(set.header_timeout, Some(Duration::from_secs(2)));
        assert_eq!(set.body_timeout, None, "zero turns it off");
        assert_eq!(set.idle_timeout, Some(ServeLimits::DEFAULT_IDLE_TIMEOUT));
        assert_eq!(set.max_connections, 40);
        assert_eq!(count(&Value::from("12")), Some(12));
        assert_eq!(count(&Value::from(0)), None);
        assert_eq!(count(&Value::from(2.5)), None);
    }

    #[test]
    fn durations() {
        let d = |v: Value| duration(&v);
        assert_eq!(d(Value::from(3)), Some(Duration::from_secs(3)));
        assert_eq!(d(Value::from("250ms")), Some(Duration::from_millis(250)));
        assert_eq!(d(Value::from("1m30s")), Some(Duration::from_secs(90)));
        assert_eq!(d(Value::from("2.5")), Some(Duration::from_millis(2500)));
        assert_eq!(d(Value::from(0)), Some(Duration::ZERO));
        assert_eq!(d(Value::from("soon")), None);
        assert_eq!(d(Value::from(-1)), None);
    }
}
