//! Access control on a real database, through the real runtime: per-role row filters
//! (nested too), `roles_query` + `match`, `default_block`, allowed columns, `block: true`
//! and role limits. Operations are compiled by the build-time compiler at test time and
//! served by the runtime's executor.

// The executor's future nests deeply enough (role routing, replicas, statement modes)
// that clippy's const evaluation needs more than the default depth here.
#![recursion_limit = "256"]

use graphjin_codegen::Project;
use graphjin_runtime::{Auth, Db};
use serde_json::{Value, json};

const CONFIG: &str = r#"
roles_query: "SELECT * FROM customers WHERE id = $user_id"
default_block: true
roles:
  - name: anon
    tables:
      - name: products
        query:
          limit: 5
          columns: [id, name, price]
      - name: categories
        query: {}
  - name: user
    tables:
      - name: orders
        query:
          filters: ["{ customer_id: { eq: $user_id } }"]
      - name: customers
        query:
          columns: [id, full_name]
      - name: reviews
        query:
          block: true
  - name: admin
    match: "email = 'customer1@shop.test'"
    tables:
      - name: orders
        query:
          limit: 50
"#;

const ALLOW_LIST: &str = r#"
query orders {
  orders(order_by: { id: asc }, limit: 100) { id customer_id }
}

query customersWithOrders {
  customers(order_by: { id: asc }, limit: 3) { id full_name orders(order_by: { id: asc }) { id } }
}

query ordersByCustomerEmail {
  orders(order_by: { customer: { email: desc } }, limit: 5) { id }
}

query productNames {
  products(order_by: { id: asc }, limit: 20) { id name price }
}

query productNamesUpTo($n: Int) {
  products(order_by: { id: asc }, limit: $n) { id name price }
}

query ordersUpTo($n: Int) {
  orders(order_by: { id: asc }, limit: $n) { id customer_id }
}

query productDescriptions {
  products(order_by: { id: asc }) { id description }
}

query reviews {
  reviews(limit: 3) { id rating }
}

query customerEmails {
  customers(limit: 2) { id email }
}
"#;

struct Setup {
    db: Db,
}

async fn setup() -> Setup {
    setup_with(CONFIG).await.expect("connect")
}

/// Compiles `config` with the allow list above and connects (preparing every statement).
async fn setup_with(config: &str) -> Result<Setup, graphjin_runtime::Error> {
    let dir = graphjin_tests::shop_config("roles", ALLOW_LIST, config);
    let url = graphjin_tests::shop_database("roles");
    let db = graphjin_tests::connect_project(&dir, &url).await?;
    Ok(Setup { db })
}

/// `CONFIG` with its `roles_query` and admin `match` replaced.
fn config_with(roles_query: &str, admin_match: &str) -> String {
    CONFIG
        .replace(
            r#"roles_query: "SELECT * FROM customers WHERE id = $user_id""#,
            &format!("roles_query: {roles_query:?}"),
        )
        .replace(
            r#"match: "email = 'customer1@shop.test'""#,
            &format!("match: {admin_match:?}"),
        )
}

/// How many orders `user` sees: all of them (50 at most) as admin, their own as `user`,
/// none (`null`: blocked by `default_block`) as `anon`.
async fn orders_seen(s: &Setup, user: &str) -> Option<usize> {
    let data = s.run("orders", &Auth::user(user)).await.expect("orders");
    data["orders"].as_array().map(Vec::len)
}

impl Setup {
    async fn run(&self, name: &str, who: &Auth) -> Result<Value, graphjin_runtime::Error> {
        self.run_with(name, who, None).await
    }

    async fn run_with(
        &self,
        name: &str,
        who: &Auth,
        vars: Option<Value>,
    ) -> Result<Value, graphjin_runtime::Error> {
        let op = self.db.operation(name).expect("operation");
        let bytes = self.db.execute(op, who, vars.as_ref()).await?;
        Ok(serde_json::from_slice(&bytes).expect("JSON"))
    }
}

#[tokio::test]
async fn a_user_reads_only_their_own_rows() {
    let s = setup().await;
    let data = s.run("orders", &Auth::user("2")).await.expect("user 2");
    let orders = data["orders"].as_array().expect("list");
    assert_eq!(orders.len(), 3);
    assert!(
        orders.iter().all(|o| o["customer_id"] == json!(2)),
        "{data}"
    );
}

#[tokio::test]
async fn an_admin_matched_by_match_reads_all_up_to_the_role_limit() {
    let s = setup().await;
    // customer 1's email matches the admin role: every customer's orders. The role's limit
    // (50) caps a limit taken from a variable and is the limit when none is written; a
    // literal limit in the allow list stays as written (GraphJin's `setLimit` returns early
    // when the query sets one).
    let all: usize = 60; // the shop seed's orders
    let data = s.run("orders", &Auth::user("1")).await.expect("admin");
    assert_eq!(
        data["orders"].as_array().map(Vec::len),
        Some(all),
        "literal 100"
    );
    let data = s
        .run_with("ordersUpTo", &Auth::user("1"), Some(json!({"n": 100})))
        .await
        .expect("admin");
    let orders = data["orders"].as_array().expect("list");
    assert_eq!(orders.len(), 50, "role limit caps the requested $n = 100");
    let customers: std::collections::BTreeSet<i64> = orders
        .iter()
        .map(|o| o["customer_id"].as_i64().unwrap())
        .collect();
    assert!(customers.len() > 1, "admin sees other customers' orders");
}

