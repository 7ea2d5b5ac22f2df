//! TLS against real PostgreSQL clusters: one with `ssl = on` and a certificate chain made
//! here (a CA, a server certificate for `localhost`), one without TLS.

use std::path::PathBuf;
use std::sync::OnceLock;

use graphjin_pg_tmp::{TempPostgres, TestPki};
use graphjin_pgtls::{ConnectError, SslMode, TlsError, TlsOptions, connect};

struct TlsCluster {
    pg: TempPostgres,
    pki: TestPki,
    /// The CA certificate, as a file.
    ca: PathBuf,
    /// A CA that signed nothing the server has.
    other_ca: PathBuf,
    /// A client certificate and key for user `certuser`.
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn cluster() -> &'static TlsCluster {
    static CLUSTER: OnceLock<TlsCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let pki = TestPki::new("graphjin test CA", &["localhost"]).expect("certificates");
        let mut options = pki.start_options();
        options.hba_lines = vec![
            "hostssl all certuser 127.0.0.1/32 cert".to_owned(),
            "hostnossl all tlsonly 127.0.0.1/32 reject".to_owned(),
            "hostssl all scramuser 127.0.0.1/32 scram-sha-256".to_owned(),
        ];
        let pg = TempPostgres::start_with(options).expect("start a TLS cluster");
        pg.run_sql(
            "postgres",
            "CREATE ROLE certuser LOGIN; CREATE ROLE tlsonly LOGIN; \
             CREATE ROLE scramuser LOGIN PASSWORD 'scram-pw'",
        )
        .expect("roles");
        let dir = pg.root_dir().to_owned();
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a client file");
            path
        };
        let other = TestPki::new("someone else's CA", &["localhost"]).expect("certificates");
        let (cert, key) = pki.client("certuser").expect("client certificate");
        TlsCluster {
            ca: write("client-ca.crt", &pki.ca_pem),
            other_ca: write("other-ca.crt", &other.ca_pem),
            client_cert: write("client.crt", &cert),
            client_key: write("client.key", &key),
            pki,
            pg,
        }
    })
}

fn url(host: &str, user: &str, query: &str) -> String {
    format!(
        "postgres://{user}@{host}:{}/postgres?{query}",
        cluster().pg.port()
    )
}

/// Connects with a connection string; the error's message on failure.
async fn open(conn_str: &str) -> Result<tokio_postgres::Client, String> {
    let (config, tls) = TlsOptions::from_url(conn_str).map_err(|e| e.to_string())?;
    open_with(&config, &tls).await
}

async fn open_with(
    config: &tokio_postgres::Config,
    tls: &TlsOptions,
) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = connect(config, tls).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(client)
}

