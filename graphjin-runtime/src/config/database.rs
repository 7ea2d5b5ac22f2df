//! The `database:` keys: where the runtime connects and how its pool behaves. GraphJin's
//! keys, plus five of this port's own:
//!
//! ```yaml
//! database:
//!   type: postgres                 # the only one supported
//!   connection_string: ""          # a URL or key=value string; else the parts below
//!   host: db.internal              # default localhost
//!   port: 5432                     # default 5432
//!   dbname: shop
//!   user: app                      # default postgres
//!   password: ""                   # better: GJ_DATABASE_PASSWORD
//!   schema: shop                   # search_path of every connection
//!   pool_size: 10                  # most connections (with max_connections: kept when idle)
//!   max_connections: 20            # most connections, when it differs from pool_size
//!   max_connection_idle_time: 10m  # close a connection idle this long (Go durations)
//!   max_connection_life_time: 1h   # retire a connection this old (no new calls, closed when idle)
//!   ping_timeout: 2s               # the health check's limit
//!   enable_tls: false              # TLS keys: server_name, server_cert, client_cert, client_key
//!   statement_timeout: 30s         # every call's time limit (default 30s; 0 for none)
//!   operation_timeouts:            # per operation, replacing statement_timeout
//!     listProducts: 2s
//!     salesReport: 2m
//!   connection_setup: "SET lock_timeout = '1s'"  # run once on each new connection
//!   pipeline_depth: 16             # calls in flight on one connection (default 16)
//!   statement_mode: prepared       # or `unnamed` behind PgBouncer's transaction pooling
//!   read_replicas:                 # queries and subscription polls run on these
//!     - postgres://app@replica1.internal/shop?sslmode=verify-full
//!   max_replica_lag: 10s           # a replica further behind is taken out (default 10s)
//!   replica_check_interval: 1s     # how often replicas are checked (default 1s)
//!   read_your_writes: 5s           # after a user's mutation, their reads go to the primary
//!   role_cache_ttl: 5s             # reuse a signed-in user's role this long (default: off)
//!   role_cache_size: 100000        # most user ids the role cache holds
//! ```
//!
//! A replica URL without a password takes `password` (like `connection_string`); its TLS
//! follows its own `sslmode` etc., with the `enable_tls` keys laid over it as for the
//! primary. See [`crate::replicas`].
//!
//! A call over its limit fails with a 504 (`TIMEOUT`) naming the operation and the limit;
//! PostgreSQL also gets the largest limit as each connection's `statement_timeout`.
//!
//! `DATABASE_URL` replaces the whole address ([`crate::Config::database_url`]), and every
//! key has its `GJ_DATABASE_...` variable (`GJ_DATABASE_CONNECTION_STRING`,
//! `GJ_DATABASE_PASSWORD`, ...). Durations are Go's (`30s`, `5m`, `1h30m`); a bare number is
//! refused, because GraphJin would read it as nanoseconds.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ConfigError, Secret};
use crate::PoolOptions;

