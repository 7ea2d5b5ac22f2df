//! `graphjin`: pull the schema snapshot, check the allow list, print an operation's SQL,
//! audit and diff who reaches what, describe the locked API (OpenAPI, TypeScript), run the
//! development server.
//!
//! The command line is declared with clap (`graphjin/args.rs`): `--help` and `--version`
//! print on stdout and exit 0; a usage error prints on stderr and exits 2; a command that
//! fails prints its problems on stderr and exits 1 (`audit --diff`: 1 means new exposure,
//! 2 an error).

mod api;
mod args;
mod dev;
mod inspect;
mod logging;
mod output;
mod schema;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, SchemaCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = cli.config_dir.as_path();
    let serving = matches!(cli.command, Command::Dev { .. });
    if let Err(e) = logging::init(dir, serving) {
        // A server without its logs is not worth starting; a build tool runs without them.
        if serving {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
        eprintln!("warning: {e}; continuing without logs");
    }
    let outcome = match &cli.command {
        Command::Schema(SchemaCommand::Pull { database, schema }) => {
            schema::pull(dir, database.database_url.as_deref(), schema)
        }
        Command::Check => inspect::check(dir),
        Command::Sql { name, role } => inspect::sql(dir, name, role),
        Command::Audit {
            diff: Some(other),
            json,
        } => return inspect::audit_diff(dir, other, *json),
        Command::Audit { diff: None, .. } => inspect::audit(dir),
        Command::Openapi { api_prefix, server } => api::openapi(dir, api_prefix, server.as_deref()),
        Command::Typescript => api::typescript(dir),
        Command::Dev { database, listen } => {
            dev::serve(dir, database.database_url.as_deref(), *listen)
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            for line in &failure.0 {
                eprintln!("{line}");
            }
            ExitCode::FAILURE
        }
    }
}
