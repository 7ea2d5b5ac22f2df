//! `cargo run -p example-app`: serves the webshop on 127.0.0.1:8080 (`LISTEN` to change it).
//! With `DATABASE_URL` unset it starts a throwaway PostgreSQL from the installed binaries,
//! loads the schema and demo data, and removes it all again on Ctrl-C.
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
    let (url, throwaway) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            eprintln!("DATABASE_URL is not set: starting a throwaway PostgreSQL...");
            let pg = tokio::task::spawn_blocking(start_throwaway).await??;
            eprintln!("PostgreSQL is up on port {}, demo data loaded", pg.port());
            (pg.url("shop"), Some(pg))
        }
    };
    let dir = std::env::var("GJ_CONFIG_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/config").to_string());
    let addr = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".to_string());
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
    use graphjin_runtime::{Config, PoolOptions, Service};
    // The run-time part of the same config the build compiled (auth, secrets from GJ_*).
    let config = Config::load(dir)?;
    let db = example_app::connect(url, PoolOptions::default()).await?;
    let actions = graphjin_runtime::actions::Actions::from_config(&config, &db).await?;
    let service = Service::from_config(db, &config)?.actions(actions);
    let subscriptions = service.subscriptions().clone();
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
    graphjin_runtime::axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("stopping...");
            // End subscriptions so their sockets and pollers stop with the server.
            subscriptions.shutdown();
        })
        .await?;
    Ok(())
}

/// The development server: any operation runs, named ones are recorded into allow.list.
#[cfg(feature = "dev")]
async fn serve(url: &str, dir: &str, addr: &str) -> Result<(), BoxError> {
    let opts = graphjin_codegen::dev::DevOptions::new(dir, url);
    let server = graphjin_codegen::dev::DevServer::start(opts).await?;
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