/// `database:`: the connection and the pool. Its `Debug` output never shows the password
/// or the connection string (which may hold one).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `connection_string`: a `postgres://` URL or a `key=value` string. With it, only
    /// `password` of the parts below may be set too (filled in when the string has none).
    pub connection_string: Option<Secret>,
    /// `type`: `postgres` (the default) is the only database supported.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `host` (default `localhost`); a path starting with `/` is a Unix socket folder.
    pub host: Option<String>,
    /// `port` (default 5432).
    pub port: Option<u16>,
    /// `dbname` (default: the user's name, as PostgreSQL does).
    pub dbname: Option<String>,
    /// `user` (default `postgres`, as GraphJin).
    pub user: Option<String>,
    /// `password` (env `GJ_DATABASE_PASSWORD`).
    pub password: Option<Secret>,
    /// `schema`: the `search_path` of every connection, when set.
    pub schema: Option<String>,
    /// `pool_size`: most connections open at once; with `max_connections` set too, the
    /// connections kept open when idle.
    pub pool_size: Option<usize>,
    /// `max_connections`: most connections open at once.
    pub max_connections: Option<usize>,
    /// `max_connection_idle_time`: close a connection idle this long (down to the ones kept).
    #[serde(
        deserialize_with = "graphjin_config::go_duration",
        serialize_with = "go_text"
    )]
    pub max_connection_idle_time: Option<Duration>,
    /// `max_connection_life_time`: a connection this old takes no new call and closes once
    /// its calls are done.
    #[serde(
        deserialize_with = "graphjin_config::go_duration",
        serialize_with = "go_text"
    )]
    pub max_connection_life_time: Option<Duration>,
    /// `ping_timeout`: how long the health check waits for the database.
    #[serde(
        deserialize_with = "graphjin_config::go_duration",
        serialize_with = "go_text"
    )]
    pub ping_timeout: Option<Duration>,
    /// `enable_tls`: connect over TLS, checked with `server_cert` for `server_name`.
    pub enable_tls: bool,
    /// `server_name`: the name the server's certificate must carry.
    pub server_name: Option<String>,
    /// `server_cert`: the CA certificate (a PEM file path, or the PEM itself).
    pub server_cert: Option<String>,
    /// `client_cert`: a client certificate (path or PEM), with `client_key`.
    pub client_cert: Option<String>,
    /// `client_key`: the client certificate's key (path or PEM).
    pub client_key: Option<Secret>,
    /// `statement_timeout` (this port's key): every call's time limit (the client cuts it
    /// off and PostgreSQL cancels it); unset: 30 s, `0`: no limit.
    #[serde(deserialize_with = "duration_or_zero", serialize_with = "go_text")]
    pub statement_timeout: Option<Duration>,
    /// `operation_timeouts` (this port's key): per operation name, a time limit replacing
    /// `statement_timeout` (`0`: no limit).
    #[serde(deserialize_with = "operation_durations", serialize_with = "go_texts")]
    pub operation_timeouts: BTreeMap<String, Duration>,
    /// `connection_setup` (this port's key): SQL run once on each new connection, before
    /// the statements are prepared (e.g. `SET lock_timeout = '1s'`).
    pub connection_setup: Option<String>,
    /// `pipeline_depth` (this port's key): most calls in flight on one connection.
    pub pipeline_depth: Option<usize>,
    /// `statement_mode` (this port's key): `prepared` (the default: every statement
    /// prepared on every connection) or `unnamed` (each call sends its SQL unnamed with
    /// typed parameters: for PgBouncer in `transaction` pooling mode). See
    /// [`crate::PoolOptions::statement_mode`].
    pub statement_mode: Option<String>,
    /// `read_replicas` (this port's key): streaming replicas' URLs; queries and
    /// subscription polls run on them (env `GJ_DATABASE_READ_REPLICAS`, comma-separated).
    pub read_replicas: Vec<Secret>,
    /// `max_replica_lag` (this port's key): a replica lagging more is taken out (default
    /// 10 s).
    #[serde(
        deserialize_with = "graphjin_config::go_duration",
        serialize_with = "go_text"
    )]
    pub max_replica_lag: Option<Duration>,
    /// `replica_check_interval` (this port's key): how often replicas are checked
    /// (default 1 s).
    #[serde(
        deserialize_with = "graphjin_config::go_duration",
        serialize_with = "go_text"
    )]
    pub replica_check_interval: Option<Duration>,
    /// `read_your_writes` (this port's key): after an authenticated caller's mutation,
    /// their reads go to the primary for this long (unset or `0`: off).
    #[serde(deserialize_with = "duration_or_zero", serialize_with = "go_text")]
    pub read_your_writes: Option<Duration>,
    /// `role_cache_ttl` (this port's key): how long a signed-in user's role, read with
    /// `roles_query`, is reused without reading it again (unset or `0`: off, every call
    /// reads it). A role changed in the database is seen within this time.
    #[serde(deserialize_with = "duration_or_zero", serialize_with = "go_text")]
    pub role_cache_ttl: Option<Duration>,
    /// `role_cache_size` (this port's key): the most user ids the role cache holds
    /// (default 100,000).
    pub role_cache_size: Option<usize>,
}

