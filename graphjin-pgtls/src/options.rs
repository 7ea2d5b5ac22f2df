//! What a connection's TLS should be: libpq's `sslmode` and the certificates.

use std::fmt;
use std::path::PathBuf;

use crate::TlsError;

/// libpq's `sslmode`: whether TLS is used and what of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plain connection only.
    Disable,
    /// Plain first; TLS (unverified) only when the server refuses the plain connection.
    Allow,
    /// TLS when the server offers it, plain when it refuses TLS (libpq's default).
    #[default]
    Prefer,
    /// TLS or fail; the certificate is not checked unless a root certificate is given
    /// (then it is checked like `verify-ca`, as libpq does).
    Require,
    /// TLS, and the server's certificate chain must end at a trusted root.
    VerifyCa,
    /// `verify-ca`, and the certificate must be for the host connected to.
    VerifyFull,
}

impl SslMode {
    /// The mode from its libpq name (`disable` … `verify-full`).
    pub fn parse(value: &str) -> Result<SslMode, TlsError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => return Err(TlsError::BadSslMode(other.to_owned())),
        })
    }

    /// The libpq name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A certificate or key: a file path, or the PEM text itself (GraphJin's `server_cert`,
/// `client_cert` and `client_key` take either).
#[derive(Clone, PartialEq, Eq)]
pub enum CertSource {
    /// A PEM file.
    Path(PathBuf),
    /// PEM text.
    Pem(String),
}

impl CertSource {
    /// A value as GraphJin reads it: PEM text when it holds `-----BEGIN` (a literal `\n`
    /// in it is a line break, as GraphJin allows in one-line YAML/env values), else a path.
    pub fn parse(value: &str) -> CertSource {
        if value.contains("-----BEGIN") {
            CertSource::Pem(value.replace("\\n", "\n"))
        } else {
            CertSource::Path(PathBuf::from(value))
        }
    }

    /// Where it comes from, for messages: the path, or "inline PEM" (never the text, which
    /// may be a private key).
    pub fn origin(&self) -> String {
        match self {
            CertSource::Path(p) => p.display().to_string(),
            CertSource::Pem(_) => "(inline PEM)".to_owned(),
        }
    }
}

impl fmt::Debug for CertSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertSource::Path(p) => f.debug_tuple("Path").field(p).finish(),
            CertSource::Pem(text) => write!(f, "Pem(<{} bytes>)", text.len()),
        }
    }
}

/// The roots a server certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// The operating system's trust store (libpq's `sslrootcert=system`).
    System,
    /// These CA certificates only.
    Cert(CertSource),
}

/// How a connection uses TLS: libpq's `sslmode`, `sslrootcert`, `sslcert`, `sslkey` and
/// `sslsni`, or GraphJin's `database.enable_tls` keys.
///
/// Read from a URL with [`TlsOptions::from_url`]; GraphJin's keys with
/// [`TlsOptions::from_graphjin_keys`], laid over the URL's with [`TlsOptions::over`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Whether TLS is used and what is checked.
    pub mode: SslMode,
    /// The roots the server's certificate must chain to; `None` = the system roots (for
    /// `verify-ca`/`verify-full`; the other modes then check nothing).
    pub root_cert: Option<RootCerts>,
    /// A client certificate (chain) to present, PEM.
    pub client_cert: Option<CertSource>,
    /// The client certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub client_key: Option<CertSource>,
    /// The name the server's certificate must be for (and sent as SNI), instead of the
    /// host connected to (GraphJin's `server_name`).
    pub server_name: Option<String>,
    /// Whether the host name is sent as SNI (libpq's `sslsni`, default on).
    pub sni: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            mode: SslMode::Prefer,
            root_cert: None,
            client_cert: None,
            client_key: None,
            server_name: None,
            sni: true,
        }
    }
}

impl TlsOptions {
    /// Options with this mode and nothing else set.
    pub fn with_mode(mode: SslMode) -> TlsOptions {
        TlsOptions {
            mode,
            ..TlsOptions::default()
        }
    }

    /// GraphJin's `database:` keys `enable_tls`, `server_name`, `server_cert`,
    /// `client_cert` and `client_key` (each cert/key a file path or the PEM text; empty =
    /// unset). `None` when `enable_tls` is false: then GraphJin ignores the other keys and
    /// the URL's `sslmode` decides.
    ///
    /// With `enable_tls`, the connection is `verify-full`: the certificate must chain to
    /// `server_cert` (the system roots when unset — GraphJin requires it) and be for
    /// `server_name` (the URL's host when unset — GraphJin requires it). A client
    /// certificate needs its key.
    pub fn from_graphjin_keys(
        enable_tls: bool,
        server_name: Option<&str>,
        server_cert: Option<&str>,
        client_cert: Option<&str>,
        client_key: Option<&str>,
    ) -> Result<Option<TlsOptions>, TlsError> {
        fn set(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        if !enable_tls {
            return Ok(None);
        }
        let client_cert = set(client_cert).map(CertSource::parse);
        let client_key = set(client_key).map(CertSource::parse);
        match (&client_cert, &client_key) {
            (Some(_), None) => return Err(TlsError::CertWithoutKey),
            (None, Some(_)) => return Err(TlsError::KeyWithoutCert),
            _ => {}
        }
        Ok(Some(TlsOptions {
            mode: SslMode::VerifyFull,
            root_cert: set(server_cert).map(|v| RootCerts::Cert(CertSource::parse(v))),
            client_cert,
            client_key,
            server_name: set(server_name).map(str::to_owned),
            sni: true,
        }))
    }

    /// These options laid over `base` (a URL's): this mode, and each certificate, key or
    /// name set here replaces `base`'s.
    pub fn over(self, base: TlsOptions) -> TlsOptions {
        TlsOptions {
            mode: self.mode,
            root_cert: self.root_cert.or(base.root_cert),
            client_cert: self.client_cert.or(base.client_cert),
            client_key: self.client_key.or(base.client_key),
            server_name: self.server_name.or(base.server_name),
            sni: self.sni && base.sni,
        }
    }

    /// Whether the server's certificate chain is checked: `verify-ca`/`verify-full`, or
    /// any TLS mode given a root certificate (libpq checks the chain whenever it has one).
    pub fn verifies_chain(&self) -> bool {
        match self.mode {
            SslMode::Disable => false,
            SslMode::VerifyCa | SslMode::VerifyFull => true,
            SslMode::Allow | SslMode::Prefer | SslMode::Require => self.root_cert.is_some(),
        }
    }

    /// Whether the certificate must be for the host (`verify-full`).
    pub fn verifies_host(&self) -> bool {
        self.mode == SslMode::VerifyFull
    }
}
