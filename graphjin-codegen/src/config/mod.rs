//! The build-time part of GraphJin's YAML config (`dev.yml` / `prod.yml`): what shapes the
//! SQL. The run-time part (database, auth, secrets) belongs to graphjin-runtime, which reads
//! the same file with the same reader (graphjin-config); each side ignores the other's keys.

mod load;
mod model;

pub use load::{
    ConfigError, config_path, env_vars, load_config, load_config_with_env, parse_config, schema,
};
pub use model::{
    BuildConfig, ColumnConfig, RoleConfig, RoleTableConfig, TableConfig, TableOpRules,
};
