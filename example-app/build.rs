//! Compiles `config/` (allow.list, db.graphql, prod.yml) into `$OUT_DIR/graphjin.rs`. The
//! compiler runs here, at build time only: it is a build-dependency, so the binary and its
//! dependency tree carry no GraphQL compiler.

fn main() {
    graphjin_codegen::emit::build("config");
}
