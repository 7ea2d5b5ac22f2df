//! The reader accepts what GraphJin's viper/mapstructure setup accepts, and no more: the
//! documented YAML forms, `inherits:`, `GJ_` overrides derived from the types, and errors
//! that name the file (or variable) and the key path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use graphjin_config::{Error, Schema, Source};
use serde::Deserialize;

#[derive(Debug, Deserialize, Default, PartialEq)]
#[serde(default)]
struct Top {
    default_limit: Option<u32>,
    enable_camelcase: bool,
    variables: BTreeMap<String, String>,
    blocklist: Vec<String>,
    roles: Vec<Role>,
    auth: Auth,
    ratio: Option<f64>,
    name: Option<String>,
}

#[derive(Debug, Deserialize, Default, PartialEq)]
#[serde(default)]
struct Role {
    name: String,
    tables: Vec<RoleTable>,
}

#[derive(Debug, Deserialize, Default, PartialEq)]
#[serde(default)]
struct RoleTable {
    name: String,
    insert: Option<Rules>,
}

#[derive(Debug, Deserialize, Default, PartialEq)]
#[serde(default)]
struct Rules {
    columns: Vec<String>,
    presets: BTreeMap<String, String>,
    limit: Option<u32>,
    block: bool,
}

#[derive(Debug, Deserialize, Default, PartialEq)]
#[serde(default)]
struct Auth {
    #[serde(rename = "type")]
    kind: Kind,
    jwt: Jwt,
}

#[derive(Debug, Deserialize, Default, PartialEq)]
#[serde(default)]
struct Jwt {
    secret: Option<String>,
    issuer: Option<String>,
    #[serde(alias = "aud")]
    audience: Option<String>,
}

#[derive(Debug, Deserialize, Default, PartialEq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Kind {
    #[default]
    None,
    Jwt,
    #[serde(alias = "hdr")]
    Header,
}

fn parse(yaml: &str) -> Result<Top, Error> {
    Source::parse(yaml, Path::new("config/dev.yml"))?.deserialize()
}

fn presets(top: &Top) -> &BTreeMap<String, String> {
    &top.roles[0].tables[0]
        .insert
        .as_ref()
        .expect("insert rules")
        .presets
}

#[test]
fn presets_as_a_list_of_one_key_maps_equal_the_map_form() {
    let list = parse(
        r#"
roles:
  - name: user
    tables:
      - name: products
        insert:
          presets:
            - user_id: "$user_id"
            - created_at: "now"
"#,
    )
    .expect("GraphJin's documented form");
    let map = parse(
        "roles:\n  - name: user\n    tables:\n      - name: products\n        insert:\n          presets: {user_id: $user_id, created_at: now}\n",
    )
    .expect("map form");
    assert_eq!(list, map);
    assert_eq!(presets(&list)["user_id"], "$user_id");
    // Later items replace earlier ones, as a merge in order does.
    let twice = parse(
        "roles: [{name: user, tables: [{name: p, insert: {presets: [{a: '1'}, {a: '2'}]}}]}]",
    )
    .expect("parses");
    assert_eq!(presets(&twice)["a"], "2");
}

#[test]
fn a_struct_may_be_a_list_of_maps_too() {
    let top = parse("auth:\n  - type: jwt\n  - jwt: {issuer: me}\n").expect("parses");
    assert_eq!(top.auth.kind, Kind::Jwt);
    assert_eq!(top.auth.jwt.issuer.as_deref(), Some("me"));
}

#[test]
fn a_single_value_is_a_one_element_list() {
    let top = parse(
        "blocklist: secrets\nroles:\n  name: user\n  tables:\n    name: products\n    insert:\n      columns: id\n",
    )
    .expect("parses");
    assert_eq!(top.blocklist, ["secrets"]);
    assert_eq!(top.roles[0].name, "user");
    assert_eq!(
        top.roles[0].tables[0]
            .insert
            .as_ref()
            .map(|r| r.columns.clone()),
        Some(vec!["id".to_owned()])
    );
}

