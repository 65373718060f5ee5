//! Small, non-throwing helpers over js-sys.
//!
//! Shared by the worker's and the page's module: a build of one alone leaves parts unused.
#![cfg_attr(not(all(feature = "worker", feature = "page")), allow(dead_code))]

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use super::task::{settled, Settled};
use web_sys::ServiceWorkerGlobalScope;

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

/// The worker's global scope; `None` when this module was loaded somewhere else (a page
/// has no `registration`).
pub fn worker_scope() -> Option<ServiceWorkerGlobalScope> {
    let scope = global();
    get(&scope, "registration")
        .is_object()
        .then(|| scope.unchecked_into())
}

pub fn now() -> Millis {
    js_sys::Date::now() as Millis
}

/// A promise-returning browser call as a future: a synchronous throw becomes a rejection.
pub fn settle(call: Result<Promise, JsValue>) -> Settled {
    settled(call.unwrap_or_else(|error| Promise::reject(&error)))
}

pub fn get(target: &JsValue, name: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

pub fn get_string(target: &JsValue, name: &str) -> Option<String> {
    get(target, name).as_string()
}

pub fn get_millis(target: &JsValue, name: &str) -> Option<Millis> {
    get(target, name).as_f64().map(|value| value as Millis)
}

pub fn set(target: &Object, name: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(name), value);
}

pub fn strings(values: &[String]) -> Array {
    values
        .iter()
        .map(|value| JsValue::from_str(value))
        .collect()
}

pub fn string_list(value: &JsValue) -> Vec<String> {
    if !Array::is_array(value) {
        return Vec::new();
    }
    Array::from(value)
        .iter()
        .filter_map(|item| item.as_string())
        .collect()
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
