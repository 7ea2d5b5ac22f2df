//! Action start-up: every config mistake stops start-up with a message naming the action
//! (and PostgreSQL's message for statements), and secrets never reach logs, `Debug` output
//! or error messages.

mod actions_common;
mod common;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use actions_common::*;
use common::*;
use graphjin_runtime::actions::{Actions, StartupError};
use graphjin_runtime::{Config, ConfigError};

const AUTHS: &str = r#"
auths:
  - name: cron
    type: header
    header: {name: X-Cron-Secret, value: "cron-value"}
  - name: signed
    type: hmac
    hmac: {secret: "hmac-value"}
"#;

/// Builds the actions of `AUTHS` + `actions_yaml` on a fresh database.
async fn start(actions_yaml: &str) -> Result<Actions, StartupError> {
    let (_, db) = action_db().await;
    let config = config(&format!("{AUTHS}{actions_yaml}"), &[]);
    Actions::from_config(&config, &db).await
}

async fn start_err(actions_yaml: &str) -> String {
    match start(actions_yaml).await {
        Ok(actions) => panic!("expected a start-up error, got {actions:?}"),
        Err(e) => e.to_string(),
    }
}

fn contains_all(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{text:?} should contain {part:?}");
    }
}

#[tokio::test]
async fn a_good_config_starts() {
    let actions = start(
        "actions:\n  - {name: refresh, sql: REFRESH MATERIALIZED VIEW leaderboard, auth_name: cron}\n  - {name: count, sql: SELECT count(*) FROM scores, auth_name: signed}\n",
    )
    .await
    .expect("starts");
    let mut names: Vec<&str> = actions.names().collect();
    names.sort_unstable();
    assert_eq!(names, ["count", "refresh"]);
}

#[tokio::test]
async fn unknown_auth_names_stop_start_up() {
    let e = start_err(
        "actions:\n  - {name: refresh, sql: REFRESH MATERIALIZED VIEW leaderboard, auth_name: crom}\n",
    )
    .await;
    contains_all(
        &e,
        &["actions[refresh].auth_name", "\"crom\"", "cron", "signed"],
    );
    let e = start_err("actions:\n  - {name: refresh, sql: SELECT 1}\n").await;
    contains_all(&e, &["actions[refresh].auth_name", "needs auth_name"]);
}

#[tokio::test]
async fn statements_that_do_not_prepare_stop_start_up() {
    let e = start_err(
        "actions:\n  - {name: ok, sql: SELECT 1, auth_name: cron}\n  - {name: broken, sql: SELECT * FROM no_such_table, auth_name: cron}\n",
    )
    .await;
    assert_eq!(
        e,
        r#"action "broken": relation "no_such_table" does not exist"#
    );
    let e = start_err("actions:\n  - {name: typo, sql: SELEKT 1, auth_name: cron}\n").await;
    contains_all(&e, &["action \"typo\"", "syntax error"]);
    let e =
        start_err("actions:\n  - {name: two, sql: 'SELECT 1; SELECT 2', auth_name: cron}\n").await;
    contains_all(&e, &["action \"two\"", "multiple commands"]);
    // Parameters: an unknown type, too few listed, a default of the wrong type.
    let e = start_err(
        "actions:\n  - name: p\n    sql: DELETE FROM scores WHERE user_id = $1\n    auth_name: cron\n    params: [{name: id, type: bigit}]\n",
    )
    .await;
    contains_all(&e, &["action \"p\"", "\"id\"", "bigit", "does not exist"]);
    let e = start_err(
        "actions:\n  - name: p\n    sql: DELETE FROM scores WHERE user_id = $1 AND points = $2\n    auth_name: cron\n    params: [{name: id, type: bigint}]\n",
    )
    .await;
    contains_all(&e, &["action \"p\"", "2 parameter", "lists 1"]);
    let e = start_err(
        "actions:\n  - name: p\n    sql: DELETE FROM scores WHERE user_id = $1\n    auth_name: cron\n    params: [{name: id, type: bigint, default: \"x\"}]\n",
    )
    .await;
    contains_all(&e, &["actions[p].params[0].default", "integer"]);
    let e = start_err(
        "actions:\n  - name: p\n    sql: DELETE FROM scores WHERE user_id = $1\n    auth_name: cron\n    params: [{name: id}]\n",
    )
    .await;
    contains_all(&e, &["actions[p].params[0].type"]);
}

