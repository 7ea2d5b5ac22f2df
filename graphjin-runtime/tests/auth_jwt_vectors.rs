//! The JWT vectors of `shared/vectors/jwt.json` (made by PyJWT) through the real HTTP
//! stack: a [`Service`] with the vector's auth and `auth_fail_block: true` on a real
//! PostgreSQL, a listening server, and reqwest. An operation answers the caller's
//! `$user_id` and `$user_id_provider`, so a valid token shows who it names; an invalid
//! one must be 401 `UNAUTHENTICATED`. JWKS vectors fetch `jwks.json` from a local server.

mod auth_common;
mod common;

use std::sync::OnceLock;

use auth_common::*;
use graphjin_runtime::auth::{AuthOptions, Authenticator};
use graphjin_runtime::config::AuthConfig;
use graphjin_runtime::{AuthLayer, Db, OpKind, Operation, Param, RoleStatement, Service};
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

/// POSTs `{"operationName":"me"}` with the vector's input; returns status and body.
async fn ask(url: &str, input: &Value) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(r#"{"operationName":"me"}"#);
    if let Some(a) = input.get("authorization").and_then(Value::as_str) {
        req = req.header("authorization", a);
    }
    if let Some(c) = input.get("cookie").and_then(Value::as_str) {
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

/// The vector's verdict against the answer; `Err` says what differs.
fn check(expect: &Value, status: u16, body: &Value, fail_block: bool) -> Result<(), String> {
    let ok = expect["ok"].as_bool().unwrap_or(false);
    let me = &body["data"]["me"];
    let provider = &body["data"]["provider"];
    if ok {
        let want_provider = expect
            .get("user_id_provider")
            .cloned()
            .unwrap_or(Value::Null);
        if status == 200 && *me == expect["user_id"] && *provider == want_provider {
            Ok(())
        } else {
            Err(format!(
                "want 200 with me={} provider={want_provider}, got {status} {body}",
                expect["user_id"]
            ))
        }
    } else if fail_block {
        if status == 401 && body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" {
            Ok(())
        } else {
            Err(format!("want 401 UNAUTHENTICATED, got {status} {body}"))
        }
    } else if status == 200 && me.is_null() && provider.is_null() {
        Ok(())
    } else {
        Err(format!("want 200 as anon, got {status} {body}"))
    }
}

#[tokio::test]
async fn jwt_vectors_through_http() {
    let Some(dir) = vectors_dir(&["jwt.json", "jwks.json"]) else {
        return;
    };
    let vectors: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("jwt.json")).expect("read jwt.json"),
    )
    .expect("jwt.json is JSON");
    let jwks = std::fs::read_to_string(dir.join("jwks.json")).expect("read jwks.json");
    let jwks_server = KeyServer::start(&jwks, &[("cache-control", "max-age=300")]).await;
    let port = jwks_server
        .base
        .rsplit(':')
        .next()
        .expect("port")
        .to_owned();
    let db = me_db().await;
    let options = AuthOptions::default().base_dir(&dir);

    let (mut passed, mut failed) = (0usize, Vec::new());
    let mut anon_failures = Vec::new();
    for v in &vectors {
        let name = v["name"].as_str().unwrap_or("?");
        let config_text = v["config"].to_string().replace("PORT", &port);
        let config: AuthConfig = match serde_json::from_str(&config_text) {
            Ok(c) => c,
            Err(e) => {
                failed.push(format!("{name}: config does not parse: {e}"));
                continue;
            }
        };
        let auth = match Authenticator::with_options(&config, &options) {
            Ok(a) => a,
            Err(e) => {
                failed.push(format!("{name}: auth does not build: {e}"));
                continue;
            }
        };
        // auth_fail_block: true, the vector's verdict.
        let url =
            serve(Service::new(db.clone()).auth(AuthLayer::new(auth.clone()).fail_block(true)))
                .await;
        let (status, body) = ask(&url, &v["input"]).await;
        match check(&v["expect"], status, &body, true) {
            Ok(()) => {
                passed += 1;
                let seen = match body["errors"][0]["message"].as_str() {
                    Some(message) => format!("{status} {message}"),
                    None => format!("{status} {}", body["data"]),
                };
                println!("  ok {name}: {seen}");
            }
            Err(why) => failed.push(format!("{name}: {why}")),
        }
        // auth_fail_block: false, the same credential: invalid ones run as anon.
        let url = serve(Service::new(db.clone()).auth(AuthLayer::new(auth))).await;
        let (status, body) = ask(&url, &v["input"]).await;
        if let Err(why) = check(&v["expect"], status, &body, false) {
            anon_failures.push(format!("{name} (auth_fail_block off): {why}"));
        }
    }
    println!("jwt vectors: {passed} passed, {} failed", failed.len());
    for f in &failed {
        println!("  FAILED {f}");
    }
    assert!(
        vectors.len() >= 30,
        "the vector file shrank: {}",
        vectors.len()
    );
    assert!(failed.is_empty(), "{} vectors failed", failed.len());
    assert!(anon_failures.is_empty(), "{anon_failures:#?}");
    assert!(jwks_server.hits() >= 1);
}

