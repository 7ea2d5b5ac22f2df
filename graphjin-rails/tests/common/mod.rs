//! Helpers shared by the integration tests.
#![allow(dead_code)]

use graphjin_rails::RailsConfig;
use serde_json::Value;

/// Reads `vectors/<name>` from GraphJin's shared corpora; `None` when they are absent (a
/// line saying so is printed and the test should return): see `graphjin_testdata`.
pub fn vectors(name: &str) -> Option<Vec<Value>> {
    let path = graphjin_testdata::shared_file(&format!("vectors/{name}"))?;
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Some(serde_json::from_str(&text).expect("vector file is JSON"))
}

/// The `RailsConfig` of a vector's `config` (with `PORT` in `rails.url` replaced by `port`).
pub fn config(v: &Value, port: Option<u16>) -> RailsConfig {
    let c = &v["config"];
    let mut cfg: RailsConfig =
        serde_json::from_value(c["rails"].clone()).expect("rails config deserializes");
    cfg.cookie = c["cookie"].as_str().expect("config.cookie").to_string();
    if let (Some(url), Some(port)) = (cfg.url.as_mut(), port) {
        *url = url.replace("PORT", &port.to_string());
    }
    cfg
}

/// The `Cookie` header of a vector's input.
pub fn cookie_header(v: &Value) -> &str {
    v["input"]["cookie"].as_str().expect("input.cookie")
}

/// The expected verdict: `Some(user_id)` for `ok: true`, `None` for `ok: false`.
pub fn expected(v: &Value) -> Option<String> {
    if v["expect"]["ok"].as_bool().expect("expect.ok") {
        Some(
            v["expect"]["user_id"]
                .as_str()
                .expect("expect.user_id")
                .to_string(),
        )
    } else {
        None
    }
}
