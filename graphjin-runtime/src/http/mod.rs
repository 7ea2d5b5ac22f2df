//! The HTTP surface, as an axum [`Router`]:
//!
//! | route | what |
//! | --- | --- |
//! | `POST {prefix}/v1/graphql`, `GET` for queries | GraphQL over HTTP: `operationName`, `query`, `variables`, `extensions.persistedQuery.sha256Hash` |
//! | `GET/POST {prefix}/v1/rest/{operation}` | the same operation by name; variables as `?variables=<JSON>` or as the POST body itself |
//! | `POST {prefix}/v1/actions/{name}` | a configured action (see [`crate::actions`]), guarded by its own named auth, not the service's; mounted by [`Service::actions`] |
//! | `GET {prefix}/v1/graphql` with `Upgrade: websocket` | subscriptions over WebSocket (`graphql-transport-ws`, or the older `graphql-ws`), credentials in `connection_init`'s payload; see [`ws`] |
//! | `GET /health/live` | liveness: 200 while the process serves, no database touched; see [Health](#health) |
//! | `GET /health/ready` | readiness: 200 with the pool's status when the database answers, else 503 |
//! | `GET /health` | GraphJin's endpoint: 200 `{"status":"ok"}`, or 503 `{"status":"unavailable"}` when the database does not answer |
//!
//! The caller's identity is the [`Auth`] in the request's extensions, put there by the
//! service's [`AuthLayer`] (see [`Service::auth`], which guards the GraphQL and REST routes
//! but not `/health`) or by an authentication layer of yours; without one, requests run as
//! `anon`. Errors and their codes are listed on [`ApiError`]; the GraphQL route answers
//! `application/json` or `application/graphql-response+json` as the request's `Accept`
//! asks (see [`Media`]).
//!
//! HTTP conventions, from the config's GraphJin keys ([`Service::from_config`]): CORS
//! (`cors_allowed_origins`, `cors_allowed_headers`, `cors_debug`; see [`Cors`]), response
//! compression (`http_compress`, default on: gzip or br when the client accepts it, for
//! bodies over 32 bytes; WebSocket upgrades pass through untouched), and a graceful stop on
//! SIGTERM or Ctrl-C within `shutdown_timeout` ([`serve`], [`Shutdown`]).
//!
//! Slow and idle clients: [`serve`] closes a connection whose request head does not arrive
//! within `http_header_timeout` (10 s) or that waits for its next request longer than
//! `http_idle_timeout` (60 s), answers 408 to a body that does not arrive within
//! `http_body_timeout` (30 s), and keeps at most `http_max_connections` (10,000, lowered to
//! what the open-file limit leaves) open, closing the longest-idle one to admit a new one
//! ([`ServeLimits`]). A `Content-Length` over the body limit is answered 413 before any of
//! the body is read.
//!
//! # Health
//!
//! `/health/live` answers 200 `{"status":"ok"}` whenever the process serves requests;
//! point a liveness probe at it, so a slow database does not get a healthy process
//! restarted. `/health/ready` checks the database ([`Db::ready`]) and answers 200
//! `{"status":"ready","pool":{"connections","in_flight","waiting","capacity","saturated"}}` or 503
//! (`"unavailable"`, or `"stopping"` once a shutdown began); a saturated pool is ready.
//! `/health` is GraphJin's endpoint with the readiness check and GraphJin's short answer.
//!
//! ```no_run
//! # async fn demo(db: graphjin_runtime::Db) -> Result<(), graphjin_runtime::ConfigError> {
//! use graphjin_runtime::{Config, Service, router};
//! let config = Config::load("config")?;
//! let app = router(Service::new(db).auth(config.auth_layer()?));
//! # Ok(()) }
//! ```
//!
//! Or with an authentication layer of your own:
//!
//! ```no_run
//! # async fn demo(db: graphjin_runtime::Db) -> std::io::Result<()> {
//! use graphjin_runtime::{Auth, Service, router};
//! let service = Service::new(db);
//! let shutdown = service.shutdown_handle();
//! let app = router(service).layer(axum::middleware::from_fn(
//!     |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
//!         req.extensions_mut().insert(Auth::user("42")); // your auth here
//!         next.run(req).await
//!     },
//! ));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // serve (not axum::serve) holds slow and idle clients to the service's ServeLimits.
//! graphjin_runtime::http::serve(listener, app, shutdown).await
//! # }
//! ```

mod bodies;
pub(crate) mod body;
mod compress;
mod conns;
mod cors;
mod error;
mod graphql;
mod health;
mod limits;
mod media;
mod oversized;
mod rest;
mod serve;
mod shutdown;
mod watched;
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::http::Method;
use axum::response::Response;
use axum::routing::get;
use tower::util::option_layer;
use tower_layer::Stack;

