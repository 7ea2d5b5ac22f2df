//! For handler authors: [`VerifyAction`], a layer that accepts only calls signed by the
//! runtime (or anyone holding the secret), and [`SignedAction`], the extractor reading the
//! call.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderName};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tower_layer::Layer;
use tower_service::Service;

use super::error::ActionError;
use super::replay_store::ReplayStore;
use super::signature::{SignatureError, Verifier};
use super::webhook::Session;
use crate::config::{ConfigError, HmacConfig, Secret};
use crate::http::ApiError;

/// The default body limit of [`VerifyAction`]: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A `tower::Layer` for your own action handlers: it refuses (401) every request whose
/// shared-secret header (if you set one), HMAC signature, timestamp window or novelty does
/// not check out, before your handler runs. Signatures are compared in constant time
/// (`hmac`'s `Mac::verify_slice`, and SHA-256 digests compared with `subtle` for the secret
/// header); a signature is accepted once within its window: by this layer, or by every
/// layer sharing a [`ReplayStore`] ([`VerifyAction::replay_store`]) when several instances
/// serve the handler.
///
/// Read the call with the [`SignedAction`] extractor.
///
/// ```no_run
/// use axum::{Router, routing::post};
/// use graphjin_runtime::actions::{SignedAction, VerifyAction};
///
/// #[derive(serde::Deserialize)]
/// struct Welcome {
///     email: String,
/// }
///
/// async fn welcome(call: SignedAction<Welcome>) -> ([(&'static str, &'static str); 1], String) {
///     // call.session.user_id: who called the action; call.input: the client's body.
///     let answer = serde_json::json!({ "sent_to": call.input.email, "by": call.session.user_id });
///     ([("content-type", "application/json")], answer.to_string())
/// }
///
/// # async fn demo() {
/// let secret = std::env::var("ACTION_SIGNING_SECRET").unwrap_or_default();
/// let app: Router = Router::new()
///     .route("/welcome", post(welcome))
///     .layer(VerifyAction::new(secret).secret_header("X-Action-Secret", "shared-value"));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9000").await.unwrap();
/// axum::serve(listener, app).await.unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct VerifyAction {
    inner: Arc<Inner>,
}

struct Inner {
    verifier: Verifier,
    /// The shared-secret header and the SHA-256 of its value.
    secret_header: Option<(HeaderName, [u8; 32])>,
    body_limit: usize,
    /// The settings the verifier was built from, to rebuild it when a builder method runs
    /// on a shared instance.
    settings: Settings,
}

#[derive(Clone)]
struct Settings {
    secret: Secret,
    signature_header: Option<HeaderName>,
    timestamp_header: Option<HeaderName>,
    max_age: Option<Duration>,
    replay_cache: Option<usize>,
    replay_store: Option<ReplayStore>,
}

/// The scope in the replay store's keys of signatures checked by [`VerifyAction`].
const SCOPE: &str = "verify_action";

impl Settings {
    fn verifier(&self) -> Verifier {
        let mut v = Verifier::new(self.secret.clone());
        if let Some(h) = &self.signature_header {
            v = v.signature_header(h.clone());
        }
        if let Some(h) = &self.timestamp_header {
            v = v.timestamp_header(h.clone());
        }
        if let Some(d) = self.max_age {
            v = v.max_age(d);
        }
        if let Some(n) = self.replay_cache {
            v = v.replay_cache(n);
        }
        if let Some(store) = &self.replay_store {
            v = v.replay_store(store.clone(), SCOPE);
        }
        v
    }
}

impl fmt::Debug for VerifyAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyAction")
            .field("verifier", &self.inner.verifier)
            .field(
                "secret_header",
                &self.inner.secret_header.as_ref().map(|(n, _)| n.as_str()),
            )
            .field("body_limit", &self.inner.body_limit)
            .finish()
    }
}

impl VerifyAction {
    /// Verifies calls signed with `secret` (the action's `secret` in the runtime's config),
    /// with the default headers (`X-Signature`, `X-Timestamp`), a 5-minute window and a
    /// replay cache of 10000 signatures.
    pub fn new(secret: impl Into<Secret>) -> Self {
        let settings = Settings {
            secret: secret.into(),
            signature_header: None,
            timestamp_header: None,
            max_age: None,
            replay_cache: None,
            replay_store: None,
        };
        VerifyAction {
            inner: Arc::new(Inner {
                verifier: settings.verifier(),
                secret_header: None,
                body_limit: DEFAULT_BODY_LIMIT,
                settings,
            }),
        }
    }

