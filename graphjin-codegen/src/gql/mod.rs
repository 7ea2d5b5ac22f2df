//! GraphQL operations in GraphJin's dialect: the syntax tree and its parser.

pub mod ast;
mod lexer;
mod parser;

pub use parser::{ParseError, parse_document};
