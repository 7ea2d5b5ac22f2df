//! A [`RuntimeTable`] written as Rust tokens: the literals of the generated `OPERATIONS`,
//! `ROLE_QUERY`, `BATCHES` and `ACCESS`. Purely structural: every value is decided by
//! [`RuntimeTable::new`]; graphjin-dev's `bridge` renders the same table as leaked runtime
//! values.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::runtime_table::{
    AccessEntry, BatchEntry, ConstraintEntry, OpKind, OperationEntry, ParamEntry, RoleQueryEntry,
    RuleEntry, RuntimeTable, SignedInEntry,
};

/// The literals of one table, one per item of each generated static.
pub(super) struct TableTokens {
    /// `OPERATIONS`' items.
    pub operations: Vec<TokenStream>,
    /// `ROLE_QUERY`'s value.
    pub role_query: TokenStream,
    /// `BATCHES`' items.
    pub batches: Vec<TokenStream>,
    /// `ACCESS`' items.
    pub access: Vec<TokenStream>,
}

/// `table` as literals.
pub(super) fn tokens(table: &RuntimeTable) -> TableTokens {
    TableTokens {
        operations: table.operations.iter().map(operation).collect(),
        role_query: role_query(table.role_query.as_ref()),
        batches: table.batches.iter().map(batch).collect(),
        access: table.access.iter().map(access).collect(),
    }
}

fn role_query(rq: Option<&RoleQueryEntry>) -> TokenStream {
    match rq {
        Some(RoleQueryEntry {
            sql,
            roles,
            statements,
        }) => {
            let statements = statements.iter().map(signed_in);
            quote! {
                ::std::option::Option::Some(&::graphjin_runtime::RoleQuery {
                    sql: #sql,
                    roles: &[#(#roles),*],
                    statements: &[#(#statements),*],
                })
            }
        }
        None => quote!(::std::option::Option::None),
    }
}

fn signed_in(s: &SignedInEntry) -> TokenStream {
    let SignedInEntry {
        operation,
        sql,
        branches,
        params,
    } = s;
    let branches = branches.iter().map(
        |(role, first)| quote!(::graphjin_runtime::SignedInBranch { role: #role, first: #first }),
    );
    quote! {
        ::graphjin_runtime::SignedIn {
            operation: #operation,
            sql: #sql,
            branches: &[#(#branches),*],
            params: #params,
        }
    }
}

fn batch(b: &BatchEntry) -> TokenStream {
    let BatchEntry {
        operation,
        role,
        sql,
    } = b;
    quote! {
        ::graphjin_runtime::Batch { operation: #operation, role: #role, sql: #sql }
    }
}

fn access(a: &AccessEntry) -> TokenStream {
    let AccessEntry {
        operation,
        role,
        reads,
        refused,
    } = a;
    let reads = reads
        .iter()
        .map(|(table, cols)| quote!((#table, &[#(#cols),*])));
    let refused = match refused {
        Some(why) => quote!(::std::option::Option::Some(#why)),
        None => quote!(::std::option::Option::None),
    };
    quote! {
        ::graphjin_runtime::Access { operation: #operation, role: #role, reads: &[#(#reads),*], refused: #refused }
    }
}

fn kind(kind: OpKind) -> TokenStream {
    match kind {
        OpKind::Query => quote!(::graphjin_runtime::OpKind::Query),
        OpKind::Mutation => quote!(::graphjin_runtime::OpKind::Mutation),
        OpKind::Subscription => quote!(::graphjin_runtime::OpKind::Subscription),
    }
}

fn param(p: &ParamEntry) -> TokenStream {
    let ParamEntry {
        name,
        pg_type,
        builtin,
        default,
    } = p;
    let default = match default {
        Some(text) => quote!(::std::option::Option::Some(#text)),
        None => quote!(::std::option::Option::None),
    };
    quote! {
        ::graphjin_runtime::Param { name: #name, pg_type: #pg_type, builtin: #builtin, default: #default }
    }
}

fn operation(op: &OperationEntry) -> TokenStream {
    let OperationEntry {
        name,
        kind: op_kind,
        query,
        sha256,
        roles,
        constraints,
    } = op;
    let kind = kind(*op_kind);
    let roles = roles.iter().map(|r| {
        let (role, sql) = (&r.role, &r.sql);
        let params = r.params.iter().map(param);
        quote! {
            ::graphjin_runtime::RoleStatement { role: #role, sql: #sql, params: &[#(#params),*] }
        }
    });
    let constraints = constraints.iter().map(constraint);
    quote! {
        ::graphjin_runtime::Operation {
            name: #name,
            kind: #kind,
            query: #query,
            sha256: #sha256,
            roles: &[#(#roles),*],
            constraints: &[#(#constraints),*],
        }
    }
}

/// A `graphjin_runtime::validate::Constraint` literal.
fn constraint(c: &ConstraintEntry) -> TokenStream {
    use RuleEntry as R;
    let variable = &c.variable;
    let pairs = |p: &[(String, String)]| {
        let items = p.iter().map(|(n, v)| quote!((#n, #v)));
        quote!(&[#(#items),*])
    };
    let list = |l: &[String]| quote!(&[#(#l),*]);
    let rule = match &c.rule {
        R::Required => quote!(Required),
        R::NotNull => quote!(NotNull),
        R::RequiredIf(p) => {
            let p = pairs(p);
            quote!(RequiredIf(#p))
        }
        R::RequiredUnless(p) => {
            let p = pairs(p);
            quote!(RequiredUnless(#p))
        }
        R::RequiredWith(l) => {
            let l = list(l);
            quote!(RequiredWith(#l))
        }
        R::RequiredWithAll(l) => {
            let l = list(l);
            quote!(RequiredWithAll(#l))
        }
        R::RequiredWithout(l) => {
            let l = list(l);
            quote!(RequiredWithout(#l))
        }
        R::RequiredWithoutAll(l) => {
            let l = list(l);
            quote!(RequiredWithoutAll(#l))
        }
        R::Min(n) => quote!(Min(#n)),
        R::Max(n) => quote!(Max(#n)),
        R::Equals(t) => quote!(Equals(#t)),
        R::NotEquals(t) => quote!(NotEquals(#t)),
        R::OneOf(l) => {
            let l = list(l);
            quote!(OneOf(#l))
        }
        R::GreaterThan(n) => quote!(GreaterThan(#n)),
        R::GreaterThanOrEquals(n) => quote!(GreaterThanOrEquals(#n)),
        R::LessThan(n) => quote!(LessThan(#n)),
        R::LessThanOrEquals(n) => quote!(LessThanOrEquals(#n)),
        R::EqualsField(o) => quote!(EqualsField(#o)),
        R::NotEqualsField(o) => quote!(NotEqualsField(#o)),
        R::GreaterThanField(o) => quote!(GreaterThanField(#o)),
        R::GreaterThanOrEqualsField(o) => quote!(GreaterThanOrEqualsField(#o)),
        R::LessThanField(o) => quote!(LessThanField(#o)),
        R::LessThanOrEqualsField(o) => quote!(LessThanOrEqualsField(#o)),
        R::Format(variant) => {
            let variant = format_ident!("{}", variant);
            quote!(Format(::graphjin_runtime::validate::Format::#variant))
        }
    };
    quote! {
        ::graphjin_runtime::validate::Constraint {
            variable: #variable,
            rule: ::graphjin_runtime::validate::Rule::#rule,
        }
    }
}
