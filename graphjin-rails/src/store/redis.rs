//! A minimal RESP2 redis client: TLS for `rediss://`, optional `AUTH` and `SELECT` on
//! connect, then one `MGET` for all the candidate keys (or, for [`super::RedisClaims`], one
//! `SET key value NX PX ms`).

use tokio::io::{AsyncWriteExt, BufReader};

use super::pool::{Connection, tcp};
use super::tls::Stream;
use super::{ConnError, Endpoint, read_block, read_line};

/// Longest reply line accepted (status, error, or a bulk length).
const MAX_LINE: usize = 4096;

pub(crate) struct Conn {
    stream: BufReader<Stream>,
}

/// A RESP2 reply, as far as this client needs.
enum Reply {
    Status(String),
    /// A bulk string (read, so the connection stays in step, but not needed).
    Bulk,
    /// The null bulk string (`$-1`): `SET ... NX` did not set the key.
    Nil,
    Array(Vec<Option<Vec<u8>>>),
}

impl Connection for Conn {
    async fn connect(endpoint: &Endpoint) -> Result<Self, ConnError> {
        let socket = tcp(endpoint).await?;
        let stream = match &endpoint.tls {
            Some(tls) => tls.handshake(socket).await?,
            None => Stream::Plain(socket),
        };
        let mut conn = Conn {
            stream: BufReader::new(stream),
        };
        if let Some(password) = &endpoint.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &endpoint.username {
                args.push(user.as_bytes());
            }
            args.push(password.as_bytes());
            conn.expect_ok(&args, endpoint).await?;
        }
        if let Some(db) = endpoint.db {
            let db = db.to_string();
            conn.expect_ok(&[b"SELECT", db.as_bytes()], endpoint)
                .await?;
        }
        Ok(conn)
    }

    async fn get_many(
        &mut self,
        keys: &[String],
        endpoint: &Endpoint,
    ) -> Result<Vec<Option<Vec<u8>>>, ConnError> {
        let mut args: Vec<&[u8]> = vec![b"MGET"];
        args.extend(keys.iter().map(|k| k.as_bytes()));
        match self.command(&args, endpoint).await? {
            Reply::Array(values) if values.len() == keys.len() => Ok(values),
            _ => Err(ConnError::Protocol("unexpected reply to MGET".into())),
        }
    }
}

impl Conn {
    /// `SET key value NX PX ttl_ms`: `true` when this call set the key, `false` when it
    /// was already there (redis answers nil and leaves it, and its expiry, alone).
    pub(crate) async fn set_nx_px(
        &mut self,
        key: &[u8],
        value: &[u8],
        ttl_ms: u64,
        endpoint: &Endpoint,
    ) -> Result<bool, ConnError> {
        let ttl = ttl_ms.max(1).to_string();
        let args: [&[u8]; 6] = [b"SET", key, value, b"NX", b"PX", ttl.as_bytes()];
        match self.command(&args, endpoint).await? {
            Reply::Status(s) if s == "OK" => Ok(true),
            Reply::Nil => Ok(false),
            _ => Err(ConnError::Protocol("unexpected reply to SET NX".into())),
        }
    }

    async fn expect_ok(&mut self, args: &[&[u8]], endpoint: &Endpoint) -> Result<(), ConnError> {
        match self.command(args, endpoint).await? {
            Reply::Status(s) if s == "OK" => Ok(()),
            _ => Err(ConnError::Protocol(
                "unexpected reply to a handshake command".into(),
            )),
        }
    }

    async fn command(&mut self, args: &[&[u8]], endpoint: &Endpoint) -> Result<Reply, ConnError> {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        self.stream.get_mut().write_all(&request).await?;
        zeroize::Zeroize::zeroize(&mut request);
        self.reply(endpoint).await
    }

    async fn reply(&mut self, endpoint: &Endpoint) -> Result<Reply, ConnError> {
        let line = read_line(&mut self.stream, MAX_LINE).await?;
        let (kind, rest) = line
            .split_first()
            .ok_or_else(|| ConnError::Protocol("empty reply".into()))?;
        let text = || {
            String::from_utf8_lossy(rest)
                .chars()
                .take(200)
                .collect::<String>()
        };
        match kind {
            b'+' => Ok(Reply::Status(text())),
            b'-' => Err(ConnError::Server(text())),
            b'$' => match self.bulk(rest, endpoint).await? {
                Some(_) => Ok(Reply::Bulk),
                None => Ok(Reply::Nil),
            },
            b'*' => {
                let n = number(rest, "malformed array length")?;
                // MGET answers one bulk per key asked: a handful.
                if !(0..=64).contains(&n) {
                    return Err(ConnError::Protocol("unexpected array length".into()));
                }
                let mut values = Vec::new();
                for _ in 0..n {
                    let line = read_line(&mut self.stream, MAX_LINE).await?;
                    match line.split_first() {
                        Some((b'$', len)) => values.push(self.bulk(len, endpoint).await?),
                        _ => return Err(ConnError::Protocol("array item is not a bulk".into())),
                    }
                }
                Ok(Reply::Array(values))
            }
            _ => Err(ConnError::Protocol("unexpected reply type".into())),
        }
    }

    /// The body of a bulk reply whose length line (after `$`) is `len`.
    async fn bulk(
        &mut self,
        len: &[u8],
        endpoint: &Endpoint,
    ) -> Result<Option<Vec<u8>>, ConnError> {
        let len = number(len, "malformed bulk length")?;
        if len < 0 {
            return Ok(None);
        }
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > endpoint.max_value {
            return Err(ConnError::Protocol(format!(
                "session value is {len} bytes, over the {}-byte limit",
                endpoint.max_value
            )));
        }
        Ok(Some(read_block(&mut self.stream, len).await?))
    }
}

fn number(text: &[u8], what: &str) -> Result<i64, ConnError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ConnError::Protocol(what.into()))
}
