//! Observability: logs, request ids, one span per request, Prometheus metrics.
//!
//! - [`logging::init`] installs the log subscriber (`RUST_LOG`, else the config's
//!   `log_level`; `log_format: json | simple`). Without it the runtime's spans and events
//!   cost next to nothing and go nowhere.
//! - [`ObserveLayer`] ([`crate::router`] puts it around every route): each request runs in
//!   a span carrying its request id (`x-request-id`, echoed in the response), method, route,
//!   operation name and kind, and role; one `info` line ends it with the status, the
//!   duration and the time spent in the database. No header, cookie, credential or
//!   variable value is ever logged.
//! - [`Metrics`]: per operation and role a latency histogram and a counter by status, the
//!   pool, subscriptions, authentication failures, key-set refresh failures and action
//!   calls, served as OpenMetrics text at the config's `metrics.path` (see
//!   [`crate::config::MetricsConfig`]).

pub(crate) mod context;
mod endpoint;
mod json;
mod layer;
pub mod logging;
mod metrics;
mod request_id;

pub use endpoint::MetricsEndpoint;
pub(crate) use endpoint::parts;
pub use layer::{Observe, ObserveFuture, ObserveLayer};
pub(crate) use metrics::note_jwks_refresh_failure;
pub use metrics::{CONTENT_TYPE, Metrics};
pub use request_id::RequestId;
