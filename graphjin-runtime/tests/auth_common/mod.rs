//! Shared by the auth tests: test keys, token signing, a key server whose answers can be
//! changed (and stopped) mid-test, and a small app that echoes the caller.

#![allow(dead_code)] // each test binary uses part of this

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use graphjin_runtime::Auth;
use graphjin_runtime::auth::AuthLayer;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

/// The `vectors/` folder of GraphJin's shared corpora, when it holds every file of `needs`;
/// `None` when they are absent (a line saying so is printed and the test should return):
/// see `graphjin_testdata`.
pub fn vectors_dir(needs: &[&str]) -> Option<PathBuf> {
    let needs: Vec<String> = needs.iter().map(|n| format!("vectors/{n}")).collect();
    let needs: Vec<&str> = needs.iter().map(String::as_str).collect();
    graphjin_testdata::shared_dir(&needs).map(|dir| dir.join("vectors"))
}

/// A key file of this crate's own test fixtures (`tests/fixtures/keys/<name>`).
pub fn fixture_key(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys")
        .join(name)
}

/// Far in the future (2099).
pub const FAR: u64 = 4_070_908_800;

/// An RSA test key (generated once per test binary and index).
pub struct RsaKey {
    pub private: rsa::RsaPrivateKey,
}

impl RsaKey {
    pub fn encoding(&self) -> EncodingKey {
        let der = self.private.to_pkcs1_der().expect("pkcs1");
        EncodingKey::from_rsa_der(der.as_bytes())
    }

    pub fn public_pem(&self) -> String {
        self.private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem")
    }

    pub fn pkcs8_pem(&self) -> String {
        self.private
            .to_pkcs8_pem(LineEnding::LF)
            .expect("pkcs8")
            .to_string()
    }

    /// The public key as a JWK.
    pub fn jwk(&self, kid: &str) -> Value {
        let public = self.private.to_public_key();
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }

    /// A self-signed X.509 certificate (PEM) for this key, as Google publishes Firebase's.
    pub fn certificate(&self) -> String {
        let pair = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(
            &self.pkcs8_pem(),
            &rcgen::PKCS_RSA_SHA256,
        )
        .expect("rcgen key");
        let params =
            rcgen::CertificateParams::new(vec!["securetoken.test".to_owned()]).expect("params");
        params.self_signed(&pair).expect("certificate").pem()
    }

    pub fn sign(&self, kid: Option<&str>, claims: &Value) -> String {
        sign(Algorithm::RS256, kid, claims, &self.encoding())
    }
}

/// RSA key number `i` (0..4), generated on first use.
pub fn rsa_key(i: usize) -> &'static RsaKey {
    static KEYS: [OnceLock<RsaKey>; 4] = [const { OnceLock::new() }; 4];
    KEYS[i].get_or_init(|| {
        let mut rng = rsa::rand_core::OsRng;
        RsaKey {
            private: rsa::RsaPrivateKey::new(&mut rng, 2048).expect("generate RSA key"),
        }
    })
}

/// A P-256 test key.
pub struct EcKey {
    pub pair: rcgen::KeyPair,
}

impl EcKey {
    pub fn generate() -> EcKey {
        EcKey {
            pair: rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("EC key"),
        }
    }

    pub fn jwk(&self, kid: &str) -> Value {
        let raw = self.pair.public_key_raw();
        json!({
            "kty": "EC",
            "crv": "P-256",
            "use": "sig",
            "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&raw[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&raw[33..65]),
        })
    }

    pub fn sign(&self, kid: Option<&str>, claims: &Value) -> String {
        let key = EncodingKey::from_ec_der(&self.pair.serialize_der());
        sign(Algorithm::ES256, kid, claims, &key)
    }
}

pub fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

pub fn hs256(secret: &str, claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

/// `{"sub": sub, "exp": FAR}` plus `extra`.
pub fn claims(sub: &str, extra: Value) -> Value {
    let mut c = json!({"sub": sub, "exp": FAR});
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
        c.extend(extra);
    }
    c
}

pub fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    h
}

#[derive(Clone)]
struct Served {
    status: u16,
    body: String,
    headers: Vec<(String, String)>,
}

/// A key server on 127.0.0.1 answering every path with the current body and headers,
/// counting requests.
pub struct KeyServer {
    pub base: String,
    served: Arc<Mutex<Served>>,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

async fn serve_keys(
    State((served, hits)): State<(Arc<Mutex<Served>>, Arc<AtomicUsize>)>,
) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    let s = served.lock().expect("lock").clone();
    let mut response = (StatusCode::from_u16(s.status).expect("status"), s.body).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    for (k, v) in s.headers {
        response.headers_mut().append(
            HeaderName::from_bytes(k.as_bytes()).expect("name"),
            HeaderValue::from_str(&v).expect("value"),
        );
    }
    response
}

impl KeyServer {
    pub async fn start(body: &str, headers: &[(&str, &str)]) -> KeyServer {
        let served = Arc::new(Mutex::new(Served {
            status: 200,
            body: body.to_owned(),
            headers: to_owned(headers),
        }));
        let hits = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new()
            .fallback(serve_keys)
            .with_state((served.clone(), hits.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        KeyServer {
            base: format!("http://{addr}"),
            served,
            hits,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn set(&self, body: &str, headers: &[(&str, &str)]) {
        let mut s = self.served.lock().expect("lock");
        s.body = body.to_owned();
        s.headers = to_owned(headers);
        s.status = 200;
    }

    pub fn set_status(&self, status: u16) {
        self.served.lock().expect("lock").status = status;
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Stops accepting connections (key downloads use no keep-alive, so the server is
    /// gone for them).
    pub fn stop(&self) {
        self.task.abort();
    }
}

fn to_owned(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A JWKS document of `keys`.
pub fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// `GET /me` answering the caller as JSON, behind `layer`; `GET /open` without it.
pub async fn echo_app(layer: AuthLayer) -> String {
    async fn me(auth: Auth) -> Response {
        let body = json!({
            "user_id": auth.user_id,
            "user_id_provider": auth.user_id_provider,
            "role": auth.role(),
        });
        ([("content-type", "application/json")], body.to_string()).into_response()
    }
    let app = axum::Router::new()
        .route("/me", get(me))
        .route_layer(layer)
        .route("/open", get(me));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    format!("http://{addr}")
}

/// GETs `url` with `headers`; returns the status and the body as JSON.
pub async fn get_json(url: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}
