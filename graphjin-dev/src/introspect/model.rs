//! A GraphQL schema as introspection shows it: types, fields, arguments, enum values and
//! directives, plus the meta types (`__Schema`, `__Type`, ...) every schema carries.

/// What a type is (`__TypeKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A leaf value.
    Scalar,
    /// An output object with fields.
    Object,
    /// An abstract output type.
    Interface,
    /// One of several object types.
    Union,
    /// One of a fixed set of names.
    Enum,
    /// An input object with input fields.
    InputObject,
}

impl Kind {
    /// The `__TypeKind` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Scalar => "SCALAR",
            Kind::Object => "OBJECT",
            Kind::Interface => "INTERFACE",
            Kind::Union => "UNION",
            Kind::Enum => "ENUM",
            Kind::InputObject => "INPUT_OBJECT",
        }
    }
}

/// A reference to a type, possibly wrapped in lists and non-nulls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// A named type.
    Named(String),
    /// `[T]`.
    List(Box<Ty>),
    /// `T!`.
    NonNull(Box<Ty>),
}

impl Ty {
    /// The named type `name`.
    pub fn named(name: impl Into<String>) -> Ty {
        Ty::Named(name.into())
    }

    /// `name!`.
    pub fn non_null(name: impl Into<String>) -> Ty {
        Ty::NonNull(Box::new(Ty::named(name)))
    }

    /// `[name!]!`.
    pub fn list_of(name: impl Into<String>) -> Ty {
        Ty::NonNull(Box::new(Ty::List(Box::new(Ty::non_null(name)))))
    }

    /// The innermost named type.
    pub fn base(&self) -> &str {
        match self {
            Ty::Named(n) => n,
            Ty::List(t) | Ty::NonNull(t) => t.base(),
        }
    }
}

/// An argument, an input field or a directive argument (`__InputValue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputValue {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Its type.
    pub ty: Ty,
    /// Its default as GraphQL text.
    pub default_value: Option<String>,
}

impl InputValue {
    /// An input value without description or default.
    pub fn new(name: impl Into<String>, ty: Ty) -> Self {
        InputValue {
            name: name.into(),
            description: None,
            ty,
            default_value: None,
        }
    }

    /// With a description.
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }
}

/// A field of an object type (`__Field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: Option<String>,
    /// Its arguments.
    pub args: Vec<InputValue>,
    /// Its type.
    pub ty: Ty,
}

impl Field {
    /// A field without arguments.
    pub fn new(name: impl Into<String>, ty: Ty) -> Self {
        Field {
            name: name.into(),
            description: None,
            args: Vec::new(),
            ty,
        }
    }

    /// With a description.
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// With arguments.
    pub fn args(mut self, args: Vec<InputValue>) -> Self {
        self.args = args;
        self
    }
}

/// One value of an enum (`__EnumValue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumValue {
    /// The name.
    pub name: String,
    /// What it means.
    pub description: Option<String>,
}

/// A named type (`__Type` of a named kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeDef {
    /// Its kind.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: Option<String>,
    /// Fields (objects and interfaces).
    pub fields: Vec<Field>,
    /// Input fields (input objects).
    pub input_fields: Vec<InputValue>,
    /// Values (enums).
    pub enum_values: Vec<EnumValue>,
    /// Member types (unions).
    pub possible_types: Vec<String>,
}

impl TypeDef {
    /// An empty type of `kind`.
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        TypeDef {
            kind,
            name: name.into(),
            description: None,
            fields: Vec::new(),
            input_fields: Vec::new(),
            enum_values: Vec::new(),
            possible_types: Vec::new(),
        }
    }

    /// A scalar with a description.
    pub fn scalar(name: &str, description: &str) -> Self {
        TypeDef::new(Kind::Scalar, name).describe(description)
    }

    /// An enum of `values` (name, description).
    pub fn enumeration(name: &str, values: &[(&str, &str)]) -> Self {
        let mut t = TypeDef::new(Kind::Enum, name);
        t.enum_values = values
            .iter()
            .map(|(n, d)| EnumValue {
                name: (*n).to_owned(),
                description: (!d.is_empty()).then(|| (*d).to_owned()),
            })
            .collect();
        t
    }

    /// With a description.
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A directive (`__Directive`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Its name without `@`.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// Where it may be written (`FIELD`, `QUERY`, ...).
    pub locations: Vec<&'static str>,
    /// Its arguments.
    pub args: Vec<InputValue>,
    /// May be written more than once at one place.
    pub repeatable: bool,
}

/// A whole schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// Every named type, meta types included.
    pub types: Vec<TypeDef>,
    /// The query root's name.
    pub query: String,
    /// The mutation root's name, if any.
    pub mutation: Option<String>,
    /// The subscription root's name, if any.
    pub subscription: Option<String>,
    /// The directives.
    pub directives: Vec<Directive>,
}

impl Schema {
    /// A type by name.
    pub fn get(&self, name: &str) -> Option<&TypeDef> {
        self.types.iter().find(|t| t.name == name)
    }

    /// Adds `t`, replacing a type of the same name.
    pub fn add(&mut self, t: TypeDef) {
        match self.types.iter_mut().find(|x| x.name == t.name) {
            Some(old) => *old = t,
            None => self.types.push(t),
        }
    }
}

