//! The development loop end to end: the dev server records an operation into a copy of the
//! example app's allow.list, the app is rebuilt in production mode with real `cargo`, and
//! the rebuilt binary serves the recorded operation and refuses one that was never recorded.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use graphjin_dev::{DevOptions, DevServer};
use serde_json::{Value, json};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the example app as a standalone crate using the workspace's crates by path.
fn app_copy() -> PathBuf {
    let ws = graphjin_tests::workspace_root();
    let dir = std::env::temp_dir().join(format!("gj-lock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["src", "config", "db"] {
        copy_dir(&ws.join("example-app").join(sub), &dir.join(sub));
    }
    std::fs::copy(ws.join("example-app/build.rs"), dir.join("build.rs")).unwrap();
    std::fs::copy(ws.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let w = ws.display();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"gj-lock-app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n\n\
             [lib]\nname = \"example_app\"\n\n[features]\ndev = []\n\n\
             [dependencies]\ngraphjin-runtime = {{ path = \"{w}/graphjin-runtime\" }}\n\
             graphjin-pg-tmp = {{ path = \"{w}/graphjin-pg-tmp\" }}\n\
             tokio = {{ version = \"1\", features = [\"rt-multi-thread\", \"macros\", \"net\", \"signal\"] }}\n\n\
             [build-dependencies]\ngraphjin-codegen = {{ path = \"{w}/graphjin-codegen\" }}\n"
        ),
    )
    .unwrap();
    dir
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn post(addr: &str, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/graphql"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (
        status,
        serde_json::from_slice(&res.bytes().await.unwrap()).expect("JSON"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_in_dev_then_lock_with_cargo_build() {
    let app = app_copy();
    let url = graphjin_tests::shop_database("lock");

    // 1. Development: the new operation runs and is recorded.
    let mut opts = DevOptions::new(app.join("config"), url.clone());
    opts.schema_poll = None;
    let dev = DevServer::start(opts).await.expect("dev server");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dev_addr = listener.local_addr().unwrap().to_string();
    let server =
        tokio::spawn(async move { graphjin_runtime::axum::serve(listener, dev.router()).await });
    let q = "query lockedIn {\n  categories(order_by: { id: asc }) { slug }\n}";
    let (status, v) = post(&dev_addr, json!({ "query": q })).await;
    assert_eq!(status, 200, "{v}");
    server.abort();
    let recorded = std::fs::read_to_string(app.join("config/allow.list")).unwrap();
    assert!(
        recorded.contains("query lockedIn"),
        "recorded into allow.list"
    );

    // 2. Production build of the app, with the recorded allow.list.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = graphjin_tests::workspace_root().join("target/user-crates");
    let out = Command::new(&cargo)
        .current_dir(&app)
        .args(["build", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        // The user crate has its own profile; without debug info its binary and deps stay small.
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .output()
        .expect("cargo build");
    assert!(
        out.status.success(),
        "production build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 3. The rebuilt binary serves exactly the recorded operations.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(target.join("debug/gj-lock-app"))
        .env("DATABASE_URL", &url)
        .env("LISTEN", &addr)
        .env("GJ_CONFIG_DIR", app.join("config"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run the app");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    // Read the app's output until it is ready, then keep draining it in the background.
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
    let ready = tokio::task::spawn_blocking(move || {
        rx.recv_timeout(std::time::Duration::from_secs(60)).is_ok()
    })
    .await
    .unwrap();
    assert!(ready, "the app did not start");
    let (status, v) = post(&addr, json!({ "operationName": "lockedIn" })).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["categories"][0]["slug"], "coffee");
    let (status, v) = post(
        &addr,
        json!({ "query": "query neverRecorded { categories { id } }" }),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(
        v["errors"][0]["extensions"]["code"],
        "OPERATION_NOT_ALLOWED"
    );
    drop(running);
    let _ = std::fs::remove_dir_all(&app);
}
