//! The worker's own wasm, kept in the Cache Storage under its build's name (`usernotify-` and
//! the first 16 hex digits of its SHA-256), so that a worker woken for a push starts without
//! the network: a round trip saved on every cold start, and pushes shown while the app's
//! server is unreachable. The shell reads it from there when it starts the module; this
//! module fills it and drops earlier builds' caches.

use alloc::string::String;
use core::cell::RefCell;

use gloo_net::http::RequestBuilder;
use js_sys::Array;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, CacheStorage, RequestCache};

use super::js::worker_scope;

/// Every cache of usernotify's is named with it; an app's own caches need other names.
const PREFIX: &str = "usernotify-";

thread_local! {
    /// The wasm's URL and this build's cache name, as the shell started the module.
    static MODULE: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Where the module came from and which build it is, told by the shell once it started it.
pub fn configure(wasm_url: String, cache_name: String) {
    MODULE.with(|module| {
        if let Ok(mut module) = module.try_borrow_mut() {
            *module = Some((wasm_url, cache_name));
        }
    });
}

fn module() -> Option<(String, String)> {
    MODULE.with(|module| module.try_borrow().ok()?.clone())
}

fn caches() -> Option<CacheStorage> {
    worker_scope()?.caches().ok()
}

/// Puts this build's wasm in its cache, unless it is there: fetched again past the HTTP
/// cache, which may hold an earlier build's. Without Cache Storage (a private window may
/// refuse it) the shell fetches the wasm each time.
pub async fn keep() -> Result<(), JsValue> {
    let (Some((url, name)), Some(caches)) = (module(), caches()) else {
        return Ok(());
    };
    let cache: Cache = JsFuture::from(caches.open(&name)).await?.into();
    if !JsFuture::from(cache.match_with_str(&url))
        .await?
        .is_undefined()
    {
        return Ok(());
    }
    let fetched = RequestBuilder::new(&url)
        .cache(RequestCache::NoCache)
        .send()
        .await
        .map_err(|_| JsValue::from_str("the wasm could not be fetched"))?;
    if !fetched.ok() {
        return Err(JsValue::from_f64(f64::from(fetched.status())));
    }
    let response: web_sys::Response = fetched.into();
    JsFuture::from(cache.put_with_str(&url, &response)).await?;
    Ok(())
}

/// Drops earlier builds' caches once this build is active; an app's own caches stay.
pub async fn drop_earlier_builds() -> Result<(), JsValue> {
    let (Some((_, name)), Some(caches)) = (module(), caches()) else {
        return Ok(());
    };
    let names: Array = JsFuture::from(caches.keys()).await?.into();
    for earlier in names.iter().filter_map(|name| name.as_string()) {
        if earlier.starts_with(PREFIX) && earlier != name {
            JsFuture::from(caches.delete(&earlier)).await?;
        }
    }
    Ok(())
}
