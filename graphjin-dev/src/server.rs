//! The development server: the production runtime plus the compiler. Any operation sent to
//! the GraphQL route is compiled with the same compiler the build uses, added to the
//! runtime's operation table, and served by the unchanged production router — same auth,
//! role resolution and error handling. The runtime gets the table the build would emit for
//! the same operations ([`crate::bridge`]), batch statements included, so a subscription's
//! subscribers are polled with one statement as in production. After it succeeds, a named operation is recorded into
//! `allow.list`, so the next `cargo build` locks it in.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use graphjin_codegen::record::Recorder;
use graphjin_codegen::{Compiled, CompiledOperation, One, Project};
use graphjin_runtime::axum::Router;
use graphjin_runtime::axum::body::{Body, to_bytes};
use graphjin_runtime::axum::extract::{Query, Request, State};
use graphjin_runtime::axum::http::{Method, StatusCode, header};
use graphjin_runtime::axum::response::{IntoResponse, Response};
use graphjin_runtime::subs::{SubsStats, Subscriptions};
use graphjin_runtime::{Config, PoolOptions, Service};
use serde_json::{Value, json};
use tokio::sync::{Mutex, RwLock};
use tower::ServiceExt;

use crate::bridge;

/// How to run the development server.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The config folder (`allow.list`, `db.graphql`, `dev.yml`).
    pub config_dir: PathBuf,
    /// The database to serve and introspect.
    pub database_url: String,
    /// The database schema to introspect.
    pub schema: String,
    /// How often to re-read the database schema and refresh `db.graphql` (`None`: only at
    /// start).
    pub schema_poll: Option<Duration>,
    /// The largest request body.
    pub body_limit: usize,
}

impl DevOptions {
    /// Defaults for a config folder and database.
    pub fn new(config_dir: impl Into<PathBuf>, database_url: impl Into<String>) -> Self {
        DevOptions {
            config_dir: config_dir.into(),
            database_url: database_url.into(),
            schema: "public".into(),
            schema_poll: Some(Duration::from_secs(10)),
            body_limit: 1 << 20,
        }
    }
}

