//! `/metrics` of a real server on a real PostgreSQL, scraped with a real HTTP client after
//! a few requests and read with a Prometheus text-format parser: the latency histogram of
//! each operation and role counts its requests, the status counters and the auth failures
//! are right, the pool's gauges are there, and the path is guarded by its named auth.

mod common;

use std::path::Path;

use common::*;
use graphjin_runtime::config::MetricsConfig;
use graphjin_runtime::{Config, Service};
use prometheus_parse::{Sample, Scrape, Value};

const SCRAPE_KEY: &str = "scrape-key-0123456789";

fn config() -> Config {
    let mut config = Config::from_yaml(
        r#"
auth: {type: jwt, jwt: {secret: observe-metrics-secret-0123456789abcdef}}
auths:
  - {name: scraper, type: header, header: {name: X-Scrape-Key, value: scrape-key-0123456789}}
"#,
        Path::new("dev.yml"),
    )
    .expect("config");
    // `metrics: {enabled: true, path: /internal/metrics, auth: scraper}`; the file form is
    // read by the config's own tests.
    config.metrics = MetricsConfig {
        enabled: true,
        path: "/internal/metrics".to_owned(),
        auth: Some("scraper".to_owned()),
    };
    config
}

/// The samples of `metric` whose labels include every pair of `labels`.
fn find<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

/// The one sample's value as a number (counters read as untyped: OpenMetrics names their
/// samples `<name>_total`, under a `# TYPE <name> counter` line).
fn number(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found = find(scrape, metric, labels);
    assert_eq!(found.len(), 1, "{metric} {labels:?}: {found:#?}");
    match &found[0].value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        other => panic!("{metric} is not a number: {other:?}"),
    }
}

/// A histogram's observation count: its `+Inf` bucket.
fn histogram_count(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found = find(scrape, metric, labels);
    assert_eq!(found.len(), 1, "{metric} {labels:?}: {found:#?}");
    let Value::Histogram(buckets) = &found[0].value else {
        panic!("{metric} is not a histogram: {:?}", found[0].value);
    };
    let inf = buckets
        .iter()
        .find(|b| b.less_than.is_infinite())
        .expect("a +Inf bucket");
    // Buckets are cumulative.
    assert!(
        buckets.windows(2).all(|w| w[0].count <= w[1].count),
        "{buckets:?}"
    );
    inf.count
}