#[tokio::test]
async fn other_config_mistakes_name_the_action() {
    let cases: &[(&str, &[&str])] = &[
        (
            "actions:\n  - {name: both, sql: SELECT 1, url: 'http://127.0.0.1:9/x', auth_name: cron}\n",
            &["actions[both].url", "both sql and url"],
        ),
        (
            "actions:\n  - {name: neither, auth_name: cron}\n",
            &["actions[neither].sql", "needs sql"],
        ),
        (
            "actions:\n  - {name: hook, url: 'http://127.0.0.1:9/x', auth_name: cron}\n",
            &["actions[hook].secret", "GJ_ACTIONS_<NAME>_SECRET"],
        ),
        (
            "actions:\n  - {name: hook, url: 'ftp://127.0.0.1/x', auth_name: cron, secret: s}\n",
            &["actions[hook].url", "http or https"],
        ),
        (
            "actions:\n  - name: hook\n    url: 'http://127.0.0.1:9/x'\n    auth_name: cron\n    secret: s\n    headers: [{name: X-Key, value_from_env: GJ_TEST_UNSET_VARIABLE}]\n",
            &[
                "actions[hook].headers[X-Key].value",
                "GJ_TEST_UNSET_VARIABLE",
                "not set",
            ],
        ),
        (
            "actions:\n  - name: hook\n    url: 'http://127.0.0.1:9/x'\n    auth_name: cron\n    secret: s\n    forward_headers: [Host]\n",
            &["actions[hook].forward_headers[0]", "host"],
        ),
        (
            "actions:\n  - name: hook\n    url: 'http://127.0.0.1:9/x'\n    auth_name: cron\n    secret: s\n    params: [{name: id, type: bigint}]\n",
            &["actions[hook].params", "sql actions"],
        ),
        (
            "actions:\n  - {name: q, sql: SELECT 1, auth_name: cron, timeout: 5}\n",
            &["actions[q].sql", "url actions only"],
        ),
        (
            "actions:\n  - {name: twice, sql: SELECT 1, auth_name: cron}\n  - {name: twice, sql: SELECT 2, auth_name: cron}\n",
            &["actions[1].name", "\"twice\""],
        ),
        (
            "actions:\n  - {name: 'a/b', sql: SELECT 1, auth_name: cron}\n",
            &["actions[0].name", "\"a/b\""],
        ),
    ];
    for (yaml, parts) in cases {
        let e = start_err(yaml).await;
        contains_all(&e, parts);
    }

    // Mistakes in `auths:` found when the config is read.
    let dup = Config::from_yaml(
        "auths:\n  - {name: a, type: header, header: {name: X, value: v}}\n  - {name: a, type: hmac, hmac: {secret: s}}\n",
        Path::new("prod.yml"),
    )
    .unwrap_err();
    assert!(matches!(dup, ConfigError::DuplicateAuth { .. }), "{dup}");
    let nameless = Config::from_yaml(
        "auths:\n  - {type: hmac, hmac: {secret: s}}\n",
        Path::new("prod.yml"),
    )
    .unwrap_err();
    contains_all(&nameless.to_string(), &["auths[0].name"]);
    let bad_age = Config::from_yaml(
        "auths:\n  - {name: s, type: hmac, hmac: {secret: s, max_age: soon}}\n",
        Path::new("prod.yml"),
    )
    .unwrap_err();
    contains_all(&bad_age.to_string(), &["auths[0].hmac.max_age"]);
    // An hmac auth without its secret: at start-up.
    let (_, db) = action_db().await;
    let config = config(
        "auths:\n  - {name: s, type: hmac}\nactions:\n  - {name: a, sql: SELECT 1, auth_name: s}\n",
        &[],
    );
    let e = Actions::from_config(&config, &db).await.unwrap_err();
    contains_all(
        &e.to_string(),
        &["auths[s].hmac.secret", "GJ_AUTHS_<NAME>_HMAC_SECRET"],
    );
}

