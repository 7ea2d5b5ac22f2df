//! A minimal memcached text-protocol client: one `get <key> <key> ...\r\n` for all the
//! candidate keys, answered by a `VALUE <key> <flags> <bytes>\r\n<data>\r\n` block for
//! each key found and `END\r\n`.

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::pool::{Connection, tcp};
use super::value::inflate;
use super::{ConnError, Endpoint, read_block, read_line};

/// Longest reply line accepted (`VALUE <key up to 250> <flags> <bytes> <cas>`).
const MAX_LINE: usize = 512;

pub(crate) struct Conn {
    stream: BufReader<TcpStream>,
}

impl Connection for Conn {
    async fn connect(endpoint: &Endpoint) -> Result<Self, ConnError> {
        Ok(Conn {
            stream: BufReader::new(tcp(endpoint).await?),
        })
    }

    async fn get_many(
        &mut self,
        keys: &[String],
        endpoint: &Endpoint,
    ) -> Result<Vec<Option<Vec<u8>>>, ConnError> {
        let mut request = String::from("get");
        for key in keys {
            if key.len() > 250 || key.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(ConnError::Protocol(
                    "session key is not a valid memcached key".into(),
                ));
            }
            request.push(' ');
            request.push_str(key);
        }
        request.push_str("\r\n");
        self.stream.get_mut().write_all(request.as_bytes()).await?;
        let mut found = vec![None; keys.len()];
        loop {
            let line = read_line(&mut self.stream, MAX_LINE).await?;
            if line == b"END" {
                return Ok(found);
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            let mut words = line.split(' ');
            match words.next() {
                Some("VALUE") => {}
                Some("ERROR" | "CLIENT_ERROR" | "SERVER_ERROR") => {
                    return Err(ConnError::Server(truncate(&line)));
                }
                _ => return Err(ConnError::Protocol("unexpected reply to get".into())),
            }
            let (Some(k), Some(flags), Some(len)) = (words.next(), words.next(), words.next())
            else {
                return Err(ConnError::Protocol("malformed VALUE line".into()));
            };
            let slot = keys
                .iter()
                .position(|key| key == k)
                .ok_or_else(|| ConnError::Protocol("reply is for a key not asked for".into()))?;
            let flags: u32 = flags
                .parse()
                .map_err(|_| ConnError::Protocol("malformed VALUE flags".into()))?;
            let len: usize = len
                .parse()
                .map_err(|_| ConnError::Protocol("malformed VALUE length".into()))?;
            if len > endpoint.max_value {
                return Err(ConnError::Protocol(format!(
                    "session value is {len} bytes, over the {}-byte limit",
                    endpoint.max_value
                )));
            }
            let data = read_block(&mut self.stream, len).await?;
            // Dalli marks zlib-compressed values with flag 0x2.
            found[slot] = Some(if flags & 0x2 != 0 {
                inflate(&data).map_err(|e| ConnError::Protocol(e.to_string()))?
            } else {
                data
            });
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}
