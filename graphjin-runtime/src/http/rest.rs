//! `GET/POST {prefix}/v1/rest/{operation}`: an allow-listed operation by name.
//!
//! Variables come from `?variables=<JSON object>` on GET and from the body on POST, where
//! the body *is* the variables object (`{"id": 3}`, not `{"variables": {"id": 3}}`); an
//! empty POST body means no variables. Mutations need POST.

use std::sync::Arc;

use axum::Extension;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::body::{Taken, json_body, malformed, take};
use super::graphql::check_kind;
use super::{ApiError, Service, respond};
use crate::Auth;
use crate::vars::{RawVariables, Source};

/// GET's query parameters.
#[derive(Deserialize)]
pub(crate) struct GetParams {
    variables: Option<String>,
}

/// `GET {prefix}/v1/rest/{operation}?variables=...`: queries only.
pub(crate) async fn get(
    State(service): State<Arc<Service>>,
    auth: Option<Extension<Auth>>,
    name: Result<Path<String>, PathRejection>,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let auth = auth.map(|Extension(a)| a).unwrap_or_default();
    let index = find(&service, name)?;
    check_kind(&service, index, true)?;
    let Query(params) = params.map_err(|e| {
        ApiError::BadRequest(format!("invalid query parameters: {}", e.body_text()))
    })?;
    let vars = match params.variables.as_deref() {
        Some(text) if !text.trim().is_empty() => {
            let raw: &RawValue =
                serde_json::from_str(text).map_err(|e| malformed("the variables parameter", &e))?;
            RawVariables::from_raw(raw)?
        }
        _ => RawVariables::default(),
    };
    respond(&service, index, &auth, Source::Raw(&vars)).await
}

/// `POST {prefix}/v1/rest/{operation}` with the variables object as the body.
pub(crate) async fn post(
    State(service): State<Arc<Service>>,
    name: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let index = find(&service, name)?;
    check_kind(&service, index, false)?;
    let (parts, body) = request.into_parts();
    let Taken {
        headers,
        auth,
        body,
    } = take(parts, body, service.body_limit).await;
    let body = json_body(&headers, body?)?;
    let vars = match body.as_deref() {
        Some(json) => {
            let raw: &RawValue =
                serde_json::from_slice(json).map_err(|e| malformed("the request body", &e))?;
            RawVariables::from_raw(raw)?
        }
        None => RawVariables::default(),
    };
    respond(&service, index, &auth, Source::Raw(&vars)).await
}

fn find(service: &Service, name: Result<Path<String>, PathRejection>) -> Result<usize, ApiError> {
    let Path(name) = name.map_err(|e| {
        ApiError::BadRequest(format!("invalid operation in the path: {}", e.body_text()))
    })?;
    service
        .db
        .catalog()
        .by_name(&name)
        .ok_or(ApiError::NotAllowed { name })
}
