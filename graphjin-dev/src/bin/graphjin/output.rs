//! What a command prints: its result on stdout, its failure as lines on stderr.

use std::fmt;

/// Why a command failed: one line (or block) per problem, printed on stderr; exit 1.
#[derive(Debug)]
pub struct Failure(pub Vec<String>);

impl Failure {
    /// One problem.
    pub fn new(message: impl Into<String>) -> Self {
        Failure(vec![message.into()])
    }

    /// Every problem of a list (each compile error of an allow list).
    pub fn all<T: fmt::Display>(errors: &[T]) -> Self {
        Failure(errors.iter().map(ToString::to_string).collect())
    }
}

impl<T: fmt::Display> From<T> for Failure {
    fn from(e: T) -> Self {
        Failure::new(e.to_string())
    }
}

/// A command's result: `Ok` is exit 0.
pub type Outcome = Result<(), Failure>;

/// Writes to stdout; a closed pipe (`graphjin audit | head`) ends quietly, not in a panic.
pub fn print_stdout(text: &str) -> Outcome {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::new(format!("cannot write to stdout: {e}"))),
    }
}
