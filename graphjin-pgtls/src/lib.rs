//! Opening a PostgreSQL connection with TLS: rustls (ring) under tokio-postgres, with
//! libpq's meaning of `sslmode` (`disable`, `allow`, `prefer`, `require`, `verify-ca`,
//! `verify-full`), `sslrootcert` (a file, or `system`), `sslcert`/`sslkey` (client
//! certificates) and `sslsni`, in URL (`postgres://…?sslmode=verify-full&sslrootcert=ca.pem`)
//! and `key=value` connection strings; and GraphJin's `database.enable_tls`,
//! `server_name`, `server_cert`, `client_cert`, `client_key` keys.
//!
//! ```no_run
//! # async fn demo() -> Result<(), graphjin_pgtls::ConnectError> {
//! let (config, tls) = graphjin_pgtls::TlsOptions::from_url(
//!     "postgres://app@db.example/shop?sslmode=verify-full&sslrootcert=/etc/ca.pem",
//! )?;
//! let (client, connection) = graphjin_pgtls::connect(&config, &tls).await?;
//! tokio::spawn(connection);
//! client.simple_query("SELECT 1").await.map_err(graphjin_pgtls::ConnectError::Postgres)?;
//! # Ok(()) }
//! ```
//!
//! Differences from libpq: no certificate files are read from `~/.postgresql/` (give
//! `sslrootcert` etc.); without `sslrootcert`, `verify-ca`/`verify-full` trust the system
//! store; `prefer` falls back to plain only when the server refuses TLS, not when the
//! handshake fails; `sslcrl`, `sslpassword` (encrypted keys) and channel binding are not
//! supported.

mod connect;
mod error;
mod options;
mod parse;
mod stream;
mod tls_config;
mod verify;

pub use connect::{Connection, cancel, check, connect};
pub use error::{ConnectError, TlsError, postgres_message};
pub use options::{CertSource, RootCerts, SslMode, TlsOptions};
pub use stream::{Handshake, HandshakeError, PgTlsStream};