/// Whether the session is encrypted, as the server sees it.
async fn ssl_in_use(client: &tokio_postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

#[tokio::test]
async fn verify_full_with_the_ca_connects_encrypted() {
    let c = cluster();
    let query = format!("sslmode=verify-full&sslrootcert={}", c.ca.display());
    let client = open(&url("localhost", "postgres", &query)).await.unwrap();
    assert!(ssl_in_use(&client).await);

    // The key=value form, too.
    let client = open(&format!(
        "host=localhost port={} user=postgres dbname=postgres sslmode=verify-full \
         sslrootcert='{}'",
        c.pg.port(),
        c.ca.display()
    ))
    .await
    .unwrap();
    assert!(ssl_in_use(&client).await);
}

#[tokio::test]
async fn wrong_host_name_is_refused_and_named() {
    let c = cluster();
    let query = format!("sslmode=verify-full&sslrootcert={}", c.ca.display());
    let err = open(&url("127.0.0.1", "postgres", &query))
        .await
        .unwrap_err();
    assert_eq!(
        err.split(" (").next(),
        Some("host name mismatch: certificate is for localhost, not 127.0.0.1"),
        "{err}"
    );
    // verify-ca checks the chain only: the same connection is accepted.
    let query = format!("sslmode=verify-ca&sslrootcert={}", c.ca.display());
    let client = open(&url("127.0.0.1", "postgres", &query)).await.unwrap();
    assert!(ssl_in_use(&client).await);
    // GraphJin's server_name names the host the certificate must be for.
    let (config, url_tls) = TlsOptions::from_url(&url("127.0.0.1", "postgres", "")).unwrap();
    let inline_ca = c.pki.ca_pem.trim().replace('\n', "\\n");
    let keys =
        TlsOptions::from_graphjin_keys(true, Some("localhost"), Some(&inline_ca), None, None)
            .unwrap()
            .unwrap();
    let client = open_with(&config, &keys.over(url_tls)).await.unwrap();
    assert!(ssl_in_use(&client).await);
}

#[tokio::test]
async fn unknown_ca_is_refused_and_named() {
    let c = cluster();
    let query = format!("sslmode=verify-full&sslrootcert={}", c.other_ca.display());
    let (config, tls) = TlsOptions::from_url(&url("localhost", "postgres", &query)).unwrap();
    let err = connect(&config, &tls).await.err().expect("refused");
    assert!(matches!(err, ConnectError::UnknownCa { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("certificate verify failed: unknown CA"),
        "{message}"
    );
    assert!(
        message.contains(&c.other_ca.display().to_string()),
        "{message}"
    );
    // `require` with a root certificate checks the chain, as libpq does.
    let query = format!("sslmode=require&sslrootcert={}", c.other_ca.display());
    let err = open(&url("localhost", "postgres", &query))
        .await
        .unwrap_err();
    assert!(err.contains("unknown CA"), "{err}");
}

#[tokio::test]
async fn require_without_a_root_encrypts_without_checking() {
    let client = open(&url("127.0.0.1", "postgres", "sslmode=require"))
        .await
        .unwrap();
    assert!(ssl_in_use(&client).await);
    // prefer takes TLS when the server offers it.
    let client = open(&url("127.0.0.1", "postgres", "")).await.unwrap();
    assert!(ssl_in_use(&client).await);
}

#[tokio::test]
async fn plain_server_require_fails_and_prefer_falls_back() {
    let pg = graphjin_pg_tmp::shared().expect("plain cluster");
    let plain = |query: &str| {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?{query}",
            pg.port()
        )
    };
    let err = open(&plain("sslmode=require")).await.unwrap_err();
    assert!(
        err.starts_with("server does not support TLS but sslmode=require"),
        "{err}"
    );
    let client = open(&plain("sslmode=prefer")).await.unwrap();
    assert!(!ssl_in_use(&client).await);
    let client = open(&plain("sslmode=allow")).await.unwrap();
    assert!(!ssl_in_use(&client).await);
    let client = open(&plain("sslmode=disable")).await.unwrap();
    assert!(!ssl_in_use(&client).await);
}

#[tokio::test]
async fn allow_retries_with_tls_when_plain_is_refused() {
    let err = open(&url("127.0.0.1", "tlsonly", "sslmode=disable"))
        .await
        .unwrap_err();
    assert!(err.contains("pg_hba.conf"), "{err}");
    let client = open(&url("127.0.0.1", "tlsonly", "sslmode=allow"))
        .await
        .unwrap();
    assert!(ssl_in_use(&client).await);
}

#[tokio::test]
async fn client_certificate_authenticates() {
    let c = cluster();
    let query = format!(
        "sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
        c.ca.display(),
        c.client_cert.display(),
        c.client_key.display()
    );
    let client = open(&url("localhost", "certuser", &query)).await.unwrap();
    let user: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(user, "certuser");
    assert!(ssl_in_use(&client).await);
    // Without the certificate the server refuses `cert` auth.
    let query = format!("sslmode=verify-full&sslrootcert={}", c.ca.display());
    let err = open(&url("localhost", "certuser", &query))
        .await
        .unwrap_err();
    assert!(err.contains("certificate"), "{err}");
}

#[tokio::test]
async fn scram_with_channel_binding_over_tls() {
    // channel_binding=require fails unless the tls-server-end-point hash is the server's.
    let client = open(&url(
        "localhost",
        "scramuser:scram-pw",
        "sslmode=require&channel_binding=require",
    ))
    .await
    .unwrap();
    assert!(ssl_in_use(&client).await);
}

#[tokio::test]
async fn bad_settings_name_the_file() {
    let missing = "/nonexistent/graphjin/ca.pem";
    let query = format!("sslmode=verify-full&sslrootcert={missing}");
    let (config, tls) = TlsOptions::from_url(&url("localhost", "postgres", &query)).unwrap();
    let err = connect(&config, &tls).await.err().expect("refused");
    assert!(
        matches!(err, ConnectError::Config(TlsError::ReadFile { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains(missing), "{err}");
    assert!(graphjin_pgtls::check(&tls).is_err());
    // Not a certificate.
    let c = cluster();
    let query = format!("sslmode=verify-full&sslrootcert={}", c.client_key.display());
    let err = open(&url("localhost", "postgres", &query))
        .await
        .unwrap_err();
    assert!(err.contains("no PEM certificate"), "{err}");
    assert!(!err.contains("PRIVATE KEY"), "never the key's text: {err}");
    assert_eq!(
        TlsOptions::from_url("postgres://h/d?sslmode=verify-full")
            .unwrap()
            .1
            .mode,
        SslMode::VerifyFull
    );
}

#[tokio::test]
async fn unix_sockets_are_plain_whatever_the_mode() {
    // As in libpq: PostgreSQL has no TLS on unix sockets, so sslmode does not apply.
    let c = cluster();
    let client = open(&format!(
        "host={} port={} user=postgres dbname=postgres sslmode=verify-full",
        c.pg.socket_dir().display(),
        c.pg.port()
    ))
    .await
    .unwrap();
    assert!(!ssl_in_use(&client).await);
}
