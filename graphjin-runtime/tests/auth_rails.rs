//! `type: rails` through the real HTTP stack: the Rails vectors of `shared/vectors/rails.json`
//! (cookies made by Rails 6.1's own cookie jar) and the session-store vectors of
//! `stores.json` against real `memcached` and `redis-server` processes (Debian packages
//! `memcached` and `redis-server`, started here on free loopback ports and killed at the
//! end, by `graphjin_rails::test_servers`). Each request goes to a [`Service`] on a real PostgreSQL, listening on 127.0.0.1,
//! whose operation answers the caller's `$user_id`: a valid session shows its user; an
//! invalid one must be 401 `UNAUTHENTICATED` under `auth_fail_block` (else `anon`); a store
//! that goes away is a fast 401 with the generic "try again later" message (a server-side
//! failure, as unreachable JWKS keys), and works again once the store is back.

mod auth_common;
mod common;

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use auth_common::vectors_dir;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use graphjin_rails::test_servers::{Kind, StoreServer};
use graphjin_runtime::auth::Authenticator;
use graphjin_runtime::config::{AuthConfig, AuthType};
use graphjin_runtime::{
    AuthLayer, Config, ConfigError, Db, OpKind, Operation, Param, RoleStatement, Service,
};
use serde_json::{Value, json};

const ME: &str = "query me { me provider }";
const ME_SQL: &str =
    r#"SELECT json_build_object('me', $1::text, 'provider', $2::text) AS "__root""#;
const ME_PARAMS: &[Param] = &[
    Param {
        name: "user_id",
        pg_type: "text",
        builtin: true,
        default: None,
    },
    Param {
        name: "user_id_provider",
        pg_type: "text",
        builtin: true,
        default: None,
    },
];
const ME_ROLES: &[RoleStatement] = &[
    RoleStatement {
        role: "anon",
        sql: ME_SQL,
        params: ME_PARAMS,
    },
    RoleStatement {
        role: "user",
        sql: ME_SQL,
        params: ME_PARAMS,
    },
];

/// What a client sees when the credential cannot be checked (server-side failures).
const TRY_LATER: &str = "the credential could not be verified right now; try again later";

fn operations() -> &'static [Operation] {
    static OPS: OnceLock<&'static [Operation]> = OnceLock::new();
    OPS.get_or_init(|| {
        let query: &'static str = Box::leak(graphjin_normalize::normalize(ME).into_boxed_str());
        let ops = vec![Operation {
            name: "me",
            kind: OpKind::Query,
            query,
            sha256: Box::leak(common::sha256_hex(query).into_boxed_str()),
            roles: ME_ROLES,
            constraints: &[],
        }];
        Box::leak(ops.into_boxed_slice())
    })
}

async fn me_db() -> Db {
    let name = common::fresh_database();
    Db::connect(&common::pg().url(&name), operations(), common::small_pool())
        .await
        .expect("connect")
}

