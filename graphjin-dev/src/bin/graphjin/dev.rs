//! `graphjin dev`: the development server.

use std::net::SocketAddr;
use std::path::Path;

use crate::output::{Failure, Outcome};

/// Serves the config folder against the database at `url` (none: a message saying what to
/// pass) on `listen`, until stopped.
pub fn serve(config_dir: &Path, url: Option<&str>, listen: SocketAddr) -> Outcome {
    let url = url.ok_or_else(|| Failure::new("dev needs --database-url URL (or DATABASE_URL)"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("could not start the async runtime: {e}")))?;
    rt.block_on(async {
        let opts = graphjin_dev::DevOptions::new(config_dir, url);
        let server = graphjin_dev::DevServer::start(opts).await?;
        server.serve(listen).await?;
        Ok(())
    })
}
