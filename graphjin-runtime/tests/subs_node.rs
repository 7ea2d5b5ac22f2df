//! Protocol check with an independent client: the `graphql-ws` npm library, driven by
//! `tests/ws-client/client.mjs` under Node, against a real server and PostgreSQL. It must
//! receive the first result, then an update after a change in the database; a refused
//! subscription must reach its `error` sink.
//!
//! Needs `node` and `npm` (the dependencies are installed with `npm ci` on first run).
//! Where `node` is missing the test says so and passes.

mod subs_common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use subs_common::*;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ws-client")
}

/// `node` is there and the client's packages are installed (installing them if needed).
async fn node_ready() -> bool {
    let found = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("node is not installed: skipping the graphql-ws protocol check");
        return false;
    }
    let dir = client_dir();
    if !dir.join("node_modules/graphql-ws/package.json").is_file() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&dir)
            .status()
            .await
            .expect("run npm ci in tests/ws-client");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    true
}

struct NodeClient {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl NodeClient {
    fn start(url: &str, count: u32, request: Value, params: Value) -> NodeClient {
        let mut child = Command::new("node")
            .arg("client.mjs")
            .arg(url)
            .arg(count.to_string())
            .arg(request.to_string())
            .arg(params.to_string())
            .current_dir(client_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        NodeClient {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    async fn line(&mut self) -> String {
        match tokio::time::timeout(Duration::from_secs(20), self.lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            other => {
                let _ = self.child.start_kill();
                let out = self.child.stderr.take();
                let mut err = String::new();
                if let Some(mut e) = out {
                    use tokio::io::AsyncReadExt;
                    let _ = e.read_to_string(&mut err).await;
                }
                panic!("no line from the node client ({other:?}); stderr: {err}");
            }
        }
    }

    async fn exit_ok(mut self) {
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("node exits")
            .expect("wait");
        assert!(status.success(), "node client failed: {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_ws_npm_client_gets_first_result_and_update() {
    if !node_ready().await {
        return;
    }
    let s = server(DEV_CONFIG).await;
    let token = hs256(SECRET, "1");
    let mut node = NodeClient::start(
        &s.ws_url,
        2,
        json!({"query": MY_STOCK}),
        json!({"Authorization": format!("Bearer {token}")}),
    );
    let first: Value = serde_json::from_str(&node.line().await).expect("JSON line");
    assert_eq!(
        first,
        json!({"data": {"products": [{"id": 1, "stock": 10}, {"id": 2, "stock": 20}]}})
    );
    sql(&s.database, "UPDATE products SET stock = 7 WHERE id = 2").await;
    let second: Value = serde_json::from_str(&node.line().await).expect("JSON line");
    assert_eq!(
        second,
        json!({"data": {"products": [{"id": 1, "stock": 10}, {"id": 2, "stock": 7}]}})
    );
    node.exit_ok().await;
    // The client completed and closed: its subscriber left.
    eventually(|| s.subs.stats().subscribers == 0).await;

    // A subscription that is not in the allow list reaches the client's error sink.
    let mut node = NodeClient::start(
        &s.ws_url,
        0,
        json!({"query": "subscription stealStock { products { id } }"}),
        json!({}),
    );
    let line = node.line().await;
    let errors: Value = serde_json::from_str(line.strip_prefix("ERROR ").expect("an ERROR line"))
        .expect("JSON errors");
    assert_eq!(
        errors[0]["message"],
        "operation \"stealStock\" is not in the allow list"
    );
    assert_eq!(errors[0]["extensions"]["code"], "OPERATION_NOT_ALLOWED");
    node.exit_ok().await;
}
