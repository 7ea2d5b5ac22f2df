//! `cargo run -p example-app`: serves the webshop on 127.0.0.1:8080. `LISTEN=HOST:PORT`
//! changes it; without `LISTEN`, the config's `host_port` (its parts replaced by `HOST` /
//! `PORT`, as GraphJin does) decides when set. SIGTERM or Ctrl-C stops it gracefully:
//! running requests finish and subscriptions get a close frame, within the config's
//! `shutdown_timeout` (10 s by default), then it exits 0.
//! It connects to `DATABASE_URL`, else to the config's `database:` (a `connection_string`,
//! or host/port/dbname/user/password); with neither it starts a throwaway PostgreSQL from
//! the installed binaries, loads the schema and demo data, and removes it all again on
//! Ctrl-C. The pool follows the config's `database:` keys (`pool_size`, ...).
//!
//! With `--features dev` it runs the development server instead: any operation is compiled
//! and run, and named ones are recorded into `config/allow.list` for the next build.

use std::process::ExitCode;

use graphjin_pg_tmp::TempPostgres;

type BoxError = Box<dyn std::error::Error>;

/// Prints a line for the person at the terminal; a closed stdout is not worth a crash.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    let dir = std::env::var("GJ_CONFIG_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/config").to_string());
    // DATABASE_URL, else the config's `database:` (GO_ENV chooses the file, GJ_DATABASE_*
    // override its keys).
    let (url, throwaway) = match graphjin_runtime::Config::load(&dir)?.database_url() {
        Some(url) => (url, None),
        None => {
            eprintln!(
                "neither DATABASE_URL nor the config's `database:` names a database: starting a throwaway PostgreSQL..."
            );
            let pg = tokio::task::spawn_blocking(start_throwaway).await??;
            eprintln!("PostgreSQL is up on port {}, demo data loaded", pg.port());
            (pg.url("shop"), Some(pg))
        }
    };
    let addr = listen_addr(&dir)?;
    let served = serve(&url, &dir, &addr).await;
    if let Some(pg) = throwaway {
        tokio::task::spawn_blocking(move || pg.stop()).await??;
        eprintln!("throwaway PostgreSQL stopped and removed");
    }
    served
}

/// The locked production API: exactly the operations compiled into this binary.
#[cfg(not(feature = "dev"))]
async fn serve(url: &str, dir: &str, addr: &str) -> Result<(), BoxError> {
    use graphjin_runtime::{Config, Service};
    // The run-time part of the same config the build compiled (auth, secrets from GJ_*).
    let config = Config::load(dir)?;
    // Logs on standard error: RUST_LOG, else the config's log_level and log_format.
    graphjin_runtime::observe::logging::init(&config.log_options())?;
    // The pool as the config's `database:` keys say (pool_size, idle and life times, ...),
    // and TLS from its `enable_tls` keys (the URL's `sslmode` applies either way).
    let mut builder = example_app::db_builder(url).options(config.pool_options());
    if let Some(tls) = config.tls_options()? {
        builder = builder.tls(tls);
    }
    let db = builder.connect().await?;
    let actions = graphjin_runtime::actions::Actions::from_config(&config, &db).await?;
    let service = Service::from_config(db, &config)?.actions(actions);
    // Taken before the service goes into the router: what a graceful stop needs.
    let shutdown = service.shutdown_handle();
    // The API's OpenAPI document (written by build.rs), beside the API itself.
    let app = example_app::router(service).route(
        "/api/v1/openapi.json",
        graphjin_runtime::axum::routing::get(|| async {
            (
                [("content-type", "application/json")],
                example_app::OPENAPI_JSON,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    say(&format!(
        "webshop ready on http://{addr} ({} operations). Try:",
        example_app::OPERATIONS.len()
    ));
    say(&format!(
        "  curl -s http://{addr}/api/v1/graphql -H 'content-type: application/json' \
         -d '{{\"operationName\":\"listProducts\",\"variables\":{{\"limit\":3}}}}'"
    ));
    say("Press Ctrl-C to stop.");
    // Until SIGTERM or Ctrl-C; then running requests finish and subscriptions end with a
    // close frame, within the config's shutdown_timeout.
    let signal = async {
        graphjin_runtime::http::shutdown_signal().await;
        eprintln!("stopping...");
    };
    graphjin_runtime::http::serve_until(listener, app, shutdown, signal).await?;
    Ok(())
}

/// Where to listen: `LISTEN`, else the config's `host_port` with `HOST`/`PORT` applied
/// (GraphJin's keys), else 127.0.0.1:8080.
fn listen_addr(dir: &str) -> Result<String, BoxError> {
    if let Ok(addr) = std::env::var("LISTEN")
        && !addr.trim().is_empty()
    {
        return Ok(addr);
    }
    let config = graphjin_runtime::Config::load(dir)?;
    Ok(config
        .http
        .listen_addr()
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned()))
}

/// The development server: any operation runs, named ones are recorded into allow.list.
#[cfg(feature = "dev")]
async fn serve(url: &str, dir: &str, addr: &str) -> Result<(), BoxError> {
    let opts = graphjin_dev::DevOptions::new(dir, url);
    let server = graphjin_dev::DevServer::start(opts).await?;
    say(&format!(
        "development mode: named operations are recorded into {dir}/allow.list"
    ));
    say("Press Ctrl-C to stop.");
    server.serve(addr.parse()?).await?;
    Ok(())
}

fn start_throwaway() -> Result<TempPostgres, graphjin_pg_tmp::Error> {
    let pg = TempPostgres::start()?;
    pg.create_database("shop", None)?;
    pg.run_sql("shop", example_app::SCHEMA_SQL)?;
    pg.run_sql("shop", example_app::SEED_SQL)?;
    Ok(pg)
}
