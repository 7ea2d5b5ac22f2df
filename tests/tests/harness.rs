//! The test helpers themselves: the shared cluster, the conformance template and fresh
//! databases.

use std::path::Path;

use graphjin_tests::{TempPostgres, conformance_sql, conformance_template, fresh_database, pg};

/// The database name in a URL from [`fresh_database`].
fn db_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

/// Processes whose command line mentions `dir` (the watchdog and the postmaster).
fn processes_using(dir: &Path) -> Vec<u32> {
    let dir = dir.to_str().unwrap();
    let (exact, inside) = (format!("{dir}\0"), format!("{dir}/"));
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline);
            (cmdline.contains(&exact) || cmdline.contains(&inside)).then_some(pid)
        })
        .collect()
}

#[test]
fn shared_dir_has_the_conformance_sql() {
    let Some(sql) = conformance_sql() else {
        return;
    };
    assert!(sql.is_file());
}

#[test]
fn conformance_data_is_loaded() {
    if conformance_sql().is_none() {
        return;
    }
    let db = fresh_database("loaded");
    let pg = pg();
    assert_eq!(
        pg.run_sql(db_name(&db), "select count(*) from users")
            .unwrap(),
        "100"
    );
    // The file's last statement has no trailing semicolon.
    assert_eq!(
        pg.run_sql(db_name(&db), "select count(*) from graph_edge")
            .unwrap(),
        "2"
    );
    assert_eq!(conformance_template(), "conformance_tpl");
}

#[test]
fn fresh_databases_are_independent() {
    if conformance_sql().is_none() {
        return;
    }
    let a = fresh_database("indep a");
    let b = fresh_database("indep a");
    assert_ne!(a, b);
    assert!(db_name(&a).starts_with("indep_a_"), "{a}");
    let pg = pg();
    pg.run_sql(
        db_name(&a),
        "insert into users (id, full_name, email) values (1000, 'New', 'new@test.com')",
    )
    .unwrap();
    assert_eq!(
        pg.run_sql(db_name(&a), "select count(*) from users")
            .unwrap(),
        "101"
    );
    assert_eq!(
        pg.run_sql(db_name(&b), "select count(*) from users")
            .unwrap(),
        "100"
    );
    // The template is untouched too.
    let c = fresh_database("indep c");
    assert_eq!(
        pg.run_sql(db_name(&c), "select count(*) from users")
            .unwrap(),
        "100"
    );
}

#[tokio::test]
async fn fresh_database_urls_work_with_tokio_postgres() {
    if conformance_sql().is_none() {
        return;
    }
    let a = fresh_database("client");
    let b = fresh_database("client");
    let connect = |url: String| async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
        tokio::spawn(conn);
        client
    };
    let (a, b) = (connect(a).await, connect(b).await);
    a.execute("update users set full_name = 'changed' where id = 2", &[])
        .await
        .unwrap();
    let name = |row: tokio_postgres::Row| row.get::<_, String>(0);
    let query = "select full_name from users where id = 2";
    assert_eq!(name(a.query_one(query, &[]).await.unwrap()), "changed");
    assert_eq!(name(b.query_one(query, &[]).await.unwrap()), "User 2");
}

#[test]
fn stopped_cluster_leaves_nothing_behind() {
    let cluster = TempPostgres::start().unwrap();
    let root = cluster.root_dir().to_path_buf();
    let postmaster = cluster.postmaster_pid().unwrap();
    let before = processes_using(&root);
    assert!(
        before.contains(&postmaster) && before.len() >= 2,
        "expected the postmaster and the watchdog, found {before:?}"
    );
    cluster.stop().unwrap();
    assert!(!root.exists(), "{} still exists", root.display());
    assert!(!Path::new(&format!("/proc/{postmaster}")).exists());
    assert_eq!(processes_using(&root), Vec::<u32>::new());
}
