//! What TLS costs a connection: opening one (TCP, startup, auth) and one query round trip,
//! plain vs TLS (`require`, `verify-full`), against a local throwaway cluster with
//! `ssl = on`. Prints the median of each; run with `cargo bench -p graphjin-pgtls`.

use std::time::{Duration, Instant};

use graphjin_pg_tmp::{TempPostgres, TestPki};
use graphjin_pgtls::{TlsOptions, connect};

const ROUNDS: usize = 200;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let pki = TestPki::new("bench CA", &["localhost"]).expect("certificates");
    let pg = TempPostgres::start_with(pki.start_options()).expect("TLS cluster");
    let ca = pg.root_dir().join("bench-ca.crt");
    std::fs::write(&ca, &pki.ca_pem).expect("write the CA");
    let base = format!("postgres://postgres@localhost:{}/postgres", pg.port());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{:<12} {:>14} {:>16}",
        "sslmode", "connect (med)", "SELECT 1 (med)"
    );
    for (name, query) in [
        ("disable", "sslmode=disable".to_owned()),
        ("require", "sslmode=require".to_owned()),
        (
            "verify-full",
            format!("sslmode=verify-full&sslrootcert={}", ca.display()),
        ),
    ] {
        let (config, tls) = TlsOptions::from_url(&format!("{base}?{query}")).expect("url");
        let (opens, queries) = rt.block_on(async {
            let (mut opens, mut queries) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                let start = Instant::now();
                let (client, connection) = connect(&config, &tls).await.expect("connects");
                opens.push(start.elapsed());
                let driver = tokio::spawn(connection);
                for _ in 0..10 {
                    let start = Instant::now();
                    client.simple_query("SELECT 1").await.expect("query");
                    queries.push(start.elapsed());
                }
                drop(client);
                let _ = driver.await;
            }
            (opens, queries)
        });
        println!(
            "{name:<12} {:>11.0} µs {:>13.0} µs",
            median(opens).as_secs_f64() * 1e6,
            median(queries).as_secs_f64() * 1e6
        );
    }
}
