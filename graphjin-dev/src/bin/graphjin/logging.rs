//! The log subscriber the CLI installs at start: `RUST_LOG` when set; otherwise `dev` logs
//! as its config says (`log_level`, `log_format` of `dev.yml`, read as the development
//! server reads it), and the build tools log warnings only, as text, so that their own
//! output stays readable.

use std::path::Path;

use graphjin_runtime::observe::logging::{self, LogError, LogFormat, LogLevel, LogOptions};

/// Installs the subscriber for a build tool, or for the development server when `serving`.
pub fn init(config_dir: &Path, serving: bool) -> Result<(), LogError> {
    let options = if serving {
        server_options(config_dir)
    } else {
        LogOptions {
            level: LogLevel::Warn,
            format: LogFormat::Text,
            ignore_env: false,
        }
    };
    logging::init(&options)
}

/// The development server's config's log settings when it reads; the defaults otherwise
/// (the server then reports what is wrong with the file).
fn server_options(config_dir: &Path) -> LogOptions {
    let dev_yml = config_dir.join("dev.yml");
    let config = if dev_yml.is_file() {
        graphjin_runtime::Config::load_file(&dev_yml)
    } else {
        graphjin_runtime::Config::load(config_dir)
    };
    config.map(|c| c.log_options()).unwrap_or_default()
}
