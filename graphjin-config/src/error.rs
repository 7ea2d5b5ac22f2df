//! Why a config could not be read.

use std::path::PathBuf;

/// A problem reading the config. Each names the file and the key path (or the environment
/// variable) it is about; none repeats the value of an environment variable.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The YAML is malformed, or is not a mapping of keys.
    #[error("{}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message with line and column (no source excerpt, which could show a
        /// secret).
        message: String,
    },

    /// A key has a value of the wrong shape.
    #[error("{}: key `{key}`: {message}", path.display())]
    Key {
        /// The file the key was read from (with `inherits:`, the file that set it).
        path: PathBuf,
        /// The key's path, e.g. `roles[1].tables[0].insert.presets`.
        key: String,
        /// What is wrong.
        message: String,
    },

    /// `inherits:` leads back to a file already read.
    #[error("{}: `inherits` forms a cycle ({chain})", path.display())]
    InheritCycle {
        /// The file whose `inherits` closes the cycle.
        path: PathBuf,
        /// The files in order.
        chain: String,
    },

    /// `GO_ENV` / `GJ_ENV` names a config file that is not there.
    #[error(
        "{}: no such config file ({var}={value} chose it); create it, or set {var} to the name of one that exists (`development` reads dev.yml, `production` prod.yml)",
        path.display()
    )]
    NoEnvFile {
        /// The file looked for (`.yml`; `.yaml` is tried too).
        path: PathBuf,
        /// The variable, `GO_ENV` or `GJ_ENV`.
        var: &'static str,
        /// Its value (an environment name, not a secret).
        value: String,
    },

    /// An environment variable override has an unusable value.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable's name.
        var: String,
        /// What is wrong (never the value).
        message: String,
    },
}
