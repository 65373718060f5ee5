//! Small, non-throwing helpers over js-sys: JSON values read in place and built from text,
//! the clock, console warnings and the errors pages see.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::core::json::{JsonRead, Kind};
use crate::core::Millis;

/// A JSON value as the engine's `JSON.parse` (or IndexedDB) made it: a push, a stored record,
/// a notification's `data`, an answer of the app service. The core reads it in place through
/// [`JsonRead`], as the service reads its own tree: one validation for both sides, and no
/// JSON parser or tree in the worker. Members are data, so they are read by name.
impl JsonRead<'static> for JsValue {
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

    fn field(&self, name: &str) -> Option<Option<JsValue>> {
        // One call into JS, not `kind()`'s five: an array (the only other object JSON
        // makes) has no named members.
        if !self.is_object() {
            return None;
        }
        let value = Reflect::get(self, &JsValue::from_str(name)).ok()?;
        match value.is_undefined() {
            true => None,
            false => Some((!value.is_null()).then_some(value)),
        }
    }

    fn text(&self) -> Option<Cow<'static, str>> {
        self.as_string().map(Cow::Owned)
    }

    fn flag(&self) -> Option<bool> {
        self.as_bool()
    }

    fn number(&self) -> Option<f64> {
        self.as_f64()
    }

    fn items(&self) -> Vec<JsValue> {
        match Array::is_array(self) {
            true => Array::from(self).iter().collect(),
            false => Vec::new(),
        }
    }
}

/// The items of a list a browser call resolved with (`getNotifications`, `matchAll`), as
/// the browser type they are; empty when the call failed.
pub fn listed<T: wasm_bindgen::JsCast>(list: Result<JsValue, JsValue>) -> Vec<T> {
    list.map(|list| list.items())
        .unwrap_or_default()
        .into_iter()
        .map(T::unchecked_from_js)
        .collect()
}

/// JSON text as a JS value; `None` when it is not JSON.
pub fn parse(text: &str) -> Option<JsValue> {
    js_sys::JSON::parse(text).ok()
}

/// A JS value from JSON text the core wrote (a record, a message, options): one call into
/// the engine's parser instead of one per member.
pub fn object(json: &str) -> JsValue {
    parse(json).unwrap_or(JsValue::NULL)
}

/// A JS value as JSON text; `None` for what has none (`undefined`, a function, a cycle).
pub fn stringify(value: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(value).ok()?.as_string()
}

pub fn now() -> Millis {
    js_sys::Date::now() as Millis
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
/// `text` in the page module; nothing in the worker module, which only logs its failures
/// (their codes say what failed), so that it downloads none of the pages' explanations.
pub const fn for_pages(text: &'static str) -> &'static str {
    if cfg!(feature = "page") {
        text
    } else {
        ""
    }
}

pub fn error(code: &str, message: &str) -> JsValue {
    let mut text = String::from("usernotify: ");
    text.push_str(message);
    let error = js_sys::Error::new(&text);
    error.set_name(code);
    error.into()
}

/// The worker's scope, when this module runs in a service worker (a page has none).
pub fn worker_scope() -> Option<web_sys::ServiceWorkerGlobalScope> {
    use wasm_bindgen::JsCast;
    js_sys::global().dyn_into().ok()
}

/// Work for the executor: every handler's future boxed into one type, so that
/// wasm-bindgen-futures' task machinery is compiled once rather than once per handler
/// (measured: each copy was 0.6 to 6 KB of wasm).
pub type Work = Boxed<'static, ()>;

/// A future behind a pointer: an async helper called from several places returns one, so
/// that its state machine is compiled once instead of inlined into each caller's.
pub type Boxed<'a, T> =
    core::pin::Pin<alloc::boxed::Box<dyn core::future::Future<Output = T> + 'a>>;

/// A promise of `work`, fulfilled once it is done, never rejected.
pub fn promise_of(work: Work) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        work.await;
        Ok(JsValue::UNDEFINED)
    })
}

/// Runs `work` from the next microtask on, with nothing awaiting it.
pub fn spawn(work: Work) {
    wasm_bindgen_futures::spawn_local(work);
}

/// A future started now and awaited later: the work begins at once (on the next
/// microtask) and runs while the caller does other things.
pub struct Started<T> {
    result: alloc::rc::Rc<core::cell::Cell<Option<T>>>,
    done: wasm_bindgen_futures::JsFuture,
}

pub fn start<T: 'static>(work: impl core::future::Future<Output = T> + 'static) -> Started<T> {
    let result = alloc::rc::Rc::new(core::cell::Cell::new(None));
    let slot = alloc::rc::Rc::clone(&result);
    let done = promise_of(alloc::boxed::Box::pin(async move {
        slot.set(Some(work.await));
    }));
    Started {
        result,
        done: done.into(),
    }
}

impl<T> Started<T> {
    /// The work's result; `None` only if it never finished (a trap inside it).
    pub async fn finish(self) -> Option<T> {
        let _ = self.done.await;
        self.result.take()
    }
}

#[wasm_bindgen]
extern "C" {
    /// The global `setTimeout`, a page's and a worker's alike, passing `argument` to `handler`.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout_with(handler: &Function, ms: i32, argument: &JsValue) -> JsValue;
}

/// Resolves after `ms` milliseconds, in a page or a worker.
pub async fn sleep(ms: i32) {
    let wait = Promise::new(&mut |resolve, _reject| {
        set_timeout_with(&resolve, ms, &JsValue::UNDEFINED);
    });
    let _ = JsFuture::from(wait).await;
}

/// What `promise` settles with, or `Ok(None)` when it has not settled within `ms`: a call
/// into the browser that may never answer (a push service out of reach) is given up.
pub async fn within(promise: &Promise, ms: i32) -> Result<Option<JsValue>, JsValue> {
    let marker: JsValue = Object::new().into();
    let timer = Promise::new(&mut |resolve, _reject| {
        set_timeout_with(&resolve, ms, &marker);
    });
    let first = JsFuture::from(Promise::race(&Array::of2(promise, &timer))).await?;
    Ok((!Object::is(&first, &marker)).then_some(first))
}
