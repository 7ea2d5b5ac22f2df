//! Finding and reading the YAML config through graphjin-config, the reader the runtime uses
//! too: `inherits:` resolved, GraphJin's weak typing, `GJ_` environment overrides.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use graphjin_config::{Schema, Source};

use super::model::BuildConfig;

/// Why the config could not be read: graphjin-config's error, naming the file (or the
/// environment variable) and the key path.
pub use graphjin_config::Error as ConfigError;

/// Which config file the build reads in `dir`: the one `GJ_ENV` / `GO_ENV` names
/// (`development` -> `dev.yml`, `production` -> `prod.yml`, `staging` -> `stage.yml`, any
/// other name -> `NAME.yml`); with neither set, `prod.yml`, else `dev.yml`, else none. See
/// [`graphjin_config::choose_config`].
pub fn config_path(dir: &Path) -> Option<PathBuf> {
    graphjin_config::config_path(dir)
}

/// The keys the build reads, for the `GJ_` environment overrides.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(Schema::of::<BuildConfig>)
}

/// Every environment variable the build's config depends on, what a build script tracks
/// with `rerun-if-env-changed`: `GJ_ENV` and `GO_ENV` (which file is read), then each `GJ_`
/// variable that overrides a build key (`GJ_DEFAULT_LIMIT`, `GJ_VARIABLES_<KEY>`, ...).
pub fn env_vars() -> Vec<String> {
    let mut vars: Vec<String> = graphjin_config::ENV_NAME_VARS
        .iter()
        .map(|v| (*v).to_owned())
        .collect();
    vars.extend(schema().env_vars());
    vars
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
    graphjin_config::check_chosen(path, &lookup)?;
    let mut source = Source::read(path)?;
    source.apply_env(schema(), lookup);
    // Every key of the file must be one the build or the runtime reads (or a GraphJin key
    // documented as ignored): a typo fails the build instead of doing nothing.
    graphjin_config::known::check(&source)?;
    let config = source.deserialize()?;
    Ok((config, source.files().to_vec()))
}

/// Parses config text (no `inherits:` resolution, no environment); `path` only names it in
/// errors.
pub fn parse_config(src: &str, path: &Path) -> Result<BuildConfig, ConfigError> {
    let source = Source::parse(src, path)?;
    graphjin_config::known::check(&source)?;
    source.deserialize()
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

    /// The known-key tree (graphjin-config) lists every key the build's types read, and
    /// every key it gives the build is read by them: the tree cannot drift from the code.
    #[test]
    fn the_known_key_tree_matches_the_build_types() {
        let api = Schema::of::<crate::tools::surface::ApiConfig>();
        let drift =
            graphjin_config::known::drift(graphjin_config::known::Owner::Build, &[schema(), &api]);
        // The OpenAPI reader shares one type between `auth:` and the entries of `auths:`;
        // `hmac` is an `auths:` key only, and the key check refuses it under `auth:`.
        let unlisted: Vec<&String> = drift
            .unlisted
            .iter()
            .filter(|k| !k.starts_with("auth.hmac"))
            .collect();
        assert!(
            unlisted.is_empty(),
            "keys the build reads but graphjin-config/src/known.rs does not list (add them there): {unlisted:?}"
        );
        assert!(
            drift.unread.is_empty(),
            "keys graphjin-config/src/known.rs gives the build but no build type reads: {:?}",
            drift.unread
        );
    }

    #[test]
    fn unknown_keys_fail_with_did_you_mean() {
        let e = parse_config("auth:\n  jwt:\n    secrte: x\n", Path::new("dev.yml")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "dev.yml: key `auth.jwt.secrte`: unknown key; did you mean `secret`?"
        );
        let e =
            parse_config("tables: [{name: t, colums: []}]\n", Path::new("dev.yml")).unwrap_err();
        assert!(
            e.to_string()
                .contains("key `tables[0].colums`: unknown key; did you mean `columns`?"),
            "{e}"
        );
        // GraphJin keys documented as ignored, and keys in another case, are accepted.
        let c = parse_config(
            "web_ui: true\nDefault_Limit: 3\nAuth: {Type: jwt}\n",
            Path::new("dev.yml"),
        )
        .expect("accepted");
        assert_eq!(c.default_limit, Some(3));
    }

    #[test]
    fn go_env_chooses_the_file() {
        let dir = std::env::temp_dir().join(format!("gjcfg-env{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (f, limit) in [
            ("dev.yml", 1),
            ("prod.yml", 2),
            ("stage.yml", 3),
            ("qa.yaml", 4),
        ] {
            std::fs::write(dir.join(f), format!("default_limit: {limit}\n")).unwrap();
        }
        let env = |value: &'static str| {
            move |v: &str| (v == "GO_ENV" && !value.is_empty()).then(|| value.to_owned())
        };
        let limit = |value: &'static str| {
            let path = graphjin_config::choose_config(&dir, env(value))
                .unwrap()
                .unwrap();
            load_config_with_env(&path, env(value))
                .unwrap()
                .0
                .default_limit
        };
        assert_eq!(limit("development"), Some(1));
        assert_eq!(limit("Dev"), Some(1));
        assert_eq!(limit("production"), Some(2));
        assert_eq!(limit("staging"), Some(3));
        assert_eq!(limit("QA"), Some(4));
        assert_eq!(limit(""), Some(2), "unset: prod.yml first");
        let e = graphjin_config::choose_config(&dir, env("perf")).unwrap_err();
        assert!(
            e.to_string()
                .contains("perf.yml: no such config file (GO_ENV=perf chose it)"),
            "{e}"
        );
        // The file path read for a missing choice fails the same way.
        let e = load_config_with_env(&dir.join("perf.yml"), env("perf")).unwrap_err();
        assert!(e.to_string().contains("GO_ENV=perf"), "{e}");
        assert!(env_vars().starts_with(&["GJ_ENV".to_owned(), "GO_ENV".to_owned()]));
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
