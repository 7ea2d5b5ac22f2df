//! The locked API of the example app, for its callers and reviewers, through the real
//! `graphjin` binary and real npm tools:
//!
//! - `graphjin openapi`: valid OpenAPI 3.1 by `@seriousme/openapi-schema-validator`;
//! - `graphjin typescript`: the module and a caller pass `tsc --strict`, and a caller
//!   reading a field the operation does not select fails to compile;
//! - a compliance rule broken by an operation added to a copy of the example's allow.list
//!   fails the build (`emit::generate`, what `build.rs` and `include_allowlist!` run) and
//!   `graphjin check` at that operation's field;
//! - `graphjin audit --diff` between the example and a copy exposing one more column to
//!   `anon` reports that column and nothing else, for a folder and for a git revision.
//!
//! The npm packages (pinned in `locked_api/npm.rs`) are installed once into
//! `target/tmp/npm-locked-api`. Without node and npm the npm checks print a skip line and
//! pass, unless `CI` is set.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "locked_api/npm.rs"]
mod npm;

fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-app/config")
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_graphjin"));
    c.env_remove("DATABASE_URL");
    c
}

fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gj-locked-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A copy of the example's config folder.
fn copy_example(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    for entry in std::fs::read_dir(example_config()).expect("example config") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).expect("copy");
        }
    }
    dir
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "{} has one `{from}`",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn openapi_text(dir: &Path) -> String {
    let (out, stdout, stderr) = run(bin().args(["openapi", "--config-dir"]).arg(dir));
    assert!(out.status.success(), "{stderr}");
    stdout
}