/// Serves `service`; returns the GraphQL URL.
async fn serve(service: Service) -> String {
    let app = graphjin_runtime::router(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    format!("http://{addr}/api/v1/graphql")
}

/// Serves the auth of `config` the way an app does: [`Service::from_config`].
async fn serve_config(db: &Db, config: &Config) -> String {
    serve(Service::from_config(db.clone(), config).expect("service from config")).await
}

/// POSTs `{"operationName":"me"}` with `cookie` (if any); returns status and body. A
/// request that hangs fails the test rather than the test hanging.
async fn ask(url: &str, cookie: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(url)
        .timeout(Duration::from_secs(20))
        .header("content-type", "application/json")
        .body(r#"{"operationName":"me"}"#);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

fn error_message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or("")
}

/// The vector's verdict against the answer; `Err` says what differs.
fn check(expect: &Value, status: u16, body: &Value, fail_block: bool) -> Result<(), String> {
    let ok = expect["ok"].as_bool().unwrap_or(false);
    let me = &body["data"]["me"];
    let provider = &body["data"]["provider"];
    if ok {
        if status == 200 && *me == expect["user_id"] && provider.is_null() {
            Ok(())
        } else {
            Err(format!(
                "want 200 with me={}, got {status} {body}",
                expect["user_id"]
            ))
        }
    } else if fail_block {
        if status == 401
            && error_code(body) == "UNAUTHENTICATED"
            && error_message(body).starts_with("authentication failed: the session cookie")
        {
            Ok(())
        } else {
            Err(format!(
                "want 401 UNAUTHENTICATED (session cookie not accepted), got {status} {body}"
            ))
        }
    } else if status == 200 && me.is_null() && provider.is_null() {
        Ok(())
    } else {
        Err(format!("want 200 as anon, got {status} {body}"))
    }
}

/// `vectors/<name>` of the shared corpora; `None` (the test returns) when they are absent.
fn read_vectors(name: &str) -> Option<Vec<Value>> {
    let path = vectors_dir(&[name])?.join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Some(serde_json::from_str(&text).expect("vector file is JSON"))
}

fn cookie_of(v: &Value) -> &str {
    v["input"]["cookie"].as_str().expect("input.cookie")
}

/// Builds a vector's auth (its `config`, with `PORT` filled in), as an app does at start-up.
fn vector_auth(v: &Value, port: Option<u16>) -> Result<Authenticator, String> {
    let mut text = v["config"].to_string();
    if let Some(port) = port {
        text = text.replace("PORT", &port.to_string());
    }
    let config: AuthConfig =
        serde_json::from_str(&text).map_err(|e| format!("config does not parse: {e}"))?;
    Authenticator::new(&config).map_err(|e| format!("auth does not build: {e}"))
}

/// Sends the vector's cookie with `auth_fail_block` on and off; `Err` says what differs.
async fn run_vector(db: &Db, auth: Authenticator, v: &Value) -> Result<String, String> {
    let cookie = cookie_of(v);
    let blocking =
        serve(Service::new(db.clone()).auth(AuthLayer::new(auth.clone()).fail_block(true))).await;
    let (status, body) = ask(&blocking, Some(cookie)).await;
    check(&v["expect"], status, &body, true)?;
    // Client-facing errors never carry the secret or the cookie.
    let text = body.to_string();
    if let Some(secret) = v["config"]["rails"]["secret_key_base"].as_str() {
        assert!(!text.contains(secret), "{text}");
    }
    let value = cookie.split_once('=').map_or(cookie, |(_, v)| v);
    assert!(value.len() < 16 || !text.contains(&value[..16]), "{text}");
    let seen = match error_message(&body) {
        "" => format!("{status} {}", body["data"]),
        message => format!("{status} {message}"),
    };
    let open = serve(Service::new(db.clone()).auth(AuthLayer::new(auth))).await;
    let (status, body) = ask(&open, Some(cookie)).await;
    check(&v["expect"], status, &body, false)
        .map_err(|why| format!("auth_fail_block off: {why}"))?;
    Ok(seen)
}

#[tokio::test]
async fn rails_vectors_through_http() {
    let Some(vectors) = read_vectors("rails.json") else {
        return;
    };
    let db = me_db().await;
    let (mut passed, mut failed) = (0usize, Vec::new());
    for v in &vectors {
        let name = v["name"].as_str().unwrap_or("?");
        let result = match vector_auth(v, None) {
            Ok(auth) => run_vector(&db, auth, v).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(seen) => {
                passed += 1;
                println!("  ok {name}: {seen}");
            }
            Err(why) => failed.push(format!("{name}: {why}")),
        }
    }
    println!("rails vectors: {passed} passed, {} failed", failed.len());
    for f in &failed {
        println!("  FAILED {f}");
    }
    assert!(
        vectors.len() >= 24,
        "the vector file shrank: {}",
        vectors.len()
    );
    assert!(failed.is_empty(), "{} vectors failed", failed.len());
}

// ---- Real session stores ------------------------------------------------------------------

/// A Marshal session for user `id` (as Rails' cache store writes it).
fn session_for(id: u8) -> Vec<u8> {
    let mut v = b"\x04\x08{\x06I\"\x19warden.user.user.key\x06:\x06ET[\x07[\x06i".to_vec();
    v.push(id + 5);
    v.extend_from_slice(b"I\"\x09salt\x06;\x00T");
    v
}

/// A YAML config for a session store at `url`.
fn store_config(url: &str, fail_block: bool) -> Config {
    let yaml = format!(
        "auth_fail_block: {fail_block}\nauth:\n  type: rails\n  cookie: _app_session\n  rails:\n    url: {url}\n    max_idle: 2\n    max_active: 4\n"
    );
    Config::from_yaml(&yaml, Path::new("dev.yml")).expect("config parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rails_store_vectors_through_http() {
    let Some(vectors) = read_vectors("stores.json") else {
        return;
    };
    let memcache = StoreServer::start(Kind::Memcache, None);
    let redis = StoreServer::start(Kind::Redis, None);
    let db = me_db().await;
    let (mut passed, mut failed) = (0usize, Vec::new());
    for v in &vectors {
        let name = v["name"].as_str().unwrap_or("?");
        let server = match v["store"].as_str() {
            Some("memcache") => &memcache,
            Some("redis") => &redis,
            other => {
                failed.push(format!("{name}: unknown store {other:?}"));
                continue;
            }
        };
        if let (Some(key), Some(value)) = (v["key"].as_str(), v["value_base64"].as_str()) {
            server.put(key, &STANDARD.decode(value).expect("value_base64"));
        }
        let result = match vector_auth(v, Some(server.port())) {
            Ok(auth) => run_vector(&db, auth, v).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(seen) => {
                passed += 1;
                println!("  ok {name}: {seen}");
            }
            Err(why) => failed.push(format!("{name}: {why}")),
        }
    }
    println!(
        "rails store vectors: {passed} passed, {} failed",
        failed.len()
    );
    for f in &failed {
        println!("  FAILED {f}");
    }
    assert!(
        vectors.len() >= 6,
        "the vector file shrank: {}",
        vectors.len()
    );
    assert!(
        vectors.iter().any(|v| v["store"] == "memcache")
            && vectors.iter().any(|v| v["store"] == "redis")
    );
    assert!(failed.is_empty(), "{} vectors failed", failed.len());
}

/// The store is killed mid-run: every request fails fast with 401 and the generic
/// server-side message (or runs as anon without `auth_fail_block`), never hangs; once the
/// store is back, the same running service signs the user in again.
async fn store_outage_through_http(kind: Kind) {
    let mut server = StoreServer::start(kind, None);
    let db = me_db().await;
    let blocking = serve_config(&db, &store_config(&server.url(), true)).await;
    let open = serve_config(&db, &store_config(&server.url(), false)).await;
    let cookie = Some("_app_session=aaaa");
    server.put("session:aaaa", &session_for(7));
    for url in [&blocking, &open] {
        let (status, body) = ask(url, cookie).await;
        assert_eq!((status, &body["data"]["me"]), (200, &json!("7")), "{body}");
    }

    server.kill();
    for round in 0..3 {
        let start = Instant::now();
        let (status, body) = ask(&blocking, cookie).await;
        let took = start.elapsed();
        println!("{kind:?} down, round {round}: {status} {body} ({took:?})");
        assert_eq!(status, 401, "{body}");
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
        assert_eq!(error_message(&body), TRY_LATER, "{body}");
        assert!(
            !body.to_string().contains(&server.port().to_string()),
            "the store's address is not for clients: {body}"
        );
        assert!(took < Duration::from_millis(1500), "took {took:?}");
        let start = Instant::now();
        let (status, body) = ask(&open, cookie).await;
        assert_eq!((status, &body["data"]["me"]), (200, &Value::Null), "{body}");
        assert!(start.elapsed() < Duration::from_millis(1500));
    }
    // Without a session cookie the store is not asked: still anonymous, not an error.
    let (status, body) = ask(&blocking, None).await;
    assert_eq!((status, &body["data"]["me"]), (200, &Value::Null), "{body}");

    server.restart();
    server.put("session:aaaa", &session_for(8));
    for _ in 0..2 {
        for url in [&blocking, &open] {
            let (status, body) = ask(url, cookie).await;
            assert_eq!((status, &body["data"]["me"]), (200, &json!("8")), "{body}");
        }
    }
}

#[tokio::test]
async fn memcache_outage_through_http() {
    store_outage_through_http(Kind::Memcache).await;
}

#[tokio::test]
async fn redis_outage_through_http() {
    store_outage_through_http(Kind::Redis).await;
}

/// A store that accepts connections but never answers (SIGSTOP): the request ends with the
/// same server-side 401 once the store's answer timeout (2 s) passes, not a hang.
async fn hung_store_through_http(kind: Kind) {
    let server = StoreServer::start(kind, None);
    let db = me_db().await;
    let url = serve_config(&db, &store_config(&server.url(), true)).await;
    let cookie = Some("_app_session=cccc");
    server.put("session:cccc", &session_for(5));
    let (status, body) = ask(&url, cookie).await;
    assert_eq!((status, &body["data"]["me"]), (200, &json!("5")), "{body}");

    server.signal("-STOP");
    let start = Instant::now();
    let (status, body) = ask(&url, cookie).await;
    let took = start.elapsed();
    println!("{kind:?} hung: {status} {body} ({took:?})");
    assert_eq!(status, 401, "{body}");
    assert_eq!(error_message(&body), TRY_LATER, "{body}");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
        "took {took:?}"
    );

    server.signal("-CONT");
    let (status, body) = ask(&url, cookie).await;
    assert_eq!((status, &body["data"]["me"]), (200, &json!("5")), "{body}");
}

#[tokio::test]
async fn memcache_hung_store_through_http() {
    hung_store_through_http(Kind::Memcache).await;
}

#[tokio::test]
async fn redis_hung_store_through_http() {
    hung_store_through_http(Kind::Redis).await;
}

/// `GJ_AUTH_RAILS_PASSWORD` reaches the redis handshake; a wrong one is the store's
/// failure (server-side), not the user's, and never echoed.
#[tokio::test]
async fn redis_password_from_the_environment() {
    let server = StoreServer::start(Kind::Redis, Some("s3cr3t-pass"));
    server.put("session:dddd", &session_for(9));
    let db = me_db().await;
    let cookie = Some("_app_session=dddd");
    let with_password = |password: &'static str| {
        let mut config = store_config(&server.url(), true);
        config
            .apply_env(move |name| (name == "GJ_AUTH_RAILS_PASSWORD").then(|| password.to_owned()))
            .expect("env applies");
        config
    };

    let config = with_password("s3cr3t-pass");
    assert!(!format!("{config:?}").contains("s3cr3t-pass"));
    let url = serve_config(&db, &config).await;
    let (status, body) = ask(&url, cookie).await;
    assert_eq!((status, &body["data"]["me"]), (200, &json!("9")), "{body}");

    let url = serve_config(&db, &with_password("wrong-pass")).await;
    let (status, body) = ask(&url, cookie).await;
    assert_eq!((status, error_message(&body)), (401, TRY_LATER), "{body}");
    assert!(!body.to_string().contains("wrong-pass"), "{body}");
}

// ---- No cookie, config keys, environment ---------------------------------------------------

/// The first vector that authenticates, with Rails `version`; `None` without the corpora.
fn ok_vector(version: &str) -> Option<Value> {
    let found = read_vectors("rails.json")?
        .into_iter()
        .find(|v| v["config"]["rails"]["version"] == version && v["expect"]["ok"] == true);
    Some(found.expect("an ok vector of that version"))
}

#[tokio::test]
async fn without_the_session_cookie_the_caller_is_anonymous() {
    let Some(v) = ok_vector("6.1") else {
        return;
    };
    let db = me_db().await;
    let auth = vector_auth(&v, None).expect("auth builds");
    let url = serve(Service::new(db).auth(AuthLayer::new(auth).fail_block(true))).await;
    for cookie in [
        None,
        Some("other=1; _jwt=abc"),
        Some("_app_session="),
        Some("_app_session=\"\""),
    ] {
        let (status, body) = ask(&url, cookie).await;
        assert_eq!(status, 200, "{cookie:?}: {body}");
        assert_eq!(
            body["data"],
            json!({"me": null, "provider": null}),
            "{cookie:?}"
        );
    }
    // The session cookie among others, and the configured name only.
    let session = cookie_of(&v);
    let (status, body) = ask(&url, Some(&format!("theme=dark; {session}; lang=en"))).await;
    assert_eq!(
        (status, &body["data"]["me"]),
        (200, &v["expect"]["user_id"]),
        "{body}"
    );
    let renamed = session.replacen("_app_session=", "_other_session=", 1);
    let (status, body) = ask(&url, Some(&renamed)).await;
    assert_eq!((status, &body["data"]["me"]), (200, &Value::Null), "{body}");
    // A session-id cookie with no store configured cannot be checked: a bad credential.
    let (status, body) = ask(&url, Some("_app_session=0123456789abcdef")).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "UNAUTHENTICATED"),
        "{body}"
    );
}

