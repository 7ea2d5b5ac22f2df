//! `Variables` and the response structs of one operation.

use proc_macro2::TokenStream;
use quote::quote;

use super::idents::{pascal_ident, serde_name, snake_ident};
use super::types::rust_type;
use crate::compile::Shape;
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
/// without a default.
pub fn variables(vars: &[VariableSpec]) -> TokenStream {
    let fields = vars.iter().map(|v| {
        let ident = snake_ident(&v.name);
        let rename = rename_attr(&ident, &v.name);
        let ty = rust_type(&v.pg_type);
        let doc = format!(" `${}`, used as `{}`.", v.name, v.pg_type);
        if v.required {
            quote! { #[doc = #doc] #rename pub #ident: #ty, }
        } else {
            quote! {
                #[doc = #doc]
                #rename
                #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                pub #ident: ::std::option::Option<#ty>,
            }
        }
    });
    let derive = derives(true);
    quote! {
        /// The operation's variables (`$user_id` and friends come from the caller's identity).
        #derive
        pub struct Variables { #(#fields)* }
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
pub fn data(shape: &Shape) -> TokenStream {
    let mut out = Vec::new();
    let fields = match shape {
        Shape::Object { fields, .. } => fields.as_slice(),
        _ => &[],
    };
    object_struct("Data", &[], fields, &mut out);
    quote! { #(#out)* }
}

fn object_struct(
    name: &str,
    path: &[&str],
    fields: &[(String, Shape)],
    out: &mut Vec<TokenStream>,
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
        let ty = field_type(shape, &child_path, out);
        let default = if shape.is_nullable() {
            quote!(#[serde(default)])
        } else {
            quote!()
        };
        members.push(quote! { #rename #default pub #field: #ty, });
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

fn field_type(shape: &Shape, path: &[&str], out: &mut Vec<TokenStream>) -> TokenStream {
    match shape {
        Shape::Scalar { pg_type, nullable } => {
            let t = rust_type(pg_type);
            if *nullable {
                quote!(::std::option::Option<#t>)
            } else {
                t
            }
        }
        Shape::Object {
            fields,
            list,
            nullable,
        } => {
            object_struct("", path, fields, out);
            let ident = pascal_ident(path);
            let t = if *list {
                quote!(::std::vec::Vec<#ident>)
            } else {
                quote!(#ident)
            };
            if *nullable {
                quote!(::std::option::Option<#t>)
            } else {
                t
            }
        }
        Shape::Any => quote!(::graphjin_runtime::serde_json::Value),
    }
}
