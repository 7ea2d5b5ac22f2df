//! Prometheus metrics: [`Metrics`] holds the series, the request layer feeds them, and
//! the configured path serves them as OpenMetrics text (which Prometheus scrapes natively).
//!
//! | series | labels | what |
//! | --- | --- | --- |
//! | `graphjin_requests_total` | `operation`, `kind`, `role`, `status` | requests answered |
//! | `graphjin_request_duration_seconds` | `operation`, `kind`, `role` | time to the response's headers (histogram) |
//! | `graphjin_db_pool_connections` | | open pooled connections |
//! | `graphjin_db_pool_capacity` | | most calls at once (`max_size × pipeline_depth`) |
//! | `graphjin_db_pool_in_flight` | | calls on pooled connections now |
//! | `graphjin_db_pool_idle` | | open connections with no call |
//! | `graphjin_db_pool_opening` | | connections being opened |
//! | `graphjin_db_pool_waiting` | | calls waiting for room on a connection |
//! | `graphjin_db_pool_opened_total`, `graphjin_db_pool_closed_total` | | connections opened and closed |
//! | `graphjin_db_pool_wait_seconds` | | time requests waited for room on a connection (histogram) |
//! | `graphjin_subscriptions` | | subscribers being polled |
//! | `graphjin_subscription_pollers` | | pollers (one per operation and role with subscribers) |
//! | `graphjin_websockets` | | WebSocket connections open |
//! | `graphjin_subscription_polls_total` | | polls done |
//! | `graphjin_subscription_executions_total` | | statements those polls ran |
//! | `graphjin_auth_failures_total` | `kind` | credentials refused (`expired`, `bad_signature`, `missing`, ...) |
//! | `graphjin_jwks_refresh_failures_total` | | failed key-set downloads (JWKS, Firebase), whole process |
//! | `graphjin_action_calls_total` | `action`, `status` | calls of configured actions |
//!
//! `operation`, `kind` and `role` are empty for requests that named no operation (health,
//! unknown routes); `role` is empty when the request failed before its role was known.
//! Label values come from the operation table and the config, never from the request, so
//! the number of series stays bounded.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::context::{AuthFailure, RequestInfo, kind_label};
use crate::Db;
use crate::operation::Operation;
use crate::subs::Subscriptions;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Status codes with a counter ready in every slot; others are looked up when first seen.
const COMMON_STATUSES: [u16; 14] = [
    200, 400, 401, 403, 404, 405, 406, 413, 415, 422, 429, 500, 503, 504,
];