/// Why the development server could not start or refresh.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// The config folder does not compile.
    #[error("{0}")]
    Build(String),
    /// The database could not be introspected.
    #[error("schema pull: {0}")]
    Schema(#[from] crate::schema_pull::IntrospectError),
    /// The runtime refused (connection, prepare, config).
    #[error("{0}")]
    Runtime(String),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What is being served right now.
struct Current {
    project: Project,
    /// allow.list compiled (the requests' operations are in `extra`).
    compiled: Arc<Compiled>,
    /// Operations compiled from requests, by name (replacing allow.list's of the same name).
    extra: Vec<CompiledOperation>,
    /// Normalized texts served, for a fast "already known" check.
    known: Vec<(String, String)>,
    router: Router,
    /// The subscription registry `router` polls with.
    subscriptions: Subscriptions,
    /// What introspection shows for this project, built at the first introspection.
    schema: std::sync::OnceLock<Arc<crate::introspect::Schema>>,
    /// Which build this is: a new one for every rebuild of the runtime.
    generation: u64,
}

/// Counts builds, so a WebSocket knows when the runtime it talks to was replaced.
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

struct Shared {
    opts: DevOptions,
    runtime: Config,
    current: RwLock<Current>,
    rebuild: Mutex<()>,
    recorder: Recorder,
}

/// A running development server's state; [`DevServer::router`] is its axum app.
#[derive(Clone)]
pub struct DevServer {
    shared: Arc<Shared>,
}

fn build_errors(errors: Vec<graphjin_codegen::Error>) -> DevError {
    DevError::Build(
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

impl DevServer {
    /// Pulls the schema into `db.graphql`, compiles allow.list and starts serving it.
    pub async fn start(opts: DevOptions) -> Result<DevServer, DevError> {
        refresh_schema(&opts).await?;
        // Development reads dev.yml (production switches live in prod.yml), unless
        // GJ_ENV / GO_ENV name a file, as for the build.
        let dev_yml = opts.config_dir.join("dev.yml");
        let env_named = graphjin_config::ENV_NAME_VARS
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|v| !v.trim().is_empty()));
        let runtime = if dev_yml.is_file() && !env_named {
            Config::load_file(&dev_yml)
        } else {
            Config::load(&opts.config_dir)
        }
        .map_err(|e| DevError::Runtime(e.to_string()))?;
        let project = load_project(&opts)?;
        let compiled = Arc::new(project.compile().map_err(build_errors)?);
        let recorder = Recorder::new(opts.config_dir.join("allow.list"));
        let current = build(&opts, &runtime, project, compiled, Vec::new()).await?;
        let server = DevServer {
            shared: Arc::new(Shared {
                opts,
                runtime,
                current: RwLock::new(current),
                rebuild: Mutex::new(()),
                recorder,
            }),
        };
        if let Some(every) = server.shared.opts.schema_poll {
            let weak = Arc::downgrade(&server.shared);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Some(shared) = weak.upgrade() else { break };
                    if let Err(e) = (DevServer { shared }).reload_if_schema_changed().await {
                        eprintln!("graphjin dev: schema refresh failed: {e}");
                    }
                }
            });
        }
        Ok(server)
    }

    /// The axum app: the production routes (through the current runtime router) plus
    /// `/playground`.
    pub fn router(&self) -> Router {
        Router::new().fallback(dispatch).with_state(self.clone())
    }

    /// Serves on `listen` until Ctrl-C or SIGTERM. Installs the log subscriber from dev.yml's
    /// `log_level` / `log_format` (or `RUST_LOG`) unless the caller installed one.
    pub async fn serve(self, listen: SocketAddr) -> Result<(), DevError> {
        use graphjin_runtime::observe::logging::{self, LogError};
        match logging::init(&self.shared.runtime.log_options()) {
            Ok(()) | Err(LogError::AlreadySet) => {}
            Err(e) => return Err(DevError::Runtime(e.to_string())),
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| DevError::Io {
                path: listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| DevError::Io {
            path: listen.to_string(),
            source,
        })?;
        eprintln!(
            "graphjin dev: serving http://{addr}/api/v1/graphql, playground at http://{addr}/playground"
        );
        graphjin_runtime::axum::serve(listener, self.router())
            .with_graceful_shutdown(graphjin_runtime::http::shutdown_signal())
            .await
            .map_err(|source| DevError::Io {
                path: addr.to_string(),
                source,
            })
    }

    /// Re-reads the database's schema; when `db.graphql` changes, recompiles everything.
    pub async fn reload_if_schema_changed(&self) -> Result<bool, DevError> {
        if !refresh_schema(&self.shared.opts).await? {
            return Ok(false);
        }
        let _guard = self.shared.rebuild.lock().await;
        let project = load_project(&self.shared.opts)?;
        let compiled = Arc::new(project.compile().map_err(build_errors)?);
        let extra = self.shared.current.read().await.extra.clone();
        let mut recompiled = Vec::new();
        for op in extra {
            // Operations that no longer fit the schema are dropped (a request recompiles them).
            let text = op.source.clone();
            if let Ok(c) = project.compile_one(One::Text {
                text: &text,
                variables: None,
            }) {
                recompiled.push(c);
            }
        }
        let next = build(
            &self.shared.opts,
            &self.shared.runtime,
            project,
            compiled,
            recompiled,
        )
        .await?;
        *self.shared.current.write().await = next;
        Ok(true)
    }

    /// Makes sure `text` is served: compiles it and rebuilds the runtime when it is new.
    async fn ensure(&self, text: &str, variables: Option<&Value>) -> Result<(), String> {
        let normalized = graphjin_codegen::normalize(text);
        if self
            .shared
            .current
            .read()
            .await
            .known
            .iter()
            .any(|(_, q)| *q == normalized)
        {
            return Ok(());
        }
        let _guard = self.shared.rebuild.lock().await;
        let (project, compiled, mut extra) = {
            let cur = self.shared.current.read().await;
            if cur.known.iter().any(|(_, q)| *q == normalized) {
                return Ok(());
            }
            (cur.project.clone(), cur.compiled.clone(), cur.extra.clone())
        };
        // The error points into the query sent (`query:1:9: ...`), which is in no file.
        let op = project
            .compile_one(One::Text { text, variables })
            .map_err(|e| e.located(None).to_string())?;
        extra.retain(|o| !o.name.eq_ignore_ascii_case(&op.name));
        extra.push(op);
        let next = build(
            &self.shared.opts,
            &self.shared.runtime,
            project,
            compiled,
            extra,
        )
        .await
        .map_err(|e| e.to_string())?;
        *self.shared.current.write().await = next;
        Ok(())
    }
}

