//! Standard introspection resolution over a [`Schema`]: `__schema`, `__type(name:)` and
//! `__typename` with nested selections, aliases, named and inline fragments (type
//! conditions on the meta types), `@include` / `@skip(if:)`, and variables.

use graphjin_codegen::gql::ast::{
    Directive as QDirective, Document, Field as QField, Operation, Selection, Value, ValueKind,
};
use serde_json::{Map, Value as Json, json};

use super::model::{Directive, EnumValue, Field, InputValue, Schema, Ty, TypeDef};

/// Why an introspection query could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// A field the meta type does not have.
    #[error("Cannot query field \"{field}\" on type \"{on}\"{hint}")]
    UnknownField {
        /// The field as written.
        field: String,
        /// The type it was asked of.
        on: String,
        /// A did-you-mean, or empty.
        hint: String,
    },
    /// `...Name` naming no fragment of the document.
    #[error("Unknown fragment \"{0}\"")]
    UnknownFragment(String),
    /// Fragments that spread themselves.
    #[error("fragment \"{0}\" spreads itself (directly or through other fragments)")]
    FragmentCycle(String),
    /// `__type` without `name:`.
    #[error(
        "Field \"__type\" argument \"name\" of type \"String!\" is required, but it was not provided"
    )]
    TypeNameMissing,
    /// An object field without a selection of subfields.
    #[error(
        "Field \"{field}\" of type \"{ty}\" must have a selection of subfields. Did you mean \"{field} {{ ... }}\"?"
    )]
    NoSubfields {
        /// The field.
        field: String,
        /// Its type.
        ty: String,
    },
    /// Introspection fields next to fields that read the database.
    #[error(
        "\"{0}\" reads the database and cannot share an operation with introspection fields (`__schema`, `__type`): send it in its own operation"
    )]
    Mixed(String),
    /// `@include` / `@skip` without a boolean `if:`.
    #[error("@{0} needs `if:` with a boolean or a boolean variable")]
    BadCondition(String),
}

