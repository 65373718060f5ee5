//! `GET /openapi.json`: the OpenAPI 3.1 description of every route (`openapi.json` beside
//! this file). A test holds it to [`crate::routes::route_table`], both ways.

use axum::response::Response;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> Response {
    crate::routes::json_text(DOCUMENT)
}