#[test]
fn the_example_openapi_document_is_valid_openapi_3_1() {
    let text = openapi_text(&example_config());
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON on stdout");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "GraphJin Webshop");
    // One path per query and mutation (the subscription is not a REST route), and the
    // action.
    let paths = doc["paths"].as_object().expect("paths");
    assert_eq!(paths.len(), 17, "{:?}", paths.keys().collect::<Vec<_>>());
    assert!(paths.contains_key("/api/v1/rest/listProducts"));
    assert!(!paths.contains_key("/api/v1/rest/watchStock"));
    let list = &paths["/api/v1/rest/listProducts"];
    assert_eq!(list["get"]["parameters"][0]["name"], "variables");
    assert_eq!(list["get"]["parameters"][0]["in"], "query");
    assert!(list["get"]["parameters"][0]["content"]["application/json"].is_object());
    assert!(
        paths["/api/v1/rest/placeOrder"]["get"].is_null(),
        "mutations are POST only"
    );
    assert_eq!(
        paths["/api/v1/rest/placeOrder"]["post"]["security"],
        serde_json::json!([{ "auth.bearer": [] }]),
        "anonymous callers may not place orders"
    );
    assert_eq!(
        paths["/api/v1/actions/restock"]["post"]["security"],
        serde_json::json!([{ "auths.cron.header": [] }])
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["auth.bearer"]["scheme"], "bearer");
    assert_eq!(schemes["auths.cron.header"]["name"], "X-Cron-Secret");
    let action_body = &paths["/api/v1/actions/restock"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert_eq!(action_body["required"], serde_json::json!(["amount"]));
    assert_eq!(action_body["properties"]["below"]["default"], 5);
    // Nullability as compiled: a nullable column, a non-null one, an optional relation.
    let product = &doc["components"]["schemas"]["GetProductData"]["properties"]["products"]["anyOf"]
        [0]["properties"];
    assert_eq!(
        product["description"],
        serde_json::json!({ "type": ["string", "null"] })
    );
    assert_eq!(product["name"], serde_json::json!({ "type": "string" }));
    assert_eq!(
        product["price"],
        serde_json::json!({ "$ref": "#/components/schemas/Numeric" })
    );

    let Some(npm) = npm::tools() else { return };
    let file = npm.dir.join("example-openapi.json");
    std::fs::write(&file, &text).unwrap();
    let (ok, out) = npm.node("validate_openapi.mjs", &[file.to_str().unwrap()]);
    assert!(ok, "the validator refuses the document:\n{out}");
    assert!(out.contains("valid OpenAPI 3.1"), "{out}");
    // The validator is real: a document missing an operation's responses is refused.
    let mut broken = doc.clone();
    broken["paths"]["/api/v1/rest/listProducts"]["get"]
        .as_object_mut()
        .unwrap()
        .remove("responses");
    broken["paths"]["/api/v1/rest/getProduct"]["get"]["parameters"][0]["in"] = "body".into();
    let bad = npm.dir.join("broken-openapi.json");
    std::fs::write(&bad, broken.to_string()).unwrap();
    let (ok, out) = npm.node("validate_openapi.mjs", &[bad.to_str().unwrap()]);
    assert!(!ok, "a broken document passed:\n{out}");
}

const CALLER: &str = r#"import { call, operations, encodeJson, parseJson, type ListProductsData, type Numeric, type Operations } from "./api";

export async function demo(token: string): Promise<string> {
  const list: ListProductsData = await call("listProducts", { limit: 3 }, { baseUrl: "http://127.0.0.1:8080/api" });
  const first = list.products[0];
  const price: Numeric | undefined = first?.price;
  const slug: string | undefined = first?.category?.slug;
  const one = await call("getProduct", { id: 3 });
  const description: string | null | undefined = one.products?.description;
  const stats = await call("catalogueStats");
  const avg: Numeric | null | undefined = stats.products[0]?.avg_price;
  const order = await call(
    "placeOrder",
    { data: { status: "new", order_items: [{ product_id: 1, quantity: 2, unit_price: "9.50" }] } },
    { headers: { Authorization: `Bearer ${token}` } },
  );
  const lines: number = order.orders[0]?.order_items.length ?? 0;
  const kind: "subscription" = operations.watchStock.kind;
  const watched: Operations["watchStock"]["data"]["products"] = null;
  const hash: string = operations.listProducts.sha256;
  const exact = parseJson('{"data":{"products":[{"price":12.50}]}}', { data: operations.listProducts.numeric });
  return [price, slug, description, avg, lines, kind, watched, hash, encodeJson({ n: "1.10" }, { n: 1 }), exact].join(" ");
}
"#;

const READS_UNSELECTED: &str = r#"import { call } from "./api";

export async function wrong(): Promise<string | null | undefined> {
  const list = await call("listProducts", {});
  return list.products[0]?.description;
}
"#;

const WRONG_CALLS: &str = r#"import { call } from "./api";

export async function wrong(): Promise<void> {
  await call("getProduct");
  await call("getProduct", { id: "3" });
  await call("watchStock", { id: 1 });
  await call("noSuchOperation");
}
"#;

#[test]
fn the_example_typescript_passes_tsc_strict_and_refuses_unselected_fields() {
    let (out, ts, stderr) = run(bin()
        .args(["typescript", "--config-dir"])
        .arg(example_config()));
    assert!(out.status.success(), "{stderr}");
    assert!(ts.contains("export interface GetProductData {"), "{ts}");
    assert!(ts.contains("    price: Numeric;\n"), "{ts}");
    assert!(ts.contains("    description: string | null;\n"), "{ts}");
    assert!(ts.contains("export interface GetProductVariables {\n  /** `$id`, used as `bigint`. */\n  id: number;\n}"), "{ts}");

    let Some(npm) = npm::tools() else { return };
    let dir = npm.dir.join("ts-example");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("api.ts"), &ts).unwrap();
    std::fs::write(dir.join("caller.ts"), CALLER).unwrap();
    std::fs::write(dir.join("unselected.ts"), READS_UNSELECTED).unwrap();
    std::fs::write(dir.join("calls.ts"), WRONG_CALLS).unwrap();

    let (ok, out) = npm.tsc(&dir, &["api.ts", "caller.ts"]);
    assert!(ok, "tsc --strict refuses the module or the caller:\n{out}");

    let (ok, out) = npm.tsc(&dir, &["api.ts", "unselected.ts"]);
    assert!(!ok, "reading an unselected field compiled");
    assert!(
        out.contains("unselected.ts(5,28): error TS2339: Property 'description' does not exist"),
        "{out}"
    );
    let (ok, out) = npm.tsc(&dir, &["api.ts", "calls.ts"]);
    assert!(!ok);
    for expected in [
        "calls.ts(4,9): error TS2554",  // a required variable missing
        "calls.ts(5,30): error TS2322", // a variable of the wrong type
        "calls.ts(6,14): error TS2345", // a subscription is not callable
        "calls.ts(7,14): error TS2345", // an unknown operation
    ] {
        assert!(out.contains(expected), "{expected}:\n{out}");
    }
}

const REVIEWER_EMAILS: &str = "
# Who wrote the best reviews, and how to reach them.
query reviewerEmails {
  reviews(order_by: { rating: desc }, limit: 5) {
    rating
    customer {
      full_name
      email
    }
  }
}
";