/// GraphJin's documented form: a qualified match over the roles query's table
/// (`roles_query: SELECT * FROM users WHERE users.id = $user_id`, `match: users.id = 1`),
/// evaluated inside the roles query, as are matches over joined tables and plain columns.
#[tokio::test]
async fn matches_name_the_roles_query_tables() {
    let own = {
        let s = setup().await;
        orders_seen(&s, "2").await
    };
    for (roles_query, admin_match) in [
        (
            "SELECT * FROM customers WHERE customers.id = $user_id",
            "customers.id = 1",
        ),
        ("SELECT * FROM customers WHERE id = $user_id", "id = 1"),
        (
            "SELECT c.id, o.id AS order_id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id = $user_id ORDER BY o.id",
            "c.email = 'customer1@shop.test' AND o.id IS NOT NULL",
        ),
        (
            "WITH me AS (SELECT * FROM customers WHERE id = $user_id) SELECT * FROM me",
            "me.id = 1",
        ),
        // The cheatsheet's typed variable.
        (
            "SELECT id, email FROM customers WHERE id = $user_id:bigint",
            "id < 2 or email = 'nobody'",
        ),
    ] {
        let config = config_with(roles_query, admin_match);
        let s = setup_with(&config)
            .await
            .unwrap_or_else(|e| panic!("{roles_query}: {e}"));
        let admin = orders_seen(&s, "1").await;
        assert!(
            admin > own,
            "{roles_query}: admin sees {admin:?}, a user {own:?}"
        );
        assert_eq!(orders_seen(&s, "2").await, own, "{roles_query}: user 2");
        // No row for the signed-in user: `anon`, as in GraphJin (`core/rolestmt.go`).
        assert_eq!(
            orders_seen(&s, "999").await,
            None,
            "{roles_query}: unknown user"
        );
    }
}

/// A match that names a column the roles query does not have stops start-up, naming the
/// role.
#[tokio::test]
async fn a_match_on_an_unknown_column_names_its_role() {
    let config = config_with(
        "SELECT * FROM customers WHERE customers.id = $user_id",
        "customers.is_admin = true",
    );
    let err = setup_with(&config)
        .await
        .err()
        .expect("start-up fails")
        .to_string();
    assert!(
        err.contains("role `admin`") && err.contains("is_admin"),
        "{err}"
    );
}

#[tokio::test]
async fn anon_is_blocked_by_default_block() {
    let s = setup().await;
    let data = s
        .run("orders", &Auth::anon())
        .await
        .expect("anon runs, table reads null");
    assert_eq!(data, json!({ "orders": null }));
}

#[tokio::test]
async fn a_role_limited_to_some_columns() {
    let s = setup().await;
    // Allowed columns: fine; the role's limit of 5 caps a limit from a variable (and is the
    // default: a null `$n` gives 5); a literal limit stays as written, as in GraphJin.
    let data = s
        .run_with("productNamesUpTo", &Auth::anon(), Some(json!({"n": 20})))
        .await
        .expect("anon products");
    assert_eq!(data["products"].as_array().map(Vec::len), Some(5));
    let data = s
        .run_with("productNamesUpTo", &Auth::anon(), Some(json!({"n": 2})))
        .await
        .expect("anon products");
    assert_eq!(data["products"].as_array().map(Vec::len), Some(2));
    let data = s
        .run_with("productNamesUpTo", &Auth::anon(), Some(json!({"n": null})))
        .await
        .expect("anon products");
    assert_eq!(data["products"].as_array().map(Vec::len), Some(5));
    let data = s
        .run("productNames", &Auth::anon())
        .await
        .expect("anon products");
    assert_eq!(data["products"].as_array().map(Vec::len), Some(20));
    // A column outside the list: no statement for anon, the runtime refuses it.
    let err = s
        .run("productDescriptions", &Auth::anon())
        .await
        .unwrap_err();
    assert_eq!(err.status().as_u16(), 401, "{err}");
    // The same operation is fine for a signed-in user.
    assert!(s.run("productDescriptions", &Auth::user("3")).await.is_ok());
    // A user may not read customers' emails.
    let err = s.run("customerEmails", &Auth::user("3")).await.unwrap_err();
    assert_eq!(err.status().as_u16(), 403, "{err}");
}

