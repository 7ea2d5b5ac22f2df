//! GraphJin's documented config forms compile to the same SQL as the plain forms: presets
//! as a list of one-key maps, capitalized keys, a single value where a list is expected,
//! numbers and bools written as strings. Type errors name the file and the key path, and
//! `GJ_` variables override build keys.

use std::path::{Path, PathBuf};

use graphjin_codegen::Project;
use graphjin_codegen::config::load_config_with_env;

const SCHEMA: &str = include_str!("fixtures/db.graphql");

const ALLOW_LIST: &str = r#"
variables { "data": { "name": "", "price": 1, "description": "" } }

mutation addProduct {
  products(insert: $data) { id name }
}

query products {
  products { id name }
}

query productNames {
  products { name }
}
"#;

/// A fresh project folder with `dev.yml` = `yaml`.
fn project(name: &str, yaml: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("config_forms")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("allow.list"), ALLOW_LIST).expect("allow.list");
    std::fs::write(dir.join("db.graphql"), SCHEMA).expect("db.graphql");
    std::fs::write(dir.join("dev.yml"), yaml).expect("dev.yml");
    dir
}

/// The SQL of operation `op` for `role`, compiled with `yaml` as the config.
fn sql(name: &str, yaml: &str, op: &str, role: &str) -> String {
    let dir = project(name, yaml);
    let project = Project::load(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    let ops = project.compile().unwrap_or_else(|errors| {
        panic!(
            "{name}: {}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let op = ops.iter().find(|o| o.name == op).expect("operation");
    let (_, query) = op
        .roles
        .iter()
        .find(|(r, _)| r == role)
        .unwrap_or_else(|| panic!("{name}: role {role} may not run it"));
    std::fs::remove_dir_all(&dir).ok();
    query.sql.clone()
}

const PRESETS_MAP: &str = r#"
roles:
  - name: user
    tables:
      - name: products
        insert:
          presets:
            owner_id: "$user_id"
            description: "added by a user"
"#;

#[test]
fn presets_as_a_list_of_one_key_maps_compile_like_the_map_form() {
    let map = sql("map", PRESETS_MAP, "addProduct", "user");
    assert!(map.contains("added by a user"), "presets applied: {map}");
    // GraphJin's documented form.
    let list = r#"
roles:
  - name: user
    tables:
      - name: products
        insert:
          presets:
            - owner_id: "$user_id"
            - description: "added by a user"
"#;
    assert_eq!(sql("list", list, "addProduct", "user"), map);
    // Keys in any case; the preset column keeps its spelling.
    let capitalized = r#"
Roles:
  - Name: user
    Tables:
      - Name: products
        Insert:
          Presets:
            - owner_id: "$user_id"
            - description: "added by a user"
"#;
    assert_eq!(sql("capitalized", capitalized, "addProduct", "user"), map);
}

#[test]
fn a_single_value_is_a_list_of_one() {
    let list = "roles:\n  - name: user\n    tables:\n      - name: products\n        query:\n          columns: [name]\n";
    let want = sql("columns-list", list, "productNames", "user");
    // `columns: name` is `columns: [name]`; a single role entry is a list of one too.
    let single =
        "roles:\n  name: user\n  tables:\n    name: products\n    query:\n      columns: name\n";
    assert_eq!(sql("columns-single", single, "productNames", "user"), want);
    // And `id` is refused to the user, as with the list.
    let dir = project("columns-refused", single);
    let ops = Project::load(&dir)
        .expect("loads")
        .compile()
        .expect("compiles");
    let op = ops.iter().find(|o| o.name == "products").expect("op");
    assert!(
        op.refused
            .iter()
            .any(|(role, why)| role == "user" && why.contains("blocked: id")),
        "{:?}",
        op.refused
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn numbers_and_bools_written_as_strings_compile_like_numbers_and_bools() {
    let plain = "default_limit: 7\nroles:\n  - name: user\n    tables:\n      - name: products\n        query:\n          limit: 5\n          disable_functions: true\n";
    let quoted = "default_limit: \"7\"\nroles:\n  - name: user\n    tables:\n      - name: products\n        query:\n          limit: \"5\"\n          disable_functions: \"true\"\n";
    let want = sql("plain", plain, "products", "user");
    assert!(want.contains('5'), "{want}");
    assert_eq!(sql("quoted", quoted, "products", "user"), want);
    assert_eq!(
        sql("quoted-anon", quoted, "products", "anon"),
        sql("plain-anon", plain, "products", "anon")
    );
}

#[test]
fn a_type_error_names_the_file_and_the_key_path() {
    let yaml = "roles:\n  - name: anon\n  - name: user\n    tables:\n      - name: products\n        insert:\n          limit: lots\n";
    let dir = project("type-error", yaml);
    let err = Project::load(&dir).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: key `roles[1].tables[0].insert.limit`: invalid value: string \"lots\", expected a whole number (u32)",
            dir.join("dev.yml").display()
        )
    );
    let yaml = "roles: [{name: user, tables: [{name: products, insert: {presets: [owner_id]}}]}]\n";
    let err = Project::load(&project("presets-error", yaml))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("key `roles[0].tables[0].insert.presets`: invalid type: sequence"),
        "{err}"
    );
}

#[test]
fn gj_variables_override_build_keys() {
    let dir = project("env", "default_limit: 5\nvariables: {admin_id: '1'}\n");
    let path: &Path = &dir.join("dev.yml");
    let (config, files) = load_config_with_env(path, |name| match name {
        "GJ_DEFAULT_LIMIT" => Some("3".to_owned()),
        "GJ_ENABLE_CAMELCASE" => Some("true".to_owned()),
        "GJ_VARIABLES_ADMIN_ID" => Some("42".to_owned()),
        "GJ_BLOCKLIST" => Some("secrets, passwords".to_owned()),
        "GJ_ROLES_QUERY" => Some(String::new()),
        _ => None,
    })
    .expect("loads");
    assert_eq!(files, [path.to_path_buf()]);
    assert_eq!(config.default_limit, Some(3));
    assert!(config.enable_camelcase);
    assert_eq!(config.variables["admin_id"], "42");
    assert_eq!(config.blocklist, ["secrets", "passwords"]);
    assert_eq!(config.roles_query, None, "an empty variable is unset");

    let err = load_config_with_env(path, |name| {
        (name == "GJ_DEFAULT_LIMIT").then(|| "many".to_owned())
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("environment variable GJ_DEFAULT_LIMIT: invalid value"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