#[test]
fn numbers_and_bools_written_as_strings() {
    let top = parse(
        "default_limit: \"5\"\nenable_camelcase: \"true\"\nratio: \"0.5\"\nname: 7.0\nroles: [{name: 1, tables: [{name: t, insert: {limit: '10', block: '1'}}]}]\n",
    )
    .expect("parses");
    assert_eq!(top.default_limit, Some(5));
    assert!(top.enable_camelcase);
    assert_eq!(top.ratio, Some(0.5));
    assert_eq!(top.name.as_deref(), Some("7.0"));
    assert_eq!(top.roles[0].name, "1");
    let rules = top.roles[0].tables[0].insert.as_ref().expect("rules");
    assert_eq!(rules.limit, Some(10));
    assert!(rules.block);
    for (text, want) in [("FALSE", false), ("0", false), ("on", true), ("t", true)] {
        let top = parse(&format!("enable_camelcase: {text:?}\n")).expect("parses");
        assert_eq!(top.enable_camelcase, want, "{text}");
    }
    assert_eq!(
        parse("default_limit: 5.0\n")
            .expect("whole float")
            .default_limit,
        Some(5)
    );
}

#[test]
fn keys_and_enum_names_in_any_case() {
    let top = parse(
        "Default_Limit: 3\nROLES:\n  - Name: user\n    Tables:\n      - NAME: products\n        Insert:\n          Presets:\n            - User_ID: $user_id\n\
         Auth:\n  Type: JWT\n  Jwt: {Issuer: me, AUD: x}\n",
    )
    .expect("parses");
    assert_eq!(top.default_limit, Some(3));
    assert_eq!(top.roles[0].tables[0].name, "products");
    // A free-form map's keys keep their spelling.
    assert_eq!(presets(&top)["User_ID"], "$user_id");
    assert_eq!(top.auth.kind, Kind::Jwt);
    assert_eq!(top.auth.jwt.issuer.as_deref(), Some("me"));
    assert_eq!(top.auth.jwt.audience.as_deref(), Some("x"), "aliases too");
    assert_eq!(
        parse("auth: {type: HDR}").expect("alias").auth.kind,
        Kind::Header
    );
    // The same key twice in different case is an error, not a silent pick.
    let e = parse("auth: {type: jwt, Type: header}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("duplicate field `type`"), "{e}");
}

#[test]
fn type_errors_name_the_file_and_the_key_path() {
    let e = parse(
        "roles:\n  - name: anon\n  - name: user\n    tables:\n      - name: products\n        insert:\n          limit: lots\n",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "config/dev.yml: key `roles[1].tables[0].insert.limit`: invalid value: string \"lots\", expected a whole number (u32)"
    );
    let e = parse("roles: [{name: user, tables: [{name: p, insert: {presets: [a, b]}}]}]")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "config/dev.yml: key `roles[0].tables[0].insert.presets`: invalid type: sequence"
        ),
        "{e}"
    );
    let e = parse("enable_camelcase: maybe\n").unwrap_err().to_string();
    assert!(e.contains("key `enable_camelcase`"), "{e}");
    let e = parse("auth: {type: ldap}\n").unwrap_err().to_string();
    assert!(e.contains("key `auth.type`: unknown variant `ldap`"), "{e}");
    let e = parse("default_limit: -1\n").unwrap_err().to_string();
    assert!(e.contains("key `default_limit`"), "{e}");
    let e = parse("roles: 3\n").unwrap_err().to_string();
    assert!(
        e.contains("key `roles[0]`: invalid type: integer `3`"),
        "{e}"
    );
    let e = parse("a: [1\n").unwrap_err().to_string();
    assert!(e.starts_with("config/dev.yml: "), "{e}");
    let e = parse("- 1\n").unwrap_err().to_string();
    assert!(e.contains("mapping of keys"), "{e}");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join("graphjin-config-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

#[test]
fn inherits_replaces_top_level_keys_and_names_the_file_of_each() {
    let dir = temp_dir("inherits");
    std::fs::write(
        dir.join("dev.yml"),
        "default_limit: 5\nenable_camelcase: true\nauth: {type: jwt, jwt: {secret: s}}\nroles: [{name: x, tables: [{name: t, insert: {limit: bad}}]}]\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("prod.yml"),
        "Inherits: dev\nDefault_Limit: 7\nAUTH: {jwt: {issuer: me}}\nroles: []\n",
    )
    .expect("write");
    let source = Source::read(&dir.join("prod.yml")).expect("reads");
    assert_eq!(source.files(), [dir.join("prod.yml"), dir.join("dev.yml")]);
    let top: Top = source.deserialize().expect("parses");
    assert_eq!(top.default_limit, Some(7));
    assert!(top.enable_camelcase, "inherited");
    assert_eq!(
        top.auth.jwt.secret, None,
        "auth replaced whole, whatever its case"
    );
    assert_eq!(top.auth.jwt.issuer.as_deref(), Some("me"));

    // A bad key inherited from dev.yml is reported against dev.yml.
    std::fs::write(dir.join("prod.yml"), "inherits: dev\n").expect("write");
    let e = Source::read(&dir.join("prod.yml"))
        .expect("reads")
        .deserialize::<Top>()
        .unwrap_err();
    match &e {
        Error::Key { path, key, .. } => {
            assert_eq!(path, &dir.join("dev.yml"));
            assert_eq!(key, "roles[0].tables[0].insert.limit");
        }
        other => panic!("{other}"),
    }

    std::fs::write(dir.join("prod.yml"), "inherits: [dev]\n").expect("write");
    let e = Source::read(&dir.join("prod.yml")).unwrap_err().to_string();
    assert!(e.contains("key `inherits`"), "{e}");

    std::fs::write(dir.join("prod.yml"), "inherits: base\n").expect("write");
    std::fs::write(dir.join("base.yml"), "inherits: prod\n").expect("write");
    let e = Source::read(&dir.join("prod.yml")).unwrap_err();
    assert!(matches!(e, Error::InheritCycle { .. }), "{e}");
    assert!(e.to_string().contains("prod.yml -> "), "{e}");

    std::fs::write(dir.join("prod.yml"), "inherits: nowhere\n").expect("write");
    let e = Source::read(&dir.join("prod.yml")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert!(e.to_string().contains("nowhere.yml"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

fn with_env(yaml: &str, env: &[(&str, &str)]) -> Result<Top, Error> {
    let mut source = Source::parse(yaml, Path::new("dev.yml"))?;
    source.apply_env(&Schema::of::<Top>(), |name| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    });
    source.deserialize()
}

#[test]
fn every_key_has_a_gj_variable() {
    let vars = Schema::of::<Top>().env_vars();
    for var in [
        "GJ_DEFAULT_LIMIT",
        "GJ_ENABLE_CAMELCASE",
        "GJ_VARIABLES_<KEY>",
        "GJ_BLOCKLIST",
        "GJ_AUTH_TYPE",
        "GJ_AUTH_JWT_SECRET",
        "GJ_AUTH_JWT_ISSUER",
        "GJ_AUTH_JWT_AUDIENCE",
        "GJ_RATIO",
        "GJ_NAME",
    ] {
        assert!(vars.iter().any(|v| v == var), "{var} missing from {vars:?}");
    }
    // Keys inside lists have no fixed name; aliases are one key.
    assert!(!vars.iter().any(|v| v.starts_with("GJ_ROLES")), "{vars:?}");
    assert!(!vars.iter().any(|v| v.ends_with("_AUD")), "{vars:?}");
    let mut unique = vars.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), vars.len(), "{vars:?}");
}

#[test]
fn environment_overrides_nested_keys_without_special_cases() {
    let yaml =
        "default_limit: 5\nvariables: {admin_id: '1'}\nAuth:\n  Jwt: {Issuer: file, secret: s}\n";
    let top = with_env(
        yaml,
        &[
            ("GJ_AUTH_JWT_ISSUER", "https://issuer.example/"),
            ("GJ_DEFAULT_LIMIT", "9"),
            ("GJ_ENABLE_CAMELCASE", "true"),
            ("GJ_BLOCKLIST", "secrets, passwords"),
            ("GJ_VARIABLES_ADMIN_ID", "42"),
            ("GJ_AUTH_TYPE", "Jwt"),
            ("GJ_RATIO", ""),
        ],
    )
    .expect("applies");
    assert_eq!(
        top.auth.jwt.issuer.as_deref(),
        Some("https://issuer.example/")
    );
    assert_eq!(
        top.auth.jwt.secret.as_deref(),
        Some("s"),
        "the rest of the file stays"
    );
    assert_eq!(top.auth.kind, Kind::Jwt);
    assert_eq!(top.default_limit, Some(9));
    assert!(top.enable_camelcase);
    assert_eq!(top.blocklist, ["secrets", "passwords"]);
    assert_eq!(top.variables["admin_id"], "42");
    assert_eq!(top.ratio, None, "an empty variable is unset");

    // A key written under its alias is replaced, not doubled.
    let top = with_env(
        "auth: {jwt: {AUD: file}}\n",
        &[("GJ_AUTH_JWT_AUDIENCE", "env")],
    )
    .expect("applies");
    assert_eq!(top.auth.jwt.audience.as_deref(), Some("env"));

    // Through GraphJin's list-of-maps form of a struct, too.
    let top = with_env(
        "auth:\n  - jwt: {secret: s}\n  - type: jwt\n",
        &[("GJ_AUTH_JWT_ISSUER", "me")],
    )
    .expect("applies");
    assert_eq!(top.auth.jwt.secret.as_deref(), Some("s"));
    assert_eq!(top.auth.jwt.issuer.as_deref(), Some("me"));
}

#[test]
fn a_bad_variable_is_named_and_its_value_kept_out() {
    let e = with_env("", &[("GJ_DEFAULT_LIMIT", "hunter2-lots")]).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("environment variable GJ_DEFAULT_LIMIT: invalid value"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    let e = with_env("", &[("GJ_AUTH_TYPE", "ldap")])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("environment variable GJ_AUTH_TYPE: unknown variant"),
        "{e}"
    );
    assert!(!e.contains("ldap"), "{e}");
}

#[derive(Debug, Deserialize, Default, PartialEq)]
#[serde(default)]
struct WithNamed {
    auths: Vec<Named>,
}

#[derive(Debug, Deserialize, Default, PartialEq)]
#[serde(default)]
struct Named {
    name: String,
    jwt: Jwt,
    url: Option<String>,
}

#[test]
fn named_list_entries_are_addressed_by_name() {
    let schema = Schema::of::<WithNamed>().named_list::<Named>("auths");
    let vars = schema.env_vars();
    assert!(
        vars.iter().any(|v| v == "GJ_AUTHS_<NAME>_JWT_SECRET"),
        "{vars:?}"
    );
    assert!(!vars.iter().any(|v| v == "GJ_AUTHS"), "{vars:?}");
    let mut source = Source::parse(
        "auths:\n  - name: admin-api\n  - name: hooks\n    url: x\n",
        Path::new("dev.yml"),
    )
    .expect("parses");
    source.apply_env(&schema, |name| match name {
        "GJ_AUTHS_ADMIN_API_JWT_SECRET" => Some("s1".to_owned()),
        "GJ_AUTHS_HOOKS_URL" => Some("https://hooks.example/".to_owned()),
        "GJ_AUTHS_HOOKS_JWT_ISSUER" => Some(String::new()),
        _ => None,
    });
    let c: WithNamed = source.deserialize().expect("parses");
    assert_eq!(c.auths[0].jwt.secret.as_deref(), Some("s1"));
    assert_eq!(c.auths[1].url.as_deref(), Some("https://hooks.example/"));
    assert_eq!(c.auths[1].jwt.issuer, None);
    assert_eq!(
        source.env_vars_applied().collect::<Vec<_>>(),
        ["GJ_AUTHS_ADMIN_API_JWT_SECRET", "GJ_AUTHS_HOOKS_URL"]
    );
}

/// Accepts a string or a map only, as a hand-written `Deserialize` might.
#[derive(Debug, Default, PartialEq)]
struct Picky(String);

impl<'de> Deserialize<'de> for Picky {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(Picky(s)),
            serde_json::Value::Object(_) => Ok(Picky("map".into())),
            _ => Err(serde::de::Error::custom("a string or a map")),
        }
    }
}