#[test]
fn an_operation_breaking_a_compliance_rule_fails_the_build_at_its_field() {
    // The example keeps its rules.
    let (out, _, stderr) = run(bin().args(["check", "--config-dir"]).arg(example_config()));
    assert!(out.status.success(), "{stderr}");
    let dev = std::fs::read_to_string(example_config().join("dev.yml")).unwrap();
    assert!(dev.contains("never_reads: [customers.email]"), "{dev}");

    let dir = copy_example("compliance");
    let list = dir.join("allow.list");
    let mut text = std::fs::read_to_string(&list).unwrap();
    let line = text.lines().count() as u32 + 1;
    text.push_str(REVIEWER_EMAILS);
    std::fs::write(&list, text).unwrap();
    // `query reviewerEmails` is at line + 2; `email` at line + 7, column 7.
    let at = format!("allow.list:{}:7", line + 7);
    let expected = |role: &str| {
        format!(
            "{at}: breaks compliance[0] `no-emails` (never_reads customers.email): reads `customers.email` (operation `reviewerEmails`, role `{role}`)"
        )
    };

    // What `build.rs` (`emit::build`) and `include_allowlist!` run.
    let errors = graphjin_codegen::emit::generate(&dir).expect_err("the build fails");
    let rendered: Vec<String> = errors
        .iter()
        .map(|e| e.located(Some(Path::new("config"))).to_string())
        .collect();
    assert_eq!(
        rendered,
        [
            format!("config/{}", expected("anon")),
            format!("config/{}", expected("user"))
        ]
    );
    assert_eq!(
        errors[0].allow_list_pos(),
        Some(graphjin_codegen::source::Pos::new(line + 7, 7))
    );

    let (out, _, stderr) = run(bin().args(["check", "--config-dir"]).arg(&dir));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!("{}\n{}\n", expected("anon"), expected("user"))
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A copy of the example in which `anon`, and only `anon`, also reads `customers.created_at`
/// (through `topReviews`).
fn one_more_column_for_anon(dir: &Path) {
    edit(
        &dir.join("allow.list"),
        "    customer {\n      full_name\n    }\n  }\n}\n\n# A customer's orders",
        "    customer {\n      full_name\n      created_at @add(ifRole: \"anon\")\n    }\n  }\n}\n\n# A customer's orders",
    );
}

#[test]
fn audit_diff_reports_the_one_column_newly_exposed_to_anon() {
    let dir = copy_example("diff");
    one_more_column_for_anon(&dir);

    let (out, stdout, stderr) = run(bin()
        .args(["audit", "--config-dir"])
        .arg(&dir)
        .arg("--diff")
        .arg(example_config()));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stdout,
        "anon\n  + reads customers.created_at (via topReviews)\nnew exposure for 1 role\n"
    );

    let (out, stdout, _) = run(bin()
        .args(["audit", "--json", "--config-dir"])
        .arg(&dir)
        .arg("--diff")
        .arg(example_config()));
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(
        json,
        serde_json::json!({
            "exposes_more": true,
            "roles": { "anon": {
                "added": {
                    "operations": [],
                    "reads": [{ "column": "customers.created_at", "operations": ["topReviews"] }],
                    "writes": [],
                    "deletes": []
                },
                "removed": { "operations": [], "reads": [], "writes": [], "deletes": [] }
            } }
        })
    );

    // The other way round nothing is new (exit 0), and the column is reported as gone.
    let (out, stdout, _) = run(bin()
        .args(["audit", "--config-dir"])
        .arg(example_config())
        .arg("--diff")
        .arg(&dir));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout,
        "anon\n  - reads customers.created_at (was via topReviews)\nnothing newly exposed; some access was removed\n"
    );

    // An unreadable side is an error: exit 2.
    let (out, _, stderr) = run(bin()
        .args(["audit", "--config-dir"])
        .arg(&dir)
        .arg("--diff")
        .arg("no-such-revision"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("no-such-revision"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn audit_diff_against_a_git_revision() {
    if Command::new("git").arg("--version").output().is_err() {
        println!("skipped audit_diff_against_a_git_revision: git is not installed");
        return;
    }
    let repo = copy_example("git-repo");
    let config = repo.join("config");
    std::fs::create_dir_all(&config).unwrap();
    for entry in std::fs::read_dir(&repo).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::rename(&path, config.join(path.file_name().unwrap())).unwrap();
        }
    }
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(&repo)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "config"]);
    git(&["commit", "-q", "-m", "the example"]);
    one_more_column_for_anon(&config);

    let (out, stdout, stderr) = run(bin()
        .args(["audit", "--config-dir"])
        .arg(&config)
        .args(["--diff", "HEAD"]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stdout,
        "anon\n  + reads customers.created_at (via topReviews)\nnew exposure for 1 role\n"
    );
    git(&["commit", "-q", "-am", "one more column"]);
    let (out, stdout, _) = run(bin()
        .args(["audit", "--config-dir"])
        .arg(&config)
        .args(["--diff", "HEAD"]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout, "no change in what any role can reach\n");
    std::fs::remove_dir_all(&repo).ok();
}
