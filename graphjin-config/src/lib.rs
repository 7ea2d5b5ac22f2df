//! The one reader of GraphJin's YAML config (`config/dev.yml`, `config/prod.yml`), shared by
//! the build (graphjin-codegen: tables, roles, limits) and the runtime (graphjin-runtime:
//! auth, actions, subscriptions), so both read the same file the same way. It knows no
//! GraphQL and no key's meaning; each side deserializes the keys it owns into its own types.
//!
//! GraphJin reads its config through viper and mapstructure with weak typing; this crate
//! accepts what they accept, so GraphJin's documented YAML works unchanged:
//!
//! - `inherits: dev` reads `dev.yml` first; the child's top-level keys replace the
//!   parent's ([`Source::read`]).
//! - A list of one-key maps where a map is expected (`presets: [{user_id: $user_id}]`), a
//!   single value where a list is expected (`columns: id`), numbers and bools written as
//!   strings, and keys in any case (`Presets:`), as [`Lenient`] describes.
//! - `GJ_` environment variables for every key (`GJ_AUTH_JWT_ISSUER` for
//!   `auth.jwt.issuer`), derived from the types' own fields ([`Schema`],
//!   [`Source::apply_env`]).
//!
//! Errors name the file (or the variable) and the key path:
//! `config/dev.yml: key `roles[1].tables[0].insert.limit`: invalid value: ...`.
//!
//! ```
//! # use std::path::Path;
//! # use serde::Deserialize;
//! #[derive(Deserialize, Default)]
//! #[serde(default)]
//! struct Keys {
//!     default_limit: Option<u32>,
//!     blocklist: Vec<String>,
//! }
//! let mut source = graphjin_config::Source::parse(
//!     "Default_Limit: \"5\"\nblocklist: secrets\n",
//!     Path::new("dev.yml"),
//! )?;
//! source.apply_env(&graphjin_config::Schema::of::<Keys>(), |var| {
//!     (var == "GJ_BLOCKLIST").then(|| "secrets, passwords".to_owned())
//! });
//! let keys: Keys = source.deserialize()?;
//! assert_eq!(keys.default_limit, Some(5));
//! assert_eq!(keys.blocklist, ["secrets", "passwords"]);
//! # Ok::<(), graphjin_config::Error>(())
//! ```

mod duration;
mod error;
pub mod known;
mod lenient;
mod schema;
mod source;

use std::path::{Path, PathBuf};

pub use duration::{format_go_duration, go_duration, parse_go_duration};
pub use error::Error;
pub use lenient::{Lenient, from_value};
pub use schema::{Key, Kind, Schema, Segment, env_name};
pub use source::Source;

/// The file names looked for in a config folder when neither `GJ_ENV` nor `GO_ENV` is set,
/// in order: `prod.yml` wins over `dev.yml`.
pub const CONFIG_FILES: [&str; 4] = ["prod.yml", "prod.yaml", "dev.yml", "dev.yaml"];

/// The variables that choose the config file, in order: `GJ_ENV` wins over `GO_ENV`.
pub const ENV_NAME_VARS: [&str; 2] = ["GJ_ENV", "GO_ENV"];

/// The config file name (without extension) an environment name selects, as GraphJin's
/// `GetConfigName` does: `development`/`dev` -> `dev`, `production`/`prod` -> `prod`,
/// `staging`/`stage` -> `stage`, `testing`/`test` -> `test`, any other name -> itself
/// (lower-cased); `None` for an empty name.
pub fn config_name(env: &str) -> Option<String> {
    let env = env.trim().to_ascii_lowercase();
    let name = match env.as_str() {
        "" => return None,
        "production" | "prod" => "prod",
        "staging" | "stage" => "stage",
        "testing" | "test" => "test",
        "development" | "dev" => "dev",
        other => other,
    };
    Some(name.to_owned())
}

/// The variable that chooses the config file and its value, read through `lookup`: the
/// first of [`ENV_NAME_VARS`] set to something other than blanks.
pub fn env_choice(lookup: impl Fn(&str) -> Option<String>) -> Option<(&'static str, String)> {
    ENV_NAME_VARS.iter().find_map(|var| {
        lookup(var)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (*var, v))
    })
}

/// Which config file to read in `dir`, environment variables read through `lookup`:
///
/// - `GJ_ENV` or `GO_ENV` set: the file it names ([`config_name`]), `NAME.yml` else
///   `NAME.yaml`; [`Error::NoEnvFile`] when neither exists.
/// - Neither set: `prod.yml`, else `dev.yml` ([`CONFIG_FILES`]); `None` when there is no
///   config. (GraphJin reads `dev.yml` then; this port reads `prod.yml` first so that a
///   plain `cargo build --release` compiles the production config, which usually
///   `inherits: dev`. Set `GO_ENV=development` to read `dev.yml`.)
pub fn choose_config(
    dir: &Path,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<PathBuf>, Error> {
    let Some((var, value)) = env_choice(lookup) else {
        return Ok(CONFIG_FILES
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file()));
    };
    let name = config_name(&value).unwrap_or_default();
    let yml = dir.join(format!("{name}.yml"));
    let yaml = dir.join(format!("{name}.yaml"));
    if yml.is_file() {
        Ok(Some(yml))
    } else if yaml.is_file() {
        Ok(Some(yaml))
    } else {
        Err(Error::NoEnvFile {
            path: yml,
            var,
            value,
        })
    }
}

/// The config file in `dir` as [`choose_config`] picks it with the process environment;
/// when `GO_ENV`/`GJ_ENV` names a file that is missing, that file (reading it then fails
/// with [`Error::NoEnvFile`] through [`check_chosen`]).
pub fn config_path(dir: &Path) -> Option<PathBuf> {
    match choose_config(dir, |v| std::env::var(v).ok()) {
        Ok(path) => path,
        Err(Error::NoEnvFile { path, .. }) => Some(path),
        Err(_) => None,
    }
}

/// [`Error::NoEnvFile`] when `path` does not exist and is the file `GO_ENV`/`GJ_ENV`
/// (read through `lookup`) chose; else `Ok`.
pub fn check_chosen(path: &Path, lookup: impl Fn(&str) -> Option<String>) -> Result<(), Error> {
    if path.exists() {
        return Ok(());
    }
    let Some((var, value)) = env_choice(lookup) else {
        return Ok(());
    };
    let chosen = config_name(&value).unwrap_or_default();
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if stem.eq_ignore_ascii_case(&chosen) {
        return Err(Error::NoEnvFile {
            path: path.to_path_buf(),
            var,
            value,
        });
    }
    Ok(())
}
