//! The HTTP surface, as an axum [`Router`]:
//!
//! | route | what |
//! | --- | --- |
//! | `POST {prefix}/v1/graphql`, `GET` for queries | GraphQL over HTTP: `operationName`, `query`, `variables`, `extensions.persistedQuery.sha256Hash` |
//! | `GET/POST {prefix}/v1/rest/{operation}` | the same operation by name; variables as `?variables=<JSON>` or as the POST body itself |
//! | `POST {prefix}/v1/actions/{name}` | a configured action (see [`crate::actions`]), guarded by its own named auth, not the service's; mounted by [`Service::actions`] |
//! | `GET {prefix}/v1/graphql` with `Upgrade: websocket` | subscriptions over WebSocket (`graphql-transport-ws`, or the older `graphql-ws`), credentials in `connection_init`'s payload; see [`ws`] |
//! | `GET /health` | 200 `{"status":"ok"}`, or 503 `{"status":"unavailable"}` when the database does not answer |
//!
//! The caller's identity is the [`Auth`] in the request's extensions, put there by the
//! service's [`AuthLayer`] (see [`Service::auth`], which guards the GraphQL and REST routes
//! but not `/health`) or by an authentication layer of yours; without one, requests run as
//! `anon`. Errors and their codes are listed on [`ApiError`].
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
//! # async fn demo(db: graphjin_runtime::Db) {
//! use graphjin_runtime::{Auth, Service, router};
//! let app = router(Service::new(db)).layer(axum::middleware::from_fn(
//!     |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
//!         req.extensions_mut().insert(Auth::user("42")); // your auth here
//!         next.run(req).await
//!     },
//! ));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```

pub(crate) mod body;
mod error;
mod graphql;
mod health;
mod rest;
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::response::Response;
use axum::routing::get;

pub use error::ApiError;

use crate::auth::AuthLayer;
use crate::config::{Config, ConfigError};
use crate::subs::{SubsOptions, Subscriptions};
use crate::vars::Source;
use crate::{Auth, Db};

/// The HTTP service's settings and its executor; turn it into routes with [`router`].
#[derive(Debug, Clone)]
pub struct Service {
    db: Db,
    api_prefix: String,
    body_limit: usize,
    auth: Option<AuthLayer>,
    actions: Option<crate::actions::Actions>,
    subs: Subscriptions,
}

impl Service {
    /// The default API prefix.
    pub const DEFAULT_API_PREFIX: &'static str = "/api";
    /// The default request body limit: 1 MiB.
    pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

    /// A service over `db` with the API under `/api` and a 1 MiB body limit.
    pub fn new(db: Db) -> Self {
        let subs = Subscriptions::new(db.clone(), SubsOptions::default());
        Service {
            db,
            api_prefix: Self::DEFAULT_API_PREFIX.to_owned(),
            body_limit: Self::DEFAULT_BODY_LIMIT,
            auth: None,
            actions: None,
            subs,
        }
    }

    /// A service over `db` authenticating with the config's default `auth` and its
    /// `auth_fail_block` (see [`Config::auth_layer`]).
    pub fn from_config(db: Db, config: &Config) -> Result<Self, ConfigError> {
        Ok(Service::new(db)
            .auth(config.auth_layer()?)
            .subs_options(SubsOptions::from_config(config)))
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

    /// Refuses request bodies over `bytes` with 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The executor.
    pub fn db(&self) -> &Db {
        &self.db
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
    api.route("/health", get(health::health).fallback(method_not_allowed))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
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
    Ok(body::data_response(crate::db::data(&row, op.name)?))
}
