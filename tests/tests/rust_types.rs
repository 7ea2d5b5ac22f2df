//! The typed API speaks Rust's types: one column of every common PostgreSQL type
//! (`tests/fixtures/rust_types`), written and read through the generated `run()` with the
//! config's `rust:` presets (chrono, uuid, rust_decimal), a type entry (`inet` as
//! `IpAddr`), a per-column override, a PostgreSQL enum as a Rust enum and two domains.
//! Every value read back is compared with PostgreSQL's own text for the same row, the
//! snapshot is compared with a fresh `schema pull`, and a label added to the enum in the
//! database stops start-up. The database's time zone is not UTC, so timestamps travel with
//! an offset.

#![deny(warnings)]

mod typed {
    graphjin_macros::include_allowlist!("fixtures/rust_types");
}

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use graphjin_runtime::{Auth, Db, Error, PoolOptions};
use graphjin_tests::{pg, workspace_root};
use rust_decimal::Decimal;
use serde_json::json;
use tokio_postgres::NoTls;
use typed::Mood;
use uuid::Uuid;

/// The per-column override of `everything.cents` (config `rust: columns:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Cents(pub i64);

fn fixture(file: &str) -> std::path::PathBuf {
    workspace_root()
        .join("tests/fixtures/rust_types")
        .join(file)
}

/// A fresh database with the fixture's schema, in time zone Asia/Kolkata (+05:30); returns
/// its URL and whether `citext` had to be stood in for by a domain.
fn database(prefix: &str) -> (String, bool) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let pg = pg();
    let name = format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    pg.create_database(&name, None).expect("create database");
    let stand_in = match pg.run_sql(&name, "CREATE EXTENSION citext") {
        Ok(_) => false,
        Err(e) => {
            println!(
                "note: the citext extension is not installed ({e}); the column `ci` uses a \
                 domain over text instead"
            );
            pg.run_sql(&name, "CREATE DOMAIN citext AS text")
                .expect("citext stand-in");
            true
        }
    };
    pg.run_sql(
        &name,
        &format!("ALTER DATABASE {name} SET timezone TO 'Asia/Kolkata'"),
    )
    .expect("time zone");
    pg.run_sql_file(&name, &fixture("schema.sql"))
        .expect("schema");
    (pg.url(&name), stand_in)
}

async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal")
}

/// The row written: every column set, extreme or awkward values where a type has them.
fn row() -> typed::add_row::RowInput {
    typed::add_row::RowInput {
        i2: Some(i16::MIN),
        i4: Some(i32::MAX),
        i8: Some(i64::MAX),
        // 28 significant digits: more than an f64 keeps.
        num: Some(dec("1234567890123456.123456789012")),
        r: Some(1.5),
        d: Some(0.1),
        t: Some("it's \"quoted\", with ünïcode and a\nnewline".into()),
        ci: Some("MiXeD Case".into()),
        u: Some(Uuid::parse_str("6f1c2a44-8a0b-4c1e-9d2f-0123456789ab").unwrap()),
        dt: Some(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()),
        tm: Some(NaiveTime::from_hms_micro_opt(23, 59, 59, 123_456).unwrap()),
        ttz: Some("03:04:05+05:30".into()),
        ts: Some(
            NaiveDateTime::parse_from_str("2024-01-02 03:04:05.123456", "%Y-%m-%d %H:%M:%S%.f")
                .unwrap(),
        ),
        tstz: Some(
            DateTime::parse_from_rfc3339("2024-01-02T03:04:05.123456Z")
                .unwrap()
                .to_utc(),
        ),
        iv: Some("1 day 02:00:00".into()),
        j: Some(json!({"a": [1, 2.5, "x"], "b": null})),
        jb: Some(json!({"nested": {"ok": true}})),
        b: Some("\\x00ff10".into()),
        ip: Some(IpAddr::from_str("2001:db8::1").unwrap()),
        m: Some(Mood::SoSo),
        pi: Some(42),
        pr: Some(dec("19.99")),
        cents: Some(Cents(-1999)),
        maybe_u: None,
        maybe_tstz: None,
        maybe_num: None,
        maybe_m: None,
        tags: Some(vec!["a".into(), "b c".into(), "{}\"".into()]),
        nums: Some(vec![
            dec("1.50"),
            dec("-0.000001"),
            dec("79228162514264337593543950335"),
        ]),
        uuids: Some(vec![Uuid::nil(), Uuid::max()]),
        days: Some(vec![
            NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
        ]),
        moods: Some(vec![Mood::Happy, Mood::InProgress]),
        stamps: Some(vec![
            DateTime::parse_from_rfc3339("1970-01-01T00:00:00Z")
                .unwrap()
                .to_utc(),
            DateTime::parse_from_rfc3339("2038-01-19T03:14:08.5+02:00")
                .unwrap()
                .to_utc(),
        ]),
    }
}

