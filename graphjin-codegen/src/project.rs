//! The whole build in two steps: [`Project::load`] reads the config folder, and
//! [`Project::compile`] checks and compiles every operation for every role into one
//! [`Compiled`] result; [`Project::compile_one`] compiles a single operation (the
//! development server's requests, `graphjin sql`).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::allowlist::{self, AllowList, AllowListError, AllowListProblem, OperationEntry};
use crate::compile::{CompiledQuery, Compiler, Shape, SignedInStatement};
use crate::compiled::Compiled;
use crate::config::{self, BuildConfig};
use crate::error::Error;
use crate::gql::ast::TypeRef;
use crate::gql::ast::{Document, OpKind};
use crate::gql::parse_document;
use crate::origin::Origin;
use crate::schema::{self, DbSchema};
use crate::source::Pos;
use graphjin_normalize::normalize;

/// The files of a user's `config` folder, read and parsed.
#[derive(Debug, Clone)]
pub struct Project {
    /// The folder.
    pub dir: PathBuf,
    /// `allow.list`.
    pub allow_list: AllowList,
    /// `db.graphql`.
    pub schema: DbSchema,
    /// The build-time config (`prod.yml`, else `dev.yml`, else defaults).
    pub config: BuildConfig,
    /// The config file's name for messages.
    pub config_name: String,
    /// Every file read, so builds can rebuild when one changes.
    pub files: Vec<PathBuf>,
}

/// One allow-listed operation compiled for every role.
#[derive(Debug, Clone)]
pub struct CompiledOperation {
    /// Its name as written.
    pub name: String,
    /// Query, mutation or subscription.
    pub kind: OpKind,
    /// Where it starts in allow.list.
    pub pos: Pos,
    /// Its text as written.
    pub source: String,
    /// Its text with comments and insignificant whitespace removed.
    pub normalized: String,
    /// Lower-case hex sha256 of `normalized`.
    pub sha256: String,
    /// The statement per role, in [`Compiler::roles`] order; roles that may not run the
    /// operation are absent.
    pub roles: Vec<(String, CompiledQuery)>,
    /// Roles that may not run the operation, and why (the runtime refuses them).
    pub refused: Vec<(String, String)>,
    /// The response's shape, merged over all roles.
    pub shape: Shape,
    /// The client-supplied variables over all roles, in order of first use.
    pub variables: Vec<VariableSpec>,
    /// Rules the variables must meet before any SQL runs (`@constraint`/`@validate` and
    /// declared `!` types), checked by the runtime.
    pub constraints: Vec<crate::compile::op_directives::ConstraintSpec>,
    /// For a query, when roles are matched with `roles_query`: one statement that finds a
    /// signed-in caller's role and runs that role's branch.
    pub signed_in: Option<SignedInStatement>,
}

