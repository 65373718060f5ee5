//! The app's open pages: messages to them, and focusing or opening one on a click.

use alloc::vec::Vec;

use super::task::{settled, Settled};
use js_sys::{Array, Object};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{ClientQueryOptions, ServiceWorkerGlobalScope, WindowClient};

use super::js::{get_string, set, settle, warn};

/// Every page of the app, controlled or not (a page loaded before the worker is not).
pub async fn window_clients(scope: &ServiceWorkerGlobalScope) -> Vec<WindowClient> {
    listed(listing(scope).await)
}

/// `clients.matchAll` for [`window_clients`], started now and awaited later ([`listed`]).
pub fn listing(scope: &ServiceWorkerGlobalScope) -> Settled {
    // A plain object rather than web-sys's setters: no enum conversion code in the module.
    let options = Object::new();
    set(&options, "type", &JsValue::from_str("window"));
    set(&options, "includeUncontrolled", &JsValue::TRUE);
    settled(
        scope
            .clients()
            .match_all_with_options(options.unchecked_ref::<ClientQueryOptions>()),
    )
}

pub fn listed(list: Result<JsValue, JsValue>) -> Vec<WindowClient> {
    match list {
        Ok(list) if Array::is_array(&list) => Array::from(&list)
            .iter()
            .map(|client| client.unchecked_into::<WindowClient>())
            .collect(),
        _ => Vec::new(),
    }
}

pub fn is_visible(page: &WindowClient) -> bool {
    get_string(page, "visibilityState").as_deref() == Some("visible")
}

/// A message to the app's pages: `{type, key}`, more members set by the caller.
pub fn page_message(kind: &str, key: &str) -> Object {
    let message = Object::new();
    set(&message, "type", &JsValue::from_str(kind));
    set(&message, "key", &JsValue::from_str(key));
    message
}

pub fn post(pages: &[WindowClient], message: &Object) {
    for page in pages {
        let _ = page.post_message(message);
    }
}

pub async fn post_to_pages(scope: &ServiceWorkerGlobalScope, message: &Object) {
    post(&window_clients(scope).await, message);
}

/// The click destination: the notification's URL when it is of this origin, else the
/// app's root (the registration scope). A pushed URL can never send the user elsewhere.
pub fn same_origin_target(
    scope: &ServiceWorkerGlobalScope,
    url: Option<&str>,
) -> alloc::string::String {
    let root = scope.registration().scope();
    let origin = scope.location().origin();
    url.and_then(|url| web_sys::Url::new_with_base(url, &root).ok())
        .filter(|url| url.origin() == origin)
        .map(|url| url.href())
        .unwrap_or(root)
}

/// Focuses the page already at `target`, else any page of the app when the notification
/// named no URL of its own, else opens `target`.
pub async fn focus_or_open(
    scope: &ServiceWorkerGlobalScope,
    pages: &[WindowClient],
    target: &str,
    has_own_url: bool,
) {
    let page = pages
        .iter()
        .find(|page| page.url() == target)
        .or(if has_own_url { None } else { pages.first() });
    let result = match page {
        Some(page) => settle(page.focus()).await,
        None => settled(scope.clients().open_window(target)).await,
    };
    if let Err(error) = result {
        warn("open-failed", &error);
    }
}