/// A YAML config with an empty `secret_key_base` and `GJ_AUTH_RAILS_SECRET_KEY_BASE` set, as
/// in production: the environment's secret is used, and shows in no `Debug` output.
#[tokio::test]
async fn yaml_config_with_secret_from_the_environment() {
    let Some(v) = ok_vector("7.0") else {
        return;
    };
    let secret = v["config"]["rails"]["secret_key_base"]
        .as_str()
        .expect("secret")
        .to_owned();
    let yaml = "auth_fail_block: true\nauth:\n  type: rails\n  cookie: _app_session\n  rails:\n    version: 7.0\n    secret_key_base: \"\"\n";
    let mut config = Config::from_yaml(yaml, Path::new("dev.yml")).expect("parses");
    assert_eq!(config.auth.kind, AuthType::Rails);
    assert_eq!(config.auth.rails.version.as_deref(), Some("7.0"));
    // Empty in the file and no variable: a start-up error naming the key and the variable.
    let e = config.authenticator().unwrap_err().to_string();
    assert!(
        e.contains("`auth.rails`") && e.contains("GJ_AUTH_RAILS_SECRET_KEY_BASE"),
        "{e}"
    );
    let env = |name: &str| match name {
        "GJ_AUTH_RAILS_SECRET_KEY_BASE" => Some(secret.clone()),
        "GJ_AUTH_RAILS_MAX_IDLE" => Some("3".to_owned()),
        _ => None,
    };
    config.apply_env(env).expect("env applies");
    assert_eq!(config.auth.rails.max_idle, Some(3));
    let debug = format!("{config:?} {config:#?}");
    assert!(!debug.contains(&secret[..20]), "{debug}");
    let auth = config.authenticator().expect("builds");
    assert!(!format!("{auth:?}").contains(&secret[..20]));

    let db = me_db().await;
    let url = serve_config(&db, &config).await;
    let (status, body) = ask(&url, Some(cookie_of(&v))).await;
    assert_eq!(
        (status, &body["data"]["me"]),
        (200, &v["expect"]["user_id"]),
        "{body}"
    );

    // The environment wins over the file: a wrong secret in the file is replaced.
    let wrong = yaml.replace("\"\"", "wrong-secret-in-the-file");
    let mut config = Config::from_yaml(&wrong, Path::new("dev.yml")).expect("parses");
    let url = serve_config(&db, &config).await;
    let (status, _) = ask(&url, Some(cookie_of(&v))).await;
    assert_eq!(status, 401);
    config.apply_env(env).expect("env applies");
    let url = serve_config(&db, &config).await;
    let (status, body) = ask(&url, Some(cookie_of(&v))).await;
    assert_eq!(
        (status, &body["data"]["me"]),
        (200, &v["expect"]["user_id"]),
        "{body}"
    );
}

