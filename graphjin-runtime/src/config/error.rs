//! Why the run-time config could not be loaded, or an authenticator not built from it.

use std::path::PathBuf;

/// A problem with the config, found at start-up. Each names the file and/or the key
/// (`auth.jwt.secret`, `auths[admin].header.name`) and says what to do; none repeats a
/// secret value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither `prod.yml` nor `dev.yml` is in the config folder.
    #[error(
        "no config file in {}: create prod.yml or dev.yml (prod.yml is read when both exist)",
        dir.display()
    )]
    NotFound {
        /// The folder searched.
        dir: PathBuf,
    },

    /// The config files could not be read: a file, its YAML, a key's value, `inherits:` or a
    /// `GJ_` variable (from the reader shared with the build, `graphjin-config`).
    #[error(transparent)]
    Read(#[from] graphjin_config::Error),

    /// A key is missing or contradicts another.
    #[error("`{key}`: {message}")]
    Invalid {
        /// The key's path, e.g. `auth.jwt.secret`.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The config asks for something this build does not support yet.
    #[error("`{key}`: {what} is not supported yet; {hint}")]
    Unsupported {
        /// The key's path, e.g. `auth.type`.
        key: String,
        /// What is not supported.
        what: String,
        /// What to do meanwhile.
        hint: String,
    },

    /// A key file could not be read or holds no usable key.
    #[error("`{key}` ({}): {message}", path.display())]
    KeyFile {
        /// The key's path, e.g. `auth.jwt.public_key_file`.
        key: String,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// Two entries of `auths:` (or one and `auth:`) share a name.
    #[error("auth name \"{name}\" is used twice: names in `auths` must be unique")]
    DuplicateAuth {
        /// The name.
        name: String,
    },

    /// The JWT library failed its start-up self-test (sign and verify once): its crypto
    /// backend is missing or ambiguous.
    #[error(
        "the JWT library failed its start-up self-test: {message}. jsonwebtoken needs exactly one crypto backend: enable only its `rust_crypto` feature (check `cargo tree -e features -i jsonwebtoken` for a crate that turns on `aws_lc_rs`)"
    )]
    CryptoSelfTest {
        /// What failed.
        message: String,
    },

    /// The HTTP client for key downloads could not be built.
    #[error("cannot build the HTTP client for key downloads: {message}")]
    HttpClient {
        /// Why.
        message: String,
    },
}