type Labels = Vec<(&'static str, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Process-wide count of failed key-set downloads (they happen in the background, outside
/// any request or service).
static JWKS_REFRESH_FAILURES: AtomicU64 = AtomicU64::new(0);

/// Counts one failed key-set download (JWKS or Firebase certificates).
pub(crate) fn note_jwks_refresh_failure() {
    JWKS_REFRESH_FAILURES.fetch_add(1, Ordering::Relaxed);
}

/// The metrics of one service: counters and histograms fed by the request layer, gauges
/// read from the pool and the subscriptions at each scrape. Cheap to clone (one `Arc`).
///
/// Turned on by the config's `metrics: { enabled: true }` (see
/// [`crate::config::MetricsConfig`]), or by hand with [`crate::Service::metrics`].
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

struct Inner {
    registry: Registry,
    requests: Family<Labels, Counter>,
    duration: HistogramFamily,
    pool_connections: Gauge,
    pool_capacity: Gauge,
    pool_in_flight: Gauge,
    pool_idle: Gauge,
    pool_opening: Gauge,
    pool_waiting: Gauge,
    pool_opened: Counter,
    pool_closed: Counter,
    pool_wait: Histogram,
    subscribers: Gauge,
    pollers: Gauge,
    sockets: Gauge,
    polls: Counter,
    executions: Counter,
    auth_failures: Family<Labels, Counter>,
    jwks_failures: Counter,
    actions: Family<Labels, Counter>,
    /// Action counters by name and status, so each call looks its counter up once.
    action_counters: Mutex<HashMap<(String, u16), Counter>>,
    /// One scrape at a time (gauges are set, then everything is encoded).
    scrape: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty metrics with every series declared.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<Labels, Counter>::default();
        registry.register(
            "graphjin_requests",
            "Requests answered, by operation, kind, role and HTTP status",
            requests.clone(),
        );
        let duration = HistogramFamily::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "graphjin_request_duration",
            "Time from a request's arrival to its response's headers, by operation, kind and role",
            Unit::Seconds,
            duration.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let pool_connections = gauge(
            &mut registry,
            "graphjin_db_pool_connections",
            "Open pooled database connections",
        );
        let pool_capacity = gauge(
            &mut registry,
            "graphjin_db_pool_capacity",
            "Most calls the pool takes at once (max_size x pipeline_depth)",
        );
        let pool_in_flight = gauge(
            &mut registry,
            "graphjin_db_pool_in_flight",
            "Calls on pooled database connections right now",
        );
        let pool_idle = gauge(
            &mut registry,
            "graphjin_db_pool_idle",
            "Open pooled database connections with no call",
        );
        let pool_opening = gauge(
            &mut registry,
            "graphjin_db_pool_opening",
            "Database connections being opened",
        );
        let pool_waiting = gauge(
            &mut registry,
            "graphjin_db_pool_waiting",
            "Calls waiting for room on a pooled database connection",
        );
        let pool_opened = Counter::default();
        registry.register(
            "graphjin_db_pool_opened",
            "Database connections opened",
            pool_opened.clone(),
        );
        let pool_closed = Counter::default();
        registry.register(
            "graphjin_db_pool_closed",
            "Database connections closed (broken, retired by max_lifetime, or idle)",
            pool_closed.clone(),
        );
        let pool_wait = latency_histogram();
        registry.register_with_unit(
            "graphjin_db_pool_wait",
            "Time requests waited for room on a pooled database connection",
            Unit::Seconds,
            pool_wait.clone(),
        );
        let subscribers = gauge(
            &mut registry,
            "graphjin_subscriptions",
            "Subscribers being polled",
        );
        let pollers = gauge(
            &mut registry,
            "graphjin_subscription_pollers",
            "Subscription pollers (one per operation and role with subscribers)",
        );
        let sockets = gauge(
            &mut registry,
            "graphjin_websockets",
            "WebSocket connections open",
        );
        let polls = Counter::default();
        registry.register(
            "graphjin_subscription_polls",
            "Subscription polls done",
            polls.clone(),
        );
        let executions = Counter::default();
        registry.register(
            "graphjin_subscription_executions",
            "Statements run by subscription polls",
            executions.clone(),
        );
        let auth_failures = Family::<Labels, Counter>::default();
        registry.register(
            "graphjin_auth_failures",
            "Credentials refused, by kind (answered 401, or run as anon without auth_fail_block)",
            auth_failures.clone(),
        );
        let jwks_failures = Counter::default();
        registry.register(
            "graphjin_jwks_refresh_failures",
            "Failed downloads of verification key sets (JWKS, Firebase), in this process",
            jwks_failures.clone(),
        );
        let actions = Family::<Labels, Counter>::default();
        registry.register(
            "graphjin_action_calls",
            "Calls of configured actions, by action and HTTP status",
            actions.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                duration,
                pool_connections,
                pool_capacity,
                pool_in_flight,
                pool_idle,
                pool_opening,
                pool_waiting,
                pool_opened,
                pool_closed,
                pool_wait,
                subscribers,
                pollers,
                sockets,
                polls,
                executions,
                auth_failures,
                jwks_failures,
                actions,
                action_counters: Mutex::new(HashMap::new()),
                scrape: Mutex::new(()),
            }),
        }
    }

    /// The series as OpenMetrics text ([`CONTENT_TYPE`]), with the pool's and the
    /// subscriptions' figures read now.
    pub fn render(&self, db: &Db, subs: &Subscriptions, open_sockets: usize) -> String {
        let inner = &self.inner;
        let _one = inner.scrape.lock().unwrap_or_else(PoisonError::into_inner);
        let pool = db.pool_stats();
        inner.pool_connections.set(gauge_value(pool.connections));
        inner.pool_capacity.set(gauge_value(
            pool.max_size.saturating_mul(pool.pipeline_depth),
        ));
        inner.pool_idle.set(gauge_value(pool.idle));
        inner.pool_opening.set(gauge_value(pool.opening));
        inner.pool_waiting.set(gauge_value(pool.waiting));
        inner
            .pool_opened
            .inner()
            .store(pool.opened_total, Ordering::Relaxed);
        inner
            .pool_closed
            .inner()
            .store(pool.closed_total, Ordering::Relaxed);
        inner.pool_in_flight.set(gauge_value(pool.in_flight));
        let stats = subs.stats();
        inner.subscribers.set(gauge_value(stats.subscribers));
        inner.pollers.set(gauge_value(stats.pollers));
        inner.sockets.set(gauge_value(open_sockets));
        inner.polls.inner().store(stats.polls, Ordering::Relaxed);
        inner
            .executions
            .inner()
            .store(stats.executions, Ordering::Relaxed);
        inner.jwks_failures.inner().store(
            JWKS_REFRESH_FAILURES.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let mut text = String::with_capacity(4096);
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &inner.registry) {
            // Writing to a String cannot fail; say so rather than serve half a page.
            text.clear();
            let _ = writeln!(text, "# metrics could not be encoded: {e}\n# EOF");
        }
        text
    }

    /// Counter and histogram handles for the operations of `ops`, made on first use.
    pub(crate) fn table(&self, ops: &'static [Operation]) -> Table {
        let slots = ops
            .iter()
            .map(|op| (0..=op.roles.len()).map(|_| OnceLock::new()).collect())
            .collect();
        Table {
            metrics: self.clone(),
            ops,
            slots,
            no_operation: OnceLock::new(),
            auth: std::array::from_fn(|i| {
                let kind = AuthFailure::ALL[i].label();
                self.inner
                    .auth_failures
                    .get_or_create(&vec![("kind", kind.to_owned())])
                    .clone()
            }),
        }
    }

    fn slot(&self, operation: &str, kind: &str, role: &str) -> Slot {
        let labels = vec![
            ("operation", operation.to_owned()),
            ("kind", kind.to_owned()),
            ("role", role.to_owned()),
        ];
        let duration = self.inner.duration.get_or_create(&labels).clone();
        Slot {
            labels,
            duration,
            common: std::array::from_fn(|_| OnceLock::new()),
            other: Mutex::new(Vec::new()),
        }
    }

    fn action_call(&self, action: String, status: u16) {
        let mut counters = self
            .inner
            .action_counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (action, status);
        if let Some(c) = counters.get(&key) {
            c.inc();
            return;
        }
        let labels = vec![("action", key.0.clone()), ("status", status.to_string())];
        let counter = self.inner.actions.get_or_create(&labels).clone();
        counter.inc();
        counters.insert(key, counter);
    }
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The series of one operation and role: the histogram, and a counter per status.
struct Slot {
    labels: Labels,
    duration: Histogram,
    common: [OnceLock<Counter>; COMMON_STATUSES.len()],
    other: Mutex<Vec<(u16, Counter)>>,
}

