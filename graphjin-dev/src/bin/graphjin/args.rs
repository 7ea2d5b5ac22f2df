//! The command line, declared with clap: every command, its options and their help.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// GraphJin for Rust build tools.
///
/// Pull the schema snapshot, check the allow list, print an operation's SQL, audit and diff
/// who reaches what, describe the locked API (OpenAPI, TypeScript), run a development
/// server.
#[derive(Debug, Parser)]
#[command(
    name = "graphjin",
    version,
    arg_required_else_help = true,
    after_help = "The database URL may also come from DATABASE_URL.\n\
                  Exit codes: 0 ok, 1 failure, 2 usage error (audit --diff: 1 new exposure, 2 error)."
)]
pub struct Cli {
    /// The config folder: db.graphql, allow.list, dev.yml.
    #[arg(long, global = true, value_name = "DIR", default_value = "config")]
    pub config_dir: PathBuf,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The schema snapshot (db.graphql).
    #[command(subcommand)]
    Schema(SchemaCommand),

    /// Compile every operation for every role; errors as allow.list:LINE:COL.
    Check,

    /// Print the SQL an operation compiles to (only the SQL, on stdout; its parameters on
    /// stderr).
    Sql {
        /// The operation's name in allow.list.
        name: String,
        /// The role to compile for.
        #[arg(long, value_name = "ROLE", default_value = "anon")]
        role: String,
    },

    /// Per operation and role: the columns read and written, or why refused.
    #[command(
        long_about = "Per operation and role: the columns read and written, or why refused.\n\n\
                      With --diff, what the config folder newly exposes (or no longer does) per \
                      role compared with DIR (a config folder) or REV (a git revision of the same \
                      folder): exit 0 nothing new, 1 new exposure, 2 error."
    )]
    Audit {
        /// Compare with a config folder or a git revision of this one.
        #[arg(long, value_name = "DIR|REV")]
        diff: Option<String>,
        /// Print the --diff report as JSON.
        #[arg(long, requires = "diff")]
        json: bool,
    },

    /// The OpenAPI 3.1 document of the REST routes and actions, as JSON.
    Openapi {
        /// The REST routes' path prefix.
        #[arg(long, value_name = "PATH", default_value = "/api")]
        api_prefix: String,
        /// The server URL to list in the document.
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },

    /// A TypeScript module: every operation's types and a typed caller.
    Typescript,

    /// Development server: compiles and runs any operation, records named ones into
    /// allow.list; playground at /playground.
    Dev {
        /// The database to serve.
        #[command(flatten)]
        database: DatabaseArg,
        /// The address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
}

/// `graphjin schema …`.
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Introspect a live database and write <config-dir>/db.graphql.
    Pull {
        /// The database to read.
        #[command(flatten)]
        database: DatabaseArg,
        /// The database schema to introspect.
        #[arg(long, value_name = "NAME", default_value = "public")]
        schema: String,
    },
}

/// `--database-url`, or `DATABASE_URL` from the environment. Its value (it may hold a
/// password) is never shown in help.
#[derive(Debug, Args)]
pub struct DatabaseArg {
    /// The PostgreSQL URL to connect to.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
