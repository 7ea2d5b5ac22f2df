//! The whole build pipeline (allow.list -> parse -> compile for every role) never panics,
//! whatever the allow list holds: random edits of a valid file and random token soup.
//! Runs 2,000 cases by default; set `GRAPHJIN_FUZZ_CASES` to run longer.

use graphjin_codegen::compile::Compiler;
use graphjin_codegen::config::parse_config;
use graphjin_codegen::schema::parse_schema;
use graphjin_codegen::{allowlist, parse_at};
use proptest::prelude::*;

const SCHEMA: &str = include_str!("fixtures/db.graphql");

const VALID: &str = r#"# Products and their owners.
variables { "min": 0, "q": "" }

query getProducts($min: Int = 3) {
  products(where: { price: { gt: $min }, or: { name: { ilike: $q }, id: [1, 2] } }, order_by: { price: desc, id: asc }, limit: 5, distinct: [price]) {
    id
    name
    owner @include(ifVar: $show) { email ...userBits }
    categories(limit: 2) { id name }
    customer { email }
    count_id
  }
  comments(id: 50) { id comments(find: "parents", limit: 3) { id } }
  notifications { subject { ... on users { email } ... on products { name } } }
  users(where: { products: { id: { eq: $user_id } } }) { id __typename }
  get_oldest_users(args: { user_count: 2, tag: "x" }) { id tag_name }
}

fragment userBits on users {
  full_name
  id
}
"#;

const CONFIG: &str = r#"
default_limit: 10
tables:
  - name: products
    columns:
      - { name: category_ids, related_to: categories.id, array: true }
  - name: subject
    type: polymorphic
    columns:
      - { name: subject_id, related_to: subject_type.id }
"#;

const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "$",
    "...",
    "@",
    "query",
    "fragment",
    "on",
    "where",
    "id",
    "products",
    "users",
    "owner",
    "eq",
    "in",
    "order_by",
    "limit",
    "desc",
    "\"",
    "#",
    "\n",
    "1",
    "-1.5e3",
    "null",
    "true",
    "variables",
    "{\"a\":1}",
    "find",
    "\"parents\"",
    "__typename",
    ",",
];

fn compile_everything(src: &[u8], compiler: &Compiler) {
    let Ok(list) = allowlist::parse(src) else {
        return;
    };
    let mut frags = Vec::new();
    for f in list.fragments() {
        if let Ok(d) = parse_at(&f.text, f.pos) {
            frags.extend(d.fragments);
        }
    }
    for entry in list.operations() {
        let Ok(mut doc) = parse_at(&entry.text, entry.pos) else {
            continue;
        };
        doc.fragments.extend(frags.iter().cloned());
        for role in compiler.roles() {
            let _ = compiler.compile(&doc, 0, &role);
        }
    }
}

fn cases() -> u32 {
    std::env::var("GRAPHJIN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

fn compiler() -> Compiler {
    let schema = parse_schema(SCHEMA).expect("fixture schema");
    let config = parse_config(CONFIG, std::path::Path::new("fuzz.yml")).expect("config");
    Compiler::new(&schema, &config).expect("catalog")
}

#[test]
fn the_valid_file_compiles() {
    let c = compiler();
    let list = allowlist::parse(VALID.as_bytes()).expect("valid allow list");
    let entry = list.operations().next().expect("one operation");
    let mut doc = parse_at(&entry.text, entry.pos).expect("parses");
    let f = list.fragments().next().expect("fragment");
    doc.fragments
        .extend(parse_at(&f.text, f.pos).expect("fragment parses").fragments);
    for role in c.roles() {
        c.compile(&doc, 0, &role)
            .unwrap_or_else(|e| panic!("{role}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn edits_of_a_valid_file_never_panic(edits in prop::collection::vec((0usize..VALID.len(), 0usize..4, 0usize..TOKENS.len(), any::<u8>()), 1..8)) {
        let c = compiler();
        let mut bytes = VALID.as_bytes().to_vec();
        for (at, kind, tok, byte) in edits {
            let at = at.min(bytes.len());
            match kind {
                0 => { bytes.splice(at..at, TOKENS[tok].bytes()); }
                1 => { let end = (at + 1 + tok).min(bytes.len()); bytes.drain(at..end); }
                2 => { if at < bytes.len() { bytes[at] = byte; } }
                _ => { bytes.insert(at, byte); }
            }
        }
        compile_everything(&bytes, &c);
    }

    #[test]
    fn token_soup_never_panics(toks in prop::collection::vec(0usize..TOKENS.len(), 0..120)) {
        let c = compiler();
        let mut s = String::from("query q {\n");
        for t in toks {
            s.push_str(TOKENS[t]);
            s.push(' ');
        }
        s.push_str("\n}\n");
        compile_everything(s.as_bytes(), &c);
    }
}
