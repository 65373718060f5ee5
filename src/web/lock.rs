//! One change to the visible notifications at a time.
//!
//! Every flow reads what is shown, decides, then shows: two pushes of one group handled at
//! once would both read a count of one. A worker's events share one thread, so a chain of
//! promises is enough to run them one after another.

use core::cell::Cell;
use core::future::Future;

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

thread_local! {
    /// The last queued call's gate; `None` before the first call.
    static TAIL: Cell<Option<Promise>> = const { Cell::new(None) };
}

/// Runs `work` after every earlier call has finished.
pub async fn serialized<T>(work: impl Future<Output = T>) -> T {
    let mut release: Option<Function> = None;
    let gate = Promise::new(&mut |resolve, _reject| release = Some(resolve));
    if let Some(previous) = TAIL.with(|tail| tail.replace(Some(gate))) {
        // Gates never reject.
        let _ = JsFuture::from(previous).await;
    }
    let output = work.await;
    if let Some(release) = release {
        let _ = release.call0(&JsValue::UNDEFINED);
    }
    output
}
