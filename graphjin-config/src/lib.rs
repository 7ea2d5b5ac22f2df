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

mod error;
mod lenient;
mod schema;
mod source;

use std::path::{Path, PathBuf};

pub use error::Error;
pub use lenient::{Lenient, from_value};
pub use schema::{Key, Kind, Schema, Segment, env_name};
pub use source::Source;

/// The file names looked for in a config folder, in order: `prod.yml` wins over `dev.yml`.
pub const CONFIG_FILES: [&str; 4] = ["prod.yml", "prod.yaml", "dev.yml", "dev.yaml"];

/// The config file in `dir`: the first of [`CONFIG_FILES`] that exists.
pub fn config_path(dir: &Path) -> Option<PathBuf> {
    CONFIG_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}
