//! Garbage at every route: whatever a client sends, the answer is never a 5xx and the
//! server keeps serving. Bounded: a fixed number of requests from a fixed seed.

mod common;

use common::*;

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const NAMES: &[&str] = &[
    "getProducts",
    "getProduct",
    "myProducts",
    "createProduct",
    "productsByIds",
    "newProducts",
    "deleteAll",
    "",
    "%00",
    "..%2F..",
    "a%ZZ",
    "GETPRODUCT",
];

const VALUES: &[&str] = &[
    "1",
    "-1",
    "0",
    "1.5",
    "1e400",
    "-1e-400",
    "99999999999999999999999",
    "\"x\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"%\\\\\"",
    "true",
    "null",
    "[]",
    "[1,2,3]",
    "[1,\"a\"]",
    "[[1]]",
    "{}",
    "{\"a\":{\"b\":[]}}",
    "\"2024-13-45\"",
    "\"NaN\"",
];

const VAR_NAMES: &[&str] = &["id", "after", "ids", "name", "price", "user_id", "", "x"];

fn random_json(rng: &mut Rng, depth: usize) -> String {
    match rng.below(if depth > 3 { 2 } else { 4 }) {
        0 => rng.pick(VALUES).to_string(),
        1 => format!("\"{}\"", rng.pick(NAMES)),
        2 => {
            let n = rng.below(4);
            let items: Vec<String> = (0..n).map(|_| random_json(rng, depth + 1)).collect();
            format!("[{}]", items.join(","))
        }
        _ => {
            let n = rng.below(4);
            let items: Vec<String> = (0..n)
                .map(|_| {
                    format!(
                        "\"{}\":{}",
                        rng.pick(VAR_NAMES),
                        random_json(rng, depth + 1)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
    }
}

fn random_variables(rng: &mut Rng) -> String {
    let n = rng.below(4);
    let items: Vec<String> = (0..n)
        .map(|_| format!("\"{}\":{}", rng.pick(VAR_NAMES), rng.pick(VALUES)))
        .collect();
    format!("{{{}}}", items.join(","))
}

fn garbage_bytes(rng: &mut Rng) -> Vec<u8> {
    let n = rng.below(200);
    (0..n).map(|_| rng.next() as u8).collect()
}

fn graphql_body(rng: &mut Rng) -> Vec<u8> {
    match rng.below(6) {
        0 => garbage_bytes(rng),
        1 => random_json(rng, 0).into_bytes(),
        2 => format!(
            r#"{{"operationName":"{}","variables":{}}}"#,
            rng.pick(NAMES),
            random_variables(rng)
        )
        .into_bytes(),
        3 => format!(
            r#"{{"query":{},"operationName":{},"variables":{},"extensions":{}}}"#,
            random_json(rng, 2),
            random_json(rng, 3),
            random_json(rng, 1),
            random_json(rng, 1)
        )
        .into_bytes(),
        4 => {
            // A valid request with a byte flipped or the tail cut.
            let mut b = format!(
                r#"{{"operationName":"getProduct","variables":{{"id":{}}}}}"#,
                rng.pick(VALUES)
            )
            .into_bytes();
            let i = rng.below(b.len());
            if rng.below(2) == 0 {
                b[i] = rng.next() as u8;
            } else {
                b.truncate(i);
            }
            b
        }
        _ => format!(
            r#"{{"query":"query getProducts {{ products {{ id }} }}","extensions":{{"persistedQuery":{{"sha256Hash":{}}}}}}}"#,
            random_json(rng, 3)
        )
        .into_bytes(),
    }
}

fn url_garbage(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "%", "%2", "%FF", "%00", "{", "\"", "&", "=", "+", "a", "1", "[", "]", "%7B",
    ];
    (0..rng.below(12)).map(|_| *rng.pick(PIECES)).collect()
}

#[tokio::test]
async fn garbage_never_yields_a_server_error() {
    let base = server().await;
    let client = reqwest::Client::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let content_types = [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/graphql-response+json",
        "",
        "application/json\t;;;",
    ];
    let mut counts = std::collections::BTreeMap::new();
    for i in 0..500 {
        let route = rng.below(5);
        let user = (rng.below(3) == 0).then(|| rng.pick(&["1", "2", "x", "-1"]).to_string());
        let request = match route {
            0 | 1 => {
                let mut r = client
                    .post(format!("{base}/api/v1/graphql"))
                    .body(graphql_body(&mut rng));
                let ct = rng.pick(&content_types);
                if !ct.is_empty() {
                    r = r.header("content-type", *ct);
                }
                r
            }
            2 => {
                let query = match rng.below(3) {
                    0 => format!(
                        "operationName={}&variables={}",
                        rng.pick(NAMES),
                        url_garbage(&mut rng)
                    ),
                    1 => format!(
                        "query={}&extensions={}",
                        url_garbage(&mut rng),
                        url_garbage(&mut rng)
                    ),
                    _ => url_garbage(&mut rng),
                };
                client.get(format!("{base}/api/v1/graphql?{query}"))
            }
            3 => {
                let name = rng.pick(NAMES);
                if rng.below(2) == 0 {
                    client.get(format!(
                        "{base}/api/v1/rest/{name}?variables={}",
                        url_garbage(&mut rng)
                    ))
                } else {
                    let body = if rng.below(2) == 0 {
                        random_variables(&mut rng).into_bytes()
                    } else {
                        graphql_body(&mut rng)
                    };
                    client
                        .post(format!("{base}/api/v1/rest/{name}"))
                        .header("content-type", "application/json")
                        .body(body)
                }
            }
            _ => {
                let method = rng.pick(&[
                    reqwest::Method::PUT,
                    reqwest::Method::DELETE,
                    reqwest::Method::PATCH,
                    reqwest::Method::OPTIONS,
                    reqwest::Method::HEAD,
                ]);
                let path = rng.pick(&[
                    "/api/v1/graphql",
                    "/api/v1/rest/getProducts",
                    "/health",
                    "/api/v1/rest/",
                    "/api",
                ]);
                client.request(method.clone(), format!("{base}{path}"))
            }
        };
        let request = match &user {
            Some(u) => request.header("x-test-user", u),
            None => request,
        };
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert!(
            status < 500,
            "request {i} (route {route}) got {status}: {body}"
        );
        *counts.entry(status).or_insert(0) += 1;
    }
    eprintln!("statuses: {counts:?}");
    // Some garbage is valid enough to succeed; most is refused.
    assert!(counts.contains_key(&200), "{counts:?}");
    assert!(counts.contains_key(&400), "{counts:?}");

    // Still serving.
    let r = get(&format!("{base}/api/v1/rest/getProducts"), &[], None).await;
    assert_eq!(r.status, 200);
}
