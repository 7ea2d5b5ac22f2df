//! Opening the replicas' pools at start-up, each like the primary's: the same statements
//! prepared, the same session setup, TLS from its URL (and the builder's keys).

use std::sync::Arc;

use graphjin_pgtls::TlsOptions;

use super::{ReplicaSpec, Replicas};
use crate::catalog::Catalog;
use crate::conn::Opener;
use crate::deadline::Limits;
use crate::pool::{Pool, SessionSetup};
use crate::{Error, PoolOptions};

/// The replicas of `specs`, each with its pool and a first connection prepared. A replica
/// that cannot be reached starts out of use (the check puts it back when it answers); a
/// statement that does not prepare on one stops start-up, as on the primary. `keys`: the
/// builder's TLS keys, laid over a replica's URL settings unless the replica has its own.
pub(crate) async fn open(
    specs: Vec<ReplicaSpec>,
    keys: Option<&TlsOptions>,
    catalog: &Arc<Catalog>,
    options: &PoolOptions,
    limits: &Limits,
) -> Result<Replicas, Error> {
    let mut replicas = Vec::new();
    for spec in specs {
        let (mut config, url_tls) =
            TlsOptions::from_url(spec.url.expose()).map_err(|e| Error::InvalidUrl {
                message: format!(
                    "read replica: {}",
                    match e {
                        graphjin_pgtls::TlsError::InvalidUrl(message) => message,
                        other => other.to_string(),
                    }
                ),
            })?;
        let tls = match spec.tls.as_ref().or(keys) {
            Some(keys) => keys.clone().over(url_tls),
            None => url_tls,
        };
        if config.get_connect_timeout().is_none()
            && let Some(t) = options.connect_timeout
        {
            config.connect_timeout(t);
        }
        if config.get_application_name().is_none() {
            config.application_name("graphjin");
        }
        let opener = Opener::new(config, catalog.clone())
            .with_tls(tls)
            .with_setup(SessionSetup::new(options, limits.server_timeout()));
        let pool = Pool::new(opener, options, limits.server_timeout());
        let reason = match pool.open_first().await {
            Ok(()) => None,
            Err(e @ (Error::Connect { .. } | Error::Unavailable { .. })) => {
                tracing::warn!(
                    replica = pool.target(),
                    error = %e,
                    "read replica unreachable at start-up: reads go elsewhere until it answers"
                );
                Some(format!("down: {e}"))
            }
            Err(e) => return Err(e),
        };
        replicas.push(super::Replica::new(pool, reason));
    }
    Ok(Replicas::new(replicas, options.read_your_writes))
}
