//! `include_allowlist!()`: a thin proc-macro over graphjin-codegen, which does all the work
//! (and is unit-tested without a proc-macro context).

use std::path::{Path, PathBuf};

use proc_macro::TokenStream;
use quote::quote;

/// Compiles `config/allow.list` (or the folder given: `include_allowlist!("path")`,
/// relative to the crate's `Cargo.toml`) against `db.graphql` and the YAML config, and
/// expands to a module per operation (`Variables`, `Data`, `run()`), the static
/// `OPERATIONS` table, `connect()` and `router()`.
///
/// A broken operation fails the build with `config/allow.list:LINE:COL: message`. Editing
/// any of the files read triggers a rebuild.
#[proc_macro]
pub fn include_allowlist(input: TokenStream) -> TokenStream {
    let dir = if input.is_empty() {
        "config".to_string()
    } else {
        match syn::parse::<syn::LitStr>(input) {
            Ok(lit) => lit.value(),
            Err(e) => return e.to_compile_error().into(),
        }
    };
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = root.join(&dir);
    match graphjin_codegen::emit::generate(&path) {
        Ok((code, files)) => {
            let tracked = files.iter().map(|f| {
                let f = f.to_string_lossy().into_owned();
                quote!(
                    const _: &[u8] = include_bytes!(#f);
                )
            });
            quote!(#code #(#tracked)*).into()
        }
        Err(errors) => {
            let errors = errors.iter().map(|e| {
                let msg = e.located(Some(Path::new(&dir))).to_string();
                quote!(::core::compile_error!(#msg);)
            });
            quote!(#(#errors)*).into()
        }
    }
}
