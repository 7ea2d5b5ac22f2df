//! Rust code for a compiled allow list: per operation a module with `Variables`, the
//! response structs and `run()`, plus the static `OPERATIONS` table, `connect()` and
//! `router()`. The same tokens serve `include_allowlist!()` and the `build.rs` helper.

mod idents;
pub mod rust_types;
mod structs;
mod table;
mod types;

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;

use crate::Error;
use crate::gql::ast::OpKind;
use crate::project::{CompiledOperation, Project};
use crate::runtime_table::{RoleQueryEntry, RuntimeTable};

pub use idents::{pascal_ident, snake_ident};
pub use rust_types::{RustConfig, TypeMap, TypeSpec};

/// Reads the config folder, compiles every operation for every role and returns the Rust
/// code, or every error found (render one with [`Error::located`]:
/// `config/allow.list:LINE:COL: message`).
pub fn generate(dir: &Path) -> Result<(TokenStream, Vec<PathBuf>), Vec<Error>> {
    let project = Project::load(dir).map_err(|e| vec![e])?;
    let ops = project.compile()?;
    let role_query = ops.role_query().map(|r| (r.sql.clone(), r.roles.clone()));
    let types = TypeMap::new(&project.config.rust, &project.schema).map_err(|source| {
        vec![Error::Catalog {
            file: project.config_name.clone(),
            source,
        }]
    })?;
    Ok((
        emit_typed(&ops, role_query.as_ref(), &types),
        project.files.clone(),
    ))
}

/// The same code as [`generate`], formatted for reading (what `build.rs` writes).
pub fn pretty(tokens: &TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => tokens.to_string(),
    }
}

/// Rust code for compiled operations with the default Rust types; `role_query` is the role
/// statement and the roles it can answer, when the config matches roles with `roles_query`.
pub fn emit(ops: &[CompiledOperation], role_query: Option<&(String, Vec<String>)>) -> TokenStream {
    emit_typed(ops, role_query, &TypeMap::default())
}

