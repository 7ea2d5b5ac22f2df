//! The observability keys of the config:
//!
//! ```yaml
//! log_level: info        # debug | info | warn | error (RUST_LOG, when set, wins)
//! log_format: json       # json | simple
//! metrics:
//!   enabled: true        # off unless turned on
//!   path: /metrics       # where Prometheus scrapes (outside the API prefix)
//!   auth: scraper        # optional: an entry of `auths:` the scraper must pass
//! ```
//!
//! Metrics are off by default: they show the operations' names, roles and load, which is
//! for the operator to choose to publish (and to guard with `auth`).

use graphjin_config::Source;
use serde::{Deserialize, Serialize};

use super::{Config, ConfigError};
use crate::observe::logging::{LogFormat, LogLevel, LogOptions};

/// `metrics:`: whether and where Prometheus metrics are served; see
/// [`crate::observe::Metrics`] for the series.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// `enabled`: serve them (default: off).
    pub enabled: bool,
    /// `path`: where (default `/metrics`); a plain path, outside the API prefix.
    pub path: String,
    /// `auth`: the name of an entry of `auths:` that scrapers must pass; unset, the path is
    /// open to anyone who reaches the server.
    pub auth: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: false,
            path: "/metrics".to_owned(),
            auth: None,
        }
    }
}

/// `log_level`, `log_format` and `metrics` as the file writes them.
pub(super) struct ObserveKeys<'a> {
    pub(super) log_level: Option<&'a str>,
    pub(super) log_format: Option<&'a str>,
    pub(super) metrics: MetricsConfig,
}

/// The checked values of [`ObserveKeys`].
pub(super) struct Observe {
    pub(super) log_level: Option<LogLevel>,
    pub(super) log_format: Option<LogFormat>,
    pub(super) metrics: MetricsConfig,
}

/// Reads and checks the observability keys.
pub(super) fn read(keys: ObserveKeys<'_>, source: &Source) -> Result<Observe, ConfigError> {
    let log_level = parse_key(source, "log_level", keys.log_level)?;
    let log_format = parse_key(source, "log_format", keys.log_format)?;
    let mut metrics = keys.metrics;
    metrics.path = metrics.path.trim().to_owned();
    if metrics.path.is_empty() {
        metrics.path = MetricsConfig::default().path;
    }
    if !metrics.path.starts_with('/')
        || metrics
            .path
            .contains(|c: char| matches!(c, '{' | '}' | '*' | '?' | '#') || c.is_whitespace())
    {
        return Err(source
            .key_error(
                "metrics.path",
                "expected a plain path starting with `/`, such as /metrics",
            )
            .into());
    }
    Ok(Observe {
        log_level,
        log_format,
        metrics,
    })
}

/// `value` parsed, `None` when unset or blank; errors name `key` (or its `GJ_` variable).
fn parse_key<T: std::str::FromStr<Err = String>>(
    source: &Source,
    key: &str,
    value: Option<&str>,
) -> Result<Option<T>, ConfigError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|m| source.key_error(key, m).into()),
        None => Ok(None),
    }
}

impl Config {
    /// What [`crate::observe::logging::init`] installs: the config's `log_level` (default
    /// `info`) and `log_format` (default `json`, as in GraphJin).
    pub fn log_options(&self) -> LogOptions {
        LogOptions {
            level: self.log_level.unwrap_or_default(),
            format: self.log_format.unwrap_or_default(),
            ignore_env: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn keys() {
        let c = Config::from_yaml(
            "log_level: WARN\nlog_format: simple\nmetrics: {enabled: 'true', path: /internal/metrics, auth: scraper}\n",
            Path::new("dev.yml"),
        )
        .expect("parses");
        assert_eq!(c.log_level, Some(LogLevel::Warn));
        assert_eq!(c.log_format, Some(LogFormat::Text));
        assert!(c.metrics.enabled);
        assert_eq!(c.metrics.path, "/internal/metrics");
        assert_eq!(c.metrics.auth.as_deref(), Some("scraper"));

        let d = Config::from_yaml("production: false\n", Path::new("dev.yml")).expect("parses");
        assert_eq!(d.metrics, MetricsConfig::default());
        assert_eq!(d.log_options(), LogOptions::default());

        let e = Config::from_yaml("log_level: loud\n", Path::new("dev.yml")).unwrap_err();
        assert!(e.to_string().contains("log_level"), "{e}");
        let e = Config::from_yaml("metrics: {path: 'metrics/{x}'}\n", Path::new("dev.yml"))
            .unwrap_err();
        assert!(e.to_string().contains("metrics.path"), "{e}");
    }
}