/// Collects everything a tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test] // current-thread runtime: the thread-local subscriber sees every event
async fn secrets_never_appear_in_logs_debug_or_errors() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let yaml = r#"
auths:
  - name: cron
    type: header
    header: {name: X-Cron-Secret}
  - name: signed
    type: hmac
  - name: public
    type: none
actions:
  - name: refresh
    sql: REFRESH MATERIALIZED VIEW CONCURRENTLY leaderboard
    auth_name: cron
  - name: bump
    sql: UPDATE scores SET points = points + 1 WHERE user_id = $1
    auth_name: signed
    params: [{name: id, type: bigint}]
  - name: hook
    url: "http://hookuser:SUPERSECRET-url-pw@127.0.0.1:9/hook?token=SUPERSECRET-url-query"
    auth_name: public
    headers:
      - {name: X-Action-Secret, value_from_env: HOOK_HEADER}
      - {name: X-Inline, value: "SUPERSECRET-inline-header"}
"#;
    let env = [
        ("GJ_AUTHS_CRON_HEADER_VALUE", "SUPERSECRET-cron"),
        ("GJ_AUTHS_SIGNED_HMAC_SECRET", "SUPERSECRET-hmac"),
        ("GJ_ACTIONS_HOOK_SECRET", "SUPERSECRET-signing"),
        ("HOOK_HEADER", "SUPERSECRET-env-header"),
    ];
    let (_, db) = action_db().await;
    let config = config(yaml, &env);
    let actions = Actions::from_config(&config, &db).await.expect("starts");
    let mut seen = vec![
        format!("{config:?}"),
        format!("{config:#?}"),
        format!("{:?}", config.actions),
        format!("{:?}", config.hmac_auths),
        format!("{actions:?}"),
        format!(
            "{:?}",
            graphjin_runtime::actions::VerifyAction::new("SUPERSECRET-layer")
                .secret_header("X-A", "SUPERSECRET-layer-header")
        ),
    ];
    let base = serve(graphjin_runtime::Service::new(db).actions(actions)).await;

    // Refused and failing calls.
    let r = call(
        &base,
        "refresh",
        "",
        &[("x-cron-secret", "SUPERSECRET-cro")],
    )
    .await;
    assert_eq!(r.status, 401);
    seen.push(r.text);
    let ts = now();
    let forged = signature("SUPERSECRET-hmac-guess", ts, "{}");
    let r = call(
        &base,
        "bump",
        "{}",
        &[("x-timestamp", &ts.to_string()), ("x-signature", &forged)],
    )
    .await;
    assert_eq!(r.status, 401);
    seen.push(r.text);
    let r = call(&base, "hook", r#"{"a": 1}"#, &[]).await;
    assert_eq!(r.status, 502, "{}", r.text);
    seen.push(r.text);

    // Config errors around secret values.
    for yaml in [
        "auths:\n  - {name: s, type: hmac, hmac: {secret: 4815162342}}\n",
        "actions:\n  - {name: a, secret: 4815162342}\n",
        "actions:\n  - {name: a, headers: [{name: X, value: 4815162342}]}\n",
    ] {
        let e = Config::from_yaml(yaml, Path::new("prod.yml")).unwrap_err();
        seen.extend([e.to_string(), format!("{e:?}")]);
    }
    let (_, db) = action_db().await;
    let bad_header = config_with(
        "auths:\n  - {name: p, type: none}\nactions:\n  - {name: a, url: 'http://127.0.0.1:9/', auth_name: p, secret: SUPERSECRET-s, headers: [{name: X, value: \"SUPERSECRET-bad\\nvalue\"}]}\n",
    );
    let e = Actions::from_config(&bad_header, &db).await.unwrap_err();
    seen.extend([e.to_string(), format!("{e:?}")]);

    let logs = String::from_utf8_lossy(&captured.0.lock().expect("lock")).into_owned();
    assert!(logs.contains("action handler unreachable"), "{logs}");
    assert!(
        logs.contains("http://***@127.0.0.1:9/hook?***"),
        "the URL is logged redacted: {logs}"
    );
    seen.push(logs);
    for text in &seen {
        assert!(
            !text.contains("SUPERSECRET"),
            "a secret leaked into: {text}"
        );
        assert!(!text.contains("4815162342"), "a secret leaked into: {text}");
    }
}

fn config_with(yaml: &str) -> Config {
    config(yaml, &[])
}
