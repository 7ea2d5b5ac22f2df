//! `graphjin`: pull the schema snapshot, check the allow list, print an operation's SQL,
//! audit and diff who reaches what, describe the locked API (OpenAPI, TypeScript).

use std::path::PathBuf;
use std::process::ExitCode;

use graphjin_codegen::{Error, Project};

const USAGE: &str = "\
graphjin: GraphJin for Rust build tools

USAGE:
    graphjin schema pull --database-url URL [--schema public] [--config-dir config]
    graphjin check [--config-dir config]
    graphjin sql NAME [--role ROLE] [--config-dir config]
    graphjin audit [--config-dir config] [--diff DIR|REV] [--json]
    graphjin openapi [--config-dir config] [--api-prefix /api] [--server URL]
    graphjin typescript [--config-dir config]
    graphjin dev --database-url URL [--config-dir config] [--listen 127.0.0.1:8080]

    schema pull   introspect a live database and write <config-dir>/db.graphql
    check         compile every operation for every role; errors as allow.list:LINE:COL
    sql           print the SQL an operation compiles to (only the SQL, on stdout)
    audit         per operation and role: the columns read and written, or why refused;
                  with --diff, what the config folder newly exposes (or no longer does)
                  per role compared with DIR (a config folder) or REV (a git revision of
                  the same folder): exit 0 nothing new, 1 new exposure, 2 error
    openapi       the OpenAPI 3.1 document of the REST routes and actions, as JSON
    typescript    a TypeScript module: every operation's types and a typed caller
    dev           development server: compiles and runs any operation, records named ones
                  into allow.list; playground at /playground

The database URL may also come from DATABASE_URL.";

/// Parsed command line.
struct Args {
    command: Vec<String>,
    config_dir: PathBuf,
    database_url: Option<String>,
    schema: String,
    role: String,
    listen: String,
    diff: Option<String>,
    json: bool,
    api_prefix: String,
    server: Option<String>,
}