#[tokio::test]
async fn nested_relations_get_the_related_tables_role_filter() {
    let s = setup().await;
    let data = s
        .run("customersWithOrders", &Auth::user("2"))
        .await
        .expect("user 2");
    let customers = data["customers"].as_array().expect("list");
    assert_eq!(customers.len(), 3);
    for c in customers {
        let orders = c["orders"].as_array().expect("orders list");
        if c["id"] == json!(2) {
            assert_eq!(orders.len(), 3, "own orders visible: {c}");
        } else {
            assert!(orders.is_empty(), "other customers' orders hidden: {c}");
        }
    }
}

#[tokio::test]
async fn block_true_reads_null() {
    let s = setup().await;
    let data = s.run("reviews", &Auth::user("3")).await.expect("user");
    assert_eq!(data, json!({ "reviews": null }));
}

#[test]
fn the_audit_manifest_shows_reads_and_refusals() {
    let dir = graphjin_tests::shop_config("roles-audit", ALLOW_LIST, CONFIG);
    let ops = Project::load(&dir)
        .expect("loads")
        .compile()
        .expect("compiles");
    let op = ops.iter().find(|o| o.name == "customerEmails").expect("op");
    let (_, admin) = op
        .roles
        .iter()
        .find(|(r, _)| r == "admin")
        .expect("admin may");
    assert!(
        admin
            .reads
            .iter()
            .any(|(t, cols)| t == "customers" && cols.contains(&"email".to_string()))
    );
    assert!(
        op.refused
            .iter()
            .any(|(r, why)| r == "user" && why.contains("email"))
    );
    // `email` is never exposed to anon: the table is blocked (reads null), nothing read.
    if let Some((_, anon)) = op.roles.iter().find(|(r, _)| r == "anon") {
        assert!(anon.reads.iter().all(|(t, _)| t != "customers"));
    }
}

/// Ordering by a related table's column is reading it: a role that may not read
/// `customers.email` may not order orders by it either (that would reveal its order).
#[test]
fn ordering_by_a_related_column_follows_that_tables_column_rules() {
    let dir = graphjin_tests::shop_config("roles-order-related", ALLOW_LIST, CONFIG);
    let ops = Project::load(&dir)
        .expect("loads")
        .compile()
        .expect("compiles");
    let op = ops
        .iter()
        .find(|o| o.name == "ordersByCustomerEmail")
        .expect("op");
    assert!(
        op.refused
            .iter()
            .any(|(r, why)| r == "user" && why.contains("email")),
        "{:?}",
        op.refused
    );
    let (_, admin) = op
        .roles
        .iter()
        .find(|(r, _)| r == "admin")
        .expect("admin may");
    assert!(
        admin
            .reads
            .iter()
            .any(|(t, cols)| t == "customers" && cols.contains(&"email".to_string())),
        "{:?}",
        admin.reads
    );
}

#[test]
fn bad_role_config_names_the_file_and_key() {
    let cases = [
        (
            "roles:\n  - name: x\n    match: \"id = 1\"\n",
            "roles[0].match",
        ),
        (
            "roles_query: \"SELECT * FROM customers\"\nroles:\n  - name: x\n    match: \"id = 1\"\n",
            "roles_query",
        ),
        (
            "roles_query: \"SELECT id FROM customers WHERE id = $user_id UNION SELECT 1 FROM customers\"\nroles:\n  - name: x\n    match: \"id = 1\"\n",
            "roles_query",
        ),
        (
            "roles:\n  - name: user\n    tables:\n      - name: prodcts\n",
            "roles[0].tables[0].name",
        ),
        (
            "roles:\n  - name: user\n    tables:\n      - name: products\n        query:\n          filters: [\"{ id: \"]\n",
            "roles[0].tables[0].query.filters[0]",
        ),
        (
            "roles:\n  - name: user\n    tables:\n      - name: products\n        query:\n          filters: [\"{ nope: { eq: 1 } }\"]\n",
            "roles[0].tables[0].query.filters[0]",
        ),
        (
            "roles:\n  - name: user\n    tables:\n      - name: products\n        query:\n          columns: [id, nmae]\n",
            "roles[0].tables[0].query.columns[1]",
        ),
        (
            "roles:\n  - name: user\n    tables:\n      - name: products\n        insert:\n          presets: { ownr: $user_id }\n",
            "roles[0].tables[0].insert.presets.ownr",
        ),
    ];
    for (yml, key) in cases {
        let dir = graphjin_tests::shop_config("badrole", "query a { products { id } }\n", yml);
        let err = Project::load(&dir)
            .and_then(|p| p.compiler().map(|_| ()))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("dev.yml: "), "{err}");
        assert!(err.contains(&format!("`{key}`")), "want key {key}: {err}");
    }
    // An unknown role in @add/@remove is an error in the operation.
    let dir = graphjin_tests::shop_config(
        "badrole2",
        "query a { products @add(ifRole: \"admn\") { id } }\n",
        "",
    );
    let errors = Project::load(&dir).expect("loads").compile().unwrap_err();
    assert!(
        errors[0].to_string().contains("unknown role `admn`"),
        "{}",
        errors[0]
    );
}
