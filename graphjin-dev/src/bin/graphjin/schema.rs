//! `graphjin schema pull`: introspect a live database and write `<config-dir>/db.graphql`.

use std::path::Path;

use crate::output::{Failure, Outcome};

/// Pulls `schema` of the database at `url` (none: a message saying what to pass) into
/// `config_dir/db.graphql`, replacing the file atomically. TLS follows the URL's `sslmode`
/// and, when the folder has a config, its `database.enable_tls` keys.
pub fn pull(config_dir: &Path, url: Option<&str>, schema: &str) -> Outcome {
    let url =
        url.ok_or_else(|| Failure::new("schema pull needs --database-url URL (or DATABASE_URL)"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("could not start the async runtime: {e}")))?;
    // GraphJin's `database.enable_tls` keys, when the folder has a config (the URL's
    // `sslmode` etc. apply either way).
    let tls = match graphjin_runtime::Config::load(config_dir) {
        Ok(config) => config
            .tls_options()
            .map_err(|e| Failure::new(e.to_string()))?,
        Err(graphjin_runtime::ConfigError::NotFound { .. }) => None,
        Err(e) => return Err(Failure::new(e.to_string())),
    };
    let text = rt.block_on(graphjin_dev::schema_pull::pull_with_tls(url, schema, tls))?;
    std::fs::create_dir_all(config_dir)
        .map_err(|e| Failure::new(format!("{}: {e}", config_dir.display())))?;
    let path = config_dir.join("db.graphql");
    let tmp = config_dir.join(".db.graphql.tmp");
    std::fs::write(&tmp, &text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    let tables = text.lines().filter(|l| l.starts_with("type ")).count();
    eprintln!("wrote {} ({tables} types)", path.display());
    Ok(())
}
