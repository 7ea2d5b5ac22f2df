//! Opening a connection: the `sslmode` dance (`allow` retries with TLS, `prefer` falls back
//! to plain when the server refuses TLS) and naming why a handshake failed.

use rustls::{AlertDescription, CertificateError};
use tokio_postgres::config::{Host, SslMode as PgSslMode};
use tokio_postgres::{Client, Socket};

use crate::stream::{HandshakeError, MakeRustls, PgTlsStream};
use crate::tls_config::{client_config, roots_origin};
use crate::{ConnectError, SslMode, TlsError, TlsOptions};

/// A connection's I/O half: poll it (spawn it) for the [`Client`] to work.
pub type Connection = tokio_postgres::Connection<Socket, PgTlsStream>;

/// Opens a connection with `config` (from [`TlsOptions::from_url`] or built by hand) and
/// these TLS options, following libpq's `sslmode`:
///
/// - `disable`: plain; `allow`: plain, and TLS if the server refuses plain;
/// - `prefer`: TLS if the server offers it, else plain;
/// - `require`, `verify-ca`, `verify-full`: TLS or fail.
///
/// Unix-socket connections are always plain (PostgreSQL has no TLS on them), as in libpq.
/// Certificate files are read on each call, so rotated certificates are picked up.
///
/// The returned [`Connection`] must be polled (usually `tokio::spawn(connection)`).
pub async fn connect(
    config: &tokio_postgres::Config,
    tls: &TlsOptions,
) -> Result<(Client, Connection), ConnectError> {
    let only_unix = !config.get_hosts().is_empty()
        && config.get_hostaddrs().is_empty()
        && config
            .get_hosts()
            .iter()
            .all(|h| !matches!(h, Host::Tcp(_)));
    let mode = if only_unix {
        SslMode::Disable
    } else {
        tls.mode
    };
    let make = || -> Result<MakeRustls, TlsError> {
        Ok(MakeRustls {
            config: match mode {
                SslMode::Disable => None,
                _ => Some(client_config(tls)?),
            },
            server_name: tls.server_name.clone(),
        })
    };
    let attempt = |pg_mode: PgSslMode, make: MakeRustls| {
        let mut config = config.clone();
        config.ssl_mode(pg_mode);
        async move { config.connect(make).await }
    };
    let result = match mode {
        SslMode::Disable => attempt(PgSslMode::Disable, make()?).await,
        SslMode::Allow => match attempt(PgSslMode::Disable, make()?).await {
            // The server refused the plain connection (pg_hba `hostssl`, …): try TLS.
            Err(e) if e.as_db_error().is_some() => attempt(PgSslMode::Require, make()?).await,
            other => other,
        },
        SslMode::Prefer => attempt(PgSslMode::Prefer, make()?).await,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            attempt(PgSslMode::Require, make()?).await
        }
    };
    result.map_err(|e| explain(e, tls))
}

/// Asks the server to cancel the statement running on the connection `token` came from,
/// over a new connection with the same TLS settings as that connection used (the token
/// keeps its `sslmode`; a plain connection's cancel goes plain). PostgreSQL answers
/// nothing: `Ok` means the request was delivered, not that a statement was cancelled.
pub async fn cancel(
    token: &tokio_postgres::CancelToken,
    tls: &TlsOptions,
) -> Result<(), ConnectError> {
    let make = MakeRustls {
        config: match tls.mode {
            SslMode::Disable => None,
            _ => Some(client_config(tls)?),
        },
        server_name: tls.server_name.clone(),
    };
    token.cancel_query(make).await.map_err(|e| explain(e, tls))
}

/// Builds the TLS client config once to check the options (certificate files readable,
/// keys parse, roots present) without connecting.
pub fn check(tls: &TlsOptions) -> Result<(), TlsError> {
    if tls.mode != SslMode::Disable {
        client_config(tls)?;
    }
    Ok(())
}

/// Names why a connection failed, when it was TLS's doing.
fn explain(e: tokio_postgres::Error, tls: &TlsOptions) -> ConnectError {
    let cause = std::error::Error::source(&e);
    if let Some(handshake) = cause.and_then(|c| c.downcast_ref::<HandshakeError>()) {
        return handshake_error(handshake, tls);
    }
    if cause.is_some_and(|c| c.to_string() == "server does not support TLS") {
        return ConnectError::ServerRefusedTls(tls.mode);
    }
    ConnectError::Postgres(e)
}

fn handshake_error(e: &HandshakeError, tls: &TlsOptions) -> ConnectError {
    let rustls = match e {
        HandshakeError::Rustls(r) => r,
        HandshakeError::BadServerName(name) => {
            return ConnectError::Config(TlsError::BadServerName(name.clone()));
        }
        other => return ConnectError::Handshake(other.to_string()),
    };
    match rustls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => ConnectError::UnknownCa {
                roots: roots_origin(tls.root_cert.as_ref()),
            },
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => ConnectError::HostMismatch {
                presented: if presented.is_empty() {
                    "no host name".to_owned()
                } else {
                    presented
                        .iter()
                        .map(|n| bare_name(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                expected: expected.to_str().into_owned(),
            },
            CertificateError::NotValidForName => ConnectError::HostMismatch {
                presented: "other names".to_owned(),
                expected: tls
                    .server_name
                    .clone()
                    .unwrap_or_else(|| "the host".to_owned()),
            },
            other => ConnectError::BadCertificate(other.to_string()),
        },
        rustls::Error::AlertReceived(alert) => ConnectError::Handshake(match alert {
            AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateRequired
            | AlertDescription::CertificateUnknown => format!(
                "the server refused the client certificate ({alert:?}); check sslcert / \
                 client_cert is signed by the server's ssl_ca_file"
            ),
            other => format!("the server sent alert {other:?}"),
        }),
        other => ConnectError::Handshake(other.to_string()),
    }
}

/// A name as rustls presents it (`DnsName("db.example")`, `IpAddress(10.0.0.1)`) without
/// the wrapping.
fn bare_name(presented: &str) -> &str {
    let inner = match presented.split_once('(') {
        Some((kind, rest)) if kind.chars().all(|c| c.is_ascii_alphanumeric()) => {
            rest.strip_suffix(')').unwrap_or(rest)
        }
        _ => presented,
    };
    inner.trim_matches('"')
}

#[cfg(test)]
mod tests {
    #[test]
    fn presented_names_lose_their_wrapping() {
        assert_eq!(super::bare_name("DnsName(\"db.example\")"), "db.example");
        assert_eq!(super::bare_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(super::bare_name("db.example"), "db.example");
    }
}
