//! The syntax tree of a GraphQL executable document in GraphJin's dialect.
//!
//! Unlike `graphql-parser`'s tree, object values keep their keys in source order (and allow
//! repeated keys, which GraphJin's `where` and `order_by` rely on), every value carries its
//! position, and variable definitions may omit their type (`query ($id = 3)`).

use crate::source::Pos;

/// A parsed document: operations and fragments in source order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// Every `query`, `mutation`, `subscription` or anonymous `{ ... }` operation.
    pub operations: Vec<Operation>,
    /// Every `fragment Name on Type { ... }` definition.
    pub fragments: Vec<Fragment>,
}

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `query` or the `{ ... }` shorthand.
    Query,
    /// `mutation`.
    Mutation,
    /// `subscription`.
    Subscription,
}

impl OpKind {
    /// The keyword as written in GraphQL.
    pub fn keyword(self) -> &'static str {
        match self {
            OpKind::Query => "query",
            OpKind::Mutation => "mutation",
            OpKind::Subscription => "subscription",
        }
    }
}

/// A name with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The identifier.
    pub value: String,
    /// Where it starts.
    pub pos: Pos,
}

/// One operation definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Query, mutation or subscription.
    pub kind: OpKind,
    /// The operation's name, if any.
    pub name: Option<Name>,
    /// `($id: ID!, $limit = 10)`.
    pub variables: Vec<VariableDef>,
    /// Directives on the operation itself.
    pub directives: Vec<Directive>,
    /// The top-level selection set.
    pub selection: Vec<Selection>,
    /// Where the operation starts (its keyword, or `{` for the shorthand).
    pub pos: Pos,
}

/// A declared variable: `$name: Type = default`; the type may be omitted in GraphJin.
#[derive(Debug, Clone, PartialEq)]
pub struct VariableDef {
    /// The variable's name without `$`.
    pub name: Name,
    /// The declared type, if written.
    pub ty: Option<TypeRef>,
    /// The default value, if written.
    pub default: Option<Value>,
}

/// A GraphQL type reference such as `[Int!]!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRef {
    /// A named type, e.g. `Int` or `users`.
    Named(String),
    /// `[T]`.
    List(Box<TypeRef>),
    /// `T!`.
    NonNull(Box<TypeRef>),
}

/// One entry of a selection set.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// `alias: name(args) @dir { ... }`.
    Field(Field),
    /// `...Name @dir`.
    FragmentSpread(FragmentSpread),
    /// `... on Type @dir { ... }`.
    InlineFragment(InlineFragment),
}

/// A field selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// `alias:` if given.
    pub alias: Option<Name>,
    /// The field name.
    pub name: Name,
    /// Arguments in source order.
    pub arguments: Vec<Argument>,
    /// Directives in source order.
    pub directives: Vec<Directive>,
    /// The nested selection set (empty for a scalar field).
    pub selection: Vec<Selection>,
}

impl Field {
    /// The key this field has in the response: the alias, else the name.
    pub fn response_key(&self) -> &str {
        self.alias.as_ref().unwrap_or(&self.name).value.as_str()
    }
}

/// `name: value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Argument {
    /// The argument name.
    pub name: Name,
    /// The argument value.
    pub value: Value,
}

/// `@name(args)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Directive {
    /// The directive name without `@`.
    pub name: Name,
    /// Arguments in source order.
    pub arguments: Vec<Argument>,
}

/// `...Name`.
#[derive(Debug, Clone, PartialEq)]
pub struct FragmentSpread {
    /// The fragment's name.
    pub name: Name,
    /// Directives on the spread.
    pub directives: Vec<Directive>,
}

/// `... on Type { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct InlineFragment {
    /// The type condition, if any.
    pub type_condition: Option<Name>,
    /// Directives on the fragment.
    pub directives: Vec<Directive>,
    /// The selection set.
    pub selection: Vec<Selection>,
    /// Where the `...` is.
    pub pos: Pos,
}

/// `fragment Name on Type { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// The fragment's name.
    pub name: Name,
    /// The type condition.
    pub type_condition: Name,
    /// Directives on the definition.
    pub directives: Vec<Directive>,
    /// The selection set.
    pub selection: Vec<Selection>,
}

/// A value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// What the value is.
    pub kind: ValueKind,
    /// Where it starts.
    pub pos: Pos,
}

/// The kinds of GraphQL input values. Numbers keep their source text so nothing is lost.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// `$name` (without the `$`).
    Variable(String),
    /// An integer literal as written, e.g. `-12`.
    Int(String),
    /// A float literal as written, e.g. `1.5e3`.
    Float(String),
    /// A string or block string, unescaped.
    String(String),
    /// `true` / `false`.
    Boolean(bool),
    /// `null`.
    Null,
    /// An enum value such as `desc`.
    Enum(String),
    /// `[ ... ]`.
    List(Vec<Value>),
    /// `{ key: value, ... }` in source order; keys may repeat.
    Object(Vec<(Name, Value)>),
}