pub use cors::{Cors, DEFAULT_ALLOWED_HEADERS};
pub use error::ApiError;
pub use limits::ServeLimits;
pub use media::{GRAPHQL_RESPONSE_JSON, Media};
pub use serve::{serve, serve_until};
pub use shutdown::{Shutdown, shutdown_signal};

pub use crate::db::PoolStatus;

use crate::auth::AuthLayer;
use crate::config::{Config, ConfigError};
use crate::subs::{SubsOptions, Subscriptions};
use crate::vars::Source;
use crate::{Auth, Db};
use shutdown::Sockets;
/// The open WebSocket connections, counted (for metrics).
pub(crate) use shutdown::Sockets as SocketCounter;

/// The HTTP service's settings and its executor; turn it into routes with [`router`].
#[derive(Debug, Clone)]
pub struct Service {
    db: Db,
    api_prefix: String,
    body_limit: usize,
    auth: Option<AuthLayer>,
    actions: Option<crate::actions::Actions>,
    subs: Subscriptions,
    cors: Option<Cors>,
    compress: bool,
    shutdown_timeout: std::time::Duration,
    serve_limits: ServeLimits,
    sockets: Sockets,
    metrics: Option<crate::observe::MetricsEndpoint>,
}

impl Service {
    /// The default API prefix.
    pub const DEFAULT_API_PREFIX: &'static str = "/api";
    /// The default request body limit: 1 MiB.
    pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

    /// A service over `db` with the API under `/api`, a 1 MiB body limit, compressed
    /// responses, no CORS headers, a 10 s shutdown deadline, and the default
    /// [`ServeLimits`] for [`serve`].
    pub fn new(db: Db) -> Self {
        let subs = Subscriptions::new(db.clone(), SubsOptions::default());
        Service {
            db,
            api_prefix: Self::DEFAULT_API_PREFIX.to_owned(),
            body_limit: Self::DEFAULT_BODY_LIMIT,
            auth: None,
            actions: None,
            subs,
            cors: None,
            compress: true,
            shutdown_timeout: crate::config::DEFAULT_SHUTDOWN_TIMEOUT,
            serve_limits: ServeLimits::default(),
            sockets: Sockets::default(),
            metrics: None,
        }
    }

    /// A service over `db` authenticating with the config's default `auth` and its
    /// `auth_fail_block` (see [`Config::auth_layer`]), with the config's subscription
    /// options, CORS, `http_compress`, `shutdown_timeout` and the connection limits
    /// (`http_header_timeout`, `http_body_timeout`, `http_idle_timeout`,
    /// `http_max_connections`; see [`crate::config::HttpConfig`]).
    pub fn from_config(db: Db, config: &Config) -> Result<Self, ConfigError> {
        Ok(Service::new(db)
            .auth(config.auth_layer()?)
            .subs_options(SubsOptions::from_config(config))
            .cors(Cors::from_config(&config.http)?)
            .compression(config.http.http_compress)
            .shutdown_timeout(config.http.shutdown_deadline())
            .serve_limits(config.http.serve_limits())
            .metrics(crate::observe::MetricsEndpoint::from_config(config)?))
    }

    /// Serves Prometheus metrics as `endpoint` says (see [`crate::observe::Metrics`]);
    /// `None`: none (the default; the config's `metrics.enabled` turns them on). Every
    /// route is logged with its request id either way.
    pub fn metrics(mut self, endpoint: Option<crate::observe::MetricsEndpoint>) -> Self {
        self.metrics = endpoint;
        self
    }

    /// Answers cross-origin requests with `cors` (see [`Cors`]); `None`: no CORS headers.
    pub fn cors(mut self, cors: Option<Cors>) -> Self {
        self.cors = cors;
        self
    }

    /// Compresses responses (gzip or br, as the client accepts) when `on` (the default).
    pub fn compression(mut self, on: bool) -> Self {
        self.compress = on;
        self
    }