/// A variable a client may send, with the type it is used as.
#[derive(Debug, Clone, PartialEq)]
pub struct VariableSpec {
    /// Name without `$`.
    pub name: String,
    /// PostgreSQL type of its first use.
    pub pg_type: String,
    /// Declared non-null (`$id: ID!`) without a default: the client must send it.
    pub required: bool,
    /// The declared default.
    pub default: Option<serde_json::Value>,
    /// For mutation data: the shape of the object(s) it carries.
    pub input: Option<crate::compile::InputShape>,
    /// The column (`table.column`) it is first compared with, if any.
    pub column: Option<String>,
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl Project {
    /// Reads `allow.list`, `db.graphql` and the config from `dir`.
    pub fn load(dir: &Path) -> Result<Project, Error> {
        Self::load_with(dir, false)
    }

    /// [`Project::load`] that accepts an allow.list without operations (the development
    /// server starts from an empty list and records into it).
    pub fn load_allowing_empty(dir: &Path) -> Result<Project, Error> {
        Self::load_with(dir, true)
    }

    /// What the development server reads: `dev.yml` (else what [`Project::load`] would),
    /// and an allow.list that may have no operations yet.
    pub fn load_dev(dir: &Path) -> Result<Project, Error> {
        let dev = ["dev.yml", "dev.yaml"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file());
        Self::load_from(dir, true, dev)
    }

    fn load_with(dir: &Path, allow_empty: bool) -> Result<Project, Error> {
        Self::load_from(dir, allow_empty, config::config_path(dir))
    }

    fn load_from(
        dir: &Path,
        allow_empty: bool,
        config_file: Option<PathBuf>,
    ) -> Result<Project, Error> {
        let mut files = Vec::new();
        let al_path = dir.join("allow.list");
        if !al_path.is_file() {
            return Err(Error::Missing {
                path: al_path,
                hint: "create it, or record operations with `graphjin dev`",
            });
        }
        let allow_list = match allowlist::parse(&read(&al_path)?) {
            Ok(list) => list,
            Err(AllowListError {
                problem: AllowListProblem::NoOperations { .. },
                ..
            }) if allow_empty => AllowList::default(),
            Err(e) => return Err(e.into()),
        };
        files.push(al_path);

        let db_path = dir.join("db.graphql");
        if !db_path.is_file() {
            return Err(Error::Missing {
                path: db_path,
                hint: "run `graphjin schema pull --database-url URL` to write it",
            });
        }
        let text = String::from_utf8(read(&db_path)?).map_err(|e| Error::Io {
            path: db_path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        let schema = schema::parse_schema(&text)?;
        files.push(db_path);

        let (config, config_name) = match config_file {
            Some(path) => {
                let (c, read_files) = config::load_config(&path)?;
                files.extend(read_files);
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (c, name)
            }
            None => (BuildConfig::default(), "(no config)".to_string()),
        };
        Ok(Project {
            dir: dir.to_path_buf(),
            allow_list,
            schema,
            config,
            config_name,
            files,
        })
    }

    /// A compiler for this project's schema and config.
    pub fn compiler(&self) -> Result<Compiler, Error> {
        Compiler::new(&self.schema, &self.config).map_err(|source| Error::Catalog {
            file: self.config_name.clone(),
            source,
        })
    }

    /// Parses every fragment of the allow list once (positions are allow.list positions).
    fn fragments(&self) -> Result<Document, Vec<Error>> {
        let mut doc = Document::default();
        let mut errors = Vec::new();
        for f in self.allow_list.fragments() {
            match parse_at(&f.text, f.pos) {
                Ok(d) => doc.fragments.extend(d.fragments),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(doc)
        } else {
            Err(errors)
        }
    }

    /// Compiles one operation for every role: an allow-listed one by name, or one given as
    /// text outside allow.list (the development server's path: an unnamed operation is
    /// named `__anonymous_<hash>`, and the request's `variables` give mutation data its
    /// shape). Fragments of allow.list are available to both; the config's `compliance:`
    /// rules are not checked (they are rules over the whole allow list).
    pub fn compile_one(&self, one: One<'_>) -> Result<CompiledOperation, Error> {
        let compiler = self.compiler()?;
        let fragments = self.fragments().map_err(|mut e| e.remove(0))?;
        let (entry, origin) = match one {
            One::Named(name) => {
                let entry = self
                    .allow_list
                    .find(name)
                    .ok_or_else(|| Error::NoSuchOperation {
                        name: name.to_owned(),
                        suggestion: crate::compile::names::suggestion(
                            name,
                            self.allow_list.operations().map(|o| o.name.as_str()),
                        ),
                    })?;
                (entry.clone(), Origin::AllowList)
            }
            One::Text { text, variables } => (text_entry(text, variables)?, Origin::Query),
        };
        compile_entry(&compiler, &compiler.roles(), origin, &entry, &fragments)
    }

    /// Compiles every operation for every role, then checks the config's `compliance:`
    /// rules ([`crate::tools::compliance`]); returns all errors, not just the first.
    pub fn compile(&self) -> Result<Compiled, Vec<Error>> {
        let compiler = self.compiler().map_err(|e| vec![e])?;
        let fragments = self.fragments()?;
        let roles = compiler.roles();
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for entry in self.allow_list.operations() {
            match compile_entry(&compiler, &roles, Origin::AllowList, entry, &fragments) {
                Ok(op) => out.push(op),
                Err(e) => errors.push(e),
            }
        }
        errors.extend(self.unknown_operations(&out));
        if errors.is_empty() {
            errors.extend(
                crate::tools::compliance::check(self, &compiler, &out)
                    .into_iter()
                    .map(Error::from),
            );
        }
        if errors.is_empty() {
            Ok(Compiled::new(out, compiler))
        } else {
            Err(errors)
        }
    }
}

/// Which operation [`Project::compile_one`] compiles.
#[derive(Debug, Clone, Copy)]
pub enum One<'a> {
    /// The allow-listed operation of this name.
    Named(&'a str),
    /// An operation sent as text, with the request's variables.
    Text {
        /// The GraphQL document: exactly one operation.
        text: &'a str,
        /// The variables sent with it.
        variables: Option<&'a serde_json::Value>,
    },
}

/// An operation sent as text, as an allow.list entry would hold it; errors point into the
/// text (`query:LINE:COL`).
fn text_entry(text: &str, variables: Option<&serde_json::Value>) -> Result<OperationEntry, Error> {
    let doc = parse_document(text).map_err(|e| Error::Syntax {
        origin: Origin::Query,
        pos: e.pos,
        message: e.message,
    })?;
    let op = match doc.operations.as_slice() {
        [op] => op,
        _ => {
            return Err(Error::Syntax {
                origin: Origin::Query,
                pos: Pos::new(1, 1),
                message: "send exactly one operation".into(),
            });
        }
    };
    let name = match &op.name {
        Some(n) => n.value.clone(),
        None => format!(
            "__anonymous_{}",
            &hex(&Sha256::digest(normalize(text).as_bytes()))[..12]
        ),
    };
    let mut entry = OperationEntry::new(op.kind, name, text);
    entry.variables = variables.filter(|v| v.is_object()).map(|v| v.to_string());
    entry.pos = Pos::new(1, 1);
    Ok(entry)
}

impl Project {
    /// Config keys naming operations allow.list does not have (`database.operation_timeouts`):
    /// a typo there would otherwise leave the operation on the default limit unnoticed.
    fn unknown_operations(&self, ops: &[CompiledOperation]) -> Vec<Error> {
        let names = || ops.iter().map(|op| op.name.as_str());
        self.config
            .database
            .operation_timeouts
            .keys()
            .filter(|name| !names().any(|n| n == name.as_str()))
            .map(|name| Error::UnknownOperation {
                file: self.config_name.clone(),
                key: "database.operation_timeouts".to_owned(),
                name: name.clone(),
                suggestion: crate::compile::names::suggestion(name, names()),
            })
            .collect()
    }
}

/// Parses a snippet that starts at `origin` in allow.list so every position in the tree (and
/// in a syntax error) is an allow.list position.
pub fn parse_at(text: &str, origin: Pos) -> Result<Document, Error> {
    parse_in(Origin::AllowList, text, origin)
}

/// [`parse_at`] for a snippet of any text: syntax errors point into `source`.
fn parse_in(source: Origin, text: &str, origin: Pos) -> Result<Document, Error> {
    let mut padded = String::with_capacity(text.len() + origin.line as usize + origin.col as usize);
    for _ in 1..origin.line {
        padded.push('\n');
    }
    for _ in 1..origin.col {
        padded.push(' ');
    }
    padded.push_str(text);
    parse_document(&padded).map_err(|e| Error::Syntax {
        origin: source,
        pos: e.pos,
        message: e.message,
    })
}

/// Compiles one operation for every role; its errors point into `origin`.
fn compile_entry(
    compiler: &Compiler,
    roles: &[String],
    origin: Origin,
    entry: &OperationEntry,
    fragments: &Document,
) -> Result<CompiledOperation, Error> {
    let mut doc = parse_in(origin, &entry.text, entry.pos)?;
    if doc.operations.len() != 1 {
        return Err(Error::Syntax {
            origin,
            pos: entry.pos,
            message: "an allow.list entry must hold exactly one operation".into(),
        });
    }
    doc.fragments.extend(fragments.fragments.iter().cloned());
    let examples: Option<serde_json::Value> = match &entry.variables {
        Some(text) => Some(serde_json::from_str(text).map_err(|e| Error::Syntax {
            origin,
            pos: entry.pos,
            message: format!("the variables block is not valid JSON: {e}"),
        })?),
        None => None,
    };
    let constraints =
        crate::compile::op_directives::constraints(&doc.operations[0]).map_err(|e| {
            Error::Syntax {
                origin,
                pos: e.pos,
                message: format!("{} (operation `{}`)", e.message, entry.name),
            }
        })?;
    let mut compiled = Vec::with_capacity(roles.len());
    let mut refused = Vec::new();
    for role in roles {
        match compiler.compile_with(&doc, 0, role, examples.as_ref()) {
            Ok(q) => compiled.push((role.clone(), q)),
            Err(e) if e.refused => refused.push((role.clone(), e.message)),
            Err(e) => {
                return Err(Error::Operation {
                    origin,
                    pos: e.pos,
                    operation: entry.name.clone(),
                    role: role.clone(),
                    message: e.message,
                });
            }
        }
    }
    let signed_in = compiler
        .signed_in(&doc, 0, &compiled)
        .map_err(|(role, e)| Error::Operation {
            origin,
            pos: e.pos,
            operation: entry.name.clone(),
            role,
            message: format!(
                "internal: {} (in the signed-in statement's branch; please report this operation)",
                e.message
            ),
        })?;
    let shape = compiled
        .iter()
        .map(|(_, q)| q.shape.clone())
        .reduce(|a, b| a.merge(&b))
        .unwrap_or(Shape::Any);
    let mut variables: Vec<VariableSpec> = Vec::new();
    for (_, q) in &compiled {
        for p in q.params.iter().filter(|p| !p.builtin) {
            if variables.iter().any(|v| v.name == p.name) {
                continue;
            }
            let declared = doc.operations[0]
                .variables
                .iter()
                .find(|v| v.name.value == p.name);
            let required = declared
                .is_some_and(|d| matches!(d.ty, Some(TypeRef::NonNull(_))) && d.default.is_none());
            let input = q
                .inputs
                .iter()
                .find(|(n, _)| n == &p.name)
                .map(|(_, s)| s.clone());
            variables.push(VariableSpec {
                name: p.name.clone(),
                pg_type: p.pg_type.clone(),
                required,
                default: p.default.clone(),
                input,
                column: p.column.clone(),
            });
        }
    }
    let normalized = normalize(&entry.text);
    let sha256 = hex(&Sha256::digest(normalized.as_bytes()));
    Ok(CompiledOperation {
        name: entry.name.clone(),
        kind: entry.kind,
        pos: entry.pos,
        source: entry.text.clone(),
        normalized,
        sha256,
        roles: compiled,
        refused,
        shape,
        variables,
        constraints,
        signed_in,
    })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
