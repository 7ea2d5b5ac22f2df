//! The metrics route, and how [`crate::router`] puts the request layer and that route
//! around the service's routes.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

use super::layer::ObserveLayer;
use super::metrics::{self, Metrics};
use crate::Db;
use crate::auth::AuthLayer;
use crate::config::{Config, ConfigError};
use crate::http::Service;
use crate::subs::Subscriptions;

/// Where and to whom [`Metrics`] are served: a path (default `/metrics`) and, optionally,
/// the auth a scraper must pass (a credential is then required: 401 without one).
///
/// ```no_run
/// # fn demo(db: graphjin_runtime::Db) {
/// use graphjin_runtime::observe::{Metrics, MetricsEndpoint};
/// use graphjin_runtime::{Service, router};
/// let endpoint = MetricsEndpoint::new(Metrics::new(), "/metrics");
/// let app = router(Service::new(db).metrics(Some(endpoint)));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MetricsEndpoint {
    metrics: Metrics,
    path: String,
    auth: Option<AuthLayer>,
}

impl MetricsEndpoint {
    /// Serves `metrics` at `path` (a plain path such as `/metrics`; a missing leading `/`
    /// is added) without authentication.
    pub fn new(metrics: Metrics, path: &str) -> MetricsEndpoint {
        let path = path.trim();
        MetricsEndpoint {
            metrics,
            path: if path.starts_with('/') {
                path.to_owned()
            } else {
                format!("/{path}")
            },
            auth: None,
        }
    }

    /// Requires scrapers to pass `layer` (made to require a credential and to refuse an
    /// invalid one).
    pub fn auth(mut self, layer: AuthLayer) -> MetricsEndpoint {
        self.auth = Some(layer.require_credential(true).fail_block(true));
        self
    }

    /// The endpoint the config's `metrics:` block describes, or `None` when it is not
    /// enabled. `metrics.auth` names an entry of `auths:` (or `auth:` by its name).
    pub fn from_config(config: &Config) -> Result<Option<MetricsEndpoint>, ConfigError> {
        let m = &config.metrics;
        if !m.enabled {
            return Ok(None);
        }
        let mut endpoint = MetricsEndpoint::new(Metrics::new(), &m.path);
        if let Some(name) = m.auth.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            let registry = config.auth_registry()?;
            let auth = registry.get(name).ok_or_else(|| ConfigError::Invalid {
                key: "metrics.auth".to_owned(),
                message: format!(
                    "no auth is named \"{name}\": name an entry of `auths:` (known: {})",
                    known_names(&registry)
                ),
            })?;
            endpoint = endpoint.auth(AuthLayer::new(auth.clone()));
        }
        Ok(Some(endpoint))
    }

    /// The metrics served.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The path they are served at.
    pub fn path(&self) -> &str {
        &self.path
    }
}

fn known_names(registry: &crate::AuthRegistry) -> String {
    let mut names: Vec<&str> = registry.names().collect();
    names.sort_unstable();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[derive(Clone)]
struct ScrapeState {
    metrics: Metrics,
    db: Db,
    subs: Subscriptions,
    /// The WebSocket connections open now.
    sockets: crate::http::SocketCounter,
}

async fn scrape(State(state): State<ScrapeState>) -> impl IntoResponse {
    let text = state
        .metrics
        .render(&state.db, &state.subs, state.sockets.open_count());
    ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], text)
}

/// The request layer for `service`'s routes, and the metrics route (when the service has
/// one) already under that layer. [`crate::router`] adds the layer to the one `layer` call
/// it makes for its routes (each call boxes every route once more, and axum clones that
/// chain per request), and merges the metrics route beside them, which thus gets no CORS,
/// body limit or compression.
pub(crate) fn parts(
    service: &Service,
    endpoint: Option<&MetricsEndpoint>,
) -> (ObserveLayer, Option<Router<Arc<Service>>>) {
    let Some(endpoint) = endpoint else {
        return (ObserveLayer::new(None), None);
    };
    let mut route = Router::new()
        .route(&endpoint.path, get(scrape))
        .with_state(ScrapeState {
            metrics: endpoint.metrics.clone(),
            db: service.db().clone(),
            subs: service.subscriptions().clone(),
            sockets: service.socket_counter(),
        });
    if let Some(auth) = &endpoint.auth {
        route = route.route_layer(auth.clone());
    }
    let table = endpoint.metrics.table(service.db().operations());
    let layer = ObserveLayer::new(Some(table));
    (layer.clone(), Some(route.layer(layer)))
}