#[tokio::test]
async fn missing_credentials_are_anonymous_and_health_is_open() {
    let db = me_db().await;
    let auth = Authenticator::new(&AuthConfig::jwt_secret(
        "a-long-enough-secret-for-hs256-tokens",
    ))
    .expect("build");
    let url = serve(Service::new(db).auth(AuthLayer::new(auth).fail_block(true))).await;
    // No credential at all: anon, even with auth_fail_block.
    let (status, body) = ask(&url, &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"me": null, "provider": null}));
    // An Authorization header that is not `Bearer <token>` was sent but cannot be used:
    // refused under auth_fail_block (see tests/http_limits.rs for the other shapes).
    let (status, _) = ask(&url, &json!({"authorization": "Basic dXNlcjpwdw=="})).await;
    assert_eq!(status, 401);
    // /health is not behind the auth layer.
    let health = url.replace("/api/v1/graphql", "/health");
    let r = reqwest::Client::new()
        .get(&health)
        .header("authorization", "Bearer garbage")
        .send()
        .await
        .expect("health");
    assert_eq!(r.status().as_u16(), 200);
    // REST is guarded like GraphQL.
    let rest = url.replace("/graphql", "/rest/me");
    let r = reqwest::Client::new()
        .get(&rest)
        .header("authorization", "Bearer garbage")
        .send()
        .await
        .expect("rest");
    assert_eq!(r.status().as_u16(), 401);
    let token = hs256(
        "a-long-enough-secret-for-hs256-tokens",
        &claims("99", json!({})),
    );
    let r = reqwest::Client::new()
        .get(&rest)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("rest");
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(body["data"]["me"], "99");
}

#[tokio::test]
async fn dev_headers_reach_the_statement_through_the_service() {
    let db = me_db().await;
    let yaml = "auth:\n  type: none\n  creds_in_header: true\n";
    let config =
        graphjin_runtime::Config::from_yaml(yaml, std::path::Path::new("dev.yml")).expect("parses");
    let url = serve(Service::from_config(db.clone(), &config).expect("service")).await;
    let r = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("x-user-id", "5")
        .header("x-user-id-provider", "github")
        .body(r#"{"operationName":"me"}"#)
        .send()
        .await
        .expect("request");
    let body: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(body["data"], json!({"me": "5", "provider": "github"}));

    // The same config in production: the headers are ignored.
    let mut production = config.clone();
    production.production = true;
    let url = serve(Service::from_config(db, &production).expect("service")).await;
    let r = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("x-user-id", "5")
        .body(r#"{"operationName":"me"}"#)
        .send()
        .await
        .expect("request");
    let body: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(body["data"], json!({"me": null, "provider": null}));
}
