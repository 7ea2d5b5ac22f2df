//! Every vector of shared/vectors/rails.json (made by Rails 6.1's own cookie jar) gives its
//! expected verdict through the crate API.

mod common;

use graphjin_rails::{RailsAuth, RailsError};

#[tokio::test]
async fn rails_vectors() {
    let Some(vectors) = common::vectors("rails.json") else {
        return;
    };
    assert!(!vectors.is_empty());
    let (mut passed, mut failed) = (0, 0);
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let auth = RailsAuth::new(&common::config(v, None)).expect("config builds");
        let got = auth.user_from_cookie_header(common::cookie_header(v)).await;
        let want = common::expected(v);
        let ok = match (&got, &want) {
            (Ok(Some(id)), Some(w)) => id == w,
            (Err(_), None) => true,
            _ => false,
        };
        match &got {
            Ok(id) => println!("{name}: Ok({id:?}), want {want:?}"),
            Err(e) => println!("{name}: Err({e}), want {want:?} ({})", v["expect"]["why"]),
        }
        if let Err(e) = &got {
            // Errors never leak the secret or the cookie.
            let msg = e.to_string();
            let secret = v["config"]["rails"]["secret_key_base"].as_str().unwrap();
            assert!(!msg.contains(secret), "{name}: {msg}");
            let value = common::cookie_header(v).split_once('=').unwrap().1;
            assert!(
                value.len() < 16 || !msg.contains(&value[..16]),
                "{name}: {msg}"
            );
        }
        if ok {
            passed += 1;
        } else {
            failed += 1;
            println!("  FAILED: {name}");
        }
    }
    println!("rails vectors: {passed} passed, {failed} failed");
    assert_eq!(failed, 0);
}

/// The failures fail for the reason the vector gives (its `error_kind`).
#[tokio::test]
async fn rails_vector_reasons() {
    let Some(vectors) = common::vectors("rails.json") else {
        return;
    };
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let auth = RailsAuth::new(&common::config(&v, None)).unwrap();
        let got = auth
            .user_from_cookie_header(common::cookie_header(&v))
            .await;
        let kind = v["expect"]["error_kind"].as_str().unwrap_or("");
        let matches = match &got {
            Ok(_) => kind.is_empty(),
            // An altered character may also break strict base64 (as Ruby's), which Rails
            // refuses before checking anything.
            Err(RailsError::BadSignature) => matches!(kind, "tampered" | "wrong_key"),
            Err(RailsError::NotRailsCookie) => matches!(kind, "tampered" | "malformed"),
            Err(RailsError::NotSignedIn) => kind == "no_user",
            Err(RailsError::WrongPurpose { .. }) => kind == "wrong_purpose",
            Err(RailsError::Expired) => kind == "expired",
            // A session-id-shaped value with no store configured.
            Err(RailsError::NoStore) => kind == "malformed",
            Err(_) => false,
        };
        assert!(
            matches,
            "{name}: got {got:?}, vector says {kind:?} ({})",
            v["expect"]["why"]
        );
    }
}

/// A header without the configured cookie gives Ok(None).
#[tokio::test]
async fn no_cookie_is_none() {
    let Some(vectors) = common::vectors("rails.json") else {
        return;
    };
    let v = &vectors[0];
    let auth = RailsAuth::new(&common::config(v, None)).unwrap();
    assert_eq!(auth.user_from_cookie_header("").await.unwrap(), None);
    assert_eq!(auth.user_from_cookie_header("other=1").await.unwrap(), None);
}

fn with_version(v: &serde_json::Value, version: &str) -> RailsAuth {
    let mut cfg = common::config(v, None);
    cfg.version = version.into();
    RailsAuth::new(&cfg).unwrap()
}

/// The vector called `name`; `None` when the shared corpora are absent.
fn vector(name: &str) -> Option<serde_json::Value> {
    let found = common::vectors("rails.json")?
        .into_iter()
        .find(|v| v["name"] == name);
    Some(found.unwrap_or_else(|| panic!("no vector {name}")))
}

/// Rails 5.2+ still reads the AES-CBC cookies of an app upgraded from 5.1 (with keys from
/// its own key generator): so do we.
#[tokio::test]
async fn legacy_cookies_are_read_by_newer_versions() {
    let Some(v) = vector("rails4.2_json_ok") else {
        return;
    };
    for version in ["5.0", "5.2", "6.1"] {
        let got = with_version(&v, version)
            .user_from_cookie_header(common::cookie_header(&v))
            .await;
        assert_eq!(got.unwrap().as_deref(), Some("66"), "{version}");
    }
    // Rails 7 derives keys with SHA256: the SHA1-derived legacy cookie does not verify.
    let got = with_version(&v, "7.0")
        .user_from_cookie_header(common::cookie_header(&v))
        .await;
    assert!(matches!(got, Err(RailsError::BadSignature)), "{got:?}");
}

/// A GCM cookie under a 4.x configuration says which setting to fix.
#[tokio::test]
async fn version_mismatch_is_explained() {
    let Some(v) = vector("rails6.1_json_ok") else {
        return;
    };
    let err = with_version(&v, "4.2")
        .user_from_cookie_header(common::cookie_header(&v))
        .await
        .unwrap_err();
    assert!(matches!(err, RailsError::VersionMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("rails.version is 4.2"), "{err}");
    // And a 6.1 cookie read as 7.0 (other key derivation) fails verification.
    let err = with_version(&v, "7.0")
        .user_from_cookie_header(common::cookie_header(&v))
        .await
        .unwrap_err();
    assert!(matches!(err, RailsError::BadSignature), "{err:?}");
}
