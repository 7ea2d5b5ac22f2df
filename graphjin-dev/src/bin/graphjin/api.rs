//! `graphjin openapi` and `graphjin typescript`: the locked API, described.

use std::path::Path;

use crate::inspect::load;
use crate::output::{Failure, Outcome, print_stdout};

/// The OpenAPI 3.1 document of the REST routes and actions, as JSON on stdout.
pub fn openapi(config_dir: &Path, api_prefix: &str, server: Option<&str>) -> Outcome {
    use graphjin_codegen::tools::openapi::{OpenApiOptions, document};
    use graphjin_codegen::tools::surface::ApiConfig;
    let project = load(config_dir)?;
    let ops = project.compile().map_err(|errors| Failure::all(&errors))?;
    let api = ApiConfig::load(config_dir)?;
    let options = OpenApiOptions {
        api_prefix: api_prefix.to_owned(),
        server: server.map(str::to_owned),
    };
    let doc = document(&project, &ops, &api, &options);
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    print_stdout(&text)
}

/// A TypeScript module on stdout: every operation's types and a typed caller.
pub fn typescript(config_dir: &Path) -> Outcome {
    let project = load(config_dir)?;
    let ops = project.compile().map_err(|errors| Failure::all(&errors))?;
    print_stdout(&graphjin_codegen::tools::typescript::module(&project, &ops))
}
