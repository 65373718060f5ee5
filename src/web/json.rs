//! Between JS values and the core's [`Json`] tree.
//!
//! The engine's `JSON.parse` does the parsing; this walk replaces serde-wasm-bindgen, whose
//! error paths pulled float formatting into the module (measured: about 9 KB gzip).
//! Pages get the parsed object itself, so no tree is turned back into JS.

use js_sys::{Array, Object};
use wasm_bindgen::JsValue;

use crate::core::Json;

/// Nesting deeper than this is cut to `null`: the contract's fields sit three levels down,
/// unknown fields are ignored, and a hostile push must not exhaust the stack.
const MAX_DEPTH: u32 = 32;

/// Reads a value produced by `JSON.parse` (anything else reads as `null`).
pub fn from_js(value: &JsValue) -> Json {
    read(value, 0)
}

fn read(value: &JsValue, depth: u32) -> Json {
    if depth > MAX_DEPTH {
        return Json::Null;
    }
    if let Some(flag) = value.as_bool() {
        Json::Bool(flag)
    } else if let Some(number) = value.as_f64() {
        Json::Number(number)
    } else if let Some(text) = value.as_string() {
        Json::String(text)
    } else if Array::is_array(value) {
        Json::Array(
            Array::from(value)
                .iter()
                .map(|item| read(&item, depth + 1))
                .collect(),
        )
    } else if value.is_object() {
        let members = Object::entries(&Object::from(value.clone()))
            .iter()
            .filter_map(|entry| {
                let pair = Array::from(&entry);
                let name = pair.get(0).as_string()?;
                Some((name, read(&pair.get(1), depth + 1)))
            })
            .collect();
        Json::Object(members)
    } else {
        Json::Null
    }
}
