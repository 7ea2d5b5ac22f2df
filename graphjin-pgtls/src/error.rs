//! Errors: bad TLS settings, and connections that failed (with the cause named).

use std::io;
use std::path::PathBuf;

use crate::SslMode;

/// A TLS setting that cannot be used: a bad `sslmode`, an unreadable or empty certificate
/// file, a key without its certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The connection string does not parse (the message never holds the password).
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// `sslmode` is not one of libpq's.
    #[error("sslmode={0:?} is not one of disable, allow, prefer, require, verify-ca, verify-full")]
    BadSslMode(String),
    /// `sslsni` is not `0` or `1`.
    #[error("sslsni={0:?} must be 0 or 1")]
    BadSni(String),
    /// `sslrootcert=system` with a mode weaker than `verify-full` (libpq refuses it too).
    #[error(
        "sslrootcert=system needs sslmode=verify-full (the system roots vouch for host names, \
         so a weaker mode would accept any of their certificates); got sslmode={0}"
    )]
    WeakModeWithSystemRoots(SslMode),
    /// A setting this crate does not support.
    #[error("{0}")]
    Unsupported(String),
    /// A certificate or key file could not be read.
    #[error("could not read the {what} file {path}: {source}")]
    ReadFile {
        /// Which file: "root certificate (sslrootcert)", …
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A certificate or key is not valid PEM of the expected kind.
    #[error("the {what} {origin} is not usable: {reason}")]
    BadPem {
        /// Which file: "root certificate (sslrootcert)", …
        what: &'static str,
        /// Its path, or "(inline PEM)".
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A client certificate without its key.
    #[error("a client certificate (sslcert / client_cert) needs its key (sslkey / client_key)")]
    CertWithoutKey,
    /// A client key without its certificate.
    #[error("a client key (sslkey / client_key) needs its certificate (sslcert / client_cert)")]
    KeyWithoutCert,
    /// The client certificate and key are not a pair, or the key type is unsupported.
    #[error("the client certificate and key cannot be used: {0}")]
    ClientAuth(String),
    /// The name the certificate must be for is not a DNS name or IP address.
    #[error(
        "the server name {0:?} is not a DNS name or IP address (a certificate can only be \
         checked against one)"
    )]
    BadServerName(String),
    /// The system trust store holds no certificates.
    #[error(
        "no trusted root certificates: the system trust store is empty or unreadable{0}; \
         give the CA with sslrootcert=/path/to/ca.pem (or server_cert)"
    )]
    NoSystemRoots(String),
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The TLS settings cannot be used.
    #[error(transparent)]
    Config(#[from] TlsError),
    /// The server does not speak TLS but the mode needs it.
    #[error(
        "server does not support TLS but sslmode={0} (turn on `ssl` in the server's \
         postgresql.conf, or use sslmode=prefer)"
    )]
    ServerRefusedTls(SslMode),
    /// The server's certificate does not chain to a trusted root.
    #[error(
        "certificate verify failed: unknown CA (the server's certificate is not signed by a \
         root in {roots}; give the CA that signed it)"
    )]
    UnknownCa {
        /// Which roots were trusted: "sslrootcert /path", "the system trust store".
        roots: String,
    },
    /// The server's certificate is not for the host name.
    #[error(
        "host name mismatch: certificate is for {presented}, not {expected} (connect by a \
         name the certificate has, set server_name, or use sslmode=verify-ca)"
    )]
    HostMismatch {
        /// The names in the certificate.
        presented: String,
        /// The name connected to.
        expected: String,
    },
    /// The certificate failed another check (expired, not yet valid, revoked, …).
    #[error("certificate verify failed: {0}")]
    BadCertificate(String),
    /// The TLS handshake failed for another reason.
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    /// PostgreSQL refused the connection, or the network failed.
    #[error("{}", postgres_message(.0))]
    Postgres(tokio_postgres::Error),
}

impl ConnectError {
    /// The PostgreSQL error, when the failure was not about TLS.
    pub fn postgres(&self) -> Option<&tokio_postgres::Error> {
        match self {
            ConnectError::Postgres(e) => Some(e),
            _ => None,
        }
    }
}

/// A tokio-postgres error with its cause and, for a server error, its detail: the bare
/// `Display` says only "db error" / "error connecting to server".
pub fn postgres_message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut m = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            m.push_str(&format!(" ({detail})"));
        }
        return m;
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}
