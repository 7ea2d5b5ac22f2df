//! Reading the TLS settings out of a connection string, and handing the rest to
//! tokio-postgres (which rejects `sslrootcert`, `sslcert`, `sslkey`, `sslsni` and the
//! `sslmode`s `allow`, `verify-ca` and `verify-full`).

use std::borrow::Cow;
use std::ops::Range;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::{CertSource, RootCerts, SslMode, TlsError, TlsOptions};

/// The keys this crate reads and removes before tokio-postgres parses the string.
const TLS_KEYS: &[&str] = &["sslmode", "sslrootcert", "sslcert", "sslkey", "sslsni"];

/// The keys libpq has that this crate cannot honour: refused rather than ignored.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "sslpassword",
        "sslpassword is not supported: decrypt the key (`openssl pkey -in key.pem -out key.plain.pem`)",
    ),
    (
        "sslcrl",
        "sslcrl is not supported (certificate revocation lists are not checked)",
    ),
    (
        "sslcrldir",
        "sslcrldir is not supported (certificate revocation lists are not checked)",
    ),
];

impl TlsOptions {
    /// Splits a connection string (a `postgres://`/`postgresql://` URL or libpq
    /// `key=value` pairs) into tokio-postgres's config and the TLS options.
    ///
    /// Reads `sslmode` (default `prefer`), `sslrootcert` (a path, or `system`: the OS
    /// trust store, which needs `verify-full` and makes it the default), `sslcert`,
    /// `sslkey` and `sslsni`. Error messages never hold the password.
    pub fn from_url(url: &str) -> Result<(tokio_postgres::Config, TlsOptions), TlsError> {
        let pairs = if is_url(url) {
            url_pairs(url)
        } else {
            keyword_pairs(url)?
        };
        let mut settings = Settings::default();
        let mut cut = Vec::new();
        for pair in pairs {
            if let Some((_, why)) = UNSUPPORTED.iter().find(|(k, _)| *k == pair.key) {
                return Err(TlsError::Unsupported((*why).to_owned()));
            }
            if TLS_KEYS.contains(&pair.key.as_ref()) {
                settings.set(&pair.key, &pair.value)?;
                cut.push(pair.span);
            }
        }
        let rest = remove_spans(url, &cut, is_url(url));
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e: tokio_postgres::Error| TlsError::InvalidUrl(config_message(&e)))?;
        let tls = settings.finish()?;
        config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        Ok((config, tls))
    }
}