    /// Verifies calls as the `hmac:` settings of a `type: hmac` auth describe them (`secret`,
    /// `signature_header`, `timestamp_header`, `max_age`, `replay_cache`, `replay_store`,
    /// `replay_key_prefix`).
    pub fn from_config(config: &HmacConfig) -> Result<Self, ConfigError> {
        let verifier = Verifier::from_config(config, SCOPE, "hmac")?;
        let header = |h: &Option<String>| {
            h.as_deref()
                .and_then(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        };
        let settings = Settings {
            secret: config.secret.clone().unwrap_or_default(),
            signature_header: header(&config.signature_header),
            timestamp_header: header(&config.timestamp_header),
            max_age: config.max_age,
            replay_cache: config.replay_cache,
            replay_store: verifier.shared_store().cloned(),
        };
        Ok(VerifyAction {
            inner: Arc::new(Inner {
                verifier,
                secret_header: None,
                body_limit: DEFAULT_BODY_LIMIT,
                settings,
            }),
        })
    }

    /// Also require header `name` to equal `value` (compared in constant time), e.g. the
    /// value the runtime's action sends in `headers:`. Header names match ignoring case.
    ///
    /// # Panics
    ///
    /// If `name` is not a valid header name.
    pub fn secret_header(self, name: &str, value: impl Into<Secret>) -> Self {
        let name = parse_name(name);
        let digest: [u8; 32] = Sha256::digest(value.into().expose().as_bytes()).into();
        self.edit(|inner| inner.secret_header = Some((name, digest)))
    }

    /// The header carrying the signature (default `X-Signature`).
    ///
    /// # Panics
    ///
    /// If `name` is not a valid header name.
    pub fn signature_header(self, name: &str) -> Self {
        let name = parse_name(name);
        self.edit(|inner| inner.settings.signature_header = Some(name))
    }

    /// The header carrying the timestamp (default `X-Timestamp`).
    ///
    /// # Panics
    ///
    /// If `name` is not a valid header name.
    pub fn timestamp_header(self, name: &str) -> Self {
        let name = parse_name(name);
        self.edit(|inner| inner.settings.timestamp_header = Some(name))
    }

    /// How far the timestamp may be from now, either way (default 5 minutes; at least 1 s).
    pub fn max_age(self, max_age: Duration) -> Self {
        self.edit(|inner| inner.settings.max_age = Some(max_age))
    }

    /// How many signatures are remembered to refuse replays (default 10000).
    pub fn replay_cache(self, capacity: usize) -> Self {
        self.edit(|inner| inner.settings.replay_cache = Some(capacity))
    }

    /// Record accepted signatures in `store`, a redis every instance serving the handler
    /// shares, instead of in memory: a call replayed to another instance is refused too.
    /// While redis cannot be reached, calls are refused with 503 (see [`ReplayStore`]).
    pub fn replay_store(self, store: ReplayStore) -> Self {
        self.edit(|inner| inner.settings.replay_store = Some(store))
    }

    /// Refuse bodies over `bytes` with 413 (default 1 MiB).
    pub fn body_limit(self, bytes: usize) -> Self {
        self.edit(|inner| inner.body_limit = bytes)
    }

    /// Applies a setting and rebuilds the verifier (a fresh replay cache: builder methods run
    /// before the layer serves).
    fn edit(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            Err(shared) => Inner {
                verifier: shared.settings.verifier(),
                secret_header: shared.secret_header.clone(),
                body_limit: shared.body_limit,
                settings: shared.settings.clone(),
            },
        };
        f(&mut inner);
        inner.verifier = inner.settings.verifier();
        VerifyAction {
            inner: Arc::new(inner),
        }
    }

    /// Checks a request's headers and body.
    async fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<u64, SignatureError> {
        if let Some((name, want)) = &self.inner.secret_header {
            let got = headers.get(name).ok_or_else(|| SignatureError::Missing {
                header: name.as_str().to_owned(),
            })?;
            let got: [u8; 32] = Sha256::digest(got.as_bytes()).into();
            if !bool::from(got.ct_eq(want)) {
                return Err(SignatureError::WrongSecret {
                    header: name.as_str().to_owned(),
                });
            }
        }
        self.inner.verifier.verify(headers, body).await
    }
}

fn parse_name(name: &str) -> HeaderName {
    match HeaderName::from_bytes(name.trim().as_bytes()) {
        Ok(n) => n,
        Err(_) => panic!("\"{name}\" is not a valid header name"),
    }
}

impl<S> Layer<S> for VerifyAction {
    type Service = VerifyActionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifyActionService {
            inner,
            verify: self.clone(),
        }
    }
}

/// The service [`VerifyAction`] wraps around routes.
#[derive(Debug, Clone)]
pub struct VerifyActionService<S> {
    inner: S,
    verify: VerifyAction,
}

impl<S> Service<Request> for VerifyActionService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The clone that was polled ready is the one that serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verify = self.verify.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let limit = verify.inner.body_limit;
            let bytes = match axum::body::to_bytes(body, limit).await {
                Ok(bytes) => bytes,
                Err(_) => return Ok(ApiError::PayloadTooLarge { limit }.into_response()),
            };
            match verify.check(&parts.headers, &bytes).await {
                Ok(timestamp) => {
                    parts.extensions.insert(VerifiedAction { timestamp });
                    inner
                        .call(Request::from_parts(parts, Body::from(bytes)))
                        .await
                }
                Err(e) => {
                    tracing::debug!(error = %e, "action call refused");
                    Ok(ActionError::Signature(e).into_response())
                }
            }
        })
    }
}

/// Put into a request's extensions by [`VerifyAction`] once the call checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedAction {
    /// The call's timestamp (unix seconds).
    pub timestamp: u64,
}

/// A verified action call, as a webhook action sends it:
/// `{"action": name, "input": <the client's body>, "session": {...}}`. Needs the
/// [`VerifyAction`] layer on the route (without it, every call is refused with 500).
///
/// `T` is the type of the client's input (`serde_json::Value` by default); an input that
/// does not fit it is refused with 400.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignedAction<T = serde_json::Value> {
    /// The action's name.
    pub action: String,
    /// The client's JSON body (`null` when it sent none).
    pub input: T,
    /// Who called the action.
    pub session: Session,
    /// When the call was signed (unix seconds).
    pub timestamp: u64,
}

#[derive(Deserialize)]
struct Call<T> {
    action: String,
    input: T,
    #[serde(default)]
    session: Session,
}

impl<S, T> FromRequest<S> for SignedAction<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ActionError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Some(verified) = req.extensions().get::<VerifiedAction>().copied() else {
            return Err(ActionError::NotVerified);
        };
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| ActionError::BadEnvelope(e.body_text()))?;
        let call: Call<T> =
            serde_json::from_slice(&body).map_err(|e| ActionError::BadEnvelope(e.to_string()))?;
        Ok(SignedAction {
            action: call.action,
            input: call.input,
            session: call.session,
            timestamp: verified.timestamp,
        })
    }
}
