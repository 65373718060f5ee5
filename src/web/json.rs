//! Validation reads the JS value `JSON.parse` returned, in place.
//!
//! The engine's `JSON.parse` does the parsing; nothing is copied into a Rust tree and no
//! serde runs in the worker (serde-wasm-bindgen's error paths alone pulled float
//! formatting into the module). Pages get the parsed object itself.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Reflect};
use wasm_bindgen::JsValue;

use crate::core::json::{JsonRead, Kind};

impl JsonRead for JsValue {
    fn kind(&self) -> Kind {
        if self.as_bool().is_some() {
            Kind::Bool
        } else if self.as_f64().is_some() {
            Kind::Number
        } else if self.is_string() {
            Kind::String
        } else if Array::is_array(self) {
            Kind::Array
        } else if self.is_object() {
            Kind::Object
        } else {
            Kind::Null
        }
    }

    fn member(&self, name: &str) -> Option<JsValue> {
        if !self.is_object() {
            return None;
        }
        Reflect::get(self, &JsValue::from_str(name))
            .ok()
            .filter(|value| !value.is_null() && !value.is_undefined())
    }

    fn text(&self) -> Option<String> {
        self.as_string()
    }

    fn number(&self) -> Option<f64> {
        self.as_f64()
    }

    fn items(&self) -> Option<Vec<JsValue>> {
        Array::is_array(self).then(|| Array::from(self).iter().collect())
    }
}