/// [`emit`] with the Rust types `types` chooses (the config's `rust:` block, the
/// snapshot's enums and domains).
pub fn emit_typed(
    ops: &[CompiledOperation],
    role_query: Option<&(String, Vec<String>)>,
    types: &TypeMap,
) -> TokenStream {
    // The operations' signed-in statements join it in the table.
    let role_query = role_query.map(|(sql, roles)| RoleQueryEntry {
        sql: sql.clone(),
        roles: roles.clone(),
        statements: Vec::new(),
    });
    let table::TableTokens {
        operations: table,
        role_query,
        batches,
        access,
    } = table::tokens(&RuntimeTable::new(ops, role_query));
    let modules: Vec<TokenStream> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| module(i, op, types))
        .collect();
    let count = ops.len();
    // Enums after the modules: only those some field or variable uses.
    let (enum_items, enum_table) = types.enums();
    let (enums_static, enums_call) = if enum_table.is_empty() {
        (quote!(), quote!())
    } else {
        (
            quote! {
                /// The PostgreSQL enums the generated types use, with their labels: checked
                /// against the database when [`connect`] opens a connection.
                pub static ENUMS: &[::graphjin_runtime::EnumType] = &[#(#enum_table),*];

                #enum_items
            },
            quote!(.enums(ENUMS)),
        )
    };
    quote! {
        /// Every allow-listed operation with its SQL per role, as compiled at build time.
        pub static OPERATIONS: [::graphjin_runtime::Operation; #count] = [#(#table),*];

        /// How a signed-in user's role is found (`roles_query` + `match`), if configured.
        pub static ROLE_QUERY: ::std::option::Option<&::graphjin_runtime::RoleQuery> = #role_query;

        /// Subscriptions' statements for polling all subscribers of an operation and role at once.
        pub static BATCHES: &[::graphjin_runtime::Batch] = &[#(#batches),*];

        /// Per operation and role: the columns read, or why the role is refused.
        pub static ACCESS: &[::graphjin_runtime::Access] = &[#(#access),*];

        #enums_static

        #(#modules)*

        /// Connects to PostgreSQL and prepares every operation for every role, and each
        /// subscription's batch statement, on each connection; fails (naming the operation
        /// and role) when the database does not match the schema snapshot the build used.
        pub async fn connect(
            database_url: &str,
            options: ::graphjin_runtime::PoolOptions,
        ) -> ::std::result::Result<::graphjin_runtime::Db, ::graphjin_runtime::Error> {
            db_builder(database_url).options(options).connect().await
        }

        /// A [`::graphjin_runtime::DbBuilder`] with everything this build generated (the
        /// operations, the role statement, the batch statements, the enums), for settings
        /// beyond [`connect`]'s such as TLS: `db_builder(url).tls(tls).connect().await`.
        pub fn db_builder(database_url: &str) -> ::graphjin_runtime::DbBuilder {
            ::graphjin_runtime::Db::builder(database_url, &OPERATIONS)
                .role_query(ROLE_QUERY)
                .batches(BATCHES)
                #enums_call
        }

        /// The HTTP routes serving exactly the allow-listed operations.
        pub fn router(service: ::graphjin_runtime::Service) -> ::graphjin_runtime::axum::Router {
            ::graphjin_runtime::router(service)
        }
    }
}

fn module(index: usize, op: &CompiledOperation, types: &TypeMap) -> TokenStream {
    let module = snake_ident(&op.name);
    let name = &op.name;
    let doc = format!(
        " `{} {}` (allow.list:{}): typed variables, response and `{}()`.",
        op.kind.keyword(),
        op.name,
        op.pos,
        if op.kind == OpKind::Subscription {
            "subscribe"
        } else {
            "run"
        }
    );
    let variables = structs::variables(&op.variables, types);
    let data = structs::data(&op.shape, types);
    let run = match op.kind {
        OpKind::Subscription => quote! {
            /// Subscribes as `who`: the stream yields the current `data` at once, then each
            /// change, polled with every other subscriber of the same role in one statement.
            pub fn subscribe(
                subs: &::graphjin_runtime::Subscriptions,
                who: &::graphjin_runtime::Auth,
                vars: &Variables,
            ) -> ::graphjin_runtime::Subscription<Data> {
                subs.subscribe(operation(), who, vars)
            }
        },
        _ => quote! {
            /// Runs the operation as `who` and returns its typed `data`.
            pub async fn run(
                db: &::graphjin_runtime::Db,
                who: &::graphjin_runtime::Auth,
                vars: &Variables,
            ) -> ::std::result::Result<Data, ::graphjin_runtime::Error> {
                db.run(operation(), who, vars).await
            }
        },
    };
    quote! {
        #[doc = #doc]
        pub mod #module {
            /// The operation's name in allow.list.
            pub const NAME: &str = #name;
            /// Its position in [`OPERATIONS`](super::OPERATIONS).
            pub const INDEX: usize = #index;

            /// The compiled operation.
            pub fn operation() -> &'static ::graphjin_runtime::Operation {
                &super::OPERATIONS[INDEX]
            }

            #variables
            #data
            #run
        }
    }
}

/// For `build.rs`: compiles `dir` (relative to the crate) into `$OUT_DIR/graphjin.rs`,
/// tells cargo to rebuild when a config file changes, and on errors prints every one and
/// exits with status 1. Include the result with
/// `include!(concat!(env!("OUT_DIR"), "/graphjin.rs"));`.
pub fn build(dir: &str) {
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = root.join(dir);
    println!("cargo:rerun-if-changed={}", path.display());
    // The build applies GraphJin's `GJ_` overrides to the config: a changed variable must
    // rebuild, as a changed file does.
    for var in crate::config::env_vars() {
        println!("cargo:rerun-if-env-changed={var}");
    }
    match generate(&path) {
        Ok((tokens, files)) => {
            for f in &files {
                println!("cargo:rerun-if-changed={}", f.display());
            }
            let out = std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            let target = out.join("graphjin.rs");
            if let Err(e) = std::fs::write(&target, pretty(&tokens)) {
                eprintln!("error: could not write {}: {e}", target.display());
                std::process::exit(1);
            }
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {}", e.located(Some(Path::new(dir))));
            }
            std::process::exit(1);
        }
    }
}