fn parse_args(raw: Vec<String>) -> Result<Args, String> {
    let mut args = Args {
        command: Vec::new(),
        config_dir: PathBuf::from("config"),
        database_url: std::env::var("DATABASE_URL").ok(),
        schema: "public".into(),
        role: "anon".into(),
        listen: "127.0.0.1:8080".into(),
        diff: None,
        json: false,
        api_prefix: "/api".into(),
        server: None,
    };
    let mut it = raw.into_iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if a.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--config-dir" => args.config_dir = PathBuf::from(value("--config-dir")?),
            "--database-url" => args.database_url = Some(value("--database-url")?),
            "--schema" => args.schema = value("--schema")?,
            "--role" => args.role = value("--role")?,
            "--listen" => args.listen = value("--listen")?,
            "--diff" => args.diff = Some(value("--diff")?),
            "--json" => args.json = true,
            "--api-prefix" => args.api_prefix = value("--api-prefix")?,
            "--server" => args.server = Some(value("--server")?),
            "-h" | "--help" => return Err(String::new()),
            f if f.starts_with('-') => return Err(format!("unknown option `{f}`")),
            _ => args.command.push(a),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1).collect()) {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}\n");
            }
            eprintln!("{USAGE}");
            return if msg.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let cmd: Vec<&str> = args.command.iter().map(String::as_str).collect();
    let result = match cmd.as_slice() {
        ["schema", "pull"] => schema_pull(&args),
        ["check"] => check(&args),
        ["sql", name] => sql(&args, name),
        ["audit"] if args.diff.is_some() => return audit_diff(&args),
        ["audit"] => audit(&args),
        ["openapi"] => openapi(&args),
        ["typescript"] => typescript(&args),
        ["dev"] => dev(&args),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn schema_pull(args: &Args) -> Result<(), Vec<String>> {
    let url = args.database_url.clone().ok_or_else(|| {
        vec!["schema pull needs --database-url URL (or DATABASE_URL)".to_string()]
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| vec![format!("could not start the async runtime: {e}")])?;
    let text = rt
        .block_on(graphjin_codegen::schema::introspect::pull(
            &url,
            &args.schema,
        ))
        .map_err(|e| vec![e.to_string()])?;
    std::fs::create_dir_all(&args.config_dir)
        .map_err(|e| vec![format!("{}: {e}", args.config_dir.display())])?;
    let path = args.config_dir.join("db.graphql");
    let tmp = args.config_dir.join(".db.graphql.tmp");
    std::fs::write(&tmp, &text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| vec![format!("{}: {e}", path.display())])?;
    let tables = text.lines().filter(|l| l.starts_with("type ")).count();
    eprintln!("wrote {} ({tables} types)", path.display());
    Ok(())
}

fn load(args: &Args) -> Result<Project, Vec<String>> {
    Project::load(&args.config_dir).map_err(|e| vec![located(&e)])
}

fn located(e: &Error) -> String {
    e.to_string()
}

fn check(args: &Args) -> Result<(), Vec<String>> {
    let project = load(args)?;
    let ops = project
        .compile()
        .map_err(|errors| errors.iter().map(located).collect::<Vec<_>>())?;
    // The config's `rust:` block, as the build would read it.
    graphjin_codegen::emit::TypeMap::new(&project.config.rust, &project.schema).map_err(
        |source| {
            vec![located(&Error::Catalog {
                file: project.config_name.clone(),
                source,
            })]
        },
    )?;
    let roles = project.compiler().map(|c| c.roles().len()).unwrap_or(0);
    eprintln!("ok: {} operations compiled for {roles} roles", ops.len());
    Ok(())
}

fn sql(args: &Args, name: &str) -> Result<(), Vec<String>> {
    let project = load(args)?;
    let Some(entry) = project.allow_list.find(name) else {
        let names: Vec<&str> = project
            .allow_list
            .operations()
            .map(|o| o.name.as_str())
            .collect();
        let hint = graphjin_codegen::compile::names::suggestion(name, names);
        return Err(vec![format!("allow.list has no operation `{name}`{hint}")]);
    };
    let compiler = project.compiler().map_err(|e| vec![located(&e)])?;
    let roles = compiler.roles();
    if !roles.contains(&args.role) {
        return Err(vec![format!(
            "unknown role `{}` (roles: {})",
            args.role,
            roles.join(", ")
        )]);
    }
    let mut doc =
        graphjin_codegen::parse_at(&entry.text, entry.pos).map_err(|e| vec![located(&e)])?;
    for f in project.allow_list.fragments() {
        let d = graphjin_codegen::parse_at(&f.text, f.pos).map_err(|e| vec![located(&e)])?;
        doc.fragments.extend(d.fragments);
    }
    let q = compiler.compile(&doc, 0, &args.role).map_err(|e| {
        vec![format!(
            "allow.list:{}: {} (operation `{}`, role `{}`)",
            e.pos, e.message, entry.name, args.role
        )]
    })?;
    print_stdout(&format!("{};\n", q.sql))?;
    if !q.params.is_empty() {
        let list: Vec<String> = q
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| format!("${} = ${} ({})", i + 1, p.name, p.pg_type))
            .collect();
        eprintln!("-- parameters: {}", list.join(", "));
    }
    Ok(())
}

/// Writes to stdout; a closed pipe (`graphjin audit | head`) ends quietly, not in a panic.
fn print_stdout(text: &str) -> Result<(), Vec<String>> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(vec![format!("cannot write to stdout: {e}")]),
    }
}

