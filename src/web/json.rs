//! Between JS values and the core's [`Json`] tree.
//!
//! The engine's `JSON.parse` does the parsing; this walk replaces serde-wasm-bindgen, whose
//! error paths pulled float formatting into the module (measured: about 9 KB gzip).

use js_sys::{Array, Object};
use wasm_bindgen::JsValue;

use super::js::set;
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

/// Builds the JS value of a tree, for posting to pages.
pub fn to_js(value: &Json) -> JsValue {
    match value {
        Json::Null => JsValue::NULL,
        Json::Bool(flag) => JsValue::from_bool(*flag),
        Json::Number(number) => JsValue::from_f64(*number),
        Json::String(text) => JsValue::from_str(text),
        Json::Array(items) => items.iter().map(to_js).collect::<Array>().into(),
        Json::Object(members) => {
            let object = Object::new();
            for (name, member) in members {
                set(&object, name, &to_js(member));
            }
            object.into()
        }
    }
}