impl DevServer {
    /// The runtime router serving right now and its build's generation.
    pub(super) async fn current_router(&self) -> (u64, Router) {
        let cur = self.shared.current.read().await;
        (cur.generation, cur.router.clone())
    }

    /// Compiles `text` into the served operations unless it is there already; the error is
    /// the compiler's message.
    pub(super) async fn prepare(
        &self,
        text: &str,
        variables: Option<&Value>,
    ) -> Result<(), String> {
        self.ensure(text, variables).await
    }

    /// The subscription counters of the runtime serving now (each build has its own
    /// registry): for tests that count the statements a poll runs.
    #[doc(hidden)]
    pub async fn subscription_stats(&self) -> SubsStats {
        self.shared.current.read().await.subscriptions.stats()
    }

    /// Records `text` into allow.list (a failure is logged).
    pub(super) fn record(&self, text: &str, variables: Option<&Value>) {
        if let Err(e) = self.shared.recorder.record(text, variables) {
            eprintln!("graphjin dev: {e}");
        }
    }
}

/// Pulls the schema; writes `db.graphql` (atomically) when it differs. True when written.
async fn refresh_schema(opts: &DevOptions) -> Result<bool, DevError> {
    let text = crate::schema_pull::pull(&opts.database_url, &opts.schema).await?;
    let path = opts.config_dir.join("db.graphql");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let body = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    if !old.is_empty() && body(&old) == body(&text) {
        return Ok(false);
    }
    let tmp = opts.config_dir.join(".db.graphql.tmp");
    let io = |source| DevError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::write(&tmp, &text).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(true)
}

fn load_project(opts: &DevOptions) -> Result<Project, DevError> {
    let al = opts.config_dir.join("allow.list");
    if !al.exists() {
        std::fs::write(&al, "").map_err(|source| DevError::Io {
            path: al.display().to_string(),
            source,
        })?;
    }
    Project::load_dev(&opts.config_dir).map_err(|e| DevError::Build(e.to_string()))
}

/// Compiles allow.list plus the request-compiled operations and builds a runtime for them.
async fn build(
    opts: &DevOptions,
    runtime: &Config,
    project: Project,
    compiled: Arc<Compiled>,
    extra: Vec<CompiledOperation>,
) -> Result<Current, DevError> {
    let served = compiled.with(&extra);
    let known = served
        .iter()
        .map(|o| (o.name.clone(), o.normalized.clone()))
        .collect();
    // The same table the build emits (operations, role statement, batch statements).
    let table = bridge::leak_table(&served.runtime_table())
        .map_err(|e| DevError::Runtime(e.to_string()))?;
    // The config's pool settings (statement timeout, cursor key, ...), at most 8
    // connections per build; TLS from the URL and the config's `enable_tls` keys.
    let configured = runtime.pool_options();
    let options = PoolOptions {
        max_size: configured.max_size.min(8),
        ..configured
    };
    let mut builder = table.db_builder(&opts.database_url).options(options);
    if let Some(tls) = runtime
        .tls_options()
        .map_err(|e| DevError::Runtime(e.to_string()))?
    {
        builder = builder.tls(tls);
    }
    let db = builder
        .connect()
        .await
        .map_err(|e| DevError::Runtime(e.to_string()))?;
    // The same action routes and named auths as production.
    let actions = graphjin_runtime::actions::Actions::from_config(runtime, &db)
        .await
        .map_err(|e| DevError::Runtime(e.to_string()))?;
    let service = Service::from_config(db, runtime)
        .map_err(|e| DevError::Runtime(e.to_string()))?
        .actions(actions)
        .body_limit(opts.body_limit);
    let subscriptions = service.subscriptions().clone();
    Ok(Current {
        project,
        compiled,
        extra,
        known,
        router: graphjin_runtime::router(service),
        subscriptions,
        schema: std::sync::OnceLock::new(),
        generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    })
}

fn graphql_error(status: StatusCode, code: &str, message: String) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// What a GraphQL-over-HTTP request asks for.
struct RequestParts {
    text: Option<String>,
    variables: Option<Value>,
    operation_name: Option<String>,
}