    /// How long [`serve`] lets running requests and closing sockets take after a stop
    /// signal (default 10 s).
    pub fn shutdown_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The timeouts and connection cap [`serve`] holds each connection to (see
    /// [`ServeLimits`]; default: 10 s for a request's head, 30 s for its body, 60 s idle
    /// between requests, 10,000 connections).
    pub fn serve_limits(mut self, limits: ServeLimits) -> Self {
        self.serve_limits = limits;
        self
    }

    /// What [`serve`] needs to serve this service under its [`ServeLimits`] and stop it
    /// gracefully; take it before the service goes into [`router`].
    pub fn shutdown_handle(&self) -> Shutdown {
        Shutdown::new(
            self.subs.clone(),
            self.sockets.clone(),
            self.shutdown_timeout,
            self.serve_limits,
        )
    }

    /// Runs subscriptions with `options` (poll period, limits, timeouts); replaces the
    /// service's [`Subscriptions`] registry with a new one.
    pub fn subs_options(mut self, options: SubsOptions) -> Self {
        self.subs = Subscriptions::new(self.db.clone(), options);
        self
    }

    /// The subscription registry the WebSocket route uses: subscribe in process with it,
    /// read its [`Subscriptions::stats`], and call [`Subscriptions::shutdown`] when the
    /// server stops.
    pub fn subscriptions(&self) -> &Subscriptions {
        &self.subs
    }

    /// Authenticates requests to the GraphQL and REST routes with `layer` (not `/health`).
    /// Without it, requests run as whatever [`Auth`] an outer layer of yours inserted, else
    /// as `anon`.
    pub fn auth(mut self, layer: AuthLayer) -> Self {
        self.auth = Some(layer);
        self
    }

    /// Serves `actions` at `POST {prefix}/v1/actions/{name}`. Each is guarded by its own
    /// named auth; the layer given to [`Service::auth`] does not apply to them.
    pub fn actions(mut self, actions: crate::actions::Actions) -> Self {
        self.actions = Some(actions);
        self
    }

    /// Serves the API under `prefix` (e.g. `/api`, `/v2/api`; `""` or `/` for the root).
    /// A missing leading slash is added, trailing slashes are dropped. It must be a plain
    /// path: axum refuses (panics on) route syntax such as `{name}` or `*` in it.
    pub fn api_prefix(mut self, prefix: &str) -> Self {
        let trimmed = prefix.trim().trim_matches('/');
        self.api_prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        };
        self
    }

    /// Refuses request bodies over `bytes` with 413 (at once, before reading any of it, when
    /// `Content-Length` announces more).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The executor.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The count of open WebSocket connections (for metrics).
    pub(crate) fn socket_counter(&self) -> SocketCounter {
        self.sockets.clone()
    }

    /// The GraphQL endpoint's path, e.g. `/api/v1/graphql`.
    pub fn graphql_path(&self) -> String {
        format!("{}/v1/graphql", self.api_prefix)
    }
}

/// The routes of `service`; merge them into your app or serve them as they are.
pub fn router(service: Service) -> Router {
    let graphql_path = service.graphql_path();
    let rest_path = format!("{}/v1/rest/{{operation}}", service.api_prefix);
    let limit = service.body_limit;
    let auth = service.auth.clone();
    let cors = service.cors.clone();
    let compress = service.compress;
    let state = Arc::new(service);
    let mut api = Router::new()
        .route(
            &graphql_path,
            get(ws::get)
                .post(graphql::post)
                .fallback(method_not_allowed),
        )
        .route(
            &rest_path,
            get(rest::get).post(rest::post).fallback(method_not_allowed),
        );
    if let Some(layer) = auth {
        api = api.route_layer(layer);
    }
    if let Some(actions) = state.actions.clone() {
        let path = format!("{}/v1/actions/{{name}}", state.api_prefix);
        api = api.merge(crate::actions::route::routes(&path, actions, limit));
    }
    let (observe, metrics_route) = crate::observe::parts(&state, state.metrics.as_ref());
    let mut app = api
        .route("/health", get(health::health).fallback(method_not_allowed))
        .route(
            "/health/live",
            get(health::live).fallback(method_not_allowed),
        )
        .route(
            "/health/ready",
            get(health::ready).fallback(method_not_allowed),
        )
        // One layer call for all: axum boxes every route once per `layer`, and clones
        // that chain per request. Innermost first: the oversized-body check,
        // compression, CORS (outside them, so preflights are answered before
        // authentication) and, outermost, one span, request id and metrics per request.
        // Bodies are read within the limit where they are read (`body::take`, and the
        // action route's own `DefaultBodyLimit`).
        .layer(Stack::new(
            Stack::new(
                oversized::RefuseOversizedLayer::new(limit),
                compress::CompressLayer::new(compress),
            ),
            Stack::new(option_layer(cors.map(|c| c.layer())), observe),
        ));
    if let Some(route) = metrics_route {
        app = app.merge(route);
    }
    app.with_state(state)
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed { method }
}

/// Runs operation `index` and answers `{"data": ...}` with the statement's bytes.
async fn respond(
    service: &Service,
    index: usize,
    auth: &Auth,
    vars: Source<'_>,
) -> Result<Response, ApiError> {
    let row = service.db.fetch(index, auth, vars).await?;
    let op = &service.db.operations()[index];
    let raw = crate::db::data(&row, op.name)?;
    // Cursors are sealed; every other operation's bytes pass through untouched.
    Ok(body::data_response(
        &service.db.cursors().seal_data(index, raw),
    ))
}
