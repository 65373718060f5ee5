//! Small, non-throwing helpers over js-sys, for the page module.

use alloc::string::String;

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::core::Millis;

#[wasm_bindgen]
extern "C" {
    /// `self`: the worker's global scope (one binding, where `js_sys::global()` probes four).
    #[wasm_bindgen(thread_local_v2, js_name = self)]
    static SELF: JsValue;
}

/// The global object: the worker's scope, or a page's window.
pub fn global() -> JsValue {
    SELF.with(JsValue::clone)
}

pub fn now() -> Millis {
    js_sys::Date::now() as Millis
}

pub fn get(target: &JsValue, name: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

pub fn get_string(target: &JsValue, name: &str) -> Option<String> {
    get(target, name).as_string()
}

pub fn set(target: &Object, name: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(name), value);
}

/// Reports a failure to the developer console with its stable code; never to the user.
pub fn warn(code: &str, detail: &JsValue) {
    web_sys::console::warn_3(
        &JsValue::from_str("usernotify:"),
        &JsValue::from_str(code),
        detail,
    );
}

/// An `Error` whose `name` is the stable code, so apps can `switch (error.name)`.
pub fn error(code: &str, message: &str) -> JsValue {
    let mut text = String::from("usernotify: ");
    text.push_str(message);
    let error = js_sys::Error::new(&text);
    error.set_name(code);
    error.into()
}
