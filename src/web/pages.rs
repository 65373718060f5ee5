//! The app's open pages: messages to them, and focusing or opening one on a click.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::Promise;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ClientQueryOptions, ClientType, ServiceWorkerGlobalScope, Url, VisibilityState, WindowClient,
};

use super::js::{listed, object, warn};
use crate::core::json::ObjectWriter;

/// `clients.matchAll` for every page of the app, controlled or not (a page loaded before the
/// worker is not), started now and awaited later ([`listed`]).
pub fn list_pages(scope: &ServiceWorkerGlobalScope) -> JsFuture {
    let options = ClientQueryOptions::new();
    options.set_type(ClientType::Window);
    options.set_include_uncontrolled(true);
    JsFuture::from(scope.clients().match_all_with_options(&options))
}

pub async fn window_clients(scope: &ServiceWorkerGlobalScope) -> Vec<WindowClient> {
    listed(list_pages(scope).await)
}

pub fn is_visible(page: &WindowClient) -> bool {
    page.visibility_state() == VisibilityState::Visible
}

pub fn post(pages: &[WindowClient], message: ObjectWriter) {
    post_value(pages, &object(&message.end()));
}

pub fn post_value(pages: &[WindowClient], message: &wasm_bindgen::JsValue) {
    for page in pages {
        let _ = page.post_message(message);
    }
}

pub async fn post_to_pages(scope: &ServiceWorkerGlobalScope, message: ObjectWriter) {
    post(&window_clients(scope).await, message);
}

/// The click destination: the notification's URL when it is of this origin, else the
/// app's root (the registration scope). A pushed URL can never send the user elsewhere.
pub fn same_origin_target(scope: &ServiceWorkerGlobalScope, url: Option<&str>) -> String {
    let root = scope.registration().scope();
    let origin = scope.location().origin();
    url.and_then(|url| Url::new_with_base(url, &root).ok())
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
    let opening = match page {
        Some(page) => page.focus().unwrap_or_else(|error| Promise::reject(&error)),
        None => scope.clients().open_window(target),
    };
    if let Err(error) = JsFuture::from(opening).await {
        warn("open-failed", &error);
    }
}