fn go_text<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        None => serializer.serialize_none(),
        Some(d) => serializer.serialize_str(&graphjin_config::format_go_duration(*d)),
    }
}

fn go_texts<S: Serializer>(
    value: &BTreeMap<String, Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(
        value
            .iter()
            .map(|(k, d)| (k, graphjin_config::format_go_duration(*d))),
    )
}

/// A Go duration where zero stays zero (no limit), unlike an unset key or `null`.
fn duration_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Ok(Option::<Limit>::deserialize(d)?.map(|Limit(l)| l))
}

/// A map of operation names to Go durations (zero: no limit).
fn operation_durations<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Duration>, D::Error> {
    let map = Option::<BTreeMap<String, Limit>>::deserialize(d)?.unwrap_or_default();
    Ok(map.into_iter().map(|(name, Limit(l))| (name, l)).collect())
}

/// A Go duration, zero included.
struct Limit(Duration);

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Limit, D::Error> {
        graphjin_config::go_duration(d).map(|l| Limit(l.unwrap_or_default()))
    }
}

/// `Some(text)` unless empty or blank.
fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn set_secret(value: &Option<Secret>) -> Option<&str> {
    value
        .as_ref()
        .map(Secret::expose)
        .filter(|v| !v.trim().is_empty())
}

impl DatabaseConfig {
    /// Checks what can be checked without connecting: the type, and that the address is
    /// given one way.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(kind) = set(&self.kind)
            && !matches!(
                kind.to_ascii_lowercase().as_str(),
                "postgres" | "postgresql" | "pg"
            )
        {
            return Err(ConfigError::Unsupported {
                key: "database.type".to_owned(),
                what: format!("database type `{kind}`"),
                hint: "GraphJin for Rust runs on PostgreSQL only: remove the key or write `type: postgres`".to_owned(),
            });
        }
        if set_secret(&self.connection_string).is_some() {
            let parts = [
                ("host", set(&self.host).is_some()),
                ("port", self.port.is_some()),
                ("dbname", set(&self.dbname).is_some()),
                ("user", set(&self.user).is_some()),
            ];
            if let Some((part, _)) = parts.iter().find(|(_, is_set)| *is_set) {
                return Err(ConfigError::Invalid {
                    key: format!("database.{part}"),
                    message: "`database.connection_string` is set too: the connection string is the whole address, so put the host, port, dbname and user in it (only `password` may be given apart)".to_owned(),
                });
            }
        }
        if self.statement_mode()? == Some(crate::StatementMode::Unnamed) {
            let session = [
                ("schema", set(&self.schema).is_some()),
                ("connection_setup", set(&self.connection_setup).is_some()),
            ];
            if let Some((key, _)) = session.iter().find(|(_, is_set)| *is_set) {
                return Err(ConfigError::Invalid {
                    key: format!("database.{key}"),
                    message: crate::exec::unnamed_session_message(key),
                });
            }
        }
        if set(&self.client_cert).is_some() != set_secret(&self.client_key).is_some() {
            return Err(ConfigError::Invalid {
                key: "database.client_key".to_owned(),
                message: "`client_cert` and `client_key` go together: set both or neither"
                    .to_owned(),
            });
        }
        Ok(())
    }

    /// Whether the config says where the database is: a connection string, or any of host,
    /// port, dbname, user, password.
    pub fn has_address(&self) -> bool {
        set_secret(&self.connection_string).is_some()
            || set(&self.host).is_some()
            || self.port.is_some()
            || set(&self.dbname).is_some()
            || set(&self.user).is_some()
            || set_secret(&self.password).is_some()
    }

    /// The address as a connection string: `connection_string` (with `password` filled in
    /// when it has none), else a `postgres://` URL assembled from the parts, each
    /// percent-encoded; `None` when the config names no database. Holds the password:
    /// never log it.
    pub fn url(&self) -> Option<String> {
        if let Some(conn) = set_secret(&self.connection_string) {
            return Some(match set_secret(&self.password) {
                Some(password) => with_password(conn, password),
                None => conn.to_owned(),
            });
        }
        if !self.has_address() {
            return None;
        }
        let mut url = String::from("postgres://");
        url.push_str(&encode(set(&self.user).unwrap_or("postgres")));
        if let Some(password) = set_secret(&self.password) {
            url.push(':');
            url.push_str(&encode(password));
        }
        url.push('@');
        let host = set(&self.host).unwrap_or("localhost");
        if host.contains(':') && !host.starts_with('[') {
            // An IPv6 address.
            let _ = write!(url, "[{host}]");
        } else {
            url.push_str(&encode(host));
        }
        let _ = write!(url, ":{}", self.port.unwrap_or(5432));
        if let Some(db) = set(&self.dbname) {
            url.push('/');
            url.push_str(&encode(db));
        }
        Some(url)
    }

    /// GraphJin's TLS keys as [`graphjin_pgtls::TlsOptions`] (`verify-full` against
    /// `server_cert`, for `server_name`); `None` without `enable_tls`, leaving TLS to the
    /// URL's `sslmode`. Relative certificate and key paths are resolved against `dir` (the
    /// config folder).
    pub fn tls_options(
        &self,
        dir: Option<&std::path::Path>,
    ) -> Result<Option<graphjin_pgtls::TlsOptions>, ConfigError> {
        let resolve = |v: Option<&str>| -> Option<String> {
            let v = v.map(str::trim).filter(|v| !v.is_empty())?;
            let path = std::path::Path::new(v);
            Some(match dir {
                Some(dir) if !v.contains("-----BEGIN") && path.is_relative() => {
                    dir.join(path).display().to_string()
                }
                _ => v.to_owned(),
            })
        };
        graphjin_pgtls::TlsOptions::from_graphjin_keys(
            self.enable_tls,
            set(&self.server_name),
            resolve(self.server_cert.as_deref()).as_deref(),
            resolve(self.client_cert.as_deref()).as_deref(),
            resolve(self.client_key.as_ref().map(Secret::expose)).as_deref(),
        )
        .map_err(|e| ConfigError::Invalid {
            key: "database.enable_tls".to_owned(),
            message: e.to_string(),
        })
    }

    /// `statement_mode` read: `prepared` or `unnamed` (any case), `None` when unset.
    pub fn statement_mode(&self) -> Result<Option<crate::StatementMode>, ConfigError> {
        let Some(mode) = set(&self.statement_mode) else {
            return Ok(None);
        };
        match mode.to_ascii_lowercase().as_str() {
            "prepared" => Ok(Some(crate::StatementMode::Prepared)),
            "unnamed" => Ok(Some(crate::StatementMode::Unnamed)),
            _ => Err(ConfigError::Invalid {
                key: "database.statement_mode".to_owned(),
                message: format!(
                    "`{mode}` is not a statement mode: write `prepared` (the default: statements prepared on each connection) or `unnamed` (for PgBouncer in transaction pooling mode)"
                ),
            }),
        }
    }

    /// The pool's settings: [`PoolOptions::default`] with what the keys set.
    pub fn pool_options(&self) -> PoolOptions {
        let mut o = PoolOptions::default();
        let positive = |n: Option<usize>| n.filter(|n| *n > 0);
        match (positive(self.max_connections), positive(self.pool_size)) {
            (Some(max), kept) => {
                o.max_size = max;
                if let Some(kept) = kept {
                    o.min_idle = kept.min(max);
                }
            }
            (None, Some(size)) => o.max_size = size,
            (None, None) => {}
        }
        o.min_idle = o.min_idle.min(o.max_size);
        if let Some(depth) = positive(self.pipeline_depth) {
            o.pipeline_depth = depth;
        }
        if let Some(idle) = self.max_connection_idle_time {
            o.idle_timeout = Some(idle);
        }
        o.max_lifetime = self.max_connection_life_time;
        if let Some(ping) = self.ping_timeout {
            o.health_timeout = ping;
        }
        if let Some(limit) = self.statement_timeout {
            o.statement_timeout = Some(limit).filter(|d| !d.is_zero());
        }
        o.operation_timeouts = self.operation_timeouts.clone();
        o.connection_setup = set(&self.connection_setup).map(str::to_owned);
        o.schema = set(&self.schema).map(str::to_owned);
        // Checked by `validate`; an unknown value falls back to the default here.
        o.statement_mode = self.statement_mode().ok().flatten().unwrap_or_default();
        o.read_replicas = self.replica_urls();
        if let Some(lag) = self.max_replica_lag {
            o.max_replica_lag = lag;
        }
        if let Some(every) = self.replica_check_interval.filter(|d| !d.is_zero()) {
            o.replica_check_interval = every;
        }
        o.read_your_writes = self.read_your_writes.filter(|d| !d.is_zero());
        o.role_cache_ttl = self.role_cache_ttl.filter(|d| !d.is_zero());
        if let Some(size) = positive(self.role_cache_size) {
            o.role_cache_size = size;
        }
        o
    }

    /// `read_replicas` as URLs, blank ones skipped, each without a password of its own
    /// given `password`.
    fn replica_urls(&self) -> Vec<crate::ReplicaUrl> {
        let password = set_secret(&self.password);
        self.read_replicas
            .iter()
            .map(Secret::expose)
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| match password {
                Some(p) => crate::ReplicaUrl::new(with_password(u, p)),
                None => crate::ReplicaUrl::new(u),
            })
            .collect()
    }
}

