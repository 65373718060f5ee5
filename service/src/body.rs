//! Request bodies: size limit before and after decompression, gzip/deflate, JSON parsing.

use std::io::Read;

use axum::body::Body;
use axum::http::{header, HeaderMap};
use flate2::read::{DeflateDecoder, GzDecoder, ZlibDecoder};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use usernotify::core::{InvalidNotification, Json};

use crate::error::ApiError;

/// The largest body accepted, compressed or not: a notification is at most ~4 KB of JSON,
/// so anything far beyond is refused before it is read whole.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Gzip,
    Deflate,
}

/// The codings of `Content-Encoding`, in the order they were applied; 415 for anything
/// but gzip, deflate (and identity).
fn codings(headers: &HeaderMap) -> Result<Vec<Coding>, ApiError> {
    let mut codings = Vec::new();
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let text = value.to_str().map_err(|_| ApiError::UnsupportedEncoding)?;
        for name in text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            match name.to_ascii_lowercase().as_str() {
                "gzip" | "x-gzip" => codings.push(Coding::Gzip),
                "deflate" => codings.push(Coding::Deflate),
                "identity" => {}
                _ => return Err(ApiError::UnsupportedEncoding),
            }
        }
    }
    Ok(codings)
}

/// Checks `Content-Encoding` without reading the body (so 415 comes before body errors).
pub fn check_encoding(headers: &HeaderMap) -> Result<(), ApiError> {
    codings(headers).map(|_| ())
}

/// Reads and decodes the body, refusing more than [`MAX_BODY_BYTES`] at every stage.
pub async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let codings = codings(headers)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(ApiError::RequestTooLarge);
    }
    let collected = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|error| {
            if error.downcast_ref::<LengthLimitError>().is_some() {
                ApiError::RequestTooLarge
            } else if timed_out(error.as_ref()) {
                ApiError::BodyTimedOut
            } else {
                ApiError::UndecodableBody
            }
        })?;
    let mut bytes = collected.to_bytes().to_vec();
    for coding in codings.iter().rev() {
        bytes = decode(*coding, &bytes)?;
    }
    Ok(bytes)
}

/// The server's body deadline passed (`server::BodyTimedOut`, however deep it is wrapped).
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<crate::server::BodyTimedOut>() {
            return true;
        }
        current = error.source();
    }
    false
}

fn decode(coding: Coding, bytes: &[u8]) -> Result<Vec<u8>, ApiError> {
    match coding {
        Coding::Gzip => read_capped(GzDecoder::new(bytes)),
        // HTTP's "deflate" is zlib-wrapped (RFC 9110); some clients send raw deflate.
        Coding::Deflate => read_capped(ZlibDecoder::new(bytes)).or_else(|error| match error {
            ApiError::RequestTooLarge => Err(error),
            _ => read_capped(DeflateDecoder::new(bytes)),
        }),
    }
}

/// Decompresses at most one byte past the limit, so a zip bomb costs no more than that.
fn read_capped(reader: impl Read) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    reader
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| ApiError::UndecodableBody)?;
    if out.len() > MAX_BODY_BYTES {
        return Err(ApiError::RequestTooLarge);
    }
    Ok(out)
}

/// Parses JSON into the core's tree, with the core's codes for an empty or malformed body.
pub fn parse_json(bytes: &[u8]) -> Result<Json, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Invalid(InvalidNotification::EmptyBody));
    }
    serde_json::from_slice(bytes).map_err(|_| ApiError::Invalid(InvalidNotification::MalformedJson))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write;

    #[test]
    fn gzip_and_both_kinds_of_deflate_decode() {
        let text = b"{\"a\":1}";
        let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
        gzip.write_all(text).unwrap();
        assert_eq!(decode(Coding::Gzip, &gzip.finish().unwrap()).unwrap(), text);
        let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
        zlib.write_all(text).unwrap();
        assert_eq!(
            decode(Coding::Deflate, &zlib.finish().unwrap()).unwrap(),
            text
        );
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
        raw.write_all(text).unwrap();
        assert_eq!(
            decode(Coding::Deflate, &raw.finish().unwrap()).unwrap(),
            text
        );
    }

    #[test]
    fn a_bomb_is_refused_once_it_passes_the_limit() {
        let mut gzip = GzEncoder::new(Vec::new(), Compression::best());
        gzip.write_all(&vec![b' '; 4 * MAX_BODY_BYTES]).unwrap();
        let compressed = gzip.finish().unwrap();
        assert!(compressed.len() < 1024);
        assert!(matches!(
            decode(Coding::Gzip, &compressed),
            Err(ApiError::RequestTooLarge)
        ));
    }

    #[test]
    fn garbage_is_undecodable() {
        assert!(matches!(
            decode(Coding::Gzip, b"not gzip"),
            Err(ApiError::UndecodableBody)
        ));
    }

    #[test]
    fn empty_and_malformed_bodies_get_the_core_codes() {
        assert_eq!(parse_json(b"  ").unwrap_err().code(), "empty-body");
        assert_eq!(parse_json(b"{").unwrap_err().code(), "malformed-json");
    }
}