impl Slot {
    fn status_counter(&self, requests: &Family<Labels, Counter>, status: u16) -> Counter {
        let make = || {
            let mut labels = self.labels.clone();
            labels.push(("status", status.to_string()));
            requests.get_or_create(&labels).clone()
        };
        if let Some(i) = COMMON_STATUSES.iter().position(|s| *s == status) {
            return self.common[i].get_or_init(make).clone();
        }
        let mut other = self.other.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, c)) = other.iter().find(|(s, _)| *s == status) {
            return c.clone();
        }
        let c = make();
        other.push((status, c.clone()));
        c
    }
}

/// The handles of one router's operation table: a slot per operation and role (plus one
/// for a role the operation has no statement for), made on first use.
pub(crate) struct Table {
    metrics: Metrics,
    ops: &'static [Operation],
    slots: Vec<Box<[OnceLock<Slot>]>>,
    no_operation: OnceLock<Slot>,
    auth: [Counter; AuthFailure::ALL.len()],
}

impl Table {
    /// Records a finished request.
    pub(crate) fn record(&self, info: &RequestInfo, status: u16, elapsed: Duration) {
        let op = info.operation.load(Ordering::Relaxed);
        let role = info.role.load(Ordering::Relaxed);
        let slot = match (self.ops.get(op), self.slots.get(op)) {
            (Some(operation), Some(slots)) => {
                let at = role.min(operation.roles.len());
                slots[at].get_or_init(|| {
                    let role = operation.roles.get(at).map_or("", |r| r.role);
                    self.metrics
                        .slot(operation.name, kind_label(operation.kind), role)
                })
            }
            _ => self
                .no_operation
                .get_or_init(|| self.metrics.slot("", "", "")),
        };
        slot.duration.observe(elapsed.as_secs_f64());
        slot.status_counter(&self.metrics.inner.requests, status)
            .inc();
        if let Some(wait) = info.wait() {
            self.metrics.inner.pool_wait.observe(wait.as_secs_f64());
        }
        if let Some(kind) = info.auth_failure() {
            self.auth[kind as usize].inc();
        }
        if let Some(action) = info.take_action() {
            self.metrics.action_call(action, status);
        }
    }
}