/// One object being resolved.
#[derive(Clone, Copy)]
enum Obj<'s> {
    Schema,
    Type(TypeView<'s>),
    Field(&'s Field),
    Input(&'s InputValue),
    Enum(&'s EnumValue),
    Directive(&'s Directive),
}

/// A `__Type`: a named type, or a list / non-null wrapper.
#[derive(Clone, Copy)]
enum TypeView<'s> {
    Named(&'s TypeDef),
    Wrapper(&'s Ty),
}

impl Obj<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Obj::Schema => "__Schema",
            Obj::Type(_) => "__Type",
            Obj::Field(_) => "__Field",
            Obj::Input(_) => "__InputValue",
            Obj::Enum(_) => "__EnumValue",
            Obj::Directive(_) => "__Directive",
        }
    }
}

/// How deep fragments may nest before they count as a cycle.
const MAX_FRAGMENT_DEPTH: usize = 64;

/// Resolves one operation of `doc`.
pub struct Resolver<'a> {
    schema: &'a Schema,
    doc: &'a Document,
    vars: Map<String, Json>,
}

impl<'a> Resolver<'a> {
    /// A resolver for `op` of `doc` with the request's `variables` (defaults from the
    /// operation's variable definitions fill the gaps).
    pub fn new(
        schema: &'a Schema,
        doc: &'a Document,
        op: &Operation,
        variables: Option<&Json>,
    ) -> Self {
        let mut vars = variables
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        for v in &op.variables {
            if let Some(default) = &v.default
                && !vars.contains_key(&v.name.value)
            {
                vars.insert(v.name.value.clone(), literal(default, &Map::new()));
            }
        }
        Resolver { schema, doc, vars }
    }

    /// The root fields of `op`, fragments flattened, keyed by response key.
    pub fn root_fields(
        &self,
        op: &'a Operation,
    ) -> Result<Vec<(String, Vec<&'a QField>)>, ResolveError> {
        let mut out = Vec::new();
        self.collect(&op.selection, root_name(op, self.schema), &mut out, 0)?;
        Ok(out)
    }

    /// The `data` of `op`, all of whose root fields are meta fields.
    pub fn data(&self, op: &'a Operation) -> Result<Json, ResolveError> {
        let root = root_name(op, self.schema);
        let mut data = Map::new();
        for (key, fields) in self.root_fields(op)? {
            let first = fields[0];
            let sub = sub_selection(&fields);
            let value = match first.name.value.as_str() {
                "__typename" => json!(root),
                "__schema" => self.object(Obj::Schema, &sub, "__schema")?,
                "__type" => {
                    let name = first
                        .arguments
                        .iter()
                        .find(|a| a.name.value == "name")
                        .map(|a| literal(&a.value, &self.vars));
                    let Some(Json::String(name)) = name else {
                        return Err(ResolveError::TypeNameMissing);
                    };
                    match self.schema.get(&name) {
                        Some(t) => self.object(Obj::Type(TypeView::Named(t)), &sub, "__type")?,
                        None => Json::Null,
                    }
                }
                other => return Err(ResolveError::Mixed(other.to_owned())),
            };
            data.insert(key, value);
        }
        Ok(Json::Object(data))
    }

    /// Fields of `sel` that apply to an object of type `on`, grouped by response key.
    fn collect(
        &self,
        sel: &'a [Selection],
        on: &str,
        out: &mut Vec<(String, Vec<&'a QField>)>,
        depth: usize,
    ) -> Result<(), ResolveError> {
        for s in sel {
            match s {
                Selection::Field(f) => {
                    if !self.included(&f.directives)? {
                        continue;
                    }
                    let key = f.response_key().to_owned();
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, list)) => list.push(f),
                        None => out.push((key, vec![f])),
                    }
                }
                Selection::InlineFragment(i) => {
                    let applies = i.type_condition.as_ref().is_none_or(|c| c.value == on);
                    if applies && self.included(&i.directives)? {
                        self.collect(&i.selection, on, out, depth)?;
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if !self.included(&spread.directives)? {
                        continue;
                    }
                    let name = &spread.name.value;
                    if depth >= MAX_FRAGMENT_DEPTH {
                        return Err(ResolveError::FragmentCycle(name.clone()));
                    }
                    let frag = self
                        .doc
                        .fragments
                        .iter()
                        .find(|f| f.name.value == *name)
                        .ok_or_else(|| ResolveError::UnknownFragment(name.clone()))?;
                    if frag.type_condition.value == on {
                        self.collect(&frag.selection, on, out, depth + 1)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// `@include(if:)` / `@skip(if:)`.
    fn included(&self, directives: &[QDirective]) -> Result<bool, ResolveError> {
        let mut keep = true;
        for d in directives {
            let name = d.name.value.as_str();
            if name != "include" && name != "skip" {
                continue;
            }
            let cond = d
                .arguments
                .iter()
                .find(|a| a.name.value == "if")
                .map(|a| literal(&a.value, &self.vars));
            let Some(Json::Bool(cond)) = cond else {
                return Err(ResolveError::BadCondition(name.to_owned()));
            };
            keep &= if name == "include" { cond } else { !cond };
        }
        Ok(keep)
    }

    fn object(
        &self,
        obj: Obj<'a>,
        sel: &[&'a Selection],
        field: &str,
    ) -> Result<Json, ResolveError> {
        if sel.is_empty() {
            return Err(ResolveError::NoSubfields {
                field: field.to_owned(),
                ty: obj.type_name().to_owned(),
            });
        }
        let mut grouped = Vec::new();
        for s in sel {
            self.collect(std::slice::from_ref(*s), obj.type_name(), &mut grouped, 0)?;
        }
        let mut out = Map::new();
        for (key, fields) in grouped {
            let sub = sub_selection(&fields);
            let value = self.field(obj, &fields[0].name.value, &sub)?;
            out.insert(key, value);
        }
        Ok(Json::Object(out))
    }

    fn list<T: 'a>(
        &self,
        items: impl IntoIterator<Item = T>,
        wrap: impl Fn(T) -> Obj<'a>,
        sel: &[&'a Selection],
        field: &str,
    ) -> Result<Json, ResolveError> {
        items
            .into_iter()
            .map(|i| self.object(wrap(i), sel, field))
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Array)
    }

    fn ty(&self, ty: &'a Ty, sel: &[&'a Selection], field: &str) -> Result<Json, ResolveError> {
        let view = match ty {
            Ty::Named(n) => match self.schema.get(n) {
                Some(t) => TypeView::Named(t),
                None => return Ok(Json::Null),
            },
            wrapper => TypeView::Wrapper(wrapper),
        };
        self.object(Obj::Type(view), sel, field)
    }

    fn named(&self, name: &str, sel: &[&'a Selection], field: &str) -> Result<Json, ResolveError> {
        match self.schema.get(name) {
            Some(t) => self.object(Obj::Type(TypeView::Named(t)), sel, field),
            None => Ok(Json::Null),
        }
    }

    fn field(&self, obj: Obj<'a>, name: &str, sel: &[&'a Selection]) -> Result<Json, ResolveError> {
        use super::model::Kind;
        if name == "__typename" {
            return Ok(json!(obj.type_name()));
        }
        let s = self.schema;
        let value = match (obj, name) {
            (Obj::Schema, "description") => Json::Null,
            (Obj::Schema, "types") => {
                self.list(&s.types, |t| Obj::Type(TypeView::Named(t)), sel, name)?
            }
            (Obj::Schema, "queryType") => self.named(&s.query, sel, name)?,
            (Obj::Schema, "mutationType") => match &s.mutation {
                Some(m) => self.named(m, sel, name)?,
                None => Json::Null,
            },
            (Obj::Schema, "subscriptionType") => match &s.subscription {
                Some(m) => self.named(m, sel, name)?,
                None => Json::Null,
            },
            (Obj::Schema, "directives") => self.list(&s.directives, Obj::Directive, sel, name)?,

            (Obj::Type(TypeView::Wrapper(ty)), _) => match name {
                "kind" => json!(if matches!(ty, Ty::List(_)) {
                    "LIST"
                } else {
                    "NON_NULL"
                }),
                "ofType" => match ty {
                    Ty::List(inner) | Ty::NonNull(inner) => self.ty(inner, sel, name)?,
                    Ty::Named(_) => Json::Null,
                },
                "name" | "description" | "specifiedByURL" | "fields" | "interfaces"
                | "possibleTypes" | "enumValues" | "inputFields" | "isOneOf" => Json::Null,
                _ => return Err(unknown(name, "__Type", s)),
            },
            (Obj::Type(TypeView::Named(t)), _) => match name {
                "kind" => json!(t.kind.as_str()),
                "name" => json!(t.name),
                "description" => json!(t.description),
                "specifiedByURL" | "ofType" => Json::Null,
                "fields" => match t.kind {
                    Kind::Object | Kind::Interface => {
                        self.list(&t.fields, Obj::Field, sel, name)?
                    }
                    _ => Json::Null,
                },
                "interfaces" => match t.kind {
                    Kind::Object | Kind::Interface => json!([]),
                    _ => Json::Null,
                },
                "possibleTypes" => match t.kind {
                    Kind::Union | Kind::Interface => self.list(
                        t.possible_types.iter().filter_map(|p| s.get(p)),
                        |p| Obj::Type(TypeView::Named(p)),
                        sel,
                        name,
                    )?,
                    _ => Json::Null,
                },
                "enumValues" => match t.kind {
                    Kind::Enum => self.list(&t.enum_values, Obj::Enum, sel, name)?,
                    _ => Json::Null,
                },
                "inputFields" => match t.kind {
                    Kind::InputObject => self.list(&t.input_fields, Obj::Input, sel, name)?,
                    _ => Json::Null,
                },
                "isOneOf" => match t.kind {
                    Kind::InputObject => json!(false),
                    _ => Json::Null,
                },
                _ => return Err(unknown(name, "__Type", s)),
            },
            (Obj::Field(f), _) => match name {
                "name" => json!(f.name),
                "description" => json!(f.description),
                "args" => self.list(&f.args, Obj::Input, sel, name)?,
                "type" => self.ty(&f.ty, sel, name)?,
                "isDeprecated" => json!(false),
                "deprecationReason" => Json::Null,
                _ => return Err(unknown(name, "__Field", s)),
            },
            (Obj::Input(i), _) => match name {
                "name" => json!(i.name),
                "description" => json!(i.description),
                "type" => self.ty(&i.ty, sel, name)?,
                "defaultValue" => json!(i.default_value),
                "isDeprecated" => json!(false),
                "deprecationReason" => Json::Null,
                _ => return Err(unknown(name, "__InputValue", s)),
            },
            (Obj::Enum(e), _) => match name {
                "name" => json!(e.name),
                "description" => json!(e.description),
                "isDeprecated" => json!(false),
                "deprecationReason" => Json::Null,
                _ => return Err(unknown(name, "__EnumValue", s)),
            },
            (Obj::Directive(d), _) => match name {
                "name" => json!(d.name),
                "description" => json!(d.description),
                "isRepeatable" => json!(d.repeatable),
                "locations" => json!(d.locations),
                "args" => self.list(&d.args, Obj::Input, sel, name)?,
                _ => return Err(unknown(name, "__Directive", s)),
            },
            (Obj::Schema, _) => return Err(unknown(name, "__Schema", s)),
        };
        Ok(value)
    }
}

/// The root type's name for `op`.
fn root_name<'s>(op: &Operation, schema: &'s Schema) -> &'s str {
    use graphjin_codegen::gql::ast::OpKind;
    match op.kind {
        OpKind::Query => &schema.query,
        OpKind::Mutation => schema.mutation.as_deref().unwrap_or("Mutation"),
        OpKind::Subscription => schema.subscription.as_deref().unwrap_or("Subscription"),
    }
}

/// The merged sub-selections of fields sharing a response key.
fn sub_selection<'a>(fields: &[&'a QField]) -> Vec<&'a Selection> {
    fields.iter().flat_map(|f| f.selection.iter()).collect()
}

fn unknown(field: &str, on: &str, schema: &Schema) -> ResolveError {
    let names = schema
        .get(on)
        .map(|t| t.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>())
        .unwrap_or_default();
    ResolveError::UnknownField {
        field: field.to_owned(),
        on: on.to_owned(),
        hint: graphjin_codegen::compile::names::suggestion(field, names),
    }
}

/// A GraphQL input value as JSON, variables substituted (a missing one is null).
fn literal(v: &Value, vars: &Map<String, Json>) -> Json {
    match &v.kind {
        ValueKind::Variable(name) => vars.get(name).cloned().unwrap_or(Json::Null),
        ValueKind::Int(t) | ValueKind::Float(t) => {
            serde_json::from_str(t).unwrap_or(Json::String(t.clone()))
        }
        ValueKind::String(s) | ValueKind::Enum(s) => Json::String(s.clone()),
        ValueKind::Boolean(b) => Json::Bool(*b),
        ValueKind::Null => Json::Null,
        ValueKind::List(items) => Json::Array(items.iter().map(|i| literal(i, vars)).collect()),
        ValueKind::Object(pairs) => Json::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.value.clone(), literal(v, vars)))
                .collect(),
        ),
    }
}
