//! The runtime's `Db` over TLS to a real PostgreSQL with `ssl = on` and a certificate chain
//! made here: the URL's `sslmode`/`sslrootcert`, GraphJin's `enable_tls` keys through
//! `DbBuilder::tls`, and a refused certificate named in the error.

use std::path::PathBuf;
use std::sync::OnceLock;

use graphjin_pg_tmp::{TempPostgres, TestPki};
use graphjin_pgtls::TlsOptions;
use graphjin_runtime::{Auth, Db, OpKind, Operation, PoolOptions, RoleStatement};
use sha2::{Digest, Sha256};

struct Cluster {
    pg: TempPostgres,
    pki: TestPki,
    ca: PathBuf,
    other_ca: PathBuf,
}

/// A TLS cluster where user `app` may connect only over TLS.
fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let pki = TestPki::new("runtime test CA", &["localhost"]).expect("certificates");
        let mut options = pki.start_options();
        options.hba_lines = vec!["hostnossl all app 127.0.0.1/32 reject".to_owned()];
        let pg = TempPostgres::start_with(options).expect("start a TLS cluster");
        pg.run_sql("postgres", "CREATE ROLE app LOGIN PASSWORD 'pw-not-shown'")
            .expect("role");
        let other = TestPki::new("another CA", &["localhost"]).expect("certificates");
        let ca = pg.root_dir().join("client-ca.crt");
        let other_ca = pg.root_dir().join("other-ca.crt");
        std::fs::write(&ca, &pki.ca_pem).expect("write the CA");
        std::fs::write(&other_ca, &other.ca_pem).expect("write the other CA");
        Cluster {
            pg,
            pki,
            ca,
            other_ca,
        }
    })
}

/// One operation: whether the connection it runs on is encrypted.
fn operations() -> &'static [Operation] {
    static OPS: OnceLock<&'static [Operation]> = OnceLock::new();
    OPS.get_or_init(|| {
        let query: &'static str =
            Box::leak(graphjin_normalize::normalize("query tls { tls { ssl } }").into_boxed_str());
        let sha: String = Sha256::digest(query.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let roles: &'static [RoleStatement] = Box::leak(Box::new([RoleStatement {
            role: "anon",
            sql: r#"SELECT json_build_object('tls', json_build_object('ssl', (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()))) AS "__root""#,
            params: &[],
        }]));
        Box::leak(Box::new([Operation {
            name: "tls",
            kind: OpKind::Query,
            query,
            sha256: Box::leak(sha.into_boxed_str()),
            roles,
            constraints: &[],
        }]))
    })
}

fn url(host: &str, query: &str) -> String {
    format!(
        "postgres://app:pw-not-shown@{host}:{}/postgres?{query}",
        cluster().pg.port()
    )
}

/// Whether the operation ran on an encrypted connection.
async fn ssl_of(db: &Db) -> serde_json::Value {
    let out = db
        .execute(&operations()[0], &Auth::anon(), None)
        .await
        .expect("the operation runs");
    let data: serde_json::Value = serde_json::from_slice(&out).expect("json");
    data["tls"]["ssl"].clone()
}

#[tokio::test]
async fn db_connects_with_the_urls_sslmode() {
    let c = cluster();
    let query = format!("sslmode=verify-full&sslrootcert={}", c.ca.display());
    let db = Db::connect(
        &url("localhost", &query),
        operations(),
        PoolOptions::default(),
    )
    .await
    .expect("connects over TLS");
    assert_eq!(ssl_of(&db).await, serde_json::Value::Bool(true));
}

#[tokio::test]
async fn db_takes_graphjins_enable_tls_keys() {
    let c = cluster();
    // server_name names the certificate's host while connecting by address; server_cert
    // is the CA's PEM text, as GraphJin allows.
    let keys =
        TlsOptions::from_graphjin_keys(true, Some("localhost"), Some(&c.pki.ca_pem), None, None)
            .expect("valid keys")
            .expect("enable_tls gives options");
    let db = Db::builder(&url("127.0.0.1", ""), operations())
        .tls(keys)
        .connect()
        .await
        .expect("connects over TLS");
    assert_eq!(ssl_of(&db).await, serde_json::Value::Bool(true));
}

#[tokio::test]
async fn refused_certificates_are_named_without_the_password() {
    let c = cluster();
    let query = format!("sslmode=verify-full&sslrootcert={}", c.other_ca.display());
    let err = Db::connect(
        &url("localhost", &query),
        operations(),
        PoolOptions::default(),
    )
    .await
    .expect_err("refused");
    let message = err.to_string();
    assert!(
        message.contains("certificate verify failed: unknown CA"),
        "{message}"
    );
    assert!(message.contains("postgres://app@localhost:"), "{message}");
    assert!(!message.contains("pw-not-shown"), "{message}");

    // sslmode=disable: the server's pg_hba refuses the plain connection.
    let err = Db::connect(
        &url("127.0.0.1", "sslmode=disable"),
        operations(),
        PoolOptions::default(),
    )
    .await
    .expect_err("refused");
    assert!(err.to_string().contains("no encryption"), "{err}");
}
