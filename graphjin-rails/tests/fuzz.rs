//! Property-based fuzzing of cookie decoding and the Marshal reader: arbitrary bytes and
//! mutations of real vectors never panic, never allocate past a bound (a counting allocator
//! measures each call) and never recurse unboundedly (deep inputs are also read on small
//! stacks in tests/marshal.rs).
//!
//! Cases per property: `GRAPHJIN_RAILS_FUZZ_CASES` (default 256). A long run:
//! `GRAPHJIN_RAILS_FUZZ_CASES=200000 cargo test -p graphjin-rails --test fuzz`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use graphjin_rails::marshal;
use graphjin_rails::{RailsAuth, Session};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

// ---- allocation accounting -------------------------------------------------------------

struct Counting;

thread_local! {
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK.try_with(|p| {
            if now > p.get() {
                p.set(now);
            }
        });
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; only sizes are counted.
#[allow(unsafe_code)] // the workspace denies unsafe; a counting allocator cannot avoid it
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The most any single decode may allocate: linear in the input.
fn bound(input_len: usize) -> usize {
    600 * input_len + (8 << 20)
}

static WORST_RATIO_X100: AtomicUsize = AtomicUsize::new(0);
static WORST_PEAK: AtomicUsize = AtomicUsize::new(0);

/// Runs `f`, returning its result and the peak bytes it had allocated at once (this thread).
fn measured<T>(input_len: usize, f: impl FnOnce() -> T) -> T {
    let base = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = (PEAK.with(Cell::get) - base).max(0) as usize;
    WORST_PEAK.fetch_max(peak, Ordering::Relaxed);
    WORST_RATIO_X100.fetch_max(peak * 100 / input_len.max(1), Ordering::Relaxed);
    assert!(
        peak <= bound(input_len),
        "allocated {peak} bytes for {input_len} bytes of input"
    );
    out
}

// ---- fixtures ------------------------------------------------------------------------------

fn cases() -> u32 {
    std::env::var("GRAPHJIN_RAILS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        max_shrink_iters: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

struct CookieVector {
    auth: &'static RailsAuth,
    value: String,
    user: Option<String>,
}

struct Fixtures {
    /// Valid Marshal data: Ruby-made fixtures, store vectors, decrypted cookie payloads.
    marshal: Vec<Vec<u8>>,
    /// Decrypted cookie payloads (envelopes and sessions, JSON and Marshal).
    payloads: Vec<Vec<u8>>,
    cookies: Vec<CookieVector>,
    /// A Rails 6.1 config and its GCM key, to encrypt fuzzed payloads.
    gcm_auth: &'static RailsAuth,
    gcm_key: [u8; 32],
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn gcm_key(secret: &str, sha256: bool) -> [u8; 32] {
    let mut key = [0u8; 32];
    let salt = b"authenticated encrypted cookie";
    if sha256 {
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(secret.as_bytes(), salt, 1000, &mut key);
    } else {
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(secret.as_bytes(), salt, 1000, &mut key);
    }
    key
}

fn gcm_decrypt(key: &[u8; 32], value: &str) -> Option<Vec<u8>> {
    let value = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .ok()?;
    let parts: Vec<Vec<u8>> = value
        .split("--")
        .map(|p| STANDARD.decode(p).ok())
        .collect::<Option<_>>()?;
    let [ct, iv, tag] = <[Vec<u8>; 3]>::try_from(parts).ok()?;
    let mut buf = ct;
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
    let nonce = Nonce::try_from(&iv[..]).ok()?;
    let tag = aes_gcm::Tag::try_from(&tag[..]).ok()?;
    cipher
        .decrypt_inout_detached(&nonce, b"", InOutBuf::from(&mut buf[..]), &tag)
        .ok()?;
    Some(buf)
}

fn gcm_encrypt(key: &[u8; 32], payload: &[u8], iv: [u8; 12]) -> String {
    let mut buf = payload.to_vec();
    let cipher = Aes256Gcm::new_from_slice(key).unwrap();
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(iv), b"", InOutBuf::from(&mut buf[..]))
        .unwrap();
    let value = format!(
        "{}--{}--{}",
        STANDARD.encode(&buf),
        STANDARD.encode(iv),
        STANDARD.encode(tag)
    );
    percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The seeds, from this crate's Marshal fixtures and the shared corpora's vectors; `None`
/// (the test should return) when the corpora are absent.
fn fixtures() -> Option<&'static Fixtures> {
    static F: OnceLock<Fixtures> = OnceLock::new();
    if let Some(f) = F.get() {
        return Some(f);
    }
    let stores = common::vectors("stores.json")?;
    let rails = common::vectors("rails.json")?;
    Some(F.get_or_init(|| {
        let mut marshal = Vec::new();
        let text = include_str!("data/marshal_fixtures.json");
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).unwrap();
        for v in map.values() {
            marshal.push(hex(v["hex"].as_str().unwrap()));
        }
        for v in stores {
            if let Some(b) = v["value_base64"].as_str() {
                marshal.push(STANDARD.decode(b).unwrap());
            }
        }
        let mut payloads = Vec::new();
        let mut cookies = Vec::new();
        let mut auths: Vec<(String, &'static RailsAuth)> = Vec::new();
        for v in rails.clone() {
            let cfg = common::config(&v, None);
            let key = format!("{}|{:?}", cfg.version, cfg.secret_key_base);
            let auth = match auths.iter().find(|(k, _)| *k == key) {
                Some((_, a)) => *a,
                None => {
                    let a: &'static RailsAuth = Box::leak(Box::new(RailsAuth::new(&cfg).unwrap()));
                    auths.push((key, a));
                    a
                }
            };
            let value = common::cookie_header(&v)
                .split_once('=')
                .unwrap()
                .1
                .to_string();
            let secret = cfg.secret_key_base.clone().unwrap();
            if !cfg.version.starts_with('4') {
                let k = gcm_key(&secret, cfg.version.starts_with('7'));
                if let Some(p) = gcm_decrypt(&k, &value) {
                    if marshal::is_marshal(&p) {
                        marshal.push(p.clone());
                    }
                    // Envelopes hold the session base64-encoded: add it too.
                    if let Ok(j) = serde_json::from_slice::<serde_json::Value>(&p)
                        && let Some(m) = j["_rails"]["message"].as_str()
                    {
                        let inner = STANDARD.decode(m).unwrap();
                        if marshal::is_marshal(&inner) {
                            marshal.push(inner.clone());
                        }
                        payloads.push(inner);
                    }
                    payloads.push(p);
                }
            }
            cookies.push(CookieVector {
                auth,
                value,
                user: common::expected(&v),
            });
        }
        assert!(payloads.len() >= 10, "decrypted the GCM vectors");
        let secret = common::config(&rails[0], None).secret_key_base.unwrap();
        let gcm_auth: &'static RailsAuth = Box::leak(Box::new(
            RailsAuth::new(&graphjin_rails::RailsConfig {
                version: "6.1".into(),
                secret_key_base: Some(secret.clone()),
                cookie: "_app_session".into(),
                ..Default::default()
            })
            .unwrap(),
        ));
        Fixtures {
            marshal,
            payloads,
            cookies,
            gcm_auth,
            gcm_key: gcm_key(&secret, false),
        }
    }))
}

// ---- mutation ----------------------------------------------------------------------------

const INTERESTING: &[u8] = &[
    0x00, 0x04, 0x08, 0x7f, 0x80, 0xfa, 0xfb, 0xfc, 0xff, b'@', b';', b':', b'[', b'{', b'}', b'I',
    b'"', b'i', b'l', b'f', b'0', b'T', b'F', b'-', b'=', b'%', b'/', b'+',
];

fn mutate(mut data: Vec<u8>, ops: &[(u8, usize, u8)]) -> Vec<u8> {
    for &(op, pos, byte) in ops {
        let len = data.len();
        let at = if len == 0 { 0 } else { pos % len };
        match op % 8 {
            0 if len > 0 => data[at] ^= 1 << (byte % 8),
            1 if len > 0 => data[at] = byte,
            2 => data.insert(at.min(len), byte),
            3 if len > 0 => {
                data.remove(at);
            }
            4 => data.truncate(at),
            5 if len > 0 => {
                let end = (at + 1 + byte as usize % 16).min(len);
                let chunk = data[at..end].to_vec();
                let to = pos.wrapping_mul(31) % (len + 1);
                data.splice(to..to, chunk);
            }
            6 => data.insert(at.min(len), INTERESTING[byte as usize % INTERESTING.len()]),
            _ if len > 0 => data[at] = INTERESTING[byte as usize % INTERESTING.len()],
            _ => {}
        }
    }
    data
}

fn ops() -> impl Strategy<Value = Vec<(u8, usize, u8)>> {
    prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..8)
}

