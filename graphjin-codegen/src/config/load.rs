//! Finding and reading the YAML config, with `inherits:` resolved.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::model::BuildConfig;

/// Why the config could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed or a key has the wrong shape.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message with its line and column.
        message: String,
    },
    /// `inherits:` names a file that inherits back.
    #[error("{path}: `inherits` forms a cycle ({chain})")]
    InheritCycle {
        /// The file.
        path: PathBuf,
        /// The chain of names.
        chain: String,
    },
}

/// Which config file the build reads in `dir`: `prod.yml`, else `dev.yml`, else none.
pub fn config_path(dir: &Path) -> Option<PathBuf> {
    ["prod.yml", "prod.yaml", "dev.yml", "dev.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

/// Reads `path` with `inherits:` resolved (the child's keys replace the parent's).
/// Returns the config and every file read, so builds can track them.
pub fn load_config(path: &Path) -> Result<(BuildConfig, Vec<PathBuf>), ConfigError> {
    let mut files = Vec::new();
    let merged = load_value(path, &mut files)?;
    let config = serde_json::from_value(merged).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok((config, files))
}

/// Parses config text (no `inherits:` resolution); `path` only names it in errors.
pub fn parse_config(src: &str, path: &Path) -> Result<BuildConfig, ConfigError> {
    let value = parse_yaml(src, path)?;
    serde_json::from_value(value).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn parse_yaml(src: &str, path: &Path) -> Result<Value, ConfigError> {
    if src.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    let value: Value = serde_saphyr::from_str(src).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    match value {
        Value::Null => Ok(Value::Object(Default::default())),
        Value::Object(_) => Ok(value),
        _ => Err(ConfigError::Syntax {
            path: path.to_path_buf(),
            message: "the config must be a mapping of keys".into(),
        }),
    }
}

fn load_value(path: &Path, files: &mut Vec<PathBuf>) -> Result<Value, ConfigError> {
    if files.iter().any(|f| f == path) {
        let chain = files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(" -> ");
        return Err(ConfigError::InheritCycle {
            path: path.to_path_buf(),
            chain,
        });
    }
    let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    files.push(path.to_path_buf());
    let mut value = parse_yaml(&src, path)?;
    let parent = value
        .get("inherits")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(parent) = parent {
        let dir = path.parent().unwrap_or(Path::new("."));
        let parent_path = ["", ".yml", ".yaml"]
            .iter()
            .map(|ext| dir.join(format!("{parent}{ext}")))
            .find(|p| p.is_file())
            .unwrap_or_else(|| dir.join(format!("{parent}.yml")));
        let mut base = load_value(&parent_path, files)?;
        if let (Value::Object(base_map), Value::Object(child)) = (&mut base, value) {
            for (k, v) in child {
                base_map.insert(k, v);
            }
        }
        value = base;
    }
    Ok(value)
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
        let (c, files) = load_config(&dir.join("prod.yml")).unwrap();
        assert_eq!(c.default_limit, Some(7));
        assert!(c.enable_camelcase);
        assert_eq!(files.len(), 2);
        std::fs::remove_dir_all(&dir).ok();
    }
}
