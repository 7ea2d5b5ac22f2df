//! A recursive-descent parser for GraphQL executable documents in GraphJin's dialect.
//!
//! It accepts the October 2021 spec's executable grammar plus GraphJin's leniencies:
//! a variable definition's type may be omitted (`query ($id = 3)`) and object values keep
//! repeated keys in source order (`{ price: {gt: 20}, price: {lt: 22} }`). Directives on
//! variable definitions are accepted and discarded (the syntax tree has no place for them).
//! Nesting of selection sets, list and object values and list types is bounded by
//! [`MAX_DEPTH`] so hostile input gives an error instead of overflowing the stack.

use super::ast::{
    Argument, Directive, Document, Field, Fragment, FragmentSpread, InlineFragment, Name, OpKind,
    Operation, Selection, TypeRef, Value, ValueKind, VariableDef,
};
use super::lexer::{Lexer, Spanned, Token};
use crate::source::Pos;

/// How deeply selection sets, list and object values and list types may nest, together.
const MAX_DEPTH: usize = 256;

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct ParseError {
    /// Where the offending token or character starts.
    pub pos: Pos,
    /// What is wrong, written for the person who wrote the query.
    pub message: String,
}

/// Parses a whole executable document: its operations and fragments in source order.
///
/// A document with no operation and no fragment (empty, or only whitespace and comments) is
/// an error.
pub fn parse_document(src: &str) -> Result<Document, ParseError> {
    let mut parser = Parser::new(src)?;
    parser.document()
}

type PResult<T> = Result<T, ParseError>;

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The current (not yet consumed) token.
    tok: Spanned<'a>,
    depth: usize,
}

fn err(pos: Pos, message: impl Into<String>) -> ParseError {
    ParseError {
        pos,
        message: message.into(),
    }
}