/// `conn` with `password` added: to a URL's user info when it has no password, or as a
/// `password=` entry of a key=value string.
fn with_password(conn: &str, password: &str) -> String {
    let url = conn
        .strip_prefix("postgres://")
        .map(|rest| ("postgres://", rest))
        .or_else(|| {
            conn.strip_prefix("postgresql://")
                .map(|rest| ("postgresql://", rest))
        });
    let Some((scheme, rest)) = url else {
        let escaped = password.replace('\\', "\\\\").replace('\'', "\\'");
        return format!("{conn} password='{escaped}'");
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        // The URL's own password wins.
        Some((user, _)) if user.contains(':') => conn.to_owned(),
        Some((user, hosts)) => format!("{scheme}{user}:{}@{hosts}{tail}", encode(password)),
        None => format!("{scheme}postgres:{}@{authority}{tail}", encode(password)),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(yaml: &str) -> DatabaseConfig {
        let source =
            graphjin_config::Source::parse(yaml, std::path::Path::new("dev.yml")).expect("yaml");
        graphjin_config::from_value(source.value()).expect("reads")
    }

    #[test]
    fn url_from_parts_is_percent_encoded() {
        let c = db(
            "host: db.internal\nport: 6432\ndbname: my shop\nuser: app@x\npassword: \"p@ss:/w rd\"\n",
        );
        assert_eq!(
            c.url().as_deref(),
            Some("postgres://app%40x:p%40ss%3A%2Fw%20rd@db.internal:6432/my%20shop")
        );
        let parsed: tokio_postgres::Config = c.url().unwrap().parse().expect("parses");
        assert_eq!(parsed.get_password(), Some(&b"p@ss:/w rd"[..]));
        assert_eq!(parsed.get_dbname(), Some("my shop"));
        assert_eq!(parsed.get_user(), Some("app@x"));
        let c = db("host: /var/run/postgresql\ndbname: shop\n");
        let parsed: tokio_postgres::Config = c.url().unwrap().parse().expect("parses");
        assert!(matches!(
            &parsed.get_hosts()[0],
            tokio_postgres::config::Host::Unix(p) if p.to_str() == Some("/var/run/postgresql")
        ));
        assert_eq!(db("type: postgres\npool_size: 3\n").url(), None);
        assert_eq!(db("connection_string: \"\"\n").url(), None);
    }

    #[test]
    fn password_fills_a_connection_string() {
        let c = db("connection_string: postgres://app@h:5/shop?sslmode=disable\npassword: s3/cr\n");
        assert_eq!(
            c.url().as_deref(),
            Some("postgres://app:s3%2Fcr@h:5/shop?sslmode=disable")
        );
        let c = db("connection_string: postgres://app:own@h/shop\npassword: other\n");
        assert_eq!(c.url().as_deref(), Some("postgres://app:own@h/shop"));
        let c = db("connection_string: host=h user=app\npassword: \"it's\"\n");
        let parsed: tokio_postgres::Config = c.url().unwrap().parse().expect("parses");
        assert_eq!(parsed.get_password(), Some(&b"it's"[..]));
    }

    #[test]
    fn checks() {
        let e = db("type: mysql\n").validate().unwrap_err().to_string();
        assert!(
            e.starts_with("`database.type`: database type `mysql` is not supported"),
            "{e}"
        );
        let e = db("connection_string: postgres://h/db\nhost: other\n")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("`database.host`:"), "{e}");
        assert!(
            db("connection_string: postgres://h/db\npassword: x\n")
                .validate()
                .is_ok()
        );
        assert!(db("enable_tls: true\n").validate().is_ok());
        assert!(db("client_cert: c.pem\n").validate().is_err());
    }

    #[test]
    fn tls_keys_map_to_tls_options() {
        use graphjin_pgtls::{CertSource, RootCerts, SslMode};
        let dir = std::path::Path::new("/etc/app/config");
        assert_eq!(
            db("server_cert: ca.pem\n").tls_options(Some(dir)).unwrap(),
            None
        );
        let tls = db("enable_tls: true\nserver_name: db.internal\nserver_cert: certs/ca.pem\nclient_cert: /abs/c.pem\nclient_key: k.pem\n")
            .tls_options(Some(dir))
            .unwrap()
            .expect("tls");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.server_name.as_deref(), Some("db.internal"));
        assert_eq!(
            tls.root_cert,
            Some(RootCerts::Cert(CertSource::parse(
                "/etc/app/config/certs/ca.pem"
            )))
        );
        assert_eq!(tls.client_cert, Some(CertSource::parse("/abs/c.pem")));
        assert_eq!(
            tls.client_key,
            Some(CertSource::parse("/etc/app/config/k.pem"))
        );
        let e = db("enable_tls: true\nclient_cert: c.pem\n")
            .tls_options(None)
            .unwrap_err();
        assert!(e.to_string().starts_with("`database.enable_tls`:"), "{e}");
    }

    #[test]
    fn role_cache_keys() {
        let o = db("role_cache_ttl: 5s\nrole_cache_size: 10\n").pool_options();
        assert_eq!(o.role_cache_ttl, Some(Duration::from_secs(5)));
        assert_eq!(o.role_cache_size, 10);
        let o = db("role_cache_ttl: 0s\n").pool_options();
        assert_eq!(o.role_cache_ttl, None, "0 is off");
        let o = db("pool_size: 2\n").pool_options();
        assert_eq!(
            (o.role_cache_ttl, o.role_cache_size),
            (None, 100_000),
            "the defaults"
        );
    }

    #[test]
    fn replica_keys() {
        let o = db("password: pw\nread_replicas:\n  - postgres://app@r1/shop?sslmode=require\n  - postgres://app:own@r2/shop\nmax_replica_lag: 2s\nreplica_check_interval: 250ms\nread_your_writes: 5s\n").pool_options();
        let urls: Vec<&str> = o.read_replicas.iter().map(|u| u.expose()).collect();
        assert_eq!(
            urls,
            [
                "postgres://app:pw@r1/shop?sslmode=require",
                "postgres://app:own@r2/shop"
            ]
        );
        assert_eq!(o.max_replica_lag, Duration::from_secs(2));
        assert_eq!(o.replica_check_interval, Duration::from_millis(250));
        assert_eq!(o.read_your_writes, Some(Duration::from_secs(5)));
        assert!(!format!("{o:?}").contains("pw@"), "{o:?}");
        let o = db("read_replicas: postgres://r1/shop\nread_your_writes: 0s\n").pool_options();
        assert_eq!(o.read_replicas.len(), 1, "a single item is a list of one");
        assert_eq!(o.read_your_writes, None);
        assert_eq!(o.max_replica_lag, Duration::from_secs(10), "the default");
        let o = db("pool_size: 2\n").pool_options();
        assert!(o.read_replicas.is_empty());
    }

    #[test]
    fn pool_options_from_keys() {
        let o = db("pool_size: 7\nmax_connection_idle_time: 5m\nmax_connection_life_time: 1h30m\nping_timeout: 3s\nstatement_timeout: 250ms\npipeline_depth: 2\nconnection_setup: \"SET lock_timeout = '1s'\"\nschema: shop\n").pool_options();
        assert_eq!(o.max_size, 7);
        assert_eq!(o.pipeline_depth, 2);
        assert_eq!(o.idle_timeout, Some(Duration::from_secs(300)));
        assert_eq!(o.max_lifetime, Some(Duration::from_secs(5400)));
        assert_eq!(o.health_timeout, Duration::from_secs(3));
        assert_eq!(o.statement_timeout, Some(Duration::from_millis(250)));
        assert_eq!(
            o.connection_setup.as_deref(),
            Some("SET lock_timeout = '1s'")
        );
        assert_eq!(o.schema.as_deref(), Some("shop"));
        let o = db("pool_size: 3\nmax_connections: 9\n").pool_options();
        assert_eq!((o.max_size, o.min_idle), (9, 3));
        assert_eq!(
            o.statement_timeout,
            Some(Duration::from_secs(30)),
            "the default"
        );
        let o = db("statement_timeout: 0s\noperation_timeouts:\n  listProducts: 2s\n  report: 0\n")
            .pool_options();
        assert_eq!(o.statement_timeout, None, "0 is no limit");
        assert_eq!(
            o.operation_timeouts,
            BTreeMap::from([
                ("listProducts".to_owned(), Duration::from_secs(2)),
                ("report".to_owned(), Duration::ZERO)
            ])
        );
        let e = graphjin_config::from_value::<DatabaseConfig>(
            &serde_json::json!({"operation_timeouts": {"listProducts": 2}}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no unit"), "{e}");
        let e =
            graphjin_config::from_value::<DatabaseConfig>(&serde_json::json!({"ping_timeout": 30}))
                .unwrap_err()
                .to_string();
        assert!(e.contains("no unit"), "{e}");
        assert_eq!(
            o.statement_mode,
            crate::StatementMode::Prepared,
            "the default"
        );
        let o = db("statement_mode: unnamed\n").pool_options();
        assert_eq!(o.statement_mode, crate::StatementMode::Unnamed);
        let e = db("statement_mode: named\n")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("`database.statement_mode`:") && e.contains("`unnamed`"),
            "{e}"
        );
        let e = db("statement_mode: unnamed\nschema: shop\n")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("`database.schema`:") && e.contains("ALTER ROLE"),
            "{e}"
        );
        assert!(
            db("statement_mode: prepared\nschema: shop\n")
                .validate()
                .is_ok()
        );
        let debug = format!(
            "{:?}",
            db("connection_string: postgres://u:s3cret@h/d\npassword: s3cret\n")
        );
        assert!(!debug.contains("s3cret"), "{debug}");
    }
}
