//! `graphjin schema pull` (and the introspection function it calls) over TLS, against a
//! real PostgreSQL with `ssl = on` and a certificate chain made here, where the user may
//! connect only over TLS.

use std::path::PathBuf;
use std::sync::OnceLock;

use graphjin_dev::schema_pull::{IntrospectError, pull, pull_with_tls};
use graphjin_pg_tmp::{TempPostgres, TestPki};

struct Cluster {
    pg: TempPostgres,
    pki: TestPki,
    ca: PathBuf,
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let pki = TestPki::new("pull test CA", &["localhost"]).expect("certificates");
        let mut options = pki.start_options();
        options.hba_lines = vec!["hostnossl all puller 127.0.0.1/32 reject".to_owned()];
        let pg = TempPostgres::start_with(options).expect("start a TLS cluster");
        pg.run_sql(
            "postgres",
            "CREATE ROLE puller LOGIN; \
             CREATE TABLE public.tls_items (id bigint PRIMARY KEY, name text NOT NULL); \
             GRANT SELECT ON public.tls_items TO puller",
        )
        .expect("schema");
        let ca = pg.root_dir().join("client-ca.crt");
        std::fs::write(&ca, &pki.ca_pem).expect("write the CA");
        Cluster { pg, pki, ca }
    })
}

fn url(host: &str, query: &str) -> String {
    format!(
        "postgres://puller@{host}:{}/postgres?{query}",
        cluster().pg.port()
    )
}

#[tokio::test]
async fn pull_over_verify_full() {
    let c = cluster();
    let query = format!("sslmode=verify-full&sslrootcert={}", c.ca.display());
    let text = pull(&url("localhost", &query), "public")
        .await
        .expect("pulls over TLS");
    assert!(text.contains("type tls_items"), "{text}");

    // GraphJin's enable_tls keys, laid over a URL that says nothing about TLS.
    let keys = graphjin_pgtls::TlsOptions::from_graphjin_keys(
        true,
        Some("localhost"),
        Some(&c.pki.ca_pem),
        None,
        None,
    )
    .expect("valid keys");
    let text = pull_with_tls(&url("127.0.0.1", ""), "public", keys)
        .await
        .expect("pulls over TLS");
    assert!(text.contains("type tls_items"), "{text}");
}

#[tokio::test]
async fn pull_names_a_refused_certificate() {
    let c = cluster();
    let query = format!("sslmode=verify-full&sslrootcert={}", c.ca.display());
    let err = pull(&url("127.0.0.1", &query), "public")
        .await
        .expect_err("the certificate is for localhost");
    assert!(matches!(err, IntrospectError::Connect { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("host name mismatch: certificate is for localhost, not 127.0.0.1"),
        "{message}"
    );
    let err = pull(&url("localhost", "sslmode=disable"), "public")
        .await
        .expect_err("plain is refused by pg_hba");
    assert!(err.to_string().contains("no encryption"), "{err}");
}

/// The `graphjin` binary itself: `schema pull --database-url` with TLS in the URL.
#[test]
fn cli_schema_pull_over_tls() {
    let c = cluster();
    let dir = std::env::temp_dir().join(format!("graphjin-tls-pull-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("config dir");
    let query = format!("sslmode=verify-full&sslrootcert={}", c.ca.display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graphjin"))
        .args([
            "schema",
            "pull",
            "--database-url",
            &url("localhost", &query),
        ])
        .arg("--config-dir")
        .arg(&dir)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run graphjin");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "schema pull failed: {stderr}");
    let text = std::fs::read_to_string(dir.join("db.graphql")).expect("db.graphql written");
    assert!(text.contains("type tls_items"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
