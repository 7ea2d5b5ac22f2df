//! `rediss://`: a Rails session looked up over TLS in a real `redis-server` (Debian's redis
//! 7 is built with TLS), started here with a certificate chain made here (a CA and a server
//! certificate for `localhost`).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use graphjin_rails::{RailsAuth, RailsConfig, RailsError};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

const PASSWORD: &str = "tls-secret-pw";

/// A redis-server with a plain port (to store sessions) and a TLS port; killed on drop.
struct TlsRedis {
    child: Child,
    dir: PathBuf,
    plain: u16,
    tls: u16,
    ca: PathBuf,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A CA and a server certificate for `localhost` signed by it: (CA PEM, cert PEM, key PEM).
fn certificates() -> (String, String, String) {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "rediss test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_pem = ca.self_signed(&ca_key).expect("CA").pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("server certificate");
    (ca_pem, cert.pem(), key.serialize_pem())
}

fn start() -> TlsRedis {
    let dir = std::env::temp_dir().join(format!("graphjin-rediss-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (ca_pem, cert_pem, key_pem) = certificates();
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let ca = file("ca.pem", &ca_pem);
    let cert = file("server.pem", &cert_pem);
    let key = file("server.key", &key_pem);
    let (plain, tls) = (free_port(), free_port());
    let child = Command::new("redis-server")
        .args(["--port", &plain.to_string(), "--tls-port", &tls.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .arg("--tls-ca-cert-file")
        .arg(&ca)
        .args(["--tls-auth-clients", "no", "--requirepass", PASSWORD])
        .arg("--dir")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts (apt-get install redis-server)");
    let mut server = TlsRedis {
        child,
        dir,
        plain,
        tls,
        ca,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", plain)).is_err()
        || TcpStream::connect(("127.0.0.1", tls)).is_err()
    {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("redis-server exited at start: {status} (is it built with TLS?)");
        }
        assert!(Instant::now() < deadline, "redis-server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

impl TlsRedis {
    /// `SET key value` over the plain port.
    fn put(&self, key: &str, value: &[u8]) {
        let mut conn = TcpStream::connect(("127.0.0.1", self.plain)).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut reader = BufReader::new(conn.try_clone().expect("clone"));
        for args in [
            vec![b"AUTH".as_slice(), PASSWORD.as_bytes()],
            vec![b"SET".as_slice(), key.as_bytes(), value],
        ] {
            let mut out = format!("*{}\r\n", args.len()).into_bytes();
            for a in args {
                out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                out.extend_from_slice(a);
                out.extend_from_slice(b"\r\n");
            }
            conn.write_all(&out).expect("write");
            let mut line = String::new();
            reader.read_line(&mut line).expect("read");
            assert_eq!(line, "+OK\r\n");
        }
    }

    fn auth(&self, url: String) -> Result<RailsAuth, RailsError> {
        RailsAuth::new(&RailsConfig {
            cookie: "_app_session".into(),
            url: Some(url),
            password: Some(PASSWORD.into()),
            connect_timeout_ms: Some(2000),
            read_timeout_ms: Some(2000),
            ..Default::default()
        })
    }
}

/// A Marshal session for user `id` (as Rails' cache store writes it).
fn session_for(id: u8) -> Vec<u8> {
    let mut v = b"\x04\x08{\x06I\"\x19warden.user.user.key\x06:\x06ET[\x07[\x06i".to_vec();
    v.push(id + 5);
    v.extend_from_slice(b"I\"\x09salt\x06;\x00T");
    v
}

#[tokio::test]
async fn session_over_rediss() {
    let redis = start();
    redis.put("session:tls1", &session_for(7));
    let ca = redis.ca.display().to_string();

    let auth = redis
        .auth(format!("rediss://localhost:{}/0?ca_file={ca}", redis.tls))
        .expect("config");
    let user = auth
        .user_from_cookie_header("_app_session=tls1")
        .await
        .expect("found over TLS");
    assert_eq!(user.as_deref(), Some("7"));

    // The certificate is for localhost only.
    let auth = redis
        .auth(format!("rediss://127.0.0.1:{}?ca_file={ca}", redis.tls))
        .expect("config");
    let err = auth
        .user_from_cookie_header("_app_session=tls1")
        .await
        .expect_err("wrong host");
    let message = err.to_string();
    assert!(message.contains("host name mismatch"), "{message}");
    assert!(!message.contains(PASSWORD), "{message}");

    // Without ca_file the system roots do not know the test CA.
    let auth = redis
        .auth(format!("rediss://localhost:{}", redis.tls))
        .expect("config");
    let err = auth
        .user_from_cookie_header("_app_session=tls1")
        .await
        .expect_err("unknown CA");
    assert!(
        err.to_string()
            .contains("certificate verify failed: unknown CA"),
        "{err}"
    );

    // A ca_file that is not there is a config error naming it.
    let Err(err) = redis.auth(format!(
        "rediss://localhost:{}?ca_file=/nonexistent/ca.pem",
        redis.tls
    )) else {
        panic!("a missing ca_file is refused")
    };
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}