fn audit(args: &Args) -> Result<(), Vec<String>> {
    let project = load(args)?;
    let ops = project
        .compile()
        .map_err(|errors| errors.iter().map(located).collect::<Vec<_>>())?;
    let compiler = project.compiler().map_err(|e| vec![located(&e)])?;
    let roles = compiler.roles();
    let reach = graphjin_codegen::tools::access::access(&project, &compiler, &ops);
    let grouped = |cols: &std::collections::BTreeSet<String>| -> String {
        let mut by_table: Vec<(String, Vec<String>)> = Vec::new();
        for c in cols {
            let (t, col) = c.rsplit_once('.').unwrap_or(("", c));
            match by_table.last_mut() {
                Some((last, list)) if last == t => list.push(col.to_string()),
                _ => by_table.push((t.to_string(), vec![col.to_string()])),
            }
        }
        by_table
            .iter()
            .map(|(t, cols)| format!("{t}({})", cols.join(", ")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut text = String::new();
    for op in &reach {
        text.push_str(&format!("{} ({})\n", op.name, op.kind.keyword()));
        for role in &roles {
            if let Some(r) = op.roles.iter().find(|r| &r.role == role) {
                let reads = if r.reads.is_empty() {
                    "nothing".to_string()
                } else {
                    grouped(&r.reads)
                };
                let mut line = format!("  {role}: reads {reads}");
                if !r.writes.is_empty() {
                    line.push_str(&format!("; writes {}", grouped(&r.writes)));
                }
                if !r.deletes.is_empty() {
                    let tables: Vec<&str> = r.deletes.iter().map(String::as_str).collect();
                    line.push_str(&format!("; deletes rows of {}", tables.join(", ")));
                }
                text.push_str(&line);
                text.push('\n');
            } else if let Some((_, why)) = op.refused.iter().find(|(r, _)| r == role) {
                text.push_str(&format!("  {role}: blocked ({why})\n"));
            }
        }
    }
    print_stdout(&text)
}

/// `audit --diff`: exit 0 when nothing new is exposed, 1 when something is, 2 on errors.
fn audit_diff(args: &Args) -> ExitCode {
    use graphjin_codegen::tools::diff::{Checkout, Exposure, diff};
    let other = args.diff.clone().unwrap_or_default();
    let run = || -> Result<bool, String> {
        let after = Exposure::load(&args.config_dir, &args.config_dir.display().to_string())
            .map_err(|e| e.to_string())?;
        let other_dir = PathBuf::from(&other);
        let before = if other_dir.is_dir() {
            Exposure::load(&other_dir, &other).map_err(|e| e.to_string())?
        } else {
            let checkout =
                Checkout::at_revision(&args.config_dir, &other).map_err(|e| e.to_string())?;
            Exposure::load(checkout.path(), &checkout.label).map_err(|e| e.to_string())?
        };
        let d = diff(&before, &after);
        let text = if args.json {
            let mut t = serde_json::to_string_pretty(&d.json()).map_err(|e| e.to_string())?;
            t.push('\n');
            t
        } else {
            d.text()
        };
        print_stdout(&text).map_err(|e| e.join("\n"))?;
        Ok(d.exposes_more())
    };
    match run() {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn openapi(args: &Args) -> Result<(), Vec<String>> {
    use graphjin_codegen::tools::openapi::{OpenApiOptions, document};
    use graphjin_codegen::tools::surface::ApiConfig;
    let project = load(args)?;
    let ops = project
        .compile()
        .map_err(|errors| errors.iter().map(located).collect::<Vec<_>>())?;
    let api = ApiConfig::load(&args.config_dir).map_err(|e| vec![e.to_string()])?;
    let options = OpenApiOptions {
        api_prefix: args.api_prefix.clone(),
        server: args.server.clone(),
    };
    let doc = document(&project, &ops, &api, &options);
    let mut text = serde_json::to_string_pretty(&doc).map_err(|e| vec![e.to_string()])?;
    text.push('\n');
    print_stdout(&text)
}

fn typescript(args: &Args) -> Result<(), Vec<String>> {
    let project = load(args)?;
    let ops = project
        .compile()
        .map_err(|errors| errors.iter().map(located).collect::<Vec<_>>())?;
    print_stdout(&graphjin_codegen::tools::typescript::module(&project, &ops))
}

fn dev(args: &Args) -> Result<(), Vec<String>> {
    let url = args
        .database_url
        .clone()
        .ok_or_else(|| vec!["dev needs --database-url URL (or DATABASE_URL)".to_string()])?;
    let listen: std::net::SocketAddr = args.listen.parse().map_err(|_| {
        vec![format!(
            "--listen: `{}` is not an address like 127.0.0.1:8080",
            args.listen
        )]
    })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| vec![format!("could not start the async runtime: {e}")])?;
    rt.block_on(async {
        let opts = graphjin_codegen::dev::DevOptions::new(&args.config_dir, url);
        let server = graphjin_codegen::dev::DevServer::start(opts)
            .await
            .map_err(|e| vec![e.to_string()])?;
        server.serve(listen).await.map_err(|e| vec![e.to_string()])
    })
}
