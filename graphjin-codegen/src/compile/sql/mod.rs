//! The SQL side of the compiler: a small syntax tree ([`ast`]) that the selection and
//! mutation compilers build, one printer for it ([`render`]), and quoting ([`quote`]).

pub mod ast;
pub mod quote;
pub mod render;

pub use ast::{
    Cte, CteBody, Cycle, Direction, Expr, From, Item, Join, JoinKind, OrderItem, Select, Source,
    With,
};
