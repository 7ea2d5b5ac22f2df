//! rustls's client config from [`TlsOptions`]: the roots, the verifier the mode calls for,
//! and the client certificate.

use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{Error as PemError, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::verify::{AnyCertificate, ChainOnly};
use crate::{CertSource, RootCerts, TlsError, TlsOptions};

const ROOT: &str = "root certificate (sslrootcert / server_cert)";
const CLIENT_CERT: &str = "client certificate (sslcert / client_cert)";
const CLIENT_KEY: &str = "client key (sslkey / client_key)";

/// The crypto provider: ring, as the rest of the workspace (reqwest) uses.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The client config for these options. Certificate files are read on every call, so a
/// rotated certificate is used by the next connection; the system store is read once.
pub(crate) fn client_config(tls: &TlsOptions) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = if tls.verifies_chain() {
        let roots = roots(tls.root_cert.as_ref())?;
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| TlsError::BadPem {
                what: ROOT,
                origin: roots_origin(tls.root_cert.as_ref()),
                reason: e.to_string(),
            })?;
        if tls.verifies_host() {
            webpki
        } else {
            Arc::new(ChainOnly(webpki))
        }
    } else {
        Arc::new(AnyCertificate(provider.clone()))
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Unsupported(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(client_certs(cert)?, client_key(key)?)
            .map_err(|e| TlsError::ClientAuth(e.to_string()))?,
        (Some(_), None) => return Err(TlsError::CertWithoutKey),
        (None, Some(_)) => return Err(TlsError::KeyWithoutCert),
        (None, None) => builder.with_no_client_auth(),
    };
    config.enable_sni = tls.sni;
    // PostgreSQL 17 checks the protocol when a client names one; older servers ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Arc::new(config))
}

/// Where the roots come from, for messages.
pub(crate) fn roots_origin(root: Option<&RootCerts>) -> String {
    match root {
        Some(RootCerts::Cert(src)) => src.origin(),
        Some(RootCerts::System) | None => "the system trust store".to_owned(),
    }
}

fn roots(root: Option<&RootCerts>) -> Result<Arc<RootCertStore>, TlsError> {
    match root {
        Some(RootCerts::Cert(src)) => {
            let mut store = RootCertStore::empty();
            for cert in certs(src, ROOT)? {
                store.add(cert).map_err(|e| TlsError::BadPem {
                    what: ROOT,
                    origin: src.origin(),
                    reason: e.to_string(),
                })?;
            }
            Ok(Arc::new(store))
        }
        Some(RootCerts::System) | None => system_roots(),
    }
}

/// The operating system's trust store, read once per process.
fn system_roots() -> Result<Arc<RootCertStore>, TlsError> {
    static SYSTEM: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    SYSTEM
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut store = RootCertStore::empty();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                let why = found
                    .errors
                    .first()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                return Err(why);
            }
            Ok(Arc::new(store))
        })
        .clone()
        .map_err(TlsError::NoSystemRoots)
}

/// The PEM text of a source.
fn pem(src: &CertSource, what: &'static str) -> Result<Vec<u8>, TlsError> {
    match src {
        CertSource::Pem(text) => Ok(text.as_bytes().to_vec()),
        CertSource::Path(path) => std::fs::read(path).map_err(|source| TlsError::ReadFile {
            what,
            path: path.clone(),
            source,
        }),
    }
}

/// Every certificate in a PEM source; at least one.
fn certs(src: &CertSource, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let text = pem(src, what)?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            what,
            origin: src.origin(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::BadPem {
            what,
            origin: src.origin(),
            reason: "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
        });
    }
    Ok(certs)
}

fn client_certs(src: &CertSource) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    certs(src, CLIENT_CERT)
}

/// The first private key in a PEM source: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
fn client_key(src: &CertSource) -> Result<PrivateKeyDer<'static>, TlsError> {
    let text = pem(src, CLIENT_KEY)?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| TlsError::BadPem {
        what: CLIENT_KEY,
        origin: src.origin(),
        // Never the error's own text: it may quote lines of the key.
        reason: match e {
            PemError::NoItemsFound => "it holds no unencrypted PEM private key (PKCS#8, RSA or EC)",
            PemError::MissingSectionEnd { .. } => "a PEM section has no END line",
            PemError::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed",
            PemError::Base64Decode(_) => "the PEM body is not valid base64",
            _ => "it is not a readable PEM private key",
        }
        .to_owned(),
    })
}
