//! `Variables` and the response structs of one operation.

use proc_macro2::TokenStream;
use quote::quote;

use super::idents::{pascal_ident, serde_name, snake_ident};
use super::rust_types::TypeMap;
use crate::compile::{InputShape, Shape};
use crate::project::VariableSpec;

const SERDE: &str = "::graphjin_runtime::serde";

fn derives(default: bool) -> TokenStream {
    let default = if default {
        quote!(::std::default::Default,)
    } else {
        quote!()
    };
    quote! {
        #[derive(
            ::std::fmt::Debug,
            ::std::clone::Clone,
            ::std::cmp::PartialEq,
            #default
            ::graphjin_runtime::serde::Serialize,
            ::graphjin_runtime::serde::Deserialize
        )]
        #[serde(crate = #SERDE)]
    }
}

/// The `Variables` struct: one field per client variable; optional unless declared `T!`
/// without a default. It derives `Default` unless a required variable's type may lack one
/// (an enum, a type of the user's own).
pub fn variables(vars: &[VariableSpec], types: &TypeMap) -> TokenStream {
    let mut inputs = Vec::new();
    let mut default = true;
    let fields: Vec<TokenStream> = vars
        .iter()
        .map(|v| {
            let ident = snake_ident(&v.name);
            let rename = rename_attr(&ident, &v.name);
            let (ty, with) = match &v.input {
                Some(shape) => (input_type(shape, &[&v.name], &mut inputs, types), quote!()),
                None => {
                    let t = types.field(&v.pg_type, v.column.as_deref());
                    if v.required && !t.has_default {
                        default = false;
                    }
                    let with = t.with_attr(!v.required);
                    (t.tokens(false), with)
                }
            };
            let doc = format!(" `${}`, used as `{}`.", v.name, v.pg_type);
            if v.required {
                quote! { #[doc = #doc] #rename #with pub #ident: #ty, }
            } else {
                quote! {
                    #[doc = #doc]
                    #rename
                    #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                    #with
                    pub #ident: ::std::option::Option<#ty>,
                }
            }
        })
        .collect();
    let derive = derives(default);
    quote! {
        /// The operation's variables (`$user_id` and friends come from the caller's identity).
        #derive
        pub struct Variables { #(#fields)* }
        #(#inputs)*
    }
}

/// The Rust type of mutation data: a struct per object level, named by its path
/// (`DataInput`, `DataCustomerInput`), every field optional (an omitted key writes NULL).
fn input_type(
    shape: &InputShape,
    path: &[&str],
    out: &mut Vec<TokenStream>,
    types: &TypeMap,
) -> TokenStream {
    match shape {
        InputShape::Scalar(pg) => types.field(pg, None).tokens(false),
        InputShape::Column { pg_type, column } => types.field(pg_type, Some(column)).tokens(false),
        InputShape::Any => quote!(::graphjin_runtime::serde_json::Value),
        InputShape::Object { fields, list } => {
            let mut name_parts = path.to_vec();
            name_parts.push("input");
            let ident = pascal_ident(&name_parts);
            let members: Vec<TokenStream> = fields
                .iter()
                .map(|(key, sub)| {
                    let field = snake_ident(key);
                    let rename = rename_attr(&field, key);
                    let mut child = path.to_vec();
                    child.push(key);
                    let ty = input_type(sub, &child, out, types);
                    let with = match sub {
                        InputShape::Scalar(pg) => types.field(pg, None).with_attr(true),
                        InputShape::Column { pg_type, column } => {
                            types.field(pg_type, Some(column)).with_attr(true)
                        }
                        _ => quote!(),
                    };
                    quote! {
                        #rename
                        #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                        #with
                        pub #field: ::std::option::Option<#ty>,
                    }
                })
                .collect();
            let doc = format!(" Data written through `{}`.", path.join("."));
            let derive = derives(true);
            out.push(quote! {
                #[doc = #doc]
                #derive
                pub struct #ident { #(#members)* }
            });
            if *list {
                quote!(::std::vec::Vec<#ident>)
            } else {
                quote!(#ident)
            }
        }
    }
}

fn rename_attr(ident: &proc_macro2::Ident, key: &str) -> TokenStream {
    if serde_name(ident) == key {
        quote!()
    } else {
        quote!(#[serde(rename = #key)])
    }
}

/// `Data` and one struct per nested object, named by its path (`ProductsOwner`).
pub fn data(shape: &Shape, types: &TypeMap) -> TokenStream {
    let mut out = Vec::new();
    let fields = match shape {
        Shape::Object { fields, .. } => fields.as_slice(),
        _ => &[],
    };
    object_struct("Data", &[], fields, &mut out, types);
    quote! { #(#out)* }
}

fn object_struct(
    name: &str,
    path: &[&str],
    fields: &[(String, Shape)],
    out: &mut Vec<TokenStream>,
    types: &TypeMap,
) {
    let ident = if path.is_empty() {
        pascal_ident(&[name])
    } else {
        pascal_ident(path)
    };
    let mut members = Vec::new();
    for (key, shape) in fields {
        let field = snake_ident(key);
        let rename = rename_attr(&field, key);
        let mut child_path = path.to_vec();
        child_path.push(key);
        let (ty, with) = field_type(shape, &child_path, out, types);
        let default = if shape.is_nullable() {
            quote!(#[serde(default)])
        } else {
            quote!()
        };
        members.push(quote! { #rename #default #with pub #field: #ty, });
    }
    let doc = if path.is_empty() {
        " The operation's `data`.".to_string()
    } else {
        format!(" `{}` in the response.", path.join("."))
    };
    let derive = derives(false);
    out.push(quote! {
        #[doc = #doc]
        #derive
        pub struct #ident { #(#members)* }
    });
}

/// A response field's type and its `#[serde(with)]` attribute, if it needs one.
fn field_type(
    shape: &Shape,
    path: &[&str],
    out: &mut Vec<TokenStream>,
    types: &TypeMap,
) -> (TokenStream, TokenStream) {
    match shape {
        Shape::Scalar {
            pg_type,
            nullable,
            column,
        } => {
            let t = types.field(pg_type, column.as_deref());
            (t.tokens(*nullable), t.with_attr(*nullable))
        }
        Shape::Object {
            fields,
            list,
            nullable,
        } => {
            object_struct("", path, fields, out, types);
            let ident = pascal_ident(path);
            let t = if *list {
                quote!(::std::vec::Vec<#ident>)
            } else {
                quote!(#ident)
            };
            let t = if *nullable {
                quote!(::std::option::Option<#t>)
            } else {
                t
            };
            (t, quote!())
        }
        Shape::Any => (quote!(::graphjin_runtime::serde_json::Value), quote!()),
    }
}
