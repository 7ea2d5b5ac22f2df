//! The playground page: an editor for a query and its variables, a run button, the JSON
//! result, the recorded operations and the schema (each root field with its arguments and
//! fields, from the server's introspection). Served by the development server only, with no
//! external requests (all CSS and JavaScript inline).

use graphjin_runtime::axum::http::{StatusCode, header};
use graphjin_runtime::axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("playground.html");

/// The page.
pub fn page() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'"),
        ],
        PAGE,
    )
        .into_response()
}
