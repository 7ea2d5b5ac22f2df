//! Certificates for TLS test clusters (feature `tls`): a throwaway CA, a server certificate
//! signed by it, client certificates, and the [`StartOptions`] that turn `ssl` on.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::{Error, StartOptions};

/// A throwaway certificate authority and a server certificate it signed.
pub struct TestPki {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM: what clients trust (`sslrootcert`).
    pub ca_pem: String,
    /// The server certificate, PEM.
    pub server_cert_pem: String,
    /// The server's private key, PEM (PKCS#8).
    pub server_key_pem: String,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

fn cert_error(e: rcgen::Error) -> Error {
    Error::Certificate(e.to_string())
}

impl TestPki {
    /// A new CA (common name `ca_name`) and a server certificate for `server_names` (DNS
    /// names or IP addresses).
    pub fn new(ca_name: &str, server_names: &[&str]) -> Result<TestPki, Error> {
        let ca_key = KeyPair::generate().map_err(cert_error)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name = DistinguishedName::new();
        ca.distinguished_name.push(DnType::CommonName, ca_name);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_pem = ca.self_signed(&ca_key).map_err(cert_error)?.pem();
        let issuer = Issuer::new(ca, ca_key);
        let names: Vec<String> = server_names.iter().map(|s| (*s).to_owned()).collect();
        let (server_cert_pem, server_key_pem) = sign(&issuer, names, server_names[0])?;
        Ok(TestPki {
            issuer,
            ca_pem,
            server_cert_pem,
            server_key_pem,
        })
    }

    /// A client certificate with common name `user` (what PostgreSQL's `cert` auth
    /// matches against the user name), signed by this CA: (certificate PEM, key PEM).
    pub fn client(&self, user: &str) -> Result<(String, String), Error> {
        sign(&self.issuer, Vec::new(), user)
    }

    /// Start options with `ssl = on`, the server certificate and key in the data
    /// directory, and this CA as `ssl_ca_file` (so client certificates can be checked).
    pub fn start_options(&self) -> StartOptions {
        let file = |name: &str, text: &str| (name.to_owned(), text.as_bytes().to_vec());
        let set = |name: &str, value: &str| (name.to_owned(), value.to_owned());
        StartOptions {
            files: vec![
                file("server.crt", &self.server_cert_pem),
                file("server.key", &self.server_key_pem),
                file("root.crt", &self.ca_pem),
            ],
            settings: vec![
                set("ssl", "on"),
                set("ssl_cert_file", "server.crt"),
                set("ssl_key_file", "server.key"),
                set("ssl_ca_file", "root.crt"),
            ],
            hba_lines: Vec::new(),
            server_locale: None,
        }
    }
}

/// A certificate for `names` with common name `cn`, signed by `issuer`.
fn sign(
    issuer: &Issuer<'static, KeyPair>,
    names: Vec<String>,
    cn: &str,
) -> Result<(String, String), Error> {
    let key = KeyPair::generate().map_err(cert_error)?;
    let mut params = CertificateParams::new(names).map_err(cert_error)?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.signed_by(&key, issuer).map_err(cert_error)?;
    Ok((cert.pem(), key.serialize_pem()))
}