/// Date/time text as PostgreSQL prints it: chrono writes fractions in groups of three
/// digits (`.500`), PostgreSQL without trailing zeros (`.5`).
fn pg_text(chrono_text: String) -> String {
    match chrono_text.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{fraction}")
            }
        }
        None => chrono_text,
    }
}

/// What PostgreSQL prints for a timestamptz `AT TIME ZONE 'UTC'`.
fn utc_text(t: &DateTime<Utc>) -> String {
    pg_text(t.naive_utc().to_string())
}

#[tokio::test]
async fn every_type_round_trips_through_the_typed_api() {
    let (url, stand_in) = database("rust_types");

    // The committed snapshot is what `schema pull` writes for the schema, enum and domains
    // included (the server version aside).
    let pulled = graphjin_dev::schema_pull::pull(&url, "public")
        .await
        .expect("pull");
    let pulled = if stand_in {
        pulled.replace("# domain:citext Text\n", "")
    } else {
        pulled
    };
    let committed = std::fs::read_to_string(fixture("db.graphql")).unwrap();
    let body = |s: &str| s.split_once('\n').map(|(_, b)| b.to_string()).unwrap();
    assert_eq!(body(&pulled), body(&committed), "pulled:\n{pulled}");

    let db: Db = typed::connect(&url, PoolOptions::default())
        .await
        .expect("connect: every statement prepares and the enum matches");
    let me = Auth::user("1");
    let written = row();
    let added = typed::add_row::run(
        &db,
        &me,
        &typed::add_row::Variables {
            row: Some(written.clone()),
        },
    )
    .await
    .expect("insert");
    let id = added.everything[0].id;

    let got = typed::get_row::run(&db, &me, &typed::get_row::Variables { id })
        .await
        .expect("read")
        .everything
        .expect("the row");

    // Typed equality with what was written.
    let w = &written;
    assert_eq!(Some(got.i2), w.i2);
    assert_eq!(Some(got.i4), w.i4);
    assert_eq!(Some(got.i8), w.i8);
    assert_eq!(Some(got.num), w.num);
    assert_eq!(got.num.to_string(), "1234567890123456.123456789012");
    assert_eq!(Some(got.r), w.r);
    assert_eq!(Some(got.d), w.d);
    assert_eq!(Some(&got.t), w.t.as_ref());
    assert_eq!(Some(&got.ci), w.ci.as_ref());
    assert_eq!(Some(got.u), w.u);
    assert_eq!(Some(got.dt), w.dt);
    assert_eq!(Some(got.tm), w.tm);
    assert_eq!(Some(&got.ttz), w.ttz.as_ref());
    assert_eq!(Some(got.ts), w.ts);
    assert_eq!(Some(got.tstz), w.tstz);
    assert_eq!(Some(&got.iv), w.iv.as_ref());
    assert_eq!(Some(&got.j), w.j.as_ref());
    assert_eq!(Some(&got.jb), w.jb.as_ref());
    assert_eq!(Some(&got.b), w.b.as_ref());
    assert_eq!(Some(got.ip), w.ip);
    assert_eq!(Some(got.m), w.m);
    assert_eq!(Some(got.pi), w.pi);
    assert_eq!(Some(got.pr), w.pr);
    assert_eq!(
        got.pr.to_string(),
        "19.9900",
        "numeric(12,4) keeps its scale"
    );
    assert_eq!(Some(got.cents), w.cents);
    assert_eq!(
        (got.maybe_u, got.maybe_tstz, got.maybe_num, got.maybe_m),
        (None, None, None, None)
    );
    assert_eq!(Some(&got.tags), w.tags.as_ref());
    assert_eq!(Some(&got.nums), w.nums.as_ref());
    assert_eq!(
        got.nums.iter().map(Decimal::to_string).collect::<Vec<_>>(),
        ["1.50", "-0.000001", "79228162514264337593543950335"]
    );
    assert_eq!(Some(&got.uuids), w.uuids.as_ref());
    assert_eq!(Some(&got.days), w.days.as_ref());
    assert_eq!(Some(&got.moods), w.moods.as_ref());
    assert_eq!(got.stamps, w.stamps);

    // PostgreSQL's own text for the same row, column by column.
    let pg = client(&url).await;
    let texts = pg
        .query_one(
            "SELECT i2::text, i4::text, i8::text, num::text, r::text, d::text, t, ci::text, \
                    u::text, dt::text, tm::text, ttz::text, ts::text, \
                    (tstz AT TIME ZONE 'UTC')::text, iv::text, j::text, jb::text, b::text, \
                    host(ip), m::text, pi::text, pr::text, cents::text, \
                    maybe_u::text, maybe_tstz::text, maybe_num::text, maybe_m::text \
             FROM everything WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let text = |i: usize| -> Option<String> { texts.get(i) };
    let rust: Vec<Option<String>> = vec![
        Some(got.i2.to_string()),
        Some(got.i4.to_string()),
        Some(got.i8.to_string()),
        Some(got.num.to_string()),
        Some(got.r.to_string()),
        Some(got.d.to_string()),
        Some(got.t.clone()),
        Some(got.ci.clone()),
        Some(got.u.to_string()),
        Some(got.dt.to_string()),
        Some(pg_text(got.tm.to_string())),
        Some(got.ttz.clone()),
        Some(pg_text(got.ts.to_string())),
        Some(utc_text(&got.tstz)),
        Some(got.iv.clone()),
        None, // json: compared as JSON below
        None, // jsonb: compared as JSON below
        Some(got.b.clone()),
        Some(got.ip.to_string()),
        Some(got.m.as_str().to_string()),
        Some(got.pi.to_string()),
        Some(got.pr.to_string()),
        Some(got.cents.0.to_string()),
        None,
        None,
        None,
        None,
    ];
    let names = [
        "i2",
        "i4",
        "i8",
        "num",
        "r",
        "d",
        "t",
        "ci",
        "u",
        "dt",
        "tm",
        "ttz",
        "ts",
        "tstz",
        "iv",
        "j",
        "jb",
        "b",
        "ip",
        "m",
        "pi",
        "pr",
        "cents",
        "maybe_u",
        "maybe_tstz",
        "maybe_num",
        "maybe_m",
    ];
    for (i, name) in names.iter().enumerate() {
        if matches!(*name, "j" | "jb") {
            let pg_json: serde_json::Value = serde_json::from_str(&text(i).unwrap()).unwrap();
            let ours = if *name == "j" { &got.j } else { &got.jb };
            assert_eq!(&pg_json, ours, "{name}");
        } else {
            assert_eq!(text(i), rust[i], "column {name}");
        }
    }
    // Arrays, element by element.
    let arrays = pg
        .query_one(
            "SELECT (SELECT array_agg(x::text ORDER BY o) FROM unnest(tags) WITH ORDINALITY u(x, o)), \
                    (SELECT array_agg(x::text ORDER BY o) FROM unnest(nums) WITH ORDINALITY u(x, o)), \
                    (SELECT array_agg(x::text ORDER BY o) FROM unnest(uuids) WITH ORDINALITY u(x, o)), \
                    (SELECT array_agg(x::text ORDER BY o) FROM unnest(days) WITH ORDINALITY u(x, o)), \
                    (SELECT array_agg(x::text ORDER BY o) FROM unnest(moods) WITH ORDINALITY u(x, o)), \
                    (SELECT array_agg((x AT TIME ZONE 'UTC')::text ORDER BY o) \
                     FROM unnest(stamps) WITH ORDINALITY u(x, o)) \
             FROM everything WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let texts = |v: Vec<String>| v;
    assert_eq!(arrays.get::<_, Vec<String>>(0), got.tags);
    assert_eq!(
        arrays.get::<_, Vec<String>>(1),
        texts(got.nums.iter().map(ToString::to_string).collect())
    );
    assert_eq!(
        arrays.get::<_, Vec<String>>(2),
        texts(got.uuids.iter().map(ToString::to_string).collect())
    );
    assert_eq!(
        arrays.get::<_, Vec<String>>(3),
        texts(got.days.iter().map(ToString::to_string).collect())
    );
    assert_eq!(
        arrays.get::<_, Vec<String>>(4),
        texts(got.moods.iter().map(|m| m.as_str().to_string()).collect())
    );
    assert_eq!(
        arrays.get::<_, Vec<String>>(5),
        texts(got.stamps.as_ref().unwrap().iter().map(utc_text).collect())
    );

    // The database's time zone is +05:30: the JSON the runtime reads carries that offset,
    // and the Rust value is the same instant.
    let raw = db
        .execute(typed::get_row::operation(), &me, Some(&json!({ "id": id })))
        .await
        .unwrap();
    let raw = std::str::from_utf8(&raw).unwrap();
    assert!(
        raw.contains("\"tstz\" : \"2024-01-02T08:34:05.123456+05:30\"")
            || raw.contains("\"tstz\":\"2024-01-02T08:34:05.123456+05:30\""),
        "{raw}"
    );

    // Typed variables bind as the column types: a uuid, a timestamptz (sent in UTC), an enum,
    // a numeric to the last digit, a list of enum values.
    let tstz = got.tstz;
    let find = |after: DateTime<Utc>, min: Decimal, moods: Vec<Mood>| typed::find_rows::Variables {
        u: got.u,
        after,
        mood: Mood::SoSo,
        min,
        moods,
    };
    let hits = |vars| {
        let db = db.clone();
        let me = me.clone();
        async move {
            typed::find_rows::run(&db, &me, &vars)
                .await
                .expect("find")
                .everything
                .len()
        }
    };
    let one_micro = TimeDelta::microseconds(1);
    assert_eq!(
        hits(find(tstz - one_micro, got.num, vec![Mood::SoSo])).await,
        1
    );
    assert_eq!(
        hits(find(tstz, got.num, vec![Mood::SoSo])).await,
        0,
        "gt is strict"
    );
    let above = got.num + dec("0.000000000001");
    assert_eq!(
        hits(find(tstz - one_micro, above, vec![Mood::SoSo])).await,
        0,
        "numeric compares to the last digit"
    );
    assert_eq!(
        hits(find(
            tstz - one_micro,
            got.num,
            vec![Mood::Happy, Mood::InProgress]
        ))
        .await,
        0
    );

    // An enum variable writes the enum column.
    let set = typed::set_mood::run(
        &db,
        &me,
        &typed::set_mood::Variables {
            id,
            mood: Mood::InProgress,
        },
    )
    .await
    .expect("update")
    .everything
    .expect("the row");
    assert_eq!((set.m, set.maybe_m), (Mood::InProgress, None));
    let m: String = pg
        .query_one("SELECT m::text FROM everything WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(m, "IN_PROGRESS");
    assert_eq!(Mood::ALL, [Mood::Happy, Mood::SoSo, Mood::InProgress]);
    assert_eq!(Mood::SoSo.to_string(), "so so");
}

#[tokio::test]
async fn a_label_added_in_the_database_stops_start_up() {
    let (url, _) = database("rust_types_enum");
    typed::connect(&url, PoolOptions::default())
        .await
        .expect("the snapshot matches");
    client(&url)
        .await
        .batch_execute("ALTER TYPE mood ADD VALUE 'angry' AFTER 'happy'")
        .await
        .unwrap();
    let err = typed::connect(&url, PoolOptions::default())
        .await
        .expect_err("a label the Rust enum lacks");
    assert!(
        matches!(err, Error::EnumMismatch { ref name, .. } if name == "mood"),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("enum mood: the database has label \"angry\""),
        "{text}"
    );
    assert!(text.contains("graphjin schema pull"), "{text}");
}
