//! Custom key-generator salts (GraphJin's `rails.salt`, `sign_salt`, `auth_salt`): a cookie
//! made under an app's own `authenticated_encrypted_cookie_salt` reads only with that salt.

use graphjin_rails::test_cookies::gcm_cookie;
use graphjin_rails::{RailsAuth, RailsConfig, RailsError};
use serde_json::json;

const SECRET: &str = "0a248500a64c01184edb4d7ad3a805488f8097ac761b76aaa6c17c01dcb7af03";

fn auth(version: &str, auth_salt: Option<&str>) -> RailsAuth {
    RailsAuth::new(&RailsConfig {
        version: version.into(),
        secret_key_base: Some(SECRET.into()),
        auth_salt: auth_salt.map(str::to_owned),
        cookie: "_app_session".into(),
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test]
async fn auth_salt_is_used_for_gcm_cookies() {
    let session = json!({ "warden.user.user.key": [[42], "salt"] });
    for version in ["5.2", "6.1", "7.0"] {
        let custom = gcm_cookie(
            version,
            SECRET,
            Some("my salt"),
            "_app_session",
            &session,
            [7; 12],
        );
        let standard = gcm_cookie(version, SECRET, None, "_app_session", &session, [7; 12]);
        let header = |v: &str| format!("_app_session={v}");
        let with_salt = auth(version, Some("my salt"));
        let without = auth(version, None);
        assert_eq!(
            with_salt
                .user_from_cookie_header(&header(&custom))
                .await
                .unwrap()
                .as_deref(),
            Some("42"),
            "{version}"
        );
        assert_eq!(
            without
                .user_from_cookie_header(&header(&standard))
                .await
                .unwrap()
                .as_deref(),
            Some("42"),
            "{version}"
        );
        assert!(matches!(
            without.user_from_cookie_header(&header(&custom)).await,
            Err(RailsError::BadSignature)
        ));
        assert!(matches!(
            with_salt.user_from_cookie_header(&header(&standard)).await,
            Err(RailsError::BadSignature)
        ));
    }
}