#[test]
fn named_auths_take_rails_keys_from_the_environment() {
    let Some(v) = ok_vector("5.2") else {
        return;
    };
    let secret = v["config"]["rails"]["secret_key_base"]
        .as_str()
        .expect("secret")
        .to_owned();
    let yaml = "auths:\n  - name: rails-app\n    type: rails\n    cookie: _app_session\n";
    let mut config = Config::from_yaml(yaml, Path::new("dev.yml")).expect("parses");
    let e = config.auth_registry().unwrap_err().to_string();
    assert!(
        e.contains("`auths[rails-app].rails`")
            && e.contains("GJ_AUTHS_<NAME>_RAILS_SECRET_KEY_BASE"),
        "{e}"
    );
    config
        .apply_env(|name| match name {
            "GJ_AUTHS_RAILS_APP_RAILS_VERSION" => Some("5.2".to_owned()),
            "GJ_AUTHS_RAILS_APP_RAILS_SECRET_KEY_BASE" => Some(secret.clone()),
            _ => None,
        })
        .expect("env applies");
    let registry = config.auth_registry().expect("builds");
    let auth = registry.get("rails-app").expect("named auth").clone();
    let mut headers = HeaderMap::new();
    headers.insert("cookie", cookie_of(&v).parse().expect("header value"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let who = rt.block_on(auth.require(&headers)).expect("authenticates");
    assert_eq!(who.user_id.as_deref(), v["expect"]["user_id"].as_str());
    assert_eq!(who.role(), "user");
}

#[test]
fn bad_rails_settings_fail_at_start_up() {
    let build = |yaml: &str, env: &[(&str, &str)]| -> Result<Authenticator, ConfigError> {
        let mut config = Config::from_yaml(yaml, Path::new("dev.yml"))?;
        config.apply_env(|name| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })?;
        config.authenticator()
    };
    let base = "auth:\n  type: rails\n  cookie: _app_session\n  rails:\n    secret_key_base: very-secret-base\n";
    let err = |yaml: &str, env: &[(&str, &str)]| {
        let e = build(yaml, env).unwrap_err().to_string();
        assert!(
            !e.contains("very-secret-base") && !e.contains("pw-in-url"),
            "{e}"
        );
        e
    };
    // No version with a secret, or one from before 4.
    assert!(err(base, &[]).contains("rails.version"));
    let e = err(base, &[("GJ_AUTH_RAILS_VERSION", "3.2")]);
    assert!(e.contains("`auth.rails`") && e.contains("3.2"), "{e}");
    // A bad store URL, a bad pool size.
    let e = err(
        base,
        &[
            ("GJ_AUTH_RAILS_VERSION", "6.1"),
            ("GJ_AUTH_RAILS_URL", "postgres://:pw-in-url@127.0.0.1:1"),
        ],
    );
    assert!(e.contains("rails.url"), "{e}");
    let e = err(
        base,
        &[
            ("GJ_AUTH_RAILS_VERSION", "6.1"),
            ("GJ_AUTH_RAILS_MAX_ACTIVE", "many"),
        ],
    );
    assert!(
        e.contains("GJ_AUTH_RAILS_MAX_ACTIVE") && e.contains("whole number"),
        "{e}"
    );
    let e = err(
        base,
        &[
            ("GJ_AUTH_RAILS_VERSION", "6.1"),
            ("GJ_AUTH_RAILS_URL", "memcache://127.0.0.1:1"),
            ("GJ_AUTH_RAILS_MAX_ACTIVE", "0"),
        ],
    );
    assert!(e.contains("max_active"), "{e}");
    // A version of the wrong shape in the file.
    let e = err(
        "auth:\n  type: rails\n  cookie: _app_session\n  rails:\n    version: [7]\n",
        &[],
    );
    assert!(e.contains("auth.rails.version"), "{e}");
    // Building does not reach the store: an unreachable one is fine until a request needs it.
    assert!(
        build(
            "auth:\n  type: rails\n  cookie: _app_session\n  rails:\n    url: redis://127.0.0.1:1\n",
            &[]
        )
        .is_ok()
    );
    // Defaults are per auth type: a `jwt` auth ignores `rails:` keys.
    let jwt = "auth:\n  type: jwt\n  jwt:\n    secret: a-long-enough-secret-for-hs256-tokens\n  rails:\n    version: 3.0\n";
    assert!(build(jwt, &[]).is_ok());
}

/// `rails.namespace` (or `GJ_AUTH_RAILS_NAMESPACE`) from the config reaches the store lookup:
/// only that namespace is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rails_namespace_from_the_config() {
    let server = StoreServer::start(Kind::Redis, None);
    server.put("shop:abcd", &session_for(13));
    server.put("session:abcd", &session_for(14));
    let db = me_db().await;
    let yaml = format!(
        "auth_fail_block: true\nauth:\n  type: rails\n  cookie: _app_session\n  rails:\n    url: {}\n    namespace: shop\n",
        server.url()
    );
    let config = Config::from_yaml(&yaml, Path::new("dev.yml")).expect("config parses");
    let url = serve_config(&db, &config).await;
    let (status, body) = ask(&url, Some("_app_session=abcd")).await;
    assert_eq!((status, &body["data"]["me"]), (200, &json!("13")), "{body}");
    let plain = Config::from_yaml(
        &yaml.replace("    namespace: shop\n", ""),
        Path::new("dev.yml"),
    )
    .expect("config parses");
    let mut from_env = plain.clone();
    from_env
        .apply_env(|name| (name == "GJ_AUTH_RAILS_NAMESPACE").then(|| "shop".to_owned()))
        .expect("env applies");
    let (status, body) = ask(
        &serve_config(&db, &from_env).await,
        Some("_app_session=abcd"),
    )
    .await;
    assert_eq!((status, &body["data"]["me"]), (200, &json!("13")), "{body}");
    let (status, body) = ask(&serve_config(&db, &plain).await, Some("_app_session=abcd")).await;
    assert_eq!((status, &body["data"]["me"]), (200, &json!("14")), "{body}");
}
