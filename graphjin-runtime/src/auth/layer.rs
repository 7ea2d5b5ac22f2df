//! The axum side: [`AuthLayer`] (a `tower::Layer` that authenticates each request and puts
//! the [`Auth`] into its extensions) and the [`Auth`] extractor.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::FromRequestParts;
use axum::http::Request;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{Auth, AuthError, Authenticator};
use crate::http::ApiError;

/// Authenticates every request with an [`Authenticator`] and inserts the caller's
/// [`Auth`] into the request's extensions, where [`crate::router`]'s handlers and the
/// [`Auth`] extractor find it.
///
/// - a valid credential: that identity;
/// - no credential: `anon` (or what an outer layer already put there), or 401 with
///   [`AuthLayer::require_credential`];
/// - an invalid credential: 401 (`UNAUTHENTICATED`) with [`AuthLayer::fail_block`], else
///   `anon`. A credential that was sent but cannot even be read counts as invalid: for a
///   JWT auth, an `Authorization` header other than one `Bearer <token>` (empty `Bearer `,
///   `Basic ...`, bytes that are not text, the header twice); for a header auth, its header
///   twice.
///
/// Put it on routes of your own too:
///
/// ```no_run
/// # fn demo(auth: graphjin_runtime::auth::Authenticator) {
/// use axum::routing::get;
/// use graphjin_runtime::{Auth, auth::AuthLayer};
/// async fn me(auth: Auth) -> String {
///     auth.user_id.unwrap_or_default()
/// }
/// let app: axum::Router = axum::Router::new()
///     .route("/me", get(me))
///     .layer(AuthLayer::new(auth).fail_block(true));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AuthLayer {
    auth: Authenticator,
    fail_block: bool,
    required: bool,
}

impl AuthLayer {
    /// A layer authenticating with `auth`; invalid credentials run as `anon` until
    /// [`AuthLayer::fail_block`] says otherwise.
    pub fn new(auth: Authenticator) -> Self {
        AuthLayer {
            auth,
            fail_block: false,
            required: false,
        }
    }

    /// `auth_fail_block`: answer a present but invalid credential with 401.
    pub fn fail_block(mut self, on: bool) -> Self {
        self.fail_block = on;
        self
    }

    /// Answer a request without a credential with 401 as well (for routes and actions
    /// guarded by a named auth).
    pub fn require_credential(mut self, on: bool) -> Self {
        self.required = on;
        self
    }

    /// The authenticator.
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    /// Authenticates a request: `Ok(Some)` to insert, `Ok(None)` to leave as is, `Err` to
    /// refuse.
    async fn decide(
        &self,
        headers: &axum::http::HeaderMap,
        has_auth: bool,
    ) -> Result<Option<Auth>, AuthError> {
        match self.auth.authenticate(headers).await {
            Ok(Some(auth)) => Ok(Some(auth)),
            Ok(None) if self.required => Err(AuthError::Missing),
            Ok(None) if has_auth => Ok(None),
            Ok(None) => Ok(Some(Auth::anon())),
            Err(e) if self.fail_block || self.required => Err(e),
            Err(e) => {
                log_rejection(&self.auth, &e, false);
                Ok(Some(Auth::anon()))
            }
        }
    }
}

fn log_rejection(auth: &Authenticator, e: &AuthError, blocked: bool) {
    crate::observe::context::note_auth_failure(e);
    let name = auth.name().unwrap_or("auth");
    if e.is_server_side() {
        tracing::warn!(auth = name, error = %e, blocked, "credential could not be verified");
    } else {
        tracing::debug!(auth = name, error = %e, blocked, "credential rejected");
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthMiddleware<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthMiddleware {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around routes.
#[derive(Debug, Clone)]
pub struct AuthMiddleware<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S, B> Service<Request<B>> for AuthMiddleware<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The clone that was polled ready is the one that serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let has_auth = req.extensions().get::<Auth>().is_some();
            match layer.decide(req.headers(), has_auth).await {
                Ok(Some(auth)) => {
                    req.extensions_mut().insert(auth);
                }
                Ok(None) => {}
                Err(e) => {
                    log_rejection(&layer.auth, &e, true);
                    return Ok(ApiError::Unauthenticated(e).into_response());
                }
            }
            inner.call(req).await
        })
    }
}

/// The caller, as the auth layer found it; `anon` when no layer ran.
impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Auth>().cloned().unwrap_or_default())
    }
}
