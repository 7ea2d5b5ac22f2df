//! Running the real example-app binary for a test: a throwaway database with the shop's
//! schema and seed, a copy of the example's config folder, and the process (killed if the
//! test fails half-way).

#![allow(dead_code)] // each test file uses its own part of the harness

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Kills the app if the test fails half-way.
pub struct Running(pub Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A database `name` with the shop's schema and seed; its URL.
pub fn shop_database(name: &str) -> String {
    let pg = graphjin_pg_tmp::shared().expect("throwaway PostgreSQL");
    pg.create_database(name, None).expect("database");
    pg.run_sql(name, example_app::SCHEMA_SQL).expect("schema");
    pg.run_sql(name, example_app::SEED_SQL).expect("seed");
    pg.url(name)
}

/// A copy of the example's config folder under `target/tmp/<name>-<pid>`, with `extra`
/// appended to its `dev.yml`.
pub fn config_dir(name: &str, extra: &str) -> PathBuf {
    let dir = workspace_root()
        .join("target/tmp")
        .join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("config dir");
    let example = workspace_root().join("example-app/config");
    for entry in std::fs::read_dir(&example).expect("example config") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy");
    }
    let dev = std::fs::read_to_string(dir.join("dev.yml")).expect("dev.yml");
    std::fs::write(dir.join("dev.yml"), format!("{dev}\n{extra}\n")).expect("write dev.yml");
    dir
}

/// Starts the binary cargo built for this test on `addr` and waits (up to 60 s) for its
/// "webshop ready" line. Logs go to a null sink unless `GRAPHJIN_TEST_LOGS` is set.
pub async fn start_app(url: &str, addr: &str, config: &Path) -> Running {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_example-app"));
    let stderr = if std::env::var_os("GRAPHJIN_TEST_LOGS").is_some() {
        Stdio::inherit()
    } else {
        Stdio::null()
    };
    let mut child = Command::new(&binary)
        .env("DATABASE_URL", url)
        .env("LISTEN", addr)
        .env("GJ_CONFIG_DIR", config)
        .env_remove("GO_ENV")
        .env_remove("GJ_ENV")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("run example-app");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(Some(child));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("webshop ready")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    let ready =
        tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)).is_ok())
            .await
            .expect("wait task");
    assert!(ready, "the app did not start");
    running
}

/// A WebSocket to the app, as a graphql-ws client opens one.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `ws://ADDR/api/v1/graphql` with the `graphql-transport-ws` subprotocol.
pub async fn graphql_ws(addr: &str) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/api/v1/graphql").into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    Ok(tokio_tungstenite::connect_async(request).await?.0)
}