/// Bytes drawn mostly from Marshal's type bytes and small lengths.
fn marshal_tokens() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        4 => prop::sample::select(INTERESTING.to_vec()),
        3 => 0u8..16,
        1 => any::<u8>(),
    ];
    prop::collection::vec(token, 0..512).prop_map(|mut v| {
        v.splice(0..0, [4, 8]);
        v
    })
}

fn load_marshal(bytes: &[u8]) {
    let _ = measured(bytes.len(), || marshal::load(bytes));
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn decode(auth: &RailsAuth, value: &str) -> Result<Session, graphjin_rails::RailsError> {
    measured(value.len(), || auth.decode_cookie_value_at(value, now()))
}

// ---- properties ----------------------------------------------------------------------------

/// Outcome counts (`Ok`, or the error variant) of a property, for the report.
#[derive(Default)]
struct Tally(std::sync::Mutex<std::collections::BTreeMap<String, usize>>);

impl Tally {
    fn add<T, E: std::fmt::Debug>(&self, r: &Result<T, E>) {
        let key = match r {
            Ok(_) => "Ok".to_string(),
            Err(e) => {
                let d = format!("{e:?}");
                d.split(|c: char| !c.is_alphanumeric())
                    .next()
                    .unwrap_or("")
                    .to_string()
            }
        };
        *self.0.lock().unwrap().entry(key).or_default() += 1;
    }

    fn print(&self, name: &str) {
        println!("fuzz {name} outcomes: {:?}", self.0.lock().unwrap());
    }
}

/// Runs one property for `cases()` cases and reports its duration and worst allocation.
fn check<S: Strategy>(
    name: &str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let start = Instant::now();
    let mut runner = TestRunner::new(config());
    let result = runner.run(&strategy, test);
    println!(
        "fuzz {name}: {} cases in {:.1?}, worst peak allocation so far {} bytes ({:.2} x input)",
        cases(),
        start.elapsed(),
        WORST_PEAK.load(Ordering::Relaxed),
        WORST_RATIO_X100.load(Ordering::Relaxed) as f64 / 100.0
    );
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

#[test]
fn marshal_arbitrary_bytes() {
    let strategy = (prop::collection::vec(any::<u8>(), 0..4096), any::<bool>());
    check(
        "marshal_arbitrary_bytes",
        strategy,
        |(mut bytes, header)| {
            if header {
                bytes.splice(0..0, [4, 8]);
            }
            load_marshal(&bytes);
            Ok(())
        },
    );
}

#[test]
fn marshal_token_soup() {
    check("marshal_token_soup", marshal_tokens(), |bytes| {
        load_marshal(&bytes);
        Ok(())
    });
}

#[test]
fn marshal_mutations() {
    let Some(f) = fixtures() else {
        return;
    };
    let tally = Tally::default();
    check(
        "marshal_mutations",
        (any::<prop::sample::Index>(), ops()),
        |(i, ops)| {
            // Mostly keep the 04 08 header, so that mutations reach the reader.
            let seed = &f.marshal[i.index(f.marshal.len())];
            let bytes = if ops[0].0 % 8 == 0 {
                mutate(seed.clone(), &ops)
            } else {
                let mut b = vec![4, 8];
                b.extend(mutate(seed[2..].to_vec(), &ops));
                b
            };
            tally.add(&measured(bytes.len(), || marshal::load(&bytes)));
            Ok(())
        },
    );
    tally.print("marshal_mutations");
}

#[test]
fn session_parse_arbitrary() {
    let strategy = prop::collection::vec(any::<u8>(), 0..2048);
    check("session_parse_arbitrary", strategy, |bytes| {
        let _ = measured(bytes.len(), || {
            Session::parse(&bytes).and_then(|s| s.user_id())
        });
        Ok(())
    });
}

#[test]
fn cookie_arbitrary() {
    let Some(f) = fixtures() else {
        return;
    };
    let strategy = ("[A-Za-z0-9+/=%-]{0,700}", any::<prop::sample::Index>());
    check("cookie_arbitrary", strategy, |(s, i)| {
        let _ = decode(f.cookies[i.index(f.cookies.len())].auth, &s);
        Ok(())
    });
}

#[test]
fn cookie_arbitrary_unicode() {
    let Some(f) = fixtures() else {
        return;
    };
    let strategy = (any::<String>(), any::<prop::sample::Index>());
    check("cookie_arbitrary_unicode", strategy, |(s, i)| {
        let _ = decode(f.cookies[i.index(f.cookies.len())].auth, &s);
        Ok(())
    });
}

/// A mutated cookie never panics, and never authenticates as anyone but the original
/// cookie's user (only mutations that decode to the same bytes, like `%3D` -> `=`, can still
/// succeed).
#[test]
fn cookie_mutations() {
    let Some(f) = fixtures() else {
        return;
    };
    let tally = Tally::default();
    check(
        "cookie_mutations",
        (any::<prop::sample::Index>(), ops()),
        |(i, ops)| {
            let v = &f.cookies[i.index(f.cookies.len())];
            let mutated = mutate(v.value.clone().into_bytes(), &ops);
            let Ok(text) = String::from_utf8(mutated) else {
                return Ok(());
            };
            let got = decode(v.auth, &text).and_then(|s| s.user_id());
            tally.add(&got);
            if let (Ok(id), Some(want)) = (&got, &v.user) {
                prop_assert_eq!(id, want);
            }
            Ok(())
        },
    );
    tally.print("cookie_mutations");
}

/// Authentic cookies around hostile payloads: arbitrary bytes, mutated sessions and
/// envelopes reach the envelope and session readers.
#[test]
fn authentic_cookie_hostile_payload() {
    let Some(f) = fixtures() else {
        return;
    };
    let tally = Tally::default();
    let strategy = (
        (
            any::<prop::sample::Index>(),
            ops(),
            prop::collection::vec(any::<u8>(), 0..1024),
        ),
        (0u8..4, any::<[u8; 12]>()),
        (
            prop::option::of("[0-9T:.Z+-]{0,30}"),
            prop::option::of("cookie\\._app_session|[a-z._]{0,20}"),
        ),
    );
    check(
        "authentic_cookie_hostile_payload",
        strategy,
        |((i, ops, raw), (mode, iv), (exp, pur))| {
            let payload = match mode {
                0 => raw,
                1 => mutate(f.payloads[i.index(f.payloads.len())].clone(), &ops),
                2 => mutate(f.marshal[i.index(f.marshal.len())].clone(), &ops),
                _ => {
                    let inner = mutate(f.marshal[i.index(f.marshal.len())].clone(), &ops);
                    serde_json::json!({"_rails": {
                        "message": STANDARD.encode(inner),
                        "exp": exp,
                        "pur": pur,
                    }})
                    .to_string()
                    .into_bytes()
                }
            };
            let cookie = gcm_encrypt(&f.gcm_key, &payload, iv);
            tally.add(&decode(f.gcm_auth, &cookie).and_then(|s| s.user_id()));
            Ok(())
        },
    );
    tally.print("authentic_cookie_hostile_payload");
}

/// Inputs built to expand (object links, symbol links) stay within the allocation bound.
#[test]
fn bombs_stay_within_the_allocation_bound() {
    // 1000-byte string linked 20,000 times.
    let mut wide = vec![4u8, 8, b'[', 2, 0x21, 0x4e, b'"', 2, 0xe8, 3];
    wide.extend(std::iter::repeat_n(b'x', 1000));
    for _ in 0..20_000 {
        wide.extend_from_slice(b"@\x06");
    }
    // 1000-byte symbol linked 20,000 times.
    let mut syms = vec![4u8, 8, b'[', 2, 0x21, 0x4e, b':', 2, 0xe8, 3];
    syms.extend(std::iter::repeat_n(b's', 1000));
    for _ in 0..20_000 {
        syms.extend_from_slice(b";\x00");
    }
    // Each level two links to the one below.
    let mut doubling = vec![4u8, 8, b'[', 60 + 5, b'[', 6, b'"', 100 + 5];
    doubling.extend(std::iter::repeat_n(b'y', 100));
    let mut prev = 1u8;
    for k in 2..=60u8 {
        doubling.extend_from_slice(&[b'[', 7, b'@', prev + 5, b'@', prev + 5]);
        prev = k + 1;
    }
    for (name, bomb) in [("wide", wide), ("symbols", syms), ("doubling", doubling)] {
        let result = measured(bomb.len(), || marshal::load(&bomb));
        println!(
            "bomb {name}: {} bytes in -> {:?}",
            bomb.len(),
            result.as_ref().err()
        );
        assert!(result.is_err(), "{name}");
    }
}

#[test]
fn deep_json_and_links_through_the_cookie_path() {
    let Some(f) = fixtures() else {
        return;
    };
    // Deeply nested JSON in an authentic cookie: serde_json's recursion limit refuses it.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cookie = gcm_encrypt(&f.gcm_key, deep.as_bytes(), [1; 12]);
    let auth = f.gcm_auth;
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || decode(auth, &cookie).is_err())
        .unwrap();
    assert!(handle.join().expect("no stack overflow"));
}
