//! Shared by the action tests: a database with the shop schema plus action fixtures, a
//! config from YAML with a private environment, a server, and an HMAC-SHA256 written here
//! from SHA-256 alone (so signatures are checked against an implementation that is not the
//! runtime's).

#![allow(dead_code)] // each test binary uses part of this

use std::collections::HashMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use graphjin_runtime::actions::Actions;
use graphjin_runtime::{Config, Db, Service};
use sha2::{Digest, Sha256};

use crate::common::{Reply, fresh_database, operations, pg, serve, small_pool};

/// Extra tables for the actions: scores with a leaderboard view refreshed concurrently.
pub const ACTION_SCHEMA: &str = r#"
CREATE TABLE scores (user_id bigint NOT NULL, points int NOT NULL);
INSERT INTO scores VALUES (1, 10), (2, 5);
CREATE MATERIALIZED VIEW leaderboard AS
    SELECT user_id, sum(points)::bigint AS total FROM scores GROUP BY user_id;
CREATE UNIQUE INDEX leaderboard_user ON leaderboard (user_id);
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE notes (id bigserial PRIMARY KEY, body text NOT NULL, mood mood, tags text[], author text);
"#;

/// A fresh database with the shop schema and [`ACTION_SCHEMA`]; returns its name and a
/// connected executor.
pub async fn action_db() -> (String, Db) {
    let name = fresh_database();
    pg().run_sql(&name, ACTION_SCHEMA).expect("action schema");
    let db = Db::connect(&pg().url(&name), operations(), small_pool())
        .await
        .expect("connect");
    (name, db)
}

/// Parses `yaml` and applies `env` as the environment.
pub fn config(yaml: &str, env: &[(&str, &str)]) -> Config {
    let mut config = Config::from_yaml(yaml, Path::new("prod.yml")).expect("config parses");
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    config
        .apply_env(|name| env.get(name).cloned())
        .expect("environment applies");
    config
}

/// Builds the config's actions on `db` and serves them; returns the base URL.
pub async fn serve_actions(config: &Config, db: Db) -> String {
    let actions = Actions::from_config(config, &db)
        .await
        .expect("actions build");
    serve(Service::new(db).actions(actions)).await
}

/// POSTs `body` to action `name` with `headers` (content type JSON unless given).
pub async fn call(base: &str, name: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/api/v1/actions/{name}"))
        .body(body.to_owned());
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    Reply::from(req.send().await.expect("request")).await
}

/// HMAC-SHA256 (RFC 2104) from SHA-256.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_key: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_key)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_key)
        .chain_update(inner)
        .finalize()
        .into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha256=<hex of HMAC(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &str, timestamp: u64, body: &str) -> String {
    let message = format!("{timestamp}.{body}");
    format!(
        "sha256={}",
        hex(&hmac_sha256(secret.as_bytes(), message.as_bytes()))
    )
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}
