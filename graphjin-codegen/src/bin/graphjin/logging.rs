//! The log subscriber the CLI installs at start: `RUST_LOG` when set; otherwise `dev` logs
//! as its config (`dev.yml`'s `log_level`, `log_format`) says, and the build tools log
//! warnings only, as text, so that their own output stays readable.

use std::path::Path;

use graphjin_runtime::observe::logging::{self, LogFormat, LogLevel, LogOptions};

/// Installs the subscriber; a problem (an invalid `RUST_LOG`) is printed as a warning and
/// the command runs without logs.
pub fn init(config_dir: &Path, serving: bool) {
    let options = if serving {
        server_options(config_dir)
    } else {
        LogOptions {
            level: LogLevel::Warn,
            format: LogFormat::Text,
            ignore_env: false,
        }
    };
    if let Err(e) = logging::init(&options) {
        eprintln!("warning: {e}; continuing without logs");
    }
}

/// `dev.yml`'s log settings when it reads; the defaults otherwise (the server then reports
/// what is wrong with the file).
fn server_options(config_dir: &Path) -> LogOptions {
    let dev_yml = config_dir.join("dev.yml");
    if dev_yml.is_file()
        && let Ok(config) = graphjin_runtime::Config::load_file(&dev_yml)
    {
        return config.log_options();
    }
    LogOptions::default()
}
