//! The Marshal reader against dumps made by Ruby 3.1 (tests/data/marshal_fixtures.rb wrote
//! tests/data/marshal_fixtures.json), and against hostile shapes.

use graphjin_rails::marshal::{self, Encoding, Limits, MarshalError, Value};

fn fixtures() -> Vec<(String, bool, Vec<u8>)> {
    let text = include_str!("data/marshal_fixtures.json");
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).unwrap();
    map.into_iter()
        .map(|(k, v)| {
            let hex = v["hex"].as_str().unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (k, v["ok"].as_bool().unwrap(), bytes)
        })
        .collect()
}

fn fixture(name: &str) -> Value {
    let (_, _, bytes) = fixtures().into_iter().find(|(k, ..)| k == name).unwrap();
    marshal::load(&bytes).unwrap()
}

fn s(text: &str) -> Value {
    Value::String {
        bytes: text.as_bytes().to_vec(),
        encoding: Encoding::Utf8,
    }
}

#[test]
fn ruby_fixtures_load_or_are_refused() {
    for (name, ok, bytes) in fixtures() {
        let got = marshal::load(&bytes);
        assert_eq!(got.is_ok(), ok, "{name}: {got:?}");
        if let Some(i) = name.strip_prefix("int_") {
            assert_eq!(got.unwrap(), Value::Int(i.parse().unwrap()), "{name}");
        }
    }
}

#[test]
fn refusals_name_the_type() {
    let by_name = |n: &str| {
        let (_, _, bytes) = fixtures().into_iter().find(|(k, ..)| k == n).unwrap();
        marshal::load(&bytes).unwrap_err()
    };
    for (name, byte) in [
        ("object", b'o'),
        ("struct", b'S'),
        ("time", b'u'),
        ("class", b'c'),
        ("module", b'm'),
        ("regexp", b'/'),
        ("user_string", b'C'),
        ("range", b'o'),
        ("extended", b'e'),
        ("user_marshal", b'U'),
    ] {
        let err = by_name(name);
        assert!(
            matches!(err, MarshalError::Unsupported { byte: b, .. } if b == byte),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains(&format!("{byte:#04x}")), "{err}");
    }
    assert!(matches!(
        by_name("bignum_2_64"),
        MarshalError::BignumTooLarge { .. }
    ));
    assert!(matches!(
        by_name("neg_bignum"),
        MarshalError::BignumTooLarge { .. }
    ));
    assert!(matches!(by_name("cyclic"), MarshalError::Cyclic { .. }));
}

#[test]
fn values() {
    assert_eq!(fixture("nil"), Value::Nil);
    assert_eq!(fixture("true"), Value::Bool(true));
    assert_eq!(fixture("false"), Value::Bool(false));
    assert_eq!(fixture("utf8"), s("héllo"));
    assert_eq!(
        fixture("ascii"),
        Value::String {
            bytes: b"abc".to_vec(),
            encoding: Encoding::UsAscii
        }
    );
    assert_eq!(
        fixture("binary"),
        Value::String {
            bytes: vec![0xff, 0],
            encoding: Encoding::Binary
        }
    );
    assert_eq!(
        fixture("sjis"),
        Value::String {
            bytes: b"abc".to_vec(),
            encoding: Encoding::Other("Shift_JIS".into())
        }
    );
    let sym = |t: &str| Value::Symbol(t.into());
    assert_eq!(
        fixture("symbols"),
        Value::Array(vec![sym("a"), sym("b"), sym("a"), sym("b"), sym("é")])
    );
    let shared = s("shared");
    assert_eq!(
        fixture("links"),
        Value::Array(vec![
            shared.clone(),
            shared.clone(),
            Value::Array(vec![shared.clone()]),
            Value::Hash {
                entries: vec![(shared.clone(), shared)],
                default: None
            },
        ])
    );
    assert_eq!(
        fixture("hash_default"),
        Value::Hash {
            entries: vec![(s("k"), Value::Int(1))],
            default: Some(Box::new(Value::Int(5)))
        }
    );
    let Value::Array(floats) = fixture("floats") else {
        panic!()
    };
    let f: Vec<f64> = floats
        .iter()
        .map(|v| match v {
            Value::Float(x) => *x,
            _ => panic!("{v:?}"),
        })
        .collect();
    assert_eq!(f[..5], [1.5, -0.0, 0.1, 1e100, -2.5e-300]);
    assert!(f[1].is_sign_negative());
    assert_eq!(f[5..], [f64::INFINITY, f64::NEG_INFINITY, 3.0]);
    let session = fixture("session");
    let key = session.get("warden.user.user.key").unwrap();
    assert_eq!(
        key.as_array().unwrap()[0],
        Value::Array(vec![Value::Int(1 << 40)])
    );
    assert_eq!(
        fixture("empty"),
        Value::Array(vec![
            Value::Array(vec![]),
            Value::Hash {
                entries: vec![],
                default: None
            },
            s("")
        ])
    );
}

