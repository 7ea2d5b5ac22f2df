//! Finding and reading the YAML config through graphjin-config, the reader the runtime uses
//! too: `inherits:` resolved, GraphJin's weak typing, `GJ_` environment overrides.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use graphjin_config::{Schema, Source};

use super::model::BuildConfig;

/// Why the config could not be read: graphjin-config's error, naming the file (or the
/// environment variable) and the key path.
pub use graphjin_config::Error as ConfigError;

/// Which config file the build reads in `dir`: `prod.yml`, else `dev.yml`, else none.
pub fn config_path(dir: &Path) -> Option<PathBuf> {
    graphjin_config::config_path(dir)
}

/// The keys the build reads, for the `GJ_` environment overrides.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(Schema::of::<BuildConfig>)
}

/// Every `GJ_` variable that overrides a build key (`GJ_DEFAULT_LIMIT`,
/// `GJ_VARIABLES_<KEY>`, ...): what a build script tracks with `rerun-if-env-changed`.
pub fn env_vars() -> Vec<String> {
    schema().env_vars()
}

/// Reads `path` with `inherits:` resolved (the child's keys replace the parent's) and the
/// `GJ_` environment overrides applied. Returns the config and every file read, so builds
/// can track them.
pub fn load_config(path: &Path) -> Result<(BuildConfig, Vec<PathBuf>), ConfigError> {
    load_config_with_env(path, |name| std::env::var(name).ok())
}

/// [`load_config`] reading environment variables through `lookup`.
pub fn load_config_with_env(
    path: &Path,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(BuildConfig, Vec<PathBuf>), ConfigError> {
    let mut source = Source::read(path)?;
    source.apply_env(schema(), lookup);
    let config = source.deserialize()?;
    Ok((config, source.files().to_vec()))
}

/// Parses config text (no `inherits:` resolution, no environment); `path` only names it in
/// errors.
pub fn parse_config(src: &str, path: &Path) -> Result<BuildConfig, ConfigError> {
    Source::parse(src, path)?.deserialize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_graphjin_keys_and_ignores_runtime_ones() {
        let src = r#"
default_limit: 2
database:
  host: localhost
tables:
  - name: products
    columns:
      - name: category_ids
        related_to: categories.id
        array: true
    order_by:
      price_and_id: ["price desc", "id asc"]
"#;
        let c = parse_config(src, Path::new("dev.yml")).expect("parses");
        assert_eq!(c.default_limit, Some(2));
        assert_eq!(
            c.tables[0].columns[0].related_to.as_deref(),
            Some("categories.id")
        );
        assert!(c.tables[0].columns[0].array);
        assert_eq!(
            c.tables[0].order_by["price_and_id"],
            vec!["price desc", "id asc"]
        );
    }

    #[test]
    fn bad_shape_names_the_file() {
        let err = parse_config("default_limit: [1", Path::new("dev.yml")).unwrap_err();
        assert!(err.to_string().starts_with("dev.yml:"), "{err}");
        let err = parse_config("tables: 3", Path::new("prod.yml")).unwrap_err();
        assert!(err.to_string().contains("prod.yml"), "{err}");
    }

    #[test]
    fn inherits_merges_top_level_keys() {
        let dir = std::env::temp_dir().join(format!("gjcfg{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("dev.yml"),
            "default_limit: 5\nenable_camelcase: true\n",
        )
        .unwrap();
        std::fs::write(dir.join("prod.yml"), "inherits: dev\ndefault_limit: 7\n").unwrap();
        let (c, files) = load_config_with_env(&dir.join("prod.yml"), |_| None).unwrap();
        assert_eq!(c.default_limit, Some(7));
        assert!(c.enable_camelcase);
        assert_eq!(files.len(), 2);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn every_build_key_has_a_variable() {
        let vars = env_vars();
        for var in [
            "GJ_DEFAULT_LIMIT",
            "GJ_ENABLE_CAMELCASE",
            "GJ_VARIABLES_<KEY>",
            "GJ_BLOCKLIST",
            "GJ_ROLES_QUERY",
            "GJ_DEFAULT_BLOCK",
        ] {
            assert!(vars.iter().any(|v| v == var), "{var}: {vars:?}");
        }
        // `tables` and `roles` are lists: their entries have no variables.
        assert!(
            !vars
                .iter()
                .any(|v| v.starts_with("GJ_TABLES") || v.starts_with("GJ_ROLES_NAME")),
            "{vars:?}"
        );
    }
}
