//! GraphJin's documented configuration blocks, copied into `tests/fixtures/graphjin_docs/`
//! as the documentation prints them (each file says where from and what had to change), each
//! served over HTTP by the runtime against a real PostgreSQL with GraphJin's webshop tables:
//!
//! - the role set-up (`roles_query` with `match: users.id = 1`, presets as a list of
//!   one-key maps, update filters and columns) under the documented JWT block (Auth0, ES256
//!   public key, issuer, audience): the admin sees every user, a user only their own row,
//!   presets are applied (read back with SQL), updates reach only the user's rows;
//! - the Rails cookie-store, memcache-store and redis-store blocks with real memcached and
//!   redis servers;
//! - the JWKS and Firebase blocks, their keys served on a local port;
//! - a named header auth guarding an SQL action.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use graphjin_rails::test_servers::{Kind, StoreServer};
use graphjin_runtime::{Config, Service};
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let path = graphjin_tests::workspace_root()
        .join("tests/fixtures/graphjin_docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A database with the fixture schema and a config folder whose `dev.yml` is `yaml`, with a
/// `db.graphql` pulled from that database.
async fn project(prefix: &str, yaml: &str) -> (String, PathBuf) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pg = graphjin_tests::pg();
    let dbname = format!("docs_{prefix}_{n}");
    pg.create_database(&dbname, None).expect("create database");
    pg.run_sql(&dbname, &fixture("schema.sql")).expect("schema");
    let url = pg.url(&dbname);
    let dir = std::env::temp_dir().join(format!("gj-docs-{}-{prefix}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("config dir");
    let schema = graphjin_dev::schema_pull::pull(&url, "public")
        .await
        .expect("schema pull");
    std::fs::write(dir.join("db.graphql"), schema).expect("db.graphql");
    std::fs::write(dir.join("allow.list"), fixture("allow.list")).expect("allow.list");
    std::fs::write(dir.join("dev.yml"), yaml).expect("dev.yml");
    (dbname, dir)
}

/// Compiles the folder's operations, connects, and serves them with the folder's config
/// (auth, roles, actions) on a real port.
async fn serve(url: &str, dir: &Path) -> SocketAddr {
    let db = graphjin_tests::connect_project(dir, url)
        .await
        .expect("connect");
    let config = Config::load(dir).expect("runtime config");
    let actions = graphjin_runtime::actions::Actions::from_config(&config, &db)
        .await
        .expect("actions");
    let service = Service::from_config(db, &config)
        .expect("service")
        .actions(actions);
    let app = graphjin_runtime::router(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { graphjin_runtime::axum::serve(listener, app).await });
    addr
}

/// POSTs a GraphQL operation with extra headers; returns the status and body.
async fn call(addr: SocketAddr, op: &str, vars: Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/graphql"))
        .header("content-type", "application/json")
        .body(json!({ "operationName": op, "variables": vars }).to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let bytes = res.bytes().await.expect("body");
    (status, serde_json::from_slice(&bytes).expect("JSON body"))
}

/// The rows of an SQL query, as JSON.
fn sql(dbname: &str, query: &str) -> Value {
    let out = graphjin_tests::pg()
        .run_sql(
            dbname,
            &format!("SELECT coalesce(json_agg(x), '[]') FROM ({query}) x"),
        )
        .expect("sql");
    serde_json::from_str(out.trim()).expect("JSON from psql")
}

/// An EC P-256 key pair: the public key PEM written to a file, the private key for signing.
fn ec_key(dir: &Path) -> (PathBuf, jsonwebtoken::EncodingKey) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("EC key");
    let public = dir.join("public_key.pem");
    std::fs::write(&public, pair.public_key_pem()).expect("write key");
    let private = jsonwebtoken::EncodingKey::from_ec_der(pair.serialized_der());
    (public, private)
}

/// An Auth0 ID token as the documented block expects it.
fn auth0_token(key: &jsonwebtoken::EncodingKey, user: u32) -> String {
    let claims = json!({
        "sub": format!("auth0|{user}"),
        "iss": "https://my-domain.auth0.com",
        "aud": "my_client_id",
        "exp": 4_070_908_800u64,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &claims,
        key,
    )
    .expect("sign")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_roles_under_the_documented_jwt_block() {
    let key_dir = std::env::temp_dir().join(format!("gj-docs-keys-{}", std::process::id()));
    std::fs::create_dir_all(&key_dir).expect("key dir");
    let (public, private) = ec_key(&key_dir);
    let yaml = format!(
        "auth_fail_block: true\n{}\n{}",
        fixture("auth_jwt.yml").replace("PUBLIC_KEY_FILE", &public.display().to_string()),
        fixture("roles.yml")
    );
    let (dbname, dir) = project("roles", &yaml).await;
    let addr = serve(&graphjin_tests::pg().url(&dbname), &dir).await;
    let bearer = |user| format!("Bearer {}", auth0_token(&private, user));

    // The admin, matched by `users.id = 1` inside the roles query, sees every user.
    let (status, body) = call(
        addr,
        "allUsers",
        json!({}),
        &[("authorization", &bearer(1))],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<i64> = body["data"]["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, [1, 2, 3], "{body}");

    // A user sees only their own row, through the table and through the `me` alias (a list,
    // as in GraphJin, which returns one object only for `id:` or `@object`).
    let (_, body) = call(
        addr,
        "allUsers",
        json!({}),
        &[("authorization", &bearer(2))],
    )
    .await;
    assert_eq!(
        body["data"]["users"],
        json!([{"id": 2, "email": "bob@example.com"}])
    );
    let (_, body) = call(addr, "me", json!({}), &[("authorization", &bearer(3))]).await;
    assert_eq!(
        body["data"]["me"],
        json!([{"id": 3, "email": "cy@example.com"}]),
        "{body}"
    );

    // A token signed by another key is refused (auth_fail_block).
    let other = ec_key(&key_dir.join("..")).1;
    let forged = format!("Bearer {}", auth0_token(&other, 1));
    let (status, _) = call(addr, "allUsers", json!({}), &[("authorization", &forged)]).await;
    assert_eq!(status, 401);

    // Insert presets written as a list of one-key maps: user_id from the token (the client's
    // 3 is overridden), created_at and updated_at now.
    let data =
        json!({"data": {"name": "Desk", "description": "A desk", "price": 99.5, "user_id": 3}});
    let (status, body) = call(
        addr,
        "createProduct",
        data,
        &[("authorization", &bearer(2))],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["products"][0]["user_id"], json!(2), "{body}");
    let rows = sql(
        &dbname,
        "SELECT user_id, created_at > now() - interval '1 minute' AS created_now, \
         updated_at > now() - interval '1 minute' AS updated_now FROM products WHERE name = 'Desk'",
    );
    assert_eq!(
        rows,
        json!([{"user_id": 2, "created_now": true, "updated_now": true}])
    );

    // Update: the filter limits it to the user's own products; the preset sets updated_at.
    let rename = |id: i64| json!({"id": id, "data": {"name": "Renamed"}});
    let (status, body) = call(
        addr,
        "renameProduct",
        rename(1),
        &[("authorization", &bearer(2))],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        addr,
        "renameProduct",
        rename(2),
        &[("authorization", &bearer(2))],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rows = sql(
        &dbname,
        "SELECT id, name, updated_at > now() - interval '1 minute' AS updated_now FROM products WHERE id IN (1, 2) ORDER BY id",
    );
    assert_eq!(
        rows,
        json!([
            {"id": 1, "name": "Renamed", "updated_now": true},
            {"id": 2, "name": "Cy's chair", "updated_now": false}
        ])
    );
}

/// Signs user `id` in as Devise does: `{"warden.user.user.key" => [[id], "salt"]}`.
fn devise_session(id: u8) -> Vec<u8> {
    let mut v = b"\x04\x08{\x06I\"\x19warden.user.user.key\x06:\x06ET[\x07[\x06i".to_vec();
    v.push(id + 5);
    v.extend_from_slice(b"I\"\x09salt\x06;\x00T");
    v
}

/// The `me` operation under a Rails auth block, asked with `cookie`.
async fn me_with_rails(yaml: &str, cookie: &str) -> (u16, Value) {
    let yaml = format!("auth_fail_block: true\n{yaml}\n{}", fixture("roles.yml"));
    let (dbname, dir) = project("rails", &yaml).await;
    let addr = serve(&graphjin_tests::pg().url(&dbname), &dir).await;
    call(addr, "me", json!({}), &[("cookie", cookie)]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_rails_cookie_store() {
    let yaml = fixture("auth_rails_cookie.yml");
    let secret = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret_key_base: "))
        .expect("the block's secret");
    let session = json!({ "warden.user.user.key": [[2], "$2a$10$abcdefghijklmnopqrstuv"] });
    let cookie = graphjin_rails::test_cookies::gcm_cookie(
        "5.2",
        secret,
        None,
        "_app_session",
        &session,
        [3; 12],
    );
    let (status, body) = me_with_rails(&yaml, &format!("_app_session={cookie}")).await;
    assert_eq!(
        (status, &body["data"]["me"][0]["id"]),
        (200, &json!(2)),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_rails_session_stores() {
    let id = "5f1d7a3a0f9e4b6c8d2e1f0a9b8c7d6e";
    for (kind, file) in [
        (Kind::Memcache, "auth_rails_memcache.yml"),
        (Kind::Redis, "auth_rails_redis.yml"),
    ] {
        let server = StoreServer::start(kind, None);
        // As Rails' CacheStore keys it: the private id.
        use sha2::Digest;
        let private: String = sha2::Sha256::digest(id.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        server.put(&format!("_session_id:2::{private}"), &devise_session(3));
        let yaml = fixture(file).replace("PORT", &server.port().to_string());
        let (status, body) = me_with_rails(&yaml, &format!("_app_session={id}")).await;
        assert_eq!(
            (status, &body["data"]["me"][0]["id"]),
            (200, &json!(3)),
            "{file}: {body}"
        );
        let (status, body) =
            me_with_rails(&yaml, "_app_session=ffffffffffffffffffffffffffffffff").await;
        assert_eq!(status, 401, "{file}: an unknown session: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_header_auth_guards_an_action() {
    let yaml = format!("{}\n{}", fixture("actions.yml"), fixture("roles.yml"));
    let (dbname, dir) = project("actions", &yaml).await;
    let addr = serve(&graphjin_tests::pg().url(&dbname), &dir).await;
    let url = format!("http://{addr}/api/v1/actions/refresh_leaderboard_users");
    let client = reqwest::Client::new();
    graphjin_tests::pg()
        .run_sql(&dbname, "INSERT INTO products (name, user_id, created_at, updated_at) VALUES ('Pen', 1, now(), now())")
        .expect("insert");
    let before = sql(
        &dbname,
        "SELECT products FROM leaderboard_users WHERE id = 1",
    );
    let res = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 401, "no header");
    let res = client
        .post(&url)
        .header("X-AppEngine-QueueName", "__cron")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    assert_eq!(status, 200, "{}", res.text().await.unwrap_or_default());
    let after = sql(
        &dbname,
        "SELECT products FROM leaderboard_users WHERE id = 1",
    );
    assert_eq!(
        (before, after),
        (json!([{"products": 0}]), json!([{"products": 1}]))
    );
}

/// Serves `body` as JSON at `path` on a local port (a key set in place of Google's).
async fn serve_json(path: &'static str, body: String) -> SocketAddr {
    use graphjin_runtime::axum;
    let app = axum::Router::new().route(
        path,
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with a `kid`, for `iss`/`aud`, signed by `key` with `alg`.
fn kid_token(
    (key, alg): (&jsonwebtoken::EncodingKey, jsonwebtoken::Algorithm),
    kid: &str,
    iss: &str,
    aud: &str,
    sub: &str,
) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some(kid.to_owned());
    let claims = json!({ "sub": sub, "iss": iss, "aud": aud, "exp": 4_070_908_800u64, "iat": 1_700_000_000u64 });
    jsonwebtoken::encode(&header, &claims, key).expect("sign")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_jwks_and_firebase_blocks() {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("EC key");
    let private = jsonwebtoken::EncodingKey::from_ec_der(pair.serialized_der());
    // The uncompressed point 04 || x || y.
    let point = pair.public_key_raw();
    let jwks = json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
        "x": b64url(&point[1..33]), "y": b64url(&point[33..65]),
    }]});
    let jwks_addr = serve_json("/oauth2/v3/certs", jwks.to_string()).await;
    // Firebase signs with RSA (RS256) and publishes X.509 certificates.
    let (rsa_key, rsa_pkcs1) = {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key");
        (
            key.to_pkcs8_pem(LineEnding::LF).expect("pkcs8").to_string(),
            key.to_pkcs1_der().expect("pkcs1").as_bytes().to_vec(),
        )
    };
    let rsa_pair = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&rsa_key, &rcgen::PKCS_RSA_SHA256)
        .expect("rcgen key");
    let cert = rcgen::CertificateParams::new(Vec::<String>::new())
        .expect("params")
        .self_signed(&rsa_pair)
        .expect("certificate");
    let rsa_private = jsonwebtoken::EncodingKey::from_rsa_der(&rsa_pkcs1);
    let certs = json!({ "k1": cert.pem() });
    let firebase_addr = serve_json(
        "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com",
        certs.to_string(),
    )
    .await;

    let es256 = (&private, jsonwebtoken::Algorithm::ES256);
    let rs256 = (&rsa_private, jsonwebtoken::Algorithm::RS256);
    for (file, key, port, iss, aud) in [
        (
            "auth_jwks.yml",
            es256,
            jwks_addr.port(),
            "https://accounts.google.com",
            "1234987819200.apps.googleusercontent.com",
        ),
        (
            "auth_firebase.yml",
            rs256,
            firebase_addr.port(),
            "https://securetoken.google.com/my-firebase-project",
            "my-firebase-project",
        ),
    ] {
        let yaml = format!(
            "auth_fail_block: true\n{}\n{}",
            fixture(file).replace("PORT", &port.to_string()),
            fixture("roles.yml")
        );
        let (dbname, dir) = project("jwks", &yaml).await;
        let addr = serve(&graphjin_tests::pg().url(&dbname), &dir).await;
        let token = kid_token(key, "k1", iss, aud, "2");
        let (status, body) = call(
            addr,
            "me",
            json!({}),
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
        assert_eq!(
            (status, &body["data"]["me"][0]["id"]),
            (200, &json!(2)),
            "{file}: {body}"
        );
        // Another audience is refused.
        let token = kid_token(key, "k1", iss, "someone-else", "2");
        let (status, body) = call(
            addr,
            "me",
            json!({}),
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
        assert_eq!(status, 401, "{file}: {body}");
    }
}