#[test]
fn nan_float() {
    let v = marshal::load(b"\x04\x08f\x08nan").unwrap();
    assert!(matches!(v, Value::Float(x) if x.is_nan()));
}

#[test]
fn malformed() {
    for (bytes, what) in [
        (&b""[..], "empty"),
        (b"\x04", "short header"),
        (b"\x04\x07i\x00", "old version"),
        (b"\x04\x08", "no value"),
        (b"\x04\x08[\x07", "array longer than data"),
        (b"\x04\x08[\xfa", "negative length"),
        (b"\x04\x08\"\x7f", "string longer than data"),
        (b"\x04\x08;\x00", "symlink to nothing"),
        (b"\x04\x08@\x00", "link to nothing"),
        (b"\x04\x08l*\x06\x00\x00", "bad bignum sign"),
        (b"\x04\x08f\x06x", "bad float"),
        (b"\x04\x08I\"\x06a\x06i\x00T", "ivar key not a symbol"),
        (b"\x04\x08i\x02\x01", "truncated fixnum"),
    ] {
        assert!(marshal::load(bytes).is_err(), "{what}");
    }
}

#[test]
fn depth_is_capped_without_deep_recursion() {
    // 100k nested arrays, read on a small stack: refused at the depth limit, no overflow.
    let mut deep = vec![4u8, 8];
    for _ in 0..100_000 {
        deep.extend_from_slice(b"[\x06");
    }
    deep.push(b'0');
    let mut ivars = vec![4u8, 8];
    ivars.extend(std::iter::repeat_n(b'I', 100_000));
    let handle = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || (marshal::load(&deep), marshal::load(&ivars)))
        .unwrap();
    let (a, b) = handle.join().expect("no stack overflow");
    assert_eq!(a.unwrap_err(), MarshalError::TooDeep { limit: 64 });
    assert_eq!(b.unwrap_err(), MarshalError::TooDeep { limit: 64 });
    // 64 levels are fine.
    let mut ok = vec![4u8, 8];
    for _ in 0..64 {
        ok.extend_from_slice(b"[\x06");
    }
    ok.push(b'0');
    assert!(marshal::load(&ok).is_ok());
}

#[test]
fn link_bombs_are_refused() {
    // An array holding one 1000-byte string and then 20,000 links to it: 20 MB from 41 KB.
    let mut wide = vec![4u8, 8, b'['];
    wide.extend_from_slice(&[2, 0x21, 0x4e]); // 20001 elements
    wide.extend_from_slice(&[b'"', 2, 0xe8, 3]);
    wide.extend(std::iter::repeat_n(b'x', 1000));
    for _ in 0..20_000 {
        wide.extend_from_slice(b"@\x06");
    }
    assert!(matches!(
        marshal::load(&wide),
        Err(MarshalError::TooExpanded { .. })
    ));
    // Each level is two links to the level below: 2^40 strings from a few hundred bytes.
    let err = marshal::load(&doubling_bomb(40)).unwrap_err();
    assert!(matches!(err, MarshalError::TooExpanded { .. }), "{err:?}");
}

/// `[l1, l2, ..., ln]` with `l1 = ["y" * 100]` and `lk = [l(k-1), l(k-1)]` written as object
/// links, so each level doubles what the one below builds to.
fn doubling_bomb(levels: u8) -> Vec<u8> {
    // Objects: 0 = the outer array, 1 = l1, 2 = its string, 3.. = l2...
    let mut out = vec![4u8, 8, b'[', levels + 5, b'[', 6, b'"', 100 + 5];
    out.extend(std::iter::repeat_n(b'y', 100));
    let mut prev = 1u8;
    for k in 2..=levels {
        out.extend_from_slice(&[b'[', 7, b'@', prev + 5, b'@', prev + 5]);
        prev = k + 1;
    }
    out
}

#[test]
fn input_size_is_capped() {
    let big = vec![0u8; 100];
    let limits = Limits {
        max_input: 64,
        ..Limits::default()
    };
    assert!(matches!(
        marshal::load_with_limits(&big, limits),
        Err(MarshalError::TooLarge { .. })
    ));
}
