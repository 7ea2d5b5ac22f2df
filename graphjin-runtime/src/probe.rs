//! The readiness check's connection: one of its own, outside the pool and kept between
//! checks. A check is never queued behind the pool's calls (a statement waiting on a
//! lock, a full pool), so it answers for the database, not for the load; and it costs no
//! connection start each time. A check that fails or times out drops the connection, and
//! the next check opens another.

use std::time::Duration;

use crate::Error;
use crate::conn::{Bare, Opener};
use crate::error::pg_message;

/// The readiness check's connection, opened at the first check.
#[derive(Default)]
pub(crate) struct Probe {
    conn: tokio::sync::Mutex<Option<Bare>>,
}

impl Probe {
    /// Checks the database answers `SELECT 1` within `limit` (opening the connection
    /// first when there is none).
    pub(crate) async fn check(&self, opener: &Opener, limit: Duration) -> Result<(), Error> {
        let checking = async {
            let mut kept = self.conn.lock().await;
            let conn = match kept.take() {
                Some(conn) if !conn.client.is_closed() => conn,
                _ => opener.open_bare().await?,
            };
            // Put back only once it answered: a check cut short drops the connection.
            match conn.client.simple_query("SELECT 1").await {
                Ok(_) => {
                    *kept = Some(conn);
                    Ok(())
                }
                Err(e) => Err(Error::Unavailable {
                    message: pg_message(&e),
                }),
            }
        };
        tokio::time::timeout(limit, checking)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Unavailable {
                    message: format!(
                        "no answer from {} within {} ms",
                        opener.target(),
                        limit.as_millis()
                    ),
                })
            })
    }
}
