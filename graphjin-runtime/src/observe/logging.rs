//! The log subscriber: [`init`] installs a `tracing-subscriber` that writes one line per
//! event to standard error, as JSON or as text, filtered by `RUST_LOG` when it is set and
//! by the config's `log_level` otherwise.
//!
//! ```no_run
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = graphjin_runtime::Config::load("config")?;
//! graphjin_runtime::observe::logging::init(&config.log_options())?;
//! # Ok(()) }
//! ```
//!
//! Each request's lines carry its span (`request_id`, `method`, `path`, `operation`,
//! `kind`, `role`), so every line of one request can be found by its request id.

use std::fmt;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How verbose the log is (GraphJin's `log_level`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogLevel {
    /// `debug`: everything, including each rejected credential's reason.
    Debug,
    /// `info`: one line per request, plus start-up and warnings (the default).
    #[default]
    Info,
    /// `warn`: problems only.
    Warn,
    /// `error`: failures only.
    Error,
}

impl LogLevel {
    /// The level as the config and `RUST_LOG` write it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogLevel {
    type Err = String;

    /// `debug`, `info`, `warn` (or `warning`), `error`, in any case.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "error" => Ok(LogLevel::Error),
            _ => Err("expected one of debug, info, warn, error".to_owned()),
        }
    }
}

/// How each line is written (GraphJin's `log_format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `json`: one JSON object per line, the request's span under `"span"` (the default,
    /// as in GraphJin).
    #[default]
    Json,
    /// `simple` (or `text`): human-readable text.
    Text,
}

impl LogFormat {
    /// The format as the config writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Json => "json",
            LogFormat::Text => "simple",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogFormat {
    type Err = String;

    /// `json`, `simple` or `text`, in any case.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(LogFormat::Json),
            "simple" | "text" | "plain" => Ok(LogFormat::Text),
            _ => Err("expected json or simple".to_owned()),
        }
    }
}

/// What [`init`] installs; [`crate::Config::log_options`] reads it from the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// The level for every target, used when `RUST_LOG` is unset or empty.
    pub level: LogLevel,
    /// JSON or text.
    pub format: LogFormat,
    /// Ignore `RUST_LOG` (tests, and apps that choose their filter themselves).
    pub ignore_env: bool,
}

impl LogOptions {
    /// The filter: `RUST_LOG` when set (and not ignored), else `level` for everything.
    pub fn filter(&self) -> Result<EnvFilter, LogError> {
        if !self.ignore_env
            && let Ok(directives) = std::env::var(EnvFilter::DEFAULT_ENV)
            && !directives.trim().is_empty()
        {
            return EnvFilter::try_new(&directives).map_err(|e| LogError::Filter {
                message: e.to_string(),
            });
        }
        Ok(EnvFilter::new(self.level.as_str()))
    }
}

/// Why the log subscriber was not installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// `RUST_LOG` is not a valid filter.
    #[error(
        "RUST_LOG is not a valid log filter ({message}); write it as e.g. `info` or `graphjin_runtime=debug,info`"
    )]
    Filter {
        /// The parser's message.
        message: String,
    },
    /// A global subscriber is installed already (logging was set up twice).
    #[error("a log subscriber is installed already: set up logging once, at start-up")]
    AlreadySet,
}

/// Installs the process's log subscriber, writing to standard error.
pub fn init(options: &LogOptions) -> Result<(), LogError> {
    init_with_writer(options, std::io::stderr)
}

/// Installs the process's log subscriber, writing each line to `writer` (tests pass a
/// buffer; `std::io::sink` discards everything after filtering and formatting).
pub fn init_with_writer<W>(options: &LogOptions, writer: W) -> Result<(), LogError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = options.filter()?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false);
    let installed = match options.format {
        LogFormat::Json => builder
            .fmt_fields(super::json::JsonFields)
            .event_format(super::json::JsonLines)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    installed.map_err(|_| LogError::AlreadySet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        assert_eq!("WARN".parse::<LogLevel>(), Ok(LogLevel::Warn));
        assert_eq!("simple".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert_eq!(" Json ".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert!("verbose".parse::<LogLevel>().is_err());
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
