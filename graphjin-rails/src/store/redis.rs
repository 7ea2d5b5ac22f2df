//! A minimal RESP2 redis client: optional `AUTH` and `SELECT` on connect, then `GET`.

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::pool::{Connection, tcp};
use super::{ConnError, Endpoint, read_block, read_line};

/// Longest reply line accepted (status, error, or a bulk length).
const MAX_LINE: usize = 4096;

pub(crate) struct Conn {
    stream: BufReader<TcpStream>,
}

/// A RESP2 reply, as far as this client needs.
enum Reply {
    Status(String),
    Bulk(Option<Vec<u8>>),
}

impl Connection for Conn {
    async fn connect(endpoint: &Endpoint) -> Result<Self, ConnError> {
        let mut conn = Conn {
            stream: BufReader::new(tcp(endpoint).await?),
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

    async fn get(&mut self, key: &str, endpoint: &Endpoint) -> Result<Option<Vec<u8>>, ConnError> {
        match self.command(&[b"GET", key.as_bytes()], endpoint).await? {
            Reply::Bulk(v) => Ok(v),
            Reply::Status(_) => Err(ConnError::Protocol("unexpected reply to GET".into())),
        }
    }
}

impl Conn {
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
            b'$' => {
                let len: i64 = std::str::from_utf8(rest)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| ConnError::Protocol("malformed bulk length".into()))?;
                if len < 0 {
                    return Ok(Reply::Bulk(None));
                }
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                if len > endpoint.max_value {
                    return Err(ConnError::Protocol(format!(
                        "session value is {len} bytes, over the {}-byte limit",
                        endpoint.max_value
                    )));
                }
                Ok(Reply::Bulk(Some(read_block(&mut self.stream, len).await?)))
            }
            _ => Err(ConnError::Protocol("unexpected reply type".into())),
        }
    }
}