/// Whether a token can start a value.
fn starts_value(tok: &Token<'_>) -> bool {
    matches!(
        tok,
        Token::Dollar
            | Token::Int(_)
            | Token::Float(_)
            | Token::String(_)
            | Token::BlockString(_)
            | Token::Name(_)
            | Token::LBracket
            | Token::LBrace
    )
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> PResult<Self> {
        let mut lexer = Lexer::new(src);
        let tok = lexer.next_token()?;
        Ok(Parser {
            lexer,
            tok,
            depth: 0,
        })
    }

    /// Consumes the current token and returns it.
    fn bump(&mut self) -> PResult<Spanned<'a>> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.tok, next))
    }

    fn at(&self, tok: &Token<'_>) -> bool {
        self.tok.tok == *tok
    }

    /// An error at the current token: "expected {what}, found {token}".
    fn expected(&self, what: &str) -> ParseError {
        err(
            self.tok.pos,
            format!("expected {what}, found {}", self.tok.tok.describe()),
        )
    }

    /// An error for a construct opened at `open` that is not closed: at the end of input
    /// "expected '}' to close the ... opened at L:C", else it also names `item`, what may
    /// come next instead of the closing token.
    fn unclosed(&self, item: &str, close: char, what: &str, open: Pos) -> ParseError {
        if self.at(&Token::Eof) {
            self.expected(&format!("'{close}' to close the {what} opened at {open}"))
        } else {
            self.expected(&format!(
                "{item} or '{close}' to close the {what} opened at {open}"
            ))
        }
    }

    fn enter(&mut self, pos: Pos) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(
                pos,
                format!(
                    "the document is nested too deeply (more than {MAX_DEPTH} levels of \
                     selections, lists or objects)"
                ),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Consumes a name, or fails with "expected {what}, found ...".
    fn name_or(&mut self, what: impl FnOnce() -> String) -> PResult<Name> {
        if let Token::Name(n) = self.tok.tok {
            let pos = self.tok.pos;
            let value = n.to_string();
            self.bump()?;
            Ok(Name { value, pos })
        } else {
            Err(self.expected(&what()))
        }
    }

    fn document(&mut self) -> PResult<Document> {
        let mut doc = Document::default();
        loop {
            match self.tok.tok {
                Token::Eof => break,
                Token::LBrace => {
                    let pos = self.tok.pos;
                    let selection = self.selection_set()?;
                    doc.operations.push(Operation {
                        kind: OpKind::Query,
                        name: None,
                        variables: Vec::new(),
                        directives: Vec::new(),
                        selection,
                        pos,
                    });
                }
                Token::Name("query") => doc.operations.push(self.operation(OpKind::Query)?),
                Token::Name("mutation") => doc.operations.push(self.operation(OpKind::Mutation)?),
                Token::Name("subscription") => {
                    doc.operations.push(self.operation(OpKind::Subscription)?)
                }
                Token::Name("fragment") => doc.fragments.push(self.fragment()?),
                _ => {
                    return Err(self.expected(
                        "'query', 'mutation', 'subscription', 'fragment' or '{' to start a \
                         definition",
                    ));
                }
            }
        }
        if doc.operations.is_empty() && doc.fragments.is_empty() {
            return Err(err(
                self.tok.pos,
                "the document has no operation or fragment",
            ));
        }
        Ok(doc)
    }

    fn operation(&mut self, kind: OpKind) -> PResult<Operation> {
        let pos = self.bump()?.pos;
        let name = if let Token::Name(_) = self.tok.tok {
            Some(self.name_or(String::new)?)
        } else {
            None
        };
        let variables = if self.at(&Token::LParen) {
            self.variable_defs()?
        } else {
            Vec::new()
        };
        let directives = self.directives(false)?;
        if !self.at(&Token::LBrace) {
            let what = match &name {
                Some(n) => format!(
                    "'{{' to start the selection set of {} '{}'",
                    kind.keyword(),
                    n.value
                ),
                None => format!("'{{' to start the selection set of the {}", kind.keyword()),
            };
            return Err(self.expected(&what));
        }
        let selection = self.selection_set()?;
        Ok(Operation {
            kind,
            name,
            variables,
            directives,
            selection,
            pos,
        })
    }

    fn variable_defs(&mut self) -> PResult<Vec<VariableDef>> {
        let open = self.bump()?.pos;
        let mut vars = Vec::new();
        loop {
            match self.tok.tok {
                Token::RParen if vars.is_empty() => {
                    return Err(self.expected("a variable definition such as '$id: ID'"));
                }
                Token::RParen => {
                    self.bump()?;
                    return Ok(vars);
                }
                Token::Dollar => vars.push(self.variable_def()?),
                _ => {
                    return Err(self.unclosed(
                        "a variable such as '$id'",
                        ')',
                        "variable definitions",
                        open,
                    ));
                }
            }
        }
    }

    fn variable_def(&mut self) -> PResult<VariableDef> {
        self.bump()?;
        let name = self.name_or(|| "a variable name after '$'".to_string())?;
        let ty = if self.at(&Token::Colon) {
            self.bump()?;
            Some(self.type_ref()?)
        } else {
            None
        };
        let default = if self.at(&Token::Equals) {
            self.bump()?;
            Some(self.value(true)?)
        } else {
            None
        };
        // Directives on variable definitions are valid syntax but have no meaning in GraphJin.
        self.directives(true)?;
        Ok(VariableDef { name, ty, default })
    }

    fn type_ref(&mut self) -> PResult<TypeRef> {
        let base = match self.tok.tok {
            Token::Name(n) => {
                let ty = TypeRef::Named(n.to_string());
                self.bump()?;
                ty
            }
            Token::LBracket => {
                let open = self.tok.pos;
                self.enter(open)?;
                self.bump()?;
                let inner = self.type_ref()?;
                if !self.at(&Token::RBracket) {
                    return Err(
                        self.expected(&format!("']' to close the list type opened at {open}"))
                    );
                }
                self.bump()?;
                self.leave();
                TypeRef::List(Box::new(inner))
            }
            _ => return Err(self.expected("a type such as 'Int', '[ID]' or 'String!'")),
        };
        if self.at(&Token::Bang) {
            self.bump()?;
            Ok(TypeRef::NonNull(Box::new(base)))
        } else {
            Ok(base)
        }
    }

    /// Parses `{ selection+ }`; the current token must be `{`.
    fn selection_set(&mut self) -> PResult<Vec<Selection>> {
        let open = self.tok.pos;
        self.enter(open)?;
        self.bump()?;
        let mut items = Vec::new();
        loop {
            match self.tok.tok {
                Token::RBrace if items.is_empty() => {
                    return Err(self.expected(&format!(
                        "a field in the selection set opened at {open} (it cannot be empty)"
                    )));
                }
                Token::RBrace => {
                    self.bump()?;
                    break;
                }
                Token::Name(_) => items.push(Selection::Field(self.field()?)),
                Token::Spread => items.push(self.fragment_selection()?),
                _ => return Err(self.unclosed("a field, '...'", '}', "selection set", open)),
            }
        }
        self.leave();
        Ok(items)
    }

    /// Parses a selection set where one is required, naming `what` it belongs to on error.
    fn required_selection_set(&mut self, what: impl FnOnce() -> String) -> PResult<Vec<Selection>> {
        if self.at(&Token::LBrace) {
            self.selection_set()
        } else {
            Err(self.expected(&format!("'{{' to start the selection set of {}", what())))
        }
    }

    fn field(&mut self) -> PResult<Field> {
        let first = self.name_or(String::new)?;
        let (alias, name) = if self.at(&Token::Colon) {
            self.bump()?;
            let name =
                self.name_or(|| format!("a field name after the alias '{}:'", first.value))?;
            (Some(first), name)
        } else {
            (None, first)
        };
        let arguments = if self.at(&Token::LParen) {
            self.arguments(false)?
        } else {
            Vec::new()
        };
        let directives = self.directives(false)?;
        let selection = if self.at(&Token::LBrace) {
            self.selection_set()?
        } else {
            Vec::new()
        };
        Ok(Field {
            alias,
            name,
            arguments,
            directives,
            selection,
        })
    }

    /// Parses what follows `...`: a fragment spread or an inline fragment.
    fn fragment_selection(&mut self) -> PResult<Selection> {
        let pos = self.bump()?.pos;
        match self.tok.tok {
            Token::Name("on") => {
                self.bump()?;
                let ty = self.name_or(|| "a type name after 'on'".to_string())?;
                let directives = self.directives(false)?;
                let selection = self
                    .required_selection_set(|| format!("the inline fragment on '{}'", ty.value))?;
                Ok(Selection::InlineFragment(InlineFragment {
                    type_condition: Some(ty),
                    directives,
                    selection,
                    pos,
                }))
            }
            Token::Name(_) => {
                let name = self.name_or(String::new)?;
                let directives = self.directives(false)?;
                Ok(Selection::FragmentSpread(FragmentSpread {
                    name,
                    directives,
                }))
            }
            Token::At | Token::LBrace => {
                let directives = self.directives(false)?;
                let selection =
                    self.required_selection_set(|| "the inline fragment".to_string())?;
                Ok(Selection::InlineFragment(InlineFragment {
                    type_condition: None,
                    directives,
                    selection,
                    pos,
                }))
            }
            _ => Err(self.expected("a fragment name, 'on Type', a directive or '{' after '...'")),
        }
    }

    fn fragment(&mut self) -> PResult<Fragment> {
        self.bump()?;
        let name = self.name_or(|| "a fragment name after 'fragment'".to_string())?;
        if name.value == "on" {
            return Err(err(name.pos, "a fragment cannot be named 'on'"));
        }
        if !self.at(&Token::Name("on")) {
            return Err(self.expected(&format!(
                "'on' and a type name after the fragment name '{}'",
                name.value
            )));
        }
        self.bump()?;
        let type_condition = self.name_or(|| "a type name after 'on'".to_string())?;
        let directives = self.directives(false)?;
        let selection = self.required_selection_set(|| format!("fragment '{}'", name.value))?;
        Ok(Fragment {
            name,
            type_condition,
            directives,
            selection,
        })
    }

    fn directives(&mut self, is_const: bool) -> PResult<Vec<Directive>> {
        let mut out = Vec::new();
        while self.at(&Token::At) {
            self.bump()?;
            let name = self.name_or(|| "a directive name after '@'".to_string())?;
            let arguments = if self.at(&Token::LParen) {
                self.arguments(is_const)?
            } else {
                Vec::new()
            };
            out.push(Directive { name, arguments });
        }
        Ok(out)
    }

    fn arguments(&mut self, is_const: bool) -> PResult<Vec<Argument>> {
        let open = self.bump()?.pos;
        let mut args = Vec::new();
        loop {
            match self.tok.tok {
                Token::RParen if args.is_empty() => {
                    return Err(self.expected("an argument such as 'id: 3' before ')'"));
                }
                Token::RParen => {
                    self.bump()?;
                    return Ok(args);
                }
                Token::Name(_) => {
                    let name = self.name_or(String::new)?;
                    if !self.at(&Token::Colon) {
                        return Err(
                            self.expected(&format!("':' after the argument name '{}'", name.value))
                        );
                    }
                    self.bump()?;
                    let value = self.value(is_const)?;
                    args.push(Argument { name, value });
                }
                _ => return Err(self.unclosed("an argument name", ')', "arguments", open)),
            }
        }
    }

    fn value(&mut self, is_const: bool) -> PResult<Value> {
        let pos = self.tok.pos;
        match self.tok.tok {
            Token::Dollar => {
                if is_const {
                    return Err(err(
                        pos,
                        "a variable cannot be used here: default values must be constants",
                    ));
                }
                self.bump()?;
                let name = self.name_or(|| "a variable name after '$'".to_string())?;
                return Ok(Value {
                    kind: ValueKind::Variable(name.value),
                    pos,
                });
            }
            Token::LBracket => return self.list(is_const),
            Token::LBrace => return self.object(is_const),
            ref t if starts_value(t) => {}
            _ => return Err(self.expected("a value")),
        }
        let kind = match self.bump()?.tok {
            Token::Int(n) => ValueKind::Int(n.to_string()),
            Token::Float(n) => ValueKind::Float(n.to_string()),
            Token::String(s) | Token::BlockString(s) => ValueKind::String(s),
            Token::Name("true") => ValueKind::Boolean(true),
            Token::Name("false") => ValueKind::Boolean(false),
            Token::Name("null") => ValueKind::Null,
            Token::Name(n) => ValueKind::Enum(n.to_string()),
            other => {
                return Err(err(
                    pos,
                    format!("expected a value, found {}", other.describe()),
                ));
            }
        };
        Ok(Value { kind, pos })
    }

    fn list(&mut self, is_const: bool) -> PResult<Value> {
        let open = self.tok.pos;
        self.enter(open)?;
        self.bump()?;
        let mut items = Vec::new();
        loop {
            if self.at(&Token::RBracket) {
                self.bump()?;
                break;
            }
            if !starts_value(&self.tok.tok) {
                return Err(self.unclosed("a value", ']', "list", open));
            }
            items.push(self.value(is_const)?);
        }
        self.leave();
        Ok(Value {
            kind: ValueKind::List(items),
            pos: open,
        })
    }

    fn object(&mut self, is_const: bool) -> PResult<Value> {
        let open = self.tok.pos;
        self.enter(open)?;
        self.bump()?;
        let mut fields = Vec::new();
        loop {
            match self.tok.tok {
                Token::RBrace => {
                    self.bump()?;
                    break;
                }
                Token::Name(_) => {
                    let key = self.name_or(String::new)?;
                    if !self.at(&Token::Colon) {
                        return Err(self.expected(&format!(
                            "':' after the field name '{}' in the object value",
                            key.value
                        )));
                    }
                    self.bump()?;
                    let value = self.value(is_const)?;
                    fields.push((key, value));
                }
                _ => return Err(self.unclosed("a field name", '}', "object", open)),
            }
        }
        self.leave();
        Ok(Value {
            kind: ValueKind::Object(fields),
            pos: open,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(src: &str) -> Document {
        match parse_document(src) {
            Ok(doc) => doc,
            Err(e) => panic!("unexpected error {e} in {src:?}"),
        }
    }

    fn parse_err(src: &str) -> ParseError {
        match parse_document(src) {
            Ok(doc) => panic!("expected an error for {src:?}, got {doc:?}"),
            Err(e) => e,
        }
    }

    fn assert_err(src: &str, line: u32, col: u32, message: &str) {
        let e = parse_err(src);
        assert_eq!(
            (e.pos, e.message.as_str()),
            (Pos::new(line, col), message),
            "for {src:?}"
        );
    }

    fn only_op(doc: &Document) -> &Operation {
        assert_eq!(doc.operations.len(), 1);
        &doc.operations[0]
    }

    fn field(sel: &Selection) -> &Field {
        match sel {
            Selection::Field(f) => f,
            other => panic!("expected a field, got {other:?}"),
        }
    }

    fn name(value: &str, line: u32, col: u32) -> Name {
        Name {
            value: value.to_string(),
            pos: Pos::new(line, col),
        }
    }

    fn val(kind: ValueKind, line: u32, col: u32) -> Value {
        Value {
            kind,
            pos: Pos::new(line, col),
        }
    }

    fn single_value(src_value: &str) -> Value {
        let src = format!("{{ f(a: {src_value}) }}");
        let doc = parse(&src);
        let f = field(&only_op(&doc).selection[0]);
        f.arguments[0].value.clone()
    }

    fn string_value(src_value: &str) -> String {
        match single_value(src_value).kind {
            ValueKind::String(s) => s,
            other => panic!("expected a string, got {other:?}"),
        }
    }

    const GRAPHJIN_QUERY: &str = r#"# products with their owner
query getProducts($limit: Int! = 10, $id2, $ids: [ID!]) @cached(ttl: 60) {
  products(
    limit: $limit
    order_by: { price: desc, id: asc }
    where: { price: { gt: 20 }, price: { lt: 22.5 }, id: { in: [1, -2, $id2] } }
  ) {
    id
    cost: price
    owner: user(id:, $id2) @include(ifVar: $x) @object {
      full_name
      active: is_active(flag: true, none: null, label: "a\"b")
    }
  }
}
"#;

    #[test]
    fn parses_a_full_graphjin_query() {
        let doc = parse(GRAPHJIN_QUERY);
        assert!(doc.fragments.is_empty());
        let op = only_op(&doc);
        assert_eq!(op.kind, OpKind::Query);
        assert_eq!(op.pos, Pos::new(2, 1));
        assert_eq!(op.name, Some(name("getProducts", 2, 7)));

        assert_eq!(op.variables.len(), 3);
        assert_eq!(op.variables[0].name, name("limit", 2, 20));
        assert_eq!(
            op.variables[0].ty,
            Some(TypeRef::NonNull(Box::new(TypeRef::Named("Int".into()))))
        );
        assert_eq!(
            op.variables[0].default,
            Some(val(ValueKind::Int("10".into()), 2, 34))
        );
        assert_eq!(op.variables[1].name, name("id2", 2, 39));
        assert_eq!(op.variables[1].ty, None);
        assert_eq!(op.variables[1].default, None);
        assert_eq!(
            op.variables[2].ty,
            Some(TypeRef::List(Box::new(TypeRef::NonNull(Box::new(
                TypeRef::Named("ID".into())
            )))))
        );

        assert_eq!(op.directives.len(), 1);
        assert_eq!(op.directives[0].name, name("cached", 2, 58));
        assert_eq!(op.directives[0].arguments[0].name, name("ttl", 2, 65));
        assert_eq!(
            op.directives[0].arguments[0].value,
            val(ValueKind::Int("60".into()), 2, 70)
        );

        let products = field(&op.selection[0]);
        assert_eq!(products.alias, None);
        assert_eq!(products.name, name("products", 3, 3));
        let args = &products.arguments;
        assert_eq!(args.len(), 3);
        assert_eq!(args[0].name, name("limit", 4, 5));
        assert_eq!(
            args[0].value,
            val(ValueKind::Variable("limit".into()), 4, 12)
        );
        assert_eq!(
            args[1].value,
            val(
                ValueKind::Object(vec![
                    (
                        name("price", 5, 17),
                        val(ValueKind::Enum("desc".into()), 5, 24)
                    ),
                    (name("id", 5, 30), val(ValueKind::Enum("asc".into()), 5, 34)),
                ]),
                5,
                15
            )
        );
        // Repeated keys are kept, in source order.
        let ValueKind::Object(ref where_) = args[2].value.kind else {
            panic!("where is not an object");
        };
        let keys: Vec<&str> = where_.iter().map(|(k, _)| k.value.as_str()).collect();
        assert_eq!(keys, ["price", "price", "id"]);
        assert_eq!(
            where_[0].1,
            val(
                ValueKind::Object(vec![(
                    name("gt", 6, 23),
                    val(ValueKind::Int("20".into()), 6, 27)
                )]),
                6,
                21
            )
        );
        assert_eq!(
            where_[1].1,
            val(
                ValueKind::Object(vec![(
                    name("lt", 6, 42),
                    val(ValueKind::Float("22.5".into()), 6, 46)
                )]),
                6,
                40
            )
        );
        let ValueKind::Object(ref id_ops) = where_[2].1.kind else {
            panic!("id is not an object");
        };
        assert_eq!(
            id_ops[0].1,
            val(
                ValueKind::List(vec![
                    val(ValueKind::Int("1".into()), 6, 65),
                    val(ValueKind::Int("-2".into()), 6, 68),
                    val(ValueKind::Variable("id2".into()), 6, 72),
                ]),
                6,
                64
            )
        );

        assert_eq!(products.selection.len(), 3);
        let id = field(&products.selection[0]);
        assert_eq!((id.alias.as_ref(), id.name.value.as_str()), (None, "id"));
        assert!(id.selection.is_empty());
        let cost = field(&products.selection[1]);
        assert_eq!(cost.alias, Some(name("cost", 9, 5)));
        assert_eq!(cost.name, name("price", 9, 11));
        assert_eq!(cost.response_key(), "cost");

        // `id:, $id2`: commas are insignificant.
        let owner = field(&products.selection[2]);
        assert_eq!(owner.alias, Some(name("owner", 10, 5)));
        assert_eq!(owner.name, name("user", 10, 12));
        assert_eq!(
            owner.arguments,
            vec![Argument {
                name: name("id", 10, 17),
                value: val(ValueKind::Variable("id2".into()), 10, 22),
            }]
        );
        assert_eq!(
            owner.directives,
            vec![
                Directive {
                    name: name("include", 10, 29),
                    arguments: vec![Argument {
                        name: name("ifVar", 10, 37),
                        value: val(ValueKind::Variable("x".into()), 10, 44),
                    }],
                },
                Directive {
                    name: name("object", 10, 49),
                    arguments: vec![],
                },
            ]
        );
        assert_eq!(owner.selection.len(), 2);
        let active = field(&owner.selection[1]);
        assert_eq!(active.alias, Some(name("active", 12, 7)));
        assert_eq!(
            active
                .arguments
                .iter()
                .map(|a| a.value.clone())
                .collect::<Vec<_>>(),
            vec![
                val(ValueKind::Boolean(true), 12, 31),
                val(ValueKind::Null, 12, 43),
                val(ValueKind::String("a\"b".into()), 12, 56),
            ]
        );
    }

    #[test]
    fn parses_operation_kinds_and_the_shorthand() {
        let doc =
            parse("{ a }\nmutation M { b }\nsubscription { c }\nquery { d }\nquery Q @x { e }");
        let kinds: Vec<(OpKind, Option<&str>, Pos)> = doc
            .operations
            .iter()
            .map(|o| (o.kind, o.name.as_ref().map(|n| n.value.as_str()), o.pos))
            .collect();
        assert_eq!(
            kinds,
            [
                (OpKind::Query, None, Pos::new(1, 1)),
                (OpKind::Mutation, Some("M"), Pos::new(2, 1)),
                (OpKind::Subscription, None, Pos::new(3, 1)),
                (OpKind::Query, None, Pos::new(4, 1)),
                (OpKind::Query, Some("Q"), Pos::new(5, 1)),
            ]
        );
        assert_eq!(doc.operations[4].directives[0].name, name("x", 5, 10));
    }

    #[test]
    fn keywords_are_ordinary_names_inside_selections() {
        let doc = parse("{ query fragment: mutation on(on: on) subscription { true } }");
        let sel = &only_op(&doc).selection;
        let names: Vec<&str> = sel.iter().map(|s| field(s).name.value.as_str()).collect();
        assert_eq!(names, ["query", "mutation", "on", "subscription"]);
        assert_eq!(
            field(&sel[2]).arguments[0].value.kind,
            ValueKind::Enum("on".into())
        );
    }

    #[test]
    fn parses_fragments_spreads_and_inline_fragments() {
        let src = "query {\n  users {\n    ...UserFields @skip(if: $s)\n    ... on Admin { level }\n    ... @include(if: true) { email }\n    ... { name }\n  }\n}\nfragment UserFields on users @d { id, name }\n";
        let doc = parse(src);
        let users = field(&only_op(&doc).selection[0]);
        assert_eq!(users.selection.len(), 4);
        match &users.selection[0] {
            Selection::FragmentSpread(s) => {
                assert_eq!(s.name, name("UserFields", 3, 8));
                assert_eq!(s.directives[0].name, name("skip", 3, 20));
            }
            other => panic!("expected a spread, got {other:?}"),
        }
        match &users.selection[1] {
            Selection::InlineFragment(f) => {
                assert_eq!(f.pos, Pos::new(4, 5));
                assert_eq!(f.type_condition, Some(name("Admin", 4, 12)));
                assert!(f.directives.is_empty());
                assert_eq!(field(&f.selection[0]).name, name("level", 4, 20));
            }
            other => panic!("expected an inline fragment, got {other:?}"),
        }
        match &users.selection[2] {
            Selection::InlineFragment(f) => {
                assert_eq!(f.pos, Pos::new(5, 5));
                assert_eq!(f.type_condition, None);
                assert_eq!(f.directives[0].name, name("include", 5, 10));
                assert_eq!(field(&f.selection[0]).name.value, "email");
            }
            other => panic!("expected an inline fragment, got {other:?}"),
        }
        match &users.selection[3] {
            Selection::InlineFragment(f) => {
                assert_eq!(f.pos, Pos::new(6, 5));
                assert_eq!(f.type_condition, None);
                assert!(f.directives.is_empty());
            }
            other => panic!("expected an inline fragment, got {other:?}"),
        }
        assert_eq!(doc.fragments.len(), 1);
        let frag = &doc.fragments[0];
        assert_eq!(frag.name, name("UserFields", 9, 10));
        assert_eq!(frag.type_condition, name("users", 9, 24));
        assert_eq!(frag.directives[0].name, name("d", 9, 31));
        let fields: Vec<&str> = frag
            .selection
            .iter()
            .map(|s| field(s).name.value.as_str())
            .collect();
        assert_eq!(fields, ["id", "name"]);
    }

    #[test]
    fn a_document_may_hold_only_fragments() {
        let doc = parse("fragment F on T { a }");
        assert!(doc.operations.is_empty());
        assert_eq!(doc.fragments.len(), 1);
    }

    #[test]
    fn unescapes_strings() {
        assert_eq!(string_value(r#""""#), "");
        assert_eq!(
            string_value(r#""q\" b\\ s\/ \b\f\n\r\t end""#),
            "q\" b\\ s/ \u{8}\u{c}\n\r\t end"
        );
        assert_eq!(string_value(r#""\u00e9\u0041""#), "éA");
        assert_eq!(string_value(r#""\uD83D\uDE00 smile""#), "😀 smile");
        assert_eq!(string_value(r#""\u{1F600}\u{41}""#), "😀A");
        assert_eq!(string_value("\"héllo wörld 😀\""), "héllo wörld 😀");
        assert_eq!(string_value(r##""# not a comment""##), "# not a comment");
    }

    #[test]
    fn parses_block_strings() {
        let src =
            "{ f(a: \"\"\"\n    Hello,\n      World!\n\n    Yours,\n      GraphQL.\n  \"\"\") }";
        assert_eq!(
            string_value(&src[7..src.len() - 3]),
            "Hello,\n  World!\n\nYours,\n  GraphQL."
        );
        assert_eq!(
            string_value(r#""""raw \n \u0041 "quoted" """"#),
            r#"raw \n \u0041 "quoted" "#
        );
        assert_eq!(string_value(r#""""a \""" b""""#), r#"a """ b"#);
        assert_eq!(string_value("\"\"\"\"\"\""), "");
        assert_eq!(string_value("\"\"\"\r\n\t x\r\n\t   y\r\n\"\"\""), "x\n  y");
        // Positions after a multi-line block string keep counting lines.
        let doc = parse("{ f(a: \"\"\"\n x\n y \"\"\", b: 1) }");
        let f = field(&only_op(&doc).selection[0]);
        assert_eq!(f.arguments[0].value.pos, Pos::new(1, 8));
        assert_eq!(f.arguments[1].name, name("b", 3, 9));
    }

    #[test]
    fn keeps_number_text() {
        for (text, float) in [
            ("0", false),
            ("-0", false),
            ("42", false),
            ("-12", false),
            ("1.5e3", true),
            ("-0.0", true),
            ("1E-5", true),
            ("6.02e+23", true),
            ("3e10", true),
        ] {
            let expected = if float {
                ValueKind::Float(text.into())
            } else {
                ValueKind::Int(text.into())
            };
            assert_eq!(single_value(text).kind, expected, "for {text}");
        }
    }

    #[test]
    fn parses_other_values() {
        assert_eq!(single_value("[]").kind, ValueKind::List(vec![]));
        assert_eq!(single_value("{}").kind, ValueKind::Object(vec![]));
        assert_eq!(
            single_value("[[1] [2,,],]").kind,
            ValueKind::List(vec![
                val(
                    ValueKind::List(vec![val(ValueKind::Int("1".into()), 1, 10)]),
                    1,
                    9
                ),
                val(
                    ValueKind::List(vec![val(ValueKind::Int("2".into()), 1, 14)]),
                    1,
                    13
                ),
            ])
        );
        assert_eq!(single_value("FALSE").kind, ValueKind::Enum("FALSE".into()));
        assert_eq!(single_value("false").kind, ValueKind::Boolean(false));
    }

    #[test]
    fn variable_types_are_optional() {
        let doc = parse("query ($product_id = 70, $id) { products(id: $product_id) { id } }");
        let vars = &only_op(&doc).variables;
        assert_eq!(
            vars[0],
            VariableDef {
                name: name("product_id", 1, 9),
                ty: None,
                default: Some(val(ValueKind::Int("70".into()), 1, 22)),
            }
        );
        assert_eq!(
            vars[1],
            VariableDef {
                name: name("id", 1, 27),
                ty: None,
                default: None,
            }
        );
        let doc = parse("query Q($a: [[Int]!] = [[1]] @deprecated, $b: String = \"x\") { a }");
        let vars = &only_op(&doc).variables;
        assert_eq!(
            vars[0].ty,
            Some(TypeRef::List(Box::new(TypeRef::NonNull(Box::new(
                TypeRef::List(Box::new(TypeRef::Named("Int".into())))
            )))))
        );
        assert_eq!(
            vars[1].default,
            Some(val(ValueKind::String("x".into()), 1, 56))
        );
    }

    #[test]
    fn ignores_comments_commas_bom_and_line_endings() {
        let doc = parse("\u{FEFF}# head\r\n{ a, # tail\r  b\n,,c }# end");
        let sel = &only_op(&doc).selection;
        assert_eq!(field(&sel[0]).name, name("a", 2, 3));
        assert_eq!(field(&sel[1]).name, name("b", 3, 3));
        assert_eq!(field(&sel[2]).name, name("c", 4, 3));
        // Columns count characters, not bytes.
        let doc = parse("{ f(s: \"ééé\", t: 1) }");
        let f = field(&only_op(&doc).selection[0]);
        assert_eq!(f.arguments[1].name, name("t", 1, 15));
    }

    #[test]
    fn reports_an_empty_document() {
        assert_err("", 1, 1, "the document has no operation or fragment");
        assert_err(
            "  # nothing here\n  ,\n",
            3,
            1,
            "the document has no operation or fragment",
        );
    }

    #[test]
    fn reports_unclosed_constructs() {
        assert_err(
            "query {\n  users {\n    id\n",
            4,
            1,
            "expected '}' to close the selection set opened at 2:9, found end of input",
        );
        assert_err(
            "{ a(id: 1 }",
            1,
            11,
            "expected an argument name or ')' to close the arguments opened at 1:4, found '}'",
        );
        assert_err(
            "{ a(id: 1",
            1,
            10,
            "expected ')' to close the arguments opened at 1:4, found end of input",
        );
        assert_err(
            "{ a(id: [1, 2 }",
            1,
            15,
            "expected a value or ']' to close the list opened at 1:9, found '}'",
        );
        assert_err(
            "{ a(id: {x: 1 ) }",
            1,
            15,
            "expected a field name or '}' to close the object opened at 1:9, found ')'",
        );
        assert_err(
            "{ a(id: {x: 1",
            1,
            14,
            "expected '}' to close the object opened at 1:9, found end of input",
        );
        assert_err(
            "query ($a: Int { a }",
            1,
            16,
            "expected a variable such as '$id' or ')' to close the variable definitions \
             opened at 1:7, found '{'",
        );
        assert_err(
            "{ a ) }",
            1,
            5,
            "expected a field, '...' or '}' to close the selection set opened at 1:1, found ')'",
        );
        assert_err(
            "query ($a: [Int) { a }",
            1,
            16,
            "expected ']' to close the list type opened at 1:12, found ')'",
        );
    }

    #[test]
    fn reports_lexical_errors() {
        assert_err("{ a % }", 1, 5, "unexpected character '%'");
        assert_err("{ a \u{7} }", 1, 5, "unexpected character U+0007");
        assert_err("{ é }", 1, 3, "unexpected character 'é'");
        assert_err(
            "{ a(s: \"abc) }",
            1,
            8,
            "unterminated string: add a closing '\"' before the end of the line",
        );
        assert_err(
            "{ a(s: \"abc\n\") }",
            1,
            8,
            "unterminated string: add a closing '\"' before the end of the line",
        );
        assert_err(
            "{ a(s: \"abc\\",
            1,
            8,
            "unterminated string: add a closing '\"' before the end of the line",
        );
        assert_err(
            "{\n a(s: \"\"\"abc\n\n) }",
            2,
            7,
            "unterminated block string: add a closing '\"\"\"'",
        );
        assert_err(
            "{ a(s: \"x\\qy\") }",
            1,
            10,
            "invalid escape sequence '\\q' in string; valid escapes are \\\" \\\\ \\/ \\b \\f \
             \\n \\r \\t and \\uXXXX",
        );
        assert_err(
            "{ a(s: \"é\\u12\") }",
            1,
            10,
            "invalid Unicode escape '\\u12': expected four hex digits or '{hex digits}' after \
             '\\u'",
        );
        let surrogate = "a surrogate must be a leading surrogate (D800-DBFF) directly followed \
                         by an escaped trailing surrogate (DC00-DFFF)";
        assert_err(
            "{ a(s: \"\\uD800 x\") }",
            1,
            9,
            &format!("invalid Unicode escape '\\uD800': {surrogate}"),
        );
        assert_err(
            "{ a(s: \"\\uDE00\\uD83D\") }",
            1,
            9,
            &format!("invalid Unicode escape '\\uDE00': {surrogate}"),
        );
        assert_err(
            "{ a(s: \"\\uD83D\\u0041\") }",
            1,
            9,
            &format!("invalid Unicode escape '\\uD83D': {surrogate}"),
        );
        assert_err(
            "{ a(s: \"\\u{110000}\") }",
            1,
            9,
            "invalid Unicode escape '\\u{110000}': it is not a Unicode scalar value",
        );
        assert_err(
            "{ a(s: \"\\u{D800}\") }",
            1,
            9,
            "invalid Unicode escape '\\u{D800}': it is not a Unicode scalar value",
        );
        assert_err(
            "{ a(s: \"\\u{12\") }",
            1,
            9,
            "invalid Unicode escape '\\u{12': expected hex digits and a closing '}' after \
             '\\u{'",
        );
        assert_err(
            "{ a(s: 'x') }",
            1,
            8,
            "unexpected character \"'\" (GraphQL strings use double quotes)",
        );
        assert_err(
            "{ a ..b }",
            1,
            5,
            "unexpected '..'; a fragment spread is written '...'",
        );
        assert_err("{ a .b }", 1, 5, "unexpected character '.'");
    }

    #[test]
    fn reports_invalid_numbers() {
        assert_err(
            "{ a(n: 007) }",
            1,
            8,
            "invalid number '007': leading zeros are not allowed",
        );
        assert_err(
            "{ a(n: -01) }",
            1,
            8,
            "invalid number '-01': leading zeros are not allowed",
        );
        assert_err(
            "{ a(n: 1.) }",
            1,
            10,
            "invalid number '1.': expected a digit after '.', found ')'",
        );
        assert_err(
            "{ a(n: 1e) }",
            1,
            10,
            "invalid number '1e': expected a digit in the exponent, found ')'",
        );
        assert_err(
            "{ a(n: 1.5e+",
            1,
            13,
            "invalid number '1.5e+': expected a digit in the exponent, found end of input",
        );
        assert_err(
            "{ a(n: - 1) }",
            1,
            9,
            "expected a digit after '-', found a space",
        );
        assert_err(
            "{ a(n: 12abc) }",
            1,
            10,
            "unexpected character 'a' right after the number '12'",
        );
        assert_err(
            "{ a(n: 1.5.3) }",
            1,
            11,
            "unexpected character '.' right after the number '1.5'",
        );
        assert_err(
            "{ a(n: 0x1F) }",
            1,
            9,
            "unexpected character 'x' right after the number '0'",
        );
    }

    #[test]
    fn reports_syntax_errors() {
        assert_err(
            "{ ... }",
            1,
            7,
            "expected a fragment name, 'on Type', a directive or '{' after '...', found '}'",
        );
        assert_err(
            "{ ... 12 }",
            1,
            7,
            "expected a fragment name, 'on Type', a directive or '{' after '...', found the \
             number 12",
        );
        assert_err(
            "{ ... on { a } }",
            1,
            10,
            "expected a type name after 'on', found '{'",
        );
        assert_err(
            "{ ... on T }",
            1,
            12,
            "expected '{' to start the selection set of the inline fragment on 'T', found '}'",
        );
        assert_err(
            "{ ... @d }",
            1,
            10,
            "expected '{' to start the selection set of the inline fragment, found '}'",
        );
        assert_err(
            "{ }",
            1,
            3,
            "expected a field in the selection set opened at 1:1 (it cannot be empty), found '}'",
        );
        assert_err(
            "{ a: }",
            1,
            6,
            "expected a field name after the alias 'a:', found '}'",
        );
        assert_err(
            "{ a: 1 }",
            1,
            6,
            "expected a field name after the alias 'a:', found the number 1",
        );
        assert_err(
            "{ a() }",
            1,
            5,
            "expected an argument such as 'id: 3' before ')', found ')'",
        );
        assert_err(
            "{ a(id 3) }",
            1,
            8,
            "expected ':' after the argument name 'id', found the number 3",
        );
        assert_err("{ a(id: ) }", 1, 9, "expected a value, found ')'");
        assert_err("{ a(id: !) }", 1, 9, "expected a value, found '!'");
        assert_err(
            "{ a(id: {b 1}) }",
            1,
            12,
            "expected ':' after the field name 'b' in the object value, found the number 1",
        );
        assert_err(
            "{ a(id: $) }",
            1,
            10,
            "expected a variable name after '$', found ')'",
        );
        assert_err(
            "{ a @(x: 1) }",
            1,
            6,
            "expected a directive name after '@', found '('",
        );
        assert_err(
            "query",
            1,
            6,
            "expected '{' to start the selection set of the query, found end of input",
        );
        assert_err(
            "mutation Add($a: Int) ",
            1,
            23,
            "expected '{' to start the selection set of mutation 'Add', found end of input",
        );
        assert_err(
            "query () { a }",
            1,
            8,
            "expected a variable definition such as '$id: ID', found ')'",
        );
        assert_err(
            "query (id: ID) { a }",
            1,
            8,
            "expected a variable such as '$id' or ')' to close the variable definitions opened \
             at 1:7, found 'id'",
        );
        assert_err(
            "query ($a: ) { a }",
            1,
            12,
            "expected a type such as 'Int', '[ID]' or 'String!', found ')'",
        );
        assert_err(
            "query ($a = $b) { a }",
            1,
            13,
            "a variable cannot be used here: default values must be constants",
        );
        assert_err(
            "query ($a = {x: [$b]}) { a }",
            1,
            18,
            "a variable cannot be used here: default values must be constants",
        );
        assert_err(
            "users { id }",
            1,
            1,
            "expected 'query', 'mutation', 'subscription', 'fragment' or '{' to start a \
             definition, found 'users'",
        );
        assert_err(
            "{ a } }",
            1,
            7,
            "expected 'query', 'mutation', 'subscription', 'fragment' or '{' to start a \
             definition, found '}'",
        );
        assert_err(
            "{ a(s: \"a very long string that goes on and on\") } \"x\"",
            1,
            52,
            "expected 'query', 'mutation', 'subscription', 'fragment' or '{' to start a \
             definition, found the string \"x\"",
        );
        assert_err(
            "fragment on on T { a }",
            1,
            10,
            "a fragment cannot be named 'on'",
        );
        assert_err(
            "fragment F { a }",
            1,
            12,
            "expected 'on' and a type name after the fragment name 'F', found '{'",
        );
        assert_err(
            "fragment F on T",
            1,
            16,
            "expected '{' to start the selection set of fragment 'F', found end of input",
        );
        assert_err(
            "fragment { a }",
            1,
            10,
            "expected a fragment name after 'fragment', found '{'",
        );
    }

    #[test]
    fn the_first_error_wins_over_a_later_lexical_error() {
        assert_err("{ a(id: ) % }", 1, 9, "expected a value, found ')'");
    }

    #[test]
    fn bounds_nesting_depth() {
        let nested = |n: usize| format!("{}a{}", "{ a ".repeat(n - 1) + "{ ", " }".repeat(n));
        assert!(parse_document(&nested(MAX_DEPTH)).is_ok());
        let e = parse_err(&nested(MAX_DEPTH + 1));
        assert_eq!(e.pos, Pos::new(1, 4 * MAX_DEPTH as u32 + 1));
        assert!(
            e.message.starts_with("the document is nested too deeply"),
            "{e}"
        );

        let lists = |n: usize| format!("{{ a(b: {}1{}) }}", "[".repeat(n), "]".repeat(n));
        assert!(parse_document(&lists(MAX_DEPTH - 1)).is_ok());
        assert!(parse_document(&lists(MAX_DEPTH)).is_err());

        // Hostile input far beyond the limit errors out instead of overflowing the stack.
        for hostile in [
            "{ a ".repeat(200_000),
            format!("{{ a(b: {}", "[".repeat(200_000)),
            format!("{{ a(b: {}", "{a:".repeat(200_000)),
            format!("query ($a: {}", "[".repeat(200_000)),
            "{ a ... on T ".repeat(100_000),
        ] {
            let e = parse_err(&hostile);
            assert!(
                e.message.starts_with("the document is nested too deeply"),
                "{e}"
            );
        }
    }

    #[test]
    fn error_display_has_the_position() {
        let e = parse_err("{ a % }");
        assert_eq!(e.to_string(), "1:5: unexpected character '%'");
    }

    /// The byte offset of `pos` in `src`, or `src.len()` for the position right after the
    /// last character; `None` if `pos` is not in `src`.
    fn offset_of(src: &str, pos: Pos) -> Option<usize> {
        let (mut line, mut col) = (1u32, 1u32);
        let mut chars = src.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if Pos::new(line, col) == pos {
                return Some(i);
            }
            match c {
                '\n' => (line, col) = (line + 1, 1),
                '\r' => {
                    if chars.peek().map(|&(_, c)| c) == Some('\n') {
                        chars.next();
                    }
                    (line, col) = (line + 1, 1);
                }
                _ => col += 1,
            }
        }
        (Pos::new(line, col) == pos).then_some(src.len())
    }

    /// Asserts that the text at `pos` starts with `text`.
    fn check_at(src: &str, pos: Pos, text: &str) {
        let at = offset_of(src, pos).unwrap_or_else(|| panic!("{pos} is outside {src:?}"));
        assert!(
            src[at..].starts_with(text),
            "expected {text:?} at {pos} in {src:?}"
        );
    }

    fn check_name(src: &str, name: &Name) {
        check_at(src, name.pos, &name.value);
    }

    fn check_value(src: &str, value: &Value) {
        match &value.kind {
            ValueKind::Variable(_) => check_at(src, value.pos, "$"),
            ValueKind::Int(t) | ValueKind::Float(t) | ValueKind::Enum(t) => {
                check_at(src, value.pos, t)
            }
            ValueKind::String(_) => check_at(src, value.pos, "\""),
            ValueKind::Boolean(b) => check_at(src, value.pos, &b.to_string()),
            ValueKind::Null => check_at(src, value.pos, "null"),
            ValueKind::List(items) => {
                check_at(src, value.pos, "[");
                items.iter().for_each(|v| check_value(src, v));
            }
            ValueKind::Object(fields) => {
                check_at(src, value.pos, "{");
                for (k, v) in fields {
                    check_name(src, k);
                    check_value(src, v);
                }
            }
        }
    }

    fn check_directives(src: &str, directives: &[Directive]) {
        for d in directives {
            check_name(src, &d.name);
            for a in &d.arguments {
                check_name(src, &a.name);
                check_value(src, &a.value);
            }
        }
    }

    fn check_selection(src: &str, selection: &[Selection]) {
        for sel in selection {
            match sel {
                Selection::Field(f) => {
                    if let Some(a) = &f.alias {
                        check_name(src, a);
                    }
                    check_name(src, &f.name);
                    for a in &f.arguments {
                        check_name(src, &a.name);
                        check_value(src, &a.value);
                    }
                    check_directives(src, &f.directives);
                    check_selection(src, &f.selection);
                }
                Selection::FragmentSpread(s) => {
                    check_name(src, &s.name);
                    check_directives(src, &s.directives);
                }
                Selection::InlineFragment(f) => {
                    check_at(src, f.pos, "...");
                    if let Some(t) = &f.type_condition {
                        check_name(src, t);
                    }
                    check_directives(src, &f.directives);
                    check_selection(src, &f.selection);
                }
            }
        }
    }

    /// Checks that every position in `doc` points at the text it claims to start with.
    fn check_positions(src: &str, doc: &Document) {
        for op in &doc.operations {
            match &op.name {
                None if op.kind == OpKind::Query && op.variables.is_empty() => {
                    let at = offset_of(src, op.pos).expect("operation position");
                    assert!(src[at..].starts_with('{') || src[at..].starts_with("query"));
                }
                _ => check_at(src, op.pos, op.kind.keyword()),
            }
            if let Some(n) = &op.name {
                check_name(src, n);
            }
            for v in &op.variables {
                check_name(src, &v.name);
                if let Some(d) = &v.default {
                    check_value(src, d);
                }
            }
            check_directives(src, &op.directives);
            check_selection(src, &op.selection);
        }
        for f in &doc.fragments {
            check_name(src, &f.name);
            check_name(src, &f.type_condition);
            check_directives(src, &f.directives);
            check_selection(src, &f.selection);
        }
    }

    #[test]
    fn positions_point_at_the_source_text() {
        check_positions(GRAPHJIN_QUERY, &parse(GRAPHJIN_QUERY));
        let src = "\u{FEFF}query Q($a: Int = -1.5e3) {\r\n  x: f(s: \"é\\u00e9\", b: \"\"\"\n  é\n\"\"\", l: [{k: V}]) { ... on T @d(x: null) { y } ...F }\r}\nfragment F on T { z }";
        check_positions(src, &parse(src));
    }

    fn token_soup() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "{",
            "}",
            "(",
            ")",
            "[",
            "]",
            ":",
            "$",
            "@",
            "...",
            "..",
            "!",
            "=",
            ",",
            "on",
            "query",
            "mutation",
            "fragment",
            "a",
            "b_1",
            "true",
            "null",
            "1",
            "-0",
            "1.5e3",
            "01",
            "1.",
            "\"s\"",
            "\"\\u00e9\"",
            "\"\\uD83D\"",
            "\"\"\"b\n \"\"\"",
            "\"",
            "\"\"\"",
            "#c\n",
            "\n",
            "\r\n",
            " ",
            "é",
            "%",
            "\\",
        ]);
        prop::collection::vec(pieces, 0..80).prop_map(|v| v.concat())
    }

    /// Applies `(index, op, char)` edits to `base`: 0 deletes, 1 inserts, 2 replaces.
    fn mutate(base: &str, edits: &[(usize, u8, char)]) -> String {
        let mut chars: Vec<char> = base.chars().collect();
        for &(idx, op, c) in edits {
            let len = chars.len();
            match op % 3 {
                0 if len > 0 => {
                    chars.remove(idx % len);
                }
                1 => chars.insert(idx % (len + 1), c),
                _ if len > 0 => chars[idx % len] = c,
                _ => {}
            }
        }
        chars.into_iter().collect()
    }

    fn interesting_char() -> impl Strategy<Value = char> {
        prop_oneof![
            prop::sample::select(
                "{}()[]:$@.!=,#\"\\ \n\r\t-_09eEaAuéD😀"
                    .chars()
                    .collect::<Vec<_>>()
            ),
            any::<char>(),
        ]
    }

    /// Parsing must never panic; errors must point inside the text (or just past its end)
    /// and successful parses must have positions that point at what they name.
    fn check_never_panics(src: &str) -> Result<(), TestCaseError> {
        match parse_document(src) {
            Ok(doc) => check_positions(src, &doc),
            Err(e) => {
                prop_assert!(
                    offset_of(src, e.pos).is_some(),
                    "error position {} is outside {:?}",
                    e.pos,
                    src
                );
                prop_assert!(!e.message.is_empty());
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn never_panics_on_arbitrary_strings(src in any::<String>()) {
            check_never_panics(&src)?;
        }

        #[test]
        fn never_panics_on_token_soup(src in token_soup()) {
            check_never_panics(&src)?;
        }

        #[test]
        fn never_panics_on_mutated_queries(
            edits in prop::collection::vec((any::<usize>(), any::<u8>(), interesting_char()), 1..10)
        ) {
            check_never_panics(&mutate(GRAPHJIN_QUERY, &edits))?;
        }
    }
}