/// The query text, operation name and variables of a GraphQL-over-HTTP request.
fn request_parts(
    method: &Method,
    uri: &graphjin_runtime::axum::http::Uri,
    body: &[u8],
) -> RequestParts {
    if *method == Method::GET {
        // The same query-string decoding the production GET route uses.
        let pairs = Query::<HashMap<String, String>>::try_from_uri(uri)
            .map(|q| q.0)
            .unwrap_or_default();
        let vars = pairs
            .get("variables")
            .and_then(|v| serde_json::from_str::<Value>(v).ok())
            .filter(Value::is_object);
        RequestParts {
            text: pairs.get("query").cloned(),
            variables: vars,
            operation_name: pairs.get("operationName").cloned(),
        }
    } else {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return RequestParts {
                text: None,
                variables: None,
                operation_name: None,
            };
        };
        RequestParts {
            text: v.get("query").and_then(Value::as_str).map(str::to_owned),
            variables: v.get("variables").cloned().filter(Value::is_object),
            operation_name: v
                .get("operationName")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

async fn dispatch(State(dev): State<DevServer>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/playground" {
        return crate::playground::page();
    }
    if path == "/playground/operations" {
        let names: Vec<String> = std::fs::read(dev.shared.recorder.path())
            .ok()
            .and_then(|b| graphjin_codegen::allowlist::parse(&b).ok())
            .map(|l| l.operations().map(|o| o.name.clone()).collect())
            .unwrap_or_default();
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json!(names).to_string(),
        )
            .into_response();
    }
    let router = dev.shared.current.read().await.router.clone();
    if path.ends_with("/v1/graphql")
        && req.method() == Method::GET
        && req.headers().contains_key(header::UPGRADE)
    {
        // Subscriptions: compiled on the fly and recorded, like queries over HTTP.
        return crate::subscriptions::upgrade(dev, req).await;
    }
    if !path.ends_with("/v1/graphql") || req.headers().contains_key(header::UPGRADE) {
        return forward(router, req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, dev.shared.opts.body_limit).await else {
        return graphql_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "the request body is too large".into(),
        );
    };
    let RequestParts {
        text,
        variables,
        operation_name,
    } = request_parts(&parts.method, &parts.uri, &bytes);
    let Some(text) = text else {
        return forward(router, Request::from_parts(parts, Body::from(bytes))).await;
    };
    // Introspection is answered here, from the schema model: never compiled, never recorded.
    // Meta fields all start with `__`; only then is the schema model needed.
    if text.contains("__") {
        let schema = {
            let cur = dev.shared.current.read().await;
            cur.schema
                .get_or_init(|| {
                    Arc::new(crate::introspect::from_catalog::schema(
                        &cur.project.schema,
                        &cur.compiled,
                    ))
                })
                .clone()
        };
        if let Some(body) = crate::introspect::answer(
            &schema,
            &text,
            operation_name.as_deref(),
            variables.as_ref(),
        ) {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response();
        }
    }
    if let Err(message) = dev.ensure(&text, variables.as_ref()).await {
        return graphql_error(
            StatusCode::BAD_REQUEST,
            "GRAPHQL_VALIDATION_FAILED",
            message,
        );
    }
    let router = dev.shared.current.read().await.router.clone();
    // The response is read to decide whether to record: ask for it uncompressed (browsers
    // offer gzip/br, which the runtime's compression layer would use).
    let mut parts = parts;
    parts.headers.remove(header::ACCEPT_ENCODING);
    let response = forward(router, Request::from_parts(parts, Body::from(bytes))).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    // Record only what ran without errors.
    let (rparts, rbody) = response.into_parts();
    let Ok(out) = to_bytes(rbody, usize::MAX).await else {
        return graphql_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "response lost".into(),
        );
    };
    let ok = serde_json::from_slice::<Value>(&out)
        .map(|v| v.get("errors").is_none())
        .unwrap_or(false);
    if ok && let Err(e) = dev.shared.recorder.record(&text, variables.as_ref()) {
        eprintln!("graphjin dev: {e}");
    }
    Response::from_parts(rparts, Body::from(out))
}

async fn forward(router: Router, req: Request) -> Response {
    match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}