#[tokio::test]
async fn scraped_series_count_the_requests() {
    let service = Service::from_config(db().await, &config()).expect("service");
    // `serve` adds the test's `x-test-user` header auth outside the router.
    let base = serve(service).await;
    let graphql = format!("{base}/api/v1/graphql");

    for _ in 0..3 {
        let r = post_json(&graphql, r#"{"operationName":"getProducts"}"#, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    for id in [1, 2] {
        let body = format!(r#"{{"operationName":"getProduct","variables":{{"id":{id}}}}}"#);
        let r = post_json(&graphql, &body, Some("1")).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // A user-only operation as anon: its role is known, it has no statement for it.
    let r = post_json(&graphql, r#"{"operationName":"myProducts"}"#, None).await;
    assert_eq!(r.status, 401, "{}", r.text);
    // A variable of the wrong type: refused when it is bound, after the role is known.
    let r = post_json(
        &graphql,
        r#"{"operationName":"getProduct","variables":{"id":"abc"}}"#,
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    // An operation that is not listed.
    let r = post_json(&graphql, r#"{"operationName":"nope"}"#, None).await;
    assert_eq!(r.status, 400, "{}", r.text);
    // A malformed bearer token runs as anon (no auth_fail_block) and is counted.
    let r = reqwest::Client::new()
        .post(&graphql)
        .header("content-type", "application/json")
        .header("authorization", "Bearer not-a-jwt")
        .body(r#"{"operationName":"getProducts"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));

    let metrics = format!("{base}/internal/metrics");
    let client = reqwest::Client::new();
    let r = client.get(&metrics).send().await.expect("scrape");
    assert_eq!(r.status(), 401, "the scraper's auth is required");
    let r = client
        .get(&metrics)
        .header("x-scrape-key", "wrong")
        .send()
        .await
        .expect("scrape");
    assert_eq!(r.status(), 401);
    let r = client
        .get(&metrics)
        .header("x-scrape-key", SCRAPE_KEY)
        .send()
        .await
        .expect("scrape");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/openmetrics-text"),
        "{:?}",
        r.headers()
    );
    let text = r.text().await.expect("body");
    if std::env::var_os("SHOW_METRICS").is_some() {
        eprintln!("{text}");
    }
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parses");

    let latency = "graphjin_request_duration_seconds";
    let q = ("kind", "query");
    assert_eq!(
        histogram_count(
            &scrape,
            latency,
            &[("operation", "getProducts"), ("role", "anon"), q]
        ),
        4.0,
        "{text}"
    );
    assert_eq!(
        histogram_count(
            &scrape,
            latency,
            &[("operation", "getProduct"), ("role", "user"), q]
        ),
        2.0
    );
    assert_eq!(
        histogram_count(
            &scrape,
            latency,
            &[("operation", "getProduct"), ("role", "anon")]
        ),
        1.0,
        "the 400"
    );
    assert_eq!(
        histogram_count(
            &scrape,
            latency,
            &[("operation", "myProducts"), ("role", "")]
        ),
        1.0,
        "a role the operation has no statement for"
    );

    let requests = "graphjin_requests_total";
    let count = |labels: &[(&str, &str)]| number(&scrape, requests, labels);
    assert_eq!(
        count(&[
            ("operation", "getProducts"),
            ("role", "anon"),
            ("status", "200")
        ]),
        4.0
    );
    assert_eq!(
        count(&[
            ("operation", "getProduct"),
            ("role", "user"),
            ("status", "200")
        ]),
        2.0
    );
    assert_eq!(
        count(&[("operation", "myProducts"), ("role", ""), ("status", "401")]),
        1.0
    );
    assert_eq!(
        count(&[
            ("operation", "getProduct"),
            ("role", "anon"),
            ("status", "400")
        ]),
        1.0
    );
    assert_eq!(
        count(&[("operation", ""), ("status", "400")]),
        1.0,
        "the unlisted operation"
    );
    // Every request so far (the refused scrapes included) is counted once.
    let total: f64 = find(&scrape, requests, &[])
        .iter()
        .map(|s| match s.value {
            Value::Counter(v) | Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum();
    assert_eq!(total, 4.0 + 2.0 + 1.0 + 1.0 + 1.0 + 2.0, "{text}");

    assert_eq!(
        number(
            &scrape,
            "graphjin_auth_failures_total",
            &[("kind", "malformed")]
        ),
        1.0
    );
    // The two refused scrapes: no key, then a wrong one.
    assert_eq!(
        number(
            &scrape,
            "graphjin_auth_failures_total",
            &[("kind", "missing")]
        ),
        1.0
    );
    assert_eq!(
        number(
            &scrape,
            "graphjin_auth_failures_total",
            &[("kind", "header_mismatch")]
        ),
        1.0
    );

    // The pool: open connections and capacity now, and one wait per request that took a
    // connection (all but the unlisted operation).
    assert!(number(&scrape, "graphjin_db_pool_connections", &[]) >= 1.0);
    assert!(number(&scrape, "graphjin_db_pool_capacity", &[]) >= 4.0);
    assert_eq!(number(&scrape, "graphjin_db_pool_in_flight", &[]), 0.0);
    assert_eq!(number(&scrape, "graphjin_db_pool_waiting", &[]), 0.0);
    assert!(number(&scrape, "graphjin_db_pool_opened_total", &[]) >= 1.0);
    assert_eq!(
        histogram_count(&scrape, "graphjin_db_pool_wait_seconds", &[]),
        4.0 + 2.0 + 1.0 + 1.0
    );
    assert_eq!(number(&scrape, "graphjin_subscriptions", &[]), 0.0);
    // No WebSocket is open while scraping.
    assert_eq!(number(&scrape, "graphjin_websockets", &[]), 0.0);
    assert_eq!(
        number(&scrape, "graphjin_jwks_refresh_failures_total", &[]),
        0.0
    );
}

#[tokio::test]
async fn off_unless_enabled() {
    let config = Config::from_yaml("production: false\n", Path::new("dev.yml")).expect("config");
    let base = serve(Service::from_config(db().await, &config).expect("service")).await;
    let r = reqwest::get(format!("{base}/metrics")).await.expect("get");
    assert_eq!(r.status(), 404);
    // Requests still get their id.
    assert!(r.headers().contains_key("x-request-id"));

    // A metrics auth that names no auth is refused at start-up, naming the key.
    let mut bad = config;
    bad.metrics = MetricsConfig {
        enabled: true,
        auth: Some("nobody".to_owned()),
        ..MetricsConfig::default()
    };
    let e = Service::from_config(db().await, &bad).expect_err("unknown auth");
    assert!(e.to_string().contains("metrics.auth"), "{e}");
}
