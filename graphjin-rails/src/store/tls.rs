//! `rediss://`: TLS to redis over tokio-rustls (ring), checking the server's certificate
//! against the system roots or the CA in the URL's `ca_file` (redis-rb's
//! `ssl_params: { ca_file: }`), and its host name.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::ConnError;

/// How a `rediss://` endpoint's connections are encrypted.
pub(crate) struct Tls {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    /// Where the roots come from, for messages: the CA file or "the system trust store".
    roots: String,
}

impl Tls {
    /// TLS to `host` (no port, no brackets), trusting `ca_file` when given, else the
    /// operating system's roots. The error says what to fix.
    pub(crate) fn new(host: &str, ca_file: Option<&Path>) -> Result<Tls, String> {
        let (store, roots) = match ca_file {
            Some(path) => (ca_roots(path)?, path.display().to_string()),
            None => (system_roots()?, "the system trust store".to_owned()),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .with_root_certificates(store)
            .with_no_client_auth();
        let server_name = ServerName::try_from(host.to_owned())
            .map_err(|_| format!("host {host:?} is not a DNS name or IP address"))?;
        Ok(Tls {
            config: Arc::new(config),
            server_name,
            roots,
        })
    }

    /// Encrypts a connected socket; a refused certificate is named.
    pub(crate) async fn handshake(&self, tcp: TcpStream) -> Result<Stream, ConnError> {
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(self.server_name.clone(), tcp)
            .await
            .map(|s| Stream::Tls(Box::new(s)))
            .map_err(|e| self.handshake_error(e))
    }

    fn handshake_error(&self, e: io::Error) -> ConnError {
        let Some(rustls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
            return ConnError::Io(e);
        };
        let message = match rustls {
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => format!(
                "certificate verify failed: unknown CA (the server's certificate is not \
                 signed by a root in {}; give its CA with ?ca_file=/path/ca.pem)",
                self.roots
            ),
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => format!(
                "host name mismatch: the server's certificate is not for {} (connect by a \
                 name the certificate has)",
                self.server_name.to_str()
            ),
            rustls::Error::InvalidCertificate(other) => {
                format!("certificate verify failed: {other}")
            }
            other => format!("TLS handshake failed: {other}"),
        };
        ConnError::Protocol(message)
    }
}

/// The CA certificates in a PEM file.
fn ca_roots(path: &Path) -> Result<RootCertStore, String> {
    let text =
        std::fs::read(path).map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&text) {
        let cert = cert.map_err(|e| format!("ca_file {} is not PEM: {e}", path.display()))?;
        store
            .add(cert)
            .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
    }
    if store.is_empty() {
        return Err(format!(
            "ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(store)
}

/// The operating system's trust store.
fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(found.certs);
    if store.is_empty() {
        return Err(
            "the system trust store is empty or unreadable: give the CA with \
             ?ca_file=/path/ca.pem"
                .to_owned(),
        );
    }
    Ok(store)
}

/// A redis connection: plain TCP (`redis://`) or TLS (`rediss://`).
pub(crate) enum Stream {
    /// `redis://`.
    Plain(TcpStream),
    /// `rediss://`.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}
