//! Introspection in the development server: `__schema`, `__type(name:)` and `__typename`
//! answered from `db.graphql` and the config, so GraphiQL, IDE completion and client code
//! generators see the schema (GraphQL's standard `IntrospectionQuery` included).
//!
//! [`from_catalog::schema`] builds the schema model once per compiled project, the way
//! GraphJin's `core/intro.go` describes a database; [`answer`] resolves an operation whose
//! root fields are all meta fields against it. Such operations never reach the compiler
//! and are never recorded into allow.list. The production runtime has no compiler and
//! answers no introspection.

pub mod from_catalog;
pub mod model;
pub mod resolve;

use graphjin_codegen::gql::parse_document;
use serde_json::{Value as Json, json};

pub use model::Schema;
pub use resolve::ResolveError;

/// The response to `text` when it is an introspection operation: every root field is
/// `__schema`, `__type` or `__typename` (at least one of the first two, or only
/// `__typename`). `None` when the operation reads the database (or does not parse; the
/// compiler then reports why). An operation mixing both is answered with an error.
pub fn answer(
    schema: &Schema,
    text: &str,
    operation_name: Option<&str>,
    variables: Option<&Json>,
) -> Option<Json> {
    let doc = parse_document(text).ok()?;
    let op = match operation_name.filter(|n| !n.is_empty()) {
        Some(name) => doc
            .operations
            .iter()
            .find(|o| o.name.as_ref().is_some_and(|n| n.value == name))?,
        None => match doc.operations.as_slice() {
            [op] => op,
            _ => return None,
        },
    };
    let resolver = resolve::Resolver::new(schema, &doc, op, variables);
    let roots = resolver.root_fields(op).ok()?;
    let meta = |n: &str| n == "__schema" || n == "__type";
    let names = || roots.iter().map(|(_, f)| f[0].name.value.as_str());
    let introspection =
        names().any(meta) || (!roots.is_empty() && names().all(|n| n == "__typename"));
    if !introspection {
        return None;
    }
    Some(match resolver.data(op) {
        Ok(data) => json!({ "data": data }),
        Err(e) => json!({
            "errors": [{
                "message": e.to_string(),
                "extensions": { "code": "GRAPHQL_VALIDATION_FAILED" }
            }]
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use graphjin_codegen::Project;
    use graphjin_codegen::allowlist::AllowList;
    use graphjin_codegen::config::BuildConfig;
    use graphjin_codegen::schema::parse_schema;

    const DB: &str = r#"# dbinfo:postgres,150018,public
# enum:order_status ["pending","shipped"]

type users {
  id: Bigint! @id @unique
  email: Text!
  secret: Text @blocked
}

type products {
  id: Bigint! @id @unique
  name: Text!
  price: Numeric
  tags: [Text]
  tsv: Tsvector @search
  owner_id: Bigint @relation(type: users, field: id)
}

type orders {
  id: Bigint! @id
  status: Order_status!
  product_id: Bigint! @relation(type: products, field: id)
}
"#;

    fn small() -> Schema {
        let db = parse_schema(DB).expect("db.graphql parses");
        // A project with no operations and the default config, compiled.
        let project = Project {
            dir: "config".into(),
            allow_list: AllowList::default(),
            schema: db.clone(),
            config: BuildConfig::default(),
            config_name: "(no config)".into(),
            files: Vec::new(),
        };
        from_catalog::schema(&db, &project.compile().expect("compiles"))
    }

    fn ask(schema: &Schema, q: &str) -> Json {
        answer(schema, q, None, None).expect("an introspection operation")
    }

    fn type_ref(t: &Json) -> String {
        match t["kind"].as_str() {
            Some("NON_NULL") => format!("{}!", type_ref(&t["ofType"])),
            Some("LIST") => format!("[{}]", type_ref(&t["ofType"])),
            _ => t["name"].as_str().unwrap_or("?").to_owned(),
        }
    }

    #[test]
    fn type_by_name_with_fields_args_and_relations() {
        let s = small();
        let v = ask(
            &s,
            "{ __type(name: \"products\") { kind name fields { name type { kind name ofType { kind name ofType { kind name } } } args { name } } } }",
        );
        let t = &v["data"]["__type"];
        assert_eq!(t["kind"], "OBJECT");
        let field = |n: &str| {
            t["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == n)
                .unwrap_or_else(|| panic!("field {n} in {t}"))
                .clone()
        };
        assert_eq!(type_ref(&field("id")["type"]), "ID!");
        assert_eq!(type_ref(&field("name")["type"]), "String!");
        assert_eq!(type_ref(&field("price")["type"]), "Float");
        assert_eq!(type_ref(&field("tags")["type"]), "[String]");
        // Many-to-one: an object; one-to-many: a list.
        assert_eq!(type_ref(&field("owner")["type"]), "users");
        assert_eq!(type_ref(&field("orders")["type"]), "[orders!]");
        let args: Vec<_> = field("orders")["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect();
        for a in ["id", "where", "order_by", "limit", "offset", "distinct"] {
            assert!(args.contains(&a.to_owned()), "{a} in {args:?}");
        }
        assert!(
            t["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "search_rank")
        );
        // A blocked column is not shown.
        let users = ask(&s, "{ __type(name: \"users\") { fields { name } } }");
        assert!(
            !users["data"]["__type"]["fields"]
                .to_string()
                .contains("secret")
        );
    }

    #[test]
    fn roots_where_order_by_and_mutation_inputs() {
        let s = small();
        let v = ask(
            &s,
            "query { __schema { queryType { name } mutationType { name } subscriptionType { name } } }",
        );
        assert_eq!(
            v["data"]["__schema"],
            json!({"queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"}, "subscriptionType": {"name": "Subscription"}})
        );
        let q = ask(
            &s,
            "{ __type(name: \"Query\") { fields { name args { name type { name } } } } }",
        );
        let fields = q["data"]["__type"]["fields"].as_array().unwrap();
        let names: Vec<_> = fields.iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "users",
                "users_cursor",
                "user",
                "products",
                "products_cursor",
                "product",
                "orders",
                "orders_cursor",
                "order"
            ]
        );
        let products = &fields[3];
        assert!(
            products["args"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["name"] == "search" && a["type"]["name"] == "String")
        );
        let w = ask(
            &s,
            "{ __type(name: \"productsWhereInput\") { kind inputFields { name type { name } } } }",
        );
        let inputs = w["data"]["__type"]["inputFields"].as_array().unwrap();
        assert_eq!(w["data"]["__type"]["kind"], "INPUT_OBJECT");
        assert!(
            inputs
                .iter()
                .any(|i| i["name"] == "price" && i["type"]["name"] == "FloatExpression")
        );
        assert!(
            inputs
                .iter()
                .any(|i| i["name"] == "tags" && i["type"]["name"] == "StringListExpression")
        );
        let m = ask(
            &s,
            "{ __type(name: \"Mutation\") { fields { name args { name type { name } } } } }",
        );
        let args = m["data"]["__type"]["fields"][1]["args"].to_string();
        for a in [
            "insertproductsInput",
            "updateproductsInput",
            "upsertproductsInput",
            "\"delete\"",
        ] {
            assert!(args.contains(a), "{a} in {args}");
        }
        let e = ask(
            &s,
            "{ __type(name: \"Order_status\") { kind enumValues { name } } }",
        );
        assert_eq!(
            e["data"]["__type"],
            json!({"kind": "ENUM", "enumValues": [{"name": "pending"}, {"name": "shipped"}]})
        );
        let missing = ask(&s, "{ __type(name: \"nothing\") { name } }");
        assert_eq!(missing["data"]["__type"], Json::Null);
    }

    #[test]
    fn fragments_aliases_variables_and_directives() {
        let s = small();
        let q = "query Q($n: String!, $withKind: Boolean = true) {
            t: __type(name: $n) { ...Named kind @include(if: $withKind) k2: kind @skip(if: true) }
            __typename
        }
        fragment Named on __Type { name ... on __Type { description } ... on __Field { args { name } } }";
        let v = answer(&s, q, Some("Q"), Some(&json!({"n": "OrderDirection"}))).unwrap();
        assert_eq!(
            v,
            json!({"data": {"t": {"name": "OrderDirection", "description": "Result ordering types", "kind": "ENUM"}, "__typename": "Query"}})
        );
    }

    #[test]
    fn errors_and_operations_left_to_the_compiler() {
        let s = small();
        assert!(answer(&s, "query q { products { id } }", None, None).is_none());
        assert!(answer(&s, "query q { __typename products { id } }", None, None).is_none());
        assert!(answer(&s, "not graphql", None, None).is_none());
        let mixed = ask(&s, "{ __schema { queryType { name } } products { id } }");
        assert!(
            mixed["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("\"products\" reads the database"),
            "{mixed}"
        );
        let typo = ask(&s, "{ __schema { typse { name } } }");
        assert_eq!(
            typo["errors"][0]["message"],
            "Cannot query field \"typse\" on type \"__Schema\" (did you mean `types`?)"
        );
        let cycle = ask(
            &s,
            "{ __schema { types { ...A } } } fragment A on __Type { ...A }",
        );
        assert!(
            cycle["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("spreads itself")
        );
        let bare = ask(&s, "{ __schema { queryType } }");
        assert!(
            bare["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("must have a selection of subfields")
        );
        let sub = ask(&s, "subscription { __typename }");
        assert_eq!(sub["data"]["__typename"], "Subscription");
    }
}