/// Refuses everything.
#[derive(Debug, Default, PartialEq)]
struct Never;

impl<'de> Deserialize<'de> for Never {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("never"))
    }
}

#[derive(Debug, Deserialize, Default, PartialEq)]
#[serde(default)]
struct Custom {
    picky: Picky,
    types: BTreeMap<String, Picky>,
    never: Never,
    nested: Nested,
}

#[derive(Debug, Deserialize, Default, PartialEq)]
#[serde(default)]
struct Nested {
    never: Never,
    after: u32,
}

#[test]
fn hand_written_deserialize_impls_are_keys_too() {
    let vars = Schema::of::<Custom>().env_vars();
    assert_eq!(
        vars,
        [
            "GJ_PICKY",
            "GJ_TYPES_<KEY>",
            "GJ_NEVER",
            "GJ_NESTED_NEVER",
            "GJ_NESTED_AFTER"
        ]
    );
    let mut source = Source::parse(
        "types: {uuid: uuid::Uuid}
",
        Path::new("dev.yml"),
    )
    .expect("parses");
    source.apply_env(&Schema::of::<Custom>(), |name| match name {
        "GJ_PICKY" => Some("from-env".to_owned()),
        "GJ_TYPES_UUID" => Some("my::Uuid".to_owned()),
        "GJ_NESTED_AFTER" => Some("3".to_owned()),
        _ => None,
    });
    assert_eq!(
        source.value(),
        &serde_json::json!({"types": {"uuid": "my::Uuid"}, "picky": "from-env", "nested": {"after": "3"}})
    );
}