/// GraphQL's built-in scalars.
pub fn builtin_scalars() -> Vec<TypeDef> {
    vec![
        TypeDef::scalar(
            "Boolean",
            "The `Boolean` scalar type represents `true` or `false`.",
        ),
        TypeDef::scalar(
            "Float",
            "The `Float` scalar type represents signed double-precision fractional values.",
        ),
        TypeDef::scalar(
            "Int",
            "The `Int` scalar type represents non-fractional signed whole numeric values.",
        ),
        TypeDef::scalar(
            "String",
            "The `String` scalar type represents textual data, as UTF-8 character sequences.",
        ),
        TypeDef::scalar(
            "ID",
            "The `ID` scalar type represents a unique identifier, written as a String or an Int.",
        ),
    ]
}

/// The introspection meta types (`__Schema`, `__Type`, `__Field`, `__InputValue`,
/// `__EnumValue`, `__Directive`, `__TypeKind`, `__DirectiveLocation`), as the GraphQL
/// specification defines them.
pub fn meta_types() -> Vec<TypeDef> {
    let obj = |name: &str, fields: Vec<Field>| {
        let mut t = TypeDef::new(Kind::Object, name);
        t.fields = fields;
        t
    };
    let f = Field::new;
    let deprecated = || vec![InputValue::new("includeDeprecated", Ty::named("Boolean"))];
    let mut location_values: Vec<(&str, &str)> =
        DIRECTIVE_LOCATIONS.iter().map(|l| (*l, "")).collect();
    location_values.sort_unstable();
    vec![
        obj(
            "__Schema",
            vec![
                f("description", Ty::named("String")),
                f("types", Ty::list_of("__Type")),
                f("queryType", Ty::non_null("__Type")),
                f("mutationType", Ty::named("__Type")),
                f("subscriptionType", Ty::named("__Type")),
                f("directives", Ty::list_of("__Directive")),
            ],
        ),
        obj(
            "__Type",
            vec![
                f("kind", Ty::non_null("__TypeKind")),
                f("name", Ty::named("String")),
                f("description", Ty::named("String")),
                f("specifiedByURL", Ty::named("String")),
                f("fields", Ty::List(Box::new(Ty::non_null("__Field")))).args(deprecated()),
                f("interfaces", Ty::List(Box::new(Ty::non_null("__Type")))),
                f("possibleTypes", Ty::List(Box::new(Ty::non_null("__Type")))),
                f(
                    "enumValues",
                    Ty::List(Box::new(Ty::non_null("__EnumValue"))),
                )
                .args(deprecated()),
                f(
                    "inputFields",
                    Ty::List(Box::new(Ty::non_null("__InputValue"))),
                )
                .args(deprecated()),
                f("ofType", Ty::named("__Type")),
                f("isOneOf", Ty::named("Boolean")),
            ],
        ),
        obj(
            "__Field",
            vec![
                f("name", Ty::non_null("String")),
                f("description", Ty::named("String")),
                f("args", Ty::list_of("__InputValue")).args(deprecated()),
                f("type", Ty::non_null("__Type")),
                f("isDeprecated", Ty::non_null("Boolean")),
                f("deprecationReason", Ty::named("String")),
            ],
        ),
        obj(
            "__InputValue",
            vec![
                f("name", Ty::non_null("String")),
                f("description", Ty::named("String")),
                f("type", Ty::non_null("__Type")),
                f("defaultValue", Ty::named("String")),
                f("isDeprecated", Ty::non_null("Boolean")),
                f("deprecationReason", Ty::named("String")),
            ],
        ),
        obj(
            "__EnumValue",
            vec![
                f("name", Ty::non_null("String")),
                f("description", Ty::named("String")),
                f("isDeprecated", Ty::non_null("Boolean")),
                f("deprecationReason", Ty::named("String")),
            ],
        ),
        obj(
            "__Directive",
            vec![
                f("name", Ty::non_null("String")),
                f("description", Ty::named("String")),
                f("isRepeatable", Ty::non_null("Boolean")),
                f("locations", Ty::list_of("__DirectiveLocation")),
                f("args", Ty::list_of("__InputValue")).args(deprecated()),
            ],
        ),
        TypeDef::enumeration(
            "__TypeKind",
            &[
                ("SCALAR", ""),
                ("OBJECT", ""),
                ("INTERFACE", ""),
                ("UNION", ""),
                ("ENUM", ""),
                ("INPUT_OBJECT", ""),
                ("LIST", ""),
                ("NON_NULL", ""),
            ],
        ),
        TypeDef::enumeration("__DirectiveLocation", &location_values),
    ]
}

/// Every `__DirectiveLocation`.
const DIRECTIVE_LOCATIONS: [&str; 19] = [
    "QUERY",
    "MUTATION",
    "SUBSCRIPTION",
    "FIELD",
    "FRAGMENT_DEFINITION",
    "FRAGMENT_SPREAD",
    "INLINE_FRAGMENT",
    "VARIABLE_DEFINITION",
    "SCHEMA",
    "SCALAR",
    "OBJECT",
    "FIELD_DEFINITION",
    "ARGUMENT_DEFINITION",
    "INTERFACE",
    "UNION",
    "ENUM",
    "ENUM_VALUE",
    "INPUT_OBJECT",
    "INPUT_FIELD_DEFINITION",
];
