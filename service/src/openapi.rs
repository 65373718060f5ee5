//! `GET /openapi.json`: the OpenAPI 3.1 description of every route (`openapi.json` beside
//! this file). A test holds it to [`crate::routes::route_table`], both ways.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> Response {
    let mut response = DOCUMENT.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