/// tokio-postgres's parse error with its cause ("invalid value for option `port`"); it
/// never holds a value.
fn config_message(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => cause.to_string(),
        None => e.to_string(),
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// The TLS keys as read, before they are checked against each other.
#[derive(Default)]
struct Settings {
    mode: Option<SslMode>,
    root: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    sni: Option<bool>,
}

impl Settings {
    fn set(&mut self, key: &str, value: &str) -> Result<(), TlsError> {
        let nonempty = || Some(value.to_owned()).filter(|v| !v.is_empty());
        match key {
            "sslmode" => self.mode = Some(SslMode::parse(value)?),
            "sslrootcert" => self.root = nonempty(),
            "sslcert" => self.cert = nonempty(),
            "sslkey" => self.key = nonempty(),
            "sslsni" => {
                self.sni = Some(match value {
                    "0" => false,
                    "1" => true,
                    other => return Err(TlsError::BadSni(other.to_owned())),
                })
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<TlsOptions, TlsError> {
        let root_cert = self.root.map(|r| match r.as_str() {
            "system" => RootCerts::System,
            _ => RootCerts::Cert(CertSource::Path(PathBuf::from(r))),
        });
        let mode = match (&root_cert, self.mode) {
            (Some(RootCerts::System), None) => SslMode::VerifyFull,
            (Some(RootCerts::System), Some(SslMode::VerifyFull)) => SslMode::VerifyFull,
            (Some(RootCerts::System), Some(SslMode::Disable)) => SslMode::Disable,
            (Some(RootCerts::System), Some(weak)) => {
                return Err(TlsError::WeakModeWithSystemRoots(weak));
            }
            (_, mode) => mode.unwrap_or_default(),
        };
        let client_cert = self.cert.map(|c| CertSource::Path(PathBuf::from(c)));
        let client_key = self.key.map(|k| CertSource::Path(PathBuf::from(k)));
        match (&client_cert, &client_key) {
            (Some(_), None) => return Err(TlsError::CertWithoutKey),
            (None, Some(_)) => return Err(TlsError::KeyWithoutCert),
            _ => {}
        }
        Ok(TlsOptions {
            mode,
            root_cert,
            client_cert,
            client_key,
            server_name: None,
            sni: self.sni.unwrap_or(true),
        })
    }
}

/// One `key=value` of a connection string, and where it is in the string.
struct Pair<'a> {
    key: Cow<'a, str>,
    value: String,
    span: Range<usize>,
}

/// The query parameters of a URL (percent-decoded), each with its span including one
/// neighbouring `&` so removing it keeps the query well formed.
fn url_pairs(url: &str) -> Vec<Pair<'_>> {
    let Some(q) = url.find('?') else {
        return Vec::new();
    };
    let end = url.find('#').filter(|&h| h > q).unwrap_or(url.len());
    let mut pairs = Vec::new();
    let mut start = q + 1;
    while start <= end {
        let stop = url[start..end].find('&').map_or(end, |i| start + i);
        let part = &url[start..stop];
        if !part.is_empty() {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            pairs.push(Pair {
                key: percent_decode_str(k).decode_utf8_lossy(),
                value: percent_decode_str(&v.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned(),
                span: start..stop,
            });
        }
        start = stop + 1;
    }
    pairs
}

/// The pairs of a libpq `key=value` string (values unquoted: `'a b'`, `\'`, `\\`).
fn keyword_pairs(s: &str) -> Result<Vec<Pair<'_>>, TlsError> {
    let bytes = s.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            return Ok(pairs);
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &s[start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() || bytes[i] != b'=' {
            return Err(TlsError::InvalidUrl(format!(
                "expected `=` after `{key}` in the connection string"
            )));
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = Vec::new();
        if bytes.get(i) == Some(&b'\'') {
            i += 1;
            loop {
                match bytes.get(i) {
                    None => {
                        return Err(TlsError::InvalidUrl(format!(
                            "unterminated quoted value of `{key}` in the connection string"
                        )));
                    }
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if i + 1 < bytes.len() => {
                        value.push(bytes[i + 1]);
                        i += 2;
                    }
                    Some(&b) => {
                        value.push(b);
                        i += 1;
                    }
                }
            }
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                value.push(bytes[i]);
                i += 1;
            }
        }
        pairs.push(Pair {
            key: Cow::Borrowed(key),
            value: String::from_utf8_lossy(&value).into_owned(),
            span: start..i,
        });
    }
}

/// `s` without the `cut` spans; in a URL, the `&`/`?` separators left dangling go too.
fn remove_spans(s: &str, cut: &[Range<usize>], url: bool) -> String {
    if cut.is_empty() {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for span in cut {
        out.push_str(&s[at..span.start]);
        at = span.end;
    }
    out.push_str(&s[at..]);
    if !url {
        return out;
    }
    // Tidy the query: no empty parameters, no `?` with nothing after it.
    let (base, fragment) = match out.find('#') {
        Some(h) if out.find('?').is_some_and(|q| q < h) => {
            (out[..h].to_owned(), out[h..].to_owned())
        }
        _ => (out.clone(), String::new()),
    };
    let Some((head, query)) = base.split_once('?') else {
        return out;
    };
    let query: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    if query.is_empty() {
        format!("{head}{fragment}")
    } else {
        format!("{head}?{}{fragment}", query.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> (tokio_postgres::Config, TlsOptions) {
        match TlsOptions::from_url(s) {
            Ok(v) => v,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn url_tls_keys_are_read_and_stripped() {
        let (config, tls) = parse(
            "postgres://app:pw@db.example:5433/shop?application_name=x&sslmode=verify-full\
             &sslrootcert=%2Fetc%2Fca.pem&sslcert=/c.pem&sslkey=/k.pem&connect_timeout=3",
        );
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(
            tls.root_cert,
            Some(RootCerts::Cert(CertSource::Path("/etc/ca.pem".into())))
        );
        assert_eq!(tls.client_cert, Some(CertSource::Path("/c.pem".into())));
        assert_eq!(tls.client_key, Some(CertSource::Path("/k.pem".into())));
        assert_eq!(config.get_application_name(), Some("x"));
        assert_eq!(config.get_dbname(), Some("shop"));
        assert_eq!(config.get_ports(), &[5433]);
        assert!(config.get_connect_timeout().is_some());
    }

    #[test]
    fn url_without_tls_keys_defaults_to_prefer() {
        let (config, tls) = parse("postgres://app@localhost/shop");
        assert_eq!(tls, TlsOptions::default());
        assert_eq!(config.get_user(), Some("app"));
        let (_, tls) = parse("postgresql://app@localhost/shop?sslmode=allow");
        assert_eq!(tls.mode, SslMode::Allow);
        assert!(!tls.verifies_chain());
    }

    #[test]
    fn keyword_form_is_read_and_stripped() {
        let (config, tls) = parse(
            "host=db.example port=5433 user=app password='a b\\'c' dbname=shop \
             sslmode=require sslrootcert='/etc/my ca.pem' sslsni=0",
        );
        assert_eq!(tls.mode, SslMode::Require);
        assert!(
            tls.verifies_chain(),
            "require with a root cert checks the chain"
        );
        assert!(!tls.verifies_host());
        assert!(!tls.sni);
        assert_eq!(
            tls.root_cert,
            Some(RootCerts::Cert(CertSource::Path("/etc/my ca.pem".into())))
        );
        assert_eq!(config.get_password(), Some(&b"a b'c"[..]));
        assert_eq!(config.get_dbname(), Some("shop"));
    }

    #[test]
    fn system_roots_need_verify_full() {
        let (_, tls) = parse("postgres://h/db?sslrootcert=system");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.root_cert, Some(RootCerts::System));
        let e = TlsOptions::from_url("postgres://h/db?sslrootcert=system&sslmode=require");
        assert!(matches!(
            e,
            Err(TlsError::WeakModeWithSystemRoots(SslMode::Require))
        ));
    }

    #[test]
    fn bad_settings_are_named_without_the_password() {
        let e = TlsOptions::from_url("postgres://u:s3cret@h/db?sslmode=verify")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("sslmode=\"verify\" is not one of"), "{e}");
        let e = TlsOptions::from_url("postgres://u:s3cret@h:99999/db")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("invalid database URL"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
        let e = TlsOptions::from_url("postgres://h/db?sslcert=/c.pem");
        assert!(matches!(e, Err(TlsError::CertWithoutKey)));
        let e = TlsOptions::from_url("host=h sslpassword=x");
        assert!(matches!(e, Err(TlsError::Unsupported(_))));
    }

    #[test]
    fn stripping_keeps_the_query_well_formed() {
        assert_eq!(
            remove_spans(
                "postgres://h/d?sslmode=require",
                &[Range { start: 15, end: 30 }],
                true
            ),
            "postgres://h/d"
        );
        let url = "postgres://h/d?sslmode=require&application_name=a";
        let pairs = url_pairs(url);
        assert_eq!(pairs.len(), 2);
        let cut: Vec<_> = pairs
            .iter()
            .filter(|p| p.key == "sslmode")
            .map(|p| p.span.clone())
            .collect();
        assert_eq!(
            remove_spans(url, &cut, true),
            "postgres://h/d?application_name=a"
        );
    }

    #[test]
    fn graphjin_keys_mean_verify_full_over_the_url() {
        assert_eq!(
            TlsOptions::from_graphjin_keys(false, Some("x"), None, None, None).ok(),
            Some(None)
        );
        let pem = "-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----";
        let keys = TlsOptions::from_graphjin_keys(true, Some("db.internal"), Some(pem), None, None)
            .ok()
            .flatten();
        let Some(keys) = keys else {
            panic!("enable_tls gives options")
        };
        assert_eq!(keys.mode, SslMode::VerifyFull);
        assert_eq!(
            keys.root_cert,
            Some(RootCerts::Cert(CertSource::Pem(
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----".into()
            )))
        );
        let (_, url) = parse("postgres://h/d?sslmode=require&sslcert=/c&sslkey=/k");
        let merged = keys.over(url);
        assert_eq!(merged.mode, SslMode::VerifyFull);
        assert_eq!(merged.server_name.as_deref(), Some("db.internal"));
        assert_eq!(merged.client_cert, Some(CertSource::Path("/c".into())));
        assert!(matches!(
            TlsOptions::from_graphjin_keys(true, None, None, Some("/c.pem"), Some("")),
            Err(TlsError::CertWithoutKey)
        ));
        let debug = format!(
            "{:?}",
            CertSource::parse("-----BEGIN PRIVATE KEY-----\\nsecret\\n-----END")
        );
        assert!(!debug.contains("secret"), "{debug}");
    }
}
