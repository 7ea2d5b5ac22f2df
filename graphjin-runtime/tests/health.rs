//! `GET /health` and requests while the database is gone.

mod common;

use common::*;
use graphjin_runtime::{Db, Service};

#[tokio::test]
async fn health_follows_the_database() {
    let name = fresh_database();
    let db = Db::connect(&pg().url(&name), operations(), small_pool())
        .await
        .unwrap();
    assert!(db.health().await.is_ok());
    let base = serve(Service::new(db.clone())).await;

    let r = get(&format!("{base}/health"), &[], None).await;
    assert_eq!((r.status, r.text.as_str()), (200, r#"{"status":"ok"}"#));
    assert_eq!(r.content_type, "application/json");

    pg().run_sql("postgres", &format!("DROP DATABASE {name} WITH (FORCE)"))
        .unwrap();

    let r = get(&format!("{base}/health"), &[], None).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (503, r#"{"status":"unavailable"}"#)
    );
    assert!(db.health().await.is_err());

    // Requests say the database is unavailable, without its details.
    let r = get(&format!("{base}/api/v1/rest/getProducts"), &[], None).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(
        r.error(),
        (
            "the database is unavailable; try again later".to_owned(),
            "SERVICE_UNAVAILABLE".to_owned()
        )
    );
}
