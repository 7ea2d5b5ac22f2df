//! tokio-postgres's TLS hooks over tokio-rustls: the connector it calls per host, and the
//! stream (with `tls-server-end-point` channel binding for SCRAM-SHA-256-PLUS).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use sha2::{Digest, Sha256, Sha384, Sha512};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::Socket;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// Makes a [`Handshake`] per host tokio-postgres connects to.
pub(crate) struct MakeRustls {
    /// `None` when TLS is off (tokio-postgres still asks for a connector, never uses it).
    pub(crate) config: Option<Arc<ClientConfig>>,
    /// The name the certificate must be for, instead of the host.
    pub(crate) server_name: Option<String>,
}

impl MakeTlsConnect<Socket> for MakeRustls {
    type Stream = PgTlsStream;
    type TlsConnect = Handshake;
    type Error = HandshakeError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Handshake, HandshakeError> {
        let name = self.server_name.as_deref().unwrap_or(domain);
        // A bad name fails the handshake, not this call: tokio-postgres makes a connector
        // even for a connection that turns out plain (a unix socket, `prefer` refused).
        let name = ServerName::try_from(name.to_owned())
            .map_err(|_| HandshakeError::BadServerName(name.to_owned()));
        Ok(Handshake {
            config: self.config.clone(),
            name,
        })
    }
}

/// One TLS handshake, to one host.
pub struct Handshake {
    config: Option<Arc<ClientConfig>>,
    name: Result<ServerName<'static>, HandshakeError>,
}

impl TlsConnect<Socket> for Handshake {
    type Stream = PgTlsStream;
    type Error = HandshakeError;
    type Future = Pin<Box<dyn Future<Output = Result<PgTlsStream, HandshakeError>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let config = self.config.ok_or(HandshakeError::Off)?;
            let name = self.name?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await
                .map_err(HandshakeError::from_io)?;
            Ok(PgTlsStream(Box::new(stream)))
        })
    }
}

/// Why a handshake failed (read by [`crate::connect`] to name the cause).
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// rustls refused: a certificate check, an alert from the server, a protocol error.
    #[error("{0}")]
    Rustls(rustls::Error),
    /// The network failed during the handshake.
    #[error("{0}")]
    Io(io::Error),
    /// The host name cannot be checked against a certificate.
    #[error("the server name {0:?} is not a DNS name or IP address")]
    BadServerName(String),
    /// TLS was off but a handshake was asked for.
    #[error("TLS is off (sslmode=disable)")]
    Off,
}

impl HandshakeError {
    fn from_io(e: io::Error) -> HandshakeError {
        if !e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
            return HandshakeError::Io(e);
        }
        match e
            .into_inner()
            .map(|inner| inner.downcast::<rustls::Error>())
        {
            Some(Ok(rustls)) => HandshakeError::Rustls(*rustls),
            _ => HandshakeError::Io(io::Error::other("TLS handshake failed")),
        }
    }
}

/// A TLS connection to PostgreSQL.
pub struct PgTlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl TlsStream for PgTlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        let (_, session) = self.0.get_ref();
        match session
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|cert| server_end_point(cert.as_ref()))
        {
            Some(hash) => ChannelBinding::tls_server_end_point(hash),
            None => ChannelBinding::none(),
        }
    }
}

impl AsyncRead for PgTlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for PgTlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

/// RFC 5929 `tls-server-end-point`: the certificate's hash with its signature's hash
/// (SHA-256 for MD5/SHA-1/SHA-256), as PostgreSQL computes it. `None` for signatures
/// without one (Ed25519, RSA-PSS): then SCRAM runs without channel binding.
fn server_end_point(cert: &[u8]) -> Option<Vec<u8>> {
    const SHA384_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
    const SHA512_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
    const RSA_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
    const ECDSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
    const ECDSA_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    const RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    let oid = signature_algorithm(cert)?;
    Some(match oid {
        SHA384_RSA | ECDSA_SHA384 => Sha384::digest(cert).to_vec(),
        SHA512_RSA | ECDSA_SHA512 => Sha512::digest(cert).to_vec(),
        RSA_PSS => return None,
        _ if oid.starts_with(RSA_PREFIX) || oid.starts_with(ECDSA_PREFIX) => {
            Sha256::digest(cert).to_vec()
        }
        _ => return None,
    })
}

/// The OID of a DER certificate's `signatureAlgorithm`.
fn signature_algorithm(cert: &[u8]) -> Option<&[u8]> {
    let (0x30, body, _) = der(cert)? else {
        return None;
    };
    let (_, _, rest) = der(body)?; // tbsCertificate
    let (0x30, algorithm, _) = der(rest)? else {
        return None;
    };
    match der(algorithm)? {
        (0x06, oid, _) => Some(oid),
        _ => None,
    }
}

/// One DER element: its tag, its contents, and what follows it.
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for b in input.get(2..2 + n)? {
            len = (len << 8) | usize::from(*b);
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, input.get(header..end)?, input.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_point_hash_follows_the_signature() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).ok();
        let cert = key.as_ref().and_then(|k| {
            rcgen::CertificateParams::new(vec!["localhost".to_owned()])
                .ok()?
                .self_signed(k)
                .ok()
        });
        let Some(cert) = cert else {
            panic!("rcgen makes a certificate")
        };
        let der = cert.der().as_ref();
        assert_eq!(server_end_point(der), Some(Sha384::digest(der).to_vec()));
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).ok();
        let cert = key.as_ref().and_then(|k| {
            rcgen::CertificateParams::new(vec!["localhost".to_owned()])
                .ok()?
                .self_signed(k)
                .ok()
        });
        let Some(cert) = cert else {
            panic!("rcgen makes a certificate")
        };
        let der = cert.der().as_ref();
        assert_eq!(server_end_point(der), Some(Sha256::digest(der).to_vec()));
        assert_eq!(server_end_point(b"\x30\x03\x02\x01"), None);
    }
}
