//! Compiles `config/` (allow.list, db.graphql, prod.yml) into `$OUT_DIR/graphjin.rs`, and
//! describes the same locked API as OpenAPI 3.1 in `$OUT_DIR/openapi.json`. The compiler
//! runs here, at build time only: it is a build-dependency, so the binary and its
//! dependency tree carry no GraphQL compiler.

fn main() {
    graphjin_codegen::emit::build("config");
    graphjin_codegen::tools::openapi::build("config", "openapi.json");
}
